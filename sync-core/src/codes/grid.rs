//! The territory's codes: a street's and a community's statistical
//! division codes (9 and 12 digits), and the grid code, a community's code
//! plus a grid number (15 digits).

use std::fmt;
use std::str::FromStr;

use crate::Reason;

/// A grid (网格), identified by 15 ASCII digits: the 12-digit community code
/// of the statistical division codes (统计用区划代码: province 2, city 2,
/// county 2, township 3, village or community 3) followed by a 3-digit grid
/// number within the community.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GridCode(String);

impl GridCode {
    /// Number of digits in a grid code.
    pub const LEN: usize = 15;

    /// Validates a grid code, ignoring surrounding whitespace.
    pub fn parse(s: &str) -> Result<GridCode, Reason> {
        let s = s.trim();
        if s.len() != Self::LEN {
            return Err(Reason::new(
                "网格编码应为15位数字",
                "grid code must be 15 digits",
            ));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Reason::new(
                "网格编码只能包含数字",
                "grid code must contain only digits",
            ));
        }
        if s.starts_with("00") {
            return Err(Reason::new(
                "网格编码的省级代码无效",
                "grid code has an invalid province code",
            ));
        }
        if s.ends_with("000") {
            return Err(Reason::new(
                "网格编号不能为000",
                "grid number must not be 000",
            ));
        }
        Ok(GridCode(s.to_owned()))
    }

    /// All 15 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 12-digit village or community (村/社区) code.
    pub fn community_code(&self) -> &str {
        &self.0[..CommunityCode::LEN]
    }

    /// The 9-digit township or street (乡镇/街道) code.
    pub fn street_code(&self) -> &str {
        &self.0[..StreetCode::LEN]
    }

    /// The 3-digit grid number within the community.
    pub fn grid_number(&self) -> &str {
        &self.0[CommunityCode::LEN..]
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A township or street (乡镇/街道), identified by 9 ASCII digits of the
/// statistical division codes: a valid province, not ending in 000.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreetCode(String);

impl StreetCode {
    /// Number of digits in a street code.
    pub const LEN: usize = 9;

    /// Validates a street code.
    pub fn parse(code: &str) -> Result<StreetCode, Reason> {
        if code.len() != Self::LEN || !all_digits(code) {
            return Err(Reason::new(
                "街道编码应为9位数字",
                "street code must be 9 digits",
            ));
        }
        if code.starts_with("00") {
            return Err(Reason::new(
                "街道编码的省级代码无效",
                "street code has an invalid province code",
            ));
        }
        if code.ends_with("000") {
            return Err(Reason::new(
                "街道编码的后三位不能为000",
                "street code must not end in 000",
            ));
        }
        Ok(StreetCode(code.to_owned()))
    }

    /// All 9 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A village or community (村/社区), identified by 12 ASCII digits: a
/// valid street code followed by three digits that are not 000.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommunityCode(String);

impl CommunityCode {
    /// Number of digits in a community code.
    pub const LEN: usize = 12;

    /// Validates a community code.
    pub fn parse(code: &str) -> Result<CommunityCode, Reason> {
        if code.len() != Self::LEN || !all_digits(code) {
            return Err(Reason::new(
                "社区编码应为12位数字",
                "community code must be 12 digits",
            ));
        }
        StreetCode::parse(&code[..StreetCode::LEN]).map_err(|_| {
            Reason::new(
                "社区编码的前9位不是有效的街道编码",
                "community code does not start with a valid street code",
            )
        })?;
        if code.ends_with("000") {
            return Err(Reason::new(
                "社区编码的后三位不能为000",
                "community code must not end in 000",
            ));
        }
        Ok(CommunityCode(code.to_owned()))
    }

    /// All 12 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 9-digit street code it starts with.
    pub fn street_code(&self) -> &str {
        &self.0[..StreetCode::LEN]
    }
}

/// Which level of the territory a code names, by its length: a street (9),
/// a community (12) or a grid (15); `None` for any other length.
pub fn level_of(code: &str) -> Option<&'static str> {
    match code.len() {
        StreetCode::LEN => Some("street"),
        CommunityCode::LEN => Some("community"),
        GridCode::LEN => Some("grid"),
        _ => None,
    }
}

impl fmt::Display for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for GridCode {
    type Err = Reason;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for GridCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

crate::codes::string_value!(
    GridCode,
    to_str = as_str,
    parse = GridCode::parse,
    expected = "a 15-digit grid code"
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::codes::tests::{hydrate_str, round_trip};

    const GRID: &str = "110105001001003";

    #[test]
    fn parts() {
        let g = GridCode::parse(GRID).unwrap();
        assert_eq!(g.as_str(), GRID);
        assert_eq!(g.community_code(), "110105001001");
        assert_eq!(g.street_code(), "110105001");
        assert_eq!(g.grid_number(), "003");
        assert_eq!(g.to_string(), GRID);
        assert_eq!(GridCode::parse(" 110105001001003\n").unwrap(), g);
        assert_eq!(GRID.parse::<GridCode>().unwrap(), g);
    }

    #[test]
    fn refusals() {
        let length = GridCode::parse("11010500100100").unwrap_err();
        assert_eq!(length.en, "grid code must be 15 digits");
        assert_eq!(GridCode::parse("1101050010010031").unwrap_err(), length);
        assert_eq!(GridCode::parse("").unwrap_err(), length);
        // Fifteen bytes but not fifteen digits.
        assert_eq!(
            GridCode::parse("11010500100100a").unwrap_err().en,
            "grid code must contain only digits"
        );
        assert_eq!(GridCode::parse("网格0010010031").unwrap_err(), length);
        assert_eq!(
            GridCode::parse("001050010010031").unwrap_err().en,
            "grid code has an invalid province code"
        );
        assert_eq!(
            GridCode::parse("110105001001000").unwrap_err().en,
            "grid number must not be 000"
        );
    }

    #[test]
    fn stored_as_a_string() {
        let g = GridCode::parse(GRID).unwrap();
        assert_eq!(serde_json::to_string(&g).unwrap(), format!("\"{GRID}\""));
        assert_eq!(
            serde_json::from_str::<GridCode>(&format!("\"{GRID}\"")).unwrap(),
            g
        );
        assert!(serde_json::from_str::<GridCode>("\"110105001001000\"").is_err());
        assert_eq!(round_trip(g.clone()), g);
        assert!(hydrate_str::<GridCode>("12345").is_err());
    }
}

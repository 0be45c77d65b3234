//! National standard code tables and the small closed vocabularies of the
//! domain: sex, ethnicity, family relation, residence status, attention tags,
//! visit method and visitor role, house use, and the grid code.
//!
//! Every code type is stored as its code string: in JSON (serde) and in
//! Automerge documents. The code, not the Chinese name, is the
//! stable identity; names are for display only. Parsing an unknown code gives a
//! [`Reason`](crate::Reason) that describes the problem without repeating the value.

mod ethnicity;
mod grid;
mod relation;

pub use ethnicity::Ethnicity;
pub use grid::GridCode;
pub use relation::Relation;

/// Implements serde for a type that is stored as a string.
///
/// `$to_str` is a method `fn(&self) -> &str` giving the stored text and
/// `$parse` a function `fn(&str) -> Result<Self, Reason>` reading it back;
/// `$expected` names the kind of value for hydrate errors. Errors carry the
/// English reason only, never the value.
macro_rules! string_value {
    ($ty:ty, to_str = $to_str:ident, parse = $parse:expr, expected = $expected:literal) => {
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.$to_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let text =
                    <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                $parse(&text).map_err(|reason: $crate::Reason| {
                    <D::Error as ::serde::de::Error>::custom(reason.en)
                })
            }
        }
    };
}
pub(crate) use string_value;

/// Defines a closed code table as a fieldless enum.
///
/// Each variant is written `Variant = ("code", "中文名称")`; the variant's doc
/// is generated from the two. Declaration order is the standard's order, and
/// is also the order of [`Ord`] and of `all()`.
macro_rules! code_table {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            unknown = ($unknown_zh:literal, $unknown_en:literal),
            expected = $expected:literal,
            $( $variant:ident = ($code:literal, $zh:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                #[doc = concat!($zh, " (`", $code, "`)")]
                $variant,
            )+
        }

        impl $name {
            const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The code as written in the standard and stored in documents.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The Chinese name, for display.
            pub fn name_zh(&self) -> &'static str {
                match self {
                    $(Self::$variant => $zh,)+
                }
            }

            /// The value for a code; an unknown code is refused.
            pub fn from_code(code: &str) -> ::std::result::Result<Self, $crate::Reason> {
                match code {
                    $($code => Ok(Self::$variant),)+
                    _ => Err($crate::Reason::new($unknown_zh, $unknown_en)),
                }
            }

            /// Every value, in the standard's order.
            pub fn all() -> &'static [Self] {
                Self::ALL
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::Reason;

            fn from_str(code: &str) -> ::std::result::Result<Self, Self::Err> {
                Self::from_code(code)
            }
        }

        $crate::codes::string_value!(
            $name,
            to_str = code,
            parse = Self::from_code,
            expected = $expected
        );
    };
}
pub(crate) use code_table;

code_table! {
    /// Sex, GB/T 2261.1-2003 (人的性别代码).
    pub enum Sex {
        unknown = ("未知的性别代码", "unknown sex code (GB/T 2261.1)"),
        expected = "a GB/T 2261.1 sex code",
        Unknown = ("0", "未知的性别"),
        Male = ("1", "男"),
        Female = ("2", "女"),
        Unspecified = ("9", "未说明的性别"),
    }
}

code_table! {
    /// Where a person stands with respect to the household's address.
    pub enum ResidenceStatus {
        unknown = ("未知的居住状态", "unknown residence status code"),
        expected = "a residence status code",
        Registered = ("registered", "户籍"),
        Floating = ("floating", "流动"),
        Lodging = ("lodging", "寄住"),
        Away = ("away", "外出"),
    }
}

code_table! {
    /// A reason a person needs the grid worker's attention.
    ///
    /// The last six are the special-population types of GB/T 31000-2015.
    /// Tags for which [`AttentionTag::is_sensitive`] holds are sensitive
    /// personal information under PIPL art. 28 and need the stricter handling.
    pub enum AttentionTag {
        unknown = ("未知的关注标签", "unknown attention tag code"),
        expected = "an attention tag code",
        LivingAloneElderly = ("living_alone_elderly", "独居老人"),
        EmptyNestElderly = ("empty_nest_elderly", "空巢老人"),
        Disabled = ("disabled", "残疾人"),
        SubsistenceAllowance = ("subsistence_allowance", "低保"),
        EntitledGroup = ("entitled_group", "优抚对象"),
        LeftBehindChild = ("left_behind_child", "留守儿童"),
        ChildInDifficulty = ("child_in_difficulty", "困境儿童"),
        PartyMember = ("party_member", "党员"),
        ReleasedPrisoner = ("released_prisoner", "刑满释放人员"),
        CommunityCorrection = ("community_correction", "社区矫正人员"),
        SevereMentalDisorder = ("severe_mental_disorder", "严重精神障碍患者"),
        DrugUser = ("drug_user", "吸毒人员"),
        AidsRisk = ("aids_risk", "艾滋病危险人员"),
        KeyYouth = ("key_youth", "重点青少年"),
    }
}

impl AttentionTag {
    /// Whether the tag reveals health, penal or special-population status,
    /// which PIPL treats as sensitive personal information.
    pub fn is_sensitive(&self) -> bool {
        matches!(
            self,
            Self::Disabled
                | Self::SevereMentalDisorder
                | Self::DrugUser
                | Self::AidsRisk
                | Self::ReleasedPrisoner
                | Self::CommunityCorrection
                | Self::KeyYouth
                // Information about minors under 14 is sensitive under PIPL art. 28.
                | Self::LeftBehindChild
                | Self::ChildInDifficulty
        )
    }
}

code_table! {
    /// How a visit was made.
    pub enum VisitMethod {
        unknown = ("未知的走访方式", "unknown visit method code"),
        expected = "a visit method code",
        InPerson = ("in_person", "入户走访"),
        Phone = ("phone", "电话沟通"),
        Message = ("message", "信息推送"),
        Other = ("other", "其他"),
    }
}

code_table! {
    /// In what capacity the visitor made a visit.
    pub enum VisitorRole {
        unknown = ("未知的走访人身份", "unknown visitor role code"),
        expected = "a visitor role code",
        GridWorker = ("grid_worker", "网格员"),
        PackageHolder = ("package_holder", "包保责任人"),
        Other = ("other", "其他"),
    }
}

impl VisitorRole {
    /// The visitor role a signed-in user records visits as, from their
    /// user role code (`grid_worker`, `package_holder`; anyone else is
    /// `other`). The phone fills it in and the server checks it with this.
    pub fn of_user_role(role: &str) -> Self {
        Self::from_code(role).unwrap_or(Self::Other)
    }
}

code_table! {
    /// What a house is used for.
    pub enum HouseUse {
        unknown = ("未知的房屋用途", "unknown house use code"),
        expected = "a house use code",
        Residential = ("residential", "自住"),
        Rented = ("rented", "出租"),
        Vacant = ("vacant", "空置"),
        Commercial = ("commercial", "商用"),
        Other = ("other", "其他"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::collections::HashSet;
    use std::fmt::Debug;

    use super::*;

    /// Checks a code table: its size, unique codes and names, and that every
    /// value survives its code, serde and an Automerge document.
    pub(crate) fn check_table<T>(
        all: &[T],
        expected_len: usize,
        code: fn(&T) -> &'static str,
        name_zh: fn(&T) -> &'static str,
        from_code: fn(&str) -> Result<T, crate::Reason>,
    ) where
        T: Copy + Eq + Ord + Debug + serde::Serialize + serde::de::DeserializeOwned,
    {
        assert_eq!(all.len(), expected_len);
        let codes: HashSet<_> = all.iter().map(code).collect();
        assert_eq!(codes.len(), all.len(), "codes are unique");
        let names: HashSet<_> = all.iter().map(name_zh).collect();
        assert_eq!(names.len(), all.len(), "names are unique");
        assert!(all.windows(2).all(|w| w[0] < w[1]), "all() is in order");
        for &value in all {
            assert_eq!(from_code(code(&value)).unwrap(), value);
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", code(&value)));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
            assert_eq!(round_trip(value), value);
        }
        assert!(from_code("").is_err());
        assert!(from_code("no-such-code").is_err());
        assert!(serde_json::from_str::<T>("\"no-such-code\"").is_err());
    }

    /// Writes `value` into a fresh document as the store does (via serde) and
    /// reads it back, checking that it is stored as a string.
    pub(crate) fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: T) -> T {
        use automerge::transaction::Transactable;
        let mut doc = automerge::AutoCommit::new();
        let json = serde_json::to_value(&value).unwrap();
        doc.put(automerge::ROOT, "v", json.as_str().unwrap())
            .unwrap();
        let saved = doc.save();
        let doc = automerge::Automerge::load(&saved).unwrap();
        let stored = automerge::ReadDoc::get(&doc, automerge::ROOT, "v")
            .unwrap()
            .unwrap()
            .0;
        assert!(stored.as_str().is_some(), "stored as a string");
        hydrate_str(stored.as_str().unwrap()).unwrap()
    }

    /// Reading a string the type refuses is an error.
    pub(crate) fn hydrate_str<T: serde::de::DeserializeOwned>(
        text: &str,
    ) -> Result<T, serde_json::Error> {
        serde_json::from_value(serde_json::Value::String(text.to_string()))
    }

    #[test]
    fn sex_table() {
        check_table(Sex::all(), 4, Sex::code, Sex::name_zh, Sex::from_code);
        assert_eq!(Sex::from_code("2").unwrap(), Sex::Female);
        assert_eq!(Sex::Male.name_zh(), "男");
        assert_eq!(Sex::Unspecified.code(), "9");
        assert_eq!("1".parse::<Sex>().unwrap(), Sex::Male);
    }

    #[test]
    fn residence_status_table() {
        check_table(
            ResidenceStatus::all(),
            4,
            ResidenceStatus::code,
            ResidenceStatus::name_zh,
            ResidenceStatus::from_code,
        );
    }

    #[test]
    fn attention_tag_table() {
        check_table(
            AttentionTag::all(),
            14,
            AttentionTag::code,
            AttentionTag::name_zh,
            AttentionTag::from_code,
        );
        let sensitive: Vec<_> = AttentionTag::all()
            .iter()
            .filter(|t| t.is_sensitive())
            .map(|t| t.code())
            .collect();
        assert_eq!(
            sensitive,
            [
                "disabled",
                "left_behind_child",
                "child_in_difficulty",
                "released_prisoner",
                "community_correction",
                "severe_mental_disorder",
                "drug_user",
                "aids_risk",
                "key_youth",
            ]
        );
        assert!(!AttentionTag::LivingAloneElderly.is_sensitive());
    }

    #[test]
    fn visit_tables() {
        check_table(
            VisitMethod::all(),
            4,
            VisitMethod::code,
            VisitMethod::name_zh,
            VisitMethod::from_code,
        );
        check_table(
            VisitorRole::all(),
            3,
            VisitorRole::code,
            VisitorRole::name_zh,
            VisitorRole::from_code,
        );
    }

    #[test]
    fn house_use_table() {
        check_table(
            HouseUse::all(),
            5,
            HouseUse::code,
            HouseUse::name_zh,
            HouseUse::from_code,
        );
    }

    #[test]
    fn unknown_code_is_described_not_echoed() {
        let reason = Ethnicity::from_code("secret-value").unwrap_err();
        assert_eq!(reason.zh, "未知的民族代码");
        assert_eq!(reason.en, "unknown ethnicity code (GB 3304)");
        let err = hydrate_str::<Sex>("secret-value").unwrap_err();
        assert!(!err.to_string().contains("secret-value"));
        let err = serde_json::from_str::<HouseUse>("\"secret-value\"").unwrap_err();
        assert!(!err.to_string().contains("secret-value"));
    }

    #[test]
    fn reading_a_non_string_is_an_error() {
        assert!(serde_json::from_value::<Sex>(serde_json::json!(1)).is_err());
    }
}

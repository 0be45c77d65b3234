//! One row of a ledger file checked on its own: its grid (a code or a
//! grid's name, inside the community and the importer's scope), its
//! address, and the resident, whose codes may be written as codes or as
//! their Chinese names (性别 男, 民族 汉族 or 汉, 与户主关系 户主, 居住状态
//! 户籍), whose dates may be written the ways spreadsheets write them, and
//! who is then held to the core's own validation (GB 11643 check
//! character, sex and birth date agreeing with the ID number, …).
//!
//! A refusal names the row, the column and why, in Chinese; the value is
//! shown only masked when it is a name, an ID number or a phone.

use gridsync_core::clock::Clock;
use gridsync_core::codes::{AttentionTag, Ethnicity, Relation, ResidenceStatus, Sex};
use gridsync_core::household::{Place, Resident};
use gridsync_core::tagset::TagSet;

use super::mapping::{Columns, Field};
use super::table::Row;

/// A row that passed the checks of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Its row number.
    pub row: usize,
    /// Its grid's code.
    pub grid: String,
    /// Its household's address.
    pub place: Place,
    /// The resident, normalised and validated.
    pub resident: Resident,
}

/// Why a row is refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Its row number.
    pub row: usize,
    /// The column, named as in the file.
    pub column: String,
    /// Why, in Chinese.
    pub reason: String,
    /// The value, masked when personal.
    pub value: String,
}

/// A grid the importer may import into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridChoice {
    /// 15-digit code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Whether the importer's scope covers it.
    pub in_scope: bool,
}

/// What the checks of a row need to know.
#[derive(Debug, Clone)]
pub struct Context {
    /// The community's 12-digit code.
    pub community: String,
    /// The community's grids.
    pub grids: Vec<GridChoice>,
    /// Today, for dates.
    pub clock: Clock,
}

/// A value as a refusal may show it.
pub fn masked(f: Field, v: &str) -> String {
    match f {
        Field::Name => {
            let mut c = v.chars();
            match c.next() {
                Some(first) => std::iter::once(first).chain(c.map(|_| '*')).collect(),
                None => String::new(),
            }
        }
        Field::IdNumber => {
            let chars: Vec<char> = v.chars().collect();
            if chars.len() >= 12 {
                let head: String = chars[..6].iter().collect();
                let tail: String = chars[chars.len() - 4..].iter().collect();
                format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
            } else {
                "*".repeat(chars.len())
            }
        }
        Field::Phone if v.chars().count() >= 11 => crate::web::mask::phone(v),
        Field::Phone => "*".repeat(v.chars().count()),
        _ => v.chars().take(40).collect(),
    }
}

/// Check `row` on its own.
pub fn check(row: &Row, cols: &Columns, ctx: &Context) -> Result<Checked, Problem> {
    let cell = |f: Field| cols.of(f).map(|i| row.cell(i)).unwrap_or("");
    let problem = |f: Field, reason: &str| Problem {
        row: row.number,
        column: cols.name(f),
        reason: reason.to_owned(),
        value: masked(f, cell(f)),
    };
    let grid = grid_of(cell(Field::Grid), ctx).map_err(|r| problem(Field::Grid, &r))?;
    let place = Place {
        area: cell(Field::Area).to_owned(),
        compound: cell(Field::Compound).to_owned(),
        building: cell(Field::Building).to_owned(),
        unit: cell(Field::Unit).to_owned(),
        room: cell(Field::Room).to_owned(),
    };
    for (f, v) in [
        (Field::Area, &place.area),
        (Field::Compound, &place.compound),
        (Field::Building, &place.building),
        (Field::Unit, &place.unit),
        (Field::Room, &place.room),
    ] {
        if v.contains('/') {
            return Err(problem(f, "地址各部分不能包含“/”"));
        }
        if v.chars().count() > 50 {
            return Err(problem(f, "地址名称过长（最多50字）"));
        }
    }
    if place.building.is_empty() {
        return Err(problem(Field::Building, "楼栋不能为空"));
    }
    if place.room.is_empty() {
        return Err(problem(Field::Room, "房号不能为空"));
    }
    let opt = |f: Field| Some(cell(f).to_owned()).filter(|s| !s.is_empty());
    let mut r = Resident::named(cell(Field::Name));
    r.id_number = opt(Field::IdNumber);
    r.sex = code_of(cell(Field::Sex), sex, UNKNOWN_SEX).map_err(|e| problem(Field::Sex, e))?;
    r.birth_date = match opt(Field::BirthDate) {
        Some(d) => Some(date(&d).ok_or_else(|| {
            problem(
                Field::BirthDate,
                "出生日期不是有效日期（应写作 1980-01-02 这样的日期）",
            )
        })?),
        None => None,
    };
    r.ethnicity = code_of(cell(Field::Ethnicity), ethnicity, UNKNOWN_ETHNICITY)
        .map_err(|e| problem(Field::Ethnicity, e))?;
    r.phone = opt(Field::Phone);
    r.relation = code_of(cell(Field::Relation), relation, UNKNOWN_RELATION)
        .map_err(|e| problem(Field::Relation, e))?;
    r.status = code_of(cell(Field::Status), status, UNKNOWN_STATUS)
        .map_err(|e| problem(Field::Status, e))?;
    r.tags = tags(cell(Field::Tags)).map_err(|e| problem(Field::Tags, e))?;
    r.normalise();
    if let Err(e) = r.validate("", &ctx.clock) {
        return Err(match e {
            gridsync_core::Error::Invalid { field, reason } => {
                let f = Field::from_code(&field).unwrap_or(Field::Name);
                problem(f, &reason.zh)
            }
            _ => problem(Field::Name, "该行无法导入"),
        });
    }
    Ok(Checked {
        row: row.number,
        grid,
        place,
        resident: r,
    })
}

/// The grid of a row: a 15-digit code or a grid's name; the community's
/// only grid when the column is empty and there is one.
fn grid_of(v: &str, ctx: &Context) -> Result<String, String> {
    let found = if v.is_empty() {
        match ctx.grids.as_slice() {
            [only] => only,
            _ => return Err("所属网格不能为空".into()),
        }
    } else if v.bytes().all(|b| b.is_ascii_digit()) {
        gridsync_core::codes::GridCode::parse(v).map_err(|r| r.zh)?;
        if !v.starts_with(&ctx.community) {
            return Err("该网格不属于本社区".into());
        }
        ctx.grids
            .iter()
            .find(|g| g.code == v)
            .ok_or("未登记的网格编码")?
    } else {
        let named: Vec<_> = ctx.grids.iter().filter(|g| g.name == v).collect();
        match named.as_slice() {
            [one] => *one,
            [] => return Err("本社区没有这个名称的网格".into()),
            _ => return Err("本社区有多个同名网格，请写网格编码".into()),
        }
    };
    if !found.in_scope {
        return Err("该网格不在您负责的范围内".into());
    }
    Ok(found.code.clone())
}

/// `v` as a code of a table: empty is none; a code or a Chinese name;
/// `unknown` when it is neither.
fn code_of(
    v: &str,
    parse: fn(&str) -> Option<&'static str>,
    unknown: &'static str,
) -> Result<Option<String>, &'static str> {
    if v.is_empty() {
        return Ok(None);
    }
    parse(v).map(|c| Some(c.to_owned())).ok_or(unknown)
}

const UNKNOWN_SEX: &str = "未知的性别（应为 男、女 或代码）";
const UNKNOWN_ETHNICITY: &str = "未知的民族（应为 汉族 等民族名称或代码）";
const UNKNOWN_RELATION: &str = "未知的与户主关系（应为 户主、配偶 等或代码）";
const UNKNOWN_STATUS: &str = "未知的居住状态（应为 户籍、流动、寄住 或 外出）";

fn sex(v: &str) -> Option<&'static str> {
    let v = v.strip_suffix("性").unwrap_or(v);
    Sex::all()
        .iter()
        .find(|s| s.code() == v || s.name_zh() == v)
        .map(|s| s.code())
}

fn ethnicity(v: &str) -> Option<&'static str> {
    // A spreadsheet may have turned 01 into 1.
    let padded = if v.len() == 1 {
        format!("0{v}")
    } else {
        v.to_owned()
    };
    Ethnicity::all()
        .iter()
        .find(|e| {
            e.code() == padded || e.name_zh() == v || e.name_zh().strip_suffix('族') == Some(v)
        })
        .map(|e| e.code())
}

fn relation(v: &str) -> Option<&'static str> {
    let padded = if v.len() == 1 {
        format!("0{v}")
    } else {
        v.to_owned()
    };
    let v = match v {
        "儿子" => "子",
        "女儿" => "女",
        "妻子" => "妻",
        "丈夫" => "夫",
        other => other,
    };
    Relation::all()
        .iter()
        .find(|r| r.code() == padded || r.name_zh() == v)
        .map(|r| r.code())
}

fn status(v: &str) -> Option<&'static str> {
    let v = v.strip_suffix("人口").unwrap_or(v);
    ResidenceStatus::all()
        .iter()
        .find(|s| s.code() == v || s.name_zh() == v)
        .map(|s| s.code())
}

/// Tags separated by 、 , ; or spaces, each a code or a Chinese name.
fn tags(v: &str) -> Result<TagSet, &'static str> {
    let mut out = TagSet::default();
    for t in v
        .split(['、', ',', '，', ';', '；', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let tag = AttentionTag::all()
            .iter()
            .find(|a| a.code() == t || a.name_zh() == t)
            .ok_or("未知的关注标签")?;
        out.insert(tag.code());
    }
    Ok(out)
}

/// A date as spreadsheets write it: 1980-01-02, 1980/1/2, 1980.1.2,
/// 1980年1月2日, 19800102; `YYYY-MM-DD`, or `None` when it is no date.
pub fn date(v: &str) -> Option<String> {
    let v = v.trim();
    let parts: Vec<&str> = if v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()) {
        vec![&v[..4], &v[4..6], &v[6..]]
    } else {
        v.trim_end_matches('日')
            .split(['-', '/', '.', '年', '月'])
            .collect()
    };
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    let year: i32 = y.parse().ok()?;
    let month: u8 = m.parse().ok()?;
    let day: u8 = d.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_as_codes_or_chinese_names() {
        assert_eq!(sex("男"), Some("1"));
        assert_eq!(sex("女性"), Some("2"));
        assert_eq!(sex("2"), Some("2"));
        assert_eq!(ethnicity("汉族"), Some("01"));
        assert_eq!(ethnicity("汉"), Some("01"));
        assert_eq!(ethnicity("1"), Some("01"));
        assert_eq!(ethnicity("火星族"), None);
        assert_eq!(relation("户主"), Some("02"));
        assert_eq!(relation("儿子"), Some("20"));
        assert_eq!(relation("10"), Some("10"));
        assert_eq!(status("流动人口"), Some("floating"));
        assert_eq!(status("registered"), Some("registered"));
        assert_eq!(tags("独居老人、党员").unwrap().0.len(), 2);
        assert!(tags("外星人").is_err());
        assert_eq!(
            code_of("火星族", ethnicity, UNKNOWN_ETHNICITY).unwrap_err(),
            UNKNOWN_ETHNICITY
        );
    }

    #[test]
    fn dates_are_read_the_ways_spreadsheets_write_them() {
        for v in [
            "1980-01-02",
            "1980/1/2",
            "1980.1.2",
            "1980年1月2日",
            "19800102",
        ] {
            assert_eq!(date(v).as_deref(), Some("1980-01-02"), "{v}");
        }
        for v in ["1980-02-30", "不详", "1980-13-01", ""] {
            assert_eq!(date(v), None, "{v}");
        }
    }

    #[test]
    fn personal_values_are_masked() {
        assert_eq!(masked(Field::Name, "张三丰"), "张**");
        assert_eq!(
            masked(Field::IdNumber, "110105194912310021"),
            "110105********0021"
        );
        assert_eq!(masked(Field::Phone, "13812341234"), "138****1234");
        assert_eq!(masked(Field::Ethnicity, "火星族"), "火星族");
    }
}

//! Which column of a ledger file holds which field: the fields an import
//! fills, their usual column names (姓名, 公民身份号码/身份证号, …), a
//! mapping guessed from a file's header row, and the mapping a community
//! confirmed, saved (table `ledger_mappings`, SQLite or PostgreSQL) so its
//! next upload is mapped already.
//!
//! A mapping is kept as field code → column name (the header text), so it
//! still applies when a later file has its columns in another order.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;

use crate::db::DbError;
use crate::web::MainDb;

/// A field an import fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// 姓名.
    Name,
    /// 公民身份号码.
    IdNumber,
    /// 性别.
    Sex,
    /// 出生日期.
    BirthDate,
    /// 民族.
    Ethnicity,
    /// 联系电话.
    Phone,
    /// 与户主关系.
    Relation,
    /// 居住状态.
    Status,
    /// 关注标签.
    Tags,
    /// 所属网格 (code or name).
    Grid,
    /// 片区.
    Area,
    /// 小区.
    Compound,
    /// 楼栋.
    Building,
    /// 单元.
    Unit,
    /// 房号.
    Room,
}

impl Field {
    /// Every field, in the order the mapping form lists them.
    pub const ALL: [Field; 15] = [
        Field::Name,
        Field::IdNumber,
        Field::Sex,
        Field::BirthDate,
        Field::Ethnicity,
        Field::Phone,
        Field::Relation,
        Field::Status,
        Field::Tags,
        Field::Grid,
        Field::Area,
        Field::Compound,
        Field::Building,
        Field::Unit,
        Field::Room,
    ];

    /// The field's key, as in the documents (and the core's label table).
    pub fn code(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::IdNumber => "id_number",
            Field::Sex => "sex",
            Field::BirthDate => "birth_date",
            Field::Ethnicity => "ethnicity",
            Field::Phone => "phone",
            Field::Relation => "relation",
            Field::Status => "status",
            Field::Tags => "tags",
            Field::Grid => "grid",
            Field::Area => "area",
            Field::Compound => "compound",
            Field::Building => "building",
            Field::Unit => "unit",
            Field::Room => "room",
        }
    }

    /// The field of a key.
    pub fn from_code(code: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The field's Chinese label: the core's one wording (公民身份号码,
    /// 联系电话, …); the grid is 所属网格 here, the room 房号.
    pub fn label(self) -> &'static str {
        match self {
            Field::Grid => "所属网格",
            Field::Room => "房号",
            f => gridsync_core::codes::field_label(f.code()).unwrap_or("未知字段"),
        }
    }

    /// Whether every row must have it.
    pub fn required(self) -> bool {
        matches!(self, Field::Name | Field::Building | Field::Room)
    }

    /// Column names ledgers use for it (compared after [`header_key`]).
    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Name => &["姓名", "居民姓名", "名字"],
            Field::IdNumber => &[
                "公民身份号码",
                "身份证号",
                "身份证号码",
                "身份证",
                "证件号码",
                "身份证件号码",
            ],
            Field::Sex => &["性别"],
            Field::BirthDate => &["出生日期", "出生年月日", "出生年月", "生日"],
            Field::Ethnicity => &["民族"],
            Field::Phone => &["联系电话", "电话", "手机", "手机号", "手机号码", "联系方式"],
            Field::Relation => &["与户主关系", "家庭关系", "与户主的关系", "关系"],
            Field::Status => &["居住状态", "人口类型", "人员类型", "户籍状态"],
            Field::Tags => &["关注标签", "标签", "人员类别", "特殊人群"],
            Field::Grid => &["所属网格", "网格编码", "网格代码", "网格", "网格名称"],
            Field::Area => &["片区"],
            Field::Compound => &["小区", "小区名称", "院落", "小区院落"],
            Field::Building => &["楼栋", "楼栋号", "楼号", "栋"],
            Field::Unit => &["单元", "单元号"],
            Field::Room => &["房号", "门牌号", "室号", "房间号", "户号"],
        }
    }
}

/// A header as compared with the usual names: without spaces and without
/// a bracketed note (出生日期（yyyy-mm-dd） is 出生日期).
pub fn header_key(h: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in h.chars() {
        match c {
            '(' | '（' | '[' | '【' => depth += 1,
            ')' | '）' | ']' | '】' => depth = depth.saturating_sub(1),
            c if c.is_whitespace() || c == '*' => {}
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// A saved or submitted mapping: field code → column name.
pub type Saved = BTreeMap<String, String>;

/// The mapping guessed from `headers`: each field to the first column
/// whose name is one of its usual names.
pub fn guess(headers: &[String]) -> Saved {
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let mut out = Saved::new();
    for f in Field::ALL {
        if let Some(i) = keys.iter().position(|k| f.names().iter().any(|n| n == k)) {
            out.insert(f.code().to_owned(), headers[i].clone());
        }
    }
    out
}

/// The mapping to offer for `headers`: `saved` where its columns are in
/// the file, guessed from the names for the rest.
pub fn prefill(headers: &[String], saved: Option<&Saved>) -> Saved {
    let mut out = guess(headers);
    if let Some(saved) = saved {
        for (field, column) in saved {
            if Field::from_code(field).is_some() && headers.iter().any(|h| h == column) {
                out.insert(field.clone(), column.clone());
            }
        }
    }
    out
}

/// A mapping resolved against a file: the column index of each field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    index: BTreeMap<Field, usize>,
    headers: Vec<String>,
}

impl Columns {
    /// The column of `f`, if mapped.
    pub fn of(&self, f: Field) -> Option<usize> {
        self.index.get(&f).copied()
    }

    /// How a refusal names the column of `f`: its header in the file
    /// (with the field's label when they differ), else the label.
    pub fn name(&self, f: Field) -> String {
        match self.of(f).and_then(|i| self.headers.get(i)) {
            Some(h) if header_key(h) == f.label() => h.clone(),
            Some(h) => format!("{h}（{}）", f.label()),
            None => f.label().to_owned(),
        }
    }

    /// The mapping as saved (field code → column name).
    pub fn saved(&self) -> Saved {
        self.index
            .iter()
            .filter_map(|(f, i)| Some((f.code().to_owned(), self.headers.get(*i)?.clone())))
            .collect()
    }
}

/// Resolve `mapping` against `headers`. Refused (in Chinese): an unknown
/// field, a column not in the file, a required field left unmapped.
pub fn resolve(headers: &[String], mapping: &Saved) -> Result<Columns, String> {
    let mut index = BTreeMap::new();
    for (field, column) in mapping {
        if column.trim().is_empty() {
            continue;
        }
        let f = Field::from_code(field).ok_or_else(|| format!("未知的目标字段：{field}"))?;
        let i = headers
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| format!("文件中没有“{column}”列（对应{}）", f.label()))?;
        index.insert(f, i);
    }
    for f in Field::ALL {
        if f.required() && !index.contains_key(&f) {
            return Err(format!("请指定“{}”对应的列", f.label()));
        }
    }
    Ok(Columns {
        index,
        headers: headers.to_vec(),
    })
}

const LOAD_LITE: &str = "SELECT mapping FROM ledger_mappings WHERE community = ?1";
const LOAD_PG: &str = "SELECT mapping FROM ledger_mappings WHERE community = $1";
const SAVE_LITE: &str = "INSERT INTO ledger_mappings (community, mapping, updated_by, updated_at)
     VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (community) DO UPDATE SET mapping = excluded.mapping,
         updated_by = excluded.updated_by, updated_at = excluded.updated_at";
const SAVE_PG: &str = "INSERT INTO ledger_mappings (community, mapping, updated_by, updated_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (community) DO UPDATE SET mapping = excluded.mapping,
         updated_by = excluded.updated_by, updated_at = excluded.updated_at";

/// The mapping `community` saved last, if any.
pub async fn load(main: &MainDb, community: &str) -> Result<Option<Saved>, DbError> {
    let community = community.to_owned();
    let text: Option<String> = match main {
        MainDb::Sqlite(pool) => {
            crate::db::run(pool, move |c| {
                c.prepare_cached(LOAD_LITE)?
                    .query_row([community], |r| r.get(0))
                    .optional()
            })
            .await?
        }
        MainDb::Postgres(pool) => {
            let client = pool.get().await.map_err(crate::pg::pool_err)?;
            crate::pg::query_opt(&client, LOAD_PG, &[&community])
                .await
                .map_err(crate::pg::err)?
                .map(|r| r.get(0))
        }
    };
    // A row that no longer parses (never written so) is as if absent.
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Save `mapping` as `community`'s, by `user_id`, replacing the last.
pub async fn save(
    main: &MainDb,
    community: &str,
    mapping: &Saved,
    user_id: &str,
) -> Result<(), DbError> {
    let text = serde_json::to_string(mapping).unwrap_or_else(|_| "{}".into());
    let at = gridsync_core::clock::Clock::System.now_ms();
    let (community, user_id) = (community.to_owned(), user_id.to_owned());
    match main {
        MainDb::Sqlite(pool) => {
            crate::db::run(pool, move |c| {
                c.prepare_cached(SAVE_LITE)?
                    .execute(rusqlite::params![community, text, user_id, at])?;
                Ok(())
            })
            .await
        }
        MainDb::Postgres(pool) => {
            let client = pool.get().await.map_err(crate::pg::pool_err)?;
            crate::pg::execute(&client, SAVE_PG, &[&community, &text, &user_id, &at])
                .await
                .map_err(crate::pg::err)?;
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn usual_names_are_recognised_and_saved_columns_win() {
        let h = headers(&[
            "序号",
            "姓 名",
            "身份证号",
            "出生日期（yyyy-mm-dd）",
            "手机号码",
            "网格编码",
            "楼号",
            "门牌号",
        ]);
        let g = guess(&h);
        assert_eq!(g["name"], "姓 名");
        assert_eq!(g["id_number"], "身份证号");
        assert_eq!(g["birth_date"], "出生日期（yyyy-mm-dd）");
        assert_eq!(g["phone"], "手机号码");
        assert_eq!(g["grid"], "网格编码");
        assert_eq!(g["building"], "楼号");
        assert_eq!(g["room"], "门牌号");
        assert!(!g.contains_key("sex"));
        let saved: Saved = [("name".to_owned(), "序号".to_owned())].into();
        assert_eq!(prefill(&h, Some(&saved))["name"], "序号");
        let cols = resolve(&h, &g).unwrap();
        assert_eq!(cols.of(Field::Room), Some(7));
        assert_eq!(cols.name(Field::Room), "门牌号（房号）");
        assert_eq!(cols.name(Field::IdNumber), "身份证号（公民身份号码）");
        assert_eq!(cols.saved(), g);
        let mut missing = g.clone();
        missing.remove("room");
        assert_eq!(resolve(&h, &missing).unwrap_err(), "请指定“房号”对应的列");
        missing.insert("room".into(), "不存在".into());
        assert!(resolve(&h, &missing).unwrap_err().contains("文件中没有"));
    }
}

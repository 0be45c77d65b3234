//! The closed shape of every document kind: which fields a household, a
//! grid, an issue report and a building head's contact may hold, of which
//! type, and every limit on strings, lists and maps. One place for all of it: the server refuses a
//! pushed document that breaks it (`check`), the phone's validation uses the
//! same limits so it refuses before it records, and docs/protocol.md lists
//! them.
//!
//! Reading stays lenient ([`crate::household`]'s structs ignore what they do
//! not know); this is the strict side, run on whole documents as JSON
//! ([`crate::doc::to_json`]). A `null` is accepted wherever a value is (the
//! structs read it as absent or refuse it themselves).

use serde_json::Value;

use crate::Reason;

/// Longest name of a person, a grid, a community or a street, in characters.
pub const NAME_CHARS: usize = 50;
/// Longest note (a resident's, a workflow step's), in characters.
pub const NOTE_CHARS: usize = 2000;
/// Longest long text (a visit's findings and needs, a report's
/// description), in characters.
pub const TEXT_CHARS: usize = 5000;
/// Longest code, date, phone number or ID number, in characters.
pub const CODE_CHARS: usize = 32;
/// Longest identifier (a user id, a document id, a map key), in characters.
pub const ID_CHARS: usize = 64;
/// Longest part of a place (片区, 小区, 楼栋, 单元, 室), in characters.
pub const PLACE_PART_CHARS: usize = 64;
/// Longest free-text place of a report (3号楼东侧), in characters.
pub const LANDMARK_CHARS: usize = 200;
/// Most tags on a resident or a household.
pub const TAGS: usize = 32;
/// Most residents (current and removed) in one household.
pub const RESIDENTS_PER_HOUSEHOLD: usize = 200;
/// Most visits (contacts of any kind) in one household.
pub const VISITS_PER_HOUSEHOLD: usize = 5000;
/// Most households a household is marked distinct from.
pub const DISTINCT_FROM: usize = 100;
/// Most places (area/compound/building/unit) in one grid.
pub const PLACES_PER_GRID: usize = 10_000;
/// Most workflow steps of one report.
pub const EVENTS_PER_ISSUE: usize = 500;
/// Most photos of one report.
pub const PHOTOS_PER_ISSUE: usize = 50;
/// Most households one report concerns.
pub const HOUSEHOLDS_PER_ISSUE: usize = 100;
/// Most heads remembered of a merged household.
pub const MERGED_HEADS: usize = 64;
/// Largest pushed change, uncompressed, in bytes: refused before it is
/// applied.
pub const CHANGE_BYTES: usize = 1 << 20;
/// Most operations in one pushed change: refused before it is applied.
pub const CHANGE_OPS: usize = 50_000;

/// What a field may hold.
#[derive(Debug)]
enum Shape {
    /// A string of at most this many characters.
    Text(usize),
    /// A number.
    Number,
    /// `true` or `false`.
    Bool,
    /// A map with exactly these fields (any may be missing).
    Record(&'static [(&'static str, Shape)]),
    /// A map keyed by ids (residents, visits, events), at most `max`
    /// entries, each a `value`.
    Entries { max: usize, value: &'static Shape },
    /// A tag set `{code: true}`: at most `max` codes of at most `len`
    /// characters.
    Tags { max: usize, len: usize },
    /// A list of at most `max` items.
    List { max: usize, item: &'static Shape },
}

const CODE: Shape = Shape::Text(CODE_CHARS);
const ID: Shape = Shape::Text(ID_CHARS);

const PLACE: Shape = Shape::Record(&[
    ("area", Shape::Text(PLACE_PART_CHARS)),
    ("compound", Shape::Text(PLACE_PART_CHARS)),
    ("building", Shape::Text(PLACE_PART_CHARS)),
    ("unit", Shape::Text(PLACE_PART_CHARS)),
    ("room", Shape::Text(PLACE_PART_CHARS)),
]);

const HOUSE: Shape = Shape::Record(&[
    ("usage", CODE),
    ("ownership", Shape::Text(NAME_CHARS)),
    ("area_m2", Shape::Number),
    ("occupants", Shape::Number),
]);

const RESIDENT: Shape = Shape::Record(&[
    ("name", Shape::Text(NAME_CHARS)),
    ("id_number", CODE),
    ("sex", CODE),
    ("birth_date", CODE),
    ("ethnicity", CODE),
    ("phone", CODE),
    ("relation", CODE),
    ("status", CODE),
    (
        "tags",
        Shape::Tags {
            max: TAGS,
            len: CODE_CHARS,
        },
    ),
    ("moved_in", CODE),
    ("moved_out", CODE),
    ("removed", Shape::Bool),
    ("note", Shape::Text(NOTE_CHARS)),
    ("merged_into", ID),
]);

const VISIT: Shape = Shape::Record(&[
    ("visitor", ID),
    ("role", CODE),
    ("at", Shape::Number),
    ("method", CODE),
    ("findings", Shape::Text(TEXT_CHARS)),
    ("needs", Shape::Text(TEXT_CHARS)),
    ("follow_up", Shape::Bool),
    ("lat", Shape::Number),
    ("lon", Shape::Number),
    ("corrects", ID),
]);

const HOUSEHOLD: Shape = Shape::Record(&[
    ("kind", CODE),
    ("schema", Shape::Number),
    ("id", ID),
    ("grid", CODE),
    ("place", PLACE),
    ("house", HOUSE),
    ("holder", ID),
    (
        "tags",
        Shape::Tags {
            max: TAGS,
            len: CODE_CHARS,
        },
    ),
    (
        "residents",
        Shape::Entries {
            max: RESIDENTS_PER_HOUSEHOLD,
            value: &RESIDENT,
        },
    ),
    (
        "visits",
        Shape::Entries {
            max: VISITS_PER_HOUSEHOLD,
            value: &VISIT,
        },
    ),
    ("created_by", ID),
    ("created_at", Shape::Number),
    ("merged_into", ID),
    (
        "merged_heads",
        Shape::List {
            max: MERGED_HEADS,
            item: &ID,
        },
    ),
    (
        "distinct_from",
        Shape::Tags {
            max: DISTINCT_FROM,
            len: ID_CHARS,
        },
    ),
]);

const GRID: Shape = Shape::Record(&[
    ("kind", CODE),
    ("schema", Shape::Number),
    ("id", ID),
    ("grid", CODE),
    ("name", Shape::Text(NAME_CHARS)),
    ("community", Shape::Text(NAME_CHARS)),
    ("street", Shape::Text(NAME_CHARS)),
    (
        "places",
        Shape::Tags {
            max: PLACES_PER_GRID,
            // area/compound/building/unit
            len: 4 * PLACE_PART_CHARS + 3,
        },
    ),
]);

const CONTACT: Shape = Shape::Record(&[
    ("kind", CODE),
    ("schema", Shape::Number),
    ("id", ID),
    ("grid", CODE),
    ("household", ID),
    ("place", PLACE),
    ("by", ID),
    ("role", CODE),
    ("at", Shape::Number),
    ("method", CODE),
    ("findings", Shape::Text(TEXT_CHARS)),
    ("needs", Shape::Text(TEXT_CHARS)),
    ("follow_up", Shape::Bool),
]);

const ISSUE_PLACE: Shape = Shape::Record(&[
    ("household", ID),
    ("building", Shape::Text(LANDMARK_CHARS)),
    ("lat", Shape::Number),
    ("lon", Shape::Number),
]);

const EVENT: Shape = Shape::Record(&[
    ("kind", CODE),
    ("actor", ID),
    ("role", CODE),
    ("at", Shape::Number),
    ("level", CODE),
    ("assignee", ID),
    ("note", Shape::Text(NOTE_CHARS)),
    ("rating", Shape::Number),
]);

const ISSUE: Shape = Shape::Record(&[
    ("kind", CODE),
    ("schema", Shape::Number),
    ("id", ID),
    ("grid", CODE),
    ("category", CODE),
    ("subtype", CODE),
    ("description", Shape::Text(TEXT_CHARS)),
    ("place", ISSUE_PLACE),
    ("reporter", ID),
    ("source", CODE),
    ("urgency", CODE),
    (
        "photos",
        Shape::List {
            max: PHOTOS_PER_ISSUE,
            item: &Shape::Text(ID_CHARS),
        },
    ),
    (
        "households",
        Shape::Tags {
            max: HOUSEHOLDS_PER_ISSUE,
            len: ID_CHARS,
        },
    ),
    ("created_at", Shape::Number),
    (
        "events",
        Shape::Entries {
            max: EVENTS_PER_ISSUE,
            value: &EVENT,
        },
    ),
]);

/// A refusal of the shape: the field (a dotted path) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// Where, e.g. `residents.<id>.note`.
    pub field: String,
    /// Why.
    pub reason: Reason,
}

impl From<Misfit> for crate::Error {
    fn from(m: Misfit) -> Self {
        m.reason.on(m.field)
    }
}

/// Check a whole document of `kind` (as JSON) against its closed shape.
/// An unknown kind is a misfit at `kind`.
pub fn check(kind: &str, doc: &Value) -> Result<(), Misfit> {
    let shape = match kind {
        crate::household::KIND => &HOUSEHOLD,
        crate::grid::KIND => &GRID,
        crate::issue::KIND => &ISSUE,
        crate::contact::KIND => &CONTACT,
        _ => {
            return Err(Misfit {
                field: "kind".into(),
                reason: Reason::new("未知的记录类型", "unknown kind"),
            });
        }
    };
    let mut path = String::new();
    walk(shape, doc, &mut path)
}

/// Check one entry of a document of `kind`: `entry` under `key` in the
/// root map `container` (a household's `visits` or `residents`), with the
/// map holding `count` entries in all. The same checks [`check`] makes of
/// that entry and of the map's size; the rest of the document is not
/// looked at. `None` when `container` is not a map of entries of `kind`.
pub fn check_entry(
    kind: &str,
    container: &str,
    key: &str,
    entry: &Value,
    count: usize,
) -> Option<Result<(), Misfit>> {
    let Shape::Record(fields) = (match kind {
        crate::household::KIND => &HOUSEHOLD,
        crate::grid::KIND => &GRID,
        crate::issue::KIND => &ISSUE,
        crate::contact::KIND => &CONTACT,
        _ => return None,
    }) else {
        return None;
    };
    let (_, Shape::Entries { max, value }) = fields.iter().find(|(name, _)| *name == container)?
    else {
        return None;
    };
    let mut path = container.to_owned();
    if count > *max {
        return Some(Err(too_many(&path, *max)));
    }
    Some(within(&mut path, key, |p| {
        if key.is_empty() || key.chars().count() > ID_CHARS {
            return Err(misfit(p, "条目编号无效", "entry key is not an id"));
        }
        walk(value, entry, p)
    }))
}

/// A field name fit to print: map keys come from the client, so an
/// unknown one is cut short.
fn printable(key: &str) -> String {
    if key.chars().count() <= ID_CHARS {
        key.to_owned()
    } else {
        let cut: String = key.chars().take(ID_CHARS).collect();
        format!("{cut}…")
    }
}

fn misfit(path: &str, zh: impl Into<String>, en: impl Into<String>) -> Misfit {
    Misfit {
        field: if path.is_empty() {
            "(document)".into()
        } else {
            path.to_owned()
        },
        reason: Reason::new(zh, en),
    }
}

fn wrong_type(path: &str, expected_zh: &str, expected_en: &str) -> Misfit {
    misfit(
        path,
        format!("字段类型不对，应为{expected_zh}"),
        format!("wrong type, expected {expected_en}"),
    )
}

fn too_many(path: &str, max: usize) -> Misfit {
    misfit(
        path,
        format!("条目过多（最多{max}条）"),
        format!("more than {max} entries"),
    )
}

/// Run `f` with `key` appended to `path`, then restore it.
fn within<T>(path: &mut String, key: &str, f: impl FnOnce(&mut String) -> T) -> T {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(&printable(key));
    let out = f(path);
    path.truncate(len);
    out
}

fn walk(shape: &Shape, v: &Value, path: &mut String) -> Result<(), Misfit> {
    if v.is_null() {
        return Ok(());
    }
    match shape {
        Shape::Text(max) => match v {
            Value::String(s) if s.chars().count() <= *max => Ok(()),
            Value::String(_) => Err(misfit(
                path,
                format!("内容过长（最多{max}字）"),
                format!("longer than {max} characters"),
            )),
            _ => Err(wrong_type(path, "文本", "text")),
        },
        Shape::Number => match v {
            Value::Number(_) => Ok(()),
            _ => Err(wrong_type(path, "数字", "a number")),
        },
        Shape::Bool => match v {
            Value::Bool(_) => Ok(()),
            _ => Err(wrong_type(path, "是/否", "true or false")),
        },
        Shape::Record(fields) => {
            let Value::Object(map) = v else {
                return Err(wrong_type(path, "对象", "an object"));
            };
            for (key, value) in map {
                let Some((_, field)) = fields.iter().find(|(name, _)| name == key) else {
                    return Err(within(path, key, |p| {
                        misfit(p, "未知字段，不能保存", "unknown field")
                    }));
                };
                within(path, key, |p| walk(field, value, p))?;
            }
            Ok(())
        }
        Shape::Entries { max, value } => {
            let Value::Object(map) = v else {
                return Err(wrong_type(path, "对象", "an object"));
            };
            if map.len() > *max {
                return Err(too_many(path, *max));
            }
            for (key, entry) in map {
                within(path, key, |p| {
                    if key.is_empty() || key.chars().count() > ID_CHARS {
                        return Err(misfit(p, "条目编号无效", "entry key is not an id"));
                    }
                    walk(value, entry, p)
                })?;
            }
            Ok(())
        }
        Shape::Tags { max, len } => {
            let Value::Object(map) = v else {
                return Err(wrong_type(path, "标签集合", "a tag set"));
            };
            if map.len() > *max {
                return Err(too_many(path, *max));
            }
            for (key, flag) in map {
                if key.chars().count() > *len {
                    return Err(misfit(
                        path,
                        format!("标签过长（最多{len}字）"),
                        format!("a tag longer than {len} characters"),
                    ));
                }
                if !flag.is_boolean() {
                    return Err(wrong_type(path, "标签集合", "a tag set {code: true}"));
                }
            }
            Ok(())
        }
        Shape::List { max, item } => {
            let Value::Array(items) = v else {
                return Err(wrong_type(path, "列表", "a list"));
            };
            if items.len() > *max {
                return Err(too_many(path, *max));
            }
            for (i, x) in items.iter().enumerate() {
                within(path, &i.to_string(), |p| walk(item, x, p))?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_of(kind: &str, doc: Value) -> String {
        check(kind, &doc).unwrap_err().field
    }

    #[test]
    fn a_household_as_written_fits() {
        let h = crate::household::Household {
            kind: "household".into(),
            id: "h".into(),
            ..Default::default()
        };
        check("household", &serde_json::to_value(&h).unwrap()).unwrap();
    }

    #[test]
    fn unknown_fields_are_named() {
        assert_eq!(
            field_of("household", json!({"kind": "household", "x": 1})),
            "x"
        );
        assert_eq!(
            field_of(
                "household",
                json!({"residents": {"r1": {"name": "甲", "nickname": "乙"}}})
            ),
            "residents.r1.nickname"
        );
    }

    #[test]
    fn limits_are_enforced() {
        let long = "字".repeat(NAME_CHARS + 1);
        assert_eq!(
            field_of("household", json!({"residents": {"r1": {"name": long}}})),
            "residents.r1.name"
        );
        let many: serde_json::Map<String, Value> = (0..=TAGS)
            .map(|i| (format!("t{i}"), Value::Bool(true)))
            .collect();
        assert_eq!(field_of("household", json!({ "tags": many })), "tags");
        let list: Vec<Value> = (0..=PHOTOS_PER_ISSUE).map(|_| json!("ab")).collect();
        assert_eq!(field_of("issue", json!({ "photos": list })), "photos");
    }

    #[test]
    fn types_are_checked_and_values_never_echoed() {
        let m = check("grid", &json!({"name": 3})).unwrap_err();
        assert_eq!(m.field, "name");
        let m = check(
            "household",
            &json!({"place": {"room": "秘密值".repeat(40)}}),
        )
        .unwrap_err();
        assert!(!m.reason.zh.contains("秘密值") && !m.reason.en.contains("秘密值"));
    }

    /// An entry checked alone is judged as the whole document judges it.
    #[test]
    fn an_entry_alone_is_judged_as_in_the_whole() {
        let long = "字".repeat(TEXT_CHARS + 1);
        let key64 = "k".repeat(ID_CHARS + 1);
        let cases = [
            (
                "visits",
                "v1",
                json!({"visitor": "u", "at": 1, "findings": "好"}),
            ),
            ("visits", "v1", json!({"findings": long})),
            ("visits", "v1", json!({"nickname": "x"})),
            ("visits", "v1", json!("a string")),
            ("visits", "v1", json!(null)),
            ("visits", "", json!({})),
            ("visits", key64.as_str(), json!({})),
            (
                "residents",
                "r1",
                json!({"name": "甲", "tags": {"elderly": true}}),
            ),
            ("residents", "r1", json!({"tags": {"elderly": 1}})),
            ("residents", "r1", json!({"removed": "yes"})),
        ];
        for (container, key, entry) in cases {
            let whole = json!({ container: { key: entry.clone() } });
            assert_eq!(
                check_entry("household", container, key, &entry, 1),
                Some(check("household", &whole)),
                "{container}.{key}: {entry}"
            );
        }
        let over = check_entry("household", "residents", "r1", &json!({}), 201);
        assert_eq!(over.unwrap().unwrap_err().field, "residents");
        assert_eq!(
            check_entry("household", "place", "room", &json!({}), 1),
            None
        );
        assert_eq!(
            check_entry("issue", "events", "e1", &json!({"kind": 3}), 1)
                .unwrap()
                .unwrap_err()
                .field,
            "events.e1.kind"
        );
        assert_eq!(
            check_entry("visit_note", "visits", "v1", &json!({}), 1),
            None
        );
    }

    #[test]
    fn unknown_kind_is_refused() {
        assert_eq!(field_of("visit_note", json!({})), "kind");
    }
}

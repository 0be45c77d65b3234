//! Server-side document rules: after a push is applied to a copy of a
//! document, the result must still be a well-formed record of a known kind:
//! the closed shape of its kind with every limit ([`gridsync_core::shape`]),
//! and valid fields. A document that fails is refused, with the field and
//! the reason. What a change may do to a document that was already stored
//! (compared with before) is judged in [`crate::scope::rules`].

use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock, Mutex};

use automerge::{Automerge, ChangeHash};
use gridsync_core::Listing;
use gridsync_core::clock::Clock;
use gridsync_core::codes::GridCode;
use gridsync_core::contact::{self, Contact};
use gridsync_core::doc;
use gridsync_core::grid::{self, Grid};
use gridsync_core::household::{self, Household};
use gridsync_core::issue::{self, Issue};
use gridsync_core::shape;

use crate::store::{DocFacts, Refusal};

/// Phones' clocks drift; a record dated up to a day ahead of the server is
/// not "in the future" here.
const SKEW_MS: i64 = 24 * 3600 * 1000;

fn invalid(reason: impl std::fmt::Display) -> Refusal {
    Refusal::new(
        "invalid_document",
        format!("记录内容无效 / invalid record: {reason}"),
    )
}

/// A refusal naming `field`, from a core validation error or a shape
/// misfit.
fn invalid_at(field: &str, zh: &str, en: &str) -> Refusal {
    invalid(format!("{field}: {zh} ({en})")).at(field)
}

impl From<gridsync_core::Error> for Refusal {
    fn from(e: gridsync_core::Error) -> Self {
        match e {
            gridsync_core::Error::Invalid { field, reason } => {
                invalid_at(&field, &reason.zh, &reason.en)
            }
            other => invalid(other),
        }
    }
}

impl From<shape::Misfit> for Refusal {
    fn from(m: shape::Misfit) -> Self {
        invalid_at(&m.field, &m.reason.zh, &m.reason.en)
    }
}

/// A document read as the record of its kind.
#[derive(Debug, Clone)]
pub enum Record {
    /// A household (户).
    Household(Box<Household>),
    /// A grid (网格) and its places.
    Grid(Grid),
    /// An issue report (事件).
    Issue(Box<Issue>),
    /// A 楼栋长/单元长's contact with a household.
    Contact(Box<Contact>),
}

/// A document that passed validation: what access control needs of it and
/// the record itself, for the rules on what a change may do.
#[derive(Debug, Clone)]
pub struct Validated {
    /// Kind, scope, holder, departments.
    pub facts: DocFacts,
    /// The record.
    pub record: Arc<Record>,
}

/// Records read by [`document`] and [`read_record`], by document id and
/// heads (a document at given heads reads the same, always): the "before"
/// of a push to a document is mostly the "after" of the last one, and
/// reading it again was a third of deciding a small push.
const RECORDS: usize = 1024;

type Heads = (String, Vec<ChangeHash>);

static READ: LazyLock<Mutex<lru::LruCache<Heads, Arc<Record>>>> = LazyLock::new(|| {
    Mutex::new(lru::LruCache::new(
        NonZeroUsize::new(RECORDS).unwrap_or(NonZeroUsize::MIN),
    ))
});

fn recall(key: &Heads) -> Option<Arc<Record>> {
    READ.lock().ok()?.get(key).cloned()
}

fn remember(key: Heads, record: &Arc<Record>) {
    if let Ok(mut read) = READ.lock() {
        read.put(key, record.clone());
    }
}

/// Read stored document `doc_id` as its record, leniently (no shape
/// check): the "before" side of a push.
pub fn read_record(doc_id: &str, d: &Automerge) -> Result<Arc<Record>, Refusal> {
    let key = (doc_id.to_owned(), d.get_heads());
    if let Some(r) = recall(&key) {
        return Ok(r);
    }
    let kind = doc::kind_of(d).ok_or_else(|| invalid_at("kind", "缺少记录类型", "kind missing"))?;
    let json = doc::to_json(d, None);
    let record = Arc::new(parse(&kind, json)?);
    remember(key, &record);
    Ok(record)
}

fn parse(kind: &str, json: serde_json::Value) -> Result<Record, Refusal> {
    let shape_of = |what: &str| invalid(format!("not {what}"));
    Ok(match kind {
        household::KIND => Record::Household(Box::new(
            serde_json::from_value(json).map_err(|_| shape_of("a household"))?,
        )),
        grid::KIND => Record::Grid(serde_json::from_value(json).map_err(|_| shape_of("a grid"))?),
        issue::KIND => Record::Issue(Box::new(
            serde_json::from_value(json).map_err(|_| shape_of("an issue report"))?,
        )),
        contact::KIND => Record::Contact(Box::new(
            serde_json::from_value(json).map_err(|_| shape_of("a contact"))?,
        )),
        _ => return Err(invalid_at("kind", "未知的记录类型", "unknown kind")),
    })
}

fn grid_code(grid: &str) -> Result<(), Refusal> {
    GridCode::parse(grid)
        .map(|_| ())
        .map_err(|r| invalid_at("grid", &r.zh, &r.en))
}

fn id_matches(id: &str, doc_id: &str) -> Result<(), Refusal> {
    if id != doc_id {
        return Err(invalid_at(
            "id",
            "编号与文档不符",
            "id does not match the document",
        ));
    }
    Ok(())
}

/// Refuse a time later than now (with the phones' allowed drift): for the
/// creation time of a new record (a stored one's never changes).
pub fn not_future(field: &str, at: i64) -> Result<(), Refusal> {
    if at > Clock::System.now_ms() + SKEW_MS {
        return Err(invalid_at(
            field,
            "时间不能晚于现在",
            "time is in the future",
        ));
    }
    Ok(())
}

/// Validate a document: its closed shape and limits, then its fields.
pub fn document(doc_id: &str, d: &Automerge) -> Result<Validated, Refusal> {
    let kind = doc::kind_of(d).ok_or_else(|| invalid_at("kind", "缺少记录类型", "kind missing"))?;
    let clock = Clock::Fixed(Clock::System.now_ms() + SKEW_MS);
    let json = doc::to_json(d, None);
    shape::check(&kind, &json)?;
    let record = parse(&kind, json)?;
    let facts = match &record {
        Record::Household(h) => {
            id_matches(&h.id, doc_id)?;
            grid_code(&h.grid)?;
            if h.place.building.trim().is_empty() {
                return Err(invalid_at(
                    "place.building",
                    "楼栋不能为空",
                    "building must not be empty",
                ));
            }
            if h.place.room.trim().is_empty() {
                return Err(invalid_at(
                    "place.room",
                    "房号不能为空",
                    "room must not be empty",
                ));
            }
            if h.created_by.trim().is_empty() {
                return Err(invalid_at(
                    "created_by",
                    "缺少创建人",
                    "created_by is empty",
                ));
            }
            h.house.validate()?;
            for (key, r) in &h.residents {
                if r.removed || r.merged_into.is_some() {
                    continue;
                }
                r.validate(&format!("residents.{key}."), &clock)?;
            }
            for (key, v) in &h.visits {
                v.validate(&clock).map_err(|e| match e {
                    gridsync_core::Error::Invalid { field, reason } => {
                        Refusal::from(reason.on(format!("visits.{key}.{field}")))
                    }
                    other => Refusal::from(other),
                })?;
                if let Some(c) = &v.corrects
                    && !h.visits.contains_key(c)
                {
                    return Err(invalid_at(
                        &format!("visits.{key}.corrects"),
                        "要更正的走访记录不在该户",
                        "the visit it corrects is not in this household",
                    ));
                }
            }
            DocFacts {
                kind,
                scope: h.grid.clone(),
                holder: h.holder.clone(),
                departments: Vec::new(),
                listing: Some(Listing::of_household(h).to_json().into_bytes()),
            }
        }
        Record::Grid(g) => {
            id_matches(&g.id, doc_id)?;
            grid_code(&g.grid)?;
            DocFacts {
                kind,
                scope: g.grid.clone(),
                holder: None,
                departments: Vec::new(),
                listing: Some(Listing::of_grid(g).to_json().into_bytes()),
            }
        }
        Record::Issue(i) => {
            id_matches(&i.id, doc_id)?;
            grid_code(&i.grid)?;
            if i.description.trim().is_empty() {
                return Err(invalid_at(
                    "description",
                    "描述不能为空",
                    "description is empty",
                ));
            }
            DocFacts {
                departments: i.departments(),
                kind,
                scope: i.grid.clone(),
                holder: None,
                listing: None,
            }
        }
        Record::Contact(c) => {
            id_matches(&c.id, doc_id)?;
            grid_code(&c.grid)?;
            c.validate(&clock)?;
            // The head who made it reads it back through their own feed
            // (`h:<user id>`); the grid's people through the grid's.
            DocFacts {
                kind,
                scope: c.grid.clone(),
                holder: Some(c.by.clone()),
                departments: Vec::new(),
                listing: None,
            }
        }
    };
    let record = Arc::new(record);
    remember((doc_id.to_owned(), d.get_heads()), &record);
    Ok(Validated { facts, record })
}

//! Server-side document rules: after a push is applied to a copy of a
//! document, the result must still be a well-formed record of a known kind:
//! the closed shape of its kind with every limit ([`gridsync_core::shape`]),
//! and valid fields. A document that fails is refused, with the field and
//! the reason. What a change may do to a document that was already stored
//! (compared with before) is judged in [`crate::scope::rules`].

use std::collections::{BTreeSet, HashMap};
use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock, Mutex};

use automerge::{Automerge, ChangeHash, ObjId, ObjType, Prop, ReadDoc, Value};
use gridsync_core::Listing;
use gridsync_core::clock::Clock;
use gridsync_core::codes::GridCode;
use gridsync_core::contact::{self, Contact};
use gridsync_core::doc;
use gridsync_core::grid::{self, Grid};
use gridsync_core::household::{self, Household};
use gridsync_core::issue::{self, Issue};
use gridsync_core::shape;
use serde::Deserialize;

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
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
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

/// A record read, and whether the document it was read from passed
/// [`document`] (or [`delta`]) at those heads.
type Read = (Arc<Record>, bool);

static READ: LazyLock<Mutex<lru::LruCache<Heads, Read>>> = LazyLock::new(|| {
    Mutex::new(lru::LruCache::new(
        NonZeroUsize::new(RECORDS).unwrap_or(NonZeroUsize::MIN),
    ))
});

fn recall(key: &Heads) -> Option<Read> {
    READ.lock().ok()?.get(key).cloned()
}

/// Keep what was read at `key`; a record once validated stays marked so.
fn remember(key: Heads, record: &Arc<Record>, validated: bool) {
    if let Ok(mut read) = READ.lock() {
        let validated = validated || read.peek(&key).is_some_and(|(_, v)| *v);
        read.put(key, (record.clone(), validated));
    }
}

/// Read stored document `doc_id` as its record, leniently (no shape
/// check): the "before" side of a push.
pub fn read_record(doc_id: &str, d: &Automerge) -> Result<Arc<Record>, Refusal> {
    let key = (doc_id.to_owned(), d.get_heads());
    if let Some((r, _)) = recall(&key) {
        return Ok(r);
    }
    let kind = doc::kind_of(d).ok_or_else(|| invalid_at("kind", "缺少记录类型", "kind missing"))?;
    let json = doc::to_json(d, None);
    let record = Arc::new(parse(&kind, json)?);
    remember(key, &record, false);
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
                resident_fields(key, r, &clock)?;
            }
            for (key, v) in &h.visits {
                visit_fields(h, key, v, &clock)?;
            }
            household_facts(kind, h)
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
    remember((doc_id.to_owned(), d.get_heads()), &record, true);
    Ok(Validated { facts, record })
}

/// A resident's fields (one removed or merged away is kept as it was).
fn resident_fields(key: &str, r: &household::Resident, clock: &Clock) -> Result<(), Refusal> {
    if r.removed || r.merged_into.is_some() {
        return Ok(());
    }
    Ok(r.validate(&format!("residents.{key}."), clock)?)
}

/// A visit's fields, and the visit it corrects is in household `h`.
fn visit_fields(
    h: &Household,
    key: &str,
    v: &household::Visit,
    clock: &Clock,
) -> Result<(), Refusal> {
    v.validate(clock).map_err(|e| match e {
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
    Ok(())
}

fn household_facts(kind: String, h: &Household) -> DocFacts {
    DocFacts {
        kind,
        scope: h.grid.clone(),
        holder: h.holder.clone(),
        departments: Vec::new(),
        listing: Some(Listing::of_household(h).to_json().into_bytes()),
    }
}

/// The root maps of a household whose entries [`delta`] judges one by one.
const ENTRY_MAPS: [&str; 2] = ["residents", "visits"];

/// The entries of a household that pushed changes wrote: by root map
/// (`residents`, `visits`), the keys of the entries any of their
/// operations wrote, or wrote inside.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Touched(pub [BTreeSet<String>; 2]);

impl Touched {
    /// The keys touched in root map `map`.
    pub fn keys(&self, map: &str) -> Option<&BTreeSet<String>> {
        let i = ENTRY_MAPS.iter().position(|m| *m == map)?;
        self.0.get(i)
    }
}

/// Where an object of a household is: in root map `ENTRY_MAPS[.0]`, the
/// map itself (`None`) or inside its entry under a key.
type Location = (usize, Option<String>);

/// Where object `id` is in `doc`: `None` unless it is visible and inside
/// a household's `residents` or `visits`.
fn locate(doc: &Automerge, id: &automerge::legacy::OpId) -> Option<Location> {
    // The actor's index is looked up by its id when this one is wrong.
    let obj = ObjId::Id(id.counter(), id.actor().clone(), usize::MAX);
    let path = doc.parents(&obj).ok()?.visible_path()?;
    let mut props = path.into_iter().map(|(_, p)| p);
    let Some(Prop::Map(root_key)) = props.next() else {
        return None;
    };
    let map = ENTRY_MAPS.iter().position(|m| *m == root_key)?;
    match props.next() {
        None => Some((map, None)),
        Some(Prop::Map(key)) => Some((map, Some(key))),
        Some(Prop::Seq(_)) => None,
    }
}

/// The household entries the operations of `changes` (raw change bytes,
/// applied to `doc`) wrote. `None` when any operation writes anywhere
/// else (the root, the place, the tags), in an object not visible now, or
/// when a change cannot be read: such a push is judged on the whole
/// document.
pub fn touched(doc: &Automerge, changes: &[&[u8]]) -> Option<Touched> {
    use automerge::legacy::{Key, ObjectId};
    let mut touched = Touched::default();
    let mut located: HashMap<automerge::legacy::OpId, Option<Location>> = HashMap::new();
    for data in changes {
        let change = automerge::Change::from_bytes(data.to_vec()).ok()?;
        for op in change.decode().operations {
            let ObjectId::Id(obj) = op.obj else {
                return None;
            };
            let (map, entry) = located
                .entry(obj)
                .or_insert_with_key(|obj| locate(doc, obj))
                .clone()?;
            let key = match (entry, op.key) {
                (Some(key), _) => key,
                (None, Key::Map(key)) => key.to_string(),
                (None, Key::Seq(_)) => return None,
            };
            touched.0.get_mut(map)?.insert(key);
        }
    }
    Some(touched)
}

/// The object at `key` in map `obj`, if it is an object.
pub(crate) fn object_at(d: &Automerge, obj: &ObjId, key: &str) -> Option<(ObjId, ObjType)> {
    match d.get(obj, key) {
        Ok(Some((Value::Object(t), id))) => Some((id, t)),
        _ => None,
    }
}

/// Validate a household after a push from what the push touched, not the
/// whole document: when the version before passed [`document`] (its
/// record is kept by its heads) and every operation of `changes` wrote
/// inside `residents.<key>` or `visits.<key>` entries that are still
/// there, the record after is the one before with those entries read
/// again, and only they are checked (with the maps' sizes). The rest of
/// the document is what passed before, unchanged: no operation wrote it.
///
/// `None` whenever that does not hold, or when anything fails: the
/// caller then judges the whole document with [`document`], which is
/// also what names a refusal. A `Some` is what [`document`] answers for
/// the same document (checked on every push in debug builds).
pub fn delta(
    doc_id: &str,
    before_doc: &Automerge,
    after_doc: &Automerge,
    changes: &[&[u8]],
) -> Option<Delta> {
    let key = (doc_id.to_owned(), before_doc.get_heads());
    if !READ
        .lock()
        .ok()?
        .peek(&key)
        .is_some_and(|(r, validated)| *validated && matches!(r.as_ref(), Record::Household(_)))
    {
        return None;
    }
    // Automerge answers some malformed documents with a panic (see
    // `store::push::applied`); here that means the whole read.
    let touched = std::panic::catch_unwind(|| touched(after_doc, changes)).ok()??;
    // The record before is taken, not copied: the document has moved on
    // (copying a household of years of visits was most of this).
    let (before, _) = READ.lock().ok()?.pop(&key)?;
    let mut h = match Arc::try_unwrap(before) {
        Ok(Record::Household(h)) => *h,
        Err(shared) => match shared.as_ref() {
            Record::Household(h) => Household::clone(h),
            _ => return None,
        },
        Ok(_) => return None,
    };
    // What the rules compare: the root fields and the touched entries,
    // before and after.
    let (residents, visits) = (
        std::mem::take(&mut h.residents),
        std::mem::take(&mut h.visits),
    );
    let (mut old_part, mut new_part) = (h.clone(), h.clone());
    (h.residents, h.visits) = (residents, visits);
    let mut read: Vec<(&str, &str, serde_json::Value)> = Vec::new();
    for (map, keys) in ENTRY_MAPS.iter().zip(&touched.0) {
        if keys.is_empty() {
            continue;
        }
        let (entries, ObjType::Map) = object_at(after_doc, &automerge::ROOT, map)? else {
            return None;
        };
        for key in keys {
            let (obj, ObjType::Map) = object_at(after_doc, &entries, key)? else {
                return None;
            };
            let json = doc::object_json(after_doc, &obj, ObjType::Map, None);
            if *map == "residents" {
                let r = household::Resident::deserialize(&json).ok()?;
                if let Some(old) = h.residents.insert(key.clone(), r.clone()) {
                    old_part.residents.insert(key.clone(), old);
                }
                new_part.residents.insert(key.clone(), r);
            } else {
                let v = household::Visit::deserialize(&json).ok()?;
                if let Some(old) = h.visits.insert(key.clone(), v.clone()) {
                    old_part.visits.insert(key.clone(), old);
                }
                new_part.visits.insert(key.clone(), v);
            }
            read.push((map, key, json));
        }
    }
    let clock = Clock::Fixed(Clock::System.now_ms() + SKEW_MS);
    for (map, key, json) in &read {
        let count = match *map {
            "residents" => h.residents.len(),
            _ => h.visits.len(),
        };
        shape::check_entry(household::KIND, map, key, json, count)?.ok()?;
        match *map {
            "residents" => resident_fields(key, h.residents.get(*key)?, &clock).ok()?,
            _ => visit_fields(&h, key, h.visits.get(*key)?, &clock).ok()?,
        }
    }
    let facts = household_facts(household::KIND.to_owned(), &h);
    let record = Arc::new(Record::Household(Box::new(h)));
    remember((doc_id.to_owned(), after_doc.get_heads()), &record, true);
    Some(Delta {
        validated: Validated { facts, record },
        touched,
        before: Record::Household(Box::new(old_part)),
        after: Record::Household(Box::new(new_part)),
    })
}

/// A push judged by [`delta`].
#[derive(Debug)]
pub struct Delta {
    /// The document after it, validated.
    pub validated: Validated,
    /// What its changes wrote.
    pub touched: Touched,
    /// The record before, reduced to its root fields and the touched
    /// entries: what the rules on a change compare. The entries left out
    /// are the same before and after.
    pub before: Record,
    /// The record after, reduced the same way.
    pub after: Record,
}

/// The record kept for `doc` at its current heads, if one was read.
pub fn kept(doc_id: &str, doc: &Automerge) -> Option<Arc<Record>> {
    recall(&(doc_id.to_owned(), doc.get_heads())).map(|(r, _)| r)
}

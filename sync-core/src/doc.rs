//! What every gridsync document shares: ids, kinds, who-and-when metadata on
//! each change, and reading a document's conflicts and history.
//!
//! Each Automerge change carries its author in the change message
//! (`{"by": user, "op": what}`) and its time (Unix seconds, the Automerge
//! convention) in the change header, so "who changed this resident's phone,
//! when" is answered from the document itself, on any device.

use std::collections::HashMap;

use automerge::{
    Automerge, ChangeHash, ObjId, ObjType, Prop, ReadDoc, ScalarValue, Value, patches::PatchAction,
    transaction::Transactable,
};
use serde::{Deserialize, Serialize};

use crate::{Error, Reason, Result};

/// A document id: a UUID (v7, so ids sort by creation time) as text.
pub type DocId = String;

/// A new document id.
pub fn new_id() -> DocId {
    uuid::Uuid::now_v7().to_string()
}

/// Check a document or entry id given by a caller.
pub fn parse_id(field: &str, s: &str) -> Result<String> {
    uuid::Uuid::parse_str(s)
        .map(|u| u.to_string())
        .map_err(|_| Reason::new("编号格式无效", "not a valid UUID").on(field))
}

/// Who is editing: the signed-in person and their role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// User id (not a name: ids are not personal data in logs).
    pub user: String,
    /// Role code, e.g. `grid_worker`.
    pub role: String,
}

impl Author {
    /// The user id of edits made while nobody is signed in.
    pub const NOBODY: &'static str = "local";

    /// Whether this is a signed-in person (not [`Author::NOBODY`]).
    pub fn is_signed_in(&self) -> bool {
        !self.user.is_empty() && self.user != Self::NOBODY
    }
}

impl Default for Author {
    fn default() -> Self {
        Self {
            user: Self::NOBODY.into(),
            role: "grid_worker".into(),
        }
    }
}

/// The metadata gridsync writes into each change's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeNote {
    /// User id of the author.
    pub by: String,
    /// What the change did, e.g. `add_visit`.
    pub op: String,
    /// How far the device's clock was behind the server's when the change
    /// was made, milliseconds (server minus device), when it was known to
    /// be off by more than a minute: times the change records can be
    /// corrected or flagged with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<i64>,
}

impl ChangeNote {
    /// Parse a change message; `None` for changes not written by gridsync.
    pub fn parse(message: Option<&str>) -> Option<Self> {
        message.and_then(|m| serde_json::from_str(m).ok())
    }
}

/// The bytes every Automerge chunk starts with.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Chunk types (the byte after magic and checksum).
const DOCUMENT_CHUNK: u8 = 0;
const CHANGE_CHUNK: u8 = 1;

/// The message of the change `data`, read from its header without
/// decoding its operations or hashing it: `Some(None)` for a change
/// without one, `None` if `data` is not exactly one uncompressed change
/// chunk (decode it instead). Deciding whose a phone's outbox changes are
/// this way costs a few field reads each instead of a full decode.
pub fn change_message(data: &[u8]) -> Option<Option<&str>> {
    const HASH_LEN: usize = 32;
    if data.len() < 9 || data[..4] != MAGIC || data[8] != CHANGE_CHUNK {
        return None;
    }
    let uleb = |r: &mut &[u8]| {
        leb128::read::unsigned(r)
            .ok()
            .and_then(|n| usize::try_from(n).ok())
    };
    let mut r = &data[9..];
    // The chunk's length: the rest of `data`, exactly.
    if uleb(&mut r)? != r.len() {
        return None;
    }
    // Dependencies (hashes), actor (length-prefixed), seq, start op, time.
    let deps = uleb(&mut r)?;
    r = r.get(deps.checked_mul(HASH_LEN)?..)?;
    let actor = uleb(&mut r)?;
    r = r.get(actor..)?;
    uleb(&mut r)?;
    uleb(&mut r)?;
    leb128::read::signed(&mut r).ok()?;
    let len = uleb(&mut r)?;
    let message = std::str::from_utf8(r.get(..len)?).ok()?;
    Some((!message.is_empty()).then_some(message))
}

/// The first Automerge chunk of `data`, its checksum checked without
/// decoding it: (its type, its length in bytes), or `None` if it is not a
/// whole chunk whose checksum holds.
fn intact_chunk(data: &[u8]) -> Option<(u8, usize)> {
    use sha2::{Digest, Sha256};
    if data.len() < 10 || data[..4] != MAGIC {
        return None;
    }
    // The chunk's length, unsigned LEB128, after the type byte.
    let mut r = &data[9..];
    let len = leb128::read::unsigned(&mut r).ok()?;
    let at = data.len() - r.len();
    let end = usize::try_from((at as u64).checked_add(len)?).ok()?;
    if end > data.len() {
        return None;
    }
    // Checksum: the first 4 bytes of SHA-256 over type, length and contents.
    (Sha256::digest(&data[8..end])[..4] == data[4..8]).then_some((data[8], end))
}

/// Whether `data` is exactly one saved Automerge document (what
/// `Automerge::save` writes) whose checksum holds: complete on its own, so it
/// can be stored as a snapshot and decoded later. Reads only the chunk
/// header and hashes the chunk; does not decode the document.
pub fn is_whole_document(data: &[u8]) -> bool {
    intact_chunk(data) == Some((DOCUMENT_CHUNK, data.len()))
}

/// Whether `data` is one or more saved documents or (uncompressed)
/// changes, concatenated, every chunk whole with its checksum holding:
/// what may be stored as it came and decoded later. Hashes the chunks;
/// decodes nothing (so it does not know whether the changes' dependencies
/// are all there).
pub fn chunks_intact(data: &[u8]) -> bool {
    let mut rest = data;
    while !rest.is_empty() {
        match intact_chunk(rest) {
            Some((DOCUMENT_CHUNK | CHANGE_CHUNK, end)) => rest = &rest[end..],
            _ => return false,
        }
    }
    !data.is_empty()
}

/// Whether the changes in `data` (concatenated, as a pull sends them) may
/// write field `key` of the document's root: yes when one of them does,
/// and whenever that cannot be told without the document (a saved
/// document, a compressed or damaged chunk). Decodes the changes only.
pub fn may_write_root_key(data: &[u8], key: &str) -> bool {
    use automerge::legacy::{Key, ObjectId};
    let mut rest = data;
    while !rest.is_empty() {
        let Some((CHANGE_CHUNK, end)) = intact_chunk(rest) else {
            return true;
        };
        let Ok(change) = automerge::Change::from_bytes(rest[..end].to_vec()) else {
            return true;
        };
        let writes = change.decode().operations.iter().any(|op| {
            op.obj == ObjectId::Root && matches!(&op.key, Key::Map(k) if k.as_str() == key)
        });
        if writes {
            return true;
        }
        rest = &rest[end..];
    }
    false
}

/// The kind of a document, read from its root.
pub fn kind_of<D: ReadDoc>(doc: &D) -> Option<String> {
    string_at(doc, &automerge::ROOT, "kind")
}

/// The scope (grid code) of a document, read from its root.
pub fn scope_of<D: ReadDoc>(doc: &D) -> Option<String> {
    string_at(doc, &automerge::ROOT, "grid")
}

pub(crate) fn string_at<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key) {
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// One of the values standing in a conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictValue {
    /// The value.
    pub value: serde_json::Value,
    /// User id of whoever wrote it, when known.
    pub by: Option<String>,
    /// When it was written, milliseconds since the Unix epoch (to the second).
    pub at: i64,
    /// Whether this is the value shown until someone chooses.
    pub winner: bool,
}

/// A field edited at the same time on two or more devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// Path from the document root, e.g. `["residents", "<uuid>", "phone"]`.
    pub path: Vec<String>,
    /// The competing values, winner included.
    pub values: Vec<ConflictValue>,
}

/// Every same-field conflict in the document. Conflicts whose values are all
/// equal (two phones writing the same thing) are not reported.
pub fn conflicts(doc: &Automerge) -> Result<Vec<Conflict>> {
    use automerge::iter::DocItem;
    // One pass over the document ([`ReadDoc::iter`]; parents before
    // children). Only maps reached from the root through maps are looked
    // at: their paths, by object id.
    let mut paths: HashMap<ObjId, Vec<String>> = HashMap::new();
    paths.insert(automerge::ROOT, Vec::new());
    let mut out = Vec::new();
    for item in doc.iter() {
        let DocItem::Map(m) = item.item else {
            continue;
        };
        let is_map = matches!(m.value, automerge::ValueRef::Object(ObjType::Map));
        // Most entries are neither: their path is never built.
        if !m.conflict && !is_map {
            continue;
        }
        let Some(path) = paths.get(item.obj.as_ref()) else {
            continue;
        };
        let mut at = path.clone();
        at.push(m.key.to_string());
        if m.conflict
            && let Some(c) = conflict_at(doc, &item.obj, &m.key, m.id(), at.clone())?
        {
            out.push(c);
        }
        if is_map {
            paths.insert(m.id(), at);
        }
    }
    // In path order: depth first, keys in order, as the document reads.
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The conflict at `key` of map `obj`, whose value now is `winner`, unless
/// its values are objects or all equal.
fn conflict_at(
    doc: &Automerge,
    obj: &ObjId,
    key: &str,
    winner: ObjId,
    path: Vec<String>,
) -> Result<Option<Conflict>> {
    let all = doc.get_all(obj, key)?;
    let scalars: Vec<_> = all
        .iter()
        .filter_map(|(v, id)| match v {
            Value::Scalar(s) => Some((scalar_json(s), id.clone())),
            Value::Object(_) => None,
        })
        .collect();
    let distinct = scalars.iter().any(|(v, _)| v != &scalars[0].0);
    if scalars.len() != all.len() || !distinct {
        return Ok(None);
    }
    let values = scalars
        .into_iter()
        .map(|(value, id)| {
            let (by, at) = authorship(doc, &id);
            ConflictValue {
                value,
                by,
                at,
                winner: id == winner,
            }
        })
        .collect();
    Ok(Some(Conflict { path, values }))
}

/// Who wrote the op `id`, and when (ms).
fn authorship(doc: &Automerge, id: &ObjId) -> (Option<String>, i64) {
    let Some(hash) = doc.hash_for_opid(id) else {
        return (None, 0);
    };
    match doc.get_change_meta_by_hash(&hash) {
        Some(meta) => (
            ChangeNote::parse(meta.message.as_deref()).map(|n| n.by),
            meta.timestamp * 1000,
        ),
        None => (None, 0),
    }
}

/// Resolve a conflict at `path` by choosing one of its values (by index into
/// [`Conflict::values`]). Writes the value again, superseding all of them.
pub fn resolve_conflict<T: Transactable>(
    doc: &mut T,
    path: &[String],
    choice: usize,
) -> Result<()> {
    let (parent, key) = locate(doc, path)?;
    let all = doc.get_all(&parent, key.as_str())?;
    let chosen = all.get(choice).ok_or_else(|| {
        Reason::new("所选的值不存在", "no such value in the conflict").on("choice")
    })?;
    if all.len() < 2 {
        return Err(Reason::new("该字段没有冲突", "the field has no conflict").on("path"));
    }
    match &chosen.0 {
        Value::Scalar(s) => {
            let s = s.clone().into_owned();
            doc.put(&parent, key.as_str(), s)?;
            Ok(())
        }
        Value::Object(_) => {
            Err(Reason::new("只能选择字段值", "only field values can be chosen").on("path"))
        }
    }
}

fn locate<D: ReadDoc>(doc: &D, path: &[String]) -> Result<(ObjId, String)> {
    let bad = || Reason::new("字段路径不存在", "no field at that path").on("path");
    let (last, parents) = path.split_last().ok_or_else(bad)?;
    let mut obj = automerge::ROOT;
    for key in parents {
        match doc.get(&obj, key.as_str())? {
            Some((Value::Object(ObjType::Map), id)) => obj = id,
            _ => return Err(bad()),
        }
    }
    Ok((obj, last.clone()))
}

/// One field written by one change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Path from the document root.
    pub path: Vec<String>,
    /// The new value; `null` with `deleted` for a removed key.
    pub value: serde_json::Value,
    /// The key was deleted.
    pub deleted: bool,
}

/// One change in a document's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Change hash, hex.
    pub hash: String,
    /// User id of the author, when known.
    pub by: Option<String>,
    /// What the change did (`add_visit`, `update_resident`, …).
    pub op: Option<String>,
    /// When, milliseconds since the Unix epoch (to the second).
    pub at: i64,
    /// The fields it wrote.
    pub fields: Vec<FieldChange>,
}

/// The document's history, oldest first, each change with the fields it wrote.
pub fn history(doc: &Automerge) -> Vec<HistoryEntry> {
    let metas = doc.get_changes_meta(&[]);
    let mut out = Vec::with_capacity(metas.len());
    for meta in metas {
        let note = ChangeNote::parse(meta.message.as_deref());
        let patches = doc.diff(&meta.deps, &[meta.hash]);
        let mut fields = Vec::new();
        for patch in patches {
            let mut path: Vec<String> = patch.path.iter().map(|(_, p)| prop_str(p)).collect();
            match patch.action {
                PatchAction::PutMap { key, value, .. } => {
                    if let Value::Scalar(s) = &value.0 {
                        path.push(key);
                        fields.push(FieldChange {
                            path,
                            value: scalar_json(s),
                            deleted: false,
                        });
                    }
                }
                PatchAction::DeleteMap { key } => {
                    path.push(key);
                    fields.push(FieldChange {
                        path,
                        value: serde_json::Value::Null,
                        deleted: true,
                    });
                }
                _ => {}
            }
        }
        out.push(HistoryEntry {
            hash: meta.hash.to_string(),
            by: note.as_ref().map(|n| n.by.clone()),
            op: note.map(|n| n.op),
            at: meta.timestamp * 1000,
            fields,
        });
    }
    out.sort_by_key(|e| e.at);
    out
}

fn prop_str(p: &Prop) -> String {
    match p {
        Prop::Map(k) => k.clone(),
        Prop::Seq(i) => i.to_string(),
    }
}

/// A scalar as JSON.
pub fn scalar_json(s: &ScalarValue) -> serde_json::Value {
    use serde_json::Value as J;
    match s {
        ScalarValue::Str(s) => J::String(s.to_string()),
        ScalarValue::Int(i) => J::from(*i),
        ScalarValue::Uint(u) => J::from(*u),
        ScalarValue::F64(f) => J::from(*f),
        ScalarValue::Boolean(b) => J::Bool(*b),
        ScalarValue::Timestamp(t) => J::from(*t),
        ScalarValue::Counter(c) => J::from(i64::from(c)),
        ScalarValue::Null => J::Null,
        ScalarValue::Bytes(b) => J::String(hex::encode(b)),
        ScalarValue::Unknown { bytes, .. } => J::String(hex::encode(bytes)),
    }
}

/// Read a whole document (at `heads`, or now) into a serde type, in one
/// pass over the document: much faster than reading field by field.
pub fn read<T: serde::de::DeserializeOwned>(
    doc: &Automerge,
    heads: Option<&[ChangeHash]>,
) -> Result<T> {
    serde_json::from_value(to_json(doc, heads)).map_err(|e| Error::Shape(e.to_string()))
}

/// A whole document (at `heads`, or now) as JSON: text as a string, bytes
/// as hex, the winning value where a field is in conflict.
///
/// One pass over the document ([`ReadDoc::iter_at`]: every object still
/// reachable, in the order they were made, so parents before children),
/// each object's entries kept by its id and put together from the root
/// afterwards. Walking object by object with `map_range`/`list_range` set
/// up a new column iterator for every object: for a household visited for
/// years that was most of reading it, and the server reads every pushed
/// document to validate it.
pub fn to_json(doc: &Automerge, heads: Option<&[ChangeHash]>) -> serde_json::Value {
    object_json(doc, &automerge::ROOT, ObjType::Map, heads)
}

/// Object `obj` (of type `ty`) and everything under it, as JSON, as
/// [`to_json`] reads a whole document: a household's visit without reading
/// the rest of the household.
pub fn object_json(
    doc: &Automerge,
    obj: &ObjId,
    ty: ObjType,
    heads: Option<&[ChangeHash]>,
) -> serde_json::Value {
    use automerge::iter::DocItem;
    // foldhash rather than SipHash: hashing the object ids was a tenth of
    // reading a household. Seeded per process like SipHash, so a pushed
    // document cannot be made of ids crafted to collide.
    let mut objects: Objects = Default::default();
    // The entries of the object being read: the iterator reads each
    // object's entries one after another, under one shared id.
    let mut current: Option<(std::sync::Arc<ObjId>, Entries)> = None;
    for item in doc.iter_at(obj, heads) {
        if !current
            .as_ref()
            .is_some_and(|(id, _)| std::sync::Arc::ptr_eq(id, &item.obj))
        {
            if let Some((id, entries)) = current.take() {
                objects.insert(ObjId::clone(&id), entries);
            }
            current = Some((item.obj.clone(), Entries::default()));
        }
        let Some((_, entries)) = current.as_mut() else {
            continue;
        };
        let slot = |v: &automerge::ValueRef<'_>, id: &dyn Fn() -> ObjId| match v {
            automerge::ValueRef::Object(t) => Slot::Object(id(), *t),
            automerge::ValueRef::Scalar(s) => Slot::Value(scalar_ref_json(s)),
        };
        match item.item {
            DocItem::Map(m) => entries
                .fields
                .push((m.key.to_string(), slot(&m.value, &|| m.id()))),
            DocItem::List(l) => entries.items.push(slot(&l.value, &|| l.id())),
            DocItem::Text(automerge::Span::Text { text, .. }) => entries.text.push_str(&text),
            DocItem::Text(automerge::Span::Block(_)) => {}
        }
    }
    if let Some((id, entries)) = current {
        objects.insert(ObjId::clone(&id), entries);
    }
    assemble(&mut objects, obj, ty)
}

/// Objects [`to_json`] read, by id.
type Objects = HashMap<ObjId, Entries, foldhash::fast::RandomState>;

/// What [`to_json`] read of one object: a map's fields, a list's items or
/// a text's characters.
#[derive(Default)]
struct Entries {
    fields: Vec<(String, Slot)>,
    items: Vec<Slot>,
    text: String,
}

/// A value in an object: a scalar, or another object by its id.
enum Slot {
    Value(serde_json::Value),
    Object(ObjId, ObjType),
}

/// The JSON of object `id` from what [`to_json`] read (an object it never
/// met is empty).
fn assemble(objects: &mut Objects, id: &ObjId, ty: ObjType) -> serde_json::Value {
    use serde_json::Value as J;
    let entries = objects.remove(id).unwrap_or_default();
    let mut value = |s: Slot| match s {
        Slot::Value(v) => v,
        Slot::Object(id, ty) => assemble(objects, &id, ty),
    };
    match ty {
        ObjType::Map | ObjType::Table => J::Object(
            entries
                .fields
                .into_iter()
                .map(|(k, s)| (k, value(s)))
                .collect(),
        ),
        ObjType::List => J::Array(entries.items.into_iter().map(value).collect()),
        ObjType::Text => J::String(entries.text),
    }
}

fn scalar_ref_json(s: &automerge::ScalarValueRef<'_>) -> serde_json::Value {
    use automerge::ScalarValueRef as S;
    use serde_json::Value as J;
    match s {
        S::Str(s) => J::String(s.to_string()),
        S::Int(i) => J::from(*i),
        S::Uint(u) => J::from(*u),
        S::F64(f) => J::from(*f),
        S::Boolean(b) => J::Bool(*b),
        S::Timestamp(t) | S::Counter(t) => J::from(*t),
        S::Null => J::Null,
        S::Bytes(b) => J::String(hex::encode(b)),
        S::Unknown { bytes, .. } => J::String(hex::encode(bytes)),
    }
}

/// A hydrated Automerge value as JSON (text as a string, bytes as hex).
pub fn hydrated_json(v: &automerge::hydrate::Value) -> serde_json::Value {
    use automerge::hydrate::Value as H;
    match v {
        H::Scalar(s) => scalar_json(s),
        H::Map(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, mv)| (k.clone(), hydrated_json(&mv.value)))
                .collect(),
        ),
        H::List(l) => {
            serde_json::Value::Array(l.iter().map(|lv| hydrated_json(&lv.value)).collect())
        }
        H::Text(t) => serde_json::Value::String(t.to_string()),
    }
}

/// Write into map `obj` what differs between `old` and `new` (both JSON
/// objects): changed scalars are put, keys gone from `new` are deleted,
/// nested objects are written into the existing map (so concurrent edits of
/// other keys in it merge), arrays are replaced whole. Keys present in the
/// document but unknown to `old` (written by a newer app) are left alone.
///
/// A key absent from `old` whose new value is null, `""`, `false` or `[]` is not
/// written: readers default it to the same value, and the document stays
/// small.
pub fn write_diff<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    old: &serde_json::Value,
    new: &serde_json::Value,
) -> Result<()> {
    use serde_json::Value as J;
    let empty = serde_json::Map::new();
    let old_map = old.as_object().unwrap_or(&empty);
    let Some(new_map) = new.as_object() else {
        return Err(Error::Shape("only objects can be written as maps".into()));
    };
    for (key, value) in new_map {
        let before = old_map.get(key);
        match value {
            J::Null => {
                if before.is_some_and(|b| !b.is_null()) {
                    tx.delete(obj, key.as_str())?;
                }
            }
            J::Object(_) => {
                let existing = match tx.get(obj, key.as_str())? {
                    Some((Value::Object(ObjType::Map), id)) if before.is_some_and(J::is_object) => {
                        Some(id)
                    }
                    _ => None,
                };
                let (child, before) = match existing {
                    Some(id) => (id, before.unwrap_or(&J::Null)),
                    None => (tx.put_object(obj, key.as_str(), ObjType::Map)?, &J::Null),
                };
                write_diff(tx, &child, before, value)?;
            }
            J::Array(items) => {
                if before != Some(value) && !(before.is_none() && items.is_empty()) {
                    let list = tx.put_object(obj, key.as_str(), ObjType::List)?;
                    for (i, item) in items.iter().enumerate() {
                        tx.insert(&list, i, json_scalar(item)?)?;
                    }
                }
            }
            scalar => {
                let default =
                    matches!(scalar, J::String(s) if s.is_empty()) || scalar == &J::Bool(false);
                if before != Some(scalar) && !(before.is_none() && default) {
                    tx.put(obj, key.as_str(), json_scalar(scalar)?)?;
                }
            }
        }
    }
    for key in old_map.keys() {
        if !new_map.contains_key(key) && tx.get(obj, key.as_str())?.is_some() {
            tx.delete(obj, key.as_str())?;
        }
    }
    Ok(())
}

/// Write a whole new value (a JSON object) into map `obj`.
pub fn write_new<T: Transactable, V: Serialize>(tx: &mut T, obj: &ObjId, value: &V) -> Result<()> {
    let json = serde_json::to_value(value).map_err(|e| Error::Shape(e.to_string()))?;
    write_diff(tx, obj, &serde_json::Value::Null, &json)
}

fn json_scalar(v: &serde_json::Value) -> Result<ScalarValue> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => ScalarValue::Null,
        J::Bool(b) => ScalarValue::Boolean(*b),
        J::String(s) => ScalarValue::Str(s.as_str().into()),
        J::Number(n) => {
            if let Some(u) = n.as_u64() {
                ScalarValue::Uint(u)
            } else if let Some(i) = n.as_i64() {
                ScalarValue::Int(i)
            } else {
                ScalarValue::F64(n.as_f64().unwrap_or_default())
            }
        }
        J::Array(_) | J::Object(_) => {
            return Err(Error::Shape("nested arrays are not stored".into()));
        }
    })
}

/// Change hashes as hex strings.
pub fn heads_hex(heads: &[ChangeHash]) -> Vec<String> {
    heads.iter().map(|h| h.to_string()).collect()
}

/// Change hashes from hex strings; malformed ones are an error.
pub fn heads_from_hex(heads: &[String]) -> Result<Vec<ChangeHash>> {
    heads
        .iter()
        .map(|h| {
            h.parse::<ChangeHash>()
                .map_err(|_| Error::Shape(format!("bad change hash in document: {h}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;

    use super::*;

    #[test]
    fn to_json_reads_what_hydrate_reads_now_and_at_heads() -> Result<()> {
        use automerge::ObjType;
        let mut a = Automerge::new();
        let mut tx = a.transaction();
        tx.put(automerge::ROOT, "kind", "household")?;
        tx.put(automerge::ROOT, "n", 3_i64)?;
        tx.put(automerge::ROOT, "u", ScalarValue::Uint(7))?;
        tx.put(automerge::ROOT, "f", 1.5_f64)?;
        tx.put(automerge::ROOT, "b", true)?;
        tx.put(automerge::ROOT, "nothing", ScalarValue::Null)?;
        tx.put(
            automerge::ROOT,
            "t",
            ScalarValue::Timestamp(1_700_000_000_000),
        )?;
        tx.put(automerge::ROOT, "c", ScalarValue::counter(5))?;
        tx.put(automerge::ROOT, "raw", ScalarValue::Bytes(vec![0xab, 0x01]))?;
        let m = tx.put_object(automerge::ROOT, "residents", ObjType::Map)?;
        let r = tx.put_object(&m, "r1", ObjType::Map)?;
        tx.put(&r, "name", "张三")?;
        let tags = tx.put_object(&r, "tags", ObjType::List)?;
        tx.insert(&tags, 0, "elderly")?;
        let inner = tx.insert_object(&tags, 1, ObjType::Map)?;
        tx.put(&inner, "k", "v")?;
        let note = tx.put_object(&r, "note", ObjType::Text)?;
        tx.splice_text(&note, 0, 0, "独居")?;
        // Empty objects, and objects no longer reachable: one replaced by
        // a scalar, one deleted from a list; their fields must not show.
        tx.put_object(automerge::ROOT, "empty", ObjType::Map)?;
        tx.put_object(automerge::ROOT, "none", ObjType::List)?;
        let gone = tx.put_object(automerge::ROOT, "replaced", ObjType::Map)?;
        tx.put(&gone, "old", "x")?;
        tx.put(automerge::ROOT, "replaced", "now a string")?;
        let dropped = tx.insert_object(&tags, 2, ObjType::Map)?;
        tx.put(&dropped, "gone", 1_i64)?;
        tx.delete(&tags, 2)?;
        tx.commit();
        let first = a.get_heads();
        // A conflict: two actors put the same field concurrently.
        let mut b = a.fork();
        let mut tx = a.transaction();
        tx.put(&r, "name", "李四")?;
        tx.commit();
        let mut tx = b.transaction();
        tx.put(&r, "name", "王五")?;
        tx.commit();
        a.merge(&mut b)?;
        for heads in [None, Some(first.as_slice()), Some(&[][..])] {
            assert_eq!(
                to_json(&a, heads),
                hydrated_json(&a.hydrate(heads)),
                "at {heads:?}"
            );
        }
        assert_eq!(to_json(&a, None)["residents"]["r1"]["note"], "独居");
        assert_eq!(to_json(&a, None)["replaced"], "now a string");
        assert_eq!(to_json(&a, None)["empty"], serde_json::json!({}));
        assert_eq!(
            to_json(&a, None)["residents"]["r1"]["tags"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert_eq!(to_json(&a, Some(&first))["residents"]["r1"]["name"], "张三");
        // One object and what is under it reads as that part of the whole.
        for heads in [None, Some(first.as_slice())] {
            assert_eq!(
                object_json(&a, &r, ObjType::Map, heads),
                to_json(&a, heads)["residents"]["r1"],
                "at {heads:?}"
            );
            assert_eq!(
                object_json(&a, &tags, ObjType::List, heads),
                to_json(&a, heads)["residents"]["r1"]["tags"]
            );
        }
        Ok(())
    }

    /// The walk `conflicts` replaced, object by object (comparison only).
    fn walk_conflicts(
        doc: &Automerge,
        obj: &ObjId,
        path: &mut Vec<String>,
        out: &mut Vec<Conflict>,
    ) -> Result<()> {
        let keys: Vec<(String, bool)> = doc
            .map_range(obj, ..)
            .map(|item| (item.key.to_string(), item.conflict))
            .collect();
        for (key, conflicted) in keys {
            let winner = doc.get(obj, key.as_str())?;
            if conflicted {
                let mut p = path.clone();
                p.push(key.clone());
                let w = winner
                    .as_ref()
                    .map(|(_, id)| id.clone())
                    .unwrap_or(automerge::ROOT);
                if let Some(c) = conflict_at(doc, obj, &key, w, p)? {
                    out.push(c);
                }
            }
            if let Some((Value::Object(ObjType::Map), child)) = winner {
                path.push(key);
                walk_conflicts(doc, &child, path, out)?;
                path.pop();
            }
        }
        Ok(())
    }

    #[test]
    fn conflicts_are_found_in_one_pass_as_by_walking_each_map() -> Result<()> {
        use automerge::ObjType;
        let mut a = Automerge::new();
        let mut tx = a.transaction();
        tx.put(automerge::ROOT, "phone", "1")?;
        let m = tx.put_object(automerge::ROOT, "residents", ObjType::Map)?;
        let r = tx.put_object(&m, "r1", ObjType::Map)?;
        tx.put(&r, "name", "张三")?;
        tx.put(&r, "same", "一样")?;
        let deeper = tx.put_object(&r, "house", ObjType::Map)?;
        tx.put(&deeper, "area", 50_i64)?;
        let list = tx.put_object(automerge::ROOT, "visits", ObjType::List)?;
        let in_list = tx.insert_object(&list, 0, ObjType::Map)?;
        tx.put(&in_list, "at", 1_i64)?;
        tx.commit();
        let mut b = a.fork();
        for (doc, v) in [(&mut a, "A"), (&mut b, "B")] {
            let mut tx = doc.transaction();
            tx.put(automerge::ROOT, "phone", v)?;
            tx.put(&r, "name", format!("名{v}"))?;
            tx.put(&r, "same", "一样")?; // equal on both: not reported
            tx.put(&deeper, "area", if v == "A" { 60_i64 } else { 70 })?;
            tx.put(&in_list, "at", if v == "A" { 2_i64 } else { 3 })?; // inside a list: not walked
            tx.put_object(&m, format!("r{v}"), ObjType::Map)?;
            tx.commit_with(
                automerge::transaction::CommitOptions::default()
                    .with_message(format!("{{\"by\":\"u{v}\",\"op\":\"edit\"}}")),
            );
        }
        a.merge(&mut b)?;
        let mut walked = Vec::new();
        walk_conflicts(&a, &automerge::ROOT, &mut Vec::new(), &mut walked)?;
        let found = conflicts(&a)?;
        assert_eq!(found, walked);
        let paths: Vec<String> = found.iter().map(|c| c.path.join(".")).collect();
        let r1 = |f: &str| format!("residents.r1.{f}");
        assert_eq!(paths, ["phone".to_string(), r1("house.area"), r1("name")]);
        assert!(
            found
                .iter()
                .all(|c| c.values.iter().filter(|v| v.winner).count() == 1)
        );
        assert_eq!(found[0].values.len(), 2);
        assert!(found[0].values.iter().all(|v| v.by.is_some()));
        Ok(())
    }

    fn saved() -> (Automerge, Vec<u8>) {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        tx.put(automerge::ROOT, "kind", "household").ok();
        tx.put(automerge::ROOT, "grid", "110105001001001").ok();
        tx.commit();
        let bytes = doc.save();
        (doc, bytes)
    }

    #[test]
    fn a_saved_document_is_whole() {
        let (_, bytes) = saved();
        assert!(is_whole_document(&bytes));
    }

    #[test]
    fn changes_damage_and_trailing_data_are_not_whole() {
        let (mut doc, bytes) = saved();
        // Loose changes, not a saved document.
        let changes: Vec<u8> = doc
            .get_changes(&[])
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        assert!(!is_whole_document(&changes));
        // A flipped byte breaks the checksum.
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0x01;
        assert!(!is_whole_document(&damaged));
        // A document followed by a change may depend on more than it holds.
        let mut tx = doc.transaction();
        tx.put(automerge::ROOT, "note", "x").ok();
        tx.commit();
        let extra = doc.get_last_local_change().map(|c| c.raw_bytes().to_vec());
        let followed = [bytes.clone(), extra.unwrap_or_default()].concat();
        assert!(!is_whole_document(&followed));
        // Truncated.
        assert!(!is_whole_document(&bytes[..bytes.len() - 1]));
        assert!(!is_whole_document(&[]));
    }

    #[test]
    fn a_change_message_is_read_from_its_header_as_a_decode_reads_it() -> Result<()> {
        use automerge::transaction::{CommitOptions, Transactable};
        let note = r#"{"by":"user-1","op":"add_visit"}"#;
        let messages = [None, Some(""), Some(note), Some("走访记录 ✓"), Some("x")];
        // Changes of several actors (long and short ids), with none, one
        // and several dependencies, a time and none, small and large.
        let mut docs = [
            Automerge::new(),
            Automerge::new().with_actor(automerge::ActorId::from(vec![7u8; 3])),
        ];
        let mut seen = 0;
        for (round, message) in messages.iter().cycle().take(15).enumerate() {
            let d = round % docs.len();
            if round == 6 {
                // A change depending on two others: merge, then edit.
                let mut other = docs[1 - d].fork();
                docs[d].merge(&mut other)?;
            }
            let doc = &mut docs[d];
            let mut tx = doc.transaction();
            let text = "长".repeat(if round % 4 == 3 { 400 } else { 3 });
            tx.put(automerge::ROOT, format!("k{round}"), text)?;
            let mut options = CommitOptions::default();
            if let Some(m) = message {
                options = options.with_message(m.to_string());
            }
            if round % 2 == 0 {
                options = options.with_time(1_795_658_400_000 + round as i64);
            }
            tx.commit_with(options);
            let mut change = doc
                .get_last_local_change()
                .ok_or_else(|| Error::Shape("no change made".into()))?;
            let raw = change.raw_bytes().to_vec();
            let decoded = automerge::Change::from_bytes(raw.clone())
                .map_err(|e| Error::Shape(e.to_string()))?;
            assert_eq!(
                change_message(&raw),
                Some(decoded.message()),
                "round {round}"
            );
            assert_eq!(decoded.message(), message.filter(|m| !m.is_empty()));
            seen += usize::from(change.deps().len() > 1);
            // Compressed (large changes) or not one whole change: decode
            // instead.
            let bytes = change.bytes().to_vec();
            if bytes != raw {
                assert_eq!(change_message(&bytes), None);
            }
            assert_eq!(change_message(&raw[..raw.len() - 1]), None);
            assert_eq!(change_message(&[raw.clone(), raw.clone()].concat()), None);
        }
        assert!(seen > 0, "no change with two dependencies");
        let (_, saved) = saved();
        assert_eq!(change_message(&saved), None);
        assert_eq!(change_message(&[]), None);
        assert_eq!(
            change_message(&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 0xff]),
            None
        );
        Ok(())
    }

    #[test]
    fn a_write_to_a_root_field_is_read_from_the_changes() {
        let (mut doc, bytes) = saved();
        let heads = doc.get_heads();
        let mut tx = doc.transaction();
        let visits = tx
            .put_object(automerge::ROOT, "visits", ObjType::Map)
            .expect("a map");
        tx.put(&visits, "merged_into", "not the root's")
            .expect("a nested field");
        tx.commit();
        let after = |doc: &Automerge, heads: &[ChangeHash]| -> Vec<u8> {
            doc.get_changes(heads)
                .iter()
                .flat_map(|c| c.raw_bytes().to_vec())
                .collect()
        };
        let visit = after(&doc, &heads);
        assert!(!may_write_root_key(&visit, "merged_into"), "a nested field");
        assert!(may_write_root_key(&visit, "visits"));
        let heads2 = doc.get_heads();
        let mut tx = doc.transaction();
        tx.put(automerge::ROOT, "merged_into", "another")
            .expect("a root field");
        tx.commit();
        let merge = after(&doc, &heads2);
        assert!(may_write_root_key(&merge, "merged_into"));
        assert!(
            may_write_root_key(&[visit.clone(), merge].concat(), "merged_into"),
            "in the second of two changes"
        );
        let heads3 = doc.get_heads();
        let mut tx = doc.transaction();
        tx.delete(automerge::ROOT, "merged_into").expect("deleted");
        tx.commit();
        assert!(
            may_write_root_key(&after(&doc, &heads3), "merged_into"),
            "a delete"
        );
        // What cannot be told without the document: yes.
        assert!(
            may_write_root_key(&bytes, "merged_into"),
            "a saved document"
        );
        assert!(
            may_write_root_key(&visit[..visit.len() - 1], "merged_into"),
            "cut off"
        );
        assert!(may_write_root_key(b"not automerge", "merged_into"));
        assert!(!may_write_root_key(&[], "merged_into"), "nothing");
    }

    #[test]
    fn intact_chunks_are_told_from_damaged_ones() {
        let (mut doc, bytes) = saved();
        let mut tx = doc.transaction();
        tx.put(automerge::ROOT, "note", "x").ok();
        tx.commit();
        let changes: Vec<u8> = doc
            .get_changes(&[])
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        assert!(chunks_intact(&changes));
        assert!(chunks_intact(&bytes));
        assert!(chunks_intact(&[bytes.clone(), changes.clone()].concat()));
        // Every chunk is checked, the last one too.
        let mut damaged = changes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0x01;
        assert!(!chunks_intact(&damaged));
        assert!(!chunks_intact(&changes[..changes.len() - 1]));
        assert!(!chunks_intact(&[changes.clone(), vec![0x85]].concat()));
        assert!(!chunks_intact(&[]));
    }
}

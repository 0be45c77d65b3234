//! Server storage of documents and the append-only change log, behind the
//! [`DocStore`] trait: SQLite ([`sqlite`]) by default, PostgreSQL for
//! deployments that outgrow one machine. Every implementation runs the same
//! conformance suite (server/tests/store.rs).
//!
//! The log gives every accepted change a sequence number. Each document is
//! in one or more *feeds* (`g:<grid code>`, `h:<package-holder id>`); a
//! device pulls each feed it may read from its own cursor, CouchDB-style:
//! every document appears once, at its latest change, so a device that was
//! away for a month gets each changed document once, not every change.

use async_trait::async_trait;
use automerge::Automerge;
use serde::Serialize;

pub mod postgres;
pub(crate) mod pull;
pub(crate) mod push;
pub mod sqlite;

/// Recently used documents as loaded, by id, with the `last_seq` they are
/// at: a store's bounded cache (memory does not grow with the documents held).
pub(crate) type DocCache =
    std::sync::Arc<std::sync::Mutex<lru::LruCache<String, (i64, Automerge)>>>;

/// Keep the documents a push left in the cache. The ones they push out are
/// freed on another thread: dropping an Automerge document costs ~10 µs,
/// and a grid's push evicts hundreds, all on the pusher's response time.
/// Document `id` at `last_seq`, if the cache holds that version: copied,
/// or taken out (`Use::Take`, a push, which puts back the version it
/// makes; copying a household visited for years was a tenth of a small
/// push).
pub(crate) fn cached_doc(
    cache: &DocCache,
    id: &str,
    last_seq: i64,
    usage: Use,
) -> Option<Automerge> {
    let mut c = cache.lock().ok()?;
    match c.peek(id) {
        Some((seq, _)) if *seq == last_seq => {}
        _ => return None,
    }
    match usage {
        Use::Copy => c.get(id).map(|(_, doc)| doc.clone()),
        Use::Take => c.pop(id).map(|(_, doc)| doc),
    }
}

/// How a loaded document is used: read (`Copy`: the cache keeps it), or
/// changed by a push (`Take`: the push caches what it makes of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    Copy,
    Take,
}

pub(crate) fn cache_docs(cache: &DocCache, docs: Vec<(String, i64, Automerge)>) {
    let mut evicted = Vec::new();
    if let Ok(mut c) = cache.lock() {
        for (id, seq, doc) in docs {
            if let Some(old) = c.push(id, (seq, doc)) {
                evicted.push(old);
            }
        }
    }
    // A few are freed here: handing them over would cost more.
    if evicted.len() >= 32 {
        rayon::spawn(move || drop(evicted));
    }
}

/// Errors of a store implementation.
pub type StoreError = crate::db::DbError;

/// A change a device pushed.
#[derive(Debug, Clone)]
pub struct IncomingChange {
    /// The document it belongs to.
    pub doc_id: String,
    /// The Automerge binary change.
    pub data: Vec<u8>,
}

/// Why a change was refused: a stable code and a message a person can act
/// on (Chinese, then English). Never contains personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Stable code: `out_of_scope`, `invalid_change`, `invalid_document`,
    /// `role_forbids`, `missing_dependencies`, `depends_on_refused`.
    pub code: &'static str,
    /// What is wrong.
    pub reason: String,
    /// The field at fault, as a dotted path in the document
    /// (`residents.<id>.name`), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Refusal {
    /// A refusal.
    pub fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            field: None,
        }
    }

    /// The same refusal, naming the field at fault.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

/// A pushed change that was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// Its position in the push.
    pub index: usize,
    /// Its document.
    pub doc: String,
    /// Its hash (hex), when it could be decoded.
    pub hash: Option<String>,
    /// Why.
    #[serde(flatten)]
    pub refusal: Refusal,
}

/// One change of the log, as projectors read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Its position.
    pub seq: i64,
    /// The document it changed.
    pub doc_id: String,
    /// Who pushed it (`None`: the server itself).
    pub user_id: Option<String>,
    /// From which device (`None`: not a device).
    pub device_id: Option<String>,
    /// When the server received it (ms).
    pub received_at: i64,
}

/// A stretch of the log ([`DocStore::log_after`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSlice {
    /// The entries, in order.
    pub entries: Vec<LogEntry>,
    /// The log's end when they were read.
    pub end: i64,
}

impl LogSlice {
    /// How far a projector that handled these entries has read: the last
    /// entry when the slice was cut at `limit`, else the log's end (the
    /// changes between were of other kinds).
    pub fn upto(&self, limit: usize) -> i64 {
        match self.entries.last() {
            Some(last) if self.entries.len() >= limit => last.seq,
            _ => self.end,
        }
    }
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Changes newly stored.
    pub stored: usize,
    /// Changes the server already had (stored by an earlier, interrupted push).
    pub duplicates: usize,
    /// Changes refused; nothing of them was stored.
    pub rejected: Vec<Rejected>,
}

/// What access control and validation know of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocFacts {
    /// `household`, `grid`, `issue`, …
    pub kind: String,
    /// The grid code it belongs to.
    pub scope: String,
    /// The package-holder's user id, for households that have one.
    pub holder: Option<String>,
    /// Departments an issue report is dispatched to (codes), which read it
    /// through their feeds `d:<code>`. Filled by validation from the
    /// document; facts read back from a store row leave it empty.
    pub departments: Vec<String>,
    /// The document's list rows ([`gridsync_core::Listing`], JSON), sent
    /// with it to a device that pulls it whole. Filled by validation;
    /// facts read back from a store row leave it empty.
    pub listing: Option<Vec<u8>>,
}

impl DocFacts {
    /// The feeds the document is in.
    pub fn feeds(&self) -> Vec<String> {
        let mut f = vec![grid_feed(&self.scope)];
        if let Some(h) = &self.holder {
            f.push(holder_feed(h));
        }
        f.extend(self.departments.iter().map(|d| department_feed(d)));
        f
    }
}

/// The feed of a department's issue reports.
pub fn department_feed(code: &str) -> String {
    format!("d:{code}")
}

/// The feed of a grid.
pub fn grid_feed(code: &str) -> String {
    format!("g:{code}")
}

/// The feed of a package-holder's households.
pub fn holder_feed(user_id: &str) -> String {
    format!("h:{user_id}")
}

/// Decides whether a document may become what a push makes of it. Runs
/// inside the store's write transaction, once per document (and once per
/// change when a batch is refused, to find which change is at fault).
pub trait WriteGuard: Send + Sync {
    /// Judge one pushed change on its own, before it is applied: its size
    /// and its author. Returns what the change says it does (its `op`).
    fn admit(&self, change: &automerge::Change) -> Result<String, Refusal>;

    /// `before` is `None` for a document new to the server; `before_doc`
    /// is the document as stored (empty when new), `after` what the push
    /// makes of it, by `changes` (their bytes) whose `op`s are `ops`.
    /// Returns the facts of the document after the change, or why it is
    /// refused.
    fn check(
        &self,
        doc_id: &str,
        before: Option<&DocFacts>,
        before_doc: &Automerge,
        after: &Automerge,
        ops: &[String],
        changes: &[&[u8]],
    ) -> Result<DocFacts, Refusal>;
}

/// A feed and how far a device has read it.
///
/// Two numbers, because a feed is read document by document (each at its
/// latest change) over several pages: `cursor` is the position in that
/// order (documents whose latest change is at or before it were sent), and
/// `base` is what the device had completely before this pass began (every
/// change up to it, of every document). A document sent in a later page
/// must carry every change after `base`, not just after `cursor`. When the
/// feed is exhausted both become the log's end.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct Position {
    /// Every change up to here is on the device (0: nothing).
    pub base: i64,
    /// Documents whose latest change is up to here were sent.
    pub cursor: i64,
}

impl Position {
    /// A position where everything up to `seq` is known.
    pub fn at(seq: i64) -> Self {
        Self {
            base: seq,
            cursor: seq,
        }
    }
}

/// A feed and the position a device has read it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCursor {
    /// Feed name.
    pub feed: String,
    /// How far it was read.
    pub at: Position,
}

/// How much one pull page may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullLimits {
    /// Documents at most.
    pub max_docs: usize,
    /// Bytes of document data at most (one document may exceed it alone).
    pub max_bytes: usize,
}

impl Default for PullLimits {
    fn default() -> Self {
        Self {
            max_docs: 1000,
            max_bytes: 8 * 1024 * 1024,
        }
    }
}

/// A document in a pull page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledDoc {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Grid code.
    pub scope: String,
    /// Automerge data to load: a saved document and/or changes, concatenated.
    pub data: Vec<u8>,
    /// Its list rows ([`DocFacts::listing`]), when `data` is the whole
    /// document at the version they were derived from.
    pub listing: Option<Vec<u8>>,
}

/// One page of a pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullPage {
    /// Documents new or changed since the cursors.
    pub docs: Vec<PulledDoc>,
    /// (feed, document) pairs: documents that left a feed.
    pub departures: Vec<(String, String)>,
    /// The new cursor of every feed asked for.
    pub cursors: Vec<FeedCursor>,
    /// More pages wait.
    pub more: bool,
    /// Documents still to come after this page (an estimate for progress).
    pub remaining: u64,
}

/// Documents and the change log.
#[async_trait]
pub trait DocStore: Send + Sync + 'static {
    /// Store the changes of a push that `guard` allows, atomically per
    /// document; a change already stored counts as a duplicate, not an error.
    async fn push(
        &self,
        changes: Vec<IncomingChange>,
        user_id: Option<String>,
        device_id: Option<String>,
        guard: Box<dyn WriteGuard>,
    ) -> Result<PushOutcome, StoreError>;

    /// One page of every feed asked for, from each feed's cursor. Changes
    /// made by `device` itself are not sent back to it: it has them.
    async fn pull(
        &self,
        feeds: Vec<FeedCursor>,
        limits: PullLimits,
        device: Option<String>,
    ) -> Result<PullPage, StoreError>;

    /// A whole document as a saved Automerge file, if the server has it.
    async fn load(&self, doc_id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// The documents of `ids` the server has, each at its latest version,
    /// read in one snapshot: for a reader that decodes them anyway (the
    /// web read model), without saving each to bytes and loading it again.
    async fn documents(&self, ids: Vec<String>) -> Result<Vec<(String, Automerge)>, StoreError>;

    /// The facts of a document, if the server has it.
    async fn facts(&self, doc_id: &str) -> Result<Option<DocFacts>, StoreError>;

    /// The highest sequence number in the log.
    async fn max_seq(&self) -> Result<i64, StoreError>;

    /// The log after `after`, for projectors (the web's read model, the
    /// report lists): up to `limit` entries in order (only changes of
    /// documents of `kind`, when given), and the log's end as read in the
    /// same snapshot. The one place outside the store that the change
    /// log's columns are read.
    async fn log_after(
        &self,
        after: i64,
        limit: usize,
        kind: Option<&str>,
    ) -> Result<LogSlice, StoreError>;

    /// Where the log stands now: its generation, its end and the change
    /// there.
    async fn log_mark(&self) -> Result<LogMark, StoreError>;

    /// Who pushed each stored change of a document, as the server
    /// recorded it from the token: (change hash in hex, user id).
    async fn pushers(&self, doc_id: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// The hash (hex) of the change at `seq`, if the log has one there.
    async fn change_at(&self, seq: i64) -> Result<Option<String>, StoreError>;

    /// Give the log a new generation, unless it is no longer `old` (another
    /// request renewed it first). Returns the generation now.
    async fn renew_generation(&self, old: &str) -> Result<String, StoreError>;
}

/// Where the change log stood when a device last heard from it: sent back
/// by the device with its next sync, so the server can tell whether the log
/// lost changes since (docs/protocol.md, "Restores").
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogMark {
    /// The log's generation: a random id, renewed when the log is found
    /// to have lost changes.
    pub generation: String,
    /// The last sequence number (0: an empty log).
    pub end: i64,
    /// The hash (hex) of the change at `end` ("" for an empty log).
    pub tip: String,
}

/// The heads (hex) of the server's copy of each document a change of which
/// was refused as `missing_dependencies` (empty when it has none of it):
/// the device sends what it has after them.
pub async fn heads_for_missing(
    store: &dyn DocStore,
    rejected: &[Rejected],
) -> Result<std::collections::BTreeMap<String, Vec<String>>, StoreError> {
    let mut heads = std::collections::BTreeMap::new();
    for r in rejected {
        if r.refusal.code != "missing_dependencies" || heads.contains_key(&r.doc) {
            continue;
        }
        let have = match store.load(&r.doc).await? {
            Some(bytes) => Automerge::load(&bytes)
                .map(|d| gridsync_core::doc::heads_hex(&d.get_heads()))
                .map_err(|e| {
                    StoreError::Task(format!("stored document {} cannot be loaded: {e}", r.doc))
                })?,
            None => Vec::new(),
        };
        heads.insert(r.doc.clone(), have);
    }
    Ok(heads)
}

/// A new random generation id (32 hex digits).
pub(crate) fn new_generation() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Whether the log lost changes a device saw (`seen`, what it last heard):
/// another generation, or no longer the same change at the end it saw
/// (the database was restored from an older backup, or a commit was lost).
/// The first device to show a loss renews the generation, so every device
/// that heard from the old log learns of it, also one whose mark a
/// restored log has since grown past. A device that never synced, or
/// synced before generations existed (no generation), has nothing to lose.
pub async fn log_lost(store: &dyn DocStore, seen: &LogMark) -> Result<bool, StoreError> {
    if seen.generation.is_empty() {
        return Ok(false);
    }
    let now = store.log_mark().await?;
    if seen.generation != now.generation {
        return Ok(true);
    }
    if seen.end <= 0 {
        return Ok(false);
    }
    let there = store.change_at(seen.end).await?;
    if there.as_deref() == Some(seen.tip.as_str()) {
        return Ok(false);
    }
    tracing::warn!(
        seen_end = seen.end,
        log_end = now.end,
        "a device saw changes the log no longer has (restored from a backup?): new log generation"
    );
    store.renew_generation(&now.generation).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{LogEntry, LogSlice};

    /// A projector's cursor stops at the last entry of a full slice (more
    /// may follow) and moves to the log's end after a short one (the
    /// changes in between were of other kinds).
    #[test]
    fn the_cursor_stops_at_a_full_slice_and_jumps_after_a_short_one() {
        let entry = |seq: i64| LogEntry {
            seq,
            doc_id: format!("d{seq}"),
            user_id: None,
            device_id: None,
            received_at: 0,
        };
        let full = LogSlice {
            entries: vec![entry(11), entry(12), entry(15)],
            end: 99,
        };
        assert_eq!(full.upto(3), 15);
        let short = LogSlice {
            entries: vec![entry(40)],
            end: 99,
        };
        assert_eq!(short.upto(3), 99);
        assert_eq!(
            LogSlice {
                entries: Vec::new(),
                end: 99
            }
            .upto(3),
            99
        );
    }
}

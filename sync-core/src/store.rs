//! The device's local store: one SQLite file holding every document, the
//! changes not yet pushed (the outbox), and projection tables for lists.
//!
//! Every edit runs in one SQLite transaction that stores the new Automerge
//! change, its outbox entry and the updated projections together, so a crash
//! at any instant leaves either all of it or none of it. Documents are loaded
//! on demand into a bounded LRU cache, never all at once.
//!
//! One `Store` per file: the store assumes it is the only writer (the app
//! holds one object; the FFI wraps it in a mutex).

use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::path::Path;

use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, ChangeHash, ReadDoc};
use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::Clock;
use crate::codes::Op;
use crate::doc::{self, Author, ChangeNote, DocId};
use crate::{Error, Result};

mod blobs;
mod contacts;
mod duplicate;
mod issues;
mod key;
pub(crate) mod ledger;
mod projection;
mod reveals;
mod schema;
mod sync_state;

pub use blobs::{BlobInfo, MAX_BLOB_BYTES, PendingBlob, blob_hash, is_blob_hash};
pub use duplicate::{DuplicateKind, DuplicateSuspect};
pub use key::{MIN_PASSPHRASE_CHARS, StoreKey};
pub use projection::{
    GridListing, HouseholdListing, HouseholdRow, Listing, PlaceFilter, ResidentListing, ResidentRow,
};
pub use reveals::{MAX_REASON_CHARS, Reveal, Revealed};
pub use sync_state::{RejectedChange, op_name, refusal_advice};

/// A document as a pull page brings it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledDoc {
    /// Its id.
    pub id: String,
    /// Its kind, as the server knows it.
    pub kind: String,
    /// Its grid code, as the server knows it.
    pub scope: String,
    /// Automerge data: a saved document and/or changes.
    pub data: Vec<u8>,
    /// Its list rows as the server derived them for the version `data`
    /// makes of it ([`Listing`] as JSON, unread): used for a document new
    /// here that arrived whole, so it is listed without being decoded.
    /// `None`, or rows in a format this version does not read: derived
    /// here.
    pub listing: Option<String>,
}

/// How many changes a document may gather before they are folded into its
/// snapshot.
const COMPACT_AFTER: i64 = 64;

/// WAL pages after which a commit copies the log into the database
/// (SQLite's default is 1,000, 4 MB). A supervisor's first pull writes the
/// same index pages in page after page; copying them back every 4 MB was
/// an eighth of building the lists of 20 grids.
const WAL_PAGES: i64 = 8_000;
/// Size the write-ahead log file is cut back to once copied: what
/// [`WAL_PAGES`] of 4 KiB pages take.
const WAL_KEPT_BYTES: i64 = WAL_PAGES * 4096;

/// Prepared statements kept per connection: more than the store has
/// (`prepare_cached` everywhere), so none is parsed twice. A row limit
/// given as a parameter is written `LIMIT +?1`, never as the bare
/// parameter: SQLite (3.53) prepares a statement whose limit is a bare
/// parameter again each time it is bound (the server's SQL follows the
/// same rule; a test below holds both to it).
const STATEMENTS_KEPT: usize = 256;

/// How hard the store works to keep acknowledged edits across power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync on every commit of an edit: an acknowledged edit survives a
    /// power cut. What came from the server ([`Store::batch_received`])
    /// and list rows are written without waiting for the disk: a power cut
    /// may take them back whole, and they come again.
    #[default]
    Full,
    /// fsync at WAL checkpoints only: an acknowledged edit survives an app
    /// crash or kill, but the last few may be lost if the phone loses power.
    Normal,
}

/// Options for [`Store::open_with`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How many documents to keep loaded.
    pub cache_docs: usize,
    /// The clock for timestamps and "not in the future" checks.
    pub clock: Clock,
    /// fsync policy.
    pub durability: Durability,
    /// Encryption key of the store file (SQLCipher): 64 hex digits (a raw
    /// 256-bit key) or a passphrase of at least 12 characters, checked by
    /// [`StoreKey::parse`]. The app keeps it in Android Keystore / iOS
    /// Keychain. `None`: not encrypted.
    pub key: Option<String>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            cache_docs: 256,
            clock: Clock::System,
            durability: Durability::Full,
            key: None,
        }
    }
}

/// A local change waiting to be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Position in the outbox (increasing).
    pub seq: i64,
    /// The document the change belongs to.
    pub doc_id: DocId,
    /// The change hash, hex.
    pub hash: String,
    /// The Automerge binary change.
    pub data: Vec<u8>,
}

/// What applying remote data did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Nothing new: every change was already here.
    Nothing,
    /// The document changed.
    Changed,
}

#[derive(Default)]
struct WriteState {
    /// Documents changed in this write (forgotten from the cache if it fails).
    touched: BTreeSet<DocId>,
    /// Documents whose projection rows are not yet rewritten.
    dirty: BTreeSet<DocId>,
}

/// The device's store. See the module docs.
pub struct Store {
    conn: Connection,
    cache: LruCache<DocId, Automerge>,
    actor: ActorId,
    device_id: String,
    author: Author,
    clock: Clock,
    /// Server clock minus this device's, ms, as the last sync measured it.
    clock_offset_ms: Option<i64>,
    write: Option<WriteState>,
    /// Refuse edits while nobody is signed in ([`Store::require_sign_in`]).
    sign_in_required: bool,
    /// Documents written since [`Store::take_changes`] last ran, when
    /// tracked ([`Store::track_changes`]).
    changed: Option<BTreeSet<DocId>>,
    /// Opened with a key (so it can be rekeyed).
    keyed: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("device_id", &self.device_id)
            .field("cached_docs", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Open (or create) the store at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, OpenOptions::default())
    }

    /// Open (or create) the store at `path`.
    /// A key that breaks the rule of [`StoreKey::parse`] is refused
    /// (`Invalid`, field `key`) before the file is touched.
    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions) -> Result<Self> {
        let key = options.key.as_deref().map(StoreKey::parse).transpose()?;
        let conn = key::open(path.as_ref(), key.as_ref())?;
        Self::from_connection(conn, options)
    }

    /// A store in memory, for tests and tools.
    pub fn open_in_memory(options: OpenOptions) -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        if let Some(k) = options.key.as_deref() {
            key::apply(&conn, &StoreKey::parse(k)?)?;
        }
        Self::from_connection(conn, options)
    }

    /// Re-encrypt the store file under `new_key` (the same rule as
    /// opening: [`StoreKey::parse`]). From then on only `new_key` opens
    /// it; this `Store` goes on working. Refused for a store opened
    /// without a key (`Encryption`) and inside a batch.
    pub fn rekey(&mut self, new_key: &str) -> Result<()> {
        let new = StoreKey::parse(new_key)?;
        if !self.keyed {
            return Err(Error::Encryption(
                "the store was opened without a key: it cannot be rekeyed".into(),
            ));
        }
        if self.write.is_some() {
            return Err(Error::Shape("rekey inside a batch".into()));
        }
        key::rekey(&self.conn, &new)
    }

    fn from_connection(conn: Connection, options: OpenOptions) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match options.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        // Indexes of a supervisor's store (tens of thousands of residents)
        // outgrow SQLite's default 2 MB page cache; 32 MB keeps them hot.
        conn.pragma_update(None, "cache_size", -32_768)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES)?;
        // …and a log file grown past that by a larger transaction is cut
        // back to it (cutting it shorter made it grow again every time).
        conn.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Every statement the store runs stays prepared: rusqlite keeps 16
        // by default, the store has some ninety, and a sync cycles through
        // more than 16 of them, so each was parsed again every time (a
        // sixth of the phone's CPU in an incremental sync).
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        schema::migrate(&conn)?;
        let device_id = match meta_get(&conn, "device_id")? {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                meta_set(&conn, "device_id", &id)?;
                id
            }
        };
        let actor = ActorId::from(
            uuid::Uuid::parse_str(&device_id)
                .map_err(|_| Error::Shape("device id in store is not a UUID".into()))?
                .as_bytes()
                .as_slice(),
        );
        let author = match meta_get(&conn, "author")? {
            Some(json) => serde_json::from_str(&json).unwrap_or_default(),
            None => Author::default(),
        };
        let cap = NonZeroUsize::new(options.cache_docs.max(1)).unwrap_or(NonZeroUsize::MIN);
        let clock_offset_ms =
            meta_get(&conn, sync_state::CLOCK_OFFSET)?.and_then(|v| v.parse().ok());
        Ok(Self {
            conn,
            cache: LruCache::new(cap),
            actor,
            device_id,
            author,
            clock: options.clock,
            clock_offset_ms,
            write: None,
            sign_in_required: false,
            changed: None,
            keyed: options.key.is_some(),
        })
    }

    /// This device's id (also its Automerge actor id).
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The person edits are attributed to.
    pub fn author(&self) -> &Author {
        &self.author
    }

    /// Set the person edits are attributed to (after login). Kept in the store.
    pub fn set_author(&mut self, author: Author) -> Result<()> {
        let json = serde_json::to_string(&author).map_err(|e| Error::Shape(e.to_string()))?;
        meta_set(&self.conn, "author", &json)?;
        self.author = author;
        Ok(())
    }

    /// Refuse every edit while nobody is signed in (the author is
    /// [`Author::NOBODY`]), with [`Error::Unauthorized`]: a phone must not
    /// record changes it could only push under someone else's name. Off by
    /// default (tools and tests that write made-up data); the phone SDK
    /// and the command line turn it on.
    pub fn require_sign_in(&mut self, on: bool) {
        self.sign_in_required = on;
    }

    /// Keep note of the documents each write changes (local edits and
    /// pulled data alike), for [`Store::take_changes`]: how an app learns
    /// what to refresh. Off by default.
    pub fn track_changes(&mut self, on: bool) {
        self.changed = on.then(BTreeSet::new);
    }

    /// The documents written since the last call (committed writes only),
    /// each with its kind; a document no longer on this device has none.
    /// Empty when changes are not tracked.
    pub fn take_changes(&mut self) -> Result<Vec<(DocId, Option<String>)>> {
        let Some(changed) = self.changed.as_mut() else {
            return Ok(Vec::new());
        };
        let ids = std::mem::take(changed);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind FROM docs WHERE id = ?1")?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let kind: Option<String> = stmt.query_row([&id], |r| r.get(0)).optional()?;
            out.push((id, kind));
        }
        Ok(out)
    }

    /// Run `f` with edits attributed to `author`, then restore the signed-in
    /// author (not kept in the store). For made-up data that stands for
    /// several people's phones (demos, benchmarks); an app signs in instead.
    pub fn with_author<T>(
        &mut self,
        author: Author,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let saved = std::mem::replace(&mut self.author, author);
        let out = f(self);
        self.author = saved;
        out
    }

    /// The store's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Replace the clock (tests that move time forward).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// A value kept in the store's key/value table (sync cursor and the like).
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        meta_get(&self.conn, key)
    }

    /// Set a value in the store's key/value table.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        meta_set(&self.conn, key, value)
    }

    /// Run `f` as one all-or-nothing write: every edit inside it is stored
    /// in one SQLite transaction, or none is if `f` returns an error. Much
    /// faster than separate edits when importing many records.
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.write(f)
    }

    /// [`Store::batch`] for what came from the server and will come again
    /// if lost: a pulled page, its cursors, what the server said to purge,
    /// its answer to a push (the changes it stored leave the outbox; sent
    /// again, they are counted as stored), and the record of a sync's
    /// outcome ([`crate::sync::status`]).
    /// It commits without waiting for the disk (`synchronous=NORMAL` in WAL
    /// mode), as list rows do: a power loss may take such a write back
    /// whole, never half, with the cursors that would have skipped it, and
    /// the next sync receives it again. What a person writes still waits
    /// for the disk, and syncs the log, these writes with it.
    pub fn batch_received<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let was = self.relax_durability()?;
        let result = self.write(f);
        self.restore_durability(was)?;
        result
    }

    /// Commit without waiting for the disk until
    /// [`Store::restore_durability`] is given what this returns: the
    /// setting to go back to, if changed (not inside a write, where it
    /// cannot change).
    pub(crate) fn relax_durability(&self) -> Result<Option<i64>> {
        if self.write.is_some() {
            return Ok(None);
        }
        let was: i64 = self
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        if was <= 1 {
            return Ok(None);
        }
        self.conn.pragma_update(None, "synchronous", 1)?;
        Ok(Some(was))
    }

    /// The connection's `synchronous` setting (2: every commit waits for
    /// the disk, 1: not).
    #[cfg(test)]
    pub(crate) fn synchronous(&self) -> i64 {
        self.conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("the pragma")
    }

    /// Undo [`Store::relax_durability`].
    pub(crate) fn restore_durability(&self, was: Option<i64>) -> Result<()> {
        if let Some(was) = was {
            self.conn.pragma_update(None, "synchronous", was)?;
        }
        Ok(())
    }

    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.write.is_some() {
            return f(self);
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.write = Some(WriteState::default());
        let result = f(self).and_then(|v| {
            self.flush_projections()?;
            Ok(v)
        });
        let state = self.write.take().unwrap_or_default();
        let result = result.and_then(|v| {
            self.conn.execute_batch("COMMIT")?;
            Ok(v)
        });
        if result.is_ok()
            && let Some(changed) = self.changed.as_mut()
        {
            changed.extend(state.touched.iter().cloned());
        }
        if result.is_err() {
            // Nothing of this write reached the file: forget what the cache
            // holds of it, so the next read sees what is stored.
            let _ = self.conn.execute_batch("ROLLBACK");
            for id in state.touched {
                self.cache.pop(&id);
            }
        }
        result
    }

    fn touch(&mut self, id: &str) {
        if let Some(w) = self.write.as_mut() {
            w.touched.insert(id.to_string());
            w.dirty.insert(id.to_string());
        }
    }

    /// Rewrite `id`'s projection rows now, inside the current write, for a
    /// lookup that needs them before the write ends.
    pub(crate) fn project_now(&mut self, id: &str) -> Result<()> {
        if let Some(w) = self.write.as_mut() {
            w.dirty.remove(id);
        }
        self.project(id)
    }

    fn flush_projections(&mut self) -> Result<()> {
        let dirty: Vec<DocId> = match self.write.as_mut() {
            Some(w) => std::mem::take(&mut w.dirty).into_iter().collect(),
            None => Vec::new(),
        };
        for id in dirty {
            self.project(&id)?;
        }
        Ok(())
    }

    /// Whether a document is stored here.
    pub fn contains(&self, id: &str) -> Result<bool> {
        // Prepared once: a pulled page asks it of every document.
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM docs WHERE id = ?1")?
            .exists([id])?)
    }

    /// Ids of every stored document, with their kind and scope.
    pub fn documents(&self) -> Result<Vec<(DocId, String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, kind, scope FROM docs ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Put a document in the cache. A document pushed out of it while its
    /// projection is still owed gets its projection written first, so the
    /// end of a large batch need not load it again.
    fn cache_put(&mut self, id: &str, doc: Automerge) -> Result<()> {
        if let Some((old_id, old_doc)) = self.cache.push(id.to_string(), doc) {
            let owed = old_id != id && self.write.as_mut().is_some_and(|w| w.dirty.remove(&old_id));
            if owed {
                projection::project_doc(&self.conn, &old_id, &old_doc)?;
            }
        }
        Ok(())
    }

    /// Make sure `id` is in the cache, loading it from the file if needed.
    fn load(&mut self, id: &str) -> Result<&mut Automerge> {
        if !self.cache.contains(id) {
            let doc = self.read_doc(id)?;
            self.cache_put(id, doc)?;
        }
        // Invariant: the entry was inserted just above if it was missing.
        self.cache.get_mut(id).ok_or_else(|| Error::NotFound {
            kind: "document",
            id: id.to_string(),
        })
    }

    fn read_doc(&self, id: &str) -> Result<Automerge> {
        let bytes = self.doc_bytes(id)?;
        let mut doc = if bytes.is_empty() {
            Automerge::new()
        } else {
            Automerge::load(&bytes)?
        };
        doc.set_actor(self.actor.clone());
        Ok(doc)
    }

    /// Everything stored of a document: snapshot and chunks, concatenated.
    fn doc_bytes(&self, id: &str) -> Result<Vec<u8>> {
        let snapshot: Option<Option<Vec<u8>>> = self
            .conn
            .prepare_cached("SELECT snapshot FROM docs WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let Some(snapshot) = snapshot else {
            return Err(Error::NotFound {
                kind: "document",
                id: id.to_string(),
            });
        };
        // Snapshot and changes concatenated load in one pass.
        let mut bytes = snapshot.unwrap_or_default();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM chunks WHERE doc_id = ?1 ORDER BY id")?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            bytes.extend_from_slice(row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
        }
        Ok(bytes)
    }

    /// Read a loaded document.
    pub(crate) fn with_doc<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&Automerge) -> Result<T>,
    ) -> Result<T> {
        let doc = self.load(id)?;
        f(doc)
    }

    fn commit_options(&self, op: &str) -> Result<CommitOptions> {
        if self.sign_in_required && !self.author.is_signed_in() {
            return Err(Error::Unauthorized(
                "请先登录：未登录时不能录入或修改 / sign in first: nothing can be recorded or \
                 changed while nobody is signed in"
                    .into(),
            ));
        }
        let note = ChangeNote {
            by: self.author.user.clone(),
            op: op.to_string(),
            clock_offset_ms: self.clock_offset_ms.filter(|o| o.abs() > 60_000),
        };
        Ok(CommitOptions::default()
            .with_message(serde_json::to_string(&note).unwrap_or_default())
            .with_time(self.clock.now_ms() / 1000))
    }

    /// Create a new document `id` of `kind` in `scope`, filled by `init`.
    pub(crate) fn create_doc(
        &mut self,
        id: &str,
        kind: &str,
        scope: &str,
        op: &str,
        init: impl FnOnce(&mut Transaction<'_>) -> Result<()>,
    ) -> Result<()> {
        let options = self.commit_options(op)?;
        self.write(|s| {
            let mut doc = Automerge::new().with_actor(s.actor.clone());
            let hash = doc
                .transact_with(|_| options, init)
                .map_err(|f| f.error)?
                .hash;
            let snapshot = doc.save();
            s.insert_snapshot(id, kind, scope, &snapshot)?;
            if let Some(hash) = hash {
                s.push_outbox(&doc, id, hash)?;
            }
            s.cache_put(id, doc)?;
            s.touch(id);
            Ok(())
        })
    }

    /// Change document `id`: `f` runs inside one Automerge transaction; if
    /// it fails nothing is changed.
    pub(crate) fn edit_doc<T>(
        &mut self,
        id: &str,
        op: &str,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let options = self.commit_options(op)?;
        self.write(|s| {
            let doc = s.load(id)?;
            let success = doc.transact_with(|_| options, f).map_err(|f| f.error)?;
            if let Some(hash) = success.hash {
                s.touch(id);
                if let Err(e) = s.store_local_change(id, hash) {
                    s.cache.pop(id);
                    return Err(e);
                }
            }
            Ok(success.result)
        })
    }

    fn store_local_change(&mut self, id: &str, hash: ChangeHash) -> Result<()> {
        let doc = self.load(id)?;
        let change = doc.get_change_by_hash(&hash).ok_or_else(|| {
            Error::Shape("a change just made is missing from its document".into())
        })?;
        let data = change.raw_bytes().to_vec();
        self.conn
            .prepare_cached("INSERT INTO chunks (doc_id, data) VALUES (?1, ?2)")?
            .execute(params![id, data])?;
        self.conn
            .prepare_cached("INSERT INTO outbox (doc_id, hash, data) VALUES (?1, ?2, ?3)")?
            .execute(params![id, hash.as_ref(), data])?;
        self.after_chunks(id, 1)
    }

    fn push_outbox(&self, doc: &Automerge, id: &str, hash: ChangeHash) -> Result<()> {
        let change = doc.get_change_by_hash(&hash).ok_or_else(|| {
            Error::Shape("a change just made is missing from its document".into())
        })?;
        self.conn
            .prepare_cached("INSERT INTO outbox (doc_id, hash, data) VALUES (?1, ?2, ?3)")?
            .execute(params![id, hash.as_ref(), change.raw_bytes()])?;
        Ok(())
    }

    /// Count `n` new chunks for `id`; fold them into the snapshot when many.
    fn after_chunks(&mut self, id: &str, n: i64) -> Result<()> {
        let loose: i64 = self
            .conn
            .prepare_cached(
                "UPDATE docs SET loose = loose + ?2, updated_at = ?3 WHERE id = ?1 RETURNING loose",
            )?
            .query_row(params![id, n, self.clock.now_ms()], |r| r.get(0))?;
        if loose >= COMPACT_AFTER {
            self.compact(id)?;
        }
        Ok(())
    }

    /// Fold a document's loose chunks into a fresh snapshot.
    fn compact(&mut self, id: &str) -> Result<()> {
        let doc = self.load(id)?;
        if !doc.get_missing_deps(&[]).is_empty() {
            // Changes waiting for their dependencies live only in chunks.
            return Ok(());
        }
        let snapshot = doc.save();
        self.conn
            .prepare_cached("UPDATE docs SET snapshot = ?2, loose = 0 WHERE id = ?1")?
            .execute(params![id, snapshot])?;
        self.conn
            .prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?
            .execute([id])?;
        Ok(())
    }

    /// Apply data received from elsewhere (another device, the server) to
    /// document `id`: Automerge changes or a saved document, in any order,
    /// any number of times. Creates the document if it is new here.
    pub fn apply_remote(&mut self, id: &str, chunks: &[Vec<u8>]) -> Result<Applied> {
        let id = doc::parse_id("doc_id", id)?;
        let id = id.as_str();
        self.write(|s| {
            let exists = s.contains(id)?;
            if !exists {
                let doc = Automerge::new().with_actor(s.actor.clone());
                s.cache_put(id, doc)?;
            }
            s.touch(id);
            let doc = s.load(id)?;
            let before = doc.get_heads();
            doc.load_incremental(&chunks.concat())?;
            let waiting = !doc.get_missing_deps(&[]).is_empty();
            if exists && before == doc.get_heads() && !waiting {
                return Ok(Applied::Nothing);
            }
            let kind = doc::kind_of(&*doc).unwrap_or_default();
            let scope = doc::scope_of(&*doc).unwrap_or_default();
            let now = s.clock.now_ms();
            if !exists && chunks.len() == 1 && !waiting {
                // A document new here, received whole: keep it as the snapshot.
                s.insert_snapshot(id, &kind, &scope, &chunks[0])?;
                return Ok(Applied::Changed);
            }
            s.conn
                .prepare_cached(
                    "INSERT INTO docs (id, kind, scope, snapshot, loose, updated_at) VALUES (?1, ?2, ?3, NULL, 0, ?4)
                     ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, scope = excluded.scope",
                )?
                .execute(params![id, kind, scope, now])?;
            for chunk in chunks {
                s.conn
                    .prepare_cached("INSERT INTO chunks (doc_id, data) VALUES (?1, ?2)")?
                    .execute(params![id, chunk])?;
            }
            s.after_chunks(id, chunks.len() as i64)?;
            s.forward_if_merged(id)?;
            Ok(Applied::Changed)
        })
    }

    /// Apply many documents received at once (a pulled page). Documents new
    /// here are decoded and read for the lists on all cores, then stored in
    /// one transaction; the others go through [`Store::apply_remote`].
    pub fn apply_remote_many(&mut self, docs: &[(String, Vec<u8>)]) -> Result<()> {
        use rayon::prelude::*;
        let mut fresh = Vec::new();
        let mut known = Vec::new();
        for (id, data) in docs {
            let id = doc::parse_id("doc_id", id)?;
            if self.contains(&id)? || self.cache.contains(&id) {
                known.push((id, data));
            } else {
                fresh.push((id, data));
            }
        }
        struct Prepared<'a> {
            id: String,
            data: &'a [u8],
            loaded: Option<(Automerge, String, String, projection::Projected)>,
        }
        let prepared: Vec<Prepared<'_>> = fresh
            .into_par_iter()
            .map(|(id, data)| {
                let loaded = Automerge::load(data)
                    .ok()
                    .filter(|d| d.get_missing_deps(&[]).is_empty())
                    .map(|d| {
                        let kind = doc::kind_of(&d).unwrap_or_default();
                        let scope = doc::scope_of(&d).unwrap_or_default();
                        let projected = projection::Projected::read(&id, &d);
                        (d, kind, scope, projected)
                    });
                Prepared { id, data, loaded }
            })
            .collect();
        self.write(|s| {
            for p in prepared {
                let Some((mut d, kind, scope, projected)) = p.loaded else {
                    // Not a whole document on its own: the careful path.
                    s.apply_remote(&p.id, &[p.data.to_vec()])?;
                    continue;
                };
                s.insert_snapshot(&p.id, &kind, &scope, p.data)?;
                projected.write(&s.conn, &p.id)?;
                d.set_actor(s.actor.clone());
                s.cache_put(&p.id, d)?;
                if let Some(w) = s.write.as_mut() {
                    w.touched.insert(p.id.clone());
                }
            }
            for (id, data) in known {
                s.apply_remote(&id, std::slice::from_ref(data))?;
            }
            Ok(())
        })
    }

    /// Store a pulled page. A document new here that arrived whole (one
    /// saved document, checksum verified: [`doc::is_whole_document`]; or
    /// all its changes, which the server marks by sending its list rows,
    /// every checksum verified: [`doc::chunks_intact`]) is stored as it
    /// came, with the kind and grid the server gave (and the
    /// list rows the server sent with it, if any), and its list rows are
    /// built later: before the next list query reads them
    /// ([`Store::index_pending`]), from the rows sent when they are
    /// readable, else by decoding it. Decoding ten thousand documents is what
    /// makes a first pull slow; storing them is not. Everything else goes
    /// through [`Store::apply_remote_many`].
    pub fn apply_pulled(&mut self, docs: &[PulledDoc]) -> Result<()> {
        let mut careful = Vec::new();
        let mut whole = Vec::new();
        let mut more = Vec::new();
        let mut new_here = std::collections::HashSet::new();
        for d in docs {
            let id = doc::parse_id("doc_id", &d.id)?;
            let stored = self.contains(&id)?;
            let here = stored || self.cache.contains(&id);
            // New here and complete: one saved document, or changes the
            // server sent rows with (it sends rows only with everything
            // of a document), every chunk's checksum holding.
            let complete = doc::is_whole_document(&d.data)
                || (d.listing.is_some() && doc::chunks_intact(&d.data));
            if !here && complete && new_here.insert(id.clone()) {
                whole.push((id, d));
            } else if let Some(read) = stored
                .then(|| self.may_defer(&id, &d.data))
                .transpose()?
                .flatten()
            {
                more.push((id, d, read));
            } else {
                // Everything else, and the same new document twice in a page.
                careful.push((id, d.data.clone()));
            }
        }
        self.write(|s| {
            let now = s.clock.now_ms();
            // News for documents already here: kept as a chunk, read when
            // the document is next loaded, listed by the next query.
            for (id, d, read) in more {
                if read {
                    // Every chunk kept before it was read with it.
                    s.conn
                        .prepare_cached(
                            "UPDATE chunks SET no_merge = 1 WHERE doc_id = ?1 AND no_merge = 0",
                        )?
                        .execute([&id])?;
                }
                s.conn
                    .prepare_cached(
                        "INSERT INTO chunks (doc_id, data, no_merge) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![id, d.data, read])?;
                s.conn
                    .prepare_cached(
                        "UPDATE docs SET loose = loose + 1, updated_at = ?2 WHERE id = ?1",
                    )?
                    .execute(params![id, now])?;
                s.mark_pending(&id)?;
                s.cache.pop(&id);
                if let Some(w) = s.write.as_mut() {
                    w.touched.insert(id.clone());
                }
            }
            for (id, d) in whole {
                if doc::is_whole_document(&d.data) {
                    s.insert_snapshot(&id, &d.kind, &d.scope, &d.data)?;
                } else {
                    // Changes: kept as they came, folded when next saved.
                    s.conn
                        .prepare_cached(
                            "INSERT INTO docs (id, kind, scope, snapshot, loose, updated_at)
                             VALUES (?1, ?2, ?3, NULL, 1, ?4)",
                        )?
                        .execute(params![id, d.kind, d.scope, now])?;
                    s.conn
                        .prepare_cached("INSERT INTO chunks (doc_id, data) VALUES (?1, ?2)")?
                        .execute(params![id, d.data])?;
                }
                // Observers of the lists hear of it (its rows are built
                // when a list is next read).
                if let Some(w) = s.write.as_mut() {
                    w.touched.insert(id.clone());
                }
                match &d.listing {
                    // Written by the next list query, with no decoding.
                    Some(listing) => {
                        s.conn
                            .prepare_cached(
                                "INSERT OR REPLACE INTO p_pending (doc_id, listing) VALUES (?1, ?2)",
                            )?
                            .execute(params![id, listing])?;
                    }
                    None => s.mark_pending(&id)?,
                }
            }
            s.apply_remote_many(&careful)
        })
    }

    /// Store a document new here as its snapshot, with no loose changes.
    fn insert_snapshot(&self, id: &str, kind: &str, scope: &str, snapshot: &[u8]) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO docs (id, kind, scope, snapshot, loose, updated_at) VALUES (?1, ?2, ?3, ?4, 0, ?5)",
            )?
            .execute(params![id, kind, scope, snapshot, self.clock.now_ms()])?;
        Ok(())
    }

    /// Mark a document whose list rows are to be built by the next query.
    fn mark_pending(&self, id: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO p_pending (doc_id) VALUES (?1)")?
            .execute([id])?;
        Ok(())
    }

    /// Whether news `data` for document `id` (stored here) may be kept
    /// without decoding it now: not when it is a merged duplicate, whose
    /// late edits are forwarded to the survivor as they arrive, nor when
    /// it may be one without its list rows saying so yet. `Some(read)`:
    /// it may; `read`: `data` and every chunk kept for it were read and
    /// none writes `merged_into` (each chunk is read once: they are marked
    /// so when stored).
    fn may_defer(&self, id: &str, data: &[u8]) -> Result<Option<bool>> {
        let merged: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT merged_into FROM p_households WHERE doc_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let pending = self
            .conn
            .prepare_cached("SELECT 1 FROM p_pending WHERE doc_id = ?1")?
            .exists([id])?;
        match merged {
            Some(Some(_)) => Ok(None),
            _ if !pending => Ok(Some(false)),
            // Never listed here (it came whole, undecoded): its rows cannot
            // tell.
            None => Ok(None),
            // Listed, with news kept since that its rows do not show yet
            // (two syncs' edits of the same household, say): this joins
            // it, unless some of it may be the merge (`merged_into`) the
            // rows would have shown. Reading those changes is cheap; the
            // document is decoded once, by the next list query.
            Some(None) => {
                let kept: Vec<Vec<u8>> = self
                    .conn
                    .prepare_cached("SELECT data FROM chunks WHERE doc_id = ?1 AND no_merge = 0")?
                    .query_map([id], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let merge = kept
                    .iter()
                    .map(Vec::as_slice)
                    .chain([data])
                    .any(|c| doc::may_write_root_key(c, "merged_into"));
                Ok((!merge).then_some(true))
            }
        }
    }

    /// The whole document as one saved Automerge file.
    pub fn export_doc(&mut self, id: &str) -> Result<Vec<u8>> {
        self.with_doc(id, |d| Ok(d.save()))
    }

    /// Every change of a document, as Automerge binary changes.
    pub fn doc_changes(&mut self, id: &str) -> Result<Vec<Vec<u8>>> {
        self.with_doc(id, |d| {
            Ok(d.get_changes(&[])
                .iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect())
        })
    }

    /// The document's current heads, hex.
    pub fn heads(&mut self, id: &str) -> Result<Vec<String>> {
        self.with_doc(id, |d| Ok(doc::heads_hex(&d.get_heads())))
    }

    /// Up to `limit` local changes not yet acknowledged, oldest first.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, doc_id, hash, data FROM outbox ORDER BY seq LIMIT +?1")?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                let hash: Vec<u8> = r.get(2)?;
                Ok(OutboxEntry {
                    seq: r.get(0)?,
                    doc_id: r.get(1)?,
                    hash: hex::encode(hash),
                    data: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// How many local changes wait to be pushed.
    pub fn pending_changes(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// Drop outbox entries up to and including `seq`: the server has them.
    pub fn ack_outbox(&mut self, seq: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM outbox WHERE seq <= ?1")?
            .execute([seq])?;
        Ok(())
    }

    /// Conflicts of a document: fields edited at once on several devices.
    pub fn conflicts(&mut self, id: &str) -> Result<Vec<doc::Conflict>> {
        self.with_doc(id, doc::conflicts)
    }

    /// Resolve the conflict at `path` by choosing value `choice`.
    pub fn resolve_conflict(&mut self, id: &str, path: &[String], choice: usize) -> Result<()> {
        self.edit_doc(id, Op::ResolveConflict.code(), |tx| {
            doc::resolve_conflict(tx, path, choice)
        })
    }

    /// The history of a document, oldest first.
    pub fn history(&mut self, id: &str) -> Result<Vec<doc::HistoryEntry>> {
        self.with_doc(id, |d| Ok(doc::history(d)))
    }

    /// Documents currently held in memory (for tests and diagnostics).
    pub fn loaded_docs(&self) -> usize {
        self.cache.len()
    }

    /// Drop every loaded document from memory.
    pub fn clear_cache(&mut self) {
        self.cache.clear();
    }
}

fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, StatementStatus};

    /// How often SQLite prepared `sql` again in five runs with a bound
    /// limit.
    fn reprepared(sql: &str) -> i32 {
        let conn = Connection::open_in_memory().expect("a database");
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);")
            .expect("a table");
        let mut times = 0;
        for limit in [2, 2, 3, 2, 3] {
            let mut s = conn.prepare_cached(sql).expect("prepared");
            let rows = s
                .query_map([limit], |r| r.get::<_, i64>(0))
                .expect("run")
                .count();
            assert_eq!(rows, limit as usize);
            times = s.get_status(StatementStatus::RePrepare);
        }
        times
    }

    /// Every `.rs` file under `dir`.
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir)
            .expect("a source directory")
            .flatten()
        {
            let p = e.path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// Building list rows commits without waiting for the disk (they are
    /// derived), and puts the store's durability back after, also when it
    /// fails.
    #[test]
    fn indexing_puts_the_durability_back() {
        let s = super::Store::open_in_memory(super::OpenOptions::default()).expect("a store");
        let synchronous = |s: &super::Store| -> i64 {
            s.conn
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .expect("the pragma")
        };
        assert_eq!(synchronous(&s), 2);
        assert_eq!(s.index_pending(10).expect("nothing to index"), 0);
        assert_eq!(synchronous(&s), 2);
        // A pending document that is not stored: the step fails.
        s.conn
            .execute("INSERT INTO p_pending (doc_id) VALUES ('gone')", [])
            .expect("a pending row");
        assert!(s.index_pending(10).is_err());
        assert_eq!(synchronous(&s), 2);
        assert_eq!(s.pending_index().expect("counted").0, 1);
    }

    /// What came from the server is written without waiting for the disk;
    /// the durability is back after, also when the write fails, and a
    /// write inside another keeps the outer one's.
    #[test]
    fn received_writes_relax_the_durability_for_themselves_alone() {
        let mut s = super::Store::open_in_memory(super::OpenOptions::default()).expect("a store");
        let synchronous = super::Store::synchronous;
        let inside = s.batch_received(|s| Ok(synchronous(s))).expect("a write");
        assert_eq!((inside, synchronous(&s)), (1, 2));
        let failed: crate::Result<()> =
            s.batch_received(|_| Err(crate::Error::Shape("refused".into())));
        assert!(failed.is_err());
        assert_eq!(synchronous(&s), 2);
        let nested = s
            .batch(|s| s.batch_received(|s| Ok(synchronous(s))))
            .expect("a write");
        assert_eq!((nested, synchronous(&s)), (2, 2));
    }

    #[test]
    fn a_row_limit_is_no_bare_parameter() {
        // Why: a bare parameter makes SQLite prepare the statement again
        // at every run; written `+?1`, it does not.
        let bare = |limit: &str| format!("SELECT x FROM t LIMIT {limit}");
        assert!(reprepared(&bare("?1")) > 0, "SQLite changed");
        assert_eq!(reprepared(&bare("+?1")), 0);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        sources(&root.join("src"), &mut files);
        sources(&root.join("../server/src"), &mut files);
        assert!(files.len() > 50, "the sources were found");
        // "LIMIT", spaces, then "?" and a digit.
        let bare_at = |line: &str| {
            line.match_indices("LIMIT").any(|(at, _)| {
                let rest = line[at + 5..].trim_start();
                rest.starts_with('?') && rest[1..].starts_with(|c: char| c.is_ascii_digit())
            })
        };
        for f in files {
            let text = std::fs::read_to_string(&f).expect("readable");
            for (i, line) in text.lines().enumerate() {
                assert!(
                    !bare_at(line),
                    "{}:{}: write the limit `LIMIT +?N`",
                    f.display(),
                    i + 1
                );
            }
        }
    }
}

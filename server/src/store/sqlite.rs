//! The SQLite [`DocStore`]: the embedded default.
//!
//! A push runs in one `BEGIN IMMEDIATE` transaction on a pooled connection,
//! off the async threads. Loaded documents are kept in a bounded LRU cache,
//! each tagged with the `last_seq` it reflects; an entry is used only while
//! that still matches the database, so several processes (or a restore)
//! can never serve a stale document.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use automerge::Automerge;
use deadpool_sqlite::Pool;
use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::pull::{Candidate, Sent};
use super::push::Planned;
use super::{
    DocFacts, DocStore, FeedCursor, IncomingChange, LogEntry, LogMark, LogSlice, PullLimits,
    PullPage, PushOutcome, StoreError, Use, WriteGuard,
};
use crate::db;

/// Fold a document's changes into a fresh snapshot once this many gathered.
const COMPACT_AFTER: i64 = 32;
/// After a push, documents with at least this many loose changes are
/// compacted in the background, so the next pull ships a small snapshot.
const COMPACT_SOON: i64 = 4;
/// Documents compacted in one transaction.
const COMPACT_CHUNK: usize = 100;
/// Background WAL checkpoints after a push: attempts, and the pause
/// between them.
const CHECKPOINT_TRIES: usize = 40;
const CHECKPOINT_RETRY: std::time::Duration = std::time::Duration::from_millis(50);
/// Documents kept loaded.
const CACHE_DOCS: usize = 1024;

type Cache = super::DocCache;

/// Documents and the change log in the embedded SQLite database.
#[derive(Clone)]
pub struct SqliteDocStore {
    pool: Pool,
    cache: Cache,
    /// Writers queue here, in this process, rather than in SQLite's busy
    /// handler, which retries with sleeps of up to 100 ms and made the
    /// slowest pushes of a busy shift end wait seconds.
    writer: Arc<Mutex<()>>,
    /// A background WAL checkpoint is scheduled or running.
    checkpointing: Arc<AtomicBool>,
}

impl SqliteDocStore {
    /// A store over an opened, migrated pool.
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            cache: Arc::new(Mutex::new(LruCache::new(
                NonZeroUsize::new(CACHE_DOCS).unwrap_or(NonZeroUsize::MIN),
            ))),
            writer: Arc::new(Mutex::new(())),
            checkpointing: Arc::new(AtomicBool::new(false)),
        }
    }
}

struct DocRow {
    facts: DocFacts,
    last_seq: i64,
    loose: i64,
}

fn doc_row(conn: &Connection, id: &str) -> rusqlite::Result<Option<DocRow>> {
    conn.prepare_cached("SELECT kind, scope, holder, last_seq, loose FROM docs WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(DocRow {
                facts: DocFacts {
                    kind: r.get(0)?,
                    scope: r.get(1)?,
                    holder: r.get(2)?,
                    departments: Vec::new(),
                    listing: None,
                },
                last_seq: r.get(3)?,
                loose: r.get(4)?,
            })
        })
        .optional()
}

/// The seq of the newest change in the log (0 when empty).
fn log_end_of(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM changes")?
        .query_row([], |r| r.get(0))
}

/// Everything stored of a document: snapshot and later changes, concatenated.
fn doc_bytes(conn: &Connection, id: &str) -> rusqlite::Result<Vec<u8>> {
    let (snapshot, snapshot_seq): (Option<Vec<u8>>, i64) = conn
        .prepare_cached("SELECT snapshot, snapshot_seq FROM docs WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut bytes = snapshot.unwrap_or_default();
    append_changes_after(conn, id, snapshot_seq, &mut bytes)?;
    Ok(bytes)
}

/// A document's list rows, if derived from its latest version.
fn current_listing(conn: &Connection, id: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached(
        "SELECT l.data FROM listings l JOIN docs d ON d.id = l.doc_id
         WHERE l.doc_id = ?1 AND l.seq = d.last_seq",
    )?
    .query_row([id], |r| r.get(0))
    .optional()
}

fn append_changes_after(
    conn: &Connection,
    id: &str,
    after: i64,
    out: &mut Vec<u8>,
) -> rusqlite::Result<()> {
    let mut stmt = conn
        .prepare_cached("SELECT data FROM changes WHERE doc_id = ?1 AND seq > ?2 ORDER BY seq")?;
    let mut rows = stmt.query(params![id, after])?;
    while let Some(row) = rows.next()? {
        out.extend_from_slice(row.get_ref(0)?.as_blob()?);
    }
    Ok(())
}

fn corrupt(id: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(
        format!("stored document {id} cannot be loaded: {e}").into(),
    )
}

fn load_doc(
    conn: &Connection,
    cache: &Cache,
    id: &str,
    last_seq: i64,
    usage: Use,
) -> rusqlite::Result<Automerge> {
    if let Some(doc) = super::cached_doc(cache, id, last_seq, usage) {
        return Ok(doc);
    }
    let bytes = doc_bytes(conn, id)?;
    Automerge::load(&bytes).map_err(|e| corrupt(id, e))
}

fn push_blocking(
    conn: &mut Connection,
    cache: &Cache,
    writer: &Mutex<()>,
    incoming: Vec<IncomingChange>,
    user_id: Option<String>,
    device_id: Option<String>,
    guard: &dyn WriteGuard,
) -> rusqlite::Result<(PushOutcome, Vec<String>)> {
    let mut outcome = PushOutcome::default();
    let mut compact_soon = Vec::new();
    let t0 = std::time::Instant::now();
    let groups = super::push::group(incoming, &mut outcome.rejected);
    let t_grouped = t0.elapsed();
    // Load what each document is now, from one read snapshot…
    let mut planned = Vec::with_capacity(groups.len());
    let log_end: i64;
    {
        let read = conn.transaction()?;
        log_end = log_end_of(&read)?;
        for (doc_id, changes) in groups {
            let row = doc_row(&read, &doc_id)?;
            let working = match &row {
                Some(r) => load_doc(&read, cache, &doc_id, r.last_seq, Use::Take)?,
                None => Automerge::new(),
            };
            planned.push(Planned {
                doc_id,
                facts: row.as_ref().map(|r| r.facts.clone()),
                seq: row.map(|r| r.last_seq),
                working,
                changes,
            });
        }
        read.commit()?;
    }
    // …decide on every document in parallel (the Automerge work and the
    // validation, no database), before waiting for the write lock…
    let t_loaded = t0.elapsed();
    let decided = super::push::decide_all(planned, guard);
    let t_decided = t0.elapsed();
    // …and under it store what was accepted, in order, deciding again on a
    // document another push changed meanwhile.
    let _writing = writer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut updated: Vec<(String, i64, Automerge)> = Vec::new();
    let now = gridsync_core::clock::Clock::System.now_ms();
    // Nothing was stored since the documents were read: a document new then
    // is new now (a docs row is only ever written with a change), so its
    // row need not be looked up again.
    let log_unchanged = log_end_of(&tx)? == log_end;
    for early in decided {
        let doc_id = early.doc_id.clone();
        let row = if log_unchanged && early.was_new() {
            None
        } else {
            doc_row(&tx, &doc_id)?
        };
        let before = row.as_ref().map(|r| r.facts.clone());
        let d = match early.confirm(row.as_ref().map(|r| r.last_seq)) {
            Ok(d) => d,
            Err(redo) => {
                let working = match &row {
                    Some(r) => load_doc(&tx, cache, &doc_id, r.last_seq, Use::Take)?,
                    None => Automerge::new(),
                };
                redo.decide(&doc_id, working, before.as_ref(), guard)
            }
        };
        outcome.duplicates += d.duplicates;
        outcome.rejected.extend(d.rejected);
        let (working, accepted, facts) = (d.working, d.accepted, d.facts);
        let Some(facts) = facts else {
            // Nothing stored: the document as it was goes back.
            if let Some(r) = &row {
                updated.push((doc_id, r.last_seq, working));
            }
            continue;
        };
        if accepted.is_empty() {
            continue;
        }

        let mut last_seq = 0;
        let mut first_new_seq = None;
        for change in &accepted {
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO changes (doc_id, hash, data, user_id, device_id, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    doc_id,
                    change.hash.as_ref(),
                    change.data,
                    user_id,
                    device_id,
                    now
                ])?;
            if inserted == 1 {
                last_seq = tx.last_insert_rowid();
                first_new_seq.get_or_insert(last_seq);
                outcome.stored += 1;
            } else {
                outcome.duplicates += 1;
            }
        }
        let Some(first_new_seq) = first_new_seq else {
            continue;
        };
        let loose = row.as_ref().map_or(0, |r| r.loose) + accepted.len() as i64;
        tx.prepare_cached(
            "INSERT INTO docs (id, kind, scope, holder, snapshot, snapshot_seq, loose, last_seq,
                updated_at, writer, writer_after)
             VALUES (?1, ?2, ?3, ?4, NULL, 0, ?5, ?6, ?7, ?8, 0)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, scope = excluded.scope,
                holder = excluded.holder, loose = excluded.loose, last_seq = excluded.last_seq,
                updated_at = excluded.updated_at, writer = excluded.writer,
                writer_after = CASE WHEN docs.writer IS excluded.writer
                    THEN docs.writer_after ELSE docs.last_seq END",
        )?
        .execute(params![
            doc_id,
            facts.kind,
            facts.scope,
            facts.holder,
            loose,
            last_seq,
            now,
            device_id
        ])?;
        update_feeds(
            &tx,
            &doc_id,
            before.as_ref(),
            &facts,
            first_new_seq,
            last_seq,
        )?;
        if let Some(listing) = &facts.listing {
            tx.prepare_cached(
                "INSERT INTO listings (doc_id, seq, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (doc_id) DO UPDATE SET seq = excluded.seq, data = excluded.data",
            )?
            .execute(params![doc_id, last_seq, listing])?;
        }
        if loose >= COMPACT_AFTER {
            tx.prepare_cached(
                "UPDATE docs SET snapshot = ?2, snapshot_seq = ?3, loose = 0 WHERE id = ?1",
            )?
            .execute(params![doc_id, working.save(), last_seq])?;
        } else if loose >= COMPACT_SOON {
            compact_soon.push(doc_id.clone());
        }
        updated.push((doc_id, last_seq, working));
    }
    let t_stored = t0.elapsed();
    tx.commit()?;
    tracing::debug!(
        grouped_ms = t_grouped.as_secs_f64() * 1000.0,
        loaded_ms = (t_loaded - t_grouped).as_secs_f64() * 1000.0,
        decided_ms = (t_decided - t_loaded).as_secs_f64() * 1000.0,
        stored_ms = (t_stored - t_decided).as_secs_f64() * 1000.0,
        commit_ms = (t0.elapsed() - t_stored).as_secs_f64() * 1000.0,
        "push phases"
    );
    super::cache_docs(cache, updated);
    // Refusals in push order, however they were found.
    outcome.rejected.sort_by_key(|r| r.index);
    Ok((outcome, compact_soon))
}

/// Fold the loose changes of `ids` into fresh snapshots, [`COMPACT_CHUNK`]
/// at a time: each chunk read and saved outside the write lock, then
/// written in one short transaction; a document changed meanwhile is left
/// for later. One commit a chunk, not a document: a grid's push leaves
/// ~500 documents to compact, and with `synchronous=FULL` every commit is
/// an fsync.
fn compact_blocking(
    conn: &mut Connection,
    cache: &Cache,
    writer: &Mutex<()>,
    ids: &[String],
) -> rusqlite::Result<()> {
    for chunk in ids.chunks(COMPACT_CHUNK) {
        let mut saved = Vec::with_capacity(chunk.len());
        {
            let read = conn.transaction()?;
            for id in chunk {
                let Some(row) = doc_row(&read, id)? else {
                    continue;
                };
                if row.loose > 0 {
                    let doc = load_doc(&read, cache, id, row.last_seq, Use::Copy)?;
                    saved.push((id, doc.save(), row.last_seq));
                }
            }
            read.commit()?;
        }
        if saved.is_empty() {
            continue;
        }
        let _writing = writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut update = tx.prepare_cached(
                "UPDATE docs SET snapshot = ?2, snapshot_seq = ?3, loose = 0 WHERE id = ?1 AND last_seq = ?3",
            )?;
            for (id, snapshot, seq) in &saved {
                update.execute(params![id, snapshot, seq])?;
            }
        }
        tx.commit()?;
    }
    Ok(())
}

/// Keep the feed rows of a document in step with its facts: it enters the
/// feeds it now belongs to and departs the ones it left.
fn update_feeds(
    tx: &Connection,
    doc_id: &str,
    before: Option<&DocFacts>,
    after: &DocFacts,
    first_new_seq: i64,
    last_seq: i64,
) -> rusqlite::Result<()> {
    let old: Vec<String> = before.map(DocFacts::feeds).unwrap_or_default();
    let new = after.feeds();
    for feed in &old {
        if !new.contains(feed) {
            tx.prepare_cached("DELETE FROM feed WHERE feed = ?1 AND doc_id = ?2")?
                .execute(params![feed, doc_id])?;
            tx.prepare_cached(
                "INSERT INTO departures (feed, doc_id, seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (feed, doc_id) DO UPDATE SET seq = excluded.seq",
            )?
            .execute(params![feed, doc_id, last_seq])?;
        }
    }
    for feed in &new {
        let since = if old.contains(feed) {
            None
        } else {
            Some(first_new_seq)
        };
        match since {
            None => {
                tx.prepare_cached("UPDATE feed SET last_seq = ?3 WHERE feed = ?1 AND doc_id = ?2")?
                    .execute(params![feed, doc_id, last_seq])?;
            }
            Some(since) => {
                // A document new to the server never departed anything
                // (docs rows are never deleted): a grid's push skips 500
                // statements.
                if before.is_some() {
                    tx.prepare_cached("DELETE FROM departures WHERE feed = ?1 AND doc_id = ?2")?
                        .execute(params![feed, doc_id])?;
                }
                tx.prepare_cached(
                    "INSERT INTO feed (feed, doc_id, last_seq, since_seq) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (feed, doc_id) DO UPDATE SET last_seq = excluded.last_seq,
                        since_seq = excluded.since_seq",
                )?
                .execute(params![feed, doc_id, last_seq, since])?;
            }
        }
    }
    Ok(())
}

/// The SQLite side of a pull: its queries, inside one read transaction
/// (every feed from the same snapshot). What a page holds is decided in
/// [`super::pull`], for both backends.
struct SqlitePull<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

impl super::pull::PullSource for SqlitePull<'_> {
    type Error = rusqlite::Error;
    // Read document by document: nothing beyond a full page is read.
    const CHUNK: usize = 1;

    async fn log_end(&mut self) -> rusqlite::Result<i64> {
        log_end_of(self.tx)
    }

    async fn candidates(
        &mut self,
        feed: &str,
        cursor: i64,
        base: i64,
        limit: usize,
        device: Option<&str>,
    ) -> rusqlite::Result<Vec<Candidate>> {
        // Whether the device lacks a change from someone else, known from
        // the same query, mostly without reading the log: the docs row
        // names the device that wrote the latest change. Another device's
        // latest change after the device's position is one it lacks (a
        // supervisor's pull: reading each document's first change from the
        // log cost a page of the log a document, 40 MB of the server's
        // memory for 10,000 households); the device's own run after it
        // means nothing to send.
        self.tx
            .prepare_cached(
                "SELECT f.doc_id, f.last_seq, f.since_seq, d.kind, d.scope,
                    CASE WHEN d.writer IS NOT NULL AND d.writer IS NOT ?4
                        AND d.last_seq > CASE WHEN f.since_seq > ?5 THEN 0 ELSE ?5 END
                    THEN 1 WHEN d.writer = ?4
                        AND d.writer_after <= CASE WHEN f.since_seq > ?5 THEN 0 ELSE ?5 END
                    THEN 0 ELSE EXISTS (SELECT 1 FROM changes c WHERE c.doc_id = f.doc_id
                        AND c.seq > CASE WHEN f.since_seq > ?5 THEN 0 ELSE ?5 END
                        AND (c.device_id IS NULL OR c.device_id IS NOT ?4)) END
                 FROM feed f JOIN docs d ON d.id = f.doc_id
                 WHERE f.feed = ?1 AND f.last_seq > ?2 ORDER BY f.last_seq LIMIT +?3",
            )?
            .query_map(
                params![
                    feed,
                    cursor,
                    i64::try_from(limit).unwrap_or(i64::MAX),
                    device,
                    base
                ],
                |r| {
                    Ok(Candidate {
                        doc_id: r.get(0)?,
                        last_seq: r.get(1)?,
                        since_seq: r.get(2)?,
                        kind: r.get(3)?,
                        scope: r.get(4)?,
                        from_others: Some(r.get(5)?),
                    })
                },
            )?
            .collect()
    }

    async fn data(
        &mut self,
        chunk: &[Candidate],
        base: i64,
        _device: Option<&str>,
    ) -> rusqlite::Result<std::collections::HashMap<String, Sent>> {
        let mut out = std::collections::HashMap::new();
        for c in chunk.iter().filter(|c| c.from_others != Some(false)) {
            let sent = if c.whole(base) {
                Sent {
                    data: doc_bytes(self.tx, &c.doc_id)?,
                    listing: current_listing(self.tx, &c.doc_id)?,
                }
            } else {
                let mut d = Vec::new();
                append_changes_after(self.tx, &c.doc_id, base, &mut d)?;
                Sent {
                    data: d,
                    listing: None,
                }
            };
            out.insert(c.doc_id.clone(), sent);
        }
        Ok(out)
    }

    async fn departures(
        &mut self,
        feed: &str,
        after: i64,
        upto: i64,
    ) -> rusqlite::Result<Vec<String>> {
        self.tx
            .prepare_cached("SELECT doc_id FROM departures WHERE feed = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq")?
            .query_map(params![feed, after, upto], |r| r.get(0))?
            .collect()
    }

    async fn remaining(&mut self, feed: &str, after: i64) -> rusqlite::Result<u64> {
        let n: i64 = self
            .tx
            .prepare_cached("SELECT count(*) FROM feed WHERE feed = ?1 AND last_seq > ?2")?
            .query_row(params![feed, after], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn pull_blocking(
    conn: &mut Connection,
    feeds: Vec<FeedCursor>,
    limits: PullLimits,
    device: Option<String>,
) -> rusqlite::Result<PullPage> {
    // One read transaction: every feed is read from the same snapshot.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
    // SqlitePull's queries never wait: its futures are ready when polled.
    let page = futures_executor::block_on(super::pull::page(
        &mut SqlitePull { tx: &tx },
        feeds,
        limits,
        device.as_deref(),
    ))?;
    tx.commit()?;
    Ok(page)
}

/// Copy the WAL into the database file, off the request path (PASSIVE:
/// never waits for readers or writers). The next writer starts the WAL
/// over only once a checkpoint got through every frame; until then it
/// keeps growing, and commits with it, so try again while other writers
/// are still adding frames. (Inside a commit, SQLite's own checkpoint at
/// 1,000 pages made whichever push crossed it wait ~15 ms more.)
async fn checkpoint_wal(pool: &Pool) {
    for _ in 0..CHECKPOINT_TRIES {
        let done = db::run(pool, |conn| {
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok(r.get::<_, i64>(2)? >= r.get::<_, i64>(1)?)
            })
        })
        .await;
        match done {
            Ok(true) => return,
            Ok(false) => tokio::time::sleep(CHECKPOINT_RETRY).await,
            Err(e) => {
                tracing::warn!(error = %e, "background WAL checkpoint failed");
                return;
            }
        }
    }
}

#[async_trait]
impl DocStore for SqliteDocStore {
    async fn push(
        &self,
        changes: Vec<IncomingChange>,
        user_id: Option<String>,
        device_id: Option<String>,
        guard: Box<dyn WriteGuard>,
    ) -> Result<PushOutcome, StoreError> {
        let (cache, writer) = (self.cache.clone(), self.writer.clone());
        let (outcome, compact) = db::run(&self.pool, move |conn| {
            push_blocking(
                conn,
                &cache,
                &writer,
                changes,
                user_id,
                device_id,
                guard.as_ref(),
            )
        })
        .await?;
        // After the response: compaction of the documents this push left
        // with many loose changes, then a WAL checkpoint.
        let checkpoint = outcome.stored > 0;
        if checkpoint || !compact.is_empty() {
            let (pool, cache, writer, flag) = (
                self.pool.clone(),
                self.cache.clone(),
                self.writer.clone(),
                self.checkpointing.clone(),
            );
            tokio::spawn(async move {
                if !compact.is_empty()
                    && let Err(e) = db::run(&pool, move |conn| {
                        compact_blocking(conn, &cache, &writer, &compact)
                    })
                    .await
                {
                    tracing::warn!(error = %e, "background compaction failed; will retry on a later push");
                }
                if checkpoint && !flag.swap(true, Ordering::AcqRel) {
                    checkpoint_wal(&pool).await;
                    flag.store(false, Ordering::Release);
                }
            });
        }
        Ok(outcome)
    }

    async fn pull(
        &self,
        feeds: Vec<FeedCursor>,
        limits: PullLimits,
        device: Option<String>,
    ) -> Result<PullPage, StoreError> {
        db::run(&self.pool, move |conn| {
            pull_blocking(conn, feeds, limits, device)
        })
        .await
    }

    async fn load(&self, doc_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let id = doc_id.to_string();
        let cache = self.cache.clone();
        db::run(&self.pool, move |conn| {
            let Some(row) = doc_row(conn, &id)? else {
                return Ok(None);
            };
            Ok(Some(
                load_doc(conn, &cache, &id, row.last_seq, Use::Copy)?.save(),
            ))
        })
        .await
    }

    async fn documents(&self, ids: Vec<String>) -> Result<Vec<(String, Automerge)>, StoreError> {
        let cache = self.cache.clone();
        db::run(&self.pool, move |conn| {
            let read = conn.transaction()?;
            let mut docs = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(row) = doc_row(&read, &id)? {
                    let doc = load_doc(&read, &cache, &id, row.last_seq, Use::Copy)?;
                    docs.push((id, doc));
                }
            }
            read.commit()?;
            Ok(docs)
        })
        .await
    }

    async fn facts(&self, doc_id: &str) -> Result<Option<DocFacts>, StoreError> {
        let id = doc_id.to_string();
        db::run(&self.pool, move |conn| {
            Ok(doc_row(conn, &id)?.map(|r| r.facts))
        })
        .await
    }

    async fn max_seq(&self) -> Result<i64, StoreError> {
        db::run(&self.pool, |conn| log_end_of(conn)).await
    }

    async fn log_after(
        &self,
        after: i64,
        limit: usize,
        kind: Option<&str>,
    ) -> Result<LogSlice, StoreError> {
        let kind = kind.map(str::to_owned);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        db::run(&self.pool, move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let end = log_end_of(&tx)?;
            let entries = tx
                .prepare_cached(
                    "SELECT c.seq, c.doc_id, c.user_id, c.device_id, c.received_at FROM changes c
                     WHERE c.seq > ?1 AND c.seq <= ?2
                       AND (?3 IS NULL OR c.doc_id IN (SELECT id FROM docs WHERE kind = ?3))
                     ORDER BY c.seq LIMIT +?4",
                )?
                .query_map(params![after, end, kind, limit], |r| {
                    Ok(LogEntry {
                        seq: r.get(0)?,
                        doc_id: r.get(1)?,
                        user_id: r.get(2)?,
                        device_id: r.get(3)?,
                        received_at: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            tx.commit()?;
            Ok(LogSlice { entries, end })
        })
        .await
    }

    async fn pushers(&self, doc_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let id = doc_id.to_string();
        db::run(&self.pool, move |conn| {
            conn.prepare_cached(
                "SELECT hash, user_id FROM changes WHERE doc_id = ?1 AND user_id IS NOT NULL",
            )?
            .query_map([id], |r| {
                Ok((hex::encode(r.get::<_, Vec<u8>>(0)?), r.get::<_, String>(1)?))
            })?
            .collect()
        })
        .await
    }

    async fn log_mark(&self) -> Result<LogMark, StoreError> {
        db::run(&self.pool, |conn| {
            let generation: String = conn
                .prepare_cached("SELECT generation FROM log_generation WHERE id = 1")?
                .query_row([], |r| r.get(0))?;
            let tip: Option<(i64, Vec<u8>)> = conn
                .prepare_cached("SELECT seq, hash FROM changes ORDER BY seq DESC LIMIT 1")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (end, tip) = tip.map_or((0, String::new()), |(s, h)| (s, hex::encode(h)));
            Ok(LogMark {
                generation,
                end,
                tip,
            })
        })
        .await
    }

    async fn change_at(&self, seq: i64) -> Result<Option<String>, StoreError> {
        db::run(&self.pool, move |conn| {
            Ok(conn
                .prepare_cached("SELECT hash FROM changes WHERE seq = ?1")?
                .query_row([seq], |r| r.get::<_, Vec<u8>>(0))
                .optional()?
                .map(hex::encode))
        })
        .await
    }

    async fn renew_generation(&self, old: &str) -> Result<String, StoreError> {
        let (old, new) = (old.to_string(), super::new_generation());
        let writer = self.writer.clone();
        db::run(&self.pool, move |conn| {
            let _writing = writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            conn.prepare_cached(
                "UPDATE log_generation SET generation = ?2 WHERE id = 1 AND generation = ?1",
            )?
            .execute(params![old, new])?;
            conn.prepare_cached("SELECT generation FROM log_generation WHERE id = 1")?
                .query_row([], |r| r.get(0))
        })
        .await
    }
}

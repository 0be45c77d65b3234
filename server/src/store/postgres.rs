//! The PostgreSQL [`DocStore`]: several stateless server processes share one
//! database. It behaves as the SQLite store ([`super::sqlite`]) does, and
//! runs the same conformance suite.
//!
//! **Sequence numbers.** A device keeps a cursor per feed and asks for what
//! came after it, so the log must never show a change with a smaller `seq`
//! *after* a pull already moved a cursor past it. A PostgreSQL sequence
//! cannot promise that: two pushes take numbers 7 and 8, the one holding 8
//! commits first, a pull reads up to 8, then 7 commits and is never sent.
//! (A sequence also leaves gaps on rollback.) So every push transaction
//! first takes one transaction-level advisory lock
//! (`pg_advisory_xact_lock(PUSH_LOCK)`) and numbers its changes
//! `max(seq) + 1, + 2, …` while holding it. Pushes therefore commit one at a
//! time, in `seq` order, and PostgreSQL makes a commit visible before it
//! releases the transaction's locks: every snapshot holds exactly a prefix
//! `1..=max(seq)` of the log, without gaps. The push runs at READ
//! COMMITTED so that its statements after the lock see the previous
//! holder's commit (a REPEATABLE READ snapshot would be taken before the
//! wait). A pull reads every feed in one REPEATABLE READ transaction,
//! hence from one such prefix.
//!
//! Loaded documents are kept in a bounded LRU cache, each tagged with the
//! `last_seq` it reflects; an entry is used only while that still matches
//! the database row, so a process never serves a document another process
//! changed since.
//!
//! Automerge work (applying, checking, saving) runs on the async thread of
//! the request, as documents are small (one household), and before the push
//! lock is taken: under the lock only documents changed meanwhile are
//! decided again, so pushes serialize on database round trips alone.
//!
//! **Per-document lookups over an array** (`unnest($1, $2)`: a pull's 250
//! documents, a push's 5,000 change keys) are written as `LATERAL`
//! subqueries fenced with `LIMIT`/`OFFSET 0`, so that each is an index
//! lookup whatever the planner believes. Right after a bulk push the log
//! has no statistics yet (autovacuum analyses it a minute or more later),
//! and a plain join was planned as a hash join over a sequential scan of
//! the whole change log for every chunk: 20–35 ms per 250 documents
//! instead of ~3, growing with the log.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use automerge::Automerge;
use deadpool_postgres::{GenericClient, Pool};
use lru::LruCache;
use tokio_postgres::IsolationLevel;

use super::pull::{Candidate, Sent};
use super::push::Planned;
use super::{
    DocFacts, DocStore, FeedCursor, IncomingChange, LogEntry, LogMark, LogSlice, PullLimits,
    PullPage, PushOutcome, StoreError, Use, WriteGuard,
};
use crate::db::DbError;
use crate::pg::{self, err, execute, pool_err, query, query_one, query_opt};

/// Fold a document's changes into a fresh snapshot once this many gathered.
const COMPACT_AFTER: i64 = 32;
/// After a push, documents with at least this many loose changes are
/// compacted in the background, so the next pull ships a small snapshot.
const COMPACT_SOON: i64 = 4;
/// Documents compacted per read snapshot and UPDATE.
const COMPACT_CHUNK: usize = 100;
/// Documents kept loaded.
const CACHE_DOCS: usize = 1024;

type Cache = super::DocCache;

/// Documents and the change log in a PostgreSQL database.
#[derive(Clone)]
pub struct PgDocStore {
    pool: Pool,
    cache: Cache,
}

impl PgDocStore {
    /// A store over a pool on a migrated database (see [`crate::pg::open`]).
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            cache: Arc::new(Mutex::new(LruCache::new(
                NonZeroUsize::new(CACHE_DOCS).unwrap_or(NonZeroUsize::MIN),
            ))),
        }
    }
}

struct DocRow {
    facts: DocFacts,
    last_seq: i64,
    loose: i64,
}

/// The row of a document; `lock` takes its row lock (inside a push, so a
/// background compaction cannot interleave).
async fn doc_row<C: GenericClient>(
    c: &C,
    id: &str,
    lock: bool,
) -> Result<Option<DocRow>, tokio_postgres::Error> {
    let sql = if lock {
        "SELECT kind, scope, holder, last_seq, loose FROM docs WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT kind, scope, holder, last_seq, loose FROM docs WHERE id = $1"
    };
    Ok(query_opt(c, sql, &[&id]).await?.map(|r| DocRow {
        facts: DocFacts {
            kind: r.get(0),
            scope: r.get(1),
            holder: r.get(2),
            departments: Vec::new(),
            listing: None,
        },
        last_seq: r.get(3),
        loose: r.get(4),
    }))
}

/// The rows of pushed documents `$1`, taking their row locks (in id
/// order, so concurrent pushes cannot deadlock) so that a background
/// compaction cannot interleave.
const DOC_ROWS_LOCKED: &str = "SELECT id, kind, scope, holder, last_seq, loose FROM docs
     WHERE id = ANY($1) ORDER BY id FOR UPDATE";

/// A row of [`DOC_ROWS_LOCKED`] (or of its unlocked form).
fn doc_row_of(r: &tokio_postgres::Row) -> (String, DocRow) {
    (
        r.get(0),
        DocRow {
            facts: DocFacts {
                kind: r.get(1),
                scope: r.get(2),
                holder: r.get(3),
                departments: Vec::new(),
                listing: None,
            },
            last_seq: r.get(4),
            loose: r.get(5),
        },
    )
}

/// The rows of many documents in one round trip.
async fn doc_rows<C: GenericClient>(
    c: &C,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, DocRow>, tokio_postgres::Error> {
    Ok(query(
        c,
        "SELECT id, kind, scope, holder, last_seq, loose FROM docs WHERE id = ANY($1)",
        &[&ids],
    )
    .await?
    .iter()
    .map(doc_row_of)
    .collect())
}

/// Everything stored of a document: snapshot and later changes, concatenated.
async fn doc_bytes<C: GenericClient>(c: &C, id: &str) -> Result<Vec<u8>, tokio_postgres::Error> {
    let row = query_one(
        c,
        "SELECT snapshot, snapshot_seq FROM docs WHERE id = $1",
        &[&id],
    )
    .await?;
    let snapshot: Option<Vec<u8>> = row.get(0);
    let snapshot_seq: i64 = row.get(1);
    let mut bytes = snapshot.unwrap_or_default();
    append_changes_after(c, id, snapshot_seq, &mut bytes).await?;
    Ok(bytes)
}

async fn append_changes_after<C: GenericClient>(
    c: &C,
    id: &str,
    after: i64,
    out: &mut Vec<u8>,
) -> Result<(), tokio_postgres::Error> {
    let rows = query(
        c,
        "SELECT data FROM changes WHERE doc_id = $1 AND seq > $2 ORDER BY seq",
        &[&id, &after],
    )
    .await?;
    for row in rows {
        out.extend_from_slice(row.get::<_, &[u8]>(0));
    }
    Ok(())
}

fn corrupt(id: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Task(format!("stored document {id} cannot be loaded: {e}"))
}

/// The document as of `last_seq`: from the cache if it holds exactly that
/// version, else from the database.
async fn load_doc<C: GenericClient>(
    c: &C,
    cache: &Cache,
    id: &str,
    last_seq: i64,
    usage: Use,
) -> Result<Automerge, DbError> {
    if let Some(doc) = super::cached_doc(cache, id, last_seq, usage) {
        return Ok(doc);
    }
    let bytes = doc_bytes(c, id).await.map_err(err)?;
    Automerge::load(&bytes).map_err(|e| corrupt(id, e))
}

/// The rows a push writes, gathered so that the whole push is written in
/// a handful of statements under the push lock rather than several round
/// trips per change and per document (which, with the lock held, bounded
/// the throughput of every process at a shift end).
#[derive(Default)]
struct Writes {
    /// Change log rows: seq, doc, hash, data.
    seqs: Vec<i64>,
    change_docs: Vec<String>,
    hashes: Vec<Vec<u8>>,
    data: Vec<Vec<u8>>,
    /// Document rows: id, kind, scope, holder, loose, last_seq.
    ids: Vec<String>,
    kinds: Vec<String>,
    scopes: Vec<String>,
    holders: Vec<Option<String>>,
    loose: Vec<i64>,
    last_seqs: Vec<i64>,
    /// A fresh snapshot of the document, replacing its loose changes.
    snapshots: Vec<Option<Vec<u8>>>,
    /// List rows derived by validation: (doc, last_seq, rows).
    listings: (Vec<String>, Vec<i64>, Vec<Vec<u8>>),
    /// Feeds a document stays in: (feed, doc, last_seq).
    stay: (Vec<String>, Vec<String>, Vec<i64>),
    /// Feeds a document enters: (feed, doc, last_seq, since_seq).
    enter: (Vec<String>, Vec<String>, Vec<i64>, Vec<i64>),
    /// Feeds a document leaves: (feed, doc, seq).
    leave: (Vec<String>, Vec<String>, Vec<i64>),
}

impl Writes {
    /// Keep the feed rows of a document in step with its facts: it enters
    /// the feeds it now belongs to and departs the ones it left.
    fn feeds(
        &mut self,
        doc_id: &str,
        before: Option<&DocFacts>,
        after: &DocFacts,
        first_new_seq: i64,
        last_seq: i64,
    ) {
        let old: Vec<String> = before.map(DocFacts::feeds).unwrap_or_default();
        let new = after.feeds();
        for feed in old.iter().filter(|f| !new.contains(f)) {
            self.leave.0.push(feed.clone());
            self.leave.1.push(doc_id.to_owned());
            self.leave.2.push(last_seq);
        }
        for feed in new {
            if old.contains(&feed) {
                self.stay.0.push(feed);
                self.stay.1.push(doc_id.to_owned());
                self.stay.2.push(last_seq);
            } else {
                self.enter.0.push(feed);
                self.enter.1.push(doc_id.to_owned());
                self.enter.2.push(last_seq);
                self.enter.3.push(first_new_seq);
            }
        }
    }

    /// Write every row of the push: the statements are prepared first
    /// (once per connection) and then sent together, in this order, and
    /// answered together: one round trip under the push lock instead of
    /// one per statement. They touch different rows (a document's feed
    /// rows are in exactly one of leave, stay and enter), so no statement
    /// depends on another's result.
    async fn write(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        user_id: &Option<String>,
        device_id: &Option<String>,
        now: i64,
    ) -> Result<(), tokio_postgres::Error> {
        if self.seqs.is_empty() {
            return Ok(());
        }
        let (
            changes,
            docs,
            leave_feed,
            leave_departure,
            stay,
            enter_departure,
            enter_feed,
            listings,
        ) = tokio::try_join!(
            tx.prepare_cached(writes::CHANGES),
            tx.prepare_cached(writes::DOCS),
            tx.prepare_cached(writes::LEAVE_FEED),
            tx.prepare_cached(writes::LEAVE_DEPARTURE),
            tx.prepare_cached(writes::STAY),
            tx.prepare_cached(writes::ENTER_DEPARTURE),
            tx.prepare_cached(writes::ENTER_FEED),
            tx.prepare_cached(writes::LISTINGS),
        )?;
        let hashes: Vec<&[u8]> = self.hashes.iter().map(Vec::as_slice).collect();
        let data: Vec<&[u8]> = self.data.iter().map(Vec::as_slice).collect();
        let snapshots: Vec<Option<&[u8]>> = self.snapshots.iter().map(Option::as_deref).collect();
        let some = |rows: &Vec<String>| !rows.is_empty();
        // `biased`: polled, hence sent, in the order written.
        tokio::try_join!(
            biased;
            async {
                tx.execute(
                    &changes,
                    &[&self.seqs, &self.change_docs, &hashes, &data, user_id, device_id, &now],
                )
                .await
            },
            async {
                tx.execute(
                    &docs,
                    &[
                        &self.ids,
                        &self.kinds,
                        &self.scopes,
                        &self.holders,
                        &self.loose,
                        &self.last_seqs,
                        &snapshots,
                        &now,
                        device_id,
                    ],
                )
                .await
            },
            async {
                if some(&self.leave.0) {
                    tx.execute(&leave_feed, &[&self.leave.0, &self.leave.1]).await
                } else {
                    Ok(0)
                }
            },
            async {
                if some(&self.leave.0) {
                    tx.execute(&leave_departure, &[&self.leave.0, &self.leave.1, &self.leave.2])
                        .await
                } else {
                    Ok(0)
                }
            },
            async {
                if some(&self.stay.0) {
                    tx.execute(&stay, &[&self.stay.0, &self.stay.1, &self.stay.2]).await
                } else {
                    Ok(0)
                }
            },
            async {
                if some(&self.enter.0) {
                    tx.execute(&enter_departure, &[&self.enter.0, &self.enter.1]).await
                } else {
                    Ok(0)
                }
            },
            async {
                if some(&self.enter.0) {
                    tx.execute(
                        &enter_feed,
                        &[&self.enter.0, &self.enter.1, &self.enter.2, &self.enter.3],
                    )
                    .await
                } else {
                    Ok(0)
                }
            },
            async {
                if some(&self.listings.0) {
                    tx.execute(
                        &listings,
                        &[&self.listings.0, &self.listings.1, &self.listings.2],
                    )
                    .await
                } else {
                    Ok(0)
                }
            },
        )?;
        Ok(())
    }
}

/// The statements of [`Writes::write`].
mod writes {
    /// The change log rows.
    pub(super) const CHANGES: &str =
        "INSERT INTO changes (seq, doc_id, hash, data, user_id, device_id, received_at)
         SELECT s, d, h, x, $5, $6, $7
         FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bytea[]) AS t(s, d, h, x)";
    /// The document rows; a fresh snapshot (`$7`, not null) replaces the
    /// loose changes it holds.
    pub(super) const DOCS: &str =
        "INSERT INTO docs (id, kind, scope, holder, snapshot, snapshot_seq, loose, last_seq,
            updated_at, writer, writer_after)
         SELECT i, k, s, h, x, CASE WHEN x IS NULL THEN 0 ELSE q END,
            CASE WHEN x IS NULL THEN l ELSE 0 END, q, $8, $9, 0
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
            $7::bytea[]) AS t(i, k, s, h, l, q, x)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, scope = excluded.scope,
            holder = excluded.holder,
            snapshot = coalesce(excluded.snapshot, docs.snapshot),
            snapshot_seq = CASE WHEN excluded.snapshot IS NULL THEN docs.snapshot_seq
                ELSE excluded.snapshot_seq END,
            loose = excluded.loose, last_seq = excluded.last_seq,
            updated_at = excluded.updated_at, writer = excluded.writer,
            writer_after = CASE WHEN docs.writer IS NOT DISTINCT FROM excluded.writer
                THEN docs.writer_after ELSE docs.last_seq END";
    /// Feeds documents left.
    pub(super) const LEAVE_FEED: &str =
        "DELETE FROM feed f USING unnest($1::text[], $2::text[]) AS t(feed, doc)
         WHERE f.feed = t.feed AND f.doc_id = t.doc";
    pub(super) const LEAVE_DEPARTURE: &str = "INSERT INTO departures (feed, doc_id, seq)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
         ON CONFLICT (feed, doc_id) DO UPDATE SET seq = excluded.seq";
    /// Feeds documents stay in.
    pub(super) const STAY: &str = "UPDATE feed f SET last_seq = t.last_seq
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(feed, doc, last_seq)
         WHERE f.feed = t.feed AND f.doc_id = t.doc";
    /// Feeds documents enter.
    pub(super) const ENTER_DEPARTURE: &str =
        "DELETE FROM departures d USING unnest($1::text[], $2::text[]) AS t(feed, doc)
         WHERE d.feed = t.feed AND d.doc_id = t.doc";
    /// List rows derived by validation, at the document's new `last_seq`.
    pub(super) const LISTINGS: &str = "INSERT INTO listings (doc_id, seq, data)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])
         ON CONFLICT (doc_id) DO UPDATE SET seq = excluded.seq, data = excluded.data";
    pub(super) const ENTER_FEED: &str = "INSERT INTO feed (feed, doc_id, last_seq, since_seq)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
         ON CONFLICT (feed, doc_id) DO UPDATE SET last_seq = excluded.last_seq,
            since_seq = excluded.since_seq";
}

impl PgDocStore {
    async fn push_tx(
        &self,
        incoming: Vec<IncomingChange>,
        user_id: Option<String>,
        device_id: Option<String>,
        guard: &dyn WriteGuard,
    ) -> Result<(PushOutcome, Vec<String>), DbError> {
        let mut outcome = PushOutcome::default();
        let groups = super::push::group(incoming, &mut outcome.rejected);
        if groups.is_empty() {
            return Ok((outcome, Vec::new()));
        }
        let mut compact_soon = Vec::new();
        let mut client = self.pool.get().await.map_err(pool_err)?;
        // Decide before taking the push lock, so the Automerge work and the
        // validation of one push run while others commit; under the lock a
        // document is decided again only if a push changed it meanwhile
        // (its `last_seq` moved).
        let mut planned = Vec::with_capacity(groups.len());
        let ids: Vec<&str> = groups.iter().map(|(id, _)| id.as_str()).collect();
        let mut rows = doc_rows(&client, &ids).await.map_err(err)?;
        for (doc_id, changes) in groups {
            let row = rows.remove(&doc_id);
            let working = match &row {
                Some(r) => load_doc(&client, &self.cache, &doc_id, r.last_seq, Use::Take).await?,
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
        let decided = super::push::decide_all(planned, guard);
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(err)?;
        let ids: Vec<&str> = decided.iter().map(|e| e.doc_id.as_str()).collect();
        // Changes of a document already in its log are duplicates (a
        // concurrent push of the same changes stored them first). Asked
        // for the changes decided on documents the server already held; a
        // document new to the server has no log yet (its row and its
        // first changes are written by one push), and one decided again
        // below is asked about then.
        let mut keys: (Vec<&str>, Vec<&[u8]>) = (Vec::new(), Vec::new());
        for early in decided.iter().filter(|e| !e.was_new()) {
            for c in early.accepted() {
                keys.0.push(early.doc_id.as_str());
                keys.1.push(c.hash.as_ref());
            }
        }
        // The statements are prepared first (once per connection), then
        // sent together and answered together, in the order written: the
        // lock, then what is read under it, in one round trip. PostgreSQL
        // runs them one after the other, so at READ COMMITTED the reads
        // take their snapshots after the lock is granted.
        let (lock_stmt, end_stmt, rows_stmt, known_stmt) = tokio::try_join!(
            tx.prepare_cached("SELECT pg_advisory_xact_lock($1)"),
            tx.prepare_cached("SELECT coalesce(max(seq), 0) FROM changes"),
            tx.prepare_cached(DOC_ROWS_LOCKED),
            tx.prepare_cached(lookups::KNOWN),
        )
        .map_err(err)?;
        let asked = Instant::now();
        let mut locked = asked;
        // Serializes pushes until commit: see the module docs.
        let (_, end, locked_rows, known_rows) = tokio::try_join!(
            biased;
            async {
                let granted = tx.execute(&lock_stmt, &[&pg::PUSH_LOCK]).await;
                locked = Instant::now();
                granted
            },
            tx.query_one(&end_stmt, &[]),
            async { tx.query(&rows_stmt, &[&ids]).await },
            async {
                if keys.0.is_empty() {
                    Ok(Vec::new())
                } else {
                    tx.query(&known_stmt, &[&keys.0, &keys.1]).await
                }
            },
        )
        .map_err(err)?;
        let mut next_seq = end.get::<_, i64>(0) + 1;
        let mut known: std::collections::HashMap<String, std::collections::HashSet<Vec<u8>>> =
            Default::default();
        for r in &known_rows {
            known.entry(r.get(0)).or_default().insert(r.get(1));
        }
        let mut rows: std::collections::HashMap<String, DocRow> =
            locked_rows.iter().map(doc_row_of).collect();
        let mut updated: Vec<(String, i64, Automerge)> = Vec::new();
        let now = gridsync_core::clock::Clock::System.now_ms();
        let mut decisions = Vec::with_capacity(decided.len());
        let mut again: (Vec<String>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
        for early in decided {
            let doc_id = early.doc_id.clone();
            let row = rows.remove(&doc_id);
            let decision = match early.confirm(row.as_ref().map(|r| r.last_seq)) {
                Ok(d) => d,
                Err(redo) => {
                    let working = match &row {
                        Some(r) => {
                            load_doc(&tx, &self.cache, &doc_id, r.last_seq, Use::Take).await?
                        }
                        None => Automerge::new(),
                    };
                    let before = row.as_ref().map(|r| &r.facts);
                    let d = redo.decide(&doc_id, working, before, guard);
                    if row.is_some() {
                        for c in &d.accepted {
                            again.0.push(doc_id.clone());
                            again.1.push(c.hash.as_ref().to_vec());
                        }
                    }
                    d
                }
            };
            decisions.push((doc_id, row, decision));
        }
        if !again.0.is_empty() {
            for r in query(&tx, lookups::KNOWN, &[&again.0, &again.1])
                .await
                .map_err(err)?
            {
                known.entry(r.get(0)).or_default().insert(r.get(1));
            }
        }
        let mut w = Writes::default();
        for (doc_id, row, decision) in decisions {
            outcome.duplicates += decision.duplicates;
            outcome.rejected.extend(decision.rejected);
            let (working, accepted, facts) = (decision.working, decision.accepted, decision.facts);
            let Some(facts) = facts else {
                // Nothing stored: the document as it was goes back.
                if let Some(r) = &row {
                    updated.push((doc_id, r.last_seq, working));
                }
                continue;
            };
            let mut last_seq = 0;
            let mut first_new_seq = None;
            let count = accepted.len() as i64;
            let stored = known.get(&doc_id);
            for change in accepted {
                let hash = change.hash.as_ref();
                if stored.is_some_and(|s| s.contains(hash)) {
                    outcome.duplicates += 1;
                    continue;
                }
                last_seq = next_seq;
                next_seq += 1;
                first_new_seq.get_or_insert(last_seq);
                outcome.stored += 1;
                w.seqs.push(last_seq);
                w.change_docs.push(doc_id.clone());
                w.hashes.push(hash.to_vec());
                w.data.push(change.data);
            }
            let Some(first_new_seq) = first_new_seq else {
                continue;
            };
            let loose = row.as_ref().map_or(0, |r| r.loose) + count;
            let before = row.map(|r| r.facts);
            w.feeds(&doc_id, before.as_ref(), &facts, first_new_seq, last_seq);
            w.ids.push(doc_id.clone());
            if let Some(listing) = facts.listing {
                w.listings.0.push(doc_id.clone());
                w.listings.1.push(last_seq);
                w.listings.2.push(listing);
            }
            w.kinds.push(facts.kind);
            w.scopes.push(facts.scope);
            w.holders.push(facts.holder);
            w.loose.push(loose);
            w.last_seqs.push(last_seq);
            if loose >= COMPACT_AFTER {
                w.snapshots.push(Some(working.save()));
            } else {
                w.snapshots.push(None);
                if loose >= COMPACT_SOON {
                    compact_soon.push(doc_id.clone());
                }
            }
            updated.push((doc_id, last_seq, working));
        }
        w.write(&tx, &user_id, &device_id, now).await.map_err(err)?;
        tx.commit().await.map_err(err)?;
        // What one push costs every other: how long it held the lock that
        // serializes pushes across all processes (ADR 0005), and how long
        // it waited for it. At debug level; the load bench reads it.
        let released = Instant::now();
        tracing::debug!(
            held_us = u64::try_from((released - locked).as_micros()).unwrap_or(u64::MAX),
            waited_us = u64::try_from((locked - asked).as_micros()).unwrap_or(u64::MAX),
            changes = outcome.stored,
            docs = w.ids.len(),
            "push lock released"
        );
        super::cache_docs(&self.cache, updated);
        // Refusals in push order, however they were found.
        outcome.rejected.sort_by_key(|r| r.index);
        Ok((outcome, compact_soon))
    }

    /// Fold the loose changes of `ids` into fresh snapshots, each read in
    /// one snapshot and written only if the document did not change since.
    async fn compact(&self, ids: &[String]) -> Result<(), DbError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        // A chunk at a time: one read snapshot and one UPDATE per chunk
        // (a grid's push leaves ~500 documents to compact; one by one that
        // was ~2,000 round trips, and a fresh phone pulling soon after got
        // the documents uncompacted).
        for chunk in ids.chunks(COMPACT_CHUNK) {
            let tx = snapshot(&mut client).await?;
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let rows = doc_rows(&tx, &refs).await.map_err(err)?;
            let mut docs = Vec::with_capacity(rows.len());
            for (id, row) in rows {
                if row.loose > 0 {
                    let doc = load_doc(&tx, &self.cache, &id, row.last_seq, Use::Copy).await?;
                    docs.push((id, row.last_seq, doc));
                }
            }
            tx.commit().await.map_err(err)?;
            if docs.is_empty() {
                continue;
            }
            // Saving is CPU work: off the async threads, on all cores.
            let saved = tokio::task::spawn_blocking(move || {
                use rayon::prelude::*;
                docs.into_par_iter()
                    .map(|(id, seq, doc)| (id, doc.save(), seq))
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| DbError::Task(e.to_string()))?;
            let ids: Vec<&str> = saved.iter().map(|(id, _, _)| id.as_str()).collect();
            let snapshots: Vec<&[u8]> = saved.iter().map(|(_, s, _)| s.as_slice()).collect();
            let seqs: Vec<i64> = saved.iter().map(|(_, _, q)| *q).collect();
            // Written only where the document did not change meanwhile.
            execute(
                &client,
                "UPDATE docs d SET snapshot = t.snapshot, snapshot_seq = t.seq, loose = 0
                 FROM unnest($1::text[], $2::bytea[], $3::bigint[]) AS t(id, snapshot, seq)
                 WHERE d.id = t.id AND d.last_seq = t.seq",
                &[&ids, &snapshots, &seqs],
            )
            .await
            .map_err(err)?;
        }
        Ok(())
    }

    async fn pull_tx(
        &self,
        feeds: Vec<FeedCursor>,
        limits: PullLimits,
        device: Option<String>,
    ) -> Result<PullPage, DbError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        // One snapshot for every feed: a prefix 1..=max of the log.
        let tx = snapshot(&mut client).await?;
        let page = super::pull::page(&mut PgPull { tx: &tx }, feeds, limits, device.as_deref())
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(page)
    }
}

/// The per-document lookups over arrays (see the module docs), public for
/// the test that checks their plans on a log without statistics.
#[doc(hidden)]
pub mod lookups {
    /// Which of the pushed (document, hash) pairs `$1`, `$2` are in the log.
    pub const KNOWN: &str = "SELECT k.d, k.h FROM unnest($1::text[], $2::bytea[]) AS k(d, h)
         CROSS JOIN LATERAL (SELECT 1 FROM changes c
            WHERE c.doc_id = k.d AND c.hash = k.h LIMIT 1) AS found";
    /// Which documents `$1` have a change after `$2` from a device other
    /// than `$3`: those whose latest change after `$2` is another
    /// device's (known from `docs` alone), not those whose latest run of
    /// changes is `$3`'s, and otherwise as the log says.
    pub const WANTED: &str = "SELECT t.id FROM unnest($1::text[], $2::bigint[]) AS t(id, after)
         CROSS JOIN LATERAL (SELECT d.writer, d.writer_after, d.last_seq FROM docs d
            WHERE d.id = t.id OFFSET 0) AS d
         WHERE CASE WHEN d.writer IS NOT NULL AND d.writer IS DISTINCT FROM $3
                AND d.last_seq > t.after THEN true
            WHEN d.writer = $3 AND d.writer_after <= t.after THEN false
            ELSE EXISTS (SELECT 1 FROM changes c WHERE c.doc_id = t.id AND c.seq > t.after
                AND (c.device_id IS NULL OR c.device_id IS DISTINCT FROM $3)) END";
    /// Documents `$1` as stored (snapshot and its position), with their
    /// list rows if derived from their latest version.
    pub const WHOLE: &str = "SELECT d.id, d.snapshot, d.snapshot_seq, l.data
         FROM unnest($1::text[]) AS t(id)
         CROSS JOIN LATERAL (SELECT d.id, d.snapshot, d.snapshot_seq, d.last_seq FROM docs d
            WHERE d.id = t.id OFFSET 0) AS d
         LEFT JOIN LATERAL (SELECT l.data FROM listings l
            WHERE l.doc_id = d.id AND l.seq = d.last_seq OFFSET 0) AS l ON true";
    /// The changes of documents `$1` after `$2`, each document's in order.
    pub const CHANGES_AFTER: &str = "SELECT t.id, c.data
         FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS t(id, after, n)
         CROSS JOIN LATERAL (SELECT c.data, c.seq FROM changes c
            WHERE c.doc_id = t.id AND c.seq > t.after ORDER BY c.seq OFFSET 0) AS c
         ORDER BY t.n, c.seq";
}

/// Documents read per chunk of a pull page.
const PULL_CHUNK: usize = 250;

/// What a device lacks of each document of `chunk`: everything after
/// `base` (the whole document if it entered the feed after `base`, see
/// `Position`), for the documents with at least one such change from
/// another device; the others are left out.
async fn chunk_data<C: GenericClient>(
    tx: &C,
    chunk: &[Candidate],
    base: i64,
    device: &Option<String>,
) -> Result<std::collections::HashMap<String, Sent>, tokio_postgres::Error> {
    let whole = |c: &Candidate| c.whole(base);
    let ids: Vec<&str> = chunk.iter().map(|c| c.doc_id.as_str()).collect();
    let afters: Vec<i64> = chunk
        .iter()
        .map(|c| if whole(c) { 0 } else { base })
        .collect();
    let wanted: std::collections::HashSet<String> =
        query(tx, lookups::WANTED, &[&ids, &afters, device])
            .await?
            .into_iter()
            .map(|r| r.get(0))
            .collect();
    let mut out: std::collections::HashMap<String, Sent> = Default::default();
    let mut from: std::collections::HashMap<String, i64> = Default::default();
    let whole_ids: Vec<&str> = chunk
        .iter()
        .filter(|c| whole(c) && wanted.contains(&c.doc_id))
        .map(|c| c.doc_id.as_str())
        .collect();
    if !whole_ids.is_empty() {
        // With the list rows derived from the document's latest version.
        for r in query(tx, lookups::WHOLE, &[&whole_ids]).await? {
            let id: String = r.get(0);
            from.insert(id.clone(), r.get(2));
            out.insert(
                id,
                Sent {
                    data: r.get::<_, Option<Vec<u8>>>(1).unwrap_or_default(),
                    listing: r.get(3),
                },
            );
        }
    }
    for c in chunk
        .iter()
        .filter(|c| !whole(c) && wanted.contains(&c.doc_id))
    {
        from.insert(c.doc_id.clone(), base);
        out.insert(c.doc_id.clone(), Sent::default());
    }
    let (ids, afters): (Vec<&str>, Vec<i64>) = from.iter().map(|(k, v)| (k.as_str(), *v)).unzip();
    if !ids.is_empty() {
        for r in query(tx, lookups::CHANGES_AFTER, &[&ids, &afters]).await? {
            if let Some(d) = out.get_mut(r.get::<_, &str>(0)) {
                d.data.extend_from_slice(r.get::<_, &[u8]>(1));
            }
        }
    }
    Ok(out)
}

/// A read-only REPEATABLE READ transaction: every query in it sees one
/// snapshot, hence one prefix 1..=max of the log (pushes commit in seq
/// order, ADR 0005).
async fn snapshot(
    client: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>, DbError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(err)
}

/// The PostgreSQL side of a pull: its queries, inside one REPEATABLE READ
/// transaction. What a page holds is decided in [`super::pull`], for both
/// backends.
struct PgPull<'a, C> {
    tx: &'a C,
}

impl<C: GenericClient + Sync> super::pull::PullSource for PgPull<'_, C> {
    type Error = tokio_postgres::Error;
    // A few statements per chunk of documents rather than three round trips
    // per document (a supervisor's first pull of 20 grids is 10,000
    // documents); chunks keep what is read beyond a page's byte limit small.
    const CHUNK: usize = PULL_CHUNK;

    async fn log_end(&mut self) -> Result<i64, Self::Error> {
        Ok(
            query_one(self.tx, "SELECT coalesce(max(seq), 0) FROM changes", &[])
                .await?
                .get(0),
        )
    }

    async fn candidates(
        &mut self,
        feed: &str,
        cursor: i64,
        _base: i64,
        limit: usize,
        _device: Option<&str>,
    ) -> Result<Vec<Candidate>, Self::Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query(
            self.tx,
            "SELECT f.doc_id, f.last_seq, f.since_seq, d.kind, d.scope FROM feed f
             JOIN docs d ON d.id = f.doc_id
             WHERE f.feed = $1 AND f.last_seq > $2 ORDER BY f.last_seq LIMIT $3",
            &[&feed, &cursor, &limit],
        )
        .await?;
        Ok(rows
            .iter()
            .map(|r| Candidate {
                doc_id: r.get(0),
                last_seq: r.get(1),
                since_seq: r.get(2),
                kind: r.get(3),
                scope: r.get(4),
                from_others: None,
            })
            .collect())
    }

    async fn data(
        &mut self,
        chunk: &[Candidate],
        base: i64,
        device: Option<&str>,
    ) -> Result<std::collections::HashMap<String, Sent>, Self::Error> {
        chunk_data(self.tx, chunk, base, &device.map(str::to_owned)).await
    }

    async fn departures(
        &mut self,
        feed: &str,
        after: i64,
        upto: i64,
    ) -> Result<Vec<String>, Self::Error> {
        Ok(query(
            self.tx,
            "SELECT doc_id FROM departures WHERE feed = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
            &[&feed, &after, &upto],
        )
        .await?
        .into_iter()
        .map(|r| r.get::<_, String>(0))
        .collect())
    }

    async fn remaining(&mut self, feed: &str, after: i64) -> Result<u64, Self::Error> {
        let n: i64 = query_one(
            self.tx,
            "SELECT count(*) FROM feed WHERE feed = $1 AND last_seq > $2",
            &[&feed, &after],
        )
        .await?
        .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[async_trait]
impl DocStore for PgDocStore {
    async fn push(
        &self,
        changes: Vec<IncomingChange>,
        user_id: Option<String>,
        device_id: Option<String>,
        guard: Box<dyn WriteGuard>,
    ) -> Result<PushOutcome, StoreError> {
        let (outcome, compact) = self
            .push_tx(changes, user_id, device_id, guard.as_ref())
            .await?;
        if !compact.is_empty() {
            let store = self.clone();
            tokio::spawn(async move {
                if let Err(e) = store.compact(&compact).await {
                    tracing::warn!(error = %e, "background compaction failed; will retry on a later push");
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
        self.pull_tx(feeds, limits, device).await
    }

    async fn load(&self, doc_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        // Row and data from one snapshot, so the version matches its tag.
        let tx = snapshot(&mut client).await?;
        let Some(row) = doc_row(&tx, doc_id, false).await.map_err(err)? else {
            return Ok(None);
        };
        let doc = load_doc(&tx, &self.cache, doc_id, row.last_seq, Use::Copy).await?;
        tx.commit().await.map_err(err)?;
        Ok(Some(doc.save()))
    }

    async fn documents(&self, ids: Vec<String>) -> Result<Vec<(String, Automerge)>, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        // Rows and data from one snapshot, so each version matches its tag.
        let tx = snapshot(&mut client).await?;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let rows = doc_rows(&tx, &refs).await.map_err(err)?;
        let mut docs = Vec::with_capacity(rows.len());
        for id in ids {
            if let Some(row) = rows.get(&id) {
                let doc = load_doc(&tx, &self.cache, &id, row.last_seq, Use::Copy).await?;
                docs.push((id, doc));
            }
        }
        tx.commit().await.map_err(err)?;
        Ok(docs)
    }

    async fn facts(&self, doc_id: &str) -> Result<Option<DocFacts>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        Ok(doc_row(&client, doc_id, false)
            .await
            .map_err(err)?
            .map(|r| r.facts))
    }

    async fn max_seq(&self) -> Result<i64, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        Ok(
            query_one(&client, "SELECT coalesce(max(seq), 0) FROM changes", &[])
                .await
                .map_err(err)?
                .get(0),
        )
    }

    async fn log_after(
        &self,
        after: i64,
        limit: usize,
        kind: Option<&str>,
    ) -> Result<LogSlice, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        // The entries and the end from one snapshot: a prefix of the log.
        let tx = snapshot(&mut client).await?;
        let end: i64 = query_one(&tx, "SELECT coalesce(max(seq), 0) FROM changes", &[])
            .await
            .map_err(err)?
            .get(0);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query(
            &tx,
            "SELECT c.seq, c.doc_id, c.user_id, c.device_id, c.received_at FROM changes c
             WHERE c.seq > $1 AND c.seq <= $2
               AND ($3::text IS NULL OR c.doc_id IN (SELECT id FROM docs WHERE kind = $3))
             ORDER BY c.seq LIMIT $4",
            &[&after, &end, &kind, &limit],
        )
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(LogSlice {
            entries: rows
                .iter()
                .map(|r| LogEntry {
                    seq: r.get(0),
                    doc_id: r.get(1),
                    user_id: r.get(2),
                    device_id: r.get(3),
                    received_at: r.get(4),
                })
                .collect(),
            end,
        })
    }

    async fn pushers(&self, doc_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let rows = crate::pg::query(
            &client,
            "SELECT hash, user_id FROM changes WHERE doc_id = $1 AND user_id IS NOT NULL",
            &[&doc_id],
        )
        .await
        .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| (hex::encode(r.get::<_, Vec<u8>>(0)), r.get::<_, String>(1)))
            .collect())
    }

    async fn log_mark(&self) -> Result<LogMark, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let generation: String = query_one(
            &client,
            "SELECT generation FROM log_generation WHERE id = 1",
            &[],
        )
        .await
        .map_err(err)?
        .get(0);
        let tip = query_opt(
            &client,
            "SELECT seq, hash FROM changes ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(err)?;
        let (end, tip) = tip.map_or((0, String::new()), |r| {
            (r.get::<_, i64>(0), hex::encode(r.get::<_, Vec<u8>>(1)))
        });
        Ok(LogMark {
            generation,
            end,
            tip,
        })
    }

    async fn change_at(&self, seq: i64) -> Result<Option<String>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        Ok(
            query_opt(&client, "SELECT hash FROM changes WHERE seq = $1", &[&seq])
                .await
                .map_err(err)?
                .map(|r| hex::encode(r.get::<_, Vec<u8>>(0))),
        )
    }

    async fn renew_generation(&self, old: &str) -> Result<String, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let new = super::new_generation();
        execute(
            &client,
            "UPDATE log_generation SET generation = $2 WHERE id = 1 AND generation = $1",
            &[&old, &new],
        )
        .await
        .map_err(err)?;
        Ok(query_one(
            &client,
            "SELECT generation FROM log_generation WHERE id = 1",
            &[],
        )
        .await
        .map_err(err)?
        .get(0))
    }
}

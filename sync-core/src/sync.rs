//! The sync client: push the outbox and pull every readable feed through
//! `POST /v1/sync` until caught up, reporting progress.
//!
//! Safe to interrupt anywhere: the outbox is cleared only for changes the
//! server acknowledged, and a pulled page is stored together with its new
//! cursors in one transaction, so the next sync simply carries on.
//!
//! Never holds the store across a request: the store is reached through
//! [`StoreAccess`] for each local step only (reading the outbox and
//! cursors, settling a push by the changes it carried, storing a pulled
//! page), and progress is reported with it released. A store shared
//! behind a `Mutex` (the phone SDK) therefore answers reads and takes
//! local edits while a sync waits on the network; an edit made meanwhile
//! gets a new outbox entry, which the settlement of a push that did not
//! carry it leaves alone, so this sync's next round or the next sync
//! sends it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::store::Store;
use crate::{Error, Result};

pub mod blobs;
pub mod client;
mod courier;
pub mod reveals;
pub mod roster;
pub mod rules;
pub mod wire;

pub use client::{Client, RetryPolicy};

/// Short-lived access to the device store, for the sync and the HTTP
/// client: each call of [`StoreAccess::with`] is one local step, and no
/// request is made inside one. A `Store` gives itself; a `&Mutex<Store>`
/// locks for the step only, so other threads read and write between
/// steps (a sync never holds the lock across the network).
pub trait StoreAccess {
    /// Run `f` with the store.
    fn with<R>(&mut self, f: impl FnOnce(&mut Store) -> R) -> R;
}

impl StoreAccess for Store {
    fn with<R>(&mut self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(self)
    }
}

impl StoreAccess for &Mutex<Store> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Store) -> R) -> R {
        // A panic in an earlier holder (a bug) does not make the store
        // unusable: its own transactions keep the file consistent.
        let mut guard = self.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

/// What the sync is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Sending local changes.
    Push,
    /// Receiving documents.
    Pull,
    /// Finished.
    Done,
}

/// Progress of a sync, for a progress bar.
///
/// The first event comes after the first answer of the server, so both
/// totals are known in it (the first request pulls at most
/// [`FIRST_PAGE`] documents, so it comes soon); then one at least every
/// [`EVENT_DOCS`] documents stored. `fraction` never goes backwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Phase.
    pub phase: Phase,
    /// Local changes sent so far.
    pub changes_sent: u64,
    /// Local changes to send in all.
    pub changes_total: u64,
    /// Documents received so far.
    pub docs_received: u64,
    /// Documents to receive in all (grows if others keep editing).
    pub docs_total: u64,
    /// Bytes sent and received so far.
    pub bytes_done: u64,
    /// Bytes expected in all (an estimate while pulling).
    pub bytes_total: u64,
    /// How much of the sync is done, 0.0 to 1.0, for the bar: changes
    /// sent and documents received over changes and documents in all,
    /// never less than in an earlier event, 1.0 when done. (Photo uploads,
    /// after the documents, are in `bytes_done`.)
    pub fraction: f64,
}

/// Documents the first request pulls at most, so the first progress
/// event (which has the totals) comes soon.
pub const FIRST_PAGE: usize = 100;

/// Documents stored between two progress events, at most.
pub const EVENT_DOCS: usize = 100;

impl Progress {
    /// Keep the totals at least what is done and set `fraction` (never
    /// lower than before), then report.
    fn emit(&mut self, progress: &mut dyn FnMut(&Progress)) {
        self.changes_total = self.changes_total.max(self.changes_sent);
        self.docs_total = self.docs_total.max(self.docs_received);
        self.bytes_total = self.bytes_total.max(self.bytes_done);
        let total = self.changes_total + self.docs_total;
        let now = if self.phase == Phase::Done || total == 0 {
            1.0
        } else {
            (self.changes_sent + self.docs_received) as f64 / total as f64
        };
        self.fraction = self.fraction.max(now.clamp(0.0, 1.0));
        progress(self);
    }
}

/// Tuning of a sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Changes per request, at most.
    pub push_batch: usize,
    /// Bytes of changes per request, at most (a single larger change
    /// still goes, alone). One grid recorded offline (≈ 2.2 MB of changes)
    /// fits in one request, so the server decides it on all cores at once
    /// instead of in three rounds; a request stays small enough to resend
    /// cheaply if the connection drops (changes are idempotent).
    pub push_bytes: usize,
    /// Documents per page.
    pub max_docs: usize,
    /// Bytes per page.
    pub max_bytes: usize,
    /// Bytes per photo upload chunk ([`blobs`]).
    pub blob_chunk: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            push_batch: 10_000,
            push_bytes: 4 << 20,
            max_docs: 1000,
            max_bytes: 8 << 20,
            blob_chunk: blobs::DEFAULT_CHUNK,
        }
    }
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Local changes the server stored.
    pub pushed: u64,
    /// Local changes the server refused (see `Store::rejected_changes`).
    pub rejected: u64,
    /// Documents received.
    pub docs_received: u64,
    /// Documents removed from this device (no longer readable).
    pub purged: Vec<String>,
    /// Request bodies sent, bytes (before compression).
    pub bytes_sent: u64,
    /// Document data received, bytes.
    pub bytes_received: u64,
    /// Round trips.
    pub rounds: u32,
    /// Photos the server now has for their reports ([`blobs`]).
    pub blobs_uploaded: u64,
    /// Photo bytes sent (every attempt counted, so a chunk sent again
    /// after a dropped connection counts twice).
    pub blob_bytes_sent: u64,
    /// Photos still waiting to be uploaded.
    pub blobs_pending: u64,
    /// Changes sent again from this device's documents because the server
    /// might lack them (after a restore, or a change refused for missing
    /// dependencies), and now on the server (some may have been there
    /// already: a device that does not know sends its latest change of a
    /// document to find out).
    pub repushed: u64,
    /// Local changes still not on the server after this sync: the server
    /// lacks changes they build on (tried again at the next sync). An edit
    /// made during the sync's last step is not among them: it is simply
    /// pushed by the next sync.
    pub held_back: u64,
    /// Local changes written under another person's sign-in on this
    /// device: never sent under the current one, they wait until that
    /// person signs in here again (not counted in `held_back`).
    pub held_other_user: u64,
    /// Refused changes waiting for a person (all of them, not only this
    /// sync's): see `Store::rejected_changes`.
    pub refused_waiting: u64,
    /// Documents the server may still lack this user's changes of.
    pub docs_to_heal: u64,
    /// The server's log had lost changes this device saw (restored from an
    /// older backup): everything was received again, and this device's
    /// changes the server lacked were pushed back.
    pub log_lost: bool,
    /// The server's clock minus this device's, ms (`None`: the server did
    /// not say).
    pub clock_offset_ms: Option<i64>,
    /// This device's clock is off by more than [`CLOCK_TOLERANCE_MS`].
    pub clock_warning: bool,
    /// Everything typed on this device is on the server: nothing held
    /// back, refused or left to push back. A sync that is not complete
    /// succeeded as far as it could; the worker should read `warnings`.
    pub complete: bool,
    /// What the worker should know, Chinese first ([`warnings`]).
    pub warnings: Vec<String>,
}

/// A device clock further than this from the server's (5 minutes) is
/// reported to the worker.
pub const CLOCK_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// Sync `store` with the server until both are caught up. The outcome is
/// remembered for [`status`]. The store is taken for local steps only
/// ([`StoreAccess`]); `progress` is called with it released, so it may
/// read or write the store itself.
pub fn sync<A: StoreAccess>(
    store: &mut A,
    client: &Client,
    options: &SyncOptions,
    cancel: Option<&AtomicBool>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<SyncReport> {
    sync_keeping(store, client, options, cancel, progress, &mut |_, _| Ok(()))
}

/// What [`sync_keeping`] calls with a sync's outcome, the store held.
pub type Keep<'a> =
    dyn FnMut(&mut Store, std::result::Result<&SyncReport, &Error>) -> Result<()> + 'a;

/// [`sync`], and `keep` is given its outcome in the same hold of the store
/// (and, for a success, the same transaction) that records it for
/// [`status`]: what a caller keeps of the outcome (a binding's typed form
/// of the error) is never seen without it, nor it without that. A failure
/// to keep an error is not the sync's error.
pub fn sync_keeping<A: StoreAccess>(
    store: &mut A,
    client: &Client,
    options: &SyncOptions,
    cancel: Option<&AtomicBool>,
    progress: &mut dyn FnMut(&Progress),
    keep: &mut Keep<'_>,
) -> Result<SyncReport> {
    // After the documents, the reveal records for the audit log: a failure
    // to send them fails the sync, so none is lost quietly.
    let result = sync_inner(store, client, options, cancel, progress)
        .and_then(|done| reveals::send(store, client).map(|_| done));
    let (result, rules_tag, early) = match result {
        Ok(Done {
            report,
            rules_tag,
            early_rules,
        }) => (Ok(report), rules_tag, early_rules),
        Err(e) => (Err(e), None, None),
    };
    if result.is_ok() {
        // The deployment's catalogue and calendar, when they changed (the
        // sync's answer names their tag; a server that does not is asked
        // every time); the store is held only to read the tag and to keep
        // the answer. Not having them is not a failed sync: the phone
        // keeps what it had.
        let refreshed = store
            .with(|s| rules::request_state(s))
            .and_then(|(token, etag)| {
                if rules_tag.is_some() && rules_tag == etag {
                    return Ok(false);
                }
                // Asked for while the pages came, for the tag the sync
                // ended with; else asked for now.
                let fetched = match early.filter(|e| rules_tag.as_deref() == Some(e.tag.as_str())) {
                    Some(e) => e.answer.recv().unwrap_or_else(|_| {
                        Err(Error::Network("the rules could not be fetched".into()))
                    })?,
                    None => rules::fetch(client, &token, etag.as_deref())?,
                };
                store.with(|s| rules::apply(s, fetched))
            });
        if let Err(e) = refreshed {
            tracing::warn!(error = %e, "report rules not refreshed");
        }
        // A building or unit head's roster, every sync: it is what their
        // contacts are recorded against offline.
        let roster = store
            .with(|s| roster::request_state(s))
            .and_then(|wanted| match wanted {
                Some(token) => {
                    let fetched = roster::fetch(client, &token)?;
                    store.with(|s| s.set_roster(Some(&fetched)))
                }
                None => Ok(()),
            });
        if let Err(e) = roster {
            tracing::warn!(error = %e, "building roster not refreshed");
        }
    }
    // The outcome is a record of the sync, not what anyone typed: it is
    // committed without waiting for the disk (one fsync less a sync). A
    // power cut may take it back whole, with the sync's other received
    // writes after the last one that waited; the status then tells the
    // sync before, until the next.
    store.with(|store| {
        let now = store.clock().now_ms().to_string();
        match &result {
            Ok(report) => store.batch_received(|s| {
                s.set_meta(LAST_SUCCESS, &now)?;
                s.set_meta(LAST_ERROR, "")?;
                keep(s, Ok(report))
            }),
            Err(e) => {
                let _ = store.batch_received(|s| {
                    s.set_meta(LAST_ERROR, &format!("{now} {e}"))?;
                    keep(s, Err(e))
                });
                Ok(())
            }
        }
    })?;
    result
}

const LAST_SUCCESS: &str = "sync.last_success";
const LAST_ERROR: &str = "sync.last_error";

/// Where this device stands with the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// When the last sync succeeded (ms), if ever.
    pub last_success: Option<i64>,
    /// The last sync's error, if it failed.
    pub last_error: Option<String>,
    /// Local changes waiting to be pushed.
    pub pending_changes: u64,
    /// Local changes the server refused, waiting for a person.
    pub rejected_changes: u64,
    /// The server this device signed in to.
    pub server: Option<String>,
    /// The signed-in user, if any.
    pub user: Option<wire::User>,
    /// When the oldest edit made here that is not on the server was made
    /// (ms, this device's clock), if any.
    pub oldest_unsynced: Option<i64>,
    /// How old that edit is, ms.
    pub oldest_unsynced_age_ms: Option<i64>,
    /// Documents the server may lack this user's changes of (pushed back
    /// at the next sync).
    pub docs_to_heal: u64,
    /// The server's clock minus this device's at the last sync, ms.
    pub clock_offset_ms: Option<i64>,
    /// This device's clock is off by more than [`CLOCK_TOLERANCE_MS`].
    pub clock_warning: bool,
}

/// Where this device stands with the server.
pub fn status(store: &Store) -> Result<Status> {
    let last_error = store.meta(LAST_ERROR)?.filter(|e| !e.is_empty());
    let oldest_unsynced = store.oldest_unsynced_ms()?;
    Ok(Status {
        last_success: store.meta(LAST_SUCCESS)?.and_then(|s| s.parse().ok()),
        last_error: last_error.map(|e| e.split_once(' ').map(|(_, m)| m.to_string()).unwrap_or(e)),
        pending_changes: store.pending_changes()?,
        rejected_changes: store.rejected_changes()?.len() as u64,
        server: store.meta("auth.server")?,
        user: Client::user(store)?,
        oldest_unsynced,
        oldest_unsynced_age_ms: oldest_unsynced.map(|t| (store.clock().now_ms() - t).max(0)),
        docs_to_heal: store.heal_docs()?.len() as u64,
        clock_offset_ms: store.clock_offset_ms(),
        clock_warning: store
            .clock_offset_ms()
            .is_some_and(|o| o.abs() > CLOCK_TOLERANCE_MS),
    })
}

/// One change of a push: from the outbox (`seq`), or pushed back from a
/// document the server may lack changes of (`seq` is `None`).
struct Item {
    doc: String,
    hash: String,
    data: Vec<u8>,
    seq: Option<i64>,
}

/// What [`sync_inner`] ends with.
struct Done {
    report: SyncReport,
    /// The report rules' tag as the last answer named it.
    rules_tag: Option<String>,
    /// The rules, if asked for during the sync.
    early_rules: Option<EarlyRules>,
}

/// The report rules asked for while a sync's pages came (after the sync
/// they would cost a round trip of their own): the tag the answer then
/// named, and the answer to come.
struct EarlyRules {
    tag: String,
    answer: std::sync::mpsc::Receiver<Result<rules::Fetched>>,
}

fn sync_inner<A: StoreAccess>(
    store: &mut A,
    client: &Client,
    options: &SyncOptions,
    cancel: Option<&AtomicBool>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Done> {
    let mut report = SyncReport::default();
    // The report rules' tag as the last answer named it.
    let mut rules_tag = None;
    let mut early_rules: Option<EarlyRules> = None;
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let (me, total_push) = store.with(|store| -> Result<_> {
        // Refused changes still in their documents (refused before this
        // version set them aside at once) go aside first, so the valid
        // edits made after them are pushed now.
        let refused_docs: HashSet<String> = store
            .rejected_changes()?
            .into_iter()
            .map(|r| r.doc_id)
            .collect();
        for doc in &refused_docs {
            store.set_aside_refused(doc)?;
        }
        let me = Client::user(store)?
            .map(|u| u.id)
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| store.author().user.clone());
        Ok((me, store.pending_changes()?))
    })?;
    let mut p = Progress {
        phase: if total_push > 0 {
            Phase::Push
        } else {
            Phase::Pull
        },
        changes_sent: 0,
        changes_total: total_push,
        docs_received: 0,
        docs_total: 0,
        bytes_done: 0,
        bytes_total: 0,
        fraction: 0.0,
    };
    // Changes the server could not take yet (dependencies missing) are
    // left for the next sync rather than sent again and again.
    let mut held_back: HashSet<i64> = Default::default();
    // Of those, the changes written under another person's sign-in.
    let mut not_mine: HashSet<i64> = Default::default();
    // Documents pushed back from, with the server heads they were pushed
    // after: once per sync for each (unless the heads change).
    let mut heal_tried: HashMap<String, Option<Vec<String>>> = HashMap::new();
    // The next page's request, sent while this one is stored.
    let mut next_page: Option<InFlight> = None;
    loop {
        if cancelled() {
            return Err(Error::Cancelled);
        }
        let (items, healing, nothing_to_send, device_id, log, (resp, sent)) = match next_page.take()
        {
            // Asked for while the last page was stored: a round that
            // pushes nothing (an edit made meanwhile goes with the next).
            Some(in_flight) => {
                let (device_id, log) = in_flight.sent_as.clone();
                let answer = in_flight.answer(store, client)?;
                (Vec::new(), Vec::new(), Vec::new(), device_id, log, answer)
            }
            None => {
                // What to send, read in one step; sent with the store
                // released. Edits made while the request is out get new
                // outbox entries, which the settlement below (by what
                // was sent) leaves alone.
                let round = store.with(|store| {
                    next_round(
                        store,
                        options,
                        &me,
                        &mut held_back,
                        &mut not_mine,
                        &mut heal_tried,
                    )
                })?;
                let Round {
                    items,
                    healing,
                    nothing_to_send,
                    device_id,
                    cursors,
                    log,
                } = round;
                let req = wire::SyncRequest {
                    device_id: device_id.clone(),
                    cursors,
                    push: items
                        .iter()
                        .map(|i| wire::PushedChange {
                            doc: &i.doc,
                            data: &i.data,
                        })
                        .collect(),
                    max_docs: Some(if report.rounds == 0 {
                        options.max_docs.min(FIRST_PAGE)
                    } else {
                        options.max_docs
                    }),
                    max_bytes: Some(options.max_bytes),
                    log: log.clone(),
                };
                let answer = InFlight::send(store, client, &req)?.answer(store, client)?;
                (items, healing, nothing_to_send, device_id, log, answer)
            }
        };
        rules_tag.clone_from(&resp.rules);
        report.rounds += 1;
        report.bytes_sent += sent as u64;

        // Settle the push.
        let mut refused = Vec::new();
        let mut refused_idx = HashSet::new();
        let mut missing: HashSet<String> = HashSet::new();
        let mut set_aside: HashSet<String> = HashSet::new();
        let mut refused_back = Vec::new();
        for r in &resp.rejected {
            let Some(item) = items.get(r.index) else {
                continue;
            };
            refused_idx.insert(r.index);
            if r.code == "missing_dependencies" {
                if let Some(seq) = item.seq {
                    held_back.insert(seq);
                }
                missing.insert(item.doc.clone());
                continue;
            }
            set_aside.insert(item.doc.clone());
            if r.code != "depends_on_refused" {
                report.rejected += 1;
            }
            match item.seq {
                Some(seq) => refused.push((seq, r.code.clone(), r.reason.clone())),
                None => refused_back.push((item, r)),
            }
        }
        let mut stored = Vec::new();
        let mut acked: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            if refused_idx.contains(&i) {
                continue;
            }
            match item.seq {
                Some(seq) => stored.push(seq),
                None => acked.entry(&item.doc).or_default().push(item.hash.clone()),
            }
        }
        let refused_seqs: Vec<i64> = refused.iter().map(|r| r.0).collect();
        store.with(|store| -> Result<()> {
            if let Some(now) = resp.now {
                let offset = now - store.clock().now_ms();
                store.set_clock_offset(offset)?;
                report.clock_offset_ms = Some(offset);
            }
            // One write for the whole settlement: after a restore a device
            // may send back thousands of documents' changes in one round.
            // Settled by the sequence numbers and hashes this push carried,
            // never by what the outbox holds now. What the server said
            // comes again if lost: a settlement a power cut takes back
            // sends its changes again, and the server counts them stored.
            store.batch_received(|s| {
                s.settle_push(&[stored.clone(), refused_seqs].concat(), &refused)?;
                report.pushed += stored.len() as u64;
                for (item, r) in &refused_back {
                    s.record_refusal(&item.doc, &item.hash, &item.data, &r.code, &r.reason)?;
                }
                for (doc, hashes) in &acked {
                    // Those still in the outbox were never pushed: pushed,
                    // not pushed again.
                    let from_outbox = s.settle_by_hash(doc, hashes)?;
                    report.pushed += from_outbox as u64;
                    report.repushed += (hashes.len() - from_outbox) as u64;
                }
                for doc in healing.iter().chain(&nothing_to_send) {
                    if !missing.contains(doc) {
                        s.clear_heal(doc)?;
                    }
                }
                for doc in &missing {
                    s.set_heal(doc, resp.heads.get(doc).map(Vec::as_slice))?;
                }
                Ok(())
            })?;
            // A refused change blocks nothing: it goes aside, and the valid
            // edits made after it are made again, to go with the next round.
            for doc in &set_aside {
                store.set_aside_refused(doc)?;
            }
            Ok(())
        })?;
        p.changes_sent += items.len() as u64;

        // Store the page and its cursors together.
        let mut page_bytes = 0u64;
        let mut decoded = Vec::with_capacity(resp.docs.len());
        let mut resp = resp;
        for d in std::mem::take(&mut resp.docs) {
            page_bytes += d.data.len() as u64;
            decoded.push(crate::store::PulledDoc {
                id: d.id,
                kind: d.kind,
                scope: d.scope,
                data: d.data,
                listing: d.list.map(|l| l.get().to_owned()),
            });
        }
        let purge = resp.purge.clone();
        let cursors = resp.cursors.clone();
        // More to pull, and nothing in this answer that changes what to
        // ask next (a lost log, feeds dropped, a push to settle): the next
        // page is asked for now, with this page's cursors, and comes while
        // this one is stored. The server keeps nothing of a device's
        // cursors; a page lost before it is stored is asked for again.
        if resp.more && !resp.log_lost && resp.dropped_feeds.is_empty() && items.is_empty() {
            let req = wire::SyncRequest {
                device_id: device_id.clone(),
                cursors: cursors.clone(),
                push: Vec::new(),
                max_docs: Some(options.max_docs),
                max_bytes: Some(options.max_bytes),
                log: resp.log.clone().or_else(|| log.clone()),
            };
            next_page = Some(InFlight::send(store, client, &req)?);
        }
        // Rules other than the ones kept: asked for now, beside the next
        // page, rather than after the sync. Their failure is no failure
        // of the sync: the next one asks again.
        if early_rules.is_none()
            && let Some(tag) = &resp.rules
            && let Ok((token, kept)) = store.with(|s| rules::request_state(s))
            && kept.as_deref() != Some(tag.as_str())
        {
            let (tx, answer) = std::sync::mpsc::channel();
            let asking = client.clone();
            client.courier().run(move || {
                // Nobody waits for it once the sync has ended otherwise.
                let _ = tx.send(rules::fetch(&asking, &token, kept.as_deref()));
            });
            early_rules = Some(EarlyRules {
                tag: tag.clone(),
                answer,
            });
        }
        // Both totals are known from the first answer on.
        p.docs_total = p.docs_received + decoded.len() as u64 + resp.remaining;
        // Stored (and indexed) a hundred documents at a time, each part in
        // its own step with an event after it (the store released between
        // parts, so a read waits for one part at most); the last part goes
        // with the cursors. A part stored without its cursors is received
        // again at worst (merging is idempotent).
        let mut parts: Vec<&[crate::store::PulledDoc]> = decoded.chunks(EVENT_DOCS).collect();
        let last = parts.pop().unwrap_or(&[]);
        for part in parts {
            if cancelled() {
                return Err(Error::Cancelled);
            }
            store.with(|s| s.batch_received(|s| s.apply_pulled(part)))?;
            p.docs_received += part.len() as u64;
            p.emit(progress);
        }
        let more_to_push = store.with(|store| -> Result<bool> {
            store.batch_received(|s| {
                s.apply_pulled(last)?;
                s.purge(&purge)?;
                s.set_cursors(&cursors)?;
                if let Some(log) = &resp.log {
                    s.set_log_mark(log)?;
                }
                if resp.log_lost {
                    // The server lost changes: it may lack any of this
                    // device's documents. This page came from the start of
                    // every feed; the rest follows.
                    s.heal_all()?;
                }
                Ok(())
            })?;
            if resp.log_lost {
                report.log_lost = true;
                heal_tried.clear();
            }
            report.purged.extend(purge);
            if !resp.dropped_feeds.is_empty() {
                let feeds: Vec<String> = resp.cursors.keys().cloned().collect();
                let gone = store.uncovered_docs(&feeds)?;
                store.purge(&gone)?;
                report.purged.extend(gone);
            }
            // Among any held_back.len() + 1 entries one is not held back.
            // An edit made during this round counts: it goes with the next.
            Ok(store
                .outbox(held_back.len() + 1)?
                .iter()
                .any(|e| !held_back.contains(&e.seq))
                || store
                    .heal_docs()?
                    .into_iter()
                    .any(|(d, h)| heal_tried.get(&d) != Some(&h)))
        })?;
        report.docs_received += decoded.len() as u64;
        report.bytes_received += page_bytes;

        p.docs_received += last.len() as u64;
        p.docs_total = p.docs_received + resp.remaining;
        p.bytes_done = report.bytes_sent + report.bytes_received;
        let per_doc = report
            .bytes_received
            .checked_div(p.docs_received)
            .unwrap_or(0);
        p.bytes_total = p.bytes_done + per_doc * resp.remaining;
        p.phase = if more_to_push {
            Phase::Push
        } else {
            Phase::Pull
        };
        p.emit(progress);
        if cancelled() {
            return Err(Error::Cancelled);
        }
        if !resp.more && !more_to_push {
            // Photos after the documents: the server takes a photo only
            // for a report it has that lists it.
            if !report.purged.is_empty() {
                // Photos of reports this user may no longer read go too.
                store.with(|s| s.drop_unreferenced_blobs(true))?;
            }
            upload_blobs(
                store,
                client,
                options,
                cancel,
                &mut p,
                progress,
                &mut report,
            )?;
            report.held_other_user = not_mine.len() as u64;
            store.with(|s| finish(s, &held_back, &not_mine, &mut report))?;
            p.phase = Phase::Done;
            p.emit(progress);
            return Ok(Done {
                report,
                rules_tag,
                early_rules,
            });
        }
    }
}

/// Documents whose list rows are built per local step while a request is
/// on the wire ([`InFlight::answer`]).
const INDEX_STEP: usize = 25;

/// How long a round trip waits for its answer before it builds list rows
/// meanwhile ([`InFlight::answer`]).
const INDEX_AFTER: std::time::Duration = std::time::Duration::from_millis(20);

/// A sync request on the wire: its answer comes from a helper thread,
/// which touches no store.
struct InFlight {
    answer: std::sync::mpsc::Receiver<Result<Option<wire::SyncResponse>>>,
    /// Set once the answer (or the failure) is in.
    answered: std::sync::Arc<AtomicBool>,
    body: std::sync::Arc<Vec<u8>>,
    /// The device and log mark it was sent with.
    sent_as: (String, Option<serde_json::Value>),
}

impl InFlight {
    /// Send `req` with the stored access token.
    fn send<A: StoreAccess>(
        store: &mut A,
        client: &Client,
        req: &wire::SyncRequest<'_>,
    ) -> Result<Self> {
        let body = std::sync::Arc::new(req.to_binary()?);
        let token = store.with(|s| Client::access_token(s))?;
        let answered = std::sync::Arc::new(AtomicBool::new(false));
        let (tx, answer) = std::sync::mpsc::channel();
        let (courier, sending, done) = (client.clone(), body.clone(), answered.clone());
        client.courier().run(move || {
            let client = courier;
            let answer = client.sync_with_token(&sending, &token);
            done.store(true, Ordering::Release);
            // Nobody waits for an answer to a sync that ended meanwhile.
            let _ = tx.send(answer);
        });
        Ok(InFlight {
            answer,
            answered,
            body,
            sent_as: (req.device_id.clone(), req.log.clone()),
        })
    }

    /// Wait for the answer (with the size of the request). While it is on
    /// the wire, the list rows of documents stored without them (pulled
    /// pages, [`Store::apply_pulled`]) are built a few at a time, each step
    /// a short hold of the store, so a list read made during the sync
    /// finds them ready instead of building a page's worth itself; on a
    /// slow link that work costs the sync nothing. Only once the answer is
    /// late ([`INDEX_AFTER`]): on the phone's few cores the decoding
    /// competes with everything else; the next list query or a later slow
    /// round builds them instead. A step stops at the next document once
    /// the answer is in, so the answer waits for one document's decoding
    /// at most.
    fn answer<A: StoreAccess>(
        self,
        store: &mut A,
        client: &Client,
    ) -> Result<(wire::SyncResponse, usize)> {
        let rx = &self.answer;
        let lost = || Error::Network("connection interrupted".into());
        let answer = (|| {
            match rx.recv_timeout(INDEX_AFTER) {
                Ok(answer) => return answer,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Err(lost()),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            // Work the first list query does in bulk, at a third of the
            // cost, is left to it.
            if store.with(|s| s.bulk_pending(usize::MAX)).unwrap_or(false) {
                return rx.recv().map_err(|_| lost())?;
            }
            loop {
                match rx.try_recv() {
                    Ok(answer) => return answer,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return Err(lost()),
                    Err(std::sync::mpsc::TryRecvError::Empty) => {}
                }
                // A failure here is no failure of the sync: the next list
                // query builds what is left.
                let stop = || self.answered.load(Ordering::Acquire);
                let indexed = store
                    .with(|s| s.index_pending_until(INDEX_STEP, &stop))
                    .unwrap_or(0);
                if indexed == 0 {
                    return rx.recv().map_err(|_| lost())?;
                }
            }
        })()?;
        let sent = self.body.len();
        match answer {
            Some(resp) => Ok((resp, sent)),
            // The token was refused: renew it (or learn the device was
            // revoked) and send again, the store at hand.
            None => client.sync_body(store, self.body.to_vec()),
        }
    }
}

/// What one round sends, read from the store in one step.
struct Round {
    items: Vec<Item>,
    /// Documents pushed back from in this round.
    healing: Vec<String>,
    /// Documents to push back from that had nothing of this user's.
    nothing_to_send: Vec<String>,
    device_id: String,
    cursors: BTreeMap<String, serde_json::Value>,
    log: Option<serde_json::Value>,
}

/// Choose the changes of the next round: changes pushed back from
/// documents the server may lack them of, then the outbox (without the
/// changes held back or written under another sign-in), within the
/// batch's limits.
fn next_round(
    store: &mut Store,
    options: &SyncOptions,
    me: &str,
    held_back: &mut HashSet<i64>,
    not_mine: &mut HashSet<i64>,
    heal_tried: &mut HashMap<String, Option<Vec<String>>>,
) -> Result<Round> {
    let mut bytes = 0usize;
    let mut items: Vec<Item> = Vec::new();
    let mut healing: Vec<String> = Vec::new();
    let mut nothing_to_send: Vec<String> = Vec::new();
    for (doc, heads) in store.heal_docs()? {
        if heal_tried.get(&doc) == Some(&heads) {
            continue;
        }
        if bytes >= options.push_bytes || items.len() >= options.push_batch {
            break;
        }
        let changes = store.heal_changes(&doc, heads.as_deref(), me)?;
        heal_tried.insert(doc.clone(), heads);
        if changes.is_empty() {
            // Nothing of this user's to send: settled with the push.
            nothing_to_send.push(doc);
            continue;
        }
        healing.push(doc.clone());
        for (hash, data) in changes {
            bytes += data.len();
            items.push(Item {
                doc: doc.clone(),
                hash,
                data,
                seq: None,
            });
        }
    }
    let in_items: HashSet<String> = items.iter().map(|i| i.hash.clone()).collect();
    let room = options.push_batch.saturating_sub(items.len());
    let mut outbox = store.outbox(room + held_back.len())?;
    // A change written under another person's sign-in is never sent
    // under this one's: it waits (held back) until they sign in here.
    outbox.retain(|e| {
        if held_back.contains(&e.seq) {
            return false;
        }
        if written_by_other(&e.data, me) {
            held_back.insert(e.seq);
            not_mine.insert(e.seq);
            return false;
        }
        true
    });
    let outbox: Vec<_> = outbox
        .into_iter()
        .filter(|e| !in_items.contains(&e.hash))
        .take(room)
        .take_while(|e| {
            let first = bytes == 0;
            bytes += e.data.len();
            first || bytes <= options.push_bytes
        })
        .collect();
    items.extend(outbox.into_iter().map(|e| Item {
        doc: e.doc_id,
        hash: e.hash,
        data: e.data,
        seq: Some(e.seq),
    }));
    Ok(Round {
        items,
        healing,
        nothing_to_send,
        device_id: store.device_id().to_string(),
        cursors: store.cursors()?,
        log: store.log_mark()?,
    })
}

/// Whether the change `data` was written (its [`ChangeNote`]) by someone
/// other than user `me`. Changes without a gridsync note are not judged.
///
/// [`ChangeNote`]: crate::doc::ChangeNote
fn written_by_other(data: &[u8], me: &str) -> bool {
    use crate::doc::ChangeNote;
    let by_other = |message: Option<&str>| ChangeNote::parse(message).is_some_and(|n| n.by != me);
    // Read from the change's header: a grid's push has thousands of them,
    // and decoding each (its operations, its hash) was most of the phone's
    // CPU time in that push.
    match crate::doc::change_message(data) {
        Some(message) => by_other(message),
        None => automerge::Change::from_bytes(data.to_vec())
            .ok()
            .is_some_and(|c| by_other(c.message())),
    }
}

/// Count what is still not on the server and say what needs doing.
///
/// Held back are the changes this sync left out (`held_back`, without those
/// of another sign-in, `not_mine`) still in the outbox: an edit made during
/// the sync's last step is not counted (it goes with the next sync).
fn finish(
    store: &Store,
    held_back: &HashSet<i64>,
    not_mine: &HashSet<i64>,
    report: &mut SyncReport,
) -> Result<()> {
    report.held_back = store
        .outbox(usize::MAX >> 1)?
        .iter()
        .filter(|e| held_back.contains(&e.seq) && !not_mine.contains(&e.seq))
        .count() as u64;
    report.refused_waiting = store.rejected_changes()?.len() as u64;
    report.docs_to_heal = store.heal_docs()?.len() as u64;
    report.clock_warning = report
        .clock_offset_ms
        .is_some_and(|o| o.abs() > CLOCK_TOLERANCE_MS);
    report.complete = report.held_back == 0
        && report.held_other_user == 0
        && report.refused_waiting == 0
        && report.docs_to_heal == 0;
    report.warnings = warnings(report);
    Ok(())
}

/// What a worker should know after a sync, Chinese first: what is not on
/// the server yet and why, and a phone clock that is off.
pub fn warnings(report: &SyncReport) -> Vec<String> {
    let mut out = Vec::new();
    if report.refused_waiting > 0 {
        out.push(format!(
            "有{}条修改被服务器拒绝，没有上传：运行 gridsync rejected 查看原因和处理办法（改正后重新录入，或放弃） / \
             {} changes were refused and are not on the server: see `gridsync rejected` for why and what to do",
            report.refused_waiting, report.refused_waiting
        ));
    }
    if report.held_back > 0 {
        let n = report.held_back;
        out.push(format!(
            "有{n}条修改暂未上传：服务器还缺少它们所依赖的修改（通常是其他人的修改），下次同步会自动重试 / \
             {n} changes are not on the server yet: it lacks changes they build on (usually someone \
             else's); the next sync tries again"
        ));
    }
    if report.held_other_user > 0 {
        let n = report.held_other_user;
        out.push(format!(
            "有{n}条修改是在本机以其他用户身份（或未登录时）录入的，不会以当前用户的名义上传：请录入人在本机登录并同步 / \
             {n} changes were recorded on this phone under another person's sign-in (or while nobody \
             was signed in) and are not sent under the current one: whoever typed them should sign \
             in here and sync"
        ));
    }
    if report.docs_to_heal > 0 {
        let n = report.docs_to_heal;
        out.push(format!(
            "有{n}条记录中本机的修改服务器还没有（服务器丢失过数据，它们依赖的其他人的修改尚未补回），下次同步会自动补传 / \
             the server still lacks this phone's changes of {n} records (it lost data, and changes \
             by others they build on are not back yet); the next sync sends them again"
        ));
    }
    if report.log_lost {
        out.push(
            "服务器数据曾恢复到较早的备份：已重新接收全部记录，并补传了本机的修改 / \
             the server was restored from an older backup: every record was received again and \
             this phone's changes were sent again"
                .to_string(),
        );
    }
    if report.clock_warning
        && let Some(offset) = report.clock_offset_ms
    {
        let minutes = offset.abs() / 60_000;
        let (zh, en) = if offset > 0 {
            ("慢", "behind")
        } else {
            ("快", "ahead of")
        };
        out.push(format!(
            "手机时间比服务器{zh}约{minutes}分钟，请校准手机时间：录入的日期和时间可能不准，晚于今天的日期会被拒绝 / \
             the phone's clock is about {minutes} minutes {en} the server's: set it right, or the \
             dates and times recorded will be wrong (dates after today are refused)"
        ));
    }
    out
}

/// Upload the queued photos, reporting bytes through `progress`.
fn upload_blobs<A: StoreAccess>(
    store: &mut A,
    client: &Client,
    options: &SyncOptions,
    cancel: Option<&AtomicBool>,
    p: &mut Progress,
    progress: &mut dyn FnMut(&Progress),
    report: &mut SyncReport,
) -> Result<()> {
    let (done0, total0) = (p.bytes_done, p.bytes_total.max(p.bytes_done));
    p.phase = Phase::Push;
    let r = blobs::upload_pending(
        store,
        client,
        options.blob_chunk,
        cancel,
        &mut |done, total| {
            p.bytes_done = done0 + done;
            p.bytes_total = total0 + total;
            p.emit(progress);
        },
    )?;
    report.blobs_uploaded += r.uploaded;
    report.blob_bytes_sent += r.bytes_sent;
    report.blobs_pending = r.pending;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    use crate::store::{OpenOptions, Store};

    /// A sync's outcome is a record of the sync, no one's edit: it is
    /// written without waiting for the disk, and the store waits for the
    /// disk again after.
    #[test]
    fn the_outcome_is_recorded_without_waiting_for_the_disk() {
        let store = Mutex::new(Store::open_in_memory(OpenOptions::default()).expect("a store"));
        // Nothing listens on port 9; the sync is cancelled before it asks.
        let client = super::Client::new("http://127.0.0.1:9").expect("a client");
        let cancel = AtomicBool::new(true);
        let mut inside = None;
        let result = super::sync_keeping(
            &mut &store,
            &client,
            &super::SyncOptions::default(),
            Some(&cancel),
            &mut |_| {},
            &mut |s, _| {
                inside = Some(s.synchronous());
                Ok(())
            },
        );
        assert!(result.is_err(), "cancelled");
        assert_eq!(inside, Some(1));
        let s = store.lock().expect("the store");
        assert_eq!(s.synchronous(), 2);
        assert!(super::status(&s).expect("a status").last_error.is_some());
    }
}

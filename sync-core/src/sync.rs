//! The sync client: push the outbox and pull every readable feed through
//! `POST /v1/sync` until caught up, reporting progress.
//!
//! Safe to interrupt anywhere: the outbox is cleared only for changes the
//! server acknowledged, and a pulled page is stored together with its new
//! cursors in one transaction, so the next sync simply carries on.

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::store::Store;
use crate::{Error, Result};

pub mod blobs;
pub mod client;
pub mod wire;

pub use client::{Client, RetryPolicy};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// Sync `store` with the server until both are caught up. The outcome is
/// remembered for [`status`].
pub fn sync(
    store: &mut Store,
    client: &Client,
    options: &SyncOptions,
    cancel: Option<&AtomicBool>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<SyncReport> {
    let result = sync_inner(store, client, options, cancel, progress);
    let now = store.clock().now_ms().to_string();
    match &result {
        Ok(_) => store.batch(|s| {
            s.set_meta(LAST_SUCCESS, &now)?;
            s.set_meta(LAST_ERROR, "")
        })?,
        Err(e) => {
            let _ = store.set_meta(LAST_ERROR, &format!("{now} {e}"));
        }
    }
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
}

/// Where this device stands with the server.
pub fn status(store: &Store) -> Result<Status> {
    let last_error = store.meta(LAST_ERROR)?.filter(|e| !e.is_empty());
    Ok(Status {
        last_success: store.meta(LAST_SUCCESS)?.and_then(|s| s.parse().ok()),
        last_error: last_error.map(|e| e.split_once(' ').map(|(_, m)| m.to_string()).unwrap_or(e)),
        pending_changes: store.pending_changes()?,
        rejected_changes: store.rejected_changes()?.len() as u64,
        server: store.meta("auth.server")?,
        user: Client::user(store)?,
    })
}

fn sync_inner(
    store: &mut Store,
    client: &Client,
    options: &SyncOptions,
    cancel: Option<&AtomicBool>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    let total_push = store.pending_changes()?;
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
    };
    progress(&p);
    // Changes the server could not take yet (dependencies missing) are
    // left for the next sync rather than sent again and again.
    let mut held_back: std::collections::HashSet<i64> = Default::default();
    loop {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled);
        }
        let mut bytes = 0usize;
        let outbox: Vec<_> = store
            .outbox(options.push_batch + held_back.len())?
            .into_iter()
            .filter(|e| !held_back.contains(&e.seq))
            .take(options.push_batch)
            .take_while(|e| {
                let first = bytes == 0;
                bytes += e.data.len();
                first || bytes <= options.push_bytes
            })
            .collect();
        let req = wire::SyncRequest {
            device_id: store.device_id().to_string(),
            cursors: store.cursors()?,
            push: outbox
                .iter()
                .map(|e| wire::PushedChange {
                    doc: &e.doc_id,
                    data: &e.data,
                })
                .collect(),
            max_docs: Some(options.max_docs),
            max_bytes: Some(options.max_bytes),
        };
        let (resp, sent) = client.sync(store, &req)?;
        report.rounds += 1;
        report.bytes_sent += sent as u64;

        // Settle the push.
        let mut refused = Vec::new();
        let mut refused_idx = std::collections::HashSet::new();
        for r in &resp.rejected {
            let Some(entry) = outbox.get(r.index) else {
                continue;
            };
            refused_idx.insert(r.index);
            if r.code == "missing_dependencies" {
                held_back.insert(entry.seq);
            } else {
                refused.push((entry.seq, r.code.clone(), r.reason.clone()));
            }
        }
        let stored: Vec<i64> = outbox
            .iter()
            .enumerate()
            .filter(|(i, _)| !refused_idx.contains(i))
            .map(|(_, e)| e.seq)
            .collect();
        let refused_seqs: Vec<i64> = refused.iter().map(|r| r.0).collect();
        store.settle_push(&[stored.clone(), refused_seqs].concat(), &refused)?;
        report.pushed += stored.len() as u64;
        report.rejected += refused.len() as u64;
        p.changes_sent += outbox.len() as u64;

        // Store the page and its cursors together.
        let mut page_bytes = 0u64;
        let mut decoded = Vec::with_capacity(resp.docs.len());
        for d in &resp.docs {
            let data = B64.decode(d.data.as_bytes()).map_err(|_| Error::Server {
                status: 200,
                code: "bad_response".into(),
                message: "document data is not base64".into(),
            })?;
            page_bytes += data.len() as u64;
            decoded.push(crate::store::PulledDoc {
                id: d.id.clone(),
                kind: d.kind.clone(),
                scope: d.scope.clone(),
                data,
            });
        }
        let purge = resp.purge.clone();
        let cursors = resp.cursors.clone();
        store.batch(|s| {
            s.apply_pulled(&decoded)?;
            s.purge(&purge)?;
            s.set_cursors(&cursors)?;
            Ok(())
        })?;
        report.purged.extend(purge);
        if !resp.dropped_feeds.is_empty() {
            let feeds: Vec<String> = resp.cursors.keys().cloned().collect();
            let gone = store.uncovered_docs(&feeds)?;
            store.purge(&gone)?;
            report.purged.extend(gone);
        }
        report.docs_received += decoded.len() as u64;
        report.bytes_received += page_bytes;

        p.docs_received += decoded.len() as u64;
        p.docs_total = p.docs_received + resp.remaining;
        p.bytes_done = report.bytes_sent + report.bytes_received;
        let per_doc = report
            .bytes_received
            .checked_div(p.docs_received)
            .unwrap_or(0);
        p.bytes_total = p.bytes_done + per_doc * resp.remaining;
        let more_to_push = store.pending_changes()? > held_back.len() as u64;
        p.phase = if more_to_push {
            Phase::Push
        } else {
            Phase::Pull
        };
        if !resp.more && !more_to_push {
            // Photos after the documents: the server takes a photo only
            // for a report it has that lists it.
            if !report.purged.is_empty() {
                // Photos of reports this user may no longer read go too.
                store.drop_unreferenced_blobs(true)?;
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
            p.phase = Phase::Done;
            progress(&p);
            return Ok(report);
        }
        progress(&p);
    }
}

/// Upload the queued photos, reporting bytes through `progress`.
fn upload_blobs(
    store: &mut Store,
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
            progress(p);
        },
    )?;
    report.blobs_uploaded += r.uploaded;
    report.blob_bytes_sent += r.bytes_sent;
    report.blobs_pending = r.pending;
    Ok(())
}

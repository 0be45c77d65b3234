//! The webhook dispatcher: a background task that queues one call per step
//! of each filed report and delivers the calls, signed, in order per
//! report, retried with exponential backoff until a 2xx.
//!
//! Queueing: the dispatcher follows the change log from its cursor
//! (`hotline_cursor`; the log has no holes, docs/adr/0005); each filed
//! report with a change there is loaded, every workflow event becomes a row
//! of `hotline_deliveries` (unique by report and event, so finding a step
//! twice queues it once) and the cursor moves, in one transaction. A
//! report's case row is written before its first change is pushed, so no
//! change of a filed report is passed over.
//! Delivering: the first undelivered call of each report, if due, is sent;
//! a 2xx marks it delivered, anything else counts an attempt and sets the
//! next try `base · 2^(attempts-1)`, at most `max`, later. Rows survive a
//! restart, so nothing found is lost; a call may arrive twice (a 2xx lost
//! on the way, two server processes), never not at all: receivers dedupe
//! by `event_id`.

use std::sync::LazyLock;
use std::time::Duration;

use automerge::Automerge;
use gridsync_core::doc;
use gridsync_core::issue::{self, EventKind, Issue, Status, workflow};
use serde_json::json;
use tokio::sync::Notify;

use super::{Due, Hotline, now_ms, signature};
use crate::state::AppState;
use crate::web::MainDb;

/// The dispatcher's settings, from the environment (defaults in brackets):
/// `GRIDSYNC_HOTLINE_POLL_MS` (1000) how often it looks for new steps and
/// due calls; `GRIDSYNC_HOTLINE_RETRY_BASE_MS` (5000) the first retry's
/// delay; `GRIDSYNC_HOTLINE_RETRY_MAX_MS` (3600000) the longest delay;
/// `GRIDSYNC_HOTLINE_FAILING_AFTER` (5) attempts after which a call is
/// listed as failing; `GRIDSYNC_HOTLINE_TIMEOUT_MS` (10000) per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knobs {
    /// Poll interval, ms.
    pub poll_ms: u64,
    /// First retry delay, ms.
    pub retry_base_ms: i64,
    /// Longest retry delay, ms.
    pub retry_max_ms: i64,
    /// Attempts after which a call is listed as failing.
    pub failing_after: i64,
    /// Timeout of one call, ms.
    pub timeout_ms: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            poll_ms: 1000,
            retry_base_ms: 5000,
            retry_max_ms: 3_600_000,
            failing_after: 5,
            timeout_ms: 10_000,
        }
    }
}

impl Knobs {
    /// The defaults, overridden by the environment variables that are set
    /// to a positive number.
    pub fn from_env() -> Self {
        fn var(name: &str) -> Option<u64> {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
        }
        let d = Self::default();
        let i = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Self {
            poll_ms: var("GRIDSYNC_HOTLINE_POLL_MS").unwrap_or(d.poll_ms),
            retry_base_ms: var("GRIDSYNC_HOTLINE_RETRY_BASE_MS").map_or(d.retry_base_ms, i),
            retry_max_ms: var("GRIDSYNC_HOTLINE_RETRY_MAX_MS").map_or(d.retry_max_ms, i),
            failing_after: var("GRIDSYNC_HOTLINE_FAILING_AFTER").map_or(d.failing_after, i),
            timeout_ms: var("GRIDSYNC_HOTLINE_TIMEOUT_MS").unwrap_or(d.timeout_ms),
        }
    }

    /// The delay before the next try after `attempts` failed ones.
    pub fn backoff_ms(&self, attempts: i64) -> i64 {
        let shift = u32::try_from((attempts - 1).clamp(0, 40)).unwrap_or(40);
        self.retry_base_ms
            .saturating_mul(1i64 << shift)
            .min(self.retry_max_ms)
    }
}

static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Have the dispatcher look now rather than at its next poll.
pub fn wake() {
    WAKE.notify_one();
}

/// A filing cut short (the server stopped between claiming a reference and
/// storing its report) is finished after this long.
const UNFILED_AFTER_MS: i64 = 30_000;
/// Changes of filed reports read from the log per step.
const LOG_BATCH: usize = 500;
/// Calls sent at once (each to a different report).
const BATCH: i64 = 32;

/// Start the dispatcher on the current runtime.
pub fn spawn_dispatcher(state: AppState, knobs: Knobs) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_millis(knobs.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("gridsync-hotline/1")
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "hotline dispatcher: no HTTP client; webhooks are not sent");
                return;
            }
        };
        loop {
            if let Err(e) = round(&state, &knobs, &client).await {
                tracing::warn!(error = %e, "hotline dispatcher round failed; trying again");
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(knobs.poll_ms)) => {}
                () = WAKE.notified() => {}
            }
        }
    })
}

/// One pass: finish cut-short filings, queue new steps, send due calls.
pub async fn round(
    state: &AppState,
    knobs: &Knobs,
    client: &reqwest::Client,
) -> anyhow::Result<()> {
    let db = Hotline::of(state).db;
    for (report_id, change) in on!(&db, unfiled(now_ms() - UNFILED_AFTER_MS, 100))? {
        match super::store_report(state, &report_id, change).await {
            Ok(()) => on!(&db, filed(report_id.clone()))?,
            Err(e) => {
                tracing::warn!(report = %report_id, error = %e, "hotline filing could not be finished")
            }
        }
    }
    loop {
        // The reports changed since the cursor (the log as the store gives
        // every projector), then which of them came from the hotline.
        let from = on!(&db, cursor())?;
        let slice = state
            .docs
            .log_after(from, LOG_BATCH, Some(issue::KIND))
            .await?;
        let upto = slice.upto(LOG_BATCH);
        if upto <= from {
            break;
        }
        let mut ids: Vec<String> = slice.entries.into_iter().map(|e| e.doc_id).collect();
        ids.sort();
        ids.dedup();
        let mut steps = Vec::new();
        for (report_id, reference) in on!(&db, references(ids))? {
            if let Some(bytes) = state.docs.load(&report_id).await? {
                steps.extend(
                    steps_of(&bytes, &reference)
                        .into_iter()
                        .map(|(event, body)| (report_id.clone(), event, body)),
                );
            }
        }
        on!(&db, enqueue(steps, upto, now_ms()))?;
    }
    loop {
        let due = on!(&db, due(now_ms(), BATCH))?;
        let full = due.len() as i64 == BATCH;
        if due.is_empty() {
            break;
        }
        let mut sending = tokio::task::JoinSet::new();
        for d in due {
            let client = client.clone();
            sending.spawn(async move {
                let result = send(&client, &d).await;
                (d, result)
            });
        }
        while let Some(done) = sending.join_next().await {
            let Ok((d, result)) = done else { continue };
            let now = now_ms();
            match result {
                Ok(()) => on!(&db, delivered(d.id, now))?,
                Err(why) => {
                    let attempts = d.attempts + 1;
                    let next = now + knobs.backoff_ms(attempts);
                    // Loud on the first failure and when it becomes
                    // "failing"; quiet for every retry between and after.
                    if attempts == 1 || attempts == knobs.failing_after {
                        tracing::warn!(delivery = d.id, report = %d.report_id, attempts, error = %why, "hotline webhook call failed");
                    } else {
                        tracing::debug!(delivery = d.id, report = %d.report_id, attempts, error = %why, "hotline webhook call failed");
                    }
                    on!(&db, failed(d.id, next, why, now))?;
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(())
}

/// Send one call; why it failed, in a few words without the URL.
async fn send(client: &reqwest::Client, d: &Due) -> Result<(), String> {
    let t = now_ms() / 1000;
    let body = d.payload.clone().into_bytes();
    let answer = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Gridsync-Signature", signature(&d.secret, t, &body))
        .header("X-Gridsync-Delivery", d.id.to_string())
        .header("X-Gridsync-Event", d.event_id.as_str())
        .body(body)
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err("超时 / timed out".into()),
        Err(e) if e.is_connect() => Err("无法连接 / connection failed".into()),
        Err(e) => Err(e.without_url().to_string().chars().take(200).collect()),
    }
}

/// The webhook body of every step of a report document, in the order the
/// workflow folds them: `(event id, JSON body)`.
pub(crate) fn steps_of(bytes: &[u8], reference: &str) -> Vec<(String, String)> {
    let Some(issue) = Automerge::load(bytes)
        .ok()
        .and_then(|d| doc::read::<Issue>(&d, None).ok())
        .filter(|i| i.kind == issue::KIND)
    else {
        return Vec::new();
    };
    let mut status = Status::default();
    let mut reported = false;
    let mut out = Vec::new();
    for (id, e) in workflow::in_order(&issue.events) {
        let applied = if !reported && e.kind == EventKind::Report.code() {
            reported = true;
            true
        } else {
            workflow::step(&mut status, e).is_ok()
        };
        let kind = EventKind::from_code(&e.kind);
        let body = json!({
            "reference": reference,
            "report_id": issue.id,
            "event_id": id,
            "step": e.kind,
            "step_name": kind.map(EventKind::name_zh),
            "applied": applied,
            "stage": status.stage.code(),
            "stage_name": status.stage.name_zh(),
            "level": e.level,
            "at": e.at,
            "note": e.note,
            "department": e.assignee.as_deref().and_then(issue::assignee_department),
            "rating": e.rating,
            "grid": issue.grid,
        });
        out.push((id.to_owned(), body.to_string()));
    }
    out
}

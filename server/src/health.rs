//! The server's health as `GET /healthz` reports it, and the counters it
//! is made of: answers refused because the data disk was full, log lines
//! that could not be written, and the free space left on the data disk.
//!
//! The log writer ([`LogWriter`]) never fails: a log line that cannot be
//! written (its disk is full, its pipe closed) is dropped and counted, so
//! logging can neither panic nor cost a request its answer.
//!
//! `/healthz` always answers 200 while the process serves (it is a
//! liveness check; reads still work on a full disk); `status` is
//! `degraded` when storage is full or low or the log cannot be written.
//! The counters are the process's (one server per process).

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::state::AppState;

/// How long after a refused write storage counts as full, seconds: after
/// that, only the free space says whether it still is.
const RECENT_SECS: u64 = 300;

static STORAGE_FULL: AtomicU64 = AtomicU64::new(0);
static STORAGE_FULL_AT: AtomicU64 = AtomicU64::new(0);
static LOG_WRITE_ERRORS: AtomicU64 = AtomicU64::new(0);
static LOG_WRITE_ERROR_AT: AtomicU64 = AtomicU64::new(0);

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A request was answered `storage_full` (507).
pub fn storage_full_answered() {
    STORAGE_FULL.fetch_add(1, Ordering::Relaxed);
    STORAGE_FULL_AT.store(now(), Ordering::Relaxed);
}

/// A log line could not be written.
fn log_write_failed() {
    LOG_WRITE_ERRORS.fetch_add(1, Ordering::Relaxed);
    LOG_WRITE_ERROR_AT.store(now(), Ordering::Relaxed);
}

/// Log lines that could not be written since the process started.
pub fn log_write_errors() -> u64 {
    LOG_WRITE_ERRORS.load(Ordering::Relaxed)
}

/// Standard error for the log, whose failures are counted and skipped:
/// `tracing_subscriber::fmt().with_writer(LogWriter)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::io::Write::write_all(&mut std::io::stderr().lock(), buf).is_err() {
            log_write_failed();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if std::io::stderr().lock().flush().is_err() {
            log_write_failed();
        }
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

/// Free bytes an unprivileged process may still write on the disk of
/// `dir`, if the platform says.
#[cfg(unix)]
pub fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

/// Free bytes on the disk of `dir`: unknown off Unix.
#[cfg(not(unix))]
pub fn free_bytes(_dir: &std::path::Path) -> Option<u64> {
    None
}

/// The answer of `GET /healthz`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Health {
    /// `ok`, or `degraded` when storage or the log is not `ok`.
    pub status: String,
    /// The data directory's disk.
    pub storage: StorageHealth,
    /// The log (standard error).
    pub log: LogHealth,
}

/// Storage in `/healthz`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct StorageHealth {
    /// `ok`; `full` when a write was refused for want of space in the
    /// last five minutes (and, on the embedded database, less than
    /// `min_free_bytes` is still free); `low` when less than
    /// `min_free_bytes` is free.
    pub status: String,
    /// Free bytes on the data directory's disk (null if unknown).
    pub free_bytes: Option<u64>,
    /// The threshold below which storage is `low` (`--min-free-disk-mb`).
    pub min_free_bytes: u64,
    /// Requests answered `storage_full` since the server started.
    pub full_errors: u64,
    /// When the last one was, Unix seconds.
    pub last_full_error_at: Option<u64>,
}

/// The log in `/healthz`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct LogHealth {
    /// `ok`, or `failing` when a log line could not be written in the
    /// last five minutes.
    pub status: String,
    /// Log lines dropped since the server started.
    pub write_errors: u64,
}

fn recent(at: u64, now: u64) -> bool {
    at != 0 && now.saturating_sub(at) < RECENT_SECS
}

/// The server's health now.
pub fn health(state: &AppState) -> Health {
    let now = now();
    let free = free_bytes(&state.config.data_dir);
    let min_free = state.config.min_free_disk_bytes;
    let full_at = STORAGE_FULL_AT.load(Ordering::Relaxed);
    // On the embedded database a write refused for space stops counting
    // once space is back; PostgreSQL's disk is not this one.
    let space_back =
        state.config.database_url.is_none() && free.is_some_and(|f| f >= min_free.max(1));
    let storage = if recent(full_at, now) && !space_back {
        "full"
    } else if free.is_some_and(|f| f < min_free) {
        "low"
    } else {
        "ok"
    };
    let log = if recent(LOG_WRITE_ERROR_AT.load(Ordering::Relaxed), now) {
        "failing"
    } else {
        "ok"
    };
    let status = if storage == "ok" && log == "ok" {
        "ok"
    } else {
        "degraded"
    };
    Health {
        status: status.into(),
        storage: StorageHealth {
            status: storage.into(),
            free_bytes: free,
            min_free_bytes: min_free,
            full_errors: STORAGE_FULL.load(Ordering::Relaxed),
            last_full_error_at: (full_at != 0).then_some(full_at),
        },
        log: LogHealth {
            status: log.into(),
            write_errors: log_write_errors(),
        },
    }
}

/// `GET /healthz`.
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(health(&state))
}

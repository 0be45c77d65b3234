//! Photos and attachments over HTTP, apart from document sync
//! (docs/protocol.md, "Blobs"): uploads that resume where the server
//! stands after a dropped connection, and downloads checked against the
//! SHA-256 that names them.
//!
//! An upload asks the server how many bytes it has (`PUT`, which also
//! records which report the blob belongs to and answers at once when the
//! server already has it) and sends the rest in chunks (`PATCH` with
//! `Upload-Offset`). A blob leaves the device's upload queue only when the
//! server answers it complete. [`crate::sync::sync`] runs the uploads after
//! the documents are pushed, so the server knows the reports that list
//! them.
//!
//! The store is reached through [`StoreAccess`] for each local step (a
//! token, a chunk's bytes, marking a blob uploaded, keeping a download):
//! never across a request.

use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::wire::ErrorBody;
use super::{Client, StoreAccess};
use crate::store::{PendingBlob, blob_hash, is_blob_hash};
use crate::{Error, Reason, Result};

/// Bytes per upload chunk: small enough that a chunk lost to a dropped
/// connection costs little on a weak signal, large enough to be quick.
pub const DEFAULT_CHUNK: usize = 512 * 1024;

/// What an upload run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReport {
    /// Blobs the server now has complete for their report.
    pub uploaded: u64,
    /// Of those, how many the server already had (no bytes sent).
    pub deduplicated: u64,
    /// Bytes of blob data sent, counting every attempt: a chunk lost to a
    /// dropped connection and sent again counts twice.
    pub bytes_sent: u64,
    /// Blobs the server would not take now (report not synced, not
    /// listed, too large, not allowed); they stay queued.
    pub refused: u64,
    /// Blobs still waiting after this run.
    pub pending: u64,
}

/// The server's answer about an upload.
#[derive(Debug, Clone, Deserialize)]
struct UploadState {
    size: u64,
    offset: u64,
    complete: bool,
}

/// An error answer, with the upload offset when there is one.
#[derive(Debug, Clone, Default, Deserialize)]
struct BlobError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    offset: Option<u64>,
}

enum Answer {
    Ok(reqwest::blocking::Response),
    Refused(u16, BlobError),
}

/// One request with the stored token: retried on dropped connections and
/// 5xx, renewed once on 401. `Ok(Answer::Refused)` for any other 4xx.
fn request<A: StoreAccess>(
    store: &mut A,
    client: &Client,
    method: Method,
    path: &str,
    headers: HeaderMap,
    body: Option<&[u8]>,
) -> Result<Answer> {
    request_counted(store, client, method, path, headers, body, &mut 0)
}

/// [`request`], adding the body bytes of every attempt that reached the
/// server to `wire` (a chunk lost to a dropped connection is sent again
/// and counts twice).
fn request_counted<A: StoreAccess>(
    store: &mut A,
    client: &Client,
    method: Method,
    path: &str,
    headers: HeaderMap,
    body: Option<&[u8]>,
    wire: &mut u64,
) -> Result<Answer> {
    let mut token = store.with(|s| Client::access_token(s))?;
    let mut renewed = false;
    let retry = client.retry_policy().clone();
    let mut backoff = retry.first_backoff;
    let mut last = String::new();
    let mut attempt = 0;
    while attempt < retry.attempts.max(1) {
        if attempt > 0 {
            std::thread::sleep(backoff);
            backoff *= 2;
        }
        attempt += 1;
        let mut req = client
            .http()
            .request(method.clone(), format!("{}{path}", client.base_url()))
            .headers(headers.clone())
            .bearer_auth(&token);
        if let Some(b) = body {
            req = req.body(b.to_vec());
        }
        let resp = req.send();
        // The body went out unless the connection could not be made.
        if let Some(b) = body
            && !resp.as_ref().is_err_and(|e| e.is_connect())
        {
            *wire += b.len() as u64;
        }
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                last = if e.is_timeout() {
                    "timed out".into()
                } else if e.is_connect() {
                    "cannot connect to the server".into()
                } else {
                    "connection interrupted".into()
                };
                continue;
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(Answer::Ok(resp));
        }
        // A full disk (507) is answered at once, not retried as busy.
        if (status.is_server_error() && status != reqwest::StatusCode::INSUFFICIENT_STORAGE)
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            last = format!("server answered {status}");
            continue;
        }
        let err: BlobError = resp.json().unwrap_or_default();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            if renewed {
                return Err(Error::Unauthorized(err.message));
            }
            let body = ErrorBody {
                error: err.error,
                message: err.message,
            };
            token = client.after_unauthorized(store, &body, &token)?;
            renewed = true;
            attempt -= 1;
            continue;
        }
        return Ok(Answer::Refused(status.as_u16(), err));
    }
    Err(Error::Network(last))
}

fn server_error(status: u16, e: BlobError) -> Error {
    Error::Server {
        status,
        code: e.error,
        message: e.message,
    }
}

fn bad_answer(e: impl std::fmt::Display) -> Error {
    Error::Server {
        status: 200,
        code: "bad_response".into(),
        message: e.to_string(),
    }
}

fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h
}

/// How one upload ended.
enum Outcome {
    /// The server has it complete; `sent` bytes were put on the wire for
    /// it now.
    Done { sent: u64, dedup: bool },
    /// The server would not take it now (kept queued).
    Refused,
}

/// Upload one queued blob for its report, from wherever the server stands.
fn upload_one<A: StoreAccess>(
    store: &mut A,
    client: &Client,
    blob: &PendingBlob,
    doc: &str,
    chunk: usize,
    cancel: Option<&AtomicBool>,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<Outcome> {
    let path = format!("/v1/blobs/{}", blob.hash);
    let begin = serde_json::json!({"doc": doc, "size": blob.size}).to_string();
    let state: UploadState = match request(
        store,
        client,
        Method::PUT,
        &path,
        json_headers(),
        Some(begin.as_bytes()),
    )? {
        Answer::Ok(r) => r.json().map_err(bad_answer)?,
        Answer::Refused(status, e) => {
            tracing::warn!(
                blob = blob.hash,
                status,
                code = e.error,
                "server would not take the blob now; kept for the next sync"
            );
            return Ok(Outcome::Refused);
        }
    };
    if state.size != blob.size {
        return Err(bad_answer("the server reports another size"));
    }
    let mut offset = state.offset;
    let dedup = state.complete;
    let mut sent = 0u64;
    let mut complete = state.complete;
    let mut restarts = 0;
    while !complete {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled);
        }
        let data = store.with(|s| s.blob_range(&blob.hash, offset, chunk))?;
        if data.is_empty() {
            return Err(bad_answer("the server wants bytes past the blob's end"));
        }
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/offset+octet-stream"),
        );
        h.insert("upload-offset", HeaderValue::from(offset));
        match request_counted(
            store,
            client,
            Method::PATCH,
            &path,
            h,
            Some(&data),
            &mut sent,
        )? {
            Answer::Ok(r) => {
                let s: UploadState = r.json().map_err(bad_answer)?;
                on_bytes(data.len() as u64);
                offset = s.offset;
                complete = s.complete;
            }
            // The server holds another offset (a chunk whose answer was
            // lost did arrive, or another device sent some): go on from it.
            Answer::Refused(409, e) if e.offset.is_some() => {
                offset = e.offset.unwrap_or(0);
            }
            // The server discarded a corrupt upload: start over, once.
            Answer::Refused(422, e) if e.error == "hash_mismatch" && restarts == 0 => {
                restarts += 1;
                offset = 0;
                let r = request(
                    store,
                    client,
                    Method::PUT,
                    &path,
                    json_headers(),
                    Some(begin.as_bytes()),
                )?;
                let Answer::Ok(r) = r else {
                    return Ok(Outcome::Refused);
                };
                let s: UploadState = r.json().map_err(bad_answer)?;
                offset = s.offset.max(offset);
                complete = s.complete;
            }
            Answer::Refused(status, e) => return Err(server_error(status, e)),
        }
    }
    store.with(|s| s.blob_uploaded(&blob.hash, doc))?;
    Ok(Outcome::Done { sent, dedup })
}

/// Upload every queued blob whose report is known, reporting bytes sent
/// through `on_bytes` (after each chunk) with the total to send. A blob
/// the server will not take now stays queued; a dropped connection ends
/// the run with [`Error::Network`] and the next run resumes each upload
/// where the server stands.
pub fn upload_pending<A: StoreAccess>(
    store: &mut A,
    client: &Client,
    chunk: usize,
    cancel: Option<&AtomicBool>,
    on_bytes: &mut dyn FnMut(u64, u64),
) -> Result<UploadReport> {
    let pending = store.with(|s| s.pending_blobs())?;
    let total: u64 = pending
        .iter()
        .filter(|p| p.doc_id.is_some())
        .map(|p| p.size)
        .sum();
    let mut report = UploadReport::default();
    let mut done = 0u64;
    for blob in &pending {
        let Some(doc) = blob.doc_id.as_deref() else {
            continue;
        };
        let mut count = |n: u64| {
            done += n;
            on_bytes(done, total);
        };
        match upload_one(store, client, blob, doc, chunk.max(1), cancel, &mut count)? {
            Outcome::Done { sent, dedup } => {
                report.uploaded += 1;
                report.bytes_sent += sent;
                if dedup {
                    report.deduplicated += 1;
                }
            }
            Outcome::Refused => report.refused += 1,
        }
    }
    report.pending = store.with(|s| s.pending_blobs())?.len() as u64;
    Ok(report)
}

fn check_hash(hash: &str) -> Result<String> {
    if is_blob_hash(hash) {
        Ok(hash.to_ascii_lowercase())
    } else {
        Err(Reason::new(
            "照片编号应为64位十六进制（SHA-256）",
            "a blob is named by its SHA-256, 64 hex digits",
        )
        .on("hash"))
    }
}

fn get<A: StoreAccess>(store: &mut A, client: &Client, path: &str) -> Result<Vec<u8>> {
    match request(store, client, Method::GET, path, HeaderMap::new(), None)? {
        Answer::Ok(r) => r
            .bytes()
            .map(|b| b.to_vec())
            .map_err(|_| Error::Network("connection interrupted".into())),
        Answer::Refused(status, e) => Err(server_error(status, e)),
    }
}

/// Download `path` whole: a connection dropped mid-body is picked up
/// again with `Range` from the bytes already received.
fn get_resumable<A: StoreAccess>(store: &mut A, client: &Client, path: &str) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let mut data: Vec<u8> = Vec::new();
    let mut stalls = 0;
    loop {
        let mut h = HeaderMap::new();
        if !data.is_empty() {
            h.insert(
                reqwest::header::RANGE,
                HeaderValue::from_str(&format!("bytes={}-", data.len()))
                    .map_err(|e| Error::Shape(e.to_string()))?,
            );
        }
        let mut resp = match request(store, client, Method::GET, path, h, None)? {
            Answer::Ok(r) => r,
            Answer::Refused(status, e) => return Err(server_error(status, e)),
        };
        if resp.status() != reqwest::StatusCode::PARTIAL_CONTENT {
            // The whole body (a server that ignores Range, or a first try).
            data.clear();
        }
        let before = data.len();
        let mut buf = vec![0u8; 64 * 1024];
        let cut = loop {
            match resp.read(&mut buf) {
                Ok(0) => break false,
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(_) => break true,
            }
        };
        if !cut {
            return Ok(data);
        }
        // Cut off: go on from what arrived, unless nothing does any more.
        stalls = if data.len() > before { 0 } else { stalls + 1 };
        if stalls >= client.retry_policy().attempts.max(1) {
            return Err(Error::Network("connection interrupted".into()));
        }
    }
}

/// The photo `hash`: from the store if it holds it, else downloaded
/// (resuming after a dropped connection), checked against its SHA-256 and
/// kept. Only those who may read a report listing it get it (the server
/// answers 404 to anyone else).
pub fn fetch_blob<A: StoreAccess>(store: &mut A, client: &Client, hash: &str) -> Result<Vec<u8>> {
    let hash = check_hash(hash)?;
    if let Some(b) = store.with(|s| s.blob(&hash))? {
        return Ok(b);
    }
    let data = get_resumable(store, client, &format!("/v1/blobs/{hash}"))?;
    if blob_hash(&data) != hash {
        return Err(Error::Server {
            status: 200,
            code: "hash_mismatch".into(),
            message: "下载的文件校验失败 / the downloaded bytes do not match their SHA-256".into(),
        });
    }
    store.with(|s| s.store_downloaded_blob(&hash, &data))?;
    Ok(data)
}

/// The thumbnail (JPEG, at most 256 pixels a side) the server made of
/// photo `hash`, for lists: from the store if it holds it, else
/// downloaded and kept (removed with the photo when no report on the
/// device lists it any more).
pub fn fetch_thumbnail<A: StoreAccess>(
    store: &mut A,
    client: &Client,
    hash: &str,
) -> Result<Vec<u8>> {
    let hash = check_hash(hash)?;
    if let Some(t) = store.with(|s| s.thumbnail(&hash))? {
        return Ok(t);
    }
    let data = get(store, client, &format!("/v1/blobs/{hash}?thumb=1"))?;
    store.with(|s| s.store_thumbnail(&hash, &data))?;
    Ok(data)
}

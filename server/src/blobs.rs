//! Photos and attachments (blobs): named by the SHA-256 of their bytes,
//! uploaded and downloaded apart from document sync, resumably.
//!
//! - `PUT /v1/blobs/{sha256}` `{"doc", "size"}` begins (or finds) the
//!   upload of a blob for an issue report and answers how many bytes the
//!   server already has (`offset`); a blob the server already holds is
//!   not sent again, only recorded for the new report (deduplication).
//! - `PATCH /v1/blobs/{sha256}` with `Upload-Offset: n` appends one chunk;
//!   a chunk at another offset is answered 409 with the server's offset.
//!   When the last byte arrives the SHA-256 is verified (a mismatch is
//!   refused and the partial data discarded) and a thumbnail is made.
//! - `HEAD`/`GET /v1/blobs/{sha256}` (`?thumb=1` for the thumbnail).
//!
//! Who may read a blob: whoever may read ([`scope::may_read`]) a document
//! that the blob was uploaded for *and* that lists it in `photos` on the
//! server. A blob nobody may read is answered 404, as if absent.
//!
//! Storage is behind [`BlobStore`]: files under the data directory next to
//! the embedded SQLite database ([`files`]), or the PostgreSQL database
//! itself ([`postgres`]) so that several server processes share them.

use async_trait::async_trait;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;
use crate::scope;
use crate::state::AppState;
use crate::store::StoreError;

pub mod files;
pub mod postgres;
pub mod thumb;

/// Largest blob accepted unless configured otherwise: 10 MiB.
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 10 * 1024 * 1024;

/// Largest chunk one `PATCH` may carry: 4 MiB (below the request body
/// limit, so a chunk is never cut by it).
pub const MAX_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// The header naming an upload's offset (tus).
pub const UPLOAD_OFFSET: &str = "upload-offset";
/// The header naming a blob's size (tus).
pub const UPLOAD_LENGTH: &str = "upload-length";

/// What the store knows of a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Declared size, bytes.
    pub size: u64,
    /// Bytes received so far (`size` once complete).
    pub received: u64,
    /// Every byte received and the hash verified.
    pub complete: bool,
    /// What it is (sniffed from the bytes when complete).
    pub content_type: String,
    /// A thumbnail was made.
    pub has_thumb: bool,
}

/// The outcome of appending a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored; the upload now holds this many bytes.
    Ok(u64),
    /// The chunk is not at the upload's offset, which is this.
    WrongOffset(u64),
    /// The chunk goes past the declared size.
    TooLong,
    /// No upload of this blob was begun.
    Missing,
    /// The blob is already complete.
    Complete,
}

/// Where blobs and their upload state are kept.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// What is known of `hash`, if anything.
    async fn info(&self, hash: &str) -> Result<Option<BlobInfo>, StoreError>;

    /// Begin the upload of `hash` (`size` bytes) unless it is known; an
    /// unfinished upload declared with another size starts over. Records
    /// that `doc_id` references the blob.
    async fn begin(
        &self,
        hash: &str,
        size: u64,
        doc_id: &str,
        user_id: &str,
    ) -> Result<BlobInfo, StoreError>;

    /// Append `data` at `offset`, durably, if that is where the upload stands.
    async fn append(&self, hash: &str, offset: u64, data: Bytes) -> Result<Appended, StoreError>;

    /// The bytes received of an unfinished upload, all of them.
    async fn partial(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Mark a fully received upload complete, with what it is and its
    /// thumbnail (JPEG), if one could be made.
    async fn complete(
        &self,
        hash: &str,
        content_type: &str,
        thumb: Option<Vec<u8>>,
    ) -> Result<(), StoreError>;

    /// Forget an unfinished upload: its bytes, its record and references.
    async fn discard(&self, hash: &str) -> Result<(), StoreError>;

    /// The bytes of a complete blob.
    async fn read(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// The thumbnail of a complete blob, if one was made.
    async fn thumb(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// The documents the blob was uploaded for.
    async fn refs(&self, hash: &str) -> Result<Vec<String>, StoreError>;
}

/// This module's routes.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/v1/blobs/{hash}",
        put(begin).patch(append).get(download).head(head),
    )
}

/// The SHA-256 hex of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A blob name from a path: 64 hex digits, lower-cased.
fn parse_hash(hash: &str) -> ApiResult<String> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash.to_ascii_lowercase())
    } else {
        Err(ApiError::invalid(
            "hash",
            "照片编号应为64位十六进制（SHA-256）/ a blob is named by its SHA-256, 64 hex digits",
        ))
    }
}

/// `10 MB`, `512 KB`, `1000 B`.
fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("照片不存在或无权查看 / no such photo, or not yours to see".into())
}

/// An error answer with the upload's offset, for the client to resume from.
fn offset_error(status: StatusCode, code: &'static str, message: &str, offset: u64) -> Response {
    let mut r = (
        status,
        Json(serde_json::json!({"error": code, "message": message, "offset": offset})),
    )
        .into_response();
    r.headers_mut()
        .insert(UPLOAD_OFFSET, HeaderValue::from(offset));
    r
}

/// Whether the document `doc_id` on the server lists `hash` among its
/// photos.
async fn doc_lists(state: &AppState, doc_id: &str, hash: &str) -> ApiResult<bool> {
    let Some(saved) = state.docs.load(doc_id).await? else {
        return Ok(false);
    };
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        #[derive(Deserialize)]
        struct Photos {
            #[serde(default)]
            photos: Vec<String>,
        }
        let doc = automerge::Automerge::load(&saved).map_err(ApiError::internal)?;
        let listed = gridsync_core::doc::read::<Photos>(&doc, None)
            .map(|p| p.photos.iter().any(|p| p.eq_ignore_ascii_case(&hash)))
            .unwrap_or(false);
        Ok(listed)
    })
    .await?
}

/// Whether `p` may read `doc_id` and it lists `hash`.
async fn doc_grants(state: &AppState, p: &Principal, doc_id: &str, hash: &str) -> ApiResult<bool> {
    let Some(facts) = facts_for(state, p, doc_id).await? else {
        return Ok(false);
    };
    if !scope::may_read(p, &facts) {
        return Ok(false);
    }
    doc_lists(state, doc_id, hash).await
}

/// The facts of `doc_id` as [`scope::may_read`] needs them for `p`: the
/// store keeps kind, scope and holder; the departments an issue report was
/// dispatched to are derived from its events, so for a department user
/// they are read from the document itself.
pub(crate) async fn facts_for(
    state: &AppState,
    p: &Principal,
    doc_id: &str,
) -> Result<Option<crate::store::DocFacts>, StoreError> {
    let Some(mut facts) = state.docs.facts(doc_id).await? else {
        return Ok(None);
    };
    if p.role == crate::principal::Role::Department
        && facts.kind == gridsync_core::issue::KIND
        && facts.departments.is_empty()
        && let Some(bytes) = state.docs.load(doc_id).await?
    {
        let issue = automerge::Automerge::load(&bytes)
            .ok()
            .and_then(|d| gridsync_core::doc::read::<gridsync_core::issue::Issue>(&d, None).ok());
        if let Some(issue) = issue {
            facts.departments = issue.departments();
        }
    }
    Ok(Some(facts))
}

/// Whether `p` may read the blob `hash`: through any document it was
/// uploaded for that `p` may read and that lists it.
async fn may_read_blob(state: &AppState, p: &Principal, hash: &str) -> ApiResult<bool> {
    for doc in state.blobs.refs(hash).await? {
        if doc_grants(state, p, &doc, hash).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The blob if `p` may see it, else 404.
async fn visible(state: &AppState, p: &Principal, hash: &str) -> ApiResult<BlobInfo> {
    let Some(info) = state.blobs.info(hash).await? else {
        return Err(not_found());
    };
    if !may_read_blob(state, p, hash).await? {
        return Err(not_found());
    }
    Ok(info)
}

/// A photo for the web pages (signed in with a web session, not a bearer
/// token): `None` when it is absent, incomplete, or not `p`'s to see, under
/// the same rule as `GET /v1/blobs/{sha256}`. With its content type.
pub(crate) async fn read_for(
    state: &AppState,
    p: &Principal,
    hash: &str,
    thumb: bool,
) -> Result<Option<(Vec<u8>, String)>, StoreError> {
    let Ok(hash) = parse_hash(hash) else {
        return Ok(None);
    };
    let info = match visible(state, p, &hash).await {
        Ok(info) if info.complete => info,
        Ok(_) | Err(ApiError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(StoreError::Task(e.to_string())),
    };
    Ok(if thumb {
        state
            .blobs
            .thumb(&hash)
            .await?
            .map(|t| (t, "image/jpeg".to_owned()))
    } else {
        state
            .blobs
            .read(&hash)
            .await?
            .map(|b| (b, info.content_type))
    })
}

/// Store a whole photo `data` (named `hash`) sent with a web form for
/// report `doc`, which must already list it: the same records, verification
/// and thumbnail as a phone's upload through `PUT`/`PATCH`, in one piece.
pub(crate) async fn store_whole(
    state: &AppState,
    hash: &str,
    data: &[u8],
    doc: &str,
    user_id: &str,
) -> Result<(), StoreError> {
    let size = data.len() as u64;
    let info = state.blobs.begin(hash, size, doc, user_id).await?;
    if info.complete {
        return Ok(());
    }
    let from = usize::try_from(info.received).unwrap_or(0).min(data.len());
    if from < data.len() {
        state
            .blobs
            .append(hash, info.received, Bytes::copy_from_slice(&data[from..]))
            .await?;
    }
    finish(state, hash)
        .await
        .map(|_| ())
        .map_err(|r| StoreError::Task(format!("photo not stored: {}", r.status())))
}

/// `PUT` body: the report the blob belongs to and its size.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeginRequest {
    /// The document (issue report) listing the blob; already synced.
    pub doc: String,
    /// The blob's size, bytes.
    pub size: u64,
}

/// Where an upload stands.
#[derive(Debug, Serialize, Deserialize)]
pub struct UploadState {
    /// The blob's SHA-256, hex.
    pub hash: String,
    /// Its size, bytes.
    pub size: u64,
    /// Bytes the server holds: send from here.
    pub offset: u64,
    /// Every byte is there and the hash verified.
    pub complete: bool,
}

impl UploadState {
    fn of(hash: &str, info: &BlobInfo) -> Self {
        Self {
            hash: hash.to_owned(),
            size: info.size,
            offset: if info.complete {
                info.size
            } else {
                info.received
            },
            complete: info.complete,
        }
    }

    fn response(self, status: StatusCode) -> Response {
        let offset = self.offset;
        let mut r = (status, Json(self)).into_response();
        r.headers_mut()
            .insert(UPLOAD_OFFSET, HeaderValue::from(offset));
        r
    }
}

async fn begin(
    State(state): State<AppState>,
    p: Principal,
    Path(hash): Path<String>,
    body: Bytes,
) -> Result<Response, Response> {
    let hash = parse_hash(&hash)?;
    let req: BeginRequest = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request(
            "invalid_json",
            "请求格式错误：需要 {\"doc\", \"size\"} / expected {\"doc\", \"size\"}",
        )
        .into_response()
    })?;
    let max = state.config.max_blob_bytes;
    if req.size > max {
        let limit = human_size(max);
        return Err(ApiError::TooLarge(format!(
            "文件过大：最大{limit} / larger than the {limit} limit"
        ))
        .into_response());
    }
    if req.size == 0 {
        return Err(
            ApiError::invalid("size", "文件为空 / an empty file is not a photo").into_response(),
        );
    }
    let doc = gridsync_core::doc::parse_id("doc", &req.doc).map_err(ApiError::from)?;
    let Some(facts) = state.docs.facts(&doc).await? else {
        return Err(ApiError::NotFound(
            "照片所属的事件尚未同步到服务器 / the report this photo belongs to is not on the server yet"
                .into(),
        )
        .into_response());
    };
    if !scope::may_read(&p, &facts) {
        return Err(ApiError::Forbidden(
            "无权为该事件上传照片 / the report is outside your grids".into(),
        )
        .into_response());
    }
    if !doc_lists(&state, &doc, &hash).await? {
        return Err(ApiError::Conflict(
            "事件中没有这张照片：请先同步事件 / the report does not list this photo; sync the report first"
                .into(),
        )
        .into_response());
    }
    if let Some(known) = state.blobs.info(&hash).await?
        && known.complete
        && known.size != req.size
    {
        return Err(ApiError::invalid(
            "size",
            "文件大小与服务器上的不符 / size does not match the blob's",
        )
        .into_response());
    }
    let info = state.blobs.begin(&hash, req.size, &doc, &p.user_id).await?;
    // A crash between the last chunk and its verification leaves a full
    // upload not yet complete: finish it now.
    let info = if !info.complete && info.received == info.size {
        finish(&state, &hash).await?
    } else {
        info
    };
    Ok(UploadState::of(&hash, &info).response(StatusCode::OK))
}

async fn append(
    State(state): State<AppState>,
    p: Principal,
    Path(hash): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    let hash = parse_hash(&hash)?;
    let offset: u64 = headers
        .get(UPLOAD_OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_offset",
                "缺少 Upload-Offset 请求头 / the Upload-Offset header is required",
            )
            .into_response()
        })?;
    if body.len() > MAX_CHUNK_BYTES {
        return Err(ApiError::TooLarge(format!(
            "分块过大：最大{} MB / a chunk may carry {} MB at most",
            MAX_CHUNK_BYTES >> 20,
            MAX_CHUNK_BYTES >> 20
        ))
        .into_response());
    }
    // The uploader must be entitled to the blob through a document, like
    // any reader: nobody else may add to (or probe) an upload.
    visible(&state, &p, &hash).await?;
    match state.blobs.append(&hash, offset, body).await? {
        Appended::Ok(received) => {
            let info = state
                .blobs
                .info(&hash)
                .await?
                .ok_or_else(|| not_found().into_response())?;
            let info = if received == info.size {
                finish(&state, &hash).await?
            } else {
                info
            };
            Ok(UploadState::of(&hash, &info).response(StatusCode::OK))
        }
        Appended::WrongOffset(at) => Err(offset_error(
            StatusCode::CONFLICT,
            "offset_mismatch",
            "上传位置不符，请从服务器给出的位置继续 / the chunk is not at the upload's offset; resume from `offset`",
            at,
        )),
        Appended::TooLong => Err(ApiError::invalid(
            "body",
            "分块超出声明的文件大小 / the chunk goes past the declared size",
        )
        .into_response()),
        Appended::Missing => Err(ApiError::NotFound(
            "没有进行中的上传，请先 PUT / no upload of this blob was begun; PUT first".into(),
        )
        .into_response()),
        Appended::Complete => {
            let info = state
                .blobs
                .info(&hash)
                .await?
                .ok_or_else(|| not_found().into_response())?;
            Ok(UploadState::of(&hash, &info).response(StatusCode::OK))
        }
    }
}

/// Verify a fully received upload and make its thumbnail; a mismatch
/// discards it.
async fn finish(state: &AppState, hash: &str) -> Result<BlobInfo, Response> {
    let Some(data) = state.blobs.partial(hash).await? else {
        // Finished meanwhile by another request.
        return state
            .blobs
            .info(hash)
            .await?
            .ok_or_else(|| not_found().into_response());
    };
    let expected = hash.to_owned();
    let checked = tokio::task::spawn_blocking(move || {
        if sha256_hex(&data) != expected {
            return None;
        }
        Some((thumb::content_type(&data), thumb::make(&data)))
    })
    .await
    .map_err(ApiError::from)?;
    let Some((content_type, thumbnail)) = checked else {
        state.blobs.discard(hash).await?;
        return Err(offset_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "hash_mismatch",
            "文件校验失败，已丢弃，请重新上传 / the bytes do not match the SHA-256; discarded, upload again",
            0,
        ));
    };
    state.blobs.complete(hash, content_type, thumbnail).await?;
    state
        .blobs
        .info(hash)
        .await?
        .ok_or_else(|| not_found().into_response())
}

async fn head(
    State(state): State<AppState>,
    p: Principal,
    Path(hash): Path<String>,
) -> ApiResult<Response> {
    let hash = parse_hash(&hash)?;
    let info = visible(&state, &p, &hash).await?;
    let state = UploadState::of(&hash, &info);
    let mut r = StatusCode::OK.into_response();
    let h = r.headers_mut();
    h.insert(UPLOAD_OFFSET, HeaderValue::from(state.offset));
    h.insert(UPLOAD_LENGTH, HeaderValue::from(state.size));
    h.insert(
        "blob-complete",
        HeaderValue::from_static(if state.complete { "true" } else { "false" }),
    );
    Ok(r)
}

/// `GET` query.
#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    /// `1` (or `true`) for the thumbnail.
    #[serde(default)]
    pub thumb: Option<String>,
}

/// The start of `Range: bytes=N-` (or `bytes=N-M`, read to the end): a
/// download cut off resumes from the bytes it has.
fn range_start(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = v.trim().strip_prefix("bytes=")?;
    let (start, _) = spec.split_once('-')?;
    start.trim().parse().ok()
}

async fn download(
    State(state): State<AppState>,
    p: Principal,
    Path(hash): Path<String>,
    Query(q): Query<DownloadQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let hash = parse_hash(&hash)?;
    let info = visible(&state, &p, &hash).await?;
    if !info.complete {
        return Err(ApiError::NotFound(
            "照片尚未上传完成 / the photo is not completely uploaded yet".into(),
        ));
    }
    let want_thumb = q.thumb.as_deref().is_some_and(|t| t == "1" || t == "true");
    let (bytes, content_type) = if want_thumb {
        let t = state.blobs.thumb(&hash).await?.ok_or_else(|| {
            ApiError::NotFound("该文件没有缩略图 / this file has no thumbnail".into())
        })?;
        (t, "image/jpeg".to_owned())
    } else {
        let b = state.blobs.read(&hash).await?.ok_or_else(not_found)?;
        (b, info.content_type)
    };
    let etag = if want_thumb {
        format!("\"{hash}-thumb\"")
    } else {
        format!("\"{hash}\"")
    };
    let size = bytes.len() as u64;
    let mut r = match range_start(&headers) {
        Some(start) if start > 0 && start < size => {
            let mut r = bytes[start as usize..].to_vec().into_response();
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", size - 1)) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r
        }
        Some(start) if start >= size && size > 0 => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
        _ => bytes.into_response(),
    };
    let h = r.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Content-addressed: the bytes behind a name never change.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(r)
}

//! The sync protocol, `POST /v1/sync` (docs/protocol.md): in one round
//! trip a device pushes its outbox (standard Automerge binary changes) and
//! pulls a page of every feed it may read, from its own cursors.
//!
//! Pushing is idempotent (changes are named by their hash) and pulling is
//! resumable (a cursor moves only when the device has stored the page), so
//! a sync cut off at any point is simply run again.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;
use crate::scope;
use crate::state::AppState;
use crate::store::{FeedCursor, IncomingChange, LogMark, Position, PullLimits, Rejected};

pub mod validate;

/// Most changes one request may push.
pub const MAX_PUSH: usize = 20_000;

/// A sync request. As JSON (`application/json`) each pushed change is
/// [`PushedChange`], base64 inside; as a binary request
/// ([`BINARY`]) this is the header line and each is a [`PushedSize`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest<P = PushedChange> {
    /// The device syncing; must be the one the token was issued to.
    #[serde(default)]
    pub device_id: Option<String>,
    /// Feed → how far the device has read it: the `cursors` of the last
    /// answer, as given (a bare number n means `{"base": n, "cursor": n}`).
    #[serde(default)]
    pub cursors: BTreeMap<String, WireCursor>,
    /// Changes to store, oldest first.
    #[serde(default = "Vec::new")]
    pub push: Vec<P>,
    /// Most documents to return (default 1000).
    #[serde(default)]
    pub max_docs: Option<usize>,
    /// Most bytes of document data to return (default 8 MiB).
    #[serde(default)]
    pub max_bytes: Option<usize>,
    /// Where the log stood in the last answer (`log`), as given: if the
    /// log has lost changes since, the answer says `log_lost`.
    #[serde(default)]
    pub log: Option<LogMark>,
}

/// The media type of a binary sync request: one line of JSON (a
/// [`SyncRequest`] whose `push` entries give each change's `doc` and
/// `size`), a newline, then the changes' bytes one after another. It spares
/// a grid's push the base64 and the JSON around 2 MB of changes.
pub const BINARY: &str = "application/vnd.gridsync.sync";

/// A cursor as a device sends it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum WireCursor {
    /// A bare sequence number: everything up to it is known.
    Seq(i64),
    /// The two-part position answered by the server.
    Position(Position),
}

impl WireCursor {
    pub(crate) fn position(self) -> Position {
        match self {
            WireCursor::Seq(n) => Position::at(n.max(0)),
            WireCursor::Position(p) => Position {
                base: p.base.max(0),
                cursor: p.cursor.max(0),
            },
        }
    }
}

/// One pushed change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushedChange {
    /// Document id.
    pub doc: String,
    /// The Automerge binary change, base64.
    pub change: String,
}

/// One pushed change of a binary request: its bytes follow the header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushedSize {
    /// Document id.
    pub doc: String,
    /// Length of the Automerge binary change, bytes.
    pub size: usize,
}

/// A request as read, whichever its encoding.
pub(crate) struct Parsed {
    device_id: Option<String>,
    pub(crate) cursors: BTreeMap<String, WireCursor>,
    max_docs: Option<usize>,
    max_bytes: Option<usize>,
    log: Option<LogMark>,
    pub(crate) incoming: Vec<IncomingChange>,
}

impl<P> SyncRequest<P> {
    fn with(self, incoming: Vec<IncomingChange>) -> Parsed {
        Parsed {
            device_id: self.device_id,
            cursors: self.cursors,
            max_docs: self.max_docs,
            max_bytes: self.max_bytes,
            log: self.log,
            incoming,
        }
    }

    fn check_count(&self) -> ApiResult<()> {
        if self.push.len() > MAX_PUSH {
            return Err(ApiError::TooLarge(format!(
                "一次最多推送{MAX_PUSH}条修改 / at most {MAX_PUSH} changes per request"
            )));
        }
        Ok(())
    }
}

/// A document in the answer.
#[derive(Debug, Serialize)]
pub struct SyncedDoc {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Grid code.
    pub scope: String,
    /// Automerge data (a saved document and/or changes); base64 in a JSON
    /// answer.
    #[serde(serialize_with = "base64_of")]
    pub data: Vec<u8>,
    /// Its list rows as validation derived them (docs/protocol.md,
    /// "List rows"), only with the whole document at that version: a
    /// device may store them instead of decoding the document to list it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<Box<serde_json::value::RawValue>>,
}

fn base64_of<S: serde::Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&B64.encode(data))
}

/// A document in the header line of a binary answer ([`BINARY`]): its
/// data follows the line, `size` bytes of it.
#[derive(Debug, Serialize)]
pub struct SizedDoc<'a> {
    /// Id.
    pub id: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Grid code.
    pub scope: &'a str,
    /// Length of its Automerge data, bytes.
    pub size: usize,
    /// As in [`SyncedDoc`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<&'a serde_json::value::RawValue>,
}

/// The answer to a sync request: as JSON, or ([`BINARY`], when the
/// request accepts it) its header line with [`SizedDoc`]s and then the
/// documents' data.
#[derive(Debug, Serialize)]
pub struct SyncResponse<D = SyncedDoc> {
    /// Pushed changes newly stored.
    pub stored: usize,
    /// Pushed changes the server already had.
    pub duplicates: usize,
    /// Pushed changes refused (everything else was stored).
    pub rejected: Vec<Rejected>,
    /// Documents new or changed in the device's feeds.
    pub docs: Vec<D>,
    /// Documents the device must delete: it may no longer read them.
    pub purge: Vec<String>,
    /// Feeds the device followed but may no longer read: delete what it
    /// holds only through them.
    pub dropped_feeds: Vec<String>,
    /// The feeds the device may read now, with their new positions: send
    /// them back as they are.
    pub cursors: BTreeMap<String, Position>,
    /// More pages wait: sync again with the new cursors.
    pub more: bool,
    /// Documents still to come (for a progress bar).
    pub remaining: u64,
    /// For each document a pushed change of which was refused as
    /// `missing_dependencies`: the heads of the server's copy (hex; empty
    /// when the server has none of it). The device sends the changes it
    /// has after them.
    pub heads: BTreeMap<String, Vec<String>>,
    /// Where the log stands now: send it back with the next sync.
    pub log: LogMark,
    /// The log lost changes this device saw (a restore from an older
    /// backup, a lost commit): this page was read from the start of every
    /// feed, whatever the cursors; the device should push back what the
    /// server lacks of its documents.
    pub log_lost: bool,
    /// The server's clock, milliseconds since the Unix epoch: the device
    /// compares its own with it.
    pub now: i64,
    /// The `ETag` of the report rules (`GET /v1/reports/rules`) as they
    /// stand: a device holding the rules of this tag need not ask for them.
    pub rules: String,
}

impl SyncResponse {
    /// The answer as a [`BINARY`] body: the header line (JSON, no raw
    /// newline in it), then each document's data in order.
    pub fn into_binary(self) -> Vec<u8> {
        let Self {
            stored,
            duplicates,
            rejected,
            docs,
            purge,
            dropped_feeds,
            cursors,
            more,
            remaining,
            heads,
            log,
            log_lost,
            now,
            rules,
        } = self;
        let header = SyncResponse {
            stored,
            duplicates,
            rejected,
            docs: docs
                .iter()
                .map(|d| SizedDoc {
                    id: &d.id,
                    kind: &d.kind,
                    scope: &d.scope,
                    size: d.data.len(),
                    list: d.list.as_deref(),
                })
                .collect(),
            purge,
            dropped_feeds,
            cursors,
            more,
            remaining,
            heads,
            log,
            log_lost,
            now,
            rules,
        };
        let data: usize = docs.iter().map(|d| d.data.len()).sum();
        let mut out = Vec::with_capacity(data + 128 * docs.len() + 512);
        // Plain data serialized into memory: nothing can fail.
        serde_json::to_writer(&mut out, &header).expect("the header line");
        out.push(b'\n');
        for d in &docs {
            out.extend_from_slice(&d.data);
        }
        out
    }
}

/// The sync route.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/v1/sync", post(sync))
}

/// The body could not be read: too large, or not the encoding it claims.
fn body_error(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge("请求体过大 / request body too large".into())
    } else {
        ApiError::bad_request(
            "unreadable_body",
            "请求体无法读取：压缩格式与Content-Encoding不符或传输中断 / body could not be read: \
             not in the encoding its Content-Encoding names, or cut off",
        )
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "请求体为空 / empty request body",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "malformed_request",
            format!(
                "请求格式错误（第{}行第{}列） / malformed sync request at line {} column {}: {}",
                e.line(),
                e.column(),
                e.line(),
                e.column(),
                match e.classify() {
                    serde_json::error::Category::Io | serde_json::error::Category::Eof =>
                        "truncated body",
                    serde_json::error::Category::Syntax => "not valid JSON",
                    serde_json::error::Category::Data => "unexpected field or value",
                }
            ),
        )
    })
}

/// A JSON request: its changes are base64, decoded on all cores (a grid's
/// push is megabytes of it).
pub(crate) fn parse_request(body: &[u8]) -> ApiResult<Parsed> {
    let mut req: SyncRequest = parse_json(body)?;
    req.check_count()?;
    let push = std::mem::take(&mut req.push);
    let decode = |(i, p): (usize, PushedChange)| match B64.decode(p.change.as_bytes()) {
        Ok(data) => Ok(IncomingChange {
            doc_id: p.doc,
            data,
        }),
        Err(_) => Err(ApiError::invalid(
            format!("push[{i}].change"),
            "不是有效的base64 / not valid base64",
        )),
    };
    let decoded: Vec<ApiResult<IncomingChange>> = if push.len() < 256 {
        push.into_iter().enumerate().map(decode).collect()
    } else {
        use rayon::prelude::*;
        push.into_par_iter().enumerate().map(decode).collect()
    };
    // The first bad change is the one named, as when decoding in order.
    let incoming = decoded.into_iter().collect::<ApiResult<Vec<_>>>()?;
    Ok(req.with(incoming))
}

/// A binary request ([`BINARY`]): the header line, then the changes.
pub(crate) fn parse_binary(body: &[u8]) -> ApiResult<Parsed> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "请求体为空 / empty request body",
        ));
    }
    let Some(end) = body.iter().position(|b| *b == b'\n') else {
        return Err(ApiError::bad_request(
            "malformed_request",
            "二进制请求缺少头部行（JSON加换行） / binary sync request: no header line \
             (a line of JSON ending in a newline)",
        ));
    };
    let (header, data) = (&body[..end], &body[end + 1..]);
    let mut req: SyncRequest<PushedSize> = parse_json(header)?;
    req.check_count()?;
    if let Some(i) = req.push.iter().position(|p| p.size == 0) {
        return Err(ApiError::invalid(
            format!("push[{i}].size"),
            "修改的长度不能为0 / a change is at least one byte",
        ));
    }
    let total = req
        .push
        .iter()
        .try_fold(0usize, |t, p| t.checked_add(p.size))
        .unwrap_or(usize::MAX);
    if total != data.len() {
        return Err(ApiError::invalid(
            "push",
            format!(
                "各修改长度之和为{total}字节，头部之后却有{}字节（请求被截断或长度有误） / \
                 the changes' sizes add up to {total} bytes but {} bytes follow the header \
                 (a cut-off body or wrong sizes)",
                data.len(),
                data.len()
            ),
        ));
    }
    let mut at = 0;
    let incoming = std::mem::take(&mut req.push)
        .into_iter()
        .map(|p| {
            let change = IncomingChange {
                doc_id: p.doc,
                data: data[at..at + p.size].to_vec(),
            };
            at += p.size;
            change
        })
        .collect();
    Ok(req.with(incoming))
}

/// Whether the request says its body is [`BINARY`].
fn is_binary(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(BINARY))
}

async fn sync(
    State(state): State<AppState>,
    principal: Principal,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let body = body.map_err(body_error)?;
    let req = if is_binary(&headers) {
        parse_binary(&body)?
    } else {
        parse_request(&body)?
    };
    drop(body);
    let answer = round_trip(&state, &principal, req).await?;
    Ok(if accepts_binary(&headers) {
        (
            [(axum::http::header::CONTENT_TYPE, BINARY)],
            answer.into_binary(),
        )
            .into_response()
    } else {
        Json(answer).into_response()
    })
}

/// Whether the request's `Accept` names [`BINARY`] (with a q-value above
/// zero): then the answer is binary, else JSON.
fn accepts_binary(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let named = parts
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(BINARY));
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            named && !refused
        })
}

/// One sync round trip for an authenticated person: check the device,
/// push what the phone sent (through its guard), pull a page of every feed
/// the person reads, and answer both with what the phone must purge.
pub(crate) async fn round_trip(
    state: &AppState,
    principal: &Principal,
    req: Parsed,
) -> ApiResult<SyncResponse> {
    if let (Some(claimed), Some(token_device)) = (&req.device_id, &principal.device_id)
        && claimed != token_device
    {
        return Err(ApiError::Forbidden(
            "设备与登录凭证不符 / device_id does not match the token's device".into(),
        ));
    }
    // Before the push: a device that saw changes the log no longer has
    // reads every feed again from the start.
    let log_lost = match &req.log {
        Some(seen) => crate::store::log_lost(state.docs.as_ref(), seen).await?,
        None => false,
    };

    let started = std::time::Instant::now();
    let pushed = req.incoming.len();
    let outcome = push(state, principal, req.incoming).await?;
    let push_ms = started.elapsed().as_secs_f64() * 1000.0;

    let feeds = scope::feeds_for(principal, state.directory.as_ref()).await?;
    let dropped_feeds: Vec<String> = req
        .cursors
        .keys()
        .filter(|f| !feeds.contains(f))
        .cloned()
        .collect();
    let cursors: Vec<FeedCursor> = feeds
        .iter()
        .map(|f| FeedCursor {
            feed: f.clone(),
            at: match req.cursors.get(f) {
                Some(c) if !log_lost => c.position(),
                _ => Position::default(),
            },
        })
        .collect();
    let limits = PullLimits {
        max_docs: req.max_docs.unwrap_or(1000).clamp(1, 5000),
        max_bytes: req.max_bytes.unwrap_or(8 << 20).clamp(1 << 16, 64 << 20),
    };
    let page = state
        .docs
        .pull(cursors, limits, principal.device_id.clone())
        .await?;

    tracing::info!(
        user = %principal.user_id,
        pushed,
        stored = outcome.stored,
        refused = outcome.rejected.len(),
        docs = page.docs.len(),
        more = page.more,
        push_ms = format!("{push_ms:.1}"),
        total_ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        "sync"
    );
    let purge = purge(state, principal, &page.departures).await?;
    let heads = crate::store::heads_for_missing(state.docs.as_ref(), &outcome.rejected).await?;
    let log = state.docs.log_mark().await?;
    Ok(SyncResponse {
        stored: outcome.stored,
        duplicates: outcome.duplicates,
        rejected: outcome.rejected,
        docs: page
            .docs
            .into_iter()
            .map(|d| SyncedDoc {
                id: d.id,
                kind: d.kind,
                scope: d.scope,
                data: d.data,
                list: d
                    .listing
                    .and_then(|l| String::from_utf8(l).ok())
                    .and_then(|l| serde_json::value::RawValue::from_string(l).ok()),
            })
            .collect(),
        purge,
        dropped_feeds,
        cursors: page.cursors.into_iter().map(|c| (c.feed, c.at)).collect(),
        more: page.more,
        remaining: page.remaining,
        heads,
        log,
        log_lost,
        now: i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
            .unwrap_or(i64::MAX),
        rules: state.reports.rules().etag.clone(),
    })
}

/// Push a phone's changes through its person's guard (nothing to do for
/// none).
async fn push(
    state: &AppState,
    principal: &Principal,
    incoming: Vec<IncomingChange>,
) -> ApiResult<crate::store::PushOutcome> {
    if incoming.is_empty() {
        return Ok(Default::default());
    }
    let guard = scope::Guard::new(principal.clone(), validate::document);
    Ok(state
        .docs
        .push(
            incoming,
            Some(principal.user_id.clone()),
            principal.device_id.clone(),
            Box::new(guard),
        )
        .await?)
}

/// The documents that left a feed and that the person can no longer read
/// through any other: a document that left one feed may still be readable
/// through another.
async fn purge(
    state: &AppState,
    principal: &Principal,
    departures: &[(String, String)],
) -> ApiResult<Vec<String>> {
    let mut purge = Vec::new();
    for (_, doc_id) in departures {
        let still = match state.docs.facts(doc_id).await? {
            Some(f) => scope::may_read(principal, &f),
            None => false,
        };
        if !still && !purge.contains(doc_id) {
            purge.push(doc_id.clone());
        }
    }
    Ok(purge)
}

/// A grid the server publishes as a grid document.
#[derive(Debug, Clone)]
pub struct GridDoc {
    /// 15-digit code.
    pub code: String,
    /// Grid name.
    pub name: String,
    /// Community name.
    pub community: String,
    /// Street name.
    pub street: String,
}

/// The id of the grid document of grid `code`: the same on every server
/// process and every import.
pub fn grid_doc_id(code: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("gridsync:grid:{code}").as_bytes(),
    )
    .to_string()
}

/// Publish a grid document for each grid that has none yet, so phones
/// learn the grid and its places with their first sync. The creating change
/// is deterministic (fixed actor and time), so two server processes doing
/// this at once produce the same change, stored once.
pub async fn ensure_grid_docs(state: &AppState, grids: &[GridDoc]) -> anyhow::Result<usize> {
    use automerge::transaction::CommitOptions;
    let mut changes = Vec::new();
    for g in grids {
        let id = grid_doc_id(&g.code);
        if state.docs.facts(&id).await?.is_some() {
            continue;
        }
        let actor = automerge::ActorId::from(uuid::Uuid::parse_str(&id)?.as_bytes().as_slice());
        let mut doc = automerge::Automerge::new().with_actor(actor);
        let grid = gridsync_core::grid::Grid {
            kind: gridsync_core::grid::KIND.into(),
            schema: gridsync_core::grid::SCHEMA,
            id: id.clone(),
            grid: g.code.clone(),
            name: g.name.clone(),
            community: g.community.clone(),
            street: g.street.clone(),
            places: Default::default(),
        };
        doc.transact_with(
            |_| {
                CommitOptions::default()
                    .with_message(r#"{"by":"server","op":"create_grid"}"#)
                    .with_time(0)
            },
            |tx| gridsync_core::doc::write_new(tx, &automerge::ROOT, &grid),
        )
        .map_err(|f| anyhow::anyhow!("creating grid document: {}", f.error))?;
        let change = doc
            .get_last_local_change()
            .ok_or_else(|| anyhow::anyhow!("grid document change missing"))?;
        changes.push(IncomingChange {
            doc_id: id,
            data: change.raw_bytes().to_vec(),
        });
    }
    if changes.is_empty() {
        return Ok(0);
    }
    let guard = scope::Guard::new(server_principal(), validate::document);
    let outcome = state
        .docs
        .push(changes, None, None, Box::new(guard))
        .await?;
    if let Some(r) = outcome.rejected.first() {
        anyhow::bail!("grid document refused: {}", r.refusal.reason);
    }
    Ok(outcome.stored)
}

/// The user id the server itself writes under (grid documents, demo data).
pub const SERVER_USER: &str = "server";

/// The server itself, when it writes documents (grid documents, demo data).
pub fn server_principal() -> Principal {
    Principal {
        user_id: SERVER_USER.into(),
        username: SERVER_USER.into(),
        role: crate::principal::Role::Admin,
        device_id: None,
        grids: Vec::new(),
        subtree: None,
        department: None,
        post: None,
    }
}

/// Publish grid documents for every grid in the directory that has none.
pub async fn publish_grids(state: &AppState) -> anyhow::Result<usize> {
    let streets: BTreeMap<String, String> = state
        .directory
        .streets()
        .await?
        .into_iter()
        .map(|s| (s.code, s.name))
        .collect();
    let communities: BTreeMap<String, String> = state
        .directory
        .communities("")
        .await?
        .into_iter()
        .map(|c| (c.code, c.name))
        .collect();
    let grids: Vec<GridDoc> = state
        .directory
        .grids("")
        .await?
        .into_iter()
        .map(|g| GridDoc {
            name: g.name,
            community: communities
                .get(&g.community_code)
                .cloned()
                .unwrap_or_default(),
            street: streets.get(&g.street_code).cloned().unwrap_or_default(),
            code: g.code,
        })
        .collect();
    ensure_grid_docs(state, &grids).await
}

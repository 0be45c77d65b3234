//! The 12345 hotline into the grid (接诉即办): an external platform files a
//! 诉求 into a grid's closed loop over HTTP and is told of every step by a
//! signed webhook call.
//!
//! - A platform holds a **credential** an administrator creates and revokes
//!   (`gridsync-server admin hotline …`, the page `/web/admin/hotline`): a
//!   bearer token (stored as its SHA-256 only, shown once), a signing
//!   secret (shown once, kept to sign with) and its webhook URL.
//! - `POST /v1/hotline/cases` files a 诉求 as an issue report (source
//!   `hotline`, 12345热线) written by the server itself through the phones'
//!   push path (the same validation and rules). The platform's reference
//!   number is unique per credential (table `hotline_cases`): filing it
//!   again, even concurrently, answers the same report id. The creating
//!   change is kept with the claim until it is stored, so a filing cut
//!   short by a crash is finished with the same id.
//! - The dispatcher ([`dispatch`]) queues one webhook call per step of each
//!   filed report (the filing included), found by following the change
//!   log from its own cursor, and delivers them in order per
//!   report, signed (HMAC-SHA256 over `t.body`), retried with exponential
//!   backoff without end; a call is marked delivered only after a 2xx, so
//!   every step arrives at least once, also across restarts. Calls that
//!   failed [`Knobs::failing_after`] times or more are listed for the
//!   administrator (CLI, page) and can be retried at once by hand.
//!
//! The caller's name and phone may be sent but are neither stored nor
//! logged: the report has no field for them, and the reference number
//! leads back to the platform's own record. See docs/hotline.md.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gridsync_core::doc::Author;
use gridsync_core::issue::{IssuePlace, NewIssue};
use gridsync_core::{OpenOptions, Store};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::db::DbError;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::IncomingChange;
use crate::web::MainDb;

/// Call the storage function `f` of the backend `db` is on.
macro_rules! on {
    ($db:expr, $f:ident ( $($arg:expr),* )) => {
        match $db {
            MainDb::Sqlite(p) => $crate::hotline::sqlite::$f(p, $($arg),*).await,
            MainDb::Postgres(p) => $crate::hotline::postgres::$f(p, $($arg),*).await,
        }
    };
}

pub mod cli;
pub mod dispatch;
pub mod pages;
mod postgres;
mod sqlite;

pub use dispatch::{Knobs, spawn_dispatcher};

/// Longest reference number accepted.
pub const MAX_REFERENCE: usize = 64;

/// A platform's credential as stored.
#[derive(Debug, Clone)]
pub struct Credential {
    /// Id (UUID).
    pub id: String,
    /// Name the administrator gave it (e.g. `12345-chaoyang`).
    pub name: String,
    /// SHA-256 (hex) of the bearer token.
    pub token_sha256: String,
    /// The key webhook calls are signed with.
    pub signing_secret: String,
    /// Where webhook calls go.
    pub webhook_url: String,
    /// When it was created, ms.
    pub created_at: i64,
    /// When it was revoked, ms.
    pub revoked_at: Option<i64>,
}

/// A credential to store.
#[derive(Debug, Clone)]
pub(crate) struct NewCredential {
    id: String,
    name: String,
    token_sha256: String,
    signing_secret: String,
    webhook_url: String,
    created_at: i64,
}

/// A created credential with its secrets, shown only this once.
#[derive(Debug, Clone)]
pub struct Created {
    /// The credential's name.
    pub name: String,
    /// The bearer token the platform sends.
    pub token: String,
    /// The secret the platform verifies webhook signatures with.
    pub signing_secret: String,
    /// The webhook URL.
    pub webhook_url: String,
}

/// What claiming a reference number found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// This call claimed it.
    New,
    /// It was claimed before; `change` is the creating change if it is not
    /// known to be stored yet.
    Existing {
        report_id: String,
        change: Option<Vec<u8>>,
    },
}

/// A webhook call due now.
#[derive(Debug, Clone)]
pub(crate) struct Due {
    pub(crate) id: i64,
    pub(crate) report_id: String,
    pub(crate) event_id: String,
    pub(crate) payload: String,
    pub(crate) attempts: i64,
    pub(crate) url: String,
    pub(crate) secret: String,
}

/// A webhook call that keeps failing.
#[derive(Debug, Clone)]
pub struct Failing {
    /// Delivery id.
    pub id: i64,
    /// The credential's name.
    pub credential: String,
    /// The platform's reference number.
    pub reference: String,
    /// The report.
    pub report_id: String,
    /// The step's event id.
    pub event_id: String,
    /// The body that is sent.
    pub payload: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was last tried, ms.
    pub last_at: Option<i64>,
    /// When it is tried next, ms.
    pub next_at: i64,
    /// Whether its credential is revoked (then it is not tried).
    pub revoked: bool,
}

/// Why a hotline operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HotlineError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A field is not valid.
    #[error("{field}: {zh} / {en}")]
    Invalid {
        /// The field.
        field: String,
        /// Why, in Chinese.
        zh: String,
        /// Why, in English.
        en: String,
    },
    /// No such credential, or already revoked.
    #[error("没有该名称的有效凭据 / no active credential of that name")]
    NotFound,
}

fn invalid(field: &str, zh: &str, en: &str) -> HotlineError {
    HotlineError::Invalid {
        field: field.into(),
        zh: zh.into(),
        en: en.into(),
    }
}

/// The hotline's tables, in the main database.
#[derive(Clone)]
pub struct Hotline {
    db: MainDb,
}

fn now_ms() -> i64 {
    gridsync_core::clock::Clock::System.now_ms()
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    use rand::Rng;
    let mut b = vec![0u8; bytes];
    rand::rng().fill(&mut b[..]);
    hex::encode(b)
}

/// The signature header's value of `body` sent at `t` (Unix seconds):
/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

impl Hotline {
    /// On the main database of `state`.
    pub fn of(state: &AppState) -> Self {
        Self {
            db: state.web.main().clone(),
        }
    }

    /// Create a credential; its token and signing secret are answered
    /// only this once.
    pub async fn create(&self, name: &str, webhook_url: &str) -> Result<Created, HotlineError> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > 64
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(
                "name",
                "名称应为1到64个字母、数字、-、_ 或 .",
                "the name must be 1 to 64 letters, digits, -, _ or .",
            ));
        }
        let url = webhook_url.trim();
        let parsed = reqwest::Url::parse(url).ok();
        if !parsed
            .as_ref()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            || url.len() > 2000
        {
            return Err(invalid(
                "webhook",
                "回调地址应为 http:// 或 https:// 开头的网址",
                "the webhook must be an http:// or https:// URL",
            ));
        }
        let token = format!("gsh_{}", random_hex(32));
        let signing_secret = format!("whsec_{}", random_hex(32));
        let created = on!(
            &self.db,
            create(NewCredential {
                id: uuid::Uuid::new_v4().to_string(),
                name: name.to_owned(),
                token_sha256: sha256_hex(&token),
                signing_secret: signing_secret.clone(),
                webhook_url: url.to_owned(),
                created_at: now_ms(),
            })
        )?;
        if !created {
            return Err(invalid(
                "name",
                "该名称已被使用",
                "a credential of that name exists",
            ));
        }
        tracing::info!(credential = %name, "hotline credential created");
        Ok(Created {
            name: name.to_owned(),
            token,
            signing_secret,
            webhook_url: url.to_owned(),
        })
    }

    /// Revoke a credential: its token fails at once and its webhook calls
    /// stop.
    pub async fn revoke(&self, name: &str) -> Result<(), HotlineError> {
        if on!(&self.db, revoke(name.trim().to_owned(), now_ms()))? {
            tracing::info!(credential = %name.trim(), "hotline credential revoked");
            Ok(())
        } else {
            Err(HotlineError::NotFound)
        }
    }

    /// Every credential, revoked ones too.
    pub async fn credentials(&self) -> Result<Vec<Credential>, HotlineError> {
        Ok(on!(&self.db, list())?)
    }

    /// The active credential whose token is `token`.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Credential>, HotlineError> {
        let found = on!(&self.db, by_token(sha256_hex(token)))?;
        Ok(found.filter(|c| c.revoked_at.is_none()))
    }

    /// Webhook calls that failed `after` times or more and are not
    /// delivered yet, oldest first.
    pub async fn failing(&self, after: i64, limit: i64) -> Result<Vec<Failing>, HotlineError> {
        Ok(on!(&self.db, failing(after, limit))?)
    }

    /// Try delivery `id` (or every undelivered one) at once; how many.
    pub async fn retry(&self, id: Option<i64>) -> Result<usize, HotlineError> {
        let n = on!(&self.db, retry(id, now_ms()))?;
        dispatch::wake();
        Ok(n)
    }
}

// -------------------------------------------------------------------- HTTP

/// The hotline's API route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/hotline/cases", post(file_case))
        .route("/v1/hotline/cases/{reference}", get(show_case))
}

/// A filed case as the platform may read it back: where its report stands
/// and every step so far, each as its webhook call's body.
#[derive(Debug, Clone, Serialize)]
struct CaseView {
    reference: String,
    report_id: String,
    stage: String,
    stage_name: String,
    steps: Vec<Value>,
}

/// `GET /v1/hotline/cases/{reference}`: to reconcile after an outage (the
/// webhook calls are the primary channel).
async fn show_case(
    State(state): State<AppState>,
    headers: HeaderMap,
    reference: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Json<CaseView>> {
    let credential = authenticated(&state, &headers).await?;
    let not_found = || {
        ApiError::NotFound(
            "没有该工单编号的诉求 / no case of that reference from this platform".into(),
        )
    };
    let reference = reference.map(|p| p.0).unwrap_or_default();
    if reference.is_empty() || reference.len() > MAX_REFERENCE {
        return Err(not_found());
    }
    let hotline = Hotline::of(&state);
    let report_id =
        on!(&hotline.db, case(credential.id.clone(), reference.clone()))?.ok_or_else(not_found)?;
    let bytes = state.docs.load(&report_id).await?.ok_or_else(not_found)?;
    let steps: Vec<Value> = dispatch::steps_of(&bytes, &reference)
        .into_iter()
        .filter_map(|(_, body)| serde_json::from_str(&body).ok())
        .collect();
    let last = steps.iter().rev().find(|s| s["applied"] == true);
    let field = |k: &str| {
        last.and_then(|s| s[k].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Json(CaseView {
        stage: field("stage"),
        stage_name: field("stage_name"),
        reference,
        report_id,
        steps,
    }))
}

/// The active credential the request's bearer token names, or 401.
async fn authenticated(state: &AppState, headers: &HeaderMap) -> ApiResult<Credential> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(unauthorized)?;
    Hotline::of(state)
        .authenticate(token)
        .await?
        .ok_or_else(unauthorized)
}

/// A 诉求 as the platform sends it, checked.
#[derive(Debug, Clone)]
struct Case {
    reference: String,
    issue: NewIssue,
}

/// The answer to a filing.
#[derive(Debug, Clone, Serialize)]
struct Filed {
    reference: String,
    report_id: String,
    /// Whether this call made the report (false: filed before).
    created: bool,
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized(
        "凭据无效或已吊销 / the hotline credential is missing, invalid or revoked".into(),
    )
}

async fn file_case(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let credential = authenticated(&state, &headers).await?;
    let value: Value = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request(
            "invalid_body",
            "请求体应为 JSON 对象 / the body must be a JSON object",
        )
    })?;
    let case = parse_case(value)?;
    let (report_id, created) = file(&state, &credential, case.clone()).await?;
    if created {
        tracing::info!(credential = %credential.name, report = %report_id, "hotline case filed");
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Filed {
            reference: case.reference,
            report_id,
            created,
        }),
    )
        .into_response())
}

const FIELDS: &[&str] = &[
    "reference",
    "grid",
    "category",
    "subtype",
    "description",
    "address",
    "urgency",
    "lat",
    "lon",
    "caller",
];

fn text(m: &Map<String, Value>, field: &'static str, required: bool) -> ApiResult<Option<String>> {
    match m.get(field) {
        None | Some(Value::Null) if required => Err(ApiError::invalid(
            field,
            format!("{field}: 缺少该字段 / {field} is required"),
        )),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(
            field,
            format!("{field}: 应为字符串 / {field} must be a string"),
        )),
    }
}

fn number(m: &Map<String, Value>, field: &'static str) -> ApiResult<Option<f64>> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(ApiError::invalid(
            field,
            format!("{field}: 应为数字 / {field} must be a number"),
        )),
    }
}

/// Check the body field by field; a 400 names the first field at fault and
/// never repeats a value.
fn parse_case(value: Value) -> ApiResult<Case> {
    let Value::Object(m) = value else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "请求体应为 JSON 对象 / the body must be a JSON object",
        ));
    };
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            k.chars().take(64).collect::<String>(),
            "未知字段 / unknown field",
        ));
    }
    let reference = text(&m, "reference", true)?.unwrap_or_default();
    let reference = reference.trim().to_owned();
    if reference.is_empty()
        || reference.len() > MAX_REFERENCE
        || !reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
    {
        return Err(ApiError::invalid(
            "reference",
            "reference: 工单编号应为1到64个字母、数字或 -_.:/ / the reference must be 1 to 64 letters, digits or -_.:/",
        ));
    }
    let grid = text(&m, "grid", true)?.unwrap_or_default();
    if grid.len() != 15 || !grid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(
            "grid",
            "grid: 网格编码应为15位数字 / the grid code must be 15 digits",
        ));
    }
    if let Some(caller) = m.get("caller").filter(|v| !v.is_null()) {
        check_caller(caller)?;
    }
    let issue = NewIssue {
        grid,
        category: text(&m, "category", true)?.unwrap_or_default(),
        subtype: text(&m, "subtype", true)?.unwrap_or_default(),
        description: text(&m, "description", true)?.unwrap_or_default(),
        place: IssuePlace {
            building: text(&m, "address", false)?.filter(|a| !a.trim().is_empty()),
            lat: number(&m, "lat")?,
            lon: number(&m, "lon")?,
            household: None,
        },
        source: gridsync_core::issue::Source::Hotline.code().into(),
        urgency: text(&m, "urgency", false)?.unwrap_or_default(),
        photos: Vec::new(),
        households: Vec::new(),
    };
    issue.validate().map_err(|e| match e {
        gridsync_core::Error::Invalid { field, reason } => {
            let field = match field.as_str() {
                "place.building" => "address".to_owned(),
                "place.lat" => "lat".to_owned(),
                "place.lon" => "lon".to_owned(),
                _ => field,
            };
            ApiError::invalid(
                field.clone(),
                format!("{field}: {} / {}", reason.zh, reason.en),
            )
        }
        other => ApiError::invalid("body", other.to_string()),
    })?;
    Ok(Case { reference, issue })
}

/// The caller's contact is checked for shape (so a platform learns of a
/// mistake) but kept nowhere: the report has no field for it.
fn check_caller(caller: &Value) -> ApiResult<()> {
    let Value::Object(c) = caller else {
        return Err(ApiError::invalid(
            "caller",
            "caller: 应为对象 {name, phone} / caller must be an object {name, phone}",
        ));
    };
    for (k, v) in c {
        let ok = match (k.as_str(), v) {
            (_, Value::Null) => matches!(k.as_str(), "name" | "phone"),
            ("name", Value::String(s)) => s.chars().count() <= 50,
            ("phone", Value::String(s)) => {
                s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit() || b"+- ".contains(&b))
            }
            _ => false,
        };
        if !ok {
            let field = format!("caller.{}", k.chars().take(32).collect::<String>());
            return Err(ApiError::invalid(
                field.clone(),
                format!(
                    "{field}: 应为姓名（最多50字）或电话（数字，最多20位） / must be a name (at most 50 characters) or a phone number (digits, at most 20)"
                ),
            ));
        }
    }
    Ok(())
}

/// File `case` for `credential`: the report id, and whether this call made
/// it. Filing a reference again answers the id it made the first time.
async fn file(state: &AppState, credential: &Credential, case: Case) -> ApiResult<(String, bool)> {
    let grid_id = crate::sync::grid_doc_id(&case.issue.grid);
    let grid =
        state.docs.load(&grid_id).await?.ok_or_else(|| {
            ApiError::invalid("grid", "grid: 网格不存在 / no grid with that code")
        })?;
    let new = case.issue.clone();
    let (report_id, change) = tokio::task::spawn_blocking(move || {
        let mut device = Store::open_in_memory(OpenOptions::default())?;
        device.set_author(Author {
            user: crate::sync::SERVER_USER.into(),
            role: crate::principal::Role::Admin.code().into(),
        })?;
        device.apply_remote(&grid_id, std::slice::from_ref(&grid))?;
        let id = device.report_issue(new)?;
        let mut changes: Vec<Vec<u8>> = device
            .outbox(16)?
            .into_iter()
            .filter(|e| e.doc_id == id)
            .map(|e| e.data)
            .collect();
        // One report is one transaction: one change.
        let change = match (changes.pop(), changes.is_empty()) {
            (Some(c), true) => c,
            _ => {
                return Err(gridsync_core::Error::Shape(
                    "a new report is not one change".into(),
                ));
            }
        };
        Ok::<_, gridsync_core::Error>((id, change))
    })
    .await?
    .map_err(|e| match e {
        gridsync_core::Error::Invalid { field, reason } => ApiError::invalid(
            field.clone(),
            format!("{field}: {} / {}", reason.zh, reason.en),
        ),
        other => ApiError::internal(other),
    })?;
    let hotline = Hotline::of(state);
    let claim = on!(
        &hotline.db,
        claim(
            credential.id.clone(),
            case.reference.clone(),
            report_id.clone(),
            change.clone(),
            now_ms()
        )
    )?;
    let (report_id, change, created) = match claim {
        Claim::New => (report_id, Some(change), true),
        Claim::Existing { report_id, change } => (report_id, change, false),
    };
    if let Some(change) = change {
        if let Err(e) = store_report(state, &report_id, change).await {
            if created {
                on!(&hotline.db, unclaim(report_id.clone()))?;
            }
            return Err(e);
        }
        on!(&hotline.db, filed(report_id.clone()))?;
    }
    dispatch::wake();
    Ok((report_id, created))
}

/// Push the creating change of a report as the server, through the
/// phones' push path (idempotent: a change the server has is a duplicate).
pub(crate) async fn store_report(
    state: &AppState,
    report_id: &str,
    change: Vec<u8>,
) -> ApiResult<()> {
    let guard = crate::scope::Guard::new(
        crate::sync::server_principal(),
        crate::sync::validate::document,
    );
    let outcome = state
        .docs
        .push(
            vec![IncomingChange {
                doc_id: report_id.to_owned(),
                data: change,
            }],
            None,
            None,
            Box::new(guard),
        )
        .await?;
    if let Some(r) = outcome.rejected.first() {
        return Err(ApiError::BadRequest {
            code: r.refusal.code,
            message: r.refusal.reason.clone(),
            field: r.refusal.field.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_t_dot_body() {
        // RFC 4231 test case 2's key and data, split as "t.body".
        let sig = signature("Jefe", 0, b"what do ya want for nothing?");
        // HMAC-SHA256("Jefe", "0.what do ya want for nothing?")
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap_or_else(|_| unreachable!());
        mac.update(b"0.what do ya want for nothing?");
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sig, format!("t=0,v1={want}"));
        assert_ne!(signature("other", 0, b"what do ya want for nothing?"), sig);
        assert_ne!(signature("Jefe", 1, b"what do ya want for nothing?"), sig);
    }

    #[test]
    fn backoff_doubles_up_to_the_longest_delay() {
        let k = Knobs {
            retry_base_ms: 100,
            retry_max_ms: 1000,
            ..Knobs::default()
        };
        let delays: Vec<i64> = (1..=7).map(|n| k.backoff_ms(n)).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(k.backoff_ms(10_000), 1000);
    }

    #[test]
    fn a_case_is_checked_field_by_field() {
        let ok = serde_json::json!({
            "reference": "GD-1", "grid": "110105001001001", "category": "sanitation",
            "subtype": "garbage", "description": "垃圾堆放",
            "caller": {"name": "李四", "phone": "13800138000"}
        });
        let case = parse_case(ok.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(case.issue.source, "hotline");
        for (field, value) in [
            ("reference", serde_json::json!("a b")),
            ("grid", serde_json::json!("12")),
            ("lat", serde_json::json!("north")),
            ("caller", serde_json::json!("13800138000")),
        ] {
            let mut body = ok.clone();
            body[field] = value;
            let e = parse_case(body)
                .err()
                .unwrap_or_else(|| panic!("{field} accepted"));
            assert!(
                matches!(&e, ApiError::BadRequest { field: Some(f), .. } if f == field),
                "{field}: {e:?}"
            );
            assert!(!e.to_string().contains("13800138000"));
        }
    }
}

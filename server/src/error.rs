//! `ApiError`: every error an HTTP handler returns. 4xx answers carry a
//! stable code and a message a person can act on (Chinese first); 5xx are
//! logged and answer a generic body. No personal data in either.
//!
//! This is the one place errors become HTTP: the other modules' error
//! types (auth, directory, territory, hotline, admin) convert here into
//! [`ApiError`] or answer themselves here ([`AuthError`]'s codes and
//! headers), and the web pages' [`WebError`] is rendered here as a page.
//!
//! A full data disk is not a generic 500: whatever failed for want of
//! space (SQLite's `SQLITE_FULL`, `ENOSPC` or `EDQUOT` writing a blob,
//! PostgreSQL's `could not extend file`) answers 507 `storage_full`, which
//! a phone shows as such instead of a network failure, and is counted for
//! `/healthz`. The errors arrive as text through the stores' error types,
//! so they are recognised by the messages those sources always give.

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Serialize;

use crate::auth::AuthError;
use crate::directory::DirectoryError;
use crate::hotline::HotlineError;
use crate::territory::TerritoryError;
use crate::web::WebError;

/// An error answered over HTTP.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request is malformed or a field is invalid.
    #[error("{message}")]
    BadRequest {
        /// Stable machine code, e.g. `invalid_field`.
        code: &'static str,
        /// What is wrong.
        message: String,
        /// The field concerned, if one.
        field: Option<String>,
    },
    /// 401: no valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// 413: body too large.
    #[error("{0}")]
    TooLarge(String),
    /// 500: something broke on our side; details are logged, not answered.
    #[error("internal error: {0}")]
    Internal(String),
    /// 507: the data disk is full; details are logged, not answered.
    #[error("storage full: {0}")]
    StorageFull(String),
}

/// What a person reads when the server's disk is full.
pub const STORAGE_FULL_MESSAGE: &str =
    "服务器存储空间不足，请联系管理员 / the server's storage is full; tell the administrator";

/// Whether an error's text says a write failed for want of space.
pub fn is_storage_full(detail: &str) -> bool {
    const SIGNS: [&str; 5] = [
        // SQLITE_FULL
        "database or disk is full",
        // ENOSPC, EDQUOT (std::io::Error's text)
        "No space left on device",
        "os error 28",
        "Disk quota exceeded",
        // PostgreSQL: "could not extend file …: No space left on device"
        "could not extend file",
    ];
    SIGNS.iter().any(|s| detail.contains(s))
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// A 400 about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: "invalid_field",
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// A 400 about the request as a whole.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A 500 from any error (logged when answered); a 507 if it says the
    /// disk is full.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        let detail = e.to_string();
        if is_storage_full(&detail) {
            ApiError::StorageFull(detail)
        } else {
            ApiError::Internal(detail)
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(d) if is_storage_full(d) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (code, message, field) = match &self {
            ApiError::BadRequest {
                code,
                message,
                field,
            } => (*code, message.clone(), field.as_deref()),
            ApiError::Unauthorized(m) => ("unauthorized", m.clone(), None),
            ApiError::Forbidden(m) => ("forbidden", m.clone(), None),
            ApiError::NotFound(m) => ("not_found", m.clone(), None),
            ApiError::Conflict(m) => ("conflict", m.clone(), None),
            ApiError::TooLarge(m) => ("too_large", m.clone(), None),
            ApiError::StorageFull(detail) => storage_full(detail),
            ApiError::Internal(detail) if is_storage_full(detail) => storage_full(detail),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                (
                    "internal",
                    "服务器内部错误，请稍后重试 / internal server error".to_string(),
                    None,
                )
            }
        };
        (
            status,
            Json(Body {
                error: code,
                message,
                field,
            }),
        )
            .into_response()
    }
}

/// Log and count a write refused for want of space (for `/healthz`).
pub fn note_storage_full(detail: &str) {
    tracing::error!(error = %detail, "storage full");
    crate::health::storage_full_answered();
}

/// The answer's parts for a write refused for want of space.
fn storage_full(detail: &str) -> (&'static str, String, Option<&'static str>) {
    note_storage_full(detail);
    ("storage_full", STORAGE_FULL_MESSAGE.to_owned(), None)
}

impl From<gridsync_core::Error> for ApiError {
    fn from(e: gridsync_core::Error) -> Self {
        match e {
            gridsync_core::Error::Invalid { field, reason } => {
                ApiError::invalid(field, reason.to_string())
            }
            gridsync_core::Error::NotFound { kind, .. } => {
                ApiError::NotFound(format!("{kind} not found / 未找到"))
            }
            other => ApiError::internal(other),
        }
    }
}

/// A database failure is ours: a 500 (or 507 when the disk is full).
impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        ApiError::internal(e)
    }
}

/// A blocking task that failed to finish (it panicked) is ours: a 500.
impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(e)
    }
}

/// The directory's refusals as answers: a bad field is a 400, a taken
/// username a 409, a missing user or device a 404, a device not the
/// caller's (or revoked) a 403; a storage failure is ours.
impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Invalid { field, reason } => {
                ApiError::invalid(field, format!("{} / {}", reason.zh, reason.en))
            }
            DirectoryError::UnknownGrid(_) => ApiError::invalid("grids", e.to_string()),
            DirectoryError::UnknownSubtree(_) => ApiError::invalid("subtree", e.to_string()),
            DirectoryError::UnknownDepartment(_) => ApiError::invalid("department", e.to_string()),
            DirectoryError::UsernameTaken => ApiError::Conflict(e.to_string()),
            DirectoryError::UserNotFound | DirectoryError::DeviceNotFound => {
                ApiError::NotFound(e.to_string())
            }
            DirectoryError::DeviceOfAnotherUser | DirectoryError::DeviceRevoked => {
                ApiError::Forbidden(e.to_string())
            }
            DirectoryError::Storage(_) => ApiError::internal(e),
        }
    }
}

/// The hotline's refusals: a bad field is a 400, an unknown case a 404.
impl From<crate::hotline::HotlineError> for ApiError {
    fn from(e: crate::hotline::HotlineError) -> Self {
        match e {
            crate::hotline::HotlineError::Db(e) => ApiError::internal(e),
            crate::hotline::HotlineError::Invalid { field, zh, en } => {
                ApiError::invalid(field.clone(), format!("{field}: {zh} / {en}"))
            }
            crate::hotline::HotlineError::NotFound => ApiError::NotFound(e.to_string()),
        }
    }
}

/// The administrators' refusals: locking oneself out is a 409.
impl From<crate::admin::AdminError> for ApiError {
    fn from(e: crate::admin::AdminError) -> Self {
        match e {
            crate::admin::AdminError::Directory(e) => e.into(),
            crate::admin::AdminError::Auth(e) => e.into(),
            crate::admin::AdminError::SelfLockout => ApiError::Conflict(e.to_string()),
        }
    }
}

/// A territory import's refusal: the file's first problem names the field.
impl From<TerritoryError> for ApiError {
    fn from(e: TerritoryError) -> Self {
        match e {
            TerritoryError::Invalid(problems) => ApiError::BadRequest {
                code: "invalid_territory",
                field: problems.list.first().map(|p| p.place().1),
                message: problems.to_string(),
            },
            TerritoryError::Directory(e) => e.into(),
        }
    }
}

/// How a refused sign-in or token is answered.
impl AuthError {
    /// The HTTP status and the stable machine code of the answer
    /// (`error` in the JSON body). Clients act on the code: on
    /// `device_revoked` a phone removes the data it holds.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AuthError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            AuthError::AccountDisabled => (StatusCode::UNAUTHORIZED, "account_disabled"),
            AuthError::MissingToken => (StatusCode::UNAUTHORIZED, "missing_token"),
            AuthError::Expired => (StatusCode::UNAUTHORIZED, "token_expired"),
            AuthError::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
            AuthError::WebSessionToken => (StatusCode::UNAUTHORIZED, "web_session_token"),
            AuthError::SessionEnded => (StatusCode::UNAUTHORIZED, "session_ended"),
            AuthError::DeviceRevoked => (StatusCode::UNAUTHORIZED, "device_revoked"),
            AuthError::RefreshInvalid => (StatusCode::UNAUTHORIZED, "refresh_invalid"),
            AuthError::RefreshReused => (StatusCode::UNAUTHORIZED, "refresh_reused"),
            AuthError::WrongDevice => (StatusCode::UNAUTHORIZED, "wrong_device"),
            AuthError::UnknownExternalUser => (StatusCode::UNAUTHORIZED, "unknown_user"),
            AuthError::DeviceOfAnotherUser => (StatusCode::FORBIDDEN, "device_of_another_user"),
            AuthError::NotAdmin => (StatusCode::FORBIDDEN, "admin_required"),
            AuthError::TooManyAttempts { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            }
            AuthError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_field"),
            AuthError::Directory(_) | AuthError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Invalid { field, reason } => {
                ApiError::invalid(field, format!("{} / {}", reason.zh, reason.en))
            }
            AuthError::Directory(e) => e.into(),
            AuthError::Internal(detail) => ApiError::Internal(detail),
            other => match other.status_and_code().0 {
                StatusCode::FORBIDDEN => ApiError::Forbidden(other.to_string()),
                _ => ApiError::Unauthorized(other.to_string()),
            },
        }
    }
}

/// The same body as [`ApiError`]'s (`{"error", "message"}`), with a code
/// per reason instead of one `unauthorized`, and `WWW-Authenticate` on 401.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if matches!(
            self,
            AuthError::Invalid { .. } | AuthError::Directory(_) | AuthError::Internal(_)
        ) {
            return ApiError::from(self).into_response();
        }
        let body = serde_json::json!({ "error": code, "message": self.to_string() });
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let AuthError::TooManyAttempts { retry_after } = self {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

// ------------------------------------------------------------ web pages

/// A failure below a page is ours: logged, a generic page shown.
impl From<crate::db::DbError> for WebError {
    fn from(e: crate::db::DbError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<crate::directory::DirectoryError> for WebError {
    fn from(e: crate::directory::DirectoryError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<tokio::task::JoinError> for WebError {
    fn from(e: tokio::task::JoinError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("template: {e}"))
    }
}

/// The hotline's refusals on its pages: a bad field says why.
impl From<HotlineError> for WebError {
    fn from(e: HotlineError) -> Self {
        match e {
            HotlineError::Db(e) => WebError::Internal(e.to_string()),
            HotlineError::Invalid { zh, .. } => WebError::Bad(zh),
            HotlineError::NotFound => WebError::Bad("没有该名称的有效凭据".into()),
        }
    }
}

/// A page's refusal as a page (or, for no session, the way to sign in).
#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebError::SignIn => return Redirect::to("/web/login").into_response(),
            WebError::Forbidden => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Bad(_) => StatusCode::BAD_REQUEST,
            // Logged and counted like the API's 507 `storage_full`.
            WebError::Internal(detail) if is_storage_full(detail) => {
                note_storage_full(detail);
                StatusCode::INSUFFICIENT_STORAGE
            }
            WebError::Internal(detail) => {
                tracing::error!(error = %detail, "web page failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let page = ErrorPage {
            title: match status {
                StatusCode::FORBIDDEN => "无权访问",
                StatusCode::NOT_FOUND => "未找到",
                StatusCode::BAD_REQUEST => "请求有误",
                _ => "出错了",
            },
            message: if status == StatusCode::INSUFFICIENT_STORAGE {
                "服务器存储空间不足，请联系管理员".to_owned()
            } else {
                self.to_string()
            },
        };
        match askama::Template::render(&page) {
            Ok(body) => (status, Html(body)).into_response(),
            Err(_) => (status, self.to_string()).into_response(),
        }
    }
}

/// For handlers whose own refusals are whole responses (they carry
/// headers): an API error is answered as [`ApiError`] answers it.
impl From<ApiError> for Response {
    fn from(e: ApiError) -> Self {
        e.into_response()
    }
}

/// For the same handlers: a database failure answered as [`ApiError`]'s.
impl From<crate::db::DbError> for Response {
    fn from(e: crate::db::DbError) -> Self {
        ApiError::from(e).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

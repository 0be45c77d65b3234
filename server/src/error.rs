//! `ApiError`: every error an HTTP handler returns. 4xx answers carry a
//! stable code and a message a person can act on (Chinese first); 5xx are
//! logged and answer a generic body. No personal data in either.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

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

    /// A 500 from any error (logged when answered).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
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
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

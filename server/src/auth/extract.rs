//! Extractors: the caller of a request ([`Authenticated`], [`Principal`],
//! [`AdminPrincipal`]) from `Authorization: Bearer …`, rejected with an
//! [`AuthError`] (401 with a stable code such as `token_expired` or
//! `device_revoked`, 403 `admin_required`); and [`JsonBody`], a JSON body
//! whose errors are [`ApiError`]s that never echo the values sent.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AuthError;
use super::session::{Authenticated, authenticate};
use crate::error::{ApiError, ApiResult};
use crate::principal::{Principal, Role};
use crate::state::AppState;

/// The token of `Authorization: Bearer <token>`.
fn bearer(parts: &Parts) -> Result<&str, AuthError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(AuthError::MissingToken)?
        .to_str()
        .map_err(|_| AuthError::InvalidToken)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Several extractors of one handler share one check.
        if let Some(done) = parts.extensions.get::<Authenticated>() {
            return Ok(done.clone());
        }
        let caller = authenticate(state, bearer(parts)?).await?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Authenticated::from_request_parts(parts, state)
            .await?
            .principal)
    }
}

/// A caller with the admin role; anyone else gets 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminPrincipal(pub Principal);

impl FromRequestParts<AppState> for AdminPrincipal {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let p = Principal::from_request_parts(parts, state).await?;
        if p.role != Role::Admin {
            return Err(AuthError::NotAdmin);
        }
        Ok(AdminPrincipal(p))
    }
}

/// 403 unless `p` is an administrator.
pub fn require_admin(p: &Principal) -> ApiResult<()> {
    if p.role == Role::Admin {
        Ok(())
    } else {
        Err(AuthError::NotAdmin.into())
    }
}

/// A JSON request body. Malformed bodies answer 400 with a message naming a
/// missing or unknown field, but never repeating a value that was sent (it
/// may be a password or personal data).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &axum::extract::rejection::JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection;
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::TooLarge("请求体过大 / request body too large".into());
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::bad_request(
            "invalid_json",
            "请求头应为 Content-Type: application/json / expected Content-Type: application/json",
        ),
        JsonRejection::JsonDataError(e) => {
            // serde names missing and unknown fields without their values;
            // other messages ("invalid type: string \"…\"") may quote them.
            let detail = e.body_text();
            let named = ["missing field", "unknown field", "unknown variant"]
                .iter()
                .find_map(|k| detail.find(k).map(|i| &detail[i..]))
                .map(|d| d.split(" at line").next().unwrap_or(d));
            match named {
                Some(d) => ApiError::bad_request(
                    "invalid_json",
                    format!("请求内容缺少或含有未知字段 / {d}"),
                ),
                None => ApiError::bad_request(
                    "invalid_json",
                    "请求内容的字段类型不正确 / a field of the JSON body has the wrong type",
                ),
            }
        }
        _ => ApiError::bad_request(
            "invalid_json",
            "请求体不是有效的JSON / the body is not valid JSON",
        ),
    }
}

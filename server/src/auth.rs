//! Authentication: passwords (argon2id), access tokens (JWT, HS256 or an
//! external provider's RS256/ES256), rotating refresh tokens bound to a
//! device, and the [`Principal`] extractor every protected handler uses.
//!
//! - [`password`]: hashing, verification, generated passwords;
//! - [`keys`]: the signing secret, the external key, JWT claims and checks;
//! - [`session`]: login, refresh, logout, and the per-request check;
//! - [`extract`]: the axum extractors.
//!
//! Endpoints: `POST /v1/auth/login`, `POST /v1/auth/refresh`,
//! `POST /v1/auth/logout`, `GET /v1/me`. See `docs/auth.md`.
//!
//! Passwords and tokens are never logged nor put in error messages.

pub mod extract;
pub mod keys;
pub mod password;
pub mod session;
pub mod throttle;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, extract::State};
use gridsync_core::Reason;
use serde::Serialize;

pub use extract::{AdminPrincipal, JsonBody, require_admin};
pub use keys::{AccessClaims, Keys};
pub use password::{generate_password, hash_password, hash_password_async, verify_password};
pub use session::{
    Authenticated, LoginRequest, LoginResponse, RefreshRequest, TokenPair, UserView, authenticate,
    authenticate_web, issue_tokens,
};

use crate::directory::DirectoryError;
use crate::principal::{Principal, Role};
use crate::state::AppState;

/// Why authentication failed. Every variant's message is safe to show: it
/// names no user and repeats no secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Wrong username or password (the same for both: no enumeration).
    #[error("用户名或密码错误 / wrong username or password")]
    BadCredentials,
    /// The user is deactivated.
    #[error("账号已停用，请联系管理员 / this account is deactivated")]
    AccountDisabled,
    /// No bearer token.
    #[error("请先登录 / sign in first (missing bearer token)")]
    MissingToken,
    /// The access token expired.
    #[error("登录已过期，请重新登录 / token expired")]
    Expired,
    /// Forged, tampered, malformed, wrong algorithm or wrong type.
    #[error("登录凭证无效，请重新登录 / invalid token")]
    InvalidToken,
    /// The token of a web session (the web pages' cookie) was sent as a
    /// bearer token: it signs in to the web pages only.
    #[error(
        "网页登录凭证不能用于接口，请在手机应用中登录 / a web session token is not an API token; sign in through the API"
    )]
    WebSessionToken,
    /// The session ended: logout, password changed, deactivation, or a
    /// reused refresh token.
    #[error("登录已失效（已退出或密码已修改），请重新登录 / session ended, sign in again")]
    SessionEnded,
    /// An administrator revoked the device: it must remove what it holds.
    #[error(
        "该设备已被管理员停用，请联系管理员 / this device has been revoked by an administrator"
    )]
    DeviceRevoked,
    /// The device is registered to another user.
    #[error("该设备已登记给其他用户，请联系管理员 / this device is registered to another user")]
    DeviceOfAnotherUser,
    /// Unknown or expired refresh token.
    #[error("刷新令牌无效或已过期，请重新登录 / refresh token invalid or expired")]
    RefreshInvalid,
    /// A spent refresh token was presented again; the device was signed out.
    #[error(
        "检测到刷新令牌被重复使用，该设备已退出登录，请重新登录 / refresh token reuse detected; the device was signed out"
    )]
    RefreshReused,
    /// The refresh token belongs to another device.
    #[error("刷新令牌不属于此设备 / the refresh token belongs to another device")]
    WrongDevice,
    /// The external provider's token names no active user of the directory.
    #[error(
        "该外部账号未在本系统登记或已停用 / the external identity is not registered here or is deactivated"
    )]
    UnknownExternalUser,
    /// The caller is not an administrator.
    #[error("需要系统管理员权限 / administrator role required")]
    NotAdmin,
    /// Too many wrong passwords in a row for this username.
    #[error(
        "密码错误次数过多，请{}分钟后再试 / too many wrong passwords, try again in {retry_after} s",
        retry_after.div_ceil(60)
    )]
    TooManyAttempts {
        /// Seconds until the username may try again.
        retry_after: u64,
    },
    /// A field of the request was refused.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: Reason,
    },
    /// The directory refused or failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// Hashing, signing or a task failed.
    #[error("auth internal: {0}")]
    Internal(String),
}

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/me", get(me))
}

async fn login(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, AuthError> {
    Ok(Json(session::login(&state, req).await?))
}

async fn refresh(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> Result<Json<TokenPair>, AuthError> {
    Ok(Json(session::refresh(&state, req).await?))
}

async fn logout(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<StatusCode, AuthError> {
    session::logout(&state, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/me`: the principal as the server sees it for this request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Me {
    /// User id.
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Role code.
    pub role: Role,
    /// Role in Chinese.
    pub role_name: String,
    /// The device of the token, if any.
    pub device_id: Option<String>,
    /// Assigned grids (grid workers).
    pub grids: Vec<String>,
    /// Community or street overseen (supervisors).
    pub subtree: Option<String>,
    /// Department acted for (department users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Building or unit served (楼栋长, 单元长).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<gridsync_core::contact::Post>,
}

impl Me {
    fn new(caller: Authenticated) -> Self {
        let Principal {
            user_id,
            username,
            role,
            device_id,
            grids,
            subtree,
            department,
            post,
        } = caller.principal;
        Me {
            user_id,
            username,
            display_name: caller.display_name,
            role,
            role_name: role.name_zh().to_owned(),
            device_id,
            grids,
            subtree,
            department,
            post,
        }
    }
}

async fn me(caller: Authenticated) -> Json<Me> {
    Json(Me::new(caller))
}

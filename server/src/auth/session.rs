//! Sessions: login, refresh with rotation and reuse detection, logout, and
//! the check every authenticated request goes through.
//!
//! A login on a device starts a *session*. Its access tokens name it
//! (`sid`); its refresh tokens belong to it and are stored only as SHA-256
//! hashes. Each refresh spends the presented token and issues a new one; a
//! spent token presented again means it was copied, so every session of
//! that device ends (the thief and the owner both sign in again). Ending a
//! session — logout, device revoked, password changed, user deactivated —
//! makes its access tokens fail on the next request, because every request
//! reads the session, the device and the user from the directory.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AuthError;
use super::keys::VerifiedToken;
use crate::directory::{DirectoryError, EndReason, NewRefreshToken, Session, User};
use crate::principal::{Principal, Role};
use crate::state::AppState;

/// Prefix of refresh tokens (recognisable by secret scanners and people).
const REFRESH_PREFIX: &str = "gsr_";
/// Longest device name kept.
const MAX_DEVICE_NAME_CHARS: usize = 64;

/// The caller of a request, as the extractor found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// Who, and what their role entitles them to (read from the directory
    /// for this request).
    pub principal: Principal,
    /// Name shown to people.
    pub display_name: String,
    /// The session of our own access token; None for the external
    /// provider's tokens.
    pub session_id: Option<String>,
}

/// An access token and a refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    /// Bearer token for `Authorization: Bearer …`.
    pub access_token: String,
    /// Opaque token for `POST /v1/auth/refresh`; single use.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Seconds until the refresh token expires (each refresh starts anew).
    pub refresh_expires_in: u64,
}

/// A user as shown to themselves and to administrators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// User id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Role code.
    pub role: Role,
    /// Role in Chinese.
    pub role_name: String,
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

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            role_name: u.role.name_zh().to_owned(),
            grids: u.grids.clone(),
            subtree: u.subtree.clone(),
            department: u.department.clone(),
            post: u.post.clone(),
        }
    }
}

/// `POST /v1/auth/login` body.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// UUID the device chose for itself.
    pub device_id: String,
    /// A name for the device, shown to administrators.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// `POST /v1/auth/login` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// The tokens.
    #[serde(flatten)]
    pub tokens: TokenPair,
    /// Who signed in.
    pub user: UserView,
}

/// `POST /v1/auth/refresh` body.
#[derive(Debug, Clone, Deserialize)]
pub struct RefreshRequest {
    /// The refresh token last received.
    pub refresh_token: String,
    /// The device it was issued to.
    pub device_id: String,
}

fn now() -> i64 {
    crate::directory::now()
}

fn unix(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

/// SHA-256 of a refresh token, hex: what the directory stores.
pub fn refresh_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    format!(
        "{REFRESH_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A device id must be a UUID; answered in its canonical lowercase form.
pub fn check_device_id(device_id: &str) -> Result<String, AuthError> {
    uuid::Uuid::parse_str(device_id.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| AuthError::Invalid {
            field: "device_id",
            reason: gridsync_core::Reason::new("设备编号应为UUID", "device_id must be a UUID"),
        })
}

fn clean_device_name(name: Option<&str>) -> Option<String> {
    let name: String = name?
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DEVICE_NAME_CHARS)
        .collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Check a username and password; the user if they match and the user is
/// active. A wrong username and a wrong password give the same error and
/// take the same time.
pub async fn check_credentials(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<User, AuthError> {
    // A locked username is refused before any password work.
    if let Err(retry_after) = state.logins.check(username) {
        return Err(AuthError::TooManyAttempts { retry_after });
    }
    let user = state.directory.user_by_username(username).await?;
    let hash = match &user {
        Some(u) => state.directory.password_hash(&u.id).await?,
        None => None,
    };
    let ok = super::password::verify_password_async(password.to_owned(), hash).await?;
    match user {
        Some(u) if ok && u.active => {
            state.logins.succeeded(username);
            Ok(u)
        }
        Some(u) if ok => {
            tracing::info!(user_id = %u.id, "login refused: user deactivated");
            Err(AuthError::AccountDisabled)
        }
        user => {
            state.logins.failed(username);
            if let Some(u) = user
                && state.logins.check(username).is_err()
            {
                tracing::warn!(user_id = %u.id, "logins locked after repeated wrong passwords");
            }
            Err(AuthError::BadCredentials)
        }
    }
}

/// Register `device_id` to `user` (first login) and start a session on it:
/// the tokens a device receives at login. Used by `POST /v1/auth/login`
/// after the password check, and by tests and the demo to sign a user in
/// without a password.
pub async fn issue_tokens(
    state: &AppState,
    user: &User,
    device_id: &str,
    device_name: Option<&str>,
) -> Result<TokenPair, AuthError> {
    if !user.active {
        return Err(AuthError::AccountDisabled);
    }
    let device_id = check_device_id(device_id)?;
    let now = now();
    let name = clean_device_name(device_name);
    state
        .directory
        .register_device(&device_id, &user.id, name.as_deref(), now)
        .await
        .map_err(|e| match e {
            DirectoryError::DeviceRevoked => AuthError::DeviceRevoked,
            DirectoryError::DeviceOfAnotherUser => AuthError::DeviceOfAnotherUser,
            other => other.into(),
        })?;
    let session = Session {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.id.clone(),
        device_id: Some(device_id.clone()),
        created_at: now,
        ended_at: None,
        device_revoked: false,
    };
    let refresh_token = new_refresh_token();
    let keys = &state.auth;
    state
        .directory
        .create_session(
            &session,
            &NewRefreshToken {
                token_hash: refresh_token_hash(&refresh_token),
                expires_at: now.saturating_add_unsigned(keys.refresh_ttl()),
            },
        )
        .await?;
    let access_token = keys.access_token(
        &user.id,
        &session.id,
        Some(&device_id),
        user.role,
        unix(now),
    )?;
    tracing::info!(user_id = %user.id, device_id = %device_id, session_id = %session.id, "signed in");
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer".to_owned(),
        expires_in: keys.access_ttl(),
        refresh_expires_in: keys.refresh_ttl(),
    })
}

/// `POST /v1/auth/login`.
pub async fn login(state: &AppState, req: LoginRequest) -> Result<LoginResponse, AuthError> {
    let device_id = check_device_id(&req.device_id)?;
    let user = check_credentials(state, &req.username, &req.password).await?;
    let tokens = issue_tokens(state, &user, &device_id, req.device_name.as_deref()).await?;
    Ok(LoginResponse {
        tokens,
        user: UserView::from(&user),
    })
}

/// `POST /v1/auth/refresh`: spend the refresh token, answer a new pair.
pub async fn refresh(state: &AppState, req: RefreshRequest) -> Result<TokenPair, AuthError> {
    let device_id = check_device_id(&req.device_id)?;
    let token = req.refresh_token.trim();
    if !token.starts_with(REFRESH_PREFIX) {
        return Err(AuthError::RefreshInvalid);
    }
    let hash = refresh_token_hash(token);
    let dir = &state.directory;
    let now = now();
    let record = dir
        .refresh_token(&hash)
        .await?
        .ok_or(AuthError::RefreshInvalid)?;
    let session = dir
        .session(&record.session_id)
        .await?
        .ok_or(AuthError::RefreshInvalid)?;
    if session.device_id.as_deref() != Some(device_id.as_str()) {
        tracing::warn!(session_id = %session.id, "refresh token presented by another device");
        return Err(AuthError::WrongDevice);
    }
    if session.device_revoked {
        return Err(AuthError::DeviceRevoked);
    }
    if record.used_at.is_some() {
        return Err(reuse_detected(state, &session, now).await);
    }
    let user = dir
        .user(&session.user_id)
        .await?
        .ok_or(AuthError::RefreshInvalid)?;
    if !user.active {
        return Err(AuthError::AccountDisabled);
    }
    if session.ended_at.is_some() {
        return Err(AuthError::SessionEnded);
    }
    if record.expires_at <= now {
        return Err(AuthError::RefreshInvalid);
    }
    let keys = &state.auth;
    let new_token = new_refresh_token();
    let rotated = dir
        .rotate_refresh_token(
            &hash,
            &NewRefreshToken {
                token_hash: refresh_token_hash(&new_token),
                expires_at: now.saturating_add_unsigned(keys.refresh_ttl()),
            },
            now,
        )
        .await?;
    if !rotated {
        // Another request spent it between our read and our write.
        return Err(reuse_detected(state, &session, now).await);
    }
    dir.touch_device(&device_id, now).await?;
    let access_token = keys.access_token(
        &user.id,
        &session.id,
        Some(&device_id),
        user.role,
        unix(now),
    )?;
    Ok(TokenPair {
        access_token,
        refresh_token: new_token,
        token_type: "Bearer".to_owned(),
        expires_in: keys.access_ttl(),
        refresh_expires_in: keys.refresh_ttl(),
    })
}

/// A spent refresh token came back: end every session of its device.
async fn reuse_detected(state: &AppState, session: &Session, now: i64) -> AuthError {
    tracing::warn!(
        session_id = %session.id,
        device_id = session.device_id.as_deref().unwrap_or("-"),
        "refresh token reuse detected; ending the device's sessions"
    );
    let ended = match &session.device_id {
        Some(d) => {
            state
                .directory
                .end_device_sessions(d, EndReason::RefreshReuse, now)
                .await
        }
        None => state
            .directory
            .end_session(&session.id, EndReason::RefreshReuse, now)
            .await
            .map(|()| 1),
    };
    match ended {
        Ok(_) => AuthError::RefreshReused,
        Err(e) => e.into(),
    }
}

/// `POST /v1/auth/logout`: end every session of the caller's device (or the
/// caller's session when the token names no device).
pub async fn logout(state: &AppState, caller: &Authenticated) -> Result<(), AuthError> {
    let now = now();
    match (&caller.principal.device_id, &caller.session_id) {
        (Some(device), _) => {
            state
                .directory
                .end_device_sessions(device, EndReason::Logout, now)
                .await?;
        }
        (None, Some(session)) => {
            state
                .directory
                .end_session(session, EndReason::Logout, now)
                .await?
        }
        // The external provider's tokens: nothing of ours to end.
        (None, None) => {}
    }
    Ok(())
}

/// Verify a bearer token and check, in the directory, that its session is
/// live, its device not revoked and its user active. The principal is built
/// from the directory, never from the token's claims. A web session's token
/// is refused here ([`AuthError::WebSessionToken`]).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Authenticated, AuthError> {
    match state.auth.verify(token)? {
        VerifiedToken::Own(claims) => check_session(state, claims).await,
        VerifiedToken::External(claims) => {
            let user = state
                .directory
                .user_by_username(&claims.sub)
                .await?
                .filter(|u| u.active)
                .ok_or(AuthError::UnknownExternalUser)?;
            Ok(Authenticated {
                principal: user.principal(None),
                display_name: user.display_name,
                session_id: None,
            })
        }
    }
}

/// Like [`authenticate`], for the token of a web session cookie: only a
/// web session's token is accepted ([`super::keys::WEB_TYP`]).
pub async fn authenticate_web(state: &AppState, token: &str) -> Result<Authenticated, AuthError> {
    let claims = state.auth.verify_web(token)?;
    if claims.dev.is_some() {
        return Err(AuthError::InvalidToken);
    }
    check_session(state, claims).await
}

/// The session, device and user of one of our tokens, read from the
/// directory.
async fn check_session(
    state: &AppState,
    claims: super::keys::AccessClaims,
) -> Result<Authenticated, AuthError> {
    let session = state
        .directory
        .session(&claims.sid)
        .await?
        .ok_or(AuthError::InvalidToken)?;
    if session.user_id != claims.sub || session.device_id != claims.dev {
        return Err(AuthError::InvalidToken);
    }
    if session.device_revoked {
        return Err(AuthError::DeviceRevoked);
    }
    let user = state
        .directory
        .user(&claims.sub)
        .await?
        .ok_or(AuthError::InvalidToken)?;
    // The most useful reason first: a deactivation also ends sessions.
    if !user.active {
        return Err(AuthError::AccountDisabled);
    }
    if session.ended_at.is_some() {
        return Err(AuthError::SessionEnded);
    }
    Ok(Authenticated {
        principal: user.principal(session.device_id),
        display_name: user.display_name,
        session_id: Some(session.id),
    })
}

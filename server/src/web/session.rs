//! Web sessions: the login form, a session cookie, and the CSRF token of
//! the forms.
//!
//! Signing in checks the password with the same code as the phones
//! ([`crate::auth::session::check_credentials`]) and starts a directory
//! session without a device; the cookie holds a token of that session
//! (HttpOnly, SameSite=Strict, a working day long, `Secure` when the page
//! was served over HTTPS). The token is a web session's only (`typ: web`):
//! the API refuses it as a bearer token, and the cookie accepts no phone's
//! token. Every request goes through [`crate::auth::authenticate_web`], so
//! a logout, a deactivation or a password change ends web sessions the
//! same way as a phone's.
//!
//! Forms carry a per-session token (a hash of the cookie, which scripts of
//! other sites can neither read nor send, thanks to SameSite=Strict); a POST
//! without the right one is refused.

use axum::extract::{Form, FromRequestParts, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{WebError, WebResult};
use crate::auth::{AuthError, Authenticated};
use crate::directory::{EndReason, NewRefreshToken, Session};
use crate::principal::{Principal, Role};
use crate::state::AppState;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "gridsync_web";
/// How long a web session lasts: a working day.
const SESSION_SECS: u64 = 10 * 3600;

/// The signed-in person of a web request.
#[derive(Debug, Clone)]
pub struct WebUser {
    /// Who, as the directory says for this request.
    pub auth: Authenticated,
    /// The token forms of this session must carry.
    pub csrf: String,
}

impl WebUser {
    /// The principal.
    pub fn principal(&self) -> &Principal {
        &self.auth.principal
    }

    /// Refuse a form whose token is not this session's.
    pub fn check_csrf(&self, sent: &str) -> WebResult<()> {
        // Both are hex of the same length when right; compare all of it.
        let ok = sent.len() == self.csrf.len()
            && sent
                .bytes()
                .zip(self.csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if ok {
            Ok(())
        } else {
            Err(WebError::Bad("表单已过期，请刷新页面后重试".into()))
        }
    }
}

fn csrf_of(token: &str) -> String {
    hex::encode(&Sha256::digest(format!("gridsync-web-csrf:{token}").as_bytes())[..16])
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> WebResult<Self> {
        let token = cookie_token(&parts.headers).ok_or(WebError::SignIn)?;
        let auth = crate::auth::authenticate_web(state, &token)
            .await
            .map_err(|e| match e {
                AuthError::Directory(d) => WebError::Internal(d.to_string()),
                AuthError::Internal(d) => WebError::Internal(d),
                _ => WebError::SignIn,
            })?;
        // Package holders use the phone only; department users see their
        // queue and the reports dispatched to them (each page decides).
        if auth.principal.role == Role::PackageHolder {
            return Err(WebError::Forbidden);
        }
        Ok(WebUser {
            csrf: csrf_of(&token),
            auth,
        })
    }
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
    username: String,
}

/// `GET /web/login`.
pub async fn login_form() -> WebResult<Response> {
    super::render(&LoginPage {
        error: None,
        username: String::new(),
    })
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// Whether the browser reached us over HTTPS: the server itself speaks
/// plain HTTP, so that is a TLS-terminating proxy saying so
/// (`X-Forwarded-Proto: https` or `Forwarded: proto=https`), or the
/// configuration saying it always is (`--secure-cookies`). The headers are
/// honoured from anyone: they can only add `Secure`, and a browser that
/// fakes them only keeps its own cookie off plain HTTP.
pub fn served_over_https(headers: &HeaderMap, config: &crate::config::Config) -> bool {
    if config.secure_cookies {
        return true;
    }
    let forwarded_proto = headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        // The first hop is the browser's.
        .flat_map(|v| v.split(','))
        .next()
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next()
        .is_some_and(|hop| {
            hop.split(';').any(|kv| {
                kv.trim().split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("proto")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("https")
                })
            })
        });
    forwarded_proto || forwarded
}

fn cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    // Invariant: the token is base64url and dots, the rest ASCII: a valid header.
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path=/web; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("gridsync_web=; Path=/web; Max-Age=0"))
}

/// `POST /web/login`: check the password, start a session, set the cookie.
pub async fn login_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> WebResult<Response> {
    let username = form.username.trim().to_owned();
    let user =
        match crate::auth::session::check_credentials(&state, &username, &form.password).await {
            Ok(u) => u,
            Err(AuthError::Directory(d)) => return Err(WebError::Internal(d.to_string())),
            Err(AuthError::Internal(d)) => return Err(WebError::Internal(d)),
            Err(e) => {
                let (message, status) = match e {
                    AuthError::AccountDisabled => (
                        "账号已停用，请联系管理员".to_owned(),
                        axum::http::StatusCode::UNAUTHORIZED,
                    ),
                    AuthError::TooManyAttempts { retry_after } => (
                        format!("密码错误次数过多，请{}分钟后再试", retry_after.div_ceil(60)),
                        axum::http::StatusCode::TOO_MANY_REQUESTS,
                    ),
                    _ => (
                        "用户名或密码错误".to_owned(),
                        axum::http::StatusCode::UNAUTHORIZED,
                    ),
                };
                let page = LoginPage {
                    error: Some(message),
                    username,
                };
                let mut response = super::render(&page)?;
                *response.status_mut() = status;
                return Ok(response);
            }
        };
    if user.role == Role::PackageHolder {
        let page = LoginPage {
            error: Some(
                "网页端供网格员、社区和街道管理人员及职能部门使用；包保责任人请使用手机应用".into(),
            ),
            username,
        };
        let mut response = super::render(&page)?;
        *response.status_mut() = axum::http::StatusCode::FORBIDDEN;
        return Ok(response);
    }
    let token = start_session(&state, &user).await?;
    tracing::info!(user_id = %user.id, "web sign-in");
    let mut response = Redirect::to("/web").into_response();
    let secure = served_over_https(&headers, &state.config);
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie(&token, SESSION_SECS, secure));
    Ok(response)
}

/// Start a web session (no device) for `user`; the access token of it.
/// Also used by tests and the benchmark to sign in without a form.
pub async fn start_session(state: &AppState, user: &crate::directory::User) -> WebResult<String> {
    let now = crate::directory::now();
    let session = Session {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.id.clone(),
        device_id: None,
        created_at: now,
        ended_at: None,
        device_revoked: false,
    };
    // Web sessions are never refreshed; the directory wants a first
    // refresh token, so it gets one nobody holds.
    let mut unused = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut unused);
    state
        .directory
        .create_session(
            &session,
            &NewRefreshToken {
                token_hash: crate::auth::session::refresh_token_hash(&hex::encode(unused)),
                expires_at: now,
            },
        )
        .await?;
    state
        .auth
        .web_token(
            &user.id,
            &session.id,
            user.role,
            u64::try_from(now).unwrap_or(0),
            SESSION_SECS,
        )
        .map_err(|e| WebError::Internal(e.to_string()))
}

/// The logout form.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /web/logout`: end the session, clear the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Form(form): Form<CsrfForm>,
) -> WebResult<Response> {
    user.check_csrf(&form.csrf)?;
    if let Some(sid) = &user.auth.session_id {
        state
            .directory
            .end_session(sid, EndReason::Logout, crate::directory::now())
            .await?;
    }
    let mut response = Redirect::to("/web/login").into_response();
    let secure = served_over_https(&headers, &state.config);
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie("", 0, secure));
    Ok(response)
}

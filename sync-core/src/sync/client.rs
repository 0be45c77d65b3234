//! HTTP to the gridsync server: login, token refresh, and the sync call,
//! with retries when the connection drops. Tokens are kept in the store so
//! a worker who was offline for a week can still renew them.
//!
//! The store is reached through [`StoreAccess`], for reading and keeping
//! tokens only: no request is made while it is held.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreAccess;
use super::wire::{BINARY, ErrorBody, LoginRequest, RefreshRequest, SyncResponse, Tokens, User};
use crate::store::Store;
use crate::{Error, Result};

/// One token renewal at a time in this process: a sync and a photo
/// download that both meet an expired token renew it once, not twice with
/// the same refresh token.
static RENEWING: Mutex<()> = Mutex::new(());

const JSON: &str = "application/json";
const ACCESS: &str = "auth.access_token";
const REFRESH: &str = "auth.refresh_token";
const USER: &str = "auth.user";
const SERVER: &str = "auth.server";

/// How often and how patiently requests are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_backoff: Duration::from_millis(200),
        }
    }
}

/// A connection to one gridsync server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::blocking::Client,
    retry: RetryPolicy,
    /// The thread that carries a sync's requests (shared by clones).
    courier: std::sync::Arc<super::courier::Courier>,
}

enum Failure {
    /// Worth retrying: the connection dropped or the server was busy.
    Transient(String),
    /// 401: sign in again (or refresh).
    Unauthorized(ErrorBody),
    /// Any other answer.
    Final(Error),
}

impl Client {
    /// A client for the server at `base_url` (e.g. `https://grid.example.cn`).
    pub fn new(base_url: &str) -> Result<Self> {
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Network(e.to_string()))?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_string(),
            http,
            retry: RetryPolicy::default(),
            courier: Default::default(),
        })
    }

    /// Replace the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The server's address.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sign in; the tokens are kept in `store` and edits are attributed to
    /// the user from now on.
    pub fn login<A: StoreAccess>(
        &self,
        store: &mut A,
        username: &str,
        password: &str,
    ) -> Result<User> {
        let device_id = store.with(|s| s.device_id().to_string());
        let body = LoginRequest {
            username,
            password,
            device_id: &device_id,
            device_name: "gridsync",
        };
        let tokens: Tokens = match self.send("/v1/auth/login", &body, None) {
            Ok(t) => t,
            Err(Failure::Unauthorized(b)) => return Err(Error::Unauthorized(b.message)),
            Err(Failure::Transient(m)) => return Err(Error::Network(m)),
            Err(Failure::Final(e)) => return Err(e),
        };
        let user = tokens.user.clone().unwrap_or_default();
        store.with(|store| -> Result<()> {
            store.set_meta(ACCESS, &tokens.access_token)?;
            store.set_meta(REFRESH, &tokens.refresh_token)?;
            store.set_meta(SERVER, &self.base)?;
            store.set_meta(USER, &serde_json::to_string(&user).unwrap_or_default())?;
            store.set_author(crate::doc::Author {
                user: user.id.clone(),
                role: user.role.clone(),
            })?;
            // A roster belongs to the head it was given to: the next
            // sync fetches the new user's, if they have one.
            store.set_roster(None)?;
            store.set_duty(Some(&user.duty()))
        })?;
        Ok(user)
    }

    /// Forget the tokens (the documents stay).
    pub fn logout<A: StoreAccess>(&self, store: &mut A) -> Result<()> {
        let _ =
            self.call::<_, _, serde_json::Value>(store, "/v1/auth/logout", &serde_json::json!({}));
        store.with(|store| {
            store.set_meta(ACCESS, "")?;
            store.set_meta(REFRESH, "")?;
            store.set_author(crate::doc::Author::default())?;
            store.set_roster(None)?;
            store.set_duty(None)
        })
    }

    /// The signed-in user, if any.
    pub fn user(store: &Store) -> Result<Option<User>> {
        Ok(store
            .meta(USER)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .filter(|_| {
                store
                    .meta(REFRESH)
                    .ok()
                    .flatten()
                    .is_some_and(|t| !t.is_empty())
            }))
    }

    /// One sync round trip of the encoded request `body` (with the size
    /// sent); a refused token is renewed and the request sent again.
    pub(crate) fn sync_body<A: StoreAccess>(
        &self,
        store: &mut A,
        body: Vec<u8>,
    ) -> Result<(SyncResponse, usize)> {
        let sent = body.len();
        let resp = self.call_raw(store, "/v1/sync", body, BINARY, SYNC_ANSWER)?;
        Ok((resp, sent))
    }

    /// One sync round trip of the encoded request `body` with `token`,
    /// touching no store (so it can be sent from a helper thread while the
    /// sync does local work); `None` when the token was refused: the
    /// caller then goes through [`Client::sync_body`], which renews it.
    pub(crate) fn sync_with_token(&self, body: &[u8], token: &str) -> Result<Option<SyncResponse>> {
        match self.send_bytes("/v1/sync", body, BINARY, Some(token), SYNC_ANSWER) {
            Ok(v) => Ok(Some(v)),
            Err(Failure::Unauthorized(_)) => Ok(None),
            Err(Failure::Transient(m)) => Err(Error::Network(m)),
            Err(Failure::Final(e)) => Err(e),
        }
    }

    pub(crate) fn call<A: StoreAccess, B: Serialize, T: DeserializeOwned>(
        &self,
        store: &mut A,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let body = serde_json::to_vec(body).map_err(|e| Error::Shape(e.to_string()))?;
        self.call_raw(store, path, body, JSON, Reading::json())
    }

    /// POST with the stored access token; on 401 refresh once and retry.
    fn call_raw<A: StoreAccess, T>(
        &self,
        store: &mut A,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
        reading: Reading<T>,
    ) -> Result<T> {
        let token = store.with(|s| Self::access_token(s))?;
        match self.send_bytes(path, &body, content_type, Some(&token), reading) {
            Ok(v) => Ok(v),
            Err(Failure::Unauthorized(b)) if b.error == "device_revoked" => {
                Err(store.with(revoked))
            }
            Err(Failure::Unauthorized(_)) => {
                let token = self.refresh(store, &token)?;
                match self.send_bytes(path, &body, content_type, Some(&token), reading) {
                    Ok(v) => Ok(v),
                    Err(Failure::Unauthorized(b)) if b.error == "device_revoked" => {
                        Err(store.with(revoked))
                    }
                    Err(Failure::Unauthorized(b)) => Err(Error::Unauthorized(b.message)),
                    Err(Failure::Transient(m)) => Err(Error::Network(m)),
                    Err(Failure::Final(e)) => Err(e),
                }
            }
            Err(Failure::Transient(m)) => Err(Error::Network(m)),
            Err(Failure::Final(e)) => Err(e),
        }
    }

    /// The thread that carries a sync's requests ([`super::courier`]).
    pub(crate) fn courier(&self) -> &super::courier::Courier {
        &self.courier
    }

    /// The HTTP client, for the blob transfers of [`super::blobs`].
    pub(crate) fn http(&self) -> &reqwest::blocking::Client {
        &self.http
    }

    /// The retry policy, for the blob transfers of [`super::blobs`].
    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The stored access token, for the blob transfers of [`super::blobs`].
    pub(crate) fn access_token(store: &Store) -> Result<String> {
        store
            .meta(ACCESS)?
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Unauthorized("未登录 / not signed in".into()))
    }

    /// After a 401 on a blob transfer with access token `stale`: a revoked
    /// device is wiped, else the access token is renewed and returned.
    pub(crate) fn after_unauthorized<A: StoreAccess>(
        &self,
        store: &mut A,
        body: &ErrorBody,
        stale: &str,
    ) -> Result<String> {
        if body.error == "device_revoked" {
            return Err(store.with(revoked));
        }
        self.refresh(store, stale)
    }

    /// A new access token for the refused one `stale`: the one another
    /// thread renewed meanwhile, or a renewal now (one at a time, with
    /// the store released during the request).
    fn refresh<A: StoreAccess>(&self, store: &mut A, stale: &str) -> Result<String> {
        let _one = RENEWING.lock().unwrap_or_else(|p| p.into_inner());
        let (access, refresh, device_id) = store.with(|s| -> Result<_> {
            Ok((
                s.meta(ACCESS)?.filter(|t| !t.is_empty()),
                s.meta(REFRESH)?.filter(|t| !t.is_empty()),
                s.device_id().to_string(),
            ))
        })?;
        if let Some(access) = access
            && access != stale
        {
            return Ok(access);
        }
        let Some(refresh) = refresh else {
            return Err(Error::Unauthorized("未登录 / not signed in".into()));
        };
        let body = RefreshRequest {
            refresh_token: &refresh,
            device_id: &device_id,
        };
        match self.send::<_, Tokens>("/v1/auth/refresh", &body, None) {
            Ok(t) => {
                store.with(|s| -> Result<()> {
                    s.set_meta(ACCESS, &t.access_token)?;
                    s.set_meta(REFRESH, &t.refresh_token)
                })?;
                Ok(t.access_token)
            }
            Err(Failure::Unauthorized(b)) if b.error == "device_revoked" => {
                Err(store.with(revoked))
            }
            Err(Failure::Unauthorized(b)) => Err(Error::Unauthorized(if b.message.is_empty() {
                "登录已失效，请重新登录 / signed out, please log in again".into()
            } else {
                b.message
            })),
            Err(Failure::Transient(m)) => Err(Error::Network(m)),
            Err(Failure::Final(e)) => Err(e),
        }
    }

    fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        token: Option<&str>,
    ) -> Result<T, Failure> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| Failure::Final(Error::Shape(e.to_string())))?;
        self.send_bytes(path, &bytes, JSON, token, Reading::json())
    }

    /// POST `body` (zstd-compressed when large), retrying transient failures.
    ///
    /// zstd rather than gzip: a grid's push (2.8 MB of JSON) compresses in
    /// 3 ms to 512 KB, where gzip's fastest level took 6 ms for 759 KB.
    fn send_bytes<T>(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        token: Option<&str>,
        reading: Reading<T>,
    ) -> Result<T, Failure> {
        let compressed = if body.len() > 4096 {
            Some(
                zstd::bulk::compress(body, 1)
                    .map_err(|e| Failure::Final(Error::Shape(e.to_string())))?,
            )
        } else {
            None
        };
        let mut backoff = self.retry.first_backoff;
        let mut last = String::new();
        for attempt in 0..self.retry.attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(backoff);
                backoff *= 2;
            }
            let mut req = self
                .http
                .post(format!("{}{path}", self.base))
                .header(reqwest::header::CONTENT_TYPE, content_type);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(accept) = reading.accept {
                req = req.header(reqwest::header::ACCEPT, accept);
            }
            req = match &compressed {
                Some(gz) => req
                    .header(reqwest::header::CONTENT_ENCODING, "zstd")
                    .body(gz.clone()),
                None => req.body(body.to_vec()),
            };
            let resp = match req.send() {
                Ok(r) => r,
                Err(e) => {
                    last = describe(&e);
                    continue;
                }
            };
            let status = resp.status();
            if status.is_success() {
                let content_type = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                match resp.bytes() {
                    Ok(b) => {
                        return (reading.read)(content_type.as_deref(), &b).map_err(|message| {
                            Failure::Final(Error::Server {
                                status: status.as_u16(),
                                code: "bad_response".into(),
                                message,
                            })
                        });
                    }
                    Err(e) => {
                        last = describe(&e);
                        continue;
                    }
                }
            }
            let err: ErrorBody = resp.json().unwrap_or_default();
            if status == reqwest::StatusCode::UNAUTHORIZED {
                return Err(Failure::Unauthorized(err));
            }
            // A full disk on the server is no busy server: trying again in
            // a second does not help, and the worker must hear why.
            if status == reqwest::StatusCode::INSUFFICIENT_STORAGE {
                return Err(Failure::Final(storage_full(err)));
            }
            // A busy server is tried again; a login locked after wrong
            // passwords is not busy: its message says how long to wait.
            let busy = status.is_server_error()
                || (status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    && err.error != "too_many_attempts");
            if busy {
                last = format!("server answered {status}");
                continue;
            }
            return Err(Failure::Final(Error::Server {
                status: status.as_u16(),
                code: err.error,
                message: err.message,
            }));
        }
        Err(Failure::Transient(last))
    }
}

/// How an answer is asked for and read: the media types it may come in
/// (`Accept`; JSON when `None`), and how its body is read by its
/// `Content-Type`.
pub(crate) struct Reading<T> {
    accept: Option<&'static str>,
    read: fn(Option<&str>, &[u8]) -> std::result::Result<T, String>,
}

impl<T> Clone for Reading<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Reading<T> {}

impl<T: DeserializeOwned> Reading<T> {
    /// A JSON answer.
    pub(crate) fn json() -> Self {
        Reading {
            accept: None,
            read: |_, body| serde_json::from_slice(body).map_err(|e| e.to_string()),
        }
    }
}

/// A sync answer: binary ([`BINARY`], the documents' data as bytes) when
/// the server gives it, else JSON (a server from before binary answers).
const SYNC_ANSWER: Reading<SyncResponse> = Reading {
    accept: Some("application/vnd.gridsync.sync, application/json;q=0.5"),
    read: |content_type, body| {
        let binary = content_type
            .and_then(|t| t.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(BINARY));
        if binary {
            SyncResponse::from_binary(body)
        } else {
            serde_json::from_slice(body).map_err(|e| e.to_string())
        }
    },
};

/// The server's disk is full (507 `storage_full`): what it said, or the
/// same in our words if it said nothing.
pub(crate) fn storage_full(err: ErrorBody) -> Error {
    Error::Server {
        status: 507,
        code: if err.error.is_empty() {
            "storage_full".into()
        } else {
            err.error
        },
        message: if err.message.trim().is_empty() {
            "服务器存储空间不足，请联系管理员 / the server's storage is full".into()
        } else {
            err.message
        },
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect to the server".into()
    } else {
        "connection interrupted".into()
    }
}

/// The server says this device was revoked: remove what it holds.
fn revoked(store: &mut Store) -> Error {
    let _ = store.purge_all();
    let _ = store.drop_unreferenced_blobs(false);
    let _ = store.set_meta(ACCESS, "");
    let _ = store.set_meta(REFRESH, "");
    Error::DeviceRevoked
}

//! What the auth, admin and territory suites share: a server on a
//! temporary data directory driven through `gridsync_server::app` without a
//! socket, a small territory, and users with a known password.

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridsync_server::AppState;
use gridsync_server::config::Config;
use gridsync_server::directory::{NewUser, User};
use gridsync_server::principal::Role;
use serde_json::Value;
use tower::ServiceExt;

pub(crate) const STREET: &str = "110105001";
pub(crate) const COMMUNITY: &str = "110105001001";
pub(crate) const G1: &str = "110105001001001";
pub(crate) const G2: &str = "110105001001002";
pub(crate) const G3: &str = "110105001002001";
/// The password of every user made by [`TestServer::add_user`].
pub(crate) const PASSWORD: &str = "correct horse battery";

/// Two communities of one street, three grids.
pub(crate) const TERRITORY_JSON: &str = r#"{"streets":[{"code":"110105001","name":"建国门街道","communities":[
  {"code":"110105001001","name":"幸福社区","grids":[
    {"code":"110105001001001","name":"第一网格"},
    {"code":"110105001001002","name":"第二网格"}]},
  {"code":"110105001002","name":"和平社区","grids":[
    {"code":"110105001002001","name":"第一网格"}]}]}]}"#;

/// The same territory as CSV.
pub(crate) const TERRITORY_CSV: &str =
    "street_code,street_name,community_code,community_name,grid_code,grid_name
110105001,建国门街道,110105001001,幸福社区,110105001001001,第一网格
110105001,建国门街道,110105001001,幸福社区,110105001001002,第二网格
110105001,建国门街道,110105001002,和平社区,110105001002001,第一网格
";

/// A fixture file of the pretend identity provider.
pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A new device id.
pub(crate) fn device() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The argon2id hash of [`PASSWORD`], computed once (hashing is slow).
fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| gridsync_server::auth::hash_password(PASSWORD).unwrap_or_default())
        .clone()
}

/// A server on a temporary data directory.
pub(crate) struct TestServer {
    pub(crate) state: AppState,
    pub(crate) dir: tempfile::TempDir,
}

impl TestServer {
    /// Defaults, and the territory imported.
    pub(crate) async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// `configure` the defaults; the territory imported.
    pub(crate) async fn with(configure: impl FnOnce(&mut Config)) -> Self {
        let s = Self::empty_with(configure).await;
        gridsync_server::territory::import(
            s.state.directory.as_ref(),
            gridsync_server::territory::Format::Json,
            TERRITORY_JSON.as_bytes(),
        )
        .await
        .expect("territory");
        s
    }

    /// No territory.
    pub(crate) async fn empty() -> Self {
        Self::empty_with(|_| {}).await
    }

    async fn empty_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::with_data_dir(dir.path());
        configure(&mut config);
        let state = AppState::open(config).await.expect("open state");
        Self { state, dir }
    }

    /// Open the same data directory again (a restart).
    pub(crate) async fn reopen(self) -> Self {
        let config = (*self.state.config).clone();
        drop(self.state);
        let state = AppState::open(config).await.expect("reopen state");
        Self {
            state,
            dir: self.dir,
        }
    }

    /// The HS256 secret the server signs with.
    pub(crate) fn secret(&self) -> Vec<u8> {
        let text =
            std::fs::read_to_string(self.dir.path().join("jwt-secret")).expect("secret file");
        hex::decode(text.trim()).expect("hex secret")
    }

    /// A request with an optional bearer token and JSON body; the status
    /// and the JSON answer (Null when empty).
    pub(crate) async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.call_raw(method, uri, token, "application/json", bytes)
            .await
    }

    /// A request with any body.
    pub(crate) async fn call_raw(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        content_type: &str,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", content_type);
        }
        let req = req
            .body(body.map_or_else(Body::empty, Body::from))
            .expect("request");
        let res = gridsync_server::app(self.state.clone())
            .oneshot(req)
            .await
            .expect("response");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24)
            .await
            .expect("body");
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, json)
    }

    /// A user with [`PASSWORD`].
    pub(crate) async fn add_user(
        &self,
        username: &str,
        role: Role,
        grids: &[&str],
        subtree: Option<&str>,
    ) -> User {
        let mut u = NewUser::new(username, "测试用户", role)
            .with_grids(grids.iter().copied())
            .with_password_hash(password_hash());
        u.subtree = subtree.map(str::to_owned);
        if role == Role::Department {
            // Department users act for a department, which must exist.
            let d = self
                .state
                .directory
                .upsert_department(gridsync_server::directory::Department {
                    code: "chengguan".into(),
                    name: "区城管执法局".into(),
                })
                .await
                .expect("department");
            u.department = Some(d.code);
        }
        self.state
            .directory
            .create_user(u)
            .await
            .expect("create user")
    }

    /// Log in with [`PASSWORD`] on `device`; the answer.
    pub(crate) async fn login(&self, username: &str, device: &str) -> (StatusCode, Value) {
        self.call(
            "POST",
            "/v1/auth/login",
            None,
            Some(serde_json::json!({"username": username, "password": PASSWORD, "device_id": device, "device_name": "测试手机"})),
        )
        .await
    }

    /// Log in, expecting success; (access token, refresh token).
    pub(crate) async fn tokens(&self, username: &str, device: &str) -> (String, String) {
        let (status, body) = self.login(username, device).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (
            str_of(&body, "access_token"),
            str_of(&body, "refresh_token"),
        )
    }

    /// An admin's access token.
    pub(crate) async fn admin_token(&self) -> String {
        self.add_user("admin", Role::Admin, &[], None).await;
        self.tokens("admin", &device()).await.0
    }

    /// `GET /v1/me` with `token`.
    pub(crate) async fn me(&self, token: &str) -> (StatusCode, Value) {
        self.call("GET", "/v1/me", Some(token), None).await
    }

    /// `POST /v1/auth/refresh`.
    pub(crate) async fn refresh(&self, refresh_token: &str, device: &str) -> (StatusCode, Value) {
        self.call(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(serde_json::json!({"refresh_token": refresh_token, "device_id": device})),
        )
        .await
    }
}

/// A string field of a JSON answer.
pub(crate) fn str_of(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_owned()
}

/// The message of an error answer.
pub(crate) fn message(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_owned()
}

/// Encode a JWT from raw JSON header and claims with HS256 and `secret`
/// (for forging tokens the library would refuse to make).
pub(crate) fn sign_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(secret),
        jsonwebtoken::Algorithm::HS256,
    )
    .expect("sign");
    format!("{message}.{signature}")
}

/// Unix seconds now.
pub(crate) fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

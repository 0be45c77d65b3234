//! Login, tokens and their revocation, through the HTTP API.

use axum::http::StatusCode;
use gridsync_server::principal::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::{
    COMMUNITY, G1, G2, PASSWORD, TestServer, device, fixture, message, now, sign_hs256, str_of,
};

/// A grid worker on G1 and G2, logged in on a new device.
async fn worker(s: &TestServer) -> (String, String, String) {
    s.add_user("wang", Role::GridWorker, &[G1, G2], None).await;
    let dev = device();
    let (access, refresh) = s.tokens("wang", &dev).await;
    (access, refresh, dev)
}

/// The claims of one of our access tokens (read without checking).
fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("claims")
}

#[tokio::test]
async fn login_answers_tokens_and_the_user() {
    let s = TestServer::new().await;
    s.add_user("wang", Role::GridWorker, &[G2, G1], None).await;
    let dev = device();
    let (status, body) = s.login("wang", &dev).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 15 * 60);
    assert_eq!(body["refresh_expires_in"], 30 * 24 * 3600);
    assert_eq!(body["user"]["username"], "wang");
    assert_eq!(body["user"]["role"], "grid_worker");
    assert_eq!(body["user"]["grids"], json!([G1, G2]));
    assert_eq!(body["user"]["subtree"], Value::Null);

    let access = str_of(&body, "access_token");
    let claims = claims_of(&access);
    assert_eq!(claims["sub"], body["user"]["id"]);
    assert_eq!(claims["dev"], dev.as_str());
    assert_eq!(claims["typ"], "access");
    assert_eq!(claims["role"], "grid_worker");
    assert_eq!(claims["iss"], "gridsync");
    for key in ["iat", "exp", "jti", "sid"] {
        assert!(!claims[key].is_null(), "claim {key}");
    }
    assert!(
        !str_of(&body, "refresh_token").contains('.'),
        "refresh tokens are opaque"
    );

    let (status, me) = s.me(&access).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "wang");
    assert_eq!(me["role"], "grid_worker");
    assert_eq!(me["role_name"], "网格员");
    assert_eq!(me["device_id"], dev.as_str());
    assert_eq!(me["grids"], json!([G1, G2]));

    // Usernames are case-insensitive at login.
    let (status, _) = s.login("WANG", &dev).await;
    assert_eq!(status, StatusCode::OK);
    // The device is registered to the user.
    let devices = s.state.directory.devices(None).await.expect("devices");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, dev);
    assert_eq!(devices[0].name.as_deref(), Some("测试手机"));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_401() {
    let s = TestServer::new().await;
    s.add_user("wang", Role::GridWorker, &[G1], None).await;
    let wrong = |username: &str, password: &str| json!({"username": username, "password": password, "device_id": device()});
    let (s1, b1) = s
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(wrong("wang", "not the password")),
        )
        .await;
    let (s2, b2) = s
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(wrong("nobody", PASSWORD)),
        )
        .await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    assert_eq!(b1, b2, "no user enumeration");
    assert_eq!(b1["error"], "bad_credentials");
    assert!(message(&b1).contains("用户名或密码错误"), "{b1}");
    assert!(!b1.to_string().contains("not the password"));
}

#[tokio::test]
async fn malformed_logins_are_400_without_echoing_the_password() {
    let s = TestServer::new().await;
    s.add_user("wang", Role::GridWorker, &[G1], None).await;
    let (status, body) = s
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"username": "wang", "password": PASSWORD, "device_id": "my-phone"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "device_id");
    let (status, body) = s
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"username": "wang", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("device_id"), "{body}");
    let (status, body) = s
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"username": "wang", "password": ["secret-value"], "device_id": device()})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.to_string().contains("secret-value"), "{body}");
}

#[tokio::test]
async fn missing_or_garbage_bearer_is_401() {
    let s = TestServer::new().await;
    let (status, body) = s.call("GET", "/v1/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "missing_token");
    let (status, _) = s.me("not-a-jwt").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s.call_raw("GET", "/v1/me", None, "", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_token_is_401() {
    let s = TestServer::new().await;
    let (access, _, _) = worker(&s).await;
    let mut claims = claims_of(&access);
    claims["iat"] = json!(now() - 7200);
    claims["exp"] = json!(now() - 3600);
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&s.secret()),
    )
    .expect("encode");
    let (status, body) = s.me(&expired).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message(&body).contains("token expired"), "{body}");
    assert_eq!(body["error"], "token_expired");
    // The same claims, not expired, are accepted: only `exp` made the difference.
    claims["exp"] = json!(now() + 600);
    let fresh = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&s.secret()),
    )
    .expect("encode");
    assert_eq!(s.me(&fresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn token_signed_with_another_key_is_401() {
    let s = TestServer::new().await;
    let (access, _, _) = worker(&s).await;
    let claims = claims_of(&access);
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"another secret that is long enough....."),
    )
    .expect("encode");
    assert_eq!(s.me(&forged).await.0, StatusCode::UNAUTHORIZED);
    // Nor does a correctly signed token of another server's data dir pass.
    let other = TestServer::new().await;
    let foreign = sign_hs256(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims,
        &other.secret(),
    );
    assert_eq!(s.me(&foreign).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn alg_none_is_401() {
    use base64::Engine;
    let s = TestServer::new().await;
    let (access, _, _) = worker(&s).await;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = claims_of(&access);
    for alg in ["none", "None", "NONE"] {
        let unsigned = format!(
            "{}.{}.",
            b64(&json!({"alg": alg, "typ": "JWT"})),
            b64(&claims)
        );
        assert_eq!(
            s.me(&unsigned).await.0,
            StatusCode::UNAUTHORIZED,
            "alg {alg}"
        );
    }
    // An HS512 token signed with our own secret: not the pinned algorithm.
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(&s.secret()),
    )
    .expect("encode");
    assert_eq!(s.me(&hs512).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tampered_claims_are_401() {
    use base64::Engine;
    let s = TestServer::new().await;
    let (access, _, _) = worker(&s).await;
    let parts: Vec<&str> = access.split('.').collect();
    let mut claims = claims_of(&access);
    claims["role"] = json!("admin");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = format!("{}.{}.{}", parts[0], payload, parts[2]);
    assert_eq!(s.me(&tampered).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.call("GET", "/v1/admin/users", Some(&tampered), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // The untouched token still works.
    assert_eq!(s.me(&access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn only_access_tokens_of_a_live_session_are_accepted() {
    let s = TestServer::new().await;
    let (access, _, _) = worker(&s).await;
    let secret = s.secret();
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let mut claims = claims_of(&access);
    claims["typ"] = json!("refresh");
    assert_eq!(
        s.me(&sign_hs256(&header, &claims, &secret)).await.0,
        StatusCode::UNAUTHORIZED,
        "typ"
    );
    let mut claims = claims_of(&access);
    claims["iss"] = json!("someone-else");
    assert_eq!(
        s.me(&sign_hs256(&header, &claims, &secret)).await.0,
        StatusCode::UNAUTHORIZED,
        "iss"
    );
    let mut claims = claims_of(&access);
    claims["sid"] = json!(uuid::Uuid::new_v4().to_string());
    assert_eq!(
        s.me(&sign_hs256(&header, &claims, &secret)).await.0,
        StatusCode::UNAUTHORIZED,
        "sid"
    );
    // Even with our secret, a token for another user in this session fails.
    let other = s.add_user("li", Role::Admin, &[], None).await;
    let mut claims = claims_of(&access);
    claims["sub"] = json!(other.id);
    assert_eq!(
        s.me(&sign_hs256(&header, &claims, &secret)).await.0,
        StatusCode::UNAUTHORIZED,
        "sub"
    );
}

#[tokio::test]
async fn deactivated_user_is_refused_on_the_next_request() {
    let s = TestServer::new().await;
    let (access, refresh, dev) = worker(&s).await;
    assert_eq!(s.me(&access).await.0, StatusCode::OK);
    let admin = s.admin_token().await;
    let user = s
        .state
        .directory
        .user_by_username("wang")
        .await
        .expect("dir")
        .expect("user");
    let (status, body) = s
        .call(
            "PATCH",
            &format!("/v1/admin/users/{}", user.id),
            Some(&admin),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);

    let (status, body) = s.me(&access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "account_disabled", "{body}");
    let (status, body) = s.refresh(&refresh, &dev).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "account_disabled", "{body}");
    let (status, body) = s.login("wang", &dev).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message(&body).contains("停用"), "{body}");

    // Reactivated, old sessions stay ended; a new login works.
    s.call(
        "PATCH",
        &format!("/v1/admin/users/{}", user.id),
        Some(&admin),
        Some(json!({"active": true})),
    )
    .await;
    assert_eq!(s.me(&access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.refresh(&refresh, &dev).await.0, StatusCode::UNAUTHORIZED);
    let (access, _) = s.tokens("wang", &dev).await;
    assert_eq!(s.me(&access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn revoked_device_is_refused_on_the_next_request() {
    let s = TestServer::new().await;
    let (access, refresh, dev) = worker(&s).await;
    let admin = s.admin_token().await;
    let (status, body) = s
        .call(
            "POST",
            &format!("/v1/admin/devices/{dev}/revoke"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["revoked_at"].is_i64());

    // The phone is told, with a code it acts on (it removes its data).
    let (status, body) = s.me(&access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "device_revoked", "{body}");
    assert!(message(&body).contains("revoked"), "{body}");
    let (status, body) = s.refresh(&refresh, &dev).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "device_revoked", "{body}");
    // The device cannot sign in again; another device can.
    let (status, body) = s.login("wang", &dev).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "device_revoked", "{body}");
    let (access, _) = s.tokens("wang", &device()).await;
    assert_eq!(s.me(&access).await.0, StatusCode::OK);
    // Revoking an unknown device is 404.
    let (status, _) = s
        .call(
            "POST",
            &format!("/v1/admin/devices/{}/revoke", device()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_device_belongs_to_one_user() {
    let s = TestServer::new().await;
    let (_, _, dev) = worker(&s).await;
    s.add_user("li", Role::GridWorker, &[G1], None).await;
    let (status, body) = s.login("li", &dev).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "device_of_another_user");
    assert!(message(&body).contains("another user"), "{body}");
    // The device id is compared in canonical form.
    let (status, _) = s.login("li", &dev.to_uppercase()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_signs_the_device_out() {
    let s = TestServer::new().await;
    let (access1, refresh1, dev) = worker(&s).await;

    let (status, pair2) = s.refresh(&refresh1, &dev).await;
    assert_eq!(status, StatusCode::OK, "{pair2}");
    let access2 = str_of(&pair2, "access_token");
    let refresh2 = str_of(&pair2, "refresh_token");
    assert_ne!(refresh1, refresh2);
    assert_eq!(s.me(&access2).await.0, StatusCode::OK);
    // The session lives on: the first access token is still valid until it expires.
    assert_eq!(s.me(&access1).await.0, StatusCode::OK);

    let (status, pair3) = s.refresh(&refresh2, &dev).await;
    assert_eq!(status, StatusCode::OK, "{pair3}");
    let access3 = str_of(&pair3, "access_token");
    let refresh3 = str_of(&pair3, "refresh_token");

    // A spent token again: reuse. Every token of the device stops working.
    let (status, body) = s.refresh(&refresh1, &dev).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message(&body).contains("reuse"), "{body}");
    assert_eq!(body["error"], "refresh_reused");
    assert_eq!(s.refresh(&refresh3, &dev).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.me(&access3).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.me(&access1).await.0, StatusCode::UNAUTHORIZED);

    // The owner signs in again.
    let (access, _) = s.tokens("wang", &dev).await;
    assert_eq!(s.me(&access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refresh_is_bound_to_the_device_and_checked() {
    let s = TestServer::new().await;
    let (_, refresh, dev) = worker(&s).await;
    let (status, body) = s.refresh(&refresh, &device()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message(&body).contains("another device"), "{body}");
    assert_eq!(body["error"], "wrong_device");
    assert_eq!(
        s.refresh("gsr_made-up", &dev).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.refresh("", &dev).await.0, StatusCode::UNAUTHORIZED);
    // A wrong-device attempt did not spend the token.
    assert_eq!(s.refresh(&refresh, &dev).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refresh_tokens_are_stored_hashed_and_last_thirty_days() {
    use sha2::Digest;
    let s = TestServer::new().await;
    let (_, refresh, dev) = worker(&s).await;
    let hash = hex::encode(sha2::Sha256::digest(refresh.as_bytes()));
    let record = s
        .state
        .directory
        .refresh_token(&hash)
        .await
        .expect("dir")
        .expect("stored by hash");
    // A worker offline for a week (or three) can still refresh.
    assert_eq!(record.expires_at - record.issued_at, 30 * 24 * 3600);
    assert!(
        s.state
            .directory
            .refresh_token(&refresh)
            .await
            .expect("dir")
            .is_none()
    );
    // The database file never holds the token itself.
    drop(s.refresh(&refresh, &dev).await);
    let db = std::fs::read(s.state.config.sqlite_path()).expect("db");
    let wal = std::fs::read(s.state.config.sqlite_path().with_extension("sqlite3-wal"))
        .unwrap_or_default();
    let needle = refresh.as_bytes();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
}

#[tokio::test]
async fn logout_ends_the_device_sessions() {
    let s = TestServer::new().await;
    let (access, refresh, dev) = worker(&s).await;
    let (status, _) = s.call("POST", "/v1/auth/logout", Some(&access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.me(&access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "session_ended");
    assert_eq!(s.refresh(&refresh, &dev).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.call("POST", "/v1/auth/logout", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (access, _) = s.tokens("wang", &dev).await;
    assert_eq!(s.me(&access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn role_and_grids_come_from_the_directory_on_every_request() {
    let s = TestServer::new().await;
    let (access, _, _) = worker(&s).await;
    let user = s
        .state
        .directory
        .user_by_username("wang")
        .await
        .expect("dir")
        .expect("user");
    s.state
        .directory
        .update_user(
            &user.id,
            gridsync_server::directory::UserUpdate {
                role: Some(Role::Supervisor),
                subtree: Some(Some(COMMUNITY.into())),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    let (status, me) = s.me(&access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "supervisor");
    assert_eq!(me["grids"], json!([]));
    assert_eq!(me["subtree"], COMMUNITY);
}

#[tokio::test]
async fn the_secret_is_private_and_survives_a_restart() {
    let s = TestServer::new().await;
    let (access, refresh, dev) = worker(&s).await;
    let path = s.dir.path().join("jwt-secret");
    assert!(s.secret().len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("secret")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = std::fs::read(&path).expect("secret");
    let s = s.reopen().await;
    assert_eq!(std::fs::read(&path).expect("secret"), before);
    assert_eq!(s.me(&access).await.0, StatusCode::OK);
    assert_eq!(s.refresh(&refresh, &dev).await.0, StatusCode::OK);
}

/// A token of the pretend identity provider.
fn idp_token(alg: Algorithm, private_pem: &str, claims: &Value) -> String {
    let pem = std::fs::read(crate::support::fixture(private_pem)).expect("fixture");
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
        _ => EncodingKey::from_ec_pem(&pem),
    }
    .expect("key");
    jsonwebtoken::encode(&Header::new(alg), claims, &key).expect("encode")
}

async fn external_idp_case(alg: Algorithm, public: &str, private: &str) {
    let s = TestServer::with(|c| c.external_jwt_public_key = Some(fixture(public))).await;
    s.add_user("wang", Role::GridWorker, &[G1], None).await;
    s.add_user("retired", Role::GridWorker, &[G1], None).await;
    let retired = s
        .state
        .directory
        .user_by_username("retired")
        .await
        .expect("dir")
        .expect("user");
    s.state
        .directory
        .update_user(
            &retired.id,
            gridsync_server::directory::UserUpdate {
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("deactivate");

    // The foreign token claims admin; the directory says grid worker.
    let claims = |sub: &str, exp: u64| json!({"sub": sub, "exp": exp, "iss": "https://idp.example", "aud": "gridsync", "role": "admin", "grids": ["110105001001002"]});
    let token = idp_token(alg, private, &claims("wang", now() + 600));
    let (status, me) = s.me(&token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "grid_worker");
    assert_eq!(me["grids"], json!([G1]));
    assert_eq!(me["device_id"], Value::Null);
    assert_eq!(
        s.call("GET", "/v1/admin/users", Some(&token), None).await.0,
        StatusCode::FORBIDDEN
    );

    for (sub, exp, why) in [
        ("nobody", now() + 600, "unknown user"),
        ("retired", now() + 600, "inactive user"),
        ("wang", now() - 3600, "expired"),
    ] {
        let t = idp_token(alg, private, &claims(sub, exp));
        assert_eq!(s.me(&t).await.0, StatusCode::UNAUTHORIZED, "{why}");
    }
    // HS/RS confusion: an HS256 token keyed with the provider's public key.
    let public_pem = std::fs::read(fixture(public)).expect("fixture");
    let confused = sign_hs256(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims("wang", now() + 600),
        &public_pem,
    );
    assert_eq!(s.me(&confused).await.0, StatusCode::UNAUTHORIZED);
    // A tampered foreign token.
    let parts: Vec<&str> = token.split('.').collect();
    let other = idp_token(alg, private, &claims("retired", now() + 600));
    let spliced = format!(
        "{}.{}.{}",
        parts[0],
        other.split('.').nth(1).expect("payload"),
        parts[2]
    );
    assert_eq!(s.me(&spliced).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn external_idp_rs256_tokens_are_accepted_with_directory_roles() {
    external_idp_case(
        Algorithm::RS256,
        "idp-rs256-public.pem",
        "idp-rs256-private.pem",
    )
    .await;
}

#[tokio::test]
async fn external_idp_es256_tokens_are_accepted_with_directory_roles() {
    external_idp_case(
        Algorithm::ES256,
        "idp-es256-public.pem",
        "idp-es256-private.pem",
    )
    .await;
}

#[tokio::test]
async fn external_idp_tokens_must_name_the_configured_issuer_and_audience() {
    let s = TestServer::with(|c| {
        c.external_jwt_public_key = Some(fixture("idp-rs256-public.pem"));
        c.external_jwt_issuer = Some("https://idp.example".into());
        c.external_jwt_audience = Some("gridsync".into());
    })
    .await;
    s.add_user("wang", Role::GridWorker, &[G1], None).await;
    let token = |claims: Value| idp_token(Algorithm::RS256, "idp-rs256-private.pem", &claims);
    let exp = now() + 600;
    let ok =
        token(json!({"sub": "wang", "exp": exp, "iss": "https://idp.example", "aud": "gridsync"}));
    assert_eq!(s.me(&ok).await.0, StatusCode::OK);
    let listed = token(
        json!({"sub": "wang", "exp": exp, "iss": "https://idp.example", "aud": ["other", "gridsync"]}),
    );
    assert_eq!(
        s.me(&listed).await.0,
        StatusCode::OK,
        "one of several audiences"
    );
    for (claims, why) in [
        (
            json!({"sub": "wang", "exp": exp, "iss": "https://evil.example", "aud": "gridsync"}),
            "another issuer",
        ),
        (
            json!({"sub": "wang", "exp": exp, "aud": "gridsync"}),
            "no issuer",
        ),
        (
            json!({"sub": "wang", "exp": exp, "iss": "https://idp.example", "aud": "payroll"}),
            "issued for another application",
        ),
        (
            json!({"sub": "wang", "exp": exp, "iss": "https://idp.example"}),
            "no audience",
        ),
    ] {
        assert_eq!(
            s.me(&token(claims)).await.0,
            StatusCode::UNAUTHORIZED,
            "{why}"
        );
    }
}

#[tokio::test]
async fn without_an_external_key_foreign_tokens_are_refused() {
    let s = TestServer::new().await;
    s.add_user("wang", Role::GridWorker, &[G1], None).await;
    let token = idp_token(
        Algorithm::RS256,
        "idp-rs256-private.pem",
        &json!({"sub": "wang", "exp": now() + 600}),
    );
    assert_eq!(s.me(&token).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn issue_tokens_signs_in_without_a_password() {
    let s = TestServer::new().await;
    let user = s.add_user("demo", Role::GridWorker, &[G1], None).await;
    let pair = gridsync_server::auth::issue_tokens(&s.state, &user, &device(), Some("demo"))
        .await
        .expect("tokens");
    let (status, me) = s.me(&pair.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user_id"], user.id.as_str());
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_username_for_a_while() {
    use tower::ServiceExt;
    let s = TestServer::new().await;
    s.add_user("wang", Role::GridWorker, &[G1], None).await;
    s.add_user("li", Role::GridWorker, &[G1], None).await;
    let attempt = |username: &str, password: &str| json!({"username": username, "password": password, "device_id": device()});
    // A right password in between starts the count over.
    for _ in 0..4 {
        let (status, _) = s
            .call(
                "POST",
                "/v1/auth/login",
                None,
                Some(attempt("wang", "guess")),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(s.login("wang", &device()).await.0, StatusCode::OK);
    for _ in 0..5 {
        let (status, body) = s
            .call(
                "POST",
                "/v1/auth/login",
                None,
                Some(attempt("WANG", "guess")),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // Locked now: even the right password is refused, with how long to wait.
    let (status, body) = s.login("wang", &device()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "too_many_attempts");
    assert!(message(&body).contains("请5分钟后再试"), "{body}");
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/auth/login")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            attempt("wang", PASSWORD).to_string(),
        ))
        .expect("request");
    let res = gridsync_server::app(s.state.clone())
        .oneshot(req)
        .await
        .expect("response");
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=300).contains(&retry_after), "{retry_after}");
    // The web login says so too, and other users are not locked.
    let (status, _) = s
        .call_raw(
            "POST",
            "/web/login",
            None,
            "application/x-www-form-urlencoded",
            Some(format!("username=wang&password={PASSWORD}").into_bytes()),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(s.login("li", &device()).await.0, StatusCode::OK);
}

/// A web page answer for `cookie` (its status and `Location`).
async fn web_page(s: &TestServer, token: &str) -> (StatusCode, Option<String>) {
    use tower::ServiceExt;
    let req = axum::http::Request::get(format!("/web/t/{COMMUNITY}"))
        .header("cookie", format!("gridsync_web={token}"))
        .body(axum::body::Body::empty())
        .expect("request");
    let res = gridsync_server::app(s.state.clone())
        .oneshot(req)
        .await
        .expect("response");
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (res.status(), location)
}

/// A web session's token (`typ: web`, no device) opens the pages and
/// nothing of the API: `/v1/me`, `/v1/sync` and the rest answer 401
/// `web_session_token`; so does a web session token of the old shape
/// (`typ: access` without a device). A phone's token, even retyped
/// `web` with our secret, opens no page.
#[tokio::test]
async fn web_session_tokens_are_web_only() {
    let s = TestServer::new().await;
    let sup = s
        .add_user("zhao", Role::Supervisor, &[], Some(COMMUNITY))
        .await;
    let web = gridsync_server::web::session::start_session(&s.state, &sup)
        .await
        .expect("web session");
    let claims = claims_of(&web);
    assert_eq!(claims["typ"], "web");
    assert_eq!(claims["dev"], Value::Null);
    assert_eq!(web_page(&s, &web).await.0, StatusCode::OK);

    let secret = s.secret();
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let mut legacy = claims.clone();
    legacy["typ"] = json!("access");
    let legacy = sign_hs256(&header, &legacy, &secret);
    for token in [&web, &legacy] {
        let (status, body) = s.me(token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "web_session_token", "{body}");
        let (status, body) = s
            .call(
                "POST",
                "/v1/sync",
                Some(token),
                Some(json!({"device_id": device(), "cursors": {}, "push": []})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "web_session_token", "{body}");
        let (status, _) = s
            .call("GET", "/v1/reports/overdue", Some(token), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The old shape is no cookie either: its holder signs in again.
    assert_eq!(web_page(&s, &legacy).await.1.as_deref(), Some("/web/login"));

    let (status, body) = s.login("zhao", &device()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = str_of(&body, "access_token");
    assert_eq!(s.me(&access).await.0, StatusCode::OK);
    assert_eq!(web_page(&s, &access).await.1.as_deref(), Some("/web/login"));
    let mut retyped = claims_of(&access);
    retyped["typ"] = json!("web");
    let retyped = sign_hs256(&header, &retyped, &secret);
    assert_eq!(
        web_page(&s, &retyped).await.1.as_deref(),
        Some("/web/login"),
        "a device's session is no web session"
    );
}

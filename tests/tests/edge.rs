//! The server's web edge, on the real server process: the web session
//! cookie signs in to the web pages only (refused as an API bearer token,
//! and a phone's token is no cookie); the pages' security headers; the
//! cookie `Secure` behind an HTTPS proxy; files holding personal data
//! private from the first start on a fresh data directory.

use std::path::Path;

use gridsync_core::issue::NewIssue;

use crate::faults::{phone, seed};
use crate::*;

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sign in through the login form; the `Set-Cookie` answered.
fn web_login(url: &str, user: &str, extra: &[(&str, &str)]) -> String {
    let mut req = http()
        .post(format!("{url}/web/login"))
        .form(&[("username", user), ("password", PASSWORD)]);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = req.send().unwrap();
    assert_eq!(resp.status(), 303, "signed in");
    resp.headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// The token in a `Set-Cookie: gridsync_web=…; …`.
fn cookie_token(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("gridsync_web=")
        .unwrap()
        .to_owned()
}

fn api_token(url: &str, user: &str) -> String {
    let resp: serde_json::Value = http()
        .post(format!("{url}/v1/auth/login"))
        .json(&serde_json::json!({"username": user, "password": PASSWORD,
            "device_id": uuid::Uuid::new_v4().to_string()}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    resp["access_token"].as_str().unwrap().to_owned()
}

/// The web cookie's token is refused on every API route as a bearer token
/// (before, a 10-hour web token without a device was accepted on
/// `/v1/sync` and `/v1/me`), and a phone's access token opens no web page.
#[test]
fn the_web_cookie_is_a_web_session_only() {
    let server = community();
    let set_cookie = web_login(&server.url, "supervisor", &[]);
    let token = cookie_token(&set_cookie);
    let client = http();

    // The cookie opens the pages.
    let page = client
        .get(format!("{}/web/t/{COMMUNITY}", server.url))
        .header("cookie", format!("gridsync_web={token}"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);

    // It is no bearer token: /v1/me, /v1/sync and the other API routes.
    let sync_body = serde_json::json!({
        "device_id": uuid::Uuid::new_v4().to_string(), "cursors": {}, "push": []
    });
    let requests = [
        client.get(format!("{}/v1/me", server.url)),
        client
            .post(format!("{}/v1/sync", server.url))
            .json(&sync_body),
        client.get(format!("{}/v1/reports/overdue", server.url)),
        client.post(format!("{}/v1/auth/logout", server.url)),
        client.get(format!("{}/v1/admin/users", server.url)),
    ];
    for req in requests {
        let resp = req.bearer_auth(&token).send().unwrap();
        let path = resp.url().path().to_owned();
        assert_eq!(resp.status(), 401, "{path}");
        let body: serde_json::Value = resp.json().unwrap();
        assert_eq!(body["error"], "web_session_token", "{path}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("网页登录凭证"),
            "{body}"
        );
    }
    // The web session was not ended by the refused logout.
    let page = client
        .get(format!("{}/web/t/{COMMUNITY}", server.url))
        .header("cookie", format!("gridsync_web={token}"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);

    // A phone's access token is no cookie: back to the login form.
    let phone_token = api_token(&server.url, "supervisor");
    let me = client
        .get(format!("{}/v1/me", server.url))
        .bearer_auth(&phone_token)
        .send()
        .unwrap();
    assert_eq!(me.status(), 200);
    let page = client
        .get(format!("{}/web/t/{COMMUNITY}", server.url))
        .header("cookie", format!("gridsync_web={phone_token}"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/web/login");
}

/// Every web page and form answer carries the security headers; API
/// answers carry `nosniff`.
#[test]
fn web_answers_carry_the_security_headers() {
    let server = community();
    let set_cookie = web_login(&server.url, "supervisor", &[]);
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let client = http();
    for path in [
        "/web/login",
        "/web",
        &format!("/web/t/{COMMUNITY}"),
        "/web/reports",
        "/web/style.css",
        "/web/no-such-page",
    ] {
        let resp = client
            .get(format!("{}{path}", server.url))
            .header("cookie", &cookie)
            .send()
            .unwrap();
        let h = resp.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"))
            .to_str()
            .unwrap();
        for directive in [
            "default-src 'none'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
    }
    // The pages need nothing the policy forbids: no scripts, no inline
    // styles.
    for path in ["/web/login", "/web", &format!("/web/t/{COMMUNITY}")] {
        let html = client
            .get(format!("{}{path}", server.url))
            .header("cookie", &cookie)
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(!html.contains("<script"), "{path}");
        assert!(!html.contains("style="), "{path}");
        assert!(!html.contains("<style"), "{path}");
    }
    let me = client.get(format!("{}/v1/me", server.url)).send().unwrap();
    assert_eq!(me.headers()["x-content-type-options"], "nosniff");
    let health = client
        .get(format!("{}/healthz", server.url))
        .send()
        .unwrap();
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
}

/// Behind a proxy that says the browser came over HTTPS, the cookie is
/// `Secure` (and on logout too); over plain HTTP it is not, or the pages
/// could not be used without TLS on a laptop.
#[test]
fn the_cookie_is_secure_behind_an_https_proxy() {
    let server = community();
    let plain = web_login(&server.url, "supervisor", &[]);
    assert!(!plain.contains("Secure"), "{plain}");
    for header in [
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=10.0.0.1;proto=https"),
    ] {
        let secure = web_login(&server.url, "supervisor", &[header]);
        assert!(secure.contains("; Secure"), "{header:?}: {secure}");
        assert!(secure.contains("HttpOnly") && secure.contains("SameSite=Strict"));
    }
    let spoofed = web_login(&server.url, "supervisor", &[("x-forwarded-proto", "http")]);
    assert!(!spoofed.contains("Secure"), "{spoofed}");
}

/// `--secure-cookies` marks the cookie `Secure` with no proxy header.
#[test]
fn secure_cookies_can_be_configured() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = TestServer::options()
        .data_dir(&data)
        .serve_args(&["--secure-cookies"])
        .start();
    seed(&server);
    let set_cookie = web_login(&server.url, "supervisor", &[]);
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file and directory under `dir`, with its mode.
fn walk(dir: &Path, out: &mut Vec<(String, u32, bool)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let is_dir = path.is_dir();
        out.push((path.display().to_string(), mode(&path), is_dir));
        if is_dir {
            walk(&path, out);
        }
    }
}

/// A server started on a data directory that does not exist yet creates
/// it 0700 and every file in it 0600: the SQLite database and its WAL and
/// shared-memory files, the web read model, blobs, the token secret. An
/// existing data directory open to others is narrowed to 0700.
#[test]
fn files_holding_personal_data_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().join("srv");
    std::fs::create_dir(&parent).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let data = parent.join("gridsync-data");
    let server = TestServer::options().data_dir(&data).start();
    seed(&server);
    // Personal data in every store: a household, a report with a photo,
    // a page view (the read model).
    let phones = tempfile::tempdir().unwrap();
    let (mut store, client) = phone(&server.url, "worker1", phones.path());
    let opts = gridsync_core::sync::SyncOptions::default();
    gridsync_core::sync::sync(&mut store, &client, &opts, None, &mut |_| {}).unwrap();
    store
        .add_place(G1, "", "幸福小区", "1号楼", "1单元")
        .unwrap();
    store
        .create_household(gridsync_core::household::NewHousehold {
            grid: G1.into(),
            place: place(1, "101"),
            residents: vec![gridsync_core::household::Resident::named("张三")],
            ..Default::default()
        })
        .unwrap();
    let issue = store
        .report_issue(NewIssue {
            grid: G1.into(),
            category: "safety".into(),
            subtype: gridsync_core::issue::catalogue::category("safety")
                .unwrap()
                .subtypes[0]
                .code
                .into(),
            description: "楼道堆放杂物".into(),
            source: "patrol".into(),
            ..NewIssue::default()
        })
        .unwrap();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .encode_image(&image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([x as u8, y as u8, 7])
        }))
        .unwrap();
    store.attach_photo(&issue, &jpeg).unwrap();
    let report = gridsync_core::sync::sync(&mut store, &client, &opts, None, &mut |_| {}).unwrap();
    assert_eq!(report.blobs_uploaded, 1, "{report:?}");
    let cookie = web_login(&server.url, "supervisor", &[]);
    let page = http()
        .get(format!("{}/web/t/{COMMUNITY}", server.url))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);

    assert_eq!(mode(&data), 0o700, "the data directory");
    let mut found = Vec::new();
    walk(&data, &mut found);
    let names: Vec<&str> = found
        .iter()
        .filter_map(|(p, _, _)| Path::new(p).file_name()?.to_str())
        .collect();
    for expected in [
        "gridsync.sqlite3",
        "gridsync.sqlite3-wal",
        "gridsync.sqlite3-shm",
        "jwt-secret",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    assert!(
        found
            .iter()
            .any(|(p, _, dir)| !dir && p.contains("/blobs/") && !p.contains("partial")),
        "a blob file: {found:?}"
    );
    assert!(found.len() > 6, "{found:?}");
    for (path, m, is_dir) in &found {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*m, want, "{path}: {m:o}");
    }
    drop(server);

    // A data directory left open by an older version is narrowed.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let server = TestServer::options().data_dir(&data).start();
    assert_eq!(mode(&data), 0o700);
    drop(server);
}

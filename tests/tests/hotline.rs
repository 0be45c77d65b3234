//! The 12345 hotline into the grid (接诉即办), through the real server and a
//! real webhook receiver (a small axum server on a free loopback port in
//! this process): a platform files a 诉求 with its credential, filing the
//! same reference again (also concurrently) makes one report, and the
//! receiver is told of the filing and every step taken on the phones,
//! signed, also after it was down for a while and the server restarted
//! meanwhile; a revoked or wrong credential is refused (401), bad input is
//! refused naming the field (400), and a call that keeps failing is listed
//! for the administrator (command line and web page) and can be retried.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gridsync_core::issue::{EventKind, StepInput};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::*;

/// Quick retries so the tests take seconds.
const FAST: &[(&str, &str)] = &[
    ("GRIDSYNC_HOTLINE_POLL_MS", "100"),
    ("GRIDSYNC_HOTLINE_RETRY_BASE_MS", "100"),
    ("GRIDSYNC_HOTLINE_RETRY_MAX_MS", "400"),
    ("GRIDSYNC_HOTLINE_FAILING_AFTER", "3"),
    ("GRIDSYNC_HOTLINE_TIMEOUT_MS", "2000"),
];

/// A call the receiver accepted.
#[derive(Debug, Clone)]
struct Hit {
    signature: String,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Shared {
    hits: Arc<Mutex<Vec<Hit>>>,
    refused: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
}

/// The platform's webhook receiver.
struct Receiver {
    rt: tokio::runtime::Runtime,
    port: u16,
    shared: Shared,
    task: Option<tokio::task::JoinHandle<()>>,
}

async fn hook(State(s): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    if s.failing.load(Ordering::SeqCst) {
        s.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let signature = headers
        .get("x-gridsync-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    s.hits.lock().unwrap().push(Hit {
        signature,
        body: body.to_vec(),
    });
    StatusCode::NO_CONTENT
}

impl Receiver {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut r = Receiver {
            rt,
            port,
            shared: Shared::default(),
            task: None,
        };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(self.shared.clone());
        self.task = Some(self.rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Down: new connections refused, connections kept alive answered 500.
    fn down(&mut self) {
        self.shared.failing.store(true, Ordering::SeqCst);
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = self.rt.block_on(t);
        }
    }

    /// Up again on the same port.
    fn up(&mut self) {
        let start = Instant::now();
        let listener = loop {
            match self
                .rt
                .block_on(tokio::net::TcpListener::bind(("127.0.0.1", self.port)))
            {
                Ok(l) => break l,
                Err(e) => {
                    assert!(start.elapsed() < Duration::from_secs(10), "rebind: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        self.shared.failing.store(false, Ordering::SeqCst);
        self.serve(listener);
    }

    fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// The steps received for `report`, first arrival of each event, in
    /// arrival order; every signature checked with `secret`.
    fn steps(&self, report: &str, secret: &str) -> Vec<Value> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for h in self.hits() {
            verify(secret, &h);
            let v: Value = serde_json::from_slice(&h.body).unwrap();
            if v["report_id"] == report && seen.insert(v["event_id"].as_str().unwrap().to_owned()) {
                out.push(v);
            }
        }
        out
    }

    /// Wait until `n` distinct steps of `report` arrived.
    fn wait_steps(&self, report: &str, secret: &str, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let steps = self.steps(report, secret);
            if steps.len() >= n {
                return steps;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "only {} of {n} steps arrived: {steps:?}",
                steps.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The signature is `t=<seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`,
/// made with this credential's secret, and recent.
fn verify(secret: &str, hit: &Hit) {
    let mut t = None;
    let mut v1 = None;
    for part in hit.signature.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_owned()),
            Some(("v1", x)) => v1 = Some(x.to_owned()),
            _ => {}
        }
    }
    let (t, v1) = (t.expect("t="), v1.expect("v1="));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&hit.body);
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("signature verifies");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - t.parse::<i64>().unwrap()).abs() < 600, "recent");
}

/// `admin hotline add`: (token, signing secret).
fn credential(server: &TestServer, name: &str, webhook: &str) -> (String, String) {
    let out = server.cli(&["admin", "hotline", "add", name, "--webhook", webhook]);
    let text = String::from_utf8(out.stdout).unwrap();
    let last = |key: &str| {
        text.lines()
            .find(|l| l.contains(key))
            .and_then(|l| l.split_whitespace().last())
            .unwrap()
            .to_owned()
    };
    (last("token"), last("signing secret"))
}

fn case(reference: &str) -> Value {
    json!({
        "reference": reference,
        "grid": G1,
        "category": "sanitation",
        "subtype": "garbage",
        "description": "市民来电：3号楼东侧垃圾堆放多日无人清理",
        "address": "幸福小区3号楼东侧",
        "caller": {"name": "李四", "phone": "13800138000"},
    })
}

/// POST a case: (status, answer).
fn file(server: &TestServer, token: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/hotline/cases", server.url))
        .bearer_auth(token)
        .json(body)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

fn step(p: &mut Phone, id: &str, kind: EventKind, input: StepInput) {
    p.sync();
    p.store.append_event(id, kind, input).unwrap();
    let r = p.sync();
    assert_eq!(r.rejected, 0, "refused: {:?}", p.store.rejected_changes());
}

#[test]
fn a_case_filed_twice_is_one_report_and_the_platform_hears_every_step() {
    filed_twice_and_every_step_heard(FAST);
}

/// The same on PostgreSQL, when GRIDSYNC_TEST_DATABASE_URL names one (e.g.
/// `eval "$(bash scripts/postgres.sh)"`); skipped otherwise, a failure if
/// GRIDSYNC_REQUIRE_POSTGRES is set (the harness's contract).
#[test]
fn on_postgres_too() {
    let Some(db) = gridsync_tests::PgDatabase::fresh() else {
        return;
    };
    let mut env = FAST.to_vec();
    env.push(("GRIDSYNC_DATABASE_URL", db.url.as_str()));
    filed_twice_and_every_step_heard(&env);
}

fn filed_twice_and_every_step_heard(env: &[(&str, &str)]) {
    let mut server = community_with_env(env);
    let mut receiver = Receiver::start();
    let (token, secret) = credential(&server, "12345-chaoyang", &receiver.url());

    // Filed twice: one report, the same id both times.
    let (s1, a1) = file(&server, &token, &case("GD-20261204-0001"));
    assert_eq!(s1, 201, "{a1}");
    let (s2, a2) = file(&server, &token, &case("GD-20261204-0001"));
    assert_eq!(s2, 200, "{a2}");
    let id = a1["report_id"].as_str().unwrap().to_owned();
    assert_eq!(a2["report_id"], id.as_str());
    assert_eq!(a2["created"], false);

    // Filed by eight callers at once: still one report, one 201.
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| file(&server, &token, &case("GD-20261204-0002"))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers.iter().filter(|(s, _)| *s == 201).count(), 1);
    assert!(answers.iter().all(|(s, _)| *s == 201 || *s == 200));
    let second = answers[0].1["report_id"].as_str().unwrap().to_owned();
    assert!(
        answers
            .iter()
            .all(|(_, a)| a["report_id"] == second.as_str())
    );

    // The grid sees exactly two reports, from the hotline.
    let mut sup = Phone::login(&server, "supervisor");
    sup.sync();
    let mut open: Vec<String> = sup
        .store
        .open_issues(G1)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    open.sort();
    let mut expected = vec![id.clone(), second.clone()];
    expected.sort();
    assert_eq!(open, expected);
    let issue = sup.store.issue(&id).unwrap();
    assert_eq!(issue.source, "hotline");
    assert!(
        !format!("{issue:?}").contains("13800138000"),
        "the caller's phone is not stored"
    );

    // The filing arrives, signed.
    let steps = receiver.wait_steps(&id, &secret, 1);
    assert_eq!(steps[0]["step"], "report");
    assert_eq!(steps[0]["reference"], "GD-20261204-0001");
    assert_eq!(steps[0]["stage"], "reported");

    // The receiver answers 500 for a while, 受理 is taken meanwhile; then
    // it goes down (connections refused), 派遣 is taken, and the server
    // is killed and restarted while the calls are failing.
    receiver.shared.failing.store(true, Ordering::SeqCst);
    let mut worker = Phone::login(&server, "worker1");
    let worker_id = worker.user_id.clone();
    step(&mut sup, &id, EventKind::Accept, StepInput::default());
    let start = Instant::now();
    while receiver.shared.refused.load(Ordering::SeqCst) < 3 {
        assert!(start.elapsed() < Duration::from_secs(20), "answered 500");
        std::thread::sleep(Duration::from_millis(50));
    }
    receiver.down();
    step(
        &mut sup,
        &id,
        EventKind::Dispatch,
        StepInput {
            assignee: Some(worker_id),
            ..StepInput::default()
        },
    );
    // Listed as failing, the last error now a refused connection.
    let start = Instant::now();
    loop {
        let out = server.cli(&["admin", "hotline", "failing"]);
        let text = String::from_utf8(out.stdout).unwrap();
        if text.contains("GD-20261204-0001") && text.contains("connection failed") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.restart();
    std::thread::sleep(Duration::from_millis(1500));
    receiver.up();

    // The rest of the loop: 处置, 反馈, 核查, 结案.
    step(&mut worker, &id, EventKind::Handle, StepInput::default());
    step(
        &mut worker,
        &id,
        EventKind::Feedback,
        StepInput {
            note: Some("已清运".into()),
            ..StepInput::default()
        },
    );
    let mut checker = Phone::login(&server, "worker2");
    step(
        &mut checker,
        &id,
        EventKind::VerifyPass,
        StepInput::default(),
    );
    step(&mut sup, &id, EventKind::Close, StepInput::default());

    // Every step arrived, none lost, in the order taken, each signed.
    let steps = receiver.wait_steps(&id, &secret, 7);
    let kinds: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "report",
            "accept",
            "dispatch",
            "handle",
            "feedback",
            "verify_pass",
            "close"
        ]
    );
    let stages: Vec<&str> = steps.iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(
        stages,
        [
            "reported",
            "accepted",
            "dispatched",
            "handled",
            "fed_back",
            "verified",
            "closed"
        ]
    );
    assert_eq!(steps[4]["note"], "已清运");
    // Read back by reference: the same steps, closed.
    let view: Value = reqwest::blocking::Client::new()
        .get(format!("{}/v1/hotline/cases/GD-20261204-0001", server.url))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(view["report_id"], id.as_str());
    assert_eq!(view["stage"], "closed");
    assert_eq!(view["steps"].as_array().unwrap().len(), 7);
    assert_eq!(view["steps"][6]["step"], "close");
    assert!(steps.iter().all(|s| s["applied"] == true));
    // The other report's filing came too.
    receiver.wait_steps(&second, &secret, 1);
    // The caller's contact went nowhere.
    assert!(
        receiver
            .hits()
            .iter()
            .all(|h| !String::from_utf8_lossy(&h.body).contains("13800138000"))
    );
}

#[test]
fn wrong_credentials_and_bad_input_are_refused() {
    let server = community();
    let (token, _) = credential(&server, "12345-dongcheng", "http://127.0.0.1:9/hook");
    let (other, _) = credential(&server, "12345-xicheng", "http://127.0.0.1:9/hook");

    // No token, a wrong one: 401.
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/hotline/cases", server.url))
        .json(&case("A-1"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(file(&server, "gsh_wrong", &case("A-1")).0, 401);

    // Bad input: 400 naming the field, never repeating personal data.
    let bad = |patch: Value, field: &str| {
        let mut body = case("A-2");
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        let (status, answer) = file(&server, &token, &body);
        assert_eq!(status, 400, "{field}: {answer}");
        assert_eq!(answer["field"], field, "{answer}");
        assert!(!answer.to_string().contains("1380013"), "{answer}");
    };
    bad(json!({"reference": null}), "reference");
    bad(json!({"reference": "含空格 的编号"}), "reference");
    bad(json!({"grid": "110105001001999"}), "grid");
    bad(json!({"grid": 7}), "grid");
    bad(json!({"category": "weather"}), "category");
    bad(json!({"subtype": "nothing"}), "subtype");
    bad(json!({"description": "  "}), "description");
    bad(json!({"urgency": "someday"}), "urgency");
    bad(
        json!({"caller": {"phone": "138-0013-8000 ext. 5"}}),
        "caller.phone",
    );
    bad(json!({"colour": "blue"}), "colour");
    let (status, _) = reqwest::blocking::Client::new()
        .post(format!("{}/v1/hotline/cases", server.url))
        .bearer_auth(&token)
        .body("not json")
        .send()
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 400);

    // Filed, then the credential is revoked: 401 from then on, also for
    // the reference already filed; another platform's is unaffected and
    // has its own reference numbers.
    assert_eq!(file(&server, &token, &case("A-3")).0, 201);
    server.cli(&["admin", "hotline", "revoke", "12345-dongcheng"]);
    assert_eq!(file(&server, &token, &case("A-3")).0, 401);
    assert_eq!(file(&server, &token, &case("A-4")).0, 401);
    assert_eq!(file(&server, &other, &case("A-3")).0, 201);
    // Read back: only by the platform that filed it.
    let get = |token: &str, reference: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{}/v1/hotline/cases/{reference}", server.url))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(get(&other, "A-3"), 200);
    assert_eq!(get(&other, "A-1"), 404);
    assert_eq!(get(&token, "A-3"), 401);
}

#[test]
fn a_call_that_keeps_failing_is_listed_and_retried_by_hand() {
    let receiver = Receiver::start();
    receiver.shared.failing.store(true, Ordering::SeqCst);
    let server = community_with_env(FAST);
    let (token, secret) = credential(&server, "12345-haidian", &receiver.url());
    let (status, answer) = file(&server, &token, &case("HD-1"));
    assert_eq!(status, 201);
    let id = answer["report_id"].as_str().unwrap().to_owned();

    // Listed once it failed three times (the test's threshold).
    let start = Instant::now();
    let listing = loop {
        let out = server.cli(&["admin", "hotline", "failing"]);
        let text = String::from_utf8(out.stdout).unwrap();
        if text.contains("HD-1") {
            break text;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(listing.contains("HTTP 500"), "{listing}");

    // The administrator's page lists it with its last error, in Chinese.
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http
        .post(format!("{}/web/login", server.url))
        .form(&[("username", "admin"), ("password", PASSWORD)])
        .send()
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = http
        .get(format!("{}/web/admin/hotline", server.url))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("持续失败的回调"), "{html}");
    assert!(html.contains("HD-1") && html.contains("HTTP 500"), "{html}");
    assert!(html.contains("12345-haidian"));

    // A credential made on the page: its token and secret are shown on the
    // answered page only, and work; revoked on the page, it is refused.
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let made = http
        .post(format!("{}/web/admin/hotline/add", server.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "12345-web"),
            ("webhook", &receiver.url()),
        ])
        .send()
        .unwrap();
    assert_eq!(made.status(), 200);
    let made = made.text().unwrap();
    let shown = |id: &str| {
        made.split(&format!("<code id=\"{id}\">"))
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap()
            .to_owned()
    };
    let (web_token, web_secret) = (shown("token"), shown("secret"));
    assert!(web_token.starts_with("gsh_") && web_secret.starts_with("whsec_"));
    let again = http
        .get(format!("{}/web/admin/hotline", server.url))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!again.contains(&web_token) && !again.contains(&web_secret));
    assert_eq!(file(&server, &web_token, &case("WEB-1")).0, 201);
    let revoked = http
        .post(format!("{}/web/admin/hotline/revoke", server.url))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "12345-web")])
        .send()
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(file(&server, &web_token, &case("WEB-2")).0, 401);

    // A supervisor may not see it.
    let sup = http
        .post(format!("{}/web/login", server.url))
        .form(&[("username", "supervisor"), ("password", PASSWORD)])
        .send()
        .unwrap();
    let sup_cookie = sup.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let denied = http
        .get(format!("{}/web/admin/hotline", server.url))
        .header("cookie", &sup_cookie)
        .send()
        .unwrap();
    assert_eq!(denied.status(), 403);

    // The receiver is fixed; retried by hand, the call goes through and
    // leaves the list.
    receiver.shared.failing.store(false, Ordering::SeqCst);
    server.cli(&["admin", "hotline", "retry", "--all"]);
    let steps = receiver.wait_steps(&id, &secret, 1);
    assert_eq!(steps[0]["step"], "report");
    let start = Instant::now();
    loop {
        let out = server.cli(&["admin", "hotline", "failing"]);
        if !String::from_utf8(out.stdout).unwrap().contains("HD-1") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "left the list");
        std::thread::sleep(Duration::from_millis(100));
    }
    let refused = receiver.shared.refused.load(Ordering::SeqCst);
    assert!(refused >= 3, "{refused} calls answered 500");
}

/// POST a case; `None` when the server did not answer (killed).
fn try_file(url: &str, token: &str, body: &Value) -> Option<(u16, Value)> {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{url}/v1/hotline/cases"))
        .bearer_auth(token)
        .json(body)
        .send()
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.json().ok()?))
}

#[test]
fn filings_cut_short_by_a_crash_make_no_duplicate_or_orphan_report() {
    let mut server = community_with_env(FAST);
    let (token, _) = credential(&server, "12345-crash", "http://127.0.0.1:9/hook");
    let refs: Vec<String> = (0..48).map(|i| format!("K-{i:03}")).collect();
    // Four platforms' threads file while the server is killed (SIGKILL).
    let url = server.url.clone();
    std::thread::scope(|s| {
        for chunk in refs.chunks(12) {
            let (url, token) = (&url, &token);
            s.spawn(move || {
                for r in chunk {
                    let _ = try_file(url, token, &case(r));
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        server.kill();
    });
    server.restart();

    // Filed again, every reference answers one report, whatever the crash
    // cut short; the grid holds exactly these reports.
    let mut ids = std::collections::BTreeSet::new();
    let mut new_after = 0;
    for r in &refs {
        let (status, answer) = file(&server, &token, &case(r));
        assert!(status == 200 || status == 201, "{r}: {status} {answer}");
        let (again, same) = file(&server, &token, &case(r));
        assert_eq!((again, &same["report_id"]), (200, &answer["report_id"]));
        assert!(ids.insert(answer["report_id"].as_str().unwrap().to_owned()));
        if status == 201 {
            new_after += 1;
        }
    }
    eprintln!("filed before the crash: {}", refs.len() - new_after);
    let mut sup = Phone::login(&server, "supervisor");
    sup.sync();
    let open: std::collections::BTreeSet<String> = sup
        .store
        .open_issues(G1)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(open, ids);
}

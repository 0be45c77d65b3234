//! The closed loop of an issue report scripted through the `gridsync`
//! command line (issue 13, item 2), each person with their own store file,
//! against the real server: report with a photo → accept → dispatch to
//! 城管 → handle → feedback → verify → close → rate; a step out of stage or
//! out of role is refused at once, with the Chinese reason. Also: a city's
//! own catalogue and working calendar reach the command line by sync.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::report_loop::street;
use crate::{G1, PASSWORD, Phone};
use gridsync_core::sync::SyncOptions;

/// One person's command line: a store file of their own.
pub(crate) struct Cli {
    store: PathBuf,
}

impl Cli {
    pub(crate) fn login(server: &gridsync_tests::TestServer, dir: &Path, user: &str) -> Cli {
        let cli = Cli {
            store: dir.join(format!("{user}.sqlite3")),
        };
        cli.ok(&["login", "--server", &server.url, "--username", user]);
        cli.ok(&["sync"]);
        cli
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        std::process::Command::new(gridsync_tests::client_bin())
            .arg("--store")
            .arg(&self.store)
            .args(args)
            .env("GRIDSYNC_PASSWORD", PASSWORD)
            .output()
            .unwrap()
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "gridsync {args:?} failed ({:?}): {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(&[&["--json"], args].concat())).unwrap()
    }

    /// Take a step; it must be recorded.
    fn step(&self, id: &str, args: &[&str]) {
        self.ok(&[&["issue", "step", id], args].concat());
    }
}

fn stage(cli: &Cli, id: &str) -> String {
    cli.json(&["issue", "show", id])["stage"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_report_loop_through_the_command_line() {
    let server = street();
    let dir = tempfile::tempdir().unwrap();
    let worker = Cli::login(&server, dir.path(), "worker1");
    let sup = Cli::login(&server, dir.path(), "supervisor");
    let cg = Cli::login(&server, dir.path(), "cg1");

    // Reported offline with a photo, listed as the worker's own.
    let photo = dir.path().join("photo.jpg");
    std::fs::write(&photo, crate::blobs::jpeg(64, 48, 1, false)).unwrap();
    let r = worker.json(&[
        "issue",
        "report",
        "--grid",
        G1,
        "--category",
        "sanitation",
        "--subtype",
        "garbage",
        "--description",
        "3号楼东侧垃圾堆放",
        "--source",
        "巡查",
        "--building",
        "3号楼东侧",
        "--photo",
        photo.to_str().unwrap(),
    ]);
    let id = r["id"].as_str().unwrap().to_string();
    assert_eq!(r["photos"].as_array().unwrap().len(), 1);
    let mine = worker.json(&["issue", "list", "--mine"]);
    assert_eq!(mine[0]["id"], id.as_str());
    assert_eq!(mine[0]["stage_name"], "待受理");
    // Out of stage: refused at once, nothing recorded.
    let out = worker.run(&["issue", "step", &id, "verify_pass"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("事件待受理，不能核查通过"), "{err}");
    worker.ok(&["sync"]);

    // The community supervisor accepts and dispatches to 城管 (吹哨报到).
    sup.ok(&["sync"]);
    let shown = sup.json(&["issue", "show", &id]);
    let hash = shown["photos"][0].as_str().unwrap().to_string();
    let got = dir.path().join("got.jpg");
    sup.ok(&["issue", "photo", &hash, "--out", got.to_str().unwrap()]);
    assert_eq!(std::fs::read(&got).unwrap(), std::fs::read(&photo).unwrap());
    let thumb = dir.path().join("thumb.jpg");
    sup.ok(&[
        "issue",
        "photo",
        &hash,
        "--thumbnail",
        "--out",
        thumb.to_str().unwrap(),
    ]);
    assert!(
        std::fs::read(&thumb).unwrap().starts_with(b"\xff\xd8"),
        "a JPEG thumbnail"
    );
    let open = sup.json(&["issue", "list"]);
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id.as_str())
    );
    sup.step(&id, &["accept", "--note", "已受理"]);
    sup.step(
        &id,
        &[
            "派遣",
            "--assignee",
            "dept:chengguan",
            "--note",
            "请城管处理",
        ],
    );
    sup.ok(&["sync"]);

    // 城管 handles and feeds back.
    cg.ok(&["sync"]);
    let show = cg.json(&["issue", "show", &id]);
    assert_eq!(show["stage"], "dispatched");
    assert!(show["deadline"].is_i64(), "due once dispatched: {show}");
    cg.step(&id, &["handle", "--note", "已清运"]);
    cg.step(&id, &["feedback", "--note", "垃圾已清运完毕"]);
    cg.ok(&["sync"]);

    // The worker verifies; closing is the supervisor's: the worker's
    // close is refused at once, with the server's reason, and recorded
    // nowhere.
    worker.ok(&["sync"]);
    assert_eq!(stage(&worker, &id), "fed_back");
    worker.step(&id, &["verify_pass", "--note", "现场已核实"]);
    let out = worker.run(&["issue", "step", &id, "close"]);
    assert!(!out.status.success(), "an out-of-role step fails");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("网格员不能结案"), "{err}");
    assert_eq!(stage(&worker, &id), "verified");
    // Nothing for the server to refuse: the sync is complete (exit 0).
    worker.ok(&["sync"]);

    sup.ok(&["sync"]);
    sup.step(&id, &["close", "--note", "结案"]);
    sup.ok(&["sync"]);
    worker.ok(&["sync"]);
    worker.step(&id, &["rate", "--rating", "5"]);
    worker.ok(&["sync"]);

    sup.ok(&["sync"]);
    let done = sup.json(&["issue", "show", &id]);
    assert_eq!(done["stage"], "rated");
    assert_eq!(done["rating"], 5);
    let names: Vec<&str> = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "上报",
            "受理",
            "派遣",
            "处置",
            "反馈",
            "核查通过",
            "结案",
            "评价"
        ]
    );
    assert_eq!(done["steps"][3]["note"], "已清运");
    let human = sup.ok(&["issue", "show", &id]);
    assert!(
        human.contains("已评价") && human.contains("请城管处理"),
        "{human}"
    );
    assert!(
        worker
            .json(&["issue", "list", "--mine"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// A city's catalogue in the server's data directory: the seed plus
/// 宠物扰民 / 犬吠扰民.
fn write_city_catalogue(server: &gridsync_tests::TestServer) {
    let mut cat: Value = serde_json::from_str(&gridsync_core::issue::catalogue::to_json(
        gridsync_core::issue::CATALOGUE,
    ))
    .unwrap();
    let cats = cat["categories"].as_array_mut().unwrap();
    let mut pets = cats[0].clone();
    pets["code"] = "pets".into();
    pets["name"] = "宠物扰民".into();
    let mut barking = pets["subtypes"][0].clone();
    barking["code"] = "barking".into();
    barking["name"] = "犬吠扰民".into();
    pets["subtypes"] = Value::Array(vec![barking]);
    cats.push(pets);
    std::fs::write(server.data.path().join("catalogue.json"), cat.to_string()).unwrap();
}

#[test]
fn a_city_catalogue_and_calendar_reach_the_phone_by_sync() {
    let mut server = street();
    // The city's catalogue; and the next twelve days are holidays.
    write_city_catalogue(&server);
    let data = server.data.path();
    let day = 86_400_000;
    let now = gridsync_core::clock::Clock::System.now_ms();
    // China Standard Time dates, today and the eleven days after.
    let today = (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date();
    let holidays: Vec<String> = (0..12)
        .map(|d| (today + time::Duration::days(d)).to_string())
        .collect();
    std::fs::write(
        data.join("work_calendar.json"),
        serde_json::json!({"holidays": holidays, "workdays": []}).to_string(),
    )
    .unwrap();
    server.restart();

    let dir = tempfile::tempdir().unwrap();
    let worker = Cli::login(&server, dir.path(), "worker1");
    let cats = worker.json(&["issue", "categories"]);
    let pets = cats
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "pets")
        .unwrap_or_else(|| panic!("the city's category reached the phone: {cats}"));
    assert_eq!(pets["name"], "宠物扰民");
    assert_eq!(pets["subtypes"][0]["name"], "犬吠扰民");
    // Reported offline in the new category; the server takes it.
    let r = worker.json(&[
        "issue",
        "report",
        "--grid",
        G1,
        "--category",
        "pets",
        "--subtype",
        "barking",
        "--description",
        "夜间犬吠扰民",
        "--source",
        "巡查",
    ]);
    let id = r["id"].as_str().unwrap().to_string();
    worker.ok(&["sync"]);
    let shown = worker.json(&["issue", "show", &id]);
    assert_eq!(shown["category"], "pets", "{shown}");
    let text = worker.ok(&["issue", "show", &id]);
    assert!(
        text.contains("宠物扰民") && text.contains("犬吠扰民"),
        "{text}"
    );
    // 待受理 within one working day, counted on the city's calendar: after
    // the twelve holidays.
    let due = shown["deadline"]
        .as_i64()
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(due > now + 11 * day, "due {due}, now {now}");
}

/// A sync's answer names the tag of the report rules: the phone asks for
/// the rules when it holds none or other ones, not after every sync (a
/// request less per sync, a round trip on a slow link).
#[test]
fn the_rules_are_asked_for_only_when_their_tag_changes() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut server = gridsync_tests::TestServer::options()
        .env(&[("GRIDSYNC_LOG", "warn,tower_http=debug")])
        .stderr_to(log.path())
        .start();
    crate::set_up_community(&server);
    // Requests for the rules the server began, from its request log.
    let asked = || {
        std::fs::read_to_string(log.path())
            .unwrap()
            .lines()
            .filter(|l| l.contains("/v1/reports/rules") && l.contains("started processing"))
            .count()
    };
    let dir = tempfile::tempdir().unwrap();
    let worker = Cli::login(&server, dir.path(), "worker1");
    let first = asked();
    assert!(first >= 1, "a phone without rules asks for them");
    worker.ok(&["sync"]);
    worker.ok(&["sync"]);
    assert_eq!(asked(), first, "unchanged rules are not asked for again");

    // The city's own catalogue: a new tag, asked for at the next sync.
    write_city_catalogue(&server);
    server.restart();
    worker.ok(&["sync"]);
    assert_eq!(asked(), first + 1, "changed rules are asked for");
    let cats = worker.json(&["issue", "categories"]);
    assert!(
        cats.as_array().unwrap().iter().any(|c| c["code"] == "pets"),
        "the city's category reached the phone: {cats}"
    );
    worker.ok(&["sync"]);
    assert_eq!(asked(), first + 1, "and then not again");
}

/// Rules the phone does not hold yet are asked for while the sync's
/// pages come, beside the next page, not after the last one: on a slow
/// link that is a round trip less.
#[test]
fn the_rules_are_asked_for_while_the_pages_come() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = gridsync_tests::TestServer::options()
        .env(&[("GRIDSYNC_LOG", "warn,tower_http=debug")])
        .stderr_to(log.path())
        .start();
    crate::set_up_community(&server);
    let mut worker = Phone::login(&server, "worker1");
    worker.sync();
    worker.add_places(G1);
    for room in 101..121 {
        worker.household(G1, &room.to_string(), None);
    }
    worker.sync();
    // The requests the server began, in order, from its log.
    let started = || -> Vec<String> {
        std::fs::read_to_string(log.path())
            .unwrap()
            .lines()
            .filter(|l| l.contains("started processing"))
            .map(str::to_owned)
            .collect()
    };
    let before = started().len();

    let mut sup = Phone::login(&server, "supervisor");
    let options = SyncOptions {
        max_docs: 1,
        ..Default::default()
    };
    let report =
        gridsync_core::sync::sync(&mut sup.store, &sup.client, &options, None, &mut |_| {})
            .unwrap();
    assert!(
        report.rounds >= 20,
        "a page a document: {} pages",
        report.rounds
    );
    let requests = started().split_off(before);
    let rules = requests
        .iter()
        .position(|l| l.contains("/v1/reports/rules"))
        .unwrap_or_else(|| panic!("the rules were asked for: {requests:#?}"));
    let last_page = requests
        .iter()
        .rposition(|l| l.contains("/v1/sync"))
        .expect("the sync's requests");
    assert!(
        rules < last_page,
        "the rules were asked for after the last page (request {rules} of {})",
        requests.len()
    );
    // And kept, as when asked for after the sync.
    let tag = sup.store.meta("issue.rules_etag").unwrap();
    assert!(tag.is_some_and(|t| !t.is_empty()), "the rules' tag is kept");
}

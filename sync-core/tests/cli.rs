//! The `gridsync` command-line client, run as a real process against a
//! temporary store file. Syncing with a real server is tested end to end
//! elsewhere; here everything happens offline.

#![cfg(feature = "cli")]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use crate::*;

/// A temporary store holding grid [`GRID`] with one place, 东片区 幸福小区
/// 1号楼 1单元, driven through the binary.
struct Cli {
    _dir: tempfile::TempDir,
    store: PathBuf,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("device.sqlite3");
        let cli = Self { _dir: dir, store };
        cli.ok(&[
            "grid",
            "create",
            "--code",
            GRID,
            "--name",
            "第一网格",
            "--community",
            "幸福社区",
            "--street",
            "建国门街道",
        ]);
        cli.ok(&[
            "grid",
            "add-place",
            "--code",
            GRID,
            "--area",
            "东片区",
            "--compound",
            "幸福小区",
            "--building",
            "1号楼",
            "--unit",
            "1单元",
        ]);
        cli
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .arg("--store")
            .arg(&self.store)
            .args(args)
            .env_remove("GRIDSYNC_STORE")
            .env_remove("GRIDSYNC_PASSWORD")
            .output()
            .unwrap()
    }

    /// Run a command that must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "gridsync {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run a command with `--json`; its output parsed.
    fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(&[&["--json"], args].concat());
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("gridsync --json {args:?} printed invalid JSON ({e}): {text}")
        })
    }

    /// A household at 1号楼 1单元 `room`; its id.
    fn household(&self, room: &str) -> String {
        let out = self.json(&[
            "household",
            "add",
            "--grid",
            GRID,
            "--area",
            "东片区",
            "--compound",
            "幸福小区",
            "--building",
            "1号楼",
            "--unit",
            "1单元",
            "--room",
            room,
            "--holder",
            "holder-1",
        ]);
        out["id"].as_str().unwrap().to_string()
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn records_lists_and_shows_a_household_with_a_resident_and_a_visit() {
    let cli = Cli::new();
    let h = cli.household("101");
    let id = id_number("19450301", 12);
    let r = cli.json(&[
        "resident",
        "add",
        &h,
        "--name",
        "王秀英",
        "--id-number",
        &id,
        "--phone",
        "13800138000",
        "--ethnicity",
        "汉族",
        "--relation",
        "02",
        "--status",
        "registered",
        "--tag",
        "living_alone_elderly",
        "--moved-in",
        "1990-05-01",
    ]);
    let rid = text(&r["resident_id"]).to_string();
    let v = cli.json(&[
        "visit",
        "add",
        &h,
        "--method",
        "in_person",
        "--findings",
        "老人身体状况良好",
        "--needs",
        "希望有人帮忙买菜",
        "--follow-up",
    ]);
    let vid = text(&v["visit_id"]).to_string();

    // Listed, in a table and as JSON.
    let table = cli.ok(&["household", "list", "--building", "1号楼"]);
    assert!(table.contains(&h) && table.contains("东片区 幸福小区 1号楼 1单元 101"));
    let rows = cli.json(&["household", "list", "--grid", GRID]);
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["id"], h.as_str());
    assert_eq!(rows[0]["residents"], 1);
    assert!(rows[0]["last_visit"].is_i64());

    // Found by name, by the last digits of the ID number and by tag; lists
    // mask the ID number and the phone.
    for query in [
        &["resident", "search", "秀英"][..],
        &["resident", "search", &id[14..]],
    ] {
        let found = cli.json(query);
        assert_eq!(found.as_array().unwrap().len(), 1, "{query:?}");
        assert_eq!(found[0]["resident_id"], rid.as_str());
        assert_eq!(
            found[0]["id_number_masked"],
            format!("{}********{}", &id[..6], &id[14..])
        );
        assert_eq!(found[0]["phone_masked"], "138****8000");
    }
    let tagged = cli.ok(&["resident", "tagged", "独居老人"]);
    assert!(tagged.contains("王秀英") && tagged.contains("138****8000"));
    assert!(!tagged.contains(&id) && !tagged.contains("13800138000"));

    // The full record holds everything, unmasked.
    let full = cli.json(&["household", "show", &h]);
    let resident = &full["residents"][&rid];
    assert_eq!(resident["id_number"], id.as_str());
    assert_eq!(resident["phone"], "13800138000");
    assert_eq!(resident["ethnicity"], "01");
    assert_eq!(resident["sex"], "2", "derived from the ID number");
    assert!(resident["tags"].get("living_alone_elderly").is_some());
    let visit = &full["visits"][&vid];
    assert_eq!(visit["findings"], "老人身体状况良好");
    assert_eq!(visit["method"], "in_person");
    assert_eq!(visit["follow_up"], true);
    assert_eq!(
        visit["visitor"], "local",
        "not signed in: edits are the device's"
    );
    assert_eq!(cli.json(&["show", &h])["residents"][&rid]["name"], "王秀英");

    // Visited today: not in the list of households not visited lately.
    assert_eq!(
        cli.json(&["not-visited", "--days", "30"]),
        serde_json::json!([])
    );
    let not_contacted = cli.json(&["not-contacted", "--days", "30", "--holder", "holder-1"]);
    assert_eq!(
        not_contacted[0]["id"],
        h.as_str(),
        "the holder has not called yet"
    );
}

#[test]
fn edits_show_up_in_the_history_of_the_field() {
    let cli = Cli::new();
    let h = cli.household("102");
    let r = cli.json(&[
        "resident",
        "add",
        &h,
        "--name",
        "李强",
        "--phone",
        "13900139000",
    ]);
    let rid = text(&r["resident_id"]).to_string();
    cli.ok(&[
        "resident",
        "edit",
        &h,
        &rid,
        "--phone",
        "010-12345678",
        "--tag",
        "党员",
    ]);
    cli.ok(&[
        "household",
        "edit",
        &h,
        "--occupants",
        "3",
        "--usage",
        "出租",
    ]);

    let path = format!("residents/{rid}/phone");
    let history = cli.json(&["history", &h, "--path", &path]);
    let values: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["fields"][0]["value"])
        .collect();
    assert_eq!(values, ["13900139000", "010-12345678"]);
    assert_eq!(history[1]["op"], "update_resident");
    let human = cli.ok(&["history", &h, "--path", &path]);
    assert!(human.contains("update_resident") && human.contains("北京时间"));
    assert!(
        human.contains("联系电话（"),
        "fields by their label: {human}"
    );
    let usage = cli.ok(&["history", &h, "--path", "house/usage"]);
    assert!(
        usage.contains("房屋用途（house/usage） = 出租"),
        "codes by their name: {usage}"
    );

    let full = cli.json(&["household", "show", &h]);
    assert_eq!(full["house"]["occupants"], 3);
    assert_eq!(full["house"]["usage"], "rented");
    assert!(
        full["residents"][&rid]["tags"]
            .get("party_member")
            .is_some()
    );

    cli.ok(&["resident", "remove", &h, &rid, "--moved-out", "2026-01-01"]);
    assert_eq!(
        cli.json(&["resident", "search", "李强"]),
        serde_json::json!([])
    );
    cli.ok(&["resident", "restore", &h, &rid]);
    assert_eq!(
        cli.json(&["resident", "search", "李强"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn visit_times_are_read_as_rfc3339_and_shown_in_china_standard_time() {
    let cli = Cli::new();
    let h = cli.household("103");
    cli.ok(&[
        "visit",
        "add",
        &h,
        "--method",
        "phone",
        "--findings",
        "电话联系，一切正常",
        "--at",
        "2026-01-05T01:30:00Z",
    ]);
    let rows = cli.json(&["household", "list"]);
    assert_eq!(rows[0]["last_visit"], 1_767_576_600_000_i64);
    assert!(
        cli.ok(&["household", "list"])
            .contains("2026-01-05 09:30:00")
    );
}

#[test]
fn an_invalid_id_number_exits_1_naming_the_field_and_changes_nothing() {
    let cli = Cli::new();
    let h = cli.household("201");
    let mut bad = id_number("19800101", 7);
    let last = if bad.ends_with('0') { "1" } else { "0" };
    bad.replace_range(17.., last);

    let out = cli.run(&["resident", "add", &h, "--name", "赵敏", "--id-number", &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("错误 / error:"), "{err}");
    assert!(err.contains("id_number"), "{err}");
    assert!(
        err.contains("无效") && err.contains("invalid"),
        "both reasons: {err}"
    );
    assert!(!err.contains(&bad), "no personal data in errors: {err}");
    assert_eq!(err.lines().count(), 1, "said once: {err}");

    let full = cli.json(&["household", "show", &h]);
    assert_eq!(full["residents"], serde_json::json!({}));
}

#[test]
fn usage_mistakes_get_clap_messages() {
    let cli = Cli::new();
    let out = cli.run(&["visit", "add", "some-household", "--method", "phone"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--findings"));
    let out = cli.run(&[
        "visit",
        "add",
        "x",
        "--method",
        "phone",
        "--findings",
        "f",
        "--at",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
}

#[test]
fn status_works_without_a_server() {
    let cli = Cli::new();
    cli.household("301");
    let human = cli.ok(&["status"]);
    assert!(
        human.contains("待推送修改") && human.contains("未登录"),
        "{human}"
    );
    let status = cli.json(&["status"]);
    assert_eq!(status["pending_changes"], 3, "grid, place, household");
    assert_eq!(status["rejected_changes"], 0);
    assert_eq!(status["conflicts"], 0);
    assert_eq!(status["duplicate_suspects"], 0);
    assert_eq!(status["last_success"], Value::Null);
    assert_eq!(status["user"], Value::Null);

    let who = cli.json(&["whoami"]);
    assert_eq!(who["signed_in"], false);
    assert_eq!(who["device_id"], status["device_id"]);

    let out = cli.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gridsync login"));
}

#[test]
fn duplicates_are_listed_then_merged_or_dismissed() {
    let cli = Cli::new();
    let a = cli.household("401");
    let b = cli.household("401");
    let c = cli.household("402");
    let d = cli.household("402");

    let suspects = cli.json(&["duplicates"]);
    assert_eq!(suspects.as_array().unwrap().len(), 2);
    assert_eq!(suspects[0]["kind"], "household");
    assert!(
        cli.ok(&["duplicates"])
            .contains(&format!("gridsync merge {a} {b}"))
    );
    assert_eq!(cli.json(&["status"])["duplicate_suspects"], 2);

    let merged = cli.json(&["merge", &b, &a]);
    assert_eq!(merged["survivor"], a.as_str(), "the first created survives");
    cli.ok(&["dismiss", &c, &d]);
    assert_eq!(cli.json(&["duplicates"]), serde_json::json!([]));
    assert_eq!(
        cli.json(&["household", "list"]).as_array().unwrap().len(),
        3
    );

    // The same person entered twice in one household.
    let id = id_number("19700707", 33);
    let r1 = cli.json(&["resident", "add", &a, "--name", "周杰", "--id-number", &id]);
    let r2 = cli.json(&[
        "resident",
        "add",
        &a,
        "--name",
        "周杰",
        "--phone",
        "13700137000",
        "--id-number",
        &id,
    ]);
    let suspects = cli.json(&["duplicates"]);
    assert_eq!(suspects[0]["kind"], "resident_in_household");
    let kept = cli.json(&[
        "merge-residents",
        &a,
        text(&r1["resident_id"]),
        text(&r2["resident_id"]),
    ]);
    let kept = text(&kept["kept"]).to_string();
    assert_eq!(cli.json(&["duplicates"]), serde_json::json!([]));
    let full = cli.json(&["household", "show", &a]);
    assert_eq!(full["residents"][&kept]["phone"], "13700137000");
}

#[test]
fn every_listing_prints_json_that_parses() {
    let cli = Cli::new();
    let h = cli.household("501");
    for args in [
        &["household", "list"][..],
        &["household", "show", &h],
        &["resident", "search", "张"],
        &["resident", "tagged", "disabled"],
        &["not-visited"],
        &["not-contacted"],
        &["conflicts"],
        &["conflicts", &h],
        &["duplicates"],
        &["rejected"],
        &["history", &h],
        &["show", &h],
        &["grid", "show", GRID],
        &["status"],
        &["whoami"],
        &["codes"],
    ] {
        cli.json(args);
    }
    assert_eq!(
        cli.json(&["grid", "show", GRID])["places"],
        serde_json::json!({ "东片区/幸福小区/1号楼/1单元": true })
    );
}

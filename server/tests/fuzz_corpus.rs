//! The fuzz targets' saved corpus (server/fuzz/corpus/<target>/) replayed
//! as regression tests: each file goes to the same function its target
//! calls (`gridsync_server::fuzzing`), which must neither panic nor report
//! a broken invariant. The corpus holds the seeds below, what the fuzzers
//! found that covers new code (minimised with `cargo fuzz cmin`), and every
//! input that once crashed a target.
//!
//! The seeds are made by `cargo test -p gridsync-server --test main
//! fuzz_corpus::write_seeds -- --ignored` from real documents recorded by
//! the phones' store (sync-core); see server/fuzz/README.md.

use std::path::PathBuf;

use gridsync_server::fuzzing;

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn replay(target: &str, f: fn(&[u8]) -> Result<(), fuzzing::Violation>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus(target))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus for {target}");
    for file in &files {
        let data = std::fs::read(file).unwrap();
        if let Err(v) = f(&data) {
            panic!("{}: {v}", file.display());
        }
    }
}

#[test]
fn sync_binary() {
    replay("sync_binary", fuzzing::sync_binary);
}

#[test]
fn sync_json() {
    replay("sync_json", fuzzing::sync_json);
}

#[test]
fn cursors() {
    replay("cursors", fuzzing::cursors);
}

#[test]
fn push() {
    replay("push", fuzzing::push);
}

#[test]
fn territory() {
    replay("territory", fuzzing::territory);
}

#[test]
fn ledger_import() {
    replay("ledger_import", fuzzing::ledger_import);
}

/// The first crash the push target found, through the real handler: a
/// household change with one byte flipped made Automerge panic and
/// `/v1/sync` answer 500; it is refused like any invalid change, and the
/// valid change pushed with it is stored.
#[tokio::test]
async fn a_change_automerge_panics_on_is_refused_through_sync() {
    use axum::http::StatusCode;
    use base64::Engine;
    use gridsync_server::principal::Role;

    use crate::support::{COMMUNITY, TestServer, device};

    let data = std::fs::read(corpus("push").join("crash-automerge-unknown-actor")).unwrap();
    let (role, stored, changes) = fuzzing::split_changes(&data).unwrap();
    assert_eq!(
        (role % 5, stored),
        (2, 1),
        "a supervisor's push onto one stored change"
    );
    // The household of the seeds (its creating change is changes[0]).
    let doc = "01a241de-9af8-776d-8e08-179ae25d3692";
    let s = TestServer::new().await;
    let user = s
        .add_user("shequ", Role::Supervisor, &[], Some(COMMUNITY))
        .await;
    // The seeds' changes name their author (the server refuses a change
    // pushed by anyone else): the supervisor is given that id, so the
    // changes reach the code that decodes and applies them.
    rusqlite::Connection::open(s.dir.path().join("gridsync.sqlite3"))
        .unwrap()
        .execute(
            "UPDATE users SET id = ?1 WHERE id = ?2",
            ["0193b3c2-0000-7000-8000-000000000000", user.id.as_str()],
        )
        .unwrap();
    let (token, _) = s.tokens("shequ", &device()).await;
    let push = |changes: &[Vec<u8>]| {
        serde_json::json!({"push": changes.iter().map(|c| serde_json::json!({
            "doc": doc,
            "change": base64::engine::general_purpose::STANDARD.encode(c),
        })).collect::<Vec<_>>()})
    };
    let (status, body) = s
        .call("POST", "/v1/sync", Some(&token), Some(push(&changes[..1])))
        .await;
    assert_eq!(
        (status, body["stored"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let (status, body) = s
        .call("POST", "/v1/sync", Some(&token), Some(push(&changes[1..2])))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rejected"][0]["code"], "invalid_change", "{body}");
}

/// Write the seeds: real changes and saved documents of each kind, pushed
/// by each role, and the requests and files that carry them.
#[test]
#[ignore = "writes server/fuzz/corpus; run by hand (server/fuzz/README.md)"]
fn write_seeds() {
    use base64::Engine;
    use gridsync_core::doc::Author;
    use gridsync_core::grid::NewGrid;
    use gridsync_core::household::{NewHousehold, Place, Resident, Visit};
    use gridsync_core::issue::{EventKind, NewIssue, StepInput};
    use gridsync_core::store::{OpenOptions, Store};

    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = corpus(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    };
    let mut s = Store::open_in_memory(OpenOptions::default()).unwrap();
    s.set_author(Author {
        user: "0193b3c2-0000-7000-8000-000000000000".into(),
        role: "grid_worker".into(),
    })
    .unwrap();
    let grid = s
        .create_grid(NewGrid {
            code: fuzzing::GRID.into(),
            name: "第一网格".into(),
            community: "幸福社区".into(),
            street: "建国门街道".into(),
        })
        .unwrap();
    s.add_place(fuzzing::GRID, "", "幸福小区", "3号楼", "1单元")
        .unwrap();
    let mut made = gridsync_core::demo::Generator::new(7);
    let household = s
        .create_household(NewHousehold {
            grid: fuzzing::GRID.into(),
            place: Place {
                compound: "幸福小区".into(),
                building: "3号楼".into(),
                unit: "1单元".into(),
                room: "101".into(),
                ..Place::default()
            },
            holder: Some(fuzzing::HOLDER.into()),
            residents: vec![made.resident("02"), made.resident("10")],
            ..NewHousehold::default()
        })
        .unwrap();
    let resident = s.add_resident(&household, made.resident("20")).unwrap();
    s.update_resident(&household, &resident, |r| {
        r.phone = Some("13800000000".into())
    })
    .unwrap();
    s.add_visit(
        &household,
        Visit {
            at: gridsync_core::clock::Clock::System.now_ms() - 3_600_000,
            method: "in_person".into(),
            findings: "独居老人，身体尚好".into(),
            ..Visit::default()
        },
    )
    .unwrap();
    s.remove_resident(&household, &resident, None).ok();
    let issue = s
        .report_issue(NewIssue {
            grid: fuzzing::GRID.into(),
            category: "dispute".into(),
            subtype: "neighbour".into(),
            description: "3号楼楼上漏水，邻里争执".into(),
            source: "patrol".into(),
            ..NewIssue::default()
        })
        .unwrap();
    s.append_event(&issue, EventKind::Accept, StepInput::default())
        .unwrap();
    s.append_event(
        &issue,
        EventKind::Dispatch,
        StepInput {
            assignee: Some("dept:chengguan".into()),
            ..StepInput::default()
        },
    )
    .ok();
    let _ = Resident::default();

    let outbox = s.outbox(1000).unwrap();
    let changes_of = |id: &str| -> Vec<Vec<u8>> {
        outbox
            .iter()
            .filter(|e| e.doc_id.as_str() == id)
            .map(|e| e.data.clone())
            .collect()
    };
    let docs = [
        ("household", household.to_string()),
        ("grid", grid.to_string()),
        ("issue", issue.to_string()),
    ];
    for (kind, id) in &docs {
        let changes = changes_of(id);
        assert!(!changes.is_empty(), "{kind}: no changes");
        // Pushed whole by each role; and the first stored, the rest pushed.
        for role in 0..5u8 {
            write(
                "push",
                &format!("{kind}-new-role{role}"),
                &fuzzing::join_changes(role, 0, &changes),
            );
            if changes.len() > 1 {
                write(
                    "push",
                    &format!("{kind}-edit-role{role}"),
                    &fuzzing::join_changes(role, 1, &changes),
                );
            }
        }
        // A phone importing the document: whole, and change by change.
        let kind_byte = match *kind {
            "household" => 0u8,
            "grid" => 1,
            _ => 2,
        };
        let saved = s.export_doc(id).unwrap();
        let mut whole = vec![kind_byte];
        whole.extend(&fuzzing::join_changes(0, 0, &[saved])[2..]);
        write("ledger_import", &format!("{kind}-whole"), &whole);
        let mut loose = vec![kind_byte];
        loose.extend(&fuzzing::join_changes(0, 0, &changes)[2..]);
        write("ledger_import", &format!("{kind}-changes"), &loose);
        // The requests that push them.
        let header = serde_json::json!({
            "device_id": "0193b3c2-0000-7000-8000-0000000000de",
            "cursors": {format!("g:{}", fuzzing::GRID): {"base": 3, "cursor": 7}, "h:x": 2},
            "push": changes.iter().map(|c| serde_json::json!({"doc": id, "size": c.len()})).collect::<Vec<_>>(),
        });
        let mut binary = header.to_string().into_bytes();
        binary.push(b'\n');
        for c in &changes {
            binary.extend_from_slice(c);
        }
        write("sync_binary", kind, &binary);
        let json = serde_json::json!({
            "device_id": "0193b3c2-0000-7000-8000-0000000000de",
            "cursors": {format!("g:{}", fuzzing::GRID): 5},
            "push": changes.iter().map(|c| serde_json::json!({
                "doc": id,
                "change": base64::engine::general_purpose::STANDARD.encode(c),
            })).collect::<Vec<_>>(),
            "max_docs": 100,
            "max_bytes": 1_000_000,
        });
        write("sync_json", kind, json.to_string().as_bytes());
    }
    write("sync_binary", "empty-push", b"{\"cursors\":{}}\n");
    write(
        "sync_json",
        "pull-only",
        br#"{"cursors":{"g:110105001001001":{"base":0,"cursor":0}}}"#,
    );
    write(
        "cursors",
        "mixed",
        br#"{"g:110105001001001":{"base":5,"cursor":9},"h:u":-3,"d:chengguan":9223372036854775807}"#,
    );
    write("cursors", "empty", b"{}");
    let territory_json = r#"{"streets":[{"code":"110105001","name":"建国门街道","communities":[
  {"code":"110105001001","name":"幸福社区","grids":[
    {"code":"110105001001001","name":"第一网格"},
    {"code":"110105001001002","name":"第二网格"}]}]}]}"#;
    write(
        "territory",
        "json",
        &[&[0u8][..], territory_json.as_bytes()].concat(),
    );
    let territory_csv = "street_code,street_name,community_code,community_name,grid_code,grid_name
110105001,建国门街道,110105001001,幸福社区,110105001001001,第一网格
110105001,建国门街道,110105001001,幸福社区,110105001001002,第二网格
";
    write(
        "territory",
        "csv",
        &[&[1u8][..], territory_csv.as_bytes()].concat(),
    );
}

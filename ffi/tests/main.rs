//! Tests of the phone SDK through its exported Rust API (what Kotlin and
//! Swift call): the encrypted store, the typed errors, and that the
//! committed bindings match the library. The Kotlin suite
//! (mobile-bindings/scripts/test-kotlin.sh) tests the generated glue.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gridsync_core::doc::Author;
use gridsync_core::grid::NewGrid;
use gridsync_core::{OpenOptions, Store};
use gridsync_ffi::{
    ChangeListener, ChangeSet, CodeTable, Gridsync, GridsyncError, NewHousehold, NewReport, Place,
    PlaceFilter, ReportStage, Resident, Step, StepKind, Visit, codes,
};

const GRID: &str = "110105001001001";
const WORKER: &str = "0190a0b0-0000-7000-8000-0000000000aa";
const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn id_number(yyyymmdd: &str, seq: u32) -> String {
    gridsync_core::id_number::with_check_character(&format!("110105{yyyymmdd}{seq:03}")).unwrap()
}

/// An encrypted store file at `dir/store.db` holding grid [`GRID`] (as a
/// first sync would bring it), opened through the SDK.
fn phone(dir: &Path) -> (Arc<Gridsync>, PathBuf) {
    let path = dir.join("store.db");
    {
        let mut s = Store::open_with(
            &path,
            OpenOptions {
                key: Some(KEY.into()),
                ..OpenOptions::default()
            },
        )
        .unwrap();
        s.create_grid(NewGrid {
            code: GRID.into(),
            name: "第一网格".into(),
            community: "幸福社区".into(),
            street: "建国门街道".into(),
        })
        .unwrap();
        s.add_place(GRID, "东片区", "幸福小区", "1号楼", "1单元")
            .unwrap();
        // Signed in, as a login would leave it (the SDK records nothing
        // while nobody is).
        s.set_author(Author {
            user: WORKER.into(),
            role: "grid_worker".into(),
        })
        .unwrap();
    }
    let g = Gridsync::open(path.to_string_lossy().into(), KEY.into(), None).unwrap();
    (g, path)
}

fn place(room: &str) -> Place {
    Place {
        area: "东片区".into(),
        compound: "幸福小区".into(),
        building: "1号楼".into(),
        unit: "1单元".into(),
        room: room.into(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn records_residents_and_visits_in_an_encrypted_file() {
    let dir = tempfile::tempdir().unwrap();
    let (g, path) = phone(dir.path());
    let id_a = id_number("19420315", 12);
    let id_b = id_number("19700101", 11);
    let h = g
        .create_household(NewHousehold {
            grid: GRID.into(),
            place: place("101"),
            residents: vec![Resident {
                name: "欧阳秀英".into(),
                id_number: Some(id_a.clone()),
                tags: vec!["living_alone_elderly".into()],
                ..Resident::default()
            }],
            ..NewHousehold::default()
        })
        .unwrap();
    g.add_resident(
        h.clone(),
        Resident {
            name: "司马建国".into(),
            id_number: Some(id_b.clone()),
            ..Resident::default()
        },
    )
    .unwrap();
    g.add_visit(
        h.clone(),
        Visit {
            at: 1_700_000_000_000,
            method: "in_person".into(),
            findings: "一切正常".into(),
            ..Visit::default()
        },
    )
    .unwrap();
    assert_eq!(g.household(h.clone()).unwrap().residents.len(), 2);
    assert_eq!(
        g.households(PlaceFilter {
            building: Some("1号楼".into()),
            ..PlaceFilter::default()
        })
        .unwrap()
        .len(),
        1
    );
    assert_eq!(
        g.residents_with_tag("living_alone_elderly".into())
            .unwrap()
            .len(),
        1
    );
    assert!(g.status().unwrap().pending_changes >= 3);
    drop(g);

    let mut files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        for secret in ["欧阳秀英", "司马建国", &id_a, &id_b] {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "plain text in store file"
            );
        }
    }
    assert!(files >= 1);

    // Reopened with its key, everything is there.
    let g = Gridsync::open(path.to_string_lossy().into(), KEY.into(), None).unwrap();
    assert_eq!(g.search_residents("欧阳".into()).unwrap().len(), 1);
}

#[test]
fn wrong_key_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (g, path) = phone(dir.path());
    drop(g);
    let err = Gridsync::open(
        path.to_string_lossy().into(),
        "not the right key".into(),
        None,
    )
    .unwrap_err();
    let GridsyncError::WrongKey { zh, en } = &err else {
        panic!("expected WrongKey, got {err:?}");
    };
    assert!(zh.contains("密钥") && en.contains("wrong key"), "{zh} {en}");
    assert_eq!(err.to_string(), format!("{zh} / {en}"));
    let empty = Gridsync::open(path.to_string_lossy().into(), String::new(), None).unwrap_err();
    assert!(matches!(empty, GridsyncError::Invalid { ref field, .. } if field == "key"));
}

#[test]
fn invalid_input_names_the_field_with_a_readable_message() {
    let dir = tempfile::tempdir().unwrap();
    let (g, _) = phone(dir.path());
    let good = id_number("19800101", 21);
    let bad = format!(
        "{}{}",
        &good[..17],
        if good.ends_with('0') { '1' } else { '0' }
    );
    let h = g
        .create_household(NewHousehold {
            grid: GRID.into(),
            place: place("102"),
            ..NewHousehold::default()
        })
        .unwrap();
    let err = g
        .add_resident(
            h,
            Resident {
                name: "张三".into(),
                id_number: Some(bad.clone()),
                ..Resident::default()
            },
        )
        .unwrap_err();
    let GridsyncError::Invalid {
        field,
        reason,
        zh,
        en,
    } = &err
    else {
        panic!("expected Invalid, got {err:?}");
    };
    // In the binding languages' names.
    assert_eq!(field, "idNumber");
    assert!(!reason.is_empty() && zh == reason && !en.is_empty());
    let text = err.to_string();
    assert!(text.starts_with(zh.as_str()), "Chinese first: {text}");
    assert!(!text.contains(&bad), "no personal data in messages");

    let err = g
        .create_household(NewHousehold {
            grid: GRID.into(),
            place: Place {
                room: String::new(),
                ..place("")
            },
            ..NewHousehold::default()
        })
        .unwrap_err();
    assert!(matches!(err, GridsyncError::Invalid { ref field, .. } if field == "place.room"));
    let err = g.households_not_visited(-1).unwrap_err();
    assert!(matches!(err, GridsyncError::Invalid { ref field, .. } if field == "days"));
}

#[test]
fn not_found_and_missing_server_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let (g, _) = phone(dir.path());
    let err = g
        .household("0190a0b0-0000-7000-8000-000000000000".into())
        .unwrap_err();
    assert!(matches!(err, GridsyncError::NotFound { .. }), "{err:?}");
    let err = g.sync(None).unwrap_err();
    assert!(
        matches!(err, GridsyncError::Invalid { ref field, .. } if field == "serverUrl"),
        "{err:?}"
    );
}

#[test]
fn nothing_is_recorded_while_nobody_is_signed_in() {
    let dir = tempfile::tempdir().unwrap();
    let (g, path) = phone(dir.path());
    let h = g
        .create_household(NewHousehold {
            grid: GRID.into(),
            place: place("103"),
            ..NewHousehold::default()
        })
        .unwrap();
    drop(g);
    // As after a sign-out: nobody is the author.
    {
        let mut s = Store::open_with(
            &path,
            OpenOptions {
                key: Some(KEY.into()),
                ..OpenOptions::default()
            },
        )
        .unwrap();
        s.set_author(Author::default()).unwrap();
    }
    let g = Gridsync::open(path.to_string_lossy().into(), KEY.into(), None).unwrap();
    let pending = g.status().unwrap().pending_changes;
    let err = g
        .add_visit(
            h.clone(),
            Visit {
                at: 1_700_000_000_000,
                method: "in_person".into(),
                findings: "未登录".into(),
                ..Visit::default()
            },
        )
        .unwrap_err();
    let GridsyncError::Unauthorized { zh, .. } = &err else {
        panic!("expected Unauthorized, got {err:?}");
    };
    assert!(zh.starts_with("请先登录"), "{zh}");
    let err = g
        .create_household(NewHousehold {
            grid: GRID.into(),
            place: place("104"),
            ..NewHousehold::default()
        })
        .unwrap_err();
    assert!(matches!(err, GridsyncError::Unauthorized { .. }), "{err:?}");
    // Nothing was written; reading still works.
    assert_eq!(g.status().unwrap().pending_changes, pending);
    assert!(g.household(h.clone()).unwrap().visits.is_empty());
    // Nobody to hand the phone over from: nothing removed.
    let err = g.hand_over().unwrap_err();
    assert!(matches!(err, GridsyncError::Unauthorized { .. }), "{err:?}");
    assert!(g.household(h).is_ok());
}

fn step(kind: StepKind) -> Step {
    Step {
        kind,
        note: None,
        assignee: None,
        rating: None,
        photo_paths: Vec::new(),
    }
}

#[test]
fn reports_an_issue_offline_with_photos_and_takes_steps() {
    let dir = tempfile::tempdir().unwrap();
    let (g, _) = phone(dir.path());
    let cat = g.issue_catalogue();
    let sanitation = cat.iter().find(|c| c.code == "sanitation").unwrap();
    assert_eq!(sanitation.name, "环境卫生");
    assert!(sanitation.subtypes.iter().any(|s| s.name == "垃圾堆放"));
    let sources = codes(CodeTable::IssueSource);
    assert!(
        sources
            .iter()
            .any(|c| c.code == "hotline" && c.name == "12345热线")
    );

    let report = NewReport {
        grid: GRID.into(),
        category: "sanitation".into(),
        subtype: "garbage".into(),
        description: "3号楼东侧垃圾堆放".into(),
        source: "patrol".into(),
        urgency: String::new(),
        household: None,
        building: Some("3号楼东侧".into()),
        lat: Some(39.9),
        lon: Some(116.4),
        households: Vec::new(),
    };
    let err = g
        .report_issue(NewReport {
            subtype: "nope".into(),
            ..report.clone()
        })
        .unwrap_err();
    assert!(
        matches!(err, GridsyncError::Invalid { ref field, ref reason, .. }
            if field == "subtype" && reason.starts_with("事件子类")),
        "{err:?}"
    );
    let before = g.status().unwrap().pending_changes;
    let id = g.report_issue(report).unwrap();
    let photo = dir.path().join("photo.jpg");
    std::fs::write(&photo, b"\xff\xd8\xff\xe0 a photo").unwrap();
    let hash = g
        .attach_photo(id.clone(), photo.to_string_lossy().into())
        .unwrap();
    let err = g
        .attach_photo(
            id.clone(),
            dir.path().join("none.jpg").to_string_lossy().into(),
        )
        .unwrap_err();
    assert!(matches!(err, GridsyncError::Invalid { ref field, .. } if field == "path"));

    let mine = g.my_reports().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].stage, ReportStage::Reported);
    assert_eq!(mine[0].stage_name, "待受理");
    assert_eq!(g.open_reports(None).unwrap().len(), 1);

    // Closing a report nobody accepted is refused at once, in Chinese.
    let err = g.take_step(id.clone(), step(StepKind::Close)).unwrap_err();
    let GridsyncError::Invalid { field, reason, .. } = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(field, "kind");
    assert!(reason.contains("不能结案"), "{reason}");
    let err = g
        .take_step(id.clone(), step(StepKind::Dispatch))
        .unwrap_err();
    assert!(matches!(err, GridsyncError::Invalid { ref field, .. } if field == "assignee"));

    g.take_step(
        id.clone(),
        Step {
            note: Some("已受理".into()),
            ..step(StepKind::Accept)
        },
    )
    .unwrap();
    let second = dir.path().join("after.png");
    std::fs::write(&second, b"\x89PNG\r\n\x1a\n after").unwrap();
    g.take_step(
        id.clone(),
        Step {
            assignee: Some("dept:chengguan".into()),
            photo_paths: vec![second.to_string_lossy().into()],
            ..step(StepKind::Dispatch)
        },
    )
    .unwrap();
    let r = g.report(id.clone()).unwrap();
    assert_eq!(r.row.stage, ReportStage::Dispatched);
    assert_eq!(r.row.assignee.as_deref(), Some("dept:chengguan"));
    assert!(r.row.deadline.is_some(), "due once dispatched");
    assert_eq!(r.source_name, "巡查");
    assert_eq!(r.urgency_name, "一般");
    assert_eq!(r.photos.len(), 2);
    assert_eq!(r.photos[0], hash);
    let names: Vec<&str> = r.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["上报", "受理", "派遣"]);
    assert_eq!(r.steps[1].note.as_deref(), Some("已受理"));
    assert_eq!(r.steps[0].actor, WORKER);
    // The report, its steps and the two photos' listing wait for the
    // next sync.
    assert_eq!(g.status().unwrap().pending_changes, before + 5);
}

/// Keeps every change set, and reads the report list from inside the
/// callback (a listener may call back into the SDK).
struct Changes {
    g: std::sync::Mutex<Option<Arc<Gridsync>>>,
    seen: std::sync::Mutex<Vec<(ChangeSet, usize)>>,
}

impl ChangeListener for Changes {
    fn on_change(&self, change: ChangeSet) -> Result<(), GridsyncError> {
        let g = self.g.lock().unwrap().clone().unwrap();
        let open = g.open_reports(None).unwrap().len();
        self.seen.lock().unwrap().push((change, open));
        Ok(())
    }
}

#[test]
fn the_app_is_told_what_each_edit_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (g, _) = phone(dir.path());
    let listener = Arc::new(Changes {
        g: std::sync::Mutex::new(Some(g.clone())),
        seen: Default::default(),
    });
    g.set_change_listener(Some(listener.clone()));
    let h = g
        .create_household(NewHousehold {
            grid: GRID.into(),
            place: place("105"),
            ..NewHousehold::default()
        })
        .unwrap();
    let id = g
        .report_issue(NewReport {
            grid: GRID.into(),
            category: "sanitation".into(),
            subtype: "garbage".into(),
            description: "垃圾".into(),
            source: "patrol".into(),
            urgency: String::new(),
            household: None,
            building: None,
            lat: None,
            lon: None,
            households: Vec::new(),
        })
        .unwrap();
    // A refused edit changes nothing and tells nothing.
    assert!(g.take_step(id.clone(), step(StepKind::Close)).is_err());
    g.take_step(id.clone(), step(StepKind::Accept)).unwrap();
    let seen = std::mem::take(&mut *listener.seen.lock().unwrap());
    assert_eq!(seen.len(), 3, "{seen:?}");
    let (first, _) = &seen[0];
    assert_eq!(first.docs, [h]);
    assert!(first.households && !first.reports && !first.grids && !first.from_sync);
    let (second, open) = &seen[1];
    assert_eq!(second.docs, std::slice::from_ref(&id));
    assert!(second.reports && !second.households);
    assert_eq!(*open, 1, "the listener read the new list");
    assert_eq!(seen[2].0.docs, [id]);
    g.set_change_listener(None);
    *listener.g.lock().unwrap() = None;
}

#[test]
fn code_tables_list_codes_with_names() {
    let methods = codes(CodeTable::VisitMethod);
    assert!(
        methods
            .iter()
            .any(|c| c.code == "in_person" && c.name == "入户走访")
    );
}

#[test]
fn committed_bindings_are_up_to_date() {
    let bindgen = PathBuf::from(env!("CARGO_BIN_EXE_uniffi-bindgen"));
    let lib_name = if cfg!(target_os = "macos") {
        "libgridsync_ffi.dylib"
    } else {
        "libgridsync_ffi.so"
    };
    // `cargo build` puts the library beside the binaries; `cargo test`
    // builds it too but leaves it in deps/ (not uplifted): either will do,
    // so a plain `cargo test --workspace` on a fresh clone runs this.
    let dir = bindgen.parent().unwrap();
    let lib = [dir.join(lib_name), dir.join("deps").join(lib_name)]
        .into_iter()
        .filter(|p| p.exists())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("{lib_name} not built in {}", dir.display()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mobile-bindings/scripts/generate.sh")
        .canonicalize()
        .unwrap();
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg("--check")
        .env("GRIDSYNC_BINDGEN", &bindgen)
        .env("GRIDSYNC_FFI_LIB", &lib)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the committed bindings are stale:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn records_for_display_are_masked_and_a_round_trip_keeps_the_real_values() {
    let dir = tempfile::tempdir().unwrap();
    let (g, _) = phone(dir.path());
    let id = id_number("19420315", 12);
    let h = g
        .create_household(NewHousehold {
            grid: GRID.into(),
            place: place("101"),
            residents: vec![Resident {
                name: "欧阳秀英".into(),
                id_number: Some(id.clone()),
                phone: Some("13812345678".into()),
                ..Resident::default()
            }],
            ..NewHousehold::default()
        })
        .unwrap();
    let shown = g.household(h.clone()).unwrap();
    let entry = shown.residents[0].clone();
    assert_eq!(
        entry.resident.id_number.as_deref(),
        Some(format!("110105********{}", &id[14..]).as_str())
    );
    assert_eq!(entry.resident.phone.as_deref(), Some("138****5678"));
    // Saved back as read, with another field changed: nothing lost.
    g.update_resident(
        h.clone(),
        entry.id.clone(),
        Resident {
            note: Some("腿脚不便".into()),
            ..entry.resident.clone()
        },
    )
    .unwrap();
    let full = g
        .reveal_resident(h.clone(), entry.id.clone(), "核实身份".into())
        .unwrap();
    assert_eq!(full.id_number.as_deref(), Some(id.as_str()));
    assert_eq!(full.phone.as_deref(), Some("13812345678"));
    assert!(!format!("{full:?}").contains("13812345678"));
    // A new phone typed over the mask is written.
    g.update_resident(
        h.clone(),
        entry.id.clone(),
        Resident {
            phone: Some("13900001111".into()),
            ..g.household(h.clone()).unwrap().residents[0]
                .resident
                .clone()
        },
    )
    .unwrap();
    let full = g
        .reveal_resident(h.clone(), entry.id.clone(), "核实电话".into())
        .unwrap();
    assert_eq!(full.phone.as_deref(), Some("13900001111"));
    assert_eq!(full.id_number.as_deref(), Some(id.as_str()));
    // History and conflicts show masked values too.
    for e in g.history(h.clone()).unwrap() {
        for f in e.fields {
            assert!(
                !f.value.contains("13812345678") && !f.value.contains(&id),
                "{f:?}"
            );
        }
    }
    // Each reveal waits for the next sync; a reason is required.
    assert_eq!(g.pending_reveals().unwrap(), 2);
    let err = g
        .reveal_resident(h.clone(), entry.id.clone(), "  ".into())
        .unwrap_err();
    assert!(matches!(err, GridsyncError::Invalid { ref field, .. } if field == "reason"));
    let err = g
        .reveal_resident(h.clone(), entry.id.clone(), "核实\n身份".into())
        .unwrap_err();
    assert!(matches!(err, GridsyncError::Invalid { ref field, .. } if field == "reason"));
    assert_eq!(g.pending_reveals().unwrap(), 2);
}

#[test]
fn keys_are_checked_and_rekey_moves_the_store_to_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let (g, path) = phone(dir.path());
    let path: String = path.to_string_lossy().into();
    let err = g.rekey("abcd".into()).unwrap_err();
    assert!(matches!(err, GridsyncError::Invalid { ref field, .. } if field == "key"));
    g.rekey("a passphrase of some length".into()).unwrap();
    assert!(g.device_id().len() > 10);
    drop(g);
    assert!(matches!(
        Gridsync::open(path.clone(), KEY.into(), None),
        Err(GridsyncError::WrongKey { .. })
    ));
    let g = Gridsync::open(path.clone(), "a passphrase of some length".into(), None).unwrap();
    drop(g);
    let short = Gridsync::open(path, "abcd".into(), None).unwrap_err();
    let GridsyncError::Invalid { field, zh, .. } = &short else {
        panic!("expected Invalid, got {short:?}");
    };
    assert_eq!(field, "key");
    assert!(zh.contains("64"), "{zh}");
}

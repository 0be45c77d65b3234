//! The closed loop of an issue report across roles, through the real
//! server: a grid worker reports offline, the community supervisor
//! dispatches to a department, the department handles and feeds back, the
//! worker verifies, the supervisor closes, the resident's rating is
//! recorded; steps a role may not take are refused with the reason and
//! stored nowhere; concurrent offline steps converge; the department and
//! other grids see what they should; the overdue list on the server.

use gridsync_core::clock::Clock;
use gridsync_core::issue::{EventKind, NewIssue, Stage, StepInput};

use crate::*;

const STREET: &str = "110105001";
/// A grid of another community of the same street.
const G4: &str = "110105001002001";
const DAY_MS: i64 = 24 * 3600 * 1000;

/// The community of `main.rs` plus a second community (grid G4) with its
/// worker, a street supervisor, and two departments with a user each
/// (chengguan: cg1, zhujian: zj1).
pub(crate) fn street() -> TestServer {
    let server = community();
    server.import_territory(&serde_json::json!({
        "streets": [{
            "code": STREET, "name": "建国门街道",
            "communities": [{
                "code": "110105001002", "name": "和平社区",
                "grids": [{"code": G4, "name": "和平第一网格"}]
            }]
        }]
    }));
    server.add_user("worker4", "grid_worker", &[G4], None, PASSWORD);
    server.add_user("jiedao", "supervisor", &[], Some(STREET), PASSWORD);
    for (code, name, user) in [
        ("chengguan", "区城管执法局", "cg1"),
        ("zhujian", "区住建委", "zj1"),
    ] {
        server.cli(&["admin", "department", "add", "--code", code, "--name", name]);
        server.cli(&[
            "admin",
            "user",
            "add",
            "--username",
            user,
            "--name",
            user,
            "--role",
            "department",
            "--department",
            code,
            "--password",
            PASSWORD,
        ]);
    }
    server
}

/// A phone signed in as `user` that does not check roles itself (an older
/// app, or anything speaking the protocol): the scope the login told is
/// forgotten, so out-of-role steps reach the server, which must refuse.
fn unchecked(server: &TestServer, user: &str) -> Phone {
    let mut p = Phone::login(server, user);
    p.store.set_duty(None).unwrap();
    p
}

/// A phone whose clock reads `clock`.
fn phone_at(server: &TestServer, user: &str, clock: Clock) -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_with(
        dir.path().join("phone.sqlite3"),
        OpenOptions {
            clock,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let client = Client::new(&server.url).unwrap();
    let me = client.login(&mut store, user, PASSWORD).unwrap();
    // Like `unchecked`: the server decides.
    store.set_duty(None).unwrap();
    Phone {
        store,
        client,
        user_id: me.id,
        _dir: dir,
    }
}

fn report(p: &mut Phone, grid: &str) -> String {
    p.store
        .report_issue(NewIssue {
            grid: grid.into(),
            category: "sanitation".into(),
            subtype: "garbage".into(),
            description: "3号楼东侧垃圾堆放".into(),
            source: "patrol".into(),
            ..NewIssue::default()
        })
        .unwrap()
}

fn step(p: &mut Phone, id: &str, kind: EventKind) {
    p.store
        .append_event(id, kind, StepInput::default())
        .unwrap();
}

fn dispatch(p: &mut Phone, id: &str, to: &str) {
    p.store
        .append_event(
            id,
            EventKind::Dispatch,
            StepInput {
                assignee: Some(to.into()),
                ..StepInput::default()
            },
        )
        .unwrap();
}

fn stage(p: &mut Phone, id: &str) -> Stage {
    p.store.issue(id).unwrap().status.stage
}

/// Sync and expect nothing refused.
fn sync_clean(p: &mut Phone) {
    let r = p.sync();
    assert_eq!(r.rejected, 0, "refused: {:?}", p.store.rejected_changes());
}

/// A fresh number for each web login's device id.
fn next_device() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// GET `path` as `user`; the JSON answer.
fn get_as(server: &TestServer, user: &str, path: &str) -> serde_json::Value {
    let http = reqwest::blocking::Client::new();
    let login: serde_json::Value = serde_json::from_str(
        &http
            .post(format!("{}/v1/auth/login", server.url))
            .header("content-type", "application/json")
            .body(
                serde_json::json!({
                    "username": user,
                    "password": PASSWORD,
                    "device_id": format!("0190d6f0-0000-7000-8000-{:012x}", next_device()),
                })
                .to_string(),
            )
            .send()
            .unwrap()
            .text()
            .unwrap(),
    )
    .unwrap();
    let token = login["access_token"].as_str().expect("access token");
    let resp = http
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    serde_json::from_str(&resp.text().unwrap()).unwrap()
}

fn listed_ids(list: &serde_json::Value) -> Vec<String> {
    list["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_closed_loop_across_roles() {
    let server = street();
    let mut worker = unchecked(&server, "worker1");
    let mut sup = unchecked(&server, "supervisor");
    let mut cg = unchecked(&server, "cg1");
    let mut zj = unchecked(&server, "zj1");
    let mut other = unchecked(&server, "worker3");
    let mut far = unchecked(&server, "worker4");
    worker.sync();

    // 上报, offline: nothing reaches the server until the phone syncs.
    let id = report(&mut worker, G1);
    sup.sync();
    assert!(sup.store.issue(&id).is_err(), "not synced yet");
    sync_clean(&mut worker);

    // 受理, 派遣 to the city management department.
    sup.sync();
    assert_eq!(stage(&mut sup, &id), Stage::Reported);
    step(&mut sup, &id, EventKind::Accept);
    dispatch(&mut sup, &id, "dept:chengguan");
    sync_clean(&mut sup);

    // The department sees it; another department and other grids' workers
    // do not.
    cg.sync();
    assert_eq!(stage(&mut cg, &id), Stage::Dispatched);
    zj.sync();
    assert!(zj.store.issue(&id).is_err(), "another department");
    other.sync();
    assert!(other.store.issue(&id).is_err(), "another grid's worker");
    far.sync();
    assert!(far.store.issue(&id).is_err(), "another community's worker");

    // 处置, 反馈 by the department.
    step(&mut cg, &id, EventKind::Handle);
    step(&mut cg, &id, EventKind::Feedback);
    sync_clean(&mut cg);

    // 核查 by the grid's worker.
    worker.sync();
    assert_eq!(stage(&mut worker, &id), Stage::FedBack);
    step(&mut worker, &id, EventKind::VerifyPass);
    sync_clean(&mut worker);

    // A grid worker may not close: refused with the reason naming the step,
    // and stored nowhere.
    step(&mut worker, &id, EventKind::Close);
    assert_eq!(stage(&mut worker, &id), Stage::Closed, "locally");
    let r = worker.sync();
    assert_eq!(r.rejected, 1);
    let refused = worker.store.rejected_changes().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].code, "role_forbids");
    assert!(refused[0].reason.contains("结案"), "{}", refused[0].reason);
    assert!(refused[0].reason.contains("close"), "{}", refused[0].reason);
    sup.sync();
    assert_eq!(
        stage(&mut sup, &id),
        Stage::Verified,
        "the refused close is nowhere"
    );
    let events_before = sup.store.issue(&id).unwrap().events.len();
    worker.store.discard_rejected(&id).unwrap();
    assert_eq!(stage(&mut worker, &id), Stage::Verified);

    // 结案 by the supervisor, 评价 recorded by the worker at the door.
    step(&mut sup, &id, EventKind::Close);
    sync_clean(&mut sup);
    worker.sync();
    worker
        .store
        .append_event(
            &id,
            EventKind::Rate,
            StepInput {
                rating: Some(5),
                ..StepInput::default()
            },
        )
        .unwrap();
    sync_clean(&mut worker);

    // Everyone entitled converges on the same status.
    let mut statuses = Vec::new();
    for p in [&mut worker, &mut sup, &mut cg] {
        p.sync();
        statuses.push(p.store.issue(&id).unwrap().status);
    }
    assert_eq!(statuses[0].stage, Stage::Rated);
    assert_eq!(statuses[0].rating, Some(5));
    assert!(statuses.iter().all(|s| *s == statuses[0]), "{statuses:?}");
    assert_eq!(
        sup.store.issue(&id).unwrap().events.len(),
        events_before + 2,
        "close and rate, nothing else"
    );
    // Still nothing for other grids.
    other.sync();
    assert!(other.store.issue(&id).is_err());
}

#[test]
fn steps_outside_a_role_are_refused_with_the_reason() {
    let server = street();
    let mut worker = unchecked(&server, "worker1");
    let mut sup = unchecked(&server, "supervisor");
    let mut cg = unchecked(&server, "cg1");
    worker.sync();
    let id = report(&mut worker, G1);
    sync_clean(&mut worker);
    sup.sync();
    step(&mut sup, &id, EventKind::Accept);
    sync_clean(&mut sup);

    // Escalated to the community, the grid's worker no longer accepts it.
    step(&mut sup, &id, EventKind::Escalate);
    sync_clean(&mut sup);
    worker.sync();
    step(&mut worker, &id, EventKind::Accept);
    assert_eq!(worker.sync().rejected, 1);
    let refused = worker.store.rejected_changes().unwrap();
    assert_eq!(refused[0].code, "role_forbids");
    assert!(refused[0].reason.contains("受理"), "{}", refused[0].reason);
    assert!(refused[0].reason.contains("社区"), "{}", refused[0].reason);
    worker.store.discard_rejected(&id).unwrap();
    // A phone that knows its role's scope (as every login now tells it)
    // refuses the same step at once, with the server's reason.
    let duty = Client::user(&worker.store).unwrap().unwrap().duty();
    worker.store.set_duty(Some(&duty)).unwrap();
    match worker
        .store
        .append_event(&id, EventKind::Accept, StepInput::default())
    {
        Err(gridsync_core::Error::Forbidden(r)) => {
            assert_eq!(
                r.zh,
                "网格员不能受理：事件已在社区层级，须由社区或街道管理员办理"
            );
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    worker.store.set_duty(None).unwrap();

    // The community supervisor accepts and sends it to the department; the
    // department may handle but not close or dispatch further.
    sup.sync();
    step(&mut sup, &id, EventKind::Accept);
    dispatch(&mut sup, &id, "dept:chengguan");
    sync_clean(&mut sup);
    cg.sync();
    step(&mut cg, &id, EventKind::Escalate);
    assert_eq!(cg.sync().rejected, 1);
    let refused = cg.store.rejected_changes().unwrap();
    assert_eq!(refused[0].code, "role_forbids");
    assert!(
        refused[0].reason.contains("上报上级"),
        "{}",
        refused[0].reason
    );
    cg.store.discard_rejected(&id).unwrap();
    step(&mut cg, &id, EventKind::Handle);
    sync_clean(&mut cg);
    sup.sync();
    assert_eq!(stage(&mut sup, &id), Stage::Handled);
}

#[test]
fn concurrent_offline_steps_converge_to_a_valid_state() {
    let server = street();
    let mut worker = unchecked(&server, "worker1");
    let mut sup = unchecked(&server, "supervisor");
    let mut street_sup = unchecked(&server, "jiedao");
    worker.sync();
    let id = report(&mut worker, G1);
    sync_clean(&mut worker);
    sup.sync();
    step(&mut sup, &id, EventKind::Accept);
    sync_clean(&mut sup);
    street_sup.sync();
    assert_eq!(stage(&mut street_sup, &id), Stage::Accepted);

    // Offline on two devices: the community dispatches to the worker, the
    // street (seeing the same accepted report) escalates it.
    dispatch(&mut sup, &id, &worker.user_id.clone());
    step(&mut street_sup, &id, EventKind::Escalate);
    sync_clean(&mut street_sup);
    sync_clean(&mut sup);
    for p in [&mut worker, &mut sup, &mut street_sup] {
        p.sync();
    }
    let a = worker.store.issue(&id).unwrap().status;
    let b = sup.store.issue(&id).unwrap().status;
    let c = street_sup.store.issue(&id).unwrap().status;
    assert_eq!(a, b);
    assert_eq!(b, c);
    // Whichever came first by (time, id), the result is one of the two
    // valid outcomes, with the other step either applied after it or
    // superseded.
    let valid = (a.stage == Stage::Reported && a.level == gridsync_core::issue::Level::Community)
        || (a.stage == Stage::Dispatched && a.assignee.as_deref() == Some(worker.user_id.as_str()));
    assert!(valid, "{a:?}");
    assert_eq!(a.applied.len() + a.superseded.len(), 4);

    // Two workers of the grid check the same feedback offline, one passes,
    // one fails: both are stored, one wins everywhere.
    let mut worker2 = unchecked(&server, "worker2");
    let mut admin = unchecked(&server, "admin");
    admin.sync();
    if a.stage == Stage::Reported {
        step(&mut admin, &id, EventKind::Accept);
        dispatch(&mut admin, &id, &worker.user_id.clone());
        sync_clean(&mut admin);
        worker.sync();
    }
    step(&mut worker, &id, EventKind::Handle);
    step(&mut worker, &id, EventKind::Feedback);
    sync_clean(&mut worker);
    worker2.sync();
    step(&mut worker, &id, EventKind::VerifyPass);
    worker2
        .store
        .append_event(
            &id,
            EventKind::VerifyFail,
            StepInput {
                note: Some("垃圾仍未清运".into()),
                ..StepInput::default()
            },
        )
        .unwrap();
    sync_clean(&mut worker2);
    sync_clean(&mut worker);
    worker.sync();
    worker2.sync();
    sup.sync();
    let x = worker.store.issue(&id).unwrap().status;
    assert_eq!(x, worker2.store.issue(&id).unwrap().status);
    assert_eq!(x, sup.store.issue(&id).unwrap().status);
    assert!(
        matches!(x.stage, Stage::Verified | Stage::Dispatched),
        "{x:?}"
    );
    assert_eq!(x.superseded.len(), a.superseded.len() + 1);
}

#[test]
fn overdue_and_nearly_due_lists_on_the_server() {
    let server = street();
    // A report dispatched ten days ago (phones whose clocks read then).
    let then = Clock::System.now_ms() - 10 * DAY_MS;
    let mut old_worker = phone_at(&server, "worker1", Clock::Fixed(then));
    let mut old_sup = phone_at(&server, "supervisor", Clock::Fixed(then));
    old_worker.sync();
    let late = report(&mut old_worker, G1);
    sync_clean(&mut old_worker);
    old_sup.sync();
    step(&mut old_sup, &late, EventKind::Accept);
    dispatch(&mut old_sup, &late, "dept:chengguan");
    sync_clean(&mut old_sup);
    // One dispatched now, due in two working days.
    let mut worker = unchecked(&server, "worker1");
    let mut sup = unchecked(&server, "supervisor");
    worker.sync();
    let fresh = report(&mut worker, G1);
    sync_clean(&mut worker);
    sup.sync();
    step(&mut sup, &fresh, EventKind::Accept);
    dispatch(&mut sup, &fresh, "dept:chengguan");
    sync_clean(&mut sup);
    // One in another community, overdue too.
    let mut far = phone_at(&server, "worker4", Clock::Fixed(then));
    far.sync();
    let elsewhere = report(&mut far, G4);
    step(&mut far, &elsewhere, EventKind::Accept);
    let me = far.user_id.clone();
    dispatch(&mut far, &elsewhere, &me);
    sync_clean(&mut far);

    let overdue = |user: &str| listed_ids(&get_as(&server, user, "/v1/reports/overdue"));
    assert_eq!(overdue("supervisor"), vec![late.clone()]);
    assert_eq!(overdue("cg1"), vec![late.clone()]);
    assert!(overdue("zj1").is_empty());
    assert!(overdue("worker3").is_empty(), "grid 2 has none");
    assert_eq!(overdue("worker4"), vec![elsewhere.clone()]);
    let mut all = overdue("jiedao");
    all.sort();
    let mut expected = vec![late.clone(), elsewhere.clone()];
    expected.sort();
    assert_eq!(all, expected);

    let list = get_as(&server, "supervisor", "/v1/reports/overdue");
    let row = &list["reports"][0];
    assert_eq!(row["stage"], "dispatched");
    assert_eq!(row["stage_name"], "处置中");
    assert_eq!(row["category_name"], "环境卫生");
    assert_eq!(row["department"], "chengguan");
    assert!(row["deadline"].as_i64().unwrap() < list["now"].as_i64().unwrap());

    let nearly = listed_ids(&get_as(
        &server,
        "supervisor",
        "/v1/reports/nearly-due?within_hours=720",
    ));
    assert_eq!(nearly, vec![fresh.clone()]);

    // Handling it takes it off the list.
    let mut cg = unchecked(&server, "cg1");
    cg.sync();
    step(&mut cg, &late, EventKind::Handle);
    sync_clean(&mut cg);
    assert!(overdue("supervisor").is_empty());
}

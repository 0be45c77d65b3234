//! Two server processes on one PostgreSQL database, as behind a load
//! balancer: a change pushed through one is pulled through the other at
//! once, sessions work on both (shared token secret), concurrent pushes
//! through both keep the change log gap-free, and SIGKILLing one process in
//! the middle of a push loses nothing acknowledged.
//!
//! Needs GRIDSYNC_TEST_DATABASE_URL (e.g. `eval "$(bash scripts/postgres.sh)"`);
//! without it the tests are skipped with a notice, unless
//! GRIDSYNC_REQUIRE_POSTGRES is set, which makes that a failure.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gridsync_core::sync::{RetryPolicy, SyncOptions};
use gridsync_tests::PgDatabase;

use crate::*;

/// A fresh database with the community of main.rs (grids 1–3; worker1 and
/// worker2 in grid 1, worker3 in grid 2, supervisor) and two processes on
/// it sharing one token secret (in that order, so the processes stop
/// before the database is dropped). `None` when PostgreSQL is not configured.
fn two_processes() -> Option<(PgDatabase, TestServer, TestServer)> {
    let db = PgDatabase::fresh()?;
    let p1 = TestServer::options().database_url(Some(&db.url)).start();
    p1.import_territory(
        &serde_json::json!({"streets": [{"code": "110105001", "name": "建国门街道",
            "communities": [{"code": COMMUNITY, "name": "幸福社区", "grids": [
                {"code": G1, "name": "第一网格"}, {"code": G2, "name": "第二网格"},
                {"code": G3, "name": "第三网格"}]}]}]}),
    );
    p1.add_user("worker1", "grid_worker", &[G1], None, PASSWORD);
    p1.add_user("worker2", "grid_worker", &[G1], None, PASSWORD);
    p1.add_user("worker3", "grid_worker", &[G2], None, PASSWORD);
    p1.add_user("supervisor", "supervisor", &[], Some(COMMUNITY), PASSWORD);
    // Its own data directory, the first one's token secret: sessions work
    // on both.
    let p2 = TestServer::options()
        .database_url(Some(&db.url))
        .copy_in(&p1.data.path().join("jwt-secret"))
        .start();
    Some((db, p1, p2))
}

/// A phone signed in through the process at `url`.
fn phone(url: &str, user: &str) -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let mut store =
        Store::open_with(dir.path().join("phone.sqlite3"), OpenOptions::default()).unwrap();
    let client = Client::new(url).unwrap();
    let me = client.login(&mut store, user, PASSWORD).unwrap();
    Phone {
        store,
        client,
        user_id: me.id,
        _dir: dir,
    }
}

fn outbox(p: &Phone) -> HashSet<String> {
    p.store
        .outbox(1 << 30)
        .unwrap()
        .into_iter()
        .map(|e| e.hash)
        .collect()
}

/// Every change hash the phone holds.
fn all_hashes(p: &mut Phone) -> HashSet<String> {
    let mut out = HashSet::new();
    for (id, _, _) in p.store.documents().unwrap() {
        for c in p.store.doc_changes(&id).unwrap() {
            out.insert(automerge::Change::from_bytes(c).unwrap().hash().to_string());
        }
    }
    out
}

/// Document id → sorted heads.
fn heads(p: &mut Phone) -> HashMap<String, Vec<String>> {
    let docs = p.store.documents().unwrap();
    docs.into_iter()
        .map(|(id, _, _)| {
            let mut h = p.store.heads(&id).unwrap();
            h.sort();
            (id.to_string(), h)
        })
        .collect()
}

#[test]
fn a_change_pushed_through_one_process_is_pulled_through_the_other() {
    let Some((_db, p1, p2)) = two_processes() else {
        return;
    };
    let mut a = phone(&p2.url, "worker1");
    let mut b = phone(&p1.url, "worker2");
    a.sync();
    b.sync();
    a.add_places(G1);
    let h = a.household(G1, "101", None);
    a.sync();
    b.sync();
    assert_eq!(
        b.store.household(&h).unwrap(),
        a.store.household(&h).unwrap()
    );

    // And back, with b's session (issued by process 1) used at process 2.
    b.client = Client::new(&p2.url).unwrap();
    b.store.add_visit(&h, visit("回访")).unwrap();
    b.sync();
    a.client = Client::new(&p1.url).unwrap();
    a.sync();
    assert_eq!(a.store.household(&h).unwrap().visits.len(), 1);
    assert_eq!(
        a.store.household(&h).unwrap(),
        b.store.household(&h).unwrap()
    );
}

#[test]
fn concurrent_pushes_through_both_processes_keep_the_log_gap_free() {
    let Some((_db, p1, p2)) = two_processes() else {
        return;
    };
    // Set up grid places once, then four phones, two per process.
    let mut first = phone(&p1.url, "worker1");
    first.sync();
    first.add_places(G1);
    first.sync();
    let mut third = phone(&p2.url, "worker3");
    third.sync();
    third.add_places(G2);
    third.sync();
    let writers: Vec<(Phone, &str)> = vec![
        (first, G1),
        (phone(&p2.url, "worker2"), G1),
        (third, G2),
        (phone(&p1.url, "worker3"), G2),
    ];
    // A supervisor pulls incrementally through process 1 all along: a hole
    // in the seqs (a later seq visible before an earlier one commits) would
    // move its cursor past a change it never receives.
    let mut watcher = phone(&p1.url, "supervisor");
    watcher.sync();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watching = {
        let done = done.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                watcher.sync();
            }
            watcher
        })
    };
    let threads: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(w, (mut p, grid))| {
            std::thread::spawn(move || {
                p.sync();
                let mut acked = HashSet::new();
                for round in 0..12 {
                    let h = p.household(grid, &format!("{w}{round:02}"), None);
                    for k in 0..3 {
                        p.store.add_visit(&h, visit(&format!("第{k}次"))).unwrap();
                    }
                    let before = outbox(&p);
                    p.sync();
                    acked.extend(before.difference(&outbox(&p)).cloned());
                }
                (p, acked)
            })
        })
        .collect();
    let mut acked = HashSet::new();
    let mut writers = Vec::new();
    for t in threads {
        let (p, a) = t.join().unwrap();
        acked.extend(a);
        writers.push(p);
    }
    done.store(true, Ordering::SeqCst);
    let mut watcher = watching.join().unwrap();
    watcher.sync();
    for p in &writers {
        assert_eq!(
            p.store.pending_changes().unwrap(),
            0,
            "every change acknowledged"
        );
    }
    assert!(acked.len() >= 4 * 12 * 4);

    // The incremental puller ends with every change, and agrees with a
    // fresh pull through the other process.
    let held = all_hashes(&mut watcher);
    let missing = acked.iter().filter(|h| !held.contains(*h)).count();
    assert_eq!(missing, 0, "changes the incremental puller never received");
    let mut fresh = phone(&p2.url, "supervisor");
    fresh.sync();
    assert_eq!(heads(&mut watcher), heads(&mut fresh));
    assert_eq!(
        watcher.store.households(&Default::default()).unwrap().len(),
        48
    );
}

#[test]
fn killing_one_process_mid_push_loses_nothing_acknowledged() {
    let Some((_db, mut p1, p2)) = two_processes() else {
        return;
    };
    let mut w = phone(&p1.url, "worker1");
    w.sync();
    w.add_places(G1);
    w.store
        .batch(|s| {
            for i in 0..400 {
                let h = s.create_household(NewHousehold {
                    grid: G1.into(),
                    place: place(1 + i % 2, &format!("{i}")),
                    residents: vec![Resident::named("张三")],
                    ..NewHousehold::default()
                })?;
                for k in 0..3 {
                    s.add_visit(&h, visit(&format!("第{k}次")))?;
                }
            }
            Ok(())
        })
        .unwrap();
    let before = outbox(&w);
    assert!(before.len() > 1000);

    // Push in small batches through process 1 and kill it meanwhile.
    let url = p1.url.clone();
    let sent = Arc::new(AtomicU64::new(0));
    let pushing = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            let client = Client::new(&url).unwrap().with_retry(RetryPolicy {
                attempts: 2,
                first_backoff: Duration::from_millis(50),
            });
            let options = SyncOptions {
                push_batch: 50,
                ..SyncOptions::default()
            };
            let result =
                gridsync_core::sync::sync(&mut w.store, &client, &options, None, &mut |p| {
                    sent.store(p.changes_sent, Ordering::SeqCst);
                });
            (w, result)
        })
    };
    let start = Instant::now();
    while sent.load(Ordering::SeqCst) < 300 {
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "push made no progress"
        );
    }
    p1.kill();
    let (mut w, result) = pushing.join().unwrap();
    assert!(result.is_err(), "the sync was cut off");
    let acked: HashSet<String> = before.difference(&outbox(&w)).cloned().collect();
    assert!(!acked.is_empty() && acked.len() < before.len());

    // Through the surviving process: everything acknowledged is there.
    let mut sup = phone(&p2.url, "supervisor");
    sup.sync();
    let on_server = all_hashes(&mut sup);
    let missing = acked.iter().filter(|h| !on_server.contains(*h)).count();
    assert_eq!(missing, 0, "acknowledged changes lost");

    // The phone carries on through process 2 with the same session.
    w.client = Client::new(&p2.url).unwrap();
    w.sync();
    assert_eq!(w.store.pending_changes().unwrap(), 0);
    sup.sync();
    assert_eq!(w.store.households(&Default::default()).unwrap().len(), 400);
    assert_eq!(
        sup.store.households(&Default::default()).unwrap(),
        w.store.households(&Default::default()).unwrap()
    );
    let theirs = heads(&mut sup);
    assert!(
        heads(&mut w)
            .iter()
            .all(|(id, h)| theirs.get(id) == Some(h))
    );
}

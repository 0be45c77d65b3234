//! Nothing typed is lost when things go wrong (issue 18): a refused change
//! set aside without taking later valid edits with it, a server restored
//! from an older backup healed by the phones with no person acting, and a
//! phone clock that is off reported to the worker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gridsync_core::clock::Clock;
use gridsync_core::household::{Resident, Visit};
use gridsync_core::sync::SyncReport;
use gridsync_tests::TestServer;

use crate::{G1, G2, Phone, community, visit};

const DAY: i64 = 24 * 60 * 60 * 1000;

fn now() -> i64 {
    Clock::System.now_ms()
}

/// A visit at `at` (ms) by this phone's clock.
fn visit_at(at: i64, findings: &str) -> Visit {
    Visit {
        at,
        method: "in_person".into(),
        findings: findings.into(),
        ..Visit::default()
    }
}

/// Sync and return the report, failing on an error (not on refusals).
fn sync(p: &mut Phone) -> SyncReport {
    p.sync()
}

/// Each household this phone holds in `grid`: visit findings and
/// resident names, sorted (what must agree across devices).
fn ledger(p: &mut Phone, grid: &str) -> BTreeMap<String, (Vec<String>, Vec<String>, String)> {
    let ids: Vec<String> = p
        .store
        .documents()
        .unwrap()
        .into_iter()
        .filter(|(_, kind, scope)| kind == "household" && scope == grid)
        .map(|(id, _, _)| id)
        .collect();
    ids.into_iter()
        .map(|id| {
            let h = p.store.household(&id).unwrap();
            let mut visits: Vec<String> = h.visits.values().map(|v| v.findings.clone()).collect();
            visits.sort();
            let mut residents: Vec<String> = h.residents.values().map(|r| r.name.clone()).collect();
            residents.sort();
            (id, (visits, residents, h.place.room.clone()))
        })
        .collect()
}

/// The sequence: a visit refused for a date in the future (phone
/// clock two days ahead), then a valid edit of the same household,
/// discard, sync, discard again. The valid edit must reach the server.
#[test]
fn discarding_a_refused_change_keeps_the_valid_edit_after_it() {
    let server = community();
    let mut w1 = Phone::login(&server, "worker1");
    let mut w2 = Phone::login(&server, "worker2");
    sync(&mut w1);
    w1.add_places(G1);
    let h = w1.household(G1, "101", None);
    sync(&mut w1);

    // The phone's clock runs two days ahead: today's visit is in the
    // server's future.
    let ahead = now() + 2 * DAY;
    w1.store.set_clock(Clock::Fixed(ahead));
    w1.store
        .add_visit(&h, visit_at(ahead - 60_000, "未来的走访"))
        .unwrap();
    let r = sync(&mut w1);
    assert_eq!(r.rejected, 1, "the visit is refused");
    // A valid edit of the same household after the refusal.
    w1.store.add_resident(&h, Resident::named("李四")).unwrap();
    let _ = sync(&mut w1);
    for _ in 0..2 {
        if !w1.store.rejected_changes().unwrap().is_empty() {
            w1.store.discard_rejected(&h).unwrap();
        }
        let _ = sync(&mut w1);
    }
    sync(&mut w2);
    let on_server = w2.store.household(&h).unwrap();
    assert!(
        on_server.residents.values().any(|r| r.name == "李四"),
        "the valid edit reached the server"
    );
    assert!(on_server.visits.is_empty(), "the refused visit did not");
    assert_eq!(w1.store.pending_changes().unwrap(), 0);
    assert!(w1.store.rejected_changes().unwrap().is_empty());
    assert_eq!(ledger(&mut w1, G1), ledger(&mut w2, G1));
}

/// A refused change and a valid edit made after it go in the same push:
/// the valid edit is on the server after that one sync, with no person
/// acting, and the sync says what is refused and what to do.
#[test]
fn a_refused_change_does_not_hold_back_later_edits() {
    let server = community();
    let mut w1 = Phone::login(&server, "worker1");
    let mut w2 = Phone::login(&server, "worker2");
    sync(&mut w1);
    w1.add_places(G1);
    let h = w1.household(G1, "101", None);
    sync(&mut w1);

    let ahead = now() + 2 * DAY;
    w1.store.set_clock(Clock::Fixed(ahead));
    w1.store
        .add_visit(&h, visit_at(ahead - 60_000, "未来的走访"))
        .unwrap();
    w1.store.add_resident(&h, Resident::named("李四")).unwrap();
    let r = sync(&mut w1);
    assert_eq!(r.rejected, 1, "{r:?}");
    assert_eq!(r.held_back, 0, "{r:?}");
    assert_eq!(r.refused_waiting, 1, "{r:?}");
    assert!(!r.complete, "a refused change is not on the server");
    assert!(
        r.warnings.iter().any(|w| w.contains("被服务器拒绝")),
        "{:?}",
        r.warnings
    );
    let refused = w1.store.rejected_changes().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].op, "add_visit");
    assert_eq!(refused[0].what, "新增走访记录");
    assert!(
        refused[0].advice.contains("重新录入"),
        "{}",
        refused[0].advice
    );
    sync(&mut w2);
    assert!(
        w2.store
            .household(&h)
            .unwrap()
            .residents
            .values()
            .any(|r| r.name == "李四"),
        "the valid edit is on the server after one sync"
    );
    // The CLI says so and exits non-zero while the refusal waits.
    let out = cli(&w1, &["sync"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("同步未完成"), "{text}");
    let out = cli(&w1, &["rejected"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("重新录入") && listed.contains("新增走访记录"),
        "{listed}"
    );
    let status = gridsync_core::sync::status(&w1.store).unwrap();
    assert!(status.oldest_unsynced_age_ms.is_some(), "{status:?}");
    w1.store.discard_rejected(&h).unwrap();
    let r = sync(&mut w1);
    assert!(r.complete, "{r:?}");
    let status = gridsync_core::sync::status(&w1.store).unwrap();
    assert_eq!(status.oldest_unsynced_age_ms, None, "{status:?}");
    assert_eq!(cli(&w1, &["sync"]).status.code(), Some(0));
}

/// A change built on one the server lacks (here: a worker's second phone
/// was handed the document with a visit the first phone never pushed) is
/// refused as missing_dependencies with the server's heads; the phone then
/// sends what the server lacks from the document itself, in the same sync.
#[test]
fn a_change_built_on_one_the_server_lacks_brings_it_along() {
    let server = community();
    let mut first = Phone::login(&server, "worker1");
    let mut second = Phone::login(&server, "worker1");
    let mut other = Phone::login(&server, "worker2");
    sync(&mut first);
    first.add_places(G1);
    let h = first.household(G1, "101", None);
    sync(&mut first);
    sync(&mut second);
    // A visit on the first phone, never pushed; its document reaches the
    // second phone, which builds on it.
    first
        .store
        .add_visit(&h, visit("第一台手机的走访"))
        .unwrap();
    let bytes = first.store.export_doc(&h).unwrap();
    second.store.apply_remote(&h, &[bytes]).unwrap();
    second
        .store
        .add_resident(&h, Resident::named("赵六"))
        .unwrap();
    let r = sync(&mut second);
    assert!(r.complete, "{r:?}");
    assert_eq!(r.repushed, 1, "the visit, from the document: {r:?}");
    sync(&mut other);
    let on_server = other.store.household(&h).unwrap();
    assert!(on_server.residents.values().any(|r| r.name == "赵六"));
    assert!(
        on_server
            .visits
            .values()
            .any(|v| v.findings == "第一台手机的走访")
    );
    // The first phone's own push of it is a duplicate, not an error.
    let r = sync(&mut first);
    assert!(r.complete, "{r:?}");
    assert_eq!(ledger(&mut first, G1), ledger(&mut other, G1));
}

/// The command-line client on this phone's store.
fn cli(p: &Phone, args: &[&str]) -> std::process::Output {
    std::process::Command::new(gridsync_tests::client_bin())
        .env("GRIDSYNC_STORE", p.store_path())
        .args(args)
        .output()
        .unwrap()
}

/// The database files of a server's data directory.
fn db_files(dir: &Path) -> Vec<PathBuf> {
    [
        "gridsync.sqlite3",
        "gridsync.sqlite3-wal",
        "gridsync.sqlite3-shm",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect()
}

/// Stop the server (SIGKILL) and copy its database aside; start it again.
fn backup(server: &mut TestServer, to: &Path) {
    server.kill();
    for f in db_files(server.data.path()) {
        if f.exists() {
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
    server.restart();
}

/// Stop the server and put the backup in place of its database.
fn restore(server: &mut TestServer, from: &Path) {
    server.kill();
    for f in db_files(server.data.path()) {
        let _ = std::fs::remove_file(&f);
        let saved = from.join(f.file_name().unwrap());
        if saved.exists() {
            std::fs::copy(&saved, &f).unwrap();
        }
    }
    server.restart();
}

/// The server is restored from a backup older than what five phones did:
/// one pushed after the backup, one pulled after it (and built on what
/// was pushed), one supervisor pushed and pulled after it, one was offline
/// throughout, and one (a second phone of a worker) last synced before the
/// backup while the restored log grows past what the others had read.
/// With no person acting, every change still on any phone reaches the
/// server again and every device converges.
#[test]
fn after_a_restore_from_an_older_backup_every_phone_heals() {
    let mut server = community();
    let saved = tempfile::tempdir().unwrap();
    let mut pushed_after = Phone::login(&server, "worker1");
    let mut pulled_after = Phone::login(&server, "worker2");
    let mut supervisor = Phone::login(&server, "supervisor");
    let mut offline = Phone::login(&server, "worker3");
    let mut before_only = Phone::login(&server, "worker2");
    for p in [
        &mut pushed_after,
        &mut pulled_after,
        &mut supervisor,
        &mut offline,
        &mut before_only,
    ] {
        sync(p);
    }
    pushed_after.add_places(G1);
    let h1 = pushed_after.household(G1, "101", None);
    let h2 = pushed_after.household(G1, "102", None);
    sync(&mut pushed_after);
    sync(&mut pulled_after);
    pulled_after
        .store
        .add_visit(&h1, visit("备份前的走访"))
        .unwrap();
    sync(&mut pulled_after);
    sync(&mut before_only);
    // Offline throughout: edits made before the backup, pushed only after
    // the restore (many, so the restored log grows past what the others
    // had read).
    offline.add_places(G2);
    for room in 0..30 {
        offline.household(G2, &format!("{}", 201 + room), None);
    }

    backup(&mut server, saved.path());

    // After the backup: pushed, then built on by others.
    let h3 = pushed_after.household(G1, "103", None);
    pushed_after
        .store
        .add_visit(&h2, visit("备份后的走访"))
        .unwrap();
    sync(&mut pushed_after);
    sync(&mut pulled_after);
    pulled_after
        .store
        .add_visit(&h3, visit("在新户上的走访"))
        .unwrap();
    pulled_after
        .store
        .add_resident(&h1, Resident::named("王五"))
        .unwrap();
    sync(&mut pulled_after);
    sync(&mut supervisor);
    supervisor.store.add_visit(&h3, visit("社区走访")).unwrap();
    sync(&mut supervisor);
    sync(&mut pushed_after);

    restore(&mut server, saved.path());

    // The second phone of worker2 edits an old household first: its change
    // lands below where the others had read the old log. Then the offline
    // phone comes back and pushes past the old log's end, so a sequence
    // number alone no longer tells that the log was replaced.
    before_only
        .store
        .add_visit(&h1, visit("恢复后的走访"))
        .unwrap();
    sync(&mut before_only);
    let r = sync(&mut offline);
    assert!(r.complete, "{r:?}");

    // Everyone syncs as usual, twice (a phone's own change that builds on
    // someone else's goes once that one is back). The figures go to the
    // test's output (`--nocapture`).
    for round in 1..=2 {
        for (name, p) in [
            ("supervisor", &mut supervisor),
            ("pulled_after", &mut pulled_after),
            ("pushed_after", &mut pushed_after),
            ("before_only", &mut before_only),
            ("offline", &mut offline),
        ] {
            let r = sync(p);
            eprintln!(
                "restore round {round} {name}: log_lost {} received {} pushed {} pushed back {} \
                 held back {} docs to heal {} complete {}",
                r.log_lost,
                r.docs_received,
                r.pushed,
                r.repushed,
                r.held_back,
                r.docs_to_heal,
                r.complete
            );
        }
    }
    let mut reports = Vec::new();
    for p in [
        &mut supervisor,
        &mut pulled_after,
        &mut pushed_after,
        &mut before_only,
        &mut offline,
    ] {
        reports.push(sync(p));
    }
    for r in &reports {
        assert!(r.complete, "{r:?}");
    }

    // A phone signed in afresh sees everything that was ever typed.
    let mut fresh = Phone::login(&server, "supervisor");
    sync(&mut fresh);
    let g1 = ledger(&mut fresh, G1);
    assert_eq!(g1.len(), 3, "{g1:?}");
    assert_eq!(
        g1[&h1].0,
        vec!["备份前的走访".to_string(), "恢复后的走访".to_string()]
    );
    assert!(g1[&h1].1.contains(&"王五".to_string()), "{g1:?}");
    assert_eq!(g1[&h2].0, vec!["备份后的走访".to_string()]);
    assert_eq!(
        g1[&h3].0,
        vec!["在新户上的走访".to_string(), "社区走访".to_string()]
    );
    assert_eq!(ledger(&mut fresh, G2).len(), 30);
    // And every phone holds the same.
    for p in [
        &mut supervisor,
        &mut pulled_after,
        &mut pushed_after,
        &mut before_only,
    ] {
        assert_eq!(ledger(p, G1), g1);
    }
    assert_eq!(ledger(&mut supervisor, G2), ledger(&mut fresh, G2));
    assert_eq!(ledger(&mut offline, G2), ledger(&mut fresh, G2));
}

/// A phone clock two days ahead or a year behind is measured against the
/// server's on every sync, reported to the worker, and carried in the
/// notes of the changes made meanwhile.
#[test]
fn a_phone_clock_that_is_off_is_reported() {
    let server = community();
    let mut w = Phone::login(&server, "worker2");
    sync(&mut w);
    w.add_places(G1);
    sync(&mut w);
    for (offset, word, room) in [(2 * DAY, "快", "301"), (-365 * DAY, "慢", "302")] {
        let mut p = Phone::login(&server, "worker1");
        p.store.set_clock(Clock::Fixed(now() + offset));
        let r = sync(&mut p);
        let measured = r.clock_offset_ms.unwrap();
        assert!((measured + offset).abs() < 60_000, "{measured} vs {offset}");
        assert!(r.clock_warning);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("手机时间") && w.contains(word)),
            "{:?}",
            r.warnings
        );
        let status = gridsync_core::sync::status(&p.store).unwrap();
        assert!(status.clock_warning);
        // An edit made now carries the offset known at the time.
        let h = p.household(G1, room, None);
        let bytes = p.store.export_doc(&h).unwrap();
        let doc = automerge::Automerge::load(&bytes).unwrap();
        let notes: Vec<gridsync_core::doc::ChangeNote> = doc
            .get_changes(&[])
            .iter()
            .filter_map(|c| gridsync_core::doc::ChangeNote::parse(c.message()))
            .collect();
        assert!(
            notes.iter().all(|n| n
                .clock_offset_ms
                .is_some_and(|o| (o + offset).abs() < 60_000)),
            "{notes:?}"
        );
        let out = cli(&p, &["status"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("请校准手机时间"),
            "{out:?}"
        );
    }
    // A clock that is right is not reported.
    let mut p = Phone::login(&server, "worker2");
    let r = sync(&mut p);
    assert!(!r.clock_warning && r.warnings.is_empty(), "{r:?}");
    assert!(r.complete);
}

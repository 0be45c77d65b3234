//! The server is killed (SIGKILL) in the middle of a large push and
//! restarted: every change the phone was told is stored is there, and the
//! next sync of every device completes and converges.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gridsync_core::sync::{RetryPolicy, SyncOptions};

use crate::*;

fn hashes_of_outbox(store: &Store) -> HashSet<String> {
    store
        .outbox(1 << 30)
        .unwrap()
        .into_iter()
        .map(|e| e.hash)
        .collect()
}

fn all_server_hashes(phone: &mut Phone) -> HashSet<String> {
    let mut out = HashSet::new();
    for (id, _, _) in phone.store.documents().unwrap() {
        for c in phone.store.doc_changes(&id).unwrap() {
            out.insert(automerge::Change::from_bytes(c).unwrap().hash().to_string());
        }
    }
    out
}

#[test]
fn server_killed_mid_push_loses_nothing_acknowledged() {
    let mut server = community();
    let mut w = Phone::login(&server, "worker1");
    w.sync();
    w.add_places(G1);
    w.store
        .batch(|s| {
            for i in 0..400 {
                let h = s.create_household(NewHousehold {
                    grid: G1.into(),
                    place: place(1 + i % 2, &format!("{i}")),
                    residents: vec![Resident::named("张三"), Resident::named("李四")],
                    ..NewHousehold::default()
                })?;
                for k in 0..4 {
                    s.add_visit(&h, visit(&format!("第{k}次")))?;
                }
            }
            Ok(())
        })
        .unwrap();
    let before = hashes_of_outbox(&w.store);
    assert!(before.len() > 2000);

    // Push in small batches from another thread; kill the server meanwhile.
    let url = server.url.clone();
    let sent = Arc::new(AtomicU64::new(0));
    let worker = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            let client = Client::new(&url).unwrap().with_retry(RetryPolicy {
                attempts: 2,
                first_backoff: std::time::Duration::from_millis(50),
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
    // Wait until part of the push is acknowledged, then kill.
    let start = std::time::Instant::now();
    while sent.load(Ordering::SeqCst) < 400 {
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "push made no progress"
        );
    }
    server.kill();
    let (mut w, result) = worker.join().unwrap();
    assert!(result.is_err(), "the sync was cut off");
    let unacked = hashes_of_outbox(&w.store);
    let acked: HashSet<_> = before.difference(&unacked).cloned().collect();
    assert!(
        !acked.is_empty() && !unacked.is_empty(),
        "killed in the middle: {} acked, {} not",
        acked.len(),
        unacked.len()
    );

    server.restart();
    let mut sup = Phone::login(&server, "supervisor");
    sup.sync();
    let on_server = all_server_hashes(&mut sup);
    let missing: Vec<_> = acked.iter().filter(|h| !on_server.contains(*h)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged changes lost",
        missing.len()
    );

    // The next sync of every device completes and converges.
    w.client = Client::new(&server.url).unwrap();
    w.sync();
    assert_eq!(w.store.pending_changes().unwrap(), 0);
    sup.sync();
    let ours = w.store.households(&Default::default()).unwrap();
    assert_eq!(ours.len(), 400);
    assert_eq!(sup.store.households(&Default::default()).unwrap(), ours);
    for h in ours.iter().take(20) {
        assert_eq!(
            w.store.household(&h.id).unwrap(),
            sup.store.household(&h.id).unwrap()
        );
    }
}

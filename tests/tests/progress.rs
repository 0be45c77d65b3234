//! Progress a bar can show: totals known from the first event, an event
//! at least every hundred documents stored, a fraction that never goes
//! backwards and ends at 1.

use gridsync_core::sync::{Phase, Progress, SyncOptions, sync};

use crate::*;

/// Checks every sync's events must pass; returns nothing, panics naming
/// the event.
fn assert_bar(seen: &[Progress]) {
    let first = seen.first().expect("at least one event");
    assert!(
        first.changes_total + first.docs_total > 0,
        "totals known from the first event: {first:?}"
    );
    for w in seen.windows(2) {
        assert!(
            w[1].fraction >= w[0].fraction,
            "the bar went backwards: {:?} then {:?}",
            w[0],
            w[1]
        );
        assert!(
            w[1].docs_received - w[0].docs_received <= 100,
            "more than 100 documents between two events: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
    assert!(seen.iter().all(|p| (0.0..=1.0).contains(&p.fraction)));
    let last = seen.last().expect("at least one event");
    assert_eq!(last.phase, Phase::Done);
    assert_eq!(last.fraction, 1.0, "{last:?}");
}

#[test]
fn progress_has_totals_from_the_first_event_and_never_goes_backwards() {
    const N: usize = 350;
    let server = community();
    let mut a = Phone::login(&server, "worker1");
    a.sync();
    a.add_places(G1);
    for room in 0..N {
        a.household(G1, &format!("{}", 1000 + room), None);
    }
    // Pushing: the changes to send are counted in the first event.
    let mut seen = Vec::new();
    sync(
        &mut a.store,
        &a.client,
        &SyncOptions::default(),
        None,
        &mut |p| seen.push(p.clone()),
    )
    .unwrap();
    assert!(seen[0].changes_total >= N as u64, "{:?}", seen[0]);
    assert_bar(&seen);

    // Pulling them all on a new device: the documents to receive are
    // counted in the first event, which comes after a small first page.
    let mut sup = Phone::login(&server, "supervisor");
    let mut seen = Vec::new();
    let report = sync(
        &mut sup.store,
        &sup.client,
        &SyncOptions::default(),
        None,
        &mut |p| seen.push(p.clone()),
    )
    .unwrap();
    assert!(report.docs_received >= N as u64);
    assert!(
        seen[0].docs_total >= N as u64 && seen[0].docs_received <= 100,
        "first event: {:?}",
        seen[0]
    );
    assert_bar(&seen);
    assert!(
        seen.len() >= N / 100,
        "an event at least every 100 documents: {} events",
        seen.len()
    );
}

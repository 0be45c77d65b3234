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

/// A proxy on 127.0.0.1 to `upstream` (`http://host:port`) that holds
/// every request `delay` before passing it on: a slow link. Returns its
/// URL.
fn slow_proxy(upstream: &str, delay: std::time::Duration) -> String {
    proxy(upstream, delay).0
}

/// [`slow_proxy`], and how many sync requests went through it so far.
fn proxy(
    upstream: &str,
    delay: std::time::Duration,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let upstream = upstream.trim_start_matches("http://").to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let syncs = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = syncs.clone();
    let pump = move |mut from: TcpStream, mut to: TcpStream, delay: Option<std::time::Duration>| {
        let counted = counted.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            // The end of the last read: a request line split between two.
            let mut tail: Vec<u8> = Vec::new();
            const LINE: &[u8] = b"POST /v1/sync ";
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Some(d) = delay {
                    let seen = [&tail[..], &buf[..n]].concat();
                    let requests = seen.windows(LINE.len()).filter(|w| *w == LINE).count();
                    counted.fetch_add(requests, Ordering::SeqCst);
                    tail = seen[seen.len().saturating_sub(LINE.len() - 1)..].to_vec();
                    std::thread::sleep(d);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    };
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            pump(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                Some(delay),
            );
            pump(server, client, None);
        }
    });
    (url, syncs)
}

/// The next page is asked for while the last is stored: once a part of a
/// large page is stored (an event), the request for the page after it has
/// gone out, though the sync's own thread is still held (by the event).
/// Everything arrives, and the lists hold every household.
#[test]
fn the_next_page_is_on_the_wire_while_a_page_is_stored() {
    use std::sync::atomic::Ordering;
    // A first page of 100, then one of 1,000, then the rest.
    const N: usize = 1200;
    let (server, mut sup) = households_pushed(N);
    let (url, syncs) = proxy(&server.url, std::time::Duration::ZERO);
    let client = Client::new(&url).unwrap();
    let mut asked_while_storing = None;
    let report = sync(
        &mut sup.store,
        &client,
        &SyncOptions::default(),
        None,
        &mut |p| {
            // The first part of the second page stored: the third page
            // was asked for before it (held here, the sync sends nothing).
            if p.docs_received == 200 && asked_while_storing.is_none() {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while syncs.load(Ordering::SeqCst) < 3 && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                asked_while_storing = Some(syncs.load(Ordering::SeqCst));
            }
        },
    )
    .unwrap();
    assert_eq!(
        asked_while_storing,
        Some(3),
        "sync requests out when the second page's first part was stored"
    );
    assert!(report.docs_received >= N as u64, "{report:?}");
    assert_eq!(sup.store.households(&Default::default()).unwrap().len(), N);
}

/// A server with `n` households in grid G1, pushed by worker1's phone,
/// and the supervisor's phone, signed in, that has pulled nothing yet.
fn households_pushed(n: usize) -> (TestServer, Phone) {
    use gridsync_core::demo::{GridPlan, populate_households};
    let server = community();
    let mut a = Phone::login(&server, "worker1");
    a.sync();
    let plan = GridPlan {
        households: n,
        residents_per_household: 1,
        visits_per_household: 1,
        buildings: 2,
        units: 1,
        holder_visits: false,
    };
    let worker = a.store.author().user.clone();
    let now = gridsync_core::clock::Clock::System.now_ms();
    populate_households(&mut a.store, G1, &plan, &worker, &[], now, 5).unwrap();
    a.sync();
    let sup = Phone::login(&server, "supervisor");
    (server, sup)
}

/// Sync `phone` over a link that takes 300 ms to carry a request.
fn sync_slowly(phone: &mut Phone, server: &TestServer) {
    let slow = Client::new(&slow_proxy(
        &server.url,
        std::time::Duration::from_millis(300),
    ))
    .unwrap();
    gridsync_core::sync::sync(
        &mut phone.store,
        &slow,
        &SyncOptions::default(),
        None,
        &mut |_| {},
    )
    .unwrap();
}

/// While a late answer is awaited, the phone builds the list rows of the
/// documents it pulled before: on a slow link the supervisor's lists are
/// ready when the sync ends, without a list query having to build them.
#[test]
fn list_rows_are_built_while_a_late_answer_is_awaited() {
    let server = community();
    let mut a = Phone::login(&server, "worker1");
    a.sync();
    a.add_places(G1);
    for room in 0..150 {
        a.household(G1, &format!("{}", 1000 + room), None);
    }
    a.sync();
    let mut sup = Phone::login(&server, "supervisor");
    sup.sync();
    let (pending, _) = sup.store.pending_index().unwrap();
    assert!(
        pending >= 50,
        "the last page's documents wait for their list rows: {pending}"
    );
    // The next sync goes over a link that takes 300 ms to carry a request.
    sync_slowly(&mut sup, &server);
    assert_eq!(
        sup.store.pending_index().unwrap(),
        (0, 0),
        "the list rows were built while the answer was awaited"
    );
    assert_eq!(
        sup.store.households(&Default::default()).unwrap().len(),
        150
    );
}

/// Bulk work is not done a few rows at a time while an answer is awaited:
/// when many more documents wait for their list rows than the lists hold
/// (a supervisor's first sync), the first list query builds them all at
/// once, at a third of the cost, and lists every household.
#[test]
fn bulk_list_work_is_left_to_the_first_list_query() {
    // A first page of 100, then one of 1,000 (the default page): while
    // the last answer is awaited, 1,000 wait against 100 listed.
    const N: usize = 1200;
    let (server, mut sup) = households_pushed(N);
    // Its first sync over a slow link: time enough to index while each
    // answer is awaited.
    sync_slowly(&mut sup, &server);
    let (pending, with_rows) = sup.store.pending_index().unwrap();
    assert!(
        pending >= 1000 && with_rows == pending,
        "the bulk of the households waits for the list query: {pending} ({with_rows} with rows)"
    );
    assert_eq!(sup.store.households(&Default::default()).unwrap().len(), N);
    assert_eq!(sup.store.pending_index().unwrap(), (0, 0));
}

//! Phones edit offline and converge through the server, nothing lost.

use crate::*;

#[test]
fn two_workers_edit_the_same_households_offline_and_converge() {
    let server = community();
    let mut a = Phone::login(&server, "worker1");
    let mut b = Phone::login(&server, "worker2");
    a.sync();
    a.add_places(G1);
    let h1 = a.household(G1, "101", None);
    let h2 = a.household(G1, "102", None);
    a.sync();
    b.sync();
    assert_eq!(b.store.households(&Default::default()).unwrap().len(), 2);

    // Offline on both phones.
    let rid = b
        .store
        .household(&h1)
        .unwrap()
        .residents
        .keys()
        .next()
        .unwrap()
        .clone();
    a.store
        .update_resident(&h1, &rid, |r| r.phone = Some("13800001111".into()))
        .unwrap();
    b.store
        .update_resident(&h1, &rid, |r| r.ethnicity = Some("01".into()))
        .unwrap();
    a.store.add_visit(&h2, visit("a 走访")).unwrap();
    b.store.add_visit(&h2, visit("b 走访")).unwrap();
    b.store.add_resident(&h2, Resident::named("李四")).unwrap();
    let h3 = b.household(G1, "103", None);
    a.store
        .update_resident(&h1, &rid, |r| r.note = Some("来自A".into()))
        .unwrap();
    b.store
        .update_resident(&h1, &rid, |r| r.note = Some("来自B".into()))
        .unwrap();

    a.sync();
    b.sync();
    a.sync();
    for p in [&mut a, &mut b] {
        let one = p.store.household(&h1).unwrap();
        assert_eq!(one.residents[&rid].phone.as_deref(), Some("13800001111"));
        assert_eq!(one.residents[&rid].ethnicity.as_deref(), Some("01"));
        assert_eq!(
            p.store.conflicts(&h1).unwrap().len(),
            1,
            "the note was edited on both"
        );
        let two = p.store.household(&h2).unwrap();
        assert_eq!(two.visits.len(), 2);
        assert_eq!(two.residents.len(), 2);
        assert!(p.store.contains(&h3).unwrap());
        assert_eq!(p.store.pending_changes().unwrap(), 0);
    }
    assert_eq!(
        a.store.household(&h1).unwrap(),
        b.store.household(&h1).unwrap()
    );

    // A supervisor's device pulls the whole community, reporting progress.
    let mut sup = Phone::login(&server, "supervisor");
    let mut seen = Vec::new();
    let report = gridsync_core::sync::sync(
        &mut sup.store,
        &sup.client,
        &gridsync_core::sync::SyncOptions {
            max_docs: 2,
            ..Default::default()
        },
        None,
        &mut |p| seen.push(p.clone()),
    )
    .unwrap();
    let last = seen.last().unwrap();
    assert_eq!(last.phase, gridsync_core::sync::Phase::Done);
    assert_eq!(last.docs_received, last.docs_total);
    assert!(
        last.docs_received >= 6,
        "3 households and 3 grids: {last:?}"
    );
    assert!(
        seen.len() >= 4,
        "progress reported page by page: {}",
        seen.len()
    );
    assert!(
        seen.windows(2)
            .all(|w| w[0].docs_received <= w[1].docs_received)
    );
    assert_eq!(report.rejected, 0);
    assert_eq!(sup.store.households(&Default::default()).unwrap().len(), 3);
    assert_eq!(
        sup.store.household(&h2).unwrap(),
        a.store.household(&h2).unwrap()
    );
    // Grid documents for all three grids came along.
    for g in [G1, G2, G3] {
        assert!(sup.store.grid(g).is_ok(), "grid {g} published");
    }
}

#[test]
fn an_unchanged_device_syncs_in_one_small_round() {
    let server = community();
    let mut a = Phone::login(&server, "worker1");
    a.sync();
    a.add_places(G1);
    for i in 0..30 {
        a.household(G1, &format!("{i}"), None);
    }
    a.sync();
    let again = a.sync();
    assert_eq!(again.rounds, 1);
    assert_eq!(again.pushed, 0);
    assert_eq!(again.bytes_received, 0, "nothing new, nothing sent back");
}

/// A fresh phone stores documents it pulls whole with the list rows the
/// server derived, and lists them from those rows: its lists are the
/// recording phone's.
#[test]
fn a_fresh_phone_lists_pulled_documents_with_the_servers_rows() {
    let server = community();
    let mut a = Phone::login(&server, "worker1");
    a.sync();
    a.add_places(G1);
    let mut ids = Vec::new();
    for i in 0..3 {
        let h = a.household(G1, &format!("10{i}"), None);
        // Enough changes that the push stores the document as a snapshot,
        // which the next pull sends whole (one saved document).
        for v in 0..40 {
            a.store.add_visit(&h, visit(&format!("走访{v}"))).unwrap();
        }
        ids.push(h);
    }
    a.sync();
    let mut b = Phone::login(&server, "worker2");
    b.sync();
    // Waiting to be listed, every document (the households and the grid)
    // with the server's rows.
    let (pending, with_rows) = b.store.pending_index().unwrap();
    assert!(pending > ids.len(), "{pending}");
    assert_eq!(with_rows, pending);
    let lists = |s: &gridsync_core::Store| {
        (
            s.households(&Default::default()).unwrap(),
            s.households_not_visited(30).unwrap(),
            s.search_residents("张").unwrap(),
        )
    };
    assert_eq!(lists(&b.store), lists(&a.store));
    for id in &ids {
        let row = lists(&b.store).0.into_iter().find(|r| &r.id == id).unwrap();
        assert!(row.last_visit.is_some());
        assert_eq!(b.store.household(id).unwrap().visits.len(), 40);
    }
}

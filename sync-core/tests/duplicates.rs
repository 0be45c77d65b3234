//! The same household or person recorded on two phones before either synced.

use gridsync_core::Error;
use gridsync_core::store::DuplicateKind;

use crate::*;

/// Two phones that both recorded household 1-1-101 offline: a with 张三 and
/// one visit, b with 张三 (same ID number, with a phone number), 李四 and
/// two visits. Returns (a, b, household on a, household on b).
fn recorded_twice() -> (Store, Store, String, String) {
    let mut a = store("worker-a");
    let mut b = phone_from(&mut a, "holder-b", "package_holder");
    let mut on_a = new_household(1, 1, "101");
    on_a.residents = vec![resident("张三", "19500101", 11)];
    let ha = a.create_household(on_a).unwrap();
    a.add_visit(&ha, visit(NOW - 2 * DAY)).unwrap();

    let mut on_b = new_household(1, 1, " 101 ");
    on_b.residents = vec![
        Resident {
            phone: Some("13811112222".into()),
            ..resident("张三", "19500101", 11)
        },
        resident("李四", "19520202", 22),
    ];
    on_b.holder = Some("holder-b".into());
    let hb = b.create_household(on_b).unwrap();
    b.add_visit(&hb, visit(NOW - DAY)).unwrap();
    b.add_visit(&hb, visit(NOW - 3 * DAY)).unwrap();
    (a, b, ha, hb)
}

use gridsync_core::household::Resident;

/// Of households `a` and `b`, the one that is not `one` (the merge's loser,
/// given its survivor).
fn other_of(one: &str, a: &str, b: &str) -> String {
    if one == a { b } else { a }.to_owned()
}

#[test]
fn duplicates_are_detected_once_both_are_present() {
    let (mut a, mut b, ha, hb) = recorded_twice();
    assert!(
        a.duplicate_suspects().unwrap().is_empty(),
        "nothing to compare yet"
    );
    sync_all(&mut [&mut a, &mut b]);
    let suspects = a.duplicate_suspects().unwrap();
    let households: Vec<_> = suspects
        .iter()
        .filter(|s| s.kind == DuplicateKind::Household)
        .collect();
    assert_eq!(households.len(), 1);
    let mut pair = [ha.clone(), hb.clone()];
    pair.sort();
    assert_eq!(households[0].households, pair);
    let people: Vec<_> = suspects
        .iter()
        .filter(|s| s.kind == DuplicateKind::ResidentAcrossHouseholds)
        .collect();
    assert_eq!(people.len(), 1, "张三 is in both");
    assert_eq!(b.duplicate_suspects().unwrap(), suspects);
}

#[test]
fn merge_keeps_every_resident_and_visit_and_leaves_a_tombstone() {
    let (mut a, mut b, ha, hb) = recorded_twice();
    sync_all(&mut [&mut a, &mut b]);
    let survivor = a.merge_households(&hb, &ha).unwrap();
    let loser = other_of(&survivor, &ha, &hb);
    assert_eq!(
        survivor,
        ha.clone().min(hb.clone()),
        "the older document survives"
    );

    let got = a.household(&survivor).unwrap();
    let names: Vec<_> = got
        .current_residents()
        .map(|(_, r)| r.name.clone())
        .collect();
    assert_eq!(names.len(), 2, "张三 once, 李四 once: {names:?}");
    let zhang = got
        .current_residents()
        .find(|(_, r)| r.name == "张三")
        .unwrap()
        .1;
    assert_eq!(
        zhang.phone.as_deref(),
        Some("13811112222"),
        "empty field filled from the duplicate"
    );
    assert_eq!(got.visits.len(), 3);
    assert_eq!(got.holder.as_deref(), Some("holder-b"));

    let tomb = a.household(&loser).unwrap();
    assert_eq!(tomb.merged_into.as_deref(), Some(survivor.as_str()));
    assert!(matches!(
        a.add_visit(&loser, visit(NOW)),
        Err(Error::Merged { .. })
    ));
    assert!(a.duplicate_suspects().unwrap().is_empty());
    assert_eq!(a.households(&Default::default()).unwrap().len(), 1);

    sync_all(&mut [&mut a, &mut b]);
    assert_eq!(
        b.household(&survivor).unwrap(),
        a.household(&survivor).unwrap()
    );
    assert!(b.duplicate_suspects().unwrap().is_empty());
}

#[test]
fn late_edits_to_the_merged_away_household_reach_the_survivor() {
    let (mut a, mut b, ha, hb) = recorded_twice();
    sync_all(&mut [&mut a, &mut b]);
    let survivor = a.merge_households(&ha, &hb).unwrap();
    let loser = other_of(&survivor, &ha, &hb);
    // Meanwhile phone b, not yet synced, keeps working on the loser.
    let late_visit = b.add_visit(&loser, visit(NOW - 60_000)).unwrap();
    let late_resident = b
        .add_resident(&loser, resident("王五", "19900303", 33))
        .unwrap();

    sync_all(&mut [&mut a, &mut b]);
    for s in [&mut a, &mut b] {
        let got = s.household(&survivor).unwrap();
        assert!(got.visits.contains_key(&late_visit), "late visit forwarded");
        assert!(
            got.residents.contains_key(&late_resident),
            "late resident forwarded"
        );
        assert_eq!(got.visits.len(), 4);
    }
    assert_eq!(
        a.household(&survivor).unwrap(),
        b.household(&survivor).unwrap()
    );
}

#[test]
fn merging_the_same_pair_on_two_phones_converges() {
    let (mut a, mut b, ha, hb) = recorded_twice();
    sync_all(&mut [&mut a, &mut b]);
    let sa = a.merge_households(&ha, &hb).unwrap();
    let sb = b.merge_households(&hb, &ha).unwrap();
    assert_eq!(sa, sb);
    sync_all(&mut [&mut a, &mut b]);
    let got = a.household(&sa).unwrap();
    assert_eq!(got, b.household(&sa).unwrap());
    assert_eq!(got.current_residents().count(), 2);
    assert_eq!(got.visits.len(), 3);
    assert!(
        a.conflicts(&sa).unwrap().is_empty(),
        "identical writes are no conflict"
    );
}

#[test]
fn dismissed_pairs_are_no_longer_suspected() {
    let (mut a, mut b, ha, hb) = recorded_twice();
    sync_all(&mut [&mut a, &mut b]);
    a.dismiss_duplicate(&ha, &hb).unwrap();
    sync_all(&mut [&mut a, &mut b]);
    for s in [&a, &b] {
        assert!(
            !s.duplicate_suspects()
                .unwrap()
                .iter()
                .any(|d| d.kind == DuplicateKind::Household)
        );
    }
}

#[test]
fn same_person_twice_in_one_household_is_merged() {
    let mut a = store("worker-a");
    let mut b = phone_from(&mut a, "worker-b", "grid_worker");
    let h = a.create_household(new_household(2, 1, "201")).unwrap();
    sync_all(&mut [&mut a, &mut b]);
    let r1 = a
        .add_resident(&h, resident("赵六", "19800808", 66))
        .unwrap();
    let r2 = b
        .add_resident(
            &h,
            Resident {
                phone: Some("13600006666".into()),
                ..resident("赵六", "19800808", 66)
            },
        )
        .unwrap();
    sync_all(&mut [&mut a, &mut b]);
    let suspects = a.duplicate_suspects().unwrap();
    assert_eq!(suspects.len(), 1);
    assert_eq!(suspects[0].kind, DuplicateKind::ResidentInHousehold);
    let kept = a.merge_residents(&h, &r1, &r2).unwrap();
    let got = a.household(&h).unwrap();
    assert_eq!(got.current_residents().count(), 1);
    assert_eq!(got.residents[&kept].phone.as_deref(), Some("13600006666"));
    assert!(a.duplicate_suspects().unwrap().is_empty());
}

/// A pulled page's changes of `id` as `from` holds them (all of them: the
/// receiver skips what it has).
fn pulled(from: &mut Store, id: &str) -> gridsync_core::store::PulledDoc {
    gridsync_core::store::PulledDoc {
        id: id.to_owned(),
        kind: "household".into(),
        scope: from.household(id).unwrap().grid,
        data: from.doc_changes(id).unwrap().concat(),
        listing: None,
    }
}

/// News for a listed household is kept as it came, and news after it too
/// (two syncs' edits of the same household), unless what was kept may be
/// the merge that made it a tombstone: a late edit arriving after that is
/// still forwarded to the survivor on arrival.
#[test]
fn a_late_edit_after_a_merge_kept_undecoded_is_forwarded_on_arrival() {
    let (mut a, mut b, ha, hb) = recorded_twice();
    let mut c = phone_from(&mut a, "worker-c", "grid_worker");
    sync_all(&mut [&mut a, &mut b, &mut c]);
    assert_eq!(c.pending_index().unwrap().0, 0, "listed");

    // Two pages with a visit to ha each, on c: both kept undecoded.
    a.add_visit(&ha, visit(NOW - 5 * DAY)).unwrap();
    c.apply_pulled(&[pulled(&mut a, &ha)]).unwrap();
    let second = a.add_visit(&ha, visit(NOW - 4 * DAY)).unwrap();
    c.apply_pulled(&[pulled(&mut a, &ha)]).unwrap();
    assert_eq!(c.pending_index().unwrap().0, 1, "kept, not decoded");
    assert!(c.household(&ha).unwrap().visits.contains_key(&second));
    sync_all(&mut [&mut a, &mut b, &mut c]);

    let survivor = a.merge_households(&ha, &hb).unwrap();
    let loser = other_of(&survivor, &ha, &hb);
    // Meanwhile phone b, not yet synced, keeps working on the loser.
    let late = b.add_visit(&loser, visit(NOW - 60_000)).unwrap();
    // c pulls the merge: kept as it came, its rows not yet showing it.
    c.apply_pulled(&[pulled(&mut a, &survivor), pulled(&mut a, &loser)])
        .unwrap();
    assert_eq!(c.pending_index().unwrap().0, 2, "kept, not decoded");
    // Then b's late visit: decoded at once, and carried to the survivor.
    c.apply_pulled(&[pulled(&mut b, &loser)]).unwrap();
    assert!(
        c.household(&survivor).unwrap().visits.contains_key(&late),
        "late visit forwarded on arrival"
    );
}

/// Each chunk of news kept for a listed household is read for a merge
/// once: the next news reads only what was not read yet, and a merge is
/// still found on arrival.
#[test]
fn kept_news_is_read_for_a_merge_once() {
    let (mut a, mut b, ha, hb) = recorded_twice();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let mut c = store_at(&path);
    c.set_author(Author {
        user: "worker-c".into(),
        role: "grid_worker".into(),
    })
    .unwrap();
    sync_all(&mut [&mut a, &mut b]);
    exchange(&mut a, &mut c);
    c.households(&Default::default()).unwrap();
    assert_eq!(c.pending_index().unwrap().0, 0, "listed");
    let db = rusqlite::Connection::open(&path).unwrap();
    let chunks = |id: &str| -> (i64, i64) {
        db.query_row(
            "SELECT count(*), count(*) FILTER (WHERE no_merge = 0) FROM chunks WHERE doc_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    // The first news is kept unread (the rows say it is no merge), the
    // second reads it and what was kept before, and so on: nothing is left
    // unread.
    let before = [chunks(&ha).0, chunks(&hb).0];
    for (n, h) in [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0)] {
        let id = [&ha, &hb][h];
        a.add_visit(id, visit(NOW - n * DAY)).unwrap();
        c.apply_pulled(&[pulled(&mut a, id)]).unwrap();
        let (kept, unread) = chunks(id);
        assert_eq!(kept, before[h] + n, "{n} news for {id}");
        if n == 1 {
            assert_eq!(unread, kept, "kept unread");
        } else {
            assert_eq!(unread, 0, "{n} news for {id}: all read");
        }
    }
    assert_eq!(c.pending_index().unwrap().0, 2, "kept, not decoded");
    // The merge reaches both, kept news read: the loser is decoded at once
    // (its rows show the merge), the survivor kept.
    let survivor = a.merge_households(&ha, &hb).unwrap();
    let loser = other_of(&survivor, &ha, &hb);
    c.apply_pulled(&[pulled(&mut a, &survivor), pulled(&mut a, &loser)])
        .unwrap();
    assert_eq!(c.pending_index().unwrap().0, 1, "the loser decoded");
    assert_eq!(chunks(&survivor).1, 0);
}

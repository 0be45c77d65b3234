//! Concurrent offline edits on two or three phones, merged by exchanging
//! changes directly (no server): nothing typed is lost.

use gridsync_core::HouseholdFields;

use crate::*;

/// Three phones that share one household (created on the first and synced).
fn three_phones() -> (Store, Store, Store, String, String) {
    let mut a = store("worker-a");
    let mut b = phone_from(&mut a, "holder-b", "package_holder");
    let mut c = phone_from(&mut a, "worker-c", "grid_worker");
    let h = a.create_household(new_household(1, 1, "101")).unwrap();
    let rid = a
        .add_resident(&h, resident("张三", "19500101", 11))
        .unwrap();
    sync_all(&mut [&mut a, &mut b, &mut c]);
    (a, b, c, h, rid)
}

#[test]
fn different_fields_edited_on_two_phones_are_both_kept() {
    let (mut a, mut b, mut c, h, rid) = three_phones();
    a.update_resident(&h, &rid, |r| r.phone = Some("13800001111".into()))
        .unwrap();
    b.update_resident(&h, &rid, |r| r.ethnicity = Some("03".into()))
        .unwrap();
    b.edit_household(&h, |f: &mut HouseholdFields| f.house.occupants = Some(3))
        .unwrap();
    sync_all(&mut [&mut a, &mut b, &mut c]);
    for s in [&mut a, &mut b, &mut c] {
        let got = s.household(&h).unwrap();
        assert_eq!(got.residents[&rid].phone.as_deref(), Some("13800001111"));
        assert_eq!(got.residents[&rid].ethnicity.as_deref(), Some("03"));
        assert_eq!(got.house.occupants, Some(3));
        assert!(s.conflicts(&h).unwrap().is_empty());
    }
}

#[test]
fn same_field_on_two_phones_is_a_visible_resolvable_conflict() {
    let (mut a, mut b, mut c, h, rid) = three_phones();
    a.update_resident(&h, &rid, |r| r.phone = Some("13800001111".into()))
        .unwrap();
    b.set_clock(Clock::Fixed(NOW + 60_000));
    b.update_resident(&h, &rid, |r| r.phone = Some("13900002222".into()))
        .unwrap();
    sync_all(&mut [&mut a, &mut b, &mut c]);

    let shown: Vec<_> = [&mut a, &mut b, &mut c]
        .into_iter()
        .map(|s| s.household(&h).unwrap().residents[&rid].phone.clone())
        .collect();
    assert!(
        shown.iter().all(|p| p == &shown[0]),
        "every phone shows the same winner"
    );

    let conflicts = c.conflicts(&h).unwrap();
    assert_eq!(conflicts.len(), 1);
    let conflict = &conflicts[0];
    assert_eq!(conflict.path, ["residents", rid.as_str(), "phone"]);
    assert_eq!(conflict.values.len(), 2);
    assert_eq!(conflict.values.iter().filter(|v| v.winner).count(), 1);
    let by_a = conflict
        .values
        .iter()
        .find(|v| v.by.as_deref() == Some("worker-a"))
        .unwrap();
    let by_b = conflict
        .values
        .iter()
        .find(|v| v.by.as_deref() == Some("holder-b"))
        .unwrap();
    assert_eq!(by_a.value, "13800001111");
    assert_eq!(by_b.value, "13900002222");
    assert_eq!(by_a.at, NOW);
    assert_eq!(by_b.at, NOW + 60_000);
    let winner = conflict.values.iter().find(|v| v.winner).unwrap();
    assert_eq!(Some(winner.value.as_str().unwrap().to_string()), shown[0]);

    // A person on phone C chooses the value that did not win.
    let loser = conflict.values.iter().position(|v| !v.winner).unwrap();
    let chosen = conflict.values[loser].value.clone();
    c.resolve_conflict(&h, &conflict.path, loser).unwrap();
    sync_all(&mut [&mut a, &mut b, &mut c]);
    for s in [&mut a, &mut b, &mut c] {
        assert!(s.conflicts(&h).unwrap().is_empty());
        assert_eq!(
            s.household(&h).unwrap().residents[&rid].phone.as_deref(),
            chosen.as_str()
        );
    }
}

#[test]
fn residents_and_visits_added_concurrently_are_all_present_in_time_order() {
    let (mut a, mut b, mut c, h, _) = three_phones();
    a.add_resident(&h, resident("张小一", "20100101", 31))
        .unwrap();
    b.add_resident(&h, resident("张小二", "20120202", 42))
        .unwrap();
    c.add_resident(&h, resident("张小三", "20140303", 53))
        .unwrap();
    a.add_visit(&h, visit(NOW - 5 * DAY)).unwrap();
    b.add_visit(&h, visit(NOW - 3 * DAY)).unwrap();
    c.add_visit(&h, visit(NOW - 4 * DAY)).unwrap();
    a.add_visit(&h, visit(NOW - DAY)).unwrap();
    sync_all(&mut [&mut a, &mut b, &mut c]);
    for s in [&mut a, &mut b, &mut c] {
        let got = s.household(&h).unwrap();
        assert_eq!(got.residents.len(), 4);
        let times: Vec<i64> = got.visits_in_order().iter().map(|(_, v)| v.at).collect();
        assert_eq!(
            times,
            [NOW - 5 * DAY, NOW - 4 * DAY, NOW - 3 * DAY, NOW - DAY]
        );
    }
}

#[test]
fn resident_removed_on_one_phone_while_edited_on_another_keeps_the_edit() {
    let (mut a, mut b, mut c, h, rid) = three_phones();
    a.remove_resident(&h, &rid, Some("2026-11-19".into()))
        .unwrap();
    b.update_resident(&h, &rid, |r| r.phone = Some("13700003333".into()))
        .unwrap();
    sync_all(&mut [&mut a, &mut b, &mut c]);
    for s in [&mut a, &mut b, &mut c] {
        let got = s.household(&h).unwrap();
        let r = &got.residents[&rid];
        // Defined behaviour: the removal stands and the concurrent edit is
        // kept on the (removed) entry, visible and restorable.
        assert!(r.removed);
        assert_eq!(r.moved_out.as_deref(), Some("2026-11-19"));
        assert_eq!(r.phone.as_deref(), Some("13700003333"));
    }
    c.restore_resident(&h, &rid).unwrap();
    assert_eq!(c.household(&h).unwrap().current_residents().count(), 1);
}

#[test]
fn merging_is_idempotent_and_order_independent() {
    let (mut a, mut b, _c, h, rid) = three_phones();
    a.update_resident(&h, &rid, |r| r.note = Some("腿脚不便".into()))
        .unwrap();
    b.add_visit(&h, visit(NOW - DAY)).unwrap();
    // Apply b's changes to a three times, in reverse order.
    let mut changes = b.doc_changes(&h).unwrap();
    changes.reverse();
    for _ in 0..3 {
        a.apply_remote(&h, &changes).unwrap();
    }
    exchange(&mut a, &mut b);
    assert_eq!(a.household(&h).unwrap(), b.household(&h).unwrap());
    assert_eq!(a.heads(&h).unwrap(), b.heads(&h).unwrap());
}

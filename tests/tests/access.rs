//! Each person sees only their grid or households; refusals and revocation.

use crate::*;

#[test]
fn package_holder_sees_only_their_households() {
    let server = community();
    let mut holder = Phone::login(&server, "holder1");
    let mut w = Phone::login(&server, "worker1");
    w.sync();
    w.add_places(G1);
    let held = w.household(G1, "101", Some(&holder.user_id));
    let _other = w.household(G1, "102", None);
    w.sync();

    holder.sync();
    let ids: Vec<String> = holder
        .store
        .households(&Default::default())
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(ids, vec![held.clone()]);
    // The holder records a visit; the worker sees it.
    holder.store.add_visit(&held, visit("包保走访")).unwrap();
    assert_eq!(holder.sync().rejected, 0);
    w.sync();
    assert_eq!(w.store.household(&held).unwrap().visits.len(), 1);
}

#[test]
fn worker_writing_into_another_grid_is_refused_and_can_undo() {
    let server = community();
    let mut w3 = Phone::login(&server, "worker3");
    let mut w1 = Phone::login(&server, "worker1");
    w1.sync();
    w1.add_places(G1);
    let h = w1.household(G1, "101", None);
    w1.sync();
    // worker3 (grid 2) somehow has the household (e.g. from an old
    // assignment) and edits it: give it the document directly.
    let bytes = w1.store.export_doc(&h).unwrap();
    w3.store.apply_remote(&h, &[bytes]).unwrap();
    w3.store.add_visit(&h, visit("越界")).unwrap();
    let report = w3.try_sync().unwrap();
    assert_eq!(report.rejected, 1);
    let refused = w3.store.rejected_changes().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].code, "out_of_scope");
    assert!(refused[0].reason.contains("无权"));
    // Nothing reached grid 1.
    w1.sync();
    assert!(w1.store.household(&h).unwrap().visits.is_empty());
    // The refused edit is undone on the phone.
    w3.store.discard_rejected(&h).unwrap();
    assert!(w3.store.rejected_changes().unwrap().is_empty());
}

#[test]
fn revoked_device_purges_everything() {
    let server = community();
    let mut w = Phone::login(&server, "worker1");
    w.sync();
    w.add_places(G1);
    w.household(G1, "101", None);
    w.sync();
    assert!(!w.store.documents().unwrap().is_empty());
    let device = w.store.device_id().to_string();
    server.cli(&["admin", "device", "revoke", &device]);
    let err = w.try_sync().unwrap_err();
    assert!(matches!(err, gridsync_core::Error::DeviceRevoked), "{err}");
    assert!(
        w.store.documents().unwrap().is_empty(),
        "all local data purged"
    );
}

#[test]
fn household_moved_to_another_grid_is_purged_from_the_old_grid() {
    let server = community();
    let mut w1 = Phone::login(&server, "worker1");
    let mut w3 = Phone::login(&server, "worker3");
    let mut sup = Phone::login(&server, "supervisor");
    w1.sync();
    w1.add_places(G1);
    w3.sync();
    w3.add_places(G2);
    let h = w1.household(G1, "101", None);
    w1.sync();
    w3.sync();
    sup.sync();
    sup.store.move_household(&h, G2).unwrap();
    assert_eq!(sup.sync().rejected, 0);
    let report = w1.sync();
    assert!(
        report.purged.contains(&h),
        "moved out of worker1's grid: {report:?}"
    );
    assert!(!w1.store.contains(&h).unwrap());
    w3.sync();
    assert_eq!(w3.store.household(&h).unwrap().grid, G2);
}

#[test]
fn reassigned_worker_purges_the_old_grid() {
    let server = community();
    let mut w = Phone::login(&server, "worker1");
    w.sync();
    w.add_places(G1);
    let h = w.household(G1, "101", None);
    w.sync();
    assert!(w.store.contains(&h).unwrap());
    // worker1 moves from grid 1 to grid 2.
    server.cli(&["admin", "user", "grids", "worker1", "--grids", G2]);
    let report = w.sync();
    assert!(report.purged.contains(&h), "{report:?}");
    assert!(!w.store.contains(&h).unwrap(), "grid 1's household is gone");
    assert!(w.store.grid(G2).is_ok(), "grid 2 arrived");
    assert!(w.store.grid(G1).is_err(), "grid 1's document is gone too");
}

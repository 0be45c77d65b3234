//! Whose changes a phone sends (issue 19, item 6): a change written under
//! one person's sign-in (or while nobody was signed in) is never sent under
//! another's; it is held back with a reason, and the signed-in person's own
//! edits still go.

use gridsync_core::doc::Author;

use crate::{G1, Phone, community, visit};

#[test]
fn changes_written_signed_out_are_held_back_not_pushed_under_the_sign_in() {
    let server = community();
    let mut p = Phone::login(&server, "worker1");
    p.sync();
    p.add_places(G1);
    let a = p.household(G1, "101", None);
    let b = p.household(G1, "102", None);
    assert!(p.sync().complete);

    // A visit typed while nobody was signed in (as an older app allowed),
    // then one by the signed-in worker, of another household.
    p.store
        .with_author(Author::default(), |s| {
            s.add_visit(&a, visit("未登录时录入"))
        })
        .unwrap();
    p.store.add_visit(&b, visit("本人录入")).unwrap();
    let r = p.sync();
    assert_eq!(r.rejected, 0, "nothing sent to be refused: {r:?}");
    assert_eq!(r.held_other_user, 1, "{r:?}");
    assert_eq!(r.held_back, 0, "{r:?}");
    assert!(!r.complete);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("有1条修改是在本机以其他用户身份（或未登录时）录入的")),
        "{:?}",
        r.warnings
    );
    assert!(p.store.rejected_changes().unwrap().is_empty());
    // Still held, not sent, at the next sync too.
    let r = p.sync();
    assert_eq!((r.rejected, r.held_other_user), (0, 1), "{r:?}");

    // The server has the worker's own visit and not the other one.
    let mut other = Phone::login(&server, "worker2");
    other.sync();
    assert_eq!(other.store.household(&b).unwrap().visits.len(), 1);
    assert!(other.store.household(&a).unwrap().visits.is_empty());
}

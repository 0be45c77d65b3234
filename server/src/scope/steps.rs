//! Who may take which step of an issue report's closed loop (闭环). The
//! workflow itself (which step is valid in which stage) is the core's
//! ([`gridsync_core::issue::workflow`]); this module decides, for every
//! workflow event a push *adds*, whether the pushing user's role and scope
//! allow it:
//!
//! The rule itself (which role may take which step) is the core's
//! ([`gridsync_core::issue::duty`]), so the phone refuses an out-of-role
//! step at once with the same reason; this module applies it to the fold.
//!
//! Administrators may take every step, under any name. Events already stored may never be
//! changed or removed (they are append-only), and a new event must be
//! recorded under the signed-in user and role.
//!
//! An event is judged against the status just before it in the fold (the
//! level and assignee it met). An event that the fold supersedes (it raced
//! another step on a phone that was offline) has no effect, but is still
//! judged, against the level it records and every assignee the report was
//! ever dispatched to: a person may only record steps their role could take.

use gridsync_core::issue::{Event, EventKind, Issue, Level, duty::Duty, workflow};

use crate::principal::{Principal, Role};
use crate::store::Refusal;

/// What `p`'s role entitles them to, in the core's terms.
fn duty(p: &Principal) -> Duty {
    Duty {
        user_id: p.user_id.clone(),
        role: p.role.code().into(),
        grids: p.grids.clone(),
        subtree: p.subtree.clone(),
        department: p.department.clone(),
        post: p.post.clone(),
    }
}

/// Judge one new event `e` of `issue`, met at `level` with `assignees` (the
/// assignee it met, or for a superseded event every assignee ever named).
fn judge(
    d: &Duty,
    issue: &Issue,
    new_report: bool,
    e: &Event,
    level: Level,
    assignees: &[&str],
) -> Result<(), Refusal> {
    d.may_take(issue, new_report, e, level, assignees)
        .map_err(|r| Refusal::new("role_forbids", format!("{} / {}", r.zh, r.en)))
}

/// Check the workflow events a push adds to an issue report (`before` is
/// `None` for a report new to the server).
pub fn check(p: &Principal, before: Option<&Issue>, after: &Issue) -> Result<(), Refusal> {
    if let Some(b) = before {
        for (id, e) in &b.events {
            if after.events.get(id) != Some(e) {
                return Err(Refusal::new(
                    "invalid_document",
                    "流程记录只能追加，不能修改或删除 / workflow events can only be added, never changed or removed",
                )
                .at(format!("events.{id}")));
            }
        }
        if after.events.len() == b.events.len() {
            return Ok(());
        }
    }
    // Administrators (and the server itself, seeding demo data or
    // importing) may record steps on anyone's behalf.
    if p.role == Role::Admin {
        return Ok(());
    }
    let d = duty(p);
    let is_new = |id: &str| before.is_none_or(|b| !b.events.contains_key(id));
    let ever_assigned: Vec<&str> = after
        .events
        .values()
        .filter(|e| e.kind == EventKind::Dispatch.code())
        .filter_map(|e| e.assignee.as_deref())
        .collect();
    // The same fold as `workflow::status`, noting what each event met.
    let mut s = workflow::Status::default();
    let mut reported = false;
    for (id, e) in workflow::in_order(&after.events) {
        let (level, assignee) = (s.level, s.assignee.clone());
        let effective = if !reported && e.kind == EventKind::Report.code() {
            reported = true;
            true
        } else {
            workflow::step(&mut s, e).is_ok()
        };
        if !is_new(id) {
            continue;
        }
        let at = |r: Refusal| r.at(format!("events.{id}"));
        if effective {
            let met: Vec<&str> = assignee.as_deref().into_iter().collect();
            judge(&d, after, before.is_none(), e, level, &met).map_err(at)?;
        } else {
            let recorded = Level::from_code(&e.level).unwrap_or(level);
            judge(&d, after, before.is_none(), e, recorded, &ever_assigned).map_err(at)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const GRID: &str = "110105001001001";
    const OTHER_GRID: &str = "110105001002001";

    fn person(id: &str, role: Role) -> Principal {
        Principal {
            user_id: id.into(),
            username: id.into(),
            role,
            device_id: None,
            grids: Vec::new(),
            subtree: None,
            department: None,
            post: None,
        }
    }

    fn worker(id: &str, grid: &str) -> Principal {
        Principal {
            grids: vec![grid.into()],
            ..person(id, Role::GridWorker)
        }
    }

    fn supervisor(id: &str, subtree: &str) -> Principal {
        Principal {
            subtree: Some(subtree.into()),
            ..person(id, Role::Supervisor)
        }
    }

    fn department(id: &str, code: &str) -> Principal {
        Principal {
            department: Some(code.into()),
            ..person(id, Role::Department)
        }
    }

    /// A report by `w1` in GRID with `steps` (kind, actor, assignee), one
    /// ms apart; returns the issue.
    fn issue(steps: &[(&str, &Principal, Option<&str>)]) -> Issue {
        let reporter = worker("w1", GRID);
        let mut events = BTreeMap::new();
        let mut s = workflow::Status::default();
        let mut all = vec![(EventKind::Report.code(), &reporter, None)];
        all.extend(steps.iter().map(|(k, p, a)| (*k, *p, *a)));
        for (n, (kind, p, assignee)) in all.into_iter().enumerate() {
            let e = Event {
                kind: kind.into(),
                actor: p.user_id.clone(),
                role: p.role.code().into(),
                at: 1_000 + n as i64,
                level: s.level.code().into(),
                assignee: assignee.map(Into::into),
                note: Some("说明".into()),
                rating: (kind == "rate").then_some(5),
            };
            if n > 0 {
                workflow::step(&mut s, &e).expect("a valid step in the fixture");
            }
            events.insert(format!("e{n:02}"), e);
        }
        Issue {
            kind: gridsync_core::issue::KIND.into(),
            id: "0190d6f0-0000-7000-8000-000000000001".into(),
            grid: GRID.into(),
            reporter: reporter.user_id.clone(),
            description: "井盖缺失".into(),
            events,
            ..Issue::default()
        }
    }

    /// `before` plus one step `kind` by `p` (with `assignee`), taken at the
    /// issue's current level.
    fn with_step(before: &Issue, kind: EventKind, p: &Principal, assignee: Option<&str>) -> Issue {
        let s = workflow::status(&before.events);
        let mut after = before.clone();
        after.events.insert(
            "z-new".into(),
            Event {
                kind: kind.code().into(),
                actor: p.user_id.clone(),
                role: p.role.code().into(),
                at: s.last_at + 1,
                level: s.level.code().into(),
                assignee: assignee.map(Into::into),
                note: Some("说明".into()),
                rating: (kind == EventKind::Rate).then_some(4),
            },
        );
        after
    }

    fn allowed(before: &Issue, kind: EventKind, p: &Principal, assignee: Option<&str>) -> bool {
        let after = with_step(before, kind, p, assignee);
        match check(p, Some(before), &after) {
            Ok(()) => true,
            Err(r) => {
                assert_eq!(r.code, "role_forbids", "{}", r.reason);
                assert!(
                    r.reason.contains(kind.name_zh()),
                    "names the step: {}",
                    r.reason
                );
                false
            }
        }
    }

    fn community() -> Principal {
        supervisor("sq", "110105001001")
    }
    fn street() -> Principal {
        supervisor("jd", "110105001")
    }

    #[test]
    fn accept_dispatch_escalate_by_level() {
        let reported = issue(&[]);
        let other_worker = worker("w2", OTHER_GRID);
        let other_community = supervisor("sq2", "110105001002");
        let dept = department("cg", "chengguan");
        for kind in [EventKind::Accept, EventKind::Escalate] {
            assert!(allowed(&reported, kind, &worker("w1", GRID), None));
            assert!(allowed(&reported, kind, &community(), None));
            assert!(allowed(&reported, kind, &street(), None));
            assert!(!allowed(&reported, kind, &other_worker, None));
            assert!(!allowed(&reported, kind, &other_community, None));
            assert!(!allowed(&reported, kind, &dept, None));
            assert!(!allowed(
                &reported,
                kind,
                &person("ph", Role::PackageHolder),
                None
            ));
        }
        // At community level the grid's worker no longer decides.
        let w1 = worker("w1", GRID);
        let at_community = issue(&[("escalate", &w1, None)]);
        assert!(!allowed(&at_community, EventKind::Accept, &w1, None));
        assert!(allowed(
            &at_community,
            EventKind::Accept,
            &community(),
            None
        ));
        // At street level only the street supervisor.
        let sq = community();
        let at_street = issue(&[("escalate", &w1, None), ("escalate", &sq, None)]);
        assert!(!allowed(&at_street, EventKind::Accept, &sq, None));
        assert!(allowed(&at_street, EventKind::Accept, &street(), None));
        let jd = street();
        let accepted = issue(&[
            ("escalate", &w1, None),
            ("escalate", &sq, None),
            ("accept", &jd, None),
        ]);
        assert!(allowed(
            &accepted,
            EventKind::Dispatch,
            &jd,
            Some("dept:chengguan")
        ));
        assert!(!allowed(
            &accepted,
            EventKind::Dispatch,
            &sq,
            Some("dept:chengguan")
        ));
        assert!(!allowed(&accepted, EventKind::Dispatch, &jd, Some("dept:")));
    }

    #[test]
    fn handle_and_feedback_by_whoever_it_is_dispatched_to() {
        let sq = community();
        let to_dept = issue(&[
            ("accept", &sq, None),
            ("dispatch", &sq, Some("dept:chengguan")),
        ]);
        let cg = department("cg", "chengguan");
        let zj = department("zj", "zhujian");
        assert!(allowed(&to_dept, EventKind::Handle, &cg, None));
        assert!(!allowed(&to_dept, EventKind::Handle, &zj, None));
        assert!(!allowed(
            &to_dept,
            EventKind::Handle,
            &worker("w1", GRID),
            None
        ));
        assert!(!allowed(&to_dept, EventKind::Handle, &sq, None));
        let handled = issue(&[
            ("accept", &sq, None),
            ("dispatch", &sq, Some("dept:chengguan")),
            ("handle", &cg, None),
        ]);
        assert!(allowed(&handled, EventKind::Feedback, &cg, None));
        assert!(!allowed(&handled, EventKind::Feedback, &zj, None));

        let w1 = worker("w1", GRID);
        let to_person = issue(&[("accept", &sq, None), ("dispatch", &sq, Some("w1"))]);
        assert!(allowed(&to_person, EventKind::Handle, &w1, None));
        assert!(!allowed(&to_person, EventKind::Handle, &cg, None));
        assert!(!allowed(
            &to_person,
            EventKind::Handle,
            &worker("w3", GRID),
            None
        ));
    }

    #[test]
    fn verify_close_rate_withdraw() {
        let sq = community();
        let cg = department("cg", "chengguan");
        let w1 = worker("w1", GRID);
        let fed_back = issue(&[
            ("accept", &sq, None),
            ("dispatch", &sq, Some("dept:chengguan")),
            ("handle", &cg, None),
            ("feedback", &cg, None),
        ]);
        for kind in [EventKind::VerifyPass, EventKind::VerifyFail] {
            assert!(allowed(&fed_back, kind, &w1, None));
            assert!(
                allowed(&fed_back, kind, &worker("w9", GRID), None),
                "another worker of the grid"
            );
            assert!(!allowed(&fed_back, kind, &cg, None));
            assert!(!allowed(&fed_back, kind, &sq, None));
            assert!(!allowed(&fed_back, kind, &worker("w2", OTHER_GRID), None));
        }
        let verified = issue(&[
            ("accept", &sq, None),
            ("dispatch", &sq, Some("dept:chengguan")),
            ("handle", &cg, None),
            ("feedback", &cg, None),
            ("verify_pass", &w1, None),
        ]);
        assert!(allowed(&verified, EventKind::Close, &sq, None));
        assert!(allowed(&verified, EventKind::Close, &street(), None));
        assert!(!allowed(&verified, EventKind::Close, &w1, None));
        assert!(!allowed(&verified, EventKind::Close, &cg, None));
        let closed = issue(&[
            ("accept", &sq, None),
            ("dispatch", &sq, Some("dept:chengguan")),
            ("handle", &cg, None),
            ("feedback", &cg, None),
            ("verify_pass", &w1, None),
            ("close", &sq, None),
        ]);
        assert!(allowed(&closed, EventKind::Rate, &w1, None));
        assert!(allowed(&closed, EventKind::Rate, &sq, None));
        assert!(!allowed(&closed, EventKind::Rate, &cg, None));
        assert!(!allowed(
            &closed,
            EventKind::Rate,
            &worker("w2", OTHER_GRID),
            None
        ));

        let reported = issue(&[]);
        assert!(
            allowed(&reported, EventKind::Withdraw, &w1, None),
            "the reporter"
        );
        assert!(allowed(&reported, EventKind::Withdraw, &sq, None));
        assert!(!allowed(
            &reported,
            EventKind::Withdraw,
            &worker("w9", GRID),
            None
        ));
        assert!(!allowed(&reported, EventKind::Withdraw, &cg, None));
    }

    #[test]
    fn admin_may_do_anything() {
        let admin = person("root", Role::Admin);
        assert!(allowed(&issue(&[]), EventKind::Accept, &admin, None));
        let before = issue(&[]);
        let mut other_name = with_step(&before, EventKind::Accept, &admin, None);
        if let Some(e) = other_name.events.get_mut("z-new") {
            e.actor = "sq".into();
        }
        assert!(check(&admin, Some(&before), &other_name).is_ok());
    }

    #[test]
    fn events_are_append_only_and_signed_by_the_pusher() {
        let sq = community();
        let before = issue(&[("accept", &sq, None)]);
        let mut changed = before.clone();
        if let Some(e) = changed.events.get_mut("e01") {
            e.note = Some("改过".into());
        }
        let r = check(&sq, Some(&before), &changed).expect_err("edit refused");
        assert_eq!(r.code, "invalid_document");
        let mut removed = before.clone();
        removed.events.remove("e01");
        assert!(check(&sq, Some(&before), &removed).is_err());

        // A step recorded under someone else's name.
        let forged = with_step(&before, EventKind::Dispatch, &sq, Some("w1"));
        let r = check(&community_other_id(), Some(&before), &forged).expect_err("forged");
        assert_eq!(r.code, "role_forbids");
        assert!(r.reason.contains("派遣"), "{}", r.reason);
        // A second report on an existing issue.
        assert!(!allowed(
            &before,
            EventKind::Report,
            &worker("w1", GRID),
            None
        ));
    }

    fn community_other_id() -> Principal {
        supervisor("sq-other", "110105001001")
    }

    #[test]
    fn new_reports_by_workers_and_supervisors_only() {
        let fresh = issue(&[]);
        assert!(check(&worker("w1", GRID), None, &fresh).is_ok());
        let r = check(&worker("w1", OTHER_GRID), None, &fresh).expect_err("other grid");
        assert!(r.reason.contains("上报"), "{}", r.reason);
    }

    #[test]
    fn a_superseded_step_is_judged_by_what_it_records() {
        // The department handled offline while the supervisor escalated:
        // the handle is superseded (the escalation came first) but the
        // department was dispatched to, so it may record it.
        let sq = community();
        let cg = department("cg", "chengguan");
        let dispatched = issue(&[
            ("accept", &sq, None),
            ("dispatch", &sq, Some("dept:chengguan")),
        ]);
        let mut escalated = with_step(&dispatched, EventKind::Escalate, &sq, None);
        let esc = escalated.events.remove("z-new").expect("step");
        escalated
            .events
            .insert("y-esc".into(), Event { at: 2_000, ..esc });
        let mut after = escalated.clone();
        after.events.insert(
            "z-handle".into(),
            Event {
                kind: "handle".into(),
                actor: "cg".into(),
                role: "department".into(),
                at: 2_001,
                level: "community".into(),
                ..Event::default()
            },
        );
        assert!(check(&cg, Some(&escalated), &after).is_ok());
        // Another department may not record it at all.
        let zj = department("zj", "zhujian");
        let mut forged = after.clone();
        if let Some(e) = forged.events.get_mut("z-handle") {
            e.actor = "zj".into();
        }
        assert!(check(&zj, Some(&escalated), &forged).is_err());
    }
}

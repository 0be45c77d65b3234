//! Issue reports (事件): reporting and its validation, the closed loop and
//! its refusals, deadlines on the working calendar, and convergence of
//! steps taken on two phones at once.

use gridsync_core::Error;
use gridsync_core::issue::{
    EventKind, Level, NewIssue, Stage, Status, StepInput, WorkCalendar, workflow,
};

use crate::*;

/// 2026-11-26 (a Thursday) at `hour`:`minute` China Standard Time, plus
/// `days` days, in ms.
fn at(days: i64, hour: i64, minute: i64) -> i64 {
    NOW + days * DAY + (hour - 10) * 3_600_000 + minute * 60_000
}

/// A valid neighbour dispute in [`GRID`] (3 working days to handle).
fn new_issue() -> NewIssue {
    NewIssue {
        grid: GRID.into(),
        category: "dispute".into(),
        subtype: "neighbour".into(),
        description: "3号楼楼上漏水，邻里争执".into(),
        source: "patrol".into(),
        ..NewIssue::default()
    }
}

fn input(kind: EventKind, who: &str, rating: u8) -> StepInput {
    StepInput {
        assignee: (kind == EventKind::Dispatch).then(|| format!("handler-{who}")),
        note: Some("已处理".into()),
        rating: (kind == EventKind::Rate).then_some(rating),
    }
}

/// Take `steps` on issue `id`, each with its usual details.
fn walk(s: &mut Store, id: &str, steps: &[EventKind]) {
    for &k in steps {
        s.append_event(id, k, input(k, "x", 5))
            .unwrap_or_else(|e| panic!("{k:?}: {e}"));
    }
}

fn field_of(e: Error) -> String {
    match e {
        Error::Invalid { field, reason } => {
            assert!(!reason.zh.is_empty() && !reason.en.is_empty());
            field
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

use EventKind as K;

const LOOP: [EventKind; 8] = [
    K::Accept,
    K::Dispatch,
    K::Handle,
    K::Feedback,
    K::VerifyFail,
    K::Handle,
    K::Feedback,
    K::VerifyPass,
];

#[test]
fn a_reported_issue_reads_back_waiting_to_be_accepted() {
    let mut s = store("worker-a");
    let id = s
        .report_issue(NewIssue {
            photos: vec!["AB".repeat(32)],
            urgency: "urgent".into(),
            ..new_issue()
        })
        .unwrap();
    let i = s.issue(&id).unwrap();
    assert_eq!(i.kind, "issue");
    assert_eq!(i.grid, GRID);
    assert_eq!(i.reporter, "worker-a");
    assert_eq!(i.photos, ["ab".repeat(32)]);
    assert_eq!(i.urgency, "urgent");
    assert_eq!(i.created_at, NOW);
    assert_eq!(i.events.len(), 1);
    assert_eq!(i.status.stage, Stage::Reported);
    assert_eq!(i.status.level, Level::Grid);
    assert_eq!(i.subtype_entry().unwrap().name, "邻里纠纷");
    assert_eq!(s.open_issues(GRID).unwrap().len(), 1);
}

#[test]
fn invalid_reports_are_refused_naming_the_field() {
    let mut s = store("worker-a");
    let cases: Vec<(&str, NewIssue)> = vec![
        (
            "category",
            NewIssue {
                category: "weather".into(),
                ..new_issue()
            },
        ),
        (
            "subtype",
            NewIssue {
                subtype: "gas".into(),
                ..new_issue()
            },
        ),
        (
            "description",
            NewIssue {
                description: "  ".into(),
                ..new_issue()
            },
        ),
        (
            "source",
            NewIssue {
                source: "rumour".into(),
                ..new_issue()
            },
        ),
        (
            "urgency",
            NewIssue {
                urgency: "whenever".into(),
                ..new_issue()
            },
        ),
        (
            "grid",
            NewIssue {
                grid: "110105001001999".into(),
                ..new_issue()
            },
        ),
        (
            "photos",
            NewIssue {
                photos: vec!["not-a-hash".into()],
                ..new_issue()
            },
        ),
        (
            "households",
            NewIssue {
                households: vec!["h1".into()],
                ..new_issue()
            },
        ),
        (
            "place.lon",
            NewIssue {
                place: gridsync_core::issue::IssuePlace {
                    lat: Some(39.9),
                    ..Default::default()
                },
                ..new_issue()
            },
        ),
    ];
    for (field, new) in cases {
        let err = s.report_issue(new).unwrap_err();
        assert_eq!(field_of(err), field);
    }
    assert!(s.open_issues(GRID).unwrap().is_empty());
}

#[test]
fn the_whole_loop_with_one_rework_ends_rated() {
    let mut s = store("worker-a");
    let id = s.report_issue(new_issue()).unwrap();
    walk(&mut s, &id, &LOOP);
    walk(&mut s, &id, &[K::Close]);
    assert!(s.open_issues(GRID).unwrap().is_empty());
    s.append_event(&id, K::Rate, input(K::Rate, "x", 4))
        .unwrap();
    let st = s.issue(&id).unwrap().status;
    assert_eq!(st.stage, Stage::Rated);
    assert_eq!(st.rating, Some(4));
    assert_eq!(st.reworks, 1);
    assert_eq!(st.assignee.as_deref(), Some("handler-x"));
    assert_eq!(st.applied.len(), 11);
    assert!(st.superseded.is_empty());
}

#[test]
fn steps_out_of_order_or_missing_details_are_refused() {
    let mut s = store("worker-a");
    let id = s.report_issue(new_issue()).unwrap();
    let refused = |s: &mut Store, k: EventKind, i: StepInput| {
        field_of(s.append_event(&id, k, i).unwrap_err())
    };
    assert_eq!(
        refused(&mut s, K::Dispatch, input(K::Dispatch, "x", 0)),
        "kind"
    );
    assert_eq!(refused(&mut s, K::Close, input(K::Close, "x", 0)), "kind");
    assert_eq!(refused(&mut s, K::Report, StepInput::default()), "kind");
    walk(&mut s, &id, &[K::Accept]);
    assert_eq!(
        refused(&mut s, K::Dispatch, StepInput::default()),
        "assignee"
    );
    assert_eq!(refused(&mut s, K::Withdraw, StepInput::default()), "note");
    walk(
        &mut s,
        &id,
        &[K::Dispatch, K::Handle, K::Feedback, K::VerifyPass, K::Close],
    );
    assert_eq!(refused(&mut s, K::Rate, input(K::Rate, "x", 6)), "rating");
    assert_eq!(
        refused(&mut s, K::Dispatch, input(K::Dispatch, "y", 0)),
        "kind"
    );
    match s.append_event(&id, K::Withdraw, input(K::Withdraw, "x", 0)) {
        Err(Error::Invalid { reason, .. }) => {
            assert!(reason.zh.contains("已结案"), "{}", reason.zh)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.issue(&id).unwrap().events.len(),
        7,
        "nothing refused was written"
    );
}

#[test]
fn escalation_climbs_one_level_at_a_time_up_to_departments() {
    let mut s = store("worker-a");
    let id = s.report_issue(new_issue()).unwrap();
    walk(&mut s, &id, &[K::Accept, K::Dispatch, K::Escalate]);
    let st = s.issue(&id).unwrap().status;
    assert_eq!(
        (st.stage, st.level, st.assignee),
        (Stage::Reported, Level::Community, None)
    );
    walk(&mut s, &id, &[K::Escalate, K::Accept, K::Escalate]);
    assert_eq!(s.issue(&id).unwrap().status.level, Level::Department);
    let err = s
        .append_event(&id, K::Escalate, StepInput::default())
        .unwrap_err();
    assert_eq!(field_of(err), "kind");
    walk(&mut s, &id, &[K::Accept, K::Dispatch, K::Handle]);
    assert_eq!(s.issue(&id).unwrap().status.stage, Stage::Handled);
}

#[test]
fn working_day_deadlines_skip_weekends_and_holidays() {
    let mut s = store("worker-a");
    let id = s.report_issue(new_issue()).unwrap();
    walk(&mut s, &id, &[K::Accept, K::Dispatch]);
    let i = s.issue(&id).unwrap();
    // Dispatched Thursday; 3 working days: Fri, Mon, Tue → due Wed 00:00.
    assert_eq!(s.issue_deadline(&i).unwrap(), Some(at(6, 0, 0)));
    s.set_work_calendar(&WorkCalendar::from_dates(&["2026-11-30"], &[]).unwrap())
        .unwrap();
    assert_eq!(s.work_calendar().unwrap().holidays.len(), 1);
    assert_eq!(s.issue_deadline(&i).unwrap(), Some(at(7, 0, 0)));
    let err = WorkCalendar::from_dates(&["2026-13-01"], &[]).unwrap_err();
    assert_eq!(field_of(err), "holidays");

    assert!(s.overdue_issues(Some(GRID)).unwrap().is_empty());
    assert!(s.issues_nearly_due(None, DAY).unwrap().is_empty());
    s.set_clock(Clock::Fixed(at(6, 12, 0)));
    let near = s.issues_nearly_due(Some(GRID), DAY).unwrap();
    assert_eq!(near.len(), 1);
    assert_eq!(near[0].deadline, Some(at(7, 0, 0)));
    s.set_clock(Clock::Fixed(at(7, 9, 0)));
    assert!(s.issues_nearly_due(Some(GRID), DAY).unwrap().is_empty());
    assert_eq!(s.overdue_issues(None).unwrap().len(), 1);
    assert!(
        s.overdue_issues(Some("110105001001002"))
            .unwrap()
            .is_empty()
    );
    // Handled: no longer chased, even though late.
    walk(&mut s, &id, &[K::Handle]);
    assert!(s.overdue_issues(None).unwrap().is_empty());
}

#[test]
fn working_hour_deadlines_count_office_hours_only() {
    let mut s = store("worker-a");
    s.set_clock(Clock::Fixed(at(1, 16, 0))); // Friday 16:00
    let id = s
        .report_issue(NewIssue {
            category: "livelihood".into(),
            subtype: "water_power".into(), // 4 working hours
            ..new_issue()
        })
        .unwrap();
    walk(&mut s, &id, &[K::Accept, K::Dispatch]);
    let i = s.issue(&id).unwrap();
    // Steps taken on one phone are 1 ms apart when its clock stands still:
    // dispatched at Friday 16:00 + 2 ms.
    assert_eq!(i.status.dispatched_at, Some(at(1, 16, 0) + 2));
    // One hour on Friday, three on Monday from 09:00.
    assert_eq!(s.issue_deadline(&i).unwrap(), Some(at(4, 12, 0) + 2));
    s.set_work_calendar(&WorkCalendar::from_dates(&[] as &[&str], &["2026-11-28"]).unwrap())
        .unwrap();
    assert_eq!(
        s.issue_deadline(&i).unwrap(),
        Some(at(2, 12, 0) + 2),
        "a make-up Saturday counts"
    );
}

#[test]
fn a_gas_leak_reported_friday_4pm_is_due_friday_6pm() {
    let mut s = store("worker-a");
    s.set_clock(Clock::Fixed(at(1, 16, 0))); // Friday 16:00
    let id = s
        .report_issue(NewIssue {
            category: "safety".into(),
            subtype: "gas".into(), // 2 natural hours, day and night
            ..new_issue()
        })
        .unwrap();
    walk(&mut s, &id, &[K::Accept, K::Dispatch]);
    let i = s.issue(&id).unwrap();
    assert_eq!(s.issue_deadline(&i).unwrap(), Some(at(1, 18, 0) + 2));
}

#[test]
fn two_phones_dispatching_at_once_leave_one_handler() {
    let mut a = store("worker-a");
    let id = a.report_issue(new_issue()).unwrap();
    walk(&mut a, &id, &[K::Accept]);
    let mut b = phone_from(&mut a, "leader-b", "supervisor");
    a.append_event(&id, K::Dispatch, input(K::Dispatch, "a", 0))
        .unwrap();
    b.append_event(&id, K::Dispatch, input(K::Dispatch, "b", 0))
        .unwrap();
    sync_all(&mut [&mut a, &mut b]);
    let sa = a.issue(&id).unwrap().status;
    assert_eq!(sa, b.issue(&id).unwrap().status);
    assert_eq!(sa.stage, Stage::Dispatched);
    assert!(sa.assignee.is_some());
    assert_eq!(sa.superseded.len(), 1);
    // Both events are kept and shown.
    assert_eq!(a.issue(&id).unwrap().events.len(), 4);
}

/// A status no event set may produce is refused here.
fn assert_valid(s: &Status, events: usize) {
    use Stage as S;
    let dispatched = matches!(
        s.stage,
        S::Dispatched | S::Handled | S::FedBack | S::Verified | S::Closed | S::Rated
    );
    if s.stage != S::Withdrawn {
        assert_eq!(s.assignee.is_some(), dispatched, "{s:?}");
    }
    assert_eq!(s.assignee.is_some(), s.dispatched_at.is_some(), "{s:?}");
    assert_eq!(s.rating.is_some(), s.stage == S::Rated, "{s:?}");
    assert_eq!(
        s.closed_at.is_some(),
        matches!(s.stage, S::Closed | S::Rated),
        "{s:?}"
    );
    assert_eq!(s.applied.len() + s.superseded.len(), events, "{s:?}");
}

#[test]
fn every_pair_of_concurrent_steps_converges_to_a_valid_status() {
    use K::*;
    let states: &[&[EventKind]] = &[
        &[],
        &[Accept],
        &[Accept, Dispatch],
        &[Accept, Dispatch, Handle],
        &[Accept, Dispatch, Handle, Feedback],
        &[Accept, Dispatch, Handle, Feedback, VerifyFail],
        &[Accept, Dispatch, Handle, Feedback, VerifyPass],
        &[Accept, Dispatch, Handle, Feedback, VerifyPass, Close],
        &[Accept, Dispatch, Handle, Feedback, VerifyPass, Close, Rate],
        &[Withdraw],
        &[Escalate],
        &[Escalate, Accept],
        &[Escalate, Escalate, Escalate, Accept, Dispatch],
    ];
    let kinds: Vec<EventKind> = EventKind::ALL
        .into_iter()
        .filter(|k| *k != Report)
        .collect();
    let mut pairs = 0;
    for path in states {
        let mut base = store("worker-a");
        let id = base.report_issue(new_issue()).unwrap();
        walk(&mut base, &id, path);
        let before = base.issue(&id).unwrap();
        let valid: Vec<EventKind> = kinds
            .iter()
            .copied()
            .filter(|&k| {
                let mut probe = phone_from(&mut base, "probe", "grid_worker");
                probe.append_event(&id, k, input(k, "p", 3)).is_ok()
            })
            .collect();
        // The refusal and the fold agree on what is valid here.
        for &k in &kinds {
            let mut st = before.status.clone();
            let e = gridsync_core::issue::Event {
                kind: k.code().into(),
                level: st.level.code().into(),
                at: st.last_at + 1,
                ..input_event(k)
            };
            assert_eq!(
                workflow::step(&mut st, &e).is_ok(),
                valid.contains(&k),
                "{path:?} {k:?}"
            );
        }
        for &ka in &valid {
            for &kb in &valid {
                for b_later in [false, true] {
                    let mut a = phone_from(&mut base, "worker-a", "grid_worker");
                    let mut b = phone_from(&mut base, "leader-b", "supervisor");
                    if b_later {
                        b.set_clock(Clock::Fixed(NOW + 60_000));
                    }
                    a.append_event(&id, ka, input(ka, "a", 5)).unwrap();
                    b.append_event(&id, kb, input(kb, "b", 2)).unwrap();
                    exchange(&mut a, &mut b); // b: its own step, then a's
                    exchange(&mut b, &mut a); // a: its own step, then b's
                    let (ia, ib) = (a.issue(&id).unwrap(), b.issue(&id).unwrap());
                    let ctx = format!("{path:?} + {ka:?} ∥ {kb:?} (b later: {b_later})");
                    assert_eq!(ia.events.len(), before.events.len() + 2, "{ctx}");
                    assert_eq!(ia.status, ib.status, "{ctx}");
                    assert_valid(&ia.status, ia.events.len());
                    // The step folded first always takes effect.
                    assert!(
                        ia.status.applied.len() > before.status.applied.len(),
                        "{ctx}"
                    );
                    pairs += 1;
                }
            }
        }
    }
    assert!(pairs >= 60, "only {pairs} pairs exercised");
}

fn input_event(k: EventKind) -> gridsync_core::issue::Event {
    let i = input(k, "p", 3);
    gridsync_core::issue::Event {
        assignee: i.assignee,
        note: i.note,
        rating: i.rating,
        ..Default::default()
    }
}

#[test]
fn an_out_of_role_step_is_refused_on_the_phone_at_once_with_the_reason() {
    use gridsync_core::issue::duty::Duty;
    let mut s = store("worker-a");
    let id = s.report_issue(new_issue()).unwrap();
    // Signed in as the grid's worker, as the server's login answer said.
    s.set_duty(Some(&Duty {
        user_id: "worker-a".into(),
        role: "grid_worker".into(),
        grids: vec![GRID.into()],
        ..Duty::default()
    }))
    .unwrap();
    walk(&mut s, &id, &[K::Accept, K::Dispatch]);
    // Dispatched to someone else: handling is theirs, not the worker's.
    let events = s.issue(&id).unwrap().events.len();
    match s.append_event(&id, K::Handle, input(K::Handle, "x", 5)) {
        Err(Error::Forbidden(r)) => {
            assert_eq!(
                r.zh,
                "网格员不能处置：只有被派遣的处置人或部门可以处置和反馈"
            );
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert_eq!(
        s.issue(&id).unwrap().events.len(),
        events,
        "nothing recorded"
    );
    // Escalated to the community, the worker may no longer accept it.
    let other = s.report_issue(new_issue()).unwrap();
    walk(&mut s, &other, &[K::Escalate]);
    match s.append_event(&other, K::Accept, input(K::Accept, "x", 5)) {
        Err(Error::Forbidden(r)) => assert!(r.zh.contains("社区层级"), "{}", r.zh),
        other => panic!("expected Forbidden, got {other:?}"),
    }
    // Without a known duty (signed in before the server told it), the
    // server decides at the next sync.
    s.set_duty(None).unwrap();
    walk(&mut s, &id, &[K::Handle]);
}

#[test]
fn waiting_to_be_accepted_has_its_own_time_limit_on_the_phone() {
    let mut s = store("worker-a");
    let id = s.report_issue(new_issue()).unwrap();
    // 待受理: one working day after the report's (Thursday's): by the end
    // of Friday.
    let i = s.issue(&id).unwrap();
    assert_eq!(s.issue_deadline(&i).unwrap(), Some(at(2, 0, 0)));
    assert!(s.overdue_issues(None).unwrap().is_empty());
    assert_eq!(s.issues_nearly_due(None, 2 * DAY).unwrap().len(), 1);
    s.set_clock(Clock::Fixed(at(2, 1, 0)));
    let late = s.overdue_issues(Some(GRID)).unwrap();
    assert_eq!(late.len(), 1, "not accepted in time");
    assert_eq!(late[0].stage, Stage::Reported);
    // Accepted: 待派遣 has no limit of its own, so it is not chased.
    walk(&mut s, &id, &[K::Accept]);
    assert!(s.overdue_issues(None).unwrap().is_empty());
}

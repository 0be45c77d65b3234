//! The guard's verdict on random edits, against the rules written down
//! here independently: random Automerge changes (made with Automerge's own
//! API, as any client could) to a household, a grid and an issue report,
//! by each role, under their own name or another's. Each change is judged
//! the way a push judges it (`admit`, then `check` on before and after);
//! the verdict must be what the table in docs/protocol.md ("What a change
//! may do") says.

use std::sync::OnceLock;

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{Automerge, ObjId, ObjType, ReadDoc, Value};
use gridsync_core::clock::Clock;
use gridsync_core::doc::Author;
use gridsync_core::household::{NewHousehold, Place, Resident, Visit};
use gridsync_core::issue::NewIssue;
use gridsync_core::shape;
use gridsync_core::{OpenOptions, Store};
use gridsync_server::principal::{Principal, Role};
use gridsync_server::scope::{Guard, Pushed};
use gridsync_server::store::WriteGuard;
use gridsync_server::sync::validate;
use proptest::prelude::*;

const G1: &str = "110105001001001";
const G2: &str = "110105001001002";
const NOW: i64 = 1_795_658_400_000;

/// Who pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// The grid's worker (created the records).
    Worker,
    /// A grid worker of another grid.
    Stranger,
    /// The household's package-holder.
    Holder,
    /// The community's supervisor.
    Supervisor,
    Admin,
    /// A department user (城管).
    Department,
}

fn principal(who: Who) -> Principal {
    let (id, role, grids, subtree, department) = match who {
        Who::Worker => ("worker", Role::GridWorker, vec![G1], None, None),
        Who::Stranger => ("stranger", Role::GridWorker, vec![G2], None, None),
        Who::Holder => ("holder", Role::PackageHolder, vec![], None, None),
        Who::Supervisor => ("sup", Role::Supervisor, vec![], Some("110105001001"), None),
        Who::Admin => ("admin", Role::Admin, vec![], None, None),
        Who::Department => ("dept", Role::Department, vec![], None, Some("chengguan")),
    };
    Principal {
        user_id: id.into(),
        username: id.into(),
        role,
        device_id: Some("d".into()),
        grids: grids.into_iter().map(String::from).collect(),
        subtree: subtree.map(String::from),
        department: department.map(String::from),
        post: None,
    }
}

/// The records every case starts from, as saved documents.
struct Base {
    household: (String, Vec<u8>),
    grid: (String, Vec<u8>),
    issue: (String, Vec<u8>),
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut s = Store::open_in_memory(OpenOptions {
            clock: Clock::Fixed(NOW),
            ..OpenOptions::default()
        })
        .unwrap();
        s.set_author(Author {
            user: "worker".into(),
            role: "grid_worker".into(),
        })
        .unwrap();
        s.create_grid(gridsync_core::grid::NewGrid {
            code: G1.into(),
            name: "第一网格".into(),
            community: "幸福社区".into(),
            street: "建国门街道".into(),
        })
        .unwrap();
        s.add_place(G1, "", "小区", "1号楼", "1单元").unwrap();
        s.add_place(G1, "", "小区", "2号楼", "1单元").unwrap();
        let h = s
            .create_household(NewHousehold {
                grid: G1.into(),
                place: Place {
                    compound: "小区".into(),
                    building: "1号楼".into(),
                    unit: "1单元".into(),
                    room: "101".into(),
                    ..Place::default()
                },
                holder: Some("holder".into()),
                residents: vec![Resident::named("张三"), Resident::named("李四")],
                ..NewHousehold::default()
            })
            .unwrap();
        let visit = |at| Visit {
            at,
            method: "in_person".into(),
            findings: "走访".into(),
            ..Visit::default()
        };
        s.add_visit(&h, visit(NOW - 5000)).unwrap();
        s.with_author(
            Author {
                user: "holder".into(),
                role: "package_holder".into(),
            },
            |s| s.add_visit(&h, visit(NOW - 4000)),
        )
        .unwrap();
        let i = s
            .report_issue(NewIssue {
                grid: G1.into(),
                category: "sanitation".into(),
                subtype: "garbage".into(),
                description: "垃圾堆放".into(),
                source: "patrol".into(),
                photos: vec!["ab".repeat(32)],
                ..NewIssue::default()
            })
            .unwrap();
        let g = s.grid(G1).unwrap().id;
        let saved = |s: &mut Store, id: &str| (id.to_string(), s.export_doc(id).unwrap());
        Base {
            household: saved(&mut s, &h),
            grid: saved(&mut s, &g),
            issue: saved(&mut s, &i),
        }
    })
}

/// An edit of a household.
#[derive(Debug, Clone)]
enum H {
    /// A visit under the pusher's own name and role.
    OwnVisit,
    /// A visit recorded as someone else.
    VisitAs,
    EditVisit(usize),
    DeleteVisit(usize),
    /// A correction: a new own visit naming an existing one.
    Correct(usize),
    DeleteResident(usize),
    ReplaceResident(usize),
    FlagRemoved(usize),
    Rename(usize),
    /// A note of this many characters.
    Note(usize, usize),
    Unknown,
    Room,
    CreatedAt,
}

#[derive(Debug, Clone)]
enum G {
    AddPlace,
    RemovePlace,
    Rename,
    Unknown,
}

#[derive(Debug, Clone)]
enum I {
    EditDescription,
    RemovePhoto,
    DeleteEvent,
    SetReporter,
    Unknown,
}

fn h_action() -> impl Strategy<Value = H> {
    prop_oneof![
        3 => Just(H::OwnVisit),
        1 => Just(H::VisitAs),
        1 => (0..2usize).prop_map(H::EditVisit),
        1 => (0..2usize).prop_map(H::DeleteVisit),
        1 => (0..2usize).prop_map(H::Correct),
        1 => (0..2usize).prop_map(H::DeleteResident),
        1 => (0..2usize).prop_map(H::ReplaceResident),
        2 => (0..2usize).prop_map(H::FlagRemoved),
        2 => (0..2usize).prop_map(H::Rename),
        2 => (0..2usize, prop_oneof![Just(10usize), Just(shape::NOTE_CHARS), Just(shape::NOTE_CHARS + 1)])
            .prop_map(|(r, n)| H::Note(r, n)),
        1 => Just(H::Unknown),
        2 => Just(H::Room),
        1 => Just(H::CreatedAt),
    ]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        3 => Just(Who::Worker),
        1 => Just(Who::Stranger),
        2 => Just(Who::Holder),
        2 => Just(Who::Supervisor),
        1 => Just(Who::Admin),
        1 => Just(Who::Department),
    ]
}

/// What the rules say of a household edit by `who` (in scope or not).
fn h_allowed(who: Who, a: &H) -> bool {
    match a {
        H::OwnVisit | H::Correct(_) | H::FlagRemoved(_) | H::Rename(_) => true,
        H::Note(_, n) => *n <= shape::NOTE_CHARS,
        H::Room => matches!(who, Who::Worker | Who::Supervisor | Who::Admin),
        H::VisitAs
        | H::EditVisit(_)
        | H::DeleteVisit(_)
        | H::DeleteResident(_)
        | H::ReplaceResident(_)
        | H::Unknown
        | H::CreatedAt => false,
    }
}

fn visitor_role(who: Who) -> &'static str {
    match who {
        Who::Worker | Who::Stranger => "grid_worker",
        Who::Holder => "package_holder",
        _ => "other",
    }
}

fn obj(d: &impl ReadDoc, parent: &ObjId, key: &str) -> Option<ObjId> {
    match d.get(parent, key).ok()? {
        Some((Value::Object(_), id)) => Some(id),
        _ => None,
    }
}

fn nth_key(d: &impl ReadDoc, map: &ObjId, n: usize) -> String {
    d.keys(map).nth(n).unwrap_or_default()
}

fn new_visit(
    tx: &mut Transaction<'_>,
    visits: &ObjId,
    visitor: &str,
    role: &str,
    corrects: Option<&str>,
) -> Result<(), automerge::AutomergeError> {
    let v = tx.put_object(visits, uuid::Uuid::now_v7().to_string(), ObjType::Map)?;
    tx.put(&v, "visitor", visitor)?;
    tx.put(&v, "role", role)?;
    tx.put(&v, "at", NOW - 1000)?;
    tx.put(&v, "method", "phone")?;
    tx.put(&v, "findings", "电话回访")?;
    if let Some(c) = corrects {
        tx.put(&v, "corrects", c)?;
    }
    Ok(())
}

fn apply_h(tx: &mut Transaction<'_>, who: Who, a: &H) -> Result<(), automerge::AutomergeError> {
    let residents = obj(&*tx, &automerge::ROOT, "residents").unwrap();
    let visits = obj(&*tx, &automerge::ROOT, "visits").unwrap();
    let me = principal(who).user_id;
    let resident = |tx: &Transaction<'_>, n| {
        let key = nth_key(tx, &residents, n);
        (key.clone(), obj(tx, &residents, &key))
    };
    match a {
        H::OwnVisit => new_visit(tx, &visits, &me, visitor_role(who), None),
        H::VisitAs => new_visit(tx, &visits, "someone-else", visitor_role(who), None),
        H::Correct(n) => {
            let key = nth_key(&*tx, &visits, *n);
            new_visit(tx, &visits, &me, visitor_role(who), Some(&key))
        }
        H::EditVisit(n) => {
            let key = nth_key(&*tx, &visits, *n);
            match obj(&*tx, &visits, &key) {
                Some(v) => tx.put(&v, "findings", "改过"),
                None => Ok(()),
            }
        }
        H::DeleteVisit(n) => {
            let key = nth_key(&*tx, &visits, *n);
            tx.delete(&visits, key.as_str())
        }
        H::DeleteResident(n) => {
            let (key, _) = resident(tx, *n);
            tx.delete(&residents, key.as_str())
        }
        H::ReplaceResident(n) => {
            let (key, _) = resident(tx, *n);
            let r = tx.put_object(&residents, key.as_str(), ObjType::Map)?;
            tx.put(&r, "name", "张三")
        }
        H::FlagRemoved(n) => match resident(tx, *n).1 {
            Some(r) => tx.put(&r, "removed", true),
            None => Ok(()),
        },
        H::Rename(n) => match resident(tx, *n).1 {
            Some(r) => tx.put(&r, "name", "王五"),
            None => Ok(()),
        },
        H::Note(n, len) => match resident(tx, *n).1 {
            Some(r) => tx.put(&r, "note", "备".repeat(*len)),
            None => Ok(()),
        },
        H::Unknown => tx.put(automerge::ROOT, "nickname", "x"),
        H::Room => {
            let place = obj(&*tx, &automerge::ROOT, "place").unwrap();
            tx.put(&place, "room", "102")
        }
        H::CreatedAt => tx.put(automerge::ROOT, "created_at", NOW - 1),
    }
}

fn g_allowed(who: Who, a: &G) -> bool {
    match a {
        G::AddPlace => true,
        G::RemovePlace | G::Rename => who == Who::Admin,
        G::Unknown => false,
    }
}

fn apply_g(tx: &mut Transaction<'_>, a: &G) -> Result<(), automerge::AutomergeError> {
    let places = obj(&*tx, &automerge::ROOT, "places").unwrap();
    match a {
        G::AddPlace => tx.put(&places, "/小区/9号楼/1单元", true),
        G::RemovePlace => {
            let key = nth_key(&*tx, &places, 0);
            tx.delete(&places, key.as_str())
        }
        G::Rename => tx.put(automerge::ROOT, "community", "别的社区"),
        G::Unknown => tx.put(automerge::ROOT, "secret", 1),
    }
}

fn i_allowed(who: Who, a: &I) -> bool {
    match a {
        I::EditDescription => who != Who::Department,
        I::RemovePhoto | I::DeleteEvent | I::SetReporter | I::Unknown => false,
    }
}

fn apply_i(tx: &mut Transaction<'_>, a: &I) -> Result<(), automerge::AutomergeError> {
    match a {
        I::EditDescription => tx.put(automerge::ROOT, "description", "垃圾已清走一半"),
        I::RemovePhoto => {
            let photos = obj(&*tx, &automerge::ROOT, "photos").unwrap();
            tx.delete(&photos, 0)
        }
        I::DeleteEvent => {
            let events = obj(&*tx, &automerge::ROOT, "events").unwrap();
            let key = nth_key(&*tx, &events, 0);
            tx.delete(&events, key.as_str())
        }
        I::SetReporter => tx.put(automerge::ROOT, "reporter", "someone-else"),
        I::Unknown => tx.put(automerge::ROOT, "extra", "x"),
    }
}

/// The guard's verdict on one change made by `edit` to `(id, saved)`,
/// pushed by `who` with its message naming `by`: `None` when there was no
/// change to make.
fn verdict(
    (id, saved): &(String, Vec<u8>),
    who: Who,
    by: &str,
    edit: impl FnOnce(&mut Transaction<'_>) -> Result<(), automerge::AutomergeError>,
) -> Option<bool> {
    let before = Automerge::load(saved).unwrap();
    let mut after = before.clone();
    let note = serde_json::json!({"by": by, "op": "edit"}).to_string();
    let done = after
        .transact_with::<_, _, automerge::AutomergeError, _>(
            |_| CommitOptions::default().with_message(note),
            edit,
        )
        .ok()?;
    done.hash?;
    let change = after.get_last_local_change().unwrap().clone();
    let guard = Guard::new(principal(who), validate::document);
    if guard.admit(&change).is_err() {
        return Some(false);
    }
    let facts = validate::document(id, &before).unwrap().facts;
    let op = "edit".to_string();
    // Judged by what the change touched, a push passes only as it passes
    // judged whole.
    let ops = [op.clone()];
    let push = Pushed {
        doc_id: id,
        before: Some(&facts),
        docs: (&before, &after),
        ops: &ops,
    };
    if let Some(quick) = guard.judge_touched(&push, &[change.raw_bytes()]) {
        let whole = guard.judge_whole(&push);
        assert_eq!(
            whole.ok(),
            Some(quick),
            "judged by what it touched, it passed"
        );
    }
    Some(
        guard
            .check(
                id,
                Some(&facts),
                &before,
                &after,
                &[op],
                &[change.raw_bytes()],
            )
            .is_ok(),
    )
}

fn own(by_self: bool, who: Who) -> String {
    if by_self {
        principal(who).user_id
    } else {
        "someone-else".into()
    }
}

/// One push of `changes` (made in `edits`, each on its own copy of
/// `doc`, so they are concurrent) by `who`, judged both ways: by what it
/// touched (`None` when that path is not taken) and whole. `None` when
/// no edit made a change.
#[allow(clippy::type_complexity)]
fn judged_both(
    (id, doc): (&str, &Automerge),
    who: Who,
    edits: &[Vec<H>],
) -> Option<(
    Automerge,
    Option<gridsync_server::store::DocFacts>,
    Result<gridsync_server::store::DocFacts, gridsync_server::store::Refusal>,
)> {
    let me = principal(who).user_id;
    let note = serde_json::json!({"by": me, "op": "edit"}).to_string();
    let mut after = doc.clone();
    let mut changes: Vec<automerge::Change> = Vec::new();
    for (n, actions) in edits.iter().enumerate() {
        let mut copy = if n == 0 { doc.clone() } else { doc.fork() };
        let done = copy
            .transact_with::<_, _, automerge::AutomergeError, _>(
                |_| CommitOptions::default().with_message(note.clone()),
                |tx| {
                    for a in actions {
                        apply_h(tx, who, a)?;
                    }
                    Ok(())
                },
            )
            .ok()?;
        if done.hash.is_none() {
            continue;
        }
        let change = copy.get_last_local_change()?.clone();
        after.apply_changes([change.clone()]).ok()?;
        changes.push(change);
    }
    if changes.is_empty() {
        return None;
    }
    let guard = Guard::new(principal(who), validate::document);
    let before = validate::document(id, doc).ok().map(|v| v.facts);
    let ops = vec!["edit".to_string(); changes.len()];
    let bytes: Vec<&[u8]> = changes.iter().map(|c| c.raw_bytes()).collect();
    let push = Pushed {
        doc_id: id,
        before: before.as_ref(),
        docs: (doc, &after),
        ops: &ops,
    };
    let quick = guard.judge_touched(&push, &bytes);
    let record = validate::kept(id, &after);
    let whole = guard.judge_whole(&push);
    if quick.is_some() {
        // Read whole, the document after is the record the quick path made.
        assert_eq!(validate::kept(id, &after), record, "{edits:?} by {who:?}");
    }
    Some((after, quick, whole))
}

/// The quick judgement is taken for the common pushes (visits added,
/// residents edited) and never for what it cannot tell; where it is taken
/// it answers as the whole document's.
#[test]
fn a_push_is_judged_by_what_it_touched_where_that_can_be_told() {
    let (id, saved) = &base().household;
    let doc = Automerge::load(saved).unwrap();
    let cases: Vec<(Who, Vec<Vec<H>>, bool, bool)> = vec![
        // (who, concurrent edits, judged quickly, passes)
        (Who::Worker, vec![vec![H::OwnVisit]], true, true),
        (Who::Holder, vec![vec![H::OwnVisit]], true, true),
        (Who::Worker, vec![vec![H::Rename(0)]], true, true),
        (
            Who::Worker,
            vec![vec![H::OwnVisit, H::Rename(1), H::FlagRemoved(0)]],
            true,
            true,
        ),
        (
            Who::Worker,
            vec![vec![H::OwnVisit], vec![H::OwnVisit, H::Correct(0)]],
            true,
            true,
        ),
        (
            Who::Worker,
            vec![vec![H::Rename(0)], vec![H::Rename(0)]],
            true,
            true,
        ),
        // Root writes and the place: judged whole.
        (Who::Worker, vec![vec![H::Room]], false, true),
        (
            Who::Worker,
            vec![vec![H::OwnVisit, H::Unknown]],
            false,
            false,
        ),
        (Who::Worker, vec![vec![H::CreatedAt]], false, false),
        // Refused: never passed quickly.
        (Who::Worker, vec![vec![H::VisitAs]], false, false),
        (Who::Worker, vec![vec![H::EditVisit(0)]], false, false),
        (Who::Worker, vec![vec![H::DeleteVisit(1)]], false, false),
        (Who::Worker, vec![vec![H::DeleteResident(0)]], false, false),
        (Who::Worker, vec![vec![H::ReplaceResident(0)]], false, false),
        (
            Who::Worker,
            vec![vec![H::Note(0, shape::NOTE_CHARS + 1)]],
            false,
            false,
        ),
        (Who::Stranger, vec![vec![H::OwnVisit]], false, false),
        (Who::Department, vec![vec![H::OwnVisit]], false, false),
        (
            Who::Worker,
            vec![vec![H::OwnVisit], vec![H::ReplaceResident(1)]],
            false,
            false,
        ),
    ];
    for (who, edits, quickly, passes) in cases {
        let (_, quick, whole) = judged_both((id, &doc), who, &edits).unwrap();
        assert_eq!(quick.is_some(), quickly, "{edits:?} by {who:?}: {whole:?}");
        assert_eq!(whole.is_ok(), passes, "{edits:?} by {who:?}: {whole:?}");
        if let Some(q) = quick {
            assert_eq!(whole.ok(), Some(q), "{edits:?} by {who:?}");
        }
    }
    // A version whose record was only read, never validated, is judged
    // whole: its entries were never checked.
    let with_visit = |d: &Automerge| {
        let mut d = d.clone();
        d.transact_with::<_, _, automerge::AutomergeError, _>(
            |_| CommitOptions::default().with_message(r#"{"by":"worker","op":"edit"}"#),
            |tx| apply_h(tx, Who::Worker, &H::OwnVisit),
        )
        .unwrap();
        let change = d.get_last_local_change().unwrap().clone();
        (d, change)
    };
    let (stored, _) = with_visit(&doc.fork());
    let (pushed, change) = with_visit(&stored);
    let guard = Guard::new(principal(Who::Worker), validate::document);
    let ops = ["edit".to_string()];
    // Kind, grid and holder: the base's, which the visit does not change.
    let facts = Some(validate::document(id, &doc).unwrap().facts);
    let push = Pushed {
        doc_id: id,
        before: facts.as_ref(),
        docs: (&stored, &pushed),
        ops: &ops,
    };
    let judge = || guard.judge_touched(&push, &[change.raw_bytes()]);
    assert_eq!(judge(), None, "never read");
    validate::read_record(id, &stored).unwrap();
    assert_eq!(judge(), None, "only read, never validated");
    validate::document(id, &stored).unwrap();
    assert!(judge().is_some(), "validated");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Pushes one after another, each of one to three concurrent changes:
    /// wherever the quick judgement is taken, it is the whole document's.
    #[test]
    fn pushes_judged_by_what_they_touched_are_judged_as_whole(
        pushes in prop::collection::vec(
            (who(), prop::collection::vec(prop::collection::vec(h_action(), 1..=3), 1..=3)),
            1..=4)) {
        let (id, saved) = &base().household;
        let mut doc = Automerge::load(saved).unwrap();
        for (who, edits) in pushes {
            let Some((after, quick, whole)) = judged_both((id, &doc), who, &edits) else {
                continue;
            };
            if let Some(q) = quick {
                prop_assert_eq!(whole.clone().ok(), Some(q), "{:?} by {:?}", edits, who);
            }
            if whole.is_ok() {
                doc = after;
            }
        }
    }

    #[test]
    fn household_edits(who in who(), by_self in prop::bool::weighted(0.9),
                       actions in prop::collection::vec(h_action(), 1..=3)) {
        let in_scope = matches!(who, Who::Worker | Who::Holder | Who::Supervisor | Who::Admin);
        // A later note on the same resident overwrites an earlier one:
        // only the last counts.
        let last_note = |i: usize, r: usize| !actions[i + 1..].iter().any(|b| matches!(b, H::Note(q, _) if *q == r));
        let expected = by_self && in_scope && actions.iter().enumerate().all(|(i, a)| match a {
            H::Note(r, _) if !last_note(i, *r) => true,
            _ => h_allowed(who, a),
        });
        let got = verdict(&base().household, who, &own(by_self, who), |tx| {
            for a in &actions { apply_h(tx, who, a)?; }
            Ok(())
        });
        prop_assume!(got.is_some());
        prop_assert_eq!(got, Some(expected), "{:?} by {:?} (own name: {})", actions, who, by_self);
    }

    #[test]
    fn grid_edits(who in who(), by_self in prop::bool::weighted(0.9),
                  actions in prop::collection::vec(
                      prop_oneof![3 => Just(G::AddPlace), 1 => Just(G::RemovePlace), 1 => Just(G::Rename), 1 => Just(G::Unknown)],
                      1..=3)) {
        let in_scope = matches!(who, Who::Worker | Who::Supervisor | Who::Admin);
        let expected = by_self && in_scope && actions.iter().all(|a| g_allowed(who, a));
        let got = verdict(&base().grid, who, &own(by_self, who), |tx| {
            for a in &actions { apply_g(tx, a)?; }
            Ok(())
        });
        prop_assume!(got.is_some());
        prop_assert_eq!(got, Some(expected), "{:?} by {:?} (own name: {})", actions, who, by_self);
    }

    #[test]
    fn issue_edits(who in who(), by_self in prop::bool::weighted(0.9),
                   actions in prop::collection::vec(
                       prop_oneof![3 => Just(I::EditDescription), 1 => Just(I::RemovePhoto), 1 => Just(I::DeleteEvent), 1 => Just(I::SetReporter), 1 => Just(I::Unknown)],
                       1..=3)) {
        // A report not dispatched to any department: a department user may
        // not touch it.
        let in_scope = matches!(who, Who::Worker | Who::Supervisor | Who::Admin);
        let expected = by_self && in_scope && actions.iter().all(|a| i_allowed(who, a));
        let got = verdict(&base().issue, who, &own(by_self, who), |tx| {
            for a in &actions { apply_i(tx, a)?; }
            Ok(())
        });
        prop_assume!(got.is_some());
        prop_assert_eq!(got, Some(expected), "{:?} by {:?} (own name: {})", actions, who, by_self);
    }
}

/// What validation read of a document at given heads is what the next
/// push's guard reads as its "before" (not read again), and a document
/// at other heads is read anew: the record a change is judged against is
/// always the document's own at that version.
#[test]
fn a_record_is_read_once_per_version() {
    let (id, saved) = &base().household;
    let before = Automerge::load(saved).unwrap();
    let validated = validate::document(id, &before).unwrap().record;
    let again = validate::read_record(id, &before).unwrap();
    assert!(std::sync::Arc::ptr_eq(&validated, &again));
    let mut after = before.clone();
    after
        .transact_with::<_, _, automerge::AutomergeError, _>(
            |_| CommitOptions::default().with_message(r#"{"by":"worker","op":"edit"}"#.to_string()),
            |tx| {
                let place = obj(tx, &automerge::ROOT, "place").unwrap();
                tx.put(&place, "room", "102")?;
                Ok(())
            },
        )
        .unwrap();
    let changed = validate::read_record(id, &after).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&validated, &changed));
    let room = |r: &validate::Record| match r {
        validate::Record::Household(h) => h.place.room.clone(),
        _ => String::new(),
    };
    assert_eq!(room(&validated), "101");
    assert_eq!(room(&changed), "102");
    // The same heads under another document's id are that document's.
    let other = validate::read_record("another-id", &before).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&validated, &other));
}

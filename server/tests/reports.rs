//! The issue report read model on SQLite and PostgreSQL: it follows pushes,
//! lists overdue and nearly-due reports by scope, and counts open reports
//! by category and stage.

use std::sync::Arc;

use gridsync_core::clock::Clock;
use gridsync_core::issue::{EventKind, NewIssue, StepInput};
use gridsync_core::{OpenOptions, Store};
use gridsync_server::principal::Role;
use gridsync_server::reports::{ReportScope, Reports};
use gridsync_server::store::DocStore;

use crate::store::{G1, G2, guard, outbox_after, principal};

/// When the phone's steps are taken.
const T0: i64 = 1_795_658_400_000;
const DAY: i64 = 24 * 3600 * 1000;

fn phone() -> Store {
    let mut s = Store::open_in_memory(OpenOptions {
        clock: Clock::Fixed(T0),
        ..OpenOptions::default()
    })
    .unwrap();
    for code in [G1, G2] {
        s.create_grid(gridsync_core::grid::NewGrid {
            code: code.into(),
            name: "网格".into(),
            community: "社区".into(),
            street: "街道".into(),
        })
        .unwrap();
    }
    s
}

fn report(s: &mut Store, grid: &str, subtype: &str) -> String {
    s.report_issue(NewIssue {
        grid: grid.into(),
        category: "sanitation".into(),
        subtype: subtype.into(),
        description: "垃圾堆放".into(),
        source: "patrol".into(),
        ..NewIssue::default()
    })
    .unwrap()
}

fn dispatch(s: &mut Store, id: &str, to: &str) {
    s.append_event(id, EventKind::Accept, StepInput::default())
        .unwrap();
    s.append_event(
        id,
        EventKind::Dispatch,
        StepInput {
            assignee: Some(to.into()),
            ..StepInput::default()
        },
    )
    .unwrap();
}

/// Push what `s` did since its outbox held `before` entries, as the
/// server itself (whose pushes may carry any author: the phones here act
/// as several people; who may take which step is tested in `scope`).
async fn push(docs: &dyn DocStore, s: &Store, before: usize) {
    let out = docs
        .push(
            outbox_after(s, before),
            None,
            None,
            guard(gridsync_server::sync::server_principal()),
        )
        .await
        .unwrap();
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
}

fn scope(prefixes: &[&str], department: Option<&str>) -> ReportScope {
    ReportScope {
        prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        department: department.map(str::to_owned),
    }
}

async fn ids(reports: &Reports, s: &ReportScope, now: i64) -> Vec<String> {
    let mut v: Vec<String> = reports
        .overdue(s, now, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn suite(reports: Reports, docs: Arc<dyn DocStore>) {
    let mut s = phone();
    let a = report(&mut s, G1, "garbage");
    let b = report(&mut s, G1, "sewage");
    let c = report(&mut s, G1, "garbage");
    let d = report(&mut s, G2, "garbage");
    dispatch(&mut s, &a, "dept:chengguan");
    dispatch(&mut s, &b, "0190d6f0-0000-7000-8000-000000000001");
    dispatch(&mut s, &d, "dept:zhujian");
    push(docs.as_ref(), &s, 0).await;

    let later = T0 + 30 * DAY;
    assert!(ids(&reports, &scope(&[G1], None), T0).await.is_empty());
    assert_eq!(
        ids(&reports, &scope(&[G1], None), later).await,
        sorted(vec![a.clone(), b.clone()])
    );
    assert_eq!(
        ids(&reports, &scope(&[], Some("chengguan")), later).await,
        vec![a.clone()]
    );
    assert_eq!(
        ids(&reports, &scope(&["110105001"], None), later).await,
        sorted(vec![a.clone(), b.clone(), d.clone()])
    );
    assert!(
        ids(&reports, &ReportScope::default(), later)
            .await
            .is_empty()
    );
    assert!(
        ids(&reports, &scope(&["110105002"], None), later)
            .await
            .is_empty()
    );

    // Most overdue first: sewage (1 working day) before garbage (2).
    let rows = reports
        .overdue(&scope(&[""], None), later, 2)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].id, b);
    assert!(rows[0].deadline <= rows[1].deadline);
    assert_eq!(rows[0].stage, "dispatched");
    assert_eq!(rows[0].dispatched_at, Some(T0 + 2));

    let nearly: Vec<String> = reports
        .nearly_due(&scope(&[""], None), T0, 10 * DAY, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        sorted(nearly),
        sorted(vec![a.clone(), b.clone(), d.clone()])
    );

    let counts = reports.counts_by_category_stage("", later).await.unwrap();
    let open: i64 = counts.iter().map(|c| c.open).sum();
    let overdue: i64 = counts.iter().map(|c| c.overdue).sum();
    assert_eq!((open, overdue), (4, 3));
    let reported = counts
        .iter()
        .find(|c| c.stage == "reported")
        .expect("c is still reported");
    assert_eq!(
        (reported.category.as_str(), reported.open),
        ("sanitation", 1)
    );
    let g2 = reports.counts_by_category_stage(G2, later).await.unwrap();
    assert_eq!(g2.len(), 1);
    assert_eq!((g2[0].open, g2[0].overdue), (1, 1));

    // The read model follows later pushes: handled is no longer overdue,
    // withdrawn no longer open.
    let before = s.outbox(100_000).unwrap().len();
    s.append_event(&a, EventKind::Handle, StepInput::default())
        .unwrap();
    s.append_event(
        &c,
        EventKind::Withdraw,
        StepInput {
            note: Some("重复上报".into()),
            ..StepInput::default()
        },
    )
    .unwrap();
    push(docs.as_ref(), &s, before).await;
    assert_eq!(
        ids(&reports, &scope(&[G1], None), later).await,
        vec![b.clone()]
    );
    assert!(
        ids(&reports, &scope(&[], Some("chengguan")), later)
            .await
            .is_empty()
    );
    let open: i64 = reports
        .counts_by_category_stage("", later)
        .await
        .unwrap()
        .iter()
        .map(|c| c.open)
        .sum();
    assert_eq!(open, 3);
    // Nothing left to project.
    assert_eq!(reports.catch_up().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_model_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let pool = gridsync_server::db::open(&dir.path().join("s.sqlite3"))
        .await
        .unwrap();
    let docs: Arc<dyn DocStore> = Arc::new(gridsync_server::store::sqlite::SqliteDocStore::new(
        pool.clone(),
    ));
    suite(Reports::sqlite(pool, docs.clone()), docs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_model_on_postgres() {
    let Some(db) = gridsync_tests::PgDatabase::fresh() else {
        return;
    };
    let pool = gridsync_server::pg::open(&db.url).await.unwrap();
    let docs: Arc<dyn DocStore> = Arc::new(gridsync_server::store::postgres::PgDocStore::new(
        pool.clone(),
    ));
    suite(Reports::postgres(pool, docs.clone()), docs).await;
}

#[test]
fn holidays_from_the_data_directory_move_deadlines() {
    use gridsync_core::issue::WorkCalendar;
    use gridsync_core::issue::deadline::format_date;
    use gridsync_server::reports::{CALENDAR_FILE, load_calendar, row_of};

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(load_calendar(dir.path()).unwrap(), WorkCalendar::default());
    // The ten days from the dispatch on are holidays.
    let first = time::OffsetDateTime::from_unix_timestamp(T0 / 1000)
        .unwrap()
        .to_offset(time::macros::offset!(+8))
        .date();
    let days: Vec<String> = (0..10)
        .map(|d| format_date(first + time::Duration::days(d)))
        .collect();
    std::fs::write(
        dir.path().join(CALENDAR_FILE),
        serde_json::json!({ "holidays": days }).to_string(),
    )
    .unwrap();
    let calendar = load_calendar(dir.path()).unwrap();
    assert_eq!(calendar.holidays.len(), 10);

    let mut s = phone();
    let a = report(&mut s, G1, "garbage");
    dispatch(&mut s, &a, "dept:chengguan");
    let issue = s.issue(&a).unwrap();
    let plain = row_of(&issue, &WorkCalendar::default()).deadline.unwrap();
    let with_holidays = row_of(&issue, &calendar).deadline.unwrap();
    assert!(with_holidays >= plain + 7 * DAY, "{plain} {with_holidays}");

    std::fs::write(
        dir.path().join(CALENDAR_FILE),
        r#"{"holidays": ["2026-13-01"]}"#,
    )
    .unwrap();
    assert!(load_calendar(dir.path()).is_err());
}

/// A step the pusher's role may not take is refused with `role_forbids`
/// and the step's name, and nothing of it is stored: not in the log, not
/// in the document, not in the read model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_step_is_stored_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let pool = gridsync_server::db::open(&dir.path().join("s.sqlite3"))
        .await
        .unwrap();
    let docs: Arc<dyn DocStore> = Arc::new(gridsync_server::store::sqlite::SqliteDocStore::new(
        pool.clone(),
    ));
    let reports = Reports::sqlite(pool, docs.clone());
    let mut s = phone();
    let a = report(&mut s, G1, "garbage");
    dispatch(&mut s, &a, "dept:chengguan");
    push(docs.as_ref(), &s, 0).await;
    let seq = docs.max_seq().await.unwrap();
    let stored = docs.load(&a).await.unwrap().unwrap();

    // The grid's worker records handling of a report dispatched to 城管.
    let worker = principal(Role::GridWorker, &[G1]);
    s.set_author(gridsync_core::doc::Author {
        user: worker.user_id.clone(),
        role: worker.role.code().into(),
    })
    .unwrap();
    let before = s.outbox(100_000).unwrap().len();
    s.append_event(&a, EventKind::Handle, StepInput::default())
        .unwrap();
    let out = docs
        .push(outbox_after(&s, before), None, None, guard(worker))
        .await
        .unwrap();
    assert_eq!(out.stored, 0);
    assert_eq!(out.rejected.len(), 1);
    let refusal = &out.rejected[0].refusal;
    assert_eq!(refusal.code, "role_forbids");
    assert!(refusal.reason.contains("处置"), "{}", refusal.reason);
    assert!(refusal.reason.contains("handle"), "{}", refusal.reason);
    assert_eq!(docs.max_seq().await.unwrap(), seq);
    assert_eq!(docs.load(&a).await.unwrap().unwrap(), stored);
    let row = reports
        .nearly_due(&scope(&[G1], None), T0, 30 * DAY, 10)
        .await
        .unwrap();
    assert_eq!(row.len(), 1);
    assert_eq!(row[0].stage, "dispatched");
}

#[tokio::test]
async fn a_city_catalogue_from_the_data_directory_replaces_the_seed() {
    use gridsync_core::issue::catalogue;
    use gridsync_server::reports::CATALOGUE_FILE;

    // Not valid: the server does not start, and says which field.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CATALOGUE_FILE),
        r#"{"categories": [{"code": "a", "name": "甲", "subtypes": [
            {"code": "x", "name": "乙", "limit": {"working_days": 0}}]}]}"#,
    )
    .unwrap();
    let err =
        gridsync_server::AppState::open(gridsync_server::config::Config::with_data_dir(dir.path()))
            .await
            .err()
            .expect("refused");
    let text = format!("{err:#}");
    assert!(text.contains(CATALOGUE_FILE), "{text}");
    assert!(text.contains("categories[0].subtypes[0].limit"), "{text}");
    assert!(catalogue::category("a").is_none(), "nothing installed");

    // The seed plus a city's own category (so that other tests in this
    // process, which use the seed's codes, are unaffected).
    let mut file: serde_json::Value =
        serde_json::from_str(&catalogue::to_json(catalogue::CATALOGUE)).unwrap();
    file["categories"].as_array_mut().unwrap().push(serde_json::json!({
        "code": "city_heat", "name": "高温防暑",
        "subtypes": [{ "code": "outdoor", "name": "户外作业防暑", "limit": { "natural_hours": 6 },
                       "department": "renshe" }]
    }));
    // A server started before it: the rules' tag every sync answer names.
    let running = tempfile::tempdir().unwrap();
    let running = gridsync_server::AppState::open(gridsync_server::config::Config::with_data_dir(
        running.path(),
    ))
    .await
    .unwrap();
    let tag_before = running.reports.rules().etag.clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CATALOGUE_FILE), file.to_string()).unwrap();
    let opened =
        gridsync_server::AppState::open(gridsync_server::config::Config::with_data_dir(dir.path()))
            .await
            .unwrap();
    // The tag follows the catalogue installed, on either.
    let tag = opened.reports.rules().etag.clone();
    assert_ne!(tag, tag_before, "a new catalogue, a new tag");
    assert_eq!(running.reports.rules().etag, tag);
    assert!(opened.reports.rules().body.contains("city_heat"));
    let heat = catalogue::subtype("city_heat", "outdoor").expect("installed");
    assert_eq!(heat.limit, gridsync_core::issue::Limit::NaturalHours(6));
    assert_eq!(heat.department, Some("renshe"));
    assert_eq!(catalogue::category("city_heat").unwrap().name, "高温防暑");
    assert!(
        catalogue::subtype("safety", "gas").is_some(),
        "the seed's kept"
    );
}

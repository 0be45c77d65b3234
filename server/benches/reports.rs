//! The issue report read model: 10,000 reports across a street of 20 grids
//! (four communities of five), two thirds of them dispatched over the last
//! six weeks, so many are overdue. Measures projecting them from the change
//! log once, then the overdue and nearly-due lists in the server process
//! (p50/p99 over many queries, each first checking the projector is caught
//! up) for a street supervisor, a community supervisor, a grid worker and
//! a department; on SQLite, and on PostgreSQL when
//! `GRIDSYNC_TEST_DATABASE_URL` is set. Then the phone's own overdue list
//! (sync-core, folding a grid's 500 reports without projection tables).
//!
//! Run: `cargo bench -p gridsync-server --bench reports`

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use gridsync_core::clock::Clock;
use gridsync_core::issue::{EventKind, NewIssue, StepInput};
use gridsync_core::{OpenOptions, Store};
use gridsync_server::principal::{Principal, Role};
use gridsync_server::reports::{ReportScope, Reports};
use gridsync_server::scope::Guard;
use gridsync_server::store::{DocStore, IncomingChange};

const STREET: &str = "110105001";
const REPORTS: usize = 10_000;
const GRIDS: usize = 20;
const RUNS: usize = 1_000;
const DAY: i64 = 24 * 3600 * 1000;
const SUBTYPES: [(&str, &str); 4] = [
    ("sanitation", "garbage"),
    ("sanitation", "sewage"),
    ("dispute", "neighbour"),
    ("safety", "fire"),
];
const DEPARTMENTS: [&str; 3] = ["chengguan", "zhujian", "xiaofang"];

fn grid(i: usize) -> String {
    // Four communities of five grids.
    format!("{STREET}{:03}{:03}", i / 5 + 1, i % 5 + 1)
}

/// A phone whose clock reads `at`, knowing every grid of the street.
fn phone(at: i64) -> Store {
    let mut s = Store::open_in_memory(OpenOptions {
        clock: Clock::Fixed(at),
        ..OpenOptions::default()
    })
    .unwrap();
    for g in 0..GRIDS {
        s.create_grid(gridsync_core::grid::NewGrid {
            code: grid(g),
            name: format!("第{}网格", g + 1),
            community: "社区".into(),
            street: "街道".into(),
        })
        .unwrap();
    }
    s
}

/// `n` reports written by phones whose clocks spread over six weeks
/// before `now`: a third left reported, the rest accepted and dispatched
/// (half to departments). Returns the changes to push.
fn reports(n: usize, now: i64, grids: &[String]) -> Vec<IncomingChange> {
    let phones = 42;
    let mut out = Vec::new();
    for p in 0..phones {
        let at = now - (phones - p) as i64 * DAY;
        let mut s = phone(at);
        let before = s.outbox(usize::MAX).unwrap().len();
        for i in (p..n).step_by(phones) {
            let (category, subtype) = SUBTYPES[i % SUBTYPES.len()];
            let id = s
                .report_issue(NewIssue {
                    grid: grids[i % grids.len()].clone(),
                    category: category.into(),
                    subtype: subtype.into(),
                    description: "巡查发现的问题".into(),
                    source: "patrol".into(),
                    ..NewIssue::default()
                })
                .unwrap();
            if i % 3 == 0 {
                continue;
            }
            s.append_event(&id, EventKind::Accept, StepInput::default())
                .unwrap();
            let assignee = if i % 2 == 0 {
                format!("dept:{}", DEPARTMENTS[(i / 4) % DEPARTMENTS.len()])
            } else {
                "0190d6f0-0000-7000-8000-000000000001".to_owned()
            };
            s.append_event(
                &id,
                EventKind::Dispatch,
                StepInput {
                    assignee: Some(assignee),
                    ..StepInput::default()
                },
            )
            .unwrap();
        }
        out.extend(
            s.outbox(usize::MAX)
                .unwrap()
                .into_iter()
                .skip(before)
                .map(|e| IncomingChange {
                    doc_id: e.doc_id,
                    data: e.data,
                }),
        );
    }
    out
}

fn admin() -> Principal {
    Principal {
        user_id: "bench".into(),
        username: "bench".into(),
        role: Role::Admin,
        device_id: None,
        grids: Vec::new(),
        subtree: None,
        department: None,
        post: None,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(name: &str, reports: Reports, docs: Arc<dyn DocStore>, changes: Vec<IncomingChange>) {
    let started = Instant::now();
    for batch in changes.chunks(5_000) {
        let out = docs
            .push(
                batch.to_vec(),
                None,
                None,
                Box::new(Guard::new(
                    admin(),
                    gridsync_server::sync::validate::document,
                )),
            )
            .await
            .unwrap();
        assert!(out.rejected.is_empty());
    }
    let push = started.elapsed();
    let started = Instant::now();
    let projected = reports.catch_up().await.unwrap();
    let projection = started.elapsed();
    assert!(
        projected >= REPORTS,
        "every report projected (some twice, across batches)"
    );
    println!(
        "{name}: pushed {} changes of {REPORTS} reports in {:.1} s; projected them in {:.2} s",
        changes.len(),
        push.as_secs_f64(),
        projection.as_secs_f64()
    );

    let now = Clock::System.now_ms();
    let scopes = [
        (
            "street supervisor (20 grids)",
            ReportScope {
                prefixes: vec![STREET.into()],
                department: None,
            },
        ),
        (
            "community supervisor (5 grids)",
            ReportScope {
                prefixes: vec![format!("{STREET}001")],
                department: None,
            },
        ),
        (
            "grid worker (1 grid)",
            ReportScope {
                prefixes: vec![grid(0)],
                department: None,
            },
        ),
        (
            "department (城管)",
            ReportScope {
                prefixes: Vec::new(),
                department: Some("chengguan".into()),
            },
        ),
    ];
    for (who, scope) in &scopes {
        let mut times = Vec::with_capacity(RUNS);
        let mut found = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            found = reports.overdue(scope, now, 200).await.unwrap().len();
            times.push(t.elapsed());
        }
        times.sort();
        let total = reports.overdue(scope, now, 100_000).await.unwrap().len();
        let mut near = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            reports.nearly_due(scope, now, 2 * DAY, 200).await.unwrap();
            near.push(t.elapsed());
        }
        near.sort();
        println!(
            "{name}: overdue, {who}: p50 {:.2} ms, p99 {:.2} ms ({found} listed of {total} overdue); nearly due (48 h): p50 {:.2} ms, p99 {:.2} ms",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(percentile(&near, 0.5)),
            ms(percentile(&near, 0.99)),
        );
    }
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        reports.counts_by_category_stage(STREET, now).await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{name}: open reports by category and stage, whole street: p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
    );
}

async fn postgres(changes: Vec<IncomingChange>) {
    let Some(db) = gridsync_tests::PgDatabase::if_configured() else {
        println!("PostgreSQL: skipped (set GRIDSYNC_TEST_DATABASE_URL)");
        return;
    };
    {
        let pool = gridsync_server::pg::open(&db.url).await.unwrap();
        let docs: Arc<dyn DocStore> = Arc::new(gridsync_server::store::postgres::PgDocStore::new(
            pool.clone(),
        ));
        run(
            "PostgreSQL",
            Reports::postgres(pool, docs.clone()),
            docs,
            changes,
        )
        .await;
    }
    // The pool is gone: the database is dropped with `db`.
}

fn phone_list() {
    // A grid worker's phone holds their grid: 10,000 / 20 = 500 reports.
    // Written ten days ago, listed today: the same file opened again with
    // the system clock.
    let now = Clock::System.now_ms();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.sqlite3");
    let mut s = Store::open_with(
        &path,
        OpenOptions {
            clock: Clock::Fixed(now - 10 * DAY),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    for g in 0..GRIDS {
        s.create_grid(gridsync_core::grid::NewGrid {
            code: grid(g),
            name: format!("第{}网格", g + 1),
            community: "社区".into(),
            street: "街道".into(),
        })
        .unwrap();
    }
    let g = grid(0);
    for i in 0..REPORTS / GRIDS {
        let (category, subtype) = SUBTYPES[i % SUBTYPES.len()];
        let id = s
            .report_issue(NewIssue {
                grid: g.clone(),
                category: category.into(),
                subtype: subtype.into(),
                description: "巡查发现的问题".into(),
                source: "patrol".into(),
                ..NewIssue::default()
            })
            .unwrap();
        if i % 3 != 0 {
            s.append_event(&id, EventKind::Accept, StepInput::default())
                .unwrap();
            s.append_event(
                &id,
                EventKind::Dispatch,
                StepInput {
                    assignee: Some("dept:chengguan".into()),
                    ..StepInput::default()
                },
            )
            .unwrap();
        }
    }
    drop(s);
    let mut s = Store::open_with(&path, OpenOptions::default()).unwrap();
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..20 {
        let t = Instant::now();
        found = s.overdue_issues(Some(&g)).unwrap().len();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "phone (sync-core, store file): overdue list of a grid with {} reports: p50 {:.1} ms, max {:.1} ms ({found} overdue)",
        REPORTS / GRIDS,
        ms(percentile(&times, 0.5)),
        ms(*times.last().unwrap()),
    );
}

fn main() {
    let grids: Vec<String> = (0..GRIDS).map(grid).collect();
    let started = Instant::now();
    let changes = reports(REPORTS, Clock::System.now_ms(), &grids);
    println!(
        "made {REPORTS} reports across {GRIDS} grids ({} changes) in {:.1} s",
        changes.len(),
        started.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let pool = gridsync_server::db::open(&dir.path().join("bench.sqlite3"))
            .await
            .unwrap();
        let docs: Arc<dyn DocStore> = Arc::new(
            gridsync_server::store::sqlite::SqliteDocStore::new(pool.clone()),
        );
        run(
            "SQLite",
            Reports::sqlite(pool, docs.clone()),
            docs,
            changes.clone(),
        )
        .await;
        postgres(changes).await;
    });
    phone_list();
}

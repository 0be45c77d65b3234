//! The supervisor's overview of a street of 20 grids: 10,000 households,
//! 30,000 residents, 100,000 visits, 10,000 reports, rendered by the real
//! handler (`GET /web/t/{street}` through `gridsync_server::app`, session
//! cookie, access check, read-model catch-up check, queries, template), timed
//! in the server process (p50/p99). The households are written to the read
//! model directly (what the projector would write); the reports are real
//! documents pushed through the push path and projected by both read models
//! on the first view; the projector is also timed on one grid of 500
//! households pushed through the real push path.
//!
//! Run: `cargo bench -p gridsync-server --bench overview`

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gridsync_core::clock::Clock;
use gridsync_core::demo::{Generator, GridPlan, place_of, populate_grid};
use gridsync_core::household::Household;
use gridsync_core::issue::{EventKind, IssuePlace, NewIssue, StepInput};
use gridsync_core::{OpenOptions, Store};
use gridsync_server::AppState;
use gridsync_server::config::Config;
use gridsync_server::directory::{CommunityInfo, GridInfo, NewUser, StreetInfo, TerritoryRows};
use gridsync_server::principal::Role;
use gridsync_server::store::IncomingChange;
use gridsync_server::web::readmodel::{Projected, SyncSeen};
use tower::ServiceExt;

const STREET: &str = "110105001";
const GRIDS: usize = 20;
const HOUSEHOLDS: usize = 500;
const RESIDENTS: usize = 3;
const VISITS: usize = 10;
const REPORTS: usize = 500;
const RUNS: usize = 60;
const DAY_MS: i64 = 86_400_000;

fn community(c: usize) -> String {
    format!("{STREET}{:03}", c + 1)
}

fn grid(i: usize) -> String {
    format!("{}{:03}", community(i / 5), i % 5 + 1)
}

fn territory() -> TerritoryRows {
    TerritoryRows {
        streets: vec![StreetInfo {
            code: STREET.into(),
            name: "建国门街道".into(),
        }],
        communities: (0..GRIDS / 5)
            .map(|c| CommunityInfo {
                code: community(c),
                name: format!("第{}社区", c + 1),
                street_code: STREET.into(),
            })
            .collect(),
        grids: (0..GRIDS)
            .map(|i| GridInfo {
                code: grid(i),
                name: format!("第{}网格", i + 1),
                community_code: community(i / 5),
                street_code: STREET.into(),
            })
            .collect(),
    }
}

/// One grid's households and reports, as the projector would store them.
fn grid_rows(i: usize, now: i64, holders: &[String]) -> Vec<(String, Projected)> {
    let code = grid(i);
    let plan = GridPlan {
        households: HOUSEHOLDS,
        residents_per_household: RESIDENTS,
        visits_per_household: VISITS,
        buildings: HOUSEHOLDS / 40,
        units: 2,
        holder_visits: true,
    };
    let mut g = Generator::new(7 + i as u64);
    let mut out = Vec::with_capacity(HOUSEHOLDS);
    for h in 0..HOUSEHOLDS {
        let id = uuid::Uuid::now_v7().to_string();
        let holder = holders[h % holders.len()].clone();
        let residents: BTreeMap<String, _> = (0..RESIDENTS)
            .map(|k| {
                (
                    uuid::Uuid::now_v7().to_string(),
                    g.resident(if k == 0 { "02" } else { "10" }),
                )
            })
            .collect();
        let visits: BTreeMap<String, _> = (0..VISITS)
            .map(|k| {
                let at = now - (g.below(90 * 24) as i64 + 1) * 3_600_000;
                let who = if k % 3 == 0 {
                    holder.as_str()
                } else {
                    "worker"
                };
                (
                    uuid::Uuid::now_v7().to_string(),
                    g.visit(who, "grid_worker", at),
                )
            })
            .collect();
        let household = Household {
            kind: "household".into(),
            schema: 1,
            id: id.clone(),
            grid: code.clone(),
            place: place_of(&plan, h),
            holder: Some(holder),
            residents,
            visits,
            ..Household::default()
        };
        out.push((
            id,
            Projected::Household(Box::new(household), Vec::new(), None),
        ));
    }
    out
}

/// One grid's reports, recorded on a phone whose clock says eight days
/// ago: a fifth left reported, a fifth accepted, three fifths dispatched
/// (most of them overdue by now), some handled.
fn reports_of(code: &str, grid_doc: &str, saved: Vec<u8>, now: i64) -> Vec<IncomingChange> {
    let mut phone = Store::open_in_memory(OpenOptions {
        clock: Clock::Fixed(now - 8 * DAY_MS),
        ..OpenOptions::default()
    })
    .unwrap();
    phone.apply_remote(grid_doc, &[saved]).unwrap();
    let kinds = [
        ("dispute", "neighbour"),
        ("sanitation", "garbage"),
        ("parking", "car"),
        ("public_order", "noise"),
        ("illegal_building", "structure"),
    ];
    phone
        .batch(|s| {
            for r in 0..REPORTS {
                let (category, subtype) = kinds[r % kinds.len()];
                let id = s.report_issue(NewIssue {
                    grid: code.into(),
                    category: category.into(),
                    subtype: subtype.into(),
                    description: "巡查发现问题".into(),
                    place: IssuePlace {
                        building: Some(format!("{}号楼", r % 12 + 1)),
                        ..IssuePlace::default()
                    },
                    source: "patrol".into(),
                    urgency: "normal".into(),
                    ..NewIssue::default()
                })?;
                let steps: &[EventKind] = match r % 5 {
                    0 => &[],
                    1 => &[EventKind::Accept],
                    4 => &[EventKind::Accept, EventKind::Dispatch, EventKind::Handle],
                    _ => &[EventKind::Accept, EventKind::Dispatch],
                };
                for step in steps {
                    let input = StepInput {
                        assignee: (*step == EventKind::Dispatch).then(|| "worker".to_owned()),
                        ..StepInput::default()
                    };
                    s.append_event(&id, *step, input)?;
                }
            }
            Ok(())
        })
        .unwrap();
    phone
        .outbox(usize::MAX >> 1)
        .unwrap()
        .into_iter()
        .map(|e| IncomingChange {
            doc_id: e.doc_id,
            data: e.data,
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(Config::with_data_dir(dir.path()))
        .await
        .unwrap();
    state
        .directory
        .import_territory(&territory())
        .await
        .unwrap();
    let jiedao = state
        .directory
        .create_user(NewUser::new("jiedao", "街道办", Role::Supervisor).with_subtree(STREET))
        .await
        .unwrap();
    let mut holders = Vec::new();
    let mut syncs = Vec::new();
    let now = Clock::System.now_ms();
    for i in 0..GRIDS {
        let w = state
            .directory
            .create_user(
                NewUser::new(format!("wangge{i}"), format!("网格员{i}"), Role::GridWorker)
                    .with_grids([grid(i)]),
            )
            .await
            .unwrap();
        syncs.push(SyncSeen {
            user_id: w.id,
            device_id: uuid::Uuid::new_v4().to_string(),
            at: now - i as i64 * 3_600_000,
        });
    }
    for i in 0..50 {
        let h = state
            .directory
            .create_user(NewUser::new(
                format!("baobao{i}"),
                format!("包保{i}"),
                Role::PackageHolder,
            ))
            .await
            .unwrap();
        holders.push(h.id);
    }

    let started = Instant::now();
    for i in 0..GRIDS {
        let rows = grid_rows(i, now, &holders);
        let s = if i == 0 { syncs.clone() } else { Vec::new() };
        state.web.model().apply(rows, s, 0).await.unwrap();
    }
    println!(
        "read model filled: {} grids, {} households, {} residents, {} visits in {:.1} s",
        GRIDS,
        GRIDS * HOUSEHOLDS,
        GRIDS * HOUSEHOLDS * RESIDENTS,
        GRIDS * HOUSEHOLDS * VISITS,
        started.elapsed().as_secs_f64()
    );

    // The reports are real documents, recorded on phones and pushed
    // through the push path: both read models (the report counts of
    // crate::reports and the web lists) project them on the first view.
    let started = Instant::now();
    gridsync_server::sync::publish_grids(&state).await.unwrap();
    for i in 0..GRIDS {
        let grid_doc = gridsync_server::sync::grid_doc_id(&grid(i));
        let saved = state.docs.load(&grid_doc).await.unwrap().unwrap();
        let code = grid(i);
        let changes = tokio::task::spawn_blocking(move || reports_of(&code, &grid_doc, saved, now))
            .await
            .unwrap();
        let guard = gridsync_server::scope::Guard::new(
            gridsync_server::sync::server_principal(),
            gridsync_server::sync::validate::document,
        );
        let outcome = state
            .docs
            .push(changes, Some("worker".into()), None, Box::new(guard))
            .await
            .unwrap();
        assert!(outcome.rejected.is_empty());
    }
    println!(
        "{} reports recorded and pushed in {:.1} s",
        GRIDS * REPORTS,
        started.elapsed().as_secs_f64()
    );

    let token = gridsync_server::web::session::start_session(&state, &jiedao)
        .await
        .unwrap();
    let cookie = format!("gridsync_web={token}");
    let app = gridsync_server::app(state.clone());
    let mut times = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    let first = Instant::now();
    let res = app
        .clone()
        .oneshot(
            Request::get(format!("/web/t/{STREET}"))
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    println!(
        "first view, projecting the {} pushed reports into both read models: {:.1} s",
        GRIDS * REPORTS,
        first.elapsed().as_secs_f64()
    );
    for run in 0..RUNS + 5 {
        let req = Request::get(format!("/web/t/{STREET}"))
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap();
        let t = Instant::now();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let took = t.elapsed();
        if run >= 5 {
            times.push(took);
            bytes = body.len();
        }
    }
    let html = String::from_utf8_lossy(
        &axum::body::to_bytes(
            app.clone()
                .oneshot(
                    Request::get(format!("/web/t/{STREET}"))
                        .header(header::COOKIE, &cookie)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap()
                .into_body(),
            usize::MAX,
        )
        .await
        .unwrap(),
    )
    .into_owned();
    assert!(html.contains(&format!("id=\"kpi-households\">{}<", GRIDS * HOUSEHOLDS)));
    let open: usize = html
        .split("id=\"kpi-open\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        open > GRIDS * REPORTS / 2,
        "the reports are counted: {open}"
    );
    times.sort();
    println!(
        "overview of the street ({} grids): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {RUNS} views ({} KiB of HTML)",
        GRIDS,
        percentile(&times, 0.5).as_secs_f64() * 1000.0,
        percentile(&times, 0.99).as_secs_f64() * 1000.0,
        times.last().unwrap().as_secs_f64() * 1000.0,
        bytes / 1024
    );
    for (name, uri) in [
        ("a community (5 grids)", format!("/web/t/{}", community(0))),
        ("a grid", format!("/web/t/{}", grid(0))),
    ] {
        let mut t = Vec::new();
        for _ in 0..20 {
            let req = Request::get(&uri)
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap();
            let s = Instant::now();
            let res = app.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            t.push(s.elapsed());
        }
        t.sort();
        println!(
            "overview of {name}: p50 {:.1} ms, p99 {:.1} ms",
            percentile(&t, 0.5).as_secs_f64() * 1000.0,
            percentile(&t, 0.99).as_secs_f64() * 1000.0
        );
    }

    // The projector: one grid of 500 households (10 visits each) recorded
    // on a phone, pushed through the real push path, then projected by the
    // first page view.
    let dir2 = tempfile::tempdir().unwrap();
    let state2 = AppState::open(Config::with_data_dir(dir2.path()))
        .await
        .unwrap();
    state2
        .directory
        .import_territory(&territory())
        .await
        .unwrap();
    let code = grid(0);
    let changes = tokio::task::spawn_blocking(move || {
        let mut phone = Store::open_in_memory(OpenOptions::default()).unwrap();
        let plan = GridPlan {
            households: HOUSEHOLDS,
            residents_per_household: RESIDENTS,
            visits_per_household: VISITS,
            buildings: HOUSEHOLDS / 40,
            units: 2,
            holder_visits: true,
        };
        populate_grid(&mut phone, &code, &plan, "worker", now, 11).unwrap();
        phone
            .outbox(usize::MAX >> 1)
            .unwrap()
            .into_iter()
            .map(|e| IncomingChange {
                doc_id: e.doc_id,
                data: e.data,
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let n = changes.len();
    let guard = gridsync_server::scope::Guard::new(
        gridsync_server::sync::server_principal(),
        gridsync_server::sync::validate::document,
    );
    state2
        .docs
        .push(changes, Some("w".into()), None, Box::new(guard))
        .await
        .unwrap();
    let t = Instant::now();
    gridsync_server::web::readmodel::catch_up(&state2)
        .await
        .unwrap();
    let took = t.elapsed().as_secs_f64();
    println!(
        "projector: {n} changes of {HOUSEHOLDS} household documents projected in {took:.2} s ({:.0} documents/s)",
        HOUSEHOLDS as f64 / took
    );
}

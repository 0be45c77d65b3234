//! Importing a community's ledger (台账) of 5,000 residents (1,667
//! households, 20 bad rows; benches/common/ledger.rs) as its supervisor:
//! the dry run (read the XLSX, check every row, match against the read
//! model), the import (the same, then one push per grid through the push
//! path, as the supervisor), importing the same file again (nothing
//! written), and the community's overview page right after the import
//! (`GET /web/t/110105001001` through `gridsync_server::app`: the first
//! view catches the read model up with the 5,000 new residents' changes,
//! then steady views). Median of several runs; each import on a fresh
//! server (SQLite in a temporary directory).
//!
//! Run: `cargo bench -p gridsync-server --bench ledger_import`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gridsync_server::AppState;
use gridsync_server::config::Config;
use gridsync_server::directory::NewUser;
use gridsync_server::import::{self, mapping};
use gridsync_server::principal::{Principal, Role};
use tower::ServiceExt;

#[path = "common/ledger.rs"]
mod ledger;

const RUNS: usize = 5;
const VIEWS: usize = 20;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// A fresh server with the territory, its grid documents, the
/// supervisor and what the community held before.
async fn server() -> (AppState, Principal, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(Config::with_data_dir(dir.path()))
        .await
        .unwrap();
    gridsync_server::territory::import(
        state.directory.as_ref(),
        gridsync_server::territory::Format::Json,
        ledger::TERRITORY_JSON.as_bytes(),
    )
    .await
    .unwrap();
    gridsync_server::sync::publish_grids(&state).await.unwrap();
    let p = state
        .directory
        .create_user(
            NewUser::new("shequ", "社区书记", Role::Supervisor).with_subtree(ledger::COMMUNITY),
        )
        .await
        .unwrap()
        .principal(None);
    ledger::seed(&state, &p).await;
    (state, p, dir)
}

async fn overview(state: &AppState, cookie: &str) -> Duration {
    let req = Request::get(format!("/web/t/{}", ledger::COMMUNITY))
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let t = Instant::now();
    let res = gridsync_server::app(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let _ = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    t.elapsed()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let rows = ledger::rows();
    let t = Instant::now();
    let xlsx = ledger::xlsx(&rows);
    let csv = ledger::csv(&rows, true);
    println!(
        "ledger: {} residents, XLSX {} KB, GB18030 CSV {} KB (written in {})",
        rows.len(),
        xlsx.len() / 1024,
        csv.len() / 1024,
        ms(t.elapsed())
    );
    let headers: Vec<String> = ledger::HEADERS.iter().map(|h| (*h).to_owned()).collect();
    let map = mapping::prefill(&headers, None);

    // Reading alone.
    let read = |name: &str, bytes: &[u8]| {
        median(
            (0..RUNS)
                .map(|_| {
                    let t = Instant::now();
                    let table = import::table::read(name, bytes).unwrap();
                    assert_eq!(table.rows.len(), rows.len());
                    t.elapsed()
                })
                .collect(),
        )
    };
    println!(
        "read the file: XLSX {}, CSV {} (median of {RUNS})",
        ms(read("a.xlsx", &xlsx)),
        ms(read("a.csv", &csv))
    );

    let (state, p, _dir) = server().await;
    let mut dry = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = import::dry_run(&state, &p, "台账.xlsx", &xlsx, ledger::COMMUNITY, &map)
            .await
            .unwrap();
        dry.push(t.elapsed());
        assert_eq!((r.accepted, r.refused.len()), (4980, 20));
    }
    println!(
        "dry run (XLSX, 5,000 rows): {} (median of {RUNS})",
        ms(median(dry))
    );
    drop(state);

    let mut imports = Vec::new();
    let mut again = Vec::new();
    let mut first_views = Vec::new();
    let mut views = Vec::new();
    for _ in 0..RUNS {
        let (state, p, _dir) = server().await;
        let cookie = {
            let user = state
                .directory
                .user_by_username("shequ")
                .await
                .unwrap()
                .unwrap();
            let token = gridsync_server::web::session::start_session(&state, &user)
                .await
                .unwrap();
            format!("gridsync_web={token}")
        };
        // The overview seen once before, as a supervisor would have it open.
        overview(&state, &cookie).await;
        let before = state.docs.max_seq().await.unwrap();
        let t = Instant::now();
        let r = import::import(&state, &p, "台账.xlsx", &xlsx, ledger::COMMUNITY, &map)
            .await
            .unwrap();
        imports.push(t.elapsed());
        assert_eq!(r.new_residents, 4979);
        let after = state.docs.max_seq().await.unwrap();
        first_views.push(overview(&state, &cookie).await);
        for _ in 0..VIEWS / RUNS {
            views.push(overview(&state, &cookie).await);
        }
        let t = Instant::now();
        let r = import::import(&state, &p, "台账.xlsx", &xlsx, ledger::COMMUNITY, &map)
            .await
            .unwrap();
        again.push(t.elapsed());
        assert!(r.changes_nothing());
        assert_eq!(state.docs.max_seq().await.unwrap(), after);
        if imports.len() == 1 {
            println!("  (the import wrote {} changes to the log)", after - before);
        }
    }
    println!(
        "import (XLSX, 4,980 rows: 1,666 new households, 4,979 new residents, 1 updated; 2 pushes): {} (median of {RUNS}, each on a fresh server)",
        ms(median(imports))
    );
    println!(
        "overview /web/t/{} right after the import (read model catching up): {} (median of {RUNS})",
        ledger::COMMUNITY,
        ms(median(first_views))
    );
    println!(
        "overview, steady: {} (median of {} views)",
        ms(median(views)),
        VIEWS
    );
    println!(
        "the same file imported again (nothing written): {} (median of {RUNS})",
        ms(median(again))
    );
}

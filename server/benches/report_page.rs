//! From the phone's `sync` to the supervisor's page (issue 13, item 8): a
//! grid worker's phone holds one issue report with three photos of about
//! 1 MB (real JPEGs), recorded offline; the clock starts when `sync`
//! starts and stops when the community supervisor's web page of that
//! report (a real web session, over HTTP on loopback) shows it with all
//! three photos ready and their thumbnails load. Each run on a fresh
//! server (release build, embedded SQLite) and phone.
//!
//! Run: `cargo build --release -p gridsync-server && cargo bench -p gridsync-server --bench report_page`
//! (`GRIDSYNC_BENCH_RUNS`, default 7).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use gridsync_core::issue::NewIssue;
use gridsync_core::sync::{Client, SyncOptions};
use gridsync_core::{OpenOptions, Store};

#[path = "common/server.rs"]
mod server;

const GRID: &str = "110105001001001";
const PASSWORD: &str = "bench-pass-2026";

/// The supervisor signed in to the web: its session cookie.
fn web_session(http: &reqwest::blocking::Client, url: &str) -> String {
    let res = http
        .post(format!("{url}/web/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username=sup&password={PASSWORD}"))
        .send()
        .unwrap();
    assert!(res.status().is_redirection(), "web login: {}", res.status());
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

struct Run {
    /// `sync` start → page shows the report with 3 photos, thumbnails loaded.
    total: Duration,
    /// The phone's `sync` alone (report pushed, photos uploaded).
    sync: Duration,
    /// Page requests until it showed everything.
    polls: u32,
}

fn run(photos: &[Vec<u8>]) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let server = server::start(&tmp.path().join("server"), None);
    server::one_grid_community(&server, GRID, PASSWORD);
    let url = server.url.clone();
    let mut phone =
        Store::open_with(tmp.path().join("phone.sqlite3"), OpenOptions::default()).unwrap();
    let client = Client::new(&url).unwrap();
    client.login(&mut phone, "w1", PASSWORD).unwrap();
    let sync = |s: &mut Store| {
        gridsync_core::sync::sync(s, &client, &SyncOptions::default(), None, &mut |_| {}).unwrap()
    };
    sync(&mut phone);
    // Offline: the report and its three photos wait on the phone.
    let id = phone
        .report_issue(NewIssue {
            grid: GRID.into(),
            category: "sanitation".into(),
            subtype: "garbage".into(),
            description: "3号楼东侧建筑垃圾堆放，占用消防通道".into(),
            source: "patrol".into(),
            ..NewIssue::default()
        })
        .unwrap();
    for p in photos {
        phone.attach_photo(&id, p).unwrap();
    }
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = web_session(&http, &url);

    let t = Instant::now();
    let report = sync(&mut phone);
    let synced = t.elapsed();
    assert!(report.complete && report.blobs_uploaded == 3, "{report:?}");
    let mut polls = 0;
    loop {
        polls += 1;
        let res = http
            .get(format!("{url}/web/reports/{id}"))
            .header("cookie", &cookie)
            .send()
            .unwrap();
        let page = if res.status().is_success() {
            res.text().unwrap()
        } else {
            String::new()
        };
        let thumbs: Vec<String> = page
            .split("src=\"/web/photo/")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(|s| s.replace("&amp;", "&"))
            .collect();
        if thumbs.len() == 3 {
            // The browser then loads the three thumbnails.
            for th in thumbs {
                let img = http
                    .get(format!("{url}/web/photo/{th}"))
                    .header("cookie", &cookie)
                    .send()
                    .unwrap();
                assert!(img.status().is_success(), "thumbnail {}", img.status());
                assert!(!img.bytes().unwrap().is_empty());
            }
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the page never showed it"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Run {
        total: t.elapsed(),
        sync: synced,
        polls,
    }
}

fn main() {
    let photos: Vec<Vec<u8>> = (0..3).map(|i| server::noise_jpeg(i, 780, 560)).collect();
    let total: usize = photos.iter().map(Vec::len).sum();
    println!(
        "3 photos, {:.2} MB in all ({})",
        total as f64 / (1024.0 * 1024.0),
        photos
            .iter()
            .map(|p| format!("{:.2} MB", p.len() as f64 / (1024.0 * 1024.0)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let runs: usize = std::env::var("GRIDSYNC_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut all = Vec::new();
    for n in 1..=runs {
        let r = run(&photos);
        println!(
            "run {n}: sync → on the supervisor's page {} ms (the phone's sync {} ms, {} page loads)",
            r.total.as_millis(),
            r.sync.as_millis(),
            r.polls
        );
        all.push(r);
    }
    let stat = |f: &dyn Fn(&Run) -> u128| {
        let mut v: Vec<u128> = all.iter().map(f).collect();
        v.sort_unstable();
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (med, lo, hi) = stat(&|r| r.total.as_millis());
    let (smed, slo, shi) = stat(&|r| r.sync.as_millis());
    println!("| measurement | median | min–max |");
    println!("| --- | --- | --- |");
    println!(
        "| phone's sync → report on the supervisor's page, 3 photos ready, thumbnails loaded | {med} ms | {lo}–{hi} ms |"
    );
    println!(
        "| of which the phone's sync (report pushed, 3 photos uploaded) | {smed} ms | {slo}–{shi} ms |"
    );
}

//! Photo upload benchmark against the real server binary (release build)
//! on loopback: a grid worker's phone holds 20 photos of about 2 MB
//! (real JPEGs) on 10 issue reports and syncs them, once without
//! interruption and once with the server killed (SIGKILL) when 55 % of the
//! photo bytes are acknowledged and started again after an outage (1 s,
//! `GRIDSYNC_BENCH_OUTAGE_MS`); the phone's ordinary retries carry on from
//! the offset the server reports. Also: the same 20
//! photos on new reports (deduplicated), and the supervisor downloading
//! them.
//!
//! Run: `cargo build --release -p gridsync-server && cargo bench -p gridsync-server --bench photos`

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gridsync_core::issue::NewIssue;
use gridsync_core::sync::blobs::fetch_blob;
use gridsync_core::sync::{Client, Progress, SyncOptions, SyncReport};
use gridsync_core::{OpenOptions, Store};

#[path = "common/server.rs"]
mod server;

const GRID: &str = "110105001001001";
const PASSWORD: &str = "bench-pass-2026";
const PHOTOS: usize = 20;

fn phone(dir: &Path, name: &str, url: &str, user: &str) -> (Store, Client) {
    let mut store =
        Store::open_with(dir.join(format!("{name}.sqlite3")), OpenOptions::default()).unwrap();
    let client = Client::new(url).unwrap();
    client.login(&mut store, user, PASSWORD).unwrap();
    (store, client)
}

fn sync(store: &mut Store, client: &Client, progress: &mut dyn FnMut(&Progress)) -> SyncReport {
    gridsync_core::sync::sync(store, client, &SyncOptions::default(), None, progress).unwrap()
}

/// 10 reports with 2 photos each, recorded offline.
fn report_with_photos(store: &mut Store, photos: &[Vec<u8>]) {
    let subtype = gridsync_core::issue::catalogue::category("safety")
        .unwrap()
        .subtypes[0]
        .code;
    for pair in photos.chunks(2) {
        let id = store
            .report_issue(NewIssue {
                grid: GRID.into(),
                category: "safety".into(),
                subtype: subtype.into(),
                description: "楼道堆放杂物，堵塞消防通道".into(),
                source: "patrol".into(),
                ..NewIssue::default()
            })
            .unwrap();
        for p in pair {
            store.attach_photo(&id, p).unwrap();
        }
    }
}

/// How long the server stays down: `GRIDSYNC_BENCH_OUTAGE_MS`, 1 s by
/// default (a phone losing its signal in a stairwell for a moment).
fn outage() -> Duration {
    Duration::from_millis(
        std::env::var("GRIDSYNC_BENCH_OUTAGE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
    )
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct Run {
    took: Duration,
    report: SyncReport,
    down: Option<Duration>,
}

/// A fresh server and worker phone with the 20 photos; sync them,
/// killing the server once half the photo bytes are acknowledged when
/// `interrupt`.
fn run(photos: &[Vec<u8>], interrupt: bool) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let server = server::start(&tmp.path().join("server"), None);
    server::one_grid_community(&server, GRID, PASSWORD);
    let url = server.url.clone();
    let (mut store, client) = phone(tmp.path(), "worker", &url, "w1");
    sync(&mut store, &client, &mut |_| {});
    report_with_photos(&mut store, photos);
    let total: u64 = photos.iter().map(|p| p.len() as u64).sum();

    let server = Arc::new(Mutex::new(server));
    let sent = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    // The interruption comes from outside the phone, at whatever instant
    // (most likely while a chunk is on the wire or being written).
    let killer = interrupt.then(|| {
        let (server, sent, done) = (server.clone(), sent.clone(), done.clone());
        std::thread::spawn(move || {
            // A little past half, so that it falls inside a photo.
            while sent.load(Ordering::SeqCst) < total / 100 * 55 {
                if done.load(Ordering::SeqCst) {
                    return None;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            let t = Instant::now();
            let mut server = server.lock().unwrap();
            server.kill();
            std::thread::sleep(outage());
            server.restart();
            Some(t.elapsed())
        })
    });
    let t = Instant::now();
    let report = sync(&mut store, &client, &mut |p| {
        if p.bytes_total > 0 {
            sent.store(
                p.bytes_done
                    .saturating_sub(p.bytes_total - total.min(p.bytes_total)),
                Ordering::SeqCst,
            );
        }
    });
    let took = t.elapsed();
    done.store(true, Ordering::SeqCst);
    let down = killer.and_then(|k| k.join().unwrap());
    assert_eq!(report.blobs_uploaded, PHOTOS as u64);
    assert_eq!(report.blobs_pending, 0);

    if !interrupt {
        // The same photos on 10 new reports: deduplicated.
        report_with_photos(&mut store, photos);
        let t = Instant::now();
        let again = sync(&mut store, &client, &mut |_| {});
        println!(
            "same 20 photos on 10 new reports: {} ms, {} photo bytes sent",
            t.elapsed().as_millis(),
            again.blob_bytes_sent
        );
        // The supervisor downloads them.
        let (mut sup, sup_client) = phone(tmp.path(), "sup", &url, "sup");
        sync(&mut sup, &sup_client, &mut |_| {});
        let hashes: Vec<String> = photos
            .iter()
            .map(|p| gridsync_core::store::blob_hash(p))
            .collect();
        let t = Instant::now();
        for h in &hashes {
            fetch_blob(&mut sup, &sup_client, h).unwrap();
        }
        let d = t.elapsed();
        println!(
            "supervisor downloads the 20 photos (verified, kept): {} ms, {:.1} MB/s",
            d.as_millis(),
            mb(total) / d.as_secs_f64()
        );
        let t = Instant::now();
        for h in &hashes {
            gridsync_core::sync::blobs::fetch_thumbnail(&mut sup, &sup_client, h).unwrap();
        }
        println!(
            "supervisor fetches the 20 thumbnails: {} ms",
            t.elapsed().as_millis()
        );
    }
    Run { took, report, down }
}

fn main() {
    let t = Instant::now();
    let photos: Vec<Vec<u8>> = (0..PHOTOS as u32)
        .map(|i| server::noise_jpeg(i, 1100, 800))
        .collect();
    let total: u64 = photos.iter().map(|p| p.len() as u64).sum();
    println!(
        "{PHOTOS} photos, {:.2} MB in all ({:.2} MB each on average; generated in {} ms)",
        mb(total),
        mb(total) / PHOTOS as f64,
        t.elapsed().as_millis()
    );
    let chunk = SyncOptions::default().blob_chunk;
    println!("chunk: {} KiB", chunk / 1024);

    let runs: usize = std::env::var("GRIDSYNC_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let median = |mut v: Vec<u128>| {
        v.sort();
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let mut plain = Vec::new();
    let mut cut = Vec::new();
    let mut cut_net = Vec::new();
    for i in 0..runs {
        let p = run(&photos, false);
        println!(
            "run {i} uninterrupted: {} ms, {:.1} MB/s, photo bytes sent {:.2} MB",
            p.took.as_millis(),
            mb(total) / p.took.as_secs_f64(),
            mb(p.report.blob_bytes_sent)
        );
        plain.push(p.took.as_millis());
        let c = run(&photos, true);
        let down = c.down.unwrap_or_default();
        println!(
            "run {i} one interruption (server SIGKILLed at 55 %, restarted): {} ms in all, \
             server down {} ms, {} ms without the outage; photo bytes sent {:.2} MB ({:.2} MB sent twice)",
            c.took.as_millis(),
            down.as_millis(),
            c.took.saturating_sub(down).as_millis(),
            mb(c.report.blob_bytes_sent),
            mb(c.report.blob_bytes_sent.saturating_sub(total)),
        );
        cut.push(c.took.as_millis());
        cut_net.push(c.took.saturating_sub(down).as_millis());
    }
    let (p, pmin, pmax) = median(plain);
    let (c, cmin, cmax) = median(cut);
    let (n, nmin, nmax) = median(cut_net);
    println!(
        "MEDIAN of {runs}: uninterrupted {p} ms ({pmin}-{pmax}), {:.1} MB/s; \
         with one interruption {c} ms ({cmin}-{cmax}) of which the server was down {} ms; \
         without the outage {n} ms ({nmin}-{nmax})",
        mb(total) / (p as f64 / 1000.0),
        outage().as_millis(),
    );
}

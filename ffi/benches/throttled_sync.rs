//! Benchmark (issue 19, item 1): how long a list read and a visit save
//! wait while the phone SDK syncs 10,000 documents over a slow link.
//!
//! The real `gridsync-server` (debug build, `target/debug`) is seeded with
//! the demo community (5 grids × 2,000 households) and reached through a
//! local TCP proxy on 127.0.0.1 that throttles to 3G speed (1 Mbit/s down,
//! 384 kbit/s up, 50 ms each way). A fresh phone (`Gridsync`, encrypted
//! store) signs in as the community supervisor and syncs everything; from
//! another thread, every 250 ms, it lists the households of a grid and,
//! once it has one, saves a visit, timing each call. Then a second sync
//! must leave nothing pending (every visit saved during the first one is
//! on the server).
//!
//! Run: `cargo build -p gridsync-server && cargo bench -p gridsync-ffi --bench throttled_sync --profile dev`
//! (options by environment: `GRIDSYNC_BENCH_GRIDS`, `GRIDSYNC_BENCH_HOUSEHOLDS`;
//! `GRIDSYNC_BENCH_SEED=<dir>` keeps a seeded data directory there and
//! copies it on later runs, seeding 10,000 households takes minutes).

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gridsync_ffi::{Gridsync, PlaceFilter, Visit};

const KEY: &str = "3f7a9c2e5b1d4f6a8c0e2b4d6f8a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a";
const PASSWORD: &str = "gridsync-demo";
const GRID1: &str = "110105001001001";
/// 3G: bytes per second down (1 Mbit/s) and up (384 kbit/s), one-way delay.
const DOWN: f64 = 125_000.0;
const UP: f64 = 48_000.0;
const DELAY: Duration = Duration::from_millis(50);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A direction's pace: when the link is free again (shared by every
/// connection going that way).
struct Pace {
    rate: f64,
    free_at: Mutex<Instant>,
}

impl Pace {
    fn new(rate: f64) -> Arc<Self> {
        Arc::new(Self {
            rate,
            free_at: Mutex::new(Instant::now()),
        })
    }

    /// Wait until `n` bytes have had their time on the link.
    fn take(&self, n: usize) {
        let until = {
            let mut free = self.free_at.lock().unwrap();
            let start = (*free).max(Instant::now());
            *free = start + Duration::from_secs_f64(n as f64 / self.rate);
            *free
        };
        let now = Instant::now();
        if until > now {
            std::thread::sleep(until - now);
        }
    }
}

/// Copy `from` to `to` at `pace`, each chunk arriving `DELAY` after it
/// was read.
fn pump(mut from: TcpStream, mut to: TcpStream, pace: Arc<Pace>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + DELAY, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            pace.take(chunk.len());
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// A throttling proxy on 127.0.0.1 to `upstream` (`host:port`); returns
/// its URL.
fn proxy(upstream: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (down, up) = (Pace::new(DOWN), Pace::new(UP));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            pump(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                up.clone(),
            );
            pump(server, client, down.clone());
        }
    });
    url
}

fn seed(bin: &Path, data: &Path, grids: usize, households: usize) {
    let t = Instant::now();
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(["demo", "--grids", &grids.to_string()])
        .args(["--households", &households.to_string()])
        .env("GRIDSYNC_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "seeding failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("seeded in {:.0} s", t.elapsed().as_secs_f64());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Worst, median and count of a list of waits.
fn summary(waits: &mut [Duration]) -> String {
    if waits.is_empty() {
        return "none".into();
    }
    waits.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let over = |limit: u64| {
        waits
            .iter()
            .filter(|w| **w > Duration::from_millis(limit))
            .count()
    };
    format!(
        "worst {:.0} ms, 95th percentile {:.0} ms, median {:.1} ms, {} calls ({} over 100 ms, {} over 1 s)",
        ms(waits[waits.len() - 1]),
        ms(waits[waits.len() * 95 / 100]),
        ms(waits[waits.len() / 2]),
        waits.len(),
        over(100),
        over(1000)
    )
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let grids = env_usize("GRIDSYNC_BENCH_GRIDS", 5);
    let households = env_usize("GRIDSYNC_BENCH_HOUSEHOLDS", 2000);
    let bin = gridsync_tests::server_bin();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    match std::env::var_os("GRIDSYNC_BENCH_SEED").map(PathBuf::from) {
        Some(kept) if kept.join("jwt-secret").exists() => copy_dir(&kept, &data),
        Some(kept) => {
            seed(&bin, &kept, grids, households);
            copy_dir(&kept, &data);
        }
        None => seed(&bin, &data, grids, households),
    }
    let server = gridsync_tests::TestServer::options()
        .data_dir(&data)
        .start();
    let upstream = server.url.trim_start_matches("http://").to_string();
    let slow = proxy(upstream);

    let phone = Gridsync::open(
        tmp.path().join("phone.db").to_string_lossy().into_owned(),
        KEY.into(),
        Some(slow),
    )
    .unwrap();
    phone.login("shequ".into(), PASSWORD.into()).unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let syncing = {
        let (phone, done) = (phone.clone(), done.clone());
        std::thread::spawn(move || {
            let t = Instant::now();
            let r = phone.sync(None);
            done.store(true, Ordering::SeqCst);
            (r, t.elapsed())
        })
    };
    let mut reads = Vec::new();
    let mut saves = Vec::new();
    let filter = PlaceFilter {
        grid: Some(GRID1.into()),
        ..PlaceFilter::default()
    };
    let mut seen_rows = 0;
    while !done.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(250));
        if done.load(Ordering::SeqCst) {
            break;
        }
        let t = Instant::now();
        let rows = phone.households(filter.clone()).unwrap();
        reads.push(t.elapsed());
        seen_rows = seen_rows.max(rows.len());
        if let Some(h) = rows.first()
            && !done.load(Ordering::SeqCst)
        {
            let visit = Visit {
                at: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as i64
                    - 1000,
                method: "phone".into(),
                findings: "同步期间的回访".into(),
                needs: String::new(),
                follow_up: false,
                lat: None,
                lon: None,
                visitor: String::new(),
                role: String::new(),
            };
            let t = Instant::now();
            phone.add_visit(h.id.clone(), visit).unwrap();
            saves.push(t.elapsed());
        }
    }
    let (report, took) = syncing.join().unwrap();
    let report = report.unwrap();
    let second = phone.sync(None).unwrap();
    let status = phone.status().unwrap();
    println!(
        "sync of {} documents through the 3G proxy: {:.1} s, {} round trips, {:.2} MB of document data",
        report.docs_received,
        took.as_secs_f64(),
        report.rounds,
        report.bytes_received as f64 / 1e6
    );
    println!(
        "list households of a grid during the sync: {}",
        summary(&mut reads)
    );
    println!("save a visit during the sync: {}", summary(&mut saves));
    println!(
        "visits pushed: {} by the first sync, {} by the next; pending after: {}",
        report.pushed, second.pushed, status.pending_changes
    );
    assert_eq!(
        status.pending_changes, 0,
        "a visit saved during the sync was lost"
    );
}

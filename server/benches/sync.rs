//! Sync benchmarks against the real server binary (release build) on
//! loopback: push one grid recorded offline, pull it on a fresh phone, a
//! supervisor pulling 20 grids (10,000 households) with peak memory of
//! server and client, an incremental round, bytes on the wire.
//!
//! Run: `cargo build --release -p gridsync-server && cargo bench -p gridsync-server --bench sync`
//! (on PostgreSQL: `eval "$(bash scripts/postgres.sh)"` first, which sets
//! GRIDSYNC_TEST_DATABASE_URL). With `-- --json FILE` (or
//! GRIDSYNC_BENCH_JSON=FILE) it also writes every figure, the phone's CPU
//! time next to each wall time and the sizes, as JSON: what
//! scripts/bench-peers.sh puts next to PouchDB's.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gridsync_core::demo::{GridPlan, populate_households};
use gridsync_core::sync::{Client, SyncOptions, SyncReport};
use gridsync_core::{OpenOptions, Store};

#[path = "common/edits.rs"]
mod edits;
#[path = "common/server.rs"]
mod server;
use gridsync_tests::PgDatabase;
use server::peak_mb_of;

const COMMUNITY: &str = "110105001001";
const PASSWORD: &str = "bench-pass-2026";
const CHILD: &str = "GRIDSYNC_BENCH_CHILD";

fn grid(i: usize) -> String {
    format!("{COMMUNITY}{:03}", i + 1)
}

fn phone(dir: &Path, name: &str, url: &str, user: &str) -> (Store, Client) {
    let mut store =
        Store::open_with(dir.join(format!("{name}.sqlite3")), OpenOptions::default()).unwrap();
    let client = Client::new(url).unwrap();
    client.login(&mut store, user, PASSWORD).unwrap();
    (store, client)
}

fn sync(store: &mut Store, client: &Client) -> SyncReport {
    gridsync_core::sync::sync(store, client, &SyncOptions::default(), None, &mut |_| {}).unwrap()
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// CPU time of this process so far, user + system, all threads (the
/// phone's work: the server is another process).
fn cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Like [`timed`], with the CPU time this process spent meanwhile.
fn timed_cpu<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let c = cpu();
    let (v, took) = timed(f);
    (v, took, cpu() - c)
}

fn msf(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The value of `--flag VALUE` on the command line, else of the
/// environment variable `env`.
fn option(flag: &str, env: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var(env).ok())
}

/// Where to write the figures as JSON: `--json FILE` or GRIDSYNC_BENCH_JSON.
fn json_out() -> Option<String> {
    option("--json", "GRIDSYNC_BENCH_JSON")
}

/// How many incremental rounds to time: `--incremental-rounds N` or
/// GRIDSYNC_BENCH_INCREMENTAL_ROUNDS (default 5).
fn incremental_rounds() -> usize {
    option("--incremental-rounds", "GRIDSYNC_BENCH_INCREMENTAL_ROUNDS")
        .and_then(|n| n.parse().ok())
        .unwrap_or(5)
        .max(1)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn plan() -> GridPlan {
    GridPlan::default()
}

/// The child process of the 20-grid pull: a fresh supervisor device.
fn child(spec: &str) {
    let mut parts = spec.split('|');
    let (url, dir) = (parts.next().unwrap(), parts.next().unwrap());
    let (mut store, client) = phone(Path::new(dir), "supervisor", url, "supervisor");
    let (report, took, took_cpu) = timed_cpu(|| sync(&mut store, &client));
    // The lists are built from the stored documents on the first query.
    let (households, listed, listed_cpu) =
        timed_cpu(|| store.households(&Default::default()).unwrap().len());
    // The store on disk then: its file and its log, not yet checkpointed.
    let on_disk: u64 = ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            std::fs::metadata(Path::new(dir).join(format!("supervisor.sqlite3{suffix}"))).ok()
        })
        .map(|m| m.len())
        .sum();
    println!(
        "RESULT {} {} {} {} {} {} {} {} {}",
        msf(took),
        peak_mb_of("/proc/self/status"),
        households,
        report.bytes_received,
        report.rounds,
        msf(listed),
        msf(took_cpu),
        msf(listed_cpu),
        on_disk
    );
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        return child(&spec);
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    // On PostgreSQL when GRIDSYNC_TEST_DATABASE_URL is set (a fresh
    // database, dropped afterwards), else the embedded SQLite default.
    let pg = PgDatabase::if_configured();
    let db_url = pg.as_ref().map(|p| p.url.as_str());
    println!(
        "server storage: {}",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    let server = server::start(&data, db_url);

    // Territory: one community of 20 grids; a worker per grid, a second
    // worker in grid 1, a supervisor for the community.
    let territory = serde_json::json!({"streets": [{"code": "110105001", "name": "建国门街道",
        "communities": [{"code": COMMUNITY, "name": "幸福社区",
            "grids": (0..20).map(|i| serde_json::json!({"code": grid(i), "name": format!("第{}网格", i + 1)})).collect::<Vec<_>>()}]}]});
    let tfile = tmp.path().join("territory.json");
    std::fs::write(&tfile, territory.to_string()).unwrap();
    server.cli(&["import", tfile.to_str().unwrap()]);
    for i in 0..20 {
        server.cli(&[
            "admin",
            "user",
            "add",
            "--username",
            &format!("w{i}"),
            "--name",
            "网格员",
            "--role",
            "grid_worker",
            "--grids",
            &grid(i),
            "--password",
            PASSWORD,
        ]);
    }
    server.cli(&[
        "admin",
        "user",
        "add",
        "--username",
        "w0b",
        "--name",
        "网格员",
        "--role",
        "grid_worker",
        "--grids",
        &grid(0),
        "--password",
        PASSWORD,
    ]);
    server.cli(&[
        "admin",
        "user",
        "add",
        "--username",
        "supervisor",
        "--name",
        "书记",
        "--role",
        "supervisor",
        "--subtree",
        COMMUNITY,
        "--password",
        PASSWORD,
    ]);

    let now = gridsync_core::clock::Clock::System.now_ms();
    let record_grid = |store: &mut Store, i: usize| {
        // The visits are the signed-in worker's own.
        let worker = store.author().user.clone();
        populate_households(store, &grid(i), &plan(), &worker, &[], now, 100 + i as u64).unwrap();
    };

    // 1. A phone pushes one grid it recorded offline.
    let (mut a, ca) = phone(tmp.path(), "a", &server.url, "w0");
    sync(&mut a, &ca); // grid documents
    record_grid(&mut a, 0);
    let pending = a.pending_changes().unwrap();
    let (push_report, push, push_cpu) = timed_cpu(|| sync(&mut a, &ca));
    assert_eq!(push_report.pushed, pending);
    let mut pushes = vec![push];
    let mut push_cpus = vec![push_cpu];

    // 2. A fresh phone pulls that grid.
    let (mut b, cb) = phone(tmp.path(), "b", &server.url, "w0b");
    let (pull_report, pull, pull_cpu) = timed_cpu(|| sync(&mut b, &cb));
    let (_, pull_listed, pull_listed_cpu) =
        timed_cpu(|| b.households(&Default::default()).unwrap().len());
    assert_eq!(b.households(&Default::default()).unwrap().len(), 500);
    // What the fresh phone holds of the grid, counted after the clock
    // stopped: the sizes the side-by-side bench shows next to PouchDB's.
    let (mut residents, mut visits) = (0, 0);
    let listed_households = b.households(&Default::default()).unwrap();
    for row in &listed_households {
        let h = b.household(&row.id).unwrap();
        residents += h.residents.len();
        visits += h.visits.len();
    }

    // 3. Incremental rounds: 50 edits on each of two phones, 10 of them on
    // the same households; both sync until they agree. One round is a few
    // tens of milliseconds, at the mercy of the shared machine: the median
    // of `incremental_rounds()` rounds (each on the same households, one
    // visit more each).
    let mut rounds: Vec<(Duration, Duration)> = Vec::new();
    for _ in 0..incremental_rounds() {
        let ids = edits::offline_edits(&mut a, &mut b, now);
        let (_, took, took_cpu) = timed_cpu(|| {
            sync(&mut a, &ca);
            sync(&mut b, &cb);
            sync(&mut a, &ca);
        });
        assert_eq!(a.household(&ids[0]).unwrap(), b.household(&ids[0]).unwrap());
        rounds.push((took, took_cpu));
    }
    rounds.sort();
    let (incremental, incremental_cpu) = rounds[rounds.len() / 2];
    let incremental_range = (rounds[0].0, rounds[rounds.len() - 1].0);

    // 4. Nineteen more grids, recorded and pushed by their workers.
    for i in 1..20 {
        let (mut p, c) = phone(tmp.path(), &format!("w{i}"), &server.url, &format!("w{i}"));
        sync(&mut p, &c);
        record_grid(&mut p, i);
        let pending = p.pending_changes().unwrap();
        let (report, took, took_cpu) = timed_cpu(|| sync(&mut p, &c));
        assert_eq!(report.pushed, pending);
        pushes.push(took);
        push_cpus.push(took_cpu);
    }
    // One sample is at the mercy of whatever else the shared machine does:
    // report the median of the twenty grids' pushes, and their range.
    let push_first = pushes[0];
    pushes.sort();
    let push_median = pushes[pushes.len() / 2];
    let mut push_cpus_sorted = push_cpus.clone();
    push_cpus_sorted.sort();
    let push_cpu_median = push_cpus_sorted[push_cpus_sorted.len() / 2];
    // Restart the server so its peak memory is the pull's alone.
    drop(server);
    // GRIDSYNC_BENCH_WRAP runs the restarted server under a tool, e.g.
    // "heaptrack", to see where the pull's memory goes.
    let wrap = std::env::var("GRIDSYNC_BENCH_WRAP").ok();
    let server = server::start_wrapped(&data, db_url, wrap.as_deref());
    let server_before = server::peak_mb(&server);
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, format!("{}|{}", server.url, tmp.path().display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("child failed: {}", String::from_utf8_lossy(&out.stderr)));
    let f: Vec<f64> = line[7..].split(' ').map(|x| x.parse().unwrap()).collect();
    let server_peak = server::peak_mb(&server);
    eprintln!(
        "server peak: {server_before:.0} MB after start, {server_peak:.0} MB after the 20-grid pull"
    );

    println!("| measurement | result | target |");
    println!("|---|---|---|");
    println!(
        "| push one grid recorded offline (500 households, 1,500 residents, 5,000 visits; {} changes): median of 20 grids (min–max) | {} ({}–{}) | < 150 ms |",
        pending,
        ms(push_median),
        ms(pushes[0]),
        ms(pushes[pushes.len() - 1]),
    );
    println!(
        "| pull that grid on a fresh phone | {} | < 150 ms |",
        ms(pull)
    );
    println!(
        "| then its lists, built by the first list query | {} | |",
        ms(pull_listed)
    );
    println!(
        "| supervisor pulls 20 grids (10,000 households) | {:.0} ms | < 1.5 s |",
        f[0]
    );
    println!(
        "| then the supervisor's lists, built by the first list query | {:.0} ms | |",
        f[5]
    );
    println!(
        "| peak memory during the 20-grid pull: client | {:.0} MB | < 200 MB |",
        f[1]
    );
    println!(
        "| supervisor's store on disk after the 20-grid pull and its lists (file + log) | {:.1} MB | |",
        f[8] / 1e6
    );
    println!(
        "| peak memory during the 20-grid pull: server | {:.0} MB | < 200 MB |",
        server_peak
    );
    println!(
        "| incremental round: 50 edits on each of two phones (10 on the same households): median of {} ({}–{}) | {} | < 50 ms |",
        rounds.len(),
        ms(incremental_range.0),
        ms(incremental_range.1),
        ms(incremental)
    );
    println!(
        "| bytes: push of one grid (request bodies, before compression) | {:.2} MB | |",
        push_report.bytes_sent as f64 / 1e6
    );
    println!(
        "| bytes: pull of one grid (document data) | {:.2} MB in {} round trips | |",
        pull_report.bytes_received as f64 / 1e6,
        pull_report.rounds
    );
    println!(
        "| bytes: 20-grid pull (document data) | {:.2} MB in {} round trips | |",
        f[3] / 1e6,
        f[4]
    );
    println!(
        "| phone's CPU time (user + system, all its threads): first push / median of 20 pushes | {} / {} | |",
        ms(push_cpu),
        ms(push_cpu_median)
    );
    println!(
        "| phone's CPU time: pull of one grid + its first list query | {} + {} | |",
        ms(pull_cpu),
        ms(pull_listed_cpu)
    );
    println!(
        "| phone's CPU time: 20-grid pull + its first list query | {:.0} ms + {:.0} ms | |",
        f[6], f[7]
    );
    println!(
        "| phones' CPU time: incremental round (both phones) | {} | |",
        ms(incremental_cpu)
    );
    println!(
        "| sizes: one grid on the fresh phone | {} households, {} residents, {} visits ({} changes pushed) | |",
        listed_households.len(),
        residents,
        visits,
        pending
    );
    assert_eq!(f[2] as usize, 10_000);

    if let Some(path) = json_out() {
        let d = |x: Duration| (msf(x) * 1000.0).round() / 1000.0;
        let json = serde_json::json!({
            "storage": if pg.is_some() { "postgresql" } else { "sqlite" },
            "sizes": {
                "grid": {"households": listed_households.len(), "residents": residents,
                         "visits": visits, "changes": pending},
                "supervisor_households": f[2],
                "grids": 20,
            },
            "push": {"first_ms": d(push_first), "first_cpu_ms": d(push_cpu),
                     "median_ms": d(push_median), "median_cpu_ms": d(push_cpu_median),
                     "sorted_ms": pushes.iter().map(|&x| d(x)).collect::<Vec<_>>(),
                     "bytes_sent": push_report.bytes_sent},
            "pull": {"sync_ms": d(pull), "sync_cpu_ms": d(pull_cpu),
                     "list_ms": d(pull_listed), "list_cpu_ms": d(pull_listed_cpu),
                     "bytes_received": pull_report.bytes_received, "rounds": pull_report.rounds},
            "scale": {"sync_ms": f[0], "sync_cpu_ms": f[6], "list_ms": f[5], "list_cpu_ms": f[7],
                      "client_peak_mib": f[1], "server_peak_mib": server_peak,
                      "bytes_received": f[3], "rounds": f[4], "store_bytes": f[8]},
            "incremental": {"ms": d(incremental), "cpu_ms": d(incremental_cpu),
                            "sorted_ms": rounds.iter().map(|r| d(r.0)).collect::<Vec<_>>()},
        });
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        println!("figures written to {path}");
    }
}

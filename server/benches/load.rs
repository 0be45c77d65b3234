//! Load generator: many phones against one or two real server processes
//! (release build) on loopback, the way a district's shift ends.
//!
//! Setup (not measured): a community of `phones / per-grid` grids, one
//! worker account per grid (each phone its own device), a few
//! package-holders and supervisors; one seeding phone per grid records a few
//! households and pushes them; every phone signs in and pulls its grid.
//! Then, at shift end, every phone makes `edits` offline visits and syncs
//! (push + pull its grid's news) from a bounded thread pool, while the
//! supervisors and package-holders keep pulling; then a catch-up round in
//! which every phone pulls what the others pushed. Reported: sync latency
//! percentiles, throughput, errors, server peak memory (VmHWM, reset after
//! setup), and two checks: every change a phone was told is stored is on the
//! server (a fresh supervisor pull holds it), and every device converged
//! (its documents' heads equal the fresh pull's). Phones are in-memory
//! gridsync-core stores. On PostgreSQL, also how long each shift-end push
//! held the push lock every process queues on (ADR 0005): the
//! servers log it at debug level (`push lock released`, `held_us`) to a
//! file of the bench's, read after the shift end; from it, how busy the
//! lock was and how many such pushes per second it admits at most.
//!
//! Run (SQLite, one process):
//!     cargo build --release -p gridsync-server && cargo bench -p gridsync-server --bench load
//! PostgreSQL (a fresh database is created on the server of
//! GRIDSYNC_TEST_DATABASE_URL and dropped afterwards), two processes:
//!     eval "$(bash scripts/postgres.sh)"
//!     cargo bench -p gridsync-server --bench load -- --processes 2
//! Options (flag or environment variable, defaults in brackets):
//! `--phones` / GRIDSYNC_LOAD_PHONES [1000], `--edits` / GRIDSYNC_LOAD_EDITS
//! [20], `--per-grid` / GRIDSYNC_LOAD_PER_GRID phones per grid [20],
//! `--households` / GRIDSYNC_LOAD_HOUSEHOLDS per grid [20], `--processes` /
//! GRIDSYNC_LOAD_PROCESSES [1; 2 needs PostgreSQL], `--threads` /
//! GRIDSYNC_LOAD_THREADS [64], `--duration` / GRIDSYNC_LOAD_DURATION seconds
//! cap on the shift-end phase [600]; phones not started by then are counted
//! as skipped.

#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};

// The load generator's 64 phone threads spent a third of their time in
// glibc malloc (contended arenas), CPU taken from the server on the same two
// cores; real phones are separate machines. jemalloc, as the server uses.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gridsync_core::demo::{Generator, GridPlan, populate_households};
use gridsync_core::sync::{Client, SyncOptions};
use gridsync_core::{OpenOptions, Store};

#[path = "common/server.rs"]
mod server;
use gridsync_tests::PgDatabase;

const COMMUNITY: &str = "110105001001";
const PASSWORD: &str = "load-pass-2026";
const HOLDERS: usize = 5;
const SUPERVISORS: usize = 2;

fn grid(i: usize) -> String {
    format!("{COMMUNITY}{:03}", i + 1)
}

struct Settings {
    phones: usize,
    edits: usize,
    per_grid: usize,
    households: usize,
    processes: usize,
    threads: usize,
    duration: Duration,
}

impl Settings {
    fn read() -> Settings {
        let args: Vec<String> = std::env::args().collect();
        let get = |flag: &str, env: &str, default: usize| -> usize {
            let from_flag = args
                .iter()
                .position(|a| a == &format!("--{flag}"))
                .and_then(|i| args.get(i + 1));
            let raw = from_flag.cloned().or_else(|| std::env::var(env).ok());
            raw.map_or(default, |v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("--{flag} / {env}: not a number: {v}"))
            })
        };
        let s = Settings {
            phones: get("phones", "GRIDSYNC_LOAD_PHONES", 1000).max(1),
            edits: get("edits", "GRIDSYNC_LOAD_EDITS", 20),
            per_grid: get("per-grid", "GRIDSYNC_LOAD_PER_GRID", 20).max(1),
            households: get("households", "GRIDSYNC_LOAD_HOUSEHOLDS", 20).max(1),
            processes: get("processes", "GRIDSYNC_LOAD_PROCESSES", 1).clamp(1, 2),
            threads: get("threads", "GRIDSYNC_LOAD_THREADS", 64).max(1),
            duration: Duration::from_secs(get("duration", "GRIDSYNC_LOAD_DURATION", 600) as u64),
        };
        assert!(
            s.phones.div_ceil(s.per_grid) <= 999,
            "at most 999 grids in the community: raise --per-grid"
        );
        s
    }

    fn grids(&self) -> usize {
        self.phones.div_ceil(self.per_grid)
    }
}

/// One device: an in-memory store signed in through one server process.
struct Phone {
    store: Store,
    client: Client,
    /// The grid it works in, or the feed scope it is checked against.
    grid: Option<String>,
    /// Outbox before the shift-end sync.
    before: HashSet<String>,
    /// Changes the server acknowledged.
    acked: Vec<String>,
    shift: Option<Result<Duration, String>>,
    catch_up: Option<Result<Duration, String>>,
    pushed: u64,
}

impl Phone {
    fn login(client: &Client, user: &str, grid: Option<String>) -> Phone {
        let mut store = Store::open_in_memory(OpenOptions::default()).unwrap();
        let client = client.clone();
        client.login(&mut store, user, PASSWORD).unwrap();
        Phone {
            store,
            client,
            grid,
            before: HashSet::new(),
            acked: Vec::new(),
            shift: None,
            catch_up: None,
            pushed: 0,
        }
    }

    fn sync(&mut self) -> Result<(u64, Duration), String> {
        let t = Instant::now();
        gridsync_core::sync::sync(
            &mut self.store,
            &self.client,
            &SyncOptions::default(),
            None,
            &mut |_| {},
        )
        .map(|r| (r.pushed, t.elapsed()))
        .map_err(|e| e.to_string())
    }

    fn outbox(&self) -> HashSet<String> {
        self.store
            .outbox(1 << 30)
            .unwrap()
            .into_iter()
            .map(|e| e.hash)
            .collect()
    }

    /// Document id → heads, for documents in `scope` (all when `None`).
    fn heads(&mut self, scope: Option<&str>) -> HashMap<String, Vec<String>> {
        let docs = self.store.documents().unwrap();
        docs.into_iter()
            .filter(|(_, _, s)| scope.is_none_or(|g| g == s))
            .map(|(id, _, _)| {
                let mut h = self.store.heads(&id).unwrap();
                h.sort();
                (id.to_string(), h)
            })
            .collect()
    }
}

/// Run `f` on every item from `threads` threads; items not started before
/// `deadline` are skipped. Returns how many were skipped.
fn pool<T: Send>(
    items: &mut [T],
    threads: usize,
    deadline: Option<Instant>,
    f: impl Fn(usize, &mut T) + Sync,
) -> usize {
    let next = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let cells: Vec<Mutex<&mut T>> = items.iter_mut().map(Mutex::new).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.min(cells.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(cell) = cells.get(i) else { break };
                    if deadline.is_some_and(|d| Instant::now() > d) {
                        skipped.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    f(i, &mut cell.lock().unwrap());
                }
            });
        }
    });
    skipped.into_inner()
}

/// The target of the PostgreSQL store's `push lock released` event.
const LOCK_TARGET: &str = "gridsync_server::store::postgres";

fn log_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The push lock's hold and wait times, one per push, from the servers'
/// log lines between two offsets.
#[derive(Default)]
struct LockTimes {
    held: Vec<Duration>,
    waited: Vec<Duration>,
    changes: u64,
}

impl LockTimes {
    fn read(path: &std::path::Path, from: u64, to: u64) -> LockTimes {
        let bytes = std::fs::read(path).unwrap_or_default();
        let span = bytes
            .get(from as usize..(to as usize).min(bytes.len()))
            .unwrap_or_default();
        let mut times = LockTimes::default();
        for line in String::from_utf8_lossy(span).lines() {
            if !line.contains("push lock released") {
                // What the servers said otherwise (warnings, errors).
                eprintln!("server: {line}");
                continue;
            }
            let field = |name: &str| -> Option<u64> {
                let at = line.find(&format!(" {name}="))? + name.len() + 2;
                let digits: String = line[at..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            };
            if let (Some(held), Some(waited)) = (field("held_us"), field("waited_us")) {
                times.held.push(Duration::from_micros(held));
                times.waited.push(Duration::from_micros(waited));
                times.changes += field("changes").unwrap_or(0);
            }
        }
        times
    }

    fn print(&self, wall: Duration) {
        let n = self.held.len();
        if n == 0 {
            println!("| push lock | no hold times in the servers' log |");
            return;
        }
        let total: Duration = self.held.iter().sum();
        let mean = total.checked_div(n as u32).unwrap_or_default();
        println!(
            "| push lock (all processes) held per shift-end push | p50 / p95 / p99 / max: {}; mean {:.2} ms, {:.1} changes per push |",
            fine_percentiles(self.held.clone()),
            mean.as_secs_f64() * 1000.0,
            self.changes as f64 / n.max(1) as f64
        );
        println!(
            "| push lock: waited for it | p50 / p95 / p99 / max: {} |",
            fine_percentiles(self.waited.clone())
        );
        println!(
            "| push lock busy during the shift end; its ceiling (1 ÷ mean held) | {:.0} % of the wall time ({:.2} s held); {:.0} pushes/s at most |",
            100.0 * total.as_secs_f64() / wall.as_secs_f64(),
            total.as_secs_f64(),
            1.0 / mean.as_secs_f64().max(1e-9)
        );
    }
}

/// Like [`percentiles`], to a hundredth of a millisecond.
fn fine_percentiles(mut v: Vec<Duration>) -> String {
    if v.is_empty() {
        return "–".into();
    }
    v.sort();
    let at = |p: f64| {
        let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[i].as_secs_f64() * 1000.0
    };
    format!(
        "{:.2} / {:.2} / {:.2} / {:.2} ms (n = {})",
        at(50.0),
        at(95.0),
        at(99.0),
        at(100.0),
        v.len()
    )
}

fn percentiles(mut v: Vec<Duration>) -> String {
    if v.is_empty() {
        return "–".into();
    }
    v.sort();
    let at = |p: f64| {
        let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[i].as_secs_f64() * 1000.0
    };
    format!(
        "{:.0} / {:.0} / {:.0} / {:.0} ms (n = {})",
        at(50.0),
        at(95.0),
        at(99.0),
        at(100.0),
        v.len()
    )
}

fn main() {
    // A thousand phones in one process share one rayon pool: a worker
    // blocked in a join runs other phones' jobs on its stack, and these
    // nest far deeper than on any one phone (the default 2 MiB overflowed
    // in Automerge's document load).
    rayon::ThreadPoolBuilder::new()
        .stack_size(32 << 20)
        .build_global()
        .unwrap();
    let s = Settings::read();
    let tmp = tempfile::tempdir().unwrap();
    let pg = PgDatabase::if_configured();
    assert!(
        s.processes == 1 || pg.is_some(),
        "two server processes share a PostgreSQL database: set GRIDSYNC_TEST_DATABASE_URL"
    );
    let db_url = pg.as_ref().map(|p| p.url.as_str());
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    let setup_started = Instant::now();

    // Servers: the first one migrates the database and generates the token
    // secret; the second gets a copy of that secret so sessions are shared.
    let first_data = tmp.path().join("server-1");
    // GRIDSYNC_LOAD_WRAP runs the servers under a tool, e.g. "heaptrack".
    let wrap = std::env::var("GRIDSYNC_LOAD_WRAP")
        .ok()
        .filter(|w| !w.trim().is_empty());
    // Both processes log to one file (appending), the push lock's hold
    // times among it.
    let server_log = tmp.path().join("servers.log");
    let start = |data: &std::path::Path| {
        let level = std::env::var("GRIDSYNC_BENCH_LOG").unwrap_or_else(|_| "warn".into());
        let filter = format!("{level},{LOCK_TARGET}=debug");
        server::Server::options()
            .data_dir(data)
            .database_url(db_url)
            .wrap(wrap.as_deref())
            .env(&[("GRIDSYNC_LOG", &filter), ("NO_COLOR", "1")])
            .stderr_to(&server_log)
            .start()
    };
    let first = start(&first_data);
    let mut servers = vec![first];
    if s.processes == 2 {
        let data = tmp.path().join("server-2");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::copy(first_data.join("jwt-secret"), data.join("jwt-secret")).unwrap();
        servers.push(start(&data));
    }
    let admin = &servers[0];
    let grids = s.grids();
    let territory = serde_json::json!({"streets": [{"code": "110105001", "name": "建国门街道",
        "communities": [{"code": COMMUNITY, "name": "幸福社区",
            "grids": (0..grids).map(|i| serde_json::json!({"code": grid(i), "name": format!("第{}网格", i + 1)})).collect::<Vec<_>>()}]}]});
    let tfile = tmp.path().join("territory.json");
    std::fs::write(&tfile, territory.to_string()).unwrap();
    admin.cli(&["import", tfile.to_str().unwrap()]);
    for g in 0..grids {
        admin.add_user(&format!("w{g}"), "grid_worker", &[&grid(g)], None, PASSWORD);
    }
    for k in 0..HOLDERS {
        admin.add_user(&format!("h{k}"), "package_holder", &[], None, PASSWORD);
    }
    for k in 0..=SUPERVISORS {
        admin.add_user(
            &format!("sup{k}"),
            "supervisor",
            &[],
            Some(COMMUNITY),
            PASSWORD,
        );
    }
    let clients: Vec<Client> = servers
        .iter()
        .map(|sv| Client::new(&sv.url).unwrap())
        .collect();
    let client_of = |i: usize| &clients[i % clients.len()];

    // Package-holders first: the seeding phones need their user ids.
    let mut holders: Vec<Phone> = (0..HOLDERS)
        .map(|k| Phone::login(client_of(k), &format!("h{k}"), None))
        .collect();
    let holder_ids: Vec<String> = holders
        .iter()
        .map(|h| Client::user(&h.store).unwrap().unwrap().id)
        .collect();

    // One seeding phone per grid; the first grids' households are held by
    // the package-holders.
    let now = gridsync_core::clock::Clock::System.now_ms();
    let plan = GridPlan {
        households: s.households,
        residents_per_household: 2,
        visits_per_household: 2,
        buildings: 2,
        units: 1,
        // The seeding phone pushes as the worker: the holders' visits are
        // theirs to record.
        holder_visits: false,
    };
    let mut seeders: Vec<usize> = (0..grids).collect();
    pool(&mut seeders, 8, None, |_, g| {
        let mut p = Phone::login(client_of(*g), &format!("w{g}"), Some(grid(*g)));
        p.sync().unwrap();
        let held = holder_ids
            .get(*g)
            .map(|h| vec![h.clone()])
            .unwrap_or_default();
        let worker = p.store.author().user.clone();
        populate_households(
            &mut p.store,
            &grid(*g),
            &plan,
            &worker,
            &held,
            now,
            1000 + *g as u64,
        )
        .unwrap();
        p.sync().unwrap();
        assert_eq!(p.store.pending_changes().unwrap(), 0);
    });

    // Every phone signs in (argon2: a few at a time) and pulls its grid.
    let mut phones: Vec<Option<Phone>> = (0..s.phones).map(|_| None).collect();
    pool(&mut phones, 8, None, |i, slot| {
        let g = i % grids;
        *slot = Some(Phone::login(client_of(i), &format!("w{g}"), Some(grid(g))));
    });
    let mut phones: Vec<Phone> = phones.into_iter().map(Option::unwrap).collect();
    let first_pull = Mutex::new(Vec::new());
    pool(&mut phones, s.threads, None, |_, p| {
        let (_, took) = p.sync().unwrap();
        first_pull.lock().unwrap().push(took);
    });
    let mut supervisors: Vec<Phone> = (0..SUPERVISORS)
        .map(|k| Phone::login(client_of(k), &format!("sup{k}"), None))
        .collect();
    for o in supervisors.iter_mut().chain(holders.iter_mut()) {
        o.sync().unwrap();
    }
    let setup_peaks: Vec<f64> = servers.iter().map(server::peak_mb).collect();
    let setup_took = setup_started.elapsed();

    // Shift end: offline edits on every phone, untimed.
    pool(&mut phones, s.threads, None, |i, p| {
        let ids: Vec<String> = p
            .store
            .households(&Default::default())
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        let mut g = Generator::new(i as u64);
        let user = Client::user(&p.store).unwrap().unwrap().id;
        for k in 0..s.edits {
            let id = &ids[(i * 7 + k * 3) % ids.len()];
            p.store
                .add_visit(id, g.visit(&user, "grid_worker", now - 60_000))
                .unwrap();
        }
        p.before = p.outbox();
    });
    for sv in &servers {
        server::reset_peak(sv);
    }

    // Every phone syncs; supervisors and holders keep pulling meanwhile.
    let log_at_shift_start = log_len(&server_log);
    let done = AtomicBool::new(false);
    let observer_latencies: Mutex<HashMap<&str, Vec<Duration>>> = Mutex::new(HashMap::new());
    let observer_errors = AtomicUsize::new(0);
    let started = Instant::now();
    let deadline = started + s.duration;
    let skipped = std::thread::scope(|scope| {
        for (kind, group) in [("supervisor", &mut supervisors), ("holder", &mut holders)] {
            for o in group.iter_mut() {
                let (done, lat, errs) = (&done, &observer_latencies, &observer_errors);
                scope.spawn(move || {
                    while !done.load(Ordering::SeqCst) {
                        match o.sync() {
                            Ok((_, took)) => {
                                lat.lock().unwrap().entry(kind).or_default().push(took)
                            }
                            Err(_) => {
                                errs.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        std::thread::sleep(Duration::from_millis(200));
                    }
                });
            }
        }
        let skipped = pool(&mut phones, s.threads, Some(deadline), |_, p| {
            let result = p.sync();
            p.acked = p.before.difference(&p.outbox()).cloned().collect();
            p.shift = Some(result.map(|(pushed, took)| {
                p.pushed = pushed;
                took
            }));
        });
        done.store(true, Ordering::SeqCst);
        skipped
    });
    let shift_took = started.elapsed();
    let lock = LockTimes::read(&server_log, log_at_shift_start, log_len(&server_log));

    // Catch-up: every phone pulls what the others pushed.
    let catch_up_started = Instant::now();
    pool(&mut phones, s.threads, None, |_, p| {
        p.catch_up = Some(p.sync().map(|(_, took)| took));
    });
    let catch_up_took = catch_up_started.elapsed();
    let peaks: Vec<f64> = servers.iter().map(server::peak_mb).collect();

    // Checks: a fresh supervisor pull (through the last process) holds every
    // acknowledged change, and every device's documents match it.
    let mut auditor = Phone::login(clients.last().unwrap(), &format!("sup{SUPERVISORS}"), None);
    auditor.sync().unwrap();
    let truth = auditor.heads(None);
    let mut on_server = HashSet::new();
    let truth_scopes: HashMap<String, String> = auditor
        .store
        .documents()
        .unwrap()
        .into_iter()
        .map(|(id, _, scope)| (id.to_string(), scope))
        .collect();
    for id in truth.keys() {
        for c in auditor.store.doc_changes(id).unwrap() {
            on_server.insert(automerge::Change::from_bytes(c).unwrap().hash().to_string());
        }
    }
    let acked: usize = phones.iter().map(|p| p.acked.len()).sum();
    let missing = phones
        .iter()
        .flat_map(|p| p.acked.iter())
        .filter(|h| !on_server.contains(*h))
        .count();
    let mut converged = 0;
    for p in phones.iter_mut() {
        let scope = p.grid.clone();
        let mine = p.heads(scope.as_deref());
        let expected: HashMap<String, Vec<String>> = truth
            .iter()
            .filter(|(id, _)| truth_scopes.get(*id) == scope.as_ref())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        converged += usize::from(mine == expected);
    }
    // Supervisors hold everything; a package-holder a subset (their households).
    let mut observers_converged = 0;
    for (whole, o) in supervisors
        .iter_mut()
        .map(|o| (true, o))
        .chain(holders.iter_mut().map(|o| (false, o)))
    {
        o.sync().unwrap();
        let mine = o.heads(None);
        let same = !mine.is_empty() && mine.iter().all(|(id, h)| truth.get(id) == Some(h));
        observers_converged += usize::from(same && (!whole || mine.len() == truth.len()));
    }

    let shift_ok: Vec<Duration> = phones
        .iter()
        .filter_map(|p| p.shift.clone()?.ok())
        .collect();
    let shift_errors: Vec<String> = phones
        .iter()
        .filter_map(|p| p.shift.clone()?.err())
        .collect();
    let catch_up_ok: Vec<Duration> = phones
        .iter()
        .filter_map(|p| p.catch_up.clone()?.ok())
        .collect();
    let catch_up_errors = phones
        .iter()
        .filter(|p| matches!(p.catch_up, Some(Err(_))))
        .count();
    let pushed: u64 = phones.iter().map(|p| p.pushed).sum();
    let observers = observer_latencies.into_inner().unwrap();
    let mb = |v: &[f64]| {
        v.iter()
            .map(|m| format!("{m:.0} MB"))
            .collect::<Vec<_>>()
            .join(" + ")
    };

    println!(
        "\n### {} phones, {} server process{} on {backend}\n",
        s.phones,
        s.processes,
        if s.processes == 1 { "" } else { "es" }
    );
    println!("| measurement | result |");
    println!("|---|---|");
    println!(
        "| territory | {grids} grids × {} households; {} phones per grid; {HOLDERS} package-holders, {SUPERVISORS} supervisors pulling the community |",
        s.households, s.per_grid
    );
    println!(
        "| setup (users, seeding, sign-ins, first pulls) | {:.1} s; first pull of a grid p50 / p95 / p99 / max: {} |",
        setup_took.as_secs_f64(),
        percentiles(first_pull.into_inner().unwrap())
    );
    println!(
        "| shift end: {} offline visits per phone, then sync (push + pull grid news), {} threads | p50 / p95 / p99 / max: {} |",
        s.edits,
        s.threads,
        percentiles(shift_ok)
    );
    println!(
        "| shift end: wall time, throughput | {:.1} s, {:.0} changes/s stored ({pushed} changes) |",
        shift_took.as_secs_f64(),
        pushed as f64 / shift_took.as_secs_f64()
    );
    println!(
        "| catch-up round (every phone pulls the others' edits) | {:.1} s; p50 / p95 / p99 / max: {} |",
        catch_up_took.as_secs_f64(),
        percentiles(catch_up_ok)
    );
    for kind in ["supervisor", "holder"] {
        println!(
            "| {kind} pulls during the shift end | p50 / p95 / p99 / max: {} |",
            percentiles(observers.get(kind).cloned().unwrap_or_default())
        );
    }
    println!(
        "| errors | shift end {}, catch-up {catch_up_errors}, observers {}, skipped (duration cap) {skipped} |",
        shift_errors.len(),
        observer_errors.load(Ordering::SeqCst)
    );
    println!(
        "| server peak memory (VmHWM): setup / shift end + catch-up | {} / {} |",
        mb(&setup_peaks),
        mb(&peaks)
    );
    if pg.is_some() {
        lock.print(shift_took);
    }
    println!("| acknowledged changes missing on the server | {missing} of {acked} |");
    println!(
        "| devices converged with a fresh supervisor pull | {converged} of {} phones, {observers_converged} of {} supervisors/holders |",
        phones.len(),
        SUPERVISORS + HOLDERS
    );
    if let Some(e) = shift_errors.first() {
        println!("\nfirst error: {e}");
    }
    assert_eq!(missing, 0, "acknowledged changes missing");
    assert_eq!(converged, phones.len(), "phones did not converge");
    assert_eq!(
        observers_converged,
        SUPERVISORS + HOLDERS,
        "supervisors/holders did not converge"
    );
    drop(servers);
    drop(pg);
}

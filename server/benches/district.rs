//! A district on one server (issue 15, item 3): grids of 500 households
//! (1,500 residents, 5,000 visits) recorded on phones and pushed through
//! the real server (release build), on the embedded SQLite default or on
//! PostgreSQL, measured as the server fills: at each size given (default
//! 20 and 200 grids; the district is 1,000) it times, with that
//! much held,
//!
//! - push, pull (lists ready) and an incremental round of one more grid,
//!   the same work as `benches/sync.rs` on an empty server, for three
//!   more grids in turn (the median; the size's row then holds two more
//!   grids than the size);
//! - the street overview (`/web/t/{street}`, up to 50 grids) and the
//!   district overview (`/web/t/all`) over HTTP with a web session, the
//!   first view after seeding (the read models catching up with what was
//!   pushed since the last view) and the median of 5 views after it;
//! - the server's start (restart on the same data, until `/healthz`);
//! - disk per household (the data directory, or the PostgreSQL database);
//! - the server's peak memory while the street's supervisor pulls the
//!   street's grids onto a fresh phone.
//!
//! Run: `cargo build --release -p gridsync-server && cargo bench -p gridsync-server --bench district -- --grids 20,200,1000`
//! (`GRIDSYNC_DISTRICT_GRIDS` likewise; on PostgreSQL: `eval "$(bash scripts/postgres.sh)"` first).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use gridsync_core::demo::{GridPlan, populate_households};
use gridsync_core::sync::{Client, SyncOptions, SyncReport};
use gridsync_core::{OpenOptions, Store};

#[path = "common/edits.rs"]
mod edits;
#[path = "common/server.rs"]
mod server;
use gridsync_tests::PgDatabase;

const DISTRICT: &str = "110105";
const PASSWORD: &str = "bench-pass-2026";
/// Grids per community and communities per street: 50 grids a street.
const GRIDS_PER_COMMUNITY: usize = 5;
const COMMUNITIES_PER_STREET: usize = 10;
const GRIDS_PER_STREET: usize = GRIDS_PER_COMMUNITY * COMMUNITIES_PER_STREET;
/// Grids pushed, pulled and edited at each size (the median is reported).
const ROUNDS: usize = 3;
/// Grids seeded at once.
const SEEDERS: usize = 2;

fn street(s: usize) -> String {
    format!("{DISTRICT}{:03}", s + 1)
}

fn community(c: usize) -> String {
    format!(
        "{}{:03}",
        street(c / COMMUNITIES_PER_STREET),
        c % COMMUNITIES_PER_STREET + 1
    )
}

fn grid(i: usize) -> String {
    format!(
        "{}{:03}",
        community(i / GRIDS_PER_COMMUNITY),
        i % GRIDS_PER_COMMUNITY + 1
    )
}

fn sizes() -> Vec<usize> {
    let args: Vec<String> = std::env::args().collect();
    let given = args
        .iter()
        .position(|a| a == "--grids")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var("GRIDSYNC_DISTRICT_GRIDS").ok())
        .unwrap_or_else(|| "20,200".into());
    let mut sizes: Vec<usize> = given
        .split(',')
        .map(|s| s.trim().parse().expect("--grids: sizes like 20,200,1000"))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    assert!(sizes[0] >= 1, "--grids: at least one grid");
    sizes
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn sync(store: &mut Store, client: &Client) -> SyncReport {
    gridsync_core::sync::sync(store, client, &SyncOptions::default(), None, &mut |_| {}).unwrap()
}

/// The server over HTTP: an administrator's token, users, web sessions.
struct Admin {
    http: reqwest::blocking::Client,
    url: String,
    /// Signed in again when it expires (seeding a district outlasts it).
    token: std::sync::Mutex<String>,
}

impl Admin {
    fn new(url: &str) -> Self {
        let http = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(600))
            .build()
            .unwrap();
        let admin = Self {
            http,
            url: url.to_owned(),
            token: Default::default(),
        };
        admin.sign_in();
        admin
    }

    fn sign_in(&self) {
        let res: serde_json::Value = self
            .http
            .post(format!("{}/v1/auth/login", self.url))
            .json(
                &serde_json::json!({"username": "admin", "password": PASSWORD,
                "device_id": uuid::Uuid::new_v4().to_string()}),
            )
            .send()
            .unwrap()
            .json()
            .unwrap();
        *self.token.lock().unwrap() = res["access_token"].as_str().unwrap().to_owned();
    }

    fn add_user(&self, body: serde_json::Value) {
        let send = || {
            let token = self.token.lock().unwrap().clone();
            self.http
                .post(format!("{}/v1/admin/users", self.url))
                .bearer_auth(token)
                .json(&body)
                .send()
                .unwrap()
        };
        let mut res = send();
        if res.status() == reqwest::StatusCode::UNAUTHORIZED {
            self.sign_in();
            res = send();
        }
        assert!(res.status().is_success(), "add user: {}", res.status());
    }

    fn worker(&self, username: &str, grid: &str) {
        self.add_user(
            serde_json::json!({"username": username, "display_name": "网格员",
            "role": "grid_worker", "grids": [grid], "password": PASSWORD}),
        );
    }

    /// A web session's cookie.
    fn web_session(&self, username: &str) -> String {
        let res = self
            .http
            .post(format!("{}/web/login", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("username={username}&password={PASSWORD}"))
            .send()
            .unwrap();
        assert!(res.status().is_redirection(), "web login: {}", res.status());
        let cookie = res.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    }

    /// Time one view of a page.
    fn view(&self, cookie: &str, path: &str) -> Duration {
        let (res, took) = timed(|| {
            let res = self
                .http
                .get(format!("{}{path}", self.url))
                .header("cookie", cookie)
                .send()
                .unwrap();
            let status = res.status();
            let body = res.text().unwrap();
            (status, body.len())
        });
        assert!(res.0.is_success(), "{path}: {}", res.0);
        took
    }
}

fn phone(dir: &Path, name: &str, url: &str, user: &str) -> (Store, Client) {
    let mut store =
        Store::open_with(dir.join(format!("{name}.sqlite3")), OpenOptions::default()).unwrap();
    let client = Client::new(url).unwrap();
    client.login(&mut store, user, PASSWORD).unwrap();
    (store, client)
}

fn forget(dir: &Path, name: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{name}.sqlite3{suffix}")));
    }
}

/// Grid `i`'s households recorded on a phone signed in as its worker,
/// after a first sync for the grid's own document; not pushed yet.
fn record_offline(p: &mut Store, c: &Client, i: usize, now: i64) {
    sync(p, c);
    let worker = p.author().user.clone();
    populate_households(
        p,
        &grid(i),
        &GridPlan::default(),
        &worker,
        &[],
        now,
        7 + i as u64,
    )
    .unwrap();
}

/// Grid `i` recorded offline on its worker's phone and pushed.
fn seed(admin: &Admin, dir: &Path, i: usize, now: i64) {
    let user = format!("w{i}");
    admin.worker(&user, &grid(i));
    let (mut p, c) = phone(dir, &user, &admin.url, &user);
    record_offline(&mut p, &c, i, now);
    sync(&mut p, &c);
    drop(p);
    forget(dir, &user);
}

fn dir_bytes(path: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(path).unwrap().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            dir_bytes(&e.path())
        } else {
            m.len()
        };
    }
    total
}

fn pg_bytes(url: &str) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let row = client
            .query_one("SELECT pg_database_size(current_database())", &[])
            .await
            .unwrap();
        row.get::<_, i64>(0) as u64
    })
}

/// The figures at one size.
struct Row {
    grids: usize,
    push: f64,
    pull: f64,
    listed: f64,
    incremental: f64,
    street_first: f64,
    street: f64,
    district_first: f64,
    district: f64,
    start: f64,
    disk_per_household: f64,
    street_pull: f64,
    street_households: usize,
    server_peak: f64,
}

fn main() {
    let sizes = sizes();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    let phones = tmp.path().join("phones");
    std::fs::create_dir_all(&phones).unwrap();
    let pg = PgDatabase::if_configured();
    let db_url = pg.as_ref().map(|p| p.url.clone());
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("server storage: {backend}; sizes: {sizes:?} grids of 500 households");
    let mut server = server::start(&data, db_url.as_deref());

    let max = *sizes.last().unwrap();
    // Room for the ROUNDS grids measured after the last size.
    let streets = (max + ROUNDS).div_ceil(GRIDS_PER_STREET);
    let territory = serde_json::json!({"streets": (0..streets).map(|s| serde_json::json!({
        "code": street(s), "name": format!("第{}街道", s + 1),
        "communities": (0..COMMUNITIES_PER_STREET).map(|c| {
            let c = s * COMMUNITIES_PER_STREET + c;
            serde_json::json!({"code": community(c), "name": format!("第{}社区", c + 1),
                "grids": (0..GRIDS_PER_COMMUNITY).map(|g| {
                    let g = c * GRIDS_PER_COMMUNITY + g;
                    serde_json::json!({"code": grid(g), "name": format!("第{}网格", g + 1)})
                }).collect::<Vec<_>>()})
        }).collect::<Vec<_>>()})).collect::<Vec<_>>()});
    server.import_territory(&territory);
    server.add_user("admin", "admin", &[], None, PASSWORD);
    server.add_user("sup", "supervisor", &[], Some(&street(0)), PASSWORD);

    let now = gridsync_core::clock::Clock::System.now_ms();
    let mut seeded = 0;
    let mut rows = Vec::new();
    let started = Instant::now();
    for &size in &sizes {
        let admin = Admin::new(&server.url);
        // Fill to one below the size; the size's last grid is the one
        // measured.
        // Two phones at a time: one records while the server takes the
        // other's push (one at a time, half the machine stood idle).
        let (_, seeding) = timed(|| {
            let next = std::sync::atomic::AtomicUsize::new(seeded);
            let target = size.saturating_sub(1).max(seeded);
            std::thread::scope(|s| {
                for _ in 0..SEEDERS {
                    s.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if i >= target {
                                break;
                            }
                            seed(&admin, &phones, i, now);
                            if (i + 1).is_multiple_of(50) {
                                eprintln!(
                                    "  {} grids held ({:.0} s)",
                                    i + 1,
                                    started.elapsed().as_secs_f64()
                                );
                            }
                        }
                    });
                }
            });
            seeded = target;
        });
        eprintln!(
            "{seeded} grids seeded ({:.1} s); measuring {ROUNDS} more",
            seeding.as_secs_f64()
        );

        // One more grid, ROUNDS times: pushed, pulled on a second phone,
        // an incremental round between the two (as benches/sync.rs on an
        // empty server); the median of each (one sample is at the mercy
        // of the shared machine).
        let mut samples: [Vec<f64>; 4] = Default::default();
        for _ in 0..ROUNDS {
            let i = seeded;
            let (wa, wb) = (format!("w{i}"), format!("w{i}b"));
            admin.worker(&wa, &grid(i));
            admin.worker(&wb, &grid(i));
            let (mut a, ca) = phone(&phones, &wa, &server.url, &wa);
            record_offline(&mut a, &ca, i, now);
            let (_, push) = timed(|| sync(&mut a, &ca));
            seeded += 1;
            let (mut b, cb) = phone(&phones, &wb, &server.url, &wb);
            let (_, pull) = timed(|| sync(&mut b, &cb));
            let (n, listed) = timed(|| b.households(&Default::default()).unwrap().len());
            assert_eq!(n, 500);
            let ids = edits::offline_edits(&mut a, &mut b, now);
            let (_, incremental) = timed(|| {
                sync(&mut a, &ca);
                sync(&mut b, &cb);
                sync(&mut a, &ca);
            });
            assert_eq!(a.household(&ids[0]).unwrap(), b.household(&ids[0]).unwrap());
            drop((a, b));
            forget(&phones, &wa);
            forget(&phones, &wb);
            for (s, d) in samples.iter_mut().zip([push, pull, listed, incremental]) {
                s.push(ms(d));
            }
        }
        let [push, pull, listed, incremental] = samples.map(median);

        // The overviews: first view (read models catch up), then 5 more.
        let sup = admin.web_session("sup");
        let root = admin.web_session("admin");
        let street_path = format!("/web/t/{}", street(0));
        let street_first = admin.view(&sup, &street_path);
        let street = median((0..5).map(|_| ms(admin.view(&sup, &street_path))).collect());
        let district_first = admin.view(&root, "/web/t/all");
        let district = median(
            (0..5)
                .map(|_| ms(admin.view(&root, "/web/t/all")))
                .collect(),
        );

        // Disk per household.
        let bytes = match &db_url {
            Some(url) => pg_bytes(url),
            None => dir_bytes(&data),
        };
        let disk_per_household = bytes as f64 / (seeded * 500) as f64;

        // The street's supervisor pulls its grids onto a fresh phone.
        server::reset_peak(&server);
        let name = format!("sup{size}");
        let (mut s, cs) = phone(&phones, &name, &server.url, "sup");
        let (_, street_pull) = timed(|| {
            sync(&mut s, &cs);
            s.households(&Default::default()).unwrap().len()
        });
        let street_households = s.households(&Default::default()).unwrap().len();
        let server_peak = server::peak_mb(&server);
        drop(s);
        forget(&phones, &name);

        // Start time on what is held.
        let (_, start) = timed(|| server.restart());

        let row = Row {
            grids: seeded,
            push,
            pull,
            listed,
            incremental,
            street_first: ms(street_first),
            street,
            district_first: ms(district_first),
            district,
            start: ms(start),
            disk_per_household,
            street_pull: ms(street_pull),
            street_households,
            server_peak,
        };
        eprintln!(
            "{} grids: push {:.0} ms, pull {:.0} + {:.0} ms, incremental {:.0} ms, street {:.0} ms, district {:.0} ms",
            row.grids, row.push, row.pull, row.listed, row.incremental, row.street, row.district
        );
        rows.push(row);
    }

    println!();
    println!(
        "| grids held (households) | push one grid | pull one grid + lists | incremental round | street overview: first / warm | district overview: first / warm | server start | disk per household | street supervisor's pull (households) | server peak in it |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} ({}) | {:.0} ms | {:.0} + {:.0} ms | {:.0} ms | {:.0} / {:.0} ms | {:.0} / {:.0} ms | {:.0} ms | {:.1} KiB | {:.1} s ({}) | {:.0} MB |",
            r.grids,
            r.grids * 500,
            r.push,
            r.pull,
            r.listed,
            r.incremental,
            r.street_first,
            r.street,
            r.district_first,
            r.district,
            r.start,
            r.disk_per_household / 1024.0,
            r.street_pull / 1000.0,
            r.street_households,
            r.server_peak
        );
    }
    println!(
        "\nstorage {backend}; total {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

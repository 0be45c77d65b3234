//! The storage conformance suites against a real PostgreSQL, plus what only
//! a shared database has: two server processes pushing at once.
//!
//! `GRIDSYNC_TEST_DATABASE_URL` names a database on a server where the user
//! may create databases (`eval "$(scripts/postgres.sh)"` starts one); each
//! test works in a fresh database (`gridsync_tests::PgDatabase`, the
//! harness the benches use too) dropped after.
//! Without the variable the tests print a notice and skip, unless
//! `GRIDSYNC_REQUIRE_POSTGRES` is set (CI), when they fail.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gridsync_server::directory::Directory;
use gridsync_server::directory::postgres::PgDirectory;
use gridsync_server::store::postgres::PgDocStore;
use gridsync_server::store::{DocStore, PullLimits};
use gridsync_tests::PgDatabase;
use tokio_postgres::NoTls;

use crate::store::{G1, feed, phone_with, push_as_worker};

pub(crate) async fn pg_store() -> Option<(Arc<dyn DocStore>, PgDatabase)> {
    let db = PgDatabase::fresh()?;
    let pool = gridsync_server::pg::open(&db.url).await.expect("open");
    Some((Arc::new(PgDocStore::new(pool)), db))
}

pub(crate) async fn pg_directory() -> Option<(Arc<dyn Directory>, PgDatabase)> {
    let db = PgDatabase::fresh()?;
    let pool = gridsync_server::pg::open(&db.url).await.expect("open");
    Some((Arc::new(PgDirectory::new(pool)), db))
}

// The store suite; a test without PostgreSQL returns early (see
// PgDatabase::fresh).
crate::conformance!(store, {
    let Some(made) = pg_store().await else {
        return;
    };
    std::future::ready(made)
});

macro_rules! pg_directory_conformance {
    ($($name:ident),+ $(,)?) => {
        mod directory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((dir, _db)) = crate::postgres::pg_directory().await else {
                        return;
                    };
                    crate::directory::suite::$name(dir).await;
                }
            )+
        }
    };
}

// The same cases as the SQLite instantiation in directory.rs.
pg_directory_conformance!(
    territory_lookups,
    users,
    building_heads,
    devices_and_sessions,
    concurrent_rotation_has_one_winner,
);

/// Two server processes (two stores, each with its own pool and cache) on
/// one database, migrating at once, then pushing at once while a third
/// pulls in small pages: the log is 1..=N without gaps and the puller
/// ends with every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_push_concurrently_and_a_puller_misses_nothing() {
    let Some(db) = PgDatabase::fresh() else {
        return;
    };
    let (a, b) = tokio::join!(
        gridsync_server::pg::open(&db.url),
        gridsync_server::pg::open(&db.url)
    );
    let (a, b) = (a.expect("open a"), b.expect("open b"));
    let stores: [Arc<dyn DocStore>; 2] =
        [Arc::new(PgDocStore::new(a)), Arc::new(PgDocStore::new(b))];
    let reader: Arc<dyn DocStore> = Arc::new(PgDocStore::new(
        gridsync_server::pg::open(&db.url)
            .await
            .expect("open reader"),
    ));

    let (client, conn) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let migrations: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    let files = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres"),
    )
    .unwrap()
    .filter(|e| {
        e.as_ref()
            .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
    })
    .count() as i64;
    assert_eq!(migrations, files, "each migration applied once");

    let done = Arc::new(AtomicBool::new(false));
    let puller = {
        let (reader, done) = (reader.clone(), done.clone());
        tokio::spawn(async move {
            let limits = PullLimits {
                max_docs: 3,
                max_bytes: 1 << 20,
            };
            let mut cursors = vec![feed(&format!("g:{G1}"), 0)];
            let mut docs: HashMap<String, automerge::Automerge> = HashMap::new();
            let mut pulls = 0;
            loop {
                // Read `done` before pulling: a pull that starts after every
                // push finished must bring the rest.
                let last = done.load(Ordering::SeqCst);
                loop {
                    let page = reader.pull(cursors.clone(), limits, None).await.unwrap();
                    pulls += 1;
                    for d in page.docs {
                        docs.entry(d.id)
                            .or_default()
                            .load_incremental(&d.data)
                            .unwrap();
                    }
                    assert!(page.cursors[0].at.cursor >= cursors[0].at.cursor);
                    cursors = page.cursors;
                    if !page.more {
                        break;
                    }
                }
                if last {
                    return (docs, pulls);
                }
                tokio::task::yield_now().await;
            }
        })
    };

    let mut tasks = Vec::new();
    let mut total = 0;
    for i in 0..16 {
        let (_, changes) = phone_with(G1, 2, None);
        total += changes.len();
        let store = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            push_as_worker(&*store, changes).await
        }));
    }
    let mut stored = 0;
    for t in tasks {
        let out = t.await.unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        stored += out.stored;
    }
    done.store(true, Ordering::SeqCst);
    assert_eq!(stored, total);

    // Gap-free: 1..=total, once each.
    let row = client
        .query_one(
            "SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0), count(DISTINCT seq) FROM changes",
            &[],
        )
        .await
        .unwrap();
    let (count, min, max, distinct): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        (count, min, max, distinct),
        (total as i64, 1, total as i64, total as i64)
    );
    for s in &stores {
        assert_eq!(s.max_seq().await.unwrap(), total as i64);
    }

    let (docs, pulls) = puller.await.unwrap();
    assert!(pulls > 1);
    assert_eq!(docs.len(), 32, "every document");
    let pulled: HashSet<_> = docs
        .values()
        .flat_map(|d| d.get_changes(&[]).into_iter().map(|c| c.hash()))
        .collect();
    assert_eq!(pulled.len(), total, "every change");
    // And they are the documents each process serves.
    for (id, doc) in &docs {
        for s in &stores {
            let saved = s.load(id).await.unwrap().expect("stored");
            let served = automerge::Automerge::load(&saved).unwrap();
            assert_eq!(served.get_heads(), doc.get_heads());
        }
    }
}

/// A process's cached document is not served after another process
/// changed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_never_serves_a_stale_document() {
    let Some(db) = PgDatabase::fresh() else {
        return;
    };
    let a: Arc<dyn DocStore> = Arc::new(PgDocStore::new(
        gridsync_server::pg::open(&db.url).await.unwrap(),
    ));
    let b: Arc<dyn DocStore> = Arc::new(PgDocStore::new(
        gridsync_server::pg::open(&db.url).await.unwrap(),
    ));
    let (mut phone, changes) = phone_with(G1, 1, None);
    let doc_id = changes[0].doc_id.clone();
    push_as_worker(&*a, changes).await;
    // Both have loaded (a has it cached from its push).
    let first = automerge::Automerge::load(&a.load(&doc_id).await.unwrap().unwrap()).unwrap();
    let _ = b.load(&doc_id).await.unwrap().unwrap();

    // The phone edits again; the change reaches the server through b.
    let before: HashSet<i64> = phone
        .outbox(10_000)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    phone
        .add_resident(&doc_id, gridsync_core::household::Resident::named("王五"))
        .unwrap();
    let more: Vec<_> = phone
        .outbox(10_000)
        .unwrap()
        .into_iter()
        .filter(|e| !before.contains(&e.seq))
        .map(|e| gridsync_server::store::IncomingChange {
            doc_id: e.doc_id,
            data: e.data,
        })
        .collect();
    assert!(!more.is_empty());
    let out = push_as_worker(&*b, more).await;
    assert!(out.stored > 0 && out.rejected.is_empty(), "{out:?}");

    // a must now serve the new version, not its cached one.
    let now = automerge::Automerge::load(&a.load(&doc_id).await.unwrap().unwrap()).unwrap();
    assert_ne!(now.get_heads(), first.get_heads());
    let h: gridsync_core::household::Household = gridsync_core::doc::read(&now, None).unwrap();
    assert_eq!(h.residents.len(), 3);
    // And a push through a builds on b's change instead of losing it.
    let before: HashSet<i64> = phone
        .outbox(10_000)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    phone
        .add_resident(&doc_id, gridsync_core::household::Resident::named("赵六"))
        .unwrap();
    let more: Vec<_> = phone
        .outbox(10_000)
        .unwrap()
        .into_iter()
        .filter(|e| !before.contains(&e.seq))
        .map(|e| gridsync_server::store::IncomingChange {
            doc_id: e.doc_id,
            data: e.data,
        })
        .collect();
    let out = push_as_worker(&*a, more).await;
    assert!(out.stored > 0 && out.rejected.is_empty(), "{out:?}");
    let h: gridsync_core::household::Household = gridsync_core::doc::read(
        &automerge::Automerge::load(&b.load(&doc_id).await.unwrap().unwrap()).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(h.residents.len(), 4);
}

/// `AppState::open` picks PostgreSQL for a `postgres://` URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_state_opens_postgres_for_a_postgres_url() {
    let Some(db) = PgDatabase::fresh() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = gridsync_server::config::Config::with_data_dir(dir.path());
    config.database_url = Some(db.url.clone());
    let state = gridsync_server::AppState::open(config).await.unwrap();
    assert_eq!(state.docs.max_seq().await.unwrap(), 0);
    assert!(state.directory.streets().await.unwrap().is_empty());
    assert!(
        !gridsync_server::config::Config::with_data_dir(dir.path())
            .sqlite_path()
            .exists(),
        "no SQLite file when PostgreSQL is used"
    );
    // And it refuses other schemes rather than guessing.
    let mut config = gridsync_server::config::Config::with_data_dir(dir.path());
    config.database_url = Some("mysql://localhost/x".into());
    assert!(gridsync_server::AppState::open(config).await.is_err());
}

/// The per-document lookups over arrays stay index lookups on a change log
/// without statistics, as bulk pushes leave it until autovacuum analyses
/// it. Written as plain joins they were planned as hash joins over a
/// sequential scan of the whole log, for every 250 documents of a pull.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_lookups_use_the_indexes_before_the_log_has_statistics() {
    use gridsync_server::store::postgres::lookups;
    let Some(db) = PgDatabase::fresh() else {
        return;
    };
    let pool = gridsync_server::pg::open(&db.url).await.expect("open");
    let client = pool.get().await.expect("connection");
    // 6,000 documents of 10 changes each, never analysed.
    client
        .batch_execute(
            "INSERT INTO docs (id, kind, scope, snapshot_seq, loose, last_seq, updated_at, writer)
               SELECT 'doc' || g, 'household', '110105001001001', 0, 10, g * 10 + 10, 0, 'phone'
               FROM generate_series(0, 5999) g;
             INSERT INTO changes (seq, doc_id, hash, data, device_id, received_at)
               SELECT g, 'doc' || ((g - 1) / 10), sha256(g::text::bytea), repeat('x', 300)::bytea,
                      'phone', 0
               FROM generate_series(1, 60000) g;
             INSERT INTO listings (doc_id, seq, data)
               SELECT 'doc' || g, g * 10 + 10, repeat('y', 600)::bytea
               FROM generate_series(0, 5999) g;",
        )
        .await
        .expect("fill the log");
    let ids = format!(
        "{{{}}}",
        (100..350)
            .map(|i| format!("doc{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let zeros = format!("{{{}}}", vec!["0"; 250].join(","));
    let hashes = format!("{{{}}}", vec!["\\\\x00"; 250].join(","));
    let cases = [
        (
            "KNOWN",
            lookups::KNOWN,
            "text[], bytea[]",
            format!("'{ids}', '{hashes}'"),
            "changes",
        ),
        (
            "WANTED",
            lookups::WANTED,
            "text[], bigint[], text",
            format!("'{ids}', '{zeros}', 'supervisor'"),
            "changes",
        ),
        (
            "CHANGES_AFTER",
            lookups::CHANGES_AFTER,
            "text[], bigint[]",
            format!("'{ids}', '{zeros}'"),
            "changes",
        ),
        // Its list rows were read by a sequential scan per 250 documents
        // while listings.doc_id had the default collation.
        (
            "WHOLE",
            lookups::WHOLE,
            "text[]",
            format!("'{ids}'"),
            "listings",
        ),
        (
            "WHOLE",
            lookups::WHOLE,
            "text[]",
            format!("'{ids}'"),
            "docs",
        ),
    ];
    for (n, (name, sql, types, args, table)) in cases.into_iter().enumerate() {
        // The plan a server process reuses after a few executions.
        let script = format!(
            "SET plan_cache_mode = force_generic_plan;
             PREPARE q_{n}({types}) AS {sql};
             EXPLAIN EXECUTE q_{n}({args});"
        );
        let plan: Vec<String> = client
            .simple_query(&script)
            .await
            .expect("explain")
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            })
            .collect();
        let plan = plan.join("\n");
        assert!(
            !plan.contains(&format!("Seq Scan on {table}")),
            "{name} scans the whole of {table}:\n{plan}"
        );
        assert!(
            plan.lines().any(|l| l.contains("Index")
                && (l.contains(&format!(" on {table} ")) || l.contains(&format!(" {table}_")))),
            "{name} looks {table} up by index:\n{plan}"
        );
    }
}

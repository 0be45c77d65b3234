//! Throwaway PostgreSQL databases for the tests and benchmarks that run on
//! PostgreSQL: `GRIDSYNC_TEST_DATABASE_URL` names a server where the user
//! may create databases (`eval "$(bash scripts/postgres.sh)"` starts one);
//! each [`PgDatabase`] is a fresh `gs_test_<random>` there, dropped on drop.
//! Without the variable a test skips with a notice, unless
//! `GRIDSYNC_REQUIRE_POSTGRES` is set (CI), when it fails.

use tokio_postgres::NoTls;

/// Names the PostgreSQL server the throwaway databases are made on.
pub const DATABASE_URL_VAR: &str = "GRIDSYNC_TEST_DATABASE_URL";
/// Set (CI) to make a missing [`DATABASE_URL_VAR`] a failure, not a skip.
pub const REQUIRE_VAR: &str = "GRIDSYNC_REQUIRE_POSTGRES";

/// A database made for one test or benchmark run, dropped when this is.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    /// URL of the fresh database itself.
    pub url: String,
}

impl PgDatabase {
    /// A fresh database, or `None` (with a notice, once) when no PostgreSQL
    /// is configured; panics then if `GRIDSYNC_REQUIRE_POSTGRES` is set.
    pub fn fresh() -> Option<PgDatabase> {
        if let Some(db) = PgDatabase::if_configured() {
            return Some(db);
        }
        assert!(
            std::env::var_os(REQUIRE_VAR).is_none(),
            "{REQUIRE_VAR} is set but {DATABASE_URL_VAR} is not: \
             start one with `eval \"$(bash scripts/postgres.sh)\"`"
        );
        // Straight to stderr: the test harness captures eprintln! of a
        // passing test, and this notice must be seen.
        static NOTICE: std::sync::Once = std::sync::Once::new();
        NOTICE.call_once(|| {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PostgreSQL tests (set {DATABASE_URL_VAR}, e.g. eval \"$(bash scripts/postgres.sh)\"; \
                 set {REQUIRE_VAR} to make this an error)"
            );
        });
        None
    }

    /// A fresh database when `GRIDSYNC_TEST_DATABASE_URL` is set, silently
    /// `None` otherwise (the benchmarks, where PostgreSQL is optional).
    pub fn if_configured() -> Option<PgDatabase> {
        std::env::var(DATABASE_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
            .map(|admin_url| PgDatabase::create(&admin_url))
    }

    /// A fresh database on the server of `admin_url`; panics if it cannot
    /// be made.
    pub fn create(admin_url: &str) -> PgDatabase {
        let name = format!("gs_test_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = admin_sql(admin_url, format!("CREATE DATABASE {name}")) {
            panic!("create a test database on {DATABASE_URL_VAR}: {e}");
        }
        PgDatabase {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if admin_sql(&self.admin_url, sql).is_err() {
            eprintln!("note: test database {} was not dropped", self.name);
        }
    }
}

/// Run `sql` on `url` on a thread and runtime of its own, so it works the
/// same from plain code, async tests and `Drop` on a runtime thread.
fn admin_sql(url: &str, sql: String) -> Result<(), String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(&url, NoTls)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            client.batch_execute(&sql).await.map_err(|e| e.to_string())
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the SQL thread panicked".to_owned()))
}

/// `url` with its database replaced by `db` (query string kept).
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{db}{query}")
}

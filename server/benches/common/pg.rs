//! A throwaway PostgreSQL database for the benchmarks and tests that run the
//! server on PostgreSQL (GRIDSYNC_TEST_DATABASE_URL, e.g. from
//! scripts/postgres.sh); tests/tests/multiprocess.rs includes this file too.

use std::path::PathBuf;
use std::process::Command;

/// A fresh PostgreSQL database on the server of GRIDSYNC_TEST_DATABASE_URL,
/// dropped on drop (created and dropped with `psql`).
pub(crate) struct PgDatabase {
    admin_url: String,
    name: String,
    pub(crate) url: String,
}

fn psql() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("psql"))
            .find(|f| f.exists())
    });
    on_path
        .or_else(|| {
            let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path().join("bin/psql")))
                .filter(|p| p.exists())
                .collect();
            found.sort();
            found.pop()
        })
        .expect("psql not found")
}

fn run_psql(url: &str, sql: &str) {
    let out = Command::new(psql())
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `url` with its database name replaced by `db` (query string kept).
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{db}{query}")
}

impl PgDatabase {
    pub(crate) fn create(admin_url: &str) -> PgDatabase {
        let name = format!("gs_test_{}", uuid::Uuid::new_v4().simple());
        run_psql(admin_url, &format!("CREATE DATABASE {name}"));
        PgDatabase {
            admin_url: admin_url.to_string(),
            url: with_database(admin_url, &name),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new(psql())
            .args([
                self.admin_url.as_str(),
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

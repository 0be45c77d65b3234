//! The embedded SQLite database: a connection pool and the numbered
//! migrations of the server's schema, embedded and tracked in
//! `schema_migrations`. A shipped migration is never edited.
//!
//! Durability: WAL with `synchronous=FULL`, so every commit — and so every
//! push the server acknowledges — is fsynced before it returns and survives
//! a power loss or an OS crash, not only a killed process (with `NORMAL` a
//! WAL commit reaches the disk only at the next checkpoint). The file is
//! created 0600 (its WAL and shared-memory files take its mode).

use std::path::Path;

use deadpool_sqlite::{Config, Pool, Runtime};
use rusqlite::OptionalExtension;

/// Database errors of the SQLite implementation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// SQLite refused.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The pool could not hand out a connection.
    #[error("connection pool: {0}")]
    Pool(String),
    /// The blocking task running the query failed.
    #[error("database task: {0}")]
    Task(String),
}

/// The migrations, in order: (version, SQL). Versions may have gaps (a
/// number reserved by work not merged yet); each is applied once, whatever
/// order they arrive in (see [`migrate`]).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_directory.sql")),
    (2, include_str!("../migrations/sqlite/0002_docs.sql")),
    (3, include_str!("../migrations/sqlite/0003_blobs.sql")),
    (4, include_str!("../migrations/sqlite/0004_departments.sql")),
    (5, include_str!("../migrations/sqlite/0005_web.sql")),
    (6, include_str!("../migrations/sqlite/0006_writer.sql")),
    (7, include_str!("../migrations/sqlite/0007_change_key.sql")),
    (8, include_str!("../migrations/sqlite/0008_docs_rowid.sql")),
    (
        9,
        include_str!("../migrations/sqlite/0009_log_generation.sql"),
    ),
    (10, include_str!("../migrations/sqlite/0010_hotline.sql")),
    (
        11,
        include_str!("../migrations/sqlite/0011_ledger_import.sql"),
    ),
    (
        12,
        include_str!("../migrations/sqlite/0012_building_heads.sql"),
    ),
    (
        13,
        include_str!("../migrations/sqlite/0013_needs_closed.sql"),
    ),
    (14, include_str!("../migrations/sqlite/0014_listings.sql")),
];

/// `PRAGMA synchronous` of every connection: FULL (2).
pub const SYNCHRONOUS: &str = "FULL";

/// Prepared statements kept per pooled connection: more than the server
/// runs (`prepare_cached` everywhere), so none is parsed twice. A row
/// limit given as a parameter is written `LIMIT +?1`: SQLite prepares a
/// statement whose limit is a bare parameter again each time it is bound
/// (a test in `gridsync_core::store` holds both crates to it).
const STATEMENTS_KEPT: usize = 256;

/// Create an empty file readable and writable by its owner only (0600) at
/// `path` unless one is there: SQLite then opens it as a new database and
/// gives its WAL and shared-memory files the same mode.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Open (creating if needed) the database at `path` and migrate it.
pub async fn open(path: &Path) -> Result<Pool, DbError> {
    let pool = pool(path, 8, |c| {
        // An acknowledged push survives a power loss (see above).
        c.pragma_update(None, "synchronous", SYNCHRONOUS)?;
        // Checkpoints run in the background after pushes
        // (`store::sqlite`), not inside the commit of whichever
        // request crosses the default 1,000 pages: that made
        // one large push wait ~15 ms more. This is the safety
        // net should the background ones fall behind.
        c.pragma_update(None, "wal_autocheckpoint", 16384)?;
        c.pragma_update(None, "cache_size", -32768)?;
        c.pragma_update(None, "foreign_keys", "ON")
    })
    .await?;
    run(&pool, migrate).await?;
    Ok(pool)
}

/// The one way a SQLite pool is made (the main database and the web's read
/// model): the file created the owner's only, at most `max_size`
/// connections (the last used handed out first), each waiting up to 10 s
/// for a lock, in WAL mode, then set up by `setup` (durability, cache,
/// foreign keys: what differs per file).
pub async fn pool(
    path: &Path,
    max_size: usize,
    setup: fn(&rusqlite::Connection) -> rusqlite::Result<()>,
) -> Result<Pool, DbError> {
    create_private(path).map_err(|e| DbError::Task(format!("creating the database file: {e}")))?;
    Config::new(path)
        .builder(Runtime::Tokio1)
        .map_err(|e| DbError::Pool(e.to_string()))?
        .max_size(max_size)
        // The connection used last is handed out next: sequential requests
        // (a supervisor's pull page after page) find its page cache warm,
        // and idle connections do not each keep a copy of the same pages
        // (first in, first out rotated through all eight, up to 32 MiB of
        // cache each).
        .queue_mode(deadpool_sqlite::QueueMode::Lifo)
        .post_create(deadpool_sqlite::Hook::async_fn(move |conn, _| {
            Box::pin(async move {
                conn.interact(move |c| {
                    c.busy_timeout(std::time::Duration::from_secs(10))?;
                    c.pragma_update(None, "journal_mode", "WAL")?;
                    // Every statement stays prepared (rusqlite keeps 16 by
                    // default; the stores have more than a hundred).
                    c.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
                    setup(c)
                })
                .await
                .map_err(|e| deadpool_sqlite::HookError::message(e.to_string()))?
                .map_err(|e| deadpool_sqlite::HookError::message(e.to_string()))
            })
        }))
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}

/// Apply every migration not applied yet. Applied versions are recorded in
/// `schema_migrations`; databases from before that table counted them in
/// `user_version` (1..=n, contiguous), which still counts as applied. A
/// migration numbered below one already applied (a gap filled later) is
/// applied too.
///
/// Migrations run with foreign keys off, as SQLite's procedure for
/// rebuilding a table requires (dropping a referenced table would
/// otherwise cascade to its children), and every reference is checked
/// after the last one: a dangling one fails the start.
fn migrate(conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = migrate_all(conn).and_then(|()| {
        let dangling: Option<String> = conn
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()?;
        match dangling {
            Some(table) => Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!("a migration left a dangling reference in {table}")),
            )),
            None => Ok(()),
        }
    });
    conn.pragma_update(None, "foreign_keys", "ON")?;
    result
}

fn migrate_all(conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    let legacy: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY) STRICT",
    )?;
    for (version, sql) in MIGRATIONS {
        let applied = *version <= legacy
            || conn
                .query_row(
                    "SELECT 1 FROM schema_migrations WHERE version = ?1",
                    [version],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
        if applied {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES (?1)",
            [version],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Run `f` on a pooled connection, off the async threads.
pub async fn run<T, F>(pool: &Pool, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let conn = pool.get().await.map_err(|e| DbError::Pool(e.to_string()))?;
    conn.interact(f)
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
        .map_err(DbError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pooled connection commits with `synchronous=FULL` in WAL mode,
    /// and the files are the owner's only.
    #[tokio::test]
    async fn every_connection_is_durable_and_the_files_private() -> Result<(), DbError> {
        let dir = tempfile::tempdir().map_err(|e| DbError::Task(e.to_string()))?;
        let path = dir.path().join("gridsync.sqlite3");
        let pool = open(&path).await?;
        // Several connections at once: each ran the pool's setup.
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(pool.get().await.map_err(|e| DbError::Pool(e.to_string()))?);
        }
        for conn in &held {
            let (sync, journal) = conn
                .interact(|c| {
                    let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
                    let journal: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
                    Ok::<_, rusqlite::Error>((sync, journal))
                })
                .await
                .map_err(|e| DbError::Task(e.to_string()))??;
            assert_eq!(sync, 2, "synchronous=FULL");
            assert_eq!(journal, "wal");
        }
        #[cfg(unix)]
        for name in [
            "gridsync.sqlite3",
            "gridsync.sqlite3-wal",
            "gridsync.sqlite3-shm",
        ] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(name))
                .map_err(|e| DbError::Task(format!("{name}: {e}")))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        Ok(())
    }

    /// After a burst that opened several connections, requests one after
    /// another get the connection used last (its page cache warm), not
    /// each idle one in turn.
    #[tokio::test]
    async fn the_connection_used_last_is_handed_out_next() -> Result<(), DbError> {
        let dir = tempfile::tempdir().map_err(|e| DbError::Task(e.to_string()))?;
        let pool = open(&dir.path().join("gridsync.sqlite3")).await?;
        // Four connections at once, each marked with its number in a
        // table only it sees.
        let mut held = Vec::new();
        for n in 0..4_i64 {
            let conn = pool.get().await.map_err(|e| DbError::Pool(e.to_string()))?;
            conn.interact(move |c| {
                c.execute_batch("CREATE TEMP TABLE mark (n INTEGER)")?;
                c.execute("INSERT INTO mark VALUES (?1)", [n])
            })
            .await
            .map_err(|e| DbError::Task(e.to_string()))??;
            held.push(conn);
        }
        drop(held);
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(
                run(&pool, |c| {
                    c.query_row("SELECT n FROM mark", [], |r| r.get::<_, i64>(0))
                })
                .await?,
            );
        }
        assert!(
            seen.windows(2).all(|w| w[0] == w[1]),
            "connections used in turn: {seen:?}"
        );
        Ok(())
    }

    /// id, scope, holder, snapshot, snapshot_seq, loose, last_seq, writer_after.
    type Row = (
        String,
        String,
        Option<String>,
        Option<Vec<u8>>,
        i64,
        i64,
        i64,
        i64,
    );

    /// A database with every migration before `version` applied.
    fn migrated_before(version: i64) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY) STRICT")?;
        for (n, sql) in MIGRATIONS.iter().filter(|(n, _)| *n < version) {
            conn.execute_batch(sql)?;
            conn.execute("INSERT INTO schema_migrations VALUES (?1)", [n])?;
        }
        Ok(conn)
    }

    /// The users rebuild for 楼栋长/单元长 (migration 12) keeps every user
    /// and everything that refers to one: grids, devices, sessions. With
    /// foreign keys on (as the pool's connections have them), dropping the
    /// old table would have cascaded to user_grids.
    #[test]
    fn the_users_rebuild_keeps_every_user_and_what_refers_to_them() -> rusqlite::Result<()> {
        let mut conn = migrated_before(12)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(
            "INSERT INTO streets VALUES ('110105001', '街道', 1);
             INSERT INTO communities VALUES ('110105001001', '110105001', '社区', 1);
             INSERT INTO grids VALUES ('110105001001001', '110105001001', '一网格', 1);
             INSERT INTO users (id, username, display_name, role, active, created_at, updated_at)
                 VALUES ('u1', 'wangge', '网格员甲', 'grid_worker', 1, 1, 1);
             INSERT INTO user_grids VALUES ('u1', '110105001001001');
             INSERT INTO devices (id, user_id, registered_at, last_seen_at) VALUES ('d1', 'u1', 1, 1);
             INSERT INTO sessions (id, user_id, device_id, created_at) VALUES ('s1', 'u1', 'd1', 1);",
        )?;
        migrate(&mut conn)?;
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        assert_eq!(count("SELECT count(*) FROM users")?, 1);
        assert_eq!(count("SELECT count(*) FROM user_grids")?, 1);
        assert_eq!(count("SELECT count(*) FROM devices")?, 1);
        assert_eq!(count("SELECT count(*) FROM sessions")?, 1);
        let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        assert_eq!(fk, 1, "foreign keys are on again after migrating");
        conn.execute(
            "INSERT INTO users (id, username, display_name, role, active, created_at, updated_at, post)
             VALUES ('u2', 'loudong', '楼栋长甲', 'building_head', 1, 1, 1, '{}')",
            [],
        )?;
        // The references still hold: a grid row for an unknown user is refused.
        assert!(
            conn.execute(
                "INSERT INTO user_grids VALUES ('nobody', '110105001001001')",
                []
            )
            .is_err()
        );
        Ok(())
    }

    /// A database written before migration 6 keeps every document, and
    /// its snapshot, through the rebuild of `docs`.
    #[test]
    fn the_docs_rebuild_keeps_every_row() -> rusqlite::Result<()> {
        let mut conn = migrated_before(6)?;
        conn.execute(
            "INSERT INTO docs (id, kind, scope, holder, snapshot, snapshot_seq, loose, last_seq, updated_at)
             VALUES ('a', 'household', '110105001001001', NULL, x'00ff', 7, 2, 9, 100),
                    ('b', 'issue', '110105001001002', 'u1', NULL, 0, 1, 3, 200)",
            [],
        )?;
        migrate(&mut conn)?;
        let rows: Vec<Row> = conn
            .prepare(
                "SELECT id, scope, holder, snapshot, snapshot_seq, loose, last_seq, writer_after
                 FROM docs WHERE writer IS NULL ORDER BY id",
            )?
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(
            rows,
            vec![
                (
                    "a".into(),
                    "110105001001001".into(),
                    None,
                    Some(vec![0, 255]),
                    7,
                    2,
                    9,
                    0
                ),
                (
                    "b".into(),
                    "110105001001002".into(),
                    Some("u1".into()),
                    None,
                    0,
                    1,
                    3,
                    0
                ),
            ]
        );
        Ok(())
    }

    /// seq, doc_id, hash, data, user_id, received_at.
    type ChangeRow = (i64, String, Vec<u8>, Vec<u8>, Option<String>, i64);

    /// A database written before migration 7 keeps every change through
    /// the rebuild of `changes`, and a change is then unique within its
    /// document only.
    #[test]
    fn the_changes_rebuild_keeps_every_row() -> rusqlite::Result<()> {
        let mut conn = migrated_before(7)?;
        conn.execute(
            "INSERT INTO changes (seq, doc_id, hash, data, user_id, device_id, received_at)
             VALUES (3, 'a', x'01', x'aa', 'u1', 'd1', 100), (8, 'b', x'02', x'bb', NULL, NULL, 200)",
            [],
        )?;
        migrate(&mut conn)?;
        let rows: Vec<ChangeRow> = conn
            .prepare(
                "SELECT seq, doc_id, hash, data, user_id, received_at FROM changes ORDER BY seq",
            )?
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(
            rows,
            vec![
                (3, "a".into(), vec![1], vec![0xaa], Some("u1".into()), 100),
                (8, "b".into(), vec![2], vec![0xbb], None, 200),
            ]
        );
        let insert = "INSERT OR IGNORE INTO changes (doc_id, hash, data, received_at) VALUES (?1, x'01', x'aa', 300)";
        assert_eq!(
            conn.execute(insert, ["a"])?,
            0,
            "same document, same change"
        );
        assert_eq!(
            conn.execute(insert, ["c"])?,
            1,
            "another document, same change"
        );
        // New rows still continue the log.
        let seq: i64 = conn.query_row("SELECT max(seq) FROM changes", [], |r| r.get(0))?;
        assert_eq!(seq, 9);
        Ok(())
    }

    /// Migration 8 makes `docs` a rowid table and keeps every column of
    /// every row.
    #[test]
    fn the_docs_table_gets_rowids_and_keeps_its_rows() -> rusqlite::Result<()> {
        let mut conn = migrated_before(8)?;
        assert!(
            conn.prepare("SELECT rowid FROM docs").is_err(),
            "WITHOUT ROWID before"
        );
        conn.execute(
            "INSERT INTO docs (id, kind, scope, holder, snapshot, snapshot_seq, loose, last_seq,
                updated_at, writer, writer_after)
             VALUES ('b', 'issue', '110105001001002', 'u1', NULL, 0, 1, 3, 200, 'd1', 2),
                    ('a', 'household', '110105001001001', NULL, x'00ff', 7, 2, 9, 100, NULL, 0)",
            [],
        )?;
        let all = "SELECT id, kind, scope, holder, snapshot, snapshot_seq, loose, last_seq,
                updated_at, writer, writer_after FROM docs ORDER BY id";
        let read = |conn: &rusqlite::Connection| -> rusqlite::Result<Vec<String>> {
            conn.prepare(all)?
                .query_map([], |r| {
                    let mut cols = Vec::new();
                    for i in 0..11 {
                        cols.push(format!("{:?}", r.get::<_, rusqlite::types::Value>(i)?));
                    }
                    Ok(cols.join("|"))
                })?
                .collect()
        };
        let before = read(&conn)?;
        migrate(&mut conn)?;
        assert_eq!(read(&conn)?, before);
        let rowids: i64 = conn.query_row("SELECT count(rowid) FROM docs", [], |r| r.get(0))?;
        assert_eq!(rowids, 2);
        // The id is still the key.
        let dup = conn.execute(
            "INSERT INTO docs (id, kind, scope, last_seq, updated_at) VALUES ('a', 'x', 'y', 1, 1)",
            [],
        );
        assert!(dup.is_err());
        Ok(())
    }
}

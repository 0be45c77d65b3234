//! PostgreSQL: the connection pool and the numbered migrations of the
//! server's schema (`migrations/postgres/`), embedded, applied at startup
//! and tracked in `schema_migrations`. A shipped migration is never edited.
//!
//! Several server processes may start at once against one database: the
//! migrations run in one transaction holding a transaction-level advisory
//! lock, so one process migrates and the others wait, then find nothing
//! left to do.

use std::time::Duration;

use deadpool_postgres::{
    GenericClient, ManagerConfig, Pool, PoolConfig, RecyclingMethod, Runtime, Timeouts,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::db::DbError;

/// Connections per server process.
const POOL_SIZE: usize = 16;

/// Advisory lock key held while migrating ("gsmigrat").
const MIGRATION_LOCK: i64 = 0x6773_6d69_6772_6174;

/// Advisory lock key every push holds until it commits ("gspushlg"); see
/// [`crate::store::postgres`] for why.
pub(crate) const PUSH_LOCK: i64 = 0x6773_7075_7368_6c67;

/// The migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_directory",
        include_str!("../migrations/postgres/0001_directory.sql"),
    ),
    (
        2,
        "0002_docs",
        include_str!("../migrations/postgres/0002_docs.sql"),
    ),
    (
        3,
        "0003_blobs",
        include_str!("../migrations/postgres/0003_blobs.sql"),
    ),
    (
        4,
        "0004_departments",
        include_str!("../migrations/postgres/0004_departments.sql"),
    ),
    (
        5,
        "0005_web",
        include_str!("../migrations/postgres/0005_web.sql"),
    ),
    (
        6,
        "0006_writer",
        include_str!("../migrations/postgres/0006_writer.sql"),
    ),
    (
        7,
        "0007_change_key",
        include_str!("../migrations/postgres/0007_change_key.sql"),
    ),
    (
        8,
        "0008_log_generation",
        include_str!("../migrations/postgres/0008_log_generation.sql"),
    ),
    (
        9,
        "0009_hotline",
        include_str!("../migrations/postgres/0009_hotline.sql"),
    ),
    (
        10,
        "0010_ledger_import",
        include_str!("../migrations/postgres/0010_ledger_import.sql"),
    ),
    (
        11,
        "0011_building_heads",
        include_str!("../migrations/postgres/0011_building_heads.sql"),
    ),
    (
        12,
        "0012_needs_closed",
        include_str!("../migrations/postgres/0012_needs_closed.sql"),
    ),
    (
        13,
        "0013_listings",
        include_str!("../migrations/postgres/0013_listings.sql"),
    ),
    (
        14,
        "0014_listings_collation",
        include_str!("../migrations/postgres/0014_listings_collation.sql"),
    ),
];

/// Whether `url` names a PostgreSQL database (`postgres://`, `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A PostgreSQL error as a store error, with the server's message.
pub(crate) fn err(e: tokio_postgres::Error) -> DbError {
    match e.as_db_error() {
        Some(db) => DbError::Task(format!("postgres: {} ({})", db.message(), db.code().code())),
        None => DbError::Task(format!("postgres: {e}")),
    }
}

/// A pool error as a store error.
pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> DbError {
    DbError::Pool(format!("postgres: {e}"))
}

/// Open a pool on `url` and migrate the database.
pub async fn open(url: &str) -> Result<Pool, DbError> {
    let mut cfg = deadpool_postgres::Config::new();
    cfg.url = Some(url.to_owned());
    cfg.manager = Some(ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    });
    cfg.pool = Some(PoolConfig {
        max_size: POOL_SIZE,
        timeouts: Timeouts {
            wait: Some(Duration::from_secs(30)),
            create: Some(Duration::from_secs(10)),
            recycle: Some(Duration::from_secs(10)),
        },
        ..PoolConfig::default()
    });
    let pool = cfg
        .create_pool(Some(Runtime::Tokio1), NoTls)
        .map_err(|e| DbError::Pool(format!("postgres: {e}")))?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Apply the migrations the database lacks; returns the schema version.
pub async fn migrate(pool: &Pool) -> Result<i64, DbError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(err)?;
    // Held until commit or rollback, so a failed migration frees it too.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(err)?;
    // Read committed: this statement sees what a process that held the
    // lock before us committed.
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await
    .map_err(err)?;
    // Every version not recorded yet is applied, even one numbered below
    // the highest applied (a gap filled by work merged later).
    let applied: Vec<i64> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await
        .map_err(err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut version = applied.iter().copied().max().unwrap_or(0);
    for (v, name, sql) in MIGRATIONS {
        if applied.contains(v) {
            continue;
        }
        tx.batch_execute(sql).await.map_err(err)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[v, name],
        )
        .await
        .map_err(err)?;
        version = version.max(*v);
        tracing::info!(version = *v, name = *name, "applied PostgreSQL migration");
    }
    tx.commit().await.map_err(err)?;
    Ok(version)
}

/// Run `sql` (prepared once per connection) and collect its rows.
pub(crate) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(sql).await?;
    c.query(&stmt, params).await
}

/// Run `sql` (prepared once per connection): its single row, if any.
pub(crate) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(sql).await?;
    c.query_opt(&stmt, params).await
}

/// Run `sql` (prepared once per connection): its one row.
pub(crate) async fn query_one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row, tokio_postgres::Error> {
    let stmt = c.prepare_cached(sql).await?;
    c.query_one(&stmt, params).await
}

/// Run `sql` (prepared once per connection): rows affected.
pub(crate) async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let stmt = c.prepare_cached(sql).await?;
    c.execute(&stmt, params).await
}

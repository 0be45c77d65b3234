//! The report read model on PostgreSQL.

use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

use super::{CategoryStageCount, OPEN_STAGES, ReportRow, ReportScope};
use crate::db::DbError;
use crate::pg::{err, execute, pool_err, query, query_one};

const COLUMNS: &str = "id, grid, category, subtype, stage, level, department, created_at, dispatched_at, deadline, updated_at";

fn row(r: &tokio_postgres::Row) -> ReportRow {
    ReportRow {
        id: r.get(0),
        grid: r.get(1),
        category: r.get(2),
        subtype: r.get(3),
        stage: r.get(4),
        level: r.get(5),
        department: r.get(6),
        created_at: r.get(7),
        dispatched_at: r.get(8),
        deadline: r.get(9),
        updated_at: r.get(10),
    }
}

/// How far the report projector has followed the change log.
pub(super) async fn cursor(pool: &Pool) -> Result<i64, DbError> {
    let c = pool.get().await.map_err(pool_err)?;
    Ok(
        query_one(&c, "SELECT seq FROM report_cursor WHERE id = 1", &[])
            .await
            .map_err(err)?
            .get(0),
    )
}

/// Store projected rows and move the cursor to `upto`, in one transaction.
/// A row never replaces one projected from a later position.
pub(super) async fn write(pool: &Pool, rows: Vec<ReportRow>, upto: i64) -> Result<(), DbError> {
    let mut c = pool.get().await.map_err(pool_err)?;
    let tx = c.transaction().await.map_err(err)?;
    let upsert = format!(
        "INSERT INTO reports ({COLUMNS}, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (id) DO UPDATE SET grid = excluded.grid, category = excluded.category,
            subtype = excluded.subtype, stage = excluded.stage, level = excluded.level,
            department = excluded.department, created_at = excluded.created_at,
            dispatched_at = excluded.dispatched_at, deadline = excluded.deadline,
            updated_at = excluded.updated_at, seq = excluded.seq
         WHERE excluded.seq >= reports.seq"
    );
    for r in &rows {
        execute(
            &tx,
            &upsert,
            &[
                &r.id,
                &r.grid,
                &r.category,
                &r.subtype,
                &r.stage,
                &r.level,
                &r.department,
                &r.created_at,
                &r.dispatched_at,
                &r.deadline,
                &r.updated_at,
                &upto,
            ],
        )
        .await
        .map_err(err)?;
        if let Some(d) = &r.department {
            execute(
                &tx,
                "INSERT INTO report_departments (department, report_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[d, &r.id],
            )
            .await
            .map_err(err)?;
        }
    }
    execute(
        &tx,
        "UPDATE report_cursor SET seq = greatest(seq, $1) WHERE id = 1",
        &[&upto],
    )
    .await
    .map_err(err)?;
    tx.commit().await.map_err(err)
}

/// Dispatched reports in `scope` due in `[from, to]`, soonest first.
pub(super) async fn due(
    pool: &Pool,
    scope: &ReportScope,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<ReportRow>, DbError> {
    let limit = limit as i64;
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&from, &to, &limit];
    let uppers: Vec<String> = scope.prefixes.iter().map(|p| format!("{p}~")).collect();
    let mut parts = Vec::new();
    for (p, upper) in scope.prefixes.iter().zip(&uppers) {
        parts.push(format!(
            "(grid >= ${} AND grid < ${})",
            params.len() + 1,
            params.len() + 2
        ));
        params.push(p);
        params.push(upper);
    }
    if let Some(d) = &scope.department {
        parts.push(format!("department = ${}", params.len() + 1));
        params.push(d);
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM reports
         WHERE stage = 'dispatched' AND deadline >= $1 AND deadline <= $2 AND ({})
         ORDER BY deadline, id LIMIT $3",
        parts.join(" OR ")
    );
    let c = pool.get().await.map_err(pool_err)?;
    let rows = query(&c, &sql, &params).await.map_err(err)?;
    Ok(rows.iter().map(row).collect())
}

/// Open reports under `prefix` by category and stage.
pub(super) async fn counts(
    pool: &Pool,
    prefix: &str,
    now: i64,
) -> Result<Vec<CategoryStageCount>, DbError> {
    let c = pool.get().await.map_err(pool_err)?;
    let upper = format!("{prefix}~");
    let rows = query(
        &c,
        &format!(
            "SELECT category, stage, count(*)::BIGINT,
                    count(*) FILTER (WHERE stage = 'dispatched' AND deadline < $3)::BIGINT
             FROM reports WHERE grid >= $1 AND grid < $2 AND stage IN {OPEN_STAGES}
             GROUP BY category, stage ORDER BY category, stage"
        ),
        &[&prefix, &upper, &now],
    )
    .await
    .map_err(err)?;
    Ok(rows
        .iter()
        .map(|r| CategoryStageCount {
            category: r.get(0),
            stage: r.get(1),
            open: r.get(2),
            overdue: r.get(3),
        })
        .collect())
}

/// Refresh the planner's statistics of the read model.
pub(super) async fn analyze(pool: &Pool) -> Result<(), DbError> {
    let c = pool.get().await.map_err(pool_err)?;
    c.batch_execute("ANALYZE reports").await.map_err(err)
}

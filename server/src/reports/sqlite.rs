//! The report read model on the embedded SQLite database.

use deadpool_sqlite::Pool;
use rusqlite::{Connection, params, params_from_iter};

use super::{CategoryStageCount, OPEN_STAGES, ReportRow, ReportScope};
use crate::db::{self, DbError};

const COLUMNS: &str = "id, grid, category, subtype, stage, level, department, created_at, dispatched_at, deadline, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportRow> {
    Ok(ReportRow {
        id: r.get(0)?,
        grid: r.get(1)?,
        category: r.get(2)?,
        subtype: r.get(3)?,
        stage: r.get(4)?,
        level: r.get(5)?,
        department: r.get(6)?,
        created_at: r.get(7)?,
        dispatched_at: r.get(8)?,
        deadline: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

/// How far the report projector has followed the change log.
pub(super) async fn cursor(pool: &Pool) -> Result<i64, DbError> {
    db::run(pool, |c: &mut Connection| {
        c.query_row("SELECT seq FROM report_cursor WHERE id = 1", [], |r| {
            r.get(0)
        })
    })
    .await
}

/// Store projected rows and move the cursor to `upto`, in one transaction.
/// A row never replaces one projected from a later position.
pub(super) async fn write(pool: &Pool, rows: Vec<ReportRow>, upto: i64) -> Result<(), DbError> {
    db::run(pool, move |c: &mut Connection| {
        let tx = c.transaction()?;
        for r in &rows {
            tx.prepare_cached(&format!(
                "INSERT INTO reports ({COLUMNS}, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (id) DO UPDATE SET grid = excluded.grid, category = excluded.category,
                    subtype = excluded.subtype, stage = excluded.stage, level = excluded.level,
                    department = excluded.department, created_at = excluded.created_at,
                    dispatched_at = excluded.dispatched_at, deadline = excluded.deadline,
                    updated_at = excluded.updated_at, seq = excluded.seq
                 WHERE excluded.seq >= reports.seq"
            ))?
            .execute(params![
                r.id,
                r.grid,
                r.category,
                r.subtype,
                r.stage,
                r.level,
                r.department,
                r.created_at,
                r.dispatched_at,
                r.deadline,
                r.updated_at,
                upto
            ])?;
            if let Some(d) = &r.department {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO report_departments (department, report_id) VALUES (?1, ?2)",
                )?
                .execute(params![d, r.id])?;
            }
        }
        tx.execute(
            "UPDATE report_cursor SET seq = max(seq, ?1) WHERE id = 1",
            [upto],
        )?;
        tx.commit()
    })
    .await
}

/// `(sql, params)` of the scope filter: grid ranges for the prefixes, the
/// department's rows.
fn scope_filter(scope: &ReportScope, first: usize) -> (String, Vec<String>) {
    let mut parts = Vec::new();
    let mut values = Vec::new();
    for p in &scope.prefixes {
        let n = first + values.len();
        // Grid codes are digits: every code starting with `p` sorts in
        // [p, p + "~").
        parts.push(format!("(grid >= ?{} AND grid < ?{})", n, n + 1));
        values.push(p.clone());
        values.push(format!("{p}~"));
    }
    if let Some(d) = &scope.department {
        parts.push(format!("department = ?{}", first + values.len()));
        values.push(d.clone());
    }
    (format!("({})", parts.join(" OR ")), values)
}

/// Dispatched reports in `scope` due in `[from, to]`, soonest first.
pub(super) async fn due(
    pool: &Pool,
    scope: ReportScope,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<ReportRow>, DbError> {
    db::run(pool, move |c: &mut Connection| {
        let (filter, values) = scope_filter(&scope, 4);
        let sql = format!(
            "SELECT {COLUMNS} FROM reports
             WHERE stage = 'dispatched' AND deadline >= ?1 AND deadline <= ?2 AND {filter}
             ORDER BY deadline, id LIMIT +?3"
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let mut all: Vec<rusqlite::types::Value> =
            vec![from.into(), to.into(), (limit as i64).into()];
        all.extend(values.into_iter().map(Into::into));
        let rows = stmt.query_map(params_from_iter(all), row)?;
        rows.collect()
    })
    .await
}

/// Open reports under `prefix` by category and stage.
pub(super) async fn counts(
    pool: &Pool,
    prefix: String,
    now: i64,
) -> Result<Vec<CategoryStageCount>, DbError> {
    db::run(pool, move |c: &mut Connection| {
        let mut stmt = c.prepare_cached(&format!(
            "SELECT category, stage, count(*),
                    sum(CASE WHEN stage = 'dispatched' AND deadline < ?3 THEN 1 ELSE 0 END)
             FROM reports WHERE grid >= ?1 AND grid < ?2 AND stage IN {OPEN_STAGES}
             GROUP BY category, stage ORDER BY category, stage"
        ))?;
        let rows = stmt.query_map(params![prefix, format!("{prefix}~"), now], |r| {
            Ok(CategoryStageCount {
                category: r.get(0)?,
                stage: r.get(1)?,
                open: r.get(2)?,
                overdue: r.get(3)?,
            })
        })?;
        rows.collect()
    })
    .await
}

/// Refresh the query planner's statistics of the read model.
pub(super) async fn analyze(pool: &Pool) -> Result<(), DbError> {
    db::run(pool, |c: &mut Connection| {
        c.execute_batch("ANALYZE reports")
    })
    .await
}

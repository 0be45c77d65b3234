//! The read model's queries of issue reports for the web's lists
//! ([`crate::web::issues`] and the report export): a territory's reports,
//! one filtered page of them with the number matching, a person's or a
//! department's open queue. Rows carry codes; names in Chinese are the
//! pages' to give.

use rusqlite::params;

use super::{ReadModel, upper};
use crate::db::DbError;

/// A report as the lists read it from the `issues` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportListRow {
    /// Document id.
    pub id: String,
    /// Grid code.
    pub grid: String,
    /// Category code.
    pub category: String,
    /// Subtype code.
    pub subtype: String,
    /// What was found.
    pub description: String,
    /// Where (empty when not given).
    pub building: String,
    /// Stage code.
    pub stage: String,
    /// Level code.
    pub level: String,
    /// Reported, ms.
    pub created_at: i64,
    /// When the current stage is due (acceptance while 待受理, handling
    /// while 处置中), ms.
    pub deadline: Option<i64>,
    /// Still open.
    pub open: bool,
    /// Who handles it: a user id or `dept:<code>`.
    pub assignee: Option<String>,
}

/// The columns [`list_row`] reads.
const LIST_COLUMNS: &str =
    "id, grid, category, subtype, description, coalesce(building, ''), stage, level,
    created_at, deadline, open, assignee";

fn list_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportListRow> {
    Ok(ReportListRow {
        id: r.get(0)?,
        grid: r.get(1)?,
        category: r.get(2)?,
        subtype: r.get(3)?,
        description: r.get(4)?,
        building: r.get(5)?,
        stage: r.get(6)?,
        level: r.get(7)?,
        created_at: r.get(8)?,
        deadline: r.get(9)?,
        open: r.get(10)?,
        assignee: r.get(11)?,
    })
}

/// Reports under `prefix`, open ones first (only open ones if
/// `open_only`), the earliest due first.
pub async fn reports_under(
    model: &ReadModel,
    prefix: &str,
    open_only: bool,
) -> Result<Vec<ReportListRow>, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            c.prepare_cached(&format!(
                "SELECT {LIST_COLUMNS}
                 FROM issues WHERE grid >= ?1 AND grid < ?2 AND (open = 1 OR ?3 = 0)
                 ORDER BY open DESC, deadline IS NULL, deadline, created_at DESC"
            ))?
            .query_map(params![lo, hi, open_only], list_row)?
            .collect()
        })
        .await
}

/// What the report list is narrowed to (empty: everything).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A stage code.
    pub stage: String,
    /// A category code.
    pub category: String,
    /// A grid code.
    pub grid: String,
    /// A department code (reports dispatched to it now).
    pub department: String,
    /// Only open reports past their stage's deadline at this instant (ms).
    pub overdue_at: Option<i64>,
}

/// The condition [`Filter`] puts on the `issues` table: `?1`–`?2` the
/// territory's codes, then stage, category, grid, assignee, whether only
/// overdue ones and the instant they are overdue at.
const FILTERED: &str = "grid >= ?1 AND grid < ?2 AND (?3 = '' OR stage = ?3)
     AND (?4 = '' OR category = ?4) AND (?5 = '' OR grid = ?5)
     AND (?6 = '' OR assignee = ?6)
     AND (?7 = 0 OR (open = 1 AND deadline IS NOT NULL AND deadline < ?8))";

/// One page of a filtered list and how many match in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportPage {
    /// Reports matching the filter, on every page.
    pub total: usize,
    /// This page's.
    pub rows: Vec<ReportListRow>,
}

/// The reports under `prefix` matching `f`, `limit` of them from
/// `offset` (open first, the earliest due first), and how many match.
pub async fn filtered_page(
    model: &ReadModel,
    prefix: &str,
    f: &Filter,
    limit: usize,
    offset: usize,
) -> Result<ReportPage, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    let f = f.clone();
    let dept = if f.department.is_empty() {
        String::new()
    } else {
        gridsync_core::issue::department_assignee(&f.department)
    };
    let (total, rows) = model
        .run(move |c| {
            let overdue = f.overdue_at.is_some();
            let at = f.overdue_at.unwrap_or(0);
            let total: i64 = c
                .prepare_cached(&format!("SELECT count(*) FROM issues WHERE {FILTERED}"))?
                .query_row(
                    params![lo, hi, f.stage, f.category, f.grid, dept, overdue, at],
                    |r| r.get(0),
                )?;
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {LIST_COLUMNS} FROM issues WHERE {FILTERED}
                     ORDER BY open DESC, deadline IS NULL, deadline, created_at DESC, id
                     LIMIT +?9 OFFSET ?10"
                ))?
                .query_map(
                    params![
                        lo,
                        hi,
                        f.stage,
                        f.category,
                        f.grid,
                        dept,
                        overdue,
                        at,
                        limit as i64,
                        offset as i64
                    ],
                    list_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((total, rows))
        })
        .await?;
    Ok(ReportPage {
        total: usize::try_from(total).unwrap_or(0),
        rows,
    })
}

/// The open reports handled now by `assignee` (a user id or
/// `dept:<code>`), the most urgent first.
pub async fn open_assigned_to(
    model: &ReadModel,
    assignee: &str,
) -> Result<Vec<ReportListRow>, DbError> {
    let assignee = assignee.to_owned();
    model
        .run(move |c| {
            c.prepare_cached(&format!(
                "SELECT {LIST_COLUMNS} FROM issues WHERE assignee = ?1 AND open = 1
                 ORDER BY deadline IS NULL, deadline, created_at DESC, id"
            ))?
            .query_map(params![assignee], list_row)?
            .collect()
        })
        .await
}

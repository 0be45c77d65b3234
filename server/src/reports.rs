//! The issue report read model (事件台账) and its endpoints: one row per
//! report with where it stands and when handling is due, for the lists
//! supervisors chase (overdue 超期, nearly due 临期) and the counts of open
//! reports by category and stage.
//!
//! The rows are derived from the documents, never the reverse: a projector
//! follows the change log from its own cursor (`report_cursor`), loads each
//! report changed since, folds its workflow events (the core's
//! [`workflow::status`]) and computes its deadline (the core's
//! [`issue::deadline`], from the subtype's limit, the clock starting at
//! dispatch). Every query first catches the projector up, so what it
//! answers includes every push acknowledged before it; dropping the tables'
//! rows and resetting the cursor rebuilds them.
//!
//! The API other modules (the supervisor web pages) use:
//! [`Reports::overdue`], [`Reports::nearly_due`],
//! [`Reports::counts_by_category_stage`], each taking a [`ReportScope`]
//! (which grids, or which department) built for a principal by
//! [`ReportScope::of`].

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use gridsync_core::doc;
use gridsync_core::issue::{self, Issue, Stage, WorkCalendar, workflow};
use serde::{Deserialize, Serialize};

use crate::db::DbError;
use crate::error::{ApiError, ApiResult};
use crate::principal::{Principal, Role};
use crate::state::AppState;
use crate::store::DocStore;

mod postgres;
mod sqlite;

/// Reports projected per step of a catch-up.
const BATCH: usize = 500;
/// Report documents decoded at once during a catch-up.
const DOCS_AT_ONCE: usize = 100;
/// Rows written by one catch-up after which table statistics are refreshed.
const ANALYZE_AFTER: usize = 5_000;

/// One issue report as the read model holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    /// Document id.
    pub id: String,
    /// Grid code (15 digits).
    pub grid: String,
    /// Category code.
    pub category: String,
    /// Subtype code.
    pub subtype: String,
    /// Stage code ([`Stage::code`]).
    pub stage: String,
    /// Level code (`grid`, `community`, `street`, `department`).
    pub level: String,
    /// The department handling it now, if dispatched to one.
    pub department: Option<String>,
    /// When it was reported, ms since the epoch.
    pub created_at: i64,
    /// When it was last dispatched (the time limit runs from here), ms.
    pub dispatched_at: Option<i64>,
    /// When handling is due, ms; set while dispatched.
    pub deadline: Option<i64>,
    /// Time of the latest workflow event, ms.
    pub updated_at: i64,
}

/// Open reports of one category in one stage (for "open and overdue
/// reports by category and stage").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryStageCount {
    /// Category code.
    pub category: String,
    /// Stage code.
    pub stage: String,
    /// Open reports in it.
    pub open: i64,
    /// Of which overdue (dispatched, past the deadline).
    pub overdue: i64,
}

/// Which reports a caller may list: those in grids whose codes start with
/// one of `prefixes` (a grid code, a community or street code, `""` for
/// all), and those handled now by `department`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportScope {
    /// Grid code prefixes.
    pub prefixes: Vec<String>,
    /// A department code.
    pub department: Option<String>,
}

impl ReportScope {
    /// What `p` may list: a grid worker their grids, a supervisor their
    /// subtree, a department user what their department handles, an
    /// administrator everything, a package-holder nothing.
    pub fn of(p: &Principal) -> Self {
        match p.role {
            Role::Admin => Self {
                prefixes: vec![String::new()],
                department: None,
            },
            Role::GridWorker => Self {
                prefixes: p.grids.clone(),
                department: None,
            },
            Role::Supervisor => Self {
                prefixes: p
                    .subtree
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect(),
                department: None,
            },
            Role::Department => Self {
                prefixes: Vec::new(),
                department: p.department.clone(),
            },
            Role::PackageHolder | Role::BuildingHead | Role::UnitHead => Self::default(),
        }
    }

    /// Whether nothing is in scope.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty() && self.department.is_none()
    }
}

/// The file in the data directory naming the deployment's holidays and
/// make-up working days (调休), `YYYY-MM-DD`:
/// `{"holidays": ["2026-10-01", …], "workdays": ["2026-09-28", …]}`.
pub const CALENDAR_FILE: &str = "work_calendar.json";

/// The working calendar deadlines are counted in: [`CALENDAR_FILE`] in
/// `data_dir` if present, else Monday to Friday.
pub fn load_calendar(data_dir: &std::path::Path) -> anyhow::Result<WorkCalendar> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Lists {
        #[serde(default)]
        holidays: Vec<String>,
        #[serde(default)]
        workdays: Vec<String>,
    }
    let path = data_dir.join(CALENDAR_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(WorkCalendar::default()),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    };
    let lists: Lists =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    WorkCalendar::from_dates(&lists.holidays, &lists.workdays)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The issue catalogue a city uses instead of the seed (categories,
/// subtypes, time limits, usual departments), in the data directory; its
/// format is [`issue::catalogue::to_json`]'s (docs/catalogue.md).
pub const CATALOGUE_FILE: &str = "catalogue.json";

/// Install [`CATALOGUE_FILE`] from `data_dir` as the catalogue every lookup
/// in this process uses; without the file, the seed stays. A file that is
/// not valid is an error naming the field (the server does not start).
/// Whether a file was installed.
pub fn load_catalogue(data_dir: &std::path::Path) -> anyhow::Result<bool> {
    let path = data_dir.join(CATALOGUE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    };
    issue::catalogue::install(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(true)
}

/// The row of a report document, with its deadline under `calendar`.
pub fn row_of(i: &Issue, calendar: &WorkCalendar) -> ReportRow {
    fold(i, calendar).0
}

/// A report document folded once: its row (the rules both read models
/// keep: stage, level, department, deadline) and the workflow status it
/// came from, for a projector that keeps more of it (the web's pages).
pub fn fold(i: &Issue, calendar: &WorkCalendar) -> (ReportRow, workflow::Status) {
    let status = workflow::status(&i.events);
    let deadline = match (i.subtype_entry(), status.dispatched_at) {
        (Some(sub), Some(start)) if status.stage == Stage::Dispatched => {
            Some(calendar.deadline(start, sub.limit))
        }
        _ => None,
    };
    let row = ReportRow {
        id: i.id.clone(),
        grid: i.grid.clone(),
        category: i.category.clone(),
        subtype: i.subtype.clone(),
        stage: status.stage.code().to_owned(),
        level: status.level.code().to_owned(),
        department: status
            .assignee
            .as_deref()
            .and_then(issue::assignee_department)
            .map(str::to_owned),
        created_at: i.created_at,
        dispatched_at: status.dispatched_at,
        deadline,
        updated_at: status.last_at.max(i.created_at),
    };
    (row, status)
}

enum Backend {
    Sqlite(deadpool_sqlite::Pool),
    Postgres(deadpool_postgres::Pool),
}

/// The read model: its tables, the document store it follows, and the
/// working calendar deadlines are counted in.
pub struct Reports {
    backend: Backend,
    docs: Arc<dyn DocStore>,
    calendar: WorkCalendar,
    /// One catch-up at a time per process (others wait, then find little
    /// left to do).
    catching_up: tokio::sync::Mutex<()>,
    /// [`Reports::rules`] as made last, and the address of the catalogue
    /// they were made of.
    rules: std::sync::Mutex<Option<(usize, Arc<Rules>)>>,
}

/// What `GET /v1/reports/rules` answers.
#[derive(Debug)]
pub struct Rules {
    /// The catalogue and the working calendar, JSON.
    pub body: String,
    /// The body's `ETag` (every sync's answer names it too).
    pub etag: String,
}

impl Reports {
    /// On the embedded SQLite database (already migrated).
    pub fn sqlite(pool: deadpool_sqlite::Pool, docs: Arc<dyn DocStore>) -> Self {
        Self::new(Backend::Sqlite(pool), docs)
    }

    /// On PostgreSQL (already migrated).
    pub fn postgres(pool: deadpool_postgres::Pool, docs: Arc<dyn DocStore>) -> Self {
        Self::new(Backend::Postgres(pool), docs)
    }

    fn new(backend: Backend, docs: Arc<dyn DocStore>) -> Self {
        Self {
            backend,
            docs,
            calendar: WorkCalendar::default(),
            catching_up: tokio::sync::Mutex::new(()),
            rules: std::sync::Mutex::new(None),
        }
    }

    /// Count working days with these holidays and make-up days (the
    /// default: Monday to Friday). Rows projected earlier keep their
    /// deadlines until their report changes.
    pub fn with_calendar(mut self, calendar: WorkCalendar) -> Self {
        self.calendar = calendar;
        self.rules = std::sync::Mutex::new(None);
        self
    }

    /// The working calendar deadlines are counted in (the web pages count
    /// theirs in it too).
    pub fn calendar(&self) -> &WorkCalendar {
        &self.calendar
    }

    /// The rules phones count and check reports with, as `GET
    /// /v1/reports/rules` answers them: the JSON body and its `ETag` (a
    /// sync's answer carries the tag, so a phone asks for the rules only
    /// when they changed).
    pub fn rules(&self) -> Arc<Rules> {
        // Made once per catalogue: every sync's answer names the tag. An
        // installed catalogue is never freed, so another one has another
        // address.
        let catalogue_at = issue::catalogue::all().as_ptr() as usize;
        if let Ok(made) = self.rules.lock()
            && let Some((at, rules)) = made.as_ref()
            && *at == catalogue_at
        {
            return rules.clone();
        }
        let rules = Arc::new(self.make_rules());
        if let Ok(mut made) = self.rules.lock() {
            *made = Some((catalogue_at, rules.clone()));
        }
        rules
    }

    fn make_rules(&self) -> Rules {
        let dates = |set: &std::collections::BTreeSet<time::Date>| -> Vec<String> {
            set.iter()
                .map(|d| issue::deadline::format_date(*d))
                .collect()
        };
        let catalogue: serde_json::Value =
            serde_json::from_str(&issue::catalogue::to_json(issue::catalogue::all()))
                .unwrap_or_default();
        let calendar = &self.calendar;
        let body = serde_json::json!({
            "catalogue": catalogue,
            "calendar": {"holidays": dates(&calendar.holidays), "workdays": dates(&calendar.workdays)},
        })
        .to_string();
        let etag = {
            use sha2::{Digest, Sha256};
            let d = Sha256::digest(body.as_bytes());
            format!("\"{}\"", hex::encode(&d[..12]))
        };
        Rules { body, etag }
    }

    /// Project every report changed since the last catch-up; returns how
    /// many rows were written.
    pub async fn catch_up(&self) -> Result<usize, DbError> {
        let _one = self.catching_up.lock().await;
        let mut written = 0;
        loop {
            let from = match &self.backend {
                Backend::Sqlite(p) => sqlite::cursor(p).await?,
                Backend::Postgres(p) => postgres::cursor(p).await?,
            };
            let slice = self.docs.log_after(from, BATCH, Some(issue::KIND)).await?;
            let upto = slice.upto(BATCH);
            let mut ids: Vec<String> = slice.entries.into_iter().map(|e| e.doc_id).collect();
            ids.sort();
            ids.dedup();
            if upto <= from {
                return Ok(written);
            }
            let mut rows = Vec::with_capacity(ids.len());
            // Read decoded, as the store holds them: not saved to bytes
            // and loaded again. A chunk bounds how many are held at once.
            for chunk in ids.chunks(DOCS_AT_ONCE) {
                for (id, d) in self.docs.documents(chunk.to_vec()).await? {
                    match doc::read::<Issue>(&d, None) {
                        Ok(i) if i.kind == issue::KIND => rows.push(row_of(&i, &self.calendar)),
                        _ => tracing::warn!(doc = %id, "report document unreadable; not projected"),
                    }
                }
            }
            let before = written;
            written += rows.len();
            match &self.backend {
                Backend::Sqlite(p) => sqlite::write(p, rows, upto).await?,
                Backend::Postgres(p) => postgres::write(p, rows, upto).await?,
            }
            // After a bulk projection (a new server, a rebuild) the
            // planner's statistics are stale until autovacuum comes by.
            if before < ANALYZE_AFTER && written >= ANALYZE_AFTER {
                match &self.backend {
                    Backend::Sqlite(p) => sqlite::analyze(p).await?,
                    Backend::Postgres(p) => postgres::analyze(p).await?,
                }
            }
        }
    }

    /// Reports in `scope` being handled past their deadline at `now` (ms),
    /// most overdue first, at most `limit`.
    pub async fn overdue(
        &self,
        scope: &ReportScope,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ReportRow>, DbError> {
        self.due(scope, i64::MIN, now - 1, limit).await
    }

    /// Reports in `scope` being handled whose deadline falls between `now`
    /// and `now + within_ms` (not yet overdue), soonest first.
    pub async fn nearly_due(
        &self,
        scope: &ReportScope,
        now: i64,
        within_ms: i64,
        limit: usize,
    ) -> Result<Vec<ReportRow>, DbError> {
        self.due(scope, now, now.saturating_add(within_ms), limit)
            .await
    }

    async fn due(
        &self,
        scope: &ReportScope,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<ReportRow>, DbError> {
        if scope.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        self.catch_up().await?;
        match &self.backend {
            Backend::Sqlite(p) => sqlite::due(p, scope.clone(), from, to, limit).await,
            Backend::Postgres(p) => postgres::due(p, scope, from, to, limit).await,
        }
    }

    /// Open reports in grids under `prefix` (`""` for all) by category and
    /// stage, with how many are overdue at `now`.
    pub async fn counts_by_category_stage(
        &self,
        prefix: &str,
        now: i64,
    ) -> Result<Vec<CategoryStageCount>, DbError> {
        self.catch_up().await?;
        match &self.backend {
            Backend::Sqlite(p) => sqlite::counts(p, prefix.to_owned(), now).await,
            Backend::Postgres(p) => postgres::counts(p, prefix, now).await,
        }
    }
}

/// The open stages' codes, for SQL `IN` lists.
const OPEN_STAGES: &str =
    "('reported', 'accepted', 'dispatched', 'handled', 'fed_back', 'verified')";

// -------------------------------------------------------------------- HTTP

/// The report routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/reports/overdue", get(overdue))
        .route("/v1/reports/nearly-due", get(nearly_due))
        .route("/v1/reports/rules", get(rules))
}

/// Query of the list endpoints.
#[derive(Debug, Default)]
struct ListQuery {
    /// Most rows (default 200, 1 to 1000).
    limit: Option<usize>,
    /// Nearly due: within this many hours (default 24, 1 to 720).
    within_hours: Option<i64>,
}

/// The query as sent: each parameter at most once, known, and a number in
/// its range, or a 400 naming it (as JSON, like every API error; axum's
/// own rejection is plain text).
fn list_query(
    q: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<ListQuery> {
    let Ok(Query(pairs)) = q else {
        return Err(ApiError::bad_request(
            "invalid_query",
            "查询参数无法解析 / the query string could not be read",
        ));
    };
    fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
        field: &'static str,
        value: &str,
        min: T,
        max: T,
    ) -> ApiResult<T> {
        match value.trim().parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(ApiError::invalid(
                field,
                format!(
                    "{field} 应为{min}到{max}的整数 / {field} must be a whole number from {min} to {max}"
                ),
            )),
        }
    }
    let mut q = ListQuery::default();
    for (key, value) in pairs {
        let twice = || {
            ApiError::invalid(
                key.clone(),
                "参数重复 / the parameter is given more than once",
            )
        };
        match key.as_str() {
            "limit" if q.limit.is_some() => return Err(twice()),
            "limit" => q.limit = Some(number("limit", &value, 1, 1000)?),
            "within_hours" if q.within_hours.is_some() => return Err(twice()),
            "within_hours" => q.within_hours = Some(number("within_hours", &value, 1, 720)?),
            _ => {
                return Err(ApiError::invalid(
                    key.chars().take(64).collect::<String>(),
                    "未知的查询参数 / unknown query parameter",
                ));
            }
        }
    }
    Ok(q)
}

/// A report in a list, with names people read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListedReport {
    /// The row.
    #[serde(flatten)]
    pub row: ReportRow,
    /// Category name (Chinese).
    pub category_name: String,
    /// Stage name (Chinese).
    pub stage_name: String,
}

/// A list answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportList {
    /// The server's clock when the list was made, ms.
    pub now: i64,
    /// The reports.
    pub reports: Vec<ListedReport>,
}

fn listed(rows: Vec<ReportRow>, now: i64) -> ReportList {
    ReportList {
        now,
        reports: rows
            .into_iter()
            .map(|row| ListedReport {
                category_name: issue::catalogue::category(&row.category)
                    .map(|c| c.name.to_owned())
                    .unwrap_or_default(),
                stage_name: Stage::from_code(&row.stage)
                    .map(|s| s.name_zh().to_owned())
                    .unwrap_or_default(),
                row,
            })
            .collect(),
    }
}

fn now_ms() -> i64 {
    gridsync_core::clock::Clock::System.now_ms()
}

async fn overdue(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<ReportList>> {
    let q = list_query(q)?;
    if q.within_hours.is_some() {
        return Err(ApiError::invalid(
            "within_hours",
            "超期列表不接受 within_hours / within_hours is for the nearly-due list",
        ));
    }
    let now = now_ms();
    let rows = state
        .reports
        .overdue(&ReportScope::of(&p), now, q.limit.unwrap_or(200))
        .await?;
    Ok(Json(listed(rows, now)))
}

async fn nearly_due(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<ReportList>> {
    let q = list_query(q)?;
    let hours = q.within_hours.unwrap_or(24);
    let now = now_ms();
    let rows = state
        .reports
        .nearly_due(
            &ReportScope::of(&p),
            now,
            hours * 3_600_000,
            q.limit.unwrap_or(200),
        )
        .await?;
    Ok(Json(listed(rows, now)))
}

/// What phones count and check reports with: this deployment's catalogue
/// (as [`issue::catalogue::to_json`] writes it, so a city's
/// [`CATALOGUE_FILE`] reaches every phone without an app update) and its
/// working calendar. Tagged with an `ETag`; a phone that sends it back in
/// `If-None-Match` gets `304 Not Modified`.
async fn rules(
    State(state): State<AppState>,
    _p: Principal,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let rules = state.reports.rules();
    let etag = rules.etag.clone();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::ETAG, etag),
            (header::CONTENT_TYPE, "application/json".to_owned()),
        ],
        rules.body.clone(),
    )
        .into_response()
}

//! The read model of the web pages: relational tables derived from the
//! accepted documents (households, residents and their attention tags,
//! visits, issue reports, same-field conflicts, last syncs; which visits'
//! needs were handled lives in the main database, [`super::needs`], and
//! is mirrored here), and per-grid summaries of them ([`summary`]), so a
//! page aggregates 10,000 households with a few indexed queries instead
//! of loading 10,000 Automerge documents.
//!
//! It is kept by a **projector** that tails the change log by sequence
//! number: the documents changed after the last projected position are
//! loaded (at their latest state) and their rows replaced, and the
//! position moves in the same transaction. Every page calls [`catch_up`]
//! first, so pages are never stale, and several server processes sharing
//! one PostgreSQL each keep their own read model from the one log.
//!
//! The read model is derived data: it lives in its own SQLite file next
//! to the main database (`web-readmodel.sqlite3`), so projecting never
//! competes with pushes for the main database's write lock, and it is
//! dropped and rebuilt from the log whenever its schema changes. Processes
//! that share a data directory share the file: each document's rows record
//! how far in the log the process that wrote them had read, so a slower
//! process never overwrites a newer projection.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use automerge::Automerge;
use deadpool_sqlite::Pool;
use gridsync_core::household::{Household, Place};
use gridsync_core::issue::{Issue, WorkCalendar, workflow};
use rusqlite::{OptionalExtension, params};

use super::{WebError, WebResult};
use crate::db::DbError;
use crate::state::AppState;

pub mod export;
pub mod import;
pub mod issues;
pub mod review;
pub mod roster;
pub mod summary;

/// Bump when the tables below change: the file is then rebuilt.
const SCHEMA_VERSION: i64 = 8;

/// Log entries read per projector step.
const BATCH: usize = 5000;

/// Documents decoded at once while projecting.
const PROJECT_CHUNK: usize = 256;

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (key, value) VALUES ('projected_seq', 0);
CREATE TABLE households (
    id TEXT PRIMARY KEY,
    grid TEXT NOT NULL,
    area TEXT NOT NULL, compound TEXT NOT NULL, building TEXT NOT NULL,
    unit TEXT NOT NULL, room TEXT NOT NULL,
    address_key TEXT NOT NULL,
    holder TEXT,
    residents INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    last_visit_at INTEGER,
    last_holder_contact_at INTEGER,
    distinct_from TEXT NOT NULL DEFAULT ''
);
CREATE INDEX households_grid ON households (grid, compound, building, unit, room);
CREATE INDEX households_holder ON households (holder);
CREATE INDEX households_address ON households (grid, address_key);
CREATE TABLE residents (
    household_id TEXT NOT NULL,
    key TEXT NOT NULL,
    grid TEXT NOT NULL,
    name TEXT NOT NULL,
    id_number TEXT,
    phone TEXT,
    sex TEXT,
    birth_date TEXT,
    ethnicity TEXT,
    relation TEXT,
    status TEXT,
    tags TEXT NOT NULL,
    PRIMARY KEY (household_id, key)
);
CREATE INDEX residents_grid ON residents (grid);
CREATE INDEX residents_id_number ON residents (id_number);
CREATE TABLE resident_tags (
    household_id TEXT NOT NULL,
    key TEXT NOT NULL,
    grid TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (household_id, key, tag)
);
CREATE INDEX resident_tags_grid ON resident_tags (grid, tag);
CREATE TABLE visits (
    household_id TEXT NOT NULL,
    key TEXT NOT NULL,
    grid TEXT NOT NULL,
    visitor TEXT NOT NULL,
    role TEXT NOT NULL,
    at INTEGER NOT NULL,
    method TEXT NOT NULL,
    findings TEXT NOT NULL,
    needs TEXT NOT NULL,
    follow_up INTEGER NOT NULL,
    corrected INTEGER NOT NULL DEFAULT 0,
    -- A 楼栋长/单元长's contact (its own document, key = its id), listed
    -- with the household's visits and needs; `place_key` is the
    -- compound|building it says it was made at, which must be the
    -- household's for it to be listed there.
    contact INTEGER NOT NULL DEFAULT 0,
    place_key TEXT NOT NULL DEFAULT '',
    -- Its need was marked handled (closed_needs, mirrored from the main
    -- database's needs_closed).
    closed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (household_id, key)
);
CREATE INDEX visits_grid ON visits (grid, at);
CREATE INDEX visits_needs ON visits (grid, at) WHERE needs <> '' OR follow_up = 1;
-- A contact's rows are replaced by its own id (`delete_doc`): without this
-- every projected document scanned every visit, and catching up grew with
-- the square of the district.
CREATE INDEX visits_contact ON visits (key) WHERE contact = 1;
-- The open needs (summary::OPEN_NEED): a grid's, and the oldest of a
-- street or district without reading the handled ones; a closure finds
-- its visit by key.
CREATE INDEX visits_open ON visits (grid, at, household_id, key)
    WHERE (needs <> '' OR follow_up = 1) AND corrected = 0 AND closed = 0;
CREATE INDEX visits_open_at ON visits (at, household_id, key)
    WHERE (needs <> '' OR follow_up = 1) AND corrected = 0 AND closed = 0;
CREATE INDEX visits_need_key ON visits (key) WHERE needs <> '' OR follow_up = 1;
CREATE TABLE issues (
    id TEXT PRIMARY KEY,
    grid TEXT NOT NULL,
    category TEXT NOT NULL,
    subtype TEXT NOT NULL,
    description TEXT NOT NULL,
    building TEXT,
    stage TEXT NOT NULL,
    open INTEGER NOT NULL,
    level TEXT NOT NULL,
    assignee TEXT,
    reporter TEXT NOT NULL,
    urgency TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    deadline INTEGER,
    last_at INTEGER NOT NULL,
    closed_at INTEGER,
    closed_on_time INTEGER,
    rating INTEGER,
    department TEXT,
    dispatched_at INTEGER,
    fed_back_at INTEGER
);
CREATE INDEX issues_grid ON issues (grid, open);
CREATE INDEX issues_assignee ON issues (assignee, open);
CREATE TABLE conflicts (
    doc_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    grid TEXT NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    vals TEXT NOT NULL,
    PRIMARY KEY (doc_id, n)
);
CREATE INDEX conflicts_grid ON conflicts (grid);
CREATE TABLE clock_flags (
    doc_id TEXT PRIMARY KEY,
    grid TEXT NOT NULL,
    author TEXT,
    offset_ms INTEGER NOT NULL,
    changes INTEGER NOT NULL
);
CREATE INDEX clock_flags_grid ON clock_flags (grid);
CREATE TABLE doc_versions (
    doc_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE syncs (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
";

/// The read model's database.
pub struct ReadModel {
    pool: Pool,
}

impl ReadModel {
    /// Open (creating, or rebuilding on a schema change) the file at `path`.
    pub async fn open(path: &Path) -> Result<Self, DbError> {
        let pool = crate::db::pool(path, 4, |c| {
            // Derived data: a crash loses at most what the projector
            // re-reads from the log. NORMAL, not OFF: in WAL mode OFF may
            // leave the file corrupt after a power loss, NORMAL only loses
            // the last commits (and their cursor with them).
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.pragma_update(None, "cache_size", -32_000)
        })
        .await?;
        let model = Self { pool };
        model.run(migrate).await?;
        Ok(model)
    }

    /// Run `f` on a pooled connection, off the async threads.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        crate::db::run(&self.pool, f).await
    }

    /// The last log position projected.
    pub async fn projected_seq(&self) -> Result<i64, DbError> {
        self.run(|c| {
            c.query_row(
                "SELECT value FROM meta WHERE key = 'projected_seq'",
                [],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Replace the rows of `docs` and record syncs, moving the projected
    /// position to `seq`, in one transaction.
    pub async fn apply(
        &self,
        docs: Vec<(String, Projected)>,
        syncs: Vec<SyncSeen>,
        seq: i64,
    ) -> Result<(), DbError> {
        self.run(move |c| {
            let tx = c.transaction()?;
            for (id, p) in &docs {
                // Two processes sharing this file may project the same
                // document; the one that read the log further wins, and a
                // later change projects it again anyway.
                let stored: Option<i64> = tx
                    .prepare_cached("SELECT seq FROM doc_versions WHERE doc_id = ?1")?
                    .query_row([id], |r| r.get(0))
                    .optional()?;
                if stored.is_some_and(|v| v > seq) {
                    continue;
                }
                write_doc(&tx, id, p)?;
                tx.prepare_cached(
                    "INSERT INTO doc_versions (doc_id, seq) VALUES (?1, ?2)
                     ON CONFLICT (doc_id) DO UPDATE SET seq = excluded.seq",
                )?
                .execute(params![id, seq])?;
            }
            for s in &syncs {
                tx.prepare_cached(
                    "INSERT INTO syncs (user_id, device_id, last_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (user_id, device_id) DO UPDATE SET last_at = max(last_at, excluded.last_at)",
                )?
                .execute(params![s.user_id, s.device_id, s.at])?;
            }
            tx.execute(
                "UPDATE meta SET value = max(value, ?1) WHERE key = 'projected_seq'",
                [seq],
            )?;
            tx.commit()
        })
        .await
    }
}

fn migrate(c: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = c.transaction()?;
    let tables: Vec<String> = tx
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for t in tables {
        tx.execute_batch(&format!("DROP TABLE \"{t}\""))?;
    }
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(&summary::schema())?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()
}

/// A device (or the server, `device_id` empty) seen pushing at `at` (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSeen {
    /// User.
    pub user_id: String,
    /// Device, or empty.
    pub device_id: String,
    /// When its change was received, ms.
    pub at: i64,
}

/// What a document contributes to the read model.
#[derive(Debug, Clone)]
pub enum Projected {
    /// A household (its residents, tags and visits with it), and whether
    /// it was recorded on a phone whose clock was off.
    Household(Box<Household>, Vec<ConflictRow>, Option<ClockFlag>),
    /// An issue report.
    Issue(Box<IssueRow>, Vec<ConflictRow>),
    /// A 楼栋长/单元长's contact with a household.
    Contact(Box<gridsync_core::contact::Contact>),
    /// Anything else (grid documents, merged-away households): no rows.
    Nothing,
}

/// Changes of a record made on a phone whose clock was off (by the offset
/// their notes carry, docs/protocol.md): the times they record are that
/// far from the truth, so a supervisor sees them in the review queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockFlag {
    /// Who made the change with the largest offset.
    pub author: Option<String>,
    /// The largest offset, server minus phone, ms (positive: the phone's
    /// clock was behind, the times are too early).
    pub offset_ms: i64,
    /// How many changes were made with the clock off.
    pub changes: i64,
}

/// A phone clock off by more than this is flagged (the phone warns its
/// user from 5 minutes; an hour is past any time-zone-free drift).
pub const CLOCK_FLAG_MS: i64 = 3_600_000;

/// The clock flag of a document, from its changes' notes.
pub fn clock_flag(doc: &Automerge) -> Option<ClockFlag> {
    let mut flag: Option<ClockFlag> = None;
    for meta in doc.get_changes_meta(&[]) {
        // Almost no note carries an offset: only those are parsed.
        let message = meta
            .message
            .as_deref()
            .filter(|m| m.contains("clock_offset_ms"));
        let Some(note) = gridsync_core::doc::ChangeNote::parse(message) else {
            continue;
        };
        let Some(offset) = note.clock_offset_ms.filter(|o| o.abs() >= CLOCK_FLAG_MS) else {
            continue;
        };
        let f = flag.get_or_insert(ClockFlag {
            author: None,
            offset_ms: 0,
            changes: 0,
        });
        f.changes += 1;
        if offset.abs() > f.offset_ms.abs() {
            f.offset_ms = offset;
            f.author = Some(note.by);
        }
    }
    flag
}

/// A same-field conflict, ready to store.
#[derive(Debug, Clone)]
pub struct ConflictRow {
    /// Path, JSON array.
    pub path: String,
    /// Values, JSON array of `ConflictValue`s.
    pub values: String,
}

/// An issue report as projected.
#[derive(Debug, Clone)]
pub struct IssueRow {
    /// The document.
    pub issue: Issue,
    /// Its computed stage code and open flag.
    pub stage: String,
    /// Whether it is still open.
    pub open: bool,
    /// Its level code.
    pub level: String,
    /// Who handles it.
    pub assignee: Option<String>,
    /// When the current stage is due (acceptance while 待受理, handling
    /// while 处置中), ms.
    pub deadline: Option<i64>,
    /// Time of the latest event, ms.
    pub last_at: i64,
    /// The loop's outcome, for the figures.
    pub outcome: Outcome,
}

/// How a report's loop went, from the core's fold: what the overview's
/// figures (办结率, 按期办结率, 满意度, handling times) are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// When it was closed (结案), ms.
    pub closed_at: Option<i64>,
    /// Closed no later than its handling deadline (the subtype's limit
    /// from the last dispatch); a report whose subtype has no known
    /// limit cannot be late.
    pub closed_on_time: Option<bool>,
    /// The resident's rating, 1–5.
    pub rating: Option<u8>,
    /// The department it is (or was last) dispatched to (吹哨报到).
    pub department: Option<String>,
    /// When it was last dispatched, ms.
    pub dispatched_at: Option<i64>,
    /// When it was last fed back (反馈), ms.
    pub fed_back_at: Option<i64>,
}

/// The outcome of `issue`, whose fold is `row` and `status`.
fn outcome(
    issue: &Issue,
    (row, status): &(crate::reports::ReportRow, workflow::Status),
    calendar: &WorkCalendar,
) -> Outcome {
    // The handling deadline as the core computes it while 处置中.
    let handling_due = issue.due(
        &workflow::Status {
            stage: workflow::Stage::Dispatched,
            ..status.clone()
        },
        calendar,
    );
    let fed_back_at = status
        .applied
        .iter()
        .filter_map(|id| issue.events.get(id))
        .filter(|e| e.kind == workflow::EventKind::Feedback.code())
        .map(|e| e.at)
        .max();
    Outcome {
        closed_at: status.closed_at,
        closed_on_time: status
            .closed_at
            .map(|c| handling_due.is_none_or(|d| c <= d)),
        rating: status.rating,
        department: row.department.clone(),
        dispatched_at: row.dispatched_at,
        fed_back_at,
    }
}

/// What a stored document projects to; `None` when it cannot be read
/// (counted, never fatal: one bad document must not stop the pages).
pub fn project(doc: &Automerge, calendar: &WorkCalendar) -> Option<Projected> {
    let kind = gridsync_core::doc::kind_of(doc)?;
    let conflicts = || -> Vec<ConflictRow> {
        gridsync_core::doc::conflicts(doc)
            .unwrap_or_default()
            .into_iter()
            .map(|c| ConflictRow {
                path: serde_json::to_string(&c.path).unwrap_or_default(),
                values: serde_json::to_string(&c.values).unwrap_or_default(),
            })
            .collect()
    };
    match kind.as_str() {
        gridsync_core::household::KIND => {
            let h: Household = gridsync_core::doc::read(doc, None).ok()?;
            if h.merged_into.is_some() {
                return Some(Projected::Nothing);
            }
            Some(Projected::Household(
                Box::new(h),
                conflicts(),
                clock_flag(doc),
            ))
        }
        gridsync_core::issue::KIND => {
            let issue: Issue = gridsync_core::doc::read(doc, None).ok()?;
            // Folded once by the report read model's rules (stage, level,
            // department), so the lists here and its counts agree; the
            // deadline is the current stage's: 待受理 has its own limit,
            // 处置中 the subtype's.
            let folded = crate::reports::fold(&issue, calendar);
            let outcome = outcome(&issue, &folded, calendar);
            let (row, status) = folded;
            let deadline = issue.due(&status, calendar);
            Some(Projected::Issue(
                Box::new(IssueRow {
                    open: status.stage.is_open(),
                    stage: row.stage,
                    level: row.level,
                    assignee: status.assignee,
                    deadline,
                    last_at: row.updated_at,
                    outcome,
                    issue,
                }),
                conflicts(),
            ))
        }
        gridsync_core::contact::KIND => Some(Projected::Contact(Box::new(
            gridsync_core::doc::read(doc, None).ok()?,
        ))),
        _ => Some(Projected::Nothing),
    }
}

/// A household's place from the five columns from `i`: area, compound,
/// building, unit, room.
pub(crate) fn place_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Place> {
    Ok(Place {
        area: r.get(i)?,
        compound: r.get(i + 1)?,
        building: r.get(i + 2)?,
        unit: r.get(i + 3)?,
        room: r.get(i + 4)?,
    })
}

/// A stage's Chinese name from its stored code (the core's table).
pub use gridsync_core::issue::workflow::stage_name_zh as stage_name;

/// What replacing a document's rows deletes first, each by an index.
const DELETE_DOC: [&str; 8] = [
    "DELETE FROM households WHERE id = ?1",
    "DELETE FROM residents WHERE household_id = ?1",
    "DELETE FROM resident_tags WHERE household_id = ?1",
    "DELETE FROM visits WHERE household_id = ?1 AND contact = 0",
    "DELETE FROM visits WHERE key = ?1 AND contact = 1",
    "DELETE FROM issues WHERE id = ?1",
    "DELETE FROM conflicts WHERE doc_id = ?1",
    "DELETE FROM clock_flags WHERE doc_id = ?1",
];

fn delete_doc(tx: &rusqlite::Transaction<'_>, id: &str) -> rusqlite::Result<()> {
    for sql in DELETE_DOC {
        tx.prepare_cached(sql)?.execute([id])?;
    }
    Ok(())
}

fn write_conflicts(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    grid: &str,
    kind: &str,
    conflicts: &[ConflictRow],
) -> rusqlite::Result<()> {
    for (n, c) in conflicts.iter().enumerate() {
        tx.prepare_cached(
            "INSERT INTO conflicts (doc_id, n, grid, kind, path, vals) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![id, n as i64, grid, kind, c.path, c.values])?;
    }
    Ok(())
}

fn write_doc(tx: &rusqlite::Transaction<'_>, id: &str, p: &Projected) -> rusqlite::Result<()> {
    delete_doc(tx, id)?;
    match p {
        Projected::Nothing => Ok(()),
        Projected::Household(h, conflicts, clock) => {
            write_household(tx, id, h)?;
            if let Some(f) = clock {
                tx.prepare_cached(
                    "INSERT INTO clock_flags (doc_id, grid, author, offset_ms, changes)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![id, h.grid, f.author, f.offset_ms, f.changes])?;
            }
            write_conflicts(tx, id, &h.grid, "household", conflicts)
        }
        Projected::Contact(c) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO visits (household_id, key, grid, visitor, role, at, method,
                    findings, needs, follow_up, corrected, contact, place_key, closed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 1, ?11,
                    EXISTS (SELECT 1 FROM closed_needs WHERE visit_key = ?2))",
            )?
            .execute(params![
                c.household,
                id,
                c.grid,
                c.by,
                c.role,
                c.at,
                c.method,
                c.findings,
                c.needs,
                c.follow_up,
                format!("{}|{}", c.place.compound.trim(), c.place.building.trim()),
            ])?;
            Ok(())
        }
        Projected::Issue(row, conflicts) => {
            let i = &row.issue;
            tx.prepare_cached(
                "INSERT INTO issues (id, grid, category, subtype, description, building, stage, open,
                    level, assignee, reporter, urgency, created_at, deadline, last_at,
                    closed_at, closed_on_time, rating, department, dispatched_at, fed_back_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                    ?16, ?17, ?18, ?19, ?20, ?21)",
            )?
            .execute(params![
                id,
                i.grid,
                i.category,
                i.subtype,
                i.description,
                i.place.building,
                row.stage,
                row.open,
                row.level,
                row.assignee,
                i.reporter,
                i.urgency,
                i.created_at,
                row.deadline,
                row.last_at,
                row.outcome.closed_at,
                row.outcome.closed_on_time,
                row.outcome.rating,
                row.outcome.department,
                row.outcome.dispatched_at,
                row.outcome.fed_back_at
            ])?;
            write_conflicts(tx, id, &i.grid, "issue", conflicts)
        }
    }
}

fn write_household(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    h: &Household,
) -> rusqlite::Result<()> {
    let residents: Vec<_> = h.current_residents().collect();
    let distinct: Vec<&str> = h.distinct_from.iter().collect();
    tx.prepare_cached(
        "INSERT INTO households (id, grid, area, compound, building, unit, room, address_key, holder,
            residents, visits, last_visit_at, last_holder_contact_at, distinct_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        id,
        h.grid,
        h.place.area,
        h.place.compound,
        h.place.building,
        h.place.unit,
        h.place.room,
        h.place.address_key(),
        h.holder,
        residents.len() as i64,
        h.visits.len() as i64,
        h.last_visit_at(),
        h.last_holder_contact_at(),
        distinct.join(",")
    ])?;
    for (key, r) in residents {
        let tags: Vec<&str> = r.tags.iter().collect();
        tx.prepare_cached(
            "INSERT INTO residents (household_id, key, grid, name, id_number, phone, sex, birth_date,
                ethnicity, relation, status, tags)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            id,
            key,
            h.grid,
            r.name,
            r.id_number,
            r.phone,
            r.sex,
            r.birth_date,
            r.ethnicity,
            r.relation,
            r.status,
            tags.join(",")
        ])?;
        for t in tags {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO resident_tags (household_id, key, grid, tag) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, key, h.grid, t])?;
        }
    }
    // A visit another entry corrects is superseded by it (visits are
    // never edited): its need, if any, is the correction's to carry.
    let corrected: std::collections::HashSet<&str> = h
        .visits
        .values()
        .filter_map(|v| v.corrects.as_deref())
        .collect();
    for (key, v) in &h.visits {
        tx.prepare_cached(
            "INSERT INTO visits (household_id, key, grid, visitor, role, at, method, findings, needs,
                follow_up, corrected, closed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
                EXISTS (SELECT 1 FROM closed_needs WHERE visit_key = ?2))",
        )?
        .execute(params![
            id,
            key,
            h.grid,
            v.visitor,
            v.role,
            v.at,
            v.method,
            v.findings,
            v.needs,
            v.follow_up,
            corrected.contains(key.as_str())
        ])?;
    }
    Ok(())
}

/// Bring the read model up to the head of the change log. Cheap when
/// nothing changed (one `max(seq)` query); pages call it before reading.
pub async fn catch_up(state: &AppState) -> WebResult<()> {
    let web = &state.web;
    let head = state.docs.max_seq().await?;
    if web.model.projected_seq().await? >= head {
        return Ok(());
    }
    let _one = web.projector.lock().await;
    let mut done = web.model.projected_seq().await?;
    while done < head {
        let entries = state.docs.log_after(done, BATCH, None).await?.entries;
        let Some(last) = entries.last().map(|e| e.seq) else {
            break;
        };
        let mut ids: Vec<String> = Vec::new();
        let mut seen: HashMap<(String, String), i64> = HashMap::new();
        for e in &entries {
            ids.push(e.doc_id.clone());
            if let Some(user) = &e.user_id {
                let key = (user.clone(), e.device_id.clone().unwrap_or_default());
                let at = seen.entry(key).or_insert(e.received_at);
                *at = (*at).max(e.received_at);
            }
        }
        ids.sort();
        ids.dedup();
        // A chunk of documents at a time, each projected as the store
        // holds it (often still in its cache after the push), on all
        // cores; a chunk bounds how many are decoded at once.
        let mut projected = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(PROJECT_CHUNK) {
            let docs = state.docs.documents(chunk.to_vec()).await?;
            let calendar = state.reports.calendar().clone();
            let part = tokio::task::spawn_blocking(move || {
                use rayon::prelude::*;
                docs.into_par_iter()
                    .filter_map(|(id, doc)| match project(&doc, &calendar) {
                        Some(p) => Some((id, p)),
                        None => {
                            tracing::warn!(doc_id = %id, "web read model: document not readable; skipped");
                            None
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?;
            projected.extend(part);
        }
        let syncs = seen
            .into_iter()
            .map(|((user_id, device_id), at)| SyncSeen {
                user_id,
                device_id,
                at,
            })
            .collect();
        web.model.apply(projected, syncs, last).await?;
        done = last;
    }
    Ok(())
}

/// The upper bound of the codes under `prefix` (codes are digits).
pub fn upper(prefix: &str) -> String {
    format!("{prefix}~")
}

/// Counts for one row of an overview table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Households.
    pub households: i64,
    /// Residents (current).
    pub residents: i64,
    /// Households visited since the period start.
    pub visited: i64,
    /// Open reports (from the report read model, [`crate::reports`]:
    /// filled by the caller, not by [`counts_by`]).
    pub open_reports: i64,
    /// Overdue open reports (likewise).
    pub overdue: i64,
}

/// Households, residents, visited households per group of the territory
/// under `prefix`: grouped by the first `group_len` characters of the
/// grid code (territory levels), or by building when `group_len` is 0.
/// Report figures are the report read model's, one source for every page
/// and export.
pub async fn counts_by(
    model: &ReadModel,
    prefix: &str,
    group_len: usize,
    since: i64,
) -> Result<BTreeMap<String, Counts>, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            let key = if group_len == 0 {
                "compound || '·' || building".to_owned()
            } else {
                format!("substr(grid, 1, {group_len})")
            };
            let mut out: BTreeMap<String, Counts> = BTreeMap::new();
            let sql = format!(
                "SELECT {key}, count(*), coalesce(sum(residents), 0),
                        coalesce(sum(last_visit_at >= ?3), 0)
                 FROM households WHERE grid >= ?1 AND grid < ?2 GROUP BY 1"
            );
            let mut st = c.prepare(&sql)?;
            let mut rows = st.query(params![lo, hi, since])?;
            while let Some(r) = rows.next()? {
                let e = out.entry(r.get(0)?).or_default();
                e.households = r.get(1)?;
                e.residents = r.get(2)?;
                e.visited = r.get(3)?;
            }
            Ok(out)
        })
        .await
}

/// Residents per attention tag under `prefix`.
/// (The overview reads [`summary`]; this direct query is what the
/// summaries are checked against.)
#[cfg(test)]
pub async fn tag_counts(model: &ReadModel, prefix: &str) -> Result<Vec<(String, i64)>, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            c.prepare_cached(
                "SELECT tag, count(*) FROM resident_tags WHERE grid >= ?1 AND grid < ?2 GROUP BY tag",
            )?
            .query_map(params![lo, hi], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
        })
        .await
}

/// Per package-holder: households held and households they contacted
/// since `since`, under `prefix`.
/// (The overview reads [`summary`]; this direct query is what the
/// summaries are checked against.)
#[cfg(test)]
pub async fn holder_coverage(
    model: &ReadModel,
    prefix: &str,
    since: i64,
) -> Result<Vec<(String, i64, i64)>, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            c.prepare_cached(
                "SELECT holder, count(*), coalesce(sum(last_holder_contact_at >= ?3), 0)
                 FROM households WHERE grid >= ?1 AND grid < ?2 AND holder IS NOT NULL
                 GROUP BY holder ORDER BY holder",
            )?
            .query_map(params![lo, hi, since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
        .await
}

/// Last sync (last change received) per (user, device).
pub async fn syncs(model: &ReadModel) -> Result<Vec<SyncSeen>, DbError> {
    model
        .run(|c| {
            c.prepare_cached("SELECT user_id, device_id, last_at FROM syncs")?
                .query_map([], |r| {
                    Ok(SyncSeen {
                        user_id: r.get(0)?,
                        device_id: r.get(1)?,
                        at: r.get(2)?,
                    })
                })?
                .collect()
        })
        .await
}

/// A household in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdRow {
    /// Id.
    pub id: String,
    /// Grid code.
    pub grid: String,
    /// Compound.
    pub compound: String,
    /// Building.
    pub building: String,
    /// Unit.
    pub unit: String,
    /// Room.
    pub room: String,
    /// Residents.
    pub residents: i64,
    /// Visits.
    pub visits: i64,
    /// Latest visit, ms.
    pub last_visit_at: Option<i64>,
    /// Package-holder.
    pub holder: Option<String>,
}

/// The columns [`household_row`] reads.
const HOUSEHOLD_COLUMNS: &str =
    "id, grid, compound, building, unit, room, residents, visits, last_visit_at, holder";

/// A [`HouseholdRow`] from the [`HOUSEHOLD_COLUMNS`] of a row.
fn household_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HouseholdRow> {
    Ok(HouseholdRow {
        id: r.get(0)?,
        grid: r.get(1)?,
        compound: r.get(2)?,
        building: r.get(3)?,
        unit: r.get(4)?,
        room: r.get(5)?,
        residents: r.get(6)?,
        visits: r.get(7)?,
        last_visit_at: r.get(8)?,
        holder: r.get(9)?,
    })
}

/// Households of one building of a grid (every building when `building`
/// is None), in address order.
pub async fn households_in(
    model: &ReadModel,
    grid: &str,
    compound: Option<String>,
    building: Option<String>,
) -> Result<Vec<HouseholdRow>, DbError> {
    let grid = grid.to_owned();
    model
        .run(move |c| {
            c.prepare_cached(&format!(
                "SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE grid = ?1
                   AND (?2 IS NULL OR compound = ?2) AND (?3 IS NULL OR building = ?3)
                 ORDER BY compound, building, unit, length(room), room"
            ))?
            .query_map(params![grid, compound, building], household_row)?
            .collect()
        })
        .await
}

/// The grid of a household, if the read model has it.
pub async fn household_grid(model: &ReadModel, id: &str) -> Result<Option<String>, DbError> {
    let id = id.to_owned();
    model
        .run(move |c| {
            c.query_row("SELECT grid FROM households WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
        })
        .await
}

/// What the read model knows of some households and residents named by
/// id ([`places_and_names`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Named {
    /// Where each household is: 片区, 小区, 楼栋, 单元, 室.
    pub places: HashMap<String, [String; 5]>,
    /// Each resident's name, by (household id, resident key).
    pub residents: HashMap<(String, String), String>,
}

/// Where the households of `ids` are and the names of the residents of
/// `residents` (household id, resident key), for those the read model
/// has. For the audit log, which names records by id.
pub async fn places_and_names(
    model: &ReadModel,
    ids: Vec<String>,
    residents: Vec<(String, String)>,
) -> Result<Named, DbError> {
    model
        .run(move |c| {
            let mut places = HashMap::new();
            let mut stmt = c.prepare_cached(
                "SELECT area, compound, building, unit, room FROM households WHERE id = ?1",
            )?;
            for id in ids {
                let place = stmt
                    .query_row([&id], |r| {
                        Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
                    })
                    .optional()?;
                if let Some(place) = place {
                    places.insert(id, place);
                }
            }
            let mut names = HashMap::new();
            let mut stmt = c.prepare_cached(
                "SELECT name FROM residents WHERE household_id = ?1 AND key = ?2",
            )?;
            for (household, key) in residents {
                let name: Option<String> = stmt
                    .query_row([&household, &key], |r| r.get(0))
                    .optional()?;
                if let Some(name) = name {
                    names.insert((household, key), name);
                }
            }
            Ok(Named {
                places,
                residents: names,
            })
        })
        .await
}

/// The loop's figures for the reports of a territory made in a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Reports made in the period (withdrawn ones not counted).
    pub reported: i64,
    /// Of those, closed (结案, rated or not).
    pub closed: i64,
    /// Of the closed, closed by their handling deadline.
    pub closed_on_time: i64,
    /// Of the closed, rated by the resident.
    pub rated: i64,
    /// Mean rating of the rated, 1–5.
    pub mean_rating: Option<f64>,
    /// Per reporter (user id): reports, closed, median report → close (ms).
    pub by_reporter: Vec<Handling>,
    /// Per department code: reports dispatched to it, fed back, median
    /// dispatch → feedback (ms).
    pub by_department: Vec<Handling>,
}

/// Reports of one person or department and how long they took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handling {
    /// User id or department code.
    pub who: String,
    /// Reports.
    pub reports: i64,
    /// Of those, with the handling time measured (closed; fed back).
    pub done: i64,
    /// Median handling time, ms.
    pub median_ms: Option<i64>,
}

/// The median of `v` (the mean of the middle two when even).
pub fn median(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

/// The figures of the reports under `prefix` made since `since` (ms).
pub async fn figures(model: &ReadModel, prefix: &str, since: i64) -> Result<Figures, DbError> {
    type Row = (
        String,
        Option<String>,
        i64,
        Option<i64>,
        Option<bool>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    let rows: Vec<Row> = model
        .run(move |c| {
            c.prepare_cached(
                "SELECT reporter, department, created_at, closed_at, closed_on_time, rating,
                        dispatched_at, fed_back_at
                 FROM issues WHERE grid >= ?1 AND grid < ?2 AND created_at >= ?3
                   AND stage <> 'withdrawn'",
            )?
            .query_map(params![lo, hi, since], |r| {
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
            .collect()
        })
        .await?;
    let mut f = Figures::default();
    let mut ratings = 0i64;
    let mut reporters: BTreeMap<String, (i64, Vec<i64>)> = BTreeMap::new();
    let mut departments: BTreeMap<String, (i64, Vec<i64>)> = BTreeMap::new();
    for (reporter, department, created, closed, on_time, rating, dispatched, fed_back) in rows {
        f.reported += 1;
        let r = reporters.entry(reporter).or_default();
        r.0 += 1;
        if let Some(closed) = closed {
            f.closed += 1;
            f.closed_on_time += i64::from(on_time.unwrap_or(false));
            r.1.push(closed - created);
        }
        if let Some(rating) = rating {
            f.rated += 1;
            ratings += rating;
        }
        if let Some(d) = department {
            let e = departments.entry(d).or_default();
            e.0 += 1;
            if let (Some(from), Some(to)) = (dispatched, fed_back) {
                e.1.push(to - from);
            }
        }
    }
    f.mean_rating = (f.rated > 0).then(|| ratings as f64 / f.rated as f64);
    let handling = |m: BTreeMap<String, (i64, Vec<i64>)>| {
        m.into_iter()
            .map(|(who, (reports, times))| Handling {
                who,
                reports,
                done: times.len() as i64,
                median_ms: median(times),
            })
            .collect()
    };
    f.by_reporter = handling(reporters);
    f.by_department = handling(departments);
    Ok(f)
}

/// Each report's outcome under `prefix`, by id: when it was closed,
/// whether by its handling deadline, its rating.
pub async fn outcomes(
    model: &ReadModel,
    prefix: &str,
) -> Result<HashMap<String, (Option<i64>, Option<bool>, Option<i64>)>, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            c.prepare_cached(
                "SELECT id, closed_at, closed_on_time, rating FROM issues
                 WHERE grid >= ?1 AND grid < ?2",
            )?
            .query_map(params![lo, hi], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
            })?
            .collect()
        })
        .await
}

/// Households under `prefix` without a 包保责任人.
/// (The overview reads [`summary`]; this direct query is what the
/// summaries are checked against.)
#[cfg(test)]
pub async fn unheld_count(model: &ReadModel, prefix: &str) -> Result<i64, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            c.prepare_cached(
                "SELECT count(*) FROM households
                 WHERE grid >= ?1 AND grid < ?2 AND (holder IS NULL OR holder = '')",
            )?
            .query_row(params![lo, hi], |r| r.get(0))
        })
        .await
}

/// The households under `prefix` without a 包保责任人, by grid and address.
pub async fn unheld_households(
    model: &ReadModel,
    prefix: &str,
) -> Result<Vec<HouseholdRow>, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            c.prepare_cached(&format!(
                "SELECT {HOUSEHOLD_COLUMNS} FROM households
                 WHERE grid >= ?1 AND grid < ?2 AND (holder IS NULL OR holder = '')
                 ORDER BY grid, compound, building, unit, length(room), room"
            ))?
            .query_map(params![lo, hi], household_row)?
            .collect()
        })
        .await
}

/// Who the residents under a territory are: by residence status, by age.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Residents per residence status code (`None`: not recorded).
    pub status: Vec<(Option<String>, i64)>,
    /// Residents aged 0–17, 18–59, 60–79, 80 and over, and of unknown
    /// age (no birth date), in that order.
    pub ages: [i64; 5],
}

/// The residents under `prefix` by residence status and by age band on
/// `today` (`YYYY-MM-DD`, Beijing time): whole years from the birth
/// date, a birthday not yet reached this year not counted.
/// (The overview reads [`summary`]; this direct query is what the
/// summaries are checked against.)
#[cfg(test)]
pub async fn profile(model: &ReadModel, prefix: &str, today: String) -> Result<Profile, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            let status = c
                .prepare_cached(
                    "SELECT status, count(*) FROM residents
                     WHERE grid >= ?1 AND grid < ?2 GROUP BY status ORDER BY status",
                )?
                .query_map(params![lo, hi], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut ages = [0i64; 5];
            let mut st = c.prepare_cached(&format!(
                "SELECT {}, count(*)
                 FROM (SELECT {} FROM residents WHERE grid >= ?1 AND grid < ?2)
                 GROUP BY 1",
                summary::AGE_BAND,
                summary::AGE
            ))?;
            let mut rows = st.query(params![lo, hi, today])?;
            while let Some(r) = rows.next()? {
                let band: i64 = r.get(0)?;
                ages[band.clamp(0, 4) as usize] += r.get::<_, i64>(1)?;
            }
            Ok(Profile { status, ages })
        })
        .await
}

/// A 群众诉求 or 需跟进 noted in a visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedRow {
    /// The household's id.
    pub household_id: String,
    /// The visit's key in it.
    pub visit_key: String,
    /// Grid code.
    pub grid: String,
    /// Where the household is: 片区, 小区, 楼栋, 单元, 室.
    pub place: [String; 5],
    /// Who made the visit (user id).
    pub visitor: String,
    /// When, ms.
    pub at: i64,
    /// The concern noted (群众诉求), may be empty.
    pub needs: String,
    /// What the visit found.
    pub findings: String,
    /// Whether a follow-up was asked for.
    pub follow_up: bool,
}

/// A contact is listed with a household only when made at its building
/// (the server checked the place against the head's post, not the
/// household id a phone wrote).
const AT_ITS_HOUSEHOLD: &str = "(v.contact = 0 OR v.place_key = h.compound || '|' || h.building)";

const NEED_COLUMNS: &str = "v.household_id, v.key, v.grid, h.area, h.compound, h.building, h.unit,
    h.room, v.visitor, v.at, v.needs, v.findings, v.follow_up";

fn need_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NeedRow> {
    Ok(NeedRow {
        household_id: r.get(0)?,
        visit_key: r.get(1)?,
        grid: r.get(2)?,
        place: [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
        visitor: r.get(8)?,
        at: r.get(9)?,
        needs: r.get(10)?,
        findings: r.get(11)?,
        follow_up: r.get(12)?,
    })
}

/// Every visit under `prefix` that noted a 群众诉求 or asked for a
/// follow-up (and was not superseded by a correction), oldest first.
/// Whether each was handled is kept apart ([`super::needs`]).
pub async fn needs(model: &ReadModel, prefix: &str) -> Result<Vec<NeedRow>, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            c.prepare_cached(&format!(
                "SELECT {NEED_COLUMNS} FROM visits v JOIN households h ON h.id = v.household_id
                 WHERE v.grid >= ?1 AND v.grid < ?2 AND (v.needs <> '' OR v.follow_up = 1)
                   AND v.corrected = 0 AND {AT_ITS_HOUSEHOLD}
                 ORDER BY v.at, v.household_id, v.key"
            ))?
            .query_map(params![lo, hi], need_row)?
            .collect()
        })
        .await
}

/// The oldest `limit` open needs under `prefix` (not handled, not
/// superseded by a correction), oldest first: walked in time order for a
/// street or more (the first ones found are the answer), by grid for a
/// community or a grid.
pub async fn open_needs(
    model: &ReadModel,
    prefix: &str,
    limit: usize,
) -> Result<Vec<NeedRow>, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    let index = if prefix.len() < 12 {
        "visits_open_at"
    } else {
        "visits_open"
    };
    model
        .run(move |c| {
            c.prepare_cached(&format!(
                "SELECT {NEED_COLUMNS} FROM visits v INDEXED BY {index}
                   JOIN households h ON h.id = v.household_id
                 WHERE v.grid >= ?1 AND v.grid < ?2 AND {} AND {AT_ITS_HOUSEHOLD}
                 ORDER BY v.at, v.household_id, v.key LIMIT +?3",
                summary::OPEN_NEED
            ))?
            .query_map(params![lo, hi, limit as i64], need_row)?
            .collect()
        })
        .await
}

/// The need noted by visit `key` of household `id`, if that visit noted one.
pub async fn need(model: &ReadModel, id: &str, key: &str) -> Result<Option<NeedRow>, DbError> {
    let (id, key) = (id.to_owned(), key.to_owned());
    model
        .run(move |c| {
            c.prepare_cached(&format!(
                "SELECT {NEED_COLUMNS} FROM visits v JOIN households h ON h.id = v.household_id
                 WHERE v.household_id = ?1 AND v.key = ?2 AND (v.needs <> '' OR v.follow_up = 1)
                   AND {AT_ITS_HOUSEHOLD}"
            ))?
            .query_row(params![id, key], need_row)
            .optional()
        })
        .await
}

/// A 楼栋长/单元长's contact with a household, for its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    /// The contact's id (its key among the household's needs).
    pub id: String,
    /// Who (user id) and in which role.
    pub by: String,
    /// Role code.
    pub role: String,
    /// When, ms.
    pub at: i64,
    /// How (code).
    pub method: String,
    /// What was found.
    pub findings: String,
    /// 群众诉求.
    pub needs: String,
    /// 需跟进.
    pub follow_up: bool,
}

/// The contacts building and unit heads made with household `id` at its
/// building, newest first.
pub async fn contacts_of(model: &ReadModel, id: &str) -> Result<Vec<ContactRow>, DbError> {
    let id = id.to_owned();
    model
        .run(move |c| {
            c.prepare_cached(&format!(
                "SELECT v.key, v.visitor, v.role, v.at, v.method, v.findings, v.needs, v.follow_up
                 FROM visits v JOIN households h ON h.id = v.household_id
                 WHERE v.household_id = ?1 AND v.contact = 1 AND {AT_ITS_HOUSEHOLD}
                 ORDER BY v.at DESC"
            ))?
            .query_map([id], |r| {
                Ok(ContactRow {
                    id: r.get(0)?,
                    by: r.get(1)?,
                    role: r.get(2)?,
                    at: r.get(3)?,
                    method: r.get(4)?,
                    findings: r.get(5)?,
                    needs: r.get(6)?,
                    follow_up: r.get(7)?,
                })
            })?
            .collect()
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Projecting a document replaces its rows: every delete finds them by
    /// an index, never by scanning a table that grows with the district.
    #[tokio::test]
    async fn replacing_a_documents_rows_scans_no_table() -> Result<(), DbError> {
        let dir = tempfile::tempdir().map_err(|e| DbError::Task(e.to_string()))?;
        let model = ReadModel::open(&dir.path().join("rm.sqlite3")).await?;
        let plans = model
            .run(|c| {
                let mut plans = Vec::new();
                for sql in DELETE_DOC {
                    let plan: Vec<String> = c
                        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?
                        .query_map(["x"], |r| r.get::<_, String>(3))?
                        .collect::<rusqlite::Result<_>>()?;
                    plans.push((sql, plan.join("; ")));
                }
                Ok(plans)
            })
            .await?;
        for (sql, plan) in plans {
            assert!(
                !plan.starts_with("SCAN") && !plan.contains("; SCAN"),
                "{sql}: {plan}"
            );
        }
        Ok(())
    }
}

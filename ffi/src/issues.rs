//! Issue reports (事件) on the phone: the catalogue to pick from, reporting
//! offline, photos attached from a file, the lists a worker chases, one
//! report with its steps and deadline, and every step of the closed loop.
//! Thin wrappers over gridsync-core's `Store` issue functions and its photo
//! download; the records here are plain copies for Kotlin and Swift.
//!
//! Which step is possible in which stage is decided by the core (a refusal
//! is `Invalid` with field `kind` and the Chinese reason, at once); which
//! role may take it is decided by the server when the step is pushed (a
//! refusal is listed by `rejectedChanges()` with the Chinese reason).

use gridsync_core::issue::{
    self as core_issue, EventKind, Level, Source, Stage, StepInput, Urgency,
};
use gridsync_core::sync::blobs as core_blobs;

use crate::client::{Gridsync, lock};
use crate::error::{GridsyncError, Result};

/// A category of the issue catalogue (事件分类), with its subtypes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssueCategory {
    /// Code stored in reports, e.g. `sanitation`.
    pub code: String,
    /// Chinese name, e.g. 环境卫生.
    pub name: String,
    /// Its subtypes.
    pub subtypes: Vec<IssueSubtype>,
}

/// A subtype of a category, e.g. `garbage` 垃圾堆放.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssueSubtype {
    /// Code stored in reports, unique within its category.
    pub code: String,
    /// Chinese name.
    pub name: String,
}

/// What a worker reports. Codes come from `issueCatalogue()` and
/// `codes(CodeTable.ISSUE_SOURCE / ISSUE_URGENCY)`.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct NewReport {
    /// Grid code; the grid must be on this device.
    pub grid: String,
    /// Category code.
    pub category: String,
    /// Subtype code within the category.
    pub subtype: String,
    /// What was found (required, at most 5000 characters).
    pub description: String,
    /// How it came to light: `patrol` 巡查, `visit` 走访, `resident`
    /// 群众反映, `hotline` 12345热线.
    pub source: String,
    /// `normal` 一般 (when empty), `urgent` 紧急, `critical` 特急.
    #[uniffi(default)]
    pub urgency: String,
    /// The household concerned (its id), if any.
    #[uniffi(default)]
    pub household: Option<String>,
    /// Building or landmark, free text (e.g. 3号楼东侧), at most 100
    /// characters.
    #[uniffi(default)]
    pub building: Option<String>,
    /// Latitude, WGS-84 (with `lon`).
    #[uniffi(default)]
    pub lat: Option<f64>,
    /// Longitude, WGS-84 (with `lat`).
    #[uniffi(default)]
    pub lon: Option<f64>,
    /// Other households concerned (ids).
    #[uniffi(default)]
    pub households: Vec<String>,
}

/// Where a report stands in the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReportStage {
    /// 待受理: reported (or escalated), waiting to be accepted.
    Reported,
    /// 待派遣: accepted, waiting to be dispatched.
    Accepted,
    /// 处置中: dispatched to the assignee (also after a failed check).
    Dispatched,
    /// 待反馈: handled, waiting for feedback.
    Handled,
    /// 待核查: fed back, waiting to be checked.
    FedBack,
    /// 待结案: checked, waiting to be closed.
    Verified,
    /// 已结案: closed, waiting for the resident's rating.
    Closed,
    /// 已评价: rated; the loop is complete.
    Rated,
    /// 已撤销: withdrawn.
    Withdrawn,
}

impl From<Stage> for ReportStage {
    fn from(s: Stage) -> Self {
        match s {
            Stage::Reported => Self::Reported,
            Stage::Accepted => Self::Accepted,
            Stage::Dispatched => Self::Dispatched,
            Stage::Handled => Self::Handled,
            Stage::FedBack => Self::FedBack,
            Stage::Verified => Self::Verified,
            Stage::Closed => Self::Closed,
            Stage::Rated => Self::Rated,
            Stage::Withdrawn => Self::Withdrawn,
        }
    }
}

/// The level a report is dealt with at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReportLevel {
    /// 网格.
    Grid,
    /// 社区.
    Community,
    /// 街道.
    Street,
    /// 职能部门.
    Department,
}

impl From<Level> for ReportLevel {
    fn from(l: Level) -> Self {
        match l {
            Level::Grid => Self::Grid,
            Level::Community => Self::Community,
            Level::Street => Self::Street,
            Level::Department => Self::Department,
        }
    }
}

/// A step of the loop a person takes (上报 is the report itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StepKind {
    /// 受理.
    Accept,
    /// 派遣 (needs `assignee`: a user id, or `dept:<code>` for a
    /// department, 吹哨报到).
    Dispatch,
    /// 处置.
    Handle,
    /// 反馈.
    Feedback,
    /// 核查通过.
    VerifyPass,
    /// 核查不通过 (needs a note: why).
    VerifyFail,
    /// 结案.
    Close,
    /// 评价 (needs `rating`, 1–5).
    Rate,
    /// 上报上级.
    Escalate,
    /// 撤销 (needs a note: why).
    Withdraw,
}

impl From<StepKind> for EventKind {
    fn from(k: StepKind) -> Self {
        match k {
            StepKind::Accept => EventKind::Accept,
            StepKind::Dispatch => EventKind::Dispatch,
            StepKind::Handle => EventKind::Handle,
            StepKind::Feedback => EventKind::Feedback,
            StepKind::VerifyPass => EventKind::VerifyPass,
            StepKind::VerifyFail => EventKind::VerifyFail,
            StepKind::Close => EventKind::Close,
            StepKind::Rate => EventKind::Rate,
            StepKind::Escalate => EventKind::Escalate,
            StepKind::Withdraw => EventKind::Withdraw,
        }
    }
}

/// A step to take, with what it needs.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Step {
    /// Which step.
    pub kind: StepKind,
    /// What was done, why it goes back, why it is withdrawn (required for
    /// `VerifyFail` and `Withdraw`; at most 2000 characters).
    #[uniffi(default)]
    pub note: Option<String>,
    /// Who is to handle it (`Dispatch` only): a user id or `dept:<code>`.
    #[uniffi(default)]
    pub assignee: Option<String>,
    /// The resident's rating, 1–5 (`Rate` only).
    #[uniffi(default)]
    pub rating: Option<i32>,
    /// Photos to attach to the report with this step (files, e.g. of the
    /// place after handling), read before anything is recorded.
    #[uniffi(default)]
    pub photo_paths: Vec<String>,
}

/// A report in a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReportRow {
    /// Its id.
    pub id: String,
    /// Grid code.
    pub grid: String,
    /// Category code and Chinese name.
    pub category: String,
    pub category_name: String,
    /// Subtype code and Chinese name.
    pub subtype: String,
    pub subtype_name: String,
    /// What was found.
    pub description: String,
    /// Where it stands, and the stage's Chinese name (待受理, 处置中, …).
    pub stage: ReportStage,
    pub stage_name: String,
    /// The level it is dealt with at.
    pub level: ReportLevel,
    /// Who handles it (user id or `dept:<code>`), once dispatched.
    pub assignee: Option<String>,
    /// User id of the reporter.
    pub reporter: String,
    /// When it was reported, ms since the Unix epoch.
    pub created_at: i64,
    /// When the current stage is due, ms: 待受理 must be accepted, 处置中
    /// handled, by then; `None` in other stages.
    pub deadline: Option<i64>,
    /// Past that time limit (超期).
    pub overdue: bool,
}

/// One step of a report, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReportStep {
    /// The step's id.
    pub id: String,
    /// Its code (`report`, `accept`, `dispatch`, …) and Chinese name.
    pub kind: String,
    pub name: String,
    /// User id of whoever took it, and their role code.
    pub actor: String,
    pub role: String,
    /// When, ms since the Unix epoch.
    pub at: i64,
    /// Who it was dispatched to (dispatch).
    pub assignee: Option<String>,
    /// The note given with it.
    pub note: Option<String>,
    /// The rating (rate).
    pub rating: Option<i32>,
    /// Why it had no effect (it raced another step taken offline), in
    /// Chinese; `None` when it took effect.
    pub superseded: Option<String>,
}

/// One report with its steps, oldest first.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Report {
    /// The report as listed (stage, deadline, …).
    pub row: ReportRow,
    /// Source code and Chinese name (巡查, 走访, 群众反映, 12345热线).
    pub source: String,
    pub source_name: String,
    /// Urgency code and Chinese name.
    pub urgency: String,
    pub urgency_name: String,
    /// The household concerned, building or landmark, coordinates.
    pub household: Option<String>,
    pub building: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Other households concerned.
    pub households: Vec<String>,
    /// Photos (their SHA-256, hex): `photo(hash)` / `thumbnail(hash)`.
    pub photos: Vec<String>,
    /// The resident's rating, once rated.
    pub rating: Option<i32>,
    /// Times it was sent back after a failed check.
    pub reworks: i32,
    /// Every step, in the order they count.
    pub steps: Vec<ReportStep>,
}

fn category_name(code: &str) -> String {
    core_issue::catalogue::category(code)
        .map(|c| c.name.to_string())
        .unwrap_or_default()
}

fn subtype_name(category: &str, code: &str) -> String {
    core_issue::catalogue::subtype(category, code)
        .map(|s| s.name.to_string())
        .unwrap_or_default()
}

fn row(r: core_issue::IssueRow, now: i64) -> ReportRow {
    ReportRow {
        category_name: category_name(&r.category),
        subtype_name: subtype_name(&r.category, &r.subtype),
        stage_name: r.stage.name_zh().to_string(),
        overdue: r.deadline.is_some_and(|d| d < now),
        stage: r.stage.into(),
        level: r.level.into(),
        id: r.id,
        grid: r.grid,
        category: r.category,
        subtype: r.subtype,
        description: r.description,
        assignee: r.assignee,
        reporter: r.reporter,
        created_at: r.created_at,
        deadline: r.deadline,
    }
}

/// Read the photo files of a call, before anything is recorded.
fn read_photos(paths: &[String]) -> Result<Vec<Vec<u8>>> {
    paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            std::fs::read(p).map_err(|_| {
                GridsyncError::invalid(
                    &format!("photo_paths[{i}]"),
                    "无法读取照片文件",
                    "cannot read the photo file",
                )
            })
        })
        .collect()
}

fn hours(field: &str, n: i32) -> Result<i64> {
    if n < 0 {
        return Err(GridsyncError::invalid(
            field,
            "小时数不能为负数",
            "number of hours must not be negative",
        ));
    }
    Ok(i64::from(n) * 3_600_000)
}

#[uniffi::export]
impl Gridsync {
    /// The issue catalogue: categories and subtypes with their Chinese
    /// names, for the report form's pickers. The deployment's own (a city
    /// may replace the built-in one on the server), as the last sync
    /// brought it; the built-in one before the first sync.
    pub fn issue_catalogue(&self) -> Vec<IssueCategory> {
        core_issue::catalogue::all()
            .iter()
            .map(|c| IssueCategory {
                code: c.code.into(),
                name: c.name.into(),
                subtypes: c
                    .subtypes
                    .iter()
                    .map(|s| IssueSubtype {
                        code: s.code.into(),
                        name: s.name.into(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Report an issue, offline; returns its id. The signed-in user is the
    /// reporter. Throws `Invalid` naming the field (`category`, `subtype`,
    /// `description`, `source`, `urgency`, `place.lat`, …).
    pub fn report_issue(&self, report: NewReport) -> Result<String> {
        let new = core_issue::NewIssue {
            grid: report.grid,
            category: report.category,
            subtype: report.subtype,
            description: report.description,
            place: core_issue::IssuePlace {
                household: report.household.filter(|h| !h.is_empty()),
                building: report.building.filter(|b| !b.trim().is_empty()),
                lat: report.lat,
                lon: report.lon,
            },
            source: report.source,
            urgency: report.urgency,
            photos: Vec::new(),
            households: report.households,
        };
        let r = lock(&self.store).report_issue(new);
        self.edited(r)
    }

    /// Attach the photo in file `path` (JPEG, PNG, …, at most 10 MB) to
    /// report `report_id`: kept on the device once however often attached,
    /// listed in the report, uploaded by the next `sync` after the report
    /// (bytes counted in the progress; an upload cut off resumes where the
    /// server stands). Returns the photo's name (SHA-256, hex).
    pub fn attach_photo(&self, report_id: String, path: String) -> Result<String> {
        let data = std::fs::read(&path).map_err(|_| {
            GridsyncError::invalid("path", "无法读取照片文件", "cannot read the photo file")
        })?;
        let r = lock(&self.store).attach_photo(&report_id, &data);
        self.edited(r)
    }

    /// One report with its steps and deadline.
    pub fn report(&self, id: String) -> Result<Report> {
        let mut store = lock(&self.store);
        let i = store.issue(&id)?;
        let deadline = store.issue_deadline(&i)?;
        let now = store.clock().now_ms();
        let superseded: std::collections::HashMap<&str, String> = i
            .status
            .superseded
            .iter()
            .map(|s| (s.id.as_str(), s.reason.zh.clone()))
            .collect();
        let steps = i
            .events_in_order()
            .into_iter()
            .map(|(eid, e)| ReportStep {
                id: eid.to_string(),
                name: EventKind::from_code(&e.kind)
                    .map(|k| k.name_zh().to_string())
                    .unwrap_or_default(),
                kind: e.kind.clone(),
                actor: e.actor.clone(),
                role: e.role.clone(),
                at: e.at,
                assignee: e.assignee.clone(),
                note: e.note.clone(),
                rating: e.rating.map(i32::from),
                superseded: superseded.get(eid).cloned(),
            })
            .collect();
        let r = core_issue::IssueRow {
            id: i.id.clone(),
            grid: i.grid.clone(),
            category: i.category.clone(),
            subtype: i.subtype.clone(),
            stage: i.status.stage,
            level: i.status.level,
            assignee: i.status.assignee.clone(),
            reporter: i.reporter.clone(),
            description: i.description.clone(),
            created_at: i.created_at,
            deadline,
        };
        Ok(Report {
            row: row(r, now),
            source_name: Source::from_code(&i.source)
                .map(|s| s.name_zh().to_string())
                .unwrap_or_default(),
            source: i.source,
            urgency_name: Urgency::from_code(&i.urgency)
                .map(|u| u.name_zh().to_string())
                .unwrap_or_default(),
            urgency: i.urgency,
            household: i.place.household,
            building: i.place.building,
            lat: i.place.lat,
            lon: i.place.lon,
            households: i.households.iter().map(String::from).collect(),
            photos: i.photos,
            rating: i.status.rating.map(i32::from),
            reworks: i32::try_from(i.status.reworks).unwrap_or(i32::MAX),
            steps,
        })
    }

    /// Open reports (not closed, rated or withdrawn) of `grid`, or of every
    /// grid on this device; oldest first.
    pub fn open_reports(&self, grid: Option<String>) -> Result<Vec<ReportRow>> {
        let mut store = lock(&self.store);
        let now = store.clock().now_ms();
        let rows = store.open_issues_in(grid.as_deref())?;
        Ok(rows.into_iter().map(|r| row(r, now)).collect())
    }

    /// Open reports the signed-in user reported or is to handle.
    pub fn my_reports(&self) -> Result<Vec<ReportRow>> {
        let mut store = lock(&self.store);
        if !store.author().is_signed_in() {
            return Err(GridsyncError::Unauthorized {
                zh: "请先登录".into(),
                en: "please sign in first".into(),
            });
        }
        let me = store.author().user.clone();
        let now = store.clock().now_ms();
        let rows = store.my_open_issues(&me)?;
        Ok(rows.into_iter().map(|r| row(r, now)).collect())
    }

    /// Reports past their stage's time limit (待受理 not accepted, 处置中
    /// not handled in time), of `grid` or all.
    pub fn overdue_reports(&self, grid: Option<String>) -> Result<Vec<ReportRow>> {
        let mut store = lock(&self.store);
        let now = store.clock().now_ms();
        let rows = store.overdue_issues(grid.as_deref())?;
        Ok(rows.into_iter().map(|r| row(r, now)).collect())
    }

    /// Reports whose stage's time limit (待受理 or 处置中) falls within
    /// `hours` hours (not yet overdue), of `grid` or all.
    pub fn reports_nearly_due(&self, grid: Option<String>, hours: i32) -> Result<Vec<ReportRow>> {
        let within = self::hours("hours", hours)?;
        let mut store = lock(&self.store);
        let now = store.clock().now_ms();
        let rows = store.issues_nearly_due(grid.as_deref(), within)?;
        Ok(rows.into_iter().map(|r| row(r, now)).collect())
    }

    /// Take a step of report `report_id` as the signed-in user, offline;
    /// returns the step's id. Photos in `step.photoPaths` are attached to
    /// the report after it. Throws `Invalid` with field `kind` and the
    /// Chinese reason when the step is not possible in the report's stage
    /// (e.g. 事件处置中，不能结案), `note` / `assignee` / `rating` when one is
    /// missing or not allowed; `Forbidden` with the Chinese reason when the
    /// signed-in user's role may not take it (e.g. 网格员不能结案：须由负责该
    /// 层级的社区或街道管理员结案) — the server's own rule, so nothing is
    /// recorded that the server would refuse. (Signed in with an older
    /// server that does not tell the role's scope, the server decides at
    /// the next sync and `rejectedChanges()` lists a refused step.)
    pub fn take_step(&self, report_id: String, step: Step) -> Result<String> {
        let rating = match step.rating {
            None => None,
            Some(r) => Some(u8::try_from(r).map_err(|_| {
                GridsyncError::invalid("rating", "评价须为1至5星", "rating must be 1 to 5")
            })?),
        };
        let photos = read_photos(&step.photo_paths)?;
        let taken = {
            let mut store = lock(&self.store);
            store
                .append_event(
                    &report_id,
                    step.kind.into(),
                    StepInput {
                        assignee: step.assignee,
                        note: step.note,
                        rating,
                    },
                )
                .and_then(|id| {
                    for data in &photos {
                        store.attach_photo(&report_id, data)?;
                    }
                    Ok(id)
                })
        };
        self.edited(taken)
    }

    /// The photo `hash` of a report: from the device if it is here, else
    /// downloaded (resuming after a dropped connection), checked and kept
    /// for next time. Throws `NotFound` for a photo of a report this user
    /// may not read, `Network` offline.
    pub fn photo(&self, hash: String) -> Result<Vec<u8>> {
        // The store is taken for local steps only, not the download.
        let client = self.client(&lock(&self.store))?;
        Ok(core_blobs::fetch_blob(&mut &self.store, &client, &hash)?)
    }

    /// The thumbnail (JPEG, at most 256 pixels a side) of photo `hash`, for
    /// lists: downloaded once, then kept on the device.
    pub fn thumbnail(&self, hash: String) -> Result<Vec<u8>> {
        // The store is taken for local steps only, not the download.
        let client = self.client(&lock(&self.store))?;
        Ok(core_blobs::fetch_thumbnail(
            &mut &self.store,
            &client,
            &hash,
        )?)
    }
}

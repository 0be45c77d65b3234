//! Report handling from the web: the list of reports of a territory (open
//! first, overdue flagged, filtered by stage, category, grid, department
//! and overdue, in pages), one report's page (its steps as a timeline, who
//! took each and with what note, its photos, deadline, assignee), a
//! department's queue (吹哨报到: what is dispatched to it), and every step
//! the signed-in person may take — accept 受理, dispatch 派遣 (to a grid
//! worker or a department), escalate 上报上级, handle 处置, feedback 反馈,
//! verify 核查, close 结案, rate 评价, withdraw 撤销 — each with a note and
//! a confirmation page before it is taken (no JavaScript).
//!
//! A step is written the way a phone writes it: a new event in the
//! report's Automerge document, made here as a change authored by the
//! signed-in person, and stored through the same [`DocStore::push`] with
//! the same [`crate::scope::Guard`] and validation as a phone's push, so
//! the same access and role rules apply; the phones receive it on their
//! next sync like any other change.
//!
//! [`DocStore::push`]: crate::store::DocStore::push

use std::collections::HashMap;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ObjType, ReadDoc, Value};
use axum::extract::{Form, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use gridsync_core::codes::{CommunityCode, GridCode, StreetCode};
use gridsync_core::issue::{
    self as core_issue, Event, EventKind, Issue, Source, Stage, Urgency, catalogue, workflow,
};
use serde::Deserialize;

use super::pages::{Crumb, Nav, territory_link, urlencode, when};
pub use super::readmodel::issues::Filter;
use super::readmodel::{self, issues::ReportListRow};
use super::session::WebUser;
use super::{WebError, WebResult, access, render};
use crate::principal::{Principal, Role};
use crate::state::AppState;
use crate::store::IncomingChange;

/// Reports per page of the list.
pub const PAGE: usize = 200;
/// The longest note a step may carry (the core's rule).
const NOTE_MAX: usize = 2000;

/// A report in a list.
#[derive(Debug, Clone)]
pub struct ReportLine {
    /// Document id.
    pub id: String,
    /// Grid code.
    pub grid: String,
    /// Category, in Chinese.
    pub category: String,
    /// Subtype, in Chinese.
    pub subtype: String,
    /// Category and subtype codes.
    pub codes: (String, String),
    /// What was found.
    pub description: String,
    /// Where.
    pub building: String,
    /// Stage code.
    pub stage_code: String,
    /// Stage, in Chinese.
    pub stage: String,
    /// Level, in Chinese.
    pub level: String,
    /// Level code.
    pub level_code: String,
    /// Who handles it: a user id or `dept:<code>`.
    pub assignee: Option<String>,
    /// Reported, ms.
    pub created_at: i64,
    /// When the current stage is due (acceptance while 待受理, handling
    /// while 处置中), ms.
    pub deadline: Option<i64>,
    /// Still open.
    pub open: bool,
}

fn level_zh(code: &str) -> &'static str {
    match code {
        "grid" => "网格",
        "community" => "社区",
        "street" => "街道",
        "department" => "职能部门",
        _ => "—",
    }
}

fn line_of(r: ReportListRow) -> ReportLine {
    let category = catalogue::category(&r.category);
    let codes = (r.category.clone(), r.subtype.clone());
    ReportLine {
        codes,
        subtype: catalogue::subtype(&r.category, &r.subtype)
            .map(|s| s.name.to_owned())
            .unwrap_or(r.subtype),
        category: category.map(|c| c.name.to_owned()).unwrap_or(r.category),
        stage: readmodel::stage_name(&r.stage).to_owned(),
        stage_code: r.stage,
        level: level_zh(&r.level).to_owned(),
        level_code: r.level,
        assignee: r.assignee,
        id: r.id,
        grid: r.grid,
        description: r.description,
        building: r.building,
        created_at: r.created_at,
        deadline: r.deadline,
        open: r.open,
    }
}

/// Reports under `prefix`, open ones first (only open ones if `open_only`).
pub async fn rows(
    model: &readmodel::ReadModel,
    prefix: &str,
    open_only: bool,
) -> Result<Vec<ReportLine>, crate::db::DbError> {
    let rows = readmodel::issues::reports_under(model, prefix, open_only).await?;
    Ok(rows.into_iter().map(line_of).collect())
}

/// One page of the reports under `prefix` matching `f` (`PAGE` a page,
/// from `offset`), and how many match in all.
pub async fn page(
    model: &readmodel::ReadModel,
    prefix: &str,
    f: &Filter,
    offset: usize,
) -> Result<(usize, Vec<ReportLine>), crate::db::DbError> {
    let page = readmodel::issues::filtered_page(model, prefix, f, PAGE, offset).await?;
    Ok((page.total, page.rows.into_iter().map(line_of).collect()))
}

/// The open reports handled now by `assignee` (a user id or
/// `dept:<code>`), the most urgent first.
pub async fn assigned_to(
    model: &readmodel::ReadModel,
    assignee: &str,
) -> Result<Vec<ReportLine>, crate::db::DbError> {
    let rows = readmodel::issues::open_assigned_to(model, assignee).await?;
    Ok(rows.into_iter().map(line_of).collect())
}

/// `?code=` of the list, its filters and page, and the outcome of the
/// last step.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    grid: Option<String>,
    #[serde(default)]
    dept: Option<String>,
    #[serde(default)]
    overdue: Option<String>,
    #[serde(default)]
    page: Option<usize>,
}

/// A report as the list page shows it.
pub struct ReportView {
    /// The report.
    pub r: ReportLine,
    /// Reported.
    pub created: String,
    /// Due.
    pub due: String,
    /// What is due: 受理 or 处置.
    pub due_what: &'static str,
    /// Overdue.
    pub overdue: bool,
    /// Steps offered (each opens its confirmation).
    pub steps: Vec<Action>,
    /// Who handles it, by name.
    pub assignee: String,
    /// The grid's name.
    pub grid_name: String,
}

/// A person or department a report may be dispatched to.
#[derive(Debug, Clone)]
pub struct Assignee {
    /// User id, or `dept:<code>`.
    pub id: String,
    /// Name and role.
    pub label: String,
    /// Grids they work (empty for departments).
    pub grids: Vec<String>,
    /// A department.
    pub department: bool,
}

/// A step offered to the signed-in person.
#[derive(Debug, Clone)]
pub struct Action {
    /// Kind code.
    pub kind: &'static str,
    /// Label, in Chinese.
    pub label: &'static str,
    /// A reason is required (退回, 撤销).
    pub reason: bool,
    /// Dispatch: who to (value, label, preselected).
    pub assignees: Vec<(String, String, bool)>,
    /// Rating asked for (评价).
    pub rating: bool,
}

impl Action {
    fn new(kind: EventKind) -> Self {
        Self {
            kind: kind.code(),
            label: kind.name_zh(),
            reason: matches!(kind, EventKind::VerifyFail | EventKind::Withdraw),
            assignees: Vec::new(),
            rating: kind == EventKind::Rate,
        }
    }

    /// The label of the note field.
    pub fn note_label(&self) -> &'static str {
        if self.reason {
            "原因（必填）"
        } else {
            "说明"
        }
    }
}

#[derive(askama::Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    nav: Nav,
    crumbs: Vec<Crumb>,
    code: String,
    done: Option<String>,
    reports: Vec<ReportView>,
    /// Filter choices: (value, label, selected).
    stages: Vec<(String, String, bool)>,
    categories: Vec<(String, String, bool)>,
    grids: Vec<(String, String, bool)>,
    departments: Vec<(String, String, bool)>,
    overdue: bool,
    total: usize,
    first: usize,
    last: usize,
    prev: Option<String>,
    next: Option<String>,
}

/// Whether `p` may act on a report at `level` (accept, dispatch,
/// escalate, close): the grid's worker at grid level, a supervisor whose
/// rank reaches the level (community: grid and community; street: all),
/// an admin. Only decides which buttons to offer: the push path's rules
/// ([`crate::scope::steps`]) decide, and refuse with their reason.
fn reaches(p: &Principal, grid: &str, level: &str) -> bool {
    match p.role {
        Role::Admin => true,
        Role::GridWorker => level == "grid" && p.grids.iter().any(|g| g == grid),
        Role::Supervisor => match p.subtree.as_deref().map(str::len) {
            Some(CommunityCode::LEN) => matches!(level, "grid" | "community"),
            Some(StreetCode::LEN) => true,
            _ => false,
        },
        _ => false,
    }
}

/// Whether `assignee` names `p` (the person, or p's department).
fn is_assignee(p: &Principal, assignee: &str) -> bool {
    match core_issue::assignee_department(assignee) {
        Some(d) => p.role == Role::Department && p.department.as_deref() == Some(d),
        None => assignee == p.user_id,
    }
}

/// What the step offer needs to know of a report.
struct Facts<'a> {
    grid: &'a str,
    stage: &'a str,
    level: &'a str,
    assignee: Option<&'a str>,
    reporter: Option<&'a str>,
}

/// The steps offered to `p` on a report: the ones the workflow allows in
/// its stage and the push path's rules allow `p`.
fn steps_for(p: &Principal, f: &Facts<'_>) -> Vec<Action> {
    use EventKind as K;
    let mut steps = Vec::new();
    let open = !matches!(f.stage, "closed" | "rated" | "withdrawn");
    let works = p.role == Role::GridWorker && p.grids.iter().any(|g| g == f.grid);
    let over = p.role == Role::Admin
        || (p.role == Role::Supervisor
            && p.subtree
                .as_deref()
                .is_some_and(|s| !s.is_empty() && f.grid.starts_with(s)));
    let reporter = f.reporter.is_some_and(|r| r == p.user_id);
    let mine = f.assignee.is_some_and(|a| is_assignee(p, a));
    if reaches(p, f.grid, f.level) {
        match f.stage {
            "reported" => steps.push(Action::new(K::Accept)),
            "accepted" => steps.push(Action::new(K::Dispatch)),
            "verified" if p.role != Role::GridWorker => steps.push(Action::new(K::Close)),
            _ => {}
        }
        if matches!(f.stage, "reported" | "accepted" | "dispatched") && f.level != "department" {
            steps.push(Action::new(K::Escalate));
        }
    }
    match f.stage {
        "dispatched" if mine => steps.push(Action::new(K::Handle)),
        "handled" if mine => steps.push(Action::new(K::Feedback)),
        "fed_back" if works || reporter => {
            steps.push(Action::new(K::VerifyPass));
            steps.push(Action::new(K::VerifyFail));
        }
        "closed" if works || reporter || over => steps.push(Action::new(K::Rate)),
        _ => {}
    }
    if open && matches!(f.stage, "reported" | "accepted" | "dispatched") && (reporter || over) {
        steps.push(Action::new(K::Withdraw));
    }
    steps
}

/// Names of people and departments, for showing who did what.
struct Names {
    users: HashMap<String, (String, Role)>,
    departments: Vec<(String, String)>,
    workers: Vec<Assignee>,
}

impl Names {
    async fn load(state: &AppState) -> WebResult<Self> {
        let users = state.directory.users().await?;
        let departments: Vec<(String, String)> = state
            .directory
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect();
        let workers = users
            .iter()
            .filter(|u| u.active && u.role == Role::GridWorker)
            .map(|u| Assignee {
                label: format!("{}（{}）", u.display_name, u.role.name_zh()),
                id: u.id.clone(),
                grids: u.grids.clone(),
                department: false,
            })
            .collect();
        Ok(Self {
            users: users
                .into_iter()
                .map(|u| (u.id, (u.display_name, u.role)))
                .collect(),
            departments,
            workers,
        })
    }

    fn department(&self, code: &str) -> String {
        self.departments
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| format!("部门 {code}"))
    }

    /// A user id or `dept:<code>` as people read it.
    fn who(&self, id: &str) -> String {
        if let Some(code) = core_issue::assignee_department(id) {
            return self.department(code);
        }
        match self.users.get(id) {
            Some((name, _)) => name.clone(),
            None if id.is_empty() => "—".into(),
            None => "（已删除的用户）".into(),
        }
    }

    /// Who a report of `grid` (category/subtype) may be dispatched to:
    /// the departments (吹哨报到; the one that usually handles the subtype
    /// first and chosen), then the grid's workers.
    fn dispatch_options(
        &self,
        grid: &str,
        category: &str,
        subtype: &str,
    ) -> Vec<(String, String, bool)> {
        let usual = catalogue::subtype(category, subtype).and_then(|s| s.department);
        let mut out: Vec<(String, String, bool)> = Vec::new();
        let mut depts: Vec<&(String, String)> = self.departments.iter().collect();
        depts.sort_by_key(|(c, _)| Some(c.as_str()) != usual);
        for (code, name) in depts {
            out.push((
                core_issue::department_assignee(code),
                format!("{name}（职能部门）"),
                Some(code.as_str()) == usual,
            ));
        }
        for w in self
            .workers
            .iter()
            .filter(|w| w.grids.iter().any(|g| g == grid))
        {
            out.push((w.id.clone(), w.label.clone(), false));
        }
        if usual.is_none() || !out.iter().any(|o| o.2) {
            // Nothing usual: a grid worker first if there is one.
            if let Some(i) = out
                .iter()
                .position(|o| !o.0.starts_with(core_issue::DEPARTMENT_ASSIGNEE))
            {
                let w = out.remove(i);
                out.insert(0, w);
            }
        }
        out
    }
}

fn digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn code_of(s: Option<String>) -> String {
    s.map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// `GET /web/reports?code=&stage=&category=&grid=&dept=&overdue=1&page=`:
/// the reports of a territory, in pages.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<ListQuery>,
) -> WebResult<Response> {
    let p = user.principal();
    if p.role == Role::Department {
        return Ok(Redirect::to("/web/queue").into_response());
    }
    let code = match q.code.as_deref() {
        Some("all") => String::new(),
        Some(c) => c.to_owned(),
        None => access::home_code(p).ok_or(WebError::Forbidden)?,
    };
    if !digits(&code) {
        return Err(WebError::NotFound);
    }
    if !access::may_view(p, &code) {
        return Err(WebError::Forbidden);
    }
    readmodel::catch_up(&state).await?;
    let now = gridsync_core::clock::Clock::System.now_ms();
    let names = Names::load(&state).await?;
    let grid_names: HashMap<String, String> = state
        .directory
        .grids(&code)
        .await?
        .into_iter()
        .map(|g| (g.code, g.name))
        .collect();
    let filter = Filter {
        stage: code_of(q.stage)
            .chars()
            .filter(|c| c.is_ascii_lowercase() || *c == '_')
            .collect(),
        category: code_of(q.category),
        grid: code_of(q.grid)
            .chars()
            .filter(char::is_ascii_digit)
            .collect(),
        department: code_of(q.dept),
        overdue_at: q.overdue.as_deref().filter(|o| *o == "1").map(|_| now),
    };
    let page_no = q.page.unwrap_or(1).max(1);
    let offset = (page_no - 1).saturating_mul(PAGE);
    let (total, lines) = page(state.web.model(), &code, &filter, offset).await?;
    let reports = lines
        .into_iter()
        .map(|r| {
            let mut steps = if r.open {
                steps_for(
                    p,
                    &Facts {
                        grid: &r.grid,
                        stage: &r.stage_code,
                        level: &r.level_code,
                        assignee: r.assignee.as_deref(),
                        reporter: None,
                    },
                )
            } else {
                Vec::new()
            };
            for s in &mut steps {
                if s.kind == EventKind::Dispatch.code() {
                    s.assignees = names.dispatch_options(&r.grid, &r.codes.0, &r.codes.1);
                }
            }
            view_of(r, steps, now, &names, &grid_names)
        })
        .collect();
    let crumbs = vec![
        Crumb {
            link: territory_link(&code),
            name: "返回概况".into(),
        },
        Crumb {
            link: String::new(),
            name: "事件处置".into(),
        },
    ];
    let link = |n: usize| {
        let mut l = format!(
            "/web/reports?code={}",
            if code.is_empty() {
                "all".into()
            } else {
                urlencode(&code)
            }
        );
        for (k, v) in [
            ("stage", &filter.stage),
            ("category", &filter.category),
            ("grid", &filter.grid),
            ("dept", &filter.department),
        ] {
            if !v.is_empty() {
                l.push_str(&format!("&{k}={}", urlencode(v)));
            }
        }
        if filter.overdue_at.is_some() {
            l.push_str("&overdue=1");
        }
        l.push_str(&format!("&page={n}"));
        l
    };
    let mut grids: Vec<(String, String, bool)> = grid_names
        .iter()
        .filter(|(g, _)| g.len() == GridCode::LEN)
        .map(|(g, n)| (g.clone(), n.clone(), *g == filter.grid))
        .collect();
    grids.sort();
    render(&ReportsPage {
        nav: Nav::of(&user),
        crumbs,
        done: q.done.map(|d| done_zh(&d)),
        reports,
        stages: Stage::ALL
            .iter()
            .map(|s| {
                (
                    s.code().to_owned(),
                    s.name_zh().to_owned(),
                    s.code() == filter.stage,
                )
            })
            .collect(),
        categories: catalogue::all()
            .iter()
            .map(|c| {
                (
                    c.code.to_owned(),
                    c.name.to_owned(),
                    c.code == filter.category,
                )
            })
            .collect(),
        grids,
        departments: names
            .departments
            .iter()
            .map(|(c, n)| (c.clone(), n.clone(), *c == filter.department))
            .collect(),
        overdue: filter.overdue_at.is_some(),
        total,
        first: if total == 0 { 0 } else { offset + 1 },
        last: (offset + PAGE).min(total),
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (offset + PAGE < total).then(|| link(page_no + 1)),
        code,
    })
}

fn view_of(
    r: ReportLine,
    steps: Vec<Action>,
    now: i64,
    names: &Names,
    grid_names: &HashMap<String, String>,
) -> ReportView {
    ReportView {
        created: when(r.created_at),
        due: r.deadline.map(when).unwrap_or_else(|| "—".into()),
        due_what: match r.stage_code.as_str() {
            "reported" => "受理",
            _ => "处置",
        },
        overdue: r.open && r.deadline.is_some_and(|d| d < now),
        steps,
        assignee: r
            .assignee
            .as_deref()
            .map(|a| names.who(a))
            .unwrap_or_else(|| "—".into()),
        grid_name: grid_names
            .get(&r.grid)
            .cloned()
            .unwrap_or_else(|| r.grid.clone()),
        r,
    }
}

fn done_zh(kind: &str) -> String {
    match EventKind::from_code(kind) {
        Some(EventKind::Escalate) => "已上报上级".to_owned(),
        Some(EventKind::VerifyPass) => "已核查通过".to_owned(),
        Some(EventKind::VerifyFail) => "已核查不通过，退回重新处置".to_owned(),
        Some(k) => format!("已{}", k.name_zh()),
        None => "已处理".to_owned(),
    }
}

/// A step of the timeline.
pub struct TimelineRow {
    /// When.
    pub at: String,
    /// What, in Chinese.
    pub what: &'static str,
    /// Kind code.
    pub kind: String,
    /// Who, by name, and their role.
    pub who: String,
    /// The level it was taken at, in Chinese.
    pub level: &'static str,
    /// Dispatched to, by name.
    pub assignee: Option<String>,
    /// The note.
    pub note: Option<String>,
    /// The rating.
    pub rating: Option<u8>,
    /// Why it had no effect, if it had none.
    pub superseded: Option<String>,
}

/// A photo of the report.
pub struct Photo {
    /// Its SHA-256.
    pub hash: String,
    /// Uploaded completely (else still on its way from the phone).
    pub ready: bool,
}

#[derive(askama::Template)]
#[template(path = "report.html")]
struct ReportPage {
    nav: Nav,
    crumbs: Vec<Crumb>,
    done: Option<String>,
    id: String,
    category: String,
    subtype: String,
    limit: String,
    description: String,
    grid_name: String,
    building: String,
    source: String,
    urgency: String,
    urgent: bool,
    reporter: String,
    created: String,
    stage: String,
    stage_code: String,
    level: String,
    assignee: String,
    department: String,
    due: String,
    due_what: &'static str,
    overdue: bool,
    timeline: Vec<TimelineRow>,
    photos: Vec<Photo>,
    steps: Vec<Action>,
}

/// The report `id` if `p` may read it, with its computed status.
async fn readable(state: &AppState, p: &Principal, id: &str) -> WebResult<(Issue, Vec<u8>)> {
    let facts = crate::blobs::facts_for(state, p, id)
        .await?
        .ok_or(WebError::NotFound)?;
    if facts.kind != core_issue::KIND {
        return Err(WebError::NotFound);
    }
    if !crate::scope::may_read(p, &facts) {
        return Err(WebError::Forbidden);
    }
    let bytes = state.docs.load(id).await?.ok_or(WebError::NotFound)?;
    let mut issue: Issue = {
        let doc = Automerge::load(&bytes).map_err(|e| WebError::Internal(e.to_string()))?;
        gridsync_core::doc::read(&doc, None).map_err(|e| WebError::Internal(e.to_string()))?
    };
    issue.status = workflow::status(&issue.events);
    Ok((issue, bytes))
}

/// `?done=` after a step.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /web/reports/{id}`: one report, its timeline and the steps the
/// signed-in person may take.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> WebResult<Response> {
    let p = user.principal();
    let (issue, _) = readable(&state, p, &id).await?;
    let names = Names::load(&state).await?;
    let now = gridsync_core::clock::Clock::System.now_ms();
    let status = &issue.status;
    let stage_code = status.stage.code();
    let mut steps = steps_for(
        p,
        &Facts {
            grid: &issue.grid,
            stage: stage_code,
            level: status.level.code(),
            assignee: status.assignee.as_deref(),
            reporter: Some(&issue.reporter),
        },
    );
    for s in &mut steps {
        if s.kind == EventKind::Dispatch.code() {
            s.assignees = names.dispatch_options(&issue.grid, &issue.category, &issue.subtype);
        }
    }
    let superseded: HashMap<&str, &str> = status
        .superseded
        .iter()
        .map(|s| (s.id.as_str(), s.reason.zh.as_str()))
        .collect();
    let timeline = issue
        .events_in_order()
        .into_iter()
        .map(|(eid, e)| {
            let kind = EventKind::from_code(&e.kind);
            let role = crate::principal::Role::from_code(&e.role)
                .map(|r| r.name_zh())
                .unwrap_or("");
            TimelineRow {
                at: when(e.at),
                what: kind.map_or("未知操作", EventKind::name_zh),
                kind: e.kind.clone(),
                who: if role.is_empty() {
                    names.who(&e.actor)
                } else {
                    format!("{}（{role}）", names.who(&e.actor))
                },
                level: level_zh(&e.level),
                assignee: e.assignee.as_deref().map(|a| names.who(a)),
                note: e.note.clone(),
                rating: e.rating,
                superseded: superseded.get(eid).map(|r| (*r).to_owned()),
            }
        })
        .collect();
    let mut photos = Vec::new();
    for hash in &issue.photos {
        let ready = state
            .blobs
            .info(hash)
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?
            .is_some_and(|i| i.complete);
        photos.push(Photo {
            hash: hash.clone(),
            ready,
        });
    }
    let deadline = issue.due(status, state.reports.calendar());
    let entry = issue.subtype_entry();
    let grid_name = state
        .directory
        .grids(&issue.grid)
        .await?
        .into_iter()
        .find(|g| g.code == issue.grid)
        .map(|g| g.name)
        .unwrap_or_else(|| issue.grid.clone());
    let back = if p.role == Role::Department {
        Crumb {
            link: "/web/queue".into(),
            name: "返回部门工单".into(),
        }
    } else {
        Crumb {
            link: format!("/web/reports?code={}", urlencode(&issue.grid)),
            name: "返回事件列表".into(),
        }
    };
    render(&ReportPage {
        nav: Nav::of(&user),
        crumbs: vec![
            back,
            Crumb {
                link: String::new(),
                name: "事件详情".into(),
            },
        ],
        done: q.done.map(|d| done_zh(&d)),
        category: catalogue::category(&issue.category)
            .map(|c| c.name.to_owned())
            .unwrap_or_else(|| issue.category.clone()),
        subtype: entry
            .map(|s| s.name.to_owned())
            .unwrap_or_else(|| issue.subtype.clone()),
        limit: entry.map(|s| s.limit.name_zh()).unwrap_or_default(),
        urgent: entry.is_some_and(|s| matches!(s.limit, core_issue::Limit::NaturalHours(_))),
        description: issue.description.clone(),
        grid_name,
        building: issue.place.building.clone().unwrap_or_default(),
        source: Source::from_code(&issue.source)
            .map(|s| s.name_zh().to_owned())
            .unwrap_or_else(|_| issue.source.clone()),
        urgency: Urgency::from_code(&issue.urgency)
            .map(|u| u.name_zh().to_owned())
            .unwrap_or_else(|_| issue.urgency.clone()),
        reporter: names.who(&issue.reporter),
        created: when(issue.created_at),
        stage: status.stage.name_zh().to_owned(),
        stage_code: stage_code.to_owned(),
        level: level_zh(status.level.code()).to_owned(),
        assignee: status
            .assignee
            .as_deref()
            .map(|a| names.who(a))
            .unwrap_or_else(|| "—".into()),
        department: status
            .assignee
            .as_deref()
            .and_then(core_issue::assignee_department)
            .map(|d| names.department(d))
            .unwrap_or_else(|| "—".into()),
        due: deadline.map(when).unwrap_or_else(|| "—".into()),
        due_what: if status.stage == Stage::Reported {
            "受理期限"
        } else {
            "处置期限"
        },
        overdue: status.stage.is_open() && deadline.is_some_and(|d| d < now),
        timeline,
        photos,
        steps,
        id,
    })
}

/// A department's (or a person's) queue.
#[derive(askama::Template)]
#[template(path = "queue.html")]
struct QueuePage {
    nav: Nav,
    title: String,
    done: Option<String>,
    reports: Vec<ReportView>,
}

/// `GET /web/queue`: what is dispatched to the signed-in department user's
/// department (or to the signed-in grid worker), to handle and feed back.
pub async fn queue(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<DoneQuery>,
) -> WebResult<Response> {
    let p = user.principal();
    let (assignee, title) = match (p.role, p.department.as_deref()) {
        (Role::Department, Some(code)) => {
            let names = state.directory.departments().await?;
            let name = names
                .into_iter()
                .find(|d| d.code == code)
                .map(|d| d.name)
                .unwrap_or_else(|| code.to_owned());
            (
                core_issue::department_assignee(code),
                format!("{name} · 部门工单"),
            )
        }
        (Role::GridWorker, _) => (p.user_id.clone(), "派给我的事件".to_owned()),
        _ => return Err(WebError::Forbidden),
    };
    readmodel::catch_up(&state).await?;
    let now = gridsync_core::clock::Clock::System.now_ms();
    let names = Names::load(&state).await?;
    let grid_names: HashMap<String, String> = state
        .directory
        .grids("")
        .await?
        .into_iter()
        .map(|g| (g.code, g.name))
        .collect();
    let reports = assigned_to(state.web.model(), &assignee)
        .await?
        .into_iter()
        .map(|r| {
            let steps = steps_for(
                p,
                &Facts {
                    grid: &r.grid,
                    stage: &r.stage_code,
                    level: &r.level_code,
                    assignee: r.assignee.as_deref(),
                    reporter: None,
                },
            )
            .into_iter()
            .filter(|s| matches!(s.kind, "handle" | "feedback"))
            .collect();
            view_of(r, steps, now, &names, &grid_names)
        })
        .collect();
    render(&QueuePage {
        nav: Nav::of(&user),
        title,
        done: q.done.map(|d| done_zh(&d)),
        reports,
    })
}

/// The step form: the step, its details, and where to go after.
#[derive(Debug, Deserialize)]
pub struct StepForm {
    csrf: String,
    kind: String,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    rating: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    nav: Nav,
    id: String,
    kind: String,
    label: &'static str,
    reason: bool,
    summary: String,
    stage: String,
    assignee: Option<(String, String)>,
    /// The 1–5 choices, the one chosen on the report page selected.
    ratings: Vec<(u8, bool)>,
    rate: bool,
    /// Photos may be sent with it.
    photo: bool,
    note: String,
    back: String,
    cancel: String,
}

fn step_kind(code: &str) -> WebResult<EventKind> {
    match EventKind::from_code(code) {
        Some(EventKind::Report) | None => Err(WebError::Bad("不支持的操作".into())),
        Some(k) => Ok(k),
    }
}

fn back_of(back: Option<String>) -> String {
    back.filter(|b| b == "report" || b == "queue" || digits(b))
        .unwrap_or_default()
}

/// `POST /web/reports/{id}/confirm`: the confirmation of a step, with its
/// note (changes nothing; its form takes the step).
pub async fn confirm(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> WebResult<Response> {
    user.check_csrf(&form.csrf)?;
    let kind = step_kind(&form.kind)?;
    let p = user.principal();
    let (issue, _) = readable(&state, p, &id).await?;
    let names = Names::load(&state).await?;
    let assignee = form
        .assignee
        .filter(|a| !a.trim().is_empty())
        .map(|a| (names.who(&a), a));
    if kind == EventKind::Dispatch && assignee.is_none() {
        return Err(WebError::Bad("派遣须选择处置人或职能部门".into()));
    }
    let back = back_of(form.back);
    render(&ConfirmPage {
        nav: Nav::of(&user),
        summary: format!(
            "{} · {}：{}",
            catalogue::category(&issue.category).map_or(issue.category.as_str(), |c| c.name),
            issue
                .subtype_entry()
                .map_or(issue.subtype.as_str(), |s| s.name),
            issue.description
        ),
        stage: issue.status.stage.name_zh().to_owned(),
        label: kind.name_zh(),
        reason: matches!(kind, EventKind::VerifyFail | EventKind::Withdraw),
        kind: kind.code().to_owned(),
        assignee,
        ratings: {
            let chosen: Option<u8> = form.rating.as_deref().and_then(|r| r.parse().ok());
            (1..=5u8)
                .rev()
                .map(|n| (n, chosen.unwrap_or(5) == n))
                .collect()
        },
        rate: kind == EventKind::Rate,
        photo: takes_photos(kind),
        note: form.note.unwrap_or_default(),
        cancel: match back.as_str() {
            "queue" => "/web/queue".to_owned(),
            b if digits(b) && !b.is_empty() => format!("/web/reports?code={b}"),
            _ => format!("/web/reports/{id}"),
        },
        back,
        id,
    })
}

/// The Automerge change adding `event` to the report `bytes` (and the
/// photos `photos`, SHA-256 hex, to its list unless there), authored by
/// `by`.
pub fn event_change(
    bytes: &[u8],
    event: &Event,
    photos: &[String],
    by: &str,
) -> Result<Vec<u8>, String> {
    let mut doc = Automerge::load(bytes).map_err(|e| e.to_string())?;
    doc.set_actor(ActorId::random());
    let eid = gridsync_core::doc::new_id();
    let message = serde_json::json!({ "by": by, "op": event.kind }).to_string();
    let options = CommitOptions::default()
        .with_message(message)
        .with_time(event.at / 1000);
    doc.transact_with(
        |_| options,
        |tx| -> Result<(), String> {
            let events = match tx
                .get(&automerge::ROOT, "events")
                .map_err(|e| e.to_string())?
            {
                Some((Value::Object(ObjType::Map), obj)) => obj,
                _ => tx
                    .put_object(&automerge::ROOT, "events", ObjType::Map)
                    .map_err(|e| e.to_string())?,
            };
            let child = tx
                .put_object(&events, eid.as_str(), ObjType::Map)
                .map_err(|e| e.to_string())?;
            gridsync_core::doc::write_new(tx, &child, event).map_err(|e| e.to_string())?;
            if photos.is_empty() {
                return Ok(());
            }
            let list = match tx
                .get(&automerge::ROOT, "photos")
                .map_err(|e| e.to_string())?
            {
                Some((Value::Object(ObjType::List), obj)) => obj,
                _ => tx
                    .put_object(&automerge::ROOT, "photos", ObjType::List)
                    .map_err(|e| e.to_string())?,
            };
            for hash in photos {
                let len = tx.length(&list);
                let listed = (0..len).any(|i| {
                    matches!(tx.get(&list, i), Ok(Some((Value::Scalar(v), _)))
                        if v.as_str() == Some(hash.as_str()))
                });
                if !listed {
                    tx.insert(&list, len, hash.as_str())
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        },
    )
    .map_err(|f| f.error)?;
    doc.get_last_local_change()
        .map(|c| c.raw_bytes().to_vec())
        .ok_or_else(|| "no change made".to_owned())
}

/// The details of a step taken from the web.
#[derive(Debug, Clone, Default)]
pub struct StepDetails {
    /// Who is to handle it (dispatch): a user id or `dept:<code>`.
    pub assignee: Option<String>,
    /// What was done, or why (required for 核查不通过 and 撤销).
    pub note: Option<String>,
    /// 1–5 (评价).
    pub rating: Option<u8>,
    /// Photos taken with it (处置, 反馈, 核查), their bytes.
    pub photos: Vec<Vec<u8>>,
}

/// The steps a photo may be taken with from the web.
pub fn takes_photos(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Handle | EventKind::Feedback | EventKind::VerifyPass | EventKind::VerifyFail
    )
}

/// Take workflow step `kind` on report `id` as `user`, through the push
/// path phones use. The refusal's message, in Chinese, when refused.
pub async fn take_step(
    state: &AppState,
    user: &WebUser,
    id: &str,
    kind: EventKind,
    details: StepDetails,
) -> WebResult<()> {
    let p = user.principal();
    let (issue, bytes) = readable(state, p, id).await?;
    let note = details
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > NOTE_MAX) {
        return Err(WebError::Bad(format!("说明过长（最多{NOTE_MAX}字）")));
    }
    if matches!(kind, EventKind::VerifyFail | EventKind::Withdraw) && note.is_none() {
        return Err(WebError::Bad(format!("请填写{}的原因", kind.name_zh())));
    }
    let assignee = details.assignee.filter(|a| !a.trim().is_empty());
    if let Some(code) = assignee
        .as_deref()
        .and_then(core_issue::assignee_department)
    {
        let known = state.directory.departments().await?;
        if !known.iter().any(|d| d.code == code) {
            return Err(WebError::Bad("派遣的职能部门不存在".into()));
        }
    }
    let mut photos: Vec<(String, Vec<u8>)> = Vec::new();
    for data in details.photos.into_iter().filter(|d| !d.is_empty()) {
        if !takes_photos(kind) {
            return Err(WebError::Bad(format!("{}不能附照片", kind.name_zh())));
        }
        if data.len() as u64 > state.config.max_blob_bytes {
            return Err(WebError::Bad("照片过大".into()));
        }
        if !matches!(
            crate::blobs::thumb::content_type(&data),
            "image/jpeg" | "image/png"
        ) {
            return Err(WebError::Bad("只能上传照片（JPEG或PNG）".into()));
        }
        photos.push((crate::blobs::sha256_hex(&data), data));
    }
    let mut status = issue.status.clone();
    let event = Event {
        kind: kind.code().into(),
        actor: p.user_id.clone(),
        role: p.role.code().into(),
        at: gridsync_core::clock::Clock::System
            .now_ms()
            .max(status.last_at + 1),
        level: status.level.code().into(),
        assignee,
        note,
        rating: details.rating.filter(|_| kind == EventKind::Rate),
    };
    workflow::step(&mut status, &event).map_err(|r| WebError::Bad(r.zh))?;
    let by = p.user_id.clone();
    let hashes: Vec<String> = photos.iter().map(|(h, _)| h.clone()).collect();
    let change = tokio::task::spawn_blocking(move || event_change(&bytes, &event, &hashes, &by))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(WebError::Internal)?;
    let guard = crate::scope::Guard::new(p.clone(), crate::sync::validate::document);
    let outcome = state
        .docs
        .push(
            vec![IncomingChange {
                doc_id: id.to_owned(),
                data: change,
            }],
            Some(p.user_id.clone()),
            None,
            Box::new(guard),
        )
        .await?;
    if let Some(r) = outcome.rejected.first() {
        let zh = r.refusal.reason.split(" / ").next().unwrap_or("操作被拒绝");
        return Err(WebError::Bad(zh.to_owned()));
    }
    // The report lists them now: store them, as a phone's upload would.
    for (hash, data) in photos {
        crate::blobs::store_whole(state, &hash, &data, id, &p.user_id).await?;
    }
    Ok(())
}

/// `POST /web/reports/{id}/step`: take a step (the confirmation page's
/// form), then back to the report, the queue or the list.
pub async fn step(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    request: Request,
) -> WebResult<Response> {
    let (form, photos) = step_form(&state, request).await?;
    user.check_csrf(&form.csrf)?;
    let kind = step_kind(&form.kind)?;
    let rating = match form.rating.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) => Some(
            r.parse::<u8>()
                .ok()
                .filter(|r| (1..=5).contains(r))
                .ok_or_else(|| WebError::Bad("评价须为1至5星".into()))?,
        ),
    };
    take_step(
        &state,
        &user,
        &id,
        kind,
        StepDetails {
            assignee: form.assignee,
            note: form.note,
            rating,
            photos,
        },
    )
    .await?;
    let back = back_of(form.back);
    let to = match back.as_str() {
        "report" => format!("/web/reports/{}?done={}", urlencode(&id), kind.code()),
        "queue" => format!("/web/queue?done={}", kind.code()),
        code => format!(
            "/web/reports?code={}&done={}",
            if code.is_empty() {
                "all".to_owned()
            } else {
                urlencode(code)
            },
            kind.code()
        ),
    };
    Ok(Redirect::to(&to).into_response())
}

/// The step form, URL-encoded or (with a photo) `multipart/form-data`,
/// and the photos' bytes.
async fn step_form(state: &AppState, request: Request) -> WebResult<(StepForm, Vec<Vec<u8>>)> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Some(boundary) = super::multipart::boundary(&content_type) else {
        let Form(form) = Form::<StepForm>::from_request(request, state)
            .await
            .map_err(|_| WebError::Bad("表单格式错误".into()))?;
        return Ok((form, Vec::new()));
    };
    // Read under the server's body limit, like every other extractor.
    let body = axum::body::Bytes::from_request(request, state)
        .await
        .map_err(|_| WebError::Bad("表单过大或未传完".into()))?;
    let parts = super::multipart::parse(&body, &boundary).map_err(|e| WebError::Bad(e.into()))?;
    let text = |name: &str| {
        parts
            .iter()
            .find(|p| p.name == name && p.filename.is_none())
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
    };
    let form = StepForm {
        csrf: text("csrf").unwrap_or_default(),
        kind: text("kind").unwrap_or_default(),
        assignee: text("assignee"),
        note: text("note"),
        rating: text("rating"),
        back: text("back"),
    };
    let photos = parts
        .into_iter()
        .filter(|p| p.name == "photo" && p.filename.is_some() && !p.data.is_empty())
        .map(|p| p.data)
        .collect();
    Ok((form, photos))
}

/// `?thumb=1` for the thumbnail.
#[derive(Debug, Default, Deserialize)]
pub struct PhotoQuery {
    #[serde(default)]
    thumb: Option<String>,
}

/// `GET /web/photo/{sha256}`: a report's photo (or `?thumb=1` its
/// thumbnail) for the signed-in person, under the rule of
/// `GET /v1/blobs/{sha256}`.
pub async fn photo(
    State(state): State<AppState>,
    user: WebUser,
    Path(hash): Path<String>,
    Query(q): Query<PhotoQuery>,
) -> WebResult<Response> {
    let thumb = q.thumb.as_deref().is_some_and(|t| t == "1");
    let (bytes, content_type) = crate::blobs::read_for(&state, user.principal(), &hash, thumb)
        .await?
        .ok_or(WebError::NotFound)?;
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(r)
}

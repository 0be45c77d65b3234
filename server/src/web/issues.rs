//! Report handling from the web: the list of reports of a territory (open
//! first, overdue flagged) and the steps a supervisor takes on them —
//! accept 受理, dispatch 派遣, escalate 上报上级, close 结案.
//!
//! A step is written the way a phone writes it: a new event in the
//! report's Automerge document, made here as a change authored by the
//! signed-in person, and stored through the same [`DocStore::push`] with
//! the same [`crate::scope::Guard`] and validation as a phone's push, so
//! the same access and role rules apply; the phones receive it on their
//! next sync like any other change.
//!
//! [`DocStore::push`]: crate::store::DocStore::push

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ObjType, ReadDoc, Value};
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gridsync_core::issue::{Event, EventKind, Issue, workflow};
use rusqlite::params;
use serde::Deserialize;

use super::pages::{Crumb, Nav, territory_link, urlencode, when};
use super::readmodel::{self, upper};
use super::session::WebUser;
use super::{WebError, WebResult, access, render};
use crate::principal::{Principal, Role};
use crate::state::AppState;
use crate::store::IncomingChange;

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
    /// Reported, ms.
    pub created_at: i64,
    /// Due, ms.
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

/// Reports under `prefix`, open ones first (only open ones if `open_only`).
pub async fn rows(
    model: &readmodel::ReadModel,
    prefix: &str,
    open_only: bool,
) -> Result<Vec<ReportLine>, crate::db::DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    let raw = model
        .run(move |c| {
            c.prepare_cached(
                "SELECT id, grid, category, subtype, description, coalesce(building, ''), stage, level,
                        created_at, deadline, open
                 FROM issues WHERE grid >= ?1 AND grid < ?2 AND (open = 1 OR ?3 = 0)
                 ORDER BY open DESC, deadline IS NULL, deadline, created_at DESC",
            )?
            .query_map(params![lo, hi, open_only], |r| {
                Ok((
                    [
                        r.get::<_, String>(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ],
                    r.get::<_, i64>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                    r.get::<_, bool>(10)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    Ok(raw
        .into_iter()
        .map(
            |(
                [id, grid, cat, sub, description, building, stage, level],
                created_at,
                deadline,
                open,
            )| {
                let category = gridsync_core::issue::catalogue::category(&cat);
                ReportLine {
                    subtype: gridsync_core::issue::catalogue::subtype(&cat, &sub)
                        .map(|s| s.name.to_owned())
                        .unwrap_or(sub),
                    category: category.map(|c| c.name.to_owned()).unwrap_or(cat),
                    stage: readmodel::stage_name(&stage).to_owned(),
                    stage_code: stage,
                    level: level_zh(&level).to_owned(),
                    level_code: level,
                    id,
                    grid,
                    description,
                    building,
                    created_at,
                    deadline,
                    open,
                }
            },
        )
        .collect())
}

/// `?code=` of the list, and the outcome of the last step.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// A report as the list page shows it.
pub struct ReportView {
    /// The report.
    pub r: ReportLine,
    /// Reported.
    pub created: String,
    /// Due.
    pub due: String,
    /// Overdue.
    pub overdue: bool,
    /// Steps offered: (kind code, label).
    pub steps: Vec<(&'static str, &'static str)>,
    /// Whether dispatch is offered.
    pub dispatch: bool,
    /// Who it may be dispatched to: the grid workers of its grid.
    pub assignees: Vec<(String, String)>,
    /// The grid's name.
    pub grid_name: String,
}

/// A person reports may be dispatched to.
pub struct Assignee {
    /// User id.
    pub id: String,
    /// Name and role.
    pub label: String,
    /// Grids they work (empty for others).
    pub grids: Vec<String>,
}

#[derive(askama::Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    nav: Nav,
    crumbs: Vec<Crumb>,
    code: String,
    done: Option<String>,
    reports: Vec<ReportView>,
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
            Some(12) => matches!(level, "grid" | "community"),
            Some(9) => true,
            _ => false,
        },
        _ => false,
    }
}

/// The steps offered on a report at `stage` and `level` to `p`.
fn steps_for(
    p: &Principal,
    grid: &str,
    stage: &str,
    level: &str,
) -> (Vec<(&'static str, &'static str)>, bool) {
    let mut steps = Vec::new();
    let mut dispatch = false;
    if !reaches(p, grid, level) {
        return (steps, dispatch);
    }
    match stage {
        "reported" => steps.push(("accept", "受理")),
        "accepted" => dispatch = true,
        "verified" if p.role != Role::GridWorker => steps.push(("close", "结案")),
        _ => {}
    }
    if !matches!(stage, "closed" | "rated" | "withdrawn") && level != "department" {
        steps.push(("escalate", "上报上级"));
    }
    (steps, dispatch)
}

/// `GET /web/reports?code=`: the reports of a territory.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<ListQuery>,
) -> WebResult<Response> {
    let p = user.principal();
    let code = match q.code.as_deref() {
        Some("all") => String::new(),
        Some(c) => c.to_owned(),
        None => access::home_code(p).ok_or(WebError::Forbidden)?,
    };
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebError::NotFound);
    }
    if !access::may_view(p, &code) {
        return Err(WebError::Forbidden);
    }
    readmodel::catch_up(&state).await?;
    let now = gridsync_core::household::Clock::System.now_ms();
    let workers: Vec<Assignee> = state
        .directory
        .users()
        .await?
        .into_iter()
        .filter(|u| u.active && u.role == Role::GridWorker)
        .map(|u| Assignee {
            label: format!("{}（{}）", u.display_name, u.role.name_zh()),
            id: u.id,
            grids: u.grids,
        })
        .collect();
    let grid_names: std::collections::HashMap<String, String> = state
        .directory
        .grids(&code)
        .await?
        .into_iter()
        .map(|g| (g.code, g.name))
        .collect();
    let reports = rows(state.web.model(), &code, false)
        .await?
        .into_iter()
        .take(500)
        .map(|r| {
            let (steps, dispatch) = if r.open {
                steps_for(p, &r.grid, &r.stage_code, &r.level_code)
            } else {
                (Vec::new(), false)
            };
            ReportView {
                created: when(r.created_at),
                due: r.deadline.map(when).unwrap_or_else(|| "—".into()),
                overdue: r.open && r.deadline.is_some_and(|d| d < now),
                steps,
                dispatch,
                assignees: workers
                    .iter()
                    .filter(|a| a.grids.contains(&r.grid))
                    .map(|a| (a.id.clone(), a.label.clone()))
                    .collect(),
                grid_name: grid_names
                    .get(&r.grid)
                    .cloned()
                    .unwrap_or_else(|| r.grid.clone()),
                r,
            }
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
    render(&ReportsPage {
        nav: Nav::of(&user),
        crumbs,
        code,
        done: q.done.map(|d| match d.as_str() {
            "accept" => "已受理".to_owned(),
            "dispatch" => "已派遣".to_owned(),
            "escalate" => "已上报上级".to_owned(),
            "close" => "已结案".to_owned(),
            _ => "已处理".to_owned(),
        }),
        reports,
    })
}

/// The step form.
#[derive(Debug, Deserialize)]
pub struct StepForm {
    csrf: String,
    kind: String,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

/// The Automerge change adding `event` to the report `bytes`, authored by
/// `by`.
pub fn event_change(bytes: &[u8], event: &Event, by: &str) -> Result<Vec<u8>, String> {
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
            gridsync_core::doc::write_new(tx, &child, event).map_err(|e| e.to_string())
        },
    )
    .map_err(|f| f.error)?;
    doc.get_last_local_change()
        .map(|c| c.raw_bytes().to_vec())
        .ok_or_else(|| "no change made".to_owned())
}

/// Take workflow step `kind` on report `id` as `user`, through the push
/// path phones use. The refusal's message, in Chinese, when refused.
pub async fn take_step(
    state: &AppState,
    user: &WebUser,
    id: &str,
    kind: EventKind,
    assignee: Option<String>,
    note: Option<String>,
) -> WebResult<()> {
    let p = user.principal();
    let facts = state.docs.facts(id).await?.ok_or(WebError::NotFound)?;
    if facts.kind != gridsync_core::issue::KIND {
        return Err(WebError::NotFound);
    }
    if !access::may_read_grid(p, &facts.scope) {
        return Err(WebError::Forbidden);
    }
    let bytes = state.docs.load(id).await?.ok_or(WebError::NotFound)?;
    let issue: Issue = {
        let doc = Automerge::load(&bytes).map_err(|e| WebError::Internal(e.to_string()))?;
        gridsync_core::doc::read(&doc, None).map_err(|e| WebError::Internal(e.to_string()))?
    };
    let mut status = workflow::status(&issue.events);
    let event = Event {
        kind: kind.code().into(),
        actor: p.user_id.clone(),
        role: p.role.code().into(),
        at: gridsync_core::household::Clock::System
            .now_ms()
            .max(status.last_at + 1),
        level: status.level.code().into(),
        assignee: assignee.filter(|a| !a.trim().is_empty()),
        note: note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
        rating: None,
    };
    workflow::step(&mut status, &event).map_err(|r| WebError::Bad(r.zh))?;
    let by = p.user_id.clone();
    let change = tokio::task::spawn_blocking(move || event_change(&bytes, &event, &by))
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
    Ok(())
}

/// `POST /web/reports/{id}/step`: accept, dispatch, escalate or close.
pub async fn step(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> WebResult<Response> {
    user.check_csrf(&form.csrf)?;
    let kind = match form.kind.as_str() {
        "accept" => EventKind::Accept,
        "dispatch" => EventKind::Dispatch,
        "escalate" => EventKind::Escalate,
        "close" => EventKind::Close,
        _ => return Err(WebError::Bad("不支持的操作".into())),
    };
    take_step(&state, &user, &id, kind, form.assignee, form.note).await?;
    let code = form
        .back
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_default();
    Ok(Redirect::to(&format!(
        "/web/reports?code={}&done={}",
        if code.is_empty() {
            "all".to_owned()
        } else {
            urlencode(&code)
        },
        kind.code()
    ))
    .into_response())
}

//! The overview of a street, community or grid (一屏统览): its rows
//! (streets, communities, grids or buildings) with their counts and a
//! coverage chart, attention groups, 包保责任人 coverage, open reports,
//! the loop's figures, syncs with those who never synced flagged, the
//! residents' make-up, households without a 包保责任人 and open
//! 群众诉求 / 需跟进. The handler checks access and renders; each part is
//! one function below.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::{Path, State};
use axum::response::Response;
use gridsync_core::codes::{AttentionTag, ResidenceStatus};

use super::super::format::{address_of, need_text, pct, territory_link, urlencode, when};
use super::super::readmodel::summary::{self, Summary};
use super::super::readmodel::{self, Counts};
use super::super::session::WebUser;
use super::super::{WebResult, access, chart, render};
use super::{Crumb, DAY_MS, Nav, PERIOD_DAYS, crumbs, territory_name};
use crate::directory::User;
use crate::principal::Role;
use crate::state::AppState;

/// Visit coverage below this share is flagged.
const COVERAGE_TARGET: f64 = 0.8;

/// A row of the overview table.
pub struct ChildRow {
    /// The territory's code (none for a building's row).
    pub code: Option<String>,
    /// Target.
    pub link: String,
    /// Name.
    pub name: String,
    /// Counts.
    pub c: Counts,
    /// Visit coverage, formatted.
    pub coverage: String,
}

/// A row of the holder table.
pub struct HolderRow {
    /// Name.
    pub name: String,
    /// Households held.
    pub held: i64,
    /// Contacted in the period.
    pub contacted: i64,
    /// Share, formatted.
    pub share: String,
    /// Below target.
    pub low: bool,
}

/// A row of the reports table.
pub struct ReportCount {
    /// Category name.
    pub category: String,
    /// Stage name.
    pub stage: String,
    /// Open.
    pub open: i64,
    /// Overdue.
    pub overdue: i64,
}

/// A row of the last-sync table.
pub struct SyncRow {
    /// Person.
    pub who: String,
    /// Role.
    pub role: String,
    /// Device name, or 网页或服务器.
    pub device: String,
    /// Last change received from it.
    pub push: String,
    /// Last sign-in or token refresh.
    pub seen: String,
    /// Neither for 3 days or more.
    pub stale: bool,
    /// The later of the two, ms (for sorting).
    pub latest: i64,
    /// A grid worker or package-holder with no phone signed in and no
    /// change received, ever: flagged 从未同步.
    pub never: bool,
}

/// An open 群众诉求 / 需跟进 of the overview's list.
pub struct NeedLine {
    /// The household's page.
    pub link: String,
    /// The household's id (the form's).
    pub household: String,
    /// The visit's key (the form's).
    pub visit: String,
    /// Where the household is.
    pub address: String,
    /// Its grid's name.
    pub grid: String,
    /// Who noted it.
    pub who: String,
    /// When.
    pub when: String,
    /// What was noted, shortened: the 群众诉求, or what the visit found
    /// when it only asked for a follow-up.
    pub text: String,
    /// Whether a follow-up was asked for.
    pub follow_up: bool,
    /// Whole days since it was noted.
    pub days: i64,
}

/// A figure of the residents' make-up: its element id, label and count.
pub struct Share {
    /// Element id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Residents.
    pub n: i64,
}

/// The open needs listed on an overview at most (the count is of all).
pub const NEEDS_LISTED: usize = 100;
/// A grid worker's or a department's row of the figures.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureRow {
    /// Name.
    pub name: String,
    /// Reports (made by the worker; dispatched to the department).
    pub reports: i64,
    /// Of those, with a handling time (closed; fed back).
    pub done: i64,
    /// Median handling time in hours: report → 结案 for a worker's
    /// reports, 派遣 → 反馈 for a department.
    pub median_hours: Option<f64>,
}

/// The loop's figures of a territory over the last [`PERIOD_DAYS`] days
/// (reports made in the period, withdrawn ones not counted), with names.
#[derive(Debug, Clone, PartialEq)]
pub struct FiguresView {
    /// Reports made in the period.
    pub reported: i64,
    /// Of those, closed.
    pub closed: i64,
    /// 办结率: closed ÷ reported, 0–1.
    pub closed_rate: Option<f64>,
    /// Of the closed, closed by their handling deadline.
    pub on_time: i64,
    /// 按期办结率: on time ÷ closed, 0–1.
    pub on_time_rate: Option<f64>,
    /// Rated reports.
    pub rated: i64,
    /// Average 满意度, 1–5.
    pub mean_rating: Option<f64>,
    /// Per grid worker (reporter).
    pub workers: Vec<FigureRow>,
    /// Per department.
    pub departments: Vec<FigureRow>,
}

impl FiguresView {
    /// 办结率 as shown.
    pub fn closed_pct(&self) -> String {
        pct(self.closed, self.reported)
    }

    /// 按期办结率 as shown.
    pub fn on_time_pct(&self) -> String {
        pct(self.on_time, self.closed)
    }

    /// Average 满意度 as shown.
    pub fn rating_text(&self) -> String {
        self.mean_rating
            .map_or_else(|| "—".into(), |r| format!("{r:.1}"))
    }
}

impl FigureRow {
    /// The median as shown.
    pub fn median_text(&self) -> String {
        self.median_hours
            .map_or_else(|| "—".into(), |h| format!("{h:.1}"))
    }
}

/// The figures of the reports under `code` made since `since` (ms).
pub async fn figures(state: &AppState, code: &str, since: i64) -> WebResult<FiguresView> {
    let f = readmodel::figures(state.web.model(), code, since).await?;
    let users: HashMap<String, (String, Role)> = state
        .directory
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, (u.display_name, u.role)))
        .collect();
    let departments: HashMap<String, String> = state
        .directory
        .departments()
        .await?
        .into_iter()
        .map(|d| (d.code, d.name))
        .collect();
    let row = |name: String, h: &readmodel::Handling| FigureRow {
        name,
        reports: h.reports,
        done: h.done,
        median_hours: h.median_ms.map(|ms| ms as f64 / 3_600_000.0),
    };
    let workers = f
        .by_reporter
        .iter()
        .filter_map(|h| match users.get(&h.who) {
            Some((name, Role::GridWorker)) => Some(row(name.clone(), h)),
            _ => None,
        })
        .collect();
    let departments = f
        .by_department
        .iter()
        .map(|h| {
            let name = departments.get(&h.who).cloned().unwrap_or(h.who.clone());
            row(name, h)
        })
        .collect();
    let rate = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
    Ok(FiguresView {
        closed_rate: rate(f.closed, f.reported),
        on_time_rate: rate(f.closed_on_time, f.closed),
        reported: f.reported,
        closed: f.closed,
        on_time: f.closed_on_time,
        rated: f.rated,
        mean_rating: f.mean_rating,
        workers,
        departments,
    })
}

#[derive(askama::Template)]
#[template(path = "territory.html")]
struct TerritoryPage {
    nav: Nav,
    title: String,
    level: &'static str,
    code: String,
    crumbs: Vec<Crumb>,
    period: i64,
    totals: Counts,
    coverage: String,
    child_label: &'static str,
    children: Vec<ChildRow>,
    tags: Vec<(String, i64)>,
    holders: Vec<HolderRow>,
    reports: Vec<ReportCount>,
    syncs: Vec<SyncRow>,
    chart: chart::Chart,
    grid: bool,
    figures: FiguresView,
    /// Grid workers and package-holders who never synced.
    never_synced: i64,
    /// Households without a 包保责任人, and the page listing them.
    unheld: i64,
    unheld_link: String,
    /// Residents by residence status (the core's names) and by age band.
    status: Vec<Share>,
    ages: Vec<Share>,
    /// Open 群众诉求 / 需跟进, oldest first, and how many there are.
    needs: Vec<NeedLine>,
    needs_total: i64,
    /// Whether the viewer may mark them handled.
    may_close: bool,
}

/// `GET /web/t/{code}`: the overview of a street, community or grid
/// (`all` for an admin's whole city).
pub async fn territory(
    State(state): State<AppState>,
    user: WebUser,
    Path(code): Path<String>,
) -> WebResult<Response> {
    let code = access::viewable(user.principal(), code)?;
    let page = overview(&state, &user, &code).await?;
    render(&page)
}

async fn overview(state: &AppState, user: &WebUser, code: &str) -> WebResult<TerritoryPage> {
    let (title, level) = territory_name(state, code).await?;
    readmodel::catch_up(state).await?;
    super::super::needs::mirror_closures(state).await?;
    let model = state.web.model();
    let now = gridsync_core::clock::Clock::System.now_ms();
    let since = now - PERIOD_DAYS * DAY_MS;
    let today = gridsync_core::clock::Clock::Fixed(now).today();
    let grids = summary::summaries(
        model,
        code,
        since,
        format!(
            "{:04}-{:02}-{:02}",
            today.year(),
            u8::from(today.month()),
            today.day()
        ),
    )
    .await?;
    let mut whole = Summary::default();
    for g in grids.values() {
        whole.add(g);
    }

    let (child_label, mut children) = children(state, code, since, &grids).await?;
    let mut totals = Counts::default();
    for r in &children {
        totals.households += r.c.households;
        totals.residents += r.c.residents;
        totals.visited += r.c.visited;
    }
    let reports = report_counts(state, code, now, &mut totals, &mut children).await?;
    let chart = chart::coverage(
        &children
            .iter()
            .map(|r| {
                let share = if r.c.households > 0 {
                    r.c.visited as f64 / r.c.households as f64
                } else {
                    0.0
                };
                (r.name.clone(), share)
            })
            .collect::<Vec<_>>(),
        COVERAGE_TARGET,
    );

    let users = state.directory.users().await?;
    let names: HashMap<&str, &User> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    let (holders, holder_ids) = holders(&whole, &names);
    let (syncs, never_synced) = syncs(state, code, now, &users, &holder_ids).await?;
    let (status, ages) = residents(&whole);
    let needs = needs(state, code, now, &names).await?;
    let p = user.principal();

    Ok(TerritoryPage {
        nav: Nav::of(user),
        crumbs: crumbs(state, user, code).await?,
        coverage: pct(totals.visited, totals.households),
        title,
        level,
        code: code.to_owned(),
        period: PERIOD_DAYS,
        totals,
        child_label,
        children,
        tags: tags(&whole),
        holders,
        reports,
        syncs,
        chart,
        grid: code.len() == 15,
        figures: figures(state, code, since).await?,
        never_synced,
        unheld: whole.unheld,
        unheld_link: format!("{}/unheld", territory_link(code)),
        status,
        ages,
        needs,
        needs_total: whole.open_needs,
        may_close: matches!(p.role, Role::Admin | Role::Supervisor | Role::GridWorker),
    })
}

/// The rows below `code`, in directory order, with their counts and the
/// label of their level: a city's streets, a street's communities, a
/// community's grids, a grid's buildings (keyed `小区·楼栋` by the read
/// model).
async fn children(
    state: &AppState,
    code: &str,
    since: i64,
    grids: &BTreeMap<String, Summary>,
) -> WebResult<(&'static str, Vec<ChildRow>)> {
    let dir = &state.directory;
    let (group_len, child_label, named): (usize, &'static str, Vec<(String, String)>) =
        match code.len() {
            0 => (
                9,
                "街道",
                dir.streets()
                    .await?
                    .into_iter()
                    .map(|s| (s.code, s.name))
                    .collect(),
            ),
            9 => (
                12,
                "社区",
                dir.communities(code)
                    .await?
                    .into_iter()
                    .map(|c| (c.code, c.name))
                    .collect(),
            ),
            12 => (
                15,
                "网格",
                dir.grids(code)
                    .await?
                    .into_iter()
                    .map(|g| (g.code, g.name))
                    .collect(),
            ),
            _ => (0, "楼栋", Vec::new()),
        };
    let mut counts = if group_len == 0 {
        readmodel::counts_by(state.web.model(), code, group_len, since).await?
    } else {
        let mut by: BTreeMap<String, Counts> = BTreeMap::new();
        for (grid, g) in grids {
            let c = by
                .entry(grid.chars().take(group_len).collect())
                .or_default();
            c.households += g.households;
            c.residents += g.residents;
            c.visited += g.visited;
        }
        by
    };
    let rows = if group_len == 0 {
        counts
            .iter()
            .map(|(key, c)| {
                let (compound, building) = key.split_once('·').unwrap_or(("", key));
                ChildRow {
                    code: None,
                    link: format!(
                        "/web/g/{code}/building?c={}&b={}",
                        urlencode(compound),
                        urlencode(building)
                    ),
                    name: format!("{compound} {building}"),
                    coverage: pct(c.visited, c.households),
                    c: c.clone(),
                }
            })
            .collect()
    } else {
        named
            .into_iter()
            .map(|(child, name)| {
                let c = counts.remove(&child).unwrap_or_default();
                ChildRow {
                    link: territory_link(&child),
                    code: Some(child),
                    name,
                    coverage: pct(c.visited, c.households),
                    c,
                }
            })
            .collect()
    };
    Ok((child_label, rows))
}

/// The reports table, from the report read model ([`crate::reports`]):
/// one query for the whole territory (its totals) and one per territory
/// row of the table (a building's row keeps the read model's figures).
async fn report_counts(
    state: &AppState,
    code: &str,
    now: i64,
    totals: &mut Counts,
    children: &mut [ChildRow],
) -> WebResult<Vec<ReportCount>> {
    let whole = state.reports.counts_by_category_stage(code, now).await?;
    totals.open_reports = whole.iter().map(|c| c.open).sum();
    totals.overdue = whole.iter().map(|c| c.overdue).sum();
    for child in children.iter_mut() {
        if let Some(child_code) = &child.code {
            let c = state
                .reports
                .counts_by_category_stage(child_code, now)
                .await?;
            child.c.open_reports = c.iter().map(|c| c.open).sum();
            child.c.overdue = c.iter().map(|c| c.overdue).sum();
        }
    }
    Ok(whole
        .into_iter()
        .map(|c| ReportCount {
            category: gridsync_core::issue::catalogue::category(&c.category)
                .map(|k| k.name.to_owned())
                .unwrap_or(c.category),
            stage: readmodel::stage_name(&c.stage).to_owned(),
            open: c.open,
            overdue: c.overdue,
        })
        .collect())
}

/// The residents of each attention group, in the core's order.
fn tags(whole: &Summary) -> Vec<(String, i64)> {
    AttentionTag::all()
        .iter()
        .map(|t| {
            (
                t.name_zh().to_owned(),
                whole.tags.get(t.code()).copied().unwrap_or(0),
            )
        })
        .collect()
}

/// Each 包保责任人's households and how many were contacted since the
/// period start, and who they are.
fn holders(whole: &Summary, names: &HashMap<&str, &User>) -> (Vec<HolderRow>, HashSet<String>) {
    let holder_ids: HashSet<String> = whole.holders.keys().cloned().collect();
    let holders = whole
        .holders
        .iter()
        .map(|(id, &(held, contacted))| HolderRow {
            name: names
                .get(id.as_str())
                .map(|u| u.display_name.clone())
                .unwrap_or_else(|| "（未登记）".into()),
            held,
            contacted,
            share: pct(contacted, held),
            low: held > 0 && (contacted as f64) < held as f64 * COVERAGE_TARGET,
        })
        .collect();
    (holders, holder_ids)
}

/// The people of this territory (its grid workers, supervisors below
/// it, the holders of its households, the heads of its buildings): each
/// device's last push (the change log) and last sign-in or token refresh
/// (the directory); a grid worker, package-holder or head who never
/// synced is listed first, flagged and counted.
async fn syncs(
    state: &AppState,
    code: &str,
    now: i64,
    users: &[User],
    holder_ids: &HashSet<String>,
) -> WebResult<(Vec<SyncRow>, i64)> {
    // Each user's devices, looked up per user (a district has thousands
    // of both).
    let mut devices_of: HashMap<String, Vec<_>> = HashMap::new();
    for d in state.directory.devices(None).await? {
        devices_of.entry(d.user_id.clone()).or_default().push(d);
    }
    let pushes: HashMap<(String, String), i64> = readmodel::syncs(state.web.model())
        .await?
        .into_iter()
        .map(|s| ((s.user_id, s.device_id), s.at))
        .collect();
    let mut syncs = Vec::new();
    let mut never_synced = 0;
    for u in users {
        let ours = match u.role {
            Role::GridWorker => u.grids.iter().any(|g| g.starts_with(code)),
            Role::Supervisor => u.subtree.as_deref().is_some_and(|t| t.starts_with(code)),
            Role::PackageHolder => holder_ids.contains(&u.id),
            // 楼栋长/单元长 of a building in a grid of this territory.
            Role::BuildingHead | Role::UnitHead => u
                .post
                .as_ref()
                .is_some_and(|post| post.grid.starts_with(code)),
            _ => false,
        };
        if !ours || !u.active {
            continue;
        }
        let row = |device: String, push: Option<i64>, seen: Option<i64>| {
            let latest = push.max(seen);
            SyncRow {
                never: false,
                who: u.display_name.clone(),
                role: u.role.name_zh().to_owned(),
                device,
                push: push.map(when).unwrap_or_else(|| "—".into()),
                seen: seen.map(when).unwrap_or_else(|| "—".into()),
                stale: latest.is_none_or(|t| now - t > 3 * DAY_MS),
                latest: latest.unwrap_or(0),
            }
        };
        let before = syncs.len();
        for d in devices_of
            .get(&u.id)
            .into_iter()
            .flatten()
            .filter(|d| d.revoked_at.is_none())
        {
            let name = d
                .name
                .clone()
                .unwrap_or_else(|| format!("设备 {}", &d.id[..8.min(d.id.len())]));
            let push = pushes.get(&(u.id.clone(), d.id.clone())).copied();
            syncs.push(row(name, push, Some(d.last_seen_at * 1000)));
        }
        if let Some(at) = pushes.get(&(u.id.clone(), String::new())) {
            syncs.push(row("网页或服务器".into(), Some(*at), None));
        }
        if syncs.len() == before
            && matches!(
                u.role,
                Role::GridWorker | Role::PackageHolder | Role::BuildingHead | Role::UnitHead
            )
        {
            if devices_of.contains_key(&u.id) {
                // Synced once, on phones since signed out for good.
                syncs.push(row("（设备均已注销）".into(), None, None));
            } else {
                syncs.push(SyncRow {
                    never: true,
                    ..row("从未同步".into(), None, None)
                });
                never_synced += 1;
            }
        }
    }
    // The people never synced first, then the latest.
    syncs.sort_by_key(|r| (!r.never, std::cmp::Reverse(r.latest)));
    Ok((syncs, never_synced))
}

/// Who the residents are: residence status by the core's names, age
/// bands on today's date in Beijing (the server's clock, as every figure
/// of the page).
fn residents(whole: &Summary) -> (Vec<Share>, Vec<Share>) {
    let mut status: Vec<Share> = ResidenceStatus::all()
        .iter()
        .map(|s| Share {
            id: format!("status-{}", s.code()),
            label: s.name_zh().to_owned(),
            n: 0,
        })
        .collect();
    let mut unrecorded = 0;
    for (code, n) in whole.status.iter().cloned() {
        match code
            .as_deref()
            .and_then(|c| ResidenceStatus::from_code(c).ok())
            .and_then(|s| ResidenceStatus::all().iter().position(|x| *x == s))
        {
            Some(i) => status[i].n += n,
            None => unrecorded += n,
        }
    }
    status.push(Share {
        id: "status-none".into(),
        label: "未填".into(),
        n: unrecorded,
    });
    let ages = [
        ("age-0", "0–17岁"),
        ("age-18", "18–59岁"),
        ("age-60", "60–79岁"),
        ("age-80", "80岁及以上"),
        ("age-unknown", "未知"),
    ]
    .into_iter()
    .zip(whole.ages)
    .map(|((id, label), n)| Share {
        id: id.into(),
        label: label.into(),
        n,
    })
    .collect();
    (status, ages)
}

/// 群众诉求 / 需跟进 not handled yet, oldest first: the first
/// [`NEEDS_LISTED`] (how many there are is the summaries').
async fn needs(
    state: &AppState,
    code: &str,
    now: i64,
    names: &HashMap<&str, &User>,
) -> WebResult<Vec<NeedLine>> {
    let open = readmodel::open_needs(state.web.model(), code, NEEDS_LISTED).await?;
    let mut grid_names: HashMap<String, String> = HashMap::new();
    let mut needs = Vec::new();
    for n in open {
        if !grid_names.contains_key(&n.grid) {
            let name = state
                .directory
                .grid(&n.grid)
                .await?
                .map(|g| g.name)
                .unwrap_or_default();
            grid_names.insert(n.grid.clone(), name);
        }
        let [area, compound, building, unit, room] = &n.place;
        needs.push(NeedLine {
            link: format!("/web/h/{}", n.household_id),
            address: address_of([area, compound, building, unit, room]),
            grid: grid_names.get(&n.grid).cloned().unwrap_or_default(),
            who: names
                .get(n.visitor.as_str())
                .map(|u| u.display_name.clone())
                .unwrap_or_else(|| "（未登记）".into()),
            when: when(n.at),
            text: need_text(&n.needs, &n.findings),
            follow_up: n.follow_up,
            days: ((now - n.at) / DAY_MS).max(0),
            household: n.household_id,
            visit: n.visit_key,
        });
    }
    Ok(needs)
}

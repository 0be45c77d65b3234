//! The pages: the overview of a street, community or grid (一屏统览) with
//! drill-down street → community → grid → building → unit → household
//! (its figures: households, residents by residence status and age band,
//! attention groups, coverage, households without a 包保责任人 and their
//! list, open 群众诉求 / 需跟进, reports, syncs with those who never
//! synced flagged), the household page with its residents, visits and
//! ledger history, and the admins' audit log. Handlers are thin: check
//! access, catch the read model up, query it, render.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gridsync_core::codes::{self, AttentionTag, ResidenceStatus};
use gridsync_core::household::Household;
use serde::Deserialize;

use super::readmodel::{self, Counts};
use super::session::WebUser;
use super::{WebError, WebResult, access, audit, chart, mask, render};
use crate::principal::Role;
use crate::state::AppState;

/// The period coverage is counted over, days.
pub const PERIOD_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;
/// Visit coverage below this share is flagged.
const COVERAGE_TARGET: f64 = 0.8;

/// What every page's header needs.
pub struct Nav {
    /// The person's name.
    pub name: String,
    /// Their role, in Chinese.
    pub role: String,
    /// The form token.
    pub csrf: String,
    /// Their home page.
    pub home: String,
    /// Whether they are an admin (audit log link).
    pub admin: bool,
    /// Whether they work a queue of what is dispatched to them (department
    /// users: only that; grid workers: besides their grid).
    pub queue: bool,
    /// Whether they are a department user (no territory pages).
    pub department: bool,
    /// Whether they may export the ledger unmasked (the button; the form
    /// checks again).
    pub export_full: bool,
}

impl Nav {
    /// The header of `user`'s pages.
    pub fn of(user: &WebUser) -> Self {
        let p = user.principal();
        Self {
            name: user.auth.display_name.clone(),
            role: p.role.name_zh().to_owned(),
            csrf: user.csrf.clone(),
            home: match access::home_code(p) {
                Some(code) => territory_link(&code),
                None if p.role == Role::Department => "/web/queue".into(),
                None => "/web/login".into(),
            },
            admin: p.role == Role::Admin,
            queue: matches!(p.role, Role::Department | Role::GridWorker),
            department: p.role == Role::Department,
            export_full: access::may_export_full(p),
        }
    }
}

/// The link of a territory page.
pub fn territory_link(code: &str) -> String {
    if code.is_empty() {
        "/web/t/all".into()
    } else {
        format!("/web/t/{code}")
    }
}

/// Unix ms as `2026-11-26 14:03`, China Standard Time.
pub fn when(ms: i64) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    let t = t.to_offset(offset);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// `part` of `whole` as a percentage string.
pub fn pct(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "—".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// `GET /web`: the person's home page.
pub async fn home(user: Result<WebUser, WebError>) -> Response {
    match user {
        Ok(u) => Redirect::to(&Nav::of(&u).home).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A link in the breadcrumb trail.
pub struct Crumb {
    /// Target.
    pub link: String,
    /// Name.
    pub name: String,
}

/// A row of the overview table.
pub struct ChildRow {
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
/// Characters of a need's text shown in the list.
const NEED_CHARS: usize = 40;

/// `text` cut to `n` characters, with `…` when cut.
fn short(text: &str, n: usize) -> String {
    let mut out: String = text.chars().take(n).collect();
    if text.chars().nth(n).is_some() {
        out.push('…');
    }
    out
}

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
    needs_total: usize,
    /// Whether the viewer may mark them handled.
    may_close: bool,
}

/// The name of a territory code, with its level.
async fn territory_name(state: &AppState, code: &str) -> WebResult<(String, &'static str)> {
    let dir = &state.directory;
    Ok(match code.len() {
        0 => ("全部街道".into(), "全市"),
        9 => (
            dir.street(code).await?.ok_or(WebError::NotFound)?.name,
            "街道",
        ),
        12 => (
            dir.community(code).await?.ok_or(WebError::NotFound)?.name,
            "社区",
        ),
        15 => (
            dir.grid(code).await?.ok_or(WebError::NotFound)?.name,
            "网格",
        ),
        _ => return Err(WebError::NotFound),
    })
}

async fn crumbs(state: &AppState, user: &WebUser, code: &str) -> WebResult<Vec<Crumb>> {
    let mut out = Vec::new();
    for len in [0usize, 9, 12, 15] {
        if len > code.len() {
            break;
        }
        let c = &code[..len];
        if !access::may_view(user.principal(), c) {
            continue;
        }
        let (name, _) = territory_name(state, c).await?;
        out.push(Crumb {
            link: territory_link(c),
            name,
        });
    }
    Ok(out)
}

/// `GET /web/t/{code}`: the overview of a street, community or grid
/// (`all` for an admin's whole city).
pub async fn territory(
    State(state): State<AppState>,
    user: WebUser,
    Path(code): Path<String>,
) -> WebResult<Response> {
    let code = if code == "all" { String::new() } else { code };
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebError::NotFound);
    }
    if !access::may_view(user.principal(), &code) {
        return Err(WebError::Forbidden);
    }
    let page = overview(&state, &user, &code).await?;
    render(&page)
}

async fn overview(state: &AppState, user: &WebUser, code: &str) -> WebResult<TerritoryPage> {
    let (title, level) = territory_name(state, code).await?;
    readmodel::catch_up(state).await?;
    let model = state.web.model();
    let now = gridsync_core::clock::Clock::System.now_ms();
    let since = now - PERIOD_DAYS * DAY_MS;
    let dir = &state.directory;

    // The children of this level, in directory order, with their counts.
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
    let mut counts = readmodel::counts_by(model, code, group_len, since, now).await?;
    let mut children: Vec<ChildRow> = if group_len == 0 {
        counts
            .iter()
            .map(|(key, c)| {
                let (compound, building) = key.split_once('·').unwrap_or(("", key));
                ChildRow {
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
                    name,
                    coverage: pct(c.visited, c.households),
                    c,
                }
            })
            .collect()
    };
    let mut totals = Counts::default();
    for r in &children {
        totals.households += r.c.households;
        totals.residents += r.c.residents;
        totals.visited += r.c.visited;
        totals.open_reports += r.c.open_reports;
        totals.overdue += r.c.overdue;
    }
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

    let tag_map: HashMap<String, i64> = readmodel::tag_counts(model, code)
        .await?
        .into_iter()
        .collect();
    let tags = AttentionTag::all()
        .iter()
        .map(|t| {
            (
                t.name_zh().to_owned(),
                tag_map.get(t.code()).copied().unwrap_or(0),
            )
        })
        .collect();

    let users = dir.users().await?;
    let names: HashMap<&str, &crate::directory::User> =
        users.iter().map(|u| (u.id.as_str(), u)).collect();
    let holder_rows = readmodel::holder_coverage(model, code, since).await?;
    let holder_ids: HashSet<String> = holder_rows.iter().map(|h| h.0.clone()).collect();
    let holders = holder_rows
        .into_iter()
        .map(|(id, held, contacted)| HolderRow {
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

    // Reports: the report read model's counts (crate::reports), one query
    // for the whole territory and one per child for the table.
    let counts_of = |prefix: String| {
        let reports = state.reports.clone();
        async move { reports.counts_by_category_stage(&prefix, now).await }
    };
    let report_counts = counts_of(code.to_owned()).await?;
    totals.open_reports = report_counts.iter().map(|c| c.open).sum();
    totals.overdue = report_counts.iter().map(|c| c.overdue).sum();
    if group_len > 0 {
        for child in &mut children {
            let child_code = child.link.rsplit('/').next().unwrap_or_default().to_owned();
            let c = counts_of(child_code).await?;
            child.c.open_reports = c.iter().map(|c| c.open).sum();
            child.c.overdue = c.iter().map(|c| c.overdue).sum();
        }
    }
    let reports = report_counts
        .into_iter()
        .map(|c| ReportCount {
            category: gridsync_core::issue::catalogue::category(&c.category)
                .map(|k| k.name.to_owned())
                .unwrap_or(c.category),
            stage: readmodel::stage_name(&c.stage).to_owned(),
            open: c.open,
            overdue: c.overdue,
        })
        .collect();

    // The people of this territory (its grid workers, supervisors below
    // it, the holders of its households): each device's last push (the
    // change log) and last sign-in or token refresh (the directory); a
    // grid worker or package-holder who never synced is listed first,
    // flagged and counted.
    let devices = dir.devices(None).await?;
    let pushes: HashMap<(String, String), i64> = readmodel::syncs(model)
        .await?
        .into_iter()
        .map(|s| ((s.user_id, s.device_id), s.at))
        .collect();
    let mut syncs = Vec::new();
    let mut never_synced = 0;
    for u in &users {
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
        for d in devices
            .iter()
            .filter(|d| d.user_id == u.id && d.revoked_at.is_none())
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
            if devices.iter().any(|d| d.user_id == u.id) {
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

    // Who the residents are: residence status by the core's names, age
    // bands on today's date in Beijing (the server's clock, as every
    // figure of the page).
    let today = gridsync_core::clock::Clock::Fixed(now).today();
    let profile = readmodel::profile(
        model,
        code,
        format!(
            "{:04}-{:02}-{:02}",
            today.year(),
            u8::from(today.month()),
            today.day()
        ),
    )
    .await?;
    let mut status: Vec<Share> = ResidenceStatus::all()
        .iter()
        .map(|s| Share {
            id: format!("status-{}", s.code()),
            label: s.name_zh().to_owned(),
            n: 0,
        })
        .collect();
    let mut unrecorded = 0;
    for (code, n) in profile.status {
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
    .zip(profile.ages)
    .map(|((id, label), n)| Share {
        id: id.into(),
        label: label.into(),
        n,
    })
    .collect();

    // 群众诉求 / 需跟进 not handled yet, oldest first.
    let open = super::needs::open_needs(state, code).await?;
    let needs_total = open.len();
    let mut grid_names: HashMap<String, String> = HashMap::new();
    let mut needs = Vec::new();
    for n in open.into_iter().take(NEEDS_LISTED) {
        if !grid_names.contains_key(&n.grid) {
            let name = dir.grid(&n.grid).await?.map(|g| g.name).unwrap_or_default();
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
            text: if n.needs.trim().is_empty() {
                short(&n.findings, NEED_CHARS)
            } else {
                short(&n.needs, NEED_CHARS)
            },
            follow_up: n.follow_up,
            days: ((now - n.at) / DAY_MS).max(0),
            household: n.household_id,
            visit: n.visit_key,
        });
    }
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
        tags,
        holders,
        reports,
        syncs,
        chart,
        grid: code.len() == 15,
        figures: figures(state, code, since).await?,
        never_synced,
        unheld: readmodel::unheld_count(model, code).await?,
        unheld_link: format!("{}/unheld", territory_link(code)),
        status,
        ages,
        needs,
        needs_total,
        may_close: matches!(p.role, Role::Admin | Role::Supervisor | Role::GridWorker),
    })
}

/// A household without a 包保责任人.
pub struct UnheldLine {
    /// Its page.
    pub link: String,
    /// Its grid's name.
    pub grid: String,
    /// Where it is.
    pub address: String,
    /// Residents.
    pub residents: i64,
    /// Last visit, or 从未.
    pub last_visit: String,
    /// Not visited in the period.
    pub stale: bool,
}

#[derive(askama::Template)]
#[template(path = "unheld.html")]
struct UnheldPage {
    nav: Nav,
    crumbs: Vec<Crumb>,
    title: String,
    rows: Vec<UnheldLine>,
    period: i64,
}

/// `GET /web/t/{code}/unheld`: the households of a street, community or
/// grid that have no 包保责任人 (the overview counts them), so a
/// supervisor can assign one.
pub async fn unheld(
    State(state): State<AppState>,
    user: WebUser,
    Path(code): Path<String>,
) -> WebResult<Response> {
    let code = if code == "all" { String::new() } else { code };
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebError::NotFound);
    }
    if !access::may_view(user.principal(), &code) {
        return Err(WebError::Forbidden);
    }
    let (title, _) = territory_name(&state, &code).await?;
    readmodel::catch_up(&state).await?;
    let rows = readmodel::unheld_households(state.web.model(), &code).await?;
    let since = gridsync_core::clock::Clock::System.now_ms() - PERIOD_DAYS * DAY_MS;
    let mut grids: HashMap<String, String> = HashMap::new();
    let mut lines = Vec::with_capacity(rows.len());
    for r in rows {
        if !grids.contains_key(&r.grid) {
            let name = state
                .directory
                .grid(&r.grid)
                .await?
                .map(|g| g.name)
                .unwrap_or_default();
            grids.insert(r.grid.clone(), name);
        }
        lines.push(UnheldLine {
            link: format!("/web/h/{}", r.id),
            grid: grids.get(&r.grid).cloned().unwrap_or_default(),
            address: address_of(["", &r.compound, &r.building, &r.unit, &r.room]),
            residents: r.residents,
            last_visit: r.last_visit_at.map(when).unwrap_or_else(|| "从未".into()),
            stale: r.last_visit_at.is_none_or(|t| t < since),
        });
    }
    let mut crumbs = crumbs(&state, &user, &code).await?;
    crumbs.push(Crumb {
        link: String::new(),
        name: "无包保责任人的住户".into(),
    });
    render(&UnheldPage {
        nav: Nav::of(&user),
        crumbs,
        title: format!("{title} 无包保责任人的住户"),
        rows: lines,
        period: PERIOD_DAYS,
    })
}

/// Percent-encode a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `?c=&b=` of the building page.
#[derive(Debug, Deserialize)]
pub struct BuildingQuery {
    #[serde(default)]
    c: Option<String>,
    #[serde(default)]
    b: Option<String>,
}

/// A unit with its households.
pub struct UnitRows {
    /// Unit name.
    pub unit: String,
    /// Households.
    pub households: Vec<HouseholdLine>,
}

/// A household in the building page.
pub struct HouseholdLine {
    /// Link.
    pub link: String,
    /// Room.
    pub room: String,
    /// Residents.
    pub residents: i64,
    /// Visits.
    pub visits: i64,
    /// Last visit.
    pub last_visit: String,
    /// Not visited in the period.
    pub stale: bool,
}

#[derive(askama::Template)]
#[template(path = "building.html")]
struct BuildingPage {
    nav: Nav,
    crumbs: Vec<Crumb>,
    title: String,
    export_query: String,
    units: Vec<UnitRows>,
    period: i64,
}

/// `GET /web/g/{grid}/building?c=&b=`: a building's units and households.
pub async fn building(
    State(state): State<AppState>,
    user: WebUser,
    Path(grid): Path<String>,
    Query(q): Query<BuildingQuery>,
) -> WebResult<Response> {
    if !access::may_read_grid(user.principal(), &grid) {
        return Err(WebError::Forbidden);
    }
    readmodel::catch_up(&state).await?;
    let rows = readmodel::households_in(state.web.model(), &grid, q.c.clone(), q.b.clone()).await?;
    let now = gridsync_core::clock::Clock::System.now_ms();
    let since = now - PERIOD_DAYS * DAY_MS;
    let mut units: BTreeMap<String, Vec<HouseholdLine>> = BTreeMap::new();
    for r in rows {
        units
            .entry(format!("{} {}", r.building, r.unit))
            .or_default()
            .push(HouseholdLine {
                link: format!("/web/h/{}", r.id),
                room: r.room,
                residents: r.residents,
                visits: r.visits,
                last_visit: r.last_visit_at.map(when).unwrap_or_else(|| "从未".into()),
                stale: r.last_visit_at.is_none_or(|t| t < since),
            });
    }
    let mut crumbs = crumbs(&state, &user, &grid).await?;
    let title = format!(
        "{} {}",
        q.c.as_deref().unwrap_or(""),
        q.b.as_deref().unwrap_or("全部楼栋")
    );
    crumbs.push(Crumb {
        link: String::new(),
        name: title.clone(),
    });
    let mut export_query = format!("grid={grid}");
    if let Some(b) = &q.b {
        export_query.push_str(&format!("&building={}", urlencode(b)));
    }
    render(&BuildingPage {
        nav: Nav::of(&user),
        crumbs,
        title,
        export_query,
        units: units
            .into_iter()
            .map(|(unit, households)| UnitRows { unit, households })
            .collect(),
        period: PERIOD_DAYS,
    })
}

/// `?reveal=1` of the household page.
#[derive(Debug, Deserialize)]
pub struct RevealQuery {
    #[serde(default)]
    reveal: Option<u8>,
}

/// A resident line.
pub struct ResidentLine {
    /// Name.
    pub name: String,
    /// ID number, masked unless revealed.
    pub id_number: String,
    /// Phone, masked unless revealed.
    pub phone: String,
    /// Relation, in Chinese.
    pub relation: String,
    /// Residence status, in Chinese.
    pub status: String,
    /// Tags, in Chinese.
    pub tags: String,
}

/// A visit line.
pub struct VisitLine {
    /// When.
    pub when: String,
    /// Who.
    pub who: String,
    /// How.
    pub method: String,
    /// What was found.
    pub findings: String,
    /// The 群众诉求 noted, if any.
    pub needs: String,
    /// Whether a follow-up was asked for.
    pub follow_up: bool,
    /// For a need: 待处理, or 已处理 with who and when.
    pub handled: String,
}

/// A history line.
pub struct HistoryLine {
    /// When.
    pub when: String,
    /// Who.
    pub who: String,
    /// What kind of change.
    pub op: String,
    /// Resident concerned, if any.
    pub resident: String,
    /// Fields written, `字段: 值`.
    pub fields: String,
}

#[derive(askama::Template)]
#[template(path = "household.html")]
struct HouseholdPage {
    nav: Nav,
    crumbs: Vec<Crumb>,
    address: String,
    holder: String,
    revealed: bool,
    may_reveal: bool,
    reveal_link: String,
    /// The residents table's headings, from the core's field labels.
    headings: Vec<&'static str>,
    /// What revealing shows: 公民身份号码和联系电话.
    shown: String,
    residents: Vec<ResidentLine>,
    visits: Vec<VisitLine>,
    history: Vec<HistoryLine>,
}

/// The label of field `key`, from the core's one table; the key itself
/// when the table does not know it (a newer app's field).
fn label(key: &str) -> &str {
    codes::field_label(key).unwrap_or(key)
}

/// A household's address as people write it: 片区 小区 楼栋 单元 室.
fn address_of(place: [&str; 5]) -> String {
    let [area, compound, building, unit, room] = place;
    let room = if room.is_empty() {
        String::new()
    } else {
        format!("{room}室")
    };
    [area, compound, building, unit, room.as_str()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The fields one change wrote, in words: each key by its label, each
/// code by its name in the core's code tables, tags by name, ID numbers
/// and phones masked unless `revealed`, people and grids by name. Visits
/// (listed apart) and bookkeeping keys are left out. Returns the resident
/// concerned (if any) and the text.
fn history_fields(
    fields: &[gridsync_core::doc::FieldChange],
    h: &Household,
    revealed: bool,
    name_of: &dyn Fn(&str) -> String,
    grids: &HashMap<String, String>,
) -> (String, String) {
    let mut resident = String::new();
    let mut parts = Vec::new();
    let mut groups: Vec<&str> = Vec::new();
    let (mut tags_on, mut tags_off, mut distinct) = (Vec::new(), Vec::new(), false);
    for f in fields {
        let path: Vec<&str> = f.path.iter().map(String::as_str).collect();
        let (Some(&first), Some(&last)) = (path.first(), path.last()) else {
            continue;
        };
        let bookkeeping = matches!(
            last,
            "kind" | "schema" | "id" | "created_at" | "created_by" | "merged_heads"
        );
        if first == "visits" || bookkeeping {
            continue;
        }
        if first == "residents"
            && let Some(key) = path.get(1)
            && let Some(r) = h.residents.get(*key)
        {
            resident = r.name.clone();
        }
        // Tag sets are maps {code: true}: a tag added or taken off.
        if path.len() >= 2 && path[path.len() - 2] == "tags" {
            let name = codes::code_name("tags", last).unwrap_or(last);
            if f.deleted {
                tags_off.push(name);
            } else {
                tags_on.push(name);
            }
            continue;
        }
        if first == "distinct_from" {
            distinct |= !f.deleted;
            continue;
        }
        let value = match &f.value {
            // A field written empty (a new resident's unset fields).
            serde_json::Value::Null if !f.deleted => continue,
            serde_json::Value::Null => "（清空）".to_owned(),
            serde_json::Value::Bool(b) => if *b { "是" } else { "否" }.to_owned(),
            serde_json::Value::String(v) => match last {
                "holder" => name_of(v),
                "id_number" => mask::shown(Some(v), revealed, mask::id_number),
                "phone" => mask::shown(Some(v), revealed, mask::phone),
                "grid" => grids.get(v).cloned().unwrap_or_else(|| v.clone()),
                "merged_into" if first == "residents" => h
                    .residents
                    .get(v)
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| "另一条登记".into()),
                "merged_into" => "另一住户".into(),
                _ => codes::code_name(last, v)
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.clone()),
            },
            other => other.to_string(),
        };
        // The household's own fields first, then each resident's together,
        // each group in the label table's order.
        let group = match (first, path.get(1)) {
            ("residents", Some(key)) => match groups.iter().position(|g| g == key) {
                Some(i) => i + 1,
                None => {
                    groups.push(*key);
                    groups.len()
                }
            },
            _ => 0,
        };
        parts.push((
            group,
            codes::field_rank(last),
            format!("{}: {value}", label(last)),
        ));
    }
    parts.sort_by_key(|(group, rank, _)| (*group, *rank));
    let mut parts: Vec<String> = parts.into_iter().map(|(_, _, text)| text).collect();
    if !tags_on.is_empty() {
        parts.push(format!("{}: {}", label("tags"), tags_on.join("、")));
    }
    if !tags_off.is_empty() {
        parts.push(format!("取消{}: {}", label("tags"), tags_off.join("、")));
    }
    if distinct {
        parts.push(label("distinct_from").to_owned());
    }
    parts.truncate(12);
    (resident, parts.join("；"))
}

fn code_zh(kind: &str, code: Option<&str>) -> String {
    let Some(code) = code else {
        return String::new();
    };
    codes::code_name(kind, code).unwrap_or(code).to_owned()
}

fn tags_zh<'a>(tags: impl Iterator<Item = &'a str>) -> String {
    tags.map(|t| codes::code_name("tags", t).unwrap_or(t))
        .collect::<Vec<_>>()
        .join("、")
}

/// `GET /web/h/{id}`: a household, its residents (masked unless revealed,
/// which is audited), its visits and its ledger history.
pub async fn household(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Query(q): Query<RevealQuery>,
) -> WebResult<Response> {
    let p = user.principal();
    let facts = state.docs.facts(&id).await?.ok_or(WebError::NotFound)?;
    if facts.kind != gridsync_core::household::KIND {
        return Err(WebError::NotFound);
    }
    if !access::may_read_grid(p, &facts.scope) {
        return Err(WebError::Forbidden);
    }
    let bytes = state.docs.load(&id).await?.ok_or(WebError::NotFound)?;
    let (h, history) = tokio::task::spawn_blocking(move || {
        let doc = automerge::Automerge::load(&bytes).map_err(|e| e.to_string())?;
        let h: Household = gridsync_core::doc::read(&doc, None).map_err(|e| e.to_string())?;
        Ok::<_, String>((h, gridsync_core::doc::history(&doc)))
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?
    .map_err(WebError::Internal)?;

    let may_reveal = access::may_unmask(p);
    let revealed = q.reveal == Some(1) && may_reveal;
    if q.reveal == Some(1) && !may_reveal {
        return Err(WebError::Forbidden);
    }
    if revealed {
        audit::record(
            state.web.main(),
            p,
            "unmask",
            &format!("household:{id}"),
            &format!("{}、{}", label("id_number"), label("phone")),
        )
        .await?;
    }
    let users = state.directory.users().await?;
    let name_of = |uid: &str| -> String {
        users
            .iter()
            .find(|u| u.id == uid)
            .map(|u| u.display_name.clone())
            .unwrap_or_else(|| {
                if uid == "server" || uid == "local" {
                    "系统".into()
                } else {
                    "（未登记）".into()
                }
            })
    };
    let residents = h
        .current_residents()
        .map(|(_, r)| ResidentLine {
            name: r.name.clone(),
            id_number: mask::shown(r.id_number.as_deref(), revealed, mask::id_number),
            phone: mask::shown(r.phone.as_deref(), revealed, mask::phone),
            relation: code_zh("relation", r.relation.as_deref()),
            status: code_zh("status", r.status.as_deref()),
            tags: tags_zh(r.tags.iter()),
        })
        .collect();
    let closed =
        super::needs::closures(state.web.main(), h.visits.keys().cloned().collect()).await?;
    let visits: Vec<VisitLine> = h
        .visits_in_order()
        .into_iter()
        .rev()
        .take(50)
        .map(|(key, v)| VisitLine {
            when: when(v.at),
            who: name_of(&v.visitor),
            method: gridsync_core::codes::VisitMethod::from_code(&v.method)
                .map(|m| m.name_zh().to_owned())
                .unwrap_or_else(|_| v.method.clone()),
            findings: v.findings.clone(),
            needs: v.needs.clone(),
            follow_up: v.follow_up,
            handled: match closed.get(key) {
                Some((by, at)) => format!("已处理（{}，{}）", name_of(by), when(*at)),
                None if !v.needs.trim().is_empty() || v.follow_up => "待处理".into(),
                None => String::new(),
            },
        })
        .collect();
    // What the building's 楼栋长/单元长 noted at the door, among the visits.
    let contacts = readmodel::contacts_of(state.web.model(), &id).await?;
    let contact_closed = super::needs::closures(
        state.web.main(),
        contacts.iter().map(|c| c.id.clone()).collect(),
    )
    .await?;
    let mut dated: Vec<(i64, VisitLine)> = h
        .visits_in_order()
        .into_iter()
        .rev()
        .map(|(_, v)| v.at)
        .zip(visits)
        .collect();
    dated.extend(contacts.into_iter().map(|c| {
        let line = VisitLine {
            when: when(c.at),
            who: format!(
                "{}（{}）",
                name_of(&c.by),
                gridsync_core::issue::duty::role_name_zh(&c.role)
            ),
            method: gridsync_core::codes::VisitMethod::from_code(&c.method)
                .map(|m| m.name_zh().to_owned())
                .unwrap_or_else(|_| c.method.clone()),
            handled: match contact_closed.get(&c.id) {
                Some((by, at)) => format!("已处理（{}，{}）", name_of(by), when(*at)),
                None if !c.needs.trim().is_empty() || c.follow_up => "待处理".into(),
                None => String::new(),
            },
            findings: c.findings,
            needs: c.needs,
            follow_up: c.follow_up,
        };
        (c.at, line)
    }));
    dated.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let mut visits: Vec<VisitLine> = dated.into_iter().map(|(_, l)| l).collect();
    visits.truncate(50);
    // Who made each change: the person the server recorded from the token
    // that pushed it, not the name a change's message gives (the server
    // itself, seeding demo data, pushes under the names it gives).
    let pushers: std::collections::HashMap<String, String> = state
        .docs
        .pushers(&id)
        .await?
        .into_iter()
        .filter(|(_, user)| user != crate::sync::SERVER_USER)
        .collect();
    // Grids a change moved the household to, by name.
    let mut grids = HashMap::new();
    for e in &history {
        for f in &e.fields {
            if f.path.len() == 1
                && f.path[0] == "grid"
                && let Some(code) = f.value.as_str()
                && !grids.contains_key(code)
                && let Some(g) = state.directory.grid(code).await?
            {
                grids.insert(code.to_owned(), g.name);
            }
        }
    }
    let history = history
        .into_iter()
        .rev()
        .map(|e| {
            let (resident, fields) = history_fields(&e.fields, &h, revealed, &name_of, &grids);
            HistoryLine {
                when: when(e.at),
                who: pushers
                    .get(&e.hash)
                    .map(String::as_str)
                    .or(e.by.as_deref())
                    .map(name_of)
                    .unwrap_or_else(|| "—".into()),
                op: e
                    .op
                    .as_deref()
                    .map(gridsync_core::store::op_name)
                    .unwrap_or_default(),
                resident,
                fields,
            }
        })
        .collect();
    let mut crumbs = crumbs(&state, &user, &h.grid).await?;
    crumbs.push(Crumb {
        link: format!(
            "/web/g/{}/building?c={}&b={}",
            h.grid,
            urlencode(&h.place.compound),
            urlencode(&h.place.building)
        ),
        name: format!("{} {}", h.place.compound, h.place.building),
    });
    let address = address_of([
        &h.place.area,
        &h.place.compound,
        &h.place.building,
        &h.place.unit,
        &h.place.room,
    ]);
    crumbs.push(Crumb {
        link: String::new(),
        name: format!("{} {}室", h.place.unit, h.place.room),
    });
    render(&HouseholdPage {
        nav: Nav::of(&user),
        crumbs,
        address,
        holder: h
            .holder
            .as_deref()
            .map(name_of)
            .unwrap_or_else(|| "未指定".into()),
        revealed,
        may_reveal,
        reveal_link: format!("/web/h/{id}?reveal=1"),
        headings: ["name", "id_number", "phone", "relation", "status", "tags"]
            .into_iter()
            .map(|k| codes::field_label(k).unwrap_or(k))
            .collect(),
        shown: format!("{}和{}", label("id_number"), label("phone")),
        residents,
        visits,
        history,
    })
}

/// An audit line.
pub struct AuditLine {
    /// When.
    pub when: String,
    /// Who: display name and role.
    pub who: String,
    /// What, in words (`导出居民台账（XLSX，未脱敏）`).
    pub action: String,
    /// On what: the household's address, the territory's name.
    pub target: String,
    /// More: the fields shown, the resident, device and reason of a
    /// phone's reveal.
    pub detail: String,
}

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    entries: Vec<AuditLine>,
}

/// `GET /web/admin/audit`: the latest audit entries (admins only), in
/// words: the person by name and role, the household by its address, the
/// territory by its name, what was exported or viewed.
pub async fn audit_log(State(state): State<AppState>, user: WebUser) -> WebResult<Response> {
    use audit::Subject;
    if user.principal().role != Role::Admin {
        return Err(WebError::Forbidden);
    }
    let entries = audit::latest(state.web.main(), 500).await?;
    let subjects: Vec<Subject> = entries.iter().map(audit::subject).collect();
    // What the entries name by id, looked up once each.
    let mut households = Vec::new();
    let mut residents = Vec::new();
    let mut territories: HashMap<String, String> = HashMap::new();
    let mut devices: HashMap<String, String> = HashMap::new();
    let mut closed_needs = Vec::new();
    for s in &subjects {
        match s {
            Subject::Unmask { household } => households.push(household.clone()),
            Subject::NeedClosed { household, visit } => {
                households.push(household.clone());
                closed_needs.push((household.clone(), visit.clone()));
            }
            Subject::Reveal {
                household,
                resident,
                device,
                ..
            } => {
                households.push(household.clone());
                residents.push((household.clone(), resident.clone()));
                if !devices.contains_key(device) {
                    let name = match state.directory.device(device).await? {
                        Some(d) => d.name.unwrap_or_else(|| "未命名的手机".into()),
                        None => "（未登记的手机）".into(),
                    };
                    devices.insert(device.clone(), name);
                }
            }
            Subject::Export { territory, .. } if !territories.contains_key(territory) => {
                let name = match territory_name(&state, territory).await {
                    Ok((name, _)) => name,
                    Err(WebError::NotFound) => format!("（未登记的区域 {territory}）"),
                    Err(e) => return Err(e),
                };
                territories.insert(territory.clone(), name);
            }
            _ => {}
        }
    }
    households.sort();
    households.dedup();
    readmodel::catch_up(&state).await?;
    let named = readmodel::places_and_names(state.web.model(), households, residents).await?;
    // What each closed need said, and when it was noted.
    let mut noted: HashMap<(String, String), String> = HashMap::new();
    for (household, visit) in closed_needs {
        if noted.contains_key(&(household.clone(), visit.clone())) {
            continue;
        }
        let text = match readmodel::need(state.web.model(), &household, &visit).await? {
            Some(n) => format!(
                "{}（{}走访时记录）",
                short(
                    if n.needs.trim().is_empty() {
                        &n.findings
                    } else {
                        &n.needs
                    },
                    NEED_CHARS
                ),
                when(n.at)
            ),
            None => "（台账中已无此走访记录）".into(),
        };
        noted.insert((household, visit), text);
    }
    let users: HashMap<String, (String, Role)> = state
        .directory
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, (u.display_name, u.role)))
        .collect();
    let address = |id: &str| {
        named
            .places
            .get(id)
            .map(|p| address_of([&p[0], &p[1], &p[2], &p[3], &p[4]]))
            .unwrap_or_else(|| "（台账中已无此住户）".into())
    };
    let shown = format!("{}、{}", label("id_number"), label("phone"));
    let lines = entries
        .into_iter()
        .zip(subjects)
        .map(|(e, s)| {
            let who = match users.get(&e.user_id) {
                Some((name, role)) => format!("{name}（{}）", role.name_zh()),
                None => e.username.clone(),
            };
            let (action, target, detail) = match s {
                Subject::Unmask { household } => (
                    "查看完整信息".to_owned(),
                    address(&household),
                    shown.clone(),
                ),
                Subject::Export {
                    territory,
                    what,
                    format,
                    full,
                    building,
                    reason,
                } => (
                    format!(
                        "导出{}（{}，{}）",
                        audit::export_name(&what).unwrap_or(&what),
                        format.to_uppercase(),
                        if full { "未脱敏" } else { "已脱敏" }
                    ),
                    territories.get(&territory).cloned().unwrap_or_default(),
                    [
                        building.then(|| "其中一栋楼".to_owned()),
                        reason.map(|r| format!("原因：{r}")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("；"),
                ),
                Subject::Reveal {
                    household,
                    resident,
                    device,
                    reason,
                } => {
                    let person = named
                        .residents
                        .get(&(household.clone(), resident))
                        .cloned()
                        .unwrap_or_else(|| "（台账中已无此居民）".into());
                    (
                        "手机查看完整信息".to_owned(),
                        address(&household),
                        format!(
                            "居民：{person}；{shown}；手机：{}；原因：{reason}",
                            devices.get(&device).map(String::as_str).unwrap_or("")
                        ),
                    )
                }
                Subject::NeedClosed { household, visit } => (
                    "群众诉求 / 需跟进已处理".to_owned(),
                    address(&household),
                    noted
                        .get(&(household.clone(), visit))
                        .cloned()
                        .unwrap_or_default(),
                ),
                Subject::Other => (
                    match e.action.as_str() {
                        "unmask" => "查看完整信息".into(),
                        "export" => "导出".into(),
                        "reveal" => "手机查看完整信息".into(),
                        other => other.to_owned(),
                    },
                    e.target.clone(),
                    e.detail.clone(),
                ),
            };
            AuditLine {
                when: when(e.at),
                who,
                action,
                target,
                detail,
            }
        })
        .collect();
    render(&AuditPage {
        nav: Nav::of(&user),
        entries: lines,
    })
}

//! The pages: the overview of a street, community or grid (一屏统览) with
//! drill-down street → community → grid → building → unit → household, the
//! household page with its residents, visits and ledger history, and the
//! admins' audit log. Handlers are thin: check access, catch the read
//! model up, query it, render.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gridsync_core::codes::AttentionTag;
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
    let now = gridsync_core::household::Clock::System.now_ms();
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
    // worker who never synced is listed too.
    let devices = dir.devices(None).await?;
    let pushes: HashMap<(String, String), i64> = readmodel::syncs(model)
        .await?
        .into_iter()
        .map(|s| ((s.user_id, s.device_id), s.at))
        .collect();
    let mut syncs = Vec::new();
    for u in &users {
        let ours = match u.role {
            Role::GridWorker => u.grids.iter().any(|g| g.starts_with(code)),
            Role::Supervisor => u.subtree.as_deref().is_some_and(|t| t.starts_with(code)),
            Role::PackageHolder => holder_ids.contains(&u.id),
            _ => false,
        };
        if !ours || !u.active {
            continue;
        }
        let row = |device: String, push: Option<i64>, seen: Option<i64>| {
            let latest = push.max(seen);
            SyncRow {
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
        if syncs.len() == before && u.role == Role::GridWorker {
            syncs.push(row("（从未同步）".into(), None, None));
        }
    }
    syncs.sort_by_key(|r| std::cmp::Reverse(r.latest));

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
    let now = gridsync_core::household::Clock::System.now_ms();
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
    residents: Vec<ResidentLine>,
    visits: Vec<VisitLine>,
    history: Vec<HistoryLine>,
}

fn op_name(op: &str) -> String {
    match op {
        "create_household" => "新建住户",
        "add_resident" => "新增居民",
        "update_resident" => "修改居民信息",
        "add_visit" => "登记走访",
        "merge_households" => "合并重复住户",
        "merge_residents" => "合并重复居民",
        "move_household" => "迁移网格",
        "resolve_conflict" => "处理冲突",
        "add_place" => "新增楼栋单元",
        other => other,
    }
    .to_owned()
}

fn field_name(f: &str) -> &str {
    match f {
        "name" => "姓名",
        "id_number" => "身份证号",
        "phone" => "电话",
        "sex" => "性别",
        "birth_date" => "出生日期",
        "ethnicity" => "民族",
        "relation" => "与户主关系",
        "status" => "居住状态",
        "tags" => "关注标签",
        "removed" => "已移除",
        "moved_in" => "迁入日期",
        "moved_out" => "迁出日期",
        "note" => "备注",
        "holder" => "包保责任人",
        "grid" => "网格",
        "occupants" => "居住人数",
        "usage" => "房屋用途",
        "ownership" => "产权",
        "area_m2" => "面积",
        "area" => "片区",
        "compound" => "小区",
        "building" => "楼栋",
        "unit" => "单元",
        "room" => "室号",
        "merged_into" => "合并到",
        other => other,
    }
}

fn code_zh(kind: &str, code: Option<&str>) -> String {
    use gridsync_core::codes::{Relation, ResidenceStatus};
    let Some(code) = code else {
        return String::new();
    };
    let name = match kind {
        "relation" => Relation::from_code(code).map(|r| r.name_zh()).ok(),
        "status" => ResidenceStatus::from_code(code).map(|r| r.name_zh()).ok(),
        _ => None,
    };
    name.map(str::to_owned).unwrap_or_else(|| code.to_owned())
}

fn tags_zh<'a>(tags: impl Iterator<Item = &'a str>) -> String {
    tags.map(|t| {
        AttentionTag::from_code(t)
            .map(|a| a.name_zh().to_owned())
            .unwrap_or_else(|_| t.to_owned())
    })
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
            "身份证号、电话",
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
    let mut visits: Vec<VisitLine> = h
        .visits_in_order()
        .into_iter()
        .rev()
        .take(50)
        .map(|(_, v)| VisitLine {
            when: when(v.at),
            who: name_of(&v.visitor),
            method: gridsync_core::codes::VisitMethod::from_code(&v.method)
                .map(|m| m.name_zh().to_owned())
                .unwrap_or_else(|_| v.method.clone()),
            findings: v.findings.clone(),
        })
        .collect();
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
    let history = history
        .into_iter()
        .rev()
        .map(|e| {
            let mut resident = String::new();
            let fields = e
                .fields
                .iter()
                .filter(|f| f.path.first().map(String::as_str) != Some("visits"))
                .filter(|f| {
                    let last = f.path.last().map(String::as_str).unwrap_or("");
                    let bookkeeping = matches!(
                        last,
                        "kind" | "schema" | "id" | "created_at" | "created_by" | "merged_heads"
                    );
                    let cleared_resident_field =
                        f.path.len() == 3 && f.path[0] == "residents" && f.value.is_null();
                    !(bookkeeping || cleared_resident_field)
                })
                .map(|f| {
                    if f.path.first().map(String::as_str) == Some("residents")
                        && let Some(key) = f.path.get(1)
                        && let Some(r) = h.residents.get(key)
                    {
                        resident = r.name.clone();
                    }
                    let last = f.path.last().map(String::as_str).unwrap_or("");
                    let value = match &f.value {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    let value = match last {
                        "holder" => name_of(&value),
                        "id_number" => mask::shown(Some(&value), revealed, mask::id_number),
                        "phone" => mask::shown(Some(&value), revealed, mask::phone),
                        _ => value,
                    };
                    format!("{}: {}", field_name(last), value)
                })
                .take(12)
                .collect::<Vec<_>>()
                .join("；");
            HistoryLine {
                when: when(e.at),
                who: pushers
                    .get(&e.hash)
                    .map(String::as_str)
                    .or(e.by.as_deref())
                    .map(name_of)
                    .unwrap_or_else(|| "—".into()),
                op: e.op.as_deref().map(op_name).unwrap_or_default(),
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
    let address = format!(
        "{} {} {} {} {}室",
        h.place.area, h.place.compound, h.place.building, h.place.unit, h.place.room
    );
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
        residents,
        visits,
        history,
    })
}

/// An audit line.
pub struct AuditLine {
    /// When.
    pub when: String,
    /// Who (login name).
    pub who: String,
    /// What, in Chinese.
    pub action: String,
    /// Target.
    pub target: String,
    /// Detail.
    pub detail: String,
}

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    entries: Vec<AuditLine>,
}

/// `GET /web/admin/audit`: the latest audit entries (admins only).
pub async fn audit_log(State(state): State<AppState>, user: WebUser) -> WebResult<Response> {
    if user.principal().role != Role::Admin {
        return Err(WebError::Forbidden);
    }
    let entries = audit::latest(state.web.main(), 500)
        .await?
        .into_iter()
        .map(|e| AuditLine {
            when: when(e.at),
            who: e.username,
            action: match e.action.as_str() {
                "unmask" => "查看完整信息".into(),
                "export" => "导出".into(),
                "reveal" => "手机查看完整信息".into(),
                other => other.to_owned(),
            },
            target: e.target,
            detail: e.detail,
        })
        .collect();
    render(&AuditPage {
        nav: Nav::of(&user),
        entries,
    })
}

//! A building's units and households, with their visits.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::super::format::{urlencode, when};
use super::super::readmodel;
use super::super::session::WebUser;
use super::super::{WebError, WebResult, access, render};
use super::{Crumb, DAY_MS, Nav, PERIOD_DAYS, crumbs};
use crate::state::AppState;

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

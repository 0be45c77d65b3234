//! The households of a street, community or grid that have no
//! 包保责任人 (the overview counts them), so a supervisor can assign one.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;

use super::super::format::{address_of, when};
use super::super::readmodel;
use super::super::session::WebUser;
use super::super::{WebResult, access, render};
use super::{Crumb, DAY_MS, Nav, PERIOD_DAYS, crumbs, territory_name};
use crate::state::AppState;

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
    let code = access::viewable(user.principal(), code)?;
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

//! The pages, one module each, and the frame they share: the header
//! ([`Nav`]), the breadcrumb trail ([`crumbs`]), a territory's name and
//! level, and the person's home page. Handlers are thin: check access,
//! catch the read model up, query it, render.
//!
//! - [`overview`]: the overview of a street, community or grid (一屏统览)
//!   with drill-down street → community → grid → building, and its figures;
//! - [`unheld`]: the households without a 包保责任人;
//! - [`building`]: a building's units and households;
//! - [`household`]: a household with its residents, visits and ledger history;
//! - [`audit`]: the admins' audit log.
//!
//! How things are written (times, addresses, labels) is [`super::format`].

pub mod audit;
pub mod building;
pub mod household;
pub mod overview;
pub mod unheld;

use axum::response::{IntoResponse, Redirect, Response};

use super::session::WebUser;
use super::{WebError, WebResult, access};
use crate::principal::Role;
use crate::state::AppState;

pub use super::format::{pct, territory_link, urlencode, when};
pub use audit::audit_log;
pub use building::building;
pub use household::household;
pub use overview::{FigureRow, FiguresView, NEEDS_LISTED, figures, territory};
pub use unheld::unheld;

/// The period coverage is counted over, days.
pub const PERIOD_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

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

/// The trail from the city down to `code`, through what `user` may open.
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

//! Which territory a person may open on the web. Grid-level decisions are
//! [`crate::scope::may_read`]'s, the one place access is decided; this
//! module only lifts them to the levels above a grid (street, community)
//! and picks where a person's pages start.

use gridsync_core::codes::GridCode;

use crate::principal::{Principal, Role};
use crate::store::DocFacts;

/// The territory a page's path names (`all`: the whole city, as the empty
/// code), if it is a code at all and `p` may open its page: 404 for what is
/// not a code, 403 for a territory outside `p`'s.
pub fn viewable(p: &Principal, code: String) -> super::WebResult<String> {
    let code = if code == "all" { String::new() } else { code };
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(super::WebError::NotFound);
    }
    if !may_view(p, &code) {
        return Err(super::WebError::Forbidden);
    }
    Ok(code)
}

/// Whether `p` may open the page of territory `code` (a 9-digit street,
/// a 12-digit community, a 15-digit grid, or "" for the whole city).
pub fn may_view(p: &Principal, code: &str) -> bool {
    if code.len() == GridCode::LEN {
        return crate::scope::may_read(
            p,
            &DocFacts {
                kind: "grid".into(),
                scope: code.to_owned(),
                holder: None,
                departments: Vec::new(),
                listing: None,
            },
        );
    }
    match p.role {
        Role::Admin => true,
        Role::Supervisor => p
            .subtree
            .as_deref()
            .is_some_and(|s| !s.is_empty() && code.starts_with(s)),
        _ => false,
    }
}

/// Whether `p` may read a document of grid `grid` (households, reports).
pub fn may_read_grid(p: &Principal, grid: &str) -> bool {
    grid.len() == GridCode::LEN && may_view(p, grid)
}

/// Where a person's pages start: their subtree, their grid, or the city.
pub fn home_code(p: &Principal) -> Option<String> {
    match p.role {
        Role::Admin => Some(String::new()),
        Role::Supervisor => p.subtree.clone().filter(|s| !s.is_empty()),
        Role::GridWorker => p.grids.first().cloned(),
        _ => None,
    }
}

/// Whether `p` may see ID numbers and phones in full (each such view is
/// audited): supervisors, grid workers and admins, within what they may
/// read. Package-holders and departments never do on the web.
pub fn may_unmask(p: &Principal) -> bool {
    matches!(p.role, Role::Admin | Role::Supervisor | Role::GridWorker)
}

/// Whether `p` may export full (unmasked) ledgers: supervisors and admins.
pub fn may_export_full(p: &Principal) -> bool {
    matches!(p.role, Role::Admin | Role::Supervisor)
}

//! A building or unit head's roster, from the server to the phone: the
//! households of their building or unit, masked ([`crate::contact::Roster`]).
//! Fetched after each sync by a head's phone and kept in the store, so
//! contacts can be recorded offline against it.

use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;

use super::Client;
use crate::contact::Roster;
use crate::store::Store;
use crate::{Error, Result};

const PATH: &str = "/v1/roster";

/// Roles that have a roster.
pub fn has_roster(role: &str) -> bool {
    matches!(role, "building_head" | "unit_head")
}

/// The access token, when the signed-in user is a head (others have no
/// roster and ask nothing).
pub fn request_state(store: &Store) -> Result<Option<String>> {
    if !has_roster(&store.author().role) {
        return Ok(None);
    }
    Client::access_token(store).map(Some)
}

/// Ask the server for the roster (no store held: network only).
pub fn fetch(client: &Client, token: &str) -> Result<Roster> {
    let resp = client
        .http()
        .get(format!("{}{PATH}", client.base_url()))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .map_err(|_| Error::Network("the roster could not be fetched".into()))?;
    match resp.status() {
        StatusCode::UNAUTHORIZED => Err(Error::Unauthorized(
            "登录已过期 / the sign-in expired".into(),
        )),
        s if s.is_success() => resp
            .json()
            .map_err(|e| Error::Shape(format!("roster answer: {e}"))),
        s => Err(Error::Server {
            status: s.as_u16(),
            code: "roster".into(),
            message: "服务器未能提供楼栋名册 / the server could not give the roster".into(),
        }),
    }
}

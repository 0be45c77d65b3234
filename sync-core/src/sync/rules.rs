//! The deployment's rules for issue reports, from the server to the phone:
//! its catalogue (categories, subtypes, time limits; a city's own file
//! replaces the seed without an app update) and its working calendar, so
//! the phone offers the same categories, checks reports the same way and
//! counts the same deadlines as the supervisors' pages.
//!
//! Fetched when a sync's answer names a tag (`rules`) other than the one
//! kept: asked for at once, beside the sync's next page, and kept after
//! the sync (asked for again then if the tag changed meanwhile); after
//! every sync from a server that names none
//! ([`request_state`] and [`apply`] with the store, [`fetch`] without it),
//! with the `ETag` of the last answer (a `304` costs a few hundred bytes);
//! kept in the store, and installed when the store is opened
//! ([`install_kept`]). An older server without the
//! endpoint (404) leaves the phone on the built-in catalogue.

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, ETAG, IF_NONE_MATCH};

use super::Client;
use crate::issue::{WorkCalendar, catalogue};
use crate::store::Store;
use crate::{Error, Result};

const PATH: &str = "/v1/reports/rules";
/// The catalogue as last received (the server's JSON, validated).
const CATALOGUE_KEY: &str = "issue.catalogue";
/// The `ETag` of the last answer.
const ETAG_KEY: &str = "issue.rules_etag";

/// The rules as the server sent them.
#[derive(Debug, serde::Deserialize)]
pub struct Rules {
    catalogue: serde_json::Value,
    calendar: Calendar,
}

#[derive(Debug, serde::Deserialize)]
struct Calendar {
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    workdays: Vec<String>,
}

/// What the request brought: new rules (and their tag), or nothing new.
#[derive(Debug)]
pub enum Fetched {
    /// The rules changed (or were never fetched).
    New(Box<Rules>, Option<String>),
    /// Unchanged since the tag sent, or a server without the endpoint.
    Unchanged,
}

/// What [`fetch`] needs from the store: the access token and the last tag.
pub fn request_state(store: &Store) -> Result<(String, Option<String>)> {
    Ok((
        Client::access_token(store)?,
        store.meta(ETAG_KEY)?.filter(|t| !t.is_empty()),
    ))
}

/// Ask the server for its rules (no store held: network only). A 401 is
/// [`Error::Unauthorized`]; the caller's next sync renews the token.
pub fn fetch(client: &Client, token: &str, etag: Option<&str>) -> Result<Fetched> {
    let mut req = client
        .http()
        .get(format!("{}{PATH}", client.base_url()))
        .header(AUTHORIZATION, format!("Bearer {token}"));
    if let Some(t) = etag {
        req = req.header(IF_NONE_MATCH, t);
    }
    let resp = req
        .send()
        .map_err(|_| Error::Network("the rules could not be fetched".into()))?;
    match resp.status() {
        StatusCode::NOT_MODIFIED | StatusCode::NOT_FOUND => Ok(Fetched::Unchanged),
        StatusCode::UNAUTHORIZED => Err(Error::Unauthorized(
            "登录已过期 / the sign-in expired".into(),
        )),
        s if s.is_success() => {
            let tag = resp
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let rules: Rules = resp
                .json()
                .map_err(|e| Error::Shape(format!("rules answer: {e}")))?;
            Ok(Fetched::New(Box::new(rules), tag))
        }
        s => Err(Error::Server {
            status: s.as_u16(),
            code: "rules".into(),
            message: "服务器未能提供事件目录 / the server could not give its rules".into(),
        }),
    }
}

/// Keep and install what [`fetch`] brought. A catalogue or calendar that
/// does not validate is refused whole (the phone keeps what it had).
pub fn apply(store: &mut Store, fetched: Fetched) -> Result<bool> {
    let Fetched::New(rules, tag) = fetched else {
        return Ok(false);
    };
    let json = rules.catalogue.to_string();
    let calendar = WorkCalendar::from_dates(&rules.calendar.holidays, &rules.calendar.workdays)?;
    catalogue::install(&json)?;
    store.set_meta(CATALOGUE_KEY, &json)?;
    store.set_work_calendar(&calendar)?;
    store.set_meta(ETAG_KEY, tag.as_deref().unwrap_or(""))?;
    Ok(true)
}

/// Install the catalogue this store last received (at open, before any
/// report is read or written). Nothing kept: the built-in one stays.
pub fn install_kept(store: &Store) -> Result<()> {
    match store.meta(CATALOGUE_KEY)?.filter(|j| !j.is_empty()) {
        Some(json) => catalogue::install(&json),
        None => Ok(()),
    }
}

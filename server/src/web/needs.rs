//! 群众诉求 and 需跟进: what residents asked for, or what a visitor
//! marked for follow-up, in a visit; listed on the overview until someone
//! marks it handled (已处理).
//!
//! Whether a need was handled is not part of the household document: a
//! visit is never edited (docs/adr/0002), and a new field of the document
//! would be one every phone and the server's shape rules must learn. It
//! is kept in the main database (table `needs_closed`, keyed by household
//! id and visit key, with who closed it and when), beside the audit log,
//! so a rebuilt read model finds it again; it is looked up by the visit's
//! key, which a visit keeps when duplicate households are merged. A later
//! visit noting a new need is another key: it opens a new item and
//! reopens nothing closed.

use std::collections::HashMap;

use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;

use super::session::WebUser;
use super::{MainDb, WebError, WebResult, access, audit, readmodel};
use crate::db::DbError;
use crate::principal::Role;
use crate::state::AppState;

/// Who closed the needs of the visits `keys` and when (user id, ms),
/// for those closed. Found by the visit's key alone: a visit keeps its
/// key when a duplicate household is merged into another, so a need
/// closed on either stays closed.
pub async fn closures(
    main: &MainDb,
    keys: Vec<String>,
) -> Result<HashMap<String, (String, i64)>, DbError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    match main {
        MainDb::Sqlite(pool) => {
            crate::db::run(pool, move |c| {
                let mut st = c.prepare_cached(
                    "SELECT closed_by, closed_at FROM needs_closed WHERE visit_key = ?1
                     ORDER BY closed_at LIMIT 1",
                )?;
                let mut out = HashMap::new();
                for key in keys {
                    if let Some(closed) = st
                        .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?
                    {
                        out.insert(key, closed);
                    }
                }
                Ok(out)
            })
            .await
        }
        MainDb::Postgres(pool) => {
            let client = pool.get().await.map_err(crate::pg::pool_err)?;
            let rows = crate::pg::query(
                &client,
                "SELECT visit_key, closed_by, closed_at FROM needs_closed
                 WHERE visit_key = ANY($1) ORDER BY closed_at DESC",
                &[&keys],
            )
            .await
            .map_err(crate::pg::err)?;
            // The earliest closure last, so it is the one kept.
            Ok(rows
                .iter()
                .map(|r| (r.get(0), (r.get(1), r.get(2))))
                .collect())
        }
    }
}

/// Record that `by` (user id) closed the need of visit `visit` of
/// `household` at `at` (ms); whether it was open until now.
pub async fn close(
    main: &MainDb,
    household: &str,
    visit: &str,
    by: &str,
    at: i64,
) -> Result<bool, DbError> {
    let (household, visit, by) = (household.to_owned(), visit.to_owned(), by.to_owned());
    match main {
        MainDb::Sqlite(pool) => {
            crate::db::run(pool, move |c| {
                let n = c
                    .prepare_cached(
                        "INSERT INTO needs_closed (household_id, visit_key, closed_by, closed_at)
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![household, visit, by, at])?;
                Ok(n > 0)
            })
            .await
        }
        MainDb::Postgres(pool) => {
            let client = pool.get().await.map_err(crate::pg::pool_err)?;
            let n = crate::pg::execute(
                &client,
                "INSERT INTO needs_closed (household_id, visit_key, closed_by, closed_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&household, &visit, &by, &at],
            )
            .await
            .map_err(crate::pg::err)?;
            Ok(n > 0)
        }
    }
}

/// Bring the read model's mirror of the closures up to the main
/// database's (one count when nothing was closed since): the overview
/// counts and lists open needs from the read model alone.
pub async fn mirror_closures(state: &AppState) -> Result<(), DbError> {
    let model = state.web.model();
    let main = state.web.main();
    let count: i64 = match main {
        MainDb::Sqlite(pool) => {
            crate::db::run(pool, |c| {
                c.query_row("SELECT count(*) FROM needs_closed", [], |r| r.get(0))
            })
            .await?
        }
        MainDb::Postgres(pool) => {
            let client = pool.get().await.map_err(crate::pg::pool_err)?;
            crate::pg::query(&client, "SELECT count(*) FROM needs_closed", &[])
                .await
                .map_err(crate::pg::err)?[0]
                .get(0)
        }
    };
    if readmodel::summary::mirrored(model).await? == Some(count) {
        return Ok(());
    }
    // Read after the count: at least what was counted.
    let keys: Vec<String> = match main {
        MainDb::Sqlite(pool) => {
            crate::db::run(pool, |c| {
                c.prepare("SELECT DISTINCT visit_key FROM needs_closed")?
                    .query_map([], |r| r.get(0))?
                    .collect()
            })
            .await?
        }
        MainDb::Postgres(pool) => {
            let client = pool.get().await.map_err(crate::pg::pool_err)?;
            crate::pg::query(&client, "SELECT DISTINCT visit_key FROM needs_closed", &[])
                .await
                .map_err(crate::pg::err)?
                .iter()
                .map(|r| r.get(0))
                .collect()
        }
    };
    readmodel::summary::mirror(model, keys, count).await
}

/// The 已处理 form.
#[derive(Debug, Deserialize)]
pub struct CloseForm {
    csrf: String,
    /// The household.
    household: String,
    /// The visit's key.
    visit: String,
    /// The territory to return to.
    #[serde(default)]
    back: Option<String>,
}

/// `POST /web/needs/close`: mark a visit's 群众诉求 / 需跟进 handled, as
/// the signed-in supervisor, grid worker or admin who may read its grid;
/// audited. Closing one already closed changes nothing.
pub async fn close_form(
    State(state): State<AppState>,
    user: WebUser,
    Form(form): Form<CloseForm>,
) -> WebResult<Response> {
    user.check_csrf(&form.csrf)?;
    let p = user.principal();
    if !matches!(p.role, Role::Admin | Role::Supervisor | Role::GridWorker) {
        return Err(WebError::Forbidden);
    }
    readmodel::catch_up(&state).await?;
    let need = readmodel::need(state.web.model(), &form.household, &form.visit)
        .await?
        .ok_or(WebError::NotFound)?;
    if !access::may_read_grid(p, &need.grid) {
        return Err(WebError::Forbidden);
    }
    let now = gridsync_core::clock::Clock::System.now_ms();
    if close(
        state.web.main(),
        &form.household,
        &form.visit,
        &p.user_id,
        now,
    )
    .await?
    {
        audit::record(
            state.web.main(),
            p,
            audit::CLOSE_NEED,
            &format!("household:{}", form.household),
            &format!("visit:{}", form.visit),
        )
        .await?;
    }
    let back = form
        .back
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()) && access::may_view(p, c))
        .unwrap_or(need.grid);
    Ok(Redirect::to(&format!("{}#needs", super::pages::territory_link(&back))).into_response())
}

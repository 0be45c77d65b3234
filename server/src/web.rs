//! The supervisors' web pages (一屏统览), served by the server itself, in
//! Chinese, behind the same logins as the phones.
//!
//! - [`readmodel`]: the tables the pages aggregate (households, residents,
//!   visits, reports, conflicts, last syncs), kept by a projector that
//!   tails the change log by sequence number; every page first catches it
//!   up to the log's head, so what a page shows is never stale; it holds
//!   the pages' queries of those tables, returning typed rows (the review
//!   queue's, the exports' and the report lists' in its `review`,
//!   `export` and `issues` modules), so no handler here holds its SQL;
//! - [`session`]: the login form, the session cookie and the CSRF token;
//! - [`access`]: which territory a person may open (built on [`crate::scope`]);
//! - [`pages`]: overview, drill-down, household, admin audit log, one
//!   module each;
//! - [`format`]: how the pages write times, addresses, labels and codes;
//! - [`mask`]: ID numbers and phones masked unless unmasking is allowed;
//! - [`needs`]: 群众诉求 / 需跟进 noted in visits, and marking them handled;
//! - [`audit`]: the audit log of unmasked views and exports;
//! - [`export`]: ledgers, visit logs and report lists as XLSX and CSV;
//! - [`issues`]: report handling from the web: the filtered, paged list,
//!   one report's page with its timeline and photos, every step with a
//!   note and a confirmation, a department's queue (吹哨报到);
//! - [`multipart`]: the forms that carry a file (a step's photo, a ledger);
//! - [`import`]: the ledger import pages (upload, columns, dry run, import);
//! - [`review`]: the review queue (same-field conflicts, suspected duplicates);
//! - [`chart`]: the overview's bar chart, as inline SVG data;
//! - [`actor`]: the server editing documents on a person's behalf, through
//!   the phones' push path;
//! - [`demo`]: reports, a conflict and duplicates for the demo community.

pub mod access;
pub mod actor;
pub mod audit;
pub mod chart;
pub mod demo;
pub mod export;
pub mod format;
pub mod import;
pub mod issues;
pub mod mask;
pub mod multipart;
pub mod needs;
pub mod pages;
pub mod readmodel;
pub mod review;
pub mod session;

use std::path::Path;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::db::DbError;
use crate::state::AppState;

/// The main database, for the change log the projector tails and the
/// audit log.
#[derive(Clone)]
pub enum MainDb {
    /// The embedded SQLite file.
    Sqlite(deadpool_sqlite::Pool),
    /// PostgreSQL.
    Postgres(deadpool_postgres::Pool),
}

/// What the web pages keep: the read model and the main database.
pub struct Web {
    main: MainDb,
    model: readmodel::ReadModel,
    /// One projector run at a time in this process.
    projector: tokio::sync::Mutex<()>,
}

impl Web {
    /// Open the read model under `data_dir` (created, or rebuilt when its
    /// schema changed) next to the main database.
    pub async fn open(data_dir: &Path, main: MainDb) -> Result<Self, DbError> {
        let model = readmodel::ReadModel::open(&data_dir.join("web-readmodel.sqlite3")).await?;
        Ok(Self {
            main,
            model,
            projector: tokio::sync::Mutex::new(()),
        })
    }

    /// The read model.
    pub fn model(&self) -> &readmodel::ReadModel {
        &self.model
    }

    /// The main database.
    pub fn main(&self) -> &MainDb {
        &self.main
    }
}

/// Why a page could not be shown. Messages are Chinese and never carry
/// personal data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// No session, or it ended: back to the login form.
    #[error("请先登录")]
    SignIn,
    /// Outside the person's territory or role.
    #[error("无权查看：不在您负责的范围内")]
    Forbidden,
    /// No such page or record.
    #[error("未找到该页面或记录")]
    NotFound,
    /// The form or the request was refused, with why.
    #[error("{0}")]
    Bad(String),
    /// A database or task failed (logged; a generic page is shown).
    #[error("服务器内部错误，请稍后重试")]
    Internal(String),
}

/// `Result` of the web handlers.
pub type WebResult<T> = Result<T, WebError>;

/// Render a template as a page.
pub(crate) fn render<T: askama::Template>(t: &T) -> WebResult<Response> {
    Ok(Html(t.render()?).into_response())
}

const STYLE: &str = include_str!("../templates/style.css");

async fn style() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            ),
        ],
        STYLE,
    )
        .into_response()
}

/// The web pages' routes (all under `/web`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/web", get(pages::home))
        .route("/web/", get(pages::home))
        .route("/web/style.css", get(style))
        .route(
            "/web/login",
            get(session::login_form).post(session::login_submit),
        )
        .route("/web/logout", post(session::logout))
        .route("/web/t/{code}", get(pages::territory))
        .route("/web/t/{code}/unheld", get(pages::unheld))
        .route("/web/needs/close", post(needs::close_form))
        .route("/web/g/{grid}/building", get(pages::building))
        .route("/web/h/{id}", get(pages::household))
        .route("/web/reports", get(issues::list))
        .route("/web/reports/{id}", get(issues::show))
        .route("/web/reports/{id}/confirm", post(issues::confirm))
        .route("/web/reports/{id}/step", post(issues::step))
        .route("/web/queue", get(issues::queue))
        .route("/web/photo/{hash}", get(issues::photo))
        .route("/web/review", get(review::queue))
        .route("/web/review/resolve", post(review::resolve))
        .route(
            "/web/export/full",
            get(export::full_form).post(export::full_submit),
        )
        .route("/web/export/{file}", get(export::download))
        .route("/web/import", get(import::form).post(import::upload))
        .route("/web/import/check", post(import::check))
        .route("/web/import/run", post(import::run))
        .route("/web/admin/audit", get(pages::audit_log))
        .route("/web/admin/hotline", get(crate::hotline::pages::show))
        .route("/web/admin/hotline/add", post(crate::hotline::pages::add))
        .route(
            "/web/admin/hotline/revoke",
            post(crate::hotline::pages::revoke),
        )
        .route(
            "/web/admin/hotline/retry",
            post(crate::hotline::pages::retry),
        )
}

//! gridsync-server: the sync endpoint phones push to and pull from, with
//! JWT auth and grid-scoped access control, over an embedded SQLite store by
//! default (PostgreSQL for larger deployments).
//!
//! - [`cli`]: the command line (`serve`, `admin`, `import`, `import-ledger`, `demo`);
//! - [`app`]: the HTTP routes; handlers are thin and call the modules below;
//! - [`auth`]: login, tokens, the `Principal` extractor;
//! - [`directory`]: users, devices and the territory (streets, communities, grids);
//! - [`scope`]: every access decision, in one place;
//! - [`store`]: documents and the change log behind a trait;
//! - [`sync`]: the sync protocol (`POST /v1/sync`);
//! - [`reports`]: the issue report read model (`/v1/reports/overdue`, `/v1/reports/nearly-due`);
//! - [`blobs`]: photos and attachments (`/v1/blobs/{sha256}`);
//! - [`web`]: the supervisors' web pages (一屏统览), exports, audit log;
//! - [`import`]: importing the resident ledgers communities keep (XLSX, CSV);
//! - [`hotline`]: the 12345 hotline (接诉即办): platforms file 诉求, webhooks tell every step;
//! - [`health`]: `/healthz`: storage and log faults, counted.

pub mod admin;
pub mod app;
pub mod auth;
pub mod blobs;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod directory;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod hotline;
pub mod import;
pub mod openapi;
pub mod pg;
pub mod principal;
pub mod reports;
pub mod reveals;
pub mod roster;
pub mod scope;
pub mod state;
pub mod store;
pub mod sync;
pub mod territory;
pub mod web;

pub use app::app;
pub use error::ApiError;
pub use state::AppState;

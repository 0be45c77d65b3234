//! `GET /openapi.json`: an OpenAPI 3.1 description of the HTTP API, kept
//! next to the code in `openapi.json` and checked by a test against the
//! routes the server really serves.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The document.
pub const OPENAPI: &str = include_str!("openapi.json");

/// This module's routes.
pub fn routes() -> axum::Router<crate::state::AppState> {
    axum::Router::new().route(
        "/openapi.json",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response() }),
    )
}

//! The HTTP routes. Each module contributes its own router; handlers are
//! thin: parse, call the module, map the result.

use axum::Router;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The whole HTTP application, without a socket (tests call it directly).
pub fn app(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(crate::openapi::routes())
        .merge(crate::auth::routes())
        .merge(crate::admin::routes())
        .merge(crate::sync::routes())
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(RequestDecompressionLayer::new())
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

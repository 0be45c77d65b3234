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
        .merge(crate::reports::routes())
        .merge(crate::blobs::routes())
        .merge(crate::web::routes())
        // Checked by the body extractors, after decompression: a small
        // compressed body cannot expand past it either.
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(RequestDecompressionLayer::new())
        // A body announced larger than the limit is refused before it is read.
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(axum::middleware::map_response(json_too_large))
        // Fastest level: sync pages are large and phones wait for them.
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// tower-http answers an oversized body in plain text; answer it like every
/// other error instead.
async fn json_too_large(response: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse;
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && plain {
        return crate::error::ApiError::TooLarge("请求体过大 / request body too large".into())
            .into_response();
    }
    response
}

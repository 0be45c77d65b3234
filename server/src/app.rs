//! The HTTP routes. Each module contributes its own router; handlers are
//! thin: parse, call the module, map the result.
//!
//! Around them: the body limit (413 whether the body announces its length
//! or arrives chunked), and the headers every answer carries: `nosniff`
//! everywhere, and on the web pages a Content-Security-Policy that allows
//! nothing but this server's own stylesheet and forms (the pages have no
//! scripts and no inline styles), no framing, no referrer to other sites.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// The policy of the web pages: this server's stylesheet, images and form
/// targets only; no script at all, no plugin, no framing, no `<base>`.
pub const WEB_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The whole HTTP application, without a socket (tests call it directly).
pub fn app(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(crate::health::healthz))
        .merge(crate::openapi::routes())
        .merge(crate::auth::routes())
        .merge(crate::admin::routes())
        .merge(crate::sync::routes())
        .merge(crate::reports::routes())
        .merge(crate::reveals::routes())
        .merge(crate::roster::routes())
        .merge(crate::blobs::routes())
        .merge(crate::web::routes())
        .merge(crate::hotline::routes())
        // Checked by the body extractors, after decompression: a small
        // compressed body cannot expand past it either, and a chunked body
        // is cut off there (413, as axum recognises its own limit).
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(RequestDecompressionLayer::new())
        // A body announced larger than the limit is refused before it is
        // read. (Not tower-http's RequestBodyLimitLayer: it also wraps the
        // body, and its error, seen through the decompression layer, was
        // no longer recognised as too large: a chunked body over the limit
        // got 400 `unreadable_body`.)
        .layer(axum::middleware::from_fn_with_state(
            max_body,
            refuse_announced_oversized,
        ))
        .layer(axum::middleware::map_response(json_too_large))
        .layer(axum::middleware::from_fn(security_headers))
        // Fastest level: sync pages are large and phones wait for them.
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// 413 for a body whose `Content-Length` is over the limit, unread.
async fn refuse_announced_oversized(
    State(max_body): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > max_body as u64) {
        return ApiError::TooLarge("请求体过大 / request body too large".into()).into_response();
    }
    next.run(request).await
}

/// `nosniff` on every answer; the web pages' policy on `/web`.
async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let web = path == "/web" || path.starts_with("/web/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if web {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(WEB_CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
    }
    response
}

/// axum answers a body over the limit in plain text where an extractor
/// other than ours read it; answer it like every other error instead.
async fn json_too_large(response: Response) -> Response {
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && plain {
        return ApiError::TooLarge("请求体过大 / request body too large".into()).into_response();
    }
    response
}

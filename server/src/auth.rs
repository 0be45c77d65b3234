//! Authentication: passwords (argon2), access and refresh tokens (JWT),
//! and the [`Principal`](crate::principal::Principal) extractor.

/// This module's routes.
pub fn routes() -> axum::Router<crate::state::AppState> {
    axum::Router::new()
}

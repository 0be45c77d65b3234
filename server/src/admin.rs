//! (being written)

/// This module's routes.
pub fn routes() -> axum::Router<crate::state::AppState> {
    axum::Router::new()
}

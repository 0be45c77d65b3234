//! Users, devices, refresh tokens and the territory (streets, communities,
//! grids), behind the [`Directory`] trait so SQLite and PostgreSQL can both
//! serve it.

use async_trait::async_trait;

/// Errors of a directory implementation.
pub type DirectoryError = crate::db::DbError;

/// A grid as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GridInfo {
    /// 15-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// 12-digit community code.
    pub community_code: String,
    /// 9-digit street code.
    pub street_code: String,
}

/// Users, devices and the territory.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Every grid whose code starts with `prefix` (a community or street code).
    async fn grid_codes_under(&self, prefix: &str) -> Result<Vec<String>, DirectoryError>;
    /// One grid.
    async fn grid(&self, code: &str) -> Result<Option<GridInfo>, DirectoryError>;
}

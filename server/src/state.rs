//! The state every handler shares, and how it is opened from a [`Config`].

use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::directory::Directory;
use crate::store::DocStore;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Users, devices, territory.
    pub directory: Arc<dyn Directory>,
    /// Documents and the change log.
    pub docs: Arc<dyn DocStore>,
    /// Token signing and verification keys.
    pub auth: Arc<crate::auth::Keys>,
    /// The issue report read model (overdue and nearly-due lists).
    pub reports: Arc<crate::reports::Reports>,
    /// Photos and attachments.
    pub blobs: Arc<dyn crate::blobs::BlobStore>,
    /// The supervisor web pages: read model, audit log.
    pub web: Arc<crate::web::Web>,
    /// Wrong passwords by username, to lock out guessing.
    pub logins: Arc<crate::auth::throttle::LoginThrottle>,
}

impl AppState {
    /// Open the databases named by `config`, creating the data directory
    /// and migrating the schema as needed.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let calendar = crate::reports::load_calendar(&config.data_dir)
            .context("reading the working calendar")?;
        crate::reports::load_catalogue(&config.data_dir).context("reading the issue catalogue")?;
        if let Some(url) = config.database_url.as_deref() {
            if !crate::pg::is_postgres_url(url) {
                anyhow::bail!(
                    "--database-url must start with postgres:// or postgresql://; omit it to use the embedded SQLite file"
                );
            }
            // Never print the URL: it may carry a password.
            let pool = crate::pg::open(url)
                .await
                .context("opening the PostgreSQL database")?;
            let auth = crate::auth::Keys::load_or_create(&config).context("loading token keys")?;
            let web =
                crate::web::Web::open(&config.data_dir, crate::web::MainDb::Postgres(pool.clone()))
                    .await
                    .context("opening the web read model")?;
            let docs: Arc<dyn DocStore> =
                Arc::new(crate::store::postgres::PgDocStore::new(pool.clone()));
            return Ok(Self {
                web: Arc::new(web),
                directory: Arc::new(crate::directory::postgres::PgDirectory::new(pool.clone())),
                blobs: Arc::new(crate::blobs::postgres::PgBlobStore::new(pool.clone())),
                reports: Arc::new(
                    crate::reports::Reports::postgres(pool.clone(), docs.clone())
                        .with_calendar(calendar),
                ),
                docs,
                auth: Arc::new(auth),
                config: Arc::new(config),
                logins: Arc::default(),
            });
        }
        let pool = crate::db::open(&config.sqlite_path())
            .await
            .with_context(|| format!("opening {}", config.sqlite_path().display()))?;
        let auth = crate::auth::Keys::load_or_create(&config).context("loading token keys")?;
        let web = crate::web::Web::open(&config.data_dir, crate::web::MainDb::Sqlite(pool.clone()))
            .await
            .context("opening the web read model")?;
        let docs: Arc<dyn DocStore> =
            Arc::new(crate::store::sqlite::SqliteDocStore::new(pool.clone()));
        Ok(Self {
            web: Arc::new(web),
            directory: Arc::new(crate::directory::sqlite::SqliteDirectory::new(pool.clone())),
            blobs: Arc::new(
                crate::blobs::files::FileBlobStore::open(
                    pool.clone(),
                    config.data_dir.join("blobs"),
                )
                .context("opening the blob directory")?,
            ),
            reports: Arc::new(
                crate::reports::Reports::sqlite(pool.clone(), docs.clone()).with_calendar(calendar),
            ),
            docs,
            auth: Arc::new(auth),
            config: Arc::new(config),
            logins: Arc::default(),
        })
    }
}

//! Server configuration: from flags and environment variables, with
//! defaults that start a working server on a laptop.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Default of `--min-free-disk-mb`: below it `/healthz` says degraded.
pub const DEFAULT_MIN_FREE_DISK_MB: u64 = 256;

/// How the server is configured.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Directory for the embedded database and generated keys.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of the embedded SQLite file.
    pub database_url: Option<String>,
    /// PEM public key of an external identity provider whose tokens are accepted.
    pub external_jwt_public_key: Option<PathBuf>,
    /// The `iss` the external provider's tokens must carry, if set.
    pub external_jwt_issuer: Option<String>,
    /// An `aud` the external provider's tokens must carry, if set (a
    /// provider serving several applications should always have one, or a
    /// token it issued for another application is accepted here too).
    pub external_jwt_audience: Option<String>,
    /// Lifetime of access tokens, seconds.
    pub access_token_ttl: u64,
    /// Lifetime of refresh tokens, seconds.
    pub refresh_token_ttl: u64,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// Largest photo or attachment accepted, bytes (see [`crate::blobs`]).
    pub max_blob_bytes: u64,
    /// Always mark the web session cookie `Secure` (the pages are served
    /// over HTTPS by a proxy that does not send `X-Forwarded-Proto`).
    pub secure_cookies: bool,
    /// Below this much free space on the data directory's disk `/healthz`
    /// reports storage as degraded, bytes.
    pub min_free_disk_bytes: u64,
}

impl Config {
    /// Defaults with the data directory given.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: data_dir.into(),
            database_url: None,
            external_jwt_public_key: None,
            external_jwt_issuer: None,
            external_jwt_audience: None,
            access_token_ttl: 15 * 60,
            refresh_token_ttl: 30 * 24 * 3600,
            max_body_bytes: 32 * 1024 * 1024,
            max_blob_bytes: crate::blobs::DEFAULT_MAX_BLOB_BYTES,
            secure_cookies: false,
            min_free_disk_bytes: DEFAULT_MIN_FREE_DISK_MB * 1024 * 1024,
        }
    }

    /// The embedded SQLite file.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("gridsync.sqlite3")
    }
}

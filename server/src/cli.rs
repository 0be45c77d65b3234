//! The command line of `gridsync-server`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::state::AppState;

/// gridsync-server: offline-first sync for grid-based community service
/// (网格化服务管理).
#[derive(Debug, Parser)]
#[command(name = "gridsync-server", version, about)]
pub struct Cli {
    /// Where the server keeps its data (the embedded database, keys).
    #[arg(
        long,
        global = true,
        env = "GRIDSYNC_DATA_DIR",
        default_value = "gridsync-data"
    )]
    pub data_dir: PathBuf,
    /// Use PostgreSQL instead of the embedded SQLite file (postgres://…).
    #[arg(long, global = true, env = "GRIDSYNC_DATABASE_URL")]
    pub database_url: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage users and devices.
    Admin(crate::admin::AdminArgs),
    /// Import streets, communities and grids from a JSON or CSV file.
    Import(crate::territory::ImportArgs),
    /// Import a community's resident ledger (台账, XLSX or CSV) as a
    /// person: a dry run, or the import (docs/import.md).
    ImportLedger(crate::import::LedgerArgs),
    /// Seed a realistic demo community (grids, households, users) and print
    /// the demo logins.
    Demo(crate::demo::DemoArgs),
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GRIDSYNC_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// PEM public key of an external identity provider whose JWTs are accepted.
    #[arg(long, env = "GRIDSYNC_EXTERNAL_JWT_KEY")]
    pub external_jwt_key: Option<PathBuf>,
    /// The `iss` the external provider's tokens must carry.
    #[arg(
        long,
        env = "GRIDSYNC_EXTERNAL_JWT_ISSUER",
        requires = "external_jwt_key"
    )]
    pub external_jwt_issuer: Option<String>,
    /// An `aud` the external provider's tokens must carry.
    #[arg(
        long,
        env = "GRIDSYNC_EXTERNAL_JWT_AUDIENCE",
        requires = "external_jwt_key"
    )]
    pub external_jwt_audience: Option<String>,
    /// Seed the demo community first if the database is empty.
    #[arg(long)]
    pub demo: bool,
    /// Largest photo or attachment accepted, bytes.
    #[arg(long, env = "GRIDSYNC_MAX_BLOB_BYTES", default_value_t = crate::blobs::DEFAULT_MAX_BLOB_BYTES)]
    pub max_blob_bytes: u64,
    /// Always mark the web session cookie `Secure`: the pages are served
    /// over HTTPS by a proxy that does not send `X-Forwarded-Proto: https`
    /// (with the header, the cookie is `Secure` anyway).
    #[arg(long, env = "GRIDSYNC_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// `/healthz` reports storage as degraded below this much free space on
    /// the data directory's disk, MiB.
    #[arg(long, env = "GRIDSYNC_MIN_FREE_DISK_MB", default_value_t = crate::config::DEFAULT_MIN_FREE_DISK_MB)]
    pub min_free_disk_mb: u64,
}

impl Cli {
    fn config(&self) -> Config {
        let mut c = Config::with_data_dir(&self.data_dir);
        c.database_url = self.database_url.clone();
        c
    }
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    private_files();
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut config = cli.config();
    private_data_dir(&config.data_dir)?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => {
                config.addr = args.addr;
                config.external_jwt_public_key = args.external_jwt_key;
                config.external_jwt_issuer = args.external_jwt_issuer;
                config.external_jwt_audience = args.external_jwt_audience;
                config.max_blob_bytes = args.max_blob_bytes;
                config.secure_cookies = args.secure_cookies;
                config.min_free_disk_bytes = args.min_free_disk_mb.saturating_mul(1024 * 1024);
                let state = AppState::open(config).await?;
                crate::sync::publish_grids(&state).await?;
                if args.demo {
                    crate::demo::seed_if_empty(&state, &crate::demo::DemoArgs::default()).await?;
                }
                crate::hotline::spawn_dispatcher(state.clone(), crate::hotline::Knobs::from_env());
                serve(state).await
            }
            Command::Admin(args) => {
                let state = AppState::open(config).await?;
                crate::admin::run_cli(&state, args).await
            }
            Command::Import(args) => {
                let state = AppState::open(config).await?;
                crate::territory::run_cli(&state, args).await?;
                let published = crate::sync::publish_grids(&state).await?;
                if published > 0 {
                    println!(
                        "已发布 {published} 个网格文档 / published {published} grid documents"
                    );
                }
                Ok(())
            }
            Command::ImportLedger(args) => {
                let state = AppState::open(config).await?;
                crate::import::run_cli(&state, args).await
            }
            Command::Demo(args) => {
                let state = AppState::open(config).await?;
                crate::demo::run_cli(&state, args).await
            }
        }
    })
}

/// Files this process creates are its user's only (0600, directories
/// 0700): the database, its WAL and shared-memory files, the web read
/// model, blobs and the token secret hold personal data or keys. Set
/// before any thread starts (the umask is the process's).
fn private_files() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Create the data directory 0700, or narrow an existing one to 0700: what
/// is in it stays private whatever mode older versions gave its files.
pub fn private_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder
            .create(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        let mode = std::fs::metadata(dir)
            .with_context(|| format!("reading data directory {}", dir.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            match std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
                Ok(()) => tracing::warn!(
                    path = %dir.display(),
                    "data directory was open to other users; set it to mode 0700"
                ),
                Err(e) => tracing::warn!(
                    path = %dir.display(),
                    error = %e,
                    "data directory is open to other users and could not be set to mode 0700"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    builder
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    Ok(())
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("GRIDSYNC_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    // A log line that cannot be written is skipped and counted (`/healthz`),
    // never a panic: with the log's disk full, requests are still answered.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::health::LogWriter)
        .log_internal_errors(false)
        .try_init();
}

/// Serve until Ctrl-C or SIGTERM, then finish the requests under way.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let addr = state.config.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(%local, data_dir = %state.config.data_dir.display(), "gridsync-server listening");
    // Tests and scripts read this line to learn the port. Not println!:
    // with standard output gone that would panic.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{local}").and_then(|()| out.flush());
    }
    axum::serve(listener, crate::app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

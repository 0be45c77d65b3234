//! The test harness of every crate's tests and the server's benchmarks:
//! the real `gridsync-server` binary started on a free loopback port
//! ([`TestServer`]) and throwaway PostgreSQL databases ([`PgDatabase`]).
//! It spawns binaries and talks HTTP and SQL only, never the server's
//! types, so the server crate can dev-depend on it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg;
mod server;

pub use pg::{DATABASE_URL_VAR, PgDatabase, REQUIRE_VAR};
pub use server::{DataDir, Options, TestServer, client_bin, server_bin};

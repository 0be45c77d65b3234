//! The `gridsync-server` binary: `serve`, `admin …`, `import …`, `demo`.

use clap::Parser;

// Under load glibc malloc kept about ten times the live heap resident
// (BENCHMARKS.md, server memory); jemalloc gives it back.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let cli = gridsync_server::cli::Cli::parse();
    if let Err(e) = gridsync_server::cli::run(cli) {
        // Print the error chain once (the ripgrep way), no backtrace.
        eprintln!("错误 / error: {e:#}");
        std::process::exit(1);
    }
}

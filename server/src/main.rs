//! The `gridsync-server` binary: `serve`, `admin …`, `import …`, `demo`.

use clap::Parser;

// Under load glibc malloc kept about ten times the live heap resident
// (BENCHMARKS.md, server memory); jemalloc gives it back. Its options
// (one arena) are compiled in: .cargo/config.toml.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Stack of each worker of the CPU pool (decoding and deciding pushes).
/// A worker blocked in a join runs other pushes' jobs on its own stack, so
/// under many concurrent pushes jobs nest; loading an Automerge document
/// takes some 20 KB of stack in an optimised build. Reserved address
/// space only: pages are used as touched.
const WORKER_STACK: usize = 16 << 20;

fn main() {
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .stack_size(WORKER_STACK)
        .build_global()
    {
        fail(&format!("CPU worker pool: {e}"));
    }
    let cli = gridsync_server::cli::Cli::parse();
    if let Err(e) = gridsync_server::cli::run(cli) {
        // Print the error chain once (the ripgrep way), no backtrace.
        fail(&format!("{e:#}"));
    }
}

/// Say why on standard error (if it can be written: eprintln! would
/// panic) and exit 1.
fn fail(why: &str) -> ! {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "错误 / error: {why}");
    std::process::exit(1);
}

//! The `gridsync-server` binary: `serve`, `admin …`, `import …`, `demo`.

use clap::Parser;

fn main() {
    let cli = gridsync_server::cli::Cli::parse();
    if let Err(e) = gridsync_server::cli::run(cli) {
        // Print the error chain once (the ripgrep way), no backtrace.
        eprintln!("错误 / error: {e:#}");
        std::process::exit(1);
    }
}

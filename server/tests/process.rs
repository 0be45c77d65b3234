//! The server binary's process settings.

/// The server allocates from one jemalloc arena (.cargo/config.toml): with
/// jemalloc's default of four per core, a supervisor's 20-grid pull peaked
/// 25–50 MB higher (BENCHMARKS.md, "Server memory").
#[test]
fn the_server_allocates_from_one_arena() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
        .arg("--version")
        // Added to the compiled-in options: print them at exit.
        .env("_RJEM_MALLOC_CONF", "stats_print:true")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stats = String::from_utf8_lossy(&out.stderr);
    assert!(
        stats.lines().any(|l| l.trim() == "opt.narenas: 1"),
        "jemalloc's options at exit:\n{}",
        stats.lines().take(40).collect::<Vec<_>>().join("\n")
    );
}

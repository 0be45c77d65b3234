//! The real `gridsync-server` for the benchmarks, through the harness
//! ([`gridsync_tests::TestServer`], the tests' too): started on a data
//! directory of the bench's, logging at GRIDSYNC_BENCH_LOG (default
//! `warn`); its peak memory; the photo benches' community; photos.

#![allow(dead_code)] // each bench uses what it needs

use std::path::Path;

pub(crate) use gridsync_tests::TestServer as Server;

/// Start on a free loopback port, on the embedded SQLite in `data` or on
/// `database_url`.
pub(crate) fn start(data: &Path, database_url: Option<&str>) -> Server {
    start_wrapped(data, database_url, None)
}

/// Like [`start`], run under `wrap` (a tool and its arguments, e.g.
/// `heaptrack`) if given.
pub(crate) fn start_wrapped(data: &Path, database_url: Option<&str>, wrap: Option<&str>) -> Server {
    let log = std::env::var("GRIDSYNC_BENCH_LOG").unwrap_or_else(|_| "warn".into());
    Server::options()
        .data_dir(data)
        .database_url(database_url)
        .wrap(wrap)
        .env(&[("GRIDSYNC_LOG", &log)])
        .start()
}

/// Peak resident memory (VmHWM) in a `/proc/<pid>/status` file, MB.
pub(crate) fn peak_mb_of(status: &str) -> f64 {
    std::fs::read_to_string(status)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Peak resident memory of the server process so far, MB.
pub(crate) fn peak_mb(server: &Server) -> f64 {
    peak_mb_of(&format!("/proc/{}/status", server.pid()))
}

/// Reset the server's peak to its current resident size (Linux
/// `clear_refs` 5).
pub(crate) fn reset_peak(server: &Server) {
    let _ = std::fs::write(format!("/proc/{}/clear_refs", server.pid()), "5");
}

/// The community 幸福社区 with one grid (`grid`), its grid worker `w1` and
/// the community's supervisor `sup`, both with `password`: the set-up of
/// the photo benches.
pub(crate) fn one_grid_community(server: &Server, grid: &str, password: &str) {
    let community = &grid[..12];
    server.import_territory(
        &serde_json::json!({"streets": [{"code": &grid[..9], "name": "建国门街道",
        "communities": [{"code": community, "name": "幸福社区",
            "grids": [{"code": grid, "name": "第一网格"}]}]}]}),
    );
    server.add_user("w1", "grid_worker", &[grid], None, password);
    server.add_user("sup", "supervisor", &[], Some(community), password);
}

/// A real JPEG of `w`×`h` pixels that does not compress (noise at quality
/// 95): about 2 MB at 1100×800, 1 MB at 780×560.
pub(crate) fn noise_jpeg(seed: u32, w: u32, h: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let b = state.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode_image(&img)
        .unwrap();
    out
}

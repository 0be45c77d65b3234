//! The real `gridsync-server` release binary, run by the benchmarks on
//! loopback: start it, read the address it listens on, run its admin
//! commands, read its peak memory, kill it on drop.

#![allow(dead_code)] // each bench uses what it needs

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The release server binary beside the bench executable.
pub(crate) fn server_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("gridsync-server");
    assert!(
        bin.exists(),
        "build it first: cargo build --release -p gridsync-server"
    );
    bin
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

/// A running server process (logging at GRIDSYNC_BENCH_LOG, default
/// `warn`), killed on drop.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) url: String,
    pub(crate) data: PathBuf,
    database_url: Option<String>,
    wrap: Option<String>,
}

impl Server {
    /// Start on a free loopback port, on the embedded SQLite in `data` or
    /// on `database_url`.
    pub(crate) fn start(data: &Path, database_url: Option<&str>) -> Server {
        Server::start_with(data, database_url, "127.0.0.1:0", None)
    }

    /// Start on `addr`, run under `wrap` (a tool and its arguments, e.g.
    /// `heaptrack`) if given.
    pub(crate) fn start_with(
        data: &Path,
        database_url: Option<&str>,
        addr: &str,
        wrap: Option<&str>,
    ) -> Server {
        let mut s = Server {
            child: None,
            url: String::new(),
            data: data.to_path_buf(),
            database_url: database_url.map(String::from),
            wrap: wrap.map(String::from),
        };
        s.spawn(addr);
        s
    }

    fn spawn(&mut self, addr: &str) {
        let wrap = self.wrap.clone().unwrap_or_default();
        let mut cmd = match wrap.split_whitespace().collect::<Vec<_>>().split_first() {
            Some((tool, args)) => {
                let mut c = Command::new(tool);
                c.args(args).arg(server_bin());
                c
            }
            None => Command::new(server_bin()),
        };
        cmd.arg("--data-dir").arg(&self.data);
        if let Some(db) = &self.database_url {
            cmd.args(["--database-url", db]);
        }
        let mut child = cmd
            .args(["serve", "--addr", addr])
            .env(
                "GRIDSYNC_LOG",
                std::env::var("GRIDSYNC_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        // A wrapping tool may print first: the server's line is the one.
        while reader.read_line(&mut line).unwrap() > 0 && !line.starts_with("listening on ") {
            line.clear();
        }
        self.url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("server did not start: {line:?}"))
            .to_string();
        // Keep reading what it prints, so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        self.child = Some(child);
    }

    /// Run `gridsync-server <args>` on the same database; panics if it fails.
    pub(crate) fn cli(&self, args: &[&str]) {
        let mut cmd = Command::new(server_bin());
        cmd.arg("--data-dir").arg(&self.data);
        if let Some(db) = &self.database_url {
            cmd.args(["--database-url", db]);
        }
        let out = cmd.args(args).env("GRIDSYNC_LOG", "warn").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Peak resident memory of the process so far, MB.
    pub(crate) fn peak_mb(&self) -> f64 {
        peak_mb_of(&format!("/proc/{}/status", self.pid()))
    }

    /// Reset the peak to the current resident size (Linux `clear_refs` 5).
    pub(crate) fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// Kill it (SIGKILL).
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kill it, wait `outage`, start it again on the same port.
    pub(crate) fn restart(&mut self, outage: Duration) {
        self.kill();
        std::thread::sleep(outage);
        let addr = self.url.trim_start_matches("http://").to_string();
        // The port may take a moment to be free again.
        while std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.spawn(&addr))).is_err()
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The community 幸福社区 with one grid (`grid`), its grid worker `w1` and
/// the community's supervisor `sup`, both with `password`: the set-up of
/// the photo benches.
pub(crate) fn one_grid_community(server: &Server, dir: &Path, grid: &str, password: &str) {
    let community = &grid[..12];
    let territory = serde_json::json!({"streets": [{"code": &grid[..9], "name": "建国门街道",
        "communities": [{"code": community, "name": "幸福社区",
            "grids": [{"code": grid, "name": "第一网格"}]}]}]});
    let tfile = dir.join("territory.json");
    std::fs::write(&tfile, territory.to_string()).unwrap();
    server.cli(&["import", tfile.to_str().unwrap()]);
    for (user, role, extra) in [
        ("w1", "grid_worker", ["--grids", grid]),
        ("sup", "supervisor", ["--subtree", community]),
    ] {
        server.cli(&[
            "admin",
            "user",
            "add",
            "--username",
            user,
            "--name",
            "测试",
            "--role",
            role,
            extra[0],
            extra[1],
            "--password",
            password,
        ]);
    }
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

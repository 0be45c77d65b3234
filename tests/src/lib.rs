//! Test support for end-to-end tests: start the real `gridsync-server`
//! binary on a free loopback port with a temporary database, run its admin
//! commands, kill and restart it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built `gridsync-server` binary (built by `cargo build --workspace`,
/// which `scripts/test` runs before the tests).
pub fn server_bin() -> PathBuf {
    bin("gridsync-server")
}

/// The built `gridsync` command-line client.
pub fn client_bin() -> PathBuf {
    bin("gridsync")
}

fn bin(name: &str) -> PathBuf {
    // target/<profile>/deps/<test binary> → target/<profile>/<name>
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: build it first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// A running server with its own data directory.
pub struct TestServer {
    child: Option<Child>,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    port: u16,
    /// The data directory (database, keys).
    pub data: tempfile::TempDir,
    /// Environment variables the server process is started with.
    env: Vec<(String, String)>,
}

impl TestServer {
    /// Start a server on a free port with an empty database.
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// Like [`TestServer::start`], the process (every restart, every
    /// [`TestServer::cli`] command) started with these environment
    /// variables set too.
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut s = Self {
            child: None,
            url: String::new(),
            port: 0,
            data,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        s.spawn(0);
        s
    }

    fn spawn(&mut self, port: u16) {
        let mut child = Command::new(server_bin())
            .arg("--data-dir")
            .arg(self.data.path())
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("GRIDSYNC_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start gridsync-server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not report its address");
        self.port = url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap();
        self.url = url;
        self.child = Some(child);
        self.wait_healthy();
    }

    fn wait_healthy(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if reqwest::blocking::get(format!("{}/healthz", self.url))
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server not healthy");
    }

    /// Kill the server at once (SIGKILL): no graceful shutdown.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again on the same port and data directory.
    pub fn restart(&mut self) {
        self.kill();
        let port = self.port;
        let start = Instant::now();
        loop {
            // The port may linger briefly after a kill.
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.spawn(port)));
            if result.is_ok() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "server did not restart"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Run `gridsync-server --data-dir … <args>` (admin, import) and
    /// return its output; panics with the output if it fails.
    pub fn cli(&self, args: &[&str]) -> Output {
        let out = self.cli_unchecked(args);
        assert!(
            out.status.success(),
            "gridsync-server {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Like [`TestServer::cli`] but returns a failure too.
    pub fn cli_unchecked(&self, args: &[&str]) -> Output {
        Command::new(server_bin())
            .arg("--data-dir")
            .arg(self.data.path())
            .args(args)
            .env("GRIDSYNC_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run gridsync-server")
    }

    /// Import a territory given as JSON.
    pub fn import_territory(&self, json: &serde_json::Value) {
        let path = self.data.path().join("territory.json");
        std::fs::write(&path, serde_json::to_vec(json).unwrap()).unwrap();
        self.cli(&["import", path.to_str().unwrap()]);
    }

    /// Create a user with a password.
    pub fn add_user(
        &self,
        username: &str,
        role: &str,
        grids: &[&str],
        subtree: Option<&str>,
        password: &str,
    ) {
        let mut args = vec![
            "admin",
            "user",
            "add",
            "--username",
            username,
            "--name",
            username,
            "--role",
            role,
            "--password",
            password,
        ];
        let grids = grids.join(",");
        if !grids.is_empty() {
            args.extend(["--grids", &grids]);
        }
        if let Some(s) = subtree {
            args.extend(["--subtree", s]);
        }
        self.cli(&args);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

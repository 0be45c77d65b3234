//! The real `gridsync-server` binary, for tests and benchmarks alike: start
//! it on a free loopback port (a temporary data directory or one given, on
//! SQLite or a PostgreSQL URL, under a wrapping tool if asked), run its
//! admin commands on the same data, kill and restart it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built `gridsync-server` binary (built by `cargo build --workspace`,
/// which `scripts/test` runs before the tests; cargo builds it for the
/// server crate's own tests and benches).
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

/// The server's data directory: a temporary one (removed on drop) or one
/// the caller gave.
pub struct DataDir {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl DataDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How to start a [`TestServer`]: [`TestServer::options`], then
/// [`Options::start`].
#[derive(Default)]
pub struct Options {
    data_dir: Option<PathBuf>,
    files: Vec<PathBuf>,
    database_url: Option<String>,
    env: Vec<(String, String)>,
    wrap: Option<String>,
    serve_args: Vec<String>,
    stderr: Option<PathBuf>,
}

impl Options {
    /// On this data directory instead of a temporary one.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    /// With a copy of `file` in the data directory (e.g. another server's
    /// `jwt-secret`, so its tokens work here too).
    pub fn copy_in(mut self, file: &Path) -> Self {
        self.files.push(file.to_path_buf());
        self
    }

    /// On this PostgreSQL database (`--database-url`) instead of SQLite.
    pub fn database_url(mut self, url: Option<&str>) -> Self {
        self.database_url = url.map(str::to_owned);
        self
    }

    /// With these environment variables (every restart and
    /// [`TestServer::cli`] command too).
    pub fn env(mut self, env: &[(&str, &str)]) -> Self {
        self.env
            .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }

    /// Under `wrap`, a tool and its arguments (e.g. `heaptrack`), if given.
    pub fn wrap(mut self, wrap: Option<&str>) -> Self {
        self.wrap = wrap.map(str::to_owned).filter(|w| !w.trim().is_empty());
        self
    }

    /// With these arguments after `serve --addr …` (e.g.
    /// `--secure-cookies`).
    pub fn serve_args(mut self, args: &[&str]) -> Self {
        self.serve_args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Its standard error appended to `file` (e.g. `/dev/full`) instead of
    /// the test's.
    pub fn stderr_to(mut self, file: &Path) -> Self {
        self.stderr = Some(file.to_path_buf());
        self
    }

    pub fn start(self) -> TestServer {
        let data = match self.data_dir {
            // The server makes it (and keeps it private) if it is new.
            Some(path) => DataDir { path, _temp: None },
            None => {
                let temp = tempfile::tempdir().expect("a temporary data directory");
                DataDir {
                    path: temp.path().to_path_buf(),
                    _temp: Some(temp),
                }
            }
        };
        for file in &self.files {
            let name = file.file_name().expect("a file name");
            std::fs::copy(file, data.path().join(name)).expect("copy into the data directory");
        }
        let mut s = TestServer {
            child: None,
            url: String::new(),
            port: 0,
            data,
            database_url: self.database_url,
            env: self.env,
            wrap: self.wrap,
            serve_args: self.serve_args,
            stderr: self.stderr,
        };
        s.spawn(0);
        s
    }
}

/// A running server, killed on drop.
pub struct TestServer {
    child: Option<Child>,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    port: u16,
    /// The data directory (database, keys).
    pub data: DataDir,
    database_url: Option<String>,
    /// Environment variables the server process is started with.
    env: Vec<(String, String)>,
    wrap: Option<String>,
    serve_args: Vec<String>,
    stderr: Option<PathBuf>,
}

impl TestServer {
    /// Start a server on a free port with an empty database.
    pub fn start() -> Self {
        Self::options().start()
    }

    /// Like [`TestServer::start`], the process (every restart, every
    /// [`TestServer::cli`] command) started with these environment
    /// variables set too.
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        Self::options().env(env).start()
    }

    /// Start it some other way: data directory, its files, database,
    /// arguments, standard error, tool.
    pub fn options() -> Options {
        Options::default()
    }

    /// `gridsync-server --data-dir … [--database-url …]`, logging at
    /// `warn` unless the environment given says otherwise.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        self.server_args(&mut cmd);
        cmd
    }

    fn server_args(&self, cmd: &mut Command) {
        cmd.arg("--data-dir").arg(self.data.path());
        if let Some(db) = &self.database_url {
            cmd.args(["--database-url", db]);
        }
        cmd.env("GRIDSYNC_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
    }

    fn spawn(&mut self, port: u16) {
        let wrap = self.wrap.clone().unwrap_or_default();
        let mut cmd = match wrap.split_whitespace().collect::<Vec<_>>().split_first() {
            Some((tool, args)) => {
                let mut c = Command::new(tool);
                c.args(args).arg(server_bin());
                self.server_args(&mut c);
                c
            }
            None => self.command(&server_bin()),
        };
        let stderr = match &self.stderr {
            Some(file) => std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(file)
                .map(Stdio::from)
                .expect("open the server's standard error"),
            None => Stdio::inherit(),
        };
        let mut child = cmd
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args(&self.serve_args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start gridsync-server");
        let stdout = child.stdout.take().expect("the server's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Read all it prints (a wrapping tool may print first), so it
        // never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let status = child.try_wait();
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not report its address (exit: {status:?})");
            }
        };
        self.port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the address");
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

    /// The server process's id (0 when it is not running).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether the process still runs (it has not exited).
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
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
        self.command(&server_bin())
            .args(args)
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

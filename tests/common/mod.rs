//! Helpers shared by the test files: a real server, external tools, the
//! reference trace, temp dirs, and the one rule for skipping a test whose
//! tool is missing (loudly, and never under `CI=true`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `hotset` server process on a free port, killed when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Server {
    /// Starts `hotset --port 0` plus `args` (and `--sweep-hz 0` unless
    /// `args` set it).
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotset"))
            .args(["--port", "0"])
            // No sweeper unless the test asks for one.
            .args(if args.contains(&"--sweep-hz") {
                &[][..]
            } else {
                &["--sweep-hz", "0"][..]
            })
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hotset");
        let port = listening_port(&mut child);
        Server { child, port }
    }

    /// A connection with a 10 s read timeout.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Sends `req`, half-closes, and returns everything the server sent
    /// until it closed: what `echo … | nc -N` shows.
    pub fn nc(&self, req: &[u8]) -> Vec<u8> {
        let mut s = self.connect();
        s.write_all(req).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        out
    }
}

/// The port of the first `hotset: listening on …` line a server spawned
/// with its stdout piped prints.
pub fn listening_port(child: &mut Child) -> u16 {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout piped"))
        .read_line(&mut line)
        .unwrap();
    line.trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command that runs an external tool (looked up on PATH, then in
/// /usr/sbin, where Debian puts daemons). When it is absent the test skips
/// loudly, unless `CI=true`, where a missing tool fails the test.
pub fn find_tool(tool: &str, package: &str, test: &str) -> Option<String> {
    for cmd in [tool.to_string(), format!("/usr/sbin/{tool}")] {
        if Command::new(&cmd).arg("--help").output().is_ok() {
            return Some(cmd);
        }
    }
    skip_unless_ci(
        test,
        &format!("{tool} not installed (apt-get install {package})"),
    );
    None
}

/// Skips `test` for `why`, loudly; under `CI=true`, where every tool is
/// installed, fails it instead. Call it where the test returns early.
pub fn skip_unless_ci(test: &str, why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "{test}: {why}, and CI=true requires it");
    eprintln!("\n*** SKIPPED {test}: {why} ***\n");
}

/// A fresh directory of its own under the system temp dir, removed when
/// dropped (kept if the test failed, to look at).
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// `hotset-<name>-<pid>-<n>`, empty.
    pub fn new(name: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hotset-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    /// Writes a workload spec (TOML) here as `w.toml` and returns its path.
    pub fn spec(&self, toml: &str) -> std::path::PathBuf {
        let p = self.join("w.toml");
        std::fs::write(&p, toml).expect("write spec");
        p
    }
}

/// The directory's path: `dir.join(…)`, `&dir` where a `&Path` goes.
impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A free local TCP port (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The reference trace (`../shared/traces/cloudPhysicsIO.oracleGeneral.bin`),
/// if it is there. When it is not, the test skips loudly, unless `CI=true`,
/// where its absence fails the test.
pub fn reference_trace() -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/traces/cloudPhysicsIO.oracleGeneral.bin");
    if path.exists() {
        return Some(path);
    }
    skip_unless_ci(
        "this test",
        &format!("no reference trace at {}", path.display()),
    );
    None
}

/// A Python that can import `module`.
pub fn python_with(module: &str, pin: &str, test: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("HOTSET_PYTHON")
        .map_or_else(|| root.join("target/pyenv/bin/python"), PathBuf::from);
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    skip_unless_ci(
        test,
        &format!(
            "no {module}=={pin} at {} (target/pyenv/bin/pip install {module}=={pin})",
            python.display()
        ),
    );
    None
}

/// Runs `cmd`, expects it to succeed (else fails with its stderr), and
/// returns its stdout's lines.
pub fn stdout_lines(cmd: &mut Command) -> Vec<String> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.to_string())
        .collect()
}

/// Runs `tests/clients/<script>` with `args` under `python`, and expects
/// it to succeed and print "ok:" first.
pub fn run_client_script(python: &std::path::Path, script: &str, args: &[&str]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(script);
    let out = Command::new(python)
        .arg(&path)
        .args(args)
        .output()
        .expect("run python");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.starts_with("ok:"),
        "{script} {args:?}:\n{text}"
    );
}

/// A spawned server that is killed when dropped, so that a failing test
/// leaves no process behind.
pub struct Spawned(pub Child);

impl std::ops::Deref for Spawned {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

//! Helpers shared by the test files: a real server, external tools, and the
//! reference trace.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
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
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
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
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "{tool} ({package}) is required when CI=true");
    eprintln!("\n*** SKIPPED {test}: {tool} not installed (apt-get install {package}) ***\n");
    None
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
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "the reference trace {} is required when CI=true",
        path.display()
    );
    eprintln!(
        "\n*** SKIPPED: reference trace not found at {} ***\n",
        path.display()
    );
    None
}

//! memcached 1.6.18's own test files (`t/*.t` from its Debian source
//! package), each run with `prove` against a fresh hotset through
//! `T_MEMD_USE_DAEMON`, one test per file so that a failing file names
//! itself. memcached itself passes every file here run the same way.
//!
//! `.ci/run` unpacks the source into `target/memcached-src` (or set
//! `MEMCACHED_SRC` to a `memcached-1.6.18` directory) and links
//! `memcached-debug` there to the installed `memcached`, which the test
//! library insists exists even in daemon mode. Without them the tests skip
//! loudly, unless `CI=true`, where they fail.
//!
//! Left out, as memcached-specific: `issue_42` (its 48-byte item header),
//! `issue_163` (its class id 31) and `watcher_connid` (its log watcher).
//! `metaget.t` runs from a copy whose extstore block (memcached's flash
//! storage) is switched off: its other 148 tests.

mod common;

use common::Server;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A file may take this long (`getset` and `chunked-items` are the slow
/// ones: seconds).
const FILE_TIMEOUT: Duration = Duration::from_secs(300);

/// The unpacked source, if it is there with `prove` to run it.
fn source(file: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("MEMCACHED_SRC").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/memcached-src/memcached-1.6.18"),
        PathBuf::from,
    );
    let ready = dir.join("t/lib/MemcachedTest.pm").is_file()
        && dir.join("memcached-debug").exists()
        && Command::new("prove").arg("--version").output().is_ok();
    if ready {
        return Some(dir);
    }
    common::skip_unless_ci(
        &format!("t/{file}.t"),
        &format!(
            "no memcached source with memcached-debug at {}, or no prove (see .ci/run)",
            dir.display()
        ),
    );
    None
}

/// Runs `t/<file>.t` (from `dir`, so edited copies can live beside) against
/// a fresh server; panics with prove's output if it does not pass.
fn run_in(dir: &std::path::Path, file: &str) {
    // As `hotset` serves by default: with the sweeper, which reclaims
    // expired items the way memcached's LRU crawler does (issue_14 counts
    // on it).
    let srv = Server::start(&["--sweep-hz", "10"]);
    let mut child = Command::new("prove")
        .arg(format!("t/{file}.t"))
        .current_dir(dir)
        .env("T_MEMD_USE_DAEMON", format!("127.0.0.1:{}", srv.port))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run prove");
    let start = Instant::now();
    while child.try_wait().expect("wait for prove").is_none() {
        if start.elapsed() > FILE_TIMEOUT {
            let _ = child.kill();
            panic!("t/{file}.t ran past {FILE_TIMEOUT:?} against hotset");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("prove's output");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("Result: PASS"),
        "t/{file}.t fails against hotset:\n{}",
        text.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn run(file: &str) {
    if let Some(dir) = source(file) {
        run_in(&dir, file);
    }
}

#[test]
fn metaget() {
    let Some(dir) = source("metaget") else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("t/metaget.t")).expect("read t/metaget.t");
    let off = "if (supports_extstore()) {";
    assert_eq!(
        text.matches(off).count(),
        1,
        "metaget.t's extstore block moved"
    );
    // Beside the original, so that its `use lib "$Bin/lib"` still finds
    // the test library.
    let copy = dir.join("t/metaget-hotset.t");
    std::fs::write(&copy, text.replace(off, "if (0) {")).expect("write the copy");
    run_in(&dir, "metaget-hotset");
}

macro_rules! t_files {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $name() {
                run($file);
            }
        )*
    };
}

t_files! {
    binary_get => "binary-get",
    bogus_commands => "bogus-commands",
    cas => "cas",
    chunked_items => "chunked-items",
    flags => "flags",
    getandtouch => "getandtouch",
    getset => "getset",
    incrdecr => "incrdecr",
    issue_104 => "issue_104",
    issue_108 => "issue_108",
    issue_14 => "issue_14",
    issue_152 => "issue_152",
    issue_192 => "issue_192",
    issue_29 => "issue_29",
    issue_3 => "issue_3",
    issue_41 => "issue_41",
    issue_68 => "issue_68",
    issue_70 => "issue_70",
    line_lengths => "line-lengths",
    malicious_commands => "malicious-commands",
    multiversioning => "multiversioning",
    noreply => "noreply",
    quit => "quit",
    stats_detail => "stats-detail",
    strtol_testing => "strtol-testing",
    touch => "touch",
}

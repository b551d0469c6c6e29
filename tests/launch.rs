//! memcached's command line: its launch lines start hotset unchanged, and
//! its flags mean what they mean there.

mod common;

use common::{free_port, TempDir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `hotset` with exactly `args`, and returns it with the addresses
/// it printed as listening (waiting for `want` of them).
fn start(args: &[&str], want: usize) -> (Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hotset");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut addrs = Vec::new();
    while addrs.len() < want {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "{args:?}: exited before listening"
        );
        if let Some(a) = line.trim().strip_prefix("hotset: listening on ") {
            addrs.push(a.to_string());
        }
    }
    (child, addrs)
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends `req` and reads until the reply ends with `end`.
fn ask(s: &mut (impl Read + Write), req: &str, end: &str) -> String {
    s.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(end.as_bytes()) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

/// `stats settings` as (name, value) pairs.
fn settings(s: &mut TcpStream) -> Vec<(String, String)> {
    ask(s, "stats settings\r\n", "END\r\n")
        .lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn setting(all: &[(String, String)], name: &str) -> String {
    all.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} in stats settings"))
}

fn set_get(s: &mut TcpStream) {
    assert_eq!(ask(s, "set k 5 0 2\r\nhi\r\n", "\r\n"), "STORED\r\n");
    assert_eq!(
        ask(s, "get k\r\n", "END\r\n"),
        "VALUE k 5 2\r\nhi\r\nEND\r\n"
    );
}

fn stop(mut child: Child) {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(child.wait().unwrap().success());
}

/// The uid `user` has in /etc/passwd.
fn uid_of(user: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find(|l| l.split(':').next() == Some(user))
        .and_then(|l| l.split(':').nth(2)?.parse().ok())
}

/// A process's effective uid, from /proc.
fn euid(pid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap()
}

/// memcached's systemd unit: `memcached -p ${PORT} -u ${USER} -m
/// ${CACHESIZE} -c ${MAXCONN} $OPTIONS`, with the unit's defaults (USER
/// nobody, CACHESIZE 64, MAXCONN 1024, no OPTIONS) and a free port.
#[test]
fn memcacheds_systemd_line_starts_hotset() {
    let port = free_port().to_string();
    let (child, addrs) = start(&["-p", &port, "-u", "nobody", "-m", "64", "-c", "1024"], 1);
    assert_eq!(addrs, [format!("127.0.0.1:{port}")]);
    let mut s = connect(&addrs[0]);
    set_get(&mut s);
    let st = settings(&mut s);
    assert_eq!(setting(&st, "maxbytes"), (64u64 << 20).to_string());
    assert_eq!(setting(&st, "maxconns"), "1024");
    assert_eq!(setting(&st, "tcpport"), port);
    // As root, -u drops to the user; otherwise memcached ignores it.
    if euid(std::process::id()) == 0 {
        let nobody = uid_of("nobody").expect("a nobody user");
        assert_eq!(euid(child.id()), nobody, "-u nobody is not in effect");
    }
    stop(child);
}

/// The Docker library image's command: `memcached --conn-limit=1024
/// --memory-limit=64 --threads=4`, on hotset's default port.
#[test]
fn the_docker_images_command_starts_hotset() {
    let (child, addrs) = start(
        &["--conn-limit=1024", "--memory-limit=64", "--threads=4"],
        1,
    );
    assert_eq!(addrs, ["127.0.0.1:11212"]);
    let mut s = connect(&addrs[0]);
    set_get(&mut s);
    let st = settings(&mut s);
    assert_eq!(setting(&st, "maxbytes"), (64u64 << 20).to_string());
    assert_eq!(setting(&st, "maxconns"), "1024");
    assert_eq!(setting(&st, "num_threads"), "4");
    stop(child);
}

/// `-l` takes lists and repeats; every listener serves the one cache.
#[test]
fn several_listeners_serve_one_cache() {
    let (child, addrs) = start(
        &[
            "-o",
            "slab_reassign,slab_automove",
            "-p",
            "0",
            "-l",
            "127.0.0.1,notls:127.0.0.1:0",
            "-l",
            "127.0.0.1:0",
            "-b",
            "64",
        ],
        3,
    );
    let mut a = connect(&addrs[0]);
    set_get(&mut a);
    for other in &addrs[1..] {
        let mut b = connect(other);
        assert_eq!(
            ask(&mut b, "get k\r\n", "END\r\n"),
            "VALUE k 5 2\r\nhi\r\nEND\r\n"
        );
    }
    let st = settings(&mut a);
    assert_eq!(setting(&st, "tcp_backlog"), "64");
    assert_eq!(
        setting(&st, "slab_automove"),
        "1",
        "a bare -o slab_automove is 1"
    );
    assert_eq!(
        setting(&st, "inter"),
        "127.0.0.1:0,notls:127.0.0.1:0,127.0.0.1:0"
    );
    stop(child);
}

/// `shutdown` stops the server only under -A, as in memcached.
#[test]
fn shutdown_needs_enable_shutdown() {
    let (child, addrs) = start(&["-p", "0"], 1);
    let mut s = connect(&addrs[0]);
    assert_eq!(
        ask(&mut s, "shutdown\r\n", "\r\n"),
        "ERROR: shutdown not enabled\r\n"
    );
    stop(child);

    let (mut child, addrs) = start(&["-p", "0", "-A"], 1);
    let mut s = connect(&addrs[0]);
    s.write_all(b"shutdown\r\n").unwrap();
    let mut rest = Vec::new();
    assert!(s.read_to_end(&mut rest).is_ok(), "the connection closes");
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "{st:?}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `-d -P FILE`: the command returns, the daemon serves, its pid is in the
/// file, and the file goes when it stops.
#[test]
fn daemon_and_pidfile() {
    let dir = TempDir::new("launch");
    let pidfile = dir.join("hotset.pid");
    let port = free_port().to_string();
    let st = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args([
            "-d",
            "-P",
            pidfile.to_str().unwrap(),
            "-p",
            &port,
            "--sweep-hz",
            "0",
        ])
        .status()
        .unwrap();
    assert!(st.success(), "-d returns at once: {st:?}");
    let t = Instant::now();
    let mut s = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())) {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the daemon never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    set_get(&mut s);
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let t = Instant::now();
    while pidfile.exists() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the daemon did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// memcached's flags that hotset cannot honour yet, or whose values it
/// cannot take, are refused with a reason, before anything starts.
#[test]
fn memcached_flags_hotset_refuses_say_why() {
    for (args, why) in [
        (&["-U", "11211"][..], "no UDP"),
        (&["-B", "binary"], "text protocols only"),
        (&["-o", "no_such_thing"], "unknown option"),
        (&["-o", "hashpower=3"], "12 to 64"),
        (&["-o", "idle_timeout"], "needs a value"),
        (&["-Z", "-o", "ssl_key=k.pem"], "ssl_chain_cert"),
        (&["-l", "127.0.0.1:99999"], "not a port"),
        (&["-e", "/no/such/dir/mem"], "-e /no/such/dir/mem"),
        (&["-n", "0"], "slab-min-size"),
        (
            &["-n", "48", "--slab-classes", "64,128"],
            "cannot be used with",
        ),
        (&["-u", "no-such-user-here", "-p", "0"], "no such user"),
    ] {
        if args[0] == "-u" && euid(std::process::id()) != 0 {
            continue; // not root: memcached ignores -u, and so does hotset
        }
        let out = Command::new(env!("CARGO_BIN_EXE_hotset"))
            .args(args)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

fn stat_of(s: &mut TcpStream, name: &str) -> String {
    let all: Vec<(String, String)> = ask(s, "stats\r\n", "END\r\n")
        .lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    setting(&all, name)
}

fn num(s: &mut TcpStream, name: &str) -> u64 {
    let v = stat_of(s, name);
    v.parse()
        .unwrap_or_else(|_| panic!("{name} {v:?} is not a count"))
}

/// The keys prometheus' memcached_exporter reads, with memcached's
/// meanings, and `stats reset` clearing the counters among them.
#[test]
fn the_exporters_stats_are_there() {
    let (child, addrs) = start(&["-p", "0", "-I", "2k", "--sweep-hz", "0"], 1);
    let mut s = connect(&addrs[0]);
    set_get(&mut s);
    // One value refused by the server before it arrives, one by the engine
    // (an append that pushes the item past 2 KiB).
    let big = "x".repeat(4000);
    assert!(ask(&mut s, &format!("set big 0 0 4000\r\n{big}\r\n"), "\r\n").contains("too large"));
    // 2,027 bytes pass alone; appended to "hi" they do not.
    let tail = "y".repeat(2027);
    let r = ask(&mut s, &format!("append k 0 0 2027\r\n{tail}\r\n"), "\r\n");
    assert!(r.starts_with("SERVER_ERROR"), "{r}");
    assert_eq!(ask(&mut s, "touch k 100\r\n", "\r\n"), "TOUCHED\r\n");
    let read = num(&mut s, "bytes_read");
    assert!(read > 4000, "bytes_read {read}");
    assert!(num(&mut s, "bytes_written") > 30);
    assert_eq!(num(&mut s, "store_too_large"), 2);
    assert_eq!(num(&mut s, "store_no_memory"), 0);
    assert_eq!(num(&mut s, "cmd_touch"), 1);
    assert_eq!(num(&mut s, "accepting_conns"), 1);
    assert_eq!(num(&mut s, "listen_disabled_num"), 0);
    assert!(num(&mut s, "connection_structures") >= 2);
    for k in [
        "conn_yields",
        "get_expired",
        "get_flushed",
        "auth_cmds",
        "auth_errors",
    ] {
        num(&mut s, k);
    }
    for k in ["rusage_user", "rusage_system"] {
        let v = stat_of(&mut s, k);
        let (sec, us) = v.split_once('.').unwrap_or_else(|| panic!("{k} {v}"));
        assert!(sec.parse::<u64>().is_ok() && us.len() == 6, "{k} {v}");
    }
    assert_eq!(ask(&mut s, "stats reset\r\n", "\r\n"), "RESET\r\n");
    assert!(
        num(&mut s, "bytes_read") < 100,
        "stats reset clears bytes_read"
    );
    assert_eq!(num(&mut s, "store_too_large"), 0);
    let st = settings(&mut s);
    for (k, v) in [
        ("maxconns_fast", "yes"),
        ("cas_enabled", "yes"),
        ("binding_protocol", "ascii"),
        ("domain_socket", "NULL"),
        ("umask", "700"),
        ("shutdown_command", "no"),
        ("tcp_backlog", "1024"),
    ] {
        assert_eq!(setting(&st, k), v, "stats settings {k}");
    }
    stop(child);

    // ASCII authentication: every attempt counts, failures apart.
    let dir = TempDir::new("auth-stats");
    let users = dir.join("users");
    std::fs::write(&users, "alice:secret\n").unwrap();
    let (child, addrs) = start(&["-p", "0", "-Y", users.to_str().unwrap()], 1);
    let mut s = connect(&addrs[0]);
    assert!(ask(&mut s, "set a 0 0 9\r\nalice bad\r\n", "\r\n").contains("authentication failure"));
    assert_eq!(
        ask(&mut s, "set a 0 0 12\r\nalice secret\r\n", "\r\n"),
        "STORED\r\n"
    );
    assert_eq!(num(&mut s, "auth_cmds"), 2);
    assert_eq!(num(&mut s, "auth_errors"), 1);
    stop(child);
}

/// `-s PATH -a MASK`: a Unix socket with those permissions, instead of TCP;
/// removed on a clean exit. A path that is not a socket is refused.
#[test]
fn a_unix_socket_replaces_tcp() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixStream;
    let dir = TempDir::new("unix");
    let path = dir.join("hotset.sock");
    let p = path.to_str().unwrap();
    let (child, addrs) = start(&["-s", p, "-a", "0660"], 1);
    assert_eq!(addrs, [format!("unix:{p}")]);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660, "{mode:o}");
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(ask(&mut s, "set k 0 0 2\r\nhi\r\n", "\r\n"), "STORED\r\n");
    assert_eq!(
        ask(&mut s, "get k\r\n", "END\r\n"),
        "VALUE k 0 2\r\nhi\r\nEND\r\n"
    );
    let st = ask(&mut s, "stats settings\r\n", "END\r\n");
    assert!(st.contains(&format!("STAT domain_socket {p}\r\n")), "{st}");
    assert!(st.contains("STAT umask 660\r\n"), "{st}");
    stop(child);
    assert!(!path.exists(), "the socket is removed on exit");

    // As root, -u hands the socket to the user: clients still connect,
    // and so does the server's own wake-up, so SIGTERM still stops it.
    if euid(std::process::id()) == 0 {
        let (child, _) = start(&["-s", p, "-u", "nobody"], 1);
        let mut c = UnixStream::connect(&path).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"version\r\n").unwrap();
        let mut buf = [0u8; 64];
        assert!(c.read(&mut buf).unwrap() > 0);
        stop(child);
        let _ = std::fs::remove_file(&path); // nobody may not remove it here
    }

    std::fs::write(&path, "not a socket").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["-s", p])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
}

/// `-R N`: a pipelined connection is served N requests per wakeup, then
/// yields (counted in conn_yields), and every request is still answered.
#[test]
fn reqs_per_event_yields_and_answers_everything() {
    let (child, addrs) = start(&["-p", "0", "-R", "5"], 1);
    let mut s = connect(&addrs[0]);
    set_get(&mut s);
    let batch = "get k\r\n".repeat(100);
    let version = format!("VERSION {}\r\n", env!("CARGO_PKG_VERSION"));
    let all = ask(&mut s, &format!("{batch}version\r\n"), &version);
    assert_eq!(all.matches("VALUE k 5 2\r\nhi\r\nEND\r\n").count(), 100);
    assert!(
        num(&mut s, "conn_yields") >= 19,
        "100 requests at 5 a wakeup"
    );
    assert_eq!(setting(&settings(&mut s), "reqs_per_event"), "5");
    stop(child);
    let out = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["-R", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "-R 0 is refused");
}

/// -M, -C and -n mean what they mean in memcached: a full cache refuses
/// instead of evicting, CAS uniques read 0 and never match, and the
/// smallest chunk holds -n bytes beyond the header.
#[test]
fn no_evictions_no_cas_and_the_smallest_chunk() {
    let port = free_port().to_string();
    let (child, addrs) = start(&["-p", &port, "-M", "-C", "-n", "100", "-m", "2"], 1);
    let mut s = connect(&addrs[0]);
    let all = settings(&mut s);
    assert_eq!(setting(&all, "evictions"), "off");
    assert_eq!(setting(&all, "cas_enabled"), "no");
    assert_eq!(setting(&all, "chunk_size"), "100");
    // memcached -C: gets shows 0, cas always finds a mismatch.
    assert_eq!(ask(&mut s, "set a 0 0 1\r\nx\r\n", "\r\n"), "STORED\r\n");
    let slabs = ask(&mut s, "stats slabs\r\n", "END\r\n");
    let first = slabs.lines().find(|l| l.contains(":chunk_size "));
    assert!(
        first.is_some_and(|l| l.ends_with(":chunk_size 120")),
        "{slabs}"
    );
    assert_eq!(
        ask(&mut s, "gets a\r\n", "END\r\n"),
        "VALUE a 0 1 0\r\nx\r\nEND\r\n"
    );
    assert_eq!(ask(&mut s, "cas a 0 0 1 0\r\ny\r\n", "\r\n"), "EXISTS\r\n");
    assert_eq!(
        ask(&mut s, "cas b 0 0 1 5\r\ny\r\n", "\r\n"),
        "NOT_FOUND\r\n"
    );
    assert_eq!(ask(&mut s, "mg a c v\r\n", "x\r\n"), "VA 1 c0\r\nx\r\n");
    assert_eq!(ask(&mut s, "ms a 1 C5\r\nq\r\n", "\r\n"), "EX\r\n");
    // Meta commands compare with 0, every item's CAS as clients see it:
    // C0 matches, anything else does not (a stale set included).
    assert_eq!(ask(&mut s, "ms a 1 C5 I\r\nq\r\n", "\r\n"), "EX\r\n");
    assert_eq!(ask(&mut s, "ms a 1 MA C0\r\nz\r\n", "\r\n"), "HD\r\n");
    assert_eq!(ask(&mut s, "mg a v\r\n", "xz\r\n"), "VA 2\r\nxz\r\n");
    assert_eq!(ask(&mut s, "md a C7\r\n", "\r\n"), "EX\r\n");
    assert_eq!(ask(&mut s, "md a C0\r\n", "\r\n"), "HD\r\n");
    assert_eq!(ask(&mut s, "set a 0 0 1\r\nx\r\n", "\r\n"), "STORED\r\n");
    // memcached -M: fill 2 MB, then every store is refused, nothing evicted.
    let v = "v".repeat(1000);
    let mut stored = 0;
    let mut refused = 0;
    for i in 0..4000 {
        match ask(&mut s, &format!("set k{i} 0 0 1000\r\n{v}\r\n"), "\r\n").as_str() {
            "STORED\r\n" => stored += 1,
            "SERVER_ERROR out of memory storing object\r\n" => refused += 1,
            r => panic!("set k{i}: {r:?}"),
        }
    }
    assert!(
        stored > 500 && refused > 1000,
        "{stored} stored, {refused} refused"
    );
    assert_eq!(num(&mut s, "evictions"), 0);
    assert_eq!(num(&mut s, "store_no_memory"), refused);
    for i in (0..4000).filter(|i| i % 7 == 0) {
        let r = ask(&mut s, &format!("get k{i}\r\n"), "END\r\n");
        assert!(r.starts_with("VALUE") || i >= stored, "k{i} lost");
    }
    stop(child);
}

/// A server whose stderr and stdout were closed (its supervisor gone)
/// still stops on SIGTERM: its logging never takes the signal thread down.
#[test]
fn sigterm_stops_a_server_whose_stderr_is_closed() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["-p", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hotset");
    common::listening_port(&mut child); // and closes stdout
    drop(child.stderr.take());
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let end = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no exit 10 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

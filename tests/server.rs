//! The server over real TCP: both dialects, the seed README's examples byte
//! for byte, pipelining, noreply, every error of the protocol table, limits,
//! the CLI, and memcached conformance (memccapable).

mod common;

use common::Server;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// Sends `req` and reads exactly `want.len()` bytes, which must equal `want`.
fn exchange(s: &mut TcpStream, req: &[u8], want: &[u8]) {
    s.write_all(req).unwrap();
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got)
        .unwrap_or_else(|e| panic!("reply to {:?}: {e}", String::from_utf8_lossy(req)));
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want),
        "reply to {:?}",
        String::from_utf8_lossy(req)
    );
}

/// Reads byte by byte up to and including a line `END\r\n`.
fn read_until_end(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"END\r\n") {
        s.read_exact(&mut b).unwrap();
        got.push(b[0]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// True if the server closed the connection (EOF) within the timeout.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 256];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn seed_readme_examples_byte_for_byte() {
    let srv = Server::start(&[]);
    // echo -e "SET key1 30 5\r\nhello\r\n" | nc localhost 11212 (echo adds \n)
    assert_eq!(srv.nc(b"SET key1 30 5\r\nhello\r\n\n"), b"STORED\r\n");
    assert_eq!(
        srv.nc(b"GET key1\r\n\n"),
        b"VALUE key1 5\r\nhello\r\nEND\r\n"
    );
    assert_eq!(srv.nc(b"DELETE key1\r\n\n"), b"DELETED\r\n");
    assert_eq!(srv.nc(b"GET key1\r\n"), b"END\r\n");
    assert_eq!(srv.nc(b"DELETE key1\r\n"), b"NOT_FOUND\r\n");
    // netcat without -C: bare \n line endings; and the seed's own lower-case client.
    assert_eq!(
        srv.nc(b"SET k 0 5\nhello\nGET k\n"),
        b"STORED\r\nVALUE k 5\r\nhello\r\nEND\r\n"
    );
    assert_eq!(
        srv.nc(b"set k2 0 3\r\nabc\r\nGET k2\r\nQUIT\r\nGET k2\r\n"),
        b"STORED\r\nVALUE k2 3\r\nabc\r\nEND\r\n"
    );
}

#[test]
fn dialects_share_one_store() {
    let srv = Server::start(&[]);
    let mut s = srv.connect();
    exchange(&mut s, b"set a 42 0 3\r\nxyz\r\n", b"STORED\r\n");
    exchange(&mut s, b"get a\r\n", b"VALUE a 42 3\r\nxyz\r\nEND\r\n");
    exchange(&mut s, b"GET a\r\n", b"VALUE a 3\r\nxyz\r\nEND\r\n");
    exchange(&mut s, b"SET b 0 2\r\nhi\r\n", b"STORED\r\n");
    exchange(
        &mut s,
        b"get a b missing\r\n",
        b"VALUE a 42 3\r\nxyz\r\nVALUE b 0 2\r\nhi\r\nEND\r\n",
    );
    s.write_all(b"gets a\r\n").unwrap();
    let reply = read_until_end(&mut s);
    let first = reply.lines().next().unwrap();
    assert!(first.starts_with("VALUE a 42 3 "), "{reply:?}");
    let cas: u64 = first.rsplit(' ').next().unwrap().parse().unwrap();
    exchange(
        &mut s,
        format!("cas a 1 0 2 {}\r\nzz\r\n", cas + 1).as_bytes(),
        b"EXISTS\r\n",
    );
    exchange(
        &mut s,
        format!("cas a 1 0 2 {cas}\r\nzz\r\n").as_bytes(),
        b"STORED\r\n",
    );
    exchange(&mut s, b"append a 0 0 1\r\n!\r\n", b"STORED\r\n");
    exchange(&mut s, b"prepend a 0 0 1\r\n<\r\n", b"STORED\r\n");
    exchange(&mut s, b"get a\r\n", b"VALUE a 1 4\r\n<zz!\r\nEND\r\n");
    exchange(
        &mut s,
        b"set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\n",
        b"STORED\r\n15\r\n0\r\n",
    );
    exchange(&mut s, b"incr nope 1\r\n", b"NOT_FOUND\r\n");
    exchange(
        &mut s,
        b"incr a 1\r\n",
        b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    exchange(
        &mut s,
        b"touch a 100\r\ntouch nope 1\r\n",
        b"TOUCHED\r\nNOT_FOUND\r\n",
    );
    exchange(&mut s, b"gat 100 a\r\n", b"VALUE a 1 4\r\n<zz!\r\nEND\r\n");
    exchange(
        &mut s,
        b"add a 0 0 1\r\nq\r\nreplace zz 0 0 1\r\nq\r\n",
        b"NOT_STORED\r\nNOT_STORED\r\n",
    );
    exchange(&mut s, b"flush_all\r\nget a\r\n", b"OK\r\nEND\r\n");
    exchange(
        &mut s,
        b"version\r\n",
        format!("VERSION {}\r\n", env!("CARGO_PKG_VERSION")).as_bytes(),
    );
    exchange(&mut s, b"verbosity 1\r\n", b"OK\r\n");
    s.write_all(b"quit\r\n").unwrap();
    assert!(closed(&mut s));
}

#[test]
fn pipelined_batches_and_noreply() {
    let srv = Server::start(&[]);
    let mut req = Vec::new();
    let mut want = Vec::new();
    for i in 0..500 {
        req.extend_from_slice(
            format!("set k{i} 0 0 {}\r\nv{i}\r\n", format!("v{i}").len()).as_bytes(),
        );
        want.extend_from_slice(b"STORED\r\n");
    }
    for i in 0..500 {
        req.extend_from_slice(format!("get k{i}\r\n").as_bytes());
        want.extend_from_slice(
            format!("VALUE k{i} 0 {}\r\nv{i}\r\nEND\r\n", format!("v{i}").len()).as_bytes(),
        );
    }
    let mut s = srv.connect();
    exchange(&mut s, &req, &want);
    // noreply: only the final get answers.
    exchange(
        &mut s,
        b"set q 0 0 1 noreply\r\na\r\nappend q 0 0 1 noreply\r\nb\r\nset n 0 0 1 noreply\r\n5\r\nincr n 1 noreply\r\ndelete k2 noreply\r\ntouch q 10 noreply\r\nflush_all 100 noreply\r\nget q k2 n\r\n",
        b"VALUE q 0 2\r\nab\r\nVALUE n 0 1\r\n6\r\nEND\r\n",
    );
    // Byte by byte across writes.
    for &b in b"set slow 0 0 3\r\nabc\r\nget slow\r\n" {
        s.write_all(&[b]).unwrap();
    }
    let want = b"STORED\r\nVALUE slow 0 3\r\nabc\r\nEND\r\n";
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, want);
}

#[test]
fn errors_reply_and_the_connection_goes_on() {
    let srv = Server::start(&["--max-item-size", "64k"]);
    let mut s = srv.connect();
    exchange(&mut s, b"set keep 0 0 4\r\nsafe\r\n", b"STORED\r\n");
    exchange(&mut s, b"bogus\r\n", b"ERROR\r\n");
    exchange(&mut s, b"STATS\r\n", b"ERROR\r\n");
    exchange(
        &mut s,
        b"set k x 0 1\r\n",
        b"CLIENT_ERROR bad command line format\r\n",
    );
    exchange(
        &mut s,
        b"set k 0 0 -1\r\n",
        b"CLIENT_ERROR bad command line format\r\n",
    );
    exchange(
        &mut s,
        b"incr keep abc\r\n",
        b"CLIENT_ERROR invalid numeric delta argument\r\n",
    );
    exchange(
        &mut s,
        b"set k 0 0 3\r\nabcde\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    // As memcached: with noreply, the bad chunk's error is not sent; the
    // rest of its line ("\r\n" after the two bytes read past the data) is
    // an empty command, ERROR; the get shows the connection read on.
    exchange(
        &mut s,
        b"set k 0 0 3 noreply\r\nabcde\r\nget k\r\n",
        b"ERROR\r\nEND\r\n",
    );
    let long_key = "k".repeat(251);
    exchange(
        &mut s,
        format!("get {long_key}\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\n",
    );
    // Too large: refused, its bytes swallowed (never parsed as commands), and
    // for set the old value is removed, as memcached does.
    let mut big = b"set keep 0 0 70000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'g', 70_000)); // "get…" bytes must not run
    big.extend_from_slice(b"\r\nget keep\r\n");
    exchange(
        &mut s,
        &big,
        b"SERVER_ERROR object too large for cache\r\nEND\r\n",
    );
    exchange(&mut s, b"get k\r\n", b"END\r\n");
    exchange(&mut s, b"stats nonsense\r\n", b"ERROR\r\n");
}

#[test]
fn long_lines_and_http_close_the_connection() {
    let srv = Server::start(&[]);
    let mut s = srv.connect();
    s.write_all(&[b'x'; 3000]).unwrap();
    assert!(closed(&mut s), "2 KiB without a newline closes");
    let mut s = srv.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(closed(&mut s), "HTTP closes");
    // A long multi-get is fine.
    let mut s = srv.connect();
    let keys: Vec<String> = (0..400).map(|i| format!("key{i:05}")).collect();
    exchange(
        &mut s,
        format!("get {}\r\n", keys.join(" ")).as_bytes(),
        b"END\r\n",
    );
}

#[test]
fn out_of_memory_is_an_error_and_nothing_is_lost() {
    let srv = Server::start(&[
        "--memory",
        "1MiB",
        "--slab-classes",
        "64,128,256,1024,4096",
        "--max-item-size",
        "4096",
    ]);
    let mut s = srv.connect();
    for i in 0..50 {
        exchange(
            &mut s,
            format!("set k{i} 0 0 5\r\nsmall\r\n").as_bytes(),
            b"STORED\r\n",
        );
    }
    let mut req = b"set big 0 0 3000\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'b', 3000));
    req.extend_from_slice(b"\r\n");
    exchange(
        &mut s,
        &req,
        b"SERVER_ERROR out of memory storing object\r\n",
    );
    for i in 0..50 {
        exchange(
            &mut s,
            format!("get k{i}\r\n").as_bytes(),
            format!("VALUE k{i} 0 5\r\nsmall\r\nEND\r\n").as_bytes(),
        );
    }
}

#[test]
fn connections_over_the_limit_are_refused() {
    let srv = Server::start(&["--max-conns", "2"]);
    let mut a = srv.connect();
    let mut b = srv.connect();
    exchange(
        &mut a,
        b"version\r\n",
        format!("VERSION {}\r\n", env!("CARGO_PKG_VERSION")).as_bytes(),
    );
    exchange(
        &mut b,
        b"version\r\n",
        format!("VERSION {}\r\n", env!("CARGO_PKG_VERSION")).as_bytes(),
    );
    let mut c = srv.connect();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"SERVER_ERROR too many open connections\r\n");
    exchange(&mut a, b"set x 0 0 1\r\n1\r\n", b"STORED\r\n");
    s_contains(&mut b, "rejected_connections 1");
    drop(a);
    // The freed slot is served again.
    let mut ok = false;
    for _ in 0..250 {
        let mut d = srv.connect();
        d.write_all(b"get x\r\n").unwrap();
        let mut buf = [0u8; 64];
        let n = d.read(&mut buf).unwrap_or(0);
        if buf[..n].starts_with(b"VALUE x") {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ok, "a slot freed by a closed connection is reused");
}

fn s_contains(s: &mut TcpStream, needle: &str) {
    s.write_all(b"stats\r\n").unwrap();
    let text = read_until_end(s);
    assert!(text.contains(needle), "{needle:?} not in stats:\n{text}");
}

#[test]
fn stats_use_memcached_names() {
    let srv = Server::start(&[]);
    let mut s = srv.connect();
    exchange(
        &mut s,
        b"set a 0 0 1\r\n1\r\nget a\r\nget b\r\n",
        b"STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\nEND\r\n",
    );
    for f in [
        "pid",
        "uptime",
        "time",
        "version",
        "threads",
        "curr_connections 1",
        "total_connections",
        "rejected_connections 0",
        "cmd_get 2",
        "cmd_set 1",
        "get_hits 1",
        "get_misses 1",
        "get_expired 0",
        "delete_hits",
        "delete_misses",
        "incr_hits",
        "incr_misses",
        "decr_hits",
        "decr_misses",
        "cas_hits",
        "cas_misses",
        "cas_badval",
        "touch_hits",
        "touch_misses",
        "curr_items 1",
        "total_items 1",
        "evictions 0",
        "expired_unfetched",
        "evicted_unfetched",
        "reclaimed",
        "bytes",
        "limit_maxbytes 67108864",
        "hotset_policy lru",
        "hotset_samples 5",
        "hotset_index_load_permille",
        "hotset_sweep_passes",
    ] {
        s_contains(&mut s, &format!("STAT {f}"));
    }
    for (group, field) in [
        ("settings", "STAT maxbytes 67108864"),
        ("slabs", ":chunk_size"),
        ("items", "items:"),
    ] {
        s.write_all(format!("stats {group}\r\n").as_bytes())
            .unwrap();
        let text = read_until_end(&mut s);
        assert!(text.contains(field), "stats {group}: {text}");
    }
}

#[test]
fn cli_rejects_bad_flags_and_sigterm_stops_cleanly() {
    for bad in [
        &["--memory", "12x"][..],
        &["--policy", "nope"],
        &["--port", "70000"],
        &["--slab-growth", "1.2", "--slab-classes", "64"],
        &["--bogus"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_hotset"))
            .args(bad)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad:?} should fail");
        assert!(!out.stderr.is_empty(), "{bad:?} should say why");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--max-conns"));
    let out = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["--memory", "100"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a budget below one page is refused"
    );

    let mut child = Server::start(&[]);
    let st = Command::new("kill")
        .args(["-TERM", &child.child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.child.wait().unwrap();
    assert!(status.success(), "SIGTERM exits cleanly: {status:?}");
}

#[test]
fn memccapable_conformance() {
    let Some(memccapable) = common::find_tool(
        "memccapable",
        "libmemcached-tools",
        "memccapable_conformance",
    ) else {
        return;
    };
    let srv = Server::start(&[]);
    let out = Command::new(&memccapable)
        .args(["-h", "127.0.0.1", "-p", &srv.port.to_string(), "-a"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("All tests passed"),
        "memccapable -a:\n{text}"
    );
    assert_eq!(
        text.matches("[pass]").count(),
        27,
        "27 ascii cases:\n{text}"
    );
}

#[test]
fn a_client_that_never_reads_stalls_only_itself() {
    let srv = Server::start(&[]);
    let mut s = srv.connect();
    exchange(&mut s, b"set v 0 0 1000\r\n", b"");
    exchange(&mut s, &[b'x'; 1000], b"");
    exchange(&mut s, b"\r\n", b"STORED\r\n");
    // 20k gets of a 1 KB value: ~20 MB of replies nobody reads. The writer
    // thread gives up once the socket buffers fill; the server blocks on it.
    let hog = srv.connect();
    let writer = std::thread::spawn(move || {
        let mut hog = hog;
        hog.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let batch = b"get v\r\n".repeat(1000);
        for _ in 0..20 {
            if hog.write_all(&batch).is_err() {
                break;
            }
        }
        hog
    });
    // Everyone else is still served.
    let mut other = srv.connect();
    for i in 0..100 {
        exchange(
            &mut other,
            format!("set o{i} 0 0 1\r\n1\r\n").as_bytes(),
            b"STORED\r\n",
        );
    }
    exchange(&mut other, b"get o99\r\n", b"VALUE o99 0 1\r\n1\r\nEND\r\n");
    drop(writer.join().unwrap());
}

/// The server's resident memory from /proc: (anonymous, total). Anonymous
/// memory is what the server allocates (slabs, index, heap, stacks); the
/// total adds file-backed pages, mostly the executable's code (about 4 MB
/// for a release build, 7 MB for a debug one).
fn rss(srv: &Server) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", srv.child.id())).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/<pid>/status"))
            * 1024
    };
    (field("RssAnon:"), field("VmRSS:"))
}

/// Stores `v`, a 1000-byte value of `x`s, and returns the server's RSS.
fn store_v(srv: &Server) -> u64 {
    let mut s = srv.connect();
    exchange(&mut s, b"set v 0 0 1000\r\n", b"");
    exchange(&mut s, &[b'x'; 1000], b"");
    exchange(&mut s, b"\r\n", b"STORED\r\n");
    rss(srv).1
}

/// Another client still gets `v`, and the server's RSS grew by far less
/// than the replies it was asked for since `before`.
fn served_and_bounded(srv: &Server, before: u64) {
    let mut other = srv.connect();
    exchange(
        &mut other,
        b"get v\r\n",
        &[
            b"VALUE v 0 1000\r\n".as_slice(),
            &[b'x'; 1000],
            b"\r\nEND\r\n",
        ]
        .concat(),
    );
    let grown = rss(srv).1.saturating_sub(before);
    assert!(grown < 32 << 20, "RSS grew by {grown} bytes");
}

#[test]
fn a_client_that_pipelines_100k_gets_and_never_reads_is_bounded() {
    let srv = Server::start(&[]);
    let before = store_v(&srv);
    // 100k gets of a 1 KB value: 100 MB of replies that nobody reads.
    let hog = srv.connect();
    let writer = std::thread::spawn(move || {
        let mut hog = hog;
        hog.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let batch = b"get v\r\n".repeat(1000);
        let mut sent = 0;
        for _ in 0..100 {
            if hog.write_all(&batch).is_err() {
                break;
            }
            sent += 1000;
        }
        (hog, sent)
    });
    let (hog, _sent) = writer.join().unwrap();
    // Another client is served meanwhile, and the server did not buffer the
    // replies: its RSS grew by far less than the 100 MB they would take.
    served_and_bounded(&srv, before);
    drop(hog);
}

#[test]
fn a_multi_get_larger_than_the_output_bound_is_answered_whole() {
    let srv = Server::start(&[]);
    let mut s = srv.connect();
    let value = [b'y'; 1000];
    exchange(&mut s, b"set v 0 0 1000\r\n", b"");
    exchange(&mut s, &value, b"");
    exchange(&mut s, b"\r\nset w 0 0 1\r\nw\r\n", b"STORED\r\nSTORED\r\n");
    // 700 KB of replies to one request line: the server writes it in
    // bounded pieces and resumes the key list where it stopped.
    let keys: Vec<&str> = (0..700)
        .map(|i| if i % 7 == 6 { "w" } else { "v" })
        .collect();
    let line = format!("get {} nosuch\r\nget w\r\n", keys.join(" "));
    s.write_all(line.as_bytes()).unwrap();
    let mut want = Vec::new();
    for k in &keys {
        if *k == "v" {
            want.extend_from_slice(b"VALUE v 0 1000\r\n");
            want.extend_from_slice(&value);
        } else {
            want.extend_from_slice(b"VALUE w 0 1\r\nw");
        }
        want.extend_from_slice(b"\r\n");
    }
    want.extend_from_slice(b"END\r\nVALUE w 0 1\r\nw\r\nEND\r\n");
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).unwrap();
    assert!(got == want, "the multi-get's replies differ");
}

#[test]
fn a_huge_multi_get_that_is_never_read_is_bounded() {
    let srv = Server::start(&[]);
    let before = store_v(&srv);
    // One 256 KiB line of 130k keys asks for 130 MB of replies, and its
    // client never reads them.
    let mut hog = srv.connect();
    let line = format!("get{}\r\n", " v".repeat(130_000));
    hog.write_all(line.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    served_and_bounded(&srv, before);
    drop(hog);
}

#[test]
fn a_slowloris_client_stalls_no_one_else() {
    let srv = Server::start(&[]);
    let mut slow = srv.connect();
    // Half a request line, one byte at a time, and then nothing for now.
    for b in b"get sl" {
        slow.write_all(std::slice::from_ref(b)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut other = srv.connect();
    for i in 0..200 {
        exchange(
            &mut other,
            format!("set f{i} 0 0 1\r\n1\r\n").as_bytes(),
            b"STORED\r\n",
        );
    }
    exchange(
        &mut other,
        b"get f199\r\n",
        b"VALUE f199 0 1\r\n1\r\nEND\r\n",
    );
    // The slow client still gets its answer when it finishes.
    exchange(&mut slow, b"ow\r\n", b"END\r\n");
}

#[test]
fn a_thousand_concurrent_connections_are_served() {
    // The test process needs the descriptors too.
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < 1200 {
            lim.rlim_cur = lim.rlim_max.min(4096);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    let srv = Server::start(&["--max-conns", "1100"]);
    let mut conns: Vec<TcpStream> = (0..1000).map(|_| srv.connect()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(format!("set c{i} 0 0 1\r\n{}\r\n", i % 10).as_bytes())
            .unwrap();
    }
    for c in conns.iter_mut() {
        let mut got = [0u8; 8];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"STORED\r\n");
    }
    let mut s = srv.connect();
    exchange(&mut s, b"get c999\r\n", b"VALUE c999 0 1\r\n9\r\nEND\r\n");
    s_contains(&mut s, "STAT curr_connections 1001");
}

#[test]
fn idle_clients_are_closed_and_busy_ones_are_not() {
    let srv = Server::start(&["--idle-timeout", "2"]);
    let mut idle = srv.connect();
    let mut busy = srv.connect();
    // The busy client asks every 100 ms, far inside the timeout.
    for _ in 0..30 {
        exchange(
            &mut busy,
            b"version\r\n",
            format!("VERSION {}\r\n", env!("CARGO_PKG_VERSION")).as_bytes(),
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The idle one has been closed (its read returns end of file).
    let mut b = [0u8; 16];
    assert_eq!(
        idle.read(&mut b).unwrap_or(0),
        0,
        "the idle connection is closed"
    );
    s_contains(&mut busy, "STAT idle_kicks 1");
}

/// A fresh temporary directory holding a workload spec, `w.toml`.
fn spec_dir(name: &str, body: &str) -> common::TempDir {
    let dir = common::TempDir::new(&format!("loadgen-{name}"));
    dir.spec(body);
    dir
}

fn loadgen(server: &Server, dir: &std::path::Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = dir.join("report");
    let o = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .arg("loadgen")
        .args(["--server", &format!("127.0.0.1:{}", server.port)])
        .args(["--workload", dir.join("w.toml").to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .args(extra)
        .output()
        .expect("run loadgen");
    let json = std::fs::read_to_string(out.join("summary.json"))
        .unwrap_or_else(|_| format!("{{\"stderr\": {:?}}}", String::from_utf8_lossy(&o.stderr)));
    (
        o.status.code().unwrap_or(-1),
        serde_json::from_str(&json).unwrap(),
    )
}

#[test]
fn loadgen_verifies_every_value_in_both_loops() {
    let s = Server::start(&["--memory", "64MiB"]);
    let dir = spec_dir(
        "ok",
        r#"name = "small"
ops = 20000
seed = 3
keys = 500
distribution = { kind = "zipf", theta = 0.9 }
mix = { get = 0.8, set = 0.15, delete = 0.05 }
key_size = { kind = "fixed", value = 16 }
value_size = { kind = "uniform", min = 1, max = 1000 }
"#,
    );
    let (code, j) = loadgen(
        &s,
        &dir,
        &[
            "--conns",
            "4",
            "--threads",
            "2",
            "--pipeline",
            "8",
            "--duration",
            "1",
            "--prefill",
        ],
    );
    let row = &j["rows"][0];
    assert_eq!(code, 0, "{j}");
    assert_eq!(row["mode"], "closed");
    assert!(row["requests"].as_u64().unwrap() > 100, "{j}");
    assert!(row["get_hits"].as_u64().unwrap() > 0, "{j}");
    assert_eq!(row["verify_failures"], 0);
    assert_eq!(row["errors"], 0);
    assert!(dir.join("report/get.hgrm").exists());
    let (code, j) = loadgen(
        &s,
        &dir,
        &[
            "--conns",
            "2",
            "--threads",
            "1",
            "--duration",
            "1",
            "--rate",
            "2000",
        ],
    );
    let row = &j["rows"][0];
    assert_eq!(code, 0, "{j}");
    assert_eq!(row["mode"], "open");
    assert!(row["requests"].as_u64().unwrap() > 100, "{j}");
    // One pass: every record exactly once, gets counted per window.
    let (code, j) = loadgen(
        &s,
        &dir,
        &[
            "--conns",
            "3",
            "--threads",
            "2",
            "--pipeline",
            "4",
            "--duration",
            "60",
            "--once",
            "--series",
            "1000",
        ],
    );
    let row = &j["rows"][0];
    assert_eq!(code, 0, "{j}");
    assert_eq!(row["requests"], 20000, "{j}");
    let windows = row["series"]["gets"].as_array().unwrap();
    assert_eq!(windows.len(), 20);
    let gets: u64 = windows.iter().map(|g| g.as_u64().unwrap()).sum();
    assert_eq!(gets, row["gets"].as_u64().unwrap());
    assert!(dir.join("report/miss-ratio-over-time.svg").exists());
}

#[test]
fn loadgen_reports_a_value_that_does_not_encode_its_key() {
    let s = Server::start(&["--memory", "16MiB"]);
    // key_bytes(0, 16) is "key:0" padded with dots; store the wrong bytes.
    let mut c = s.connect();
    exchange(
        &mut c,
        b"set key:0........... 0 0 5\r\nwrong\r\n",
        b"STORED\r\n",
    );
    let dir = spec_dir(
        "bad",
        r#"name = "one-key"
ops = 100
seed = 1
keys = 1
distribution = { kind = "uniform" }
mix = { get = 1.0, set = 0.0 }
key_size = { kind = "fixed", value = 16 }
value_size = { kind = "fixed", value = 5 }
"#,
    );
    let (code, j) = loadgen(
        &s,
        &dir,
        &["--conns", "1", "--threads", "1", "--duration", "0.3"],
    );
    assert_eq!(code, 1, "{j}");
    assert!(j["rows"][0]["verify_failures"].as_u64().unwrap() > 0, "{j}");
}

#[test]
fn auth_file_requires_memcached_ascii_authentication() {
    let dir = common::TempDir::new("auth");
    let file = dir.join("users");
    std::fs::write(&file, "# users\nalice:secret\nbob:pw\n").unwrap();
    let srv = Server::start(&["--auth-file", file.to_str().unwrap()]);
    const UNAUTH: &[u8] = b"CLIENT_ERROR unauthenticated\r\n";
    let mut s = srv.connect();
    exchange(&mut s, b"get k\r\n", UNAUTH);
    exchange(&mut s, b"delete k\r\n", UNAUTH);
    exchange(&mut s, b"stats\r\n", UNAUTH);
    // Another storage command: refused, its data swallowed.
    exchange(&mut s, b"add k 0 0 5\r\nget k\r\n", UNAUTH);
    exchange(&mut s, b"version\r\n", UNAUTH);
    exchange(
        &mut s,
        b"set auth 0 0 9\r\nalice bad\r\n",
        b"CLIENT_ERROR authentication failure\r\n",
    );
    exchange(&mut s, b"get k\r\n", UNAUTH);
    exchange(
        &mut s,
        b"set auth 0 0 12\r\nalice secret\r\n",
        b"STORED\r\n",
    );
    exchange(&mut s, b"set k 0 0 1\r\nx\r\n", b"STORED\r\n");
    exchange(&mut s, b"get k\r\n", b"VALUE k 0 1\r\nx\r\nEND\r\n");
    // The credentials were not stored as an item.
    exchange(&mut s, b"get auth\r\n", b"END\r\n");
    // Authentication is per connection.
    let mut other = srv.connect();
    exchange(&mut other, b"get k\r\n", UNAUTH);
    exchange(
        &mut other,
        b"set a 0 0 5\r\nbob pw\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    exchange(&mut other, b"set a 0 0 6\r\nbob pw\r\n", b"STORED\r\n");
    exchange(&mut other, b"get k\r\n", b"VALUE k 0 1\r\nx\r\nEND\r\n");
    // A malformed file is refused at startup.
    std::fs::write(&file, "alice\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["--port", "0", "--auth-file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1: expected user:pass"), "{err}");
}

/// A `stats` value.
fn stat_value(s: &mut TcpStream, name: &str) -> u64 {
    s.write_all(b"stats\r\n").unwrap();
    let text = read_until_end(s);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("STAT {name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no stat {name} in {text}"))
}

#[test]
fn a_tenfold_overfill_of_mixed_sizes_keeps_rss_within_budget() {
    const BUDGET: u64 = 64 << 20;
    let srv = Server::start(&["--memory", "64MiB"]);
    let mut s = srv.connect();
    let index = stat_value(&mut s, "hotset_index_bytes");
    // 640 MiB of values from 100 B to 4 KB over fresh keys, pipelined 64
    // deep; every reply must be STORED.
    let pad = vec![b'v'; 4000];
    let (mut written, mut i, mut pending) = (0u64, 0u64, 0usize);
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut batch = Vec::new();
    while written < 10 * BUDGET {
        let len = 100 + (i.wrapping_mul(0x9E37_79B9) >> 7) as usize % 3900;
        batch.extend_from_slice(format!("set fill{i} 0 0 {len}\r\n").as_bytes());
        batch.extend_from_slice(&pad[..len]);
        batch.extend_from_slice(b"\r\n");
        written += len as u64;
        i += 1;
        pending += 1;
        if pending == 64 {
            s.write_all(&batch).unwrap();
            batch.clear();
            for _ in 0..pending {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                assert_eq!(line, "STORED\r\n", "set {i}");
            }
            pending = 0;
        }
    }
    // The bound applies to the memory the server allocates; the total is
    // printed beside it (the executable's pages come on top).
    let (anon, total) = rss(&srv);
    let limit = (BUDGET + index) * 11 / 10;
    eprintln!("after a tenfold overfill: anonymous RSS {anon}, VmRSS {total}, limit {limit}");
    assert!(
        anon <= limit,
        "anonymous RSS {anon} over budget + index + 10% = {limit} (index {index}; VmRSS {total})"
    );
    assert!(stat_value(&mut s, "evictions") > 0);
}

/// The value of `stats slabs` line `name` (e.g. `1:free_chunks`).
fn slab_stat(s: &mut TcpStream, name: &str) -> u64 {
    s.write_all(b"stats slabs\r\n").unwrap();
    let text = read_until_end(s);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("STAT {name} ")))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// A worker that goes idle gives its magazines and retired chunks back, so
/// memory it freed is not stranded in its thread.
#[test]
fn an_idle_worker_gives_its_chunks_back() {
    let srv = Server::start(&[
        "--threads",
        "1",
        "--memory",
        "1MiB",
        "--slab-classes",
        "256",
    ]);
    let mut s = srv.connect();
    let mut req = Vec::new();
    for i in 0..100 {
        req.extend_from_slice(
            format!("set k{i} 0 0 100 noreply\r\n{}\r\n", "v".repeat(100)).as_bytes(),
        );
    }
    for i in 0..100 {
        req.extend_from_slice(format!("delete k{i} noreply\r\n").as_bytes());
    }
    s.write_all(&req).unwrap();
    let total = slab_stat(&mut s, "1:total_chunks");
    assert!(total > 0);
    // Idle well past the worker's 100 ms: its state goes back.
    std::thread::sleep(Duration::from_millis(400));
    let mut other = srv.connect();
    let free = slab_stat(&mut other, "1:free_chunks");
    assert_eq!(
        free, total,
        "every chunk is back in the depot once the worker idles"
    );
}

/// `stats <group>` as text, up to its END line.
fn stats_text(s: &mut TcpStream, group: &str) -> String {
    s.write_all(format!("stats {group}\r\n").as_bytes())
        .unwrap();
    read_until_end(s)
}

/// The value of `STAT <name> <value>` in a stats reply.
fn stat_u64(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("STAT {name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// Stores `n` keys `{prefix}{i}` with `len`-byte values, pipelined.
fn fill(s: &mut TcpStream, prefix: &str, n: usize, len: usize) {
    let value = "v".repeat(len);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut req = String::new();
        for i in chunk {
            req.push_str(&format!("set {prefix}{i} 0 0 {len} noreply\r\n{value}\r\n"));
        }
        s.write_all(req.as_bytes()).unwrap();
    }
    exchange(s, b"mn\r\n", b"MN\r\n");
}

#[test]
fn stats_sizes_cachedump_and_slabs_reassign() {
    let srv = Server::start(&[]);
    let mut s = srv.connect();
    // 12,000 items of 100 bytes: two pages of one class.
    fill(&mut s, "k", 12_000, 100);
    exchange(
        &mut s,
        b"stats sizes\r\n",
        b"STAT sizes_status disabled\r\nEND\r\n",
    );
    exchange(
        &mut s,
        b"stats sizes_enable\r\n",
        b"STAT sizes_status enabled\r\n",
    );
    // 20-byte header, 100 value bytes, and keys of 2 to 6 bytes (k0 to
    // k11999): 122 to 126 bytes, all in the 128-byte bucket and class.
    let sizes = stats_text(&mut s, "sizes");
    assert_eq!(sizes, "STAT 128 12000\r\nEND\r\n");
    let slabs = stats_text(&mut s, "slabs");
    let class = slabs
        .lines()
        .find_map(|l| l.strip_prefix("STAT ")?.split_once(":total_pages 2"))
        .map(|(id, _)| id.parse::<u32>().unwrap())
        .unwrap_or_else(|| panic!("a class with two pages: {slabs}"));
    let dump = stats_text(&mut s, &format!("cachedump {class} 5"));
    assert_eq!(dump.lines().filter(|l| l.starts_with("ITEM k")).count(), 5);
    assert!(dump.contains(" [100 b; 0 s]\r\n"), "{dump}");
    let all = stats_text(&mut s, &format!("cachedump {class} 0"));
    assert_eq!(
        all.lines().filter(|l| l.starts_with("ITEM")).count(),
        12_000
    );
    // One page to another class; the source keeps one.
    let dst = class + 4;
    exchange(
        &mut s,
        format!("slabs reassign {class} {dst}\r\n").as_bytes(),
        b"OK\r\n",
    );
    let mut landed = false;
    for _ in 0..100 {
        let slabs = stats_text(&mut s, "slabs");
        if slabs.contains(&format!("STAT {dst}:total_pages 1\r\n")) {
            assert!(slabs.contains(&format!("STAT {class}:total_pages 1\r\n")));
            landed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(landed, "the page reached class {dst}");
    exchange(
        &mut s,
        format!("slabs reassign {class} {dst}\r\n").as_bytes(),
        b"NOSPARE source class has no spare pages\r\n",
    );
    let stats = stats_text(&mut s, "");
    let kept = stat_u64(&stats, "curr_items").unwrap();
    assert!(kept < 12_000 && kept > 4_000, "{kept} items kept");
}

#[test]
fn cache_memlimit_shrinks_rss_to_the_new_budget() {
    let srv = Server::start(&["--memory", "64MiB", "--sweep-hz", "10"]);
    let mut s = srv.connect();
    // More than fits: every page in use.
    fill(&mut s, "k", 80_000, 1000);
    let stats = stats_text(&mut s, "");
    assert_eq!(stat_u64(&stats, "total_malloced"), Some(64 << 20));
    let full = rss(&srv).0;
    exchange(&mut s, b"cache_memlimit 16\r\n", b"OK\r\n");
    let index = stat_u64(&stats_text(&mut s, ""), "hotset_index_bytes").unwrap();
    let bound = ((16 << 20) + index) * 11 / 10;
    let mut now = full;
    for _ in 0..100 {
        now = rss(&srv).0;
        if now <= bound {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        now <= bound,
        "RSS {now} after cache_memlimit 16 (was {full}; bound {bound})"
    );
    eprintln!("RssAnon {full} full at 64 MiB, {now} after cache_memlimit 16 (bound {bound})");
    let stats = stats_text(&mut s, "");
    assert_eq!(stat_u64(&stats, "limit_maxbytes"), Some(16 << 20));
    assert!(stat_u64(&stats, "total_malloced").unwrap() <= 16 << 20);
    // The cache goes on serving within the new budget, and can grow again.
    fill(&mut s, "j", 40_000, 1000);
    assert!(stat_u64(&stats_text(&mut s, ""), "total_malloced").unwrap() <= 16 << 20);
    exchange(&mut s, b"cache_memlimit 32\r\n", b"OK\r\n");
    fill(&mut s, "i", 40_000, 1000);
    let stats = stats_text(&mut s, "");
    assert!(stat_u64(&stats, "total_malloced").unwrap() > 16 << 20);
    assert_eq!(
        stat_u64(&stats_text(&mut s, "settings"), "maxbytes"),
        Some(32 << 20)
    );
    exchange(
        &mut s,
        b"cache_memlimit 1000\r\n",
        b"MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n",
    );
}

/// `stats settings` reports the slab classes as they were given: a growth
/// factor, or the explicit list (and then no factor).
#[test]
fn stats_settings_reports_the_classes_as_configured() {
    for (args, want, absent) in [
        (
            &["--slab-growth", "1.1"][..],
            "STAT growth_factor 1.1\r\n",
            "slab_sizes",
        ),
        (&[][..], "STAT growth_factor 1.25\r\n", "slab_sizes"),
        (
            &["--slab-classes", "64,128,256,1024"][..],
            "STAT slab_sizes 64-128-256-1024\r\n",
            "growth_factor",
        ),
    ] {
        let srv = Server::start(args);
        let mut s = srv.connect();
        let text = stats_text(&mut s, "settings");
        assert!(text.contains(want), "{args:?}: {text}");
        assert!(!text.contains(absent), "{args:?}: {text}");
        assert!(text.contains("STAT slab_automove 1\r\n"), "{text}");
    }
}

//! Warm restarts (memcached's `-e FILE` and SIGUSR1): a saved cache comes
//! back whole with the same settings (every unexpired item with its value,
//! flags, CAS unique and expiry), and any other start (other settings, a
//! damaged or truncated memory file, a damaged meta file, a crash) starts
//! clean, says why in one line, and serves nothing it cannot vouch for.

mod common;

use common::{Spawned, TempDir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A server on a free port with its memory in `file`; returns it, its
/// port, and its stderr lines as they come.
fn start(file: &Path, extra: &[&str]) -> (Spawned, u16, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["-p", "0", "--sweep-hz", "0", "-e"])
        .arg(file)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hotset");
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let port = common::listening_port(&mut child);
    (Spawned(child), port, rx)
}

/// The first stderr line that starts with `prefix`, within 10 s.
fn line_with(rx: &mpsc::Receiver<String>, prefix: &str) -> String {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.starts_with(prefix) => return l,
            Ok(_) => {}
            Err(_) => panic!("no line starting {prefix:?}"),
        }
    }
}

/// SIGUSR1, then waits for a clean exit.
fn save(mut child: Spawned) {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-USR1", &pid])
        .status()
        .unwrap()
        .success());
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "exit after SIGUSR1: {st}");
            return;
        }
        assert!(Instant::now() < end, "no exit 30 s after SIGUSR1");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn conn(port: u16) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    BufReader::new(s)
}

fn line(c: &mut BufReader<TcpStream>) -> String {
    let mut l = String::new();
    c.read_line(&mut l).unwrap();
    l
}

fn value(i: usize) -> Vec<u8> {
    (0..(i * 37) % 3000 + 1)
        .map(|j| b'a' + ((i + j) % 26) as u8)
        .collect()
}

const N: usize = 3000;

/// Stores N items of many sizes, some with flags, some expiring in an hour,
/// a few in 1 s; returns each key's CAS unique.
fn fill(port: u16) -> Vec<u64> {
    let mut c = conn(port);
    let mut cas = Vec::new();
    for i in 0..N {
        let v = value(i);
        let ttl = match i % 10 {
            0 => 3600,
            1 => 1,
            _ => 0,
        };
        let mut req = format!("set k{i} {} {ttl} {}\r\n", i % 7, v.len()).into_bytes();
        req.extend_from_slice(&v);
        req.extend_from_slice(b"\r\n");
        c.get_mut().write_all(&req).unwrap();
        assert_eq!(line(&mut c), "STORED\r\n");
    }
    for i in 0..N {
        c.get_mut()
            .write_all(format!("mg k{i} c\r\n").as_bytes())
            .unwrap();
        let l = line(&mut c);
        if l == "EN\r\n" && i % 10 == 1 {
            cas.push(0); // its 1 s passed already
            continue;
        }
        let n = l
            .trim_end()
            .strip_prefix("HD c")
            .unwrap_or_else(|| panic!("mg k{i}: {l:?}"));
        cas.push(n.parse().unwrap());
    }
    cas
}

/// Every item stored by `fill` is served as it was (those of 1 s excepted,
/// expired by now): value, flags, CAS unique, and a TTL still running.
fn check_all(port: u16, cas: &[u64], gone: u64) {
    let mut c = conn(port);
    for (i, cas) in cas.iter().enumerate() {
        c.get_mut()
            .write_all(format!("mg k{i} v f c t\r\n").as_bytes())
            .unwrap();
        let l = line(&mut c);
        if i % 10 == 1 {
            assert_eq!(l, "EN\r\n", "k{i} (1 s TTL) should have expired");
            continue;
        }
        let v = value(i);
        let want = format!("VA {} f{} c{cas} t", v.len(), i % 7);
        assert!(l.starts_with(&want), "k{i}: {l:?}, want {want}…");
        let ttl: i64 = l.trim_end().rsplit('t').next().unwrap().parse().unwrap();
        if i % 10 == 0 {
            assert!((3000..=3600).contains(&ttl), "k{i}: ttl {ttl}");
        } else {
            assert_eq!(ttl, -1, "k{i}");
        }
        let mut got = vec![0; v.len() + 2];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got[..v.len()], &v[..], "k{i}: value");
    }
    // New stores get CAS uniques above every one handed out before, those
    // of items deleted since included.
    c.get_mut()
        .write_all(b"mg gone v\r\nms new 1 c\r\nx\r\n")
        .unwrap();
    assert_eq!(line(&mut c), "EN\r\n");
    let l = line(&mut c);
    let new: u64 = l.trim_end().strip_prefix("HD c").unwrap().parse().unwrap();
    assert!(
        new > gone && gone > *cas.iter().max().unwrap(),
        "{new} {gone}"
    );
}

/// A directory for the memory file (memcached's is on tmpfs; any
/// file system serves for the test).
fn dir(name: &str) -> (TempDir, PathBuf) {
    let t = TempDir::new(name);
    let file = t.join("mem");
    (t, file)
}

#[test]
fn a_saved_cache_comes_back_whole() {
    let (_t, file) = dir("warm-whole");
    let (child, port, rx) = start(&file, &["-m", "64"]);
    assert!(line_with(&rx, "hotset: warm restart:").contains("starting clean: no memory file yet"));
    let cas = fill(port);
    // An item stored last and deleted: its CAS unique is the highest
    // handed out, and must not be handed out again after the restart.
    let mut c = conn(port);
    c.get_mut().write_all(b"ms gone 1 c\r\nx\r\n").unwrap();
    let gone: u64 = line(&mut c)
        .trim_end()
        .strip_prefix("HD c")
        .unwrap()
        .parse()
        .unwrap();
    c.get_mut().write_all(b"md gone\r\n").unwrap();
    assert_eq!(line(&mut c), "HD\r\n");
    std::thread::sleep(Duration::from_millis(2100)); // the 1 s TTLs pass
    save(child);
    let (mut child, port, rx) = start(&file, &["-m", "64"]);
    let l = line_with(&rx, "hotset: warm restart:");
    let restored = N - N / 10;
    assert!(
        l.contains(&format!("{restored} items restored (0 refused)")),
        "{l}"
    );
    check_all(port, &cas, gone);
    // The save is used once: a crash now leaves no meta, and the next
    // start is clean.
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, port, rx) = start(&file, &["-m", "64"]);
    let l = line_with(&rx, "hotset: warm restart:");
    assert!(
        l.contains("starting clean: no save beside the memory file"),
        "{l}"
    );
    let mut c = conn(port);
    c.get_mut().write_all(b"mg k5 v\r\n").unwrap();
    assert_eq!(line(&mut c), "EN\r\n");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Saves a filled cache, changes the files with `spoil`, restarts with
/// `args`, and expects a clean start whose line contains `why`.
fn spoiled(name: &str, args: &[&str], spoil: impl Fn(&Path), why: &str) {
    let (_t, file) = dir(name);
    let (child, port, _rx) = start(&file, &["-m", "64"]);
    fill(port);
    save(child);
    spoil(&file);
    let (mut child, port, rx) = start(&file, args);
    let l = line_with(&rx, "hotset: warm restart:");
    assert!(
        l.contains("starting clean") && l.contains(why),
        "{name}: {l}"
    );
    let mut c = conn(port);
    for i in 0..N {
        c.get_mut()
            .write_all(format!("mg k{i} v\r\n").as_bytes())
            .unwrap();
        assert_eq!(line(&mut c), "EN\r\n", "{name}: k{i} served");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn meta(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.meta", file.display()))
}

#[test]
fn other_settings_start_clean() {
    spoiled("warm-settings", &["-m", "128"], |_| {}, "settings differ");
    spoiled(
        "warm-classes",
        &["-m", "64", "-f", "2"],
        |_| {},
        "settings differ",
    );
    spoiled(
        "warm-item",
        &["-m", "64", "-I", "512k"],
        |_| {},
        "settings differ",
    );
}

#[test]
fn a_damaged_or_truncated_file_starts_clean() {
    // One byte of the first page (an item's value or header) changed.
    let flip = |file: &Path| {
        let mut b = std::fs::read(file).unwrap();
        let at = b.iter().position(|&x| x == b'q').unwrap();
        b[at] = b'Q';
        std::fs::write(file, b).unwrap();
    };
    spoiled(
        "warm-flip",
        &["-m", "64"],
        flip,
        "does not hold what was saved",
    );
    let cut = |file: &Path| {
        let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
        let len = f.metadata().unwrap().len();
        f.set_len(len / 2).unwrap();
    };
    spoiled("warm-cut", &["-m", "64"], cut, "truncated");
    let bad_meta = |file: &Path| {
        let mut b = std::fs::read(meta(file)).unwrap();
        b[20] ^= 1;
        std::fs::write(meta(file), b).unwrap();
    };
    spoiled("warm-meta", &["-m", "64"], bad_meta, "meta file is damaged");
    let short_meta = |file: &Path| {
        let b = std::fs::read(meta(file)).unwrap();
        std::fs::write(meta(file), &b[..b.len() / 2]).unwrap();
    };
    spoiled("warm-short", &["-m", "64"], short_meta, "meta file");
}

#[test]
fn a_crash_starts_clean() {
    let (_t, file) = dir("warm-crash");
    let (child, port, _rx) = start(&file, &["-m", "64"]);
    fill(port);
    save(child);
    // Restored, then changed, then killed: the meta of the first save is
    // gone, so the changed pages are never read back.
    let (mut child, port, rx) = start(&file, &["-m", "64"]);
    assert!(line_with(&rx, "hotset: warm restart:").contains("items restored"));
    let mut c = conn(port);
    c.get_mut().write_all(b"set k3 0 0 3\r\nnew\r\n").unwrap();
    assert_eq!(line(&mut c), "STORED\r\n");
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, port, rx) = start(&file, &["-m", "64"]);
    let l = line_with(&rx, "hotset: warm restart:");
    assert!(l.contains("starting clean"), "{l}");
    let mut c = conn(port);
    c.get_mut().write_all(b"mg k3 v\r\n").unwrap();
    assert_eq!(line(&mut c), "EN\r\n");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A delayed flush_all that fell due before the save empties the cache
/// then, as it would have at the next request: the restart does not undo
/// it.
#[test]
fn an_overdue_flush_all_is_not_undone() {
    let (_t, file) = dir("warm-flush");
    let (child, port, _rx) = start(&file, &["-m", "64"]);
    fill(port);
    let mut c = conn(port);
    c.get_mut().write_all(b"flush_all 1\r\n").unwrap();
    assert_eq!(line(&mut c), "OK\r\n");
    std::thread::sleep(Duration::from_millis(2100));
    save(child);
    let (mut child, port, rx) = start(&file, &["-m", "64"]);
    let l = line_with(&rx, "hotset: warm restart:");
    assert!(l.contains(" 0 items restored"), "{l}");
    let mut c = conn(port);
    c.get_mut().write_all(b"mg k5 v\r\n").unwrap();
    assert_eq!(line(&mut c), "EN\r\n");
    child.kill().unwrap();
    child.wait().unwrap();
}

//! Scale-out behind an existing proxy: two hotset nodes behind nutcracker
//! (twemproxy) with ketama distribution and the memcache protocol. Keys set
//! through the proxy read back through it, and land on both nodes, each key
//! on exactly one. Needs `nutcracker` (Debian package `nutcracker`): skips
//! loudly without it, except when `CI=true`.

mod common;

use common::{find_tool, free_port, Server};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `get key` and returns the value, if any.
fn get(s: &mut BufReader<TcpStream>, key: &str) -> Option<String> {
    s.get_mut()
        .write_all(format!("get {key}\r\n").as_bytes())
        .unwrap();
    let mut line = String::new();
    s.read_line(&mut line).unwrap();
    if line == "END\r\n" {
        return None;
    }
    assert!(line.starts_with(&format!("VALUE {key} ")), "{line:?}");
    let mut value = String::new();
    s.read_line(&mut value).unwrap();
    let mut end = String::new();
    s.read_line(&mut end).unwrap();
    assert_eq!(end, "END\r\n");
    Some(value.trim_end().to_string())
}

fn connect(port: u16) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    BufReader::new(s)
}

#[test]
fn two_nodes_behind_nutcracker_share_the_keys() {
    let Some(nutcracker) = find_tool(
        "nutcracker",
        "nutcracker",
        "two_nodes_behind_nutcracker_share_the_keys",
    ) else {
        return;
    };
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let (port, stats) = (free_port(), free_port());
    let dir = common::TempDir::new("nutcracker");
    let conf = dir.join("nutcracker.yml");
    std::fs::write(
        &conf,
        format!(
            "hotset:\n  listen: 127.0.0.1:{port}\n  hash: fnv1a_64\n  distribution: ketama\n  \
             timeout: 2000\n  auto_eject_hosts: false\n  servers:\n   - 127.0.0.1:{}:1 node-a\n   \
             - 127.0.0.1:{}:1 node-b\n",
            a.port, b.port
        ),
    )
    .unwrap();
    let _proxy = Proxy(
        Command::new(&nutcracker)
            .args(["-c", conf.to_str().unwrap(), "-s", &stats.to_string()])
            .args(["-o", dir.join("log").to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nutcracker"),
    );
    let mut p = (0..100)
        .find_map(|_| {
            TcpStream::connect(("127.0.0.1", port)).ok().or_else(|| {
                std::thread::sleep(Duration::from_millis(50));
                None
            })
        })
        .map(|s| {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            BufReader::new(s)
        })
        .expect("nutcracker listens");
    let keys: Vec<String> = (0..200).map(|i| format!("user:{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        let v = format!("value-{i}");
        p.get_mut()
            .write_all(format!("set {k} 0 0 {}\r\n{v}\r\n", v.len()).as_bytes())
            .unwrap();
        let mut line = String::new();
        p.read_line(&mut line).unwrap();
        assert_eq!(line, "STORED\r\n", "set {k} through the proxy");
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(
            get(&mut p, k),
            Some(format!("value-{i}")),
            "get {k} through the proxy"
        );
    }
    let (mut na, mut nb) = (connect(a.port), connect(b.port));
    let (mut on_a, mut on_b) = (0, 0);
    for (i, k) in keys.iter().enumerate() {
        let (va, vb) = (get(&mut na, k), get(&mut nb, k));
        assert!(
            va.is_some() != vb.is_some(),
            "{k} must be on exactly one node"
        );
        assert_eq!(va.or(vb), Some(format!("value-{i}")));
        on_a += get(&mut na, k).is_some() as usize;
        on_b += get(&mut nb, k).is_some() as usize;
    }
    assert!(
        on_a > 0 && on_b > 0,
        "keys land on both nodes: {on_a} and {on_b}"
    );
}

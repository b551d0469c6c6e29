//! TLS (memcached's `-Z`) against real TLS clients: Python's ssl module and
//! pymemcache over TLS (`tests/clients/tls_check.py`), a plaintext listener
//! beside the TLS one, the bad clients a server must survive, client
//! certificates, `refresh_certs`, and certificates that are start-up
//! errors. The certificates are `tests/tls/` (a test CA; see its README).
#![cfg(feature = "tls")]

mod common;

use common::{python_with, Spawned, TempDir};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn certs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tls")
}

/// A server with `-Z`, a TLS listener and a plaintext one (`notls:`), both
/// on free ports; returns it with the TLS port and the plaintext one.
fn start(extra: &[&str]) -> (Spawned, u16, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotset"))
        .args(["-l", "notls:127.0.0.1:0", "-l", "127.0.0.1:0", "-Z"])
        .args(extra)
        .current_dir(certs())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hotset");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut tls, mut plain) = (None, None);
    while tls.is_none() || plain.is_none() {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "{extra:?}: exited");
        let port = |a: &str| a.trim().rsplit(':').next().unwrap().parse::<u16>().unwrap();
        if let Some(a) = line.strip_prefix("hotset: listening with TLS on ") {
            tls = Some(port(a));
        } else if let Some(a) = line.strip_prefix("hotset: listening on ") {
            plain = Some(port(a));
        }
    }
    (Spawned(child), tls.unwrap(), plain.unwrap())
}

/// Runs `tls_check.py` with `args`, expecting "ok:".
fn check(python: PathBuf, args: &[&str]) {
    common::run_client_script(&python, "tls_check.py", args);
}

fn python(test: &str) -> Option<PathBuf> {
    python_with("pymemcache", "4.0.0", test)
}

#[test]
fn python_ssl_and_pymemcache_over_tls() {
    let Some(py) = python("python_ssl_and_pymemcache_over_tls") else {
        return;
    };
    let (mut child, tls, plain) = start(&[
        "-o",
        "ssl_chain_cert=server.pem,ssl_key=server.key",
        "-R",
        "1000000",
    ]);
    let dir = certs();
    check(
        py,
        &[
            "clients",
            &tls.to_string(),
            &plain.to_string(),
            dir.to_str().unwrap(),
        ],
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Under `ssl_verify_mode=2`: a plaintext client, a cut handshake (closed,
/// and left open), no client certificate and an untrusted one are each
/// refused, and a good client's connection never notices.
#[test]
fn bad_clients_are_closed_and_harm_no_other() {
    let Some(py) = python("bad_clients_are_closed_and_harm_no_other") else {
        return;
    };
    let (mut child, tls, plain) = start(&[
        "-o",
        "ssl_chain_cert=server.pem,ssl_key=server.key,ssl_ca_cert=ca.pem,ssl_verify_mode=2",
    ]);
    let dir = certs();
    check(py, &["hostile", &tls.to_string(), dir.to_str().unwrap()]);
    // Still serving.
    let mut s = BufReader::new(std::net::TcpStream::connect(("127.0.0.1", plain)).unwrap());
    std::io::Write::write_all(s.get_mut(), b"version\r\n").unwrap();
    let mut line = String::new();
    s.read_line(&mut line).unwrap();
    assert!(line.starts_with("VERSION "), "{line:?}");
    let _ = child.kill();
    let _ = child.wait();
}

/// `refresh_certs` swaps the certificate for new connections while open
/// ones go on; a file that does not parse is refused and the loaded one
/// stays.
#[test]
fn refresh_certs_reloads_without_dropping_connections() {
    let Some(py) = python("refresh_certs_reloads_without_dropping_connections") else {
        return;
    };
    let tmp = TempDir::new("tls-refresh");
    let (chain, key) = (tmp.join("chain.pem"), tmp.join("key.pem"));
    std::fs::copy(certs().join("server.pem"), &chain).unwrap();
    std::fs::copy(certs().join("server.key"), &key).unwrap();
    let opt = format!(
        "ssl_chain_cert={},ssl_key={}",
        chain.display(),
        key.display()
    );
    let (mut child, tls, _) = start(&["-o", &opt]);
    let dir = certs();
    check(
        py,
        &[
            "refresh",
            &tls.to_string(),
            dir.to_str().unwrap(),
            chain.to_str().unwrap(),
            key.to_str().unwrap(),
        ],
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Certificates that cannot be used stop the start, with memcached's
/// message naming the file.
#[test]
fn bad_certificates_are_start_up_errors() {
    let tmp = TempDir::new("tls-bad");
    let garbage = tmp.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let empty = tmp.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let g = garbage.to_str().unwrap();
    let e = empty.to_str().unwrap();
    for (opts, why) in [
        (
            format!("ssl_chain_cert={g},ssl_key=server.key"),
            "Error loading the certificate chain",
        ),
        (
            format!("ssl_chain_cert={e},ssl_key=server.key"),
            "no certificate",
        ),
        (
            "ssl_chain_cert=missing.pem,ssl_key=server.key".into(),
            "missing.pem",
        ),
        (
            format!("ssl_chain_cert=server.pem,ssl_key={g}"),
            "Error loading the key",
        ),
        // The key of another certificate.
        (
            "ssl_chain_cert=server.pem,ssl_key=client.key".into(),
            "Error validating the certificate",
        ),
        (
            "ssl_chain_cert=server.pem,ssl_key=server.key,ssl_verify_mode=2".into(),
            "give ssl_ca_cert",
        ),
        (
            format!(
                "ssl_chain_cert=server.pem,ssl_key=server.key,ssl_ca_cert={g},ssl_verify_mode=1"
            ),
            "Error loading the CA certificate",
        ),
        (
            "ssl_chain_cert=server.pem,ssl_min_version=1".into(),
            "TLS 1.2 and 1.3 only",
        ),
        ("ssl_key=server.key".into(), "-o ssl_chain_cert=FILE"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_hotset"))
            .args(["-p", "0", "-Z", "-o", &opts])
            .current_dir(certs())
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{opts} should fail");
        assert!(err.contains(why), "{opts}: {err}");
    }
}

/// A client that sends its last request and its close_notify together (as
/// `SSL_shutdown` after a write does) gets its reply and the server's
/// close, not a connection left waiting for input that will never come.
#[test]
fn close_notify_with_the_last_request_is_answered_and_closed() {
    use std::io::{Read, Write};
    let (mut child, tls, _) = start(&["-o", "ssl_chain_cert=server.pem,ssl_key=server.key"]);
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(certs().join("ca.pem")).unwrap();
    for c in rustls::pki_types::pem::PemObject::pem_slice_iter(&ca) {
        let c: rustls::pki_types::CertificateDer = c.unwrap();
        roots.add(c).unwrap();
    }
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(cfg), name).unwrap();
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", tls)).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    conn.writer()
        .write_all(b"set k 0 0 2\r\nhi\r\nget k\r\n")
        .unwrap();
    conn.send_close_notify();
    while conn.wants_write() {
        conn.write_tls(&mut sock).unwrap();
    }
    let mut got = Vec::new();
    loop {
        match conn.read_tls(&mut sock) {
            Ok(0) => break,
            Ok(_) => {
                let st = conn.process_new_packets().unwrap();
                let mut buf = vec![0; st.plaintext_bytes_to_read()];
                conn.reader().read_exact(&mut buf).unwrap();
                got.extend_from_slice(&buf);
                if st.peer_has_closed() {
                    break;
                }
            }
            Err(e) => panic!("no close from the server: {e}; got {got:?}"),
        }
    }
    assert_eq!(got, b"STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n");
    let _ = child.kill();
    let _ = child.wait();
}

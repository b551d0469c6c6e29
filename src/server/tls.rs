//! TLS (memcached's `-Z`) with rustls: the server's certificates, their
//! reload by `refresh_certs`, and a TLS stream that a worker drives like a
//! non-blocking socket.
//!
//! The stream keeps rustls' two buffers moving without blocking: a read
//! first returns plaintext rustls already decrypted, then pulls records
//! from the socket until the caller's buffer is full or the socket is
//! empty, answering the handshake as it goes; a write first pushes out the
//! records still queued, so that the queue stays one write deep. What a
//! socket cannot show epoll (plaintext decrypted but not yet read, records
//! queued but not yet sent) the connection asks about through
//! [`TlsStream::hidden_work`], and waits for writability instead, which
//! comes at once.

use std::path::PathBuf;

/// memcached's `-o ssl_*` settings, as the server takes them.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// The certificate chain, PEM, the server's own first
    /// (`ssl_chain_cert`).
    pub chain_cert: PathBuf,
    /// Its private key, PEM (`ssl_key`); `None`: in the chain's file.
    pub key: Option<PathBuf>,
    /// The CA certificates, PEM, that client certificates must chain to
    /// (`ssl_ca_cert`).
    pub ca_cert: Option<PathBuf>,
    /// Client certificates (`ssl_verify_mode`): 0 none asked for, 1 asked
    /// for and verified if sent, 2 required, 3 required once (rustls never
    /// renegotiates, so the same as 2).
    pub verify_mode: u8,
    /// The oldest protocol accepted (`ssl_min_version`): 2 TLS 1.2, 3 TLS
    /// 1.3.
    pub min_version: u8,
    /// Whether sessions may be resumed from a server-side cache
    /// (`ssl_session_cache`).
    pub session_cache: bool,
}

impl TlsSettings {
    /// `ssl_min_version` as memcached reports it.
    pub fn min_version_name(&self) -> &'static str {
        if self.min_version >= 3 {
            "tlsv1.3"
        } else {
            "tlsv1.2"
        }
    }
}

#[cfg(feature = "tls")]
pub(crate) use imp::{client_config, Certs, ClientTls, TlsStream};

#[cfg(feature = "tls")]
mod imp {
    use super::TlsSettings;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::ServerName;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
    use rustls::ServerConnection;
    use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig};
    use std::io::{self, Read, Write};
    use std::net::TcpStream;
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, RwLock};
    use std::time::Instant;

    /// The certificates in use, reloadable while connections run: each
    /// connection keeps the configuration it started with.
    pub(crate) struct Certs {
        settings: TlsSettings,
        current: RwLock<Arc<ServerConfig>>,
        /// When they were last loaded (`time_since_server_cert_refresh`).
        loaded: Mutex<Instant>,
        /// Handshakes that failed (`ssl_handshake_errors`).
        pub(crate) handshake_errors: AtomicU64,
    }

    impl Certs {
        /// Loads the certificates; the error says which file failed and
        /// why.
        pub(crate) fn new(settings: TlsSettings) -> Result<Certs, String> {
            let cfg = build(&settings)?;
            Ok(Certs {
                settings,
                current: RwLock::new(Arc::new(cfg)),
                loaded: Mutex::new(Instant::now()),
                handshake_errors: AtomicU64::new(0),
            })
        }

        /// `refresh_certs`: loads the files again; new connections use them,
        /// open ones keep theirs. On an error the old ones stay.
        pub(crate) fn refresh(&self) -> Result<(), String> {
            let cfg = Arc::new(build(&self.settings)?);
            *self.current.write().unwrap_or_else(|p| p.into_inner()) = cfg;
            *self.loaded.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            Ok(())
        }

        /// Seconds since the certificates were loaded.
        pub(crate) fn age_secs(&self) -> u64 {
            self.loaded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elapsed()
                .as_secs()
        }

        /// A new connection's TLS side, over `sock`.
        pub(crate) fn accept(self: &Arc<Self>, sock: TcpStream) -> io::Result<TlsStream> {
            let cfg = self
                .current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let conn = ServerConnection::new(cfg).map_err(io::Error::other)?;
            Ok(TlsStream {
                sock,
                conn: Connection::Server(conn),
                full: false,
                peer_closed: false,
                certs: Some(self.clone()),
            })
        }
    }

    /// A client's TLS configuration (the load generator's).
    pub(crate) type ClientTls = Arc<ClientConfig>;

    /// A client's configuration that trusts the CA certificates in the PEM
    /// file `ca`.
    pub(crate) fn client_config(ca: &Path) -> Result<ClientTls, String> {
        let named = |e: String| format!("--tls-ca {}: {e}", ca.display());
        let mut roots = RootCertStore::empty();
        for c in read_certs(ca).map_err(named)? {
            roots.add(c).map_err(|e| named(e.to_string()))?;
        }
        let cfg = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(cfg))
    }

    /// ring: it builds with a C compiler alone (aws-lc needs more, and
    /// minutes of CI). Its key exchanges are the classical ones (X25519,
    /// P-256, P-384), what memcached offers through OpenSSL 3.0; rustls
    /// deprecates it for want of post-quantum ones.
    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        #[allow(deprecated)]
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// A server configuration from the files, as memcached's errors name
    /// them.
    fn build(s: &TlsSettings) -> Result<ServerConfig, String> {
        let provider = provider();
        let versions: &[&rustls::SupportedProtocolVersion] = if s.min_version >= 3 {
            &[&rustls::version::TLS13]
        } else {
            &[&rustls::version::TLS12, &rustls::version::TLS13]
        };
        let chain = read_certs(&s.chain_cert).map_err(|e| {
            format!(
                "Error loading the certificate chain: {} : {e}",
                s.chain_cert.display()
            )
        })?;
        let key_path = s.key.as_deref().unwrap_or(&s.chain_cert);
        let key = PrivateKeyDer::from_pem_file(key_path)
            .map_err(|e| format!("Error loading the key: {} : {e}", key_path.display()))?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| format!("Error setting the protocol versions: {e}"))?;
        let builder = match (s.verify_mode, &s.ca_cert) {
            (0, _) => builder.with_no_client_auth(),
            (mode, Some(ca)) => {
                let named =
                    |e: String| format!("Error loading the CA certificate: {} : {e}", ca.display());
                let mut roots = RootCertStore::empty();
                for c in read_certs(ca).map_err(named)? {
                    roots.add(c).map_err(|e| named(e.to_string()))?;
                }
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let v = if mode == 1 {
                    v.allow_unauthenticated()
                } else {
                    v
                };
                builder.with_client_cert_verifier(v.build().map_err(|e| named(e.to_string()))?)
            }
            (_, None) => {
                return Err(
                    "ssl_verify_mode asks for client certificates: give ssl_ca_cert, the CA \
                     they must chain to"
                        .into(),
                )
            }
        };
        let mut cfg = builder
            .with_single_cert(chain, key)
            .map_err(|e| format!("Error validating the certificate: {e}"))?;
        if !s.session_cache {
            // As memcached's default: no resumption.
            cfg.session_storage = Arc::new(NoServerSessionStorage {});
            cfg.send_tls13_tickets = 0;
        }
        Ok(cfg)
    }

    /// Every certificate in a PEM file (at least one).
    fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| e.to_string())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        if certs.is_empty() {
            return Err("no certificate in the file".into());
        }
        Ok(certs)
    }

    /// A TLS connection over a non-blocking socket: the server's side of a
    /// client's, or (for the load generator) a client's.
    pub(crate) struct TlsStream {
        pub(crate) sock: TcpStream,
        conn: Connection,
        /// The last read filled the caller's buffer: more plaintext may be
        /// decrypted already, where epoll cannot see it.
        full: bool,
        /// The peer's close_notify came with the last plaintext returned:
        /// the next read is the end.
        peer_closed: bool,
        /// The server's certificates, which count failed handshakes.
        certs: Option<Arc<Certs>>,
    }

    impl TlsStream {
        /// A client's side over `sock`, checking that the server is `name`
        /// (a DNS name or an IP address).
        pub(crate) fn client(
            sock: TcpStream,
            cfg: Arc<ClientConfig>,
            name: &str,
        ) -> io::Result<TlsStream> {
            let name = ServerName::try_from(name.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let mut conn = ClientConnection::new(cfg, name).map_err(io::Error::other)?;
            // Requests queued before the handshake ends wait in rustls,
            // however many: the load generator queues a pipeline's worth.
            conn.set_buffer_limit(None);
            Ok(TlsStream {
                sock,
                conn: Connection::Client(conn),
                full: false,
                peer_closed: false,
                certs: None,
            })
        }

        /// Sends the records rustls has queued; `WouldBlock` when the
        /// socket takes no more.
        pub(crate) fn flush_tls(&mut self) -> io::Result<()> {
            while self.conn.wants_write() {
                if self.conn.write_tls(&mut self.sock)? == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
            Ok(())
        }

        /// Whether work is waiting that the socket's readiness will not
        /// announce: plaintext not yet read, or records not yet sent.
        pub(crate) fn hidden_work(&self) -> bool {
            self.full || self.peer_closed || self.conn.wants_write()
        }

        /// Counts a handshake that failed, on the server's side.
        fn handshake_failed(&self) {
            if let (true, Some(c)) = (self.conn.is_handshaking(), &self.certs) {
                c.handshake_errors.fetch_add(1, Ordering::Relaxed);
            }
        }

        /// Feeds what the socket has to rustls. `Ok(false)` at the end of
        /// the stream.
        fn pull(&mut self) -> io::Result<bool> {
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => {
                    self.handshake_failed();
                    return Ok(false);
                }
                Ok(_) => {}
                Err(e) => {
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) {
                        self.handshake_failed();
                    }
                    return Err(e);
                }
            }
            if let Err(e) = self.conn.process_new_packets() {
                self.handshake_failed();
                // The alert rustls queued, if the socket takes it.
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // The handshake's replies, as far as the socket takes them; the
            // rest goes when the connection next writes or waits.
            match self.flush_tls() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
                _ => Ok(true),
            }
        }
    }

    impl Read for TlsStream {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.peer_closed {
                self.peer_closed = false;
                return Ok(0);
            }
            let mut n = 0;
            loop {
                while n < buf.len() {
                    match self.conn.reader().read(&mut buf[n..]) {
                        // The peer's close_notify: the end, now or (after
                        // what came with it) at the next read, which
                        // `hidden_work` brings about.
                        Ok(0) => {
                            self.full = false;
                            self.peer_closed = n > 0;
                            return Ok(n);
                        }
                        Ok(k) => n += k,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // Closed without close_notify (a truncation).
                        Err(e) if n == 0 => return Err(e),
                        Err(_) => break,
                    }
                }
                self.full = n == buf.len();
                if self.full {
                    return Ok(n);
                }
                match self.pull() {
                    Ok(true) => {}
                    Ok(false) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }

    impl Write for TlsStream {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            // Records still queued go first, so rustls holds at most one
            // write's worth.
            self.flush_tls()?;
            let n = self.conn.writer().write(buf)?;
            if n == 0 && !buf.is_empty() {
                // rustls holds all it will before the handshake ends.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            // rustls took the bytes: whatever the socket says now, the
            // next write or flush reports.
            let _ = self.flush_tls();
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            self.flush_tls()
        }
    }

    impl Drop for TlsStream {
        fn drop(&mut self) {
            // A polite close, if the socket takes it.
            self.conn.send_close_notify();
            let _ = self.flush_tls();
        }
    }
}

//! Sockets the server accepts on and serves: TCP, TLS over TCP
//! (memcached's `-Z`), or a Unix socket (memcached's `-s`).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// A client connection.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsStream>),
}

impl Stream {
    /// Makes reads and writes return `WouldBlock` rather than wait.
    pub(crate) fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(true),
            Stream::Unix(s) => s.set_nonblocking(true),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.sock.set_nonblocking(true),
        }
    }

    /// Sends small replies at once (TCP's Nagle off; nothing to do on a
    /// Unix socket).
    pub(crate) fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(true),
            Stream::Unix(_) => Ok(()),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.sock.set_nodelay(true),
        }
    }

    /// Sends what a TLS layer still holds; `WouldBlock` if the socket
    /// takes no more. Nothing to do on a plain socket.
    #[inline]
    pub(crate) fn flush_tls(&mut self) -> io::Result<()> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.flush_tls(),
            _ => Ok(()),
        }
    }

    /// Whether a TLS layer holds input already read from the socket, or
    /// output not yet sent: work that the socket's readiness will not
    /// announce.
    #[inline]
    pub(crate) fn hidden_work(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.hidden_work(),
            _ => false,
        }
    }

    /// The peer, for logs.
    pub(crate) fn peer(&self) -> String {
        let tcp = |s: &TcpStream| {
            s.peer_addr()
                .map_or_else(|_| "a closed connection".into(), |a| a.to_string())
        };
        match self {
            Stream::Tcp(s) => tcp(s),
            Stream::Unix(_) => "a unix socket client".into(),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => format!("{} (TLS)", tcp(&t.sock)),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.sock.as_raw_fd(),
        }
    }
}

/// A bound listening socket.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Where a listener is, to print it and to wake its accept() on shutdown.
#[derive(Clone, Debug)]
pub(crate) enum Bound {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::Tcp(a) => write!(f, "{a}"),
            Bound::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl Listener {
    /// Waits for a connection.
    pub(crate) fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }
}

/// Binds a Unix socket at `path` with permissions `mask` (memcached's `-s`
/// and `-a`): a socket left there by an earlier run is replaced, anything
/// else at the path is an error. The socket is created under a umask that
/// leaves it `mask` from the start, as memcached does. The umask is
/// process-wide: this runs before the server's threads start, and the
/// threads already running (the cache's sweeper) create no files.
pub(crate) fn bind_unix(path: &Path, mask: u32, backlog: u32) -> io::Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    let named = |e: io::Error| io::Error::new(e.kind(), format!("-s {}: {e}", path.display()));
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path).map_err(named)?,
        Ok(_) => {
            return Err(named(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a socket",
            )))
        }
        Err(_) => {}
    }
    // SAFETY: umask only swaps the process's file-creation mask.
    let old = unsafe { libc::umask(!(mask as libc::mode_t) & 0o777) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above; restores the mask.
    unsafe { libc::umask(old) };
    let l = bound.map_err(named)?;
    super::listen::set_backlog(l.as_raw_fd(), backlog).map_err(named)?;
    Ok(l)
}

/// Connects to a listener to wake its accept() (on shutdown).
pub(crate) fn wake(b: &Bound) {
    match b {
        Bound::Tcp(a) => {
            let ip = a.ip();
            let to = if ip.is_unspecified() {
                let local: std::net::IpAddr = if ip.is_ipv4() {
                    [127, 0, 0, 1].into()
                } else {
                    [0u16, 0, 0, 0, 0, 0, 0, 1].into()
                };
                SocketAddr::new(local, a.port())
            } else {
                *a
            };
            let _ = TcpStream::connect_timeout(&to, std::time::Duration::from_secs(1));
        }
        Bound::Unix(p) => {
            let _ = UnixStream::connect(p);
        }
    }
}

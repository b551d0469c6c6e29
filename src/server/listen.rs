//! Where the server listens: memcached's `-l` syntax, and binding it.
//!
//! `-l` takes a comma-separated list, and may be given more than once. Each
//! entry is `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6
//! address, optionally prefixed `notls:` (a plaintext listener beside TLS
//! ones). An entry without a port takes `-p`'s. A host name binds every
//! address it resolves to, as memcached's getaddrinfo loop does.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::AsRawFd;

/// One `-l` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenAddr {
    /// Host name or address, without brackets.
    pub host: String,
    /// The port, if the entry named one (else `-p`'s).
    pub port: Option<u16>,
    /// `notls:`: plaintext even when TLS is on.
    pub notls: bool,
}

impl ListenAddr {
    /// `host` on `-p`'s port, plaintext.
    pub fn host(host: &str) -> ListenAddr {
        ListenAddr {
            host: host.to_string(),
            port: None,
            notls: false,
        }
    }

    /// The entry as `stats settings` and logs show it.
    pub fn display(&self, default_port: u16) -> String {
        let port = self.port.unwrap_or(default_port);
        let tls = if self.notls { "notls:" } else { "" };
        if self.host.contains(':') {
            format!("{tls}[{}]:{port}", self.host)
        } else {
            format!("{tls}{}:{port}", self.host)
        }
    }
}

/// Parses one `-l` value: a comma-separated list of entries.
pub fn parse_listen(s: &str) -> Result<Vec<ListenAddr>, String> {
    s.split(',').map(parse_one).collect()
}

fn parse_one(entry: &str) -> Result<ListenAddr, String> {
    let e = entry.trim();
    let (notls, rest) = match e.strip_prefix("notls:") {
        Some(r) => (true, r),
        None => (false, e),
    };
    let bad = |why: &str| Err(format!("bad listen address {entry:?}: {why}"));
    if rest.is_empty() {
        return bad("empty");
    }
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("bad listen address {entry:?}: {p:?} is not a port"))
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let Some((host, after)) = v6.split_once(']') else {
            return bad("no closing ]");
        };
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (host, Some(port(p)?)),
                None => return bad("junk after ]"),
            },
        }
    } else if rest.matches(':').count() > 1 {
        (rest, None) // a bare IPv6 address
    } else if let Some((host, p)) = rest.split_once(':') {
        (host, Some(port(p)?))
    } else {
        (rest, None)
    };
    if host.is_empty() {
        return bad("no host");
    }
    Ok(ListenAddr {
        host: host.to_string(),
        port,
        notls,
    })
}

/// Binds every address of every entry (a host name may resolve to
/// several; duplicates are bound once), each with a listen backlog of
/// `backlog`.
pub fn bind_all(
    addrs: &[ListenAddr],
    default_port: u16,
    backlog: u32,
) -> io::Result<Vec<(TcpListener, ListenAddr)>> {
    let mut out: Vec<(TcpListener, ListenAddr)> = Vec::new();
    let mut seen: Vec<SocketAddr> = Vec::new();
    for a in addrs {
        let port = a.port.unwrap_or(default_port);
        let resolved = (a.host.as_str(), port).to_socket_addrs().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot resolve {}: {e}", a.display(default_port)),
            )
        })?;
        for sa in resolved {
            if seen.contains(&sa) {
                continue;
            }
            let l = TcpListener::bind(sa)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {sa}: {e}")))?;
            set_backlog(l.as_raw_fd(), backlog)?;
            seen.push(l.local_addr()?);
            out.push((l, a.clone()));
        }
    }
    if out.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no address to listen on",
        ));
    }
    Ok(out)
}

/// Sets a bound, listening socket's accept backlog (memcached's `-b`):
/// on Linux, `listen` on a listening socket changes its backlog. `fd` is a
/// listener's, open for the call.
pub(crate) fn set_backlog(fd: std::os::fd::RawFd, backlog: u32) -> io::Result<()> {
    let n = backlog.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: `listen` on an open descriptor (the caller's listener); it
    // touches nothing else.
    if unsafe { libc::listen(fd, n) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(host: &str, port: Option<u16>, notls: bool) -> ListenAddr {
        ListenAddr {
            host: host.into(),
            port,
            notls,
        }
    }

    #[test]
    fn memcached_listen_syntax() {
        assert_eq!(
            parse_listen("127.0.0.1").unwrap(),
            [one("127.0.0.1", None, false)]
        );
        assert_eq!(
            parse_listen("127.0.0.1:11211,notls:localhost:7000").unwrap(),
            [
                one("127.0.0.1", Some(11211), false),
                one("localhost", Some(7000), true)
            ]
        );
        assert_eq!(parse_listen("::1").unwrap(), [one("::1", None, false)]);
        assert_eq!(
            parse_listen("[::1]:9").unwrap(),
            [one("::1", Some(9), false)]
        );
        assert_eq!(parse_listen("[::1]").unwrap(), [one("::1", None, false)]);
        for bad in ["", "a:b", "1.2.3.4:70000", "[::1", "[::1]x", ":5", "notls:"] {
            let e = parse_listen(bad).unwrap_err();
            assert!(e.contains("bad listen address"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn binds_each_address_once() {
        let l = bind_all(
            &[
                one("127.0.0.1", Some(0), false),
                one("127.0.0.1", Some(0), true),
            ],
            1,
            16,
        )
        .unwrap();
        // Port 0 twice is two listeners on two free ports.
        assert_eq!(l.len(), 2);
        assert!(l[1].1.notls);
        let e = bind_all(&[one("no-such-host.invalid", None, false)], 1, 16).unwrap_err();
        assert!(e.to_string().contains("cannot resolve"), "{e}");
    }
}

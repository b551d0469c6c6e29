//! The std::net server: a listener that hands each connection to its own
//! thread, connection limits, and clean shutdown on SIGINT/SIGTERM.
//!
//! **One thread per connection.** std::net has no readiness API, so a thread
//! blocked in `read` is what makes an idle connection cost no CPU, and the
//! kernel spreads busy connections over every core. Threads get small stacks
//! (256 KiB), and `--max-conns` (default 1024) bounds how many exist. Each
//! connection's buffers are bounded (see `conn.rs`), so a client that never
//! reads its replies blocks only its own thread.

mod conn;
mod stats;

use crate::Cache;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Stack size of a connection thread.
const CONN_STACK: usize = 256 << 10;

/// `(user, password)` pairs that may authenticate.
pub type Users = Vec<(Vec<u8>, Vec<u8>)>;

/// How the server listens and limits connections.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to bind (default 127.0.0.1).
    pub listen: IpAddr,
    /// TCP port (default 11212; 0 picks a free one).
    pub port: u16,
    /// Connections served at once; one more is refused with
    /// `SERVER_ERROR too many open connections`.
    pub max_conns: usize,
    /// Close a connection that sends nothing for this long (`None`: never).
    pub idle_timeout: Option<std::time::Duration>,
    /// `(user, password)` pairs from `--auth-file`; `None` serves everyone.
    pub auth: Option<Arc<Users>>,
    /// 0 quiet, 1 connections and errors, 2 every refused request.
    pub verbosity: u8,
    /// Settings reported by `stats settings`.
    pub settings: Vec<(String, String)>,
}

/// Connection counters, shared by the listener and connection threads.
pub(crate) struct Shared {
    pub(crate) cache: Cache,
    pub(crate) cfg: ServerConfig,
    pub(crate) curr_connections: AtomicU64,
    pub(crate) total_connections: AtomicU64,
    pub(crate) rejected_connections: AtomicU64,
    /// Connections closed for idling (memcached's `idle_kicks`).
    pub(crate) idle_kicks: AtomicU64,
    pub(crate) started: Instant,
    pub(crate) started_unix: u64,
}

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it
/// spawns from now on, so that only the thread in [`serve`] receives them.
/// Call it first in `main`, before anything spawns a thread.
pub fn block_shutdown_signals() {
    // SAFETY: sigset manipulation on a local set, then pthread_sigmask on the
    // current thread; all arguments are valid pointers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Binds the listener and serves until SIGINT or SIGTERM. Prints
/// `hotset: listening on <addr>` (and flushes) once bound.
pub fn serve(cache: Cache, cfg: ServerConfig) -> io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::new(cfg.listen, cfg.port)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on {}:{}: {e}", cfg.listen, cfg.port),
        )
    })?;
    let addr = listener.local_addr()?;
    raise_fd_limit(cfg.max_conns);
    let shutdown = Arc::new(AtomicBool::new(false));
    spawn_signal_thread(shutdown.clone(), addr)?;
    let shared = Arc::new(Shared {
        cache,
        cfg,
        curr_connections: AtomicU64::new(0),
        total_connections: AtomicU64::new(0),
        rejected_connections: AtomicU64::new(0),
        idle_kicks: AtomicU64::new(0),
        started: Instant::now(),
        started_unix: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    });
    {
        let mut out = io::stdout().lock();
        writeln!(out, "hotset: listening on {addr}")?;
        out.flush()?;
    }
    for stream in listener.incoming() {
        if shutdown.load(Ordering::Relaxed) {
            break;
        }
        match stream {
            Ok(s) => accept(&shared, s),
            Err(e) => {
                if shared.cfg.verbosity > 0 {
                    eprintln!("hotset: accept: {e}");
                }
                // Out of descriptors or similar: back off instead of spinning.
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    eprintln!("hotset: shutting down");
    Ok(())
}

fn accept(shared: &Arc<Shared>, mut s: TcpStream) {
    let n = shared.curr_connections.fetch_add(1, Ordering::AcqRel);
    if n as usize >= shared.cfg.max_conns {
        shared.curr_connections.fetch_sub(1, Ordering::AcqRel);
        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        let _ = s.write_all(crate::protocol::reply::TOO_MANY_CONNECTIONS);
        if shared.cfg.verbosity > 0 {
            eprintln!(
                "hotset: refused a connection: {} open",
                shared.cfg.max_conns
            );
        }
        return;
    }
    shared.total_connections.fetch_add(1, Ordering::Relaxed);
    let sh = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("hotset-conn".into())
        .stack_size(CONN_STACK)
        .spawn(move || {
            let peer = s.peer_addr().ok();
            let r = conn::run(&sh, s);
            if sh.cfg.verbosity > 0 {
                match (peer, r) {
                    (Some(p), Err(e)) => eprintln!("hotset: {p}: {e}"),
                    (Some(p), Ok(())) => eprintln!("hotset: {p}: closed"),
                    _ => {}
                }
            }
            sh.curr_connections.fetch_sub(1, Ordering::AcqRel);
        });
    if let Err(e) = spawned {
        shared.curr_connections.fetch_sub(1, Ordering::AcqRel);
        eprintln!("hotset: cannot start a connection thread: {e}");
    }
}

/// Raises the soft limit on open descriptors toward the hard limit, so that
/// `max_conns` connections (plus some slack) can be open, as memcached does.
fn raise_fd_limit(max_conns: usize) {
    let want = max_conns as u64 + 64;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn spawn_signal_thread(shutdown: Arc<AtomicBool>, addr: SocketAddr) -> io::Result<()> {
    std::thread::Builder::new()
        .name("hotset-signals".into())
        .spawn(move || {
            // SAFETY: a local sigset, filled and passed by valid pointers; the
            // signals are blocked in every thread (block_shutdown_signals), so
            // sigwait receives them here.
            let sig = unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGINT);
                libc::sigaddset(&mut set, libc::SIGTERM);
                let mut sig: libc::c_int = 0;
                libc::sigwait(&set, &mut sig);
                sig
            };
            eprintln!("hotset: signal {sig} received");
            shutdown.store(true, Ordering::Relaxed);
            // Wake the listener's accept().
            let wake = match addr.ip() {
                ip if ip.is_unspecified() => SocketAddr::new(
                    if ip.is_ipv4() {
                        IpAddr::from([127, 0, 0, 1])
                    } else {
                        IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])
                    },
                    addr.port(),
                ),
                _ => addr,
            };
            let _ = TcpStream::connect(wake);
        })?;
    Ok(())
}

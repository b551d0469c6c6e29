//! The std::net server: a listener thread that hands each connection to one
//! of `--threads` workers, connection limits, and clean shutdown on
//! SIGINT/SIGTERM.
//!
//! **Event-driven workers.** Sockets are std::net's, made non-blocking; each
//! worker waits on its own epoll instance (`poll.rs`, the one readiness API
//! std lacks) and drives every ready connection until it would block
//! (`worker.rs`, `conn.rs`). A busy worker answers many connections per
//! wakeup, where a thread per connection paid about one context switch per
//! request (see IMPLEMENTATION.md). New connections go to the workers in
//! turn. `--max-conns` (default 1024) bounds how many are open, and each
//! connection's buffers are bounded, so a client that never reads its
//! replies costs its own buffers and stalls nobody.

/// `eprintln!` that never panics: a server whose stderr was closed (its
/// supervisor gone) keeps serving, and still stops on a signal.
macro_rules! log {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod conn;
mod detail;
pub mod listen;
mod meta;
mod poll;
mod stats;
pub(crate) mod stream;
pub mod tls;
mod worker;

use crate::Cache;
use listen::ListenAddr;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use stream::{Bound, Listener, Stream};

/// `(user, password)` pairs that may authenticate.
pub type Users = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads an `--auth-file`: `user:pass` lines (blank lines and `#` comments
/// skipped). An unreadable file, a malformed line or no user at all is an
/// error naming the file and line.
pub fn read_users(path: &std::path::Path) -> Result<Users, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--auth-file {}: {e}", path.display()))?;
    let mut users = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((u, p)) if !u.is_empty() && !u.contains(' ') && !p.is_empty() => {
                users.push((u.as_bytes().to_vec(), p.as_bytes().to_vec()))
            }
            _ => {
                return Err(format!(
                    "--auth-file {} line {}: expected user:pass (no spaces in the user)",
                    path.display(),
                    n + 1
                ))
            }
        }
    }
    if users.is_empty() {
        return Err(format!(
            "--auth-file {}: no user:pass lines",
            path.display()
        ));
    }
    Ok(users)
}

/// How the server listens and limits connections.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen (memcached's `-l`; the CLI's default is 127.0.0.1).
    pub listen: Vec<ListenAddr>,
    /// TCP port of the entries that name none (default 11212; 0 picks a
    /// free one).
    pub port: u16,
    /// Each listener's accept backlog (memcached's `-b`, default 1024).
    pub backlog: u32,
    /// Whether the `shutdown` command stops the server (memcached's `-A`).
    pub shutdown_command: bool,
    /// Requests a connection is served per wakeup before the worker's
    /// other connections go (memcached's `-R`, default 20; at least 1).
    pub reqs_per_event: u32,
    /// Serve a Unix socket at this path instead of TCP (memcached's `-s`).
    pub unix_socket: Option<std::path::PathBuf>,
    /// The Unix socket's permissions (memcached's `-a`, default 0700).
    pub unix_mask: u32,
    /// Connections served at once; one more is refused with
    /// `SERVER_ERROR too many open connections`.
    pub max_conns: usize,
    /// Worker threads serving connections (at least 1).
    pub threads: usize,
    /// Close a connection that sends nothing for this long (`None`: never).
    pub idle_timeout: Option<std::time::Duration>,
    /// `(user, password)` pairs from `--auth-file`; `None` serves everyone.
    pub auth: Option<Arc<Users>>,
    /// 0 quiet, 1 connections and errors, 2 every refused request.
    pub verbosity: u8,
    /// Whether clients see CAS uniques (memcached's `-C` turns them off):
    /// off, every reply's CAS reads 0 and every compare-and-swap finds a
    /// mismatch, as in memcached. The items keep theirs for the engine.
    pub cas: bool,
    /// TLS on every TCP listener but `notls:` ones (memcached's `-Z`);
    /// needs the `tls` feature.
    pub tls: Option<tls::TlsSettings>,
}

/// The settings a server runs with, as `stats settings` names them
/// (memcached's names where they mean the same thing, `hotset_` otherwise),
/// in its order: from the server's own config and the cache's. The binary
/// prints the same list at start under `-v`. `verbosity` is the level the
/// server started with; `stats settings` reports the current one.
pub fn settings(cache: &Cache, cfg: &ServerConfig, verbosity: u32) -> Vec<(&'static str, String)> {
    let c = cache.config();
    let mut s = vec![
        ("maxbytes", cache.memory_limit().to_string()),
        ("num_threads", cfg.threads.to_string()),
        ("maxconns", cfg.max_conns.to_string()),
        (
            "idle_timeout",
            cfg.idle_timeout.map_or(0, |d| d.as_secs()).to_string(),
        ),
        ("tcpport", cfg.port.to_string()),
        ("udpport", "0".to_string()),
        // memcached's key for -l ("inter"), every listener here.
        (
            "inter",
            match cfg.unix_socket {
                Some(_) => "NULL".to_string(),
                None => cfg
                    .listen
                    .iter()
                    .map(|l| l.display(cfg.port))
                    .collect::<Vec<_>>()
                    .join(","),
            },
        ),
        ("tcp_backlog", cfg.backlog.to_string()),
        ("reqs_per_event", cfg.reqs_per_event.to_string()),
        ("binding_protocol", "ascii".to_string()),
        ("shutdown_command", yes_no(cfg.shutdown_command).to_string()),
        // A connection over the limit is refused at once, with an error.
        ("maxconns_fast", "yes".to_string()),
        ("cas_enabled", yes_no(cfg.cas).to_string()),
        (
            "domain_socket",
            cfg.unix_socket
                .as_ref()
                .map_or("NULL".to_string(), |p| p.display().to_string()),
        ),
        ("umask", format!("{:o}", cfg.unix_mask)),
        ("stat_key_prefix", ":".to_string()),
        ("auth_enabled_sasl", "no".to_string()),
        ("auth_enabled_ascii", yes_no(cfg.auth.is_some()).to_string()),
        // A page moves between classes whenever one needs it.
        ("slab_reassign", "yes".to_string()),
        ("flush_enabled", "yes".to_string()),
        ("dump_enabled", "yes".to_string()),
        ("hash_algorithm", "foldhash".to_string()),
        ("track_sizes", "no".to_string()),
        (
            "memory_file",
            c.memory_file
                .as_ref()
                .map_or("(null)".into(), |p| p.display().to_string()),
        ),
        ("ssl_enabled", yes_no(cfg.tls.is_some()).to_string()),
        (
            "ssl_chain_cert",
            cfg.tls
                .as_ref()
                .map_or("(null)".into(), |t| t.chain_cert.display().to_string()),
        ),
        (
            "ssl_key",
            match &cfg.tls {
                Some(t) => t
                    .key
                    .as_ref()
                    .unwrap_or(&t.chain_cert)
                    .display()
                    .to_string(),
                None => "(null)".into(),
            },
        ),
        (
            "ssl_verify_mode",
            cfg.tls.as_ref().map_or(0, |t| t.verify_mode).to_string(),
        ),
        // PEM, as memcached numbers it.
        ("ssl_keyformat", "1".to_string()),
        // rustls' own suites: every one AEAD with forward secrecy.
        ("ssl_ciphers", "NULL".to_string()),
        (
            "ssl_ca_cert",
            cfg.tls
                .as_ref()
                .and_then(|t| t.ca_cert.as_ref())
                .map_or("NULL".into(), |p| p.display().to_string()),
        ),
        (
            "ssl_session_cache",
            yes_no(cfg.tls.as_ref().is_some_and(|t| t.session_cache)).to_string(),
        ),
        ("ssl_kernel_tls", "no".to_string()),
        (
            "ssl_min_version",
            cfg.tls
                .as_ref()
                .map_or("tlsv1.2", |t| t.min_version_name())
                .to_string(),
        ),
        ("item_size_max", cache.max_item_size().to_string()),
        // memcached's -n: the smallest chunk's room beyond the item header.
        (
            "chunk_size",
            cache.class_sizes()[0]
                .saturating_sub(crate::HEADER_SIZE)
                .to_string(),
        ),
        ("slab_page_size", cache.page_size().to_string()),
    ];
    match &c.classes {
        crate::SlabClasses::Growth(f) => s.push(("growth_factor", f.to_string())),
        // No factor: the classes are the list (memcached's `-o slab_sizes`).
        crate::SlabClasses::List(l) => s.push((
            "slab_sizes",
            l.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("-"),
        )),
    }
    s.extend([
        ("slab_classes", cache.class_sizes().len().to_string()),
        (
            "evictions",
            if c.evictions { "on" } else { "off" }.to_string(),
        ),
        ("hotset_policy", c.policy.to_string()),
        ("hotset_samples", c.samples.to_string()),
        ("hotset_evict_pool", c.evict_pool.to_string()),
        ("hotset_sweep_hz", c.sweep_hz.to_string()),
        ("hotset_reclaim", c.reclaim.name().to_string()),
        ("verbosity", verbosity.to_string()),
        ("slab_automove", cache.automove().to_string()),
    ]);
    s
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// A worker's own counters: only its thread writes them (so no cache line
/// is written by two workers), and `stats` sums them.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct WorkerCounters {
    pub(crate) bytes_read: AtomicU64,
    pub(crate) bytes_written: AtomicU64,
    /// Times a connection with input maybe pending was set aside for the
    /// worker's other connections (memcached's `conn_yields`).
    pub(crate) conn_yields: AtomicU64,
    /// Values refused for size before they arrived.
    pub(crate) too_large: AtomicU64,
    pub(crate) auth_cmds: AtomicU64,
    pub(crate) auth_errors: AtomicU64,
}

/// The server's counters summed over the workers, at one moment.
#[derive(Clone, Copy, Default)]
pub(crate) struct ServerCounts {
    pub(crate) bytes_read: u64,
    pub(crate) bytes_written: u64,
    pub(crate) conn_yields: u64,
    pub(crate) too_large: u64,
    pub(crate) auth_cmds: u64,
    pub(crate) auth_errors: u64,
    pub(crate) listen_disabled: u64,
}

impl ServerCounts {
    /// The counts now.
    pub(crate) fn now(sh: &Shared) -> ServerCounts {
        let mut c = ServerCounts {
            listen_disabled: sh.listen_disabled.load(Ordering::Relaxed),
            ..ServerCounts::default()
        };
        for w in sh.per_worker.iter() {
            let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
            c.bytes_read += get(&w.bytes_read);
            c.bytes_written += get(&w.bytes_written);
            c.conn_yields += get(&w.conn_yields);
            c.too_large += get(&w.too_large);
            c.auth_cmds += get(&w.auth_cmds);
            c.auth_errors += get(&w.auth_errors);
        }
        c
    }

    /// The counts since `base` (a `stats reset`).
    pub(crate) fn since(self, base: ServerCounts) -> ServerCounts {
        ServerCounts {
            bytes_read: self.bytes_read.saturating_sub(base.bytes_read),
            bytes_written: self.bytes_written.saturating_sub(base.bytes_written),
            conn_yields: self.conn_yields.saturating_sub(base.conn_yields),
            too_large: self.too_large.saturating_sub(base.too_large),
            auth_cmds: self.auth_cmds.saturating_sub(base.auth_cmds),
            auth_errors: self.auth_errors.saturating_sub(base.auth_errors),
            listen_disabled: self.listen_disabled.saturating_sub(base.listen_disabled),
        }
    }
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
    /// `stats detail`'s per-prefix counts.
    pub(crate) detail: detail::Detail,
    /// The counters as they were at the last `stats reset`, if any.
    pub(crate) stats_base: std::sync::Mutex<Option<crate::Stats>>,
    /// The level `verbosity` last set (reported by `stats settings`).
    pub(crate) verbosity: std::sync::atomic::AtomicU32,
    /// Whether `stats sizes` answers (memcached's `stats sizes_enable`;
    /// off at start, as there). hotset walks the items when asked, so it
    /// costs nothing per store.
    pub(crate) sizes: std::sync::atomic::AtomicBool,
    /// Set by SIGINT/SIGTERM, or by `shutdown` under `-A`: the listeners
    /// stop accepting and `serve` returns.
    pub(crate) stopping: AtomicBool,
    /// Where the listeners are, to wake their accept() on shutdown.
    pub(crate) bound: Vec<Bound>,
    /// Per worker, by worker number.
    pub(crate) per_worker: Box<[WorkerCounters]>,
    /// The server's counters at the last `stats reset`.
    pub(crate) server_base: std::sync::Mutex<ServerCounts>,
    /// Accepts that failed for want of descriptors, after which the
    /// listener paused (memcached's `listen_disabled_num`).
    pub(crate) listen_disabled: AtomicU64,
    /// The most connections open at once.
    pub(crate) conn_peak: AtomicU64,
    /// The certificates of the TLS listeners (with `-Z`).
    #[cfg(feature = "tls")]
    pub(crate) certs: Option<Arc<tls::Certs>>,
    /// SIGUSR1 came: once the listeners stop, the workers pause and the
    /// cache is saved for a warm restart (with a memory file).
    pub(crate) save_on_stop: AtomicBool,
    /// Set to make the workers stop serving after their current wakeup.
    pub(crate) pausing: AtomicBool,
    /// Workers that stopped for it.
    pub(crate) paused: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// A CAS unique as a client sees it: 0 under `-C`.
    #[inline]
    pub(crate) fn shown_cas(&self, cas: u64) -> u64 {
        if self.cfg.cas {
            cas
        } else {
            0
        }
    }

    /// A `cas` command's expected CAS unique as the engine compares it:
    /// under `-C` one no item has (nor sorts after), so the compare fails,
    /// as memcached's does.
    #[inline]
    pub(crate) fn asked_cas(&self, cas: u64) -> u64 {
        if self.cfg.cas {
            cas
        } else {
            u64::MAX
        }
    }

    /// A meta command's `C` as the engine compares it: under `-C` every
    /// item's CAS reads 0, so `C0` matches whatever is there (no
    /// condition) and any other value none, as in memcached.
    #[inline]
    pub(crate) fn asked_meta_cas(&self, cas: Option<u64>) -> Option<u64> {
        match cas {
            Some(c) if !self.cfg.cas => (c != 0).then_some(u64::MAX),
            c => c,
        }
    }

    /// `refresh_certs`: reloads the TLS certificates for new connections.
    /// The error is memcached's line.
    pub(crate) fn refresh_certs(&self) -> Result<(), String> {
        #[cfg(feature = "tls")]
        if let Some(c) = &self.certs {
            return c.refresh();
        }
        Err("Error TLS not enabled".into())
    }

    /// Stops the server: marks it stopping and wakes every listener.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        for b in &self.bound {
            stream::wake(b);
        }
    }
}

/// Blocks SIGINT, SIGTERM and SIGUSR1 in the calling thread and every
/// thread it spawns from now on, so that only the thread in [`serve`]
/// receives them.
/// Call it first in `main`, before anything spawns a thread.
pub fn block_shutdown_signals() {
    // SAFETY: sigset manipulation on a local set, then pthread_sigmask on the
    // current thread; all arguments are valid pointers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Binds the listener and serves until SIGINT or SIGTERM, or SIGUSR1,
/// which saves a cache in a memory file for a warm restart first. Prints
/// `hotset: listening on <addr>` (and flushes) once bound.
pub fn serve(cache: Cache, cfg: ServerConfig) -> io::Result<()> {
    serve_with(cache, cfg, || Ok(()))
}

/// As [`serve`], running `ready` once every listener is bound and before
/// any connection is served: the binary drops root privileges there.
pub fn serve_with(
    cache: Cache,
    cfg: ServerConfig,
    ready: impl FnOnce() -> Result<(), String>,
) -> io::Result<()> {
    // The certificates load first: a bad one is a start-up error.
    #[cfg(feature = "tls")]
    let certs = match &cfg.tls {
        Some(t) => Some(Arc::new(
            tls::Certs::new(t.clone()).map_err(io::Error::other)?,
        )),
        None => None,
    };
    #[cfg(not(feature = "tls"))]
    if cfg.tls.is_some() {
        return Err(io::Error::other(
            "-Z: this hotset was built without the tls feature",
        ));
    }
    // Each listener, where it is, and whether it speaks TLS.
    let listeners: Vec<(Listener, Bound, bool)> = match &cfg.unix_socket {
        // As memcached: a Unix socket replaces the network listeners.
        Some(path) => {
            let l = stream::bind_unix(path, cfg.unix_mask, cfg.backlog)?;
            vec![(Listener::Unix(l), Bound::Unix(path.clone()), false)]
        }
        None => listen::bind_all(&cfg.listen, cfg.port, cfg.backlog)?
            .into_iter()
            .map(|(l, a)| {
                let at = l.local_addr()?;
                Ok((
                    Listener::Tcp(l),
                    Bound::Tcp(at),
                    cfg.tls.is_some() && !a.notls,
                ))
            })
            .collect::<io::Result<_>>()?,
    };
    let bound: Vec<Bound> = listeners.iter().map(|(_, b, _)| b.clone()).collect();
    let tls_bound: Vec<bool> = listeners.iter().map(|(_, _, t)| *t).collect();
    // While still root, if started so: the hard limit binds after.
    raise_fd_limit(cfg.max_conns);
    ready().map_err(io::Error::other)?;
    let cfg_verbosity = cfg.verbosity as u32;
    let cfg_threads = cfg.threads.max(1);
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
        detail: detail::Detail::default(),
        stats_base: std::sync::Mutex::new(None),
        verbosity: std::sync::atomic::AtomicU32::new(cfg_verbosity),
        sizes: std::sync::atomic::AtomicBool::new(false),
        stopping: AtomicBool::new(false),
        per_worker: (0..cfg_threads)
            .map(|_| WorkerCounters::default())
            .collect(),
        server_base: std::sync::Mutex::new(ServerCounts::default()),
        listen_disabled: AtomicU64::new(0),
        conn_peak: AtomicU64::new(0),
        bound,
        #[cfg(feature = "tls")]
        certs,
        save_on_stop: AtomicBool::new(false),
        pausing: AtomicBool::new(false),
        paused: std::sync::atomic::AtomicUsize::new(0),
    });
    spawn_signal_thread(shared.clone())?;
    let workers = Arc::new(
        (0..shared.cfg.threads.max(1))
            .map(|id| worker::spawn(shared.clone(), id))
            .collect::<io::Result<Vec<_>>>()?,
    );
    {
        let mut out = io::stdout().lock();
        for (a, tls) in shared.bound.iter().zip(tls_bound) {
            let with = if tls { " with TLS" } else { "" };
            writeln!(out, "hotset: listening{with} on {a}")?;
        }
        out.flush()?;
    }
    let next = Arc::new(AtomicU64::new(0));
    let mut others = Vec::new();
    let mut listeners = listeners.into_iter();
    let (first, _, first_tls) = listeners.next().expect("bind_all binds at least one");
    for (l, _, tls) in listeners {
        let (shared, workers, next) = (shared.clone(), workers.clone(), next.clone());
        others.push(
            std::thread::Builder::new()
                .name("hotset-accept".into())
                .spawn(move || accept_loop(&l, tls, &shared, &workers, &next))?,
        );
    }
    accept_loop(&first, first_tls, &shared, &workers, &next);
    for t in others {
        let _ = t.join();
    }
    if shared.save_on_stop.load(Ordering::Acquire) {
        pause_and_save(&shared, &workers);
    }
    if let Some(p) = &shared.cfg.unix_socket {
        let _ = std::fs::remove_file(p);
    }
    log!("hotset: shutting down");
    Ok(())
}

/// SIGUSR1's end: the workers answer what their current wakeup read and
/// stop, then, with a memory file, the cache is saved for a warm restart.
fn pause_and_save(shared: &Shared, workers: &[worker::Handle]) {
    shared.pausing.store(true, Ordering::Release);
    for w in workers {
        w.wake();
    }
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while shared.paused.load(Ordering::Acquire) < workers.len() {
        if Instant::now() >= deadline {
            // A save taken while a worker writes would not be what the
            // next start reads.
            log!("hotset: a worker did not stop within 10 s; not saving");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    if shared.cache.config().memory_file.is_none() {
        return;
    }
    let t = Instant::now();
    match shared.cache.save_warm() {
        Ok(()) => log!(
            "hotset: saved for a warm restart in {:.3} s",
            t.elapsed().as_secs_f64()
        ),
        Err(e) => log!("hotset: cannot save for a warm restart: {e}"),
    }
}

/// Accepts connections on `l` (a TLS listener if `tls`) and hands them to
/// the workers in turn, until the server stops.
fn accept_loop(
    l: &Listener,
    tls: bool,
    shared: &Shared,
    workers: &[worker::Handle],
    next: &AtomicU64,
) {
    loop {
        let stream = l.accept();
        if shared.stopping.load(Ordering::Relaxed) {
            break;
        }
        match stream {
            Ok(mut s) => {
                if admit(shared, &mut s, tls) {
                    let s = match secure(shared, s, tls) {
                        Ok(s) => s,
                        Err(e) => {
                            shared.curr_connections.fetch_sub(1, Ordering::AcqRel);
                            if shared.cfg.verbosity > 0 {
                                log!("hotset: cannot start TLS: {e}");
                            }
                            continue;
                        }
                    };
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    workers[n % workers.len()].hand(s);
                }
            }
            Err(e) => {
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
                    shared.listen_disabled.fetch_add(1, Ordering::Relaxed);
                }
                if shared.cfg.verbosity > 0 {
                    log!("hotset: accept: {e}");
                }
                // Out of descriptors or similar: back off instead of spinning.
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

/// A TLS listener's connection gets its TLS layer.
fn secure(shared: &Shared, s: Stream, tls: bool) -> io::Result<Stream> {
    match (s, tls) {
        #[cfg(feature = "tls")]
        (Stream::Tcp(sock), true) => match &shared.certs {
            Some(c) => Ok(Stream::Tls(Box::new(c.accept(sock)?))),
            None => Err(io::Error::other("no certificates")),
        },
        (s, _) => {
            let _ = shared;
            Ok(s)
        }
    }
}

/// Counts a new connection in, or refuses it when `max_conns` are open
/// (with memcached's error, unless the client expects TLS).
fn admit(shared: &Shared, s: &mut Stream, tls: bool) -> bool {
    let n = shared.curr_connections.fetch_add(1, Ordering::AcqRel);
    if n as usize >= shared.cfg.max_conns {
        shared.curr_connections.fetch_sub(1, Ordering::AcqRel);
        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        if !tls {
            let _ = s.write_all(crate::protocol::reply::TOO_MANY_CONNECTIONS);
        }
        if shared.cfg.verbosity > 0 {
            log!(
                "hotset: refused a connection: {} open",
                shared.cfg.max_conns
            );
        }
        return false;
    }
    shared.conn_peak.fetch_max(n + 1, Ordering::Relaxed);
    shared.total_connections.fetch_add(1, Ordering::Relaxed);
    true
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

fn spawn_signal_thread(shared: Arc<Shared>) -> io::Result<()> {
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
                libc::sigaddset(&mut set, libc::SIGUSR1);
                let mut sig: libc::c_int = 0;
                libc::sigwait(&set, &mut sig);
                sig
            };
            if sig == libc::SIGUSR1 {
                // memcached's graceful stop: no new connections, the
                // requests in flight answered, then (with -e) a save.
                shared.save_on_stop.store(true, Ordering::Release);
            }
            shared.stop();
            // After stopping: a stderr nobody reads must not hold it up.
            log!("hotset: signal {sig} received");
        })?;
    Ok(())
}

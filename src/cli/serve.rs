//! `hotset serve` (the default command): hotset's own flags, and
//! memcached's command line beside them, with memcached's meanings and
//! units, so that memcached's launch lines (its systemd unit, the Docker
//! image's command) start hotset unchanged.

use clap::Args;
use hotset::server::listen::{parse_listen, ListenAddr};
use hotset::server::tls::TlsSettings;
use hotset::server::ServerConfig;
use hotset::{Config, Policy, ReclaimKind, SlabClasses};
use std::path::PathBuf;

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Where to listen (memcached's -l): a comma-separated list of host,
    /// host:port, [v6]:port or notls:…, and may be repeated. Entries
    /// without a port use -p.
    #[arg(short = 'l', long, value_parser = parse_listen, action = clap::ArgAction::Append)]
    listen: Vec<Vec<ListenAddr>>,
    /// TCP port (0 picks a free one and prints it).
    #[arg(short = 'p', long, default_value_t = 11212)]
    port: u16,
    /// UDP port (memcached's -U): hotset has no UDP, so only 0 is accepted.
    #[arg(short = 'U', long, default_value_t = 0)]
    udp_port: u16,
    /// Each listener's accept backlog (memcached's -b).
    #[arg(short = 'b', long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    listen_backlog: u32,
    /// Item memory budget: bytes, or with k/m/g (KiB/MiB/GiB) [default: 64MiB].
    #[arg(long, value_parser = hotset::parse_size, conflicts_with = "memory_limit")]
    memory: Option<usize>,
    /// Item memory in megabytes (memcached's -m).
    #[arg(short = 'm', long, value_parser = parse_megabytes)]
    memory_limit: Option<usize>,
    /// The largest budget `cache_memlimit` may set at run time (address
    /// space is reserved for it, not committed); default four times
    /// --memory.
    #[arg(long, value_parser = hotset::parse_size)]
    memory_max: Option<usize>,
    /// Connections served at once; more are refused with an error
    /// (memcached's -c).
    #[arg(short = 'c', long, visible_alias = "conn-limit", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_conns: u32,
    /// Worker threads serving connections (memcached's -t); default: one
    /// per core.
    #[arg(short = 't', long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// Close a connection after this many seconds without a request
    /// (memcached's -o idle_timeout); 0 never does.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=86_400 * 30))]
    idle_timeout: Option<u32>,
    /// Require memcached's ASCII authentication (memcached's -Y): a file of
    /// `user:pass` lines. A client's first command must be a `set` whose
    /// data is "user pass".
    #[arg(short = 'Y', long)]
    auth_file: Option<PathBuf>,
    /// Largest item (header + key + value): bytes, or with k/m/g
    /// (memcached's -I).
    #[arg(short = 'I', long, default_value = "1MiB", value_parser = hotset::parse_size)]
    max_item_size: usize,
    /// Slab class growth factor (memcached's -f).
    #[arg(
        short = 'f',
        long,
        visible_alias = "slab-growth-factor",
        conflicts_with = "slab_classes"
    )]
    slab_growth: Option<f64>,
    /// Explicit slab classes, e.g. 64,128,256,1024,4096 (memcached's
    /// -o slab_sizes=64-128-…).
    #[arg(long, value_delimiter = ',')]
    slab_classes: Option<Vec<usize>>,
    /// Protocol (memcached's -B): ascii or auto; hotset has no binary
    /// protocol.
    #[arg(short = 'B', long, default_value = "ascii")]
    protocol: String,
    /// Let the `shutdown` command stop the server (memcached's -A).
    #[arg(short = 'A', long)]
    enable_shutdown: bool,
    /// Run as this user when started as root (memcached's -u); ignored
    /// otherwise. Privileges are dropped once the listeners are bound.
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Run in the background (memcached's -d).
    #[arg(short = 'd', long)]
    daemon: bool,
    /// Write the process id here (memcached's -P); removed on a clean exit.
    #[arg(short = 'P', long)]
    pidfile: Option<PathBuf>,
    /// memcached's extended options, comma-separated key[=value] (-o):
    /// those that mean something in hotset take effect, the rest are
    /// accepted and logged under -v; an unknown one is refused.
    #[arg(short = 'o', long, value_delimiter = ',')]
    extended: Vec<String>,
    /// Serve a Unix socket at this path instead of TCP (memcached's -s).
    #[arg(short = 's', long, conflicts_with = "listen")]
    unix_socket: Option<PathBuf>,
    /// The Unix socket's permissions, in octal (memcached's -a).
    #[arg(short = 'a', long, default_value = "0700", value_parser = parse_mask)]
    unix_mask: u32,
    /// Never evict a live item: a store that finds no room answers
    /// "SERVER_ERROR out of memory storing object" (memcached's -M).
    /// Expired and flushed items are still reclaimed.
    #[arg(short = 'M', long)]
    disable_evictions: bool,
    /// No CAS uniques for clients (memcached's -C): gets shows 0 and every
    /// cas finds a mismatch. Items keep theirs internally, so this saves
    /// no memory in hotset.
    #[arg(short = 'C', long)]
    disable_cas: bool,
    /// Requests a connection is served per wakeup before the worker's
    /// other connections go (memcached's -R).
    #[arg(short = 'R', long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    max_reqs_per_event: u32,
    /// The smallest chunk's room for key, value and flags, beyond the
    /// 20-byte item header (memcached's -n); the smallest chunk is at least
    /// 64 bytes. Growth classes start from it.
    #[arg(short = 'n', long, conflicts_with = "slab_classes",
          value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    slab_min_size: Option<u32>,
    /// Keep item memory in this file, on tmpfs (memcached's -e): SIGUSR1
    /// saves it, and the next start with the same settings serves the same
    /// items.
    #[arg(short = 'e', long)]
    memory_file: Option<PathBuf>,
    /// TLS on every listener but -l notls:… ones (memcached's -Z), with
    /// -o ssl_chain_cert=FILE[,ssl_key=FILE][,ssl_ca_cert=FILE]
    /// [,ssl_verify_mode=0-3][,ssl_min_version=2|3][,ssl_session_cache].
    #[arg(short = 'Z', long)]
    enable_ssl: bool,
    /// Eviction policy: lru, lfu, fifo, random, hyperbolic (sampled), or
    /// s3fifo, sieve, clock (queue-based).
    #[arg(long, default_value = "lru")]
    policy: Policy,
    /// Items sampled per eviction.
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// Eviction-pool size per thread and class (0 disables the pool).
    #[arg(long, default_value_t = 16)]
    evict_pool: usize,
    /// Sweeper ticks per second (0 disables the sweeper).
    #[arg(long, default_value_t = 10)]
    sweep_hz: u32,
    /// Reclamation backend: seize or crossbeam.
    #[arg(long, default_value = "seize")]
    reclaim: ReclaimKind,
    /// Budget bytes per index slot at start (default: the engine's 1024).
    /// The index grows by half whenever a new key finds its candidate
    /// buckets full, so this only saves the first growths.
    #[arg(long, value_parser = parse_slot_ratio)]
    index_bytes_per_slot: Option<usize>,
    /// More logging to stderr (-v connections and errors, -vv every
    /// refused request).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// What a serve command line asks for, checked.
pub struct Launch {
    pub config: Config,
    pub server: ServerConfig,
    /// The slab automove level to set at start (`-o slab_automove`).
    pub automove: Option<u8>,
    pub user: Option<String>,
    pub daemon: bool,
    pub pidfile: Option<PathBuf>,
    /// Extended options accepted that mean nothing in hotset (logged under -v).
    pub ignored: Vec<String>,
}

/// `-m`: megabytes, as memcached reads it; a size with a unit is taken as
/// written.
fn parse_megabytes(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(mb) => mb
            .checked_mul(1 << 20)
            .ok_or_else(|| format!("-m {s}: too large")),
        Err(_) => hotset::parse_size(s),
    }
}

/// `-a`: permissions in octal, as memcached reads them.
fn parse_mask(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim(), 8)
        .ok()
        .filter(|&m| m <= 0o777)
        .ok_or_else(|| format!("-a {s}: expected octal permissions, 0 to 777"))
}

/// `--index-bytes-per-slot`: a number of budget bytes per index slot, at
/// least 8 (the slot's own size).
pub fn parse_slot_ratio(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of bytes"))?;
    if n < 8 {
        return Err(format!("{n} bytes per slot is below a slot's 8 bytes"));
    }
    Ok(n)
}

/// memcached's extended options that hotset accepts and ignores: each
/// tunes a part memcached has and hotset does not (its LRU crawler and
/// maintainer, segmented LRU, chunked items, extstore, log buffers), or
/// turns on what hotset always does (slab_reassign, maxconns_fast).
const IGNORED: &[&str] = &[
    "slab_reassign",
    "maxconns_fast",
    "no_maxconns_fast",
    "lru_crawler",
    "no_lru_crawler",
    "lru_crawler_sleep",
    "lru_crawler_tocrawl",
    "lru_maintainer",
    "no_lru_maintainer",
    "lru_segmented",
    "no_lru_segmented",
    "modern",
    "no_modern",
    "hot_lru_pct",
    "warm_lru_pct",
    "hot_max_factor",
    "warm_max_factor",
    "temporary_ttl",
    "tail_repair_time",
    "slab_chunk_max",
    "slab_automove_ratio",
    "slab_automove_window",
    "hash_algorithm",
    "no_hashexpand",
    "track_sizes",
    "watcher_logbuf_size",
    "worker_logbuf_size",
    "read_buf_mem_limit",
    "resp_obj_mem_limit",
    "drop_privileges",
    "no_drop_privileges",
    "inline_ascii_resp",
    "no_inline_ascii_resp",
];

/// memcached's TLS options that mean nothing with rustls, and why; each is
/// accepted and logged.
const TLS_IGNORED: &[(&str, &str)] = &[
    (
        "ssl_ciphers",
        "rustls chooses among its own suites, each AEAD with forward secrecy",
    ),
    ("ssl_wbuf_size", "rustls sizes its own buffers"),
    ("ssl_kernel_tls", "rustls encrypts in user space"),
];

impl ServeArgs {
    /// Checks the flags together and builds the cache's and server's
    /// configuration. Errors name the flag.
    pub fn launch(&self) -> Result<Launch, String> {
        if self.udp_port != 0 {
            return Err(format!(
                "-U {}: hotset has no UDP (only -U 0 is accepted)",
                self.udp_port
            ));
        }
        match self.protocol.as_str() {
            "ascii" | "auto" => {}
            "binary" => {
                return Err("-B binary: hotset speaks memcached's text protocols only".into())
            }
            p => return Err(format!("-B {p}: expected ascii or auto")),
        }
        let memory = self.memory_limit.or(self.memory).unwrap_or(64 << 20);
        let mut config = Config {
            memory,
            memory_max: self.memory_max,
            page_size: Config::page_size_for(self.max_item_size),
            classes: match (&self.slab_classes, self.slab_growth) {
                (Some(list), _) => SlabClasses::List(list.clone()),
                (None, Some(f)) => SlabClasses::Growth(f),
                (None, None) => Config::default().classes,
            },
            max_item_size: self.max_item_size,
            smallest_chunk: self.slab_min_size.map(|n| hotset::HEADER_SIZE + n as usize),
            evictions: !self.disable_evictions,
            policy: self.policy,
            samples: self.samples,
            evict_pool: self.evict_pool,
            sweep_hz: self.sweep_hz,
            reclaim: self.reclaim,
            index_slots: self.index_bytes_per_slot.map(|b| memory / b),
            // Absolute, as -d changes directory to /.
            memory_file: match &self.memory_file {
                Some(p) => {
                    Some(std::path::absolute(p).map_err(|e| format!("-e {}: {e}", p.display()))?)
                }
                None => None,
            },
            ..Config::default()
        };
        let mut idle_timeout = self.idle_timeout;
        let mut automove = None;
        let mut ignored = Vec::new();
        let mut tls = TlsSettings {
            chain_cert: PathBuf::new(),
            key: None,
            ca_cert: None,
            verify_mode: 0,
            min_version: 2,
            session_cache: false,
        };
        for opt in self.extended.iter().filter(|o| !o.trim().is_empty()) {
            let (key, value) = match opt.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (opt.trim(), None),
            };
            let num = |max: u64| -> Result<u64, String> {
                let v = value.ok_or_else(|| format!("-o {key} needs a value"))?;
                v.parse::<u64>()
                    .ok()
                    .filter(|&n| n <= max)
                    .ok_or_else(|| format!("-o {key}={v}: expected a number up to {max}"))
            };
            match key {
                "idle_timeout" => {
                    if self.idle_timeout.is_some() {
                        return Err("give --idle-timeout or -o idle_timeout, not both".into());
                    }
                    idle_timeout = Some(num(86_400 * 30)? as u32);
                }
                // Bare, memcached turns it on (level 1).
                "slab_automove" if value.is_none() => automove = Some(1),
                "slab_automove" => automove = Some(num(2)? as u8),
                "hashpower" => {
                    if self.index_bytes_per_slot.is_some() {
                        return Err("give --index-bytes-per-slot or -o hashpower, not both".into());
                    }
                    let p = num(40)?;
                    if p < 12 {
                        return Err(format!("-o hashpower={p}: memcached's range is 12 to 64"));
                    }
                    // memcached's table has 2^hashpower entries.
                    config.index_slots = Some(1usize << p);
                }
                "slab_sizes" => {
                    if self.slab_classes.is_some()
                        || self.slab_growth.is_some()
                        || self.slab_min_size.is_some()
                    {
                        return Err(
                            "-o slab_sizes: give it, -f, -n or --slab-classes, not two".into()
                        );
                    }
                    let v = value.ok_or("-o slab_sizes needs a value (e.g. 64-128-256)")?;
                    let list = v
                        .split('-')
                        .map(|x| x.trim().parse::<usize>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| format!("-o slab_sizes={v}: expected sizes joined by -"))?;
                    config.classes = SlabClasses::List(list);
                }
                "ssl_chain_cert" | "ssl_key" | "ssl_ca_cert" => {
                    let v = value
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| format!("-o {key} needs a file"))?;
                    let path = Some(PathBuf::from(v));
                    match key {
                        "ssl_chain_cert" => tls.chain_cert = PathBuf::from(v),
                        "ssl_key" => tls.key = path,
                        _ => tls.ca_cert = path,
                    }
                }
                "ssl_verify_mode" => tls.verify_mode = num(3)? as u8,
                "ssl_min_version" => match num(3)? {
                    v @ 2..=3 => tls.min_version = v as u8,
                    v => {
                        return Err(format!(
                            "-o ssl_min_version={v}: rustls speaks TLS 1.2 and 1.3 only \
                             (2 or 3)"
                        ))
                    }
                },
                // memcached's numbers: 1 is PEM (2 DER, 3 an engine).
                "ssl_keyformat" => {
                    if num(3)? != 1 {
                        return Err("-o ssl_keyformat: only 1 (PEM) is read".into());
                    }
                }
                "ssl_session_cache" => tls.session_cache = true,
                k if IGNORED.contains(&k) => ignored.push(opt.trim().to_string()),
                k => match TLS_IGNORED.iter().find(|(n, _)| *n == k) {
                    Some((_, why)) => ignored.push(format!("{} ({why})", opt.trim())),
                    None => return Err(format!("-o {k}: unknown option")),
                },
            }
        }
        if self.enable_ssl && tls.chain_cert.as_os_str().is_empty() {
            return Err("-Z needs the server's certificate: -o ssl_chain_cert=FILE".into());
        }
        let mut listen: Vec<ListenAddr> = self.listen.iter().flatten().cloned().collect();
        if listen.is_empty() {
            listen.push(ListenAddr::host("127.0.0.1"));
        }
        let threads = self.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |t| t as usize,
        );
        let auth = self
            .auth_file
            .as_deref()
            .map(hotset::server::read_users)
            .transpose()?
            .map(std::sync::Arc::new);
        let server = ServerConfig {
            listen,
            port: self.port,
            backlog: self.listen_backlog,
            shutdown_command: self.enable_shutdown,
            reqs_per_event: self.max_reqs_per_event,
            unix_socket: self.unix_socket.clone(),
            unix_mask: self.unix_mask,
            max_conns: self.max_conns as usize,
            threads,
            idle_timeout: idle_timeout
                .filter(|&t| t > 0)
                .map(|t| std::time::Duration::from_secs(t as u64)),
            auth,
            verbosity: self.verbose,
            cas: !self.disable_cas,
            tls: self.enable_ssl.then_some(tls),
        };
        let pidfile = match &self.pidfile {
            // Absolute, as -d changes directory to /.
            Some(p) => {
                Some(std::path::absolute(p).map_err(|e| format!("-P {}: {e}", p.display()))?)
            }
            None => None,
        };
        Ok(Launch {
            config,
            server,
            automove,
            user: self.user.clone(),
            daemon: self.daemon,
            pidfile,
            ignored,
        })
    }
}

/// Runs the rest of the process as `user` if it is root (memcached's -u):
/// its groups, then its gid, then its uid. A Unix socket bound as root
/// (`unix_socket`) is handed to the user first, or neither its clients
/// under `-a`'s owner bits nor the server's own shutdown wake-up could
/// connect to it. Not root: nothing to do.
pub fn drop_privileges(
    user: Option<&str>,
    unix_socket: Option<&std::path::Path>,
) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let Some(user) = user else {
        return Ok(());
    };
    let name = std::ffi::CString::new(user).map_err(|_| format!("-u {user:?}: bad user name"))?;
    let mut pw: libc::passwd = zeroed_passwd();
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: the name is a C string,
    // `pw` and `found` are locals, `buf` is a live buffer of the length
    // given.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() {
        return Err(format!("-u {user}: no such user"));
    }
    let (uid, gid) = (pw.pw_uid, pw.pw_gid);
    if let Some(path) = unix_socket {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| format!("-s {}: cannot hand it to {user}: {e}", path.display()))?;
    }
    // SAFETY: plain system calls on integers (setgroups with a null list
    // of length 0 clears the supplementary groups).
    let ok = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setgid(gid) == 0
            && libc::setuid(uid) == 0
    };
    if !ok {
        return Err(format!(
            "-u {user}: cannot assume its identity: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// An all-zero `passwd` for getpwnam_r to fill.
fn zeroed_passwd() -> libc::passwd {
    // SAFETY: passwd is plain data (integers and pointers), for which all
    // zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// Detaches into the background (memcached's -d): forks, starts a new
/// session, changes to /, and points stdin, stdout and stderr at
/// /dev/null unless `verbose`.
///
/// # Safety
/// The process has one thread: only the calling thread would go on in the
/// child, holding whatever locks the others held.
pub unsafe fn daemonize(verbose: bool) -> Result<(), String> {
    // SAFETY: the process has one thread (the caller's promise), so the
    // child that goes on is whole.
    if unsafe { libc::daemon(0, verbose as libc::c_int) } != 0 {
        return Err(format!("-d: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

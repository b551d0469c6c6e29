//! `stats`, `stats settings`, `stats slabs`, `stats items`, with memcached's
//! field names wherever a field means the same thing.

use super::Shared;
use crate::protocol::reply::{self, stat};
use std::sync::atomic::Ordering;

pub(super) fn write(sh: &Shared, group: Option<&[u8]>, out: &mut Vec<u8>) {
    match group {
        None => general(sh, out),
        Some(b"settings") => {
            let verbosity = sh.verbosity.load(Ordering::Relaxed);
            for (k, v) in super::settings(&sh.cache, &sh.cfg, verbosity) {
                stat(out, k, v);
            }
            stat(
                out,
                "detail_enabled",
                if sh.detail.on() { "yes" } else { "no" },
            );
        }
        Some(b"slabs") => slabs(sh, out),
        Some(b"items") => items(sh, out),
        Some(b"sizes") => {
            if sh.sizes.load(Ordering::Relaxed) {
                for (size, n) in sh.cache.item_sizes(32) {
                    stat(out, size, n);
                }
            } else {
                stat(out, "sizes_status", "disabled");
            }
        }
        // memcached ends these two without an END line.
        Some(b"sizes_enable") => {
            sh.sizes.store(true, Ordering::Relaxed);
            stat(out, "sizes_status", "enabled");
            return;
        }
        Some(b"sizes_disable") => {
            sh.sizes.store(false, Ordering::Relaxed);
            stat(out, "sizes_status", "disabled");
            return;
        }
        Some(_) => {
            // As memcached: a group it does not know is an unknown command.
            out.extend_from_slice(reply::ERROR);
            return;
        }
    }
    out.extend_from_slice(reply::END);
}

/// The cache's figures, counted since the last `stats reset`.
fn current(sh: &Shared) -> crate::Stats {
    let s = sh.cache.stats();
    match &*sh.stats_base.lock().unwrap_or_else(|p| p.into_inner()) {
        Some(base) => s.since(base),
        None => s,
    }
}

fn general(sh: &Shared, out: &mut Vec<u8>) {
    let s = current(sh);
    let uptime = sh.started.elapsed().as_secs();
    stat(out, "pid", std::process::id());
    stat(out, "uptime", uptime);
    stat(out, "time", sh.started_unix + uptime);
    stat(out, "version", env!("CARGO_PKG_VERSION"));
    stat(out, "pointer_size", usize::BITS);
    let (user, system) = rusage();
    stat(out, "rusage_user", user);
    stat(out, "rusage_system", system);
    let io = super::ServerCounts::now(sh)
        .since(*sh.server_base.lock().unwrap_or_else(|p| p.into_inner()));
    let curr = sh.curr_connections.load(Ordering::Relaxed);
    stat(out, "threads", sh.cfg.threads);
    stat(out, "curr_connections", curr);
    stat(
        out,
        "total_connections",
        sh.total_connections.load(Ordering::Relaxed),
    );
    stat(
        out,
        "rejected_connections",
        sh.rejected_connections.load(Ordering::Relaxed),
    );
    stat(out, "max_connections", sh.cfg.max_conns);
    // memcached's count of connection objects it ever held at once, the
    // listeners' among them.
    stat(
        out,
        "connection_structures",
        sh.conn_peak.load(Ordering::Relaxed) + sh.bound.len() as u64,
    );
    stat(out, "idle_kicks", sh.idle_kicks.load(Ordering::Relaxed));
    stat(out, "cmd_get", s.cmd_get);
    stat(out, "cmd_set", s.cmd_set);
    stat(out, "cmd_flush", s.flushes);
    stat(out, "cmd_touch", s.cmd_touch);
    stat(out, "get_hits", s.get_hits);
    stat(out, "get_misses", s.get_misses);
    stat(out, "get_expired", s.get_expired);
    stat(out, "get_flushed", s.get_flushed);
    stat(out, "delete_misses", s.delete_misses);
    stat(out, "delete_hits", s.delete_hits);
    stat(out, "incr_misses", s.incr_misses);
    stat(out, "incr_hits", s.incr_hits);
    stat(out, "decr_misses", s.decr_misses);
    stat(out, "decr_hits", s.decr_hits);
    stat(out, "cas_misses", s.cas_misses);
    stat(out, "cas_hits", s.cas_hits);
    stat(out, "cas_badval", s.cas_badval);
    stat(out, "touch_hits", s.touch_hits);
    stat(out, "touch_misses", s.touch_misses);
    stat(out, "store_too_large", s.too_large + io.too_large);
    stat(out, "store_no_memory", s.out_of_memory);
    stat(out, "auth_cmds", io.auth_cmds);
    stat(out, "auth_errors", io.auth_errors);
    #[cfg(feature = "tls")]
    if let Some(c) = &sh.certs {
        stat(
            out,
            "ssl_handshake_errors",
            c.handshake_errors
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        stat(out, "time_since_server_cert_refresh", c.age_secs());
    }
    stat(out, "bytes_read", io.bytes_read);
    stat(out, "bytes_written", io.bytes_written);
    stat(out, "limit_maxbytes", s.limit_maxbytes);
    stat(
        out,
        "accepting_conns",
        u8::from(!sh.stopping.load(Ordering::Relaxed)),
    );
    stat(out, "listen_disabled_num", io.listen_disabled);
    stat(out, "conn_yields", io.conn_yields);
    stat(out, "bytes", s.bytes);
    stat(out, "curr_items", s.curr_items);
    stat(out, "total_items", s.total_items);
    stat(out, "evictions", s.evictions);
    stat(out, "expired_unfetched", s.expired_unfetched);
    stat(out, "evicted_unfetched", s.evicted_unfetched);
    stat(out, "reclaimed", s.reclaimed);
    stat(out, "slab_reassign_count", s.slab_reassigned);
    stat(out, "slab_reassign_rescues", s.slab_rescues);
    stat(out, "total_malloced", s.pages_used * page_size(sh));
    // hotset's own.
    stat(out, "hotset_policy", sh.cache.policy());
    stat(out, "hotset_samples", sh.cache.samples());
    stat(out, "hotset_index_slots", s.index_slots);
    stat(out, "hotset_index_bytes", s.index_bytes);
    stat(out, "hotset_index_load_permille", s.index_load_permille);
    stat(out, "hotset_index_evictions", s.index_evictions);
    stat(out, "hotset_pages_used", s.pages_used);
    stat(out, "hotset_pages_total", s.pages_total);
    stat(out, "hotset_queue_entries", s.queue_entries);
    stat(out, "hotset_ghost_bytes", s.ghost_bytes);
    stat(out, "hotset_sweep_passes", s.sweep_passes);
    stat(out, "hotset_sweep_reclaimed", s.sweep_reclaimed);
    stat(out, "hotset_out_of_memory", s.out_of_memory);
}

fn page_size(sh: &Shared) -> u64 {
    sh.cache.page_size() as u64
}

fn slabs(sh: &Shared, out: &mut Vec<u8>) {
    let s = current(sh);
    let mut active = 0;
    for (i, c) in s.classes.iter().enumerate() {
        if c.pages == 0 {
            continue;
        }
        active += 1;
        let id = i + 1;
        let per_page = page_size(sh) / c.chunk_size.max(1);
        stat(out, format_args!("{id}:chunk_size"), c.chunk_size);
        stat(out, format_args!("{id}:chunks_per_page"), per_page);
        stat(out, format_args!("{id}:total_pages"), c.pages);
        stat(out, format_args!("{id}:total_chunks"), c.pages * per_page);
        stat(out, format_args!("{id}:used_chunks"), c.items);
        stat(out, format_args!("{id}:free_chunks"), c.free_chunks);
        stat(out, format_args!("{id}:evictions"), c.evictions);
    }
    stat(out, "active_slabs", active);
    stat(out, "total_malloced", s.pages_used * page_size(sh));
}

fn items(sh: &Shared, out: &mut Vec<u8>) {
    let s = current(sh);
    for (i, c) in s.classes.iter().enumerate() {
        if c.pages == 0 && c.items == 0 {
            continue;
        }
        let id = i + 1;
        stat(out, format_args!("items:{id}:number"), c.items);
        stat(out, format_args!("items:{id}:evicted"), c.evictions);
    }
}

/// The process's user and system CPU time, as memcached prints them
/// (seconds.microseconds).
fn rusage() -> (String, String) {
    // SAFETY: getrusage fills the zeroed local it is given a pointer to;
    // rusage is plain integers, for which zero is valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

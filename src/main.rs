//! The `hotset` command line. The server is not built yet (issue 3): for now
//! this builds the default cache and prints what will be served.

fn main() {
    let cfg = hotset::Config::default();
    match hotset::Cache::new(cfg.clone()) {
        Ok(cache) => {
            let s = cache.stats();
            println!(
                "hotset {}: the engine is ready; the server comes next.",
                env!("CARGO_PKG_VERSION")
            );
            println!(
                "will serve: 127.0.0.1:11212 (memcached text protocol + the DynamiDB dialect)"
            );
            println!(
                "cache: {} MiB budget, {} pages of {} KiB, {} size classes, policy {} (K={}, pool {}), \
                 index {} slots ({} KiB), reclamation {}",
                cfg.memory >> 20,
                s.pages_total,
                cfg.page_size >> 10,
                s.classes.len(),
                cfg.policy,
                cfg.samples,
                cfg.evict_pool,
                s.index_slots,
                s.index_bytes >> 10,
                cfg.reclaim.name(),
            );
        }
        Err(e) => {
            eprintln!("hotset: {e}");
            std::process::exit(2);
        }
    }
}

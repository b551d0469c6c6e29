//! Warm restarts (memcached's `-e FILE`, saved by SIGUSR1).
//!
//! The slab's pages live in FILE, mapped shared (`Region::in_file`): on
//! tmpfs they are memory that outlives the process. A save, run with every
//! worker stopped, writes `FILE.meta` beside it: the settings the pages were
//! laid out with, each page's class, the clock's origin, the flush
//! generation, and the count and digest of the items in the index.
//!
//! A start maps the earlier FILE read-only, builds the new slab in a new
//! file, puts it in FILE's place, and removes `FILE.meta`, so that a crash
//! later cannot make it stand for pages that have changed since. If the
//! meta parsed and the settings match, every chunk of
//! the earlier pages that holds a live item is read (`SavedItem::parse`
//! trusts nothing), and only if they add up to the saved count and digest
//! is each unexpired, unflushed one stored anew, with its value, flags,
//! CAS unique and expiry. Anything else (no meta, other settings, a damaged,
//! truncated or crashed file) starts clean, and says why in one line. A
//! restore keeps neither the items' access order nor their frequency.

use super::{Cond, Engine, ThreadCtx};
use crate::config::Config;
use crate::raw::item::SavedItem;
use crate::raw::region::FileView;
use std::hash::BuildHasher;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The meta file's first bytes (and its format's version).
const MAGIC: &[u8; 8] = b"HSWARM02";
/// The index is walked this many buckets per pin.
const WALK_SLICE: usize = 4096;

/// How a start with a memory file went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarmStart {
    /// The earlier items came back: this many (unexpired ones), and this
    /// many that could not be stored again.
    Restored {
        /// Items stored again.
        items: u64,
        /// Items refused (out of memory, which matching settings make rare).
        refused: u64,
    },
    /// Started empty, for this reason.
    Clean(String),
}

/// What a save records beside the memory file.
#[derive(Debug, PartialEq, Eq)]
struct Meta {
    settings: u64,
    page_size: u64,
    sizes: Vec<u32>,
    pages: Vec<u32>,
    origin_unix: u64,
    gen: u8,
    /// The engine's CAS counter: uniques go on from here, above every one
    /// handed out before (deleted items' included).
    cas_next: u64,
    items: u64,
    digest: u64,
    file_len: u64,
}

/// A new file readable by this user only (cached values are in it),
/// never through a link left at the path.
fn private_new(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Makes a rename or removal in `file`'s directory durable (a memory file
/// on a disk; on tmpfs it is a no-op).
fn sync_dir(file: &Path) {
    if let Some(dir) = file.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// The meta file of a memory file.
fn meta_path(file: &Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(".meta");
    PathBuf::from(p)
}

fn hasher() -> foldhash::fast::FixedState {
    foldhash::fast::FixedState::with_seed(0x68_6f74_7365_7477)
}

/// One item's share of the digest: everything a restore reads of it.
fn item_hash(it: &SavedItem<'_>) -> u64 {
    hasher().hash_one((
        it.key, it.value, it.flags, it.cas, it.exptime, it.gen, it.stale,
    ))
}

/// What must match for the earlier pages to be read: the budget, the
/// reserved pages, the page size, the classes and the largest item.
fn settings(cfg: &Config, e: &Engine) -> u64 {
    let slab = &e.store.slab;
    hasher().hash_one((
        cfg.memory,
        slab.total_pages(),
        slab.page_size(),
        slab.classes().sizes(),
        e.max_item,
    ))
}

/// The slab's chunk sizes, as the meta records them.
fn class_sizes(e: &Engine) -> Vec<u32> {
    let sizes = e.store.slab.classes().sizes();
    sizes.iter().map(|&s| s as u32).collect()
}

impl Meta {
    fn encode(&self) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        for v in [
            self.settings,
            self.page_size,
            self.sizes.len() as u64,
            self.pages.len() as u64,
            self.origin_unix,
            self.gen as u64,
            self.cas_next,
            self.items,
            self.digest,
            self.file_len,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for v in self.sizes.iter().chain(&self.pages) {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let sum = hasher().hash_one(&b[..]);
        b.extend_from_slice(&sum.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Result<Meta, String> {
        let body = b
            .len()
            .checked_sub(8)
            .and_then(|n| b.get(..n))
            .ok_or("the meta file is truncated")?;
        let sum = u64::from_le_bytes(b[body.len()..].try_into().map_err(|_| "truncated")?);
        if hasher().hash_one(body) != sum {
            return Err("the meta file is damaged (its checksum does not match)".into());
        }
        let rest = body.strip_prefix(MAGIC).ok_or("not a hotset meta file")?;
        let mut words = rest.chunks_exact(8).map(|w| {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            u64::from_le_bytes(a)
        });
        let mut next = || words.next().ok_or("the meta file is truncated");
        let (settings, page_size, nsizes, npages) = (next()?, next()?, next()?, next()?);
        let (origin_unix, gen, cas_next, items, digest, file_len) =
            (next()?, next()?, next()?, next()?, next()?, next()?);
        let tail = rest.get(10 * 8..).ok_or("the meta file is truncated")?;
        let n = (nsizes as usize)
            .checked_add(npages as usize)
            .filter(|&n| n.checked_mul(4) == Some(tail.len()))
            .ok_or("the meta file's lengths do not add up")?;
        let all: Vec<u32> = tail
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        debug_assert_eq!(all.len(), n);
        Ok(Meta {
            settings,
            page_size,
            sizes: all[..nsizes as usize].to_vec(),
            pages: all[nsizes as usize..].to_vec(),
            origin_unix,
            gen: u8::try_from(gen)
                .map_err(|_| "the meta file's flush generation is out of range")?,
            cas_next,
            items,
            digest,
            file_len,
        })
    }

    /// Each live item in the earlier pages, as the meta lays them out.
    fn items<'a>(&'a self, data: &'a [u8]) -> impl Iterator<Item = SavedItem<'a>> + 'a {
        let ps = self.page_size as usize;
        self.pages
            .iter()
            .enumerate()
            .filter_map(move |(p, &c)| {
                let size = *self.sizes.get(c as usize)? as usize;
                let page = data.get(p.checked_mul(ps)?..p.checked_mul(ps)?.checked_add(ps)?)?;
                (size > 0).then_some((page, size))
            })
            .flat_map(|(page, size)| page.chunks_exact(size).filter_map(SavedItem::parse))
    }
}

impl Engine {
    /// Count and digest of the items in the index.
    fn index_digest(&self, ctx: &mut ThreadCtx) -> (u64, u64) {
        let (mut items, mut digest) = (0u64, 0u64);
        let mut i = 0;
        while i < self.store.index.buckets() {
            let g = self.store.index.pin(&ctx.local);
            let end = (i + WALK_SLICE).min(self.store.index.buckets());
            for bi in i..end {
                for f in self.store.index.announced(bi, &g) {
                    let h = f.item();
                    items += 1;
                    digest = digest.wrapping_add(item_hash(&SavedItem {
                        key: h.key(),
                        value: h.value(),
                        flags: h.flags(),
                        cas: h.cas(),
                        exptime: h.exptime(),
                        gen: h.flush_gen(),
                        stale: h.swr_bits() & crate::raw::item::STALE != 0,
                    }));
                }
            }
            i = end;
        }
        (items, digest)
    }

    /// Writes `FILE.meta` for the memory file the slab is in. Meant to run
    /// with nothing else using the cache (the server stops its workers
    /// first); if something did, the digest will not match at the next
    /// start, which then starts clean.
    pub(crate) fn save_warm(
        &self,
        ctx: &mut ThreadCtx,
        cfg: &Config,
        path: &Path,
    ) -> Result<(), String> {
        let file = self
            .store
            .slab
            .file()
            .ok_or("the cache is not in a memory file")?;
        // An overdue delayed flush_all happens now, not after the restart.
        self.due_flush(ctx, self.clock.now_ms());
        {
            // Finish a growth under way, then retire the items it could
            // not place (unlinked, but still LIVE in their chunks), so
            // that the pages hold only what the index does.
            let g = self.store.index.pin(&ctx.local);
            self.store.index.settle(&g);
            self.retire_orphans(ctx, &g);
            self.retire_batch(ctx, &g);
        }
        let (items, digest) = self.index_digest(ctx);
        let meta = Meta {
            settings: settings(cfg, self),
            page_size: self.store.slab.page_size() as u64,
            sizes: class_sizes(self),
            pages: self.store.slab.page_classes(),
            origin_unix: self.clock.origin_unix_secs(),
            gen: self.flush_gen(),
            cas_next: self.cas_blocks.load(crate::sync::Ordering::Relaxed),
            items,
            digest,
            file_len: file.metadata().map_err(|e| e.to_string())?.len(),
        };
        let to = meta_path(path);
        let tmp = {
            let mut p = to.clone().into_os_string();
            p.push(".tmp");
            PathBuf::from(p)
        };
        let named = |e: std::io::Error| format!("{}: {e}", to.display());
        let _ = std::fs::remove_file(&tmp);
        let mut f = private_new(&tmp).map_err(named)?;
        f.write_all(&meta.encode()).map_err(named)?;
        f.sync_all().map_err(named)?;
        file.sync_all().map_err(named)?;
        std::fs::rename(&tmp, &to).map_err(named)?;
        sync_dir(path);
        Ok(())
    }

    /// Stores again the items of an earlier memory file laid out as `meta`
    /// says, once they add up to its digest. Returns (stored, refused).
    fn restore(&self, ctx: &mut ThreadCtx, meta: &Meta, data: &[u8]) -> Result<(u64, u64), String> {
        let (mut items, mut digest) = (0u64, 0u64);
        for it in meta.items(data) {
            items += 1;
            digest = digest.wrapping_add(item_hash(&it));
        }
        if (items, digest) != (meta.items, meta.digest) {
            return Err(format!(
                "the memory file does not hold what was saved ({items} items found, {} saved, \
                 or their bytes differ): damaged, or changed after the save",
                meta.items
            ));
        }
        let now_unix = (self.clock.origin_unix_secs()
            + crate::ttl::now_secs(self.clock.now_ms()) as u64)
            .saturating_sub(1);
        let (mut stored, mut refused, mut max_cas) = (0u64, 0u64, 0u64);
        for it in meta.items(data) {
            if it.gen != meta.gen {
                continue; // flushed
            }
            // Clock seconds are one ahead of the seconds since the origin
            // (`ttl::expiry`), in the earlier run as in this one.
            let exptime = match it.exptime {
                0 => 0,
                e => {
                    let abs = meta.origin_unix.saturating_add(e as u64 - 1);
                    if abs <= now_unix {
                        continue; // expired meanwhile
                    }
                    abs.min(i64::MAX as u64) as i64
                }
            };
            max_cas = max_cas.max(it.cas);
            ctx.restoring_cas = it.cas;
            match self.store_cas(ctx, it.key, it.value, it.flags, exptime, Cond::Any) {
                Ok(_) => stored += 1,
                Err(_) => refused += 1,
            }
            ctx.restoring_cas = 0;
        }
        // Uniques go on from where the earlier run's counter stood: above
        // every unique it handed out, those of items gone since included.
        self.cas_blocks.fetch_max(
            meta.cas_next.max(max_cas + 1),
            crate::sync::Ordering::Relaxed,
        );
        Ok((stored, refused))
    }
}

/// Builds the engine for `cfg` in the memory file at `path`, restoring the
/// earlier run's items if its save left what that needs. The earlier files
/// are replaced only once the new engine is built: a start that fails (a
/// bad setting) leaves a save for the next one.
pub(crate) fn start(
    cfg: &Config,
    path: &Path,
) -> Result<(std::sync::Arc<Engine>, WarmStart), crate::config::ConfigError> {
    let err = |e: String| crate::config::ConfigError(format!("-e {}: {e}", path.display()));
    let meta_file = meta_path(path);
    let meta = read_meta(&meta_file, path);
    // The earlier pages, read-only: the mapping outlives the path.
    let earlier = match &meta {
        Ok(_) => std::fs::File::open(path)
            .and_then(|f| {
                let used = std::os::unix::fs::MetadataExt::blocks(&f.metadata()?) * 512;
                // SAFETY: the run that wrote the file stopped writing before
                // it saved (every worker paused, the sweeper joined) and
                // exited; the file is its owner's alone (0600), and -e's
                // contract, as memcached's, is that one server uses it.
                let view = unsafe { FileView::map(&f)? };
                Ok((view, used))
            })
            .map_err(|e| format!("cannot read the memory file: {e}")),
        Err(e) => Err(e.clone()),
    };
    // The new file must be able to grow to the budget (a full tmpfs under
    // a shared mapping is a SIGBUS), and a restore holds both files until
    // it ends.
    let dir = path.parent().unwrap_or(Path::new("."));
    let free = crate::raw::region::free_space(dir).map_err(|e| err(e.to_string()))?;
    let budget = cfg.memory as u64;
    let earlier = match earlier {
        Ok((_, used)) if free < budget && free + used >= budget => Err(format!(
            "not enough room for the earlier file and the new one ({} MiB free, {} MiB held \
             by the earlier file, {} MiB budget)",
            free >> 20,
            used >> 20,
            budget >> 20
        )),
        e => e.map(|(view, _)| view),
    };
    let held = match &earlier {
        Err(_) => {
            std::fs::metadata(path).map_or(0, |m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
        }
        Ok(_) => 0,
    };
    if free + held < budget {
        return Err(err(format!(
            "its file system has {} MiB free, and the budget is {} MiB",
            (free + held) >> 20,
            budget >> 20
        )));
    }
    let fresh = {
        let mut p = path.as_os_str().to_owned();
        p.push(".new");
        PathBuf::from(p)
    };
    let _ = std::fs::remove_file(&fresh);
    let file = private_new(&fresh).map_err(|e| err(format!("{}: {e}", fresh.display())))?;
    // An index sized for the items to come back saves its growths (it
    // grows near a load of 2/3; twice the items leaves it at 1/2).
    let mut sized = cfg.clone();
    if let (Ok(m), None) = (&meta, cfg.index_slots) {
        let want = usize::try_from(m.items).unwrap_or(0).saturating_mul(2);
        sized.index_slots = Some(want.max(cfg.memory / crate::engine::INDEX_START_BYTES_PER_SLOT));
    }
    let engine = match Engine::new_in(&sized, Some(file)) {
        Ok(e) => e,
        Err(e) => {
            let _ = std::fs::remove_file(&fresh);
            return Err(e);
        }
    };
    if let Err(e) = std::fs::rename(&fresh, path) {
        let _ = std::fs::remove_file(&fresh);
        return Err(err(e.to_string()));
    }
    // From here the meta stands for nothing: whatever follows (a crash
    // included), it must never be paired with these pages again.
    match std::fs::remove_file(&meta_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(err(format!(
                "cannot remove {}: {e}; remove it before starting",
                meta_file.display()
            )))
        }
        _ => sync_dir(path),
    }
    let outcome = match (meta, earlier) {
        (Ok(meta), Ok(view)) => {
            let data = view.bytes();
            if meta.settings != settings(cfg, &engine)
                || meta.page_size != engine.store.slab.page_size() as u64
                || meta.sizes != class_sizes(&engine)
                || meta.pages.len() != engine.store.slab.total_pages()
            {
                WarmStart::Clean(
                    "the settings differ from the saved run's (memory, classes, page or item size)"
                        .into(),
                )
            } else if data.len() as u64 != meta.file_len {
                WarmStart::Clean(format!(
                    "the memory file is {} bytes, the save left {}: truncated or replaced",
                    data.len(),
                    meta.file_len
                ))
            } else {
                match engine.with_ctx(|e, ctx| e.restore(ctx, &meta, data)) {
                    Ok((items, refused)) => WarmStart::Restored { items, refused },
                    Err(why) => WarmStart::Clean(why),
                }
            }
        }
        (Err(why), _) | (_, Err(why)) => WarmStart::Clean(why),
    };
    Ok((engine, outcome))
}

/// The meta file beside `path`, decoded, or why there is none to use. A
/// file larger than any meta can be is not read.
fn read_meta(meta_file: &Path, path: &Path) -> Result<Meta, String> {
    use std::io::Read;
    let f = match std::fs::File::open(meta_file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(if path.exists() {
                "no save beside the memory file (the last run did not end with SIGUSR1, or \
                 crashed)"
                    .to_string()
            } else {
                "no memory file yet".to_string()
            })
        }
        Err(e) => return Err(format!("cannot read {}: {e}", meta_file.display())),
    };
    // Ten words, the classes, a word per page of the largest budget: far
    // below this.
    const MAX_META: u64 = 64 << 20;
    let mut b = Vec::new();
    f.take(MAX_META + 1)
        .read_to_end(&mut b)
        .map_err(|e| format!("cannot read {}: {e}", meta_file.display()))?;
    if b.len() as u64 > MAX_META {
        return Err("the meta file is too large to be one".into());
    }
    Meta::decode(&b)
}

//! Large zeroed memory regions for the slab and the index.
//!
//! Both are touched at random, so TLB misses dominate a lookup unless the
//! memory sits on huge pages. A region is an anonymous `mmap` (zeroed, and
//! committed by the OS only as it is touched) aligned to 2 MiB and advised
//! `MADV_HUGEPAGE`, which matters where transparent huge pages are in
//! `madvise` mode (the kernel ignores the advice where THP is off).
//!
//! A range given back to the OS ([`Region::discard`]) is advised
//! `MADV_NOHUGEPAGE` first: otherwise khugepaged may collapse the huge page
//! around it (by default it does so with up to 511 of its 512 small pages
//! missing) and commit the memory again. A range taken back into use is
//! advised `MADV_HUGEPAGE` again ([`Region::rehuge`]), and the kernel merges
//! it back into its neighbours' mapping.

use std::ptr::NonNull;

/// Huge-page size the region is aligned to.
const HUGE: usize = 2 << 20;

/// The OS page size (4 KiB where it cannot be read).
fn os_page() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// An owned, zeroed, 2 MiB-aligned mapping: anonymous, or a file's
/// (memcached's `-e`, for warm restarts).
pub(crate) struct Region {
    map: NonNull<u8>,
    map_len: usize,
    base: NonNull<u8>,
    /// The file the region maps, shared: what is written to the region is
    /// in the file.
    file: Option<std::fs::File>,
}

// SAFETY: the region is plain memory; whoever hands out pointers into it is
// responsible for synchronizing their use.
unsafe impl Send for Region {}
// SAFETY: as for Send.
unsafe impl Sync for Region {}

impl Region {
    /// Maps `len` zeroed bytes, or returns `None` if the OS refuses.
    pub(crate) fn new(len: usize) -> Option<Region> {
        let len = len.max(1);
        let map_len = len.checked_add(HUGE)?;
        // SAFETY: an anonymous private mapping with no address hint; the
        // result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        let map = NonNull::new(p as *mut u8)?;
        let off = (HUGE - (map.as_ptr() as usize % HUGE)) % HUGE;
        // SAFETY: off < HUGE, and the mapping is len + HUGE bytes long.
        let base = unsafe { NonNull::new_unchecked(map.as_ptr().add(off)) };
        // SAFETY: [base, base + len) lies inside the mapping; madvise only
        // changes paging behaviour, and its failure is harmless.
        unsafe { libc::madvise(base.as_ptr() as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
        Some(Region {
            map,
            map_len,
            base,
            file: None,
        })
    }

    /// Maps `len` bytes of `file` (emptied and sized to `len` first, so it
    /// reads as zeros) shared, at a 2 MiB-aligned address: the region's
    /// contents are the file's.
    pub(crate) fn in_file(len: usize, file: std::fs::File) -> std::io::Result<Region> {
        use std::os::fd::AsRawFd;
        file.set_len(0)?;
        file.set_len(len as u64)?;
        let mut r = Region::new(len)
            .ok_or_else(|| std::io::Error::other(format!("cannot reserve {len} bytes")))?;
        // SAFETY: maps the file over [base, base + len), which lies inside
        // the reservation `r` owns (MAP_FIXED replaces that part of it), so
        // no other mapping is touched; the result is checked.
        let p = unsafe {
            libc::mmap(
                r.base.as_ptr() as *mut libc::c_void,
                len.max(1),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_FIXED,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: as in `new`: paging advice on the region's own range.
        unsafe {
            libc::madvise(p, len.max(1), libc::MADV_HUGEPAGE);
        }
        r.file = Some(file);
        Ok(r)
    }

    /// The file the region maps, if any.
    pub(crate) fn file(&self) -> Option<&std::fs::File> {
        self.file.as_ref()
    }

    /// Gives the memory of the OS pages inside `[off, off + len)` back to
    /// the OS: they read as zeros from then on, and are committed again as
    /// they are touched. The rest of the range (OS pages it shares with its
    /// neighbours) is left alone, as is a range outside the region. With
    /// `nohuge`, the range is first advised `MADV_NOHUGEPAGE`, which splits
    /// the mapping (the caller bounds how many such ranges exist).
    ///
    /// # Safety
    /// Nobody reads or writes the range while this runs, and nothing relies
    /// on what it held.
    pub(crate) unsafe fn discard(&self, off: usize, len: usize, nohuge: bool) {
        let Some((start, end)) = self.inner_pages(off, len) else {
            return;
        };
        // SAFETY: [start, end) lies inside the range (rounded inwards to
        // whole OS pages), hence inside the mapping, and nobody uses it
        // (the caller's promise). MADV_NOHUGEPAGE only changes paging
        // advice (a failure, such as too many mappings, leaves the range
        // collapsible, no worse than before); MADV_DONTNEED on private
        // anonymous memory drops the pages, which then read as zeros; a
        // failure only leaves them committed.
        unsafe {
            let p = self.base.as_ptr().add(start) as *mut libc::c_void;
            if nohuge {
                libc::madvise(p, end - start, libc::MADV_NOHUGEPAGE);
            }
            libc::madvise(p, end - start, libc::MADV_DONTNEED);
        };
        if let Some(f) = &self.file {
            // A file's pages stay in its cache (tmpfs: in memory) until the
            // range is punched out of it; it then reads as zeros.
            use std::os::fd::AsRawFd;
            // SAFETY: fallocate on the region's own open file, within its
            // length; a failure only leaves the pages in the file.
            unsafe {
                libc::fallocate(
                    f.as_raw_fd(),
                    libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    start as libc::off_t,
                    (end - start) as libc::off_t,
                );
            }
        }
    }

    /// Advises huge pages again for a range [`Region::discard`] gave back,
    /// now taken back into use (the OS pages inside `[off, off + len)`, as
    /// there). Changes paging advice only.
    pub(crate) fn rehuge(&self, off: usize, len: usize) {
        let Some((start, end)) = self.inner_pages(off, len) else {
            return;
        };
        // SAFETY: [start, end) lies inside the mapping; madvise only changes
        // paging advice, and its failure is harmless.
        unsafe {
            libc::madvise(
                self.base.as_ptr().add(start) as *mut libc::c_void,
                end - start,
                libc::MADV_HUGEPAGE,
            )
        };
    }

    /// The whole OS pages inside `[off, off + len)`, if the range is in the
    /// region and holds any.
    fn inner_pages(&self, off: usize, len: usize) -> Option<(usize, usize)> {
        let inside = off
            .checked_add(len)
            .is_some_and(|end| end <= self.map_len - HUGE);
        let os = os_page();
        let start = off.next_multiple_of(os);
        let end = off.saturating_add(len) / os * os;
        (inside && start < end).then_some((start, end))
    }

    /// Start of the region (2 MiB-aligned).
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base
    }
}

/// Bytes free to an unprivileged writer on the file system holding `dir`.
pub(crate) fn free_space(dir: &std::path::Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("a path with a NUL byte"))?;
    // SAFETY: statvfs with a valid C string and a zeroed struct it fills;
    // the result is checked.
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        st
    };
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// A file mapped read-only and private: an earlier run's memory file, for
/// a warm restart to read (`engine/warm.rs`).
pub(crate) struct FileView {
    ptr: NonNull<u8>,
    len: usize,
}

impl FileView {
    /// Maps all of `file` (an empty file maps nothing).
    ///
    /// # Safety
    /// Nobody writes to or shrinks the file while the view lives: its
    /// bytes are handed out as a shared slice.
    pub(crate) unsafe fn map(file: &std::fs::File) -> std::io::Result<FileView> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::other("the file is too large to map"))?;
        if len == 0 {
            return Ok(FileView {
                ptr: NonNull::dangling(),
                len: 0,
            });
        }
        // SAFETY: a private read-only mapping of an open file, at no hint
        // address; the result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let ptr = NonNull::new(p as *mut u8).ok_or_else(|| std::io::Error::other("null map"))?;
        Ok(FileView { ptr, len })
    }

    /// The file's bytes, as mapped.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: [ptr, ptr + len) is the mapping this view owns (or empty),
        // readable, and private: this process never writes it, and nobody
        // else writes or shrinks the file while the view lives (`map`'s
        // contract).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for FileView {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmaps exactly the mapping made in `map`, which no
            // borrow outlives (`bytes` borrows `self`).
            unsafe { libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len) };
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; nothing points
        // into it any more (its owner is being dropped).
        unsafe { libc::munmap(self.map.as_ptr() as *mut libc::c_void, self.map_len) };
    }
}

#[cfg(all(test, not(hotset_loom)))]
mod tests {
    use super::*;

    /// The `VmFlags` of the mapping that holds address `a`, from smaps.
    fn vm_flags(a: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((lo, hi)) = range.split_once('-') {
                    if let (Ok(lo), Ok(hi)) =
                        (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                    {
                        inside = lo <= a && a < hi;
                        continue;
                    }
                }
            }
            if inside {
                if let Some(f) = line.strip_prefix("VmFlags:") {
                    return f.trim().to_string();
                }
            }
        }
        panic!("no mapping holds {a:#x}");
    }

    #[test]
    fn a_file_region_is_the_file_and_a_discard_punches_it() {
        use std::io::Read;
        let path = std::env::temp_dir().join(format!("hotset-region-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        let len = 4 << 20;
        let r = Region::in_file(len, f).unwrap();
        assert_eq!(r.base().as_ptr() as usize % HUGE, 0);
        // SAFETY: the region is this test's alone, and [0, 2 MiB) inside it.
        unsafe { std::ptr::write_bytes(r.base().as_ptr(), 7, 2 << 20) };
        let mut back = Vec::new();
        std::fs::File::open(&path)
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back.len(), len);
        assert!(back[..2 << 20].iter().all(|&b| b == 7) && back[2 << 20..].iter().all(|&b| b == 0));
        // SAFETY: nothing uses the range.
        unsafe { r.discard(1 << 20, 1 << 20, false) };
        let back = std::fs::read(&path).unwrap();
        assert!(back[..1 << 20].iter().all(|&b| b == 7));
        assert!(back[1 << 20..2 << 20].iter().all(|&b| b == 0), "punched");
        // SAFETY: only this test uses the file, and the region writes
        // nothing more while the view lives.
        let view = unsafe { FileView::map(&std::fs::File::open(&path).unwrap()) }.unwrap();
        assert_eq!(view.bytes()[5], 7);
        drop(r);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_discarded_range_is_not_collapsed_back_and_rehuge_undoes_it() {
        let r = Region::new(8 << 20).unwrap();
        let base = r.base().as_ptr() as usize;
        let at = |off: usize| vm_flags(base + off);
        assert!(at(2 << 20).split(' ').any(|f| f == "hg"), "{}", at(2 << 20));
        // SAFETY: nothing uses the region.
        unsafe { r.discard(2 << 20, 1 << 20, true) };
        let flags = at(2 << 20);
        assert!(flags.split(' ').any(|f| f == "nh"), "discarded: {flags}");
        assert!(!flags.split(' ').any(|f| f == "hg"), "discarded: {flags}");
        assert!(
            at(3 << 20).split(' ').any(|f| f == "hg"),
            "its neighbour keeps the advice"
        );
        r.rehuge(2 << 20, 1 << 20);
        let flags = at(2 << 20);
        assert!(flags.split(' ').any(|f| f == "hg"), "reused: {flags}");
    }
}

//! A minimal safe wrapper over Linux `epoll`, level-triggered: the one
//! readiness API the event loop needs and std::net does not offer.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Readiness to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Interest {
    /// The peer sent something (or closed).
    Read,
    /// The socket can take more output.
    Write,
}

impl Interest {
    fn bits(self) -> u32 {
        // Hang-ups and errors are reported whatever is asked for.
        match self {
            Interest::Read => (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
            Interest::Write => libc::EPOLLOUT as u32,
        }
    }
}

/// An epoll instance. Each registered descriptor carries a `u64` token that
/// comes back with its events.
pub(super) struct Epoll {
    fd: OwnedFd,
}

/// Room for this many events per wait.
pub(super) const EVENTS: usize = 256;

/// The buffer `wait` fills.
pub(super) struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    pub(super) fn new() -> Self {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS],
            len: 0,
        }
    }

    /// Whether the last wait returned no event.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tokens that are ready, from the last wait.
    pub(super) fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.buf[..self.len].iter().map(|e| e.u64)
    }
}

impl Epoll {
    pub(super) fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by epoll_create1, is open, and
        // nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: interest.bits(),
            u64: token,
        };
        // SAFETY: both descriptors are open (the caller holds `fd`'s
        // owner), and `ev` is a valid epoll_event that outlives the call.
        let r = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Watches `fd` for `interest`. Closing `fd` unregisters it.
    pub(super) fn add(&self, fd: &impl AsRawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), token, interest)
    }

    /// Changes what a registered `fd` is watched for.
    pub(super) fn modify(
        &self,
        fd: &impl AsRawFd,
        token: u64,
        interest: Interest,
    ) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd.as_raw_fd(), token, interest)
    }

    /// Waits up to `timeout_ms` (-1: forever) for events. An interrupted
    /// wait returns no events.
    pub(super) fn wait(&self, events: &mut Events, timeout_ms: i32) -> io::Result<()> {
        // SAFETY: `buf` has room for `buf.len()` events and stays borrowed
        // mutably for the whole call; the kernel writes at most that many.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.buf.as_mut_ptr(),
                events.buf.len() as libc::c_int,
                timeout_ms,
            )
        };
        if n < 0 {
            events.len = 0;
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        events.len = n as usize;
        Ok(())
    }
}

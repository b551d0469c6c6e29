//! A worker: one thread, one epoll instance, many connections.
//!
//! The listener hands a new connection to a worker by pushing it on the
//! worker's queue and writing a byte to its wake socket; the worker adopts
//! it at its next wakeup. Connections never move between workers. The
//! worker drives every ready connection (`Conn::drive`) until it would
//! block, and closes idle ones when `--idle-timeout` is set.

use super::conn::{Conn, Step};
use super::poll::{Epoll, Events, Interest};
use super::stream::Stream;
use super::Shared;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The token of the wake socket; connections use their slot index.
const WAKE: u64 = u64::MAX;
/// A worker that served requests and then saw nothing for this long gives
/// its per-thread cache state back (`Cache::release_thread`): its magazines
/// and queue segments to the shared depots and queues, its retired chunks to
/// the reclaimer. Otherwise an idle worker would strand them.
const IDLE_RELEASE: Duration = Duration::from_millis(100);

/// The listener's side of a worker.
pub(super) struct Handle {
    queue: Arc<Mutex<Vec<Stream>>>,
    wake: UnixStream,
}

impl Handle {
    /// Gives `s` to the worker.
    pub(super) fn hand(&self, s: Stream) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).push(s);
        self.wake();
    }

    /// Wakes the worker (to see `Shared::pausing`).
    pub(super) fn wake(&self) {
        // A full wake socket means a wakeup is already pending.
        let _ = (&self.wake).write(&[1]);
    }
}

/// A registered connection and what it waits for.
struct Slot {
    conn: Conn,
    interest: Interest,
}

/// Starts a worker thread serving the connections handed to it.
pub(super) fn spawn(sh: Arc<Shared>, id: usize) -> io::Result<Handle> {
    let (wake_tx, wake_rx) = UnixStream::pair()?;
    wake_tx.set_nonblocking(true)?;
    wake_rx.set_nonblocking(true)?;
    let ep = Epoll::new()?;
    ep.add(&wake_rx, WAKE, Interest::Read)?;
    let queue = Arc::new(Mutex::new(Vec::new()));
    let q = queue.clone();
    std::thread::Builder::new()
        .name(format!("hotset-worker-{id}"))
        .spawn(move || {
            let mut w = Worker {
                sh,
                id,
                ep,
                queue: q,
                wake: wake_rx,
                slots: Vec::new(),
                free: Vec::new(),
            };
            if let Err(e) = w.run() {
                log!("hotset: worker {id} stopped: {e}");
                // It serves nothing more: as good as paused for a save.
                w.sh.paused.fetch_add(1, Ordering::AcqRel);
            }
        })?;
    Ok(Handle {
        queue,
        wake: wake_tx,
    })
}

struct Worker {
    sh: Arc<Shared>,
    /// This worker's number: its counters in `Shared::per_worker`.
    id: usize,
    ep: Epoll,
    queue: Arc<Mutex<Vec<Stream>>>,
    wake: UnixStream,
    /// Connections by token; `free` lists the empty slots.
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
}

impl Worker {
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::new();
        let idle = self.sh.cfg.idle_timeout;
        // Idle connections are looked for a few times per timeout.
        let check_every =
            idle.map(|t| (t / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)));
        let mut next_check = Instant::now();
        // Whether this thread used the cache since it last released its
        // state.
        let mut holding = false;
        loop {
            let mut timeout = match check_every {
                None => -1,
                Some(_) => next_check
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(i32::MAX as u128) as i32,
            };
            if holding {
                let idle = IDLE_RELEASE.as_millis() as i32;
                timeout = if timeout < 0 { idle } else { timeout.min(idle) };
            }
            self.ep.wait(&mut events, timeout)?;
            if events.is_empty() {
                if holding {
                    self.sh.cache.release_thread();
                    holding = false;
                }
            } else {
                holding = true;
            }
            for token in events.tokens() {
                if token == WAKE {
                    self.adopt();
                } else {
                    self.drive(token as usize);
                }
            }
            if self.sh.pausing.load(Ordering::Acquire) {
                // A save is coming (SIGUSR1): the requests of this wakeup
                // are answered; serve nothing more, and say so.
                self.sh.cache.release_thread();
                self.sh.paused.fetch_add(1, Ordering::AcqRel);
                loop {
                    std::thread::park();
                }
            }
            if let (Some(limit), Some(every)) = (idle, check_every) {
                let now = Instant::now();
                if now >= next_check {
                    self.kick_idle(now, limit);
                    next_check = now + every;
                }
            }
        }
    }

    /// Registers the connections the listener queued.
    fn adopt(&mut self) {
        let mut drain = [0u8; 64];
        while matches!((&self.wake).read(&mut drain), Ok(n) if n > 0) {}
        let new = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
        for s in new {
            let setup = s.set_nonblocking().and_then(|()| s.set_nodelay());
            let token = self.free.pop().unwrap_or(self.slots.len());
            let added = setup.and_then(|()| self.ep.add(&s, token as u64, Interest::Read));
            if let Err(e) = added {
                if self.sh.cfg.verbosity > 0 {
                    log!("hotset: cannot serve a connection: {e}");
                }
                self.free.push(token);
                self.sh.curr_connections.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
            let slot = Some(Slot {
                conn: Conn::new(&self.sh, s, self.id),
                interest: Interest::Read,
            });
            if token == self.slots.len() {
                self.slots.push(slot);
            } else {
                self.slots[token] = slot;
            }
        }
    }

    fn drive(&mut self, token: usize) {
        let Some(Some(slot)) = self.slots.get_mut(token) else {
            return; // closed earlier in this round
        };
        let why = match slot.conn.drive(&self.sh) {
            Step::Wait(i) if i == slot.interest => return,
            Step::Wait(i) => match self.ep.modify(&slot.conn.s, token as u64, i) {
                Ok(()) => {
                    slot.interest = i;
                    return;
                }
                Err(e) => Err(e),
            },
            Step::Close(r) => r,
        };
        self.close(token, why);
    }

    fn kick_idle(&mut self, now: Instant, limit: Duration) {
        for token in 0..self.slots.len() {
            let idle = match &self.slots[token] {
                Some(slot) => now.saturating_duration_since(slot.conn.last_read) >= limit,
                None => false,
            };
            if idle {
                self.sh.idle_kicks.fetch_add(1, Ordering::Relaxed);
                self.close(token, Ok(()));
            }
        }
    }

    /// Closes a connection (dropping its socket unregisters it).
    fn close(&mut self, token: usize, why: io::Result<()>) {
        let Some(slot) = self.slots.get_mut(token).and_then(Option::take) else {
            return;
        };
        if self.sh.cfg.verbosity > 0 {
            let p = slot.conn.s.peer();
            match why {
                Err(e) => log!("hotset: {p}: {e}"),
                Ok(()) => log!("hotset: {p}: closed"),
            }
        }
        drop(slot);
        self.free.push(token);
        self.sh.curr_connections.fetch_sub(1, Ordering::AcqRel);
    }
}

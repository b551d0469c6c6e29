//! Progress on a terminal: a counter line on stderr, redrawn at most ten
//! times a second. Silent when stderr is not a terminal or with `--quiet`.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A progress counter.
pub struct Progress {
    enabled: bool,
    label: String,
    total: u64,
    done: AtomicU64,
    last: Mutex<Instant>,
}

impl Progress {
    /// A counter to `total`, shown unless `quiet` or stderr is piped.
    pub fn new(label: &str, total: u64, quiet: bool) -> Progress {
        Progress {
            enabled: !quiet && std::io::stderr().is_terminal(),
            label: label.to_string(),
            total,
            done: AtomicU64::new(0),
            last: Mutex::new(Instant::now() - Duration::from_secs(1)),
        }
    }

    /// Adds `n` and redraws if due. Safe to call from many threads.
    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if !self.enabled {
            return;
        }
        let Ok(mut last) = self.last.try_lock() else {
            return;
        };
        if last.elapsed() >= Duration::from_millis(100) || done >= self.total {
            *last = Instant::now();
            let pct = done as f64 * 100.0 / self.total.max(1) as f64;
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r{}: {done}/{} ({pct:.0}%)   ", self.label, self.total);
            let _ = e.flush();
        }
    }

    /// Ends the line.
    pub fn finish(&self) {
        if self.enabled {
            let _ = writeln!(
                std::io::stderr(),
                "\r{}: {}/{} done   ",
                self.label,
                self.done.load(Ordering::Relaxed),
                self.total
            );
        }
    }
}

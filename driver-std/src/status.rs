//! What the engine thread publishes for the program's threads: verified
//! pieces (readers wait on them), the latest figures, and whether the torrent
//! finished, failed or stopped.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sluice_core::torrent::Stats;
use sluice_core::Bitfield;

/// The published state.
#[derive(Debug, Clone)]
pub struct Status {
    /// Verified pieces.
    pub have: Bitfield,
    /// Every wanted piece is verified.
    pub finished: bool,
    /// Every piece is verified.
    pub complete: bool,
    /// The storage error that stopped the torrent.
    pub error: Option<String>,
    /// Shut down or removed.
    pub stopped: bool,
    /// The latest figures.
    pub stats: Stats,
}

/// [`Status`] behind a lock, with a condition variable rung on every change.
#[derive(Debug)]
pub struct Shared {
    status: Mutex<Status>,
    changed: Condvar,
}

impl Shared {
    /// State for a torrent starting with the pieces in `have`.
    pub fn new(have: Bitfield) -> Shared {
        let complete = have.is_full();
        Shared {
            status: Mutex::new(Status {
                have,
                finished: false,
                complete,
                error: None,
                stopped: false,
                stats: Stats::default(),
            }),
            changed: Condvar::new(),
        }
    }

    /// The status (a poisoned lock still yields its data: every writer leaves
    /// it consistent).
    pub fn lock(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the status and wakes every waiter.
    pub fn update(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits until `ready(status)` returns `Some`, or `timeout` passes.
    pub fn wait_for<T>(
        &self,
        timeout: Option<Duration>,
        mut ready: impl FnMut(&Status) -> Option<T>,
    ) -> Option<T> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut guard = self.lock();
        loop {
            if let Some(v) = ready(&guard) {
                return Some(v);
            }
            let wait = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    left
                }
                None => Duration::from_secs(3600),
            };
            guard = self
                .changed
                .wait_timeout(guard, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

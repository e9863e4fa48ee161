//! The accounting of a storage backend that fails once it has stored a given
//! number of bytes: a full disk, or a folder that becomes read-only.
//!
//! Each driver wraps its memory backend in a type of its own that calls
//! [`WriteBudget::charge`] before every write (see `std_driver.rs`).

use std::io;
use std::sync::Mutex;

/// Bytes a backend may still store, and the error it gives after that.
#[derive(Debug)]
pub struct WriteBudget {
    state: Mutex<State>,
    kind: io::ErrorKind,
    message: String,
}

#[derive(Debug, Default)]
struct State {
    left: u64,
    /// Writes that went ahead: (piece, offset, length).
    stored: Vec<(u32, u32, u32)>,
    /// Writes refused.
    failures: u64,
}

impl WriteBudget {
    /// Writes succeed until `bytes` are stored; every write after that fails
    /// with `kind` and `message`.
    pub fn new(bytes: u64, kind: io::ErrorKind, message: impl Into<String>) -> WriteBudget {
        WriteBudget {
            state: Mutex::new(State {
                left: bytes,
                ..State::default()
            }),
            kind,
            message: message.into(),
        }
    }

    /// "disk full" after `bytes`, as `ENOSPC` reports it.
    pub fn disk_full(bytes: u64) -> WriteBudget {
        WriteBudget::new(bytes, io::ErrorKind::StorageFull, "disk full (test budget)")
    }

    /// "permission denied" after `bytes`, as a folder made read-only would.
    pub fn permission_denied(bytes: u64) -> WriteBudget {
        WriteBudget::new(
            bytes,
            io::ErrorKind::PermissionDenied,
            "permission denied (test budget)",
        )
    }

    /// The message of the error writes fail with.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Takes the bytes of a write of `len` bytes at `offset` in `piece` from
    /// the budget, before it happens: `Ok` if they fit (the write may go ahead
    /// whole), the budget's error if not (the write must store nothing).
    pub fn charge(&self, piece: u32, offset: u32, len: usize) -> io::Result<()> {
        let mut s = self.lock();
        match s.left.checked_sub(len as u64) {
            Some(rest) => {
                s.left = rest;
                s.stored.push((piece, offset, len as u32));
                Ok(())
            }
            None => {
                s.left = 0;
                s.failures += 1;
                Err(io::Error::new(self.kind, self.message.clone()))
            }
        }
    }

    /// Writes refused so far.
    pub fn failures(&self) -> u64 {
        self.lock().failures
    }

    /// Bytes of `piece` stored (blocks never overlap, so this is the sum).
    pub fn stored_in(&self, piece: u32) -> u64 {
        self.lock()
            .stored
            .iter()
            .filter(|w| w.0 == piece)
            .map(|w| u64::from(w.2))
            .sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

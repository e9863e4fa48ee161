//! Real BitTorrent peers on 127.0.0.1 for the interop tests of both sluice drivers.
//!
//! Every peer is an external program started on a free loopback port, bounded in time,
//! and stopped by its own [`ChildGuard`](crate::ChildGuard) when dropped (also when the
//! test panics). Each constructor returns `None` after printing why when its program is
//! missing (and panics instead under `SLUICE_REQUIRE_INTEROP=1`), so a test reads
//! `let Some(seed) = LtPeer::seed(..) else { return };`.
//!
//! * [`LtPeer`]: libtorrent through `tests/scripts/lt_peer.py`, as a seed or a leecher;
//! * [`LtDht`]: a few libtorrent sessions forming a DHT on loopback
//!   (`tests/scripts/lt_dht.py`), one of which may seed or leech;
//! * [`TransmissionSeed`]: `transmission-cli` seeding a torrent;
//! * [`Aria2`]: `aria2c` as a seed or a leecher, and [`Tracker`] (`opentracker`), the
//!   only way aria2 learns about peers;
//! * [`SluicePeer`]: an in-process sluice client of either [`Driver`] (sluice-std or
//!   sluice-mio) with one torrent, which records its events and explains itself when
//!   a wait fails;
//! * [`data`]: payloads, `.torrent` files and byte-for-byte tree comparison.
//!
//! Waiting is always on something observable (a port, a log line, a handshake and
//! bitfield from the peer), never a blind sleep.

mod aria2;
pub mod data;
mod libtorrent;
mod log;
mod lt_dht;
mod net;
mod sluice_peer;
mod tracker;
mod transmission;

pub use aria2::Aria2;
pub use libtorrent::{LtOptions, LtPeer};
pub use log::ProcLog;
pub use lt_dht::{LtDht, LtDhtOptions};
pub use net::{free_port, probe_pieces, running, wait_for_port, wait_until_seeding};
pub use sluice_peer::{bounded, Driver, SluiceClient, SluicePeer};
pub use tracker::Tracker;
pub use transmission::TransmissionSeed;

use std::time::{Duration, Instant};

/// How long a peer may take to start (check its data, open its port).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A transfer that shows no progress for this long has stalled: the waits below give
/// up then rather than at their full time limit. Longer than transmission's 10 s
/// rechoke period, which a new peer may wait through before it is unchoked.
pub const STALL: Duration = Duration::from_secs(30);

/// How a bounded wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitEnd<T> {
    /// The condition held, with what it gave.
    Done(T),
    /// No progress for this long.
    Stalled(Duration),
    /// The time limit passed (progress was still being made).
    TimedOut(Duration),
}

/// Poll `done` every 100 ms until it gives a value, for at most `timeout`; give up
/// early when `progress` (any measure that changes while the transfer moves: bytes,
/// pieces, a progress line) keeps the same value for [`STALL`].
pub fn wait_watching<T, P: PartialEq>(
    timeout: Duration,
    mut done: impl FnMut() -> Option<T>,
    mut progress: impl FnMut() -> P,
) -> WaitEnd<T> {
    let start = Instant::now();
    let mut last = progress();
    let mut moved = start;
    loop {
        if let Some(v) = done() {
            return WaitEnd::Done(v);
        }
        let now = Instant::now();
        if now - start >= timeout {
            return WaitEnd::TimedOut(now - start);
        }
        let p = progress();
        if p != last {
            last = p;
            moved = now;
        } else if now - moved >= STALL {
            return WaitEnd::Stalled(now - moved);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Something that can describe its state when a test fails: a peer's log tail, a
/// client's figures.
pub trait Describe {
    /// A few lines on what it is doing and what it said last.
    fn describe(&self) -> String;
}

/// The descriptions of `peers`, one block each, for a failure message.
pub fn describe_all(peers: &[&dyn Describe]) -> String {
    let mut out = String::new();
    for p in peers {
        out.push_str("\n==== ");
        out.push_str(&p.describe());
        out.push('\n');
    }
    out
}

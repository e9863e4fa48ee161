//! The tracker scenarios, shared by both sluice drivers: opentracker on
//! 127.0.0.1 (HTTP and UDP on one port), torrents naming only that tracker,
//! and no peer given to anyone. `tests/tests/tracker_std.rs` and
//! `tests/tests/tracker_mio.rs` call each with their [`Driver`].
//!
//! * [`same_driver`]: a leecher downloads from a seed of the same driver over
//!   an HTTP or a UDP tracker;
//! * [`from_libtorrent`]: a leecher downloads from a libtorrent seed.
//!
//! The bytes must come out identical. A scenario whose external program is
//! missing prints why and returns (and panics instead under
//! `SLUICE_REQUIRE_INTEROP=1`).

use std::time::{Duration, Instant};

use crate::peers::data::{self, Payload, MIB};
use crate::peers::{free_port, Describe, Driver, LtOptions, LtPeer, SluicePeer, Tracker};
use crate::{require_python_libtorrent, require_tool, TempDir};

/// The longest a download (or a seed's check) may take.
pub const LIMIT: Duration = Duration::from_secs(120);

/// Which tracker protocol a scenario announces over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http://127.0.0.1:PORT/announce`.
    Http,
    /// `udp://127.0.0.1:PORT/announce`.
    Udp,
}

impl Protocol {
    /// The announce URL of opentracker on `port`.
    pub fn url(self, port: u16) -> String {
        match self {
            Protocol::Http => Tracker::url(port),
            Protocol::Udp => format!("udp://127.0.0.1:{port}/announce"),
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Udp => "udp",
        }
    }
}

/// A 16 MiB single-file torrent announcing only `tracker`.
fn payload(dir: &TempDir, seed: u64, tracker: String) -> Payload {
    data::single_file(dir.path(), "single.bin", 16 * MIB, seed, &[tracker])
}

/// A `driver` leecher with no peer given downloads `payload` (its seed is
/// already running) and writes it byte for byte.
fn leech(driver: Driver, dir: &TempDir, payload: &Payload, what: &str, others: &[&dyn Describe]) {
    let t0 = Instant::now();
    let leech = SluicePeer::start(
        driver,
        "leecher",
        &dir.join("leech"),
        &payload.created.bytes,
    );
    let took = leech.wait_complete(LIMIT, others);
    let first = leech.first_piece_at().unwrap_or_default();
    leech.shutdown();
    eprintln!(
        "tracker {} {what}: {} MiB in {:.2} s (first piece after {first:.2?}, shutdown included: {:.2} s)",
        driver.name(),
        payload.total_length() / MIB,
        took.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    data::assert_same_tree(&payload.root, &leech.dir().join("single.bin"), &[]);
}

/// A `driver` seed and a `driver` leecher meeting through opentracker over
/// `protocol`; the seed's `stopped` is answered at once, so its shutdown is
/// quick.
pub fn same_driver(driver: Driver, protocol: Protocol, seed: u64) {
    if require_tool("opentracker").is_none() {
        return;
    }
    let tag = protocol.tag();
    let dir = TempDir::new(&format!("tracker-{}-{tag}", driver.name()));
    let port = free_port();
    let payload = payload(&dir, seed, protocol.url(port));
    let Some(tracker) = Tracker::start(dir.path(), port, &[payload.created.meta.info_hash]) else {
        return;
    };
    let t0 = Instant::now();
    let seeder = SluicePeer::start(driver, "seed", &payload.save_path, &payload.created.bytes);
    seeder.wait_complete(LIMIT, &[&tracker]);
    eprintln!(
        "tracker {} {tag}: seed ready in {:.2?}",
        driver.name(),
        t0.elapsed()
    );
    leech(driver, &dir, &payload, tag, &[&seeder, &tracker]);
    let t1 = Instant::now();
    seeder.shutdown();
    let stop = t1.elapsed();
    // `stopped` is answered at once by a live tracker: no wait for the timeout.
    assert!(
        stop < Duration::from_secs(5),
        "the seed took {stop:?} to shut down"
    );
}

/// A `driver` leecher finds a libtorrent seed through opentracker (HTTP).
pub fn from_libtorrent(driver: Driver, seed: u64) {
    if require_tool("opentracker").is_none() || require_python_libtorrent().is_none() {
        return;
    }
    let dir = TempDir::new(&format!("tracker-{}-lt", driver.name()));
    let port = free_port();
    let payload = payload(&dir, seed, Tracker::url(port));
    let Some(tracker) = Tracker::start(dir.path(), port, &[payload.created.meta.info_hash]) else {
        return;
    };
    let t0 = Instant::now();
    let opts = LtOptions {
        timeout: LIMIT * 2,
        ..LtOptions::default()
    };
    let Some(seeder) = LtPeer::seed(&payload.torrent, &payload.save_path, &opts) else {
        return;
    };
    eprintln!(
        "tracker {} libtorrent: seed ready in {:.2?}",
        driver.name(),
        t0.elapsed()
    );
    leech(driver, &dir, &payload, "libtorrent", &[&seeder, &tracker]);
}

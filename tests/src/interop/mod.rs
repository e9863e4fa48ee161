//! The interop scenarios, shared by both sluice drivers.
//!
//! Each scenario is one function that takes the [`Driver`] to run in-process and
//! plays it against real peers on 127.0.0.1 (libtorrent, transmission, aria2; see
//! [`peers`](crate::peers)). The test files are thin: one
//! `#[test]` per scenario and driver, `tests/tests/interop_std_*.rs` for sluice-std and
//! `tests/tests/interop_mio_*.rs` for sluice-mio, so both drivers meet the same peers
//! with the same data and the same bounds.
//!
//! A scenario whose external program is missing prints why and returns (and panics
//! instead under `SLUICE_REQUIRE_INTEROP=1`).
//!
//! * [`from_libtorrent`], [`from_transmission`], [`from_aria2`]: sluice downloads a
//!   64 MiB single-file torrent and a multi-file torrent of more than 64 MiB from a
//!   seed of that program;
//! * [`to_leechers`]: a sluice seed serves a libtorrent leecher and an aria2 leecher;
//! * [`stream`]: a ranged read in the middle of a file from a rate-limited
//!   libtorrent seed returns long before the file is complete;
//! * [`swarm`]: a libtorrent seed, a sluice leecher and a libtorrent leecher at once;
//! * [`pex`]: sluice, told only of a libtorrent leecher, finds a libtorrent seed
//!   through the leecher's peer exchange (BEP 11) and downloads from it.
//! * [`dht`]: sluice and libtorrent find each other's seeds through a DHT of
//!   libtorrent nodes (BEP 5), the routing table outlives the client, and a
//!   peer's `port` message brings its node into the table.

pub mod dht;
pub mod from_aria2;
pub mod from_libtorrent;
pub mod from_transmission;
pub mod pex;
pub mod stream;
pub mod swarm;
pub mod to_leechers;

use std::time::Duration;

use crate::peers::data::{self, Payload, MIB};
use crate::peers::{Driver, SluicePeer};
use crate::TempDir;

/// The bound of each transfer.
pub const LIMIT: Duration = Duration::from_secs(120);

/// A scratch folder named after the driver and the scenario: `mio-lt-single`.
fn scratch(driver: Driver, what: &str) -> TempDir {
    TempDir::new(&format!("{}-{what}", driver.tag()))
}

/// The name of the payload's file or folder.
fn payload_name(payload: &Payload) -> &std::ffi::OsStr {
    payload.root.file_name().expect("payload name")
}

/// Prints how a sluice leecher's download from `from` went.
fn report_download(
    leech: &SluicePeer,
    from: &str,
    payload: &Payload,
    seed_ready: Duration,
    took: Duration,
) {
    println!(
        "{} ({} MiB, {} pieces) by {} from {from}: seed ready in {seed_ready:.2?}, download {took:.2?} ({:.1} MiB/s), first piece after {:.2?}\n  {}",
        payload_name(payload).to_string_lossy(),
        payload.total_length() / MIB,
        payload.pieces(),
        leech.driver().name(),
        payload.total_length() as f64 / MIB as f64 / took.as_secs_f64(),
        leech.first_piece_at().unwrap_or_default(),
        leech.timeline()
    );
}

/// Waits for `leech` to complete (see [`SluicePeer::wait_complete`]), shuts it
/// down, reports, and compares what it wrote with the payload byte for byte.
fn finish_download(
    leech: &SluicePeer,
    from: &str,
    payload: &Payload,
    seed_ready: Duration,
    others: &[&dyn crate::peers::Describe],
) {
    let took = leech.wait_complete(LIMIT, others);
    leech.shutdown();
    report_download(leech, from, payload, seed_ready, took);
    data::assert_same_tree(&payload.root, &leech.dir().join(payload_name(payload)), &[]);
}

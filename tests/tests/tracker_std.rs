//! sluice-std finds its peers through a tracker: opentracker on 127.0.0.1
//! (HTTP and UDP on one port), torrents naming only that tracker, and no peer
//! given to anyone. A sluice-std leecher downloads from a sluice-std seed over
//! an HTTP tracker and over a UDP tracker, and from a libtorrent seed; the
//! bytes must come out identical. The scenarios are
//! [`sluice_tests::trackers`], shared with `tracker_mio.rs`.
//!
//! Skipped with a printed reason when opentracker (or python3-libtorrent) is
//! missing, unless `SLUICE_REQUIRE_INTEROP=1`.

use sluice_tests::peers::Driver;
use sluice_tests::trackers::{self, Protocol};

#[test]
fn std_leecher_finds_std_seed_through_http_tracker() {
    trackers::same_driver(Driver::Std, Protocol::Http, 0x7201);
}

#[test]
fn std_leecher_finds_std_seed_through_udp_tracker() {
    trackers::same_driver(Driver::Std, Protocol::Udp, 0x7202);
}

#[test]
fn std_leecher_finds_libtorrent_seed_through_tracker() {
    trackers::from_libtorrent(Driver::Std, 0x7203);
}

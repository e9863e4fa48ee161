//! sluice-mio leeches in a mixed swarm on 127.0.0.1 with a rate-limited libtorrent
//! seed and a libtorrent leecher; both leechers must complete byte-identical, trading
//! pieces with each other.
//!
//! The scenarios live in `sluice_tests::interop::swarm`, shared with
//! `interop_std_swarm.rs`.

use sluice_tests::interop::swarm;
use sluice_tests::peers::Driver;

#[test]
fn libtorrent_seed_sluice_and_libtorrent_leechers() {
    swarm::libtorrent_seed_sluice_and_libtorrent_leechers(Driver::Mio);
}

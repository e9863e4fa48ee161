//! The DHT (BEP 5) in sluice-mio against libtorrent nodes on 127.0.0.1: the
//! `sluice` command downloads from nothing but an info-hash, and the
//! scenarios of `sluice_tests::interop::dht` (shared with `dht_std.rs`):
//! sluice finds a libtorrent seed, libtorrent finds a sluice seed that
//! announced itself, the routing table outlives the client, and a peer's
//! `port` message puts its node in our table.

use std::time::{Duration, Instant};

use sluice_tests::interop::dht;
use sluice_tests::peers::data::{self, MIB};
use sluice_tests::peers::{Driver, LtDht, LtDhtOptions};
use sluice_tests::sluice_proc::SluiceProc;
use sluice_tests::TempDir;

/// The longest any step may take.
const LIMIT: Duration = Duration::from_secs(90);

/// `sluice download magnet:?xt=urn:btih:…` with only a bootstrap node: the
/// metadata and the data come from a libtorrent seed found through
/// `get_peers` in a DHT of five libtorrent sessions.
#[test]
fn cli_downloads_from_only_an_info_hash_through_a_libtorrent_dht() {
    let dir = TempDir::new("dht-mio-cli");
    let payload = data::single_file(dir.path(), "found.bin", 8 * MIB, 0xd47, &[]);
    let Some(swarm) = LtDht::start(&LtDhtOptions::seeding(4, &payload, LIMIT * 2)) else {
        return;
    };
    let hash = payload.created.meta.info_hash.to_hex();
    let out = dir.join("out");
    let t0 = Instant::now();
    let mut sluice = SluiceProc::spawn(
        "download",
        [
            "download",
            &format!("magnet:?xt=urn:btih:{hash}"),
            "-o",
            out.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--dht-bootstrap",
            &swarm.nodes()[0].to_string(),
        ],
    );
    sluice.wait_line("! metadata:", LIMIT);
    let metadata = t0.elapsed();
    let status = sluice.wait_exit(LIMIT);
    let done = t0.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        sluice.log().tail(30)
    );
    data::assert_same_tree(&payload.root, &out.join("found.bin"), &[]);
    assert!(
        out.join(".sluice/dht.dat").is_file(),
        "the routing table is saved on exit"
    );
    eprintln!(
        "dht magnet: metadata after {:.0} ms, 8 MiB done after {:.0} ms",
        metadata.as_secs_f64() * 1e3,
        done.as_secs_f64() * 1e3
    );
}

#[test]
fn sluice_mio_finds_a_libtorrent_seed_through_the_dht() {
    dht::sluice_finds_a_libtorrent_seed(Driver::Mio);
}

#[test]
fn libtorrent_finds_a_sluice_mio_seed_through_the_dht() {
    dht::libtorrent_finds_a_sluice_seed(Driver::Mio);
}

#[test]
fn the_routing_table_outlives_the_client() {
    dht::routing_table_outlives_the_client(Driver::Mio);
}

#[test]
fn a_peers_port_message_brings_its_node_into_our_table() {
    dht::port_message_brings_a_node(Driver::Mio);
}

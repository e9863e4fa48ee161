//! The DHT (BEP 5) in sluice-std against libtorrent nodes on 127.0.0.1: the
//! scenarios of `sluice_tests::interop::dht`, shared with `dht_mio.rs`.

use sluice_tests::interop::dht;
use sluice_tests::peers::Driver;

#[test]
fn sluice_std_finds_a_libtorrent_seed_through_the_dht() {
    dht::sluice_finds_a_libtorrent_seed(Driver::Std);
}

#[test]
fn libtorrent_finds_a_sluice_std_seed_through_the_dht() {
    dht::libtorrent_finds_a_sluice_seed(Driver::Std);
}

#[test]
fn the_routing_table_outlives_the_client() {
    dht::routing_table_outlives_the_client(Driver::Std);
}

#[test]
fn a_peers_port_message_brings_its_node_into_our_table() {
    dht::port_message_brings_a_node(Driver::Std);
}

//! The DHT (BEP 5) against libtorrent: a small Mainline DHT of libtorrent
//! sessions on 127.0.0.1 ([`LtDht`], `tests/scripts/lt_dht.py`) in which
//! only the DHT finds peers (no trackers, no LSD, no PEX, no peer given).
//!
//! * [`sluice_finds_a_libtorrent_seed`]: a sluice leecher with nothing but the
//!   `.torrent` finds the libtorrent seed through `get_peers`;
//! * [`libtorrent_finds_a_sluice_seed`]: a sluice seed announces itself and a
//!   libtorrent leecher that knows nothing else finds it;
//! * [`routing_table_outlives_the_client`]: the table (and node id) saved on
//!   shutdown is loaded by the next client, which joins through it alone;
//! * [`port_message_brings_a_node`]: a libtorrent seed's `port` message puts
//!   its node in a table that started empty.
//!
//! Each takes the [`Driver`] to run; `tests/tests/dht_std.rs` and
//! `tests/tests/dht_mio.rs` call them.

use std::path::Path;
use std::time::{Duration, Instant};

use sluice_std::dht::{DhtOptions, DhtStatus};
use sluice_std::ClientOptions;

use super::{scratch, LIMIT};
use crate::peers::data::{self, MIB};
use crate::peers::{
    bounded, describe_all, Describe, Driver, LtDht, LtDhtOptions, SluiceClient, SluicePeer,
};

/// A client of `driver` on 127.0.0.1 with no torrent, running a DHT node.
fn dht_client(driver: Driver, dir: &Path, dht: DhtOptions) -> SluiceClient {
    let mut opts = ClientOptions::new(dir);
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.dht = Some(dht);
    SluiceClient::start(driver, opts).unwrap_or_else(|e| panic!("{}: start: {e}", driver.name()))
}

/// Polls the client's DHT figures every 20 ms until `done` accepts them;
/// panics with the last figures and `others` after [`LIMIT`].
fn wait_dht(
    client: &SluiceClient,
    what: &str,
    others: &[&dyn Describe],
    done: impl Fn(&DhtStatus) -> bool,
) -> DhtStatus {
    let t0 = Instant::now();
    loop {
        let st = client.dht_status().expect("the client runs a DHT node");
        if done(&st) {
            return st;
        }
        if t0.elapsed() >= LIMIT {
            panic!(
                "{}: {what} not within {LIMIT:?}; last figures: {st:?}\n{}",
                client.driver().name(),
                describe_all(others)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Shuts a client down, giving up after 20 s.
fn shut_down(client: SluiceClient) {
    let name = client.driver().name();
    match bounded(Duration::from_secs(20), move || client.shutdown()) {
        Some(Ok(())) => {}
        Some(Err(e)) => panic!("{name}: shutdown: {e}"),
        None => panic!("{name}: shutdown did not return within 20 s"),
    }
}

/// A libtorrent seed announces its torrent in a DHT of four more libtorrent
/// nodes; once a node holds it, a sluice leecher given only the `.torrent`
/// and one node to join through looks the torrent up and downloads it.
pub fn sluice_finds_a_libtorrent_seed(driver: Driver) {
    let dir = scratch(driver, "dht-lt-seed");
    let payload = data::single_file(dir.path(), "found.bin", 8 * MIB, 0xf00d, &[]);
    let Some(swarm) = LtDht::start(&LtDhtOptions::seeding(4, &payload, LIMIT * 2)) else {
        return;
    };
    // Before that, the leecher's first lookup would find nobody, and the
    // next comes a minute later.
    let announced = swarm.wait_for(LIMIT, |l| l == "announced");
    assert!(announced.is_some(), "{}", swarm.describe());
    let torrent = std::fs::read(&payload.torrent).unwrap();
    let leech = SluicePeer::start_with(driver, "leecher", &dir.join("leech"), &torrent, |o| {
        o.dht = Some(DhtOptions::bootstrap_from([swarm.nodes()[0]]));
    });
    let took = leech.wait_complete(LIMIT, &[&swarm]);
    let st = leech.client.dht_status().expect("the leecher runs a node");
    assert!(st.peers_found > 0, "{st:?}");
    println!(
        "{} found the libtorrent seed through the DHT and downloaded 8 MiB in {took:?}: {st:?}",
        driver.name()
    );
    leech.shutdown();
    data::assert_same_tree(&payload.root, &dir.join("leech/found.bin"), &[]);
}

/// A sluice seed joins a libtorrent DHT through one node and announces its
/// torrent; a libtorrent leecher that knows nothing but the torrent meets it
/// through the DHT. Only sluice has the data, so the leecher completing
/// proves it.
pub fn libtorrent_finds_a_sluice_seed(driver: Driver) {
    let dir = scratch(driver, "dht-lt-leech");
    let payload = data::single_file(dir.path(), "announced.bin", 4 * MIB, 0xa11, &[]);
    let leech_dir = dir.join("lt-leech");
    let Some(swarm) = LtDht::start(&LtDhtOptions::leeching(4, &payload, &leech_dir, LIMIT * 2))
    else {
        return;
    };
    let torrent = std::fs::read(&payload.torrent).unwrap();
    let seed = SluicePeer::start_with(driver, "seed", &payload.save_path, &torrent, |o| {
        o.dht = Some(DhtOptions::bootstrap_from([swarm.nodes()[0]]));
    });
    let st = wait_dht(&seed.client, "announce stored", &[&swarm], |s| {
        s.announces_stored > 0
    });
    // Not necessarily all five libtorrent nodes: they may not all know each
    // other yet (see routing_table_outlives_the_client).
    assert!(st.joined && st.nodes >= 1, "{st:?}");
    // Either side may dial: the leecher announces itself too, and the
    // seed's next lookup would find it.
    let complete = swarm.wait_for(LIMIT, |l| l == "complete");
    assert!(
        complete.is_some(),
        "{}\n{}",
        swarm.describe(),
        seed.describe()
    );
    data::assert_same_tree(&payload.root, &leech_dir.join("announced.bin"), &[]);
    seed.shutdown();
}

/// A client joins a DHT of six libtorrent nodes and shuts down, saving its
/// table (our node id too); the next client on the same state file, with no bootstrap node,
/// loads it (and the node id) and joins through those nodes alone.
pub fn routing_table_outlives_the_client(driver: Driver) {
    let dir = scratch(driver, "dht-lt-table");
    let Some(swarm) = LtDht::start(&LtDhtOptions::nodes(6, LIMIT * 2)) else {
        return;
    };
    let state = dir.join("state/dht.dat");
    let mut opts = DhtOptions::bootstrap_from([swarm.nodes()[0]]);
    opts.state_file = Some(state.clone());
    let first = dht_client(driver, &dir.join("first"), opts.clone());
    // Not all six: the libtorrent nodes may not know each other yet when
    // the script says they run (the bootstrap node may answer with none of
    // them), and the rest then reach us only at their next refresh, up to
    // 30 s later.
    let before = wait_dht(&first, "join", &[&swarm], |s| s.joined && s.nodes >= 1);
    shut_down(first);
    assert!(state.is_file(), "{} is written", state.display());

    opts.bootstrap.clear();
    let second = dht_client(driver, &dir.join("second"), opts);
    let after = wait_dht(&second, "rejoin", &[&swarm], |s| s.joined);
    assert_eq!(after.node_id, before.node_id, "the node id is kept");
    // The table may have grown between the figures and the save.
    assert!(after.loaded_nodes >= before.nodes, "{before:?} {after:?}");
    assert!(after.nodes >= before.nodes, "{before:?} {after:?}");
    shut_down(second);
}

/// A libtorrent seed that runs a DHT node names it with a `port` message
/// once we connect; our node, started with no bootstrap and no table, pings
/// it and holds it (and nothing else).
pub fn port_message_brings_a_node(driver: Driver) {
    let dir = scratch(driver, "dht-lt-port");
    let payload = data::single_file(dir.path(), "port.bin", MIB, 0x9047, &[]);
    let Some(swarm) = LtDht::start(&LtDhtOptions::seeding(0, &payload, LIMIT * 2)) else {
        return;
    };
    let torrent = std::fs::read(&payload.torrent).unwrap();
    let leech = SluicePeer::start_with(driver, "leecher", &dir.join("leech"), &torrent, |o| {
        o.dht = Some(DhtOptions::bootstrap_from([]));
    });
    leech
        .torrent
        .connect(swarm.seed_addr().expect("the seed listens"));
    let st = wait_dht(&leech.client, "the seed's node", &[&swarm, &leech], |s| {
        s.nodes >= 1
    });
    assert_eq!(
        st.nodes,
        1,
        "only the seed's node ({:?}): {st:?}",
        swarm.nodes()
    );
    leech.wait_complete(LIMIT, &[&swarm]);
    leech.shutdown();
}

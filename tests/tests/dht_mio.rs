//! The DHT (BEP 5) in sluice-mio against libtorrent nodes on 127.0.0.1: sluice
//! finds a libtorrent seed from nothing but the info-hash, libtorrent finds a
//! sluice seed that announced itself, the routing table outlives the client,
//! and a peer's `port` message puts its node in our table.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use sluice_mio::dht::{DhtOptions, DhtStatus};
use sluice_mio::{AddOptions, Client, ClientOptions};
use sluice_tests::peers::data::{self, MIB};
use sluice_tests::peers::{LtDht, LtDhtOptions};
use sluice_tests::sluice_proc::SluiceProc;
use sluice_tests::TempDir;

/// The longest any step may take.
const LIMIT: Duration = Duration::from_secs(90);

fn client(dir: &Path, dht: DhtOptions) -> Client {
    let mut opts = ClientOptions::new(dir);
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.dht = Some(dht);
    Client::start(opts).unwrap()
}

/// Polls the client's DHT figures until `done` accepts them, or panics with
/// the last figures after [`LIMIT`].
fn wait_dht(client: &Client, what: &str, done: impl Fn(&DhtStatus) -> bool) -> DhtStatus {
    let t0 = Instant::now();
    loop {
        let s = client.dht_status().expect("the client runs a DHT node");
        if done(&s) {
            return s;
        }
        assert!(
            t0.elapsed() < LIMIT,
            "DHT: {what} not within {LIMIT:?}: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `sluice download magnet:?xt=urn:btih:…` with only a bootstrap node: the
/// metadata and the data come from a libtorrent seed found through
/// `get_peers` in a DHT of five libtorrent sessions.
#[test]
fn cli_downloads_from_only_an_info_hash_through_a_libtorrent_dht() {
    let dir = TempDir::new("dht-mio-cli");
    let payload = data::single_file(dir.path(), "found.bin", 8 * MIB, 0xd47, &[]);
    let Some(swarm) = LtDht::start(&LtDhtOptions {
        nodes: 4,
        seed: Some((payload.torrent.clone(), payload.save_path.clone())),
        timeout: LIMIT * 2,
        ..LtDhtOptions::default()
    }) else {
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

/// A sluice-mio seed joins a libtorrent DHT through one node and announces
/// its torrent (a libtorrent node stores it); a libtorrent leecher that knows
/// nothing but the torrent meets it through the DHT and completes.
#[test]
fn libtorrent_finds_a_sluice_mio_seed_through_the_dht() {
    let dir = TempDir::new("dht-mio-seed");
    let payload = data::single_file(dir.path(), "announced.bin", 4 * MIB, 0xa11, &[]);
    let leech_dir = dir.join("lt-leech");
    let Some(swarm) = LtDht::start(&LtDhtOptions {
        nodes: 4,
        leech: Some((payload.torrent.clone(), leech_dir.clone())),
        timeout: LIMIT * 2,
        ..LtDhtOptions::default()
    }) else {
        return;
    };
    let seed = client(
        &payload.save_path,
        DhtOptions::bootstrap_from([swarm.nodes()[0]]),
    );
    seed.add_torrent_file(&payload.torrent).unwrap();
    let status = wait_dht(&seed, "announce stored", |s| s.announces_stored > 0);
    assert!(status.joined && status.nodes >= 4, "{status:?}");
    // Only sluice has the data, so the leecher's completion proves it found
    // us. (Either side may dial: the leecher announces itself too, and our
    // own lookup finds it.)
    let complete = swarm.wait_for(LIMIT, |l| l == "complete");
    assert!(complete.is_some(), "{}", swarm.log().tail(30));
    data::assert_same_tree(&payload.root, &leech_dir.join("announced.bin"), &[]);
    seed.shutdown().unwrap();
}

/// The routing table (and our node id) is saved when the client shuts down;
/// the next client reads it and joins through those nodes with no bootstrap
/// node at all.
#[test]
fn the_routing_table_outlives_the_client() {
    let dir = TempDir::new("dht-mio-table");
    let Some(swarm) = LtDht::start(&LtDhtOptions {
        nodes: 6,
        timeout: LIMIT * 2,
        ..LtDhtOptions::default()
    }) else {
        return;
    };
    let state = dir.join("state/dht.dat");
    let mut opts = DhtOptions::bootstrap_from([swarm.nodes()[0]]);
    opts.state_file = Some(state.clone());
    let first = client(dir.path(), opts.clone());
    let before = wait_dht(&first, "join", |s| s.joined && s.nodes >= 6);
    first.shutdown().unwrap();
    assert!(state.is_file());

    opts.bootstrap.clear();
    let second = client(dir.path(), opts);
    let after = wait_dht(&second, "rejoin", |s| s.joined);
    assert_eq!(after.node_id, before.node_id, "the node id is kept");
    assert!(after.loaded_nodes >= 6, "{after:?}");
    assert!(after.nodes >= 6, "{after:?}");
    second.shutdown().unwrap();
}

/// A libtorrent seed that runs a DHT node names it with a `port` message
/// when we connect; our node pings it and adds it to a table that started
/// empty, with no bootstrap node.
#[test]
fn a_peers_port_message_brings_its_node_into_our_table() {
    let dir = TempDir::new("dht-mio-port");
    let payload = data::single_file(dir.path(), "port.bin", MIB, 0x9047, &[]);
    let Some(swarm) = LtDht::start(&LtDhtOptions {
        nodes: 0,
        seed: Some((payload.torrent.clone(), payload.save_path.clone())),
        timeout: LIMIT * 2,
        ..LtDhtOptions::default()
    }) else {
        return;
    };
    let seed_node: SocketAddr = swarm.nodes()[0];
    let leech = client(&dir.join("leech"), DhtOptions::bootstrap_from([]));
    assert_eq!(leech.dht_status().unwrap().nodes, 0);
    let add = AddOptions {
        peers: vec![swarm.seed_addr().unwrap()],
        ..AddOptions::default()
    };
    let torrent = leech
        .add_torrent(payload.created.meta.clone(), add)
        .unwrap();
    let status = wait_dht(&leech, "the seed's node", |s| s.nodes >= 1);
    assert_eq!(
        status.nodes, 1,
        "only the seed's node: {status:?} ({seed_node})"
    );
    torrent.wait_complete(Some(LIMIT)).unwrap();
    leech.shutdown().unwrap();
}

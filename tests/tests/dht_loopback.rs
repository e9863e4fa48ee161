//! The DHT (BEP 5) between sluice clients on 127.0.0.1, for each driver and
//! across them:
//!
//! * a leecher given nothing but the torrent (no peers, no trackers) finds the
//!   seed through a plain DHT node that both joined through, and downloads it;
//! * the routing table saved when a client shuts down is loaded by the next
//!   client started on the same state file, which joins through it with no
//!   bootstrap node at all;
//! * two peers whose nodes know nobody learn each other's node from the
//!   BEP 5 `port` message each sends after the handshake;
//! * a node fed garbage datagrams keeps serving.
//!
//! Every wait is bounded and says what it waited for when it gives up.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use sluice_std::dht::{DhtOptions, DhtStatus};
use sluice_std::ClientOptions;
use sluice_tests::peers::{bounded, data, Driver, SluiceClient, SluicePeer};
use sluice_tests::{Rng, TempDir};

/// The longest any one step may take (joins and lookups on loopback take
/// milliseconds; the download of a few MiB a second or two).
const LIMIT: Duration = Duration::from_secs(60);
/// How long a client with only a DHT node may take to shut down.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn std_leecher_finds_std_seed_through_the_dht() {
    leecher_finds_seed_through_the_dht(Driver::Std, Driver::Std, Driver::Std);
}

#[test]
fn mio_leecher_finds_mio_seed_through_the_dht() {
    leecher_finds_seed_through_the_dht(Driver::Mio, Driver::Mio, Driver::Mio);
}

#[test]
fn std_leecher_finds_mio_seed_through_a_std_node() {
    leecher_finds_seed_through_the_dht(Driver::Std, Driver::Mio, Driver::Std);
}

#[test]
fn mio_leecher_finds_std_seed_through_a_mio_node() {
    leecher_finds_seed_through_the_dht(Driver::Mio, Driver::Std, Driver::Mio);
}

#[test]
fn std_saves_its_routing_table_and_the_next_client_joins_through_it() {
    saved_table_is_loaded_and_joined(Driver::Std);
}

#[test]
fn mio_saves_its_routing_table_and_the_next_client_joins_through_it() {
    saved_table_is_loaded_and_joined(Driver::Mio);
}

#[test]
fn std_peers_learn_each_others_dht_node_from_port_messages() {
    peers_learn_each_others_dht_node(Driver::Std, Driver::Std);
}

#[test]
fn mio_peers_learn_each_others_dht_node_from_port_messages() {
    peers_learn_each_others_dht_node(Driver::Mio, Driver::Mio);
}

#[test]
fn std_and_mio_peers_learn_each_others_dht_node_from_port_messages() {
    peers_learn_each_others_dht_node(Driver::Std, Driver::Mio);
}

#[test]
fn std_node_keeps_serving_after_garbage_datagrams() {
    node_keeps_serving_after_garbage(Driver::Std);
}

#[test]
fn mio_node_keeps_serving_after_garbage_datagrams() {
    node_keeps_serving_after_garbage(Driver::Mio);
}

/// A node N with no torrents; a seed S and a leecher L of drivers `seed` and
/// `leech`, both joining the DHT through N only. L is given the torrent and
/// nothing else, so S can only reach it through N's answer to L's lookup.
fn leecher_finds_seed_through_the_dht(node: Driver, seed: Driver, leech: Driver) {
    let tag = format!("dht-{}-{}-{}", node.tag(), seed.tag(), leech.tag());
    let dir = TempDir::new(&tag);
    let payload = data::single_file(dir.path(), "payload.bin", 6 * data::MIB, 17, &[]);
    let torrent = std::fs::read(&payload.torrent).unwrap();

    let n = start_node(node, &dir.join("node"), dht(None, None));
    let n_addr = n.dht_addr().expect("the node runs a DHT node");

    let s = SluicePeer::start_with(seed, "seed", &payload.save_path, &torrent, |o| {
        o.dht = Some(dht(Some(n_addr), None));
    });
    assert!(s.torrent.is_complete(), "the seed verified its data");
    // Until the node holds S, L's first lookup would find nobody (and the
    // next one comes a minute later).
    let stored = wait_for("the seed's announce to be stored", &s.client, LIMIT, |st| {
        (st.announces_stored > 0).then_some(st)
    });
    println!("seed announced: {stored:?}");

    let l = SluicePeer::start_with(leech, "leecher", &dir.join("leech"), &torrent, |o| {
        o.dht = Some(dht(Some(n_addr), None));
    });
    let took = l.wait_complete(LIMIT, &[&s]);
    let found = l.client.dht_status().expect("the leecher runs a DHT node");
    assert!(found.peers_found > 0, "the leecher's lookups: {found:?}");
    // The seed was the leecher's only source.
    let sent = s.torrent.stats().expect("the seed runs").uploaded;
    assert!(
        sent >= payload.total_length(),
        "the seed uploaded {sent} bytes"
    );
    println!("{tag}: found the seed and downloaded 6 MiB in {took:?}; leecher: {found:?}");
    l.shutdown();
    s.shutdown();
    shut_down(n);
    data::assert_same_tree(&payload.root, &dir.join("leech/payload.bin"), &[]);
}

/// A client A joins through a node N and shuts down, saving its table; a
/// client B on the same state file and no bootstrap node loads it (A's node
/// id too) and joins through the nodes in it.
fn saved_table_is_loaded_and_joined(driver: Driver) {
    let dir = TempDir::new(&format!("dht-table-{}", driver.tag()));
    let state = dir.join("state/dht.dat");
    let n = start_node(driver, &dir.join("node"), dht(None, None));
    let n_addr = n.dht_addr().expect("the node runs a DHT node");

    let a = start_node(
        driver,
        &dir.join("a"),
        dht(Some(n_addr), Some(state.clone())),
    );
    let joined = wait_for("the first client to join", &a, LIMIT, |st| {
        (st.joined && st.nodes > 0).then_some(st)
    });
    let took = shut_down(a);
    println!("first client joined ({joined:?}), shut down in {took:?}");
    let saved = std::fs::metadata(&state).map_or(0, |m| m.len());
    assert!(saved > 0, "{} holds the table", state.display());

    let b = start_node(driver, &dir.join("b"), dht(None, Some(state.clone())));
    let loaded = wait_for("the second client to load the table", &b, LIMIT, |st| {
        (st.loaded_nodes > 0).then_some(st)
    });
    assert_eq!(loaded.node_id, joined.node_id, "the node id is kept");
    let rejoined = wait_for("the second client to join", &b, LIMIT, |st| {
        (st.joined && st.nodes > 0).then_some(st)
    });
    println!(
        "second client loaded {} nodes and joined: {rejoined:?}",
        loaded.loaded_nodes
    );
    shut_down(b);
    shut_down(n);
}

/// A seed and a leecher whose DHT nodes know nobody (no bootstrap, no saved
/// table), the leecher told the seed's listen address: the only way either
/// node can learn of the other is the `port` message of the peer wire, which
/// the engines send and the drivers hand to their nodes (and not to the
/// event subscribers).
fn peers_learn_each_others_dht_node(seed: Driver, leech: Driver) {
    let dir = TempDir::new(&format!("dht-port-{}-{}", seed.tag(), leech.tag()));
    let payload = data::single_file(dir.path(), "payload.bin", data::MIB, 23, &[]);
    let torrent = std::fs::read(&payload.torrent).unwrap();
    let s = SluicePeer::start_with(seed, "seed", &payload.save_path, &torrent, |o| {
        o.dht = Some(dht(None, None));
    });
    let l = SluicePeer::start_with(leech, "leecher", &dir.join("leech"), &torrent, |o| {
        o.dht = Some(dht(None, None));
    });
    l.torrent.connect(s.addr());
    l.wait_complete(LIMIT, &[&s]);
    for (who, peer, other) in [("seed", &s, &l), ("leecher", &l, &s)] {
        let want = other.client.dht_addr().expect("both run a DHT node");
        let st = wait_for(
            &format!("the {who} to add the other's node {want}"),
            &peer.client,
            LIMIT,
            |st| (st.nodes > 0).then_some(st),
        );
        println!("{who}: {st:?}");
        let leaked: Vec<String> = peer
            .events()
            .into_iter()
            .filter(|e| e.contains("DhtNode"))
            .collect();
        assert!(leaked.is_empty(), "{who}'s subscribers got {leaked:?}");
    }
    l.shutdown();
    s.shutdown();
}

/// Empty, oversized, truncated and random datagrams at a node, then a client
/// joins through it: the node neither panicked nor stopped answering.
fn node_keeps_serving_after_garbage(driver: Driver) {
    let dir = TempDir::new(&format!("dht-garbage-{}", driver.tag()));
    let n = start_node(driver, &dir.join("node"), dht(None, None));
    let to = n.dht_addr().expect("the node runs a DHT node");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = Rng::new(0xbad);
    let mut junk: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![b'd'; 60_000],
        b"d1:ad2:id20:".to_vec(),
        b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe".to_vec(),
        b"d1:ad2:id20:abcdefghij01234567896:target20:abce1:q9:find_node1:t1:x1:y1:qe".to_vec(),
        b"d1:rd2:id20:abcdefghij01234567895:nodes3:xyze1:t2:zz1:y1:re".to_vec(),
        b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee".to_vec(),
        b"i-0e".to_vec(),
        b"llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll".to_vec(),
    ];
    for _ in 0..300 {
        let len = rng.below(3000) as usize;
        junk.push(rng.bytes(len));
    }
    for d in &junk {
        // A full socket buffer drops some: it is garbage either way.
        let _ = sock.send_to(d, to);
    }
    // Answered only once the node has read (or the kernel dropped) all of
    // the above, so the join below does not race the flood for buffer space.
    let took = ping_until_answered(&sock, to);
    println!("the node answered a ping {took:?} after the garbage");
    let a = start_node(driver, &dir.join("a"), dht(Some(to), None));
    let st = wait_for("a client to join through the node", &a, LIMIT, |st| {
        (st.joined && st.nodes > 0).then_some(st)
    });
    println!("joined after {} garbage datagrams: {st:?}", junk.len());
    shut_down(a);
    shut_down(n);
}

/// Sends a KRPC ping from `sock` to `to` until the answer comes (each try
/// waits 200 ms for it); panics after [`LIMIT`]. How long it took.
fn ping_until_answered(sock: &UdpSocket, to: SocketAddr) -> Duration {
    let ping = b"d1:ad2:id20:probeprobeprobeprobee1:q4:ping1:t2:pk1:y1:qe";
    let has = |b: &[u8], part: &[u8]| b.windows(part.len()).any(|w| w == part);
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 2048];
    loop {
        assert!(
            t0.elapsed() < LIMIT,
            "the node at {to} did not answer a ping"
        );
        sock.send_to(ping, to).unwrap();
        let end = Instant::now() + Duration::from_millis(200);
        while Instant::now() < end {
            // Other datagrams (the node's own queries to this address) are
            // skipped.
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                let b = &buf[..n];
                if from == to && has(b, b"1:t2:pk") && has(b, b"1:y1:r") {
                    return t0.elapsed();
                }
            }
        }
    }
}

/// DHT options: join through `bootstrap` (if any), keep the table in
/// `state_file` (if any).
fn dht(bootstrap: Option<SocketAddr>, state_file: Option<std::path::PathBuf>) -> DhtOptions {
    let mut o = DhtOptions::bootstrap_from(bootstrap);
    o.state_file = state_file;
    o
}

/// A client on 127.0.0.1 with no torrents, running a DHT node.
fn start_node(driver: Driver, dir: &Path, dht: DhtOptions) -> SluiceClient {
    let mut opts = ClientOptions::new(dir);
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.dht = Some(dht);
    SluiceClient::start(driver, opts).unwrap_or_else(|e| panic!("{}: start: {e}", driver.name()))
}

/// Shuts a client down within [`SHUTDOWN_LIMIT`]; how long it took.
fn shut_down(c: SluiceClient) -> Duration {
    let name = c.driver().name();
    let t0 = Instant::now();
    match bounded(SHUTDOWN_LIMIT, move || c.shutdown()) {
        Some(Ok(())) => t0.elapsed(),
        Some(Err(e)) => panic!("{name}: shutdown: {e}"),
        None => panic!("{name}: shutdown took longer than {SHUTDOWN_LIMIT:?}"),
    }
}

/// Polls `f` on `client`'s DHT figures every 20 ms until it gives a value;
/// panics naming `what`, with the last figures, after `limit`.
fn wait_for<T>(
    what: &str,
    client: &SluiceClient,
    limit: Duration,
    mut f: impl FnMut(DhtStatus) -> Option<T>,
) -> T {
    let end = Instant::now() + limit;
    loop {
        let st = client.dht_status().expect("the client runs a DHT node");
        if let Some(v) = f(st.clone()) {
            return v;
        }
        assert!(
            Instant::now() < end,
            "gave up after {limit:?} waiting for {what}; last figures: {st:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

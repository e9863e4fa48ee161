//! The DHT under simulation (`sluice_tests::sim::dht`): hundreds of the
//! core's nodes on a network with 5–80 ms one-way latency, joined through a
//! few routers. Every seeker must find what was announced, and lookups must
//! converge in a bounded number of rounds and queries, also when a fifth of
//! the nodes vanish and when a tenth of the datagrams are lost.
//!
//! The bounds, for `N` = 500 nodes, `k` = 8, `alpha` = 3:
//!
//! * **rounds** (the longest referral chain a lookup followed): a node whose
//!   buckets hold what the network can fill, asked about a target it shares
//!   `b` leading bits with, names nodes sharing at least `b + 1` when any
//!   exist; the closest of `N` random ids shares about log2 N bits with the
//!   target, so no chain should be longer than ⌈log2 N⌉ + 1 = 10 (one for the
//!   hop out of our own table). With full buckets a hop gains about
//!   log2 k = 3 bits, so the mean stays within ⌈log2 N / log2 k⌉ + 2 = 5.
//! * **queries**: the `k` closest nodes must all answer, plus about `alpha`
//!   per round on the way: the mean stays within k + alpha × 5 = 23. No
//!   lookup queries more than the 4k = 32 candidates it keeps.
//! * **virtual time**: a lookup always has a query outstanding until it
//!   ends, and a query lasts at most the query timeout, so a lookup takes at
//!   most `queried` × 3 s. In a healthy network no query times out, so every
//!   lookup ends within one query timeout.

use std::time::Duration;

use sluice_core::dht::node::Config;
use sluice_tests::sim::dht::{DhtSim, JoinReport, LookupReport, Network, Summary, Traffic};

const ROUTERS: usize = 3;
const NODES: usize = 500;
const PAIRS: usize = 40;
/// The port announcers serve their torrent on.
const PEER_PORT: u16 = 7000;
/// Nodes join one every 20 ms, so the network grows while they join, as a
/// real one does.
const STAGGER: Duration = Duration::from_millis(20);

const MAX_ROUNDS: u32 = 10;
const MEAN_ROUNDS: f64 = 5.0;
const MEAN_QUERIES: f64 = 23.0;
const MAX_QUERIES: u32 = 32;

/// What one scenario did.
struct Outcome {
    join: JoinReport,
    announces: Vec<LookupReport>,
    seeks: Vec<LookupReport>,
    /// Seekers that did not find their announcer.
    missed: usize,
    traffic: Traffic,
    trace: String,
}

/// `nodes` nodes (`ROUTERS` of them routers) join; then `vanish` of the
/// others vanish; then `pairs` times a random live node announces a random
/// info-hash and another one looks it up.
fn run(seed: u64, net: Network, nodes: usize, vanish: usize, pairs: usize) -> Outcome {
    let mut sim = DhtSim::new(seed, net);
    sim.add_routers(ROUTERS);
    sim.add_nodes(nodes - ROUTERS);
    let join = sim.join_all(STAGGER).expect("every join ends");
    for i in sim.random_live_nodes(vanish) {
        sim.vanish(i);
    }
    let mut out = Outcome {
        join,
        announces: Vec::new(),
        seeks: Vec::new(),
        missed: 0,
        traffic: Traffic::default(),
        trace: String::new(),
    };
    for _ in 0..pairs {
        let pick = sim.random_live_nodes(2);
        let (announcer, seeker) = (pick[0], pick[1]);
        let hash = sim.random_info_hash();
        let a = sim.announce(announcer, hash, PEER_PORT);
        let a = a.unwrap_or_else(|| panic!("node {announcer}'s announce never settled"));
        let s = sim.get_peers(seeker, hash);
        let s = s.unwrap_or_else(|| panic!("node {seeker}'s get_peers never ended"));
        if !s.peers.contains(&sim.peer_addr(announcer, PEER_PORT)) {
            out.missed += 1;
        }
        out.announces.push(a);
        out.seeks.push(s);
    }
    out.traffic = sim.traffic();
    out.trace = sim.trace_hash();
    out
}

/// Prints the figures of a scenario.
fn print(name: &str, o: &Outcome) {
    let stored: usize = o
        .announces
        .iter()
        .filter_map(|a| a.stored)
        .map(|s| s.0)
        .sum();
    let tried: usize = o
        .announces
        .iter()
        .filter_map(|a| a.stored)
        .map(|s| s.1)
        .sum();
    println!("{name}: {}", o.join);
    println!("{name}: get_peers {}", Summary::of(&o.seeks));
    println!("{name}: announce {}", Summary::of(&o.announces));
    println!(
        "{name}: announce_peer stored {stored} of {tried}; found {} of {}; {:?}",
        o.seeks.len() - o.missed,
        o.seeks.len(),
        o.traffic
    );
}

/// The bounds every scenario meets (see the file's documentation).
fn check_bounds(o: &Outcome) {
    assert_eq!(o.missed, 0, "every seeker finds its announcer");
    let timeout = Config::default().query_timeout;
    for r in o.seeks.iter().chain(&o.announces) {
        assert!(r.rounds >= 1 && r.rounds <= MAX_ROUNDS, "{r:?}");
        assert!(r.queried <= MAX_QUERIES, "{r:?}");
        assert!(r.elapsed <= timeout * r.queried, "a lookup idled: {r:?}");
    }
    for s in [Summary::of(&o.seeks), Summary::of(&o.announces)] {
        assert!(s.mean_rounds <= MEAN_ROUNDS, "{s}");
        assert!(s.mean_queries <= MEAN_QUERIES, "{s}");
    }
    for a in &o.announces {
        let (stored, _) = a.stored.expect("an announce reports what it stored");
        assert!(stored >= 1, "{a:?}");
    }
}

#[test]
fn five_hundred_nodes_find_every_announce_in_bounded_rounds() {
    let o = run(0x5eed, Network::default(), NODES, 0, PAIRS);
    print("500 nodes", &o);
    check_bounds(&o);
    // Nothing is lost, nobody vanished: no lookup waits for a query to time
    // out, every announce is stored by the k closest nodes, and tables fill.
    let timeout = Config::default().query_timeout;
    for r in o.seeks.iter().chain(&o.announces) {
        assert!(r.elapsed < timeout, "{r:?}");
    }
    let k = Config::default().k;
    assert!(o.announces.iter().all(|a| a.stored == Some((k, k))));
    assert_eq!(o.traffic.sent, o.traffic.delivered);
    // A node that joined knows k nodes in each far bucket it can fill (see
    // `RoutingTable::sparse_buckets`): about k × log2(N / k) = 48.
    assert!(o.join.mean_table >= 40.0, "{}", o.join);
}

#[test]
fn lookups_survive_a_fifth_of_the_nodes_vanishing() {
    let o = run(77, Network::default(), NODES, NODES / 5, PAIRS);
    print("20% vanished", &o);
    check_bounds(&o);
    // Queries to vanished nodes time out: lookups take longer, and say so.
    assert!(o.traffic.to_vanished > 0);
    assert!(Summary::of(&o.seeks).max_time >= Config::default().query_timeout);
}

#[test]
fn lookups_end_and_find_under_ten_percent_loss() {
    let net = Network {
        loss: 0.10,
        ..Network::default()
    };
    let o = run(1010, net, NODES, 0, PAIRS);
    print("10% loss", &o);
    check_bounds(&o);
    let lost = o.traffic.lost as f64 / o.traffic.sent as f64;
    assert!((0.08..0.12).contains(&lost), "lost {lost}");
}

#[test]
fn same_seed_same_figures_other_seed_other_figures() {
    let net = Network {
        loss: 0.05,
        ..Network::default()
    };
    let figures = |seed: u64| {
        let o = run(seed, net.clone(), 200, 20, 10);
        let figures = (Summary::of(&o.seeks), Summary::of(&o.announces), o.join);
        (figures, o.traffic, o.trace, o.missed)
    };
    let a = figures(3);
    let b = figures(3);
    assert_eq!(a, b, "two runs with seed 3 differ");
    let c = figures(4);
    assert_ne!(a.2, c.2, "seeds 3 and 4 gave the same trace");
    assert_ne!(a.0, c.0, "seeds 3 and 4 gave the same figures");
    println!("seed 3: trace {}; get_peers {}", a.2, (a.0).0);
}

//! Peer exchange (BEP 11) in a simulated swarm: leechers introduced only to
//! the seed learn each other's addresses from it and trade directly.

use std::time::Duration;

use sluice_tests::sim::{Content, NodeSpec, Sim};

#[test]
fn leechers_that_know_only_the_seed_find_each_other_through_pex() {
    let content = Content::single(11, 16 << 20, 256 << 10);
    let mut sim = Sim::new(11, content);
    let seed = sim.add_node(NodeSpec::seed().upload(512 << 10));
    let leechers: Vec<usize> = (0..4).map(|_| sim.add_node(NodeSpec::leecher())).collect();
    for &l in &leechers {
        sim.introduce(l, seed);
    }
    let addrs: Vec<_> = leechers.iter().map(|&l| sim.nodes[l].addr.ip()).collect();
    // Every leecher ends up connected to every other one: nobody told them
    // of each other but the seed's peer exchange.
    let met = sim.run_until(Duration::from_secs(180), |sim| {
        leechers.iter().all(|&l| {
            let peers = sim.nodes[l].torrent.peers(sim.now());
            addrs
                .iter()
                .filter(|ip| **ip != sim.nodes[l].addr.ip())
                .all(|ip| peers.iter().any(|p| p.addr.ip() == *ip))
        })
    });
    assert!(met, "the leechers did not all meet through peer exchange");
    let at = sim.now();
    assert!(sim.run_until_complete(&leechers, Duration::from_secs(600)));
    // The seed uploads at 512 KiB/s: four copies of 16 MiB from it alone
    // would take 128 s; the leechers traded among themselves.
    let seed_sent = sim.nodes[seed].sent_bytes;
    println!(
        "all 4 leechers met through PEX by {at:?}; complete at {:?}; the seed sent {} MiB of the 64 MiB they needed",
        sim.now(),
        seed_sent >> 20
    );
    assert!(
        seed_sent < 4 * (16 << 20),
        "the seed sent everything: {seed_sent}"
    );
}

/// The control: with the seed's peer exchange off, leechers that know only the
/// seed never meet.
#[test]
fn without_pex_the_leechers_never_meet() {
    let content = Content::single(11, 16 << 20, 256 << 10);
    let mut sim = Sim::new(11, content);
    let seed = sim.add_node(NodeSpec::seed().upload(512 << 10).tweak(|c| c.pex = false));
    let leechers: Vec<usize> = (0..4).map(|_| sim.add_node(NodeSpec::leecher())).collect();
    for &l in &leechers {
        sim.introduce(l, seed);
    }
    sim.run_for(Duration::from_secs(30));
    for &l in &leechers {
        let peers = sim.nodes[l].torrent.peers(sim.now());
        assert_eq!(peers.len(), 1, "leecher {l} met {peers:?}");
    }
}

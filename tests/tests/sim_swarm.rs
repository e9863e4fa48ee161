//! Scenario 2: one seed, thirty leechers. Everyone completes, and the seed
//! uploads less than three times the torrent: the leechers trade with each
//! other rather than each taking a full copy from the seed.

use std::time::Duration;

use sluice_tests::sim::{Content, NodeSpec, Sim};

const LEECHERS: usize = 30;

#[test]
fn one_seed_thirty_leechers_trade() {
    let size: u64 = 8 << 20;
    let content = Content::single(2, size, 64 << 10);
    let mut sim = Sim::new(2, content);
    let ms = Duration::from_millis;
    let seed = sim.add_node(NodeSpec::seed().upload(1 << 20).latency(ms(20)));
    let leechers: Vec<usize> = (0..LEECHERS)
        .map(|i| {
            sim.add_node(
                NodeSpec::leecher()
                    .upload(1 << 20)
                    .latency(ms(5 + (i as u64 * 7) % 40)),
            )
        })
        .collect();
    // As a tracker would: everyone learns the seed and every other leecher.
    for &l in &leechers {
        sim.introduce(l, seed);
        for &other in &leechers {
            if other != l {
                sim.introduce(l, other);
            }
        }
    }
    let done = sim.run_until_complete(&leechers, Duration::from_secs(600));
    let incomplete: Vec<usize> = leechers
        .iter()
        .copied()
        .filter(|&l| !sim.nodes[l].torrent.is_complete())
        .collect();
    assert!(
        done,
        "incomplete leechers at {:?}: {incomplete:?}",
        sim.now()
    );
    let uploaded = sim.nodes[seed].torrent.stats(sim.now()).uploaded;
    if std::env::var_os("SIM_DEBUG").is_some() {
        for (i, n) in sim.nodes.iter().enumerate() {
            let st = n.torrent.stats(sim.now());
            eprintln!(
                "node {i}: up {} down {} wasted {} peers {} done {:?}",
                st.uploaded >> 10,
                st.downloaded >> 10,
                st.wasted >> 10,
                st.peers,
                n.completed_at
            );
        }
    }
    let last = leechers
        .iter()
        .map(|&l| sim.nodes[l].completed_at.unwrap())
        .max()
        .unwrap();
    println!(
        "30 leechers, 8 MiB: last done at {:?}; seed uploaded {:.2}× the torrent; {} sim steps",
        last,
        uploaded as f64 / size as f64,
        sim.steps
    );
    assert!(
        uploaded < 3 * size,
        "seed uploaded {uploaded} bytes, {:.2}× the torrent",
        uploaded as f64 / size as f64
    );
}

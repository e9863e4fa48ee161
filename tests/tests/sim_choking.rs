//! Scenario 7: a seed with more interested peers than upload slots never has
//! more than slots + 1 peers unchoked, and its optimistic slot rotates.

use std::collections::BTreeSet;
use std::time::Duration;

use sluice_tests::sim::{Content, NodeSpec, Sim};

const SLOTS: usize = 2;

#[test]
fn at_most_slots_plus_one_unchoked_and_optimistic_rotates() {
    let content = Content::single(7, 64 << 20, 256 << 10);
    let mut sim = Sim::new(7, content);
    // A slow seed, so the leechers stay interested for the whole test. It
    // does not exchange peers: leechers that met through it would trade among
    // themselves and finish, and this scenario is about the seed's slots.
    let seed = sim.add_node(NodeSpec::seed().upload(256 << 10).tweak(|c| {
        c.upload_slots = SLOTS;
        c.pex = false;
    }));
    let leechers: Vec<usize> = (0..8).map(|_| sim.add_node(NodeSpec::leecher())).collect();
    for &l in &leechers {
        sim.introduce(l, seed);
    }
    let mut max_unchoked = 0;
    let mut optimistic_seen = BTreeSet::new();
    let mut unchoked_seen = BTreeSet::new();
    let mut checks = 0u64;
    sim.run_until(Duration::from_secs(300), |sim| {
        let peers = sim.nodes[seed].torrent.peers(sim.now());
        let unchoked: Vec<_> = peers.iter().filter(|p| !p.am_choking).collect();
        max_unchoked = max_unchoked.max(unchoked.len());
        for p in &unchoked {
            unchoked_seen.insert(p.addr.ip());
            if p.optimistic {
                optimistic_seen.insert(p.addr.ip());
            }
        }
        assert!(unchoked.iter().filter(|p| p.optimistic).count() <= 1);
        checks += 1;
        false
    });
    println!(
        "{checks} checks: at most {max_unchoked} unchoked; {} peers held the optimistic slot, {} were unchoked at some point",
        optimistic_seen.len(),
        unchoked_seen.len()
    );
    assert!(max_unchoked <= SLOTS + 1, "{max_unchoked} unchoked");
    assert_eq!(max_unchoked, SLOTS + 1, "slots were used");
    // 300 s is ten optimistic periods: the slot must have moved around.
    assert!(
        optimistic_seen.len() >= 4,
        "optimistic went to {optimistic_seen:?}"
    );
    assert!(leechers
        .iter()
        .all(|&l| !sim.nodes[l].torrent.is_complete()));
}

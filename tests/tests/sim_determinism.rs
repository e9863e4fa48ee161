//! The simulator and the engines are deterministic: the same seed gives the
//! same trace (every event and close, with its virtual time), a different seed
//! a different one.

use std::time::Duration;

use sluice_tests::sim::{Behaviour, Content, NodeSpec, Sim};

fn run(seed: u64) -> (String, u64) {
    let content = Content::single(9, 4 << 20, 128 << 10);
    let mut sim = Sim::new(seed, content);
    let ms = Duration::from_millis;
    let s = sim.add_node(NodeSpec::seed().upload(1 << 20).latency(ms(15)));
    let bad = sim.add_node(
        NodeSpec::seed()
            .behaviour(Behaviour::Corrupt)
            .upload(1 << 20),
    );
    let leechers: Vec<usize> = (0..6)
        .map(|i| sim.add_node(NodeSpec::leecher().upload(512 << 10).latency(ms(3 + i * 4))))
        .collect();
    for &l in &leechers {
        sim.introduce(l, s);
        sim.introduce(l, bad);
        for &o in &leechers {
            if o != l {
                sim.introduce(l, o);
            }
        }
    }
    sim.run_for(Duration::from_secs(5));
    sim.vanish(leechers[0]);
    assert!(sim.run_until_complete(&leechers[1..], Duration::from_secs(300)));
    (sim.trace_hash(), sim.steps)
}

#[test]
fn same_seed_same_trace() {
    let (a, steps_a) = run(11);
    let (b, steps_b) = run(11);
    assert_eq!(a, b, "two runs with seed 11 differ");
    assert_eq!(steps_a, steps_b);
    let (c, _) = run(12);
    assert_ne!(a, c, "seeds 11 and 12 gave the same trace");
    println!("trace {a} after {steps_a} steps");
}

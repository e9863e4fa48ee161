//! Simulator and engine benchmarks. Figures, not pass/fail.
//!
//! * **swarm**: a swarm of `SLUICE_BENCH_PEERS` peers (default 500: one seed,
//!   the rest leechers that each learn 40 others, as from a tracker) on a
//!   `SLUICE_BENCH_MIB` MiB torrent (default 256, 256 KiB pieces), 8 MiB/s
//!   uplinks, 5–50 ms links. Wall time, simulated events per second, virtual
//!   time to the last completion.
//! * **engine**: one seed and one leecher over an unlimited link, 1 GiB
//!   (`SLUICE_BENCH_ENGINE_MIB`), the leecher storing real bytes and hashing
//!   them. Wall time inside each engine per GiB moved, with SHA-1 and storage
//!   counted separately.
//!
//! Run: `cargo bench -p sluice-tests --bench sim` (optionally `-- swarm` or
//! `-- engine` for one of them).

use std::time::{Duration, Instant};

use sluice_tests::sim::{Content, NodeSpec, Sim};
use sluice_tests::Rng;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    if run("engine") {
        engine();
    }
    if run("swarm") {
        swarm();
    }
}

fn swarm() {
    let peers = env("SLUICE_BENCH_PEERS", 500) as usize;
    let mib = env("SLUICE_BENCH_MIB", 256);
    let content = Content::single(42, mib << 20, 256 << 10);
    let built = Instant::now();
    let mut sim = Sim::new(42, content);
    let mut rng = Rng::new(42);
    let ms = Duration::from_millis;
    let seed = sim.add_node(NodeSpec::seed().upload(8 << 20).latency(ms(20)));
    let leechers: Vec<usize> = (1..peers)
        .map(|_| {
            let latency = ms(5 + rng.below(46));
            sim.add_node(NodeSpec::leecher().upload(8 << 20).latency(latency))
        })
        .collect();
    for &l in &leechers {
        sim.introduce(l, seed);
        for _ in 0..40 {
            let other = leechers[rng.below(leechers.len() as u64) as usize];
            if other != l {
                sim.introduce(l, other);
            }
        }
    }
    let setup = built.elapsed();
    let started = Instant::now();
    let done = sim.run_until_complete(&leechers, Duration::from_secs(3600));
    let wall = started.elapsed();
    let last = leechers
        .iter()
        .filter_map(|&l| sim.nodes[l].completed_at)
        .max()
        .unwrap_or(sim.now());
    let complete = leechers
        .iter()
        .filter(|&&l| sim.nodes[l].torrent.is_complete())
        .count();
    println!(
        "swarm: {peers} peers, {mib} MiB torrent: {complete}/{} leechers complete{} at {:.1} s virtual; \
         {:.1} s wall (+{:.1} s setup), {} events, {:.0} events/s, {:.1} GiB moved ({:.2} GiB/s of wall time)",
        leechers.len(),
        if done { "" } else { " (TIMED OUT)" },
        last.as_micros() as f64 / 1e6,
        wall.as_secs_f64(),
        setup.as_secs_f64(),
        sim.steps,
        sim.steps as f64 / wall.as_secs_f64(),
        sim.wire_bytes as f64 / (1u64 << 30) as f64,
        sim.wire_bytes as f64 / (1u64 << 30) as f64 / wall.as_secs_f64()
    );
}

fn engine() {
    let mib = env("SLUICE_BENCH_ENGINE_MIB", 1024);
    let content = Content::single(7, mib << 20, 1 << 20);
    let mut sim = Sim::new(7, content);
    let seed = sim.add_node(NodeSpec::seed());
    let leech = sim.add_node(NodeSpec::leecher().real_bytes());
    sim.enable_profile();
    sim.introduce(leech, seed);
    let started = Instant::now();
    assert!(sim.run_until_complete(&[leech], Duration::from_secs(3600)));
    let wall = started.elapsed();
    let p = sim.profile.clone().unwrap_or_default();
    let gib = mib as f64 / 1024.0;
    let per_gib = |d: Duration| d.as_secs_f64() / gib;
    let by_node = |n: usize| p.engine_by_node.get(n).copied().unwrap_or_default();
    println!(
        "engine: {mib} MiB seed → leecher in {:.2} s wall ({:.0} MiB/s). Per GiB moved: leecher engine {:.3} s, \
         seed engine {:.3} s, SHA-1 {:.3} s, storage {:.3} s, simulator {:.3} s",
        wall.as_secs_f64(),
        mib as f64 / wall.as_secs_f64(),
        per_gib(by_node(leech)),
        per_gib(by_node(seed)),
        per_gib(p.hashing),
        per_gib(p.storage),
        per_gib(wall.saturating_sub(p.engine + p.hashing + p.storage)),
    );
}

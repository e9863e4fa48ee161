//! Scenario 1: one seed, one leecher, 64 MiB. The leecher completes and holds
//! exactly the seed's bytes.

use std::time::Duration;

use sluice_core::torrent::Event;
use sluice_tests::sim::{Content, NodeSpec, Sim};

#[test]
fn small_torrent_downloads() {
    let content = Content::single(3, 1 << 20, 64 << 10);
    let mut sim = Sim::new(1, content);
    let seed = sim.add_node(NodeSpec::seed().real_bytes());
    let leech = sim.add_node(NodeSpec::leecher().real_bytes());
    sim.introduce(leech, seed);
    let done = sim.run_until_complete(&[leech], Duration::from_secs(60));
    for (t, e) in sim.nodes[leech].events.iter().take(20) {
        eprintln!("{t:?} {e:?}");
    }
    assert!(
        done,
        "leecher incomplete: {:?}",
        sim.nodes[leech].torrent.stats(sim.now())
    );
    assert_eq!(
        sim.nodes[leech].storage.bytes(),
        sim.nodes[seed].storage.bytes()
    );
}

#[test]
fn one_seed_one_leecher_64_mib() {
    let content = Content::single(64, 64 << 20, 256 << 10);
    let mut sim = Sim::new(64, content);
    let seed = sim.add_node(NodeSpec::seed().real_bytes().upload(50 << 20));
    let leech = sim.add_node(NodeSpec::leecher().real_bytes().upload(50 << 20));
    sim.introduce(leech, seed);
    assert!(
        sim.run_until_complete(&[leech], Duration::from_secs(600)),
        "leecher incomplete at {:?}: {:?}",
        sim.now(),
        sim.nodes[leech].torrent.stats(sim.now())
    );
    let l = &sim.nodes[leech];
    assert_eq!(
        l.storage.bytes(),
        sim.nodes[seed].storage.bytes(),
        "bytes differ"
    );
    let verified = sim
        .events_of(leech, |e| matches!(e, Event::PieceVerified { .. }))
        .count();
    assert_eq!(verified, 256);
    assert!(sim
        .events_of(leech, |e| matches!(e, Event::HashFailed { .. }))
        .next()
        .is_none());
    let secs = l.completed_at.unwrap().as_micros() as f64 / 1e6;
    println!(
        "64 MiB at 50 MiB/s: done in {secs:.2} s of virtual time ({:.1} MiB/s), {} sim steps",
        64.0 / secs,
        sim.steps
    );
    // The link allows 50 MiB/s; a working pipeline gets close to it.
    assert!(secs < 64.0 / 50.0 * 1.25, "too slow: {secs:.2} s");
}

#[test]
fn resume_fetches_only_the_missing_pieces() {
    let content = Content::single(8, 4 << 20, 128 << 10);
    let mut sim = Sim::new(8, content);
    let seed = sim.add_node(NodeSpec::seed());
    // Every third piece was verified in an earlier run.
    let leech = sim.add_node(NodeSpec::leecher().real_bytes().resume(|p| p % 3 == 0));
    let before = sim.nodes[leech].torrent.have().count();
    assert_eq!(before, 11);
    sim.introduce(leech, seed);
    assert!(sim.run_until_complete(&[leech], Duration::from_secs(60)));
    let fetched: Vec<u32> = sim
        .events_of(leech, |e| matches!(e, Event::PieceVerified { .. }))
        .map(|(_, e)| match e {
            Event::PieceVerified { piece } => *piece,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(fetched.len(), 32 - 11);
    assert!(
        fetched.iter().all(|p| p % 3 != 0),
        "a resumed piece was fetched again"
    );
    let stats = sim.nodes[leech].torrent.stats(sim.now());
    assert_eq!(stats.downloaded, 21 * (128 << 10));
    let mut expected = vec![0u8; sim.content.len() as usize];
    sim.content.fill(0, &mut expected);
    assert!(sim.nodes[leech].storage.bytes() == Some(&expected[..]));
}

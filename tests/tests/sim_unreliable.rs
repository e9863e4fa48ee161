//! Scenario 4: peers that vanish mid-transfer and peers that accept requests
//! and never answer them. The download still completes from what is left.

use std::time::Duration;

use sluice_core::torrent::Event;
use sluice_tests::sim::{Behaviour, Content, NodeSpec, Sim};

#[test]
fn vanishing_and_silent_peers_do_not_stop_the_download() {
    let content = Content::single(5, 16 << 20, 256 << 10);
    let mut sim = Sim::new(5, content);
    let ms = Duration::from_millis;
    // Fast peers that will vanish, silent peers that look attractive, and
    // one slow honest seed that must end up doing the rest.
    let vanishing: Vec<usize> = (0..2)
        .map(|_| sim.add_node(NodeSpec::seed().upload(2 << 20).latency(ms(10))))
        .collect();
    let silent: Vec<usize> = (0..2)
        .map(|_| sim.add_node(NodeSpec::seed().behaviour(Behaviour::Silent).latency(ms(5))))
        .collect();
    let slow = sim.add_node(NodeSpec::seed().upload(512 << 10).latency(ms(40)));
    let leech = sim.add_node(NodeSpec::leecher().real_bytes());
    for &p in vanishing.iter().chain(&silent).chain([&slow]) {
        sim.introduce(leech, p);
    }
    // Let the transfer get going, then pull the fast peers out mid-piece.
    sim.run_for(Duration::from_secs(2));
    let before = sim.nodes[leech].torrent.have().count();
    assert!(before > 0 && before < 64, "mid-transfer: {before} pieces");
    for &v in &vanishing {
        sim.vanish(v);
    }
    assert!(
        sim.run_until_complete(&[leech], Duration::from_secs(600)),
        "incomplete: {:?}",
        sim.nodes[leech].torrent.stats(sim.now())
    );
    let mut expected = vec![0u8; sim.content.len() as usize];
    sim.content.fill(0, &mut expected);
    assert!(sim.nodes[leech].storage.bytes() == Some(&expected[..]));
    // The vanished peers were noticed as disconnected.
    let gone = sim
        .events_of(leech, |e| matches!(e, Event::PeerDisconnected { .. }))
        .count();
    assert!(gone >= 2, "disconnections seen: {gone}");
    // The silent peers got our requests, delivered nothing, and were snubbed.
    let peers = sim.nodes[leech].torrent.peers(sim.now());
    for &s in &silent {
        let ip = sim.nodes[s].addr.ip();
        if let Some(p) = peers.iter().find(|p| p.addr.ip() == ip) {
            assert!(p.snubbed, "silent peer not snubbed: {p:?}");
        }
    }
    println!(
        "{before} pieces before the fast peers vanished; done at {:?}",
        sim.nodes[leech].completed_at.unwrap()
    );
}

//! Scenario 3: a peer that uploads corrupt blocks is banned, the download
//! completes from the honest peers, and no corrupt byte is ever verified.

use std::time::Duration;

use sluice_core::torrent::Event;
use sluice_tests::sim::{Behaviour, Content, NodeSpec, Sim};

#[test]
fn corrupt_peer_is_banned_and_download_completes() {
    let content = Content::single(3, 8 << 20, 128 << 10);
    let mut sim = Sim::new(3, content);
    let ms = Duration::from_millis;
    // The liar is fast, so it gets plenty of requests.
    let liar = sim.add_node(
        NodeSpec::seed()
            .behaviour(Behaviour::Corrupt)
            .upload(8 << 20)
            .latency(ms(5)),
    );
    let honest: Vec<usize> = (0..2)
        .map(|_| sim.add_node(NodeSpec::seed().upload(1 << 20).latency(ms(20))))
        .collect();
    let leech = sim.add_node(NodeSpec::leecher().real_bytes());
    sim.introduce(leech, liar);
    for &h in &honest {
        sim.introduce(leech, h);
    }
    assert!(
        sim.run_until_complete(&[leech], Duration::from_secs(300)),
        "incomplete: {:?}",
        sim.nodes[leech].torrent.stats(sim.now())
    );
    let liar_ip = sim.nodes[liar].addr.ip();
    let bans: Vec<_> = sim
        .events_of(leech, |e| matches!(e, Event::PeerBanned { .. }))
        .collect();
    assert_eq!(bans.len(), 1, "exactly the liar is banned: {bans:?}");
    assert!(matches!(bans[0].1, Event::PeerBanned { ip, .. } if ip == liar_ip));
    assert!(sim.nodes[leech].torrent.banned().any(|ip| ip == liar_ip));
    // Every failed piece had the liar among its sources.
    let failures: Vec<_> = sim
        .events_of(leech, |e| matches!(e, Event::HashFailed { .. }))
        .collect();
    assert!(!failures.is_empty(), "the liar's data was caught");
    for (_, f) in &failures {
        let Event::HashFailed { contributors, .. } = f else {
            unreachable!()
        };
        assert!(contributors.contains(&liar_ip), "{f:?}");
    }
    // What is on disk is exactly the payload.
    let mut expected = vec![0u8; sim.content.len() as usize];
    sim.content.fill(0, &mut expected);
    assert!(
        sim.nodes[leech].storage.bytes() == Some(&expected[..]),
        "stored bytes differ from the payload"
    );
    println!(
        "liar banned after {} failed piece(s); done at {:?}",
        failures.len(),
        sim.nodes[leech].completed_at.unwrap()
    );
}

#[test]
fn only_the_liar_is_banned_when_it_shares_pieces_with_an_honest_peer() {
    // The liar and an honest seed are equally fast, so some pieces mix blocks
    // from both: the honest peer takes strikes too but must not be banned.
    let content = Content::single(4, 4 << 20, 256 << 10);
    let mut sim = Sim::new(4, content);
    let liar = sim.add_node(
        NodeSpec::seed()
            .behaviour(Behaviour::Corrupt)
            .upload(2 << 20),
    );
    let honest = sim.add_node(NodeSpec::seed().upload(2 << 20));
    let leech = sim.add_node(NodeSpec::leecher().real_bytes());
    sim.introduce(leech, liar);
    sim.introduce(leech, honest);
    assert!(sim.run_until_complete(&[leech], Duration::from_secs(300)));
    let liar_ip = sim.nodes[liar].addr.ip();
    let honest_ip = sim.nodes[honest].addr.ip();
    let banned: Vec<_> = sim.nodes[leech].torrent.banned().collect();
    assert_eq!(banned, vec![liar_ip]);
    assert!(!banned.contains(&honest_ip));
}

#[test]
fn parole_pins_shared_failures_on_the_liar() {
    // Big pieces and equally fast peers: at first nearly every piece mixes
    // blocks from the liar and from honest seeds, so failures are shared. The
    // peers that shared them go on parole (whole pieces alone): the liar's next
    // piece fails with it as sole source and it is banned; the honest seeds'
    // pieces verify and they are never banned.
    let content = Content::single(10, 16 << 20, 2 << 20);
    let mut sim = Sim::new(10, content);
    let liar = sim.add_node(
        NodeSpec::seed()
            .behaviour(Behaviour::Corrupt)
            .upload(2 << 20),
    );
    let honest: Vec<usize> = (0..3)
        .map(|_| sim.add_node(NodeSpec::seed().upload(2 << 20)))
        .collect();
    let leech = sim.add_node(NodeSpec::leecher().real_bytes());
    sim.introduce(leech, liar);
    for &h in &honest {
        sim.introduce(leech, h);
    }
    assert!(
        sim.run_until_complete(&[leech], Duration::from_secs(600)),
        "incomplete: {:?}",
        sim.nodes[leech].torrent.stats(sim.now())
    );
    let banned: Vec<_> = sim.nodes[leech].torrent.banned().collect();
    assert_eq!(banned, vec![sim.nodes[liar].addr.ip()]);
    let shared = sim
        .events_of(
            leech,
            |e| matches!(e, Event::HashFailed { contributors, .. } if contributors.len() > 1),
        )
        .count();
    println!("{shared} shared failure(s) before the liar was pinned down");
    let mut expected = vec![0u8; sim.content.len() as usize];
    sim.content.fill(0, &mut expected);
    assert!(sim.nodes[leech].storage.bytes() == Some(&expected[..]));
}

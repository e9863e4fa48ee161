use std::time::Duration;
use sluice_tests::sim::{Content, NodeSpec, Sim};

#[test]
fn debug_swarm() {
    let size: u64 = 8 << 20;
    let content = Content::single(2, size, 64 << 10);
    let mut sim = Sim::new(2, content);
    let ms = Duration::from_millis;
    let seed = sim.add_node(NodeSpec::seed().upload(1 << 20).latency(ms(20)));
    let leechers: Vec<usize> = (0..30).map(|i| sim.add_node(NodeSpec::leecher().upload(1 << 20).latency(ms(5 + (i as u64 * 7) % 40)))).collect();
    for &l in &leechers { sim.introduce(l, seed); for &o in &leechers { if o != l { sim.introduce(l, o); } } }
    for step in 0..15 {
        sim.run_for(Duration::from_secs(2));
        let now = sim.now();
        let pieces: u32 = leechers.iter().map(|&l| sim.nodes[l].torrent.have().count()).sum();
        let lup: u64 = leechers.iter().map(|&l| sim.nodes[l].torrent.stats(now).uploaded).sum();
        let sup = sim.nodes[seed].torrent.stats(now).uploaded;
        let n1 = &sim.nodes[leechers[0]];
        let peers = n1.torrent.peers(now);
        let unchoked = peers.iter().filter(|p| !p.am_choking).count();
        let interested_in_us = peers.iter().filter(|p| p.peer_interested).count();
        let we_interested = peers.iter().filter(|p| p.am_interested).count();
        let they_unchoke = peers.iter().filter(|p| !p.peer_choking).count();
        let reqs: usize = peers.iter().map(|p| p.requests).sum();
        let reqs_from: usize = peers.iter().map(|p| p.requests_from_peer).sum();
        println!("t={:?} pieces {pieces}/{} leech_up {} MiB seed_up {} MiB | L0: unchoked {unchoked} peer_int {interested_in_us} am_int {we_interested} they_unchoke {they_unchoke} reqs {reqs} reqs_from {reqs_from} up_rate {}", now, 128*30, lup>>20, sup>>20, n1.torrent.stats(now).upload_rate>>10);
        if step == 2 {
            for p in &peers {
                if !p.am_choking {
                    let other = sim.nodes.iter().position(|n| n.addr.ip() == p.addr.ip()).unwrap();
                    let back = sim.nodes[other].torrent.peers(now).into_iter().find(|q| q.addr.ip() == n1.addr.ip());
                    println!("  dbg: {}", sim.debug_conn(other, n1.addr.ip()));
                    println!("  dbgL0: {}", sim.debug_conn(leechers[0], sim.nodes[other].addr.ip()));
                    if other == 12 {
                        for (t, e) in &n1.events { let s = format!("{e:?}"); if s.contains("127.0.0.14") { println!("   L0 {t:?} {s}"); } }
                        for (t, e) in &sim.nodes[12].events { let s = format!("{e:?}"); if s.contains("127.0.0.3:") { println!("   N12 {t:?} {s}"); } }
                    }
                    println!("  L0->{other}: {p:?}\n   back: {back:?} their pieces {}", sim.nodes[other].torrent.have().count());
                }
            }
        }
    }
}

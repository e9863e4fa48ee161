//! The service's schedule on an in-memory network: joining, waiting for the
//! join, retrying a join nobody answered, announcing, and the saved table.

use std::net::SocketAddr;
use std::time::Duration;

use sluice_core::{InfoHash, Time};

use super::{DhtOptions, DhtService};

const HASH: InfoHash = InfoHash([0x5a; 20]);

fn at(secs: f64) -> Time {
    Time::from_duration(Duration::from_secs_f64(secs))
}

fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, n], 6881))
}

/// Services at `addr(1)`, `addr(2)`…; datagrams between them are delivered
/// at once, others are dropped.
struct Net {
    nodes: Vec<DhtService>,
    now: Time,
    /// Datagrams sent to addresses with no service.
    lost: Vec<SocketAddr>,
}

impl Net {
    fn new(nodes: Vec<DhtService>) -> Net {
        Net {
            nodes,
            now: Time::ZERO,
            lost: Vec::new(),
        }
    }

    /// Delivers everything queued, until nobody has anything to send.
    fn settle(&mut self) {
        loop {
            let mut sent = Vec::new();
            for (i, n) in self.nodes.iter_mut().enumerate() {
                while let Some((to, bytes)) = n.poll_transmit() {
                    sent.push((addr(i as u8 + 1), to, bytes));
                }
            }
            if sent.is_empty() {
                return;
            }
            for (from, to, bytes) in sent {
                let last = match to.ip() {
                    std::net::IpAddr::V4(ip) => ip.octets()[3],
                    std::net::IpAddr::V6(_) => 0,
                };
                match self.nodes.get_mut(usize::from(last).wrapping_sub(1)) {
                    Some(n) if to.port() == 6881 => n.handle_datagram(self.now, from, &bytes),
                    _ => self.lost.push(to),
                }
            }
        }
    }

    /// Moves the clock to `t`, firing every timer on the way.
    fn run_until(&mut self, t: Time) {
        loop {
            self.settle();
            let next = self
                .nodes
                .iter()
                .map(DhtService::poll_timeout)
                .min()
                .unwrap();
            if next > t {
                self.now = t;
                return;
            }
            self.now = next.max(self.now);
            for n in &mut self.nodes {
                if n.poll_timeout() <= self.now {
                    n.handle_timeout(self.now);
                }
            }
        }
    }
}

fn service(bootstrap: &[SocketAddr], seed: u64) -> DhtService {
    let opts = DhtOptions::bootstrap_from(bootstrap.iter().copied());
    let (s, warning) = DhtService::new(&opts, 7000 + seed as u16, seed, Time::ZERO);
    assert!(warning.is_none());
    s
}

#[test]
fn a_torrent_added_before_the_join_is_looked_up_once_joined_and_found() {
    // 1 is a plain node; 2 seeds and joins through 1; 3 leeches.
    let mut net = Net::new(vec![
        service(&[], 1),
        service(&[addr(1)], 2),
        service(&[addr(1)], 3),
    ]);
    net.nodes[0].set_bootstrap(Time::ZERO, Vec::new());
    net.nodes[1].set_bootstrap(Time::ZERO, vec![addr(1)]);
    net.nodes[1].add_torrent(Time::ZERO, HASH, true);
    net.run_until(at(5.0));
    assert!(net.nodes[1].status().announces_stored >= 1);
    // The leecher asks for the torrent before its routers are even known.
    net.nodes[2].add_torrent(net.now, HASH, false);
    net.settle();
    assert!(
        net.nodes[2].poll_peers().is_none(),
        "no lookup before joining"
    );
    net.nodes[2].set_bootstrap(net.now, vec![addr(1)]);
    net.run_until(at(10.0));
    let (ih, peers) = net.nodes[2].poll_peers().expect("peers found");
    assert_eq!(ih, HASH);
    assert_eq!(peers, [SocketAddr::from(([127, 0, 0, 2], 7002))]);
    let s = net.nodes[2].status();
    assert!(s.joined && s.lookups_done >= 1, "{s:?}");
}

#[test]
fn a_join_nobody_answers_is_tried_again_later() {
    let dead = SocketAddr::from(([127, 0, 0, 9], 6881));
    let mut net = Net::new(vec![service(&[dead], 1)]);
    net.nodes[0].set_bootstrap(Time::ZERO, vec![dead]);
    net.run_until(at(20.0));
    let first = net.lost.len();
    assert!(first >= 1, "the router was asked");
    assert!(!net.nodes[0].status().joined);
    // Asked again after the first wait (30 s), and again later.
    net.run_until(at(40.0));
    assert!(net.lost.len() > first, "asked again");
    let second = net.lost.len();
    net.run_until(at(200.0));
    assert!(net.lost.len() > second, "and again");
}

#[test]
fn the_saved_table_brings_back_the_nodes_and_the_id() {
    let dir = std::env::temp_dir().join(format!("sluice-dht-state-{}", std::process::id()));
    let state = dir.join("dht.dat");
    let mut opts = DhtOptions::bootstrap_from([addr(1)]);
    opts.state_file = Some(state.clone());
    let (joiner, _) = DhtService::new(&opts, 7002, 2, Time::ZERO);
    let mut net = Net::new(vec![service(&[], 1), joiner]);
    net.nodes[0].set_bootstrap(Time::ZERO, Vec::new());
    net.nodes[1].set_bootstrap(Time::ZERO, vec![addr(1)]);
    net.run_until(at(5.0));
    let before = net.nodes[1].status();
    assert_eq!(before.nodes, 1);
    net.nodes[1].save().unwrap();

    opts.bootstrap.clear();
    let (again, warning) = DhtService::new(&opts, 7002, 99, Time::ZERO);
    assert!(warning.is_none());
    let after = again.status();
    assert_eq!(after.node_id, before.node_id);
    assert_eq!(after.loaded_nodes, 1);
    assert_eq!(after.nodes, 1);

    // A damaged file is a warning, not a failure.
    std::fs::write(&state, b"SLRT\x01 truncated").unwrap();
    let (fresh, warning) = DhtService::new(&opts, 7002, 99, Time::ZERO);
    assert!(warning.is_some());
    assert_eq!(fresh.status().loaded_nodes, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

//! A deterministic in-memory network of nodes: a queue of datagrams, no
//! threads, no sockets. Delivery is instant; time moves only when nothing is
//! in transit, to the next timeout of a busy node.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{Config, DhtEvent, DhtNode, LookupId};
use crate::dht::krpc::NodeId;
use crate::id::InfoHash;
use crate::rng::Rng;
use crate::time::Time;
use core::time::Duration;

fn addr(i: usize) -> SocketAddr {
    let ip = Ipv4Addr::new(10, 1, (i >> 8) as u8, (i & 0xff) as u8);
    SocketAddr::new(IpAddr::V4(ip), 6881)
}

fn random_id(rng: &mut Rng) -> [u8; 20] {
    let mut id = [0u8; 20];
    for chunk in id.chunks_mut(8) {
        let r = rng.next_u64().to_be_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    id
}

struct Net {
    nodes: Vec<DhtNode>,
    index: BTreeMap<SocketAddr, usize>,
    queue: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    events: Vec<Vec<DhtEvent>>,
    dead: BTreeSet<usize>,
    now: Time,
    datagrams: u64,
    rng: Rng,
}

impl Net {
    fn new(n: usize, routers: usize, seed: u64) -> Net {
        let mut rng = Rng::new(seed);
        let config = Config {
            bootstrap: (0..routers).map(addr).collect(),
            ..Config::default()
        };
        let nodes = (0..n)
            .map(|_| {
                let id = NodeId(random_id(&mut rng));
                DhtNode::new(id, config.clone(), rng.fork(), Time::ZERO)
            })
            .collect();
        Net {
            nodes,
            index: (0..n).map(|i| (addr(i), i)).collect(),
            queue: VecDeque::new(),
            events: vec![Vec::new(); n],
            dead: BTreeSet::new(),
            now: Time::ZERO,
            datagrams: 0,
            rng,
        }
    }

    fn drain(&mut self, i: usize) {
        while let Some((to, bytes)) = self.nodes[i].poll_transmit() {
            self.queue.push_back((addr(i), to, bytes));
        }
        while let Some(e) = self.nodes[i].poll_event() {
            self.events[i].push(e);
        }
    }

    /// Delivers datagrams and fires timeouts until no live node has a query
    /// or a lookup outstanding.
    fn run(&mut self) {
        for _ in 0..10_000 {
            while let Some((from, to, bytes)) = self.queue.pop_front() {
                self.datagrams += 1;
                if let Some(&j) = self.index.get(&to) {
                    if !self.dead.contains(&j) {
                        self.nodes[j].handle_datagram(self.now, from, &bytes);
                        self.drain(j);
                    }
                }
            }
            let busy: Vec<usize> = (0..self.nodes.len())
                .filter(|i| !self.dead.contains(i))
                .filter(|&i| self.nodes[i].in_flight() > 0 || self.nodes[i].active_lookups() > 0)
                .collect();
            let Some(next) = busy
                .iter()
                .filter_map(|&i| self.nodes[i].poll_timeout())
                .min()
            else {
                return;
            };
            self.now = self.now.max(next);
            for i in busy {
                if self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now) {
                    self.nodes[i].handle_timeout(self.now);
                    self.drain(i);
                }
            }
        }
        panic!("the network never went quiet");
    }

    fn tick(&mut self) {
        self.now += Duration::from_millis(10);
    }

    /// Bootstraps every node in turn.
    fn bootstrap_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.tick();
            self.nodes[i].bootstrap(self.now);
            self.drain(i);
            self.run();
        }
        for e in &mut self.events {
            e.clear();
        }
    }

    fn done(&self, i: usize, lookup: LookupId) -> (u32, u32) {
        self.events[i]
            .iter()
            .find_map(|e| match e {
                DhtEvent::LookupDone {
                    lookup: l,
                    rounds,
                    queried,
                    ..
                } if *l == lookup => Some((*rounds, *queried)),
                _ => None,
            })
            .expect("lookup done")
    }

    fn peers(&self, i: usize, lookup: LookupId) -> Vec<SocketAddr> {
        self.events[i]
            .iter()
            .filter_map(|e| match e {
                DhtEvent::Peers {
                    lookup: l, peers, ..
                } if *l == lookup => Some(peers.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn announced(&self, i: usize, lookup: LookupId) -> (usize, usize) {
        self.events[i]
            .iter()
            .find_map(|e| match e {
                DhtEvent::Announced {
                    lookup: l,
                    stored,
                    tried,
                    ..
                } if *l == lookup => Some((*stored, *tried)),
                _ => None,
            })
            .expect("announced")
    }
}

/// Announces from one node, looks up from another, and measures lookups
/// for random info-hashes. Returns (mean rounds, max rounds, mean queries).
fn announce_and_find(net: &mut Net, announcer: usize, seeker: usize) -> (f64, u32, f64) {
    let hash = InfoHash(random_id(&mut net.rng));
    net.tick();
    let a = net.nodes[announcer].announce(net.now, hash, 7000, false);
    net.drain(announcer);
    net.run();
    let (stored, tried) = net.announced(announcer, a);
    assert!(stored >= 1, "stored {stored} of {tried}");

    net.tick();
    let g = net.nodes[seeker].get_peers(net.now, hash);
    net.drain(seeker);
    net.run();
    let want = SocketAddr::new(addr(announcer).ip(), 7000);
    assert!(
        net.peers(seeker, g).contains(&want),
        "the announced peer is found"
    );

    let lookups = 40;
    let (mut rounds_sum, mut rounds_max, mut queried_sum) = (0u64, 0u32, 0u64);
    for _ in 0..lookups {
        let i = loop {
            let i = net.rng.index(net.nodes.len());
            if !net.dead.contains(&i) {
                break i;
            }
        };
        let hash = InfoHash(random_id(&mut net.rng));
        net.tick();
        let l = net.nodes[i].get_peers(net.now, hash);
        net.drain(i);
        net.run();
        let (rounds, queried) = net.done(i, l);
        rounds_sum += u64::from(rounds);
        rounds_max = rounds_max.max(rounds);
        queried_sum += u64::from(queried);
    }
    (
        rounds_sum as f64 / f64::from(lookups),
        rounds_max,
        queried_sum as f64 / f64::from(lookups),
    )
}

#[test]
fn five_hundred_nodes_announce_and_find_within_bounded_rounds() {
    let n = 500;
    let mut net = Net::new(n, 3, 0x5eed);
    net.bootstrap_all();
    let bootstrap_datagrams = net.datagrams;
    let sizes: Vec<usize> = net.nodes.iter().map(|x| x.routing_table().len()).collect();
    let mean_table = sizes.iter().sum::<usize>() as f64 / n as f64;
    net.datagrams = 0;
    let (mean_rounds, max_rounds, mean_queried) = announce_and_find(&mut net, 123, 456);
    println!(
        "{n} nodes: bootstrap {bootstrap_datagrams} datagrams, mean table {mean_table:.1}; \
         get_peers over 40 random hashes: rounds mean {mean_rounds:.2} max {max_rounds}, \
         queries mean {mean_queried:.1}"
    );
    assert!(max_rounds <= 10, "max rounds {max_rounds}");
    assert!(mean_queried <= 60.0, "mean queries {mean_queried}");
}

#[test]
fn lookups_survive_a_fifth_of_the_nodes_vanishing() {
    let n = 300;
    let mut net = Net::new(n, 3, 77);
    net.bootstrap_all();
    let mut rng = Rng::new(5);
    while net.dead.len() < n / 5 {
        let i = rng.index(n);
        if i >= 3 && i != 10 && i != 20 {
            net.dead.insert(i);
        }
    }
    let (mean_rounds, max_rounds, mean_queried) = announce_and_find(&mut net, 10, 20);
    println!(
        "{n} nodes, {} dead: rounds mean {mean_rounds:.2} max {max_rounds}, queries mean {mean_queried:.1}",
        net.dead.len()
    );
    assert!(max_rounds <= 10);
}

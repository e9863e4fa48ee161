//! A deterministic DHT network: hundreds of the core's [`DhtNode`]s in one
//! process, exchanging real KRPC datagrams over a simulated UDP network.
//!
//! * **Clock**: one event queue ordered by (virtual time, sequence number), as
//!   in the swarm simulator ([`Sim`](super::Sim)). The simulator jumps from
//!   event to event, so a query that times out costs three virtual seconds and
//!   no real ones.
//! * **Network**: every datagram gets its own one-way latency, drawn from the
//!   seeded RNG between [`Network::min_latency`] and [`Network::max_latency`]
//!   (so datagrams overtake one another, as on the internet), and is lost with
//!   probability [`Network::loss`]. A node that [vanished](DhtSim::vanish)
//!   receives nothing and sends nothing: queries to it end at the querier's own
//!   query timeout, exactly as a driver would see it.
//! * **Nodes** are driven through the public API only (`handle_datagram`,
//!   `handle_timeout`, `poll_timeout`, `poll_transmit`, `poll_event` and the
//!   commands), i.e. the way a driver drives them. A few of them are
//!   *routers*: the bootstrap addresses every other node joins through.
//! * **Measures**: the datagrams sent, lost and sent to vanished nodes
//!   ([`Traffic`]); per lookup, the figures of its [`DhtEvent::LookupDone`]
//!   (rounds, queries), the virtual time it took and the datagrams the whole
//!   network sent meanwhile ([`LookupReport`]); [`Summary`] folds many
//!   lookups into the figures a scenario prints.
//! * **Trace**: every event the nodes emit is hashed with its time and node,
//!   so two runs can be compared with one number ([`DhtSim::trace_hash`]).
//!   The same seed gives the same trace.
//!
//! ```
//! use std::time::Duration;
//! use sluice_tests::sim::dht::{DhtSim, Network};
//!
//! let mut sim = DhtSim::new(7, Network::default());
//! sim.add_routers(2);
//! sim.add_nodes(40);
//! let joined = sim.join_all(Duration::from_millis(20)).expect("every node joins");
//! assert!(joined.min_table > 0);
//!
//! let hash = sim.random_info_hash();
//! let pair = sim.random_live_nodes(2);
//! let announce = sim.announce(pair[0], hash, 7000).expect("the announce settles");
//! assert!(announce.stored.unwrap().0 > 0);
//! let found = sim.get_peers(pair[1], hash).expect("the lookup ends");
//! assert!(found.peers.contains(&sim.peer_addr(pair[0], 7000)));
//! println!("{}", found.rounds);
//! ```

mod figures;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use super::agenda::Agenda;
use sluice_core::dht::krpc::NodeId;
use sluice_core::dht::node::{Config, DhtEvent, DhtNode, LookupId};
use sluice_core::{InfoHash, Rng, Time};

pub use figures::{JoinReport, LookupReport, Summary, Traffic};

/// The UDP port every simulated node listens on.
pub const PORT: u16 = 6881;

/// How long [`DhtSim::get_peers`] and [`DhtSim::announce`] wait, in virtual
/// time, before declaring that a lookup never ends. Far above anything a
/// working lookup needs (tens of query timeouts).
pub const LOOKUP_LIMIT: Duration = Duration::from_secs(300);

/// How long [`DhtSim::join_all`] waits for the last bootstrap to end, once
/// every node has started one.
pub const JOIN_LIMIT: Duration = Duration::from_secs(600);

/// How often [`DhtSim::run_until_idle`] looks whether the network is idle:
/// looking after every event would cost a pass over every node each time.
pub const IDLE_CHECK: Duration = Duration::from_millis(100);

/// The simulated network and the nodes' configuration.
#[derive(Clone, Debug)]
pub struct Network {
    /// Shortest one-way latency of a datagram.
    pub min_latency: Duration,
    /// Longest one-way latency of a datagram.
    pub max_latency: Duration,
    /// Probability that a datagram is lost, in `0.0..=1.0`.
    pub loss: f64,
    /// Every node's configuration; [`Config::bootstrap`] is replaced by the
    /// routers' addresses when the node joins.
    pub node: Config,
}

impl Default for Network {
    /// 5 to 80 ms one way (a continent to a few oceans), no loss, the node's
    /// default configuration.
    fn default() -> Self {
        Network {
            min_latency: Duration::from_millis(5),
            max_latency: Duration::from_millis(80),
            loss: 0.0,
            node: Config::default(),
        }
    }
}

/// One simulated node.
struct Member {
    addr: SocketAddr,
    node: DhtNode,
    alive: bool,
    router: bool,
    /// It was told to join.
    joined: bool,
    /// Its bootstrap lookup, while it runs.
    joining: Option<LookupId>,
    /// When `handle_timeout` is due, and the generation of that timer event
    /// (older timer events are stale and ignored).
    timer: Option<(Time, u64)>,
    timer_gen: u64,
    /// Every event it emitted, with its time.
    events: Vec<(Time, DhtEvent)>,
}

enum Ev {
    Timer {
        node: usize,
        gen: u64,
    },
    Deliver {
        from: SocketAddr,
        to: usize,
        bytes: Vec<u8>,
    },
}

/// The DHT simulator. See the [module documentation](self).
pub struct DhtSim {
    now: Time,
    agenda: Agenda<Ev>,
    members: Vec<Member>,
    by_addr: BTreeMap<SocketAddr, usize>,
    net: Network,
    /// Node ids, node seeds, info-hashes, picks: the scenario's shape.
    rng: Rng,
    /// Latencies and losses, apart so that turning loss on does not change
    /// which ids the nodes get.
    net_rng: Rng,
    /// Bootstrap lookups still running.
    joining: usize,
    traffic: Traffic,
    trace: sha1_smol::Sha1,
    /// Events processed.
    pub steps: u64,
}

impl DhtSim {
    /// An empty network; `seed` fixes every random choice.
    pub fn new(seed: u64, net: Network) -> DhtSim {
        let mut rng = Rng::new(seed);
        let net_rng = rng.fork();
        DhtSim {
            now: Time::ZERO,
            agenda: Agenda::default(),
            members: Vec::new(),
            by_addr: BTreeMap::new(),
            net,
            rng,
            net_rng,
            joining: 0,
            traffic: Traffic::default(),
            trace: sha1_smol::Sha1::new(),
            steps: 0,
        }
    }

    /// Adds `n` routers: the nodes everyone else bootstraps from.
    pub fn add_routers(&mut self, n: usize) -> Range<usize> {
        let start = self.members.len();
        for _ in 0..n {
            self.add(true);
        }
        start..self.members.len()
    }

    /// Adds `n` ordinary nodes, not joined yet.
    pub fn add_nodes(&mut self, n: usize) -> Range<usize> {
        let start = self.members.len();
        for _ in 0..n {
            self.add(false);
        }
        start..self.members.len()
    }

    fn add(&mut self, router: bool) {
        let index = self.members.len();
        // One address per node, spread over many /24s as on the internet.
        let n = index as u32 + 1;
        let ip = Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8);
        let addr = SocketAddr::new(IpAddr::V4(ip), PORT);
        let id = NodeId(self.random_20());
        let node = DhtNode::new(id, self.net.node.clone(), self.rng.fork(), self.now);
        self.by_addr.insert(addr, index);
        self.members.push(Member {
            addr,
            node,
            alive: true,
            router,
            joined: false,
            joining: None,
            timer: None,
            timer_gen: 0,
            events: Vec::new(),
        });
        self.pump(index);
    }

    /// Node `i` joins: its bootstrap addresses become the routers (but
    /// itself) and it bootstraps.
    pub fn join(&mut self, i: usize) -> LookupId {
        let routers: Vec<SocketAddr> = (0..self.members.len())
            .filter(|&r| r != i && self.members[r].router)
            .map(|r| self.members[r].addr)
            .collect();
        let now = self.now;
        let m = &mut self.members[i];
        m.node.set_bootstrap(routers);
        let id = m.node.bootstrap(now);
        if m.joining.replace(id).is_none() {
            self.joining += 1;
        }
        m.joined = true;
        self.pump(i);
        id
    }

    /// Every live node not joined yet joins, routers first, one every
    /// `stagger` of virtual time; then runs until every bootstrap lookup has
    /// ended and the network is idle (the lookups a join starts once its
    /// bootstrap ends included), so that what runs next is measured alone.
    /// `None` if that takes more than twice [`JOIN_LIMIT`] after the last
    /// join started.
    pub fn join_all(&mut self, stagger: Duration) -> Option<JoinReport> {
        let (start, sent) = (self.now, self.traffic.sent);
        let order: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].router)
            .chain((0..self.members.len()).filter(|&i| !self.members[i].router))
            .filter(|&i| self.members[i].alive && !self.members[i].joined)
            .collect();
        for i in order {
            self.join(i);
            self.run_for(stagger);
        }
        if !self.run_until(JOIN_LIMIT, |sim| sim.joining == 0) || !self.run_until_idle(JOIN_LIMIT) {
            return None;
        }
        let tables: Vec<usize> = self
            .live()
            .map(|i| self.members[i].node.routing_table().len())
            .collect();
        Some(JoinReport {
            elapsed: self.now - start,
            datagrams: self.traffic.sent - sent,
            mean_table: tables.iter().sum::<usize>() as f64 / tables.len().max(1) as f64,
            min_table: tables.iter().copied().min().unwrap_or(0),
            max_table: tables.iter().copied().max().unwrap_or(0),
        })
    }

    /// Node `i` vanishes: from now on it receives and sends nothing.
    pub fn vanish(&mut self, i: usize) {
        let m = &mut self.members[i];
        m.alive = false;
        m.timer = None;
        if m.joining.take().is_some() {
            self.joining -= 1;
        }
        self.trace_line(i, "vanished");
    }

    /// Whether node `i` is still there.
    pub fn is_alive(&self, i: usize) -> bool {
        self.members[i].alive
    }

    /// Whether node `i` is a router.
    pub fn is_router(&self, i: usize) -> bool {
        self.members[i].router
    }

    /// Nodes in the network, vanished ones included.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when no node was added.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The live nodes, routers included.
    pub fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.members.len()).filter(|&i| self.members[i].alive)
    }

    /// Node `i`'s engine, for inspection.
    pub fn node(&self, i: usize) -> &DhtNode {
        &self.members[i].node
    }

    /// Node `i`'s UDP address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.members[i].addr
    }

    /// The peer address an announce from node `i` for `port` stores.
    pub fn peer_addr(&self, i: usize, port: u16) -> SocketAddr {
        SocketAddr::new(self.members[i].addr.ip(), port)
    }

    /// Events node `i` emitted, with their times.
    pub fn events(&self, i: usize) -> &[(Time, DhtEvent)] {
        &self.members[i].events
    }

    /// Virtual time now.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Datagrams so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Hash of everything the nodes emitted so far.
    pub fn trace_hash(&self) -> String {
        self.trace.digest().to_string()
    }

    /// A random info-hash, from the simulation's seed.
    pub fn random_info_hash(&mut self) -> InfoHash {
        InfoHash(self.random_20())
    }

    /// A random subset of `n` live non-router nodes, from the simulation's
    /// seed (fewer if there are not that many).
    pub fn random_live_nodes(&mut self, n: usize) -> Vec<usize> {
        let mut pool: Vec<usize> = self.live().filter(|&i| !self.is_router(i)).collect();
        self.rng.shuffle(&mut pool);
        pool.truncate(n);
        pool.sort_unstable();
        pool
    }

    fn random_20(&mut self) -> [u8; 20] {
        let mut out = [0u8; 20];
        for chunk in out.chunks_mut(8) {
            let r = self.rng.next_u64().to_be_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        out
    }

    /// Node `i` looks for peers of `hash`; runs until the lookup ends. `None`
    /// if it has not ended after [`LOOKUP_LIMIT`].
    pub fn get_peers(&mut self, i: usize, hash: InfoHash) -> Option<LookupReport> {
        self.lookup(i, false, |node, now| node.get_peers(now, hash))
    }

    /// Node `i` announces `hash` on `port`; runs until its `announce_peer`
    /// queries have settled. `None` if they have not after [`LOOKUP_LIMIT`].
    pub fn announce(&mut self, i: usize, hash: InfoHash, port: u16) -> Option<LookupReport> {
        self.lookup(i, true, |node, now| node.announce(now, hash, port, false))
    }

    /// Starts a lookup on node `i` and runs until it ends (with `announce`,
    /// until its announce has settled).
    fn lookup(
        &mut self,
        i: usize,
        announce: bool,
        start: impl FnOnce(&mut DhtNode, Time) -> LookupId,
    ) -> Option<LookupReport> {
        let (began, sent, mark) = (self.now, self.traffic.sent, self.members[i].events.len());
        let id = start(&mut self.members[i].node, began);
        self.pump(i);
        let ended = |sim: &DhtSim| {
            sim.members[i].events[mark..].iter().any(|(_, e)| match e {
                DhtEvent::LookupDone { lookup, .. } => !announce && *lookup == id,
                DhtEvent::Announced { lookup, .. } => *lookup == id,
                _ => false,
            })
        };
        if !self.run_until(LOOKUP_LIMIT, ended) {
            return None;
        }
        let events = &self.members[i].events[mark..];
        let datagrams = self.traffic.sent - sent;
        Some(LookupReport::from_events(id, began, datagrams, events))
    }

    /// Processes events until `stop` holds (checked after each event), `limit`
    /// of virtual time has passed, or nothing is left to do. Returns whether
    /// `stop` held.
    pub fn run_until(&mut self, limit: Duration, mut stop: impl FnMut(&DhtSim) -> bool) -> bool {
        let deadline = self.now + limit;
        if stop(self) {
            return true;
        }
        while let Some((at, ev)) = self.agenda.pop_due(deadline) {
            self.now = self.now.max(at);
            self.steps += 1;
            self.dispatch(ev);
            if stop(self) {
                return true;
            }
        }
        self.now = self.now.max(deadline);
        stop(self)
    }

    /// Runs until no live node has a lookup running or a query outstanding
    /// (looked at every [`IDLE_CHECK`] of virtual time), or `limit` passes.
    /// Returns whether the network went idle.
    pub fn run_until_idle(&mut self, limit: Duration) -> bool {
        let deadline = self.now + limit;
        loop {
            let busy = self.live().any(|i| {
                let n = &self.members[i].node;
                n.active_lookups() > 0 || n.in_flight() > 0
            });
            if !busy {
                return true;
            }
            if self.now >= deadline {
                return false;
            }
            self.run_for(IDLE_CHECK.min(deadline - self.now));
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    fn push(&mut self, at: Time, ev: Ev) {
        self.agenda.schedule(at.max(self.now), ev);
    }

    fn dispatch(&mut self, ev: Ev) {
        let now = self.now;
        match ev {
            Ev::Timer { node, gen } => {
                let m = &mut self.members[node];
                if !m.alive || m.timer.map(|t| t.1) != Some(gen) {
                    return;
                }
                m.timer = None;
                m.node.handle_timeout(now);
                self.pump(node);
            }
            Ev::Deliver { from, to, bytes } => {
                if !self.members[to].alive {
                    self.traffic.to_vanished += 1;
                    return;
                }
                self.traffic.delivered += 1;
                self.members[to].node.handle_datagram(now, from, &bytes);
                self.pump(to);
            }
        }
    }

    /// Sends what node `i` queued, records its events and re-arms its timer.
    fn pump(&mut self, i: usize) {
        if !self.members[i].alive {
            return;
        }
        let now = self.now;
        let from = self.members[i].addr;
        while let Some((to, bytes)) = self.members[i].node.poll_transmit() {
            self.traffic.sent += 1;
            if self.lost() {
                self.traffic.lost += 1;
                continue;
            }
            let Some(&to) = self.by_addr.get(&to) else {
                self.traffic.nowhere += 1;
                continue;
            };
            let at = now + self.latency();
            self.push(at, Ev::Deliver { from, to, bytes });
        }
        while let Some(e) = self.members[i].node.poll_event() {
            self.trace_line(i, &format!("{e:?}"));
            if let DhtEvent::LookupDone { lookup, .. } = e {
                let m = &mut self.members[i];
                if m.joining == Some(lookup) {
                    m.joining = None;
                    self.joining -= 1;
                }
            }
            self.members[i].events.push((now, e));
        }
        let m = &mut self.members[i];
        let want = m.node.poll_timeout();
        if want != m.timer.map(|t| t.0) {
            match want {
                Some(at) => {
                    m.timer_gen += 1;
                    let gen = m.timer_gen;
                    m.timer = Some((at, gen));
                    self.push(at, Ev::Timer { node: i, gen });
                }
                None => m.timer = None,
            }
        }
    }

    fn lost(&mut self) -> bool {
        let loss = self.net.loss.clamp(0.0, 1.0);
        if loss <= 0.0 {
            return false;
        }
        // 53 random bits make a uniform float in [0, 1).
        let draw = (self.net_rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        draw < loss
    }

    fn latency(&mut self) -> Duration {
        let lo = self.net.min_latency;
        let hi = self.net.max_latency.max(lo);
        let span = (hi - lo).as_micros() as u64;
        lo + Duration::from_micros(self.net_rng.below(span + 1))
    }

    fn trace_line(&mut self, node: usize, what: &str) {
        let line = format!("{:?} {node} {what}\n", self.now);
        self.trace.update(line.as_bytes());
    }
}

//! The sans-IO DHT node (BEP 5): it answers other nodes' queries, keeps the
//! routing table alive and runs iterative lookups for the caller.
//!
//! The driver owns the UDP socket and the clock. It hands in every datagram
//! ([`DhtNode::handle_datagram`]) and calls [`DhtNode::handle_timeout`] once
//! [`DhtNode::poll_timeout`] has passed; after any call it drains
//! [`DhtNode::poll_transmit`] (datagrams to send) and [`DhtNode::poll_event`]
//! (results of its commands).
//!
//! # Serving
//!
//! `ping`, `find_node` ([`Config::k`] closest known nodes), `get_peers`
//! (stored peers as `values` if there are any, the closest nodes otherwise,
//! and always a write token for the querier's IP) and `announce_peer` (token
//! checked against the sender's IP, `implied_port` honoured) are answered; an
//! unknown method gets error 204 and a malformed query error 203. Answers are
//! stateless: nothing is kept per querier beyond the bounded routing table and
//! peer store, and the outgoing queue is bounded ([`Config::max_queued`]).
//!
//! # Lookups
//!
//! [`DhtNode::get_peers`], [`DhtNode::announce`], [`DhtNode::find_node`] and
//! [`DhtNode::bootstrap`] start an iterative lookup: the candidates closest to
//! the target are kept sorted by XOR distance, [`Config::alpha`] are queried at
//! a time, and the lookup ends once the [`Config::k`] closest live candidates
//! have all answered. Its *rounds* are the longest chain of referrals it
//! followed (nodes from our own table are round 1, nodes they name round 2…),
//! and *queried* counts the queries it sent.
//!
//! When the [`DhtNode::bootstrap`] lookup ends, every far bucket that the
//! network could fill but that holds fewer than [`Config::k`] nodes is looked
//! up too ([`RoutingTable::sparse_buckets`]): the lookup of our own id only
//! passes through the far half of the id space, and lookups of targets there
//! would otherwise start from one or two nodes until the buckets' refresh a
//! quarter of an hour later. The deterministic network simulator in
//! `tests/src/sim/dht.rs` measures lookups end to end.
//!
//! # Queries we send
//!
//! Each carries a random 4-byte transaction id; a reply counts only if its
//! transaction is outstanding and it comes from the address the query went
//! to. At most [`Config::max_in_flight`] queries are outstanding; one
//! unanswered after [`Config::query_timeout`] fails, and the routing table
//! hears of it.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::dht::krpc::{
    Body, Message, NodeId, NodeInfo, Query, Response, TransactionId, PROTOCOL_ERROR,
};
use crate::dht::routing::{self, Insert, RoutingTable};
use crate::dht::token::TokenSecret;
use crate::id::InfoHash;
use crate::rng::Rng;
use crate::time::Time;

mod lookup;
mod serve;
mod storage;
#[cfg(test)]
mod tests;

use lookup::{Kind, Lookup, Phase};
use storage::PeerStore;
pub use storage::PEER_TTL;

/// Most peers put in one `get_peers` reply (50 IPv6 peers fit a packet).
pub const MAX_VALUES_PER_REPLY: usize = 50;

/// How often expired peers are swept from the store.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Most events kept for the driver; further `Peers` events are dropped.
const MAX_EVENTS: usize = 4096;

/// Settings of a [`DhtNode`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Nodes to ask when the routing table cannot help (the public routers,
    /// in a driver). Empty by default.
    pub bootstrap: Vec<SocketAddr>,
    /// Queries one lookup keeps outstanding (3).
    pub alpha: usize,
    /// Nodes returned per reply, and the closest nodes a lookup must hear
    /// from before it ends (8).
    pub k: usize,
    /// How long a query may go unanswered (3 s; 2 to 5 s is sensible).
    pub query_timeout: Duration,
    /// Most of our queries outstanding at once (256).
    pub max_in_flight: usize,
    /// Most lookups running at once (32); more are refused at once.
    pub max_lookups: usize,
    /// Most peers stored per info-hash (100).
    pub max_peers_per_info_hash: usize,
    /// Most peers stored in all (20 000).
    pub max_peers: usize,
    /// Most info-hashes with stored peers (2 000).
    pub max_info_hashes: usize,
    /// Most datagrams waiting in [`DhtNode::poll_transmit`] (1 024); replies
    /// past that are dropped.
    pub max_queued: usize,
    /// BEP 43: say so in our queries and answer no query.
    pub read_only: bool,
    /// The routing table's settings.
    pub routing: routing::Config,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bootstrap: Vec::new(),
            alpha: 3,
            k: routing::K,
            query_timeout: Duration::from_secs(3),
            max_in_flight: 256,
            max_lookups: 32,
            max_peers_per_info_hash: 100,
            max_peers: 20_000,
            max_info_hashes: 2_000,
            max_queued: 1024,
            read_only: false,
            routing: routing::Config::default(),
        }
    }
}

/// Names one lookup started by a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LookupId(pub u64);

/// What the node reports to the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DhtEvent {
    /// A `get_peers` or `announce` lookup found peers it had not reported.
    Peers {
        /// The lookup.
        lookup: LookupId,
        /// The torrent.
        info_hash: InfoHash,
        /// The new peers.
        peers: Vec<SocketAddr>,
    },
    /// A lookup ended (for `announce`, before the `announce_peer` queries).
    LookupDone {
        /// The lookup.
        lookup: LookupId,
        /// The target: the torrent, or the node id sought as an info-hash.
        info_hash: InfoHash,
        /// The longest chain of referrals followed.
        rounds: u32,
        /// Queries sent.
        queried: u32,
        /// Queries answered.
        responded: u32,
    },
    /// The `announce_peer` queries of an `announce` have all settled.
    Announced {
        /// The lookup.
        lookup: LookupId,
        /// The torrent.
        info_hash: InfoHash,
        /// Nodes that accepted the announce.
        stored: usize,
        /// Nodes asked to store it.
        tried: usize,
    },
}

/// Why a query of ours is outstanding.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    /// A liveness check the routing table asked for.
    Ping,
    /// Part of a lookup; `depth` is the queried node's referral depth.
    Lookup { lookup: LookupId, depth: u32 },
    /// An `announce_peer` of a lookup.
    Store { lookup: LookupId },
}

/// One outstanding query.
#[derive(Clone, Copy, Debug)]
struct Pending {
    addr: SocketAddr,
    /// The id we expect to answer; unknown for a bootstrap address.
    id: Option<NodeId>,
    deadline: Time,
    purpose: Purpose,
}

/// The DHT node. See the [module documentation](self).
#[derive(Debug)]
pub struct DhtNode {
    id: NodeId,
    config: Config,
    rng: Rng,
    table: RoutingTable,
    tokens: TokenSecret,
    store: PeerStore,
    in_flight: BTreeMap<u32, Pending>,
    deadlines: BTreeSet<(Time, u32)>,
    lookups: BTreeMap<LookupId, Lookup>,
    next_lookup: u64,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<DhtEvent>,
    next_purge: Time,
    /// The [`bootstrap`](Self::bootstrap) lookup running, if any: when it
    /// ends, the sparse buckets are filled.
    joining: Option<LookupId>,
}

impl DhtNode {
    /// A node with id `own_id` and an empty routing table.
    pub fn new(own_id: NodeId, mut config: Config, mut rng: Rng, now: Time) -> DhtNode {
        config.alpha = config.alpha.max(1);
        config.k = config.k.max(1);
        let tokens = TokenSecret::new(now, &mut rng);
        let store = PeerStore::new(
            config.max_peers_per_info_hash,
            config.max_peers,
            config.max_info_hashes,
        );
        DhtNode {
            id: own_id,
            table: RoutingTable::new_at(own_id, config.routing, now),
            config,
            rng,
            tokens,
            store,
            in_flight: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            lookups: BTreeMap::new(),
            next_lookup: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_purge: now + PURGE_EVERY,
            joining: None,
        }
    }

    /// A node that starts from a saved routing table (see
    /// [`RoutingTable::from_bytes`]): its own id is the table's, and the
    /// table's settings replace [`Config::routing`]. The saved nodes are asked
    /// first when it [bootstraps](Self::bootstrap).
    pub fn with_routing_table(
        table: RoutingTable,
        mut config: Config,
        rng: Rng,
        now: Time,
    ) -> DhtNode {
        config.routing = *table.config();
        let mut node = DhtNode::new(table.own_id(), config, rng, now);
        node.table = table;
        node
    }

    /// Our id.
    pub fn own_id(&self) -> NodeId {
        self.id
    }

    /// The routing table, for inspection or saving.
    pub fn routing_table(&self) -> &RoutingTable {
        &self.table
    }

    /// Peers stored from other nodes' announces.
    pub fn stored_peers(&self) -> usize {
        self.store.len()
    }

    /// Info-hashes with stored peers.
    pub fn stored_info_hashes(&self) -> usize {
        self.store.hashes()
    }

    /// Our queries awaiting an answer.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Lookups running.
    pub fn active_lookups(&self) -> usize {
        self.lookups.len()
    }

    /// Datagrams waiting in [`poll_transmit`](Self::poll_transmit).
    pub fn queued_transmits(&self) -> usize {
        self.transmits.len()
    }

    /// Replaces [`Config::bootstrap`]: a driver that resolves the routers'
    /// names after starting the node hands their addresses in here, then
    /// calls [`bootstrap`](Self::bootstrap).
    pub fn set_bootstrap(&mut self, nodes: Vec<SocketAddr>) {
        self.config.bootstrap = nodes;
    }

    /// Joins the network: looks up our own id, asking every
    /// [`Config::bootstrap`] address as well as the routing table. When that
    /// lookup ends (its [`DhtEvent::LookupDone`]), a `find_node` lookup of a
    /// random id in every far bucket still holding fewer than [`Config::k`]
    /// nodes fills the rest of the table (unreported).
    pub fn bootstrap(&mut self, now: Time) -> LookupId {
        let id = self.start(now, self.id, Kind::FindNode, true, true);
        // A lookup refused or ended at once has already been finished.
        if self.lookups.contains_key(&id) {
            self.joining = Some(id);
        }
        id
    }

    /// Looks for peers of `info_hash`; they arrive as [`DhtEvent::Peers`].
    pub fn get_peers(&mut self, now: Time, info_hash: InfoHash) -> LookupId {
        self.start(now, info_hash.into(), Kind::GetPeers, true, false)
    }

    /// Looks for peers of `info_hash` like [`get_peers`](Self::get_peers),
    /// then announces that we serve it on `port` (or, with `implied_port`, on
    /// the port our datagrams come from) to the [`Config::k`] closest nodes
    /// that gave a token.
    pub fn announce(
        &mut self,
        now: Time,
        info_hash: InfoHash,
        port: u16,
        implied_port: bool,
    ) -> LookupId {
        let kind = Kind::Announce { port, implied_port };
        self.start(now, info_hash.into(), kind, true, false)
    }

    /// Looks up the nodes closest to `target`, filling the routing table.
    pub fn find_node(&mut self, now: Time, target: NodeId) -> LookupId {
        self.start(now, target, Kind::FindNode, true, false)
    }

    /// Pings `addr`, a node heard of outside the DHT (a peer's `port`
    /// message, a saved node): if it answers it joins the routing table like
    /// any node that answers. False when the query could not be sent (too
    /// many outstanding, or a port of 0).
    pub fn add_node(&mut self, now: Time, addr: SocketAddr) -> bool {
        if addr.port() == 0 || self.config.read_only {
            return false;
        }
        let q = Query::Ping { id: self.id };
        self.send_query(now, addr, None, q, Purpose::Ping)
    }

    /// The next datagram to send, and where.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmits.pop_front()
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<DhtEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Time> {
        let mut next = self.tokens.next_rotation().min(self.next_purge);
        if let Some(&(deadline, _)) = self.deadlines.first() {
            next = next.min(deadline);
        }
        if !self.table.is_empty() {
            next = next.min(self.table.next_refresh());
        }
        Some(next)
    }

    /// Expires unanswered queries, rotates the token secret, sweeps the peer
    /// store, refreshes stale buckets and moves the lookups along.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some(&(deadline, tx)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(p) = self.in_flight.remove(&tx) {
                if let Some(id) = p.id {
                    self.table.query_failed(&id, now);
                }
                self.settle_failure(now, p);
            }
        }
        self.tokens.rotate(now, &mut self.rng);
        if now >= self.next_purge {
            self.store.purge(now);
            self.next_purge = now + PURGE_EVERY;
        }
        if !self.table.is_empty() && now >= self.table.next_refresh() {
            for target in self.table.buckets_needing_refresh(now, &mut self.rng) {
                if self.lookups.len() < self.config.max_lookups {
                    self.start(now, target, Kind::FindNode, false, false);
                }
            }
        }
        let ids: Vec<LookupId> = self.lookups.keys().copied().collect();
        for id in ids {
            self.advance(now, id);
        }
    }

    /// Takes in one datagram from `from`.
    pub fn handle_datagram(&mut self, now: Time, from: SocketAddr, bytes: &[u8]) {
        if from.port() == 0 {
            return;
        }
        match Message::decode(bytes) {
            Ok(msg) => match msg.body {
                Body::Query(query) => {
                    self.on_query(now, from, msg.transaction, msg.read_only, query);
                }
                Body::Response(response) => self.on_response(now, from, &msg.transaction, response),
                Body::Error { .. } => {
                    if let Some(p) = self.take_pending(&msg.transaction, from) {
                        self.settle_failure(now, p);
                    }
                }
            },
            Err(e) => {
                if let (true, Some(t), false) = (e.query, e.transaction, self.config.read_only) {
                    let reply = Message::error(t, PROTOCOL_ERROR, "malformed query");
                    self.send(from, &reply);
                }
            }
        }
    }

    fn on_response(&mut self, now: Time, from: SocketAddr, t: &TransactionId, r: Response) {
        let Some(p) = self.take_pending(t, from) else {
            return;
        };
        if r.id == self.id || p.id.is_some_and(|id| id != r.id) {
            // Not the node we asked: no evidence either way about it.
            self.settle_failure(now, p);
            return;
        }
        let info = NodeInfo {
            id: r.id,
            addr: from,
        };
        let insert = self.table.heard_response(info, now);
        self.on_insert(now, insert);
        match p.purpose {
            Purpose::Ping => {}
            Purpose::Store { lookup } => self.store_settled(lookup, true),
            Purpose::Lookup { lookup, depth } => {
                let own = self.id;
                let Some(l) = self.lookups.get_mut(&lookup) else {
                    return;
                };
                l.in_flight = l.in_flight.saturating_sub(1);
                if l.phase != Phase::Searching {
                    return;
                }
                l.responded(info, depth, r.token, &own);
                let v4 = r.nodes.iter().map(|n| NodeInfo {
                    id: n.id,
                    addr: SocketAddr::V4(n.addr),
                });
                let v6 = r.nodes6.iter().map(|n| NodeInfo {
                    id: n.id,
                    addr: SocketAddr::V6(n.addr),
                });
                for n in v4.chain(v6) {
                    l.add(n, depth + 1, &own);
                }
                if l.kind != Kind::FindNode && !r.values.is_empty() {
                    let peers = l.new_peers(&r.values);
                    if l.report && !peers.is_empty() && self.events.len() < MAX_EVENTS {
                        let info_hash = l.target.into();
                        self.events.push_back(DhtEvent::Peers {
                            lookup,
                            info_hash,
                            peers,
                        });
                    }
                }
                self.advance(now, lookup);
            }
        }
    }

    /// The outstanding query `t` if it went to `from`; it stops being
    /// outstanding.
    fn take_pending(&mut self, t: &TransactionId, from: SocketAddr) -> Option<Pending> {
        let key = u32::from_be_bytes(t.as_bytes().try_into().ok()?);
        let p = self.in_flight.get(&key)?;
        if p.addr != from {
            return None;
        }
        self.deadlines.remove(&(p.deadline, key));
        self.in_flight.remove(&key)
    }

    /// A query of ours failed (timeout, error reply or wrong responder).
    fn settle_failure(&mut self, now: Time, p: Pending) {
        match p.purpose {
            Purpose::Ping => {}
            Purpose::Store { lookup } => self.store_settled(lookup, false),
            Purpose::Lookup { lookup, .. } => {
                if let Some(l) = self.lookups.get_mut(&lookup) {
                    l.in_flight = l.in_flight.saturating_sub(1);
                    if let Some(id) = p.id {
                        l.failed(&id);
                    }
                    self.advance(now, lookup);
                }
            }
        }
    }

    /// An `announce_peer` of lookup `id` was answered or failed.
    fn store_settled(&mut self, id: LookupId, ok: bool) {
        let Some(l) = self.lookups.get_mut(&id) else {
            return;
        };
        if let Phase::Announcing {
            pending,
            stored,
            tried,
        } = l.phase
        {
            let (pending, stored) = (pending.saturating_sub(1), stored + usize::from(ok));
            l.phase = Phase::Announcing {
                pending,
                stored,
                tried,
            };
            if pending == 0 {
                self.finish_announce(id);
            }
        }
    }

    fn finish_announce(&mut self, id: LookupId) {
        if let Some(l) = self.lookups.remove(&id) {
            if let Phase::Announcing { stored, tried, .. } = l.phase {
                self.events.push_back(DhtEvent::Announced {
                    lookup: id,
                    info_hash: l.target.into(),
                    stored,
                    tried,
                });
            }
        }
    }

    /// Pings the nodes the routing table wants checked.
    fn on_insert(&mut self, now: Time, insert: Insert) {
        if let Insert::Pending { ping, .. } = insert {
            for n in ping {
                let q = Query::Ping { id: self.id };
                self.send_query(now, n.addr, Some(n.id), q, Purpose::Ping);
            }
        }
    }

    /// Starts a lookup of `target`.
    fn start(
        &mut self,
        now: Time,
        target: NodeId,
        kind: Kind,
        report: bool,
        routers: bool,
    ) -> LookupId {
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        let k = self.config.k;
        let mut l = Lookup::new(target, kind, report, k);
        if self.lookups.len() >= self.config.max_lookups {
            // Refused: it ends at once, having asked nobody.
            self.lookups.insert(id, l);
            self.finish(now, id);
            return id;
        }
        let known = self.table.closest(&target, k.saturating_mul(2));
        for n in &known {
            l.add(*n, 1, &self.id);
        }
        self.lookups.insert(id, l);
        if routers || known.is_empty() {
            for addr in self.config.bootstrap.clone() {
                let q = self.lookup_query(target, kind);
                let purpose = Purpose::Lookup {
                    lookup: id,
                    depth: 1,
                };
                if self.send_query(now, addr, None, q, purpose) {
                    if let Some(l) = self.lookups.get_mut(&id) {
                        l.in_flight += 1;
                        l.count_query(1);
                    }
                }
            }
        }
        self.advance(now, id);
        id
    }

    /// Looks up a random id in every far bucket with room, as far as the
    /// lookup limit allows. See [`bootstrap`](Self::bootstrap).
    fn fill_sparse_buckets(&mut self, now: Time) {
        for target in self.table.sparse_buckets(now, &mut self.rng) {
            if self.lookups.len() >= self.config.max_lookups {
                break;
            }
            self.start(now, target, Kind::FindNode, false, false);
        }
    }

    fn lookup_query(&self, target: NodeId, kind: Kind) -> Query {
        match kind {
            Kind::FindNode => Query::FindNode {
                id: self.id,
                target,
            },
            Kind::GetPeers | Kind::Announce { .. } => Query::GetPeers {
                id: self.id,
                info_hash: target.into(),
            },
        }
    }

    /// Sends the lookup's next queries, or ends it once it has converged.
    fn advance(&mut self, now: Time, id: LookupId) {
        loop {
            let alpha = self.config.alpha;
            let room = self.in_flight.len() < self.config.max_in_flight;
            let Some(l) = self.lookups.get_mut(&id) else {
                return;
            };
            if l.phase != Phase::Searching {
                return;
            }
            if l.in_flight < alpha && room {
                if let Some((node, depth)) = l.next_to_query() {
                    let (target, kind) = (l.target, l.kind);
                    let q = self.lookup_query(target, kind);
                    let purpose = Purpose::Lookup { lookup: id, depth };
                    let sent = self.send_query(now, node.addr, Some(node.id), q, purpose);
                    if let Some(l) = self.lookups.get_mut(&id) {
                        if sent {
                            l.in_flight += 1;
                        } else {
                            l.failed(&node.id);
                        }
                    }
                    continue;
                }
            }
            if l.converged() {
                self.finish(now, id);
            }
            return;
        }
    }

    /// Ends the search phase of a lookup: reports it and, for an announce,
    /// sends the `announce_peer` queries.
    fn finish(&mut self, now: Time, id: LookupId) {
        let Some(l) = self.lookups.get(&id) else {
            return;
        };
        let info_hash: InfoHash = l.target.into();
        if l.report {
            self.events.push_back(DhtEvent::LookupDone {
                lookup: id,
                info_hash,
                rounds: l.rounds,
                queried: l.queried,
                responded: l.responded,
            });
        }
        let Kind::Announce { port, implied_port } = l.kind else {
            self.lookups.remove(&id);
            if self.joining == Some(id) {
                self.joining = None;
                self.fill_sparse_buckets(now);
            }
            return;
        };
        let storers = l.storers();
        let mut pending = 0;
        for (node, token) in storers.iter().cloned() {
            let q = Query::AnnouncePeer {
                id: self.id,
                info_hash,
                port,
                implied_port,
                token,
            };
            if self.send_query(
                now,
                node.addr,
                Some(node.id),
                q,
                Purpose::Store { lookup: id },
            ) {
                pending += 1;
            }
        }
        if let Some(l) = self.lookups.get_mut(&id) {
            l.phase = Phase::Announcing {
                pending,
                stored: 0,
                tried: pending,
            };
        }
        if pending == 0 {
            self.finish_announce(id);
        }
    }

    /// Sends a query with a fresh transaction id and remembers it. False when
    /// too many are outstanding or the queue is full.
    fn send_query(
        &mut self,
        now: Time,
        addr: SocketAddr,
        id: Option<NodeId>,
        query: Query,
        purpose: Purpose,
    ) -> bool {
        if self.in_flight.len() >= self.config.max_in_flight
            || self.transmits.len() >= self.config.max_queued
        {
            return false;
        }
        let key = loop {
            let key = self.rng.next_u64() as u32;
            if !self.in_flight.contains_key(&key) {
                break key;
            }
        };
        let Some(t) = TransactionId::new(&key.to_be_bytes()) else {
            return false;
        };
        let mut msg = Message::query(t, query);
        msg.read_only = self.config.read_only;
        let deadline = now + self.config.query_timeout;
        self.in_flight.insert(
            key,
            Pending {
                addr,
                id,
                deadline,
                purpose,
            },
        );
        self.deadlines.insert((deadline, key));
        self.send(addr, &msg);
        true
    }

    /// Queues a datagram, unless the queue is full.
    fn send(&mut self, to: SocketAddr, msg: &Message) {
        if self.transmits.len() < self.config.max_queued {
            self.transmits.push_back((to, msg.to_bytes()));
        }
    }
}

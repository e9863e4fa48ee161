//! The DHT routing table (BEP 5): the nodes we know, filed in buckets of
//! [`K`] by the length of the id prefix they share with our own id.
//!
//! # Shape
//!
//! The classic BEP 5 table: it starts as one bucket covering the whole id
//! space, and only the bucket holding our own id is ever split, when it is
//! full. After `n` splits bucket `i < n` holds the ids sharing exactly `i`
//! leading bits with ours and the last bucket holds those sharing `n` or
//! more, so the table knows the space near us finely and the far space
//! coarsely. There are never more than 160 buckets.
//!
//! # Node states
//!
//! Each entry remembers when we last heard from the node and how many of our
//! queries to it failed in a row ([`Node`]):
//!
//! * **good**: it answered one of our queries within [`GOOD_FOR`], or it has
//!   answered one ever and sent us a query within [`GOOD_FOR`]; and its
//!   latest query did not fail;
//! * **bad**: [`BAD_AFTER_FAILURES`] (two) queries in a row failed: BEP 5
//!   suggests trying once more before discarding a node, so the second
//!   failure is the verdict;
//! * **questionable**: anything else, including nodes we only heard of.
//!
//! # Inserting
//!
//! The node logic reports what it sees: [`RoutingTable::heard_response`]
//! (the node answered us, so it is verified), [`RoutingTable::heard_query`]
//! (it queried us) and [`RoutingTable::add_contact`] (another node told us
//! about it). A new node joins its bucket if there is room, splitting the
//! bucket first if it holds our id. A full bucket gives a bad node's place
//! to the newcomer; with no bad node, the newcomer waits in the bucket's
//! small replacement cache and the table asks the node logic to ping the
//! questionable nodes of the bucket, least recently seen first
//! ([`Insert::Pending`]). Answers come back through `heard_response`, and
//! failures through [`RoutingTable::query_failed`], which promotes a waiting
//! replacement once a node turns bad.
//!
//! # Hostile input
//!
//! Memory is bounded whatever the network says: at most
//! [`Config::max_nodes`] entries (and never more than 160 × [`K`]), plus at
//! most [`MAX_REPLACEMENTS`] waiting per bucket. Our own id is never stored.
//! An id already in the table cannot be moved to another address by hearsay
//! or queries, only by a response after the old address stopped answering.
//! Optionally ([`Config::one_node_per_ip`]) one address holds one entry, and
//! ([`Config::enforce_bep42`]) ids must match their address under BEP 42;
//! local addresses are exempt from both.
//!
//! # Refresh and persistence
//!
//! [`RoutingTable::buckets_needing_refresh`] hands out a random target in
//! every bucket untouched for [`REFRESH_AFTER`], for the node logic to look
//! up with `find_node`; [`RoutingTable::sparse_buckets`] does the same at
//! once for the far buckets a node that has just joined could fill but has
//! not. [`RoutingTable::to_bytes`] and [`RoutingTable::from_bytes`] save and
//! restore the table between runs.
//!
//! BEP 32 keeps one table per address family; so should a driver that runs
//! both: this table files any address it is given.
//!
//! ```
//! use core::net::SocketAddr;
//! use sluice_core::dht::krpc::{NodeId, NodeInfo};
//! use sluice_core::dht::routing::{Config, Insert, RoutingTable};
//! use sluice_core::Time;
//!
//! let mut table = RoutingTable::new(NodeId([0; 20]), Config::default());
//! let addr: SocketAddr = "203.0.113.5:6881".parse().unwrap();
//! let node = NodeInfo { id: NodeId([0x80; 20]), addr };
//! assert_eq!(table.heard_response(node, Time::ZERO), Insert::Added);
//! assert_eq!(table.closest(&NodeId([0xff; 20]), 8), vec![node]);
//! ```

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::BTreeMap;

use crate::dht::bep42;
use crate::dht::krpc::{NodeId, NodeInfo};
use crate::rng::Rng;
use crate::time::Time;

mod persist;
#[cfg(test)]
mod tests;

pub use persist::{LoadError, FORMAT_VERSION, MAGIC};

/// Nodes per bucket.
pub const K: usize = 8;

/// How long a response (or a query from a node that has answered before)
/// keeps a node good.
pub const GOOD_FOR: Duration = Duration::from_secs(15 * 60);

/// How long a bucket may go unchanged before it needs a refresh.
pub const REFRESH_AFTER: Duration = Duration::from_secs(15 * 60);

/// Failed queries in a row that make a node bad.
pub const BAD_AFTER_FAILURES: u8 = 2;

/// The most replacements one bucket keeps, whatever [`Config::replacements`]
/// says.
pub const MAX_REPLACEMENTS: usize = 16;

/// How long the table waits for the outcome of a ping it asked for before
/// asking again for the same node.
pub const PING_BACKOFF: Duration = Duration::from_secs(60);

/// Most buckets: one per bit of the id.
const MAX_BUCKETS: usize = NodeId::BITS as usize;

/// Settings of a [`RoutingTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The most nodes the table holds (replacements not counted). The shape
    /// of the table caps it at 160 × [`K`] anyway.
    pub max_nodes: usize,
    /// Replacements kept per bucket, at most [`MAX_REPLACEMENTS`].
    pub replacements: usize,
    /// Refuse nodes whose id does not match their address under BEP 42
    /// (local addresses excepted). Off by default: BEP 42 asks for a
    /// transition period, and many nodes still pick ids freely.
    pub enforce_bep42: bool,
    /// Let one IP address hold at most one entry (local addresses excepted),
    /// so that one host cannot fill a bucket with made-up ids.
    pub one_node_per_ip: bool,
}

impl Default for Config {
    /// 512 nodes, 8 replacements per bucket, BEP 42 not enforced, one node
    /// per address.
    fn default() -> Self {
        Config {
            max_nodes: 512,
            replacements: K,
            enforce_bep42: false,
            one_node_per_ip: true,
        }
    }
}

/// How a node is doing, as BEP 5 defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    /// Answered us recently (or answered once and queried us recently).
    Good,
    /// Neither good nor bad: unverified, silent for a while, or one failed
    /// query.
    Questionable,
    /// [`BAD_AFTER_FAILURES`] queries in a row failed.
    Bad,
}

/// One entry of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Its id and address.
    pub info: NodeInfo<SocketAddr>,
    /// When it entered the table or we last heard from it directly (a
    /// response or a query; hearsay does not count).
    pub last_seen: Time,
    /// When it last answered one of our queries, if ever.
    pub last_response: Option<Time>,
    /// When it last sent us a query, if ever.
    pub last_query: Option<Time>,
    /// Our queries to it that failed since its last response.
    pub failures: u8,
    /// When the table last asked the node logic to ping it.
    ping_asked: Option<Time>,
}

impl Node {
    fn new(info: NodeInfo<SocketAddr>, how: Heard, now: Time) -> Node {
        let mut node = Node {
            info,
            last_seen: now,
            last_response: None,
            last_query: None,
            failures: 0,
            ping_asked: None,
        };
        node.touch(how, now);
        node
    }

    /// Its state at `now`.
    pub fn state(&self, now: Time) -> NodeState {
        let recent = |t: Option<Time>| t.is_some_and(|t| now.saturating_since(t) < GOOD_FOR);
        if self.failures >= BAD_AFTER_FAILURES {
            NodeState::Bad
        } else if self.failures == 0
            && self.last_response.is_some()
            && (recent(self.last_response) || recent(self.last_query))
        {
            NodeState::Good
        } else {
            NodeState::Questionable
        }
    }

    fn is_bad(&self) -> bool {
        self.failures >= BAD_AFTER_FAILURES
    }

    /// Records hearing from (or of) the node.
    fn touch(&mut self, how: Heard, now: Time) {
        match how {
            Heard::Response => {
                self.last_seen = now;
                self.last_response = Some(now);
                self.failures = 0;
                self.ping_asked = None;
            }
            Heard::Query => {
                self.last_seen = now;
                self.last_query = Some(now);
            }
            Heard::Contact => {}
        }
    }

    /// How much a replacement is worth keeping: verified first, then fresh.
    fn worth(&self) -> (bool, Time) {
        (self.last_response.is_some(), self.last_seen)
    }
}

/// How we learned of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Heard {
    Response,
    Query,
    Contact,
}

/// What an insertion did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The node joined the table.
    Added,
    /// The node was already in the table; its times were updated.
    Updated,
    /// The node took the place of this bad node.
    Replaced(NodeInfo<SocketAddr>),
    /// The node's bucket is full and holds no bad node.
    Pending {
        /// Whether the node now waits in the bucket's replacement cache (it
        /// is not kept if the cache holds only better candidates).
        cached: bool,
        /// Questionable nodes of the bucket to ping, least recently seen
        /// first; their answers or failures decide whether a place frees up.
        /// Each node is asked for at most once per [`PING_BACKOFF`] unless
        /// its outcome was reported.
        ping: Vec<NodeInfo<SocketAddr>>,
    },
    /// The node was refused.
    Rejected(Reject),
}

/// Why a node was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    /// It has our own id.
    OwnId,
    /// Its address cannot be a node: port 0, unspecified, multicast or
    /// broadcast.
    BadAddress,
    /// BEP 42 is enforced and its id does not match its address.
    Bep42,
    /// Another entry already uses its IP address.
    IpTaken,
    /// Its id is in the table with another address that still answers.
    IdConflict,
}

/// One bucket: up to [`K`] nodes and the replacements waiting for a place.
#[derive(Clone, Debug)]
struct Bucket {
    nodes: Vec<Node>,
    replacements: Vec<Node>,
    last_changed: Time,
}

impl Bucket {
    fn new(now: Time) -> Bucket {
        Bucket {
            nodes: Vec::with_capacity(K),
            replacements: Vec::new(),
            last_changed: now,
        }
    }
}

/// The routing table. See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct RoutingTable {
    own_id: NodeId,
    config: Config,
    buckets: Vec<Bucket>,
    len: usize,
    /// The entries' addresses, for [`Config::one_node_per_ip`] (restricted
    /// addresses only).
    ips: BTreeMap<IpAddr, NodeId>,
}

impl RoutingTable {
    /// An empty table for the node `own_id`, whose single bucket counts as
    /// changed at time zero.
    pub fn new(own_id: NodeId, config: Config) -> RoutingTable {
        RoutingTable::new_at(own_id, config, Time::ZERO)
    }

    /// An empty table whose single bucket counts as changed at `now`.
    pub fn new_at(own_id: NodeId, config: Config, now: Time) -> RoutingTable {
        RoutingTable {
            own_id,
            config,
            buckets: vec![Bucket::new(now)],
            len: 0,
            ips: BTreeMap::new(),
        }
    }

    /// Our own id.
    pub fn own_id(&self) -> NodeId {
        self.own_id
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Nodes in the table (replacements not counted).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the table holds no node.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buckets (1 to 160).
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Every node in the table, bucket by bucket from the farthest.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> + '_ {
        self.buckets.iter().flat_map(|b| b.nodes.iter())
    }

    /// The entry for `id`, if it is in the table (not the replacements).
    pub fn get(&self, id: &NodeId) -> Option<&Node> {
        self.buckets
            .get(self.bucket_of(id))?
            .nodes
            .iter()
            .find(|n| n.info.id == *id)
    }

    /// `node` answered one of our queries: it is good now. Adds it if there
    /// is room, as [`Insert`] explains.
    pub fn heard_response(&mut self, node: NodeInfo<SocketAddr>, now: Time) -> Insert {
        self.insert(node, Heard::Response, now)
    }

    /// `node` sent us a query. A node that has answered us before stays
    /// good; a new one enters as questionable.
    pub fn heard_query(&mut self, node: NodeInfo<SocketAddr>, now: Time) -> Insert {
        self.insert(node, Heard::Query, now)
    }

    /// Another node told us about `node` (a `nodes` entry), or it comes from
    /// a bootstrap list: it enters as questionable.
    pub fn add_contact(&mut self, node: NodeInfo<SocketAddr>, now: Time) -> Insert {
        self.insert(node, Heard::Contact, now)
    }

    /// A query to `id` failed (timed out or was answered with garbage).
    ///
    /// At [`BAD_AFTER_FAILURES`] failures in a row the node is bad; if its
    /// bucket has a usable replacement, the best one (verified first, then
    /// most recently seen) takes its place and is returned. A failing
    /// replacement is dropped from the cache.
    pub fn query_failed(&mut self, id: &NodeId, now: Time) -> Option<NodeInfo<SocketAddr>> {
        let b = self.bucket_of(id);
        let bucket = self.buckets.get_mut(b)?;
        let Some(pos) = bucket.nodes.iter().position(|n| n.info.id == *id) else {
            bucket.replacements.retain(|n| n.info.id != *id);
            return None;
        };
        let node = &mut bucket.nodes[pos];
        node.failures = node.failures.saturating_add(1);
        node.ping_asked = None;
        if !node.is_bad() {
            return None;
        }
        let leaving_ip = node.info.addr.ip();
        let pick = self.best_replacement(b, Some(leaving_ip))?;
        let bucket = &mut self.buckets[b];
        let promoted = bucket.replacements.swap_remove(pick);
        let info = promoted.info;
        let evicted = core::mem::replace(&mut bucket.nodes[pos], promoted);
        bucket.last_changed = now;
        self.untrack_ip(&evicted.info);
        self.track_ip(&info);
        Some(info)
    }

    /// Removes `id` from the table and the replacement caches; returns its
    /// entry if it was in the table.
    pub fn remove(&mut self, id: &NodeId) -> Option<Node> {
        let b = self.bucket_of(id);
        let bucket = self.buckets.get_mut(b)?;
        bucket.replacements.retain(|n| n.info.id != *id);
        let pos = bucket.nodes.iter().position(|n| n.info.id == *id)?;
        let node = bucket.nodes.remove(pos);
        self.len -= 1;
        self.untrack_ip(&node.info);
        Some(node)
    }

    /// Up to `n` nodes closest to `target` by XOR distance, closest first,
    /// leaving out bad nodes. Questionable nodes are included: a lookup
    /// learns soon enough whether they answer.
    pub fn closest(&self, target: &NodeId, n: usize) -> Vec<NodeInfo<SocketAddr>> {
        self.closest_where(target, n, |node| !node.is_bad())
    }

    /// Up to `n` good nodes closest to `target`, closest first: what to
    /// answer a `find_node` or `get_peers` with.
    pub fn closest_good(&self, target: &NodeId, n: usize, now: Time) -> Vec<NodeInfo<SocketAddr>> {
        self.closest_where(target, n, |node| node.state(now) == NodeState::Good)
    }

    fn closest_where(
        &self,
        target: &NodeId,
        n: usize,
        keep: impl Fn(&Node) -> bool,
    ) -> Vec<NodeInfo<SocketAddr>> {
        let mut found: Vec<NodeInfo<SocketAddr>> = self
            .nodes()
            .filter(|node| keep(node))
            .map(|node| node.info)
            .collect();
        found.sort_unstable_by_key(|info| target.distance(&info.id));
        found.truncate(n);
        found
    }

    /// A random target in every bucket unchanged for [`REFRESH_AFTER`], for
    /// the node logic to look up with `find_node`. A bucket counts as
    /// changed when it is handed out, so each is returned at most once per
    /// [`REFRESH_AFTER`].
    pub fn buckets_needing_refresh(&mut self, now: Time, rng: &mut Rng) -> Vec<NodeId> {
        let last = self.buckets.len() - 1;
        let own = self.own_id;
        let mut targets = Vec::new();
        for (i, bucket) in self.buckets.iter_mut().enumerate() {
            if now.saturating_since(bucket.last_changed) >= REFRESH_AFTER {
                bucket.last_changed = now;
                targets.push(random_id_in_bucket(&own, i, i == last, rng));
            }
        }
        targets
    }

    /// A random target in every bucket that should be full but is not,
    /// each bucket counting as refreshed. What a node that has just joined
    /// looks up: the lookup of its own id fills the buckets near us but only
    /// passes through the far ones, which would otherwise stay nearly empty
    /// until their first refresh [`REFRESH_AFTER`] later; lookups of targets
    /// there would then start from one or two nodes, and miss.
    ///
    /// "Should be full": if our [`K`]-th closest node shares `d` leading bits
    /// with us, the network holds about `K·2^d` nodes, and bucket `i` (ids
    /// sharing exactly `i` bits) about `K·2^(d-i-1)` of them, so buckets
    /// below `d` could hold `K`. Deeper ones are sparse by nature, and the
    /// last bucket is our neighbourhood, which the own-id lookup just
    /// searched; neither is returned.
    pub fn sparse_buckets(&mut self, now: Time, rng: &mut Rng) -> Vec<NodeId> {
        let own = self.own_id;
        let depth = self
            .closest(&own, K)
            .last()
            .map_or(0, |n| own.common_prefix_len(&n.id) as usize);
        let last = self.buckets.len() - 1;
        let mut targets = Vec::new();
        for (i, bucket) in self.buckets.iter_mut().enumerate().take(depth.min(last)) {
            if bucket.nodes.len() < K {
                bucket.last_changed = now;
                targets.push(random_id_in_bucket(&own, i, false, rng));
            }
        }
        targets
    }

    /// When [`buckets_needing_refresh`](Self::buckets_needing_refresh) will
    /// next have something to return.
    pub fn next_refresh(&self) -> Time {
        self.buckets
            .iter()
            .map(|b| b.last_changed + REFRESH_AFTER)
            .min()
            .unwrap_or(Time::MAX)
    }

    /// The bucket `id` belongs in.
    fn bucket_of(&self, id: &NodeId) -> usize {
        let prefix = self.own_id.common_prefix_len(id) as usize;
        prefix.min(self.buckets.len() - 1)
    }

    /// Checks that need nothing but the node itself.
    fn admissible(&self, info: &NodeInfo<SocketAddr>) -> Result<(), Reject> {
        if info.id == self.own_id {
            return Err(Reject::OwnId);
        }
        let ip = info.addr.ip().to_canonical();
        let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
        if info.addr.port() == 0 || ip.is_unspecified() || ip.is_multicast() || broadcast {
            return Err(Reject::BadAddress);
        }
        if self.config.enforce_bep42 && !bep42::complies(&info.id, ip) {
            return Err(Reject::Bep42);
        }
        Ok(())
    }

    fn insert(&mut self, info: NodeInfo<SocketAddr>, how: Heard, now: Time) -> Insert {
        if let Err(why) = self.admissible(&info) {
            return Insert::Rejected(why);
        }
        let b = self.bucket_of(&info.id);
        if let Some(pos) = self.buckets[b]
            .nodes
            .iter()
            .position(|n| n.info.id == info.id)
        {
            return self.update(b, pos, info, how, now);
        }
        if self.ip_taken(&info, None) {
            return Insert::Rejected(Reject::IpTaken);
        }
        let cap = self.config.max_nodes;
        let mut b = b;
        loop {
            let last = self.buckets.len() - 1;
            let bucket = &mut self.buckets[b];
            if self.len >= cap {
                break;
            }
            if bucket.nodes.len() < K {
                // A waiting replacement keeps its record.
                let waiting = bucket.replacements.iter().position(|n| n.info == info);
                let node = match waiting {
                    Some(i) => {
                        let mut node = bucket.replacements.swap_remove(i);
                        node.touch(how, now);
                        node
                    }
                    None => Node::new(info, how, now),
                };
                bucket.replacements.retain(|n| n.info.id != info.id);
                bucket.nodes.push(node);
                bucket.last_changed = now;
                self.len += 1;
                self.track_ip(&info);
                return Insert::Added;
            }
            if b != last || self.buckets.len() >= MAX_BUCKETS {
                break;
            }
            self.split();
            b = self.bucket_of(&info.id);
        }
        let bucket = &mut self.buckets[b];
        let worst_bad = bucket
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.is_bad())
            .min_by_key(|(_, n)| (core::cmp::Reverse(n.failures), n.last_seen))
            .map(|(i, _)| i);
        if let Some(pos) = worst_bad {
            bucket.replacements.retain(|n| n.info.id != info.id);
            let evicted = core::mem::replace(&mut bucket.nodes[pos], Node::new(info, how, now));
            bucket.last_changed = now;
            self.untrack_ip(&evicted.info);
            self.track_ip(&info);
            return Insert::Replaced(evicted.info);
        }
        let cached = self.cache(b, info, how, now);
        let ping = self.pings(b, now);
        Insert::Pending { cached, ping }
    }

    /// Updates the entry at `buckets[b].nodes[pos]`, which has `info`'s id.
    fn update(
        &mut self,
        b: usize,
        pos: usize,
        info: NodeInfo<SocketAddr>,
        how: Heard,
        now: Time,
    ) -> Insert {
        let old = self.buckets[b].nodes[pos].info;
        if old.addr != info.addr {
            // Only a response from the new address, after the old one
            // stopped answering, moves an id.
            if how != Heard::Response || self.buckets[b].nodes[pos].failures == 0 {
                return Insert::Rejected(Reject::IdConflict);
            }
            if self.ip_taken(&info, Some(info.id)) {
                return Insert::Rejected(Reject::IpTaken);
            }
            self.untrack_ip(&old);
            self.track_ip(&info);
            self.buckets[b].nodes[pos] = Node::new(info, how, now);
        }
        let bucket = &mut self.buckets[b];
        bucket.nodes[pos].touch(how, now);
        if how == Heard::Response {
            bucket.last_changed = now;
        }
        Insert::Updated
    }

    /// Splits the last bucket (the one holding our id) in two.
    fn split(&mut self) {
        let depth = self.buckets.len();
        let own = self.own_id;
        let deeper = |n: &Node| own.common_prefix_len(&n.info.id) as usize >= depth;
        let old = self.buckets.last_mut().expect("a table has a bucket");
        let mut new = Bucket::new(old.last_changed);
        let (moved, kept): (Vec<Node>, Vec<Node>) = old.nodes.drain(..).partition(deeper);
        old.nodes = kept;
        new.nodes = moved;
        let (moved, kept): (Vec<Node>, Vec<Node>) = old.replacements.drain(..).partition(deeper);
        old.replacements = kept;
        new.replacements = moved;
        self.buckets.push(new);
    }

    /// Puts `info` in bucket `b`'s replacement cache unless the cache holds
    /// only better candidates. Returns whether it is in the cache.
    fn cache(&mut self, b: usize, info: NodeInfo<SocketAddr>, how: Heard, now: Time) -> bool {
        let room = self.config.replacements.min(MAX_REPLACEMENTS);
        let cache = &mut self.buckets[b].replacements;
        if let Some(existing) = cache.iter_mut().find(|n| n.info.id == info.id) {
            if existing.info.addr == info.addr {
                existing.touch(how, now);
                return true;
            }
            if how != Heard::Response {
                return false;
            }
            *existing = Node::new(info, how, now);
            return true;
        }
        let new = Node::new(info, how, now);
        if cache.len() < room {
            cache.push(new);
            return true;
        }
        let worst = cache
            .iter()
            .enumerate()
            .min_by_key(|(_, n)| n.worth())
            .map(|(i, n)| (i, n.worth()));
        match worst {
            Some((i, worth)) if worth < new.worth() => {
                cache[i] = new;
                true
            }
            _ => false,
        }
    }

    /// The questionable nodes of bucket `b` not asked for within
    /// [`PING_BACKOFF`], least recently seen first; marks them asked.
    fn pings(&mut self, b: usize, now: Time) -> Vec<NodeInfo<SocketAddr>> {
        let mut due: Vec<&mut Node> = self.buckets[b]
            .nodes
            .iter_mut()
            .filter(|n| n.state(now) == NodeState::Questionable)
            .filter(|n| {
                n.ping_asked
                    .is_none_or(|t| now.saturating_since(t) >= PING_BACKOFF)
            })
            .collect();
        due.sort_by_key(|n| n.last_seen);
        due.into_iter()
            .map(|n| {
                n.ping_asked = Some(now);
                n.info
            })
            .collect()
    }

    /// The index of the best replacement in bucket `b` whose address is
    /// free (or is `freed`, the address of the entry it would replace).
    fn best_replacement(&self, b: usize, freed: Option<IpAddr>) -> Option<usize> {
        let freed = freed.map(|ip| ip.to_canonical());
        self.buckets[b]
            .replacements
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                freed == Some(n.info.addr.ip().to_canonical()) || !self.ip_taken(&n.info, None)
            })
            .max_by_key(|(_, n)| n.worth())
            .map(|(i, _)| i)
    }

    /// Whether [`Config::one_node_per_ip`] applies to this address.
    fn restricted(&self, ip: IpAddr) -> bool {
        self.config.one_node_per_ip && !bep42::is_exempt(ip)
    }

    /// True when another entry (not `except`) uses `info`'s IP address and
    /// the restriction applies.
    fn ip_taken(&self, info: &NodeInfo<SocketAddr>, except: Option<NodeId>) -> bool {
        let ip = info.addr.ip().to_canonical();
        self.restricted(ip)
            && self
                .ips
                .get(&ip)
                .is_some_and(|holder| Some(*holder) != except)
    }

    fn track_ip(&mut self, info: &NodeInfo<SocketAddr>) {
        let ip = info.addr.ip().to_canonical();
        if self.restricted(ip) {
            self.ips.insert(ip, info.id);
        }
    }

    fn untrack_ip(&mut self, info: &NodeInfo<SocketAddr>) {
        let ip = info.addr.ip().to_canonical();
        if self.ips.get(&ip) == Some(&info.id) {
            self.ips.remove(&ip);
        }
    }
}

/// A random id in bucket `index`: sharing exactly `index` leading bits with
/// `own`, or at least `index` bits for the `last` bucket.
fn random_id_in_bucket(own: &NodeId, index: usize, last: bool, rng: &mut Rng) -> NodeId {
    let mut id = [0u8; 20];
    for chunk in id.chunks_mut(8) {
        let r = rng.next_u64().to_be_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    for bit in 0..index.min(MAX_BUCKETS) {
        let (byte, mask) = (bit / 8, 0x80u8 >> (bit % 8));
        id[byte] = (id[byte] & !mask) | (own.0[byte] & mask);
    }
    if !last && index < MAX_BUCKETS {
        let (byte, mask) = (index / 8, 0x80u8 >> (index % 8));
        id[byte] = (id[byte] & !mask) | (!own.0[byte] & mask);
    }
    NodeId(id)
}

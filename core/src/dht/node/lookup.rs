//! The state of one iterative lookup: the candidates closest to the target,
//! sorted by XOR distance, and what became of each.

use core::net::SocketAddr;
use std::collections::BTreeSet;

use crate::dht::krpc::{Distance, NodeId, NodeInfo};

/// Most distinct peers one lookup reports; later ones are dropped.
const MAX_PEERS_PER_LOOKUP: usize = 1000;

/// What became of a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Not asked yet.
    Fresh,
    /// Asked; no answer yet.
    Asked,
    /// Answered.
    Responded,
    /// Timed out, answered with an error, or changed its id.
    Failed,
}

#[derive(Debug)]
struct Candidate {
    info: NodeInfo<SocketAddr>,
    distance: Distance,
    /// The referral chain that led to it: 1 for nodes from our own table.
    depth: u32,
    status: Status,
    token: Option<Vec<u8>>,
}

/// What the lookup is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `find_node`: bootstrap, refresh or a caller's search.
    FindNode,
    /// `get_peers`.
    GetPeers,
    /// `get_peers`, then `announce_peer` with this port to the closest nodes.
    Announce { port: u16, implied_port: bool },
}

/// Where a lookup stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Querying candidates.
    Searching,
    /// Waiting for `announce_peer` replies.
    Announcing {
        pending: usize,
        stored: usize,
        tried: usize,
    },
}

/// One iterative lookup.
#[derive(Debug)]
pub(super) struct Lookup {
    pub(super) target: NodeId,
    pub(super) kind: Kind,
    /// Whether the caller asked for it (and so gets events).
    pub(super) report: bool,
    pub(super) phase: Phase,
    /// Our queries of this lookup not yet answered or timed out.
    pub(super) in_flight: usize,
    /// The deepest referral chain queried.
    pub(super) rounds: u32,
    /// Queries sent.
    pub(super) queried: u32,
    /// Queries answered.
    pub(super) responded: u32,
    candidates: Vec<Candidate>,
    cap: usize,
    k: usize,
    peers: BTreeSet<SocketAddr>,
}

impl Lookup {
    pub(super) fn new(target: NodeId, kind: Kind, report: bool, k: usize) -> Lookup {
        Lookup {
            target,
            kind,
            report,
            phase: Phase::Searching,
            in_flight: 0,
            rounds: 0,
            queried: 0,
            responded: 0,
            candidates: Vec::new(),
            cap: k.saturating_mul(4).max(16),
            k,
            peers: BTreeSet::new(),
        }
    }

    /// Adds a node to consider, unless it is already there (by id or by
    /// address) or farther than every kept candidate of a full list.
    pub(super) fn add(&mut self, info: NodeInfo<SocketAddr>, depth: u32, own_id: &NodeId) {
        if info.id == *own_id
            || info.addr.port() == 0
            || info.addr.ip().is_unspecified()
            || self
                .candidates
                .iter()
                .any(|c| c.info.id == info.id || c.info.addr == info.addr)
        {
            return;
        }
        let distance = info.id.distance(&self.target);
        let at = self.candidates.partition_point(|c| c.distance < distance);
        if at >= self.cap {
            return;
        }
        self.candidates.insert(
            at,
            Candidate {
                info,
                distance,
                depth,
                status: Status::Fresh,
                token: None,
            },
        );
        self.candidates.truncate(self.cap);
    }

    /// The candidates that decide convergence: the `k` closest not failed.
    fn closest_live(&self) -> impl Iterator<Item = &Candidate> + '_ {
        self.candidates
            .iter()
            .filter(|c| c.status != Status::Failed)
            .take(self.k)
    }

    /// The closest fresh candidate among the `k` closest live ones, marked
    /// asked, with its depth. Counts the query.
    pub(super) fn next_to_query(&mut self) -> Option<(NodeInfo<SocketAddr>, u32)> {
        let k = self.k;
        let candidate = self
            .candidates
            .iter_mut()
            .filter(|c| c.status != Status::Failed)
            .take(k)
            .find(|c| c.status == Status::Fresh)?;
        candidate.status = Status::Asked;
        let found = (candidate.info, candidate.depth);
        self.count_query(found.1);
        Some(found)
    }

    /// Counts a query sent at `depth`.
    pub(super) fn count_query(&mut self, depth: u32) {
        self.queried += 1;
        self.rounds = self.rounds.max(depth);
    }

    /// `id` answered. A node we queried by address alone (a router) joins the
    /// candidates as answered.
    pub(super) fn responded(
        &mut self,
        info: NodeInfo<SocketAddr>,
        depth: u32,
        token: Option<Vec<u8>>,
        own_id: &NodeId,
    ) {
        self.responded += 1;
        if !self.candidates.iter().any(|c| c.info.id == info.id) {
            self.add(info, depth, own_id);
        }
        if let Some(c) = self.candidates.iter_mut().find(|c| c.info.id == info.id) {
            c.status = Status::Responded;
            c.token = token;
        }
    }

    /// A query to `id` failed.
    pub(super) fn failed(&mut self, id: &NodeId) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.info.id == *id) {
            c.status = Status::Failed;
        }
    }

    /// True when the `k` closest live candidates have all answered (none is
    /// fresh or awaited), so no closer node can be learnt; with fewer than
    /// `k` known, also every query must have settled.
    pub(super) fn converged(&self) -> bool {
        let mut live = 0;
        for c in self.closest_live() {
            if c.status != Status::Responded {
                return false;
            }
            live += 1;
        }
        live >= self.k || self.in_flight == 0
    }

    /// The peers in `values` this lookup has not reported yet, remembered.
    pub(super) fn new_peers(&mut self, values: &[SocketAddr]) -> Vec<SocketAddr> {
        let mut fresh = Vec::new();
        for v in values {
            if self.peers.len() >= MAX_PEERS_PER_LOOKUP {
                break;
            }
            if v.port() != 0 && self.peers.insert(*v) {
                fresh.push(*v);
            }
        }
        fresh
    }

    /// The `k` closest nodes that answered with a token, and their tokens.
    pub(super) fn storers(&self) -> Vec<(NodeInfo<SocketAddr>, Vec<u8>)> {
        self.candidates
            .iter()
            .filter(|c| c.status == Status::Responded)
            .filter_map(|c| c.token.clone().map(|t| (c.info, t)))
            .take(self.k)
            .collect()
    }
}

//! The peers other nodes announced to us, bounded three ways: per info-hash,
//! in total, and in the number of info-hashes. Entries expire after
//! [`PEER_TTL`].

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::BTreeMap;

use crate::id::InfoHash;
use crate::time::Time;

/// How long an announced peer is kept without a fresh announce.
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);

/// Announced peers by info-hash, each with the time of its last announce.
#[derive(Debug)]
pub(super) struct PeerStore {
    torrents: BTreeMap<InfoHash, BTreeMap<SocketAddr, Time>>,
    total: usize,
    max_per_hash: usize,
    max_total: usize,
    max_hashes: usize,
}

impl PeerStore {
    pub(super) fn new(max_per_hash: usize, max_total: usize, max_hashes: usize) -> PeerStore {
        PeerStore {
            torrents: BTreeMap::new(),
            total: 0,
            max_per_hash,
            max_total,
            max_hashes,
        }
    }

    /// Peers stored, over all info-hashes.
    pub(super) fn len(&self) -> usize {
        self.total
    }

    /// Info-hashes with at least one stored peer.
    pub(super) fn hashes(&self) -> usize {
        self.torrents.len()
    }

    /// Records `peer` for `hash`. A known peer is refreshed; a new one takes
    /// the place of the oldest when the info-hash is full, and is refused
    /// when the store is full even after dropping expired entries.
    pub(super) fn insert(&mut self, hash: InfoHash, peer: SocketAddr, now: Time) -> bool {
        if self.max_per_hash == 0 {
            return false;
        }
        if let Some(peers) = self.torrents.get_mut(&hash) {
            if let Some(seen) = peers.get_mut(&peer) {
                *seen = now;
                return true;
            }
            if peers.len() >= self.max_per_hash {
                let oldest = peers.iter().min_by_key(|(_, t)| **t).map(|(p, _)| *p);
                if let Some(oldest) = oldest {
                    peers.remove(&oldest);
                    self.total -= 1;
                }
            }
        } else if self.torrents.len() >= self.max_hashes {
            self.purge(now);
            if self.torrents.len() >= self.max_hashes {
                return false;
            }
        }
        if self.total >= self.max_total {
            self.purge(now);
            if self.total >= self.max_total {
                return false;
            }
        }
        self.torrents.entry(hash).or_default().insert(peer, now);
        self.total += 1;
        true
    }

    /// Up to `n` unexpired peers of `hash`.
    pub(super) fn get(&self, hash: &InfoHash, now: Time, n: usize) -> Vec<SocketAddr> {
        self.torrents.get(hash).map_or_else(Vec::new, |peers| {
            peers
                .iter()
                .filter(|(_, t)| now.saturating_since(**t) < PEER_TTL)
                .take(n)
                .map(|(p, _)| *p)
                .collect()
        })
    }

    /// Drops every expired entry and every info-hash left without peers.
    pub(super) fn purge(&mut self, now: Time) {
        let mut total = 0;
        self.torrents.retain(|_, peers| {
            peers.retain(|_, t| now.saturating_since(*t) < PEER_TTL);
            total += peers.len();
            !peers.is_empty()
        });
        self.total = total;
    }
}

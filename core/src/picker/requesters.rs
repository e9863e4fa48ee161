//! Who has asked for one block: at most a few peers at once.

use crate::torrent::PeerKey;

/// Most peers one block is requested from at the same time (in endgame, or for a
/// stream's urgent piece).
pub const MAX_REQUESTERS: usize = 3;

/// A tiny inline set of peers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requesters {
    ids: [PeerKey; MAX_REQUESTERS],
    len: u8,
}

/// Sets with the same peers in the same order are equal, whatever is left in
/// the unused slots.
impl PartialEq for Requesters {
    fn eq(&self, other: &Requesters) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Requesters {}

impl Requesters {
    /// The peers, oldest request first.
    pub fn as_slice(&self) -> &[PeerKey] {
        &self.ids[..self.len as usize]
    }

    /// Number of peers.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when nobody has been asked.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when no more peers fit.
    pub fn is_full(&self) -> bool {
        self.len as usize == MAX_REQUESTERS
    }

    /// True when `peer` was asked.
    pub fn contains(&self, peer: PeerKey) -> bool {
        self.as_slice().contains(&peer)
    }

    /// Adds `peer`; false if it was there already or the set is full.
    pub fn insert(&mut self, peer: PeerKey) -> bool {
        if self.contains(peer) || self.is_full() {
            return false;
        }
        self.ids[self.len as usize] = peer;
        self.len += 1;
        true
    }

    /// Removes `peer`; false if it was not there.
    pub fn remove(&mut self, peer: PeerKey) -> bool {
        let Some(at) = self.as_slice().iter().position(|p| *p == peer) else {
            return false;
        };
        let len = self.len as usize;
        self.ids.copy_within(at + 1..len, at);
        self.len -= 1;
        true
    }
}

//! The piece picker: which blocks to ask which peer for.
//!
//! It owns the life cycle of every piece (see `STATE.md` next to this file):
//! *missing* → *downloading* (a [`Partial`] tracks each block: free, requested by
//! up to [`MAX_REQUESTERS`] peers, received and being written, written) →
//! *verifying* (every block written, the hash job is out) → *have*, or back to
//! missing when the hash fails.
//!
//! Choosing blocks for a peer, in this order:
//!
//! 1. **Streams.** Pieces a reader is waiting for, in deadline order. The first
//!    few are *urgent*: each peer takes only its share of an urgent piece so the
//!    piece is spread over every peer that has it, and a block already asked of a
//!    peer that will deliver it later than this one may be asked again. A peer
//!    asked for blocks of a piece a reader is stopped at is asked for nothing
//!    else until that piece is verified (see `streams.rs`).
//! 2. **Pieces in progress** that still have free blocks, the peer's own first:
//!    finishing pieces beats starting new ones, and a peer sticking to its piece
//!    keeps pieces whole per peer.
//! 3. **New pieces**: highest priority, then rarest, ties broken by a seeded
//!    random rank so that peers running the same code spread out.
//! 4. **Endgame**: when every missing wanted block is already asked for, blocks
//!    in flight elsewhere are asked again (the torrent cancels the losers).
//!
//! The picker never hands out a block of a piece the peer does not have, a
//! piece outside its allowed-fast set while it chokes us, or (outside endgame and
//! urgent streaming) a block that is already requested.

mod requesters;
mod streams;

use core::net::IpAddr;
use std::collections::BTreeMap;

pub use requesters::{Requesters, MAX_REQUESTERS};

use crate::bitfield::Bitfield;
use crate::layout::{Layout, BLOCK_SIZE};
use crate::rng::Rng;
use crate::torrent::PeerKey;
use crate::wire::BlockRequest;

/// How much a piece (or a file's pieces) is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Not downloaded (unless a stream asks for it).
    Skip,
    /// Downloaded rarest-first with the rest.
    #[default]
    Normal,
    /// Downloaded before normal pieces.
    High,
}

/// One block: a piece and the index of the block inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockRef {
    /// Piece index.
    pub piece: u32,
    /// Block index inside the piece (offset / 16 KiB).
    pub block: u32,
}

impl BlockRef {
    /// Byte offset of the block inside its piece.
    pub fn offset(self) -> u32 {
        self.block * BLOCK_SIZE
    }
}

/// Where a piece is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Missing,
    /// Some blocks requested or received; a [`Partial`] exists.
    Downloading,
    /// All blocks written; waiting for the hash.
    Verifying,
    /// Verified.
    Have,
}

/// A block's state inside a piece being downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockState {
    /// Nobody has been asked.
    Free,
    /// Asked of these peers.
    Requested(Requesters),
    /// Data arrived; the write is in flight.
    Received,
    /// On disk (not yet verified).
    Written,
}

/// A piece being downloaded.
#[derive(Debug, Clone)]
pub struct Partial {
    blocks: Vec<BlockState>,
    free: u32,
    written: u32,
    /// The last peer that took blocks of this piece, for affinity.
    last_peer: Option<PeerKey>,
    /// Addresses that sent blocks of this piece, for strikes when it fails.
    contributors: Vec<IpAddr>,
    /// Taken by a peer on parole: nobody else asks for its blocks while that
    /// peer still has requests in it, so a failure can be pinned on it.
    exclusive: Option<PeerKey>,
}

impl Partial {
    fn new(blocks: u32) -> Partial {
        Partial {
            blocks: vec![BlockState::Free; blocks as usize],
            free: blocks,
            written: 0,
            last_peer: None,
            contributors: Vec::new(),
            exclusive: None,
        }
    }

    /// The blocks' states.
    pub fn blocks(&self) -> &[BlockState] {
        &self.blocks
    }

    /// The peer on parole this piece is reserved for, if any.
    pub fn exclusive(&self) -> Option<PeerKey> {
        self.exclusive
    }

    /// Whether `peer` may ask for blocks of this piece: not while a peer on
    /// parole holds it; and a peer on parole only for pieces it holds or that
    /// nobody has touched yet.
    fn open_to(&self, peer: &PeerView<'_>) -> bool {
        if let Some(owner) = self.exclusive {
            if owner == peer.key {
                return true;
            }
            let owner_active = self
                .blocks
                .iter()
                .any(|b| matches!(b, BlockState::Requested(r) if r.contains(owner)));
            if owner_active {
                return false;
            }
        }
        !peer.parole || self.contributors.is_empty() && self.free as usize == self.blocks.len()
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Peers known to have the piece, not counting seeds.
    avail: u32,
    priority: Priority,
    phase: Phase,
    /// Position + 1 in the stream order, 0 when no stream wants the piece.
    stream_rank: u32,
}

/// What the picker needs to know about the peer it picks for.
#[derive(Debug, Clone, Copy)]
pub struct PeerView<'a> {
    /// The peer.
    pub key: PeerKey,
    /// Its pieces.
    pub has: &'a Bitfield,
    /// True while it chokes us: only its allowed-fast pieces may be asked for.
    pub choked: bool,
    /// Pieces it lets us download while choked.
    pub allowed_fast: &'a [u32],
    /// Most blocks of one urgent piece this peer should take (its share).
    pub urgent_share: u32,
    /// Blocks this peer still owes an answer for (cancelled requests of a
    /// Fast peer): asking again would bring the block twice.
    pub owed: &'a [BlockRef],
    /// On parole after a hash failure it shared with others: it downloads
    /// whole pieces alone, so the next failure shows whether it is to blame.
    pub parole: bool,
}

impl PeerView<'_> {
    fn may_ask(&self, piece: u32) -> bool {
        self.has.get(piece) && (!self.choked || self.allowed_fast.contains(&piece))
    }

    fn owes(&self, piece: u32, block: usize) -> bool {
        !self.owed.is_empty()
            && self.owed.contains(&BlockRef {
                piece,
                block: block as u32,
            })
    }
}

/// What became of a block that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// New data: write it. The other peers it was asked of should be cancelled.
    Accepted {
        /// Other requesters, to cancel.
        others: Requesters,
    },
    /// Already have it (or the piece is done): drop it.
    Unwanted,
}

/// The piece picker of one torrent.
#[derive(Debug, Clone)]
pub struct Picker {
    layout: Layout,
    have: Bitfield,
    slots: Vec<Slot>,
    partials: BTreeMap<u32, Partial>,
    /// Random tie-break rank per piece.
    rank: Vec<u32>,
    /// Connected peers that have every piece.
    seeds: u32,
    /// Pieces wanted by streams, in deadline order.
    stream_order: Vec<u32>,
    /// How many of `stream_order` are urgent.
    stream_urgent: usize,
    /// Urgent pieces a reader is stopped at (its position is in them), each
    /// with the peers asked for its blocks.
    stream_waiting: Vec<(u32, Vec<PeerKey>)>,
    /// Pieces of selected files (priority above skip) not started yet: when
    /// zero, no new piece can be picked and endgame may begin.
    missing_selected: u32,
    /// The same pieces as a bitfield, to intersect with a peer's.
    missing_bits: Bitfield,
}

impl Picker {
    /// A picker for `layout`, starting from the verified pieces in `have`.
    pub fn new(layout: Layout, have: Bitfield, rng: &mut Rng) -> Picker {
        let count = layout.piece_count();
        debug_assert_eq!(have.len(), count);
        let slots = (0..count)
            .map(|p| Slot {
                avail: 0,
                priority: Priority::Normal,
                phase: if have.get(p) {
                    Phase::Have
                } else {
                    Phase::Missing
                },
                stream_rank: 0,
            })
            .collect();
        let mut rank: Vec<u32> = (0..count).collect();
        rng.shuffle(&mut rank);
        Picker {
            layout,
            have,
            slots,
            partials: BTreeMap::new(),
            rank,
            seeds: 0,
            stream_order: Vec::new(),
            stream_urgent: 0,
            stream_waiting: Vec::new(),
            missing_selected: 0,
            missing_bits: Bitfield::new(count),
        }
        .counted()
    }

    /// Sets `missing_selected` from scratch.
    fn counted(mut self) -> Picker {
        for (p, s) in self.slots.iter().enumerate() {
            if s.phase == Phase::Missing && s.priority != Priority::Skip {
                self.missing_selected += 1;
                self.missing_bits.set(p as u32, true);
            }
        }
        self
    }

    /// Keeps `missing_selected` right around a change of one slot.
    fn track(&mut self, piece: u32, change: impl FnOnce(&mut Slot)) {
        let Some(s) = self.slots.get_mut(piece as usize) else {
            return;
        };
        let counts = |s: &Slot| s.phase == Phase::Missing && s.priority != Priority::Skip;
        let before = counts(s);
        change(s);
        match (before, counts(s)) {
            (true, false) => {
                self.missing_selected -= 1;
                self.missing_bits.set(piece, false);
            }
            (false, true) => {
                self.missing_selected += 1;
                self.missing_bits.set(piece, true);
            }
            _ => {}
        }
    }

    /// Verified pieces.
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// The piece's phase.
    pub fn phase(&self, piece: u32) -> Phase {
        self.slots
            .get(piece as usize)
            .map_or(Phase::Missing, |s| s.phase)
    }

    /// A piece in progress, if it is one.
    pub fn partial(&self, piece: u32) -> Option<&Partial> {
        self.partials.get(&piece)
    }

    /// Pieces in progress (downloading or verifying).
    pub fn partial_count(&self) -> usize {
        self.partials.len()
    }

    /// True when we want the piece: a priority above skip, or a stream needs it.
    pub fn wanted(&self, piece: u32) -> bool {
        self.slots
            .get(piece as usize)
            .is_some_and(|s| s.priority != Priority::Skip || s.stream_rank != 0)
    }

    /// True when we want the piece and do not have it yet.
    pub fn needed(&self, piece: u32) -> bool {
        self.wanted(piece) && !self.have.get(piece)
    }

    /// The piece's priority.
    pub fn priority(&self, piece: u32) -> Priority {
        self.slots
            .get(piece as usize)
            .map_or(Priority::Skip, |s| s.priority)
    }

    /// Sets a piece's priority; returns whether "wanted" changed.
    pub fn set_priority(&mut self, piece: u32, priority: Priority) -> bool {
        let before = self.wanted(piece);
        self.track(piece, |s| s.priority = priority);
        before != self.wanted(piece)
    }

    /// How many connected peers have the piece.
    pub fn availability(&self, piece: u32) -> u32 {
        self.slots
            .get(piece as usize)
            .map_or(0, |s| s.avail + self.seeds)
    }

    /// A peer announced one piece.
    pub fn peer_has(&mut self, piece: u32) {
        if let Some(s) = self.slots.get_mut(piece as usize) {
            s.avail += 1;
        }
    }

    /// A peer with these pieces went away (or replaced its bitfield).
    pub fn peer_lost(&mut self, has: &Bitfield) {
        for p in has.ones() {
            if let Some(s) = self.slots.get_mut(p as usize) {
                s.avail = s.avail.saturating_sub(1);
            }
        }
    }

    /// A peer with every piece arrived (`true`) or left (`false`).
    pub fn seed_changed(&mut self, arrived: bool) {
        if arrived {
            self.seeds += 1;
        } else {
            self.seeds = self.seeds.saturating_sub(1);
        }
    }

    /// Blocks in a piece.
    fn block_count(&self, piece: u32) -> u32 {
        self.layout.block_count(piece)
    }

    /// The wire request for a block.
    pub fn request_for(&self, b: BlockRef) -> BlockRequest {
        let len = self
            .layout
            .block(b.piece, b.block)
            .map_or(0, |info| info.length);
        BlockRequest {
            piece: b.piece,
            offset: b.offset(),
            length: len,
        }
    }

    /// The block a wire request names, if it is exactly one of our blocks.
    pub fn block_of(&self, piece: u32, offset: u32, length: u32) -> Option<BlockRef> {
        let block = self.layout.block_index(piece, offset, length)?;
        Some(BlockRef { piece, block })
    }

    /// Adds up to `want` blocks for `peer` to `out` and marks them requested.
    ///
    /// `sooner(requesters)` answers, for an urgent block already asked of
    /// `requesters`, whether this peer would deliver it sooner; such blocks are
    /// asked again.
    pub fn pick(
        &mut self,
        peer: &PeerView<'_>,
        want: usize,
        out: &mut Vec<BlockRef>,
        sooner: &dyn Fn(&Requesters) -> bool,
    ) {
        let target = out.len() + want;
        self.pick_streams(peer, target, out, sooner);
        if self.held_for_reader(peer.key) {
            return;
        }
        if out.len() < target {
            self.pick_partials(peer, target, out);
        }
        while out.len() < target {
            let Some(piece) = self.best_new_piece(peer) else {
                break;
            };
            self.start(piece);
            self.take_free(piece, peer, target, out);
        }
        if out.len() < target && !peer.parole && self.in_endgame() {
            self.pick_endgame(peer, target, out);
        }
    }

    fn pick_partials(&mut self, peer: &PeerView<'_>, target: usize, out: &mut Vec<BlockRef>) {
        let mut candidates: Vec<(bool, Priority, u32, u32)> = self
            .partials
            .iter()
            .filter(|(&p, part)| {
                part.free > 0 && self.slots[p as usize].phase == Phase::Downloading
            })
            // Urgent pieces are shared out by `pick_streams` only.
            .filter(|(&p, _)| self.wanted(p) && peer.may_ask(p) && !self.is_urgent(p))
            .map(|(&p, part)| {
                let own = part.last_peer == Some(peer.key);
                (!own, self.slots[p as usize].priority, part.free, p)
            })
            .collect();
        // Own pieces first, then higher priority, then nearest completion.
        candidates.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.1.cmp(&a.1))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });
        for (_, _, _, piece) in candidates {
            if out.len() >= target {
                break;
            }
            self.take_free(piece, peer, target, out);
        }
    }

    fn best_new_piece(&self, peer: &PeerView<'_>) -> Option<u32> {
        if self.missing_selected == 0 {
            return None;
        }
        // Candidates: missing pieces of selected files the peer has (only its
        // allowed-fast ones while it chokes us).
        let fast: Vec<u32>;
        let candidates: Box<dyn Iterator<Item = u32> + '_> = if peer.choked {
            fast = peer
                .allowed_fast
                .iter()
                .copied()
                .filter(|&p| self.missing_bits.get(p) && peer.has.get(p))
                .collect();
            Box::new(fast.iter().copied())
        } else {
            Box::new(self.missing_bits.common_ones(peer.has))
        };
        let mut best: Option<(Priority, u32, u32, u32)> = None;
        for p in candidates {
            let s = &self.slots[p as usize];
            let key = (s.priority, s.avail, self.rank[p as usize], p);
            let better = match best {
                None => true,
                Some((bp, ba, br, _)) => (key.0, ba, br) > (bp, key.1, key.2),
            };
            if better {
                best = Some(key);
            }
        }
        best.map(|(_, _, _, p)| p)
    }

    /// True at the end of a download: every missing piece of the selected
    /// files is in progress, none has a free block, and at least one is still
    /// downloading. Pieces only a stream wants do not count: streams keep a
    /// small window that is always fully requested, and duplicating it would
    /// waste bandwidth (urgent stream blocks have their own rule).
    pub fn in_endgame(&self) -> bool {
        if self.missing_selected > 0 {
            return false;
        }
        let mut downloading = false;
        for (&p, part) in &self.partials {
            let s = &self.slots[p as usize];
            if s.priority == Priority::Skip || s.phase != Phase::Downloading {
                continue;
            }
            if part.free > 0 {
                return false;
            }
            downloading = true;
        }
        downloading
    }

    /// Pieces of selected files not started yet.
    pub fn missing_selected(&self) -> u32 {
        self.missing_selected
    }

    fn pick_endgame(&mut self, peer: &PeerView<'_>, target: usize, out: &mut Vec<BlockRef>) {
        let pieces: Vec<u32> = self
            .partials
            .keys()
            .copied()
            .filter(|&p| {
                self.slots[p as usize].phase == Phase::Downloading
                    && self.slots[p as usize].priority != Priority::Skip
                    && peer.may_ask(p)
            })
            .collect();
        // Blocks asked of one peer only go first.
        for max_existing in 1..MAX_REQUESTERS {
            for &piece in &pieces {
                let Some(part) = self.partials.get_mut(&piece) else {
                    continue;
                };
                if !part.open_to(peer) {
                    continue;
                }
                for (i, state) in part.blocks.iter_mut().enumerate() {
                    if out.len() >= target {
                        return;
                    }
                    if let BlockState::Requested(r) = state {
                        if r.len() == max_existing && !peer.owes(piece, i) && r.insert(peer.key) {
                            out.push(BlockRef {
                                piece,
                                block: i as u32,
                            });
                        }
                    }
                }
            }
        }
    }

    fn requested_by(&self, piece: u32, peer: PeerKey) -> usize {
        self.partials.get(&piece).map_or(0, |part| {
            part.blocks
                .iter()
                .filter(|b| matches!(b, BlockState::Requested(r) if r.contains(peer)))
                .count()
        })
    }

    /// Creates the piece's partial if it is missing.
    fn start(&mut self, piece: u32) {
        if self.slots[piece as usize].phase == Phase::Missing {
            self.track(piece, |s| s.phase = Phase::Downloading);
            let blocks = self.layout.block_count(piece);
            self.partials.insert(piece, Partial::new(blocks));
        }
    }

    fn take_free(
        &mut self,
        piece: u32,
        peer: &PeerView<'_>,
        target: usize,
        out: &mut Vec<BlockRef>,
    ) {
        let Some(part) = self.partials.get_mut(&piece) else {
            return;
        };
        if part.free == 0 || !part.open_to(peer) {
            return;
        }
        if peer.parole {
            part.exclusive = Some(peer.key);
        }
        for (i, state) in part.blocks.iter_mut().enumerate() {
            if out.len() >= target {
                break;
            }
            if *state == BlockState::Free && !peer.owes(piece, i) {
                let mut r = Requesters::default();
                r.insert(peer.key);
                *state = BlockState::Requested(r);
                part.free -= 1;
                part.last_peer = Some(peer.key);
                out.push(BlockRef {
                    piece,
                    block: i as u32,
                });
            }
        }
    }

    /// `peer` will not deliver `b` (cancelled, rejected, choked, timed out, gone).
    pub fn unrequest(&mut self, b: BlockRef, peer: PeerKey) {
        let Some(part) = self.partials.get_mut(&b.piece) else {
            return;
        };
        let Some(state) = part.blocks.get_mut(b.block as usize) else {
            return;
        };
        if let BlockState::Requested(r) = state {
            r.remove(peer);
            if r.is_empty() {
                *state = BlockState::Free;
                part.free += 1;
            }
        }
    }

    /// `b` arrived from `peer` at `ip`.
    pub fn arrived(&mut self, b: BlockRef, peer: PeerKey, ip: IpAddr) -> Arrival {
        if self.phase(b.piece) != Phase::Downloading {
            return Arrival::Unwanted;
        }
        let Some(part) = self.partials.get_mut(&b.piece) else {
            return Arrival::Unwanted;
        };
        let Some(state) = part.blocks.get_mut(b.block as usize) else {
            return Arrival::Unwanted;
        };
        let mut others = match state {
            BlockState::Free => {
                part.free -= 1;
                Requesters::default()
            }
            BlockState::Requested(r) => *r,
            BlockState::Received | BlockState::Written => return Arrival::Unwanted,
        };
        others.remove(peer);
        *state = BlockState::Received;
        if !part.contributors.contains(&ip) {
            part.contributors.push(ip);
        }
        Arrival::Accepted { others }
    }

    /// The write of `b` finished. Returns true when this completes its piece,
    /// which is then verifying.
    pub fn written(&mut self, b: BlockRef) -> bool {
        let Some(part) = self.partials.get_mut(&b.piece) else {
            return false;
        };
        let Some(state) = part.blocks.get_mut(b.block as usize) else {
            return false;
        };
        if *state != BlockState::Received {
            return false;
        }
        *state = BlockState::Written;
        part.written += 1;
        if part.written as usize == part.blocks.len() {
            self.slots[b.piece as usize].phase = Phase::Verifying;
            return true;
        }
        false
    }

    /// The piece hashed right: it is ours. Returns the addresses that sent
    /// blocks of it.
    pub fn verified(&mut self, piece: u32) -> Vec<IpAddr> {
        let contributors = self
            .partials
            .remove(&piece)
            .map(|p| p.contributors)
            .unwrap_or_default();
        if let Some(s) = self.slots.get_mut(piece as usize) {
            s.phase = Phase::Have;
            self.have.set(piece, true);
        }
        contributors
    }

    /// The piece hashed wrong: its data is thrown away and it is missing again.
    /// Returns the addresses that sent blocks of it.
    pub fn failed(&mut self, piece: u32) -> Vec<IpAddr> {
        let contributors = self
            .partials
            .remove(&piece)
            .map(|p| p.contributors)
            .unwrap_or_default();
        self.track(piece, |s| {
            if s.phase != Phase::Have {
                s.phase = Phase::Missing;
            }
        });
        contributors
    }

    /// Bytes of the piece already received or written (for progress).
    pub fn partial_bytes(&self, piece: u32) -> u64 {
        self.partials.get(&piece).map_or(0, |part| {
            part.blocks
                .iter()
                .enumerate()
                .filter(|(_, s)| matches!(s, BlockState::Received | BlockState::Written))
                .map(|(i, _)| {
                    self.layout
                        .block(piece, i as u32)
                        .map_or(0, |b| u64::from(b.length))
                })
                .sum()
        })
    }

    /// Blocks per piece (for the piece in question).
    pub fn blocks_in(&self, piece: u32) -> u32 {
        self.block_count(piece)
    }
}

#[cfg(test)]
mod tests;

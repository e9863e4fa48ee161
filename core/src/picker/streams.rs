//! The picker's side of streams: the pieces readers want, most pressing
//! first; the urgent ones shared out between peers and raced; and the hold on
//! peers serving a piece a reader is stopped at.

use super::*;

impl Picker {
    /// Replaces the stream order: pieces readers wait for, most pressing first;
    /// the first `urgent` are urgent. Returns the pieces whose "wanted" changed.
    pub fn set_stream_pieces(&mut self, order: Vec<u32>, urgent: usize) -> Vec<u32> {
        let touched: Vec<u32> = self
            .stream_order
            .iter()
            .chain(order.iter())
            .copied()
            .filter(|&p| p < self.layout.piece_count())
            .collect();
        let mut was_wanted: BTreeMap<u32, bool> = BTreeMap::new();
        for p in touched {
            let w = self.wanted(p);
            was_wanted.entry(p).or_insert(w);
        }
        for p in std::mem::take(&mut self.stream_order) {
            self.slots[p as usize].stream_rank = 0;
        }
        let mut kept = Vec::with_capacity(order.len());
        for p in order {
            if let Some(s) = self.slots.get_mut(p as usize) {
                if s.stream_rank == 0 {
                    s.stream_rank = kept.len() as u32 + 1;
                    kept.push(p);
                }
            }
        }
        self.stream_urgent = urgent.min(kept.len());
        self.stream_order = kept;
        was_wanted
            .into_iter()
            .filter(|&(p, was)| was != self.wanted(p))
            .map(|(p, _)| p)
            .collect()
    }

    /// Sets the urgent pieces a reader is stopped at. A peer asked for blocks
    /// of one of them is asked for nothing else until that piece is verified:
    /// other requests would share its upload (a rate-limited peer's quota, a
    /// fast peer's disk reads; seeds commonly serve requests out of order)
    /// and this machine's CPU with the blocks, the hash and the read the
    /// reader waits for. Returns true when a peer held so is free again (its
    /// queue wants filling).
    pub fn set_stream_waiting(&mut self, pieces: &[u32]) -> bool {
        let old = std::mem::take(&mut self.stream_waiting);
        let mut released = false;
        for (piece, asked) in old {
            if pieces.contains(&piece) {
                self.stream_waiting.push((piece, asked));
            } else {
                released |= !asked.is_empty();
            }
        }
        for &piece in pieces {
            if !self.stream_waiting.iter().any(|(p, _)| *p == piece) {
                self.stream_waiting.push((piece, Vec::new()));
            }
        }
        released
    }

    /// True while `peer` was asked for blocks of a piece a reader is stopped
    /// at and that piece is not verified yet.
    pub(super) fn held_for_reader(&self, peer: PeerKey) -> bool {
        self.stream_waiting
            .iter()
            .any(|(piece, asked)| asked.contains(&peer) && !self.have.get(*piece))
    }

    /// `peer` took blocks of `piece`: if a reader is stopped there, hold it.
    fn note_asked(&mut self, piece: u32, peer: PeerKey) {
        if let Some((_, asked)) = self.stream_waiting.iter_mut().find(|(p, _)| *p == piece) {
            if !asked.contains(&peer) {
                asked.push(peer);
            }
        }
    }

    /// Pieces streams want, most pressing first.
    pub fn stream_order(&self) -> &[u32] {
        &self.stream_order
    }

    /// True if the piece is one of the urgent stream pieces.
    pub fn is_urgent(&self, piece: u32) -> bool {
        self.stream_order[..self.stream_urgent].contains(&piece)
    }

    pub(super) fn pick_streams(
        &mut self,
        peer: &PeerView<'_>,
        target: usize,
        out: &mut Vec<BlockRef>,
        sooner: &dyn Fn(&Requesters) -> bool,
    ) {
        for i in 0..self.stream_order.len() {
            if out.len() >= target {
                return;
            }
            if i >= self.stream_urgent && self.held_for_reader(peer.key) {
                return;
            }
            let piece = self.stream_order[i];
            if !matches!(self.phase(piece), Phase::Missing | Phase::Downloading)
                || !peer.may_ask(piece)
            {
                continue;
            }
            self.start(piece);
            if i < self.stream_urgent {
                let mine = self.requested_by(piece, peer.key);
                let share = (peer.urgent_share.max(1) as usize).saturating_sub(mine);
                let limit = target.min(out.len() + share);
                let before = out.len();
                self.take_free(piece, peer, limit, out);
                self.take_sooner(piece, peer, limit, out, sooner);
                if out.len() > before {
                    self.note_asked(piece, peer.key);
                }
            } else {
                self.take_free(piece, peer, target, out);
            }
        }
    }

    fn take_sooner(
        &mut self,
        piece: u32,
        peer: &PeerView<'_>,
        target: usize,
        out: &mut Vec<BlockRef>,
        sooner: &dyn Fn(&Requesters) -> bool,
    ) {
        let Some(part) = self.partials.get_mut(&piece) else {
            return;
        };
        if peer.parole || !part.open_to(peer) {
            return;
        }
        // The blocks fewest peers race for come first, so that racing peers
        // spread over the piece instead of all chasing the same blocks; then
        // the last blocks in the other peers' queues, which wait longest.
        let mut candidates: Vec<(usize, usize)> = part
            .blocks
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(i, state)| match state {
                BlockState::Requested(r)
                    if !r.contains(peer.key) && !r.is_full() && !peer.owes(piece, i) =>
                {
                    Some((r.len(), i))
                }
                _ => None,
            })
            .collect();
        candidates.sort_by_key(|&(racers, _)| racers);
        for (_, i) in candidates {
            if out.len() >= target {
                break;
            }
            if let BlockState::Requested(r) = &mut part.blocks[i] {
                if sooner(r) {
                    r.insert(peer.key);
                    out.push(BlockRef {
                        piece,
                        block: i as u32,
                    });
                }
            }
        }
    }

    /// The pieces readers are stopped at, as last set.
    #[cfg(test)]
    pub fn stream_waiting(&self) -> Vec<u32> {
        self.stream_waiting.iter().map(|(p, _)| *p).collect()
    }
}

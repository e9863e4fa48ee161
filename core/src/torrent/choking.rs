//! Upload slots: the torrent's side of choking. Ranking lives in
//! [`crate::choker`]; this module gathers candidates, applies the result, and
//! keeps the rule that at most `upload_slots` regular peers plus one optimistic
//! peer are unchoked at any moment.

use crate::choker::{pick_optimistic, regular_slots, OptimisticCandidate, SlotCandidate};
use crate::time::Time;

use super::{PeerKey, Torrent};

impl Torrent {
    /// Interested peers with the rate that ranks them.
    fn slot_candidates(&mut self, now: Time) -> Vec<SlotCandidate> {
        let seeding = self.needed == 0;
        let mut out = Vec::new();
        for key in self.keys() {
            let p = self.peer(key).expect("listed");
            if !p.handshake_done || !p.peer_interested {
                continue;
            }
            let rate = if seeding {
                p.up.rate(now)
            } else {
                p.down.rate(now)
            };
            out.push(SlotCandidate {
                key,
                rate,
                tiebreak: 0,
            });
        }
        for c in &mut out {
            c.tiebreak = self.rng.next_u64();
        }
        out
    }

    /// Every rechoke interval: regular slots to the best-ranked interested
    /// peers; the optimistic peer keeps its slot until its interval ends.
    pub(super) fn rechoke(&mut self, now: Time) {
        let mut candidates = self.slot_candidates(now);
        let optimistic = self.current_optimistic();
        candidates.retain(|c| Some(c.key) != optimistic);
        let regular = regular_slots(&mut candidates, self.cfg.upload_slots);
        for key in self.keys() {
            let keep = regular.contains(&key) || Some(key) == optimistic;
            self.set_choking(now, key, !keep);
        }
        if optimistic.is_none() {
            self.rotate_optimistic(now);
        }
        self.flush_transmits();
    }

    fn current_optimistic(&self) -> Option<PeerKey> {
        self.keys()
            .into_iter()
            .find(|k| self.peer(*k).is_some_and(|p| p.optimistic))
    }

    /// Moves the optimistic unchoke to another interested, choked peer.
    pub(super) fn rotate_optimistic(&mut self, now: Time) {
        let old = self.current_optimistic();
        let candidates: Vec<OptimisticCandidate> = self
            .keys()
            .into_iter()
            .filter_map(|key| {
                let p = self.peer(key)?;
                (p.handshake_done && p.peer_interested && p.am_choking).then_some(
                    OptimisticCandidate {
                        key,
                        connected_at: p.connected_at,
                        last_optimistic: p.last_optimistic,
                    },
                )
            })
            .collect();
        let Some(new) = pick_optimistic(&candidates, now, &mut self.rng) else {
            return;
        };
        if let Some(old) = old {
            self.set_choking(now, old, true);
        }
        self.set_choking(now, new, false);
        if let Some(p) = self.peer_mut(new) {
            p.optimistic = true;
            p.last_optimistic = Some(now);
        }
        self.flush_transmits();
    }

    /// Gives free regular slots to waiting interested peers at once, rather
    /// than at the next rechoke, and fills an empty optimistic slot.
    pub(super) fn fill_free_slots(&mut self, now: Time) {
        let regular = self
            .peers
            .iter()
            .filter(|(_, p)| p.handshake_done && !p.am_choking && !p.optimistic)
            .count();
        let free = self.cfg.upload_slots.saturating_sub(regular);
        if free > 0 {
            let mut candidates = self.slot_candidates(now);
            candidates.retain(|c| self.peer(c.key).is_some_and(|p| p.am_choking));
            for key in regular_slots(&mut candidates, free) {
                self.set_choking(now, key, false);
            }
        }
        if self.current_optimistic().is_none() {
            self.rotate_optimistic(now);
        }
    }
}

//! Interest: whether we want something a peer has. Kept as a count per peer
//! (pieces it has that we need) so a `have`, a verified piece or a priority
//! change costs one step per peer rather than a scan of the bitfield.

use crate::time::Time;
use crate::wire::Message;

use super::output::Event;
use super::{PeerKey, Torrent};

impl Torrent {
    /// Sends `interested` / `not interested` if our interest in `key` changed,
    /// and asks for blocks when we may.
    pub(super) fn update_interest(&mut self, now: Time, key: PeerKey) {
        let (needed, missing, stay) = (self.needed, self.missing(), self.cfg.stay_interested);
        let Some(p) = self.peer_mut(key) else { return };
        if !p.handshake_done {
            return;
        }
        let want = p.is_interesting(needed, missing, stay);
        if want != p.am_interested {
            p.am_interested = want;
            let msg = if want {
                Message::Interested
            } else {
                Message::NotInterested
            };
            p.push(now, &msg);
        }
        if want {
            self.fill_requests(now, key);
        }
    }

    /// The pieces in `changed` switched between wanted and not wanted: adjust
    /// the needed count and every peer's interest count.
    pub(super) fn wanted_changed(&mut self, changed: &[u32]) {
        for &piece in changed {
            if self.picker.have().get(piece) {
                continue;
            }
            let now_needed = self.picker.needed(piece);
            if now_needed {
                self.needed += 1;
            } else {
                self.needed -= 1;
            }
            for (_, p) in self.peers.iter_mut() {
                if !p.is_seed && p.has.get(piece) {
                    if now_needed {
                        p.interesting += 1;
                    } else {
                        p.interesting -= 1;
                    }
                }
            }
        }
    }

    /// A piece was verified (before the picker records it): lacked no more,
    /// and if it was needed, needed no more.
    pub(super) fn piece_done(&mut self, piece: u32) {
        let wanted = self.picker.wanted(piece);
        if wanted {
            self.needed -= 1;
        }
        for (_, p) in self.peers.iter_mut() {
            if !p.is_seed && p.has.get(piece) {
                p.lacking -= 1;
                if wanted {
                    p.interesting -= 1;
                }
            }
        }
    }

    /// After wanted pieces changed: interest, finished state, requests.
    pub(super) fn after_wanted_change(&mut self, now: Time) {
        for key in self.keys() {
            self.update_interest(now, key);
        }
        self.check_finished();
        self.refill_all(now);
        self.flush_transmits();
    }

    /// Emits `Finished` when the last wanted piece is in, and re-arms it when
    /// more is wanted later.
    pub(super) fn check_finished(&mut self) {
        if self.needed == 0 && !self.finished_sent {
            self.finished_sent = true;
            self.event(Event::Finished);
        } else if self.needed > 0 {
            self.finished_sent = false;
        }
    }
}

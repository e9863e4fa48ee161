//! Downloading: keeping each peer's request queue full (at a depth that follows
//! its measured rate), taking blocks in, cancelling what others delivered first,
//! and taking requests back from peers that choke us, reject them, or sit on
//! them.

use crate::layout::BLOCK_SIZE;
use crate::picker::{Arrival, BlockRef, PeerView, Requesters};
use crate::time::Time;
use crate::wire::{BlockRequest, Message};

use super::output::{CloseReason, DiskJob, Output};
use super::peer::Outstanding;
use super::{PeerKey, Torrent};

/// Fewest requests kept outstanding at a peer that is not snubbed.
const MIN_DEPTH: u32 = 2;

impl Torrent {
    /// Asks `key` for as many blocks as its queue has room for.
    pub(super) fn fill_requests(&mut self, now: Time, key: PeerKey) {
        if self.stopped.is_some() {
            return;
        }
        let needed = self.needed;
        let urgent_share = self.urgent_share(key);
        let Some(p) = self.peer(key) else { return };
        if !p.handshake_done || !p.am_interested && p.allowed_fast_in.is_empty() {
            return;
        }
        if p.peer_choking && p.allowed_fast_in.is_empty() || !p.is_interesting(needed, 0, false) {
            return;
        }
        // A peer that has the urgent piece may take its share of it at once,
        // whatever its depth: a reader waits for that piece, and slow start
        // would fetch it over several round trips.
        let share = if urgent_share == u32::MAX {
            0
        } else {
            urgent_share
        };
        let limit = if p.snubbed {
            1
        } else {
            p.depth
                .max(share)
                .min(p.reqq())
                .min(self.cfg.max_outgoing_requests)
                .max(1)
        };
        let live = p.live_requests();
        // Cancelled requests still count against the peer's `reqq`, until a
        // request timeout says it is not answering them.
        let timeout = self.cfg.request_timeout;
        let in_queue = p
            .outgoing
            .iter()
            .filter(|o| o.cancelled.is_none_or(|at| now - at < timeout))
            .count();
        let room = (limit as usize)
            .saturating_sub(live)
            .min((p.reqq() as usize).saturating_sub(in_queue));
        // Top up in batches: picking one block at a time after every arrival
        // costs a scan per block for nothing.
        if room == 0 || live > 0 && room < (limit as usize / 4).max(1) {
            return;
        }
        let eta_here = self.eta_if_asked(key, now);
        let mut picked = std::mem::take(&mut self.pick_buf);
        picked.clear();
        {
            let peers = &self.peers;
            let p = &peers[key.slot as usize];
            // Never ask a Fast peer again for a block it still owes an answer
            // for (we cancelled it): both answers would come, one wasted.
            let owed: Vec<BlockRef> = p
                .outgoing
                .iter()
                .filter(|o| !o.is_live())
                .map(|o| o.block)
                .collect();
            let parole = self.trust.get(&p.addr.ip()).is_some_and(|t| t.parole);
            let view = PeerView {
                parole,
                owed: &owed,
                key,
                has: &p.has,
                choked: p.peer_choking,
                allowed_fast: &p.allowed_fast_in,
                urgent_share,
            };
            // An urgent block already asked of others is asked again here when
            // every other requester would take over twice as long.
            let sooner = |r: &Requesters| {
                r.as_slice().iter().all(|other| {
                    peers
                        .get(other.slot as usize)
                        .filter(|o| o.gen == other.gen)
                        .is_none_or(|o| eta(o, now) > eta_here.saturating_mul(2))
                })
            };
            self.picker.pick(&view, room, &mut picked, &sooner);
        }
        let p = self.peer_mut(key).expect("checked above");
        if p.live_requests() == 0 && !picked.is_empty() {
            p.last_block = now;
        }
        for &block in &picked {
            let req = self.picker.request_for(block);
            let p = self
                .peers
                .get_mut(key.slot as usize)
                .expect("checked above");
            p.outgoing.push_back(Outstanding {
                block,
                length: req.length,
                sent_at: now,
                cancelled: None,
            });
            p.push(now, &Message::Request(req));
        }
        self.pick_buf = picked;
    }

    /// Fills every peer's queue (after blocks were freed).
    pub(super) fn refill_all(&mut self, now: Time) {
        for key in self.keys() {
            self.fill_requests(now, key);
        }
    }

    /// How many blocks of an urgent piece one peer should take: the piece
    /// spread evenly over the unchoked peers that have it, at most
    /// [`Config::urgent_sources`](super::Config::urgent_sources) of them (the
    /// first peers to ask take it).
    fn urgent_share(&self, key: PeerKey) -> u32 {
        let Some(&piece) = self.picker.stream_order().first() else {
            return u32::MAX;
        };
        if !self.peer(key).is_some_and(|p| p.has.get(piece)) {
            return u32::MAX;
        }
        // Peers that have it and will serve us soon: unchoked, or asked to be.
        let sources = self
            .peers
            .iter()
            .filter(|(_, p)| {
                p.handshake_done
                    && !p.snubbed
                    && p.has.get(piece)
                    && (!p.peer_choking || p.am_interested)
            })
            .count()
            .clamp(1, self.cfg.urgent_sources.max(1) as usize) as u32;
        self.picker.blocks_in(piece).div_ceil(sources).max(1)
    }

    /// When a block asked of `key` now would arrive, in microseconds from now.
    fn eta_if_asked(&self, key: PeerKey, now: Time) -> u64 {
        self.peer(key).map_or(u64::MAX, |p| {
            let rate = p.down.rate(now).max(1);
            (p.queued_bytes() + u64::from(BLOCK_SIZE)) * 1_000_000 / rate
        })
    }

    /// A block arrived.
    pub(super) fn on_block(
        &mut self,
        now: Time,
        key: PeerKey,
        piece: u32,
        offset: u32,
        data: &[u8],
    ) {
        let len = data.len() as u32;
        let Some(p) = self.peer_mut(key) else { return };
        let pos = p
            .outgoing
            .iter()
            .position(|o| o.block.piece == piece && o.block.offset() == offset && o.length == len);
        let Some(pos) = pos else {
            if p.fast {
                self.close(
                    now,
                    key,
                    CloseReason::Protocol("block that was not requested".into()),
                );
            } else {
                // A block we cancelled may cross our cancel on the wire.
                self.wasted += u64::from(len);
            }
            return;
        };
        let o = p.outgoing.remove(pos).expect("position found");
        p.down.record(now, u64::from(len));
        p.last_block = now;
        p.snubbed = false;
        let ip = p.addr.ip();
        self.down_rate.record(now, u64::from(len));
        self.adapt_depth(now, key);
        match self.picker.arrived(o.block, key, ip) {
            Arrival::Accepted { others } => {
                self.downloaded += u64::from(len);
                self.outputs.push_back(Output::Disk(DiskJob::Write {
                    piece,
                    offset,
                    data: data.to_vec(),
                }));
                for &other in others.as_slice() {
                    self.cancel_at(now, other, o.block);
                }
            }
            Arrival::Unwanted => self.wasted += u64::from(len),
        }
        self.fill_requests(now, key);
    }

    /// Sets a peer's queue depth from its rate: enough requests to cover
    /// `request_queue_time` of transfer.
    fn adapt_depth(&mut self, now: Time, key: PeerKey) {
        let max = self.cfg.max_outgoing_requests;
        let queue_time = self.cfg.request_queue_time;
        let initial = self.cfg.initial_request_depth;
        let Some(p) = self.peer_mut(key) else { return };
        let rate = p.down.rate(now);
        let by_rate =
            (u128::from(rate) * queue_time.as_micros() / 1_000_000 / u128::from(BLOCK_SIZE)) as u32;
        // The initial depth is a floor only until the rate is known: a slow
        // peer (say one rate-limited to a few KiB/s) then keeps a queue worth
        // `request_queue_time` of its rate, so what a reader needs next is not
        // stuck behind seconds of read-ahead at that peer.
        let grown = if p.slow_start {
            p.depth.saturating_add(1).max(initial)
        } else {
            0
        };
        p.depth = by_rate.max(grown).clamp(MIN_DEPTH, max);
    }

    /// Once a second: a peer in slow start whose rate grew less than 10% in
    /// the last second has found its depth; from then on its rate sets it.
    pub(super) fn check_slow_start(&mut self, now: Time) {
        for (_, p) in self.peers.iter_mut() {
            if !p.slow_start || p.live_requests() == 0 {
                continue;
            }
            let rate = p.down.rate(now);
            if rate > 0 && rate <= p.slow_start_rate + p.slow_start_rate / 10 {
                p.slow_start = false;
            }
            p.slow_start_rate = rate;
        }
    }

    /// Withdraws our request for `block` at `key` (it arrived elsewhere, or
    /// we re-aim).
    pub(super) fn cancel_at(&mut self, now: Time, key: PeerKey, block: BlockRef) {
        let Some(p) = self.peer_mut(key) else { return };
        let Some(pos) = p
            .outgoing
            .iter()
            .position(|o| o.block == block && o.is_live())
        else {
            return;
        };
        let req = BlockRequest {
            piece: block.piece,
            offset: block.offset(),
            length: p.outgoing[pos].length,
        };
        if p.fast {
            // A Fast peer still answers with the block or a reject.
            p.outgoing[pos].cancelled = Some(now);
        } else {
            p.outgoing.remove(pos);
        }
        p.push(now, &Message::Cancel(req));
        self.picker.unrequest(block, key);
    }

    /// The peer rejected one of our requests.
    pub(super) fn on_reject(&mut self, now: Time, key: PeerKey, r: BlockRequest) {
        let Some(p) = self.peer_mut(key) else { return };
        let Some(pos) = p.outgoing.iter().position(|o| {
            o.block.piece == r.piece && o.block.offset() == r.offset && o.length == r.length
        }) else {
            // Some clients reject requests twice or after a choke; harmless.
            return;
        };
        let o = p.outgoing.remove(pos).expect("position found");
        if o.is_live() {
            self.picker.unrequest(o.block, key);
            // Another peer may take it now.
            self.refill_all(now);
        } else {
            // The answer to a cancelled request: this peer owes nothing for
            // that block any more and may be asked for it again.
            self.fill_requests(now, key);
        }
    }

    /// The peer choked us: without the Fast extension our requests are void;
    /// with it the peer still answers each, but only allowed-fast ones with data.
    pub(super) fn on_choked(&mut self, now: Time, key: PeerKey) {
        let Some(p) = self.peer_mut(key) else { return };
        p.peer_choking = true;
        let fast = p.fast;
        let allowed = p.allowed_fast_in.clone();
        let mut released = Vec::new();
        p.outgoing.retain_mut(|o| {
            if !o.is_live() {
                return fast;
            }
            if fast && allowed.contains(&o.block.piece) {
                return true;
            }
            released.push(o.block);
            if fast {
                o.cancelled = Some(now);
                true
            } else {
                false
            }
        });
        for b in released.iter() {
            self.picker.unrequest(*b, key);
        }
        if !released.is_empty() {
            self.refill_all(now);
        }
    }

    pub(super) fn on_unchoked(&mut self, now: Time, key: PeerKey) {
        let Some(p) = self.peer_mut(key) else { return };
        p.peer_choking = false;
        p.last_block = now;
        self.fill_requests(now, key);
    }

    /// Peers that sat on our requests for a request timeout are snubbed: their
    /// requests go back to the picker for others to take.
    pub(super) fn check_request_timeouts(&mut self, now: Time) {
        let timeout = self.cfg.request_timeout;
        let mut freed = false;
        for key in self.keys() {
            let p = self.peer(key).expect("listed");
            if p.live_requests() == 0 || now - p.last_block < timeout {
                continue;
            }
            let blocks: Vec<BlockRef> = p
                .outgoing
                .iter()
                .filter(|o| o.is_live())
                .map(|o| o.block)
                .collect();
            for b in blocks {
                self.cancel_at(now, key, b);
            }
            let p = self.peer_mut(key).expect("listed");
            p.snubbed = true;
            p.slow_start = false;
            p.depth = MIN_DEPTH;
            p.last_block = now;
            freed = true;
        }
        // A Fast peer owes an answer to each cancelled request. One that sits
        // on them stops counting against its queue after a timeout (see
        // `fill_requests`), but stays owed: asking for the block again would
        // make its late answer ambiguous. Too many unanswered: it is broken.
        let max_stale = self.cfg.max_outgoing_requests as usize;
        for key in self.keys() {
            let p = self.peer(key).expect("listed");
            let stale = p
                .outgoing
                .iter()
                .filter(|o| o.cancelled.is_some_and(|at| now - at >= timeout))
                .count();
            if stale > max_stale {
                self.close(
                    now,
                    key,
                    CloseReason::Protocol(format!("{stale} cancelled requests never answered")),
                );
            }
        }
        if freed {
            self.refill_all(now);
        }
    }

    /// Cancels requests at every peer for blocks of pieces that are no longer
    /// wanted or that streams do not need first, keeping the `keep` oldest at
    /// each peer (they are probably on the wire already). Used when a stream
    /// seeks: the old read-ahead must not delay the new position.
    pub(super) fn reaim_requests(&mut self, now: Time, keep: usize) {
        for key in self.keys() {
            let Some(p) = self.peer(key) else { continue };
            let doomed: Vec<BlockRef> = p
                .outgoing
                .iter()
                .filter(|o| o.is_live())
                .skip(keep)
                .map(|o| o.block)
                .filter(|b| {
                    !self.picker.wanted(b.piece) || !self.picker.stream_order().contains(&b.piece)
                })
                .collect();
            for b in doomed {
                self.cancel_at(now, key, b);
            }
        }
        for key in self.keys_from_random() {
            self.fill_requests(now, key);
        }
    }

    /// Every peer, in connection order from a random one. Used where the
    /// first peers to ask take the shares of a new urgent piece: which peers
    /// share it and which race them should not be fixed by the order they
    /// connected (rate-limited seeds keep their tick phases, so a fixed
    /// pairing would make every read equally lucky or unlucky).
    pub(super) fn keys_from_random(&mut self) -> Vec<PeerKey> {
        let mut keys = self.keys();
        if !keys.is_empty() {
            let first = self.rng.index(keys.len());
            keys.rotate_left(first);
        }
        keys
    }
}

/// When the last block queued at `p` would arrive, in microseconds from now.
fn eta(p: &super::peer::Peer, now: Time) -> u64 {
    let rate = p.down.rate(now).max(1);
    p.queued_bytes().saturating_mul(1_000_000) / rate
}

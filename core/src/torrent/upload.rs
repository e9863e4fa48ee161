//! Uploading: a peer's requests are checked, queued (up to the `reqq` we
//! announced), read from storage a few at a time while its send buffer has room,
//! and framed as `piece` messages straight into that buffer.

use core::net::IpAddr;

use crate::id::InfoHash;
use crate::time::Time;
use crate::wire::{BlockRequest, Message};

use super::output::{CloseReason, DiskError, DiskJob, Output, ReadId};
use super::peer::PendingRead;
use super::{PeerKey, Torrent};

/// Largest block we serve. BEP 3 clients ask for 16 KiB; some ask for more.
const MAX_SERVED_BLOCK: u32 = 128 * 1024;
/// Most reads in flight for one peer.
const MAX_READS_PER_PEER: usize = 16;
/// Smallest send window per peer, whatever its rate.
const MIN_SEND_WINDOW: usize = 64 * 1024;

impl Torrent {
    /// The peer became interested in us or lost interest.
    pub(super) fn on_peer_interest(&mut self, now: Time, key: PeerKey, interested: bool) {
        let Some(p) = self.peer_mut(key) else { return };
        if p.peer_interested == interested {
            return;
        }
        p.peer_interested = interested;
        let unchoked = !p.am_choking;
        if interested {
            self.fill_free_slots(now);
        } else if unchoked {
            // Its slot is better used by someone who wants data.
            self.set_choking(now, key, true);
            self.fill_free_slots(now);
        }
    }

    pub(super) fn on_request(&mut self, now: Time, key: PeerKey, r: BlockRequest) {
        let max_queue = self.cfg.max_incoming_requests as usize;
        let valid = r.piece < self.layout.piece_count()
            && r.length > 0
            && r.length <= MAX_SERVED_BLOCK
            && u64::from(r.offset) + u64::from(r.length)
                <= u64::from(self.layout.piece_len(r.piece));
        if !valid {
            self.close(
                now,
                key,
                CloseReason::Protocol(format!("bad request {r:?}")),
            );
            return;
        }
        let have = self.picker.have().get(r.piece);
        let k = self.cfg.allowed_fast_count;
        let Some(p) = self.peer_mut(key) else { return };
        // Allowed-fast pieces are for starting peers only (BEP 6): once it has
        // k pieces it can trade like everyone else.
        let allowed = !p.am_choking || p.allowed_fast_out.contains(&r.piece) && p.has.count() < k;
        let queued = p.incoming.len() + p.reads.len();
        if !have || !allowed || queued >= max_queue {
            if p.fast {
                p.push(now, &Message::Reject(r));
            }
            return;
        }
        // A repeated request is served again: under BEP 6 every request gets
        // its own answer (the first may have been cancelled meanwhile).
        p.incoming.push_back(r);
        self.schedule_reads(now, key);
    }

    pub(super) fn on_cancel(&mut self, now: Time, key: PeerKey, r: BlockRequest) {
        let Some(p) = self.peer_mut(key) else { return };
        if let Some(pos) = p.incoming.iter().position(|x| *x == r) {
            p.incoming.remove(pos);
            if p.fast {
                // BEP 6: every request gets exactly one answer.
                p.push(now, &Message::Reject(r));
            }
        }
        // A read already in flight completes and is sent; that is an answer too.
    }

    /// Issues reads for queued requests while the peer's send buffer and read
    /// budget have room.
    pub(super) fn schedule_reads(&mut self, now: Time, key: PeerKey) {
        let max_buffer = self.cfg.max_send_buffer;
        loop {
            let next_id = ReadId(self.next_read);
            let Some(p) = self.peer_mut(key) else { return };
            let in_flight: usize = p.reads.iter().map(|r| r.request.length as usize).sum();
            // About 100 ms of data at the rate the peer takes it: more only
            // delays the blocks it asks for next (after a seek, say).
            let window = ((p.up.rate(now) / 10) as usize)
                .clamp(MIN_SEND_WINDOW, max_buffer.max(MIN_SEND_WINDOW));
            if p.reads.len() >= MAX_READS_PER_PEER || p.send.len() + in_flight >= window {
                return;
            }
            let Some(request) = p.incoming.pop_front() else {
                return;
            };
            p.reads.push(PendingRead {
                id: next_id,
                request,
                void: false,
            });
            self.next_read += 1;
            self.reads.insert(next_id, key);
            self.outputs.push_back(Output::Disk(DiskJob::Read {
                id: next_id,
                piece: request.piece,
                offset: request.offset,
                length: request.length,
            }));
        }
    }

    /// A read job finished: frame the block for its peer.
    pub fn handle_read(&mut self, now: Time, id: ReadId, result: Result<&[u8], DiskError>) {
        let Some(key) = self.reads.remove(&id) else {
            return;
        };
        if self.stopped.is_some() {
            return;
        }
        let data = match result {
            Ok(data) => data,
            Err(e) => {
                self.stop(now, e);
                return;
            }
        };
        let Some(p) = self.peer_mut(key) else { return };
        let Some(pos) = p.reads.iter().position(|r| r.id == id) else {
            return;
        };
        let read = p.reads.swap_remove(pos);
        if read.void {
            self.schedule_reads(now, key);
            self.flush_transmits();
            return;
        }
        if data.len() != read.request.length as usize {
            self.stop(
                now,
                DiskError(format!(
                    "read of piece {} returned {} bytes instead of {}",
                    read.request.piece,
                    data.len(),
                    read.request.length
                )),
            );
            return;
        }
        let header =
            Message::piece_header(read.request.piece, read.request.offset, data.len() as u32)
                .expect("block length fits a frame");
        p.send.push_raw(&header);
        p.send.push_raw(data);
        p.last_sent = now;
        p.up.record(now, data.len() as u64);
        self.uploaded += data.len() as u64;
        self.up_rate.record(now, data.len() as u64);
        self.schedule_reads(now, key);
        self.flush_transmits();
    }

    /// The driver sent `n` bytes of `peer`'s buffer.
    pub fn handle_sent(&mut self, now: Time, peer: PeerKey, n: usize) {
        let Some(p) = self.peer_mut(peer) else { return };
        p.send.consume(n);
        if p.send.is_empty() {
            p.transmit_signalled = false;
        }
        self.schedule_reads(now, peer);
        self.flush_transmits();
    }

    /// Chokes or unchokes `key`, with what that means for its queued requests.
    pub(super) fn set_choking(&mut self, now: Time, key: PeerKey, choke: bool) {
        let Some(p) = self.peer_mut(key) else { return };
        if p.am_choking == choke {
            return;
        }
        p.am_choking = choke;
        if !choke {
            p.push(now, &Message::Unchoke);
            return;
        }
        p.optimistic = false;
        p.push(now, &Message::Choke);
        let allowed = p.allowed_fast_out.clone();
        if p.fast {
            // Choke first, then reject, so the peer does not re-request (BEP 6).
            let mut rejected = Vec::new();
            p.incoming.retain(|r| {
                let keep = allowed.contains(&r.piece);
                if !keep {
                    rejected.push(*r);
                }
                keep
            });
            for r in rejected {
                p.push(now, &Message::Reject(r));
            }
        } else {
            p.incoming.clear();
            for r in &mut p.reads {
                r.void = true;
            }
        }
    }

    /// Sends the BEP 6 allowed-fast set to a Fast peer that is just starting.
    pub(super) fn grant_allowed_fast(&mut self, now: Time, key: PeerKey) {
        let k = self.cfg.allowed_fast_count;
        let pieces = self.layout.piece_count();
        let info_hash = self.info_hash;
        let Some(p) = self.peer_mut(key) else { return };
        if !p.fast || k == 0 || p.has.count() >= k || !p.allowed_fast_out.is_empty() {
            return;
        }
        let IpAddr::V4(v4) = p.addr.ip() else {
            return;
        };
        let set = allowed_fast_set(u32::from(v4), &info_hash, pieces, k);
        for &piece in &set {
            p.push(now, &Message::AllowedFast { piece });
        }
        p.allowed_fast_out = set;
    }
}

/// BEP 6's canonical allowed-fast set for a peer at `ip` (IPv4, host order):
/// `k` distinct pieces (fewer if the torrent has fewer).
pub fn allowed_fast_set(ip: u32, info_hash: &InfoHash, pieces: u32, k: u32) -> Vec<u32> {
    let k = k.min(pieces) as usize;
    let mut set: Vec<u32> = Vec::with_capacity(k);
    if k == 0 {
        return set;
    }
    let mut x = Vec::with_capacity(24);
    x.extend_from_slice(&(ip & 0xFFFF_FF00).to_be_bytes());
    x.extend_from_slice(&info_hash.0);
    while set.len() < k {
        let digest = sha1_smol::Sha1::from(&x).digest().bytes();
        for chunk in digest.chunks_exact(4) {
            if set.len() >= k {
                break;
            }
            let y = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let index = y % pieces;
            if !set.contains(&index) {
                set.push(index);
            }
        }
        x = digest.to_vec();
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors published with BEP 6 (80.4.4.200, info-hash of 0xaa).
    #[test]
    fn bep6_vectors() {
        let ip = u32::from_be_bytes([80, 4, 4, 200]);
        let ih = InfoHash([0xaa; 20]);
        assert_eq!(
            allowed_fast_set(ip, &ih, 1313, 7),
            vec![1059, 431, 808, 1217, 287, 376, 1188]
        );
        assert_eq!(
            allowed_fast_set(ip, &ih, 1313, 9),
            vec![1059, 431, 808, 1217, 287, 376, 1188, 353, 508]
        );
    }

    #[test]
    fn small_torrents_do_not_loop() {
        let ih = InfoHash([1; 20]);
        let mut set = allowed_fast_set(0x7f00_0001, &ih, 3, 10);
        set.sort_unstable();
        assert_eq!(set, vec![0, 1, 2]);
        assert!(allowed_fast_set(1, &ih, 0, 10).is_empty());
    }
}

//! From written blocks to verified pieces: write completions, hash results and
//! what they mean. A piece is ours only when its SHA-1 matches; a piece that
//! fails is thrown away and every address that sent part of it gets a strike.
//! A storage error stops the torrent.

use crate::time::Time;
use crate::wire::Message;

use super::output::{CloseReason, DiskError, DiskJob, Event, Output};
use super::Torrent;

impl Torrent {
    /// A write job finished.
    pub fn handle_write(
        &mut self,
        now: Time,
        piece: u32,
        offset: u32,
        result: Result<(), DiskError>,
    ) {
        if self.stopped.is_some() {
            return;
        }
        if let Err(e) = result {
            self.stop(now, e);
            return;
        }
        let Some(block) = self
            .picker
            .block_of(piece, offset, self.block_len(piece, offset))
        else {
            return;
        };
        if self.picker.written(block) {
            self.outputs
                .push_back(Output::Disk(DiskJob::Hash { piece }));
        }
    }

    fn block_len(&self, piece: u32, offset: u32) -> u32 {
        self.layout
            .block(piece, offset / crate::layout::BLOCK_SIZE)
            .map_or(0, |b| b.length)
    }

    /// A hash job finished: `result` is the SHA-1 of the piece as stored.
    pub fn handle_hash(&mut self, now: Time, piece: u32, result: Result<[u8; 20], DiskError>) {
        if self.stopped.is_some() || self.picker.phase(piece) != crate::picker::Phase::Verifying {
            return;
        }
        let digest = match result {
            Ok(d) => d,
            Err(e) => {
                self.stop(now, e);
                return;
            }
        };
        let expected = self.info.pieces.get(piece as usize).copied();
        if Some(digest) == expected {
            self.piece_verified(now, piece);
        } else {
            self.piece_failed(now, piece);
        }
        self.flush_transmits();
    }

    fn piece_verified(&mut self, now: Time, piece: u32) {
        self.piece_done(piece);
        let contributors = self.picker.verified(piece);
        let alone = contributors.len() == 1;
        for ip in contributors {
            let t = self.trust.entry(ip).or_default();
            t.good += 1;
            if alone {
                // A whole piece of its own verified: off parole.
                t.parole = false;
            }
        }
        self.event(Event::PieceVerified { piece });
        for key in self.keys() {
            let Some(p) = self.peer_mut(key) else {
                continue;
            };
            if p.handshake_done && !p.has.get(piece) {
                p.push(now, &Message::Have { piece });
            }
        }
        for file in self.layout.piece_files(piece) {
            if !self.files_done[file] && self.file_complete(file) {
                self.files_done[file] = true;
                if !self.info.files[file].padding {
                    self.event(Event::FileCompleted { file });
                }
            }
        }
        self.streams_piece_verified(now, piece);
        self.check_finished();
        if self.is_complete() && !self.complete_sent {
            self.complete_sent = true;
            self.event(Event::Complete);
            // Seeds have nothing to give a seed.
            for key in self.keys() {
                if self.peer(key).is_some_and(|p| p.is_seed) {
                    self.close(now, key, CloseReason::BothSeeds);
                }
            }
        }
        for key in self.keys() {
            self.update_interest(now, key);
        }
    }

    fn piece_failed(&mut self, now: Time, piece: u32) {
        let contributors = self.picker.failed(piece);
        self.event(Event::HashFailed {
            piece,
            contributors: contributors.clone(),
        });
        // A sole source is to blame. When several peers shared the piece,
        // each gets a strike and goes on parole: it downloads whole pieces
        // alone until one verifies, so a liar soon fails alone and is banned
        // while honest peers clear themselves. A peer that keeps failing
        // without ever contributing to a good piece is banned on strikes.
        // Pieces started before a peer went on parole say nothing new about
        // it, so a peer already on parole takes no strike for a shared one.
        let alone = contributors.len() == 1;
        for ip in contributors {
            let t = self.trust.entry(ip).or_default();
            if alone || !t.parole {
                t.strikes = t.strikes.saturating_add(1);
            }
            t.parole = true;
            let t = *t;
            if alone || t.strikes >= self.cfg.max_strikes && t.good == 0 {
                self.ban_with(now, ip, t.strikes);
            }
        }
        self.refill_all(now);
    }

    /// True when every piece overlapping `file` is verified.
    pub(super) fn file_complete(&self, file: usize) -> bool {
        if self.layout.file_length(file) == 0 {
            return true;
        }
        self.layout
            .file_pieces(file)
            .all(|p| self.picker.have().get(p))
    }

    /// Stops the torrent on a storage error.
    pub(super) fn stop(&mut self, now: Time, error: DiskError) {
        if self.stopped.is_some() {
            return;
        }
        // Set first, so closing peers does not issue new requests.
        self.stopped = Some(error.clone());
        for key in self.keys() {
            self.close(now, key, CloseReason::TorrentStopped);
        }
        self.event(Event::Stopped { error });
    }
}

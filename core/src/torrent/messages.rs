//! Bytes from a peer: the handshake, then messages, each checked against the
//! state of the connection and dispatched to the module that owns it.
//!
//! A peer that breaks the protocol is closed with a reason; nothing it sends
//! can panic the engine.

use core::net::SocketAddr;

use crate::bitfield::Bitfield;
use crate::ext::ExtHandshake;
use crate::time::Time;
use crate::wire::{Handshake, Message, WireError};

use super::output::{CloseReason, Event};
use super::{PeerKey, Torrent};

/// Most allowed-fast pieces remembered from one peer.
const MAX_ALLOWED_FAST_IN: usize = 64;

fn protocol(why: impl Into<String>) -> CloseReason {
    CloseReason::Protocol(why.into())
}

impl Torrent {
    /// Bytes arrived from `peer`, in any split.
    pub fn handle_data(&mut self, now: Time, peer: PeerKey, bytes: &[u8]) {
        let Some(p) = self.peer_mut(peer) else {
            return;
        };
        let Some(mut dec) = p.decoder.take() else {
            return;
        };
        p.last_recv = now;
        let mut rest = bytes;
        let alive = loop {
            let taken = dec.feed(rest);
            rest = &rest[taken..];
            if !self.decode_all(now, peer, &mut dec) {
                break false;
            }
            if rest.is_empty() {
                break true;
            }
        };
        if alive {
            if let Some(p) = self.peer_mut(peer) {
                p.decoder = Some(dec);
            }
        }
        self.flush_transmits();
    }

    /// Like [`handle_data`](Torrent::handle_data), but lends `read` (a socket
    /// read, typically) up to `max` bytes of the peer's own receive buffer, so
    /// the bytes are not copied through another buffer first.
    ///
    /// Returns what `read` returned: `Ok(0)` means end of stream. `Ok(0)` is
    /// also returned, without calling `read`, for an unknown or closed peer.
    pub fn handle_read_with<E>(
        &mut self,
        now: Time,
        peer: PeerKey,
        max: usize,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let Some(p) = self.peer_mut(peer) else {
            return Ok(0);
        };
        let Some(mut dec) = p.decoder.take() else {
            return Ok(0);
        };
        // After every call the decoder holds at most a partial frame, which
        // leaves room for more.
        let got = match dec.read_with(max, read) {
            Ok(got) => got.unwrap_or(0),
            Err(e) => {
                if let Some(p) = self.peer_mut(peer) {
                    p.decoder = Some(dec);
                }
                return Err(e);
            }
        };
        if got > 0 {
            if let Some(p) = self.peer_mut(peer) {
                p.last_recv = now;
            }
        }
        let alive = got == 0 || self.decode_all(now, peer, &mut dec);
        if alive {
            if let Some(p) = self.peer_mut(peer) {
                p.decoder = Some(dec);
            }
        }
        self.flush_transmits();
        Ok(got)
    }

    /// Takes every handshake and message now complete in `dec`. False if the
    /// peer was closed (for breaking the protocol, or by what a message did).
    fn decode_all(&mut self, now: Time, peer: PeerKey, dec: &mut crate::wire::Decoder) -> bool {
        if dec.expects_handshake() {
            match dec.next_handshake() {
                Ok(Some(hs)) => {
                    if !self.on_handshake(now, peer, &hs) {
                        return false;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    self.close(now, peer, protocol(e.to_string()));
                    return false;
                }
            }
        }
        if dec.expects_handshake() {
            return true;
        }
        loop {
            match dec.next_message() {
                Ok(Some(msg)) => {
                    self.on_message(now, peer, msg);
                    if self.peer(peer).is_none() {
                        return false;
                    }
                }
                Ok(None) => return true,
                Err(WireError::UnknownMessage { .. }) => {}
                Err(e) => {
                    self.close(now, peer, protocol(e.to_string()));
                    return false;
                }
            }
        }
    }

    /// Checks the peer's handshake and answers it. False if the peer was closed.
    fn on_handshake(&mut self, now: Time, key: PeerKey, hs: &Handshake) -> bool {
        if hs.info_hash != self.info_hash {
            self.close(now, key, CloseReason::WrongInfoHash);
            return false;
        }
        if hs.peer_id == self.cfg.peer_id {
            self.close(now, key, CloseReason::SelfConnection);
            return false;
        }
        let existing = self.peers.iter().find_map(|(slot, p)| {
            (p.handshake_done && p.peer_id == Some(hs.peer_id)).then_some((
                PeerKey {
                    slot: slot as u32,
                    gen: p.gen,
                },
                p.direction,
            ))
        });
        if let Some((old, old_direction)) = existing {
            // Two peers that dial each other at once end up with two
            // connections. Both sides must drop the same one, or both drop
            // both: the connection opened by the lower peer id survives.
            let new_direction = self.peer(key).expect("caller checked").direction;
            let we_are_lower = self.cfg.peer_id.0 < hs.peer_id.0;
            let keeper = if we_are_lower {
                super::Direction::Outbound
            } else {
                super::Direction::Inbound
            };
            if new_direction == keeper && old_direction != keeper {
                self.close(now, old, CloseReason::DuplicatePeerId);
            } else {
                self.close(now, key, CloseReason::DuplicatePeerId);
                return false;
            }
        }
        let fast = self.cfg.fast_extension && hs.reserved.supports_fast();
        let dht_port = self.cfg.dht_port.filter(|_| hs.reserved.supports_dht());
        let extended = self.cfg.extension_protocol && hs.reserved.supports_extensions();
        let have = self.picker.have().clone();
        let ext = extended.then(|| {
            let addr = self.peer(key).map(|p| p.addr.ip());
            ExtHandshake {
                extensions: self.our_extensions(),
                client: Some(self.cfg.client_name.clone()),
                reqq: Some(self.cfg.max_incoming_requests),
                listen_port: self.cfg.listen_port,
                your_ip: addr,
                metadata_size: self.metadata_size(),
            }
            .encode()
        });
        let p = self.peer_mut(key).expect("caller checked");
        p.handshake_done = true;
        p.peer_id = Some(hs.peer_id);
        p.fast = fast;
        p.extended = extended;
        if let Some(payload) = &ext {
            p.push(now, &Message::Extended { id: 0, payload });
        }
        if fast && have.is_full() {
            p.push(now, &Message::HaveAll);
        } else if fast && have.is_clear() {
            p.push(now, &Message::HaveNone);
        } else if !have.is_clear() {
            let bits = have.to_wire();
            p.push(now, &Message::Bitfield(&bits));
        }
        if let Some(port) = dht_port {
            p.push(now, &Message::Port(port));
        }
        let (addr, direction) = (p.addr, p.direction);
        self.event(Event::PeerConnected {
            peer: key,
            addr,
            direction,
        });
        true
    }

    fn on_message(&mut self, now: Time, key: PeerKey, msg: Message<'_>) {
        let fast = self.peer(key).is_some_and(|p| p.fast);
        let needs_fast = matches!(
            msg,
            Message::Suggest { .. }
                | Message::HaveAll
                | Message::HaveNone
                | Message::Reject(_)
                | Message::AllowedFast { .. }
        );
        if needs_fast && !fast {
            self.close(
                now,
                key,
                protocol(format!("{} without the Fast extension", msg.name())),
            );
            return;
        }
        match msg {
            Message::KeepAlive | Message::Suggest { .. } => {}
            Message::Choke => self.on_choked(now, key),
            Message::Unchoke => self.on_unchoked(now, key),
            Message::Interested => self.on_peer_interest(now, key, true),
            Message::NotInterested => self.on_peer_interest(now, key, false),
            Message::Have { piece } => self.on_have(now, key, piece),
            Message::Bitfield(bits) => match Bitfield::from_wire(bits, self.layout.piece_count()) {
                Ok(has) => self.on_have_info(now, key, has),
                Err(e) => self.close(now, key, protocol(e.to_string())),
            },
            Message::HaveAll => {
                self.on_have_info(now, key, Bitfield::full(self.layout.piece_count()))
            }
            Message::HaveNone => {
                self.on_have_info(now, key, Bitfield::new(self.layout.piece_count()))
            }
            Message::Request(r) => self.on_request(now, key, r),
            Message::Piece {
                piece,
                offset,
                data,
            } => self.on_block(now, key, piece, offset, data),
            Message::Cancel(r) => self.on_cancel(now, key, r),
            Message::Reject(r) => self.on_reject(now, key, r),
            Message::Port(port) => {
                let Some(p) = self.peer_mut(key) else { return };
                let fresh = port != 0 && p.dht_port != Some(port);
                p.dht_port = Some(port).filter(|p| *p != 0);
                if fresh {
                    let node = SocketAddr::new(p.addr.ip(), port);
                    self.event(Event::DhtNode { addr: node });
                }
            }
            Message::AllowedFast { piece } => {
                let p = self.peer_mut(key).expect("caller checked");
                if !p.allowed_fast_in.contains(&piece)
                    && p.allowed_fast_in.len() < MAX_ALLOWED_FAST_IN
                {
                    p.allowed_fast_in.push(piece);
                }
                if p.peer_choking {
                    self.fill_requests(now, key);
                }
            }
            Message::Extended { id, payload } => self.on_extended(now, key, id, payload),
        }
    }

    fn on_extended(&mut self, now: Time, key: PeerKey, id: u8, payload: &[u8]) {
        let Some(p) = self.peer_mut(key) else { return };
        if !p.extended {
            self.close(
                now,
                key,
                protocol("extended message without the extension bit"),
            );
            return;
        }
        match id {
            0 => match ExtHandshake::decode(payload) {
                Ok(hs) => {
                    p.ext = Some(hs);
                    self.pex_handshake(key);
                    // A larger `reqq` may let us ask for more.
                    self.fill_requests(now, key);
                }
                Err(e) => self.close(now, key, protocol(e.to_string())),
            },
            super::pex::OUR_PEX_ID => self.on_pex(now, key, payload),
            super::metadata::OUR_METADATA_ID => self.on_metadata(now, key, payload),
            // Extensions we did not announce: ignored.
            _ => {}
        }
    }

    /// A `have`: one more piece at this peer.
    fn on_have(&mut self, now: Time, key: PeerKey, piece: u32) {
        let needed = self.picker.needed(piece);
        let lacking = !self.picker.have().get(piece);
        let p = self.peer_mut(key).expect("caller checked");
        p.got_have_info = true;
        if p.is_seed || !p.has.set(piece, true) {
            return;
        }
        if needed {
            p.interesting += 1;
        }
        if lacking {
            p.lacking += 1;
        }
        let became_seed = p.has.is_full();
        self.picker.peer_has(piece);
        if became_seed {
            self.become_seed(key, true);
            if self.is_complete() {
                self.close(now, key, CloseReason::BothSeeds);
                return;
            }
        }
        self.update_interest(now, key);
    }

    /// A bitfield, have-all or have-none: the first word on what it has.
    fn on_have_info(&mut self, now: Time, key: PeerKey, has: Bitfield) {
        let p = self.peer_mut(key).expect("caller checked");
        if p.got_have_info {
            // BEP 3 and 6 allow these only first, but aria2 sends a bitfield
            // (or have-all) mid-connection instead of many `have`s: take it
            // as the `have`s it stands for. Pieces are never taken back.
            for piece in has.ones() {
                self.on_have(now, key, piece);
                if self.peer(key).is_none() {
                    return;
                }
            }
            return;
        }
        p.got_have_info = true;
        if has.is_full() {
            p.has = has;
            self.become_seed(key, false);
            if self.is_complete() {
                self.close(now, key, CloseReason::BothSeeds);
                return;
            }
        } else {
            let (mut interesting, mut lacking) = (0, 0);
            for piece in has.ones() {
                self.picker.peer_has(piece);
                if self.picker.needed(piece) {
                    interesting += 1;
                }
                if !self.picker.have().get(piece) {
                    lacking += 1;
                }
            }
            let p = self.peer_mut(key).expect("caller checked");
            p.has = has;
            p.interesting = interesting;
            p.lacking = lacking;
        }
        self.grant_allowed_fast(now, key);
        self.update_interest(now, key);
    }

    /// Counts the peer as a seed in the picker. `counted`: its pieces were
    /// counted one by one (from `have` messages) and are now covered by the
    /// seed count instead.
    fn become_seed(&mut self, key: PeerKey, counted: bool) {
        let p = self.peer_mut(key).expect("caller checked");
        if p.is_seed {
            return;
        }
        p.is_seed = true;
        if counted {
            let has = p.has.clone();
            self.picker.peer_lost(&has);
        }
        self.picker.seed_changed(true);
    }
}

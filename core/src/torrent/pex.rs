//! Peer exchange (BEP 11) in the engine: peers tell each other whom they are
//! connected to, so a torrent with a single known peer soon knows the swarm.
//!
//! We advertise `ut_pex` in our extension handshake (never for a private
//! torrent, nor with [`Config::pex`](super::Config::pex) off). Each peer that
//! advertises it gets, at most once a minute, the changes in our established
//! connections since the last message ([`PexState`]); what peers send us goes
//! through a [`PexGuard`] (too often or too much is ignored, then punished)
//! and its added addresses into the address book.

use core::net::SocketAddr;

use crate::ext::pex::{self, PexFlags, PexGuard, PexMessage, PexPeer, PexState, PexVerdict};
use crate::time::Time;
use crate::wire::Message;

use super::output::{CloseReason, Direction};
use super::{PeerKey, Torrent};

/// The id under which we receive `ut_pex` messages (our handshake's `m`).
pub(super) const OUR_PEX_ID: u8 = 1;

/// A peer's exchange state: what we told it, and how it behaves.
#[derive(Debug, Clone)]
pub(crate) struct PeerPex {
    /// Its id for `ut_pex`, and what it has been told; `None` until its
    /// extension handshake says it speaks `ut_pex`.
    out: Option<(u8, PexState)>,
    guard: PexGuard,
}

impl PeerPex {
    /// Nothing told, nothing heard. (Private torrents never get this far:
    /// they do not advertise `ut_pex` and ignore what arrives.)
    pub(crate) fn new() -> PeerPex {
        PeerPex {
            out: None,
            guard: PexGuard::new(false),
        }
    }
}

impl Torrent {
    /// Whether this torrent exchanges peers at all.
    pub(super) fn pex_enabled(&self) -> bool {
        self.cfg.pex && !self.info.private
    }

    /// The extensions our handshake announces (`m`), sorted by name.
    pub(super) fn our_extensions(&self) -> Vec<(String, u8)> {
        let mut m = Vec::new();
        if self.metadata_size().is_some() {
            m.push((
                super::metadata::EXTENSION_NAME.to_string(),
                super::metadata::OUR_METADATA_ID,
            ));
        }
        if self.pex_enabled() {
            m.push((pex::EXTENSION_NAME.to_string(), OUR_PEX_ID));
        }
        m
    }

    /// The peer's extension handshake arrived: start telling it about our
    /// peers if it speaks `ut_pex`.
    pub(super) fn pex_handshake(&mut self, key: PeerKey) {
        let enabled = self.pex_enabled();
        let Some(p) = self.peer_mut(key) else { return };
        let Some(ext) = &p.ext else { return };
        let their_id = ext
            .extensions
            .iter()
            .find(|(name, _)| name == pex::EXTENSION_NAME)
            .map(|&(_, id)| id)
            .filter(|&id| id != 0);
        p.pex.out = match (enabled, their_id) {
            (true, Some(id)) => {
                let mut state = PexState::new(p.addr, false);
                if let Some(port) = ext.listen_port {
                    state.set_listen_port(port);
                }
                Some((id, state))
            }
            _ => None,
        };
    }

    /// A `ut_pex` message from `key`.
    pub(super) fn on_pex(&mut self, now: Time, key: PeerKey, payload: &[u8]) {
        if !self.pex_enabled() {
            return;
        }
        let Some(p) = self.peer_mut(key) else { return };
        let (verdict, added) = match PexMessage::decode_counted(payload) {
            Ok((msg, counts)) => (p.pex.guard.on_message(now, counts), msg.added),
            Err(_) => (p.pex.guard.on_malformed(), Vec::new()),
        };
        match verdict {
            PexVerdict::Accept => self.add_peers(now, added.into_iter().map(|a| a.addr)),
            PexVerdict::Ignore => {}
            PexVerdict::Penalize => self.close(
                now,
                key,
                CloseReason::Protocol("peer exchange sent too often or too much".into()),
            ),
        }
    }

    /// Once a second: each peer whose minute is up hears what changed.
    pub(super) fn send_pex(&mut self, now: Time) {
        if !self.pex_enabled() {
            return;
        }
        let connected = self.pex_peers();
        for key in self.keys() {
            let Some(p) = self.peer_mut(key) else {
                continue;
            };
            let Some((id, state)) = &mut p.pex.out else {
                continue;
            };
            let id = *id;
            if let Some(msg) = state.poll(now, connected.iter().copied()) {
                let payload = msg.encode();
                p.push(
                    now,
                    &Message::Extended {
                        id,
                        payload: &payload,
                    },
                );
            }
        }
    }

    /// Our established connections as peer exchange names them: the address
    /// we reached, or for a peer that connected to us its listen address.
    fn pex_peers(&self) -> Vec<PexPeer> {
        self.peers
            .iter()
            .filter(|(_, p)| p.handshake_done)
            .filter_map(|(_, p)| {
                let (addr, reachable) = match p.direction {
                    Direction::Outbound => (p.addr, true),
                    Direction::Inbound => {
                        let port = p.ext.as_ref()?.listen_port?;
                        (SocketAddr::new(p.addr.ip(), port), false)
                    }
                };
                let mut flags = PexFlags::NONE;
                if p.is_seed {
                    flags = flags | PexFlags::SEED;
                }
                if reachable {
                    flags = flags | PexFlags::REACHABLE;
                }
                Some(PexPeer { addr, flags })
            })
            .collect()
    }
}

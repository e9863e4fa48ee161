//! Connections: the address book of peers we may connect to, opening and
//! accepting connections, closing them (and everything that hangs on them),
//! bans, and the per-connection clocks (handshake, idle, keep-alive).

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::BTreeMap;

use crate::wire::{DecoderConfig, Handshake, Message};

use super::output::{CloseReason, Direction, Event, Output};
use super::peer::Peer;
use super::{PeerKey, Torrent};
use crate::time::Time;

/// Failures after which an address is forgotten.
const MAX_FAILURES: u32 = 6;
/// Longest wait between attempts at one address.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// May be tried at this time.
    Idle(Time),
    Connecting,
    Connected,
}

#[derive(Debug, Clone)]
struct Entry {
    slot: Slot,
    failures: u32,
}

/// Addresses we know peers at, and whether we are connected to them.
#[derive(Debug, Clone)]
pub struct AddressBook {
    entries: BTreeMap<SocketAddr, Entry>,
    max: usize,
    /// Where the round-robin over idle entries resumes.
    cursor: Option<SocketAddr>,
}

impl AddressBook {
    pub fn new(max: usize) -> AddressBook {
        AddressBook {
            entries: BTreeMap::new(),
            max,
            cursor: None,
        }
    }

    /// Remembers `addr`; false if it was known or the book is full.
    fn add(&mut self, addr: SocketAddr, now: Time) -> bool {
        if self.entries.len() >= self.max || self.entries.contains_key(&addr) {
            return false;
        }
        self.entries.insert(
            addr,
            Entry {
                slot: Slot::Idle(now),
                failures: 0,
            },
        );
        true
    }

    fn connecting(&self) -> usize {
        self.entries
            .values()
            .filter(|e| e.slot == Slot::Connecting)
            .count()
    }

    /// Up to `n` addresses due for an attempt, round-robin; marks them connecting.
    fn take_due(&mut self, now: Time, n: usize, busy: &[SocketAddr]) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        if n == 0 {
            return out;
        }
        let start = self.cursor;
        let after = start.map_or_else(
            || self.entries.range(..),
            |c| {
                self.entries
                    .range((core::ops::Bound::Excluded(c), core::ops::Bound::Unbounded))
            },
        );
        let before = start.map(|c| self.entries.range(..=c));
        let order: Vec<SocketAddr> = after
            .map(|(a, _)| *a)
            .chain(before.into_iter().flatten().map(|(a, _)| *a))
            .collect();
        for addr in order {
            if out.len() >= n {
                break;
            }
            let e = self.entries.get_mut(&addr).expect("listed above");
            if matches!(e.slot, Slot::Idle(at) if at <= now) && !busy.contains(&addr) {
                e.slot = Slot::Connecting;
                out.push(addr);
                self.cursor = Some(addr);
            }
        }
        out
    }

    fn set(&mut self, addr: SocketAddr, slot: Slot) {
        if let Some(e) = self.entries.get_mut(&addr) {
            e.slot = slot;
            if slot == Slot::Connected {
                e.failures = 0;
            }
        }
    }

    /// An attempt failed or a connection ended: retry later, or forget.
    fn failed(&mut self, addr: SocketAddr, now: Time, backoff: Duration) {
        let Some(e) = self.entries.get_mut(&addr) else {
            return;
        };
        e.failures += 1;
        if e.failures >= MAX_FAILURES {
            self.entries.remove(&addr);
            return;
        }
        let wait = backoff
            .saturating_mul(1 << (e.failures - 1).min(16))
            .min(MAX_BACKOFF);
        e.slot = Slot::Idle(now + wait);
    }

    fn forget(&mut self, addr: SocketAddr) {
        self.entries.remove(&addr);
    }

    fn forget_ip(&mut self, ip: IpAddr) {
        self.entries.retain(|a, _| a.ip() != ip);
    }

    fn is_connected_or_connecting(&self, addr: SocketAddr) -> bool {
        self.entries
            .get(&addr)
            .is_some_and(|e| matches!(e.slot, Slot::Connecting | Slot::Connected))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

impl Torrent {
    /// Adds addresses to connect to (from trackers, DHT, the program). Banned
    /// addresses and ones already known are ignored. Connection attempts start
    /// at once, within the limits.
    pub fn add_peers(&mut self, now: Time, addrs: impl IntoIterator<Item = SocketAddr>) {
        for addr in addrs {
            if addr.port() == 0 || self.banned.contains(&addr.ip()) {
                continue;
            }
            self.book.add(addr, now);
        }
        self.connect_more(now);
    }

    /// Known addresses (connected or not).
    pub fn known_addresses(&self) -> usize {
        self.book.len()
    }

    /// Emits `Connect` for due addresses while under the limits.
    pub(super) fn connect_more(&mut self, now: Time) {
        if self.stopped.is_some() {
            return;
        }
        let open = self.peers.len();
        let connecting = self.book.connecting();
        let room = self
            .cfg
            .max_peers
            .saturating_sub(open + connecting)
            .min(self.cfg.max_connecting.saturating_sub(connecting));
        // An address a connected peer listens on is not dialled again.
        let busy: Vec<SocketAddr> = self
            .peers
            .iter()
            .flat_map(|(_, p)| {
                let listen = p
                    .ext
                    .as_ref()
                    .and_then(|e| e.listen_port)
                    .map(|port| SocketAddr::new(p.addr.ip(), port));
                [Some(p.addr), listen]
            })
            .flatten()
            .collect();
        for addr in self.book.take_due(now, room, &busy) {
            self.outputs.push_back(Output::Connect(addr));
        }
    }

    /// A connection is open: `Outbound` after our `Connect`, `Inbound` when a
    /// peer connected to us. Returns its key; our handshake is queued at once.
    /// A connection that is not wanted (banned address, too many peers, stopped
    /// torrent) gets a key and an immediate `Close`.
    pub fn handle_connected(
        &mut self,
        now: Time,
        addr: SocketAddr,
        direction: Direction,
    ) -> PeerKey {
        let gen = self.next_gen;
        self.next_gen = self.next_gen.wrapping_add(1).max(1);
        let cfg = DecoderConfig {
            max_frame: self.cfg.max_frame,
            piece_count: Some(self.layout.piece_count()),
        };
        let decoder = crate::wire::Decoder::new(cfg, true);
        let peer = Peer::new(
            gen,
            addr,
            direction,
            now,
            self.layout.piece_count(),
            decoder,
            self.cfg.initial_request_depth,
        );
        let slot = self.peers.insert(peer);
        let key = PeerKey {
            slot: slot as u32,
            gen,
        };
        if direction == Direction::Outbound {
            self.book.set(addr, Slot::Connected);
        }
        let refuse = if self.stopped.is_some() {
            Some(CloseReason::TorrentStopped)
        } else if self.banned.contains(&addr.ip()) {
            Some(CloseReason::Banned)
        } else if self.peers.len() > self.cfg.max_peers {
            Some(CloseReason::TooManyPeers)
        } else {
            None
        };
        if let Some(reason) = refuse {
            self.close(now, key, reason);
            return key;
        }
        let mut reserved = crate::wire::Reserved::NONE;
        reserved.set_fast(self.cfg.fast_extension);
        reserved.set_extensions(self.cfg.extension_protocol);
        reserved.set_dht(self.cfg.dht_port.is_some());
        let hs = Handshake {
            reserved,
            info_hash: self.info_hash,
            peer_id: self.cfg.peer_id,
        };
        let p = self.peer_mut(key).expect("just inserted");
        p.send.push_raw(&hs.to_bytes());
        p.last_sent = now;
        self.flush_transmits();
        key
    }

    /// Our `Connect` to `addr` failed.
    pub fn handle_connect_failed(&mut self, now: Time, addr: SocketAddr) {
        self.book.failed(addr, now, self.cfg.reconnect_backoff);
        self.connect_more(now);
    }

    /// The driver saw the connection end (EOF, reset, write error).
    pub fn handle_closed(&mut self, now: Time, peer: PeerKey, why: &str) {
        if self.peer(peer).is_some() {
            self.remove_peer(now, peer, CloseReason::Closed(why.to_string()));
            self.connect_more(now);
            self.flush_transmits();
        }
    }

    /// Closes the connection to `addr` if there is one.
    pub fn disconnect(&mut self, now: Time, addr: SocketAddr) {
        let keys: Vec<PeerKey> = self
            .keys()
            .into_iter()
            .filter(|k| self.peer(*k).is_some_and(|p| p.addr == addr))
            .collect();
        for k in keys {
            self.close(now, k, CloseReason::Requested);
        }
        self.book.forget(addr);
        self.flush_transmits();
    }

    /// Bans `ip`: its connections close and it is never connected again.
    pub fn ban(&mut self, now: Time, ip: IpAddr) {
        let strikes = self.trust.get(&ip).map_or(0, |t| t.strikes);
        self.ban_with(now, ip, strikes);
        self.flush_transmits();
    }

    pub(super) fn ban_with(&mut self, now: Time, ip: IpAddr, strikes: u8) {
        if !self.banned.insert(ip) {
            return;
        }
        self.book.forget_ip(ip);
        self.event(Event::PeerBanned { ip, strikes });
        let keys: Vec<PeerKey> = self
            .keys()
            .into_iter()
            .filter(|k| self.peer(*k).is_some_and(|p| p.addr.ip() == ip))
            .collect();
        for k in keys {
            self.close(now, k, CloseReason::Banned);
        }
    }

    /// Stops the torrent: every connection closes. Storage jobs already out may
    /// still complete; their results are ignored.
    pub fn shutdown(&mut self, now: Time) {
        for k in self.keys() {
            self.close(now, k, CloseReason::TorrentStopped);
        }
        if self.stopped.is_none() {
            self.stopped = Some(super::DiskError("shut down".into()));
        }
    }

    /// Closes a connection on our initiative: tells the driver.
    pub(super) fn close(&mut self, now: Time, key: PeerKey, reason: CloseReason) {
        if self.peer(key).is_none() {
            return;
        }
        self.outputs.push_back(Output::Close {
            peer: key,
            reason: reason.clone(),
        });
        self.remove_peer(now, key, reason);
    }

    /// Forgets a connection and releases everything it held.
    fn remove_peer(&mut self, now: Time, key: PeerKey, reason: CloseReason) {
        let peer = self.peers.remove(key.slot as usize);
        // Requests it held go back to the picker.
        for o in &peer.outgoing {
            if o.is_live() {
                self.picker.unrequest(o.block, key);
            }
        }
        if peer.is_seed {
            self.picker.seed_changed(false);
        } else {
            self.picker.peer_lost(&peer.has);
        }
        for r in &peer.reads {
            self.reads.remove(&r.id);
        }
        if peer.optimistic {
            self.timers
                .arm_before(super::timers::Timer::Optimistic, now);
        }
        match reason {
            CloseReason::WrongInfoHash | CloseReason::SelfConnection | CloseReason::Banned => {
                self.book.forget(peer.addr)
            }
            CloseReason::Requested | CloseReason::TorrentStopped => {}
            _ => self.book.failed(peer.addr, now, self.cfg.reconnect_backoff),
        }
        if peer.handshake_done {
            self.event(Event::PeerDisconnected {
                peer: key,
                addr: peer.addr,
                reason,
            });
            if !peer.am_choking {
                self.fill_free_slots(now);
            }
        }
        if !peer.outgoing.is_empty() {
            self.refill_all(now);
        }
    }

    /// Handshake timeouts, idle peers, keep-alives.
    pub(super) fn check_peer_timeouts(&mut self, now: Time) {
        for key in self.keys() {
            let Some(p) = self.peer(key) else { continue };
            let reason = if !p.handshake_done && now - p.connected_at > self.cfg.handshake_timeout {
                Some(CloseReason::HandshakeTimeout)
            } else if p.handshake_done && now - p.last_recv > self.cfg.idle_timeout {
                Some(CloseReason::Idle)
            } else {
                None
            };
            if let Some(reason) = reason {
                self.close(now, key, reason);
                continue;
            }
            let keepalive = self.cfg.keepalive_interval;
            let p = self.peer_mut(key).expect("checked above");
            if p.handshake_done && now - p.last_sent >= keepalive && p.send.is_empty() {
                p.push(now, &Message::KeepAlive);
            }
        }
    }

    /// True when `addr` is connected or being connected to.
    pub fn is_connected_to(&self, addr: SocketAddr) -> bool {
        self.book.is_connected_or_connecting(addr) || self.peers.iter().any(|(_, p)| p.addr == addr)
    }
}

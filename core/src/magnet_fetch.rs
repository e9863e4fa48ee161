//! Getting a magnet link's metadata from peers: a sans-IO session that speaks
//! just enough of the peer wire protocol (the handshake with the extension bit,
//! the BEP 10 extension handshake, ut_metadata from BEP 9) to fetch the info
//! dictionary for one info-hash, and nothing else.
//!
//! The driver runs it like a [`Torrent`](crate::torrent::Torrent): it feeds
//! connections, bytes, closes and timer ticks with the time, drains
//! [`poll`](MetadataSession::poll) for what to do, and sleeps until
//! [`poll_timeout`](MetadataSession::poll_timeout). The verified info bytes come
//! out as [`Output::Done`]; build the torrent with
//! [`Metainfo::from_info_bytes`](crate::metainfo::Metainfo::from_info_bytes).
//!
//! ```
//! use sluice_core::ext::metadata::{respond, Message as Meta};
//! use sluice_core::ext::ExtHandshake;
//! use sluice_core::magnet_fetch::{MetadataSession, Output, UT_METADATA_ID};
//! use sluice_core::wire::{Handshake, Message, Reserved};
//! use sluice_core::{InfoHash, PeerId, Time};
//!
//! let info = b"d6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAe";
//! let hash = InfoHash::of(info);
//! let mut s = MetadataSession::new(hash, PeerId([1; 20]));
//! let addr = "127.0.0.1:6881".parse().unwrap();
//! s.peer_connected(Time::ZERO, 7u32, addr, true);
//! // The peer's handshake and its extension handshake (ut_metadata is its 3).
//! let mut bytes = Vec::new();
//! let reserved = Reserved::NONE.with_extensions(true);
//! Handshake { reserved, info_hash: hash, peer_id: PeerId([2; 20]) }.encode(&mut bytes);
//! let mut ext = ExtHandshake::default();
//! ext.extensions.push(("ut_metadata".into(), 3));
//! ext.metadata_size = Some(info.len() as u32);
//! Message::Extended { id: 0, payload: &ext.encode() }.encode(&mut bytes);
//! s.handle_data(Time::ZERO, 7, &bytes);
//! while let Some(out) = s.poll() {
//!     if let Output::Transmit { .. } = out {} // our handshakes and a request
//! }
//! // The peer answers the request for block 0.
//! let mut answer = Vec::new();
//! let payload = respond(Some(info), 0).to_bytes();
//! Message::Extended { id: UT_METADATA_ID, payload: &payload }.encode(&mut answer);
//! s.handle_data(Time::ZERO, 7, &answer);
//! let mut done = None;
//! while let Some(out) = s.poll() {
//!     if let Output::Done(metadata) = out {
//!         done = Some(metadata);
//!     }
//! }
//! assert_eq!(done.as_deref(), Some(&info[..]));
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use core::net::SocketAddr;
use core::time::Duration;

use crate::ext::metadata::{FetchEvent, MetadataFetcher};
use crate::ext::ExtHandshake;
use crate::id::{InfoHash, PeerId};
use crate::time::Time;
use crate::wire::{Decoder, DecoderConfig, Handshake, Message, Reserved};

/// The extended message id we ask peers to send ut_metadata messages under.
pub const UT_METADATA_ID: u8 = 2;

/// Largest frame accepted from a peer: a metadata block (16 KiB) with its
/// dictionary, or a bitfield of a torrent of up to a million pieces.
pub const MAX_FRAME: u32 = 160 * 1024;

/// How long a connection may take to send its handshake and its extension
/// handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Most connections open (or being opened) at once.
pub const MAX_CONNECTIONS: usize = 16;

/// Most peer addresses remembered (tried or waiting).
pub const MAX_ADDRESSES: usize = 1024;

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<K> {
    /// Open a connection to this address, then call
    /// [`peer_connected`](MetadataSession::peer_connected) (or
    /// [`connect_failed`](MetadataSession::connect_failed)).
    Connect(SocketAddr),
    /// Send these bytes on the connection, after those sent before.
    Transmit {
        /// The connection.
        peer: K,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Close the connection; the session has forgotten it.
    Close {
        /// The connection.
        peer: K,
        /// Why, for logs.
        reason: String,
    },
    /// The info dictionary, whose SHA-1 is the info-hash. Every connection is
    /// closed after it; nothing else follows.
    Done(Vec<u8>),
}

#[derive(Debug)]
struct Conn {
    addr: SocketAddr,
    outbound: bool,
    decoder: Decoder,
    /// Its BitTorrent handshake arrived.
    handshaken: bool,
    /// Its extension handshake arrived and it speaks ut_metadata.
    ready: bool,
    /// When it must have become ready.
    deadline: Time,
}

/// Fetches the metadata of one info-hash over any number of connections.
/// See the [module documentation](self).
#[derive(Debug)]
pub struct MetadataSession<K> {
    info_hash: InfoHash,
    peer_id: PeerId,
    fetcher: MetadataFetcher<K>,
    conns: BTreeMap<K, Conn>,
    /// Addresses waiting for a connection, and every address ever queued.
    waiting: VecDeque<SocketAddr>,
    known: BTreeSet<SocketAddr>,
    /// Connects asked for and not yet reported.
    connecting: usize,
    out: VecDeque<Output<K>>,
    now: Time,
    done: bool,
}

impl<K: Copy + Ord> MetadataSession<K> {
    /// A session for `info_hash`, greeting peers as `peer_id`.
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> Self {
        MetadataSession {
            info_hash,
            peer_id,
            fetcher: MetadataFetcher::new(info_hash),
            conns: BTreeMap::new(),
            waiting: VecDeque::new(),
            known: BTreeSet::new(),
            connecting: 0,
            out: VecDeque::new(),
            now: Time::ZERO,
            done: false,
        }
    }

    /// The info-hash being fetched.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// True once [`Output::Done`] was queued.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Connections whose extension handshake said they speak ut_metadata.
    pub fn ready_count(&self) -> usize {
        self.conns.values().filter(|c| c.ready).count()
    }

    /// True while a connection is open, being opened, or waiting to be: false
    /// means nobody is left to ask.
    pub fn has_prospects(&self) -> bool {
        !self.conns.is_empty() || self.connecting > 0 || !self.waiting.is_empty()
    }

    /// Peers to connect to; addresses already known are ignored.
    pub fn add_peers(&mut self, addrs: impl IntoIterator<Item = SocketAddr>) {
        for addr in addrs {
            if self.done || self.known.len() >= MAX_ADDRESSES || !self.known.insert(addr) {
                continue;
            }
            self.waiting.push_back(addr);
        }
        self.fill();
    }

    /// A connection opened: ours to `addr` if `outbound`, else a peer's. Our
    /// handshake is sent at once.
    pub fn peer_connected(&mut self, now: Time, key: K, addr: SocketAddr, outbound: bool) {
        self.tick(now);
        if outbound {
            self.connecting = self.connecting.saturating_sub(1);
        }
        if self.done || self.conns.contains_key(&key) {
            self.out.push_back(Output::Close {
                peer: key,
                reason: "not needed".into(),
            });
            return;
        }
        self.known.insert(addr);
        let cfg = DecoderConfig {
            max_frame: MAX_FRAME,
            piece_count: None,
        };
        self.conns.insert(
            key,
            Conn {
                addr,
                outbound,
                decoder: Decoder::new(cfg, true),
                handshaken: false,
                ready: false,
                deadline: now + HANDSHAKE_TIMEOUT,
            },
        );
        let hs = Handshake {
            reserved: Reserved::NONE.with_extensions(true).with_fast(true),
            info_hash: self.info_hash,
            peer_id: self.peer_id,
        };
        self.out.push_back(Output::Transmit {
            peer: key,
            bytes: hs.to_bytes().to_vec(),
        });
    }

    /// A connect to `addr` failed.
    pub fn connect_failed(&mut self, now: Time, _addr: SocketAddr) {
        self.tick(now);
        self.connecting = self.connecting.saturating_sub(1);
        self.fill();
    }

    /// The connection closed (by the peer or the driver). Unknown keys are
    /// ignored.
    pub fn peer_closed(&mut self, now: Time, key: K) {
        self.tick(now);
        if self.conns.remove(&key).is_some() {
            self.fetcher.peer_gone(key);
        }
        self.fill();
    }

    /// Bytes arrived on a connection.
    pub fn handle_data(&mut self, now: Time, key: K, mut bytes: &[u8]) {
        self.tick(now);
        while !bytes.is_empty() {
            let Some(conn) = self.conns.get_mut(&key) else {
                return;
            };
            let n = conn.decoder.feed(bytes);
            bytes = &bytes[n..];
            if let Err(reason) = self.drain(key) {
                self.close(key, reason);
                return;
            }
            if n == 0 {
                // The decoder is full of a frame it cannot finish: impossible
                // with its checks, but never spin.
                self.close(key, "stalled decoder".into());
                return;
            }
        }
    }

    /// The timer fired: connections that did not finish their handshakes in
    /// time are closed, metadata requests time out.
    pub fn handle_timeout(&mut self, now: Time) {
        self.tick(now);
        let late: Vec<K> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.ready && c.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in late {
            self.close(key, "no extension handshake in time".into());
        }
    }

    /// The next thing to do, or `None`.
    pub fn poll(&mut self) -> Option<Output<K>> {
        loop {
            if let Some(out) = self.out.pop_front() {
                return Some(out);
            }
            if self.done {
                return None;
            }
            match self.fetcher.poll(self.now)? {
                FetchEvent::Send {
                    peer,
                    ext_id,
                    payload,
                } => {
                    if self.conns.contains_key(&peer) {
                        let mut bytes = Vec::with_capacity(payload.len() + 6);
                        Message::Extended {
                            id: ext_id,
                            payload: &payload,
                        }
                        .encode(&mut bytes);
                        return Some(Output::Transmit { peer, bytes });
                    }
                }
                FetchEvent::Ban { peer, reason } => {
                    if self.conns.remove(&peer).is_some() {
                        self.fill();
                        return Some(Output::Close {
                            peer,
                            reason: format!("sent bad metadata ({reason:?})"),
                        });
                    }
                }
                FetchEvent::Done { metadata } => {
                    self.done = true;
                    self.waiting.clear();
                    let keys: Vec<K> = self.conns.keys().copied().collect();
                    self.conns.clear();
                    self.out.push_back(Output::Done(metadata));
                    for peer in keys {
                        self.out.push_back(Output::Close {
                            peer,
                            reason: "metadata complete".into(),
                        });
                    }
                }
            }
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.done {
            return None;
        }
        let handshakes = self
            .conns
            .values()
            .filter(|c| !c.ready)
            .map(|c| c.deadline)
            .min();
        match (handshakes, self.fetcher.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The address of a connection.
    pub fn peer_addr(&self, key: K) -> Option<SocketAddr> {
        self.conns.get(&key).map(|c| c.addr)
    }

    /// True if the connection was opened by us.
    pub fn is_outbound(&self, key: K) -> Option<bool> {
        self.conns.get(&key).map(|c| c.outbound)
    }

    fn tick(&mut self, now: Time) {
        if now > self.now {
            self.now = now;
        }
    }

    fn fill(&mut self) {
        while !self.done && self.conns.len() + self.connecting < MAX_CONNECTIONS {
            let Some(addr) = self.waiting.pop_front() else {
                return;
            };
            self.connecting += 1;
            self.out.push_back(Output::Connect(addr));
        }
    }

    fn close(&mut self, key: K, reason: String) {
        if self.conns.remove(&key).is_some() {
            self.fetcher.peer_gone(key);
            self.out.push_back(Output::Close { peer: key, reason });
            self.fill();
        }
    }

    /// Decodes what the connection has buffered.
    fn drain(&mut self, key: K) -> Result<(), String> {
        let info_hash = self.info_hash;
        let Some(conn) = self.conns.get_mut(&key) else {
            return Ok(());
        };
        if !conn.handshaken {
            let Some(hs) = conn.decoder.next_handshake().map_err(|e| e.to_string())? else {
                return Ok(());
            };
            if hs.info_hash != info_hash {
                return Err("handshake for another torrent".into());
            }
            if !hs.reserved.supports_extensions() {
                return Err("peer does not support the extension protocol".into());
            }
            conn.handshaken = true;
            let mut ext = ExtHandshake::default();
            ext.extensions.push(("ut_metadata".into(), UT_METADATA_ID));
            ext.client = Some(concat!("sluice/", env!("CARGO_PKG_VERSION")).into());
            let mut bytes = Vec::new();
            Message::Extended {
                id: 0,
                payload: &ext.encode(),
            }
            .encode(&mut bytes);
            self.out.push_back(Output::Transmit { peer: key, bytes });
        }
        loop {
            let Some(conn) = self.conns.get_mut(&key) else {
                return Ok(());
            };
            let msg = match conn.decoder.next_message() {
                Ok(Some(msg)) => msg,
                Ok(None) => return Ok(()),
                Err(e) if e.is_fatal() => return Err(e.to_string()),
                Err(_) => continue,
            };
            match msg {
                Message::Extended { id: 0, payload } => {
                    let ext = ExtHandshake::decode(payload).map_err(|e| e.to_string())?;
                    let Some(id) = ext.extension_id("ut_metadata") else {
                        return Err("peer does not speak ut_metadata".into());
                    };
                    if !conn.ready {
                        conn.ready = true;
                        self.fetcher.peer_supports(key, id, ext.metadata_size);
                    }
                }
                Message::Extended {
                    id: UT_METADATA_ID,
                    payload,
                } => {
                    if !conn.ready {
                        return Err("ut_metadata before the extension handshake".into());
                    }
                    let payload = payload.to_vec();
                    if let Err(e) = self.fetcher.handle_message(key, &payload) {
                        if !matches!(e, crate::ext::metadata::MetadataError::UnknownType(_)) {
                            return Err(format!("bad ut_metadata message: {e}"));
                        }
                    }
                }
                // Everything else (bitfields, haves, chokes, other
                // extensions) does not matter for the metadata.
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;

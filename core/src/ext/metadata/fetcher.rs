//! The downloading side of ut_metadata: a sans-IO state machine that gets the
//! info dictionary of a magnet link from the peers that have it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use core::time::Duration;

use crate::id::InfoHash;
use crate::time::Time;

use super::{block_len, check_size, piece_count, Message, MetadataError, BLOCK_SIZE};

/// Tuning for a [`MetadataFetcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetcherConfig {
    /// Most requests outstanding to one peer at a time.
    pub max_outstanding_per_peer: usize,
    /// How long a request may stay unanswered before it is asked elsewhere.
    pub request_timeout: Duration,
    /// After this many timeouts in a row a peer is *stalled*: it is asked only
    /// when no responsive peer can be.
    pub stall_after: u32,
    /// How many failed attempts are remembered for naming liars later.
    pub max_history: usize,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        FetcherConfig {
            max_outstanding_per_peer: 3,
            request_timeout: Duration::from_secs(10),
            stall_after: 3,
            max_history: 8,
        }
    }
}

/// Why a [`MetadataFetcher`] gave up on a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanReason {
    /// A block it sent in a failed attempt differs from the verified metadata.
    BadBlock,
    /// Every block of an attempt that failed verification came from it.
    BadMetadata,
    /// Its data message's `total_size` contradicts the size it announced.
    ContradictorySize,
    /// The size it announced is not the size of the verified metadata.
    WrongSize,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchEvent<K> {
    /// Send `payload` to `peer` as extended message `ext_id` (the id the peer
    /// announced for `ut_metadata`).
    Send {
        /// The peer.
        peer: K,
        /// The extended message id to send it under.
        ext_id: u8,
        /// The ut_metadata message.
        payload: Vec<u8>,
    },
    /// The peer lied: drop it (and ban its address if the driver keeps a list).
    /// The fetcher has already forgotten it.
    Ban {
        /// The peer.
        peer: K,
        /// What it did.
        reason: BanReason,
    },
    /// The metadata, whose SHA-1 is the info-hash: build the torrent from it,
    /// for instance with [`Metainfo::from_info_bytes`](crate::metainfo::Metainfo::from_info_bytes).
    /// Nothing follows.
    Done {
        /// The exact bytes of the info dictionary.
        metadata: Vec<u8>,
    },
}

#[derive(Debug)]
struct Peer {
    ext_id: u8,
    /// Announced (or learned from its first data message).
    size: Option<u32>,
    in_flight: usize,
    /// Timeouts in a row; any data resets it.
    timeouts: u32,
    /// It rejected a request: it does not have the metadata.
    rejected: bool,
    /// How many failed attempts it contributed blocks to.
    suspicion: u32,
}

/// One try at assembling metadata of one size.
#[derive(Debug)]
struct Attempt<K> {
    size: u32,
    buf: Vec<u8>,
    sender: Vec<Option<K>>,
    pending: Vec<Option<(K, Time)>>,
    /// Peers asked for each block during this attempt; only they may answer.
    asked: Vec<Vec<K>>,
    received: u32,
}

impl<K: Copy + Ord> Attempt<K> {
    fn new(size: u32) -> Self {
        let n = piece_count(size) as usize;
        Attempt {
            size,
            buf: vec![0; size as usize],
            sender: vec![None; n],
            pending: vec![None; n],
            asked: vec![Vec::new(); n],
            received: 0,
        }
    }
}

/// Who sent which block of an attempt that failed verification.
#[derive(Debug)]
struct Failed<K> {
    size: u32,
    blocks: Vec<(K, [u8; 20])>,
}

/// Fetches the metadata for one info-hash from the peers that have it.
///
/// The driver tells it which peers speak ut_metadata
/// ([`peer_supports`](Self::peer_supports), from their extension handshakes),
/// feeds it their ut_metadata messages ([`handle_message`](Self::handle_message))
/// and departures ([`peer_gone`](Self::peer_gone)), and drains
/// [`poll`](Self::poll) for requests to send, peers to drop, and finally the
/// verified metadata. `K` is whatever the driver names peers by.
///
/// How it decides:
///
/// * **Size.** Sizes are tentative: the fetch assembles the size announced by
///   the most peers (ties: the one in progress, else the smaller), and moves to
///   another size only when more peers announce it. Sizes of zero or above
///   [`MAX_METADATA_SIZE`](super::MAX_METADATA_SIZE) get the peer ignored. If no
///   peer announces a size, one that did not say is asked for block 0, whose
///   `total_size` then counts as its announcement.
/// * **Requests.** Blocks go to the least loaded peer, at most
///   [`FetcherConfig::max_outstanding_per_peer`] each; a block whose request
///   times out goes preferably to a peer not yet asked for it, and peers that
///   have timed out lately come last. A reject means
///   the peer has no metadata: it is not asked again.
/// * **Verification.** When every block is in, the SHA-1 of the whole must be
///   the info-hash. If not, who sent which block is remembered, and from then
///   on each attempt is fetched from a single peer, the least suspect one, so
///   that a failure names its culprit ([`BanReason::BadMetadata`]). Once some
///   attempt verifies, every peer whose remembered block differs from the truth
///   is named too ([`BanReason::BadBlock`]), as is every peer that announced
///   another size ([`BanReason::WrongSize`]).
///
/// ```
/// use sluice_core::ext::metadata::{respond, FetchEvent, Message, MetadataFetcher};
/// use sluice_core::{InfoHash, Time};
///
/// let info = b"d6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAe";
/// let mut fetcher = MetadataFetcher::new(InfoHash::of(info));
/// // Peer 1's extension handshake: ut_metadata is its extended message 3.
/// fetcher.peer_supports(1u64, 3, Some(info.len() as u32));
/// let Some(FetchEvent::Send { peer: 1, ext_id: 3, payload }) = fetcher.poll(Time::ZERO) else {
///     panic!("expected a request");
/// };
/// // The driver sends the request; the peer answers it.
/// let piece = Message::decode(&payload).unwrap().piece();
/// fetcher.handle_message(1, &respond(Some(info), piece).to_bytes()).unwrap();
/// assert_eq!(
///     fetcher.poll(Time::ZERO),
///     Some(FetchEvent::Done { metadata: info.to_vec() })
/// );
/// ```
#[derive(Debug)]
pub struct MetadataFetcher<K> {
    info_hash: InfoHash,
    config: FetcherConfig,
    peers: BTreeMap<K, Peer>,
    banned: BTreeSet<K>,
    attempt: Option<Attempt<K>>,
    /// After a failed attempt, fetch from one peer at a time.
    single: bool,
    sole: Option<K>,
    probe: Option<(K, Time)>,
    history: VecDeque<Failed<K>>,
    events: VecDeque<FetchEvent<K>>,
    /// Something changed since requests were last scheduled.
    dirty: bool,
    done: bool,
}

impl<K: Copy + Ord> MetadataFetcher<K> {
    /// A fetcher for the metadata whose SHA-1 is `info_hash`.
    pub fn new(info_hash: InfoHash) -> Self {
        Self::with_config(info_hash, FetcherConfig::default())
    }

    /// A fetcher with explicit tuning.
    pub fn with_config(info_hash: InfoHash, config: FetcherConfig) -> Self {
        MetadataFetcher {
            info_hash,
            config,
            peers: BTreeMap::new(),
            banned: BTreeSet::new(),
            attempt: None,
            single: false,
            sole: None,
            probe: None,
            history: VecDeque::new(),
            events: VecDeque::new(),
            dirty: false,
            done: false,
        }
    }

    /// The info-hash being fetched.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// True once the metadata verified ([`FetchEvent::Done`] was queued).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The size being assembled, if one has been chosen (tentative until verified).
    pub fn metadata_size(&self) -> Option<u32> {
        self.attempt.as_ref().map(|a| a.size)
    }

    /// Blocks received and blocks needed in the current attempt.
    pub fn progress(&self) -> (u32, u32) {
        self.attempt
            .as_ref()
            .map_or((0, 0), |a| (a.received, piece_count(a.size)))
    }

    /// Peers currently known to speak ut_metadata (rejecting ones included).
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// True if the fetcher named `peer` in a [`FetchEvent::Ban`].
    pub fn is_banned(&self, peer: K) -> bool {
        self.banned.contains(&peer)
    }

    /// A peer's extension handshake announced ut_metadata under `ut_metadata_id`
    /// (0: it does not, or no longer does) and perhaps a `metadata_size`. A
    /// second handshake updates the first. A size of zero or above the cap gets
    /// the peer ignored.
    pub fn peer_supports(&mut self, peer: K, ut_metadata_id: u8, metadata_size: Option<u32>) {
        if self.done || self.banned.contains(&peer) {
            return;
        }
        let size = match metadata_size.map(|s| check_size(u64::from(s))) {
            None => None,
            Some(Ok(size)) => Some(size),
            Some(Err(_)) => return self.peer_gone(peer),
        };
        if ut_metadata_id == 0 {
            return self.peer_gone(peer);
        }
        self.dirty = true;
        if let Some(p) = self.peers.get_mut(&peer) {
            p.ext_id = ut_metadata_id;
            if size.is_some() && size != p.size {
                p.size = size;
                self.release(peer);
            }
            return;
        }
        let fresh = Peer {
            ext_id: ut_metadata_id,
            size,
            in_flight: 0,
            timeouts: 0,
            rejected: false,
            suspicion: 0,
        };
        self.peers.insert(peer, fresh);
    }

    /// The peer disconnected: its outstanding requests go elsewhere.
    pub fn peer_gone(&mut self, peer: K) {
        if self.peers.contains_key(&peer) {
            self.release(peer);
            self.peers.remove(&peer);
            self.dirty = true;
        }
    }

    /// A ut_metadata message from `peer` (the payload of the extended message).
    /// Requests are answered with a reject (there is nothing verified to serve
    /// yet). Errors are the codec's; [`MetadataError::UnknownType`] should be
    /// ignored, others may be held against the peer.
    pub fn handle_message(&mut self, peer: K, payload: &[u8]) -> Result<(), MetadataError> {
        match Message::decode(payload)? {
            Message::Request { piece } => {
                if let Some(p) = self.peers.get(&peer) {
                    self.events.push_back(FetchEvent::Send {
                        peer,
                        ext_id: p.ext_id,
                        payload: Message::Reject { piece }.to_bytes(),
                    });
                }
            }
            Message::Data {
                piece,
                total_size,
                data,
            } => self.handle_data(peer, piece, total_size, data),
            Message::Reject { piece } => self.handle_reject(peer, piece),
        }
        Ok(())
    }

    /// Block `piece` of metadata of `total_size` bytes arrived from `peer`.
    /// Blocks nobody asked this peer for, of another size, or of the wrong
    /// length are dropped.
    pub fn handle_data(&mut self, peer: K, piece: u32, total_size: u32, data: &[u8]) {
        if self.done
            || check_size(u64::from(total_size)).is_err()
            || piece >= piece_count(total_size)
            || data.len() != block_len(total_size, piece)
        {
            return;
        }
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.timeouts = 0;
        match p.size {
            Some(size) if size != total_size => {
                return self.ban(peer, BanReason::ContradictorySize)
            }
            Some(_) => {}
            None => {
                p.size = Some(total_size);
                self.dirty = true;
                // Announcing by deed a size other than the one being assembled:
                // its requests will not be answered usefully.
                if self.attempt.as_ref().is_some_and(|a| a.size != total_size) {
                    self.release(peer);
                }
            }
        }
        if self.probe.is_some_and(|(k, _)| k == peer) {
            self.probe = None;
            if let Some(p) = self.peers.get_mut(&peer) {
                p.in_flight = p.in_flight.saturating_sub(1);
            }
            self.dirty = true;
            let attempt = self.attempt.get_or_insert_with(|| Attempt::new(total_size));
            if piece == 0 && attempt.size == total_size && !attempt.asked[0].contains(&peer) {
                attempt.asked[0].push(peer);
            }
        }
        let Some(attempt) = self.attempt.as_mut() else {
            return;
        };
        let i = piece as usize;
        if attempt.size != total_size
            || attempt.sender[i].is_some()
            || !attempt.asked[i].contains(&peer)
        {
            return;
        }
        if let Some((k, _)) = attempt.pending[i].take() {
            if let Some(q) = self.peers.get_mut(&k) {
                q.in_flight = q.in_flight.saturating_sub(1);
            }
        }
        let start = i * BLOCK_SIZE;
        attempt.buf[start..start + data.len()].copy_from_slice(data);
        attempt.sender[i] = Some(peer);
        attempt.received += 1;
        self.dirty = true;
        if attempt.received == piece_count(attempt.size) {
            self.verify();
        }
    }

    /// `peer` rejected a request: it does not have the metadata and is not
    /// asked again.
    pub fn handle_reject(&mut self, peer: K, _piece: u32) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.rejected = true;
            self.release(peer);
            self.dirty = true;
        }
    }

    /// The next thing to do, after timing out requests older than
    /// [`FetcherConfig::request_timeout`] and sending the requests there is
    /// room for. Call until `None` after every input, and at
    /// [`poll_timeout`](Self::poll_timeout).
    pub fn poll(&mut self, now: Time) -> Option<FetchEvent<K>> {
        if !self.done {
            self.expire(now);
            if self.dirty {
                self.dirty = false;
                self.schedule(now);
            }
        }
        self.events.pop_front()
    }

    /// When the earliest outstanding request times out, if any is outstanding.
    pub fn poll_timeout(&self) -> Option<Time> {
        let pending = self.attempt.iter().flat_map(|a| a.pending.iter().flatten());
        pending
            .chain(self.probe.iter())
            .map(|(_, deadline)| *deadline)
            .min()
    }

    fn expire(&mut self, now: Time) {
        let mut expired = Vec::new();
        if let Some(attempt) = self.attempt.as_mut() {
            for slot in attempt.pending.iter_mut() {
                if slot.is_some_and(|(_, deadline)| deadline <= now) {
                    expired.extend(slot.take().map(|(k, _)| k));
                }
            }
        }
        if self.probe.is_some_and(|(_, deadline)| deadline <= now) {
            expired.extend(self.probe.take().map(|(k, _)| k));
        }
        for k in expired {
            if let Some(p) = self.peers.get_mut(&k) {
                p.in_flight = p.in_flight.saturating_sub(1);
                p.timeouts += 1;
            }
            self.dirty = true;
        }
    }

    /// Forgets the outstanding requests to `peer`.
    fn release(&mut self, peer: K) {
        if let Some(attempt) = self.attempt.as_mut() {
            for slot in attempt.pending.iter_mut() {
                if slot.is_some_and(|(k, _)| k == peer) {
                    *slot = None;
                }
            }
        }
        if self.probe.is_some_and(|(k, _)| k == peer) {
            self.probe = None;
        }
        if self.sole == Some(peer) {
            self.sole = None;
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.in_flight = 0;
        }
    }

    fn ban(&mut self, peer: K, reason: BanReason) {
        if !self.banned.insert(peer) {
            return;
        }
        self.release(peer);
        self.peers.remove(&peer);
        if let Some(attempt) = self.attempt.as_mut() {
            for sender in attempt.sender.iter_mut() {
                if *sender == Some(peer) {
                    *sender = None;
                    attempt.received -= 1;
                }
            }
        }
        self.dirty = true;
        self.events.push_back(FetchEvent::Ban { peer, reason });
    }

    fn verify(&mut self) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        if InfoHash::of(&attempt.buf) == self.info_hash {
            return self.finish(attempt.buf);
        }
        let senders: BTreeSet<K> = attempt.sender.iter().flatten().copied().collect();
        for k in &senders {
            if let Some(p) = self.peers.get_mut(k) {
                p.suspicion += 1;
            }
        }
        let blocks = attempt
            .sender
            .iter()
            .zip(attempt.buf.chunks(BLOCK_SIZE))
            .filter_map(|(k, block)| k.map(|k| (k, InfoHash::of(block).0)))
            .collect();
        if self.config.max_history > 0 {
            if self.history.len() == self.config.max_history {
                self.history.pop_front();
            }
            self.history.push_back(Failed {
                size: attempt.size,
                blocks,
            });
        }
        if let (1, Some(&only)) = (senders.len(), senders.first()) {
            self.ban(only, BanReason::BadMetadata);
        }
        self.single = true;
        self.sole = None;
        self.dirty = true;
    }

    fn finish(&mut self, metadata: Vec<u8>) {
        let size = metadata.len() as u32;
        let truth: Vec<[u8; 20]> = if self.history.is_empty() {
            Vec::new()
        } else {
            metadata
                .chunks(BLOCK_SIZE)
                .map(|b| InfoHash::of(b).0)
                .collect()
        };
        let mut liars = Vec::new();
        for failed in std::mem::take(&mut self.history) {
            if failed.size != size {
                continue;
            }
            for (i, (k, digest)) in failed.blocks.iter().enumerate() {
                if truth.get(i) != Some(digest) {
                    liars.push(*k);
                }
            }
        }
        for k in liars {
            self.ban(k, BanReason::BadBlock);
        }
        let wrong: Vec<K> = self
            .peers
            .iter()
            .filter(|(_, p)| p.size.is_some_and(|s| s != size))
            .map(|(k, _)| *k)
            .collect();
        for k in wrong {
            self.ban(k, BanReason::WrongSize);
        }
        self.peers.clear();
        self.probe = None;
        self.sole = None;
        self.done = true;
        self.events.push_back(FetchEvent::Done { metadata });
    }

    /// Picks the size to assemble: the one most peers announced.
    fn choose_size(&mut self) {
        let mut support: BTreeMap<u32, usize> = BTreeMap::new();
        for p in self.peers.values().filter(|p| !p.rejected) {
            if let Some(size) = p.size {
                *support.entry(size).or_default() += 1;
            }
        }
        // Most support first; among equals the smaller size (iteration order).
        let best = support
            .iter()
            .fold(None, |best: Option<(u32, usize)>, (&s, &n)| match best {
                Some((_, m)) if m >= n => best,
                _ => Some((s, n)),
            });
        let Some((size, n)) = best else { return };
        let current = self.attempt.as_ref().map(|a| a.size);
        match current {
            Some(c) if c == size || support.get(&c).copied().unwrap_or(0) >= n => {}
            _ => {
                if let Some(old) = self.attempt.take() {
                    for (k, _) in old.pending.into_iter().flatten() {
                        if let Some(p) = self.peers.get_mut(&k) {
                            p.in_flight = p.in_flight.saturating_sub(1);
                        }
                    }
                }
                self.attempt = Some(Attempt::new(size));
                self.sole = None;
            }
        }
    }

    /// Peers that may be asked for blocks of metadata of `size` bytes (`None`:
    /// the size is unknown), and whether responsive ones exist among them.
    fn candidates(&self, size: Option<u32>) -> (Vec<K>, bool) {
        let list: Vec<K> = self
            .peers
            .iter()
            .filter(|(_, p)| !p.rejected && (p.size.is_none() || p.size == size))
            .map(|(k, _)| *k)
            .collect();
        let responsive = list.iter().any(|k| !self.stalled(k));
        (list, responsive)
    }

    fn stalled(&self, k: &K) -> bool {
        self.peers[k].timeouts >= self.config.stall_after
    }

    fn has_slot(&self, k: &K) -> bool {
        self.peers[k].in_flight < self.config.max_outstanding_per_peer
    }

    fn schedule(&mut self, now: Time) {
        self.choose_size();
        let Some(size) = self.attempt.as_ref().map(|a| a.size) else {
            return self.send_probe(now);
        };
        let (mut candidates, responsive) = self.candidates(Some(size));
        if responsive {
            candidates.retain(|k| !self.stalled(k));
        }
        if self.single {
            if self.sole.is_some_and(|k| !candidates.contains(&k)) {
                self.sole = None;
            }
            if self.sole.is_none() {
                self.sole = candidates
                    .iter()
                    .min_by_key(|k| {
                        let p = &self.peers[*k];
                        (p.suspicion, p.timeouts, **k)
                    })
                    .copied();
            }
            candidates = self.sole.into_iter().collect();
        }
        candidates.retain(|k| self.has_slot(k));
        let count = piece_count(size);
        for piece in 0..count {
            if candidates.is_empty() {
                break;
            }
            let i = piece as usize;
            let Some(attempt) = self.attempt.as_ref() else {
                return;
            };
            if attempt.sender[i].is_some() || attempt.pending[i].is_some() {
                continue;
            }
            let asked = &attempt.asked[i];
            let Some(&k) = candidates.iter().min_by_key(|k| {
                let p = &self.peers[*k];
                (asked.contains(k), p.timeouts, p.in_flight, p.suspicion, **k)
            }) else {
                break;
            };
            self.send_request(now, k, piece);
            if !self.has_slot(&k) {
                candidates.retain(|c| *c != k);
            }
        }
    }

    fn send_request(&mut self, now: Time, peer: K, piece: u32) {
        let deadline = now + self.config.request_timeout;
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.in_flight += 1;
        self.events.push_back(FetchEvent::Send {
            peer,
            ext_id: p.ext_id,
            payload: Message::Request { piece }.to_bytes(),
        });
        match self.attempt.as_mut() {
            Some(attempt) => {
                let i = piece as usize;
                attempt.pending[i] = Some((peer, deadline));
                if !attempt.asked[i].contains(&peer) {
                    attempt.asked[i].push(peer);
                }
            }
            None => self.probe = Some((peer, deadline)),
        }
    }

    /// No size is known: ask a peer that did not announce one for block 0.
    fn send_probe(&mut self, now: Time) {
        if self.probe.is_some() {
            return;
        }
        let (mut candidates, responsive) = self.candidates(None);
        if responsive {
            candidates.retain(|k| !self.stalled(k));
        }
        let pick = candidates
            .into_iter()
            .filter(|k| self.has_slot(k))
            .min_by_key(|k| (self.peers[k].timeouts, *k));
        if let Some(k) = pick {
            self.send_request(now, k, 0);
        }
    }
}

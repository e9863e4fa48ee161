//! The state machine of one torrent: peers, requests, verification, uploads,
//! choking and streams, driven by the sans-IO loop of the crate docs.
//!
//! [`Torrent`] has four kinds of methods:
//!
//! * getters ([`have`](Torrent::have), [`stats`](Torrent::stats), ...);
//! * `handle_*`: inputs: a connection opened or closed, bytes arrived, bytes
//!   were sent, a storage job finished, a timer fired;
//! * commands from the program: add peers, disconnect, ban, file priorities,
//!   streams;
//! * [`poll`](Torrent::poll) and [`poll_timeout`](Torrent::poll_timeout):
//!   outputs, drained after every input.
//!
//! Every method that can act takes `now`; nothing reads a clock. Random choices
//! come from [`Config::seed`]. The same calls in the same order give the same
//! outputs.
//!
//! The engine's submodules each own one concern: `connections` (address
//! book, connecting, closing), `messages` (handshakes and the message
//! dispatch), `download` (requests and blocks), `upload` (serving requests),
//! `choking`, `verify` (writes, hashes, strikes, completion), `streams`.

mod choking;
mod config;
mod connections;
mod download;
mod interest;
mod messages;
mod metadata;
mod output;
mod peer;
mod pex;
mod send_buffer;
mod streams;
mod timers;
mod upload;
mod verify;

use core::net::{IpAddr, SocketAddr};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use slab::Slab;

pub use config::Config;
pub use output::{CloseReason, Direction, DiskError, DiskJob, Event, Output, ReadId, Stats};
pub use streams::StreamError;

use crate::bitfield::Bitfield;
use crate::id::InfoHash;
use crate::layout::Layout;
use crate::metainfo::Info;
use crate::picker::{Picker, Priority};
use crate::rate::RateMeter;
use crate::rng::Rng;
use crate::time::Time;

use connections::AddressBook;
use peer::Peer;
use streams::Streams;
use timers::{Timer, Timers};

/// Names one connection of a torrent. Keys are not reused while the torrent
/// lives: a key from a closed connection never names a later one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerKey {
    slot: u32,
    gen: u32,
}

impl PeerKey {
    /// A number unique to this connection within the torrent, for logs and maps.
    pub fn id(self) -> u64 {
        (u64::from(self.gen) << 32) | u64::from(self.slot)
    }

    /// A distinct key for unit tests of code that only compares keys.
    #[cfg(test)]
    pub(crate) fn for_tests(n: u32) -> PeerKey {
        PeerKey { slot: n, gen: 1 }
    }
}

/// What hash results say about one address.
#[derive(Debug, Clone, Copy, Default)]
struct Trust {
    /// Failed pieces it sent blocks of.
    strikes: u8,
    /// Verified pieces it sent blocks of.
    good: u32,
    /// Downloads whole pieces alone until one verifies (see `verify`).
    parole: bool,
}

/// Names one stream of a torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(pub(crate) u32);

/// A snapshot of one connected peer, for programs that list peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its key.
    pub key: PeerKey,
    /// Its address.
    pub addr: SocketAddr,
    /// Who connected.
    pub direction: Direction,
    /// Client name from the extension handshake.
    pub client: Option<String>,
    /// Pieces it has.
    pub pieces: u32,
    /// We choke it.
    pub am_choking: bool,
    /// We want something it has.
    pub am_interested: bool,
    /// It chokes us.
    pub peer_choking: bool,
    /// It wants something we have.
    pub peer_interested: bool,
    /// Holds the optimistic unchoke.
    pub optimistic: bool,
    /// Sends us nothing despite our requests.
    pub snubbed: bool,
    /// Our requests outstanding at it.
    pub requests: usize,
    /// Its requests we have not served yet.
    pub requests_from_peer: usize,
    /// Bytes per second from it.
    pub download_rate: u64,
    /// Bytes per second to it.
    pub upload_rate: u64,
}

/// The engine of one torrent. See the [module docs](self) and the crate docs
/// for the loop that drives it.
///
/// ```
/// use sluice_core::create::{PieceHasher, TorrentBuilder};
/// use sluice_core::metainfo::Metainfo;
/// use sluice_core::torrent::{Config, Torrent};
/// use sluice_core::{Bitfield, PeerId, Time};
///
/// let data = vec![9u8; 100_000];
/// let mut b = TorrentBuilder::single_file("x.bin", data.len() as u64);
/// b.piece_length(32 * 1024);
/// let mut h = PieceHasher::new(b.chosen_piece_length());
/// h.update(&data);
/// let meta = Metainfo::from_bytes(&b.build(&h.finish()).unwrap()).unwrap();
///
/// let cfg = Config::new(PeerId(*b"-SL0100-000000000001"), 1);
/// let have = Bitfield::full(meta.info.piece_count());
/// let seed = Torrent::new(meta.info_hash, meta.info.clone(), cfg, have, Time::ZERO);
/// assert!(seed.is_complete());
/// assert_eq!(seed.poll_timeout(), Some(Time::from_millis(1000)));
/// ```
pub struct Torrent {
    cfg: Config,
    info_hash: InfoHash,
    info: Info,
    layout: Layout,
    rng: Rng,
    picker: Picker,
    peers: Slab<Peer>,
    next_gen: u32,
    book: AddressBook,
    outputs: VecDeque<Output>,
    timers: Timers,
    streams: Streams,
    file_priority: Vec<Priority>,
    piece_priority: BTreeMap<u32, Priority>,
    /// Pieces we want and do not have.
    needed: u32,
    files_done: Vec<bool>,
    /// What we learned about addresses from hash results.
    trust: BTreeMap<IpAddr, Trust>,
    banned: BTreeSet<IpAddr>,
    stopped: Option<DiskError>,
    finished_sent: bool,
    complete_sent: bool,
    next_read: u64,
    /// Read jobs out: which peer each is for.
    reads: BTreeMap<ReadId, PeerKey>,
    downloaded: u64,
    uploaded: u64,
    wasted: u64,
    down_rate: RateMeter,
    up_rate: RateMeter,
    /// Scratch for picks.
    pick_buf: Vec<crate::picker::BlockRef>,
}

impl Torrent {
    /// An engine for the torrent `info` (whose info-hash is `info_hash`),
    /// starting from the pieces in `have` that the driver already verified
    /// (resume), at time `now`.
    ///
    /// # Panics
    /// If `have` does not cover exactly the torrent's pieces: that is a driver
    /// bug, not something a peer can cause.
    pub fn new(info_hash: InfoHash, info: Info, cfg: Config, have: Bitfield, now: Time) -> Torrent {
        let layout = info.layout();
        assert_eq!(
            have.len(),
            layout.piece_count(),
            "resume bitfield must cover every piece"
        );
        let mut rng = Rng::new(cfg.seed);
        let picker = Picker::new(layout.clone(), have, &mut rng.fork());
        let files = info.files.len();
        let mut t = Torrent {
            book: AddressBook::new(cfg.max_known_addresses),
            timers: Timers::new(now, &cfg),
            cfg,
            info_hash,
            layout,
            rng,
            picker,
            peers: Slab::new(),
            next_gen: 1,
            outputs: VecDeque::new(),
            streams: Streams::default(),
            file_priority: vec![Priority::Normal; files],
            piece_priority: BTreeMap::new(),
            needed: 0,
            files_done: vec![false; files],
            trust: BTreeMap::new(),
            banned: BTreeSet::new(),
            stopped: None,
            finished_sent: false,
            complete_sent: false,
            next_read: 0,
            reads: BTreeMap::new(),
            downloaded: 0,
            uploaded: 0,
            wasted: 0,
            down_rate: RateMeter::new(now),
            up_rate: RateMeter::new(now),
            pick_buf: Vec::new(),
            info,
        };
        for (i, f) in t.info.files.iter().enumerate() {
            if f.padding {
                t.file_priority[i] = Priority::Skip;
            }
        }
        t.recompute_piece_priorities();
        t.needed = (0..t.layout.piece_count())
            .filter(|&p| t.picker.needed(p))
            .count() as u32;
        for file in 0..files {
            t.files_done[file] = t.file_complete(file);
        }
        t.finished_sent = t.needed == 0;
        t.complete_sent = t.picker.have().is_full();
        t
    }

    // ----- getters -----

    /// The torrent's info-hash.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The torrent's `info` dictionary.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// Piece and file arithmetic.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Verified pieces.
    pub fn have(&self) -> &Bitfield {
        self.picker.have()
    }

    /// How many pieces are not verified yet, wanted or not.
    pub(super) fn missing(&self) -> u32 {
        self.picker.have().len() - self.picker.have().count()
    }

    /// True when every piece is verified.
    pub fn is_complete(&self) -> bool {
        self.picker.have().is_full()
    }

    /// True when every wanted piece is verified.
    pub fn is_finished(&self) -> bool {
        self.needed == 0
    }

    /// The storage error that stopped the torrent, if any.
    pub fn error(&self) -> Option<&DiskError> {
        self.stopped.as_ref()
    }

    /// Connected peers (handshake done).
    pub fn peer_count(&self) -> usize {
        self.peers.iter().filter(|(_, p)| p.handshake_done).count()
    }

    /// Snapshots of every connection.
    pub fn peers(&self, now: Time) -> Vec<PeerInfo> {
        self.peers
            .iter()
            .map(|(slot, p)| PeerInfo {
                key: PeerKey {
                    slot: slot as u32,
                    gen: p.gen,
                },
                addr: p.addr,
                direction: p.direction,
                client: p.client().map(str::to_owned),
                pieces: p.has.count(),
                am_choking: p.am_choking,
                am_interested: p.am_interested,
                peer_choking: p.peer_choking,
                peer_interested: p.peer_interested,
                optimistic: p.optimistic,
                snubbed: p.snubbed,
                requests: p.live_requests(),
                requests_from_peer: p.incoming.len() + p.reads.len(),
                download_rate: p.down.rate(now),
                upload_rate: p.up.rate(now),
            })
            .collect()
    }

    /// Banned addresses.
    pub fn banned(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.banned.iter().copied()
    }

    /// Current transfer figures.
    pub fn stats(&self, now: Time) -> Stats {
        let have = self.picker.have();
        let verified_bytes: u64 = have
            .ones()
            .map(|p| u64::from(self.layout.piece_len(p)))
            .sum();
        let left: u64 = (0..self.layout.piece_count())
            .filter(|&p| self.picker.needed(p))
            .map(|p| u64::from(self.layout.piece_len(p)))
            .sum();
        Stats {
            downloaded: self.downloaded,
            uploaded: self.uploaded,
            wasted: self.wasted,
            download_rate: self.down_rate.rate(now),
            upload_rate: self.up_rate.rate(now),
            peers: self.peer_count(),
            unchoked: self
                .peers
                .iter()
                .filter(|(_, p)| p.handshake_done && !p.am_choking)
                .count(),
            pieces: have.count(),
            verified_bytes,
            left,
        }
    }

    /// Bytes waiting to be sent to `peer` (empty for an unknown key).
    pub fn send_buffer(&self, peer: PeerKey) -> &[u8] {
        self.peer(peer).map_or(&[], |p| p.send.pending())
    }

    // ----- outputs -----

    /// The next thing to do. Drain until `None` after every input.
    pub fn poll(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Torrent::handle_timeout) must be called next;
    /// `None` once the torrent has stopped.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.stopped.is_some() {
            return None;
        }
        self.timers.next()
    }

    /// Timers that are due at `now` fire. Calling early is harmless.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.stopped.is_some() {
            return;
        }
        while let Some(timer) = self.timers.due(now) {
            match timer {
                Timer::Tick => self.on_tick(now),
                Timer::Rechoke => self.rechoke(now),
                Timer::Optimistic => self.rotate_optimistic(now),
                Timer::Stats => {
                    let stats = self.stats(now);
                    self.event(Event::Stats(stats));
                }
            }
            self.timers.rearm(timer, now, &self.cfg);
        }
        self.flush_transmits();
    }

    /// Housekeeping once a second: timeouts, keep-alives, connections,
    /// read-ahead.
    fn on_tick(&mut self, now: Time) {
        self.check_peer_timeouts(now);
        self.check_request_timeouts(now);
        self.check_slow_start(now);
        self.connect_more(now);
        self.refresh_streams(now);
        self.send_pex(now);
    }

    // ----- commands -----

    /// Sets the priority of every piece of `file`. A piece shared with another
    /// file takes the highest priority among its files.
    pub fn set_file_priority(&mut self, now: Time, file: usize, priority: Priority) {
        if file >= self.file_priority.len() || self.info.files[file].padding {
            return;
        }
        self.file_priority[file] = priority;
        self.recompute_piece_priorities();
        self.after_wanted_change(now);
    }

    /// Sets one piece's priority, overriding its files' priorities.
    pub fn set_piece_priority(&mut self, now: Time, piece: u32, priority: Priority) {
        if piece >= self.layout.piece_count() {
            return;
        }
        self.piece_priority.insert(piece, priority);
        self.recompute_piece_priorities();
        self.after_wanted_change(now);
    }

    /// File priorities.
    pub fn file_priorities(&self) -> &[Priority] {
        &self.file_priority
    }

    fn recompute_piece_priorities(&mut self) {
        let mut changed = Vec::new();
        for piece in 0..self.layout.piece_count() {
            let files = self.layout.piece_files(piece);
            let from_files = self.file_priority[files]
                .iter()
                .copied()
                .max()
                .unwrap_or(Priority::Skip);
            let prio = self
                .piece_priority
                .get(&piece)
                .copied()
                .unwrap_or(from_files);
            if self.picker.set_priority(piece, prio) {
                changed.push(piece);
            }
        }
        self.wanted_changed(&changed);
    }

    fn event(&mut self, e: Event) {
        self.outputs.push_back(Output::Event(e));
    }

    fn peer(&self, key: PeerKey) -> Option<&Peer> {
        self.peers
            .get(key.slot as usize)
            .filter(|p| p.gen == key.gen)
    }

    fn peer_mut(&mut self, key: PeerKey) -> Option<&mut Peer> {
        self.peers
            .get_mut(key.slot as usize)
            .filter(|p| p.gen == key.gen)
    }

    /// Keys of every connection, in slot order.
    fn keys(&self) -> Vec<PeerKey> {
        self.peers
            .iter()
            .map(|(slot, p)| PeerKey {
                slot: slot as u32,
                gen: p.gen,
            })
            .collect()
    }

    /// Emits a [`Output::Transmit`] for every peer whose buffer has bytes and
    /// that was not told yet.
    fn flush_transmits(&mut self) {
        for (slot, p) in self.peers.iter_mut() {
            if !p.transmit_signalled && !p.send.is_empty() {
                p.transmit_signalled = true;
                self.outputs.push_back(Output::Transmit(PeerKey {
                    slot: slot as u32,
                    gen: p.gen,
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests;

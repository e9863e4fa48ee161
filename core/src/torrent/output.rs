//! What comes out of a [`Torrent`](super::Torrent): work for the driver and
//! events for the program.

use core::fmt;
use core::net::{IpAddr, SocketAddr};

use super::PeerKey;

/// Which side opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We connected to the peer.
    Outbound,
    /// The peer connected to us.
    Inbound,
}

/// One thing for the driver to do, or to tell the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Bytes are waiting to be sent to this peer: take them with
    /// [`Torrent::send_buffer`](super::Torrent::send_buffer) and report what
    /// the socket took with [`Torrent::handle_sent`](super::Torrent::handle_sent).
    /// Emitted once each time the buffer goes from empty to not empty.
    Transmit(PeerKey),
    /// Open a TCP connection to this address, then call
    /// [`handle_connected`](super::Torrent::handle_connected) or
    /// [`handle_connect_failed`](super::Torrent::handle_connect_failed).
    Connect(SocketAddr),
    /// Close this connection (after sending what is buffered, if convenient).
    /// The key is dead from now on.
    Close {
        /// The peer.
        peer: PeerKey,
        /// Why.
        reason: CloseReason,
    },
    /// A storage job; its completion goes back through the matching
    /// `handle_*` method.
    Disk(DiskJob),
    /// Something a program may want to know.
    Event(Event),
}

/// A storage job. Pieces and offsets are in the torrent's payload; drivers map
/// them onto files with [`Layout::spans`](crate::layout::Layout::spans).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskJob {
    /// Store a received (unverified) block. Complete with
    /// [`handle_write`](super::Torrent::handle_write).
    Write {
        /// Piece index.
        piece: u32,
        /// Offset in the piece.
        offset: u32,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Read a block to upload. Complete with
    /// [`handle_read`](super::Torrent::handle_read).
    Read {
        /// Identifies the job in the completion.
        id: ReadId,
        /// Piece index.
        piece: u32,
        /// Offset in the piece.
        offset: u32,
        /// Bytes to read.
        length: u32,
    },
    /// SHA-1 the whole piece as stored. Complete with
    /// [`handle_hash`](super::Torrent::handle_hash).
    Hash {
        /// Piece index.
        piece: u32,
    },
}

/// Names one read job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadId(pub u64);

/// A storage failure, as the driver describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskError(pub String);

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DiskError {}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The handshake named another torrent.
    WrongInfoHash,
    /// We connected to ourselves.
    SelfConnection,
    /// Another connection already has this peer id.
    DuplicatePeerId,
    /// Another connection already goes to this address.
    DuplicateAddress,
    /// The peer broke the protocol.
    Protocol(String),
    /// No handshake in time.
    HandshakeTimeout,
    /// Nothing received for too long.
    Idle,
    /// The peer's address is banned.
    Banned,
    /// We are at the connection limit.
    TooManyPeers,
    /// The program asked.
    Requested,
    /// The torrent stopped (an error, or shutdown).
    TorrentStopped,
    /// Both sides are seeds: nothing to exchange.
    BothSeeds,
    /// The driver reported the connection closed or failed.
    Closed(String),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::WrongInfoHash => f.write_str("handshake for another torrent"),
            CloseReason::SelfConnection => f.write_str("connected to ourselves"),
            CloseReason::DuplicatePeerId => f.write_str("peer id already connected"),
            CloseReason::DuplicateAddress => f.write_str("address already connected"),
            CloseReason::Protocol(why) => write!(f, "protocol error: {why}"),
            CloseReason::HandshakeTimeout => f.write_str("handshake timed out"),
            CloseReason::Idle => f.write_str("idle for too long"),
            CloseReason::Banned => f.write_str("banned"),
            CloseReason::TooManyPeers => f.write_str("too many peers"),
            CloseReason::Requested => f.write_str("disconnected by request"),
            CloseReason::TorrentStopped => f.write_str("torrent stopped"),
            CloseReason::BothSeeds => f.write_str("both sides are seeds"),
            CloseReason::Closed(why) => write!(f, "connection closed: {why}"),
        }
    }
}

/// Something that happened, for the program to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A piece hashed right and is ours.
    PieceVerified {
        /// Piece index.
        piece: u32,
    },
    /// A piece hashed wrong; its data was thrown away.
    HashFailed {
        /// Piece index.
        piece: u32,
        /// Addresses that sent blocks of it.
        contributors: Vec<IpAddr>,
    },
    /// A peer completed the handshake.
    PeerConnected {
        /// The peer.
        peer: PeerKey,
        /// Its address.
        addr: SocketAddr,
        /// Who opened the connection.
        direction: Direction,
    },
    /// A peer that had completed the handshake is gone.
    PeerDisconnected {
        /// The peer.
        peer: PeerKey,
        /// Its address.
        addr: SocketAddr,
        /// Why.
        reason: CloseReason,
    },
    /// An address is banned for sending bad data (or by the program).
    PeerBanned {
        /// The address.
        ip: IpAddr,
        /// Hash failures it took part in.
        strikes: u8,
    },
    /// Every piece of a file is verified.
    FileCompleted {
        /// File index.
        file: usize,
    },
    /// Every wanted piece is verified (what was selected is done).
    Finished,
    /// Every piece of the torrent is verified: we are a seed.
    Complete,
    /// A stream's next bytes are verified: `position..available` can be read.
    StreamReady {
        /// The stream.
        stream: super::StreamId,
        /// The stream's position (file-relative).
        position: u64,
        /// End of the verified run that starts at `position`.
        available: u64,
    },
    /// The torrent stopped on a storage error. Nothing it touched counts as
    /// verified.
    Stopped {
        /// What failed.
        error: DiskError,
    },
    /// Periodic figures.
    Stats(Stats),
    /// A peer named the UDP port of its DHT node (BEP 5's `port` message):
    /// a driver running a DHT node may ping it and add it to its table.
    DhtNode {
        /// The peer's IP with the port it named.
        addr: SocketAddr,
    },
    /// A tracker of the torrent warned or failed. The engine never emits it:
    /// drivers that announce to trackers publish it next to its events.
    Tracker {
        /// The tracker's announce URL.
        url: String,
        /// What it said, or what went wrong.
        text: String,
        /// An error (the announce failed, the URL cannot be used) rather than
        /// a warning.
        error: bool,
    },
}

/// Transfer figures of a torrent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Payload bytes received (blocks accepted).
    pub downloaded: u64,
    /// Payload bytes sent.
    pub uploaded: u64,
    /// Payload bytes received that were not needed (duplicates, late blocks).
    pub wasted: u64,
    /// Download rate, bytes per second.
    pub download_rate: u64,
    /// Upload rate, bytes per second.
    pub upload_rate: u64,
    /// Connected peers (handshake done).
    pub peers: usize,
    /// Of which we are unchoking.
    pub unchoked: usize,
    /// Verified pieces.
    pub pieces: u32,
    /// Verified bytes.
    pub verified_bytes: u64,
    /// Bytes still wanted (of the selected files and streams).
    pub left: u64,
}

//! The link between a [`TorrentHandle`](crate::TorrentHandle) and whatever runs
//! the torrent's engine: the handle sends [`Command`]s into a [`CommandSink`].
//! sluice-std's sink is the engine thread's channel; sluice-mio's pushes into
//! its event loop's queue and wakes it. Both drivers thus share the handle, the
//! readers and every program-facing type.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::sync::mpsc::Sender;

use sluice_core::picker::Priority;
use sluice_core::torrent::{Event, PeerInfo, Stats, StreamError, StreamId};

/// What a [`TorrentHandle`](crate::TorrentHandle) asks of the thread that
/// runs its torrent's engine (sluice-std's engine thread, or sluice-mio's event
/// loop). Replies travel on the channels inside.
pub enum Command {
    /// Connect to these addresses.
    AddPeers(Vec<SocketAddr>),
    /// Close the connection to this address.
    Disconnect(SocketAddr),
    /// Ban this address.
    Ban(IpAddr),
    /// Set a file's priority; the reply comes once it is in effect.
    FilePriority(usize, Priority, Sender<()>),
    /// Open a stream at a position.
    OpenStream {
        /// File index.
        file: usize,
        /// File-relative byte range.
        range: Range<u64>,
        /// Starting position.
        position: u64,
        /// The stream, or why not.
        reply: Sender<Result<StreamId, StreamError>>,
    },
    /// Move a stream's position.
    SeekStream(StreamId, u64),
    /// Close a stream.
    CloseStream(StreamId),
    /// Current figures.
    Stats(Sender<Stats>),
    /// The connected peers.
    Peers(Sender<Vec<PeerInfo>>),
    /// Send every event from now on here.
    Subscribe(Sender<Event>),
    /// Stop the torrent; with `remove`, delete its data too (keeping verified
    /// pieces if `Some(true)`).
    Stop {
        /// `None`: keep the data; `Some(keep_verified)`: delete it.
        remove: Option<bool>,
        /// When done.
        reply: Sender<std::io::Result<()>>,
    },
}

/// Where a torrent's commands go. Implemented by each driver.
pub trait CommandSink: Send + Sync {
    /// Queues a command for the torrent; false if its engine is gone.
    fn send(&self, cmd: Command) -> bool;
}

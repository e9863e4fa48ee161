//! Work for the event loop from other threads (the program's handles, disk
//! workers, the client): a queue and the poll's waker.

use std::collections::VecDeque;
use std::io;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use mio::Waker;
use sluice_core::metainfo::Metainfo;
use sluice_core::InfoHash;
use sluice_std::command::{Command, CommandSink};
use sluice_std::disk::DiskDone;
use sluice_std::prepare::Prepared;

/// A torrent for the loop to start running.
pub struct NewTorrent {
    pub meta: Metainfo,
    pub prepared: Prepared,
    pub disk_threads: usize,
}

/// One piece of work.
pub enum Work {
    /// A command from a torrent's handle.
    Command(InfoHash, Command),
    /// A storage job finished.
    Disk(InfoHash, DiskDone),
    /// A tracker's name was looked up.
    Resolved(super::Lookup),
    /// The DHT routers' names were resolved.
    DhtBootstrap(Vec<std::net::SocketAddr>),
    /// A magnet link's metadata fetch wants peers of this info-hash: send it
    /// those the DHT and trackers (the link's `tr` tiers, and the client's)
    /// find, until [`FindDone`](Work::FindDone).
    Find {
        info_hash: InfoHash,
        tiers: Vec<Vec<String>>,
        tx: Sender<Vec<std::net::SocketAddr>>,
    },
    /// The metadata fetch of this info-hash ended.
    FindDone(InfoHash),
    /// Run a new torrent.
    Add(Box<NewTorrent>, Sender<io::Result<()>>),
    /// Stop accepting peers and end the loop once every torrent has stopped.
    Exit,
}

/// The queue and the waker.
pub struct Inbox {
    queue: Mutex<VecDeque<Work>>,
    waker: Waker,
}

impl Inbox {
    pub fn new(waker: Waker) -> Arc<Inbox> {
        Arc::new(Inbox {
            queue: Mutex::new(VecDeque::new()),
            waker,
        })
    }

    /// Queues `work` and wakes the loop.
    pub fn push(&self, work: Work) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(work);
        let _ = self.waker.wake();
    }

    /// Everything queued so far.
    pub fn take(&self) -> VecDeque<Work> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The [`CommandSink`] of one torrent's handles.
pub struct Sink {
    pub info_hash: InfoHash,
    pub inbox: Arc<Inbox>,
    /// Set by the loop when the torrent is gone, so handles fail fast.
    pub alive: Arc<std::sync::atomic::AtomicBool>,
}

impl CommandSink for Sink {
    fn send(&self, cmd: Command) -> bool {
        if !self.alive.load(std::sync::atomic::Ordering::SeqCst) {
            return false;
        }
        self.inbox.push(Work::Command(self.info_hash, cmd));
        true
    }
}

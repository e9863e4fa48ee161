//! [`TorrentHandle`]: what a program holds to work with one torrent. Cheap to
//! clone and usable from any thread; every call goes to the torrent's engine
//! thread as a message.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

use sluice_core::metainfo::Metainfo;
use sluice_core::picker::Priority;
use sluice_core::torrent::{Event, PeerInfo, Stats};
use sluice_core::{Bitfield, InfoHash};

use crate::command::{Command, CommandSink};
use crate::error::Error;
use crate::reader::FileReader;
use crate::status::Shared;
use crate::storage::Storage;

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Index in the torrent.
    pub index: usize,
    /// Path relative to the download folder, components joined with `/`.
    pub path: String,
    /// Length in bytes.
    pub length: u64,
    /// Offset of its first byte in the torrent's payload.
    pub offset: u64,
    /// A BEP 47 padding file (never stored, never shown to users).
    pub padding: bool,
}

pub(crate) struct Inner {
    pub sink: Arc<dyn CommandSink>,
    pub shared: Arc<Shared>,
    pub storage: Arc<dyn Storage>,
    pub meta: Metainfo,
    pub download_dir: PathBuf,
    pub trackers: Vec<String>,
}

/// A torrent added to a [`Client`](crate::Client).
///
/// ```no_run
/// use std::io::Read;
/// use std::time::Duration;
/// use sluice_std::{Client, ClientOptions};
///
/// let client = Client::start(ClientOptions::new("downloads"))?;
/// let t = client.add_torrent_file("movie.torrent")?;
/// t.connect("127.0.0.1:6881".parse().unwrap());
/// // Read the middle of the first file while the rest downloads.
/// let mut r = t.range_reader(0, 1_000_000..=1_999_999)?;
/// let mut buf = Vec::new();
/// r.read_to_end(&mut buf)?;
/// t.wait_finished(Some(Duration::from_secs(600)))?;
/// client.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TorrentHandle {
    pub(crate) inner: Arc<Inner>,
}

impl TorrentHandle {
    /// A handle on a torrent whose engine takes commands through `sink` and
    /// publishes its state in `shared`. For drivers: programs get handles from
    /// their client.
    pub fn from_parts(
        sink: Arc<dyn CommandSink>,
        shared: Arc<Shared>,
        storage: Arc<dyn Storage>,
        meta: Metainfo,
        download_dir: PathBuf,
        trackers: Vec<String>,
    ) -> TorrentHandle {
        TorrentHandle {
            inner: Arc::new(Inner {
                sink,
                shared,
                storage,
                meta,
                download_dir,
                trackers,
            }),
        }
    }

    fn send(&self, cmd: Command) -> Result<(), Error> {
        if self.inner.sink.send(cmd) {
            Ok(())
        } else {
            Err(Error::Stopped(self.stop_reason()))
        }
    }

    fn ask<T>(&self, make: impl FnOnce(mpsc::Sender<T>) -> Command) -> Result<T, Error> {
        let (tx, rx) = mpsc::channel();
        self.send(make(tx))?;
        rx.recv().map_err(|_| Error::Stopped(self.stop_reason()))
    }

    fn stop_reason(&self) -> String {
        let s = self.inner.shared.lock();
        s.error.clone().unwrap_or_else(|| "shut down".into())
    }

    /// The info-hash.
    pub fn info_hash(&self) -> InfoHash {
        self.inner.meta.info_hash
    }

    /// The torrent's name.
    pub fn name(&self) -> &str {
        &self.inner.meta.info.name
    }

    /// The parsed `.torrent`.
    pub fn metainfo(&self) -> &Metainfo {
        &self.inner.meta
    }

    /// Trackers: the torrent's own tiers, then the client's extra ones.
    pub fn trackers(&self) -> Vec<String> {
        let mut all: Vec<String> = self.inner.meta.trackers().into_iter().flatten().collect();
        all.extend(self.inner.trackers.iter().cloned());
        all
    }

    /// The folder its files are stored under.
    pub fn download_dir(&self) -> &std::path::Path {
        &self.inner.download_dir
    }

    /// Its files, in torrent order.
    pub fn files(&self) -> Vec<FileInfo> {
        self.inner
            .meta
            .info
            .files
            .iter()
            .enumerate()
            .map(|(index, f)| FileInfo {
                index,
                path: f.display_path(),
                length: f.length,
                offset: f.offset,
                padding: f.padding,
            })
            .collect()
    }

    /// Connects to a peer (in addition to any found otherwise).
    pub fn connect(&self, addr: SocketAddr) {
        let _ = self.send(Command::AddPeers(vec![addr]));
    }

    /// Connects to several peers.
    pub fn add_peers(&self, addrs: impl IntoIterator<Item = SocketAddr>) {
        let _ = self.send(Command::AddPeers(addrs.into_iter().collect()));
    }

    /// Closes the connection to a peer and forgets its address.
    pub fn disconnect(&self, addr: SocketAddr) {
        let _ = self.send(Command::Disconnect(addr));
    }

    /// Bans an address: its connections close and it is never used again.
    pub fn block(&self, ip: IpAddr) {
        let _ = self.send(Command::Ban(ip));
    }

    /// Downloads file `index` (normal priority).
    pub fn select(&self, index: usize) -> Result<(), Error> {
        self.set_file_priority(index, Priority::Normal)
    }

    /// Stops downloading file `index` (streams may still ask for its pieces).
    pub fn deselect(&self, index: usize) -> Result<(), Error> {
        self.set_file_priority(index, Priority::Skip)
    }

    /// Sets a file's priority.
    pub fn set_file_priority(&self, index: usize, priority: Priority) -> Result<(), Error> {
        if index >= self.inner.meta.info.files.len() {
            return Err(Error::NoSuchFile(index));
        }
        self.inner
            .storage
            .set_file_wanted(index, priority != Priority::Skip)?;
        // Synchronous, so that a `wait_finished` right after sees the change.
        self.ask(|reply| Command::FilePriority(index, priority, reply))
    }

    /// Current figures.
    pub fn stats(&self) -> Result<Stats, Error> {
        self.ask(Command::Stats)
    }

    /// The connected peers.
    pub fn peers(&self) -> Result<Vec<PeerInfo>, Error> {
        self.ask(Command::Peers)
    }

    /// Verified pieces.
    pub fn have(&self) -> Bitfield {
        self.inner.shared.lock().have.clone()
    }

    /// Verified pieces and the total.
    pub fn progress(&self) -> (u32, u32) {
        let s = self.inner.shared.lock();
        (s.have.count(), s.have.len())
    }

    /// True when every piece is verified.
    pub fn is_complete(&self) -> bool {
        self.inner.shared.lock().complete
    }

    /// The storage error that stopped the torrent, if one did.
    pub fn error(&self) -> Option<String> {
        self.inner.shared.lock().error.clone()
    }

    /// Every event from now on, in order. Events queue until read: drop the
    /// receiver to stop receiving.
    pub fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = mpsc::channel();
        let _ = self.send(Command::Subscribe(tx));
        rx
    }

    /// Waits until every wanted piece (of the selected files) is verified.
    pub fn wait_finished(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.wait(timeout, |s| s.finished || s.complete)
    }

    /// Waits until every piece is verified.
    pub fn wait_complete(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.wait(timeout, |s| s.complete)
    }

    fn wait(
        &self,
        timeout: Option<Duration>,
        done: impl Fn(&crate::status::Status) -> bool,
    ) -> Result<(), Error> {
        let r = self.inner.shared.wait_for(timeout, |s| {
            if done(s) {
                Some(Ok(()))
            } else if let Some(e) = &s.error {
                Some(Err(Error::Stopped(e.clone())))
            } else if s.stopped {
                Some(Err(Error::Stopped("shut down".into())))
            } else {
                None
            }
        });
        r.unwrap_or_else(|| {
            Err(Error::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "timed out waiting for the torrent",
            )))
        })
    }

    /// A reader over the whole of file `index`: `Read + Seek`, blocking until
    /// the bytes it needs are verified, fetching them first.
    pub fn reader(&self, index: usize) -> Result<FileReader, Error> {
        let f = self
            .inner
            .meta
            .info
            .files
            .get(index)
            .ok_or(Error::NoSuchFile(index))?;
        FileReader::new(self.clone(), index, 0..f.length)
    }

    /// A reader over bytes `start..=end` of file `index` (torrent-stream's
    /// `createReadStream({start, end})`); positions are relative to `start`.
    pub fn range_reader(
        &self,
        index: usize,
        range: RangeInclusive<u64>,
    ) -> Result<FileReader, Error> {
        let f = self
            .inner
            .meta
            .info
            .files
            .get(index)
            .ok_or(Error::NoSuchFile(index))?;
        let (start, end) = (*range.start(), range.end().saturating_add(1).min(f.length));
        if start >= end {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "empty or out-of-bounds range {range:?} in a file of {} bytes",
                    f.length
                ),
            )));
        }
        FileReader::new(self.clone(), index, start..end)
    }

    pub(crate) fn command(&self, cmd: Command) -> Result<(), Error> {
        self.send(cmd)
    }

    pub(crate) fn request<T>(
        &self,
        make: impl FnOnce(mpsc::Sender<T>) -> Command,
    ) -> Result<T, Error> {
        self.ask(make)
    }

    /// Stops the torrent (connections closed, files flushed, resume saved).
    pub fn stop(&self) -> Result<(), Error> {
        self.stop_with(None)
    }

    /// Stops the torrent and deletes its data. With `keep_verified`, only
    /// partial data goes: files holding verified pieces stay, and the resume
    /// file records them (torrent-stream's `remove(keep-pieces)`).
    pub fn remove(&self, keep_verified: bool) -> Result<(), Error> {
        self.stop_with(Some(keep_verified))
    }

    fn stop_with(&self, remove: Option<bool>) -> Result<(), Error> {
        if self.inner.shared.lock().stopped {
            return Ok(());
        }
        match self.ask(|reply| Command::Stop { remove, reply }) {
            Ok(r) => r.map_err(Error::Io),
            // Already stopped by someone else.
            Err(Error::Stopped(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl std::fmt::Debug for TorrentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorrentHandle")
            .field("info_hash", &self.info_hash())
            .field("name", &self.name())
            .finish()
    }
}

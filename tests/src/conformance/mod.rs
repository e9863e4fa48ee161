//! Conformance scenarios shared by the drivers.
//!
//! Both drivers run the same core and promise the same things to a program
//! (DESIGN.md, *Drivers*). This module states that promise once:
//!
//! * [`Driver`], [`Client`] and [`Torrent`]: the few calls the scenarios make,
//!   a thin veneer over each driver's own API. [`Std`] implements them for
//!   sluice-std; the mio driver gets its own implementation next to it.
//! * [`scenarios`]: one generic function per scenario. Each test file
//!   (`tests/tests/conformance_std.rs`, later `conformance_mio.rs`) holds one
//!   `#[test]` per scenario that instantiates it for its driver.
//! * [`Payload`], [`Gate`], [`WriteBudget`] and a few helpers: test data with
//!   its `.torrent`, a loopback proxy that lets a chosen number of bytes through
//!   (so a scenario can act mid-download without a slow link), and the
//!   accounting of a storage backend that fails after so many bytes.
//!
//! Everything runs on 127.0.0.1 (the bad-peer scenario also uses 127.0.0.2, as
//! bans are per address) and every wait is bounded.

mod failing;
mod gate;
mod helpers;
mod mio_driver;
mod payload;
pub mod scenarios;
mod std_driver;

use std::io::{self, Read, Seek};
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use sluice_core::torrent::{Event, Stats};
use sluice_core::Bitfield;

pub use failing::WriteBudget;
pub use gate::Gate;
pub use helpers::{driver_panics, files_under, watch_driver_panics, within};
pub use mio_driver::Mio;
pub use payload::Payload;
pub use std_driver::Std;

/// A driver under test: how to start a client, and how to run its downloader
/// as a separate process (to kill it mid-transfer).
pub trait Driver: 'static {
    /// Shown in messages.
    const NAME: &'static str;
    /// A running client.
    type Client: Client<Torrent = Self::Torrent>;
    /// A torrent added to a client.
    type Torrent: Torrent;

    /// Starts a client.
    fn start(opts: Options) -> io::Result<Self::Client>;

    /// A command that downloads `torrent` (a `.torrent` file) into `dir` from
    /// `peers`, printing `<have>/<total> pieces` at least once a second, and
    /// exits when the download is complete.
    fn download_command(torrent: &Path, dir: &Path, peers: &[SocketAddr]) -> Command;
}

/// A running client: one listening socket, one download folder.
pub trait Client: Send + Sync + 'static {
    /// Its torrents.
    type Torrent: Torrent;

    /// The address peers reach it at.
    fn local_addr(&self) -> SocketAddr;

    /// Adds a torrent from the bytes of a `.torrent` file. Existing data in
    /// the download folder is checked first (or trusted from a resume record).
    fn add(&self, torrent: &[u8], add: Add) -> io::Result<Self::Torrent>;

    /// Stops every torrent cleanly (data flushed, resume records saved).
    fn shutdown(self) -> io::Result<()>;
}

/// A torrent in a client. Waits end in an error of kind
/// [`io::ErrorKind::TimedOut`] when they time out, and in another error when
/// the torrent stops (the message says why).
pub trait Torrent: Clone + Send + Sync + 'static {
    /// A blocking reader over a file or a byte range of it.
    type Reader: Read + Seek + Send + 'static;

    /// Connects to a peer.
    fn connect(&self, peer: SocketAddr);
    /// Bans an address.
    fn block(&self, ip: IpAddr);
    /// Downloads file `file`.
    fn select(&self, file: usize) -> io::Result<()>;
    /// Stops downloading file `file`.
    fn deselect(&self, file: usize) -> io::Result<()>;
    /// The verified pieces.
    fn have(&self) -> Bitfield;
    /// Verified pieces and the total.
    fn progress(&self) -> (u32, u32);
    /// The engine's figures.
    fn stats(&self) -> io::Result<Stats>;
    /// The error that stopped the torrent, if one did.
    fn error(&self) -> Option<String>;
    /// Every event from now on.
    fn subscribe(&self) -> Receiver<Event>;
    /// Waits until the selected files are verified.
    fn wait_finished(&self, timeout: Duration) -> io::Result<()>;
    /// Waits until every piece is verified.
    fn wait_complete(&self, timeout: Duration) -> io::Result<()>;
    /// A reader over file `file`.
    fn reader(&self, file: usize) -> io::Result<Self::Reader>;
    /// A reader over bytes `range` of file `file`; positions are relative to
    /// the start of the range.
    fn range_reader(&self, file: usize, range: RangeInclusive<u64>) -> io::Result<Self::Reader>;
    /// Stops the torrent cleanly.
    fn stop(&self) -> io::Result<()>;
    /// Stops the torrent and deletes its data, keeping the verified pieces if
    /// `keep_verified`.
    fn remove(&self, keep_verified: bool) -> io::Result<()>;
}

/// How a scenario starts a client.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen (`127.0.0.1:0` unless a scenario needs another address).
    pub listen: SocketAddr,
    /// The download folder.
    pub download_dir: PathBuf,
    /// The storage backend.
    pub storage: StorageKind,
    /// Hash existing data when a torrent is added.
    pub verify_on_start: bool,
}

impl Options {
    /// Files in `download_dir`, listening on 127.0.0.1 at a free port,
    /// verifying existing data.
    pub fn new(download_dir: impl Into<PathBuf>) -> Options {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            download_dir: download_dir.into(),
            storage: StorageKind::Files,
            verify_on_start: true,
        }
    }
}

/// Which storage backend a client uses.
#[derive(Debug, Clone)]
pub enum StorageKind {
    /// The driver's file backend (the default).
    Files,
    /// The driver's memory backend.
    Memory,
    /// A program-supplied backend (the driver's custom-storage hook): the
    /// driver's memory backend behind a [`WriteBudget`], whose writes fail once
    /// the budget is spent.
    FailingWrites(Arc<WriteBudget>),
}

/// How a torrent is added.
#[derive(Debug, Clone, Default)]
pub struct Add {
    /// Files to download; `None` for all.
    pub selected: Option<Vec<usize>>,
    /// Peers to connect to at once.
    pub peers: Vec<SocketAddr>,
}

impl Add {
    /// Every file, from these peers.
    pub fn from(peers: &[SocketAddr]) -> Add {
        Add {
            selected: None,
            peers: peers.to_vec(),
        }
    }

    /// Only `files`, from these peers.
    pub fn only(files: &[usize], peers: &[SocketAddr]) -> Add {
        Add {
            selected: Some(files.to_vec()),
            peers: peers.to_vec(),
        }
    }
}

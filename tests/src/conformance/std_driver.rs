//! The conformance traits for sluice-std: each call is the driver's own.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sluice_core::metainfo::Metainfo;
use sluice_core::torrent::{Event, Stats};
use sluice_core::Bitfield;
use sluice_std::storage::{MemoryStorage, Storage};
use sluice_std::{AddOptions, ClientOptions, FileReader, StorageChoice, TorrentHandle};

use super::{Add, Client, Driver, Options, StorageKind, Torrent, WriteBudget};
use crate::bin::workspace_root;

/// sluice-std, the blocking driver.
#[derive(Debug)]
pub struct Std;

impl Driver for Std {
    const NAME: &'static str = "sluice-std";
    type Client = sluice_std::Client;
    type Torrent = TorrentHandle;

    fn start(opts: Options) -> io::Result<sluice_std::Client> {
        let mut o = ClientOptions::new(opts.download_dir);
        o.listen = opts.listen;
        o.verify_on_start = opts.verify_on_start;
        o.storage = match opts.storage {
            StorageKind::Files => StorageChoice::Files,
            StorageKind::Memory => StorageChoice::Memory,
            StorageKind::FailingWrites(budget) => {
                StorageChoice::Custom(Arc::new(move |meta: &Metainfo, _: &Path| {
                    let s: Arc<dyn Storage> = Arc::new(Failing {
                        inner: MemoryStorage::new(&meta.layout()),
                        budget: budget.clone(),
                    });
                    Ok(s)
                }))
            }
        };
        Ok(sluice_std::Client::start(o)?)
    }

    fn download_command(torrent: &Path, dir: &Path, peers: &[SocketAddr]) -> Command {
        let mut cmd = Command::new(download_example());
        cmd.arg(torrent).arg("-o").arg(dir);
        for p in peers {
            cmd.arg("--peer").arg(p.to_string());
        }
        cmd
    }
}

impl Client for sluice_std::Client {
    type Torrent = TorrentHandle;

    fn local_addr(&self) -> SocketAddr {
        sluice_std::Client::local_addr(self)
    }

    fn add(&self, torrent: &[u8], add: Add) -> io::Result<TorrentHandle> {
        let meta = Metainfo::from_bytes(torrent)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let opts = AddOptions {
            selected: add.selected,
            peers: add.peers,
        };
        Ok(self.add_torrent(meta, opts)?)
    }

    fn shutdown(self) -> io::Result<()> {
        Ok(sluice_std::Client::shutdown(self)?)
    }
}

impl Torrent for TorrentHandle {
    type Reader = FileReader;

    fn connect(&self, peer: SocketAddr) {
        TorrentHandle::connect(self, peer);
    }

    fn block(&self, ip: IpAddr) {
        TorrentHandle::block(self, ip);
    }

    fn select(&self, file: usize) -> io::Result<()> {
        Ok(TorrentHandle::select(self, file)?)
    }

    fn deselect(&self, file: usize) -> io::Result<()> {
        Ok(TorrentHandle::deselect(self, file)?)
    }

    fn have(&self) -> Bitfield {
        TorrentHandle::have(self)
    }

    fn progress(&self) -> (u32, u32) {
        TorrentHandle::progress(self)
    }

    fn stats(&self) -> io::Result<Stats> {
        Ok(TorrentHandle::stats(self)?)
    }

    fn error(&self) -> Option<String> {
        TorrentHandle::error(self)
    }

    fn subscribe(&self) -> Receiver<Event> {
        TorrentHandle::subscribe(self)
    }

    fn wait_finished(&self, timeout: Duration) -> io::Result<()> {
        Ok(TorrentHandle::wait_finished(self, Some(timeout))?)
    }

    fn wait_complete(&self, timeout: Duration) -> io::Result<()> {
        Ok(TorrentHandle::wait_complete(self, Some(timeout))?)
    }

    fn reader(&self, file: usize) -> io::Result<FileReader> {
        Ok(TorrentHandle::reader(self, file)?)
    }

    fn range_reader(&self, file: usize, range: RangeInclusive<u64>) -> io::Result<FileReader> {
        Ok(TorrentHandle::range_reader(self, file, range)?)
    }

    fn stop(&self) -> io::Result<()> {
        Ok(TorrentHandle::stop(self)?)
    }

    fn remove(&self, keep_verified: bool) -> io::Result<()> {
        Ok(TorrentHandle::remove(self, keep_verified)?)
    }
}

/// sluice-std's memory backend behind a [`WriteBudget`].
pub(super) struct Failing {
    inner: MemoryStorage,
    budget: Arc<WriteBudget>,
}

impl Failing {
    pub(super) fn new(inner: MemoryStorage, budget: Arc<WriteBudget>) -> Failing {
        Failing { inner, budget }
    }
}

impl Storage for Failing {
    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> io::Result<()> {
        self.budget.charge(piece, offset, data.len())?;
        self.inner.write(piece, offset, data)
    }

    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read(piece, offset, buf)
    }

    fn remove(&self, keep: Option<&Bitfield>) -> io::Result<()> {
        self.inner.remove(keep)
    }
}

/// The `download` example of sluice-std, built on first use with the cargo
/// and profile that built the tests (a no-op when it is fresh).
fn download_example() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let mut dir = exe.parent().expect("test executable has a folder");
        if dir.file_name().is_some_and(|n| n == "deps") {
            dir = dir.parent().expect("deps/ has a parent");
        }
        let bin = dir
            .join("examples")
            .join(format!("download{}", std::env::consts::EXE_SUFFIX));
        if let Some(cargo) = std::env::var_os("CARGO") {
            let mut cmd = Command::new(cargo);
            cmd.args([
                "build",
                "--quiet",
                "-p",
                "sluice-std",
                "--example",
                "download",
            ])
            .current_dir(workspace_root());
            match dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => {}
                Some("release") => {
                    cmd.arg("--release");
                }
                Some(other) => {
                    cmd.args(["--profile", other]);
                }
            }
            if let Some(target) = dir.parent() {
                cmd.env("CARGO_TARGET_DIR", target);
            }
            let started = std::time::Instant::now();
            let status = cmd.status().expect("run cargo build");
            assert!(status.success(), "building the download example failed");
            let took = started.elapsed();
            if took > Duration::from_secs(1) {
                println!("built the download example in {took:?}");
            }
        }
        assert!(bin.is_file(), "no download example at {}", bin.display());
        bin
    })
    .clone()
}

//! The conformance traits for sluice-mio, the event-loop driver. Its torrent
//! handles and readers are the same types as sluice-std's, so only the driver
//! and the client are its own.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sluice_core::metainfo::Metainfo;
use sluice_mio::{AddOptions, ClientOptions, StorageChoice, TorrentHandle};
use sluice_std::storage::{MemoryStorage, Storage};

use super::std_driver::Failing;
use super::{Add, Client, Driver, Options, StorageKind};
use crate::bin::workspace_root;

/// sluice-mio, the event-loop driver.
#[derive(Debug)]
pub struct Mio;

impl Driver for Mio {
    const NAME: &'static str = "sluice-mio";
    type Client = sluice_mio::Client;
    type Torrent = TorrentHandle;

    fn start(opts: Options) -> io::Result<sluice_mio::Client> {
        let mut o = ClientOptions::new(opts.download_dir);
        o.listen = opts.listen;
        o.verify_on_start = opts.verify_on_start;
        o.storage = match opts.storage {
            StorageKind::Files => StorageChoice::Files,
            StorageKind::Memory => StorageChoice::Memory,
            StorageKind::FailingWrites(budget) => {
                StorageChoice::Custom(Arc::new(move |meta: &Metainfo, _: &Path| {
                    let s: Arc<dyn Storage> = Arc::new(Failing::new(
                        MemoryStorage::new(&meta.layout()),
                        budget.clone(),
                    ));
                    Ok(s)
                }))
            }
        };
        Ok(sluice_mio::Client::start(o)?)
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

impl Client for sluice_mio::Client {
    type Torrent = TorrentHandle;

    fn local_addr(&self) -> SocketAddr {
        sluice_mio::Client::local_addr(self)
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
        Ok(sluice_mio::Client::shutdown(self)?)
    }
}

/// The `download` example of sluice-mio, built on first use with the cargo
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
            .join(format!("mio_download{}", std::env::consts::EXE_SUFFIX));
        if let Some(cargo) = std::env::var_os("CARGO") {
            let mut cmd = Command::new(cargo);
            cmd.args([
                "build",
                "--quiet",
                "-p",
                "sluice-mio",
                "--example",
                "mio_download",
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

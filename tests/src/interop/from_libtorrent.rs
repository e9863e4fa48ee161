//! sluice downloads from a libtorrent seed (python3-libtorrent 2.0, over TCP on
//! 127.0.0.1): a 64 MiB single-file torrent and a multi-file torrent of more than
//! 64 MiB; the files must come out byte-identical.

use std::time::Instant;

use super::{finish_download, scratch};
use crate::peers::data::{self, Payload, MIB};
use crate::peers::{Driver, LtOptions, LtPeer, SluicePeer};
use crate::{require_python_libtorrent, TempDir};

fn download(driver: Driver, dir: &TempDir, payload: &Payload) {
    let t0 = Instant::now();
    let Some(seed) = LtPeer::seed(&payload.torrent, &payload.save_path, &LtOptions::default())
    else {
        return;
    };
    let seed_ready = t0.elapsed();
    let leech = SluicePeer::start(
        driver,
        "leecher",
        &dir.join("leech"),
        &payload.created.bytes,
    );
    leech.torrent.connect(seed.addr());
    finish_download(&leech, "libtorrent", payload, seed_ready, &[&seed]);
}

/// A 64 MiB single-file torrent.
pub fn single_file(driver: Driver) {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = scratch(driver, "lt-single");
    let payload = data::single_file(dir.path(), "single.bin", 64 * MIB, 0x1001, &[]);
    download(driver, &dir, &payload);
}

/// A multi-file torrent of more than 64 MiB.
pub fn multi_file(driver: Driver) {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = scratch(driver, "lt-multi");
    let payload = data::multi_file(dir.path(), "multi", 64 * MIB, 0x1002, &[]);
    download(driver, &dir, &payload);
}

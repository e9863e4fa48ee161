//! sluice downloads from a transmission-cli 3.00 seed on 127.0.0.1: a 64 MiB
//! single-file torrent and a multi-file torrent of more than 64 MiB; the files must
//! come out byte-identical. transmission may wait up to its 10 s rechoke period before
//! unchoking a new peer, hence the generous bound.

use std::time::Instant;

use super::{finish_download, scratch};
use crate::peers::data::{self, Payload, MIB};
use crate::peers::{Driver, SluicePeer, TransmissionSeed};
use crate::{require_tool, TempDir};

fn download(driver: Driver, dir: &TempDir, payload: &Payload) {
    let t0 = Instant::now();
    let meta = &payload.created.meta;
    let Some(seed) = TransmissionSeed::start(
        dir.path(),
        &payload.torrent,
        &payload.save_path,
        &meta.info_hash,
        payload.pieces(),
    ) else {
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
    finish_download(&leech, "transmission", payload, seed_ready, &[&seed]);
}

/// A 64 MiB single-file torrent.
pub fn single_file(driver: Driver) {
    if require_tool("transmission-cli").is_none() {
        return;
    }
    let dir = scratch(driver, "tr-single");
    let payload = data::single_file(dir.path(), "single.bin", 64 * MIB, 0x2001, &[]);
    download(driver, &dir, &payload);
}

/// A multi-file torrent of more than 64 MiB.
pub fn multi_file(driver: Driver) {
    if require_tool("transmission-cli").is_none() {
        return;
    }
    let dir = scratch(driver, "tr-multi");
    let payload = data::multi_file(dir.path(), "multi", 64 * MIB, 0x2002, &[]);
    download(driver, &dir, &payload);
}

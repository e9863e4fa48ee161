//! sluice downloads from an aria2c 1.36 seed on 127.0.0.1: a 64 MiB single-file
//! torrent and a multi-file torrent of more than 64 MiB; the files must come out
//! byte-identical. The torrents announce to an opentracker on loopback (aria2 wants a
//! tracker); sluice connects to aria2's listen port directly.

use std::time::Instant;

use super::{finish_download, scratch, LIMIT};
use crate::peers::data::{self, Payload, MIB};
use crate::peers::{free_port, Aria2, Driver, SluicePeer, Tracker};
use crate::{require_tool, TempDir};

/// aria2c and the tracker it needs; prints why not when one is missing.
pub(super) fn tools_present() -> bool {
    require_tool("aria2c").is_some() && require_tool("opentracker").is_some()
}

fn download(driver: Driver, dir: &TempDir, payload: &Payload, tracker_port: u16) {
    let t0 = Instant::now();
    let meta = &payload.created.meta;
    let Some(tracker) = Tracker::start(dir.path(), tracker_port, &[meta.info_hash]) else {
        return;
    };
    let Some(seed) = Aria2::seed(dir.path(), &payload.torrent, &payload.save_path, LIMIT) else {
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
    finish_download(&leech, "aria2", payload, seed_ready, &[&seed, &tracker]);
}

/// A 64 MiB single-file torrent.
pub fn single_file(driver: Driver) {
    if !tools_present() {
        return;
    }
    let dir = scratch(driver, "a2-single");
    let port = free_port();
    let payload = data::single_file(
        dir.path(),
        "single.bin",
        64 * MIB,
        0x3001,
        &[Tracker::url(port)],
    );
    download(driver, &dir, &payload, port);
}

/// A multi-file torrent of more than 64 MiB.
pub fn multi_file(driver: Driver) {
    if !tools_present() {
        return;
    }
    let dir = scratch(driver, "a2-multi");
    let port = free_port();
    let payload = data::multi_file(dir.path(), "multi", 64 * MIB, 0x3002, &[Tracker::url(port)]);
    download(driver, &dir, &payload, port);
}

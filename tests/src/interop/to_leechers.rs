//! A sluice seed serves a libtorrent leecher and an aria2 leecher on 127.0.0.1, each
//! with a 64 MiB single-file torrent and a multi-file torrent of more than 64 MiB;
//! what they download must be byte-identical. libtorrent is told the seed's address;
//! aria2 learns it from an opentracker, where the test announces the seed.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{from_aria2, payload_name, scratch, LIMIT};
use crate::peers::data::{self, Payload, MIB};
use crate::peers::{free_port, Aria2, Driver, LtOptions, LtPeer, SluicePeer, Tracker};
use crate::{require_python_libtorrent, TempDir};

/// A sluice seed of `payload` (verified from its files).
fn seed(driver: Driver, payload: &Payload) -> SluicePeer {
    let seed = SluicePeer::start(driver, "seed", &payload.save_path, &payload.created.bytes);
    assert!(
        seed.torrent.is_complete(),
        "the {} seed did not verify its data: {:?}",
        driver.name(),
        seed.torrent.progress()
    );
    seed
}

fn report(who: &str, payload: &Payload, took: Duration, seed: &SluicePeer) {
    let uploaded = seed.torrent.stats().map(|s| s.uploaded).unwrap_or(0);
    println!(
        "{} ({} MiB, {} pieces) to {who}: {took:.2?} ({:.1} MiB/s), {} uploaded {:.1} MiB",
        payload_name(payload).to_string_lossy(),
        payload.total_length() / MIB,
        payload.pieces(),
        payload.total_length() as f64 / MIB as f64 / took.as_secs_f64(),
        seed.driver().name(),
        uploaded as f64 / MIB as f64
    );
}

fn libtorrent_leeches(driver: Driver, dir: &TempDir, payload: &Payload) {
    let seed = seed(driver, payload);
    let opts = LtOptions {
        peers: vec![seed.addr()],
        timeout: LIMIT,
        ..LtOptions::default()
    };
    let t0 = Instant::now();
    let Some(mut leech) = LtPeer::leech(&payload.torrent, &dir.join("lt"), &opts) else {
        return;
    };
    leech.wait_complete(LIMIT, &[&seed]);
    let took = t0.elapsed();
    report("libtorrent", payload, took, &seed);
    data::assert_same_tree(
        &payload.root,
        &dir.join("lt").join(payload_name(payload)),
        &[],
    );
}

fn aria2_leeches(driver: Driver, dir: &TempDir, payload: &Payload, tracker_port: u16) {
    let meta = &payload.created.meta;
    let Some(tracker) = Tracker::start(dir.path(), tracker_port, &[meta.info_hash]) else {
        return;
    };
    let seed = seed(driver, payload);
    // Announce the seed as it would itself (neither driver has a tracker client yet).
    let peer_id = seed.client.peer_id().0;
    tracker.announce(&meta.info_hash, &peer_id, seed.addr().port(), 0);
    let t0 = Instant::now();
    let save = dir.join("aria2");
    let Some(mut leech) = Aria2::leech(dir.path(), &payload.torrent, &save, LIMIT) else {
        return;
    };
    leech.wait_complete(LIMIT, &[&seed, &tracker]);
    let took = t0.elapsed();
    report("aria2", payload, took, &seed);
    data::assert_same_tree(
        &payload.root,
        &save.join(payload_name(payload)),
        &[".aria2"],
    );
}

fn single(dir: &Path, seed: u64, trackers: &[String]) -> Payload {
    data::single_file(dir, "single.bin", 64 * MIB, seed, trackers)
}

fn multi(dir: &Path, seed: u64, trackers: &[String]) -> Payload {
    data::multi_file(dir, "multi", 64 * MIB, seed, trackers)
}

/// A 64 MiB single-file torrent to libtorrent.
pub fn single_file_to_libtorrent(driver: Driver) {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = scratch(driver, "to-lt-single");
    let payload = single(dir.path(), 0x4001, &[]);
    libtorrent_leeches(driver, &dir, &payload);
}

/// A multi-file torrent of more than 64 MiB to libtorrent.
pub fn multi_file_to_libtorrent(driver: Driver) {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = scratch(driver, "to-lt-multi");
    let payload = multi(dir.path(), 0x4002, &[]);
    libtorrent_leeches(driver, &dir, &payload);
}

/// A 64 MiB single-file torrent to aria2.
pub fn single_file_to_aria2(driver: Driver) {
    if !from_aria2::tools_present() {
        return;
    }
    let dir = scratch(driver, "to-a2-single");
    let port = free_port();
    let payload = single(dir.path(), 0x4003, &[Tracker::url(port)]);
    aria2_leeches(driver, &dir, &payload, port);
}

/// A multi-file torrent of more than 64 MiB to aria2.
pub fn multi_file_to_aria2(driver: Driver) {
    if !from_aria2::tools_present() {
        return;
    }
    let dir = scratch(driver, "to-a2-multi");
    let port = free_port();
    let payload = multi(dir.path(), 0x4004, &[Tracker::url(port)]);
    aria2_leeches(driver, &dir, &payload, port);
}

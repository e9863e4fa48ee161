//! A sluice-std seed serves a libtorrent leecher and an aria2 leecher on 127.0.0.1,
//! each with a 64 MiB single-file torrent and a multi-file torrent of more than
//! 64 MiB; what they download must be byte-identical. libtorrent is told the seed's
//! address; aria2 learns it from an opentracker, where the test announces the seed.

use std::path::Path;
use std::time::{Duration, Instant};

use sluice_tests::peers::data::{self, Payload, MIB};
use sluice_tests::peers::{free_port, Aria2, LtOptions, LtPeer, StdPeer, Tracker};
use sluice_tests::{require_python_libtorrent, require_tool, TempDir};

/// Each test's bound.
const LIMIT: Duration = Duration::from_secs(120);

/// A sluice-std seed of `payload` (verified from its files).
fn std_seed(payload: &Payload) -> StdPeer {
    let seed = StdPeer::start("seed", &payload.save_path, &payload.created.bytes);
    assert!(
        seed.torrent.is_complete(),
        "the sluice seed did not verify its data: {:?}",
        seed.torrent.progress()
    );
    seed
}

fn report(who: &str, payload: &Payload, took: Duration, seed: &StdPeer) {
    let uploaded = seed.torrent.stats().map(|s| s.uploaded).unwrap_or(0);
    println!(
        "{} ({} MiB, {} pieces) to {who}: {took:.2?} ({:.1} MiB/s), sluice uploaded {:.1} MiB",
        payload
            .root
            .file_name()
            .unwrap_or_default()
            .to_string_lossy(),
        payload.total_length() / MIB,
        payload.pieces(),
        payload.total_length() as f64 / MIB as f64 / took.as_secs_f64(),
        uploaded as f64 / MIB as f64
    );
}

fn libtorrent_leeches(dir: &TempDir, payload: &Payload) {
    let seed = std_seed(payload);
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
    let name = payload.root.file_name().expect("payload name");
    report("libtorrent", payload, took, &seed);
    data::assert_same_tree(&payload.root, &dir.join("lt").join(name), &[]);
}

fn aria2_leeches(dir: &TempDir, payload: &Payload, tracker_port: u16) {
    let meta = &payload.created.meta;
    let Some(tracker) = Tracker::start(dir.path(), tracker_port, &[meta.info_hash]) else {
        return;
    };
    let seed = std_seed(payload);
    // Announce the seed as it would itself (sluice-std has no tracker client yet).
    let peer_id = seed.client.peer_id().0;
    tracker.announce(&meta.info_hash, &peer_id, seed.addr().port(), 0);
    let t0 = Instant::now();
    let save = dir.join("aria2");
    let Some(mut leech) = Aria2::leech(dir.path(), &payload.torrent, &save, LIMIT) else {
        return;
    };
    leech.wait_complete(LIMIT, &[&seed, &tracker]);
    let took = t0.elapsed();
    let name = payload.root.file_name().expect("payload name");
    report("aria2", payload, took, &seed);
    data::assert_same_tree(&payload.root, &save.join(name), &[".aria2"]);
}

fn single(dir: &Path, seed: u64, trackers: &[String]) -> Payload {
    data::single_file(dir, "single.bin", 64 * MIB, seed, trackers)
}

fn multi(dir: &Path, seed: u64, trackers: &[String]) -> Payload {
    data::multi_file(dir, "multi", 64 * MIB, seed, trackers)
}

#[test]
fn single_file_to_libtorrent_leecher() {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = TempDir::new("std-to-lt-single");
    let payload = single(dir.path(), 0x4001, &[]);
    libtorrent_leeches(&dir, &payload);
}

#[test]
fn multi_file_to_libtorrent_leecher() {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = TempDir::new("std-to-lt-multi");
    let payload = multi(dir.path(), 0x4002, &[]);
    libtorrent_leeches(&dir, &payload);
}

fn aria2_tools() -> bool {
    require_tool("aria2c").is_some() && require_tool("opentracker").is_some()
}

#[test]
fn single_file_to_aria2_leecher() {
    if !aria2_tools() {
        return;
    }
    let dir = TempDir::new("std-to-a2-single");
    let port = free_port();
    let payload = single(dir.path(), 0x4003, &[Tracker::url(port)]);
    aria2_leeches(&dir, &payload, port);
}

#[test]
fn multi_file_to_aria2_leecher() {
    if !aria2_tools() {
        return;
    }
    let dir = TempDir::new("std-to-a2-multi");
    let port = free_port();
    let payload = multi(dir.path(), 0x4004, &[Tracker::url(port)]);
    aria2_leeches(&dir, &payload, port);
}

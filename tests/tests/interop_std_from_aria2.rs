//! sluice-std downloads from an aria2c 1.36 seed on 127.0.0.1: a 64 MiB single-file
//! torrent and a multi-file torrent of more than 64 MiB; the files must come out
//! byte-identical. The torrents announce to an opentracker on loopback (aria2 wants a
//! tracker); sluice connects to aria2's listen port directly.

use std::time::{Duration, Instant};

use sluice_tests::peers::data::{self, Payload, MIB};
use sluice_tests::peers::{free_port, Aria2, StdPeer, Tracker};
use sluice_tests::{require_tool, TempDir};

/// Each test's bound.
const LIMIT: Duration = Duration::from_secs(120);

fn tools_present() -> bool {
    require_tool("aria2c").is_some() && require_tool("opentracker").is_some()
}

fn download_from_aria2(dir: &TempDir, payload: &Payload, tracker_port: u16) {
    let t0 = Instant::now();
    let meta = &payload.created.meta;
    let Some(tracker) = Tracker::start(dir.path(), tracker_port, &[meta.info_hash]) else {
        return;
    };
    let Some(seed) = Aria2::seed(dir.path(), &payload.torrent, &payload.save_path, LIMIT) else {
        return;
    };
    let seed_ready = t0.elapsed();
    let leech = StdPeer::start("leecher", &dir.join("leech"), &payload.created.bytes);
    leech.torrent.connect(seed.addr());
    let took = leech.wait_complete(LIMIT, &[&seed, &tracker]);
    leech.shutdown();
    let name = payload.root.file_name().expect("payload name");
    println!(
        "{} ({} MiB, {} pieces) from aria2: seed ready in {seed_ready:.2?}, download {took:.2?} ({:.1} MiB/s), first piece after {:.2?}\n  {}",
        name.to_string_lossy(),
        payload.total_length() / MIB,
        payload.pieces(),
        payload.total_length() as f64 / MIB as f64 / took.as_secs_f64(),
        leech.first_piece_at().unwrap_or_default(),
        leech.timeline()
    );
    data::assert_same_tree(&payload.root, &dir.join("leech").join(name), &[]);
}

#[test]
fn single_file_from_aria2_seed() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("std-a2-single");
    let port = free_port();
    let payload = data::single_file(
        dir.path(),
        "single.bin",
        64 * MIB,
        0x3001,
        &[Tracker::url(port)],
    );
    download_from_aria2(&dir, &payload, port);
}

#[test]
fn multi_file_from_aria2_seed() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("std-a2-multi");
    let port = free_port();
    let payload = data::multi_file(dir.path(), "multi", 64 * MIB, 0x3002, &[Tracker::url(port)]);
    download_from_aria2(&dir, &payload, port);
}

//! sluice-std downloads from a transmission-cli 3.00 seed on 127.0.0.1: a 64 MiB
//! single-file torrent and a multi-file torrent of more than 64 MiB; the files must
//! come out byte-identical. transmission may wait up to its 10 s rechoke period before
//! unchoking a new peer, hence the generous bound.

use std::time::{Duration, Instant};

use sluice_tests::peers::data::{self, Payload, MIB};
use sluice_tests::peers::{StdPeer, TransmissionSeed};
use sluice_tests::{require_tool, TempDir};

/// Each test's bound.
const LIMIT: Duration = Duration::from_secs(120);

fn download_from_transmission(dir: &TempDir, payload: &Payload) {
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
    let leech = StdPeer::start("leecher", &dir.join("leech"), &payload.created.bytes);
    leech.torrent.connect(seed.addr());
    let took = leech.wait_complete(LIMIT, &[&seed]);
    leech.shutdown();
    let name = payload.root.file_name().expect("payload name");
    println!(
        "{} ({} MiB, {} pieces) from transmission: seed ready in {seed_ready:.2?}, download {took:.2?} ({:.1} MiB/s), first piece after {:.2?}\n  {}",
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
fn single_file_from_transmission_seed() {
    if require_tool("transmission-cli").is_none() {
        return;
    }
    let dir = TempDir::new("std-tr-single");
    let payload = data::single_file(dir.path(), "single.bin", 64 * MIB, 0x2001, &[]);
    download_from_transmission(&dir, &payload);
}

#[test]
fn multi_file_from_transmission_seed() {
    if require_tool("transmission-cli").is_none() {
        return;
    }
    let dir = TempDir::new("std-tr-multi");
    let payload = data::multi_file(dir.path(), "multi", 64 * MIB, 0x2002, &[]);
    download_from_transmission(&dir, &payload);
}

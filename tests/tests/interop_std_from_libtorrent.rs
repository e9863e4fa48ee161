//! sluice-std downloads from a libtorrent seed (python3-libtorrent 2.0, over TCP on
//! 127.0.0.1): a 64 MiB single-file torrent and a multi-file torrent of more than
//! 64 MiB; the files must come out byte-identical.

use std::time::{Duration, Instant};

use sluice_tests::peers::data::{self, Payload, MIB};
use sluice_tests::peers::{LtOptions, LtPeer, StdPeer};
use sluice_tests::{require_python_libtorrent, TempDir};

/// Each test's bound.
const LIMIT: Duration = Duration::from_secs(120);

fn download_from_libtorrent(dir: &TempDir, payload: &Payload) {
    let t0 = Instant::now();
    let Some(seed) = LtPeer::seed(&payload.torrent, &payload.save_path, &LtOptions::default())
    else {
        return;
    };
    let seed_ready = t0.elapsed();
    let leech = StdPeer::start("leecher", &dir.join("leech"), &payload.created.bytes);
    leech.torrent.connect(seed.addr());
    let took = leech.wait_complete(LIMIT, &[&seed]);
    leech.shutdown();
    let name = payload.root.file_name().expect("payload name");
    println!(
        "{} ({} MiB, {} pieces) from libtorrent: seed ready in {seed_ready:.2?}, download {took:.2?} ({:.1} MiB/s)",
        name.to_string_lossy(),
        payload.total_length() / MIB,
        payload.pieces(),
        payload.total_length() as f64 / MIB as f64 / took.as_secs_f64()
    );
    data::assert_same_tree(&payload.root, &dir.join("leech").join(name), &[]);
}

#[test]
fn single_file_from_libtorrent_seed() {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = TempDir::new("std-lt-single");
    let payload = data::single_file(dir.path(), "single.bin", 64 * MIB, 0x1001, &[]);
    download_from_libtorrent(&dir, &payload);
}

#[test]
fn multi_file_from_libtorrent_seed() {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = TempDir::new("std-lt-multi");
    let payload = data::multi_file(dir.path(), "multi", 64 * MIB, 0x1002, &[]);
    download_from_libtorrent(&dir, &payload);
}

//! Streaming from a real seed: a ranged reader at the middle of a 64 MiB file, with a
//! libtorrent seed limited so that the whole file takes about half a minute, returns
//! exactly the right bytes long before the file is complete.

use std::io::Read;
use std::time::{Duration, Instant};

use super::scratch;
use crate::peers::data::{self, MIB};
use crate::peers::{bounded, describe_all, Driver, LtOptions, LtPeer, SluicePeer};
use crate::require_python_libtorrent;

/// The file: 64 MiB of 256 KiB pieces.
const SIZE: u64 = 64 * MIB;

/// The seed's upload limit: 2 MiB/s, so the whole file needs about 32 s.
const SEED_RATE: u64 = 2 << 20;

/// What is read: 1 MiB from an unaligned offset in the middle.
const OFFSET: u64 = SIZE / 2 + 12_345;
const LEN: usize = 1 << 20;

/// How long the read may take (far less than the whole file's 32 s is expected).
const READ_LIMIT: Duration = Duration::from_secs(60);

/// 1 MiB read from the middle of the file while the seed trickles it out.
pub fn range_reader_in_the_middle(driver: Driver) {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = scratch(driver, "stream");
    let payload = data::single_file(dir.path(), "movie.bin", SIZE, 0x6001, &[]);
    let opts = LtOptions {
        upload_limit: SEED_RATE,
        ..LtOptions::default()
    };
    let Some(seed) = LtPeer::seed(&payload.torrent, &payload.save_path, &opts) else {
        return;
    };
    let total = payload.pieces();
    let leech = SluicePeer::start(
        driver,
        "streamer",
        &dir.join("leech"),
        &payload.created.bytes,
    );
    let mut reader = leech
        .torrent
        .range_reader(0, OFFSET..=OFFSET + LEN as u64 - 1)
        .expect("range reader");
    assert_eq!(reader.len(), LEN as u64);

    let t0 = Instant::now();
    leech.torrent.connect(seed.addr());
    let torrent = leech.torrent.clone();
    // The read blocks until its bytes are verified: run it on a thread of its own,
    // so a read that never returns fails the test instead of hanging it.
    let read = bounded(READ_LIMIT, move || {
        let mut buf = vec![0u8; LEN];
        let r = reader.read_exact(&mut buf);
        let at = t0.elapsed();
        let have = torrent.have();
        (r.map(|()| buf), at, have)
    });
    let Some((result, took, have)) = read else {
        panic!(
            "the ranged read did not return within {READ_LIMIT:?}\n==== {}",
            describe_all(&[&leech, &seed])
        );
    };
    let got = result.unwrap_or_else(|e| {
        panic!(
            "the ranged read failed: {e}\n==== {}",
            describe_all(&[&leech, &seed])
        )
    });
    let verified: Vec<u32> = (0..total).filter(|&p| have.get(p)).collect();
    let want = data::read_range(&payload.root, OFFSET, LEN);
    assert!(
        got == want,
        "the ranged read returned wrong bytes (first difference at {:?})",
        got.iter().zip(&want).position(|(a, b)| a != b)
    );

    let piece = u64::from(data::PIECE_LENGTH);
    let needed = (OFFSET / piece) as u32..=((OFFSET + LEN as u64 - 1) / piece) as u32;
    println!(
        "{}: 1 MiB at {OFFSET} of a 64 MiB file (seed at {} MiB/s, whole file ~{} s): bytes after {took:.2?}, \
         {} of {total} pieces verified then ({:?} needed): {}",
        driver.name(),
        SEED_RATE / MIB,
        SIZE / SEED_RATE,
        verified.len(),
        needed,
        ranges(&verified)
    );
    for p in needed.clone() {
        assert!(have.get(p), "piece {p} under the read was not verified");
    }
    assert!(
        (verified.len() as u32) < total / 4,
        "{} of {total} pieces were verified when the read returned: the stream was not \
         served first ({})",
        verified.len(),
        ranges(&verified)
    );
    assert!(
        took < Duration::from_secs(SIZE / SEED_RATE / 2),
        "the bytes took {took:?}, not far from the whole file's time"
    );
    drop(seed);
    leech.shutdown();
}

/// `[1, 2, 3, 7]` as `1-3 7`.
fn ranges(pieces: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        let mut j = i;
        while j + 1 < pieces.len() && pieces[j + 1] == pieces[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            pieces[i].to_string()
        } else {
            format!("{}-{}", pieces[i], pieces[j])
        });
        i = j + 1;
    }
    out.join(" ")
}

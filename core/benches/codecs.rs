//! Codec throughput: `cargo bench -p sluice-core --bench codecs`.
//!
//! A plain bench binary (no harness): each section times its work a few
//! times and prints the best round, which is the least disturbed by whatever
//! else the machine is doing. Numbers are for comparing changes on one
//! machine, not absolute truths.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sluice_core::bencode;
use sluice_core::create::TorrentBuilder;
use sluice_core::metainfo::Metainfo;
use sluice_core::wire::{decode_frame, Decoder, DecoderConfig, Message};

/// Timed rounds per measurement; the best one is reported.
const ROUNDS: usize = 5;

fn main() {
    bench_bencode();
    bench_wire();
}

/// Decoding a `.torrent` with 10,000 pieces across 500 files: the raw bencode
/// decode, and the full metainfo parse (validation, paths, info-hash).
fn bench_bencode() {
    let files: Vec<(Vec<String>, u64)> = (0..500)
        .map(|i| {
            (
                vec![format!("dir{}", i % 7), format!("file-{i:04}.bin")],
                10_000 * 16_384 / 500,
            )
        })
        .collect();
    let mut builder = TorrentBuilder::multi_file("bench", files);
    builder
        .piece_length(16_384)
        .tracker("http://127.0.0.1:6969/announce");
    let pieces: Vec<[u8; 20]> = (0..10_000u32)
        .map(|i| {
            let mut h = [0u8; 20];
            h[..4].copy_from_slice(&i.to_le_bytes());
            h
        })
        .collect();
    let torrent = builder.build(&pieces).expect("bench torrent builds");
    per_document("bencode decode, 10k-piece .torrent", &torrent, |t| {
        black_box(bencode::decode(t).expect("decodes"));
    });
    per_document("metainfo parse, 10k-piece .torrent", &torrent, |t| {
        black_box(Metainfo::from_bytes(t).expect("parses"));
    });
}

/// Times `parse` over `document`, 200 times a round, and reports the best round.
fn per_document(name: &str, document: &[u8], mut parse: impl FnMut(&[u8])) {
    const PER_ROUND: u32 = 200;
    let best = best_of(|| {
        for _ in 0..PER_ROUND {
            parse(black_box(document));
        }
    });
    report_per_item(name, document.len() as u64, PER_ROUND, best);
}

/// Prints the time per document and the byte throughput for `rounds` runs.
fn report_per_item(name: &str, bytes: u64, rounds: u32, best: Duration) {
    let per = best / rounds;
    let mib = (bytes * rounds as u64) as f64 / (1u64 << 20) as f64;
    println!(
        "{name:<40} {:>7.1} us per document ({} KiB), {:.0} MiB/s, best of {ROUNDS}",
        per.as_secs_f64() * 1e6,
        bytes >> 10,
        mib / best.as_secs_f64().max(f64::MIN_POSITIVE)
    );
}

/// Prints one result line: throughput of the best round.
fn report(name: &str, bytes: u64, best: Duration) {
    let gib = bytes as f64 / (1u64 << 30) as f64;
    let secs = best.as_secs_f64().max(f64::MIN_POSITIVE);
    println!(
        "{name:<40} {:>7.2} GiB/s   ({} MiB in {:.2} ms, best of {ROUNDS})",
        gib / secs,
        bytes >> 20,
        best.as_secs_f64() * 1e3
    );
}

/// Runs `f` `ROUNDS` times and returns the fastest run.
fn best_of(mut f: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// The peer wire codec on a download's hot path: 64 MiB of 16 KiB `piece`
/// messages, encoded, then decoded through a [`Decoder`] fed in 64 KiB
/// chunks as a driver's socket reads would, then through `decode_frame`
/// straight from a contiguous buffer (no copy into the decoder).
fn bench_wire() {
    const BLOCK: usize = 16 * 1024;
    const BLOCKS_PER_PIECE: usize = 16;
    const TOTAL: usize = 64 * 1024 * 1024;
    const READ: usize = 64 * 1024;

    let block = vec![0x5a_u8; BLOCK];
    let count = TOTAL / BLOCK;
    let piece_count = (count / BLOCKS_PER_PIECE) as u32;
    let message = |i: usize| Message::Piece {
        piece: (i / BLOCKS_PER_PIECE) as u32,
        offset: ((i % BLOCKS_PER_PIECE) * BLOCK) as u32,
        data: &block,
    };

    let mut stream = Vec::with_capacity(count * message(0).encoded_len());
    let encode = best_of(|| {
        stream.clear();
        for i in 0..count {
            message(i).encode(&mut stream);
        }
        black_box(&stream);
    });
    let bytes = stream.len() as u64;
    report("wire: encode 16 KiB pieces", bytes, encode);

    let cfg = DecoderConfig::default().with_piece_count(piece_count);
    let decoder = best_of(|| {
        let mut dec = Decoder::new(cfg, false);
        let mut seen = 0usize;
        let mut data_bytes = 0usize;
        for read in stream.chunks(READ) {
            let mut rest = read;
            while !rest.is_empty() {
                let n = dec.feed(rest);
                rest = &rest[n..];
                while let Some(msg) = dec.next_message().expect("the stream is valid") {
                    if let Message::Piece { data, .. } = black_box(msg) {
                        data_bytes += data.len();
                    }
                    seen += 1;
                }
            }
        }
        assert_eq!((seen, data_bytes), (count, TOTAL));
    });
    report("wire: Decoder, 64 KiB feeds", bytes, decoder);

    let frames = best_of(|| {
        let mut rest = &stream[..];
        let mut seen = 0usize;
        while let Some((msg, used)) = decode_frame(rest, &cfg).expect("the stream is valid") {
            black_box(msg);
            rest = &rest[used..];
            seen += 1;
        }
        assert_eq!(seen, count);
    });
    report("wire: decode_frame, contiguous, no copy", bytes, frames);
}

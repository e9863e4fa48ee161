//! `sluice create` hashing throughput against `mktorrent` on the same input.
//!
//! Writes a payload of `SLUICE_BENCH_BYTES` bytes (default 1 GiB) of
//! pseudo-random data into a temporary folder, then makes a torrent of it with
//! sluice's library code and with `mktorrent` (when installed), each with 1 MiB
//! pieces and one thread per core, and prints wall time and throughput. The file
//! is read once beforehand so both tools hash from the page cache.
//!
//! Run: `cargo bench -p sluice-mio --bench create`

#[path = "../../driver-std/benches/support/payload.rs"]
mod payload;

use payload::write_payload;
use std::process::Command;
use std::time::Instant;

use sluice_mio::create::{create_torrent, CreateOptions};

fn main() {
    let bytes: u64 = std::env::var("SLUICE_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let dir = std::env::temp_dir().join(format!("sluice-bench-create-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let payload = dir.join("payload.bin");
    write_payload(&payload, bytes, 0x2545_F491_4F6C_DD1D);
    let _ = std::fs::read(&payload).map(|d| d.len());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let gib = bytes as f64 / (1u64 << 30) as f64;

    let mut best = f64::MAX;
    for _ in 0..3 {
        let mut opts = CreateOptions::new(&payload);
        opts.piece_length = Some(1 << 20);
        let started = Instant::now();
        let made = create_torrent(&opts, &mut |_, _| {}).expect("create");
        best = best.min(started.elapsed().as_secs_f64());
        assert_eq!(made.meta.info.total_length, bytes);
    }
    println!(
        "sluice create : {gib:.2} GiB in {best:.2} s = {:.0} MiB/s ({threads} threads, best of 3)",
        bytes as f64 / best / (1 << 20) as f64
    );

    let out = dir.join("mk.torrent");
    let mut best = f64::MAX;
    for _ in 0..3 {
        let _ = std::fs::remove_file(&out);
        let started = Instant::now();
        let status = Command::new("mktorrent")
            .args(["-l", "20", "-t", &threads.to_string(), "-o"])
            .arg(&out)
            .arg(&payload)
            .output();
        match status {
            Ok(o) if o.status.success() => best = best.min(started.elapsed().as_secs_f64()),
            Ok(o) => {
                println!("mktorrent failed: {}", String::from_utf8_lossy(&o.stderr));
                break;
            }
            Err(e) => {
                println!("mktorrent     : not run ({e})");
                break;
            }
        }
    }
    if best < f64::MAX {
        println!(
            "mktorrent     : {gib:.2} GiB in {best:.2} s = {:.0} MiB/s ({threads} threads, best of 3)",
            bytes as f64 / best / (1 << 20) as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

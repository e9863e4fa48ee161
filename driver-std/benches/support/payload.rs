//! The benchmarks' payload: pseudo-random bytes (xorshift from `seed`), so a
//! file of any size is written quickly and never compresses or dedups.
//! Included by path by the benchmarks of both drivers.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` bytes of the sequence that starts from `seed` to `path`.
pub fn write_payload(path: &Path, bytes: u64, seed: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("payload"));
    let mut state = seed;
    let mut block = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for chunk in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).expect("write payload");
        left -= n as u64;
    }
    f.flush().expect("flush payload");
}

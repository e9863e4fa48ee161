//! Piece hashing for this driver: the `sha1` crate, which uses the CPU's SHA
//! instructions when it has them (about twice the speed of the portable
//! implementation the core carries), because hashing is the first wall a fast
//! download hits.

use sha1::{Digest, Sha1};
use sluice_std::disk::StreamHasher;

/// SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// A running SHA-1 for the disk workers.
pub fn sha1_stream() -> Box<dyn StreamHasher> {
    struct Fast(Sha1);
    impl StreamHasher for Fast {
        fn update(&mut self, data: &[u8]) {
            Digest::update(&mut self.0, data);
        }
        fn finish(self: Box<Self>) -> [u8; 20] {
            self.0.finalize().into()
        }
    }
    Box::new(Fast(Sha1::new()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn agrees_with_the_core() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        assert_eq!(super::sha1(&data), sluice_core::create::hash_piece(&data));
        assert_eq!(super::sha1(b""), sluice_core::create::hash_piece(b""));
    }
}

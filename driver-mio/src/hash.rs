//! Piece hashing for this driver: the `sha1` crate, which uses the CPU's SHA
//! instructions when it has them (about twice the speed of the portable
//! implementation the core carries), because hashing is the first wall a fast
//! download hits.

use sha1::{Digest, Sha1};

/// SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
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

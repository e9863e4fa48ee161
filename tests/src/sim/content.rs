//! The payload of a simulated torrent: bytes computed from their offset, so a
//! 256 MiB torrent needs no 256 MiB buffer per peer, and any peer can check any
//! block it receives.

use std::sync::Arc;

use sluice_core::create::{PieceHasher, TorrentBuilder};
use sluice_core::metainfo::Metainfo;

/// Payloads up to this size are kept in memory once, shared by every node,
/// so reads and checks are copies rather than regeneration.
const CACHE_LIMIT: u64 = 2 << 30;

/// Deterministic content: byte `i` of the payload depends only on the seed and `i`.
#[derive(Debug, Clone)]
pub struct Content {
    seed: u64,
    /// The torrent describing it.
    pub meta: Metainfo,
    cache: Option<Arc<Vec<u8>>>,
}

impl Content {
    /// A single-file torrent of `size` bytes with `piece_length` pieces.
    pub fn single(seed: u64, size: u64, piece_length: u32) -> Content {
        let mut b = TorrentBuilder::single_file("payload.bin", size);
        b.piece_length(piece_length);
        Content::build(seed, b)
    }

    /// A multi-file torrent: `files` are (name, size).
    pub fn multi(seed: u64, files: &[(&str, u64)], piece_length: u32) -> Content {
        let files = files
            .iter()
            .map(|(n, s)| (vec![n.to_string()], *s))
            .collect();
        let mut b = TorrentBuilder::multi_file("payload", files);
        b.piece_length(piece_length);
        Content::build(seed, b)
    }

    fn build(seed: u64, b: TorrentBuilder) -> Content {
        let total = b.total_length();
        let mut hasher = PieceHasher::new(b.chosen_piece_length());
        let mut cache = (total <= CACHE_LIMIT).then(|| Vec::with_capacity(total as usize));
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while at < total {
            let n = (total - at).min(buf.len() as u64) as usize;
            fill(seed, at, &mut buf[..n]);
            hasher.update(&buf[..n]);
            if let Some(c) = cache.as_mut() {
                c.extend_from_slice(&buf[..n]);
            }
            at += n as u64;
        }
        let bytes = b.build(&hasher.finish()).expect("sim torrent builds");
        Content {
            seed,
            meta: Metainfo::from_bytes(&bytes).expect("sim torrent parses"),
            cache: cache.map(Arc::new),
        }
    }

    /// Payload bytes starting at `offset`.
    pub fn fill(&self, offset: u64, out: &mut [u8]) {
        match self.slice(offset, out.len()) {
            Some(bytes) => out.copy_from_slice(bytes),
            None => fill(self.seed, offset, out),
        }
    }

    /// True when `data` is what the payload holds at `offset`.
    pub fn matches(&self, offset: u64, data: &[u8]) -> bool {
        if let Some(bytes) = self.slice(offset, data.len()) {
            return bytes == data;
        }
        let mut expect = vec![0u8; data.len()];
        self.fill(offset, &mut expect);
        expect == data
    }

    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let cache = self.cache.as_ref()?;
        let start = usize::try_from(offset).ok()?;
        cache.get(start..start.checked_add(len)?)
    }

    /// Total payload size.
    pub fn len(&self) -> u64 {
        self.meta.info.total_length
    }

    /// True for an empty payload (never, for torrents we build).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Byte `i` is byte `i % 8` of `mix(seed, i / 8)`.
fn fill(seed: u64, offset: u64, out: &mut [u8]) {
    let mut i = 0;
    while i < out.len() {
        let pos = offset + i as u64;
        let word = mix(seed ^ (pos / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let bytes = word.to_le_bytes();
        let from = (pos % 8) as usize;
        let n = (8 - from).min(out.len() - i);
        out[i..i + n].copy_from_slice(&bytes[from..from + n]);
        i += n;
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_split_gives_the_same_bytes() {
        let mut whole = vec![0u8; 100];
        fill(7, 3, &mut whole);
        let mut parts = vec![0u8; 100];
        fill(7, 3, &mut parts[..13]);
        fill(7, 16, &mut parts[13..]);
        assert_eq!(whole, parts);
        let c = Content::single(7, 50_000, 16_384);
        assert_eq!(c.meta.info.piece_count(), 4);
        assert!(c.matches(3, &whole));
    }
}

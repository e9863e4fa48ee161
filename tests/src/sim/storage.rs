//! In-memory storage for simulated peers.
//!
//! * [`Storage::Bytes`] keeps every byte and hashes with SHA-1, for tests that
//!   compare the downloaded files byte for byte.
//! * [`Storage::Checked`] keeps one flag per block: whether what was written
//!   there equals the payload. Reads regenerate the payload; a hash job answers
//!   the expected hash only if every block of the piece is right. That is what a
//!   real disk plus SHA-1 would answer, at the cost of a comparison, so swarms
//!   of hundreds of peers fit in memory.

use sluice_core::layout::BLOCK_SIZE;

use super::content::Content;

/// One simulated peer's storage.
#[derive(Debug, Clone)]
pub enum Storage {
    /// Every byte, really stored and hashed.
    Bytes(Vec<u8>),
    /// A correctness flag per 16 KiB block.
    Checked(Vec<bool>),
}

impl Storage {
    /// Storage holding nothing yet.
    pub fn empty_bytes(content: &Content) -> Storage {
        Storage::Bytes(vec![0; content.len() as usize])
    }

    /// Storage holding the whole payload.
    pub fn full_bytes(content: &Content) -> Storage {
        let mut v = vec![0; content.len() as usize];
        content.fill(0, &mut v);
        Storage::Bytes(v)
    }

    /// Checked storage, empty or full.
    pub fn checked(content: &Content, full: bool) -> Storage {
        let blocks = content.len().div_ceil(u64::from(BLOCK_SIZE)) as usize;
        Storage::Checked(vec![full; blocks])
    }

    /// Stores `data` at payload offset `at`.
    pub fn write(&mut self, content: &Content, at: u64, data: &[u8]) {
        match self {
            Storage::Bytes(v) => v[at as usize..at as usize + data.len()].copy_from_slice(data),
            Storage::Checked(flags) => {
                let ok = content.matches(at, data);
                let first = (at / u64::from(BLOCK_SIZE)) as usize;
                let last = ((at + data.len() as u64 - 1) / u64::from(BLOCK_SIZE)) as usize;
                for f in &mut flags[first..=last] {
                    *f = ok;
                }
            }
        }
    }

    /// Reads `len` bytes at payload offset `at`.
    pub fn read(&self, content: &Content, at: u64, len: usize) -> Vec<u8> {
        match self {
            Storage::Bytes(v) => v[at as usize..at as usize + len].to_vec(),
            Storage::Checked(_) => {
                let mut out = vec![0; len];
                content.fill(at, &mut out);
                out
            }
        }
    }

    /// SHA-1 of the piece as stored.
    pub fn hash(&self, content: &Content, piece: u32) -> [u8; 20] {
        let layout = content.meta.layout();
        let at = layout.piece_offset(piece);
        let len = layout.piece_len(piece) as usize;
        match self {
            Storage::Bytes(v) => sha1_smol::Sha1::from(&v[at as usize..at as usize + len])
                .digest()
                .bytes(),
            Storage::Checked(flags) => {
                let first = (at / u64::from(BLOCK_SIZE)) as usize;
                let last = ((at + len as u64 - 1) / u64::from(BLOCK_SIZE)) as usize;
                if flags[first..=last].iter().all(|f| *f) {
                    content.meta.info.pieces[piece as usize]
                } else {
                    [0; 20]
                }
            }
        }
    }

    /// The stored bytes, for byte-for-byte comparison (`Bytes` only).
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Storage::Bytes(v) => Some(v),
            Storage::Checked(_) => None,
        }
    }
}

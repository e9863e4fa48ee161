//! Storage in memory: for tests, for short-lived streams, and as the smallest
//! example of a [`Storage`] backend.

use std::io;
use std::sync::RwLock;

use sluice_core::layout::Layout;
use sluice_core::Bitfield;

use super::Storage;

/// The whole payload in one buffer, allocated as pieces are first written.
#[derive(Debug)]
pub struct MemoryStorage {
    /// One buffer per piece, empty until written.
    pieces: RwLock<Vec<Vec<u8>>>,
    lengths: Vec<u32>,
}

impl MemoryStorage {
    /// Empty storage for a torrent with this layout.
    pub fn new(layout: &Layout) -> MemoryStorage {
        MemoryStorage {
            pieces: RwLock::new(vec![Vec::new(); layout.piece_count() as usize]),
            lengths: (0..layout.piece_count())
                .map(|p| layout.piece_len(p))
                .collect(),
        }
    }

    /// Memory in use, in bytes.
    pub fn allocated(&self) -> u64 {
        self.pieces
            .read()
            .map(|p| p.iter().map(|v| v.len() as u64).sum())
            .unwrap_or(0)
    }

    fn bounds(&self, piece: u32, offset: u32, len: usize) -> io::Result<usize> {
        let piece_len = *self
            .lengths
            .get(piece as usize)
            .ok_or_else(|| invalid(format!("no piece {piece}")))? as usize;
        let end = offset as usize + len;
        if end > piece_len {
            return Err(invalid(format!(
                "{len} bytes at {offset} overrun piece {piece} ({piece_len} bytes)"
            )));
        }
        Ok(piece_len)
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn poisoned() -> io::Error {
    io::Error::other("memory storage lock poisoned")
}

impl Storage for MemoryStorage {
    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> io::Result<()> {
        let piece_len = self.bounds(piece, offset, data.len())?;
        let mut pieces = self.pieces.write().map_err(|_| poisoned())?;
        let buf = &mut pieces[piece as usize];
        if buf.is_empty() {
            buf.resize(piece_len, 0);
        }
        buf[offset as usize..offset as usize + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn read(&self, piece: u32, offset: u32, out: &mut [u8]) -> io::Result<()> {
        self.bounds(piece, offset, out.len())?;
        let pieces = self.pieces.read().map_err(|_| poisoned())?;
        let buf = &pieces[piece as usize];
        if buf.is_empty() {
            out.fill(0);
        } else {
            out.copy_from_slice(&buf[offset as usize..offset as usize + out.len()]);
        }
        Ok(())
    }

    fn remove(&self, keep: Option<&Bitfield>) -> io::Result<()> {
        let mut pieces = self.pieces.write().map_err(|_| poisoned())?;
        for (p, buf) in pieces.iter_mut().enumerate() {
            if !keep.is_some_and(|have| have.get(p as u32)) {
                *buf = Vec::new();
            }
        }
        Ok(())
    }
}

//! Where a torrent's bytes live. [`Storage`] is the trait a program can
//! implement (torrent-stream's `storage` option); the driver ships
//! [`FileStorage`] (files in a download folder, the default) and
//! [`MemoryStorage`].
//!
//! Addresses are (piece, offset) in the torrent's payload, as the engine's
//! storage jobs give them; backends map them onto files with the core's
//! [`Layout`]. The engine guarantees that a verified piece is never written
//! again, so readers may read verified bytes while blocks of other pieces are
//! being written.

mod file;
mod memory;

use std::io;

use sluice_core::layout::Layout;
use sluice_core::Bitfield;

pub use file::FileStorage;
pub use memory::MemoryStorage;

/// A torrent's storage backend. Methods take `&self`: reads, writes and hashes
/// run on several threads at once, so implementations synchronise inside (or
/// use positioned I/O, which needs no lock).
pub trait Storage: Send + Sync {
    /// Stores `data` at `offset` in `piece`.
    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> io::Result<()>;

    /// Fills `buf` from `offset` in `piece`. Bytes never written read as zero.
    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> io::Result<()>;

    /// Makes written data durable (before a resume file records it).
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    /// The user selected or deselected a file. Backends that keep deselected
    /// files' bytes elsewhere move them now.
    fn set_file_wanted(&self, _file: usize, _wanted: bool) -> io::Result<()> {
        Ok(())
    }

    /// Deletes the torrent's data. With `keep = Some(have)`, keeps the bytes of
    /// the verified pieces in `have` and deletes only partial data.
    fn remove(&self, keep: Option<&Bitfield>) -> io::Result<()>;

    /// Size and modification time (nanoseconds since the epoch) of each file
    /// as stored, for the resume file; `None` for backends without files.
    fn fingerprint(&self) -> Option<Vec<(u64, u128)>> {
        None
    }

    /// An error if the storage is no longer usable (a file vanished or was
    /// replaced under us), checked before the driver trusts what it holds.
    fn check(&self) -> io::Result<()> {
        Ok(())
    }

    /// Like [`check`](Storage::check), for the files holding one piece: run
    /// before every piece is hashed, so bytes written into a file that has
    /// since been deleted never pass as verified.
    fn check_piece(&self, _piece: u32) -> io::Result<()> {
        Ok(())
    }
}

/// SHA-1 of a piece as stored.
pub fn hash_piece(storage: &dyn Storage, layout: &Layout, piece: u32) -> io::Result<[u8; 20]> {
    hash_piece_with(storage, layout, piece, &mut Vec::new())
}

/// [`hash_piece`] reading into `buf`, which is kept (grown, never shrunk) for
/// the next call, so a worker hashing piece after piece allocates once.
pub fn hash_piece_with(
    storage: &dyn Storage,
    layout: &Layout,
    piece: u32,
    buf: &mut Vec<u8>,
) -> io::Result<[u8; 20]> {
    let len = layout.piece_len(piece) as usize;
    if buf.len() < len {
        buf.resize(len, 0);
    }
    storage.read(piece, 0, &mut buf[..len])?;
    Ok(sluice_core::create::hash_piece(&buf[..len]))
}

/// Reads `buf.len()` bytes at `payload_offset` (across pieces) from `storage`.
pub fn read_payload(
    storage: &dyn Storage,
    layout: &Layout,
    payload_offset: u64,
    buf: &mut [u8],
) -> io::Result<()> {
    let piece_length = u64::from(layout.piece_length());
    let mut done = 0usize;
    while done < buf.len() {
        let at = payload_offset + done as u64;
        let piece = (at / piece_length) as u32;
        let offset = (at % piece_length) as u32;
        let in_piece = (u64::from(layout.piece_len(piece)) - u64::from(offset)) as usize;
        let n = in_piece.min(buf.len() - done);
        storage.read(piece, offset, &mut buf[done..done + n])?;
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_reads_cross_pieces() {
        let layout = Layout::new(16 * 1024, &[40_000, 10]).unwrap();
        let mem = MemoryStorage::new(&layout);
        let data: Vec<u8> = (0..40_010u32).map(|i| (i % 253) as u8).collect();
        for p in 0..layout.piece_count() {
            let at = layout.piece_offset(p) as usize;
            let len = layout.piece_len(p) as usize;
            mem.write(p, 0, &data[at..at + len]).unwrap();
        }
        let mut buf = vec![0u8; 30_000];
        read_payload(&mem, &layout, 5_000, &mut buf).unwrap();
        assert_eq!(&buf[..], &data[5_000..35_000]);
        assert_eq!(
            hash_piece(&mem, &layout, 2).unwrap(),
            sluice_core::create::hash_piece(&data[32_768..])
        );
    }
}

//! Piece and block arithmetic over a torrent's files.
//!
//! A torrent's payload is its files laid end to end, in order. Zero-length
//! files take part in the order but hold no bytes; BEP 47 padding files are
//! ordinary files here. Pieces are fixed-size slices of that payload (the
//! last one may be shorter), and blocks are [`BLOCK_SIZE`] slices of a piece
//! (the last block of a piece may be shorter).
//!
//! [`Layout`] answers the questions every storage backend and the picker ask:
//! how long is piece *i*, which blocks make it up, which byte runs of which
//! files does a range of a piece cover ([`Layout::spans`]), and which pieces
//! hold a file or a byte range of it. Every method is total: indices out of
//! range give an `Err`, `None`, zero or an empty range, never a panic.
//!
//! ```text
//!  files   |--- 0 (5) ---|1 (0)|------- 2 (9) -------|
//!  bytes    0  1  2  3  4        5  6  7  8  9 10 11 12 13
//!  pieces  |-- piece 0 (4) -|-- piece 1 (4) -|-- 2 (4) --|3 (2)|
//! ```

use core::fmt;
use core::iter::FusedIterator;
use core::ops::Range;

/// The size of a request: every block is this long except the last of a piece.
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// The geometry of a torrent: piece length and file lengths.
///
/// ```
/// use sluice_core::layout::{FileSpan, Layout};
///
/// // Two files of 5 and 9 bytes with an empty file between them, 4-byte pieces.
/// let layout = Layout::new(4, &[5, 0, 9]).unwrap();
/// assert_eq!(layout.total_length(), 14);
/// assert_eq!(layout.piece_count(), 4);
/// assert_eq!(layout.piece_len(3), 2);
///
/// // Piece 1 is the last byte of file 0 and the first three of file 2.
/// let spans: Vec<FileSpan> = layout.spans(1, 0, 4).unwrap().collect();
/// assert_eq!(
///     spans,
///     [
///         FileSpan { file: 0, file_offset: 4, piece_offset: 0, length: 1 },
///         FileSpan { file: 2, file_offset: 0, piece_offset: 1, length: 3 },
///     ]
/// );
/// assert_eq!(layout.piece_files(1), 0..3);
/// assert_eq!(layout.file_pieces(2), 1..4);
/// assert_eq!(layout.byte_range_pieces(2, 4..6), 2..3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    piece_length: u32,
    piece_count: u32,
    /// `starts[i]` is the payload offset of file `i`; one extra trailing entry
    /// holds the total length, so file `i` is `starts[i]..starts[i + 1]`.
    starts: Vec<u64>,
}

/// One block of a piece: what a peer `request` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockInfo {
    /// The piece index.
    pub piece: u32,
    /// Offset of the block inside the piece, a multiple of [`BLOCK_SIZE`].
    pub offset: u32,
    /// Length in bytes: [`BLOCK_SIZE`], or less for the last block of a piece.
    pub length: u32,
}

/// A run of bytes that lies inside one file and one piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileSpan {
    /// Index of the file in the torrent's file list.
    pub file: usize,
    /// Where the run starts in the file.
    pub file_offset: u64,
    /// Where the run starts in the piece.
    pub piece_offset: u32,
    /// Length of the run in bytes, never 0.
    pub length: u32,
}

/// Why a [`Layout`] could not be built or a range does not fit it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The piece length is 0.
    ZeroPieceLength,
    /// The files hold no bytes at all.
    Empty,
    /// The file lengths add up to more than `u64::MAX`.
    TotalOverflow,
    /// The payload would need more than `u32::MAX` pieces.
    TooManyPieces {
        /// How many pieces it would need.
        pieces: u64,
    },
    /// A piece index at or past the piece count.
    PieceOutOfRange {
        /// The piece asked for.
        piece: u32,
        /// How many pieces there are.
        piece_count: u32,
    },
    /// A byte range that does not fit inside its piece.
    RangeOutOfPiece {
        /// The piece.
        piece: u32,
        /// Start of the range inside the piece.
        offset: u32,
        /// Length of the range.
        length: u32,
        /// Length of the piece.
        piece_len: u32,
    },
}

impl Layout {
    /// Builds the layout of `file_lengths` cut into pieces of `piece_length`
    /// bytes. Zero-length files are allowed, an empty payload is not.
    pub fn new(piece_length: u32, file_lengths: &[u64]) -> Result<Self, LayoutError> {
        if piece_length == 0 {
            return Err(LayoutError::ZeroPieceLength);
        }
        let mut starts = Vec::with_capacity(file_lengths.len() + 1);
        let mut total: u64 = 0;
        for &length in file_lengths {
            starts.push(total);
            total = total
                .checked_add(length)
                .ok_or(LayoutError::TotalOverflow)?;
        }
        starts.push(total);
        if total == 0 {
            return Err(LayoutError::Empty);
        }
        let pieces = total.div_ceil(u64::from(piece_length));
        let piece_count =
            u32::try_from(pieces).map_err(|_| LayoutError::TooManyPieces { pieces })?;
        Ok(Layout {
            piece_length,
            piece_count,
            starts,
        })
    }

    /// The nominal piece length; every piece but the last has exactly this length.
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// Total payload length in bytes (never 0).
    pub fn total_length(&self) -> u64 {
        self.starts.last().copied().unwrap_or(0)
    }

    /// Number of pieces (never 0).
    pub fn piece_count(&self) -> u32 {
        self.piece_count
    }

    /// Length of `piece`: the piece length, less for the last piece, 0 for an
    /// index out of range.
    pub fn piece_len(&self, piece: u32) -> u32 {
        if piece >= self.piece_count {
            return 0;
        }
        let start = self.piece_offset(piece);
        let rest = self.total_length() - start;
        // `rest` is positive because `piece` is in range; the minimum fits a u32.
        rest.min(u64::from(self.piece_length)) as u32
    }

    /// Payload offset of the first byte of `piece` (the total length for an
    /// index out of range).
    pub fn piece_offset(&self, piece: u32) -> u64 {
        if piece >= self.piece_count {
            return self.total_length();
        }
        // Cannot overflow: it is at most the total length, a u64.
        u64::from(piece) * u64::from(self.piece_length)
    }

    /// Number of files, zero-length ones included.
    pub fn file_count(&self) -> usize {
        self.starts.len() - 1
    }

    /// Payload offset of the first byte of `file` (the total length for an
    /// index out of range).
    pub fn file_offset(&self, file: usize) -> u64 {
        match self.starts.get(file) {
            Some(&start) => start,
            None => self.total_length(),
        }
    }

    /// Length of `file` (0 for an index out of range).
    pub fn file_length(&self, file: usize) -> u64 {
        match (self.starts.get(file), self.starts.get(file.wrapping_add(1))) {
            (Some(&start), Some(&end)) => end - start,
            _ => 0,
        }
    }

    /// Number of blocks in `piece` (0 for an index out of range).
    pub fn block_count(&self, piece: u32) -> u32 {
        self.piece_len(piece).div_ceil(BLOCK_SIZE)
    }

    /// Block `index` of `piece`, or `None` if either is out of range.
    pub fn block(&self, piece: u32, index: u32) -> Option<BlockInfo> {
        if index >= self.block_count(piece) {
            return None;
        }
        // `index < block_count` so the offset is below the piece length.
        let offset = index * BLOCK_SIZE;
        let length = (self.piece_len(piece) - offset).min(BLOCK_SIZE);
        Some(BlockInfo {
            piece,
            offset,
            length,
        })
    }

    /// The index of the block that is exactly `offset..offset + length` of
    /// `piece`, or `None` if that range is not one of the piece's blocks.
    /// Useful to match a peer's `piece` message to a request.
    pub fn block_index(&self, piece: u32, offset: u32, length: u32) -> Option<u32> {
        if offset % BLOCK_SIZE != 0 {
            return None;
        }
        let index = offset / BLOCK_SIZE;
        self.block(piece, index)
            .filter(|block| block.length == length)
            .map(|_| index)
    }

    /// The blocks of `piece` in order (none for an index out of range).
    pub fn blocks(&self, piece: u32) -> Blocks {
        Blocks {
            piece,
            piece_len: self.piece_len(piece),
            next: 0,
        }
    }

    /// The file runs that make up bytes `offset..offset + length` of `piece`,
    /// in payload order, skipping zero-length files. A zero `length` gives no
    /// runs. Finds the first file by binary search; allocates nothing.
    pub fn spans(&self, piece: u32, offset: u32, length: u32) -> Result<Spans<'_>, LayoutError> {
        let piece_len = self.piece_len(piece);
        if piece >= self.piece_count {
            return Err(LayoutError::PieceOutOfRange {
                piece,
                piece_count: self.piece_count,
            });
        }
        let fits = offset
            .checked_add(length)
            .is_some_and(|end| end <= piece_len);
        if !fits {
            return Err(LayoutError::RangeOutOfPiece {
                piece,
                offset,
                length,
                piece_len,
            });
        }
        let piece_start = self.piece_offset(piece);
        let position = piece_start + u64::from(offset);
        let file = if length == 0 {
            self.file_count()
        } else {
            self.file_at(position)
        };
        Ok(Spans {
            starts: &self.starts,
            file,
            position,
            piece_start,
            remaining: length,
        })
    }

    /// The pieces holding any byte of `file`; empty (`0..0`) for a zero-length
    /// file or an index out of range.
    pub fn file_pieces(&self, file: usize) -> Range<u32> {
        self.byte_range_pieces(file, 0..u64::MAX)
    }

    /// The pieces holding bytes `range` of `file`, for streaming. The range is
    /// clamped to the file; if nothing is left, or `file` is out of range, the
    /// result is `0..0`.
    pub fn byte_range_pieces(&self, file: usize, range: Range<u64>) -> Range<u32> {
        let file_len = self.file_length(file);
        let end = range.end.min(file_len);
        if range.start >= end {
            return 0..0;
        }
        let base = self.file_offset(file);
        // Both are inside the payload, so the sums cannot overflow and the
        // piece indices fit a u32 (they are below the piece count).
        let first = (base + range.start) / u64::from(self.piece_length);
        let last = (base + end - 1) / u64::from(self.piece_length);
        first as u32..last as u32 + 1
    }

    /// The files holding any byte of `piece`: from the file of its first byte
    /// to the file of its last byte (zero-length files in between included,
    /// those at either edge not). `0..0` for an index out of range.
    pub fn piece_files(&self, piece: u32) -> Range<usize> {
        if piece >= self.piece_count {
            return 0..0;
        }
        let start = self.piece_offset(piece);
        let end = start + u64::from(self.piece_len(piece));
        self.file_at(start)..self.file_at(end - 1) + 1
    }

    /// The file holding payload byte `position`, which must be below the total
    /// length. That file is never zero-length.
    fn file_at(&self, position: u64) -> usize {
        // The number of files starting at or before `position`, minus one, is
        // the last such file; the next one starts after `position`, so this one
        // is not empty. `position < total` keeps the trailing entry out.
        let files = &self.starts[..self.file_count()];
        files
            .partition_point(|&start| start <= position)
            .saturating_sub(1)
    }
}

/// Iterator over the blocks of one piece; see [`Layout::blocks`].
#[derive(Clone, Debug)]
pub struct Blocks {
    piece: u32,
    piece_len: u32,
    next: u32,
}

impl Iterator for Blocks {
    type Item = BlockInfo;

    fn next(&mut self) -> Option<BlockInfo> {
        let offset = self.next.checked_mul(BLOCK_SIZE)?;
        if offset >= self.piece_len {
            return None;
        }
        self.next += 1;
        Some(BlockInfo {
            piece: self.piece,
            offset,
            length: (self.piece_len - offset).min(BLOCK_SIZE),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self
            .piece_len
            .div_ceil(BLOCK_SIZE)
            .saturating_sub(self.next) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Blocks {}
impl FusedIterator for Blocks {}

/// Iterator over the file runs of a piece range; see [`Layout::spans`].
///
/// ```
/// use sluice_core::layout::Layout;
///
/// // A 40 KiB piece over files of 10 KiB and 50 KiB: its third block
/// // (32..40 KiB) lies wholly in file 1.
/// let layout = Layout::new(40 * 1024, &[10 * 1024, 50 * 1024]).unwrap();
/// let block = layout.block(0, 2).unwrap();
/// let mut spans = layout.spans(block.piece, block.offset, block.length).unwrap();
/// let span = spans.next().unwrap();
/// assert_eq!((span.file, span.file_offset, span.length), (1, 22 * 1024, 8 * 1024));
/// assert!(spans.next().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct Spans<'a> {
    starts: &'a [u64],
    /// The file holding `position` (while `remaining > 0`).
    file: usize,
    position: u64,
    piece_start: u64,
    remaining: u32,
}

impl Iterator for Spans<'_> {
    type Item = FileSpan;

    fn next(&mut self) -> Option<FileSpan> {
        if self.remaining == 0 {
            return None;
        }
        let start = *self.starts.get(self.file)?;
        let end = *self.starts.get(self.file + 1)?;
        let length = (end - self.position).min(u64::from(self.remaining)) as u32;
        let span = FileSpan {
            file: self.file,
            file_offset: self.position - start,
            piece_offset: (self.position - self.piece_start) as u32,
            length,
        };
        self.position += u64::from(length);
        self.remaining -= length;
        // Step past this file and any zero-length files after it.
        self.file += 1;
        while self.remaining > 0 && self.starts.get(self.file + 1) == Some(&self.position) {
            self.file += 1;
        }
        Some(span)
    }
}

impl FusedIterator for Spans<'_> {}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::ZeroPieceLength => f.write_str("piece length is 0"),
            LayoutError::Empty => f.write_str("torrent has no bytes (all files are empty)"),
            LayoutError::TotalOverflow => f.write_str("file lengths add up to more than 2^64-1"),
            LayoutError::TooManyPieces { pieces } => {
                write!(f, "torrent would have {pieces} pieces, more than 2^32-1")
            }
            LayoutError::PieceOutOfRange { piece, piece_count } => {
                write!(
                    f,
                    "piece {piece} out of range (torrent has {piece_count} pieces)"
                )
            }
            LayoutError::RangeOutOfPiece {
                piece,
                offset,
                length,
                piece_len,
            } => write!(
                f,
                "range of {length} bytes at offset {offset} does not fit piece {piece} \
                 of {piece_len} bytes"
            ),
        }
    }
}

impl std::error::Error for LayoutError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spans(layout: &Layout, piece: u32, offset: u32, length: u32) -> Vec<(usize, u64, u32, u32)> {
        layout
            .spans(piece, offset, length)
            .unwrap()
            .map(|s| (s.file, s.file_offset, s.piece_offset, s.length))
            .collect()
    }

    #[test]
    fn construction_errors() {
        assert_eq!(Layout::new(0, &[1]), Err(LayoutError::ZeroPieceLength));
        assert_eq!(Layout::new(16, &[]), Err(LayoutError::Empty));
        assert_eq!(Layout::new(16, &[0, 0]), Err(LayoutError::Empty));
        assert_eq!(
            Layout::new(16, &[u64::MAX, 1]),
            Err(LayoutError::TotalOverflow)
        );
        assert_eq!(
            Layout::new(1, &[1 << 32, 1]),
            Err(LayoutError::TooManyPieces {
                pieces: (1 << 32) + 1
            })
        );
        let max = Layout::new(1, &[u64::from(u32::MAX)]).unwrap();
        assert_eq!(max.piece_count(), u32::MAX);
        assert_eq!(max.piece_len(u32::MAX - 1), 1);
        let full = u64::from(u32::MAX) * u64::from(u32::MAX);
        let huge = Layout::new(u32::MAX, &[full - 1]).unwrap();
        assert_eq!(huge.piece_count(), u32::MAX);
        assert_eq!(huge.piece_len(u32::MAX - 1), u32::MAX - 1);
        assert_eq!(huge.file_pieces(0), 0..u32::MAX);
        assert_eq!(huge.spans(u32::MAX - 1, 0, 2).unwrap().count(), 1);
    }

    #[test]
    fn single_file_many_pieces_last_short() {
        // 100 KiB + 5 bytes in 32 KiB pieces: 4 pieces, the last one 4 KiB + 5.
        let layout = Layout::new(32 * 1024, &[100 * 1024 + 5]).unwrap();
        assert_eq!(layout.piece_count(), 4);
        assert_eq!(layout.piece_len(0), 32 * 1024);
        assert_eq!(layout.piece_len(3), 4 * 1024 + 5);
        assert_eq!(layout.piece_len(4), 0);
        assert_eq!(layout.block_count(0), 2);
        assert_eq!(layout.block_count(3), 1);
        assert_eq!(layout.block_count(4), 0);
        assert_eq!(
            layout.block(3, 0),
            Some(BlockInfo {
                piece: 3,
                offset: 0,
                length: 4 * 1024 + 5
            })
        );
        assert_eq!(layout.block(3, 1), None);
        assert_eq!(layout.block(9, 0), None);
        assert_eq!(layout.file_pieces(0), 0..4);
        assert_eq!(layout.piece_files(2), 0..1);
        assert_eq!(
            spans(&layout, 2, 100, 1000),
            [(0, 64 * 1024 + 100, 100, 1000)]
        );
        assert_eq!(
            layout.byte_range_pieces(0, 32 * 1024 - 1..32 * 1024 + 1),
            0..2
        );
        assert_eq!(layout.byte_range_pieces(0, 32 * 1024..64 * 1024), 1..2);
        assert_eq!(layout.byte_range_pieces(0, 96 * 1024..u64::MAX), 3..4);
        assert_eq!(layout.byte_range_pieces(0, 200 * 1024..u64::MAX), 0..0);
        assert_eq!(layout.byte_range_pieces(0, 5..5), 0..0);
        assert_eq!(layout.byte_range_pieces(1, 0..5), 0..0);
    }

    #[test]
    fn blocks_of_a_piece() {
        let layout = Layout::new(40 * 1024, &[90 * 1024]).unwrap();
        let blocks: Vec<(u32, u32)> = layout.blocks(0).map(|b| (b.offset, b.length)).collect();
        assert_eq!(
            blocks,
            [
                (0, BLOCK_SIZE),
                (BLOCK_SIZE, BLOCK_SIZE),
                (2 * BLOCK_SIZE, 8 * 1024)
            ]
        );
        assert_eq!(layout.blocks(0).len(), 3);
        let last: Vec<(u32, u32)> = layout.blocks(2).map(|b| (b.offset, b.length)).collect();
        assert_eq!(last, [(0, 10 * 1024)]);
        assert_eq!(layout.blocks(3).count(), 0);
        assert_eq!(layout.block_index(0, BLOCK_SIZE, BLOCK_SIZE), Some(1));
        assert_eq!(layout.block_index(0, 2 * BLOCK_SIZE, 8 * 1024), Some(2));
        assert_eq!(layout.block_index(0, 2 * BLOCK_SIZE, BLOCK_SIZE), None);
        assert_eq!(layout.block_index(0, 1, BLOCK_SIZE), None);
        assert_eq!(layout.block_index(3, 0, 1), None);
    }

    #[test]
    fn multi_file_with_zero_length_files() {
        // Files: 0:[0,5) 1:empty 2:[5,14) 3:empty 4:empty 5:[14,15) 6:empty
        let layout = Layout::new(4, &[5, 0, 9, 0, 0, 1, 0]).unwrap();
        assert_eq!(layout.total_length(), 15);
        assert_eq!(layout.file_count(), 7);
        assert_eq!(layout.piece_count(), 4);
        assert_eq!(layout.piece_len(3), 3);
        assert_eq!(layout.file_offset(3), 14);
        assert_eq!(layout.file_offset(6), 15);
        assert_eq!(layout.file_offset(7), 15);
        assert_eq!(layout.file_length(2), 9);
        assert_eq!(layout.file_length(3), 0);
        assert_eq!(layout.file_length(99), 0);
        assert_eq!(layout.file_length(usize::MAX), 0);

        assert_eq!(spans(&layout, 0, 0, 4), [(0, 0, 0, 4)]);
        assert_eq!(spans(&layout, 1, 0, 4), [(0, 4, 0, 1), (2, 0, 1, 3)]);
        // Starting exactly at file 2's first byte skips the empty file 1.
        assert_eq!(spans(&layout, 1, 1, 2), [(2, 0, 1, 2)]);
        assert_eq!(spans(&layout, 3, 0, 3), [(2, 7, 0, 2), (5, 0, 2, 1)]);
        assert_eq!(spans(&layout, 3, 2, 1), [(5, 0, 2, 1)]);
        assert_eq!(spans(&layout, 3, 0, 0), []);
        assert_eq!(spans(&layout, 3, 3, 0), []);

        assert_eq!(layout.piece_files(0), 0..1);
        assert_eq!(layout.piece_files(1), 0..3);
        assert_eq!(layout.piece_files(3), 2..6);
        assert_eq!(layout.piece_files(4), 0..0);
        assert_eq!(layout.file_pieces(0), 0..2);
        assert_eq!(layout.file_pieces(1), 0..0);
        assert_eq!(layout.file_pieces(2), 1..4);
        assert_eq!(layout.file_pieces(5), 3..4);
        assert_eq!(layout.file_pieces(6), 0..0);
        assert_eq!(layout.file_pieces(7), 0..0);
    }

    #[test]
    fn file_boundary_inside_a_block() {
        // One 64 KiB piece; files of 20 KiB, 1 byte, and the rest. Block 1
        // (16..32 KiB) crosses from file 0 into 1 and 2.
        let layout = Layout::new(64 * 1024, &[20 * 1024, 1, 44 * 1024 - 1]).unwrap();
        let block = layout.block(0, 1).unwrap();
        assert_eq!(
            spans(&layout, block.piece, block.offset, block.length),
            [
                (0, 16 * 1024, 16 * 1024, 4 * 1024),
                (1, 0, 20 * 1024, 1),
                (2, 0, 20 * 1024 + 1, 12 * 1024 - 1),
            ]
        );
        assert_eq!(layout.piece_files(0), 0..3);
    }

    #[test]
    fn range_errors() {
        let layout = Layout::new(10, &[25]).unwrap();
        assert_eq!(
            layout.spans(3, 0, 1).unwrap_err(),
            LayoutError::PieceOutOfRange {
                piece: 3,
                piece_count: 3
            }
        );
        assert_eq!(
            layout.spans(2, 0, 6).unwrap_err(),
            LayoutError::RangeOutOfPiece {
                piece: 2,
                offset: 0,
                length: 6,
                piece_len: 5
            }
        );
        assert!(layout.spans(0, 11, 0).is_err());
        assert!(layout.spans(0, u32::MAX, 2).is_err());
        assert!(layout.spans(u32::MAX, 0, 0).is_err());
        assert!(layout.spans(0, 10, 0).is_ok());
        let message = layout.spans(2, 4, 2).unwrap_err().to_string();
        assert!(message.contains("piece 2"), "{message}");
    }

    /// Brute-force model: the (file, file offset) of every payload byte.
    fn byte_map(file_lengths: &[u64]) -> Vec<(usize, u64)> {
        let mut map = Vec::new();
        for (file, &length) in file_lengths.iter().enumerate() {
            for offset in 0..length {
                map.push((file, offset));
            }
        }
        map
    }

    /// Merges consecutive bytes of one file into runs, as `spans` reports them.
    fn model_spans(
        map: &[(usize, u64)],
        piece_start: u64,
        range: Range<u64>,
    ) -> Vec<(usize, u64, u32, u32)> {
        let mut runs: Vec<(usize, u64, u32, u32)> = Vec::new();
        for global in range {
            let (file, offset) = map[global as usize];
            match runs.last_mut() {
                Some(run) if run.0 == file => run.3 += 1,
                _ => runs.push((file, offset, (global - piece_start) as u32, 1)),
            }
        }
        runs
    }

    fn arb_geometry() -> impl Strategy<Value = (u32, Vec<u64>)> {
        let piece_length = prop_oneof![1u32..=8, 1u32..=40_000, 1u32..=1 << 20];
        let file_length = prop_oneof![0u64..=8, 0u64..=3_000, 0u64..=40_000];
        (piece_length, proptest::collection::vec(file_length, 1..=6))
    }

    proptest! {
        #[test]
        fn spans_match_model(
            (piece_length, files) in arb_geometry(),
            piece_pick in any::<u32>(),
            a in any::<u32>(),
            b in any::<u32>(),
        ) {
            let Ok(layout) = Layout::new(piece_length, &files) else {
                prop_assert_eq!(files.iter().sum::<u64>(), 0);
                return Ok(());
            };
            let map = byte_map(&files);
            prop_assert_eq!(layout.total_length(), map.len() as u64);
            let piece = piece_pick % layout.piece_count();
            let piece_len = layout.piece_len(piece);
            let (x, y) = (a % (piece_len + 1), b % (piece_len + 1));
            let (offset, end) = (x.min(y), x.max(y));
            let piece_start = u64::from(piece) * u64::from(piece_length);
            let got: Vec<_> = layout
                .spans(piece, offset, end - offset)
                .unwrap()
                .map(|s| (s.file, s.file_offset, s.piece_offset, s.length))
                .collect();
            let want = model_spans(
                &map,
                piece_start,
                piece_start + u64::from(offset)..piece_start + u64::from(end),
            );
            prop_assert_eq!(got, want);
            // Just past the end of the piece is always an error.
            prop_assert!(layout.spans(piece, offset, piece_len - offset + 1).is_err());
            prop_assert!(layout.spans(layout.piece_count(), 0, 0).is_err());
        }

        #[test]
        fn blocks_tile_the_payload_once((piece_length, files) in arb_geometry()) {
            let Ok(layout) = Layout::new(piece_length, &files) else {
                return Ok(());
            };
            let map = byte_map(&files);
            let mut next_global = 0u64;
            for piece in 0..layout.piece_count() {
                prop_assert_eq!(layout.piece_offset(piece), next_global);
                let blocks: Vec<BlockInfo> = layout.blocks(piece).collect();
                prop_assert_eq!(blocks.len() as u32, layout.block_count(piece));
                let mut in_piece = 0u32;
                for (index, block) in blocks.iter().enumerate() {
                    prop_assert_eq!(Some(*block), layout.block(piece, index as u32));
                    prop_assert_eq!(layout.block_index(piece, block.offset, block.length), Some(index as u32));
                    prop_assert_eq!(block.offset, in_piece);
                    prop_assert!(block.length > 0 && block.length <= BLOCK_SIZE);
                    if index + 1 < blocks.len() {
                        prop_assert_eq!(block.length, BLOCK_SIZE);
                    }
                    // The block's spans cover its bytes in order, each once.
                    for span in layout.spans(piece, block.offset, block.length).unwrap() {
                        prop_assert!(span.length > 0);
                        for i in 0..u64::from(span.length) {
                            prop_assert_eq!(
                                map[next_global as usize],
                                (span.file, span.file_offset + i)
                            );
                            next_global += 1;
                        }
                    }
                    in_piece += block.length;
                }
                prop_assert_eq!(in_piece, layout.piece_len(piece));
                prop_assert!(piece + 1 == layout.piece_count() || in_piece == piece_length);
            }
            prop_assert_eq!(next_global, layout.total_length());
            prop_assert_eq!(layout.blocks(layout.piece_count()).count(), 0);
        }

        #[test]
        fn file_and_piece_ranges_match_model(
            (piece_length, files) in arb_geometry(),
            a in any::<u64>(),
            b in any::<u64>(),
        ) {
            let Ok(layout) = Layout::new(piece_length, &files) else {
                return Ok(());
            };
            let map = byte_map(&files);
            let pl = u64::from(piece_length);
            let piece_of = |global: usize| (global as u64 / pl) as u32;
            for (file, &length) in files.iter().enumerate() {
                prop_assert_eq!(layout.file_length(file), length);
                let bytes: Vec<usize> =
                    (0..map.len()).filter(|&g| map[g].0 == file).collect();
                let want = match (bytes.first(), bytes.last()) {
                    (Some(&f), Some(&l)) => piece_of(f)..piece_of(l) + 1,
                    _ => 0..0,
                };
                prop_assert_eq!(layout.file_pieces(file), want);
                if let Some(&first) = bytes.first() {
                    prop_assert_eq!(layout.file_offset(file), first as u64);
                }

                // A byte range of the file, possibly running past its end.
                let (x, y) = (a % (length + 2), b % (length + 2));
                let (start, end) = (x.min(y), x.max(y));
                let inside: Vec<usize> = bytes
                    .iter()
                    .copied()
                    .filter(|&g| (start..end).contains(&map[g].1))
                    .collect();
                let want = match (inside.first(), inside.last()) {
                    (Some(&f), Some(&l)) => piece_of(f)..piece_of(l) + 1,
                    _ => 0..0,
                };
                prop_assert_eq!(layout.byte_range_pieces(file, start..end), want);
            }
            prop_assert_eq!(layout.file_pieces(files.len()), 0..0);

            for piece in 0..layout.piece_count() {
                let start = u64::from(piece) * pl;
                let end = start + u64::from(layout.piece_len(piece));
                let first = map[start as usize].0;
                let last = map[end as usize - 1].0;
                prop_assert_eq!(layout.piece_files(piece), first..last + 1);
                // Every file with a byte in this piece lists the piece.
                for (file, &length) in files.iter().enumerate().take(last + 1).skip(first) {
                    if length > 0 {
                        prop_assert!(layout.file_pieces(file).contains(&piece));
                    }
                }
            }
        }
    }
}

//! `ut_metadata` (BEP 9): fetching the info dictionary from peers, for magnet
//! links, and serving it to them.
//!
//! The metadata (the exact bytes of the `info` dictionary) travels in blocks of
//! [`BLOCK_SIZE`] bytes, the last one shorter. Three messages, each a bencoded
//! dictionary sent as the payload of an extended message under the id the
//! receiver announced for `ut_metadata` in its extension handshake:
//!
//! * [`Message::Request`] asks for one block;
//! * [`Message::Data`] carries one, its bytes directly after the dictionary;
//! * [`Message::Reject`] says the sender does not have it.
//!
//! Everything a peer says is untrusted. Sizes above [`MAX_METADATA_SIZE`]
//! (16 MiB, some thirty times the info dictionary of a 100 000-file torrent) are
//! refused, so a peer cannot make us allocate more than that; blocks must have
//! exactly the right length; and the assembled bytes count only once their SHA-1
//! equals the info-hash.
//!
//! * [`MetadataFetcher`] is the downloading side: a sans-IO state machine that
//!   learns the size from handshakes, spreads requests over peers, times them
//!   out, verifies, and names peers that sent bad blocks.
//! * [`respond`] is the serving side: the answer to a request, given the
//!   verified bytes (such as [`Info::raw`](crate::metainfo::Info::raw)).

mod fetcher;
mod message;
#[cfg(test)]
mod tests;

pub use fetcher::{BanReason, FetchEvent, FetcherConfig, MetadataFetcher};
pub use message::{check_size, respond, Message, MetadataError, MSG_DATA, MSG_REJECT, MSG_REQUEST};

/// Bytes per block of metadata (all but the last block have exactly this many).
pub const BLOCK_SIZE: usize = 16 * 1024;

/// Largest metadata accepted or served: 16 MiB, so 1024 blocks.
pub const MAX_METADATA_SIZE: u32 = 16 << 20;

/// The number of blocks metadata of `size` bytes is split into.
///
/// ```
/// use sluice_core::ext::metadata::piece_count;
/// assert_eq!(piece_count(1), 1);
/// assert_eq!(piece_count(16_384), 1);
/// assert_eq!(piece_count(16_385), 2);
/// ```
pub fn piece_count(size: u32) -> u32 {
    size.div_ceil(BLOCK_SIZE as u32)
}

/// Length of block `piece` of metadata of `size` bytes (0 past the end).
pub fn block_len(size: u32, piece: u32) -> usize {
    let start = u64::from(piece) * BLOCK_SIZE as u64;
    (u64::from(size).saturating_sub(start)).min(BLOCK_SIZE as u64) as usize
}

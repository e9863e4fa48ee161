//! sluice-core: the sans-IO heart of sluice.
//!
//! Everything in this crate is a pure function or a state machine that consumes
//! bytes and returns values. Nothing here opens a socket, touches a file, reads a
//! clock, sleeps, spawns a thread or asks the OS for randomness: drivers do that
//! and feed the results in. That is what lets the same code run inside any event
//! loop, under a fuzzer, and inside a deterministic swarm simulation.
//!
//! Modules, one concept each:
//!
//! | module | what it owns |
//! |---|---|
//! | [`bencode`] | borrowing decoder that keeps each value's raw span; canonical encoder |
//! | [`metainfo`] | `.torrent` files: typed, validated, sanitised; info-hash |
//! | [`create`] | building a `.torrent` from file sizes and streamed file bytes |
//! | [`magnet`] | magnet URIs (BEP 9, BEP 53) |
//! | [`wire`] | the peer wire protocol codec (BEP 3, 6, 10, 5's `port`) |
//! | [`layout`] | piece/block ↔ file span arithmetic shared by every storage backend |
//! | [`id`] | [`InfoHash`] and [`PeerId`] newtypes |
//!
//! The protocol state machines (peer, picker, choker, torrent) and the run loop
//! that drives them (`handle` inputs with `now`, drain `poll`, sleep until
//! `poll_timeout`) build on these codecs.
//!
//! # Example
//!
//! Describe a payload, parse the resulting torrent as a peer would, and ask the
//! layout where a piece's bytes live on disk:
//!
//! ```
//! use sluice_core::create::{PieceHasher, TorrentBuilder};
//! use sluice_core::metainfo::Metainfo;
//!
//! let files = vec![
//!     (vec!["a.bin".to_string()], 20_000),
//!     (vec!["b.bin".to_string()], 30_000),
//! ];
//! let mut builder = TorrentBuilder::multi_file("demo", files);
//! builder.piece_length(16 * 1024);
//! let mut hasher = PieceHasher::new(builder.chosen_piece_length());
//! hasher.update(&vec![7u8; 50_000]);
//! let bytes = builder.build(&hasher.finish()).unwrap();
//!
//! let meta = Metainfo::from_bytes(&bytes).unwrap();
//! let layout = meta.layout();
//! assert_eq!(layout.piece_count(), 4);
//! // Piece 1 (bytes 16384..32768) ends file 0 and starts file 1.
//! let spans: Vec<_> = layout.spans(1, 0, layout.piece_len(1)).unwrap().collect();
//! assert_eq!((spans[0].file, spans[0].file_offset, spans[0].length), (0, 16_384, 3_616));
//! assert_eq!((spans[1].file, spans[1].file_offset, spans[1].length), (1, 0, 12_768));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bencode;
pub mod bitfield;
pub mod choker;
pub mod create;
pub mod ext;
pub mod id;
pub mod layout;
pub mod magnet;
pub mod metainfo;
pub mod picker;
pub mod rate;
pub mod rng;
pub mod time;
pub mod torrent;
pub mod wire;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

pub use bitfield::Bitfield;
pub use id::{InfoHash, PeerId};
pub use rate::RateMeter;
pub use rng::Rng;
pub use time::Time;

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
//! | [`ext`] | messages inside BEP 10's envelope: the extension handshake |
//! | [`layout`] | piece/block ↔ file span arithmetic shared by every storage backend |
//! | [`picker`] | which block to ask which peer for: rarest first, priorities, streams, endgame |
//! | [`choker`] | who gets an upload slot |
//! | [`torrent`] | the state machine of one torrent, tying the above together |
//! | [`bitfield`], [`rate`], [`rng`], [`time`], [`id`] | small values the rest shares |
//!
//! # The run loop
//!
//! A [`torrent::Torrent`] never acts on its own. A driver runs this loop:
//!
//! 1. **Feed one input**, with the current time: a connection opened
//!    (`handle_connected`) or closed (`handle_closed`), bytes arrived
//!    (`handle_data`), bytes were sent (`handle_sent`), a storage job finished
//!    (`handle_write`, `handle_read`, `handle_hash`), the timer fired
//!    (`handle_timeout`), or the program asked for something (`add_peers`,
//!    `open_stream`, `set_file_priority`, ...).
//! 2. **Drain [`poll`](torrent::Torrent::poll)** until it returns `None`, doing
//!    what each [`Output`](torrent::Output) says: send the bytes waiting in
//!    `send_buffer(peer)`, connect, close, run a storage job, show an event.
//! 3. **Sleep** until [`poll_timeout`](torrent::Torrent::poll_timeout) or the
//!    next input, whichever comes first.
//!
//! Rules: time is [`Time`], from the driver's monotonic clock, and must never go
//! backwards; bytes may arrive split anywhere; storage jobs may complete in any
//! order and at any later time; a closed peer's key is never used again. Random
//! choices come from the seed in the configuration, so the same inputs give the
//! same outputs, byte for byte.
//!
//! # Example: two engines, one in-memory pipe
//!
//! A seed and a leecher, driven by the loop above. A socket driver does exactly
//! this with `read`/`write` calls and files; here the "network" is a copy and the
//! "disk" a vector.
//!
//! ```
//! use sluice_core::create::{PieceHasher, TorrentBuilder};
//! use sluice_core::metainfo::Metainfo;
//! use sluice_core::torrent::{Config, Direction, DiskJob, Output, Torrent};
//! use sluice_core::{Bitfield, PeerId, Time};
//! use std::time::Duration;
//!
//! // A 200 kB payload in 64 KiB pieces.
//! let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
//! let mut b = TorrentBuilder::single_file("demo.bin", payload.len() as u64);
//! b.piece_length(64 * 1024);
//! let mut h = PieceHasher::new(b.chosen_piece_length());
//! h.update(&payload);
//! let meta = Metainfo::from_bytes(&b.build(&h.finish()).unwrap()).unwrap();
//! let pieces = meta.info.piece_count();
//! let layout = meta.layout();
//!
//! let engine = |id: u8, have| {
//!     let cfg = Config::new(PeerId([id; 20]), u64::from(id));
//!     Torrent::new(meta.info_hash, meta.info.clone(), cfg, have, Time::ZERO)
//! };
//! let mut nodes = [engine(1, Bitfield::full(pieces)), engine(2, Bitfield::new(pieces))];
//! let mut disks = [payload.clone(), vec![0u8; payload.len()]];
//!
//! let addr = "127.0.0.1:6881".parse().unwrap();
//! let keys = [
//!     nodes[0].handle_connected(Time::ZERO, addr, Direction::Inbound),
//!     nodes[1].handle_connected(Time::ZERO, addr, Direction::Outbound),
//! ];
//! let mut now = Time::ZERO;
//! while !nodes[1].is_complete() {
//!     now += Duration::from_millis(1);
//!     for me in 0..2 {
//!         // Drain outputs; storage jobs complete at once.
//!         while let Some(out) = nodes[me].poll() {
//!             if let Output::Disk(job) = out {
//!                 match job {
//!                     DiskJob::Write { piece, offset, data } => {
//!                         let at = (layout.piece_offset(piece) + u64::from(offset)) as usize;
//!                         disks[me][at..at + data.len()].copy_from_slice(&data);
//!                         nodes[me].handle_write(now, piece, offset, Ok(()));
//!                     }
//!                     DiskJob::Read { id, piece, offset, length } => {
//!                         let at = (layout.piece_offset(piece) + u64::from(offset)) as usize;
//!                         let data = disks[me][at..at + length as usize].to_vec();
//!                         nodes[me].handle_read(now, id, Ok(&data));
//!                     }
//!                     DiskJob::Hash { piece } => {
//!                         let at = layout.piece_offset(piece) as usize;
//!                         let len = layout.piece_len(piece) as usize;
//!                         let digest = sluice_core::create::hash_piece(&disks[me][at..at + len]);
//!                         nodes[me].handle_hash(now, piece, Ok(digest));
//!                     }
//!                 }
//!             }
//!         }
//!         // "Send": move what is buffered to the other side.
//!         let bytes = nodes[me].send_buffer(keys[me]).to_vec();
//!         nodes[me].handle_sent(now, keys[me], bytes.len());
//!         nodes[1 - me].handle_data(now, keys[1 - me], &bytes);
//!         if nodes[me].poll_timeout().is_some_and(|t| t <= now) {
//!             nodes[me].handle_timeout(now);
//!         }
//!     }
//!     assert!(now < Time::from_millis(10_000), "the download stalled");
//! }
//! assert_eq!(disks[0], disks[1]);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bencode;
pub mod bitfield;
pub mod choker;
pub mod create;
pub mod dht;
pub mod ext;
pub mod id;
pub mod layout;
pub mod lsd;
pub mod magnet;
pub mod magnet_fetch;
pub mod metainfo;
pub mod picker;
pub mod rate;
pub mod rng;
pub mod time;
pub mod torrent;
pub mod tracker;
pub mod wire;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

pub use bitfield::Bitfield;
pub use id::{InfoHash, PeerId};
pub use rate::RateMeter;
pub use rng::Rng;
pub use time::Time;

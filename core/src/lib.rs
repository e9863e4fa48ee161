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
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bencode;
pub mod create;
pub mod id;
pub mod layout;
pub mod magnet;
pub mod metainfo;
pub mod wire;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

pub use id::{InfoHash, PeerId};

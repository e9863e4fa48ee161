//! sluice-mio: the event-loop driver and the `sluice` command.
//!
//! One `mio` event loop runs every torrent's engine: non-blocking sockets in a
//! slab, timers from the engines' `poll_timeout`, a waker for commands from
//! other threads, and disk work on worker threads. Programs use the same types
//! as with sluice-std (handles, readers, options, storage backends); only
//! [`Client`] differs.
//!
//! [`create`] makes `.torrent` files from disk on all cores.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
pub mod create;
mod event_loop;
pub mod hash;
pub mod http;
pub mod magnet;

pub use sluice_std::dht;
pub use sluice_std::{
    AddOptions, ClientOptions, Error, Event, FileInfo, FileReader, LsdOptions, PeerInfo, Priority,
    Stats, StorageChoice, TorrentHandle,
};

pub use client::Client;

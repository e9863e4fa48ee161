//! sluice-std: the blocking driver for [`sluice_core`], built on `std` (and `socket2`).
//!
//! It runs the core's sans-IO torrent engine on real sockets and files with a
//! thread per job: one engine thread per torrent owns the state machine; every
//! connection has a reader and a writer thread; a few disk workers write,
//! read and hash; one thread accepts peers, and one runs the DHT node when
//! the client has one. The engine thread never blocks on
//! a peer or a disk, so a peer that stops reading stalls only itself.
//!
//! What a program uses:
//!
//! * [`Client`]: start with [`ClientOptions`] (listen address, download folder,
//!   peer limit, upload slots, verify-on-start, storage backend), add torrents,
//!   shut down cleanly.
//! * [`TorrentHandle`]: files, `connect`/`disconnect`/`block`, select and
//!   deselect files, progress, events, `remove(keep_verified)`, and
//!   [`FileReader`]s: blocking `Read + Seek` over a file or a byte range of it
//!   that fetch what they need first and never return unverified bytes.
//! * [`storage::Storage`]: the backend trait, with a file backend (the default)
//!   and a memory backend.
//!
//! Every torrent announces to its HTTP and UDP trackers (see [`tracker`]);
//! with [`ClientOptions::lsd`], non-private ones also on the local network
//! (see [`lsd`]), and with [`ClientOptions::dht`] in the DHT, through a node
//! on a thread of its own (see [`dht`]).
//!
//! The program-facing types are shared with the event-loop driver
//! (sluice-mio), which reuses the building blocks in [`command`], [`disk`],
//! [`status`], [`startup`], [`resume`], [`storage`], [`tracker`], [`lsd`] and
//! [`dht`] and differs only in how it runs the engine.
//!
//! Its one dependency besides the core is `socket2`, for what the LSD socket
//! needs and std cannot set (a shared port, the multicast interface).
//!
//! Downloading a torrent from a known peer and reading its first file:
//!
//! ```no_run
//! use std::io::Read;
//! use sluice_std::{Client, ClientOptions};
//!
//! let mut opts = ClientOptions::new("downloads");
//! opts.listen = "127.0.0.1:0".parse().unwrap();
//! let client = Client::start(opts)?;
//! let torrent = client.add_torrent_file("example.torrent")?;
//! torrent.connect("127.0.0.1:6881".parse().unwrap());
//! let mut first = torrent.reader(0)?;
//! let mut head = [0u8; 1024];
//! first.read_exact(&mut head)?; // blocks until those bytes are verified
//! torrent.wait_complete(None)?;
//! client.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
pub mod command;
pub mod dht;
mod dht_thread;
pub mod disk;
mod error;
mod handle;
pub mod lsd;
mod net;
mod options;
pub mod prepare;
mod reader;
pub mod resume;
mod runner;
pub mod startup;
pub mod status;
pub mod storage;
pub mod tracker;

pub use client::{AddOptions, Client};
pub use error::Error;
pub use handle::{FileInfo, TorrentHandle};
pub use options::{ClientOptions, LsdOptions, StorageChoice, StorageFactory};
pub use reader::FileReader;
pub use sluice_core as core;
pub use sluice_core::picker::Priority;
pub use sluice_core::torrent::{Event, PeerInfo, Stats};

//! sluice-std: the blocking driver for [`sluice_core`], built on `std` alone.
//!
//! It will put the core's state machines on real sockets and files with a
//! thread per job, and serve as the reference driver for the conformance
//! suite. For now it re-exports the core so programs can already parse
//! torrents and magnet links through it.
//!
//! ```
//! let link = sluice_std::core::magnet::MagnetLink::parse(
//!     "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a",
//! ).unwrap();
//! assert_eq!(link.info_hash.to_hex(), "c12fe1c06bba254a9dc9f519b335aa7c1367a88a");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use sluice_core as core;

//! sluice-mio: the event-loop driver and the `sluice` command.
//!
//! The mio event loop arrives with the engine; today the crate holds the parts of
//! the command that are library code, so they can be tested and benchmarked:
//! [`create`] makes `.torrent` files from disk on all cores.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod create;

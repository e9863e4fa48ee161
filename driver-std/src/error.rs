//! The driver's error type.

use std::fmt;
use std::io;

use sluice_core::metainfo::MetainfoError;
use sluice_core::torrent::StreamError;
use sluice_core::InfoHash;

/// What can go wrong when using the client.
#[derive(Debug)]
pub enum Error {
    /// An I/O error (reading a `.torrent`, binding the listener, storage).
    Io(io::Error),
    /// The `.torrent` is not valid.
    Torrent(MetainfoError),
    /// The torrent is already added.
    Duplicate(InfoHash),
    /// No file with this index.
    NoSuchFile(usize),
    /// A stream command was refused.
    Stream(StreamError),
    /// The torrent stopped (shut down, removed, or failed: the message says).
    Stopped(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Torrent(e) => write!(f, "invalid torrent: {e}"),
            Error::Duplicate(h) => write!(f, "torrent {h} is already added"),
            Error::NoSuchFile(i) => write!(f, "no file {i} in the torrent"),
            Error::Stream(e) => write!(f, "{e}"),
            Error::Stopped(why) => write!(f, "torrent stopped: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Torrent(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<MetainfoError> for Error {
    fn from(e: MetainfoError) -> Error {
        Error::Torrent(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            other => io::Error::other(other.to_string()),
        }
    }
}

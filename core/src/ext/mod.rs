//! Extension messages carried inside BEP 10's `extended` envelope.
//!
//! * [`handshake`]: the extension handshake (message id 0), which says which
//!   extensions a peer speaks and under which ids, its client name, request
//!   queue depth, listen port and metadata size.

pub mod handshake;

pub use handshake::{ExtHandshake, ExtHandshakeError};

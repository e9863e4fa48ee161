//! Extension messages carried inside BEP 10's `extended` envelope.
//!
//! * [`handshake`]: the extension handshake (message id 0), which says which
//!   extensions a peer speaks and under which ids, its client name, request
//!   queue depth, listen port and metadata size.
//! * [`metadata`]: `ut_metadata` (BEP 9), the info dictionary fetched from
//!   peers for magnet links, and served to them.
//! * [`pex`]: `ut_pex` (BEP 11), peer exchange.

pub mod handshake;
pub mod metadata;
pub mod pex;

pub use handshake::{ExtHandshake, ExtHandshakeError};

//! The peer wire protocol codec: BEP 3 handshake and messages, the Fast
//! extension (BEP 6), the extension protocol envelope (BEP 10) and the DHT
//! `port` message (BEP 5).
//!
//! A connection starts with a 68-byte [`Handshake`] in each direction, whose
//! [`Reserved`] bits announce the extensions each side supports. After it
//! comes an endless stream of frames: a 4-byte big-endian length, then (unless
//! the length is zero, a keep-alive) a message id byte and its payload.
//!
//! * Encoding: [`Handshake::encode`] and [`Message::encode`] append to a
//!   buffer the caller lends; nothing else is allocated.
//! * Decoding one frame from bytes at hand: [`decode_frame`] (pure, borrows
//!   its input, says how many bytes it used or that more are needed) and
//!   [`decode_message`] for a body whose length is already known.
//! * Decoding a stream split anywhere: [`Decoder`], with bounded memory.
//!
//! The codec checks framing, never policy: lengths, ids and (once the torrent's
//! piece count is known) piece indices and bitfield shape. Whether a message
//! is acceptable at this point of the connection — a Fast message without the
//! Fast bit, a late bitfield, a block larger than 16 KiB, an unrequested piece
//! — is for the engine to decide. Bad bytes from a peer give a [`WireError`],
//! never a panic.
//!
//! ```
//! use sluice_core::wire::{decode_frame, DecoderConfig, Message};
//!
//! let mut out = Vec::new();
//! Message::Interested.encode(&mut out);
//! Message::Have { piece: 42 }.encode(&mut out);
//! assert_eq!(out, [0, 0, 0, 1, 2, 0, 0, 0, 5, 4, 0, 0, 0, 42]);
//!
//! let cfg = DecoderConfig::default();
//! let (first, used) = decode_frame(&out, &cfg)?.expect("complete frame");
//! assert_eq!((first, used), (Message::Interested, 5));
//! assert_eq!(decode_frame(&out[used..], &cfg)?, Some((Message::Have { piece: 42 }, 9)));
//! # Ok::<(), sluice_core::wire::WireError>(())
//! ```

mod decode;
mod decoder;
mod error;
mod handshake;
mod message;
#[cfg(test)]
mod proptests;

pub use decode::{decode_frame, decode_message, validate_bitfield, DecoderConfig};
pub use decoder::Decoder;
pub use error::WireError;
pub use handshake::{Handshake, Reserved};
pub use message::{BlockRequest, Message};

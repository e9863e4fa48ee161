//! The one error type of the wire codec.

use core::fmt;

/// Why a handshake or message could not be decoded.
///
/// Every variant except [`UnknownMessage`](WireError::UnknownMessage) means the
/// peer broke the protocol and the connection should be closed with this error
/// as the reason; [`is_fatal`](WireError::is_fatal) says which is which.
/// [`HandshakePending`](WireError::HandshakePending) and
/// [`HandshakeNotExpected`](WireError::HandshakeNotExpected) are the only ones
/// caused by the caller rather than the peer.
///
/// ```
/// use sluice_core::wire::{decode_frame, DecoderConfig, WireError};
///
/// let cfg = DecoderConfig::default();
/// // A 'have' must carry exactly four bytes; this one carries three.
/// let err = decode_frame(&[0, 0, 0, 4, 4, 0, 0, 1], &cfg).unwrap_err();
/// assert_eq!(err, WireError::BadLength { id: 4, len: 4 });
/// assert!(err.is_fatal());
/// assert_eq!(err.to_string(), "message 4 (have) has invalid length 4");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// A length prefix announced a frame longer than
    /// [`DecoderConfig::max_frame`](super::DecoderConfig::max_frame). Reported
    /// as soon as the four length bytes are seen, before any body is buffered.
    FrameTooLong {
        /// The announced length (message id and payload, without the prefix).
        len: u32,
        /// The configured limit.
        max: u32,
    },
    /// A message whose layout fixes its length arrived with another length
    /// (a 'have' of three bytes, a 'choke' with a payload, a 'piece' shorter
    /// than its header, an 'extended' without its extended id…).
    BadLength {
        /// The message id.
        id: u8,
        /// The frame length from the length prefix, id byte included.
        len: u32,
    },
    /// A message id this codec does not know. Not fatal: the frame has the
    /// usual length prefix, so the [`Decoder`](super::Decoder) skips it and
    /// can go on; an engine may ignore it or close the connection.
    UnknownMessage {
        /// The unknown id.
        id: u8,
    },
    /// A bitfield whose length is not `ceil(piece_count / 8)` bytes.
    BitfieldLength {
        /// Its length in bytes.
        got: usize,
        /// The length the piece count implies.
        expected: usize,
    },
    /// A bitfield with one of the spare bits after the last piece set.
    BitfieldSpareBits,
    /// A message names a piece index at or past the torrent's piece count.
    PieceOutOfRange {
        /// The index the peer sent.
        piece: u32,
        /// The torrent's number of pieces.
        count: u32,
    },
    /// The handshake does not start with byte 19 and `BitTorrent protocol`
    /// (an encrypted stream, another protocol, or garbage). The
    /// [`Decoder`](super::Decoder) reports it from the first byte that differs.
    BadProtocolString,
    /// [`Handshake::decode`](super::Handshake::decode) was given fewer than
    /// [`Handshake::LEN`](super::Handshake::LEN) bytes.
    HandshakeTooShort {
        /// How many bytes it was given.
        got: usize,
    },
    /// Caller error: [`Decoder::next_message`](super::Decoder::next_message)
    /// was called before [`Decoder::next_handshake`](super::Decoder::next_handshake)
    /// returned the handshake. The decoder is left unchanged.
    HandshakePending,
    /// Caller error: [`Decoder::next_handshake`](super::Decoder::next_handshake)
    /// was called on a decoder that does not (or no longer) expect one. The
    /// decoder is left unchanged.
    HandshakeNotExpected,
}

impl WireError {
    /// True when the connection cannot go on: every error except
    /// [`UnknownMessage`](WireError::UnknownMessage), whose frame has already
    /// been skipped, and the two caller errors, which change nothing.
    ///
    /// A [`Decoder`](super::Decoder) that returned a fatal error returns it
    /// again from every later call.
    pub const fn is_fatal(&self) -> bool {
        !matches!(
            self,
            WireError::UnknownMessage { .. }
                | WireError::HandshakePending
                | WireError::HandshakeNotExpected
        )
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::FrameTooLong { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max}")
            }
            WireError::BadLength { id, len } => write!(
                f,
                "message {id} ({}) has invalid length {len}",
                super::message::id_name(*id)
            ),
            WireError::UnknownMessage { id } => write!(f, "unknown message id {id}"),
            WireError::BitfieldLength { got, expected } => {
                write!(f, "bitfield of {got} bytes, expected {expected}")
            }
            WireError::BitfieldSpareBits => f.write_str("bitfield has spare bits set"),
            WireError::PieceOutOfRange { piece, count } => {
                write!(f, "piece index {piece} out of range (torrent has {count})")
            }
            WireError::BadProtocolString => {
                f.write_str("handshake does not start with \"\\x13BitTorrent protocol\"")
            }
            WireError::HandshakeTooShort { got } => {
                write!(f, "handshake needs 68 bytes, got {got}")
            }
            WireError::HandshakePending => {
                f.write_str("next_message called before the handshake was taken")
            }
            WireError::HandshakeNotExpected => {
                f.write_str("next_handshake called on a decoder not expecting one")
            }
        }
    }
}

impl std::error::Error for WireError {}

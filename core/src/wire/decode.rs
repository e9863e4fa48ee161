//! Decoding frames: limits, length checks, and checks against the piece count.

use super::message::{
    BlockRequest, Message, ALLOWED_FAST, BITFIELD, CANCEL, CHOKE, EXTENDED, HAVE, HAVE_ALL,
    HAVE_NONE, INTERESTED, NOT_INTERESTED, PIECE, PORT, REJECT, REQUEST, SUGGEST, UNCHOKE,
};
use super::WireError;

/// Limits and torrent facts the decoder checks messages against.
///
/// ```
/// use sluice_core::wire::{decode_frame, DecoderConfig, WireError};
///
/// let cfg = DecoderConfig::default().with_piece_count(10);
/// assert_eq!(cfg.max_frame, DecoderConfig::DEFAULT_MAX_FRAME);
/// // 'have' piece 10 of a ten-piece torrent.
/// let err = decode_frame(&[0, 0, 0, 5, 4, 0, 0, 0, 10], &cfg).unwrap_err();
/// assert_eq!(err, WireError::PieceOutOfRange { piece: 10, count: 10 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecoderConfig {
    /// The longest frame accepted, counting the id byte and payload but not
    /// the 4-byte length prefix. A longer length prefix is
    /// [`WireError::FrameTooLong`] as soon as it is seen. The
    /// [`Decoder`](super::Decoder) never buffers more than `max_frame + 4`
    /// bytes (or [`Handshake::LEN`](super::Handshake::LEN), if larger).
    ///
    /// A bitfield takes `ceil(piece_count / 8) + 1` bytes, so a caller that
    /// sets a piece count must keep `max_frame` at least that large.
    pub max_frame: u32,
    /// Number of pieces in the torrent, once known (it is not before a magnet
    /// link's metadata has arrived). When set, bitfields must have exactly
    /// the right length with zero spare bits and piece indices must be in
    /// range; when `None` these are not checked.
    pub piece_count: Option<u32>,
}

impl DecoderConfig {
    /// The default [`max_frame`](DecoderConfig::max_frame): 1 MiB.
    ///
    /// The largest frames seen in practice are `piece` (16 KiB of data + 9),
    /// BEP 9 metadata pieces (16 KiB + a small dictionary) and bitfields; 1 MiB
    /// leaves room for 128 KiB blocks and for the bitfield of a torrent of
    /// over eight million pieces, while still bounding what one peer can make
    /// us buffer. The [`Decoder`](super::Decoder) allocates on demand, so a
    /// peer that only sends small frames never costs 1 MiB.
    pub const DEFAULT_MAX_FRAME: u32 = 1 << 20;

    /// This configuration with the piece count set.
    pub const fn with_piece_count(self, piece_count: u32) -> Self {
        DecoderConfig {
            piece_count: Some(piece_count),
            ..self
        }
    }
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_frame: Self::DEFAULT_MAX_FRAME,
            piece_count: None,
        }
    }
}

/// The length in bytes of a bitfield for `piece_count` pieces.
const fn bitfield_len(piece_count: u32) -> usize {
    // At most 2^29, which fits every usize Rust supports.
    piece_count.div_ceil(8) as usize
}

/// Checks a bitfield against the torrent's piece count: exactly
/// `ceil(piece_count / 8)` bytes, with the spare bits after the last piece
/// clear (BEP 3).
///
/// The decoder does this itself when it knows the piece count; this is for a
/// bitfield that arrived before the metadata did.
///
/// ```
/// use sluice_core::wire::{validate_bitfield, WireError};
///
/// assert_eq!(validate_bitfield(&[0xff, 0x80], 9), Ok(()));
/// assert_eq!(validate_bitfield(&[0xff, 0xc0], 9), Err(WireError::BitfieldSpareBits));
/// assert_eq!(
///     validate_bitfield(&[0xff], 9),
///     Err(WireError::BitfieldLength { got: 1, expected: 2 })
/// );
/// ```
pub fn validate_bitfield(bits: &[u8], piece_count: u32) -> Result<(), WireError> {
    let expected = bitfield_len(piece_count);
    if bits.len() != expected {
        return Err(WireError::BitfieldLength {
            got: bits.len(),
            expected,
        });
    }
    let used_in_last = piece_count % 8;
    match bits.last() {
        Some(&last) if used_in_last != 0 && last & (0xff >> used_in_last) != 0 => {
            Err(WireError::BitfieldSpareBits)
        }
        _ => Ok(()),
    }
}

/// The checks that need only the id and the length prefix, so that a frame
/// that can never be valid is refused before its body is buffered. `len`
/// counts the id byte and is at least 1. Unknown ids pass: they are reported
/// once the whole frame is there, so that it can be skipped.
fn check_header(id: u8, len: u32, cfg: &DecoderConfig) -> Result<(), WireError> {
    let payload = len.saturating_sub(1);
    let ok = match id {
        CHOKE | UNCHOKE | INTERESTED | NOT_INTERESTED | HAVE_ALL | HAVE_NONE => payload == 0,
        HAVE | SUGGEST | ALLOWED_FAST => payload == 4,
        REQUEST | CANCEL | REJECT => payload == 12,
        PIECE => payload >= 8,
        PORT => payload == 2,
        EXTENDED => payload >= 1,
        BITFIELD => {
            if let Some(count) = cfg.piece_count {
                let expected = bitfield_len(count);
                let got = usize::try_from(payload).unwrap_or(usize::MAX);
                if got != expected {
                    return Err(WireError::BitfieldLength { got, expected });
                }
            }
            true
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(WireError::BadLength { id, len })
    }
}

/// Decodes one frame body: the bytes after the 4-byte length prefix, exactly
/// as many as the prefix announced. An empty body is a keep-alive.
///
/// Errors for a body longer than `cfg.max_frame`, a length that does not fit
/// the message id, an unknown id ([`WireError::UnknownMessage`], which an
/// engine may choose to ignore), and — when `cfg.piece_count` is set — a
/// misshapen bitfield or a piece index out of range.
///
/// ```
/// use sluice_core::wire::{decode_message, DecoderConfig, Message};
///
/// let cfg = DecoderConfig::default();
/// assert_eq!(decode_message(&[], &cfg), Ok(Message::KeepAlive));
/// assert_eq!(decode_message(&[9, 0x1a, 0xe1], &cfg), Ok(Message::Port(6881)));
/// ```
pub fn decode_message<'a>(body: &'a [u8], cfg: &DecoderConfig) -> Result<Message<'a>, WireError> {
    let Some((&id, payload)) = body.split_first() else {
        return Ok(Message::KeepAlive);
    };
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    if len > cfg.max_frame {
        return Err(WireError::FrameTooLong {
            len,
            max: cfg.max_frame,
        });
    }
    check_header(id, len, cfg)?;
    let bad = || WireError::BadLength { id, len };
    let piece_only = |payload: &[u8]| -> Result<u32, WireError> {
        <[u8; 4]>::try_from(payload)
            .map(u32::from_be_bytes)
            .map_err(|_| bad())
    };
    let block = |payload: &[u8]| BlockRequest::from_bytes(payload).ok_or_else(bad);
    let msg = match id {
        CHOKE => Message::Choke,
        UNCHOKE => Message::Unchoke,
        INTERESTED => Message::Interested,
        NOT_INTERESTED => Message::NotInterested,
        HAVE_ALL => Message::HaveAll,
        HAVE_NONE => Message::HaveNone,
        HAVE => Message::Have {
            piece: piece_only(payload)?,
        },
        SUGGEST => Message::Suggest {
            piece: piece_only(payload)?,
        },
        ALLOWED_FAST => Message::AllowedFast {
            piece: piece_only(payload)?,
        },
        REQUEST => Message::Request(block(payload)?),
        CANCEL => Message::Cancel(block(payload)?),
        REJECT => Message::Reject(block(payload)?),
        BITFIELD => Message::Bitfield(payload),
        PIECE => {
            let (piece, rest) = payload.split_first_chunk::<4>().ok_or_else(bad)?;
            let (offset, data) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
            Message::Piece {
                piece: u32::from_be_bytes(*piece),
                offset: u32::from_be_bytes(*offset),
                data,
            }
        }
        PORT => Message::Port(
            <[u8; 2]>::try_from(payload)
                .map(u16::from_be_bytes)
                .map_err(|_| bad())?,
        ),
        EXTENDED => {
            let (&id, payload) = payload.split_first().ok_or_else(bad)?;
            Message::Extended { id, payload }
        }
        _ => return Err(WireError::UnknownMessage { id }),
    };
    if let Some(count) = cfg.piece_count {
        check_against_count(&msg, count)?;
    }
    Ok(msg)
}

fn check_against_count(msg: &Message<'_>, count: u32) -> Result<(), WireError> {
    let piece = match *msg {
        Message::Have { piece }
        | Message::Suggest { piece }
        | Message::AllowedFast { piece }
        | Message::Piece { piece, .. } => piece,
        Message::Request(req) | Message::Cancel(req) | Message::Reject(req) => req.piece,
        Message::Bitfield(bits) => return validate_bitfield(bits, count),
        _ => return Ok(()),
    };
    if piece < count {
        Ok(())
    } else {
        Err(WireError::PieceOutOfRange { piece, count })
    }
}

/// Looks at the start of `buf` for one frame. `Ok(None)`: more bytes are
/// needed; `Ok(Some(n))`: a complete frame of `n` bytes (prefix included) is
/// there. Refuses an oversized or impossible header as soon as it is seen.
pub(super) fn frame_extent(buf: &[u8], cfg: &DecoderConfig) -> Result<Option<usize>, WireError> {
    let Some((prefix, rest)) = buf.split_first_chunk::<4>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*prefix);
    if len > cfg.max_frame {
        return Err(WireError::FrameTooLong {
            len,
            max: cfg.max_frame,
        });
    }
    if let (Some(&id), true) = (rest.first(), len > 0) {
        check_header(id, len, cfg)?;
    }
    match usize::try_from(len) {
        // `len <= rest.len()`, so `4 + len <= buf.len()` cannot overflow.
        Ok(len) if len <= rest.len() => Ok(Some(4 + len)),
        Ok(_) => Ok(None),
        // Only on targets whose usize is narrower than 32 bits.
        Err(_) => Err(WireError::FrameTooLong {
            len,
            max: cfg.max_frame,
        }),
    }
}

/// Decodes the frame at the start of `buf`, if it is all there.
///
/// Returns the message and the number of bytes it took (4 + its length
/// prefix), or `Ok(None)` when more bytes are needed. A length prefix over
/// `cfg.max_frame`, or one that cannot fit its message id, is refused as soon
/// as it is seen, before the body arrives. Otherwise errors as
/// [`decode_message`]. After [`WireError::UnknownMessage`] the frame to skip
/// is 4 + the big-endian `u32` at the start of `buf` bytes long.
///
/// ```
/// use sluice_core::wire::{decode_frame, DecoderConfig, Message, WireError};
///
/// let cfg = DecoderConfig::default();
/// let stream = [0, 0, 0, 1, 1, 0, 0, 0, 5, 4, 0, 0];
/// assert_eq!(decode_frame(&stream, &cfg), Ok(Some((Message::Unchoke, 5))));
/// assert_eq!(decode_frame(&stream[5..], &cfg), Ok(None));
/// // Four bytes are enough to refuse a 16 MiB frame.
/// assert_eq!(
///     decode_frame(&[1, 0, 0, 0], &cfg),
///     Err(WireError::FrameTooLong { len: 1 << 24, max: cfg.max_frame })
/// );
/// ```
pub fn decode_frame<'a>(
    buf: &'a [u8],
    cfg: &DecoderConfig,
) -> Result<Option<(Message<'a>, usize)>, WireError> {
    let Some(total) = frame_extent(buf, cfg)? else {
        return Ok(None);
    };
    // `frame_extent` only returns a `total` with `4 <= total <= buf.len()`.
    let body = &buf[4..total];
    decode_message(body, cfg).map(|msg| Some((msg, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> DecoderConfig {
        DecoderConfig::default()
    }

    #[test]
    fn oversized_frame_refused_from_its_prefix() {
        let cfg = DecoderConfig {
            max_frame: 100,
            piece_count: None,
        };
        assert_eq!(decode_frame(&[0, 0, 0], &cfg), Ok(None));
        assert_eq!(
            decode_frame(&[0, 0, 0, 101], &cfg),
            Err(WireError::FrameTooLong { len: 101, max: 100 })
        );
        assert_eq!(
            decode_frame(&[0xff, 0xff, 0xff, 0xff], &cfg),
            Err(WireError::FrameTooLong {
                len: u32::MAX,
                max: 100
            })
        );
        // Exactly the limit is fine.
        assert_eq!(decode_frame(&[0, 0, 0, 100, 7], &cfg), Ok(None));
        assert_eq!(
            decode_message(&[7; 101], &cfg),
            Err(WireError::FrameTooLong { len: 101, max: 100 })
        );
    }

    #[test]
    fn wrong_fixed_lengths() {
        let fixed: &[(u8, u32)] = &[
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 1),
            (4, 5),
            (6, 13),
            (8, 13),
            (9, 3),
            (0x0d, 5),
            (0x0e, 1),
            (0x0f, 1),
            (0x10, 13),
            (0x11, 5),
        ];
        for &(id, good) in fixed {
            for len in [1u32, 2, 3, 4, 5, 6, 12, 13, 14, 100] {
                let mut frame = len.to_be_bytes().to_vec();
                frame.push(id);
                frame.resize(4 + len as usize, 0);
                let got = decode_frame(&frame, &cfg());
                if len == good {
                    assert!(matches!(got, Ok(Some(_))), "id {id} len {len}: {got:?}");
                } else {
                    let err = WireError::BadLength { id, len };
                    assert_eq!(got, Err(err.clone()), "id {id} len {len}");
                    // Refused from the header alone, before the body arrives.
                    assert_eq!(decode_frame(&frame[..5], &cfg()), Err(err.clone()));
                    assert_eq!(decode_message(&frame[4..], &cfg()), Err(err));
                }
            }
        }
    }

    #[test]
    fn variable_lengths_have_minimums() {
        // A piece needs its 8-byte header; an extended message its id byte.
        assert_eq!(
            decode_frame(&[0, 0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0], &cfg()),
            Err(WireError::BadLength { id: 7, len: 8 })
        );
        assert_eq!(
            decode_frame(&[0, 0, 0, 1, 7], &cfg()),
            Err(WireError::BadLength { id: 7, len: 1 })
        );
        assert_eq!(
            decode_frame(&[0, 0, 0, 1, 20], &cfg()),
            Err(WireError::BadLength { id: 20, len: 1 })
        );
    }

    #[test]
    fn unknown_ids() {
        for id in [10u8, 11, 12, 0x12, 19, 21, 255] {
            // Not refused from the header: the frame must arrive to be skipped.
            assert_eq!(decode_frame(&[0, 0, 0, 3, id, 1], &cfg()), Ok(None));
            assert_eq!(
                decode_frame(&[0, 0, 0, 3, id, 1, 2], &cfg()),
                Err(WireError::UnknownMessage { id })
            );
            assert!(!WireError::UnknownMessage { id }.is_fatal());
        }
    }

    #[test]
    fn bitfield_checked_against_piece_count() {
        let cfg = cfg().with_piece_count(12);
        assert_eq!(
            decode_frame(&[0, 0, 0, 3, 5, 0xff, 0xf0], &cfg),
            Ok(Some((Message::Bitfield(&[0xff, 0xf0]), 7)))
        );
        assert_eq!(
            decode_frame(&[0, 0, 0, 3, 5, 0xff, 0xf8], &cfg),
            Err(WireError::BitfieldSpareBits)
        );
        assert_eq!(
            decode_frame(&[0, 0, 0, 2, 5, 0xff], &cfg),
            Err(WireError::BitfieldLength {
                got: 1,
                expected: 2
            })
        );
        // A too-long bitfield is refused from its header.
        assert_eq!(
            decode_frame(&[0, 0, 0, 200, 5], &cfg),
            Err(WireError::BitfieldLength {
                got: 199,
                expected: 2
            })
        );
        // Without a piece count, any bitfield passes.
        assert_eq!(
            decode_frame(&[0, 0, 0, 3, 5, 0xff, 0xff], &DecoderConfig::default()),
            Ok(Some((Message::Bitfield(&[0xff, 0xff]), 7)))
        );
    }

    #[test]
    fn validate_bitfield_edges() {
        assert_eq!(validate_bitfield(&[], 0), Ok(()));
        assert_eq!(
            validate_bitfield(&[0], 0),
            Err(WireError::BitfieldLength {
                got: 1,
                expected: 0
            })
        );
        assert_eq!(validate_bitfield(&[0x80], 1), Ok(()));
        assert_eq!(
            validate_bitfield(&[0x40], 1),
            Err(WireError::BitfieldSpareBits)
        );
        assert_eq!(validate_bitfield(&[0xff], 8), Ok(()));
        assert_eq!(validate_bitfield(&[0xff, 0xfe], 15), Ok(()));
        assert_eq!(
            validate_bitfield(&[0xff, 0xff], 15),
            Err(WireError::BitfieldSpareBits)
        );
        assert_eq!(validate_bitfield(&[0xff, 0xff], 16), Ok(()));
        assert_eq!(
            validate_bitfield(&[], u32::MAX),
            Err(WireError::BitfieldLength {
                got: 0,
                expected: 1 << 29
            })
        );
    }

    #[test]
    fn piece_indices_checked_against_piece_count() {
        let cfg = cfg().with_piece_count(4);
        let req = |piece| BlockRequest {
            piece,
            offset: 0,
            length: 1,
        };
        let at = |piece: u32| -> [Message<'static>; 7] {
            [
                Message::Have { piece },
                Message::Suggest { piece },
                Message::AllowedFast { piece },
                Message::Request(req(piece)),
                Message::Cancel(req(piece)),
                Message::Reject(req(piece)),
                Message::Piece {
                    piece,
                    offset: 0,
                    data: b"d",
                },
            ]
        };
        for msg in at(3) {
            let mut frame = Vec::new();
            msg.encode(&mut frame);
            assert_eq!(decode_frame(&frame, &cfg), Ok(Some((msg, frame.len()))));
        }
        for piece in [4, 5, u32::MAX] {
            for msg in at(piece) {
                let mut frame = Vec::new();
                msg.encode(&mut frame);
                assert_eq!(
                    decode_frame(&frame, &cfg),
                    Err(WireError::PieceOutOfRange { piece, count: 4 }),
                    "{msg:?}"
                );
                assert!(matches!(
                    decode_frame(&frame, &DecoderConfig::default()),
                    Ok(Some(_))
                ));
            }
        }
    }

    #[test]
    fn keep_alive_does_not_look_at_the_next_frame() {
        // A keep-alive followed by the start of a bad frame decodes first.
        assert_eq!(
            decode_frame(&[0, 0, 0, 0, 0, 0, 0, 9], &cfg()),
            Ok(Some((Message::KeepAlive, 4)))
        );
    }

    #[test]
    fn error_display() {
        assert_eq!(
            WireError::FrameTooLong { len: 5, max: 4 }.to_string(),
            "frame of 5 bytes exceeds the limit of 4"
        );
        assert_eq!(
            WireError::PieceOutOfRange { piece: 9, count: 3 }.to_string(),
            "piece index 9 out of range (torrent has 3)"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(WireError::BitfieldSpareBits);
        assert_eq!(boxed.to_string(), "bitfield has spare bits set");
    }
}

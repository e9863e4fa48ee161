//! The three ut_metadata messages and their encoding.

use core::fmt;

use crate::bencode::{self, Limits, OwnedValue};

use super::{block_len, piece_count, BLOCK_SIZE, MAX_METADATA_SIZE};

/// `msg_type` of a request.
pub const MSG_REQUEST: i64 = 0;
/// `msg_type` of a data message.
pub const MSG_DATA: i64 = 1;
/// `msg_type` of a reject.
pub const MSG_REJECT: i64 = 2;

/// Bounds for the bencoded header. Real headers are three small integers
/// under short keys; some slack is left for keys a future revision may add.
const HEADER_LIMITS: Limits = Limits {
    max_depth: 4,
    max_string_len: 256,
    max_values: 64,
};

/// One ut_metadata message: the payload of an extended message sent under the
/// id the receiver announced for `ut_metadata`.
///
/// ```
/// use sluice_core::ext::metadata::Message;
///
/// let request = Message::Request { piece: 0 };
/// assert_eq!(request.to_bytes(), b"d8:msg_typei0e5:piecei0ee");
/// assert_eq!(Message::decode(b"d8:msg_typei0e5:piecei0ee"), Ok(request));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// `msg_type` 0: please send piece `piece` of the metadata.
    Request {
        /// Index of the 16 KiB block asked for.
        piece: u32,
    },
    /// `msg_type` 1: piece `piece`, whose bytes follow the dictionary.
    Data {
        /// Index of the block.
        piece: u32,
        /// Size of the whole metadata, in bytes.
        total_size: u32,
        /// The block: [`BLOCK_SIZE`] bytes, or what is left for the last one.
        data: &'a [u8],
    },
    /// `msg_type` 2: the sender does not have (or will not send) piece `piece`.
    Reject {
        /// Index of the block refused.
        piece: u32,
    },
}

/// Why a ut_metadata message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataError {
    /// The header is not bencode.
    Bencode(bencode::DecodeError),
    /// The header is bencode but not a dictionary.
    NotADictionary,
    /// A required key is absent.
    Missing(&'static str),
    /// A key holds something other than a non-negative integer that fits.
    BadValue(&'static str),
    /// A `msg_type` this implementation does not know. BEP 9 says such a
    /// message MUST be ignored: drop it and keep the connection.
    UnknownType(i64),
    /// `total_size` (or an announced `metadata_size`) is zero.
    ZeroSize,
    /// `total_size` is above [`MAX_METADATA_SIZE`].
    TooLarge(u64),
    /// A piece index at or past the number of pieces.
    PieceOutOfRange {
        /// The index given.
        piece: u32,
        /// How many pieces there are.
        pieces: u32,
    },
    /// A data block of the wrong length: every block is [`BLOCK_SIZE`] bytes
    /// except the last, which holds exactly what remains.
    WrongLength {
        /// The block index.
        piece: u32,
        /// The length it must have.
        expected: usize,
        /// The length it had.
        found: usize,
    },
    /// Bytes after the dictionary of a request or a reject.
    TrailingBytes,
    /// `total_size` differs from the size announced in the handshake.
    SizeMismatch {
        /// The size announced.
        expected: u32,
        /// The size in the message.
        found: u32,
    },
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MetadataError::*;
        match self {
            Bencode(e) => write!(f, "ut_metadata: {e}"),
            NotADictionary => f.write_str("ut_metadata: header is not a dictionary"),
            Missing(key) => write!(f, "ut_metadata: no '{key}'"),
            BadValue(key) => write!(f, "ut_metadata: '{key}' is not a valid integer"),
            UnknownType(t) => write!(f, "ut_metadata: unknown msg_type {t}"),
            ZeroSize => f.write_str("ut_metadata: metadata size is zero"),
            TooLarge(n) => write!(
                f,
                "ut_metadata: metadata of {n} bytes exceeds the limit of {MAX_METADATA_SIZE}"
            ),
            PieceOutOfRange { piece, pieces } => {
                write!(f, "ut_metadata: piece {piece} of only {pieces}")
            }
            WrongLength {
                piece,
                expected,
                found,
            } => write!(
                f,
                "ut_metadata: piece {piece} has {found} bytes instead of {expected}"
            ),
            TrailingBytes => f.write_str("ut_metadata: bytes after the dictionary"),
            SizeMismatch { expected, found } => write!(
                f,
                "ut_metadata: total_size {found} differs from the announced {expected}"
            ),
        }
    }
}

impl std::error::Error for MetadataError {}

/// Checks a metadata size announced in a handshake or a data message: not
/// zero, not above [`MAX_METADATA_SIZE`].
pub fn check_size(size: u64) -> Result<u32, MetadataError> {
    match size {
        0 => Err(MetadataError::ZeroSize),
        n if n > u64::from(MAX_METADATA_SIZE) => Err(MetadataError::TooLarge(n)),
        n => Ok(n as u32),
    }
}

impl<'a> Message<'a> {
    /// The piece index the message is about.
    pub fn piece(&self) -> u32 {
        match *self {
            Message::Request { piece } | Message::Reject { piece } => piece,
            Message::Data { piece, .. } => piece,
        }
    }

    /// Appends the encoding (canonical dictionary, then the block for data).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut dict = OwnedValue::dict();
        let (msg_type, piece) = match *self {
            Message::Request { piece } => (MSG_REQUEST, piece),
            Message::Data {
                piece, total_size, ..
            } => {
                dict.insert("total_size", OwnedValue::Integer(i64::from(total_size)));
                (MSG_DATA, piece)
            }
            Message::Reject { piece } => (MSG_REJECT, piece),
        };
        dict.insert("msg_type", OwnedValue::Integer(msg_type));
        dict.insert("piece", OwnedValue::Integer(i64::from(piece)));
        dict.encode(out);
        if let Message::Data { data, .. } = self {
            out.extend_from_slice(data);
        }
    }

    /// The encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes a message, checking everything that can be checked without
    /// knowing the metadata size: the header's shape, `total_size` within
    /// `1..=`[`MAX_METADATA_SIZE`], a data block's index below the piece count
    /// its `total_size` implies and its exact length, and a request's or
    /// reject's index below the most pieces metadata can have. Unknown keys in
    /// the header are ignored; bytes after the header of a request or reject are
    /// refused.
    pub fn decode(bytes: &'a [u8]) -> Result<Message<'a>, MetadataError> {
        let (root, used) =
            bencode::decode_prefix(bytes, HEADER_LIMITS).map_err(MetadataError::Bencode)?;
        let dict = root.as_dict().ok_or(MetadataError::NotADictionary)?;
        let int = |key: &'static str| -> Result<i64, MetadataError> {
            dict.get(key.as_bytes())
                .ok_or(MetadataError::Missing(key))?
                .as_int()
                .ok_or(MetadataError::BadValue(key))
        };
        let msg_type = int("msg_type")?;
        if !(MSG_REQUEST..=MSG_REJECT).contains(&msg_type) {
            return Err(MetadataError::UnknownType(msg_type));
        }
        let piece = u32::try_from(int("piece")?).map_err(|_| MetadataError::BadValue("piece"))?;
        let rest = &bytes[used..];
        if msg_type != MSG_DATA {
            let pieces = piece_count(MAX_METADATA_SIZE);
            if piece >= pieces {
                return Err(MetadataError::PieceOutOfRange { piece, pieces });
            }
            if !rest.is_empty() {
                return Err(MetadataError::TrailingBytes);
            }
            return Ok(if msg_type == MSG_REQUEST {
                Message::Request { piece }
            } else {
                Message::Reject { piece }
            });
        }
        let total_size = int("total_size")?;
        let total_size = u64::try_from(total_size)
            .map_err(|_| MetadataError::BadValue("total_size"))
            .and_then(check_size)?;
        let pieces = piece_count(total_size);
        if piece >= pieces {
            return Err(MetadataError::PieceOutOfRange { piece, pieces });
        }
        let expected = block_len(total_size, piece);
        if rest.len() != expected {
            return Err(MetadataError::WrongLength {
                piece,
                expected,
                found: rest.len(),
            });
        }
        Ok(Message::Data {
            piece,
            total_size,
            data: rest,
        })
    }

    /// Checks a decoded message against the `metadata_size` the peer (or the
    /// swarm) announced: the index must be below that size's piece count and a
    /// data message's `total_size` must equal it.
    pub fn check(&self, metadata_size: u32) -> Result<(), MetadataError> {
        if let Message::Data { total_size, .. } = *self {
            if total_size != metadata_size {
                return Err(MetadataError::SizeMismatch {
                    expected: metadata_size,
                    found: total_size,
                });
            }
        }
        let pieces = piece_count(metadata_size);
        let piece = self.piece();
        if piece >= pieces {
            return Err(MetadataError::PieceOutOfRange { piece, pieces });
        }
        Ok(())
    }
}

/// What to answer a request for `piece` with, given the verified metadata (the
/// exact bytes of the info dictionary) if we have it: the block, or a reject
/// when we have no metadata yet, the index is out of range, or the metadata is
/// too large to serve.
///
/// ```
/// use sluice_core::ext::metadata::{respond, Message};
///
/// let info = vec![7u8; 20_000];
/// let answer = respond(Some(&info), 1);
/// assert_eq!(answer, Message::Data { piece: 1, total_size: 20_000, data: &info[16_384..] });
/// assert_eq!(respond(None, 0), Message::Reject { piece: 0 });
/// ```
pub fn respond(metadata: Option<&[u8]>, piece: u32) -> Message<'_> {
    let Some(metadata) = metadata else {
        return Message::Reject { piece };
    };
    let Ok(total_size) = check_size(metadata.len() as u64) else {
        return Message::Reject { piece };
    };
    if piece >= piece_count(total_size) {
        return Message::Reject { piece };
    }
    let start = piece as usize * BLOCK_SIZE;
    let end = start + block_len(total_size, piece);
    Message::Data {
        piece,
        total_size,
        data: &metadata[start..end],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn request_matches_the_bep() {
        let bytes = b"d8:msg_typei0e5:piecei0ee";
        assert_eq!(Message::Request { piece: 0 }.to_bytes(), bytes);
        assert_eq!(Message::decode(bytes), Ok(Message::Request { piece: 0 }));
    }

    #[test]
    fn data_matches_the_bep() {
        // The BEP's example header, with a full first block of a 34256-byte info.
        let block = vec![b'x'; BLOCK_SIZE];
        let mut bytes = b"d8:msg_typei1e5:piecei0e10:total_sizei34256ee".to_vec();
        bytes.extend_from_slice(&block);
        let message = Message::Data {
            piece: 0,
            total_size: 34256,
            data: &block,
        };
        assert_eq!(message.to_bytes(), bytes);
        assert_eq!(Message::decode(&bytes), Ok(message));
        // The last block holds what remains: 34256 - 2 * 16384 = 1488 bytes.
        let mut last = b"d8:msg_typei1e5:piecei2e10:total_sizei34256ee".to_vec();
        last.extend_from_slice(&[b'y'; 1488]);
        assert!(matches!(
            Message::decode(&last),
            Ok(Message::Data { piece: 2, data, .. }) if data.len() == 1488
        ));
    }

    #[test]
    fn reject_uses_msg_type_2() {
        // The BEP's reject example says `msg_type 1`, a typo: reject is 2.
        let bytes = b"d8:msg_typei2e5:piecei0ee";
        assert_eq!(Message::Reject { piece: 0 }.to_bytes(), bytes);
        assert_eq!(Message::decode(bytes), Ok(Message::Reject { piece: 0 }));
    }

    #[test]
    fn unknown_keys_are_ignored_unknown_types_reported() {
        assert_eq!(
            Message::decode(b"d1:ai1e8:msg_typei0e5:piecei3e1:zli1eee"),
            Ok(Message::Request { piece: 3 })
        );
        assert_eq!(
            Message::decode(b"d8:msg_typei7e5:piecei0ee"),
            Err(MetadataError::UnknownType(7))
        );
        // An unknown type needs no piece.
        assert_eq!(
            Message::decode(b"d8:msg_typei-1ee"),
            Err(MetadataError::UnknownType(-1))
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        use MetadataError::*;
        let err = |b: &[u8]| Message::decode(b).unwrap_err();
        assert!(matches!(err(b"d8:msg_type"), Bencode(_)));
        assert_eq!(err(b"li0ee"), NotADictionary);
        assert_eq!(err(b"d5:piecei0ee"), Missing("msg_type"));
        assert_eq!(err(b"d8:msg_typei0ee"), Missing("piece"));
        assert_eq!(err(b"d8:msg_type1:05:piecei0ee"), BadValue("msg_type"));
        assert_eq!(err(b"d8:msg_typei0e5:piecei-1ee"), BadValue("piece"));
        assert_eq!(
            err(b"d8:msg_typei0e5:piecei4294967296ee"),
            BadValue("piece")
        );
        assert_eq!(err(b"d8:msg_typei0e5:piecei0eeX"), TrailingBytes);
        assert_eq!(
            err(b"d8:msg_typei2e5:piecei1024ee"),
            PieceOutOfRange {
                piece: 1024,
                pieces: 1024
            }
        );
        assert_eq!(err(b"d8:msg_typei1e5:piecei0ee"), Missing("total_size"));
        assert_eq!(
            err(b"d8:msg_typei1e5:piecei0e10:total_sizei-5ee"),
            BadValue("total_size")
        );
        assert_eq!(err(b"d8:msg_typei1e5:piecei0e10:total_sizei0ee"), ZeroSize);
        assert_eq!(
            err(b"d8:msg_typei1e5:piecei0e10:total_sizei16777217ee"),
            TooLarge(16_777_217)
        );
    }

    #[test]
    fn data_bounds() {
        use MetadataError::*;
        let data = |piece: u32, total: u32, len: usize| {
            let mut b =
                format!("d8:msg_typei1e5:piecei{piece}e10:total_sizei{total}ee").into_bytes();
            b.resize(b.len() + len, 0);
            Message::decode(&b).map(|m| m.piece())
        };
        assert_eq!(data(0, 5, 5), Ok(0));
        assert_eq!(
            data(1, 16_384, 0),
            Err(PieceOutOfRange {
                piece: 1,
                pieces: 1
            })
        );
        assert_eq!(
            data(0, 16_385, 16_383),
            Err(WrongLength {
                piece: 0,
                expected: 16_384,
                found: 16_383
            })
        );
        assert_eq!(
            data(1, 16_385, 2),
            Err(WrongLength {
                piece: 1,
                expected: 1,
                found: 2
            })
        );
        assert_eq!(data(1, 16_385, 1), Ok(1));
        assert_eq!(data(1023, MAX_METADATA_SIZE, BLOCK_SIZE), Ok(1023));
    }

    #[test]
    fn check_against_the_announced_size() {
        let block = [0u8; 10];
        let m = Message::Data {
            piece: 0,
            total_size: 10,
            data: &block,
        };
        assert_eq!(m.check(10), Ok(()));
        assert_eq!(
            m.check(11),
            Err(MetadataError::SizeMismatch {
                expected: 11,
                found: 10
            })
        );
        assert_eq!(Message::Request { piece: 1 }.check(16_385), Ok(()));
        assert_eq!(
            Message::Request { piece: 2 }.check(16_385),
            Err(MetadataError::PieceOutOfRange {
                piece: 2,
                pieces: 2
            })
        );
    }

    #[test]
    fn respond_serves_blocks_and_rejects_the_rest() {
        let info: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        for piece in 0..3 {
            let answer = respond(Some(&info), piece);
            let start = piece as usize * BLOCK_SIZE;
            let end = (start + BLOCK_SIZE).min(info.len());
            assert_eq!(
                answer,
                Message::Data {
                    piece,
                    total_size: 40_000,
                    data: &info[start..end]
                }
            );
            // What we send, a peer decodes.
            assert_eq!(Message::decode(&answer.to_bytes()), Ok(answer));
        }
        assert_eq!(respond(Some(&info), 3), Message::Reject { piece: 3 });
        assert_eq!(respond(Some(&[]), 0), Message::Reject { piece: 0 });
        assert_eq!(respond(None, 0), Message::Reject { piece: 0 });
    }

    fn arb_message() -> impl Strategy<Value = (u8, u32, u32)> {
        (0u8..3, 0u32..1024, 1u32..=MAX_METADATA_SIZE)
    }

    proptest! {
        #[test]
        fn round_trip((kind, piece, size) in arb_message()) {
            let piece_in_size = piece % piece_count(size);
            let block = vec![0xa5; block_len(size, piece_in_size)];
            let message = match kind {
                0 => Message::Request { piece },
                1 => Message::Data { piece: piece_in_size, total_size: size, data: &block },
                _ => Message::Reject { piece },
            };
            let bytes = message.to_bytes();
            prop_assert_eq!(Message::decode(&bytes), Ok(message));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(message) = Message::decode(&bytes) {
                // Canonical inputs re-encode to themselves; others at least decode equal.
                let again = message.to_bytes();
                prop_assert_eq!(Message::decode(&again), Ok(message));
            }
        }

        #[test]
        fn mutated_messages_never_panic(
            (kind, piece, size) in arb_message(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
            cut in any::<usize>(),
        ) {
            let size = size % 40_000 + 1;
            let piece = piece % piece_count(size);
            let block = vec![1; block_len(size, piece)];
            let message = match kind {
                0 => Message::Request { piece },
                1 => Message::Data { piece, total_size: size, data: &block },
                _ => Message::Reject { piece },
            };
            let mut bytes = message.to_bytes();
            for (at, b) in flips {
                let i = at % bytes.len();
                bytes[i] = b;
            }
            bytes.truncate(cut % (bytes.len() + 1));
            let _ = Message::decode(&bytes);
        }
    }
}

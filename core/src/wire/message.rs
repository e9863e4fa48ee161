//! Peer messages and their encoding: BEP 3, the Fast extension (BEP 6), `port`
//! (BEP 5) and the extension protocol envelope (BEP 10).

pub(super) const CHOKE: u8 = 0;
pub(super) const UNCHOKE: u8 = 1;
pub(super) const INTERESTED: u8 = 2;
pub(super) const NOT_INTERESTED: u8 = 3;
pub(super) const HAVE: u8 = 4;
pub(super) const BITFIELD: u8 = 5;
pub(super) const REQUEST: u8 = 6;
pub(super) const PIECE: u8 = 7;
pub(super) const CANCEL: u8 = 8;
pub(super) const PORT: u8 = 9;
pub(super) const SUGGEST: u8 = 0x0D;
pub(super) const HAVE_ALL: u8 = 0x0E;
pub(super) const HAVE_NONE: u8 = 0x0F;
pub(super) const REJECT: u8 = 0x10;
pub(super) const ALLOWED_FAST: u8 = 0x11;
pub(super) const EXTENDED: u8 = 20;

/// The name of a message id, for errors and logs; `"unknown"` for ids this
/// codec does not know.
pub(super) fn id_name(id: u8) -> &'static str {
    match id {
        CHOKE => "choke",
        UNCHOKE => "unchoke",
        INTERESTED => "interested",
        NOT_INTERESTED => "not interested",
        HAVE => "have",
        BITFIELD => "bitfield",
        REQUEST => "request",
        PIECE => "piece",
        CANCEL => "cancel",
        PORT => "port",
        SUGGEST => "suggest piece",
        HAVE_ALL => "have all",
        HAVE_NONE => "have none",
        REJECT => "reject request",
        ALLOWED_FAST => "allowed fast",
        EXTENDED => "extended",
        _ => "unknown",
    }
}

/// One block of a piece: the payload of `request`, `cancel` and `reject`.
///
/// The codec does not judge `length`: BEP 3 clients use 16 KiB blocks and
/// close connections that ask for more, but that policy (and refusing a zero
/// length) belongs to the engine.
///
/// ```
/// use sluice_core::wire::{BlockRequest, Message};
///
/// let req = BlockRequest { piece: 1, offset: 0x4000, length: 0x4000 };
/// let mut out = Vec::new();
/// Message::Request(req).encode(&mut out);
/// assert_eq!(out, [0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRequest {
    /// Piece index.
    pub piece: u32,
    /// Byte offset of the block inside the piece.
    pub offset: u32,
    /// Length of the block in bytes.
    pub length: u32,
}

impl BlockRequest {
    fn to_bytes(self) -> [u8; 12] {
        let mut out = [0u8; 12];
        let (piece, rest) = out.split_at_mut(4);
        piece.copy_from_slice(&self.piece.to_be_bytes());
        let (offset, length) = rest.split_at_mut(4);
        offset.copy_from_slice(&self.offset.to_be_bytes());
        length.copy_from_slice(&self.length.to_be_bytes());
        out
    }

    pub(super) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (piece, rest) = bytes.split_first_chunk::<4>()?;
        let (offset, rest) = rest.split_first_chunk::<4>()?;
        let length = <[u8; 4]>::try_from(rest).ok()?;
        Some(BlockRequest {
            piece: u32::from_be_bytes(*piece),
            offset: u32::from_be_bytes(*offset),
            length: u32::from_be_bytes(length),
        })
    }
}

/// One peer message, borrowing its variable-length payload from the bytes it
/// was decoded from (or from the caller, when encoding).
///
/// Decoding checks framing only: lengths, known ids and, when the piece count
/// is known, piece indices and bitfield shape. Whether a message is allowed
/// *now* — a Fast-extension message when the Fast bit was not negotiated, a
/// bitfield that is not the first message, a piece nobody asked for — is the
/// engine's decision.
///
/// ```
/// use sluice_core::wire::{decode_frame, DecoderConfig, Message};
///
/// let mut out = Vec::new();
/// let msg = Message::Piece { piece: 3, offset: 0, data: b"hello" };
/// msg.encode(&mut out);
/// assert_eq!(out.len(), msg.encoded_len());
/// assert_eq!(&out[..9], &[0, 0, 0, 14, 7, 0, 0, 0, 3]);
///
/// let (decoded, used) = decode_frame(&out, &DecoderConfig::default()).unwrap().unwrap();
/// assert_eq!((decoded, used), (msg, out.len()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message<'a> {
    /// A frame of length zero: no id, no payload.
    KeepAlive,
    /// `0`: the sender will not serve requests.
    Choke,
    /// `1`: the sender will serve requests.
    Unchoke,
    /// `2`: the sender wants something the receiver has.
    Interested,
    /// `3`: the sender wants nothing the receiver has.
    NotInterested,
    /// `4`: the sender has verified this piece.
    Have {
        /// Piece index.
        piece: u32,
    },
    /// `5`: the pieces the sender has, high bit of the first byte = piece 0.
    Bitfield(&'a [u8]),
    /// `6`: a request for one block.
    Request(BlockRequest),
    /// `7`: one block of data.
    Piece {
        /// Piece index.
        piece: u32,
        /// Byte offset of the block inside the piece.
        offset: u32,
        /// The block (may be empty as far as the codec is concerned).
        data: &'a [u8],
    },
    /// `8`: withdraws an earlier request.
    Cancel(BlockRequest),
    /// `9` (BEP 5): the UDP port of the sender's DHT node.
    Port(u16),
    /// `0x0D` (BEP 6): "you might like to download this piece".
    Suggest {
        /// Piece index.
        piece: u32,
    },
    /// `0x0E` (BEP 6): the sender has every piece.
    HaveAll,
    /// `0x0F` (BEP 6): the sender has no piece.
    HaveNone,
    /// `0x10` (BEP 6): the sender will not serve this request.
    Reject(BlockRequest),
    /// `0x11` (BEP 6): the sender will serve this piece even while choking.
    AllowedFast {
        /// Piece index.
        piece: u32,
    },
    /// `20` (BEP 10): an extension message; `id` 0 is the extension handshake,
    /// other ids are the ones the receiver announced in its handshake.
    Extended {
        /// Extended message id.
        id: u8,
        /// The extension's payload (usually bencoded).
        payload: &'a [u8],
    },
}

impl Message<'_> {
    /// The message id byte, or `None` for [`Message::KeepAlive`].
    pub const fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => CHOKE,
            Message::Unchoke => UNCHOKE,
            Message::Interested => INTERESTED,
            Message::NotInterested => NOT_INTERESTED,
            Message::Have { .. } => HAVE,
            Message::Bitfield(_) => BITFIELD,
            Message::Request(_) => REQUEST,
            Message::Piece { .. } => PIECE,
            Message::Cancel(_) => CANCEL,
            Message::Port(_) => PORT,
            Message::Suggest { .. } => SUGGEST,
            Message::HaveAll => HAVE_ALL,
            Message::HaveNone => HAVE_NONE,
            Message::Reject(_) => REJECT,
            Message::AllowedFast { .. } => ALLOWED_FAST,
            Message::Extended { .. } => EXTENDED,
        })
    }

    /// A short lowercase name for logs: `"keep-alive"`, `"choke"`, `"piece"`…
    pub fn name(&self) -> &'static str {
        match self.id() {
            None => "keep-alive",
            Some(id) => id_name(id),
        }
    }

    /// Length of the encoded frame in bytes, the 4-byte length prefix included.
    pub const fn encoded_len(&self) -> usize {
        4 + match self {
            Message::KeepAlive => 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 1,
            Message::Have { .. } | Message::Suggest { .. } | Message::AllowedFast { .. } => 5,
            Message::Port(_) => 3,
            Message::Request(_) | Message::Cancel(_) | Message::Reject(_) => 13,
            Message::Bitfield(bits) => 1 + bits.len(),
            Message::Piece { data, .. } => 9 + data.len(),
            Message::Extended { payload, .. } => 2 + payload.len(),
        }
    }

    /// Appends the length-prefixed frame to `out`, reserving the room once.
    /// Nothing else is allocated.
    ///
    /// # Panics
    ///
    /// If the frame body is longer than `u32::MAX` bytes, which no length
    /// prefix can express (a payload of 4 GiB is a caller bug, not peer input).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let len = self.encoded_len();
        let prefix = u32::try_from(len - 4)
            .expect("a frame body longer than u32::MAX bytes cannot be length-prefixed");
        out.reserve(len);
        out.extend_from_slice(&prefix.to_be_bytes());
        let Some(id) = self.id() else {
            return;
        };
        out.push(id);
        match *self {
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => {}
            Message::Have { piece }
            | Message::Suggest { piece }
            | Message::AllowedFast { piece } => out.extend_from_slice(&piece.to_be_bytes()),
            Message::Bitfield(bits) => out.extend_from_slice(bits),
            Message::Request(req) | Message::Cancel(req) | Message::Reject(req) => {
                out.extend_from_slice(&req.to_bytes())
            }
            Message::Piece {
                piece,
                offset,
                data,
            } => {
                out.extend_from_slice(&piece.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(data);
            }
            Message::Port(port) => out.extend_from_slice(&port.to_be_bytes()),
            Message::Extended { id, payload } => {
                out.push(id);
                out.extend_from_slice(payload);
            }
        }
    }

    /// The first 13 bytes of a `piece` frame carrying `data_len` bytes of
    /// data, so a sender can write the header and then read the block from
    /// storage straight into its send buffer. `None` if `data_len + 9` does not
    /// fit the length prefix.
    ///
    /// ```
    /// use sluice_core::wire::Message;
    ///
    /// let mut framed = Message::piece_header(2, 0x4000, 3).unwrap().to_vec();
    /// framed.extend_from_slice(b"abc");
    /// let mut expected = Vec::new();
    /// Message::Piece { piece: 2, offset: 0x4000, data: b"abc" }.encode(&mut expected);
    /// assert_eq!(framed, expected);
    /// ```
    pub fn piece_header(piece: u32, offset: u32, data_len: u32) -> Option<[u8; 13]> {
        let len = data_len.checked_add(9)?;
        let mut out = [0u8; 13];
        let (prefix, rest) = out.split_at_mut(4);
        prefix.copy_from_slice(&len.to_be_bytes());
        let (id, rest) = rest.split_at_mut(1);
        id.copy_from_slice(&[PIECE]);
        let (index, begin) = rest.split_at_mut(4);
        index.copy_from_slice(&piece.to_be_bytes());
        begin.copy_from_slice(&offset.to_be_bytes());
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode_frame, decode_message, DecoderConfig};

    fn cfg() -> DecoderConfig {
        DecoderConfig::default()
    }

    /// Encodes `msg`, checks the bytes against `expected` and that decoding
    /// `expected` gives `msg` back.
    fn vector(msg: Message<'_>, expected: &[u8]) {
        let mut out = vec![0xaa, 0xbb];
        msg.encode(&mut out);
        assert_eq!(&out[..2], &[0xaa, 0xbb], "encode appends");
        assert_eq!(&out[2..], expected, "{msg:?}");
        assert_eq!(msg.encoded_len(), expected.len(), "{msg:?}");
        assert_eq!(
            decode_frame(expected, &cfg()),
            Ok(Some((msg, expected.len()))),
            "{msg:?}"
        );
        assert_eq!(decode_message(&expected[4..], &cfg()), Ok(msg));
        // One byte short is never enough.
        assert_eq!(
            decode_frame(&expected[..expected.len() - 1], &cfg()),
            Ok(None)
        );
    }

    #[test]
    fn bep3_vectors() {
        vector(Message::KeepAlive, &[0, 0, 0, 0]);
        vector(Message::Choke, &[0, 0, 0, 1, 0]);
        vector(Message::Unchoke, &[0, 0, 0, 1, 1]);
        vector(Message::Interested, &[0, 0, 0, 1, 2]);
        vector(Message::NotInterested, &[0, 0, 0, 1, 3]);
        vector(
            Message::Have { piece: 0x0102_0304 },
            &[0, 0, 0, 5, 4, 1, 2, 3, 4],
        );
        vector(
            Message::Bitfield(&[0b1010_0000, 0xff]),
            &[0, 0, 0, 3, 5, 0b1010_0000, 0xff],
        );
        vector(Message::Bitfield(&[]), &[0, 0, 0, 1, 5]);
        let req = BlockRequest {
            piece: 7,
            offset: 0x4000,
            length: 0x4000,
        };
        vector(
            Message::Request(req),
            &[0, 0, 0, 13, 6, 0, 0, 0, 7, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
        );
        vector(
            Message::Piece {
                piece: 1,
                offset: 2,
                data: b"xyz",
            },
            &[0, 0, 0, 12, 7, 0, 0, 0, 1, 0, 0, 0, 2, b'x', b'y', b'z'],
        );
        vector(
            Message::Piece {
                piece: 1,
                offset: 2,
                data: b"",
            },
            &[0, 0, 0, 9, 7, 0, 0, 0, 1, 0, 0, 0, 2],
        );
        vector(
            Message::Cancel(req),
            &[0, 0, 0, 13, 8, 0, 0, 0, 7, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
        );
    }

    #[test]
    fn bep5_port_vector() {
        // 6881 = 0x1AE1, network byte order.
        vector(Message::Port(6881), &[0, 0, 0, 3, 9, 0x1a, 0xe1]);
    }

    #[test]
    fn bep6_vectors() {
        vector(Message::HaveAll, &[0, 0, 0, 1, 0x0e]);
        vector(Message::HaveNone, &[0, 0, 0, 1, 0x0f]);
        vector(
            Message::Suggest { piece: 0x11 },
            &[0, 0, 0, 5, 0x0d, 0, 0, 0, 0x11],
        );
        vector(
            Message::Reject(BlockRequest {
                piece: 1,
                offset: 0,
                length: 0x4000,
            }),
            &[0, 0, 0, 0x0d, 0x10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0],
        );
        // The first index of the BEP 6 example allowed-fast set.
        vector(
            Message::AllowedFast { piece: 1059 },
            &[0, 0, 0, 5, 0x11, 0, 0, 0x04, 0x23],
        );
    }

    #[test]
    fn bep10_vectors() {
        let payload =
            b"d1:md11:LT_metadatai1e6:\xc2\xb5T_PEXi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e";
        let mut expected = Vec::new();
        expected.extend_from_slice(&(payload.len() as u32 + 2).to_be_bytes());
        expected.extend_from_slice(&[20, 0]);
        expected.extend_from_slice(payload);
        vector(Message::Extended { id: 0, payload }, &expected);

        let disable = b"d11:LT_metadatai0ee";
        let mut expected = vec![0, 0, 0, 21, 20, 0];
        expected.extend_from_slice(disable);
        vector(
            Message::Extended {
                id: 0,
                payload: disable,
            },
            &expected,
        );
        vector(
            Message::Extended {
                id: 3,
                payload: b"",
            },
            &[0, 0, 0, 2, 20, 3],
        );
    }

    #[test]
    fn ids_and_names() {
        assert_eq!(Message::KeepAlive.id(), None);
        assert_eq!(Message::KeepAlive.name(), "keep-alive");
        assert_eq!(Message::AllowedFast { piece: 0 }.id(), Some(0x11));
        assert_eq!(Message::HaveAll.name(), "have all");
        assert_eq!(id_name(200), "unknown");
    }

    #[test]
    fn piece_header_matches_encode() {
        let data = [9u8; 100];
        let mut expected = Vec::new();
        Message::Piece {
            piece: 5,
            offset: 6,
            data: &data,
        }
        .encode(&mut expected);
        let header = Message::piece_header(5, 6, 100).unwrap();
        assert_eq!(&header[..], &expected[..13]);
        assert_eq!(
            Message::piece_header(0, 0, u32::MAX - 9).map(|h| h[..4].to_vec()),
            Some(vec![0xff; 4])
        );
        assert_eq!(Message::piece_header(0, 0, u32::MAX - 8), None);
    }
}

//! The 68-byte handshake that opens every connection (BEP 3) and the reserved
//! bits in it that announce extensions (BEP 5, 6, 10).

use super::WireError;
use crate::id::{InfoHash, PeerId};

/// The eight reserved handshake bytes: one bit per protocol extension.
///
/// An extension is in use on a connection only when both ends set its bit;
/// [`common`](Reserved::common) gives the bits both sides share.
///
/// | extension | bit | BEP |
/// |---|---|---|
/// | extension protocol | `reserved[5] & 0x10` | 10 |
/// | Fast extension | `reserved[7] & 0x04` | 6 |
/// | DHT (`port` message) | `reserved[7] & 0x01` | 5 |
///
/// ```
/// use sluice_core::wire::Reserved;
///
/// let ours = Reserved::sluice_default();
/// assert_eq!(ours.0, [0, 0, 0, 0, 0, 0x10, 0, 0x05]);
/// let theirs = Reserved::NONE.with_fast(true);
/// let both = ours.common(theirs);
/// assert!(both.supports_fast());
/// assert!(!both.supports_extensions() && !both.supports_dht());
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reserved(pub [u8; 8]);

const EXTENSIONS: (usize, u8) = (5, 0x10);
const FAST: (usize, u8) = (7, 0x04);
const DHT: (usize, u8) = (7, 0x01);

impl Reserved {
    /// All bits clear: a plain BEP 3 peer.
    pub const NONE: Reserved = Reserved([0; 8]);

    /// What sluice announces: Fast extension, extension protocol and DHT.
    pub const fn sluice_default() -> Self {
        Self::NONE
            .with_fast(true)
            .with_extensions(true)
            .with_dht(true)
    }

    /// The Fast extension bit (BEP 6).
    pub const fn supports_fast(&self) -> bool {
        self.bit(FAST)
    }

    /// The extension protocol bit (BEP 10).
    pub const fn supports_extensions(&self) -> bool {
        self.bit(EXTENSIONS)
    }

    /// The DHT bit (BEP 5): the peer may send a `port` message.
    pub const fn supports_dht(&self) -> bool {
        self.bit(DHT)
    }

    /// A copy with the Fast extension bit set or cleared.
    pub const fn with_fast(self, on: bool) -> Self {
        self.with_bit(FAST, on)
    }

    /// A copy with the extension protocol bit set or cleared.
    pub const fn with_extensions(self, on: bool) -> Self {
        self.with_bit(EXTENSIONS, on)
    }

    /// A copy with the DHT bit set or cleared.
    pub const fn with_dht(self, on: bool) -> Self {
        self.with_bit(DHT, on)
    }

    /// Sets or clears the Fast extension bit.
    pub fn set_fast(&mut self, on: bool) {
        *self = self.with_fast(on);
    }

    /// Sets or clears the extension protocol bit.
    pub fn set_extensions(&mut self, on: bool) {
        *self = self.with_extensions(on);
    }

    /// Sets or clears the DHT bit.
    pub fn set_dht(&mut self, on: bool) {
        *self = self.with_dht(on);
    }

    /// The bits set on both sides: what a connection may actually use.
    pub const fn common(self, other: Reserved) -> Self {
        let mut out = [0u8; 8];
        let mut i = 0;
        while i < 8 {
            out[i] = self.0[i] & other.0[i];
            i += 1;
        }
        Reserved(out)
    }

    const fn bit(&self, (byte, mask): (usize, u8)) -> bool {
        self.0[byte] & mask != 0
    }

    const fn with_bit(mut self, (byte, mask): (usize, u8), on: bool) -> Self {
        if on {
            self.0[byte] |= mask;
        } else {
            self.0[byte] &= !mask;
        }
        self
    }
}

/// The handshake: protocol string, reserved bits, info-hash and peer id.
///
/// On the wire it is `19`, `BitTorrent protocol`, 8 reserved bytes, the
/// 20-byte info-hash and the 20-byte peer id: [`Handshake::LEN`] bytes, with
/// no length prefix. Comparing the info-hash and peer id with what was
/// expected is the caller's job.
///
/// ```
/// use sluice_core::wire::{Handshake, Reserved};
/// use sluice_core::{InfoHash, PeerId};
///
/// let hs = Handshake {
///     reserved: Reserved::sluice_default(),
///     info_hash: InfoHash([0xaa; 20]),
///     peer_id: PeerId(*b"-SL0100-123456789012"),
/// };
/// let mut out = Vec::new();
/// hs.encode(&mut out);
/// assert_eq!(out.len(), Handshake::LEN);
/// assert_eq!(&out[..20], b"\x13BitTorrent protocol");
/// assert_eq!(Handshake::decode(&out), Ok(hs));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handshake {
    /// Extension bits.
    pub reserved: Reserved,
    /// The torrent this connection is about.
    pub info_hash: InfoHash,
    /// The sender's peer id.
    pub peer_id: PeerId,
}

impl Handshake {
    /// Length of an encoded handshake in bytes.
    pub const LEN: usize = 68;

    /// The first 20 bytes of every handshake: the length byte 19 and the
    /// protocol name.
    pub const PREFIX: &'static [u8; 20] = b"\x13BitTorrent protocol";

    /// The handshake as its 68 wire bytes.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        let (prefix, rest) = out.split_at_mut(20);
        prefix.copy_from_slice(Self::PREFIX);
        let (reserved, rest) = rest.split_at_mut(8);
        reserved.copy_from_slice(&self.reserved.0);
        let (info_hash, peer_id) = rest.split_at_mut(20);
        info_hash.copy_from_slice(&self.info_hash.0);
        peer_id.copy_from_slice(&self.peer_id.0);
        out
    }

    /// Appends the 68 wire bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// Decodes the handshake at the start of `bytes`, which must hold at least
    /// [`Handshake::LEN`] bytes; anything after them is ignored.
    ///
    /// Errors: [`WireError::HandshakeTooShort`] for fewer than 68 bytes,
    /// [`WireError::BadProtocolString`] if the first 20 are not
    /// [`Handshake::PREFIX`].
    pub fn decode(bytes: &[u8]) -> Result<Handshake, WireError> {
        check_prefix(bytes)?;
        let short = WireError::HandshakeTooShort { got: bytes.len() };
        let (_, rest) = bytes.split_first_chunk::<20>().ok_or(short.clone())?;
        let (reserved, rest) = rest.split_first_chunk::<8>().ok_or(short.clone())?;
        let (info_hash, rest) = rest.split_first_chunk::<20>().ok_or(short.clone())?;
        let (peer_id, _) = rest.split_first_chunk::<20>().ok_or(short)?;
        Ok(Handshake {
            reserved: Reserved(*reserved),
            info_hash: InfoHash(*info_hash),
            peer_id: PeerId(*peer_id),
        })
    }
}

/// Checks that however much of the handshake has arrived agrees with
/// [`Handshake::PREFIX`], so that a stream that is not BitTorrent is refused
/// from its first wrong byte.
pub(super) fn check_prefix(bytes: &[u8]) -> Result<(), WireError> {
    let seen = bytes.len().min(Handshake::PREFIX.len());
    if bytes.get(..seen) == Handshake::PREFIX.get(..seen) {
        Ok(())
    } else {
        Err(WireError::BadProtocolString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handshake {
        Handshake {
            reserved: Reserved::sluice_default(),
            info_hash: InfoHash(core::array::from_fn(|i| i as u8)),
            peer_id: PeerId(*b"-SL0100-abcdefghijkl"),
        }
    }

    #[test]
    fn reserved_bits_match_the_beps() {
        assert_eq!(
            Reserved::NONE.with_extensions(true).0,
            [0, 0, 0, 0, 0, 0x10, 0, 0]
        );
        assert_eq!(
            Reserved::NONE.with_fast(true).0,
            [0, 0, 0, 0, 0, 0, 0, 0x04]
        );
        assert_eq!(Reserved::NONE.with_dht(true).0, [0, 0, 0, 0, 0, 0, 0, 0x01]);
        let d = Reserved::sluice_default();
        assert!(d.supports_fast() && d.supports_extensions() && d.supports_dht());
        assert!(!Reserved::NONE.supports_fast());
        assert!(!Reserved::NONE.supports_extensions());
        assert!(!Reserved::NONE.supports_dht());
    }

    #[test]
    fn reserved_setters_leave_other_bits_alone() {
        let mut r = Reserved([0xff; 8]);
        r.set_fast(false);
        assert_eq!(r.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb]);
        r.set_dht(false);
        r.set_extensions(false);
        assert_eq!(r.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xef, 0xff, 0xfa]);
        assert!(!r.supports_fast() && !r.supports_dht() && !r.supports_extensions());
        r.set_fast(true);
        r.set_dht(true);
        r.set_extensions(true);
        assert_eq!(r, Reserved([0xff; 8]));
    }

    #[test]
    fn common_is_bitwise_and() {
        let a = Reserved([0x0f, 0, 0, 0, 0, 0x10, 0, 0x05]);
        let b = Reserved([0xff, 0, 0, 0, 0, 0x00, 0, 0x04]);
        assert_eq!(a.common(b), Reserved([0x0f, 0, 0, 0, 0, 0, 0, 0x04]));
    }

    #[test]
    fn handshake_exact_bytes() {
        let hs = sample();
        let mut expected = Vec::new();
        expected.push(19u8);
        expected.extend_from_slice(b"BitTorrent protocol");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
        expected.extend(0u8..20);
        expected.extend_from_slice(b"-SL0100-abcdefghijkl");
        assert_eq!(expected.len(), Handshake::LEN);

        let mut out = vec![0xee];
        hs.encode(&mut out);
        assert_eq!(out[0], 0xee, "encode appends");
        assert_eq!(&out[1..], &expected[..]);
        assert_eq!(hs.to_bytes().as_slice(), &expected[..]);
        assert_eq!(Handshake::decode(&expected), Ok(hs));
    }

    #[test]
    fn handshake_decode_ignores_trailing_bytes() {
        let mut bytes = sample().to_bytes().to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 1, 1]);
        assert_eq!(Handshake::decode(&bytes), Ok(sample()));
    }

    #[test]
    fn handshake_too_short() {
        let bytes = sample().to_bytes();
        for n in 20..Handshake::LEN {
            assert_eq!(
                Handshake::decode(&bytes[..n]),
                Err(WireError::HandshakeTooShort { got: n })
            );
        }
        assert_eq!(
            Handshake::decode(b"\x13BitTor"),
            Err(WireError::HandshakeTooShort { got: 7 })
        );
    }

    #[test]
    fn handshake_bad_protocol_string() {
        let good = sample().to_bytes();
        for i in 0..20 {
            let mut bad = good;
            bad[i] ^= 0x20;
            assert_eq!(Handshake::decode(&bad), Err(WireError::BadProtocolString));
            assert_eq!(check_prefix(&bad[..=i]), Err(WireError::BadProtocolString));
            assert_eq!(check_prefix(&bad[..i]), Ok(()));
        }
        // An encrypted (BEP 8 / MSE) stream starts with random bytes.
        assert_eq!(
            Handshake::decode(&[0x9c; 96]),
            Err(WireError::BadProtocolString)
        );
        assert_eq!(check_prefix(&[]), Ok(()));
    }
}

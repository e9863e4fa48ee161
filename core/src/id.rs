//! Twenty-byte identifiers: the info-hash of a torrent and the id of a peer.
//!
//! They are distinct types so that a peer id can never be passed where an
//! info-hash is expected; both print as lowercase hex.

use core::fmt;

/// The SHA-1 of a torrent's bencoded `info` dictionary (BitTorrent v1).
///
/// ```
/// use sluice_core::InfoHash;
/// let h = InfoHash::from_hex("c12fe1c06bba254a9dc9f519b335aa7c1367a88a").unwrap();
/// assert_eq!(h.to_hex(), "c12fe1c06bba254a9dc9f519b335aa7c1367a88a");
/// assert_eq!(InfoHash::from_base32(&h.to_base32()), Some(h));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InfoHash(pub [u8; 20]);

/// The 20-byte id a peer announces in its handshake.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub [u8; 20]);

impl InfoHash {
    /// SHA-1 of `bytes`: the info-hash of an `info` dictionary given its exact bytes.
    pub fn of(bytes: &[u8]) -> Self {
        InfoHash(sha1_smol::Sha1::from(bytes).digest().bytes())
    }

    /// Parses 40 hex digits (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        decode_hex20(text).map(InfoHash)
    }

    /// Lowercase hex, 40 characters.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }

    /// Parses 32 characters of RFC 4648 base32 (either case, no padding), the
    /// other spelling of a btih in magnet links.
    pub fn from_base32(text: &str) -> Option<Self> {
        decode_base32_20(text).map(InfoHash)
    }

    /// Uppercase RFC 4648 base32, 32 characters.
    pub fn to_base32(&self) -> String {
        encode_base32(&self.0)
    }
}

impl PeerId {
    /// Lowercase hex, 40 characters.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.to_hex())
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Peer ids usually start with a printable client tag such as `-SL0100-`.
        write!(f, "PeerId(")?;
        for &b in &self.0 {
            if b.is_ascii_graphic() {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        write!(f, ")")
    }
}

/// Lowercase hex of any byte string.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

fn decode_hex20(text: &str) -> Option<[u8; 20]> {
    let bytes = text.as_bytes();
    if bytes.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn encode_base32(bytes: &[u8; 20]) -> String {
    // 160 bits is exactly 32 groups of 5 bits, so no padding is ever needed.
    let mut out = String::with_capacity(32);
    let mut acc: u64 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | b as u64;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
    }
    out
}

fn decode_base32_20(text: &str) -> Option<[u8; 20]> {
    let bytes = text.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 20];
    let mut acc: u64 = 0;
    let mut bits = 0;
    let mut n = 0;
    for &c in bytes {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | v as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[n] = (acc >> bits) as u8;
            n += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_case() {
        let h = InfoHash::from_hex("C12FE1C06BBA254A9DC9F519B335AA7C1367A88A").unwrap();
        assert_eq!(h.to_hex(), "c12fe1c06bba254a9dc9f519b335aa7c1367a88a");
        assert!(InfoHash::from_hex("c12f").is_none());
        assert!(InfoHash::from_hex("g12fe1c06bba254a9dc9f519b335aa7c1367a88a").is_none());
    }

    #[test]
    fn base32_known_value() {
        // 20 zero bytes followed by a 0xff tail check: known encodings.
        assert_eq!(InfoHash([0; 20]).to_base32(), "A".repeat(32));
        let h = InfoHash::from_hex("c12fe1c06bba254a9dc9f519b335aa7c1367a88a").unwrap();
        assert_eq!(h.to_base32(), "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK");
        assert_eq!(
            InfoHash::from_base32("yex6dqdlxisuvhoj6um3gnnkpqjwpkek"),
            Some(h)
        );
        assert!(InfoHash::from_base32("YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1").is_none());
    }

    #[test]
    fn info_hash_of_bytes_is_sha1() {
        // SHA-1("abc")
        assert_eq!(
            InfoHash::of(b"abc").to_hex(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}

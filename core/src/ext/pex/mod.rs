//! `ut_pex` (BEP 11): peer exchange.
//!
//! Three pieces, one per concern:
//!
//! * the codec, here: [`PexMessage`] reads and writes the bencoded payload of
//!   a `ut_pex` extension message;
//! * [`PexState`], the sending side of one connection: it diffs the set of
//!   peers we are connected to against what this peer has already been told,
//!   and hands out at most one message a minute;
//! * [`PexGuard`], the receiving side of one connection: it tells the engine to
//!   ignore or penalize a peer that sends PEX too often or floods it.
//!
//! **Private torrents** (BEP 27) must never use PEX. The engine should not even
//! advertise `ut_pex` for them; as a second line of defence a [`PexState`] or
//! [`PexGuard`] constructed with `private = true` never produces a message and
//! never accepts one.
//!
//! # Decoding rules
//!
//! Payloads are untrusted. Decoding is strict about what would be ambiguous
//! and tolerant about what is merely sloppy:
//!
//! * a payload larger than [`MAX_PEX_LEN`], not bencode, or not a dictionary is
//!   an error; so is a compact field (`added`, `added6`, `dropped`,
//!   `dropped6`) that is not a byte string or whose length is not a multiple of
//!   its entry size (6 bytes for IPv4, 18 for IPv6);
//! * a flag field (`added.f`, `added6.f`) that is missing or of the wrong type
//!   counts as all zeros; one shorter than its peer list is padded with zeros,
//!   a longer one is cut;
//! * only the first [`MAX_DECODED_ENTRIES`] entries of each of the four compact
//!   fields are read; the rest are ignored (BEP 11 allows 50 added and 50
//!   dropped per message after the first; the slack is for initial messages).
//!   [`WireCounts`] reports how many entries were announced, for [`PexGuard`];
//! * entries with port 0, or an unspecified, multicast or broadcast address,
//!   are dropped (see [`is_valid_peer_addr`]), as are repeats of an address
//!   already read, and `dropped` entries that also appear as added (BEP 11 says
//!   a message must not do both; the add wins);
//! * unknown keys are ignored, and so are bytes after the dictionary.
//!
//! Decoded messages list IPv4 entries first, then IPv6 ones, each in wire
//! order. Encoding writes canonical bencode (sorted keys), puts `SocketAddr::V4`
//! entries in `added`/`dropped` and `SocketAddr::V6` ones in
//! `added6`/`dropped6`, always writes a flag field next to a non-empty added
//! field, and omits empty fields.
//!
//! ```
//! use sluice_core::ext::pex::{PexFlags, PexMessage, PexPeer};
//!
//! let msg = PexMessage {
//!     added: vec![PexPeer {
//!         addr: "1.2.3.4:6881".parse().unwrap(),
//!         flags: PexFlags::SEED | PexFlags::REACHABLE,
//!     }],
//!     dropped: vec!["5.6.7.8:80".parse().unwrap()],
//! };
//! let bytes = msg.encode();
//! assert_eq!(
//!     bytes,
//!     b"d5:added6:\x01\x02\x03\x04\x1a\xe17:added.f1:\x127:dropped6:\x05\x06\x07\x08\x00\x50e"
//! );
//! assert_eq!(PexMessage::decode(&bytes).unwrap(), msg);
//! ```

mod guard;
mod state;

pub use guard::{PexGuard, PexVerdict, MAX_STRIKES, MIN_RECEIVE_INTERVAL, RECEIVE_FLOOD_ENTRIES};
pub use state::{PexState, MAX_ADDED_PER_MESSAGE, MAX_DROPPED_PER_MESSAGE, PEX_INTERVAL};

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use core::ops::BitOr;
use std::collections::BTreeSet;

use crate::bencode::{self, Dict, Limits, OwnedValue};

/// The extension name under which `ut_pex` is negotiated in the handshake.
pub const EXTENSION_NAME: &str = "ut_pex";
/// Largest payload accepted, in bytes.
pub const MAX_PEX_LEN: usize = 64 * 1024;
/// Most entries read from each compact field of one message; the rest are
/// ignored.
pub const MAX_DECODED_ENTRIES: usize = 200;

/// Bytes per IPv4 compact entry (address, port).
const V4_ENTRY: usize = 6;
/// Bytes per IPv6 compact entry (address, port).
const V6_ENTRY: usize = 18;

/// The flag byte BEP 11 attaches to each added peer.
///
/// Unknown (reserved) bits are kept as received, so re-encoding is lossless.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PexFlags(pub u8);

impl PexFlags {
    /// No flags.
    pub const NONE: PexFlags = PexFlags(0);
    /// 0x01: prefers encryption (the `e` field of its extension handshake).
    pub const PREFERS_ENCRYPTION: PexFlags = PexFlags(0x01);
    /// 0x02: a seed, or upload-only.
    pub const SEED: PexFlags = PexFlags(0x02);
    /// 0x04: supports uTP.
    pub const UTP: PexFlags = PexFlags(0x04);
    /// 0x08: advertised `ut_holepunch` in its extension handshake.
    pub const HOLEPUNCH: PexFlags = PexFlags(0x08);
    /// 0x10: we connected out to it, so it is reachable.
    pub const REACHABLE: PexFlags = PexFlags(0x10);

    /// The raw byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True when every bit of `other` is set here.
    pub const fn contains(self, other: PexFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for PexFlags {
    type Output = PexFlags;
    fn bitor(self, rhs: PexFlags) -> PexFlags {
        PexFlags(self.0 | rhs.0)
    }
}

/// One added contact: where to reach it and what the sender says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PexPeer {
    /// Its listen address.
    pub addr: SocketAddr,
    /// Its flags.
    pub flags: PexFlags,
}

/// The payload of one `ut_pex` message, both address families together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PexMessage {
    /// Peers the sender has connected to since its last message.
    pub added: Vec<PexPeer>,
    /// Peers the sender has disconnected from since its last message.
    pub dropped: Vec<SocketAddr>,
}

/// How many entries a payload announced, before any was ignored or filtered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireCounts {
    /// Entries in `added` and `added6` together.
    pub added: usize,
    /// Entries in `dropped` and `dropped6` together.
    pub dropped: usize,
}

/// Why a `ut_pex` payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PexError {
    /// Larger than [`MAX_PEX_LEN`].
    TooLarge(usize),
    /// Not bencode.
    Bencode(bencode::DecodeError),
    /// Bencode, but not a dictionary at the top.
    NotADictionary,
    /// A compact field that is not a byte string.
    NotAString(&'static str),
    /// A compact field whose length is not a multiple of its entry size.
    BadLength {
        /// The field.
        key: &'static str,
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for PexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PexError::TooLarge(n) => write!(f, "ut_pex message of {n} bytes is too large"),
            PexError::Bencode(e) => write!(f, "ut_pex: {e}"),
            PexError::NotADictionary => f.write_str("ut_pex message is not a dictionary"),
            PexError::NotAString(key) => write!(f, "ut_pex field {key} is not a byte string"),
            PexError::BadLength { key, len } => {
                write!(
                    f,
                    "ut_pex field {key} has {len} bytes, not a whole number of entries"
                )
            }
        }
    }
}

impl std::error::Error for PexError {}

/// True when `addr` could be a peer: a non-zero port and an address that is
/// neither unspecified nor multicast (nor, for IPv4, broadcast).
pub fn is_valid_peer_addr(addr: &SocketAddr) -> bool {
    if addr.port() == 0 {
        return false;
    }
    match addr {
        SocketAddr::V4(a) => {
            let ip = a.ip();
            !(ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast())
        }
        SocketAddr::V6(a) => {
            let ip = a.ip();
            !(ip.is_unspecified() || ip.is_multicast())
        }
    }
}

impl PexMessage {
    /// True when the message adds and drops nothing (BEP 11 says not to send
    /// such a message).
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.dropped.is_empty()
    }

    /// The bencoded payload. Entries are written as given, in order; the
    /// caller keeps them unique and valid (as [`PexState`] does).
    pub fn encode(&self) -> Vec<u8> {
        let mut root = OwnedValue::dict();
        let (mut a4, mut f4, mut a6, mut f6) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for peer in &self.added {
            match peer.addr {
                SocketAddr::V4(a) => {
                    put_v4(&a, &mut a4);
                    f4.push(peer.flags.0);
                }
                SocketAddr::V6(a) => {
                    put_v6(&a, &mut a6);
                    f6.push(peer.flags.0);
                }
            }
        }
        let (mut d4, mut d6) = (Vec::new(), Vec::new());
        for addr in &self.dropped {
            match addr {
                SocketAddr::V4(a) => put_v4(a, &mut d4),
                SocketAddr::V6(a) => put_v6(a, &mut d6),
            }
        }
        if !a4.is_empty() {
            root.insert("added", OwnedValue::Bytes(a4));
            root.insert("added.f", OwnedValue::Bytes(f4));
        }
        if !a6.is_empty() {
            root.insert("added6", OwnedValue::Bytes(a6));
            root.insert("added6.f", OwnedValue::Bytes(f6));
        }
        if !d4.is_empty() {
            root.insert("dropped", OwnedValue::Bytes(d4));
        }
        if !d6.is_empty() {
            root.insert("dropped6", OwnedValue::Bytes(d6));
        }
        root.to_bytes()
    }

    /// Reads a payload by the rules in the [module docs](self).
    pub fn decode(bytes: &[u8]) -> Result<PexMessage, PexError> {
        PexMessage::decode_counted(bytes).map(|(message, _)| message)
    }

    /// Like [`decode`](Self::decode), and also says how many entries the
    /// payload announced, which [`PexGuard::on_message`] judges.
    pub fn decode_counted(bytes: &[u8]) -> Result<(PexMessage, WireCounts), PexError> {
        if bytes.len() > MAX_PEX_LEN {
            return Err(PexError::TooLarge(bytes.len()));
        }
        let limits = Limits {
            max_depth: 16,
            max_string_len: MAX_PEX_LEN,
            max_values: 4096,
        };
        let (root, _) = bencode::decode_prefix(bytes, limits).map_err(PexError::Bencode)?;
        let dict = root.as_dict().ok_or(PexError::NotADictionary)?;
        let a4 = compact(dict, "added", V4_ENTRY)?;
        let a6 = compact(dict, "added6", V6_ENTRY)?;
        let d4 = compact(dict, "dropped", V4_ENTRY)?;
        let d6 = compact(dict, "dropped6", V6_ENTRY)?;
        let f4 = flags(dict, b"added.f");
        let f6 = flags(dict, b"added6.f");
        let counts = WireCounts {
            added: a4.len() / V4_ENTRY + a6.len() / V6_ENTRY,
            dropped: d4.len() / V4_ENTRY + d6.len() / V6_ENTRY,
        };

        let mut message = PexMessage::default();
        let mut added = BTreeSet::new();
        for (entries, flags, size) in [(a4, f4, V4_ENTRY), (a6, f6, V6_ENTRY)] {
            let chunks = entries.chunks_exact(size).take(MAX_DECODED_ENTRIES);
            for (i, chunk) in chunks.enumerate() {
                let addr = parse_entry(chunk);
                let flags = PexFlags(flags.get(i).copied().unwrap_or(0));
                if is_valid_peer_addr(&addr) && added.insert(addr) {
                    message.added.push(PexPeer { addr, flags });
                }
            }
        }
        let mut dropped = BTreeSet::new();
        for (entries, size) in [(d4, V4_ENTRY), (d6, V6_ENTRY)] {
            for chunk in entries.chunks_exact(size).take(MAX_DECODED_ENTRIES) {
                let addr = parse_entry(chunk);
                if is_valid_peer_addr(&addr) && !added.contains(&addr) && dropped.insert(addr) {
                    message.dropped.push(addr);
                }
            }
        }
        Ok((message, counts))
    }
}

/// The compact field `key`: empty when absent, an error when malformed.
fn compact<'a>(dict: &Dict<'a>, key: &'static str, size: usize) -> Result<&'a [u8], PexError> {
    let Some(node) = dict.get(key.as_bytes()) else {
        return Ok(&[]);
    };
    let bytes = node.as_bytes().ok_or(PexError::NotAString(key))?;
    if bytes.len() % size != 0 {
        return Err(PexError::BadLength {
            key,
            len: bytes.len(),
        });
    }
    Ok(bytes)
}

/// The flag field `key`, or nothing when absent or not a byte string.
fn flags<'a>(dict: &Dict<'a>, key: &[u8]) -> &'a [u8] {
    dict.get(key).and_then(|n| n.as_bytes()).unwrap_or(&[])
}

/// One compact entry of 6 or 18 bytes.
fn parse_entry(chunk: &[u8]) -> SocketAddr {
    let (ip, port) = chunk.split_at(chunk.len() - 2);
    let port = u16::from_be_bytes([port[0], port[1]]);
    match <[u8; 4]>::try_from(ip) {
        Ok(v4) => SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(v4), port)),
        Err(_) => {
            let mut v6 = [0u8; 16];
            v6.copy_from_slice(ip);
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(v6), port, 0, 0))
        }
    }
}

fn put_v4(addr: &SocketAddrV4, out: &mut Vec<u8>) {
    out.extend_from_slice(&addr.ip().octets());
    out.extend_from_slice(&addr.port().to_be_bytes());
}

fn put_v6(addr: &SocketAddrV6, out: &mut Vec<u8>) {
    out.extend_from_slice(&addr.ip().octets());
    out.extend_from_slice(&addr.port().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn peer(s: &str, flags: u8) -> PexPeer {
        PexPeer {
            addr: v4(s),
            flags: PexFlags(flags),
        }
    }

    #[test]
    fn encodes_both_families_byte_exact() {
        let msg = PexMessage {
            added: vec![peer("10.0.0.1:6881", 0x01), peer("[::1]:7000", 0x10)],
            dropped: vec![v4("[2001:db8::2]:80"), v4("192.168.1.9:51413")],
        };
        let mut want = Vec::new();
        want.extend_from_slice(b"d5:added6:\x0a\x00\x00\x01\x1a\xe1");
        want.extend_from_slice(b"7:added.f1:\x01");
        want.extend_from_slice(b"6:added618:");
        want.extend_from_slice(&[0; 15]);
        want.extend_from_slice(b"\x01\x1b\x58");
        want.extend_from_slice(b"8:added6.f1:\x10");
        want.extend_from_slice(b"7:dropped6:\xc0\xa8\x01\x09\xc8\xd5");
        want.extend_from_slice(b"8:dropped618:\x20\x01\x0d\xb8");
        want.extend_from_slice(&[0; 11]);
        want.extend_from_slice(b"\x02\x00\x50e");
        assert_eq!(msg.encode(), want);
        // Decoding lists IPv4 entries before IPv6 ones.
        let mut decoded = PexMessage::decode(&want).unwrap();
        assert_eq!(decoded.added, msg.added);
        decoded.dropped.reverse();
        assert_eq!(decoded.dropped, msg.dropped);
        assert_eq!(PexMessage::default().encode(), b"de");
    }

    #[test]
    fn flags_are_padded_cut_or_ignored() {
        let short = b"d5:added12:\x01\x01\x01\x01\x00\x01\x02\x02\x02\x02\x00\x027:added.f1:\x02e";
        let msg = PexMessage::decode(short).unwrap();
        assert_eq!(msg.added, vec![peer("1.1.1.1:1", 2), peer("2.2.2.2:2", 0)]);
        let long = b"d5:added6:\x01\x01\x01\x01\x00\x017:added.f3:\x04\x05\x06e";
        let msg = PexMessage::decode(long).unwrap();
        assert_eq!(msg.added, vec![peer("1.1.1.1:1", 4)]);
        let wrong = b"d5:added6:\x01\x01\x01\x01\x00\x017:added.fi7ee";
        let msg = PexMessage::decode(wrong).unwrap();
        assert_eq!(msg.added, vec![peer("1.1.1.1:1", 0)]);
        assert!(PexFlags(0x12).contains(PexFlags::SEED));
        assert!(!PexFlags(0x12).contains(PexFlags::UTP));
    }

    #[test]
    fn malformed_fields_are_errors() {
        assert_eq!(
            PexMessage::decode(b"d5:added5:abcdee"),
            Err(PexError::BadLength {
                key: "added",
                len: 5
            })
        );
        assert_eq!(
            PexMessage::decode(b"d8:dropped66:abcdefe"),
            Err(PexError::BadLength {
                key: "dropped6",
                len: 6
            })
        );
        assert_eq!(
            PexMessage::decode(b"d7:droppedi1ee"),
            Err(PexError::NotAString("dropped"))
        );
        assert_eq!(PexMessage::decode(b"le"), Err(PexError::NotADictionary));
        assert!(matches!(
            PexMessage::decode(b"d5:added"),
            Err(PexError::Bencode(_))
        ));
        assert!(matches!(
            PexMessage::decode(&vec![b'd'; MAX_PEX_LEN + 1]),
            Err(PexError::TooLarge(_))
        ));
    }

    #[test]
    fn filters_invalid_repeated_and_contradictory_entries() {
        let mut added = Vec::new();
        for entry in [
            [1, 1, 1, 1, 0, 0],         // port 0
            [0, 0, 0, 0, 0, 9],         // unspecified
            [224, 0, 0, 1, 0, 9],       // multicast
            [255, 255, 255, 255, 0, 9], // broadcast
            [3, 3, 3, 3, 0, 9],
            [3, 3, 3, 3, 0, 9], // repeat
            [4, 4, 4, 4, 0, 9],
        ] {
            added.extend_from_slice(&entry);
        }
        let dropped = [4, 4, 4, 4, 0, 9, 5, 5, 5, 5, 0, 9, 5, 5, 5, 5, 0, 9];
        let mut dict = OwnedValue::dict();
        dict.insert("added", OwnedValue::Bytes(added));
        dict.insert("added.f", OwnedValue::Bytes(vec![1, 2, 3, 4, 5, 6, 7]));
        dict.insert("dropped", OwnedValue::Bytes(dropped.to_vec()));
        dict.insert("zzz", OwnedValue::List(vec![OwnedValue::Integer(1)]));
        let (msg, counts) = PexMessage::decode_counted(&dict.to_bytes()).unwrap();
        assert_eq!(msg.added, vec![peer("3.3.3.3:9", 5), peer("4.4.4.4:9", 7)]);
        assert_eq!(msg.dropped, vec![v4("5.5.5.5:9")]);
        assert_eq!(
            counts,
            WireCounts {
                added: 7,
                dropped: 3
            }
        );
    }

    #[test]
    fn entries_beyond_the_cap_are_ignored() {
        let n = MAX_DECODED_ENTRIES + 50;
        let mut added = Vec::new();
        for i in 0..n as u32 {
            added.extend_from_slice(&(0x0a00_0001 + i).to_be_bytes());
            added.extend_from_slice(&[0x1a, 0xe1]);
        }
        let mut dict = OwnedValue::dict();
        dict.insert("added", OwnedValue::Bytes(added));
        let (msg, counts) = PexMessage::decode_counted(&dict.to_bytes()).unwrap();
        assert_eq!(msg.added.len(), MAX_DECODED_ENTRIES);
        assert_eq!(counts.added, n);
        // Trailing bytes after the dictionary are tolerated.
        assert!(PexMessage::decode(b"dexyz").unwrap().is_empty());
    }

    fn arb_addr() -> impl Strategy<Value = SocketAddr> {
        let v4 = (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)));
        let v6 = (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| {
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0))
        });
        prop_oneof![v4, v6].prop_filter("a peer address", is_valid_peer_addr)
    }

    fn arb_message() -> impl Strategy<Value = PexMessage> {
        (
            proptest::collection::btree_map(arb_addr(), any::<u8>(), 0..80),
            proptest::collection::btree_set(arb_addr(), 0..80),
        )
            .prop_map(|(added, dropped)| {
                // Decoding lists IPv4 before IPv6; a BTree orders them so too.
                let dropped = dropped
                    .into_iter()
                    .filter(|a| !added.contains_key(a))
                    .collect();
                let added = added
                    .into_iter()
                    .map(|(addr, f)| PexPeer {
                        addr,
                        flags: PexFlags(f),
                    })
                    .collect();
                PexMessage { added, dropped }
            })
    }

    proptest! {
        #[test]
        fn round_trip(msg in arb_message()) {
            let bytes = msg.encode();
            let (again, counts) = PexMessage::decode_counted(&bytes).unwrap();
            prop_assert_eq!(&again, &msg);
            prop_assert_eq!(counts.added, msg.added.len());
            prop_assert_eq!(counts.dropped, msg.dropped.len());
            prop_assert_eq!(again.encode(), bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = PexMessage::decode(&bytes);
        }

        #[test]
        fn arbitrary_field_contents_never_panic(
            fields in proptest::collection::btree_map(
                prop_oneof![
                    Just("added"), Just("added.f"), Just("added6"),
                    Just("added6.f"), Just("dropped"), Just("dropped6"),
                ],
                proptest::collection::vec(any::<u8>(), 0..120),
                0..6,
            )
        ) {
            let mut dict = OwnedValue::dict();
            for (k, v) in fields {
                dict.insert(k, OwnedValue::Bytes(v));
            }
            if let Ok(msg) = PexMessage::decode(&dict.to_bytes()) {
                prop_assert!(msg.added.iter().all(|p| is_valid_peer_addr(&p.addr)));
                prop_assert!(msg.dropped.iter().all(is_valid_peer_addr));
                prop_assert_eq!(PexMessage::decode(&msg.encode()).unwrap(), msg);
            }
        }
    }
}

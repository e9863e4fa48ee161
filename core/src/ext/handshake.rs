//! The BEP 10 extension handshake: a bencoded dictionary sent as extended
//! message 0 right after the BitTorrent handshake, when both sides set the
//! extension bit.
//!
//! Everything in it is advisory and untrusted. Decoding is tolerant of unknown
//! keys and of wrong types in optional ones (they are ignored, as BEP 10 asks),
//! but bounded: at most [`MAX_EXTENSIONS`] entries in `m`, a client name cut to
//! [`MAX_CLIENT_NAME`] bytes, `reqq` clamped to a sane range.

use core::fmt;
use core::net::IpAddr;

use crate::bencode::{self, Limits, OwnedValue};

/// Most entries kept from the `m` dictionary.
pub const MAX_EXTENSIONS: usize = 64;
/// Longest client name kept, in bytes.
pub const MAX_CLIENT_NAME: usize = 64;
/// Largest `reqq` believed; a peer announcing more is treated as announcing this.
pub const MAX_REQQ: u32 = 2048;
/// Largest encoded handshake accepted.
pub const MAX_HANDSHAKE_LEN: usize = 64 * 1024;

/// What a peer says about itself in its extension handshake.
///
/// ```
/// use sluice_core::ext::ExtHandshake;
///
/// let mut hs = ExtHandshake::default();
/// hs.extensions.push(("ut_metadata".into(), 3));
/// hs.client = Some("sluice/0.1".into());
/// hs.reqq = Some(250);
/// hs.metadata_size = Some(31_337);
/// let bytes = hs.encode();
/// assert_eq!(ExtHandshake::decode(&bytes).unwrap(), hs);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtHandshake {
    /// `m`: extension name → the id the sender wants to receive it under
    /// (0 means "disabled"), sorted by name.
    pub extensions: Vec<(String, u8)>,
    /// `v`: client name and version.
    pub client: Option<String>,
    /// `reqq`: how many outstanding requests the sender accepts.
    pub reqq: Option<u32>,
    /// `p`: the sender's listen port.
    pub listen_port: Option<u16>,
    /// `yourip`: the address the sender sees the receiver at.
    pub your_ip: Option<IpAddr>,
    /// `metadata_size` (BEP 9): length of the info dictionary, in bytes.
    pub metadata_size: Option<u32>,
}

/// Why an extension handshake was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtHandshakeError {
    /// Larger than [`MAX_HANDSHAKE_LEN`].
    TooLarge(usize),
    /// Not bencode.
    Bencode(bencode::DecodeError),
    /// Bencode, but not a dictionary at the top.
    NotADictionary,
}

impl fmt::Display for ExtHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtHandshakeError::TooLarge(n) => {
                write!(f, "extension handshake of {n} bytes is too large")
            }
            ExtHandshakeError::Bencode(e) => write!(f, "extension handshake: {e}"),
            ExtHandshakeError::NotADictionary => {
                f.write_str("extension handshake is not a dictionary")
            }
        }
    }
}

impl std::error::Error for ExtHandshakeError {}

impl ExtHandshake {
    /// The id under which the sender wants to receive extension `name`, if it
    /// speaks it (a 0 id means it does not).
    pub fn extension_id(&self, name: &str) -> Option<u8> {
        self.extensions
            .iter()
            .find(|(n, id)| n == name && *id != 0)
            .map(|(_, id)| *id)
    }

    /// The bencoded dictionary (the payload of extended message 0).
    pub fn encode(&self) -> Vec<u8> {
        let mut root = OwnedValue::dict();
        let mut m = OwnedValue::dict();
        for (name, id) in &self.extensions {
            m.insert(name, OwnedValue::Integer(i64::from(*id)));
        }
        root.insert("m", m);
        if let Some(v) = &self.client {
            root.insert("v", OwnedValue::from(v.as_str()));
        }
        if let Some(q) = self.reqq {
            root.insert("reqq", OwnedValue::Integer(i64::from(q)));
        }
        if let Some(p) = self.listen_port {
            root.insert("p", OwnedValue::Integer(i64::from(p)));
        }
        if let Some(ip) = self.your_ip {
            let bytes = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            root.insert("yourip", OwnedValue::Bytes(bytes));
        }
        if let Some(size) = self.metadata_size {
            root.insert("metadata_size", OwnedValue::Integer(i64::from(size)));
        }
        root.to_bytes()
    }

    /// Reads a peer's handshake. Unknown keys and optional keys of the wrong
    /// type are ignored; only a payload that is not a bencoded dictionary (or
    /// is too large) is an error.
    pub fn decode(bytes: &[u8]) -> Result<ExtHandshake, ExtHandshakeError> {
        if bytes.len() > MAX_HANDSHAKE_LEN {
            return Err(ExtHandshakeError::TooLarge(bytes.len()));
        }
        let limits = Limits {
            max_depth: 8,
            max_string_len: MAX_HANDSHAKE_LEN,
            max_values: 4096,
        };
        // Some clients pad the dictionary; only the first value counts.
        let (root, _) =
            bencode::decode_prefix(bytes, limits).map_err(ExtHandshakeError::Bencode)?;
        let dict = root.as_dict().ok_or(ExtHandshakeError::NotADictionary)?;
        let mut hs = ExtHandshake::default();
        if let Some(m) = dict.get(b"m").and_then(|n| n.as_dict()) {
            for (name, id) in m.iter() {
                let (Ok(name), Some(id)) = (core::str::from_utf8(name), id.as_int()) else {
                    continue;
                };
                let Ok(id) = u8::try_from(id) else { continue };
                if hs.extensions.len() < MAX_EXTENSIONS {
                    hs.extensions.push((name.to_string(), id));
                }
            }
            hs.extensions.sort();
            hs.extensions.dedup_by(|a, b| a.0 == b.0);
        }
        hs.client = dict.get(b"v").and_then(|n| n.as_bytes()).map(|v| {
            let v = &v[..v.len().min(MAX_CLIENT_NAME)];
            String::from_utf8_lossy(v).into_owned()
        });
        hs.reqq = dict
            .get(b"reqq")
            .and_then(|n| n.as_int())
            .filter(|q| *q > 0)
            .map(|q| q.min(i64::from(MAX_REQQ)) as u32);
        hs.listen_port = dict
            .get(b"p")
            .and_then(|n| n.as_int())
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0);
        hs.your_ip = dict
            .get(b"yourip")
            .and_then(|n| n.as_bytes())
            .and_then(|b| match b.len() {
                4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
                16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
                _ => None,
            });
        hs.metadata_size = dict
            .get(b"metadata_size")
            .and_then(|n| n.as_int())
            .and_then(|s| u32::try_from(s).ok());
        Ok(hs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_a_typical_libtorrent_handshake() {
        let payload = b"d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei5337e4:reqqi500e11:upload_onlyi0e1:v18:libtorrent/2.0.8.06:yourip4:\x7f\x00\x00\x01e";
        let hs = ExtHandshake::decode(payload).unwrap();
        assert_eq!(hs.extension_id("ut_metadata"), Some(2));
        assert_eq!(hs.extension_id("ut_pex"), Some(1));
        assert_eq!(hs.extension_id("lt_nothing"), None);
        assert_eq!(hs.client.as_deref(), Some("libtorrent/2.0.8.0"));
        assert_eq!(hs.reqq, Some(500));
        assert_eq!(hs.metadata_size, Some(5337));
        assert_eq!(hs.your_ip, Some(IpAddr::from([127, 0, 0, 1])));
    }

    #[test]
    fn wrong_types_are_ignored_and_values_bounded() {
        let hs = ExtHandshake::decode(
            b"d1:md1:ai0e1:bi300e1:c1:x1:di9ee1:pi70000e4:reqqi999999e1:vli1ee6:yourip3:abce",
        )
        .unwrap();
        assert_eq!(hs.extensions, vec![("a".into(), 0), ("d".into(), 9)]);
        assert_eq!(hs.extension_id("a"), None, "id 0 means disabled");
        assert_eq!(hs.listen_port, None);
        assert_eq!(hs.reqq, Some(MAX_REQQ));
        assert_eq!(hs.client, None);
        assert_eq!(hs.your_ip, None);
    }

    #[test]
    fn refuses_what_is_not_a_dictionary() {
        assert_eq!(
            ExtHandshake::decode(b"le"),
            Err(ExtHandshakeError::NotADictionary)
        );
        assert!(matches!(
            ExtHandshake::decode(b"d1:m"),
            Err(ExtHandshakeError::Bencode(_))
        ));
        assert!(matches!(
            ExtHandshake::decode(&vec![b'x'; MAX_HANDSHAKE_LEN + 1]),
            Err(ExtHandshakeError::TooLarge(_))
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = ExtHandshake::decode(&bytes);
        }

        #[test]
        fn round_trip(
            names in proptest::collection::btree_map("[a-z_]{1,12}", 1u8.., 0..6),
            client in proptest::option::of("[ -~]{0,40}"),
            reqq in proptest::option::of(1u32..=MAX_REQQ),
            port in proptest::option::of(1u16..),
            v4 in proptest::option::of(any::<[u8; 4]>()),
            size in proptest::option::of(any::<u32>()),
        ) {
            let hs = ExtHandshake {
                extensions: names.into_iter().collect(),
                client,
                reqq,
                listen_port: port,
                your_ip: v4.map(IpAddr::from),
                metadata_size: size,
            };
            prop_assert_eq!(ExtHandshake::decode(&hs.encode()).unwrap(), hs);
        }
    }
}

//! Magnet URIs: BEP 9 (`xt`, `dn`, `tr`, `x.pe`) and BEP 53 (`so`).
//!
//! A magnet link names a torrent by its info-hash and optionally carries a
//! display name, trackers, peers to ask for the metadata directly, and the
//! file indices to download. [`MagnetLink::parse`] reads one from untrusted
//! text with hard limits on its size; [`MagnetLink::to_uri`] (or `Display`)
//! writes it back in a canonical spelling that parses to the same value.
//!
//! Parsing rules, in short:
//!
//! * the scheme `magnet:` is matched case-insensitively and must be followed by
//!   `?`; surrounding ASCII whitespace is ignored;
//! * parameters are `&`-separated `key=value` pairs; values are fully
//!   percent-decoded and must be UTF-8; in `dn` a `+` also means a space;
//! * `xt=urn:btih:` takes 40 hex or 32 base32 characters. Several `xt` may be
//!   present (`xt.1`, `xt.2`, …) as long as they name one btih; a `urn:btmh:`
//!   (BitTorrent v2) topic beside it is ignored, and without it the link is
//!   rejected with [`MagnetError::V2Unsupported`];
//! * the first `dn` wins; `tr` (and `tr.1`, `tr.2`, …) and `x.pe` are kept in
//!   order, duplicates included; empty `tr` values are skipped;
//! * `so` is a comma-separated list of file indices and inclusive ranges;
//! * unknown parameters are ignored.

use core::fmt::{self, Write as _};
use core::net::SocketAddr;
use core::ops::RangeInclusive;
use core::str::FromStr;

use crate::id::InfoHash;

/// Longest magnet URI [`MagnetLink::parse`] accepts, in bytes.
pub const MAX_URI_LEN: usize = 64 * 1024;

/// Most trackers (`tr`) one magnet link may carry.
pub const MAX_TRACKERS: usize = 256;

/// Most peer addresses (`x.pe`) one magnet link may carry.
pub const MAX_PEERS: usize = 256;

/// Most entries (single indices or ranges) in the `so` lists of one link.
pub const MAX_SELECT_ONLY: usize = 4096;

/// Longest host name accepted in a `x.pe` peer address (the DNS limit).
pub const MAX_HOST_LEN: usize = 253;

/// How many characters of an offending value an error keeps for its message.
const SNIPPET_CHARS: usize = 64;

/// A parsed magnet link.
///
/// ```
/// use sluice_core::magnet::{MagnetLink, PeerAddr};
///
/// let link = MagnetLink::parse(
///     "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a\
///      &dn=Big+Buck+Bunny&tr=udp%3A%2F%2Ftracker.example%3A6969\
///      &x.pe=10.0.0.1:6881&so=0,2,4-6",
/// )
/// .unwrap();
/// assert_eq!(link.info_hash.to_hex(), "c12fe1c06bba254a9dc9f519b335aa7c1367a88a");
/// assert_eq!(link.display_name.as_deref(), Some("Big Buck Bunny"));
/// assert_eq!(link.trackers, ["udp://tracker.example:6969"]);
/// assert_eq!(link.peers, [PeerAddr::Ip("10.0.0.1:6881".parse().unwrap())]);
/// assert_eq!(link.select_only, [0..=0, 2..=2, 4..=6]);
/// assert!(link.is_selected(5) && !link.is_selected(3));
///
/// // Formatting gives a canonical spelling that parses back to the same link.
/// assert_eq!(MagnetLink::parse(&link.to_uri()).unwrap(), link);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MagnetLink {
    /// The v1 info-hash (`xt=urn:btih:`).
    pub info_hash: InfoHash,
    /// The name to show while the metadata is being fetched (`dn`).
    pub display_name: Option<String>,
    /// Tracker URLs (`tr`), in the order given.
    pub trackers: Vec<String>,
    /// Peers that can serve the metadata directly (`x.pe`), in the order given.
    pub peers: Vec<PeerAddr>,
    /// File indices to download (`so`, BEP 53), as given. Empty means all files.
    pub select_only: Vec<RangeInclusive<u32>>,
}

/// A peer address from a magnet link's `x.pe` parameter.
///
/// BEP 9 allows `hostname:port`, `ipv4-literal:port` and `[ipv6-literal]:port`;
/// `Display` writes the same spelling back. Port 0 is never accepted. An IPv6
/// flow label has no spelling there and is not kept; a numeric scope id is.
///
/// ```
/// use sluice_core::magnet::PeerAddr;
///
/// let ip: PeerAddr = "[2001:db8::1]:6881".parse().unwrap();
/// assert!(matches!(ip, PeerAddr::Ip(a) if a.is_ipv6()));
/// assert_eq!(ip.to_string(), "[2001:db8::1]:6881");
///
/// let host: PeerAddr = "peer.example.org:51413".parse().unwrap();
/// assert_eq!(host, PeerAddr::Host { host: "peer.example.org".into(), port: 51413 });
/// assert_eq!(host.port(), 51413);
///
/// assert!("no-port.example".parse::<PeerAddr>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// An IPv4 or IPv6 literal with a port.
    Ip(SocketAddr),
    /// A host name (letters, digits, `-` and `_` in dot-separated labels) that
    /// the driver must resolve, with a port.
    Host {
        /// The host name, as written in the link.
        host: String,
        /// The port, never 0.
        port: u16,
    },
}

/// Why a magnet link was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MagnetError {
    /// The URI is longer than [`MAX_URI_LEN`].
    TooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text does not start with `magnet:?`.
    NotMagnet,
    /// A parameter's value has a malformed `%` escape or is not UTF-8 once decoded.
    BadEncoding {
        /// The parameter's key as written in the link.
        param: String,
    },
    /// No `xt=urn:btih:` (nor `urn:btmh:`) topic.
    MissingInfoHash,
    /// A `urn:btih:` topic that is neither 40 hex nor 32 base32 characters.
    BadInfoHash {
        /// The start of the offending value.
        value: String,
    },
    /// Two `urn:btih:` topics that name different torrents.
    ConflictingInfoHashes,
    /// Only a BitTorrent v2 topic (`urn:btmh:`), which this engine cannot use yet.
    V2Unsupported,
    /// An `x.pe` value that is not `host:port`, `ipv4:port` or `[ipv6]:port`.
    BadPeerAddress {
        /// The start of the offending value.
        value: String,
    },
    /// An `so` value that is not a list of indices and ascending ranges.
    BadSelectOnly {
        /// The start of the offending value.
        value: String,
    },
    /// More than [`MAX_TRACKERS`] trackers.
    TooManyTrackers {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_PEERS`] peer addresses.
    TooManyPeers {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_SELECT_ONLY`] `so` entries.
    TooManySelectOnly {
        /// The limit.
        max: usize,
    },
}

impl MagnetLink {
    /// A link that carries only an info-hash.
    pub fn new(info_hash: InfoHash) -> Self {
        MagnetLink {
            info_hash,
            display_name: None,
            trackers: Vec::new(),
            peers: Vec::new(),
            select_only: Vec::new(),
        }
    }

    /// Parses a magnet URI; see the [module documentation](self) for the rules.
    pub fn parse(uri: &str) -> Result<Self, MagnetError> {
        if uri.len() > MAX_URI_LEN {
            return Err(MagnetError::TooLong {
                len: uri.len(),
                max: MAX_URI_LEN,
            });
        }
        let uri = uri.trim_matches(|c: char| c.is_ascii_whitespace());
        let query = strip_prefix_ignore_case(uri, "magnet:")
            .and_then(|rest| rest.strip_prefix('?'))
            .ok_or(MagnetError::NotMagnet)?;

        let mut btih: Option<InfoHash> = None;
        let mut saw_btmh = false;
        let mut link = MagnetLink::new(InfoHash([0; 20]));

        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = param.split_once('=').unwrap_or((param, ""));
            match classify(key) {
                Key::ExactTopic => {
                    let topic = percent_decode(raw, false, key)?;
                    if let Some(hash) = strip_prefix_ignore_case(&topic, "urn:btih:") {
                        let hash = parse_btih(hash)?;
                        if btih.is_some_and(|seen| seen != hash) {
                            return Err(MagnetError::ConflictingInfoHashes);
                        }
                        btih = Some(hash);
                    } else if strip_prefix_ignore_case(&topic, "urn:btmh:").is_some() {
                        saw_btmh = true;
                    }
                }
                Key::DisplayName => {
                    if link.display_name.is_none() {
                        link.display_name = Some(percent_decode(raw, true, key)?);
                    }
                }
                Key::Tracker => {
                    let tracker = percent_decode(raw, false, key)?;
                    if !tracker.is_empty() {
                        if link.trackers.len() >= MAX_TRACKERS {
                            return Err(MagnetError::TooManyTrackers { max: MAX_TRACKERS });
                        }
                        link.trackers.push(tracker);
                    }
                }
                Key::Peer => {
                    let peer = percent_decode(raw, false, key)?.parse::<PeerAddr>()?;
                    if link.peers.len() >= MAX_PEERS {
                        return Err(MagnetError::TooManyPeers { max: MAX_PEERS });
                    }
                    link.peers.push(peer);
                }
                Key::SelectOnly => {
                    let list = percent_decode(raw, false, key)?;
                    parse_select_only(&list, &mut link.select_only)?;
                }
                Key::Other => {}
            }
        }

        link.info_hash = match (btih, saw_btmh) {
            (Some(hash), _) => hash,
            (None, true) => return Err(MagnetError::V2Unsupported),
            (None, false) => return Err(MagnetError::MissingInfoHash),
        };
        Ok(link)
    }

    /// The canonical URI: `magnet:?xt=urn:btih:<lowercase hex>` followed by
    /// `dn`, each `tr`, each `x.pe` and `so`, with every byte outside the URI
    /// unreserved set percent-encoded (except the commas of `so`). Empty
    /// trackers are left out. Same as `to_string()`.
    pub fn to_uri(&self) -> String {
        self.to_string()
    }

    /// Whether the link asks for file `index`: true when `so` is absent or
    /// lists it.
    pub fn is_selected(&self, index: u32) -> bool {
        self.select_only.is_empty() || self.select_only.iter().any(|r| r.contains(&index))
    }
}

impl FromStr for MagnetLink {
    type Err = MagnetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MagnetLink::parse(s)
    }
}

impl fmt::Display for MagnetLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "magnet:?xt=urn:btih:{}", self.info_hash.to_hex())?;
        if let Some(name) = &self.display_name {
            f.write_str("&dn=")?;
            write_encoded(f, name)?;
        }
        for tracker in self.trackers.iter().filter(|t| !t.is_empty()) {
            f.write_str("&tr=")?;
            write_encoded(f, tracker)?;
        }
        for peer in &self.peers {
            f.write_str("&x.pe=")?;
            write_encoded(f, &peer.to_string())?;
        }
        if !self.select_only.is_empty() {
            f.write_str("&so=")?;
            for (i, range) in self.select_only.iter().enumerate() {
                if i > 0 {
                    f.write_char(',')?;
                }
                if range.start() == range.end() {
                    write!(f, "{}", range.start())?;
                } else {
                    write!(f, "{}-{}", range.start(), range.end())?;
                }
            }
        }
        Ok(())
    }
}

impl PeerAddr {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        match self {
            PeerAddr::Ip(addr) => addr.port(),
            PeerAddr::Host { port, .. } => *port,
        }
    }
}

impl FromStr for PeerAddr {
    type Err = MagnetError;

    /// Parses `hostname:port`, `ipv4:port` or `[ipv6]:port`; the port must not
    /// be 0, and a host name must be a plausible DNS name (not a mangled IP
    /// literal such as `1.2.3.400`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || MagnetError::BadPeerAddress { value: snippet(s) };
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return if addr.port() == 0 {
                Err(bad())
            } else {
                Ok(PeerAddr::Ip(addr))
            };
        }
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let port = parse_digits::<u16>(port)
            .filter(|&p| p != 0)
            .ok_or_else(bad)?;
        if !is_host_name(host) {
            return Err(bad());
        }
        Ok(PeerAddr::Host {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Ip(addr) => write!(f, "{addr}"),
            PeerAddr::Host { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

impl fmt::Display for MagnetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MagnetError::TooLong { len, max } => {
                write!(f, "magnet link is {len} bytes long, the limit is {max}")
            }
            MagnetError::NotMagnet => f.write_str("not a magnet link (expected \"magnet:?...\")"),
            MagnetError::BadEncoding { param } => write!(
                f,
                "magnet link parameter {param:?} has malformed percent-encoding or is not UTF-8"
            ),
            MagnetError::MissingInfoHash => {
                f.write_str("magnet link has no BitTorrent info-hash (xt=urn:btih:...)")
            }
            MagnetError::BadInfoHash { value } => write!(
                f,
                "invalid btih info-hash {value:?} in magnet link \
                 (expected 40 hex or 32 base32 characters)"
            ),
            MagnetError::ConflictingInfoHashes => {
                f.write_str("magnet link names several different btih info-hashes")
            }
            MagnetError::V2Unsupported => f.write_str(
                "BitTorrent v2-only magnet links (xt=urn:btmh: without urn:btih:) \
                 are not supported yet",
            ),
            MagnetError::BadPeerAddress { value } => write!(
                f,
                "invalid peer address {value:?} in magnet link \
                 (expected host:port, ipv4:port or [ipv6]:port)"
            ),
            MagnetError::BadSelectOnly { value } => write!(
                f,
                "invalid file selection so={value:?} in magnet link \
                 (expected indices and ascending ranges such as 0,2,4-6)"
            ),
            MagnetError::TooManyTrackers { max } => {
                write!(f, "magnet link has more than {max} trackers")
            }
            MagnetError::TooManyPeers { max } => {
                write!(f, "magnet link has more than {max} peer addresses")
            }
            MagnetError::TooManySelectOnly { max } => {
                write!(f, "magnet link has more than {max} file selection entries")
            }
        }
    }
}

impl std::error::Error for MagnetError {}

/// What a parameter key means to us.
enum Key {
    ExactTopic,
    DisplayName,
    Tracker,
    Peer,
    SelectOnly,
    Other,
}

/// Classifies a key, accepting the numbered forms `xt.1`, `dn.2`, `tr.3`.
fn classify(key: &str) -> Key {
    if key.eq_ignore_ascii_case("x.pe") {
        return Key::Peer;
    }
    if key.eq_ignore_ascii_case("so") {
        return Key::SelectOnly;
    }
    let base = match key.rsplit_once('.') {
        Some((base, index)) if parse_digits::<u32>(index).is_some() => base,
        _ => key,
    };
    if base.eq_ignore_ascii_case("xt") {
        Key::ExactTopic
    } else if base.eq_ignore_ascii_case("dn") {
        Key::DisplayName
    } else if base.eq_ignore_ascii_case("tr") {
        Key::Tracker
    } else {
        Key::Other
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

fn parse_btih(text: &str) -> Result<InfoHash, MagnetError> {
    let hash = match text.len() {
        40 => InfoHash::from_hex(text),
        32 => InfoHash::from_base32(text),
        _ => None,
    };
    hash.ok_or_else(|| MagnetError::BadInfoHash {
        value: snippet(text),
    })
}

/// Parses a non-empty run of ASCII digits (no sign, no spaces).
fn parse_digits<T: FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Appends the entries of one `so` value (`0,2,4-6`) to `out`.
fn parse_select_only(list: &str, out: &mut Vec<RangeInclusive<u32>>) -> Result<(), MagnetError> {
    if list.is_empty() {
        return Ok(());
    }
    let bad = || MagnetError::BadSelectOnly {
        value: snippet(list),
    };
    for item in list.split(',') {
        let range = match item.split_once('-') {
            Some((first, last)) => {
                let first = parse_digits::<u32>(first).ok_or_else(bad)?;
                let last = parse_digits::<u32>(last).ok_or_else(bad)?;
                if first > last {
                    return Err(bad());
                }
                first..=last
            }
            None => {
                let index = parse_digits::<u32>(item).ok_or_else(bad)?;
                index..=index
            }
        };
        if out.len() >= MAX_SELECT_ONLY {
            return Err(MagnetError::TooManySelectOnly {
                max: MAX_SELECT_ONLY,
            });
        }
        out.push(range);
    }
    Ok(())
}

/// Whether `host` looks like a DNS name: labels of letters, digits, `-` and
/// `_`, and a last label that is not all digits (that would be a broken IPv4
/// literal, not a name). Tracker URLs use it too.
pub(crate) fn is_host_name(host: &str) -> bool {
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return false;
    }
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let last_is_numeric = host
        .rsplit('.')
        .next()
        .is_some_and(|label| label.bytes().all(|b| b.is_ascii_digit()));
    labels_ok && !last_is_numeric
}

/// Decodes `%XX` escapes (and `+` as a space when asked), then checks UTF-8.
fn percent_decode(raw: &str, plus_is_space: bool, key: &str) -> Result<String, MagnetError> {
    let needs_work = raw.contains('%') || (plus_is_space && raw.contains('+'));
    if !needs_work {
        return Ok(raw.to_owned());
    }
    let bad = || MagnetError::BadEncoding {
        param: snippet(key),
    };
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'%' => {
                let [hi, lo, tail @ ..] = rest else {
                    return Err(bad());
                };
                let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) else {
                    return Err(bad());
                };
                out.push(hi << 4 | lo);
                rest = tail;
            }
            b'+' if plus_is_space => out.push(b' '),
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Writes `text` with every byte outside RFC 3986's unreserved set
/// (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
fn write_encoded(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let is_unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    let mut rest = text;
    while !rest.is_empty() {
        // Unreserved bytes are ASCII, so both split points are char boundaries.
        let plain = rest.bytes().take_while(|&b| is_unreserved(b)).count();
        let (run, tail) = rest.split_at(plain);
        f.write_str(run)?;
        let escaped = tail.bytes().take_while(|&b| !is_unreserved(b)).count();
        let (special, tail) = tail.split_at(escaped);
        for b in special.bytes() {
            write!(f, "%{b:02X}")?;
        }
        rest = tail;
    }
    Ok(())
}

/// The first few characters of an untrusted value, for an error message.
fn snippet(text: &str) -> String {
    text.chars().take(SNIPPET_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    use proptest::prelude::*;

    const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
    const BASE32: &str = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";

    fn hash() -> InfoHash {
        InfoHash::from_hex(HEX).unwrap()
    }

    #[test]
    fn bep9_v1_format() {
        let link = MagnetLink::parse(&format!(
            "magnet:?xt=urn:btih:{HEX}&dn=name&tr=http%3A%2F%2Ftracker.example%2Fannounce\
             &x.pe=peer.example:6881"
        ))
        .unwrap();
        assert_eq!(link.info_hash, hash());
        assert_eq!(link.display_name.as_deref(), Some("name"));
        assert_eq!(link.trackers, ["http://tracker.example/announce"]);
        assert_eq!(
            link.peers,
            [PeerAddr::Host {
                host: "peer.example".into(),
                port: 6881
            }]
        );
        assert!(link.select_only.is_empty());
    }

    #[test]
    fn only_xt_is_mandatory() {
        let link = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{HEX}")).unwrap();
        assert_eq!(link, MagnetLink::new(hash()));
    }

    #[test]
    fn bep53_select_only_example() {
        let link = MagnetLink::parse(&format!(
            "magnet:?xt=urn:btih:{HEX}&dn=NAME&tr=TRACKER&so=0,2,4,6-8"
        ))
        .unwrap();
        assert_eq!(link.select_only, [0..=0, 2..=2, 4..=4, 6..=8]);
        for i in [0, 2, 4, 6, 7, 8] {
            assert!(link.is_selected(i), "{i}");
        }
        for i in [1, 3, 5, 9] {
            assert!(!link.is_selected(i), "{i}");
        }
        assert!(link.to_uri().ends_with("&so=0,2,4,6-8"));
    }

    #[test]
    fn hex_and_base32_are_equal() {
        let a = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{HEX}")).unwrap();
        let b = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{BASE32}")).unwrap();
        let c = MagnetLink::parse(&format!(
            "magnet:?xt=urn:btih:{}",
            BASE32.to_ascii_lowercase()
        ))
        .unwrap();
        let d = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{}", HEX.to_uppercase())).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, d);
    }

    #[test]
    fn case_insensitive_scheme_urn_and_keys_and_whitespace() {
        let link =
            MagnetLink::parse(&format!("  MAGNET:?XT=URN:BTIH:{HEX}&DN=x&TR=udp://t:1\n")).unwrap();
        assert_eq!(link.info_hash, hash());
        assert_eq!(link.display_name.as_deref(), Some("x"));
        assert_eq!(link.trackers, ["udp://t:1"]);
    }

    #[test]
    fn percent_decoding_and_plus() {
        let link = MagnetLink::parse(&format!(
            "magnet:?xt=urn%3Abtih%3A{HEX}&dn=a+b%2Bc%20d%C3%A9&tr=http://t/a?x=1+2"
        ))
        .unwrap();
        assert_eq!(link.display_name.as_deref(), Some("a b+c dé"));
        // `+` is a space only in `dn`.
        assert_eq!(link.trackers, ["http://t/a?x=1+2"]);
        // Raw UTF-8 in the input is accepted as it is.
        let link = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{HEX}&dn=ñandú")).unwrap();
        assert_eq!(link.display_name.as_deref(), Some("ñandú"));
    }

    #[test]
    fn indexed_and_repeated_trackers_keep_order() {
        let link = MagnetLink::parse(&format!(
            "magnet:?tr.1=udp://a:1&xt.1=urn:btih:{HEX}&tr=udp://b:2&tr.2=udp://c:3&tr=&tr=udp://a:1"
        ))
        .unwrap();
        assert_eq!(
            link.trackers,
            ["udp://a:1", "udp://b:2", "udp://c:3", "udp://a:1"]
        );
    }

    #[test]
    fn first_display_name_wins_and_unknown_params_are_ignored() {
        let link = MagnetLink::parse(&format!(
            "magnet:?xt=urn:btih:{HEX}&dn=first&dn=second&xl=1234&ws=http://w/&kt=a+b&&=&novalue"
        ))
        .unwrap();
        assert_eq!(link.display_name.as_deref(), Some("first"));
        assert!(link.trackers.is_empty());
    }

    #[test]
    fn several_topics_with_one_btih() {
        let btmh = "1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e";
        // Hybrid torrent: btih and btmh, in either order.
        for uri in [
            format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:{btmh}"),
            format!("magnet:?xt.1=urn:btmh:{btmh}&xt.2=urn:btih:{HEX}"),
            format!("magnet:?xt=urn:ed2k:abc&xt=urn:btih:{HEX}"),
            format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{BASE32}"),
        ] {
            assert_eq!(MagnetLink::parse(&uri).unwrap().info_hash, hash(), "{uri}");
        }
        let other = "0".repeat(40);
        assert_eq!(
            MagnetLink::parse(&format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{other}")),
            Err(MagnetError::ConflictingInfoHashes)
        );
    }

    #[test]
    fn v2_only_is_unsupported() {
        let err = MagnetLink::parse(
            "magnet:?xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e&dn=x",
        )
        .unwrap_err();
        assert_eq!(err, MagnetError::V2Unsupported);
        let message = err.to_string();
        assert!(message.contains("v2-only magnet links"), "{message}");
        assert!(message.contains("not supported yet"), "{message}");
    }

    #[test]
    fn error_cases() {
        use MagnetError as E;
        let p = MagnetLink::parse;
        assert_eq!(p(""), Err(E::NotMagnet));
        assert_eq!(p("http://example.com/"), Err(E::NotMagnet));
        assert_eq!(p(&format!("magnet:xt=urn:btih:{HEX}")), Err(E::NotMagnet));
        assert_eq!(p("magné:?xt"), Err(E::NotMagnet));
        assert_eq!(p("magnet:?"), Err(E::MissingInfoHash));
        assert_eq!(p("magnet:?dn=x&xt=urn:sha1:abc"), Err(E::MissingInfoHash));
        assert!(matches!(
            p("magnet:?xt=urn:btih:"),
            Err(E::BadInfoHash { .. })
        ));
        assert!(matches!(
            p(&format!("magnet:?xt=urn:btih:{}", &HEX[..39])),
            Err(E::BadInfoHash { .. })
        ));
        assert!(matches!(
            p(&format!("magnet:?xt=urn:btih:{}g", &HEX[..39])),
            Err(E::BadInfoHash { .. })
        ));
        assert!(matches!(
            p(&format!("magnet:?xt=urn:btih:{}1", &BASE32[..31])),
            Err(E::BadInfoHash { .. })
        ));
        // 40 bytes but not 40 ASCII characters.
        assert!(matches!(
            p(&format!("magnet:?xt=urn:btih:{}é", &HEX[..38])),
            Err(E::BadInfoHash { .. })
        ));
        let base = format!("magnet:?xt=urn:btih:{HEX}");
        for bad in ["&dn=%", "&dn=%4", "&dn=%zz", "&tr=%FF", "&dn=%C3"] {
            assert!(
                matches!(p(&format!("{base}{bad}")), Err(E::BadEncoding { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            p(&format!("{base}&dn=%C3")),
            Err(E::BadEncoding { param: "dn".into() })
        );
        // Malformed escapes in unknown parameters do not matter.
        assert!(p(&format!("{base}&foo=%zz")).is_ok());
        for bad in [
            "-",
            "1-",
            "-1",
            "2-1",
            "1,,2",
            "1,",
            "a",
            "1 ,2",
            "+1",
            "4294967296",
            "1-2-3",
            "0x1",
        ] {
            assert!(
                matches!(p(&format!("{base}&so={bad}")), Err(E::BadSelectOnly { .. })),
                "{bad:?}"
            );
        }
        // An empty `so` selects nothing in particular: all files.
        assert!(p(&format!("{base}&so=")).unwrap().select_only.is_empty());
        for bad in [
            "",
            "1.2.3.4",
            "1.2.3.4:0",
            "1.2.3.4:",
            "1.2.3.4:65536",
            "host:-1",
            ":80",
            "::1:80",
            "[::1]",
            "[::1]:0",
            "a..b:1",
            "a b:1",
            "1.2.3.400:80",
            "host.:1",
            "ho/st:1",
        ] {
            assert!(
                matches!(
                    p(&format!("{base}&x.pe={bad}")),
                    Err(E::BadPeerAddress { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn peer_addresses() {
        let base = format!("magnet:?xt=urn:btih:{HEX}");
        let link = MagnetLink::parse(&format!(
            "{base}&x.pe=192.0.2.7:6881&x.pe=%5B2001%3Adb8%3A%3A1%5D%3A51413&x.pe=[::1]:1\
             &x.pe=Peer-1.example_host.org:65535"
        ))
        .unwrap();
        assert_eq!(
            link.peers,
            [
                PeerAddr::Ip(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::new(192, 0, 2, 7),
                    6881
                ))),
                PeerAddr::Ip(SocketAddr::V6(SocketAddrV6::new(
                    "2001:db8::1".parse().unwrap(),
                    51413,
                    0,
                    0
                ))),
                PeerAddr::Ip(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::LOCALHOST,
                    1,
                    0,
                    0
                ))),
                PeerAddr::Host {
                    host: "Peer-1.example_host.org".into(),
                    port: 65535
                },
            ]
        );
        let shown: Vec<String> = link.peers.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            shown,
            [
                "192.0.2.7:6881",
                "[2001:db8::1]:51413",
                "[::1]:1",
                "Peer-1.example_host.org:65535"
            ]
        );
        assert_eq!(link.peers[1].port(), 51413);
    }

    #[test]
    fn limits() {
        let base = format!("magnet:?xt=urn:btih:{HEX}");
        let long = format!("{base}&dn={}", "a".repeat(MAX_URI_LEN));
        assert_eq!(
            MagnetLink::parse(&long),
            Err(MagnetError::TooLong {
                len: long.len(),
                max: MAX_URI_LEN
            })
        );
        let trackers = "&tr=u".repeat(MAX_TRACKERS);
        assert_eq!(
            MagnetLink::parse(&format!("{base}{trackers}"))
                .unwrap()
                .trackers
                .len(),
            MAX_TRACKERS
        );
        assert_eq!(
            MagnetLink::parse(&format!("{base}{trackers}&tr=u")),
            Err(MagnetError::TooManyTrackers { max: MAX_TRACKERS })
        );
        let peers = "&x.pe=a:1".repeat(MAX_PEERS);
        assert!(MagnetLink::parse(&format!("{base}{peers}")).is_ok());
        assert_eq!(
            MagnetLink::parse(&format!("{base}{peers}&x.pe=a:1")),
            Err(MagnetError::TooManyPeers { max: MAX_PEERS })
        );
        let so = vec!["1"; MAX_SELECT_ONLY].join(",");
        assert!(MagnetLink::parse(&format!("{base}&so={so}")).is_ok());
        assert_eq!(
            MagnetLink::parse(&format!("{base}&so={so}&so=2")),
            Err(MagnetError::TooManySelectOnly {
                max: MAX_SELECT_ONLY
            })
        );
        let host = "a".repeat(MAX_HOST_LEN + 1);
        assert!(MagnetLink::parse(&format!("{base}&x.pe={host}:1")).is_err());
    }

    #[test]
    fn canonical_format() {
        let link = MagnetLink {
            info_hash: hash(),
            display_name: Some("Ünïcode & more+stuff ~ok".into()),
            trackers: vec!["udp://t.example:80/announce".into(), String::new()],
            peers: vec![
                "[::1]:5".parse().unwrap(),
                PeerAddr::Host {
                    host: "h".into(),
                    port: 7,
                },
            ],
            select_only: vec![3..=3, 5..=9],
        };
        assert_eq!(
            link.to_uri(),
            format!(
                "magnet:?xt=urn:btih:{HEX}&dn=%C3%9Cn%C3%AFcode%20%26%20more%2Bstuff%20~ok\
                 &tr=udp%3A%2F%2Ft.example%3A80%2Fannounce&x.pe=%5B%3A%3A1%5D%3A5&x.pe=h%3A7\
                 &so=3,5-9"
            )
        );
        let back: MagnetLink = link.to_uri().parse().unwrap();
        assert_eq!(back.display_name, link.display_name);
        assert_eq!(back.trackers, ["udp://t.example:80/announce"]);
        assert_eq!(back.peers, link.peers);
        assert_eq!(back.select_only, link.select_only);
    }

    #[test]
    fn error_display_is_informative() {
        let err =
            MagnetLink::parse(&format!("magnet:?xt=urn:btih:{HEX}&x.pe=\u{7}bad")).unwrap_err();
        // Control characters are escaped, long values are cut.
        assert!(err.to_string().contains("\\u{7}bad"), "{err}");
        let long = "z".repeat(1000);
        let err = MagnetLink::parse(&format!("magnet:?xt=urn:btih:{long}")).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
        let _: &dyn std::error::Error = &err;
    }

    fn arb_peer() -> impl Strategy<Value = PeerAddr> {
        let v4 = (any::<[u8; 4]>(), 1u16..).prop_map(|(ip, port)| {
            PeerAddr::Ip(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        });
        let v6 = (any::<[u8; 16]>(), 1u16..).prop_map(|(ip, port)| {
            PeerAddr::Ip(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                0,
                0,
            )))
        });
        let host = (
            "[a-zA-Z_][a-zA-Z0-9_-]{0,20}(\\.[a-zA-Z0-9_-]{1,10}){0,3}\\.[a-zA-Z][a-zA-Z0-9-]{0,5}",
            1u16..,
        )
            .prop_map(|(host, port)| PeerAddr::Host { host, port });
        prop_oneof![v4, v6, host]
    }

    fn arb_link() -> impl Strategy<Value = MagnetLink> {
        (
            any::<[u8; 20]>(),
            proptest::option::of(any::<String>()),
            proptest::collection::vec(".+", 0..4),
            proptest::collection::vec(arb_peer(), 0..4),
            proptest::collection::vec((any::<u32>(), 0u32..100), 0..6),
        )
            .prop_map(|(hash, display_name, trackers, peers, so)| MagnetLink {
                info_hash: InfoHash(hash),
                display_name,
                trackers,
                peers,
                select_only: so
                    .into_iter()
                    .map(|(start, extra)| start..=start.saturating_add(extra))
                    .collect(),
            })
    }

    proptest! {
        #[test]
        fn round_trip(link in arb_link()) {
            let uri = link.to_uri();
            prop_assert!(uri.is_ascii());
            prop_assert_eq!(MagnetLink::parse(&uri), Ok(link));
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = MagnetLink::parse(&text);
            let _ = text.parse::<PeerAddr>();
        }

        #[test]
        fn magnet_shaped_text_never_panics(
            params in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("xt"), Just("xt.1"), Just("dn"), Just("tr"), Just("tr.2"),
                        Just("x.pe"), Just("so"), Just("zz"), Just(""),
                    ],
                    prop_oneof![
                        "[%0-9a-fA-F+,:\\[\\]-]{0,12}",
                        "urn:btih:[0-9a-zA-Z%]{30,42}",
                        "urn:btmh:[0-9a-f]{0,10}",
                        any::<String>(),
                    ],
                ),
                0..8,
            )
        ) {
            let mut uri = String::from("magnet:?");
            for (key, value) in params {
                uri.push_str(key);
                uri.push('=');
                uri.push_str(&value);
                uri.push('&');
            }
            if let Ok(link) = MagnetLink::parse(&uri) {
                // Whatever parses re-formats to something that parses the same.
                prop_assert_eq!(MagnetLink::parse(&link.to_uri()), Ok(link));
            }
        }
    }
}

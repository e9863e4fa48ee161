//! Announce responses: the bencoded dictionary a tracker answers with.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;

use super::url::is_host_name;
use super::{
    bounded_text, HttpResponse, HttpTrackerError, DEFAULT_INTERVAL, MAX_BODY_LEN, MAX_INTERVAL,
    MAX_PEERS, MIN_INTERVAL,
};
use crate::bencode::{self, Dict, Limits, Node};
use crate::id::PeerId;

/// Longest `failure reason` or `warning message` kept, in characters.
pub(super) const MAX_MESSAGE_CHARS: usize = 1024;

/// Longest `tracker id` kept, in bytes; a longer one is ignored.
const MAX_TRACKER_ID_LEN: usize = 256;

/// A peer with an IP address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The peer's id, when the tracker sent a dictionary peer list with a
    /// 20-byte `peer id` (never in compact lists).
    pub peer_id: Option<PeerId>,
}

/// A peer the tracker named by host name, which the driver must resolve.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPeer {
    /// The host name, as sent.
    pub host: String,
    /// The port, never 0.
    pub port: u16,
    /// The peer's id, if the tracker sent a 20-byte one.
    pub peer_id: Option<PeerId>,
}

/// A successful announce response.
///
/// Peers come from `peers` (compact BEP 23 string or BEP 3 list of
/// dictionaries) and `peers6` (compact BEP 7 string), in that order, at most
/// [`MAX_PEERS`] of them in all. Entries with port 0, an unspecified address
/// (`0.0.0.0`, `::`), or a malformed `ip` or `port`, and those beyond the
/// limit, are counted in [`skipped`](Self::skipped) instead.
///
/// ```
/// use sluice_core::tracker::http::{AnnounceResponse, HttpTrackerError};
///
/// let body = b"d8:completei5e10:incompletei3e8:intervali900e12:min intervali60e\
///              5:peersld2:ip9:127.0.0.14:porti6881eed2:ip12:peer.example4:porti51413eee\
///              6:peers618:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x1a\xe1e";
/// let r = AnnounceResponse::parse(body).unwrap();
/// assert_eq!((r.interval.as_secs(), r.min_interval.map(|d| d.as_secs())), (900, Some(60)));
/// assert_eq!((r.complete, r.incomplete), (Some(5), Some(3)));
/// let addrs: Vec<String> = r.addrs().map(|a| a.to_string()).collect();
/// assert_eq!(addrs, ["127.0.0.1:6881", "[2001:db8::1]:6881"]);
/// assert_eq!(r.hosts[0].host, "peer.example");
///
/// let refused = AnnounceResponse::parse(b"d14:failure reason12:unregisterede");
/// assert!(matches!(refused, Err(HttpTrackerError::Failure { reason, .. }) if reason == "unregistered"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// Seconds to wait before the next regular announce: `interval`, clamped
    /// to [`MIN_INTERVAL`]..=[`MAX_INTERVAL`], [`DEFAULT_INTERVAL`] if absent
    /// or not an integer.
    pub interval: Duration,
    /// The shortest wait the tracker tolerates (`min interval`), clamped the
    /// same way.
    pub min_interval: Option<Duration>,
    /// `tracker id`, to send back as `trackerid` in later announces.
    pub tracker_id: Option<Vec<u8>>,
    /// Seeders (`complete`), if sent and not negative.
    pub complete: Option<u32>,
    /// Leechers (`incomplete`), if sent and not negative.
    pub incomplete: Option<u32>,
    /// `warning message`, lossily decoded as UTF-8, at most 1024 characters.
    pub warning: Option<String>,
    /// Peers with IPv4 or IPv6 addresses.
    pub peers: Vec<Peer>,
    /// Peers named by host name (dictionary peer lists only).
    pub hosts: Vec<HostPeer>,
    /// Peer entries left out: malformed, port 0, unspecified address, or
    /// beyond [`MAX_PEERS`].
    pub skipped: usize,
}

impl AnnounceResponse {
    /// Parses a bencoded announce response body (at most [`MAX_BODY_LEN`]
    /// bytes; ASCII whitespace after the dictionary is tolerated).
    ///
    /// A `failure reason` makes it [`HttpTrackerError::Failure`]. `peers` and
    /// `peers6` are optional (a response without them has no peers), but
    /// when present must have the right type, and a compact string must be a
    /// whole number of entries ([`HttpTrackerError::BadCompactLength`]).
    /// Other keys with a wrong type are ignored.
    pub fn parse(body: &[u8]) -> Result<AnnounceResponse, HttpTrackerError> {
        let root = decode_body(body)?;
        let dict = root.as_dict().ok_or(HttpTrackerError::NotADictionary)?;
        check_failure(dict)?;
        let mut response = AnnounceResponse {
            interval: dict
                .get(b"interval")
                .and_then(Node::as_int)
                .map_or(DEFAULT_INTERVAL, clamp_interval),
            min_interval: dict
                .get(b"min interval")
                .and_then(Node::as_int)
                .map(clamp_interval),
            tracker_id: dict
                .get(b"tracker id")
                .and_then(Node::as_bytes)
                .filter(|id| id.len() <= MAX_TRACKER_ID_LEN)
                .map(<[u8]>::to_vec),
            complete: count(dict, b"complete"),
            incomplete: count(dict, b"incomplete"),
            warning: dict
                .get(b"warning message")
                .and_then(Node::as_bytes)
                .map(|m| bounded_text(m, MAX_MESSAGE_CHARS)),
            peers: Vec::new(),
            hosts: Vec::new(),
            skipped: 0,
        };
        if let Some(peers) = dict.get(b"peers") {
            match &peers.value {
                bencode::Value::Bytes(compact) => response.compact::<6>("peers", compact)?,
                bencode::Value::List(items) => {
                    for item in items {
                        response.dict_peer(item);
                    }
                }
                _ => {
                    return Err(HttpTrackerError::BadField {
                        key: "peers",
                        expected: "a byte string or a list",
                    })
                }
            }
        }
        if let Some(peers6) = dict.get(b"peers6") {
            let compact = peers6.as_bytes().ok_or(HttpTrackerError::BadField {
                key: "peers6",
                expected: "a byte string",
            })?;
            response.compact::<18>("peers6", compact)?;
        }
        Ok(response)
    }

    /// Checks the HTTP status, then parses the body.
    ///
    /// A status other than 200 is an error, but its body is still read:
    /// many trackers send a bencoded `failure reason` with a 4xx status,
    /// which is the more useful error to report. A 3xx with a `Location`
    /// header is [`HttpTrackerError::Redirect`].
    pub fn from_http(response: &HttpResponse) -> Result<AnnounceResponse, HttpTrackerError> {
        check_status(response)?;
        AnnounceResponse::parse(&response.body)
    }

    /// The addresses of [`peers`](Self::peers), for
    /// [`Torrent::add_peers`](crate::torrent::Torrent::add_peers).
    pub fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.peers.iter().map(|p| p.addr)
    }

    fn room(&self) -> bool {
        self.peers.len() + self.hosts.len() < MAX_PEERS
    }

    fn push(&mut self, addr: SocketAddr, peer_id: Option<PeerId>) {
        if addr.port() == 0 || addr.ip().is_unspecified() || !self.room() {
            self.skipped += 1;
        } else {
            self.peers.push(Peer { addr, peer_id });
        }
    }

    /// Adds the entries of a compact string of `N`-byte entries (6: IPv4,
    /// 18: IPv6), each an address and a port in network byte order. `N` is
    /// only ever 6 or 18.
    fn compact<const N: usize>(
        &mut self,
        key: &'static str,
        bytes: &[u8],
    ) -> Result<(), HttpTrackerError> {
        if bytes.len() % N != 0 {
            return Err(HttpTrackerError::BadCompactLength {
                key,
                len: bytes.len(),
            });
        }
        for entry in bytes.chunks_exact(N) {
            // `entry` is exactly N bytes: the address, then the port.
            let ip = if N == 6 {
                IpAddr::V4(Ipv4Addr::new(entry[0], entry[1], entry[2], entry[3]))
            } else {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&entry[..16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            let port = u16::from_be_bytes([entry[N - 2], entry[N - 1]]);
            self.push(SocketAddr::new(ip, port), None);
        }
        Ok(())
    }

    /// Adds one entry of a BEP 3 dictionary peer list.
    fn dict_peer(&mut self, item: &Node<'_>) {
        let Some(d) = item.as_dict() else {
            self.skipped += 1;
            return;
        };
        let port = d
            .get(b"port")
            .and_then(Node::as_int)
            .and_then(|p| u16::try_from(p).ok());
        let ip = d.get(b"ip").and_then(Node::as_str);
        let peer_id = d
            .get(b"peer id")
            .and_then(Node::as_bytes)
            .and_then(|id| <[u8; 20]>::try_from(id).ok())
            .map(PeerId);
        let (Some(ip), Some(port)) = (ip, port) else {
            self.skipped += 1;
            return;
        };
        let literal = ip.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
        if let Ok(addr) = literal.unwrap_or(ip).parse::<IpAddr>() {
            self.push(SocketAddr::new(addr, port), peer_id);
        } else if port != 0 && is_host_name(ip) && self.room() {
            self.hosts.push(HostPeer {
                host: ip.to_owned(),
                port,
                peer_id,
            });
        } else {
            self.skipped += 1;
        }
    }
}

/// Bencode limits for tracker bodies: shallow, and no string larger than
/// the body itself could hold.
fn limits() -> Limits {
    Limits {
        max_depth: 16,
        max_string_len: MAX_BODY_LEN,
        max_values: 1 << 20,
    }
}

/// Decodes a response body, tolerating trailing ASCII whitespace (some
/// trackers end their body with a newline).
pub(super) fn decode_body(body: &[u8]) -> Result<Node<'_>, HttpTrackerError> {
    if body.len() > MAX_BODY_LEN {
        return Err(HttpTrackerError::BodyTooLarge);
    }
    let end = body
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    Ok(bencode::decode_with(&body[..end], limits())?)
}

/// A `failure reason` as an error (with BEP 31's `retry in`).
pub(super) fn check_failure(dict: &Dict<'_>) -> Result<(), HttpTrackerError> {
    let Some(reason) = dict.get(b"failure reason") else {
        return Ok(());
    };
    let reason = match reason.as_bytes() {
        Some(text) => bounded_text(text, MAX_MESSAGE_CHARS),
        None => String::from("(no reason given)"),
    };
    let retry_in_minutes = dict
        .get(b"retry in")
        .and_then(Node::as_int)
        .and_then(|m| u32::try_from(m).ok());
    Err(HttpTrackerError::Failure {
        reason,
        retry_in_minutes,
    })
}

/// Status handling shared by announce and scrape: 200 is fine; otherwise a
/// bencoded failure in the body wins, then a redirect, then the status.
pub(super) fn check_status(response: &HttpResponse) -> Result<(), HttpTrackerError> {
    if response.status == 200 {
        return Ok(());
    }
    if let Ok(root) = decode_body(&response.body) {
        if let Some(dict) = root.as_dict() {
            check_failure(dict)?;
        }
    }
    if (300..400).contains(&response.status) {
        if let Some(location) = response.header("location") {
            return Err(HttpTrackerError::Redirect {
                status: response.status,
                location: bounded_text(location, super::MAX_URL_LEN),
            });
        }
    }
    Err(HttpTrackerError::Status {
        status: response.status,
        reason: response.reason.clone(),
    })
}

/// Clamps a tracker interval in seconds to the honoured range.
fn clamp_interval(seconds: i64) -> Duration {
    let min = MIN_INTERVAL.as_secs() as i64;
    let max = MAX_INTERVAL.as_secs() as i64;
    Duration::from_secs(seconds.clamp(min, max) as u64)
}

/// A non-negative counter, saturated to `u32`.
pub(super) fn count(dict: &Dict<'_>, key: &[u8]) -> Option<u32> {
    let n = dict.get(key)?.as_int()?;
    (n >= 0).then(|| u32::try_from(n).unwrap_or(u32::MAX))
}

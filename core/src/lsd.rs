//! Local Service Discovery (BEP 14): finding peers on the local network by
//! HTTP-over-UDP-multicast announces.
//!
//! Two layers, both free of I/O:
//!
//! * the codec, [`Announce::parse`] and [`Announce::encode`], for the
//!   `BT-SEARCH` datagram;
//! * [`Lsd`], a state machine that decides when to announce which torrents
//!   and turns received announces into peers.
//!
//! A driver joins the multicast group of one [`Group`], then runs this loop
//! with one [`Lsd`] per group:
//!
//! 1. tell it the torrents with [`Lsd::set_torrents`] whenever they change;
//! 2. feed each received datagram to [`Lsd::handle_datagram`] and connect to
//!    the peers it returns;
//! 3. call [`Lsd::handle_timeout`] once [`Lsd::poll_timeout`] is reached, and
//!    send everything [`Lsd::poll_transmit`] returns to
//!    [`Group::destination`].
//!
//! Private torrents (BEP 27) are never announced, and announces for them are
//! never turned into peers.
//!
//! ```
//! use sluice_core::lsd::{Group, Lsd};
//! use sluice_core::{InfoHash, Rng, Time};
//!
//! let hash = InfoHash([7; 20]);
//! let mut a = Lsd::new(Group::V4, 6881, &mut Rng::new(1));
//! let mut b = Lsd::new(Group::V4, 51413, &mut Rng::new(2));
//! a.set_torrents(Time::ZERO, &[(hash, false)]);
//! b.set_torrents(Time::ZERO, &[(hash, false)]);
//!
//! let datagram = a.poll_transmit().expect("a new torrent is announced at once");
//! // a hears its own announce on the loopback and ignores it...
//! assert!(a.handle_datagram(Time::ZERO, "192.168.1.2:6771".parse().unwrap(), &datagram).is_none());
//! // ...b learns a peer: the sender's address with the announced port.
//! let found = b
//!     .handle_datagram(Time::ZERO, "192.168.1.2:6771".parse().unwrap(), &datagram)
//!     .unwrap();
//! assert_eq!(found.info_hashes, vec![hash]);
//! assert_eq!(found.peer, "192.168.1.2:6881".parse().unwrap());
//! ```

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use core::time::Duration;
use std::collections::BTreeMap;

use crate::id::{encode_hex, InfoHash};
use crate::rng::Rng;
use crate::time::Time;

/// The UDP port of both multicast groups.
pub const LSD_PORT: u16 = 6771;

/// The org-local IPv4 group, `239.192.152.143:6771`.
pub const MULTICAST_V4: SocketAddrV4 =
    SocketAddrV4::new(Ipv4Addr::new(239, 192, 152, 143), LSD_PORT);

/// The site-local IPv6 group, `[ff15::efc0:988f]:6771`.
pub const MULTICAST_V6: SocketAddrV6 = SocketAddrV6::new(
    Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0xefc0, 0x988f),
    LSD_PORT,
    0,
    0,
);

/// The largest datagram we build or accept, per BEP 14's advice against
/// fragmentation.
pub const MAX_DATAGRAM: usize = 1400;

/// The most info-hashes one announce may carry, built or parsed.
///
/// With the longest cookie we build ([`MAX_COOKIE_LEN`]) and the IPv6 host,
/// this many still fit in [`MAX_DATAGRAM`].
pub const MAX_INFO_HASHES: usize = 24;

/// The longest cookie [`Announce::encode`] writes.
pub const MAX_COOKIE_LEN: usize = 64;

/// How often each torrent is announced (BEP 14: every 5 minutes).
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The least time between two datagrams we send (BEP 14: no more than one
/// announce per minute).
pub const MIN_SEND_GAP: Duration = Duration::from_secs(60);

/// How many received datagrams [`Lsd::handle_datagram`] examines per second;
/// the rest are dropped unread.
pub const MAX_RECEIVED_PER_SECOND: u32 = 64;

const REQUEST_LINE: &[u8] = b"BT-SEARCH * HTTP/1.1";

/// Which multicast group, and so which `Host` header, an announce is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// `239.192.152.143:6771`.
    V4,
    /// `[ff15::efc0:988f]:6771`.
    V6,
}

impl Group {
    /// The group's multicast address and port: where announces are sent.
    pub fn destination(self) -> SocketAddr {
        match self {
            Group::V4 => SocketAddr::V4(MULTICAST_V4),
            Group::V6 => SocketAddr::V6(MULTICAST_V6),
        }
    }

    /// The `Host` header value naming this group.
    pub fn host(self) -> &'static str {
        match self {
            Group::V4 => "239.192.152.143:6771",
            Group::V6 => "[ff15::efc0:988f]:6771",
        }
    }

    fn of_host(value: &[u8]) -> Option<Group> {
        let text = core::str::from_utf8(value).ok()?;
        match text.parse::<SocketAddr>().ok()? {
            SocketAddr::V4(a) if a == MULTICAST_V4 => Some(Group::V4),
            SocketAddr::V6(a) if a.ip() == MULTICAST_V6.ip() && a.port() == LSD_PORT => {
                Some(Group::V6)
            }
            _ => None,
        }
    }
}

/// Why a datagram is not an announce, or an announce cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Longer than [`MAX_DATAGRAM`] bytes.
    TooLarge,
    /// The first line is not exactly `BT-SEARCH * HTTP/1.1`.
    BadRequestLine,
    /// A header line without a colon or with an empty name.
    MalformedHeader,
    /// No `Host` header.
    MissingHost,
    /// More than one `Host`, `Port` or `cookie` header.
    DuplicateHeader,
    /// No `Port` header.
    MissingPort,
    /// A port that is not a decimal number in 1–65535.
    BadPort,
    /// An `Infohash` value that is not 40 hex digits.
    BadInfoHash,
    /// No `Infohash` header.
    NoInfoHash,
    /// More than [`MAX_INFO_HASHES`] info-hashes.
    TooManyInfoHashes,
    /// A cookie we would not write: empty, longer than [`MAX_COOKIE_LEN`], or
    /// with bytes outside visible ASCII.
    BadCookie,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::TooLarge => "LSD datagram too large",
            Error::BadRequestLine => "not a BT-SEARCH request",
            Error::MalformedHeader => "malformed LSD header",
            Error::MissingHost => "LSD announce without Host",
            Error::DuplicateHeader => "repeated LSD header",
            Error::MissingPort => "LSD announce without Port",
            Error::BadPort => "bad LSD port",
            Error::BadInfoHash => "bad LSD info-hash",
            Error::NoInfoHash => "LSD announce without Infohash",
            Error::TooManyInfoHashes => "too many info-hashes in LSD announce",
            Error::BadCookie => "bad LSD cookie",
        };
        f.write_str(text)
    }
}

impl std::error::Error for Error {}

/// One `BT-SEARCH` announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// The group the `Host` header names; `None` when it names something else
    /// (the announce is still usable).
    pub group: Option<Group>,
    /// The port the sender listens on for BitTorrent connections.
    pub port: u16,
    /// The torrents announced, in order, 1 to [`MAX_INFO_HASHES`] of them.
    pub info_hashes: Vec<InfoHash>,
    /// The sender's opaque cookie, trimmed, if it sent one.
    pub cookie: Option<Vec<u8>>,
}

impl Announce {
    /// Parses one datagram.
    ///
    /// The request line must be exactly `BT-SEARCH * HTTP/1.1`. Header names
    /// are case-insensitive, values are trimmed of spaces and tabs, lines may
    /// end in `\r\n` or a bare `\n`, and unknown headers are ignored. Headers
    /// end at the first empty line or at the end of the datagram.
    pub fn parse(bytes: &[u8]) -> Result<Announce, Error> {
        if bytes.len() > MAX_DATAGRAM {
            return Err(Error::TooLarge);
        }
        let mut lines = bytes.split(|&b| b == b'\n').map(|line| match line {
            [rest @ .., b'\r'] => rest,
            _ => line,
        });
        if lines.next() != Some(REQUEST_LINE) {
            return Err(Error::BadRequestLine);
        }
        let mut group = None;
        let mut seen_host = false;
        let mut port = None;
        let mut cookie = None;
        let mut info_hashes = Vec::new();
        for line in lines {
            if line.is_empty() {
                break;
            }
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .ok_or(Error::MalformedHeader)?;
            let name = trim(&line[..colon]);
            let value = trim(&line[colon + 1..]);
            if name.is_empty() {
                return Err(Error::MalformedHeader);
            }
            if name.eq_ignore_ascii_case(b"host") {
                if seen_host {
                    return Err(Error::DuplicateHeader);
                }
                seen_host = true;
                group = Group::of_host(value);
            } else if name.eq_ignore_ascii_case(b"port") {
                if port.is_some() {
                    return Err(Error::DuplicateHeader);
                }
                port = Some(parse_port(value)?);
            } else if name.eq_ignore_ascii_case(b"infohash") {
                if info_hashes.len() == MAX_INFO_HASHES {
                    return Err(Error::TooManyInfoHashes);
                }
                info_hashes.push(parse_info_hash(value)?);
            } else if name.eq_ignore_ascii_case(b"cookie") {
                if cookie.is_some() {
                    return Err(Error::DuplicateHeader);
                }
                cookie = Some(value.to_vec());
            }
        }
        if !seen_host {
            return Err(Error::MissingHost);
        }
        let port = port.ok_or(Error::MissingPort)?;
        if info_hashes.is_empty() {
            return Err(Error::NoInfoHash);
        }
        Ok(Announce {
            group,
            port,
            info_hashes,
            cookie,
        })
    }

    /// Builds the datagram for `group`: the request line, `Host`, `Port`, one
    /// `Infohash` line per torrent (lowercase hex), `cookie` if any, then the
    /// two empty lines BEP 14 shows.
    pub fn encode(&self, group: Group) -> Result<Vec<u8>, Error> {
        if self.port == 0 {
            return Err(Error::BadPort);
        }
        if self.info_hashes.is_empty() {
            return Err(Error::NoInfoHash);
        }
        if self.info_hashes.len() > MAX_INFO_HASHES {
            return Err(Error::TooManyInfoHashes);
        }
        if let Some(cookie) = &self.cookie {
            if !is_valid_cookie(cookie) {
                return Err(Error::BadCookie);
            }
        }
        let mut out = Vec::with_capacity(160 + 52 * self.info_hashes.len());
        out.extend_from_slice(REQUEST_LINE);
        out.extend_from_slice(b"\r\nHost: ");
        out.extend_from_slice(group.host().as_bytes());
        out.extend_from_slice(b"\r\nPort: ");
        out.extend_from_slice(self.port.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        for hash in &self.info_hashes {
            out.extend_from_slice(b"Infohash: ");
            out.extend_from_slice(encode_hex(&hash.0).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(cookie) = &self.cookie {
            out.extend_from_slice(b"cookie: ");
            out.extend_from_slice(cookie);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n\r\n");
        debug_assert!(out.len() <= MAX_DATAGRAM);
        if out.len() > MAX_DATAGRAM {
            return Err(Error::TooLarge);
        }
        Ok(out)
    }
}

/// Whether [`Announce::encode`] accepts `cookie`: 1 to [`MAX_COOKIE_LEN`]
/// bytes of visible ASCII (no spaces).
pub fn is_valid_cookie(cookie: &[u8]) -> bool {
    !cookie.is_empty()
        && cookie.len() <= MAX_COOKIE_LEN
        && cookie.iter().all(|b| (0x21..=0x7e).contains(b))
}

fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

fn parse_port(value: &[u8]) -> Result<u16, Error> {
    if value.is_empty() || value.len() > 5 || !value.iter().all(u8::is_ascii_digit) {
        return Err(Error::BadPort);
    }
    let n = value
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    match u16::try_from(n) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(Error::BadPort),
    }
}

fn parse_info_hash(value: &[u8]) -> Result<InfoHash, Error> {
    if value.len() != 40 {
        return Err(Error::BadInfoHash);
    }
    let mut out = [0u8; 20];
    for (byte, pair) in out.iter_mut().zip(value.chunks_exact(2)) {
        let hi = hex_digit(pair[0]).ok_or(Error::BadInfoHash)?;
        let lo = hex_digit(pair[1]).ok_or(Error::BadInfoHash)?;
        *byte = hi << 4 | lo;
    }
    Ok(InfoHash(out))
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Peers learnt from one announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// Where the sender listens: its UDP source address with the announced
    /// port.
    pub peer: SocketAddr,
    /// The announced torrents that we run (never private ones), without
    /// repeats, in the announce's order.
    pub info_hashes: Vec<InfoHash>,
}

/// What [`Lsd`] did with the datagrams it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to [`Lsd::handle_datagram`].
    pub received: u64,
    /// Dropped unread by the receive rate guard.
    pub rate_limited: u64,
    /// Not a valid announce.
    pub malformed: u64,
    /// Our own announces, heard back.
    pub own: u64,
    /// Valid announces for no torrent of ours.
    pub irrelevant: u64,
    /// Announces that yielded peers.
    pub useful: u64,
    /// Datagrams built for sending.
    pub sent: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Still in the last [`Lsd::set_torrents`] list; inactive entries are
    /// kept until their last announce is [`ANNOUNCE_INTERVAL`] old, so that
    /// removing and re-adding a torrent does not announce it early.
    active: bool,
    last_announced: Option<Time>,
}

impl Entry {
    fn due(&self) -> Time {
        match self.last_announced {
            Some(t) => t + ANNOUNCE_INTERVAL,
            None => Time::ZERO,
        }
    }
}

/// The LSD state machine for one multicast group.
///
/// Sends at most one datagram per [`MIN_SEND_GAP`], announces each torrent at
/// most once per [`ANNOUNCE_INTERVAL`], packs up to [`MAX_INFO_HASHES`]
/// torrents into one datagram (most overdue first), and examines at most
/// [`MAX_RECEIVED_PER_SECOND`] received datagrams per second.
#[derive(Debug, Clone)]
pub struct Lsd {
    group: Group,
    port: u16,
    cookie: Vec<u8>,
    torrents: BTreeMap<InfoHash, Entry>,
    last_sent: Option<Time>,
    pending: Option<Vec<u8>>,
    rx_window: Time,
    rx_count: u32,
    stats: Stats,
}

impl Lsd {
    /// A state machine announcing that we listen on `port` (0 is treated as
    /// 1, as no announce may carry port 0), with a random 16-hex-digit
    /// cookie drawn from `rng`.
    pub fn new(group: Group, port: u16, rng: &mut Rng) -> Lsd {
        let cookie = encode_hex(&rng.next_u64().to_be_bytes()).into_bytes();
        Lsd {
            group,
            port: port.max(1),
            cookie,
            torrents: BTreeMap::new(),
            last_sent: None,
            pending: None,
            rx_window: Time::ZERO,
            rx_count: 0,
            stats: Stats::default(),
        }
    }

    /// The group this machine announces to.
    pub fn group(&self) -> Group {
        self.group
    }

    /// The cookie our announces carry.
    pub fn cookie(&self) -> &[u8] {
        &self.cookie
    }

    /// Counters of what happened so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Replaces the set of torrents we run: `(info_hash, private)` pairs.
    ///
    /// Private torrents are dropped: never announced, never matched. A torrent
    /// kept from the previous set keeps its schedule; a new one is announced
    /// as soon as the send gap allows, unless it was announced less than
    /// [`ANNOUNCE_INTERVAL`] ago.
    pub fn set_torrents(&mut self, now: Time, torrents: &[(InfoHash, bool)]) {
        for entry in self.torrents.values_mut() {
            entry.active = false;
        }
        for &(hash, private) in torrents {
            if private {
                continue;
            }
            self.torrents
                .entry(hash)
                .or_insert(Entry {
                    active: true,
                    last_announced: None,
                })
                .active = true;
        }
        self.torrents.retain(|_, e| {
            e.active
                || e.last_announced
                    .is_some_and(|t| now < t + ANNOUNCE_INTERVAL)
        });
        self.advance(now);
    }

    /// Whether `hash` is one of our (non-private) torrents.
    pub fn has_torrent(&self, hash: &InfoHash) -> bool {
        self.torrents.get(hash).is_some_and(|e| e.active)
    }

    /// Handles one received datagram from `from`.
    ///
    /// Returns the sender as a peer, with the announced torrents we run, or
    /// `None` for junk, our own announces, announces for other torrents, and
    /// anything beyond the receive rate guard.
    pub fn handle_datagram(
        &mut self,
        now: Time,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Option<Discovered> {
        self.stats.received += 1;
        if now.saturating_since(self.rx_window) >= Duration::from_secs(1) || now < self.rx_window {
            self.rx_window = now;
            self.rx_count = 0;
        }
        if self.rx_count >= MAX_RECEIVED_PER_SECOND {
            self.stats.rate_limited += 1;
            return None;
        }
        self.rx_count += 1;
        let Ok(announce) = Announce::parse(bytes) else {
            self.stats.malformed += 1;
            return None;
        };
        if announce.cookie.as_deref() == Some(&self.cookie[..]) {
            self.stats.own += 1;
            return None;
        }
        let mut info_hashes: Vec<InfoHash> = Vec::new();
        for hash in announce.info_hashes {
            if self.has_torrent(&hash) && !info_hashes.contains(&hash) {
                info_hashes.push(hash);
            }
        }
        if info_hashes.is_empty() {
            self.stats.irrelevant += 1;
            return None;
        }
        self.stats.useful += 1;
        let mut peer = from;
        peer.set_port(announce.port);
        Some(Discovered { peer, info_hashes })
    }

    /// Sends whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.advance(now);
    }

    /// The next datagram to send to [`Group::destination`], if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.pending.take()
    }

    /// When [`handle_timeout`](Lsd::handle_timeout) next has work: `None`
    /// with no torrents. Drain [`poll_transmit`](Lsd::poll_transmit) first.
    pub fn poll_timeout(&self) -> Option<Time> {
        let earliest = self
            .torrents
            .values()
            .filter(|e| e.active)
            .map(Entry::due)
            .min()?;
        Some(match self.last_sent {
            Some(last) => earliest.max(last + MIN_SEND_GAP),
            None => earliest,
        })
    }

    fn advance(&mut self, now: Time) {
        if self.pending.is_some() {
            return;
        }
        if self.last_sent.is_some_and(|last| now < last + MIN_SEND_GAP) {
            return;
        }
        let mut due: Vec<(Time, InfoHash)> = self
            .torrents
            .iter()
            .filter(|(_, e)| e.active && e.due() <= now)
            .map(|(h, e)| (e.due(), *h))
            .collect();
        if due.is_empty() {
            return;
        }
        due.sort_unstable();
        due.truncate(MAX_INFO_HASHES);
        let announce = Announce {
            group: Some(self.group),
            port: self.port,
            info_hashes: due.iter().map(|&(_, h)| h).collect(),
            cookie: Some(self.cookie.clone()),
        };
        let Ok(bytes) = announce.encode(self.group) else {
            return;
        };
        for (_, hash) in &due {
            if let Some(entry) = self.torrents.get_mut(hash) {
                entry.last_announced = Some(now);
            }
        }
        self.last_sent = Some(now);
        self.pending = Some(bytes);
        self.stats.sent += 1;
    }
}

#[cfg(test)]
mod tests;

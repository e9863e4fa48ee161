//! HTTP trackers: announce and scrape (BEP 3, BEP 23 compact peers, BEP 7
//! `peers6`), and just enough HTTP/1.1 to talk to them over a plain TCP socket.
//!
//! Nothing here touches the network. A driver:
//!
//! 1. parses the tracker's announce URL once with [`TrackerUrl::parse`]
//!    (only `http://` is accepted: HTTPS needs TLS, which the drivers do not
//!    have yet, and `udp://` trackers belong to [`super::udp`]);
//! 2. builds the announce URL with [`AnnounceRequest::url`] and the bytes to
//!    send with [`TrackerUrl::get_request`], then connects to
//!    [`TrackerUrl::host`] and [`TrackerUrl::port`];
//! 3. feeds everything it reads to [`HttpResponse::parse`] until it returns a
//!    response (`Connection: close` is always asked for, so reading to EOF is
//!    the simple way);
//! 4. hands that to [`AnnounceResponse::from_http`] (or
//!    [`ScrapeResponse::from_http`]), which checks the status and decodes the
//!    bencoded body.
//!
//! Every input is untrusted and bounded: URLs by [`MAX_URL_LEN`], response
//! heads by [`MAX_HEAD_LEN`], bodies by [`MAX_BODY_LEN`], peer lists by
//! [`MAX_PEERS`], intervals by [`MIN_INTERVAL`] and [`MAX_INTERVAL`]. Failures
//! are [`HttpTrackerError`]s; nothing here panics on what a tracker sends.
//!
//! ```
//! use sluice_core::tracker::http::{AnnounceRequest, AnnounceResponse, Event, HttpResponse, TrackerUrl};
//! use sluice_core::{InfoHash, PeerId};
//!
//! let tracker = TrackerUrl::parse("http://tracker.example:6969/announce").unwrap();
//! let mut req = AnnounceRequest::new(InfoHash([0xab; 20]), PeerId(*b"-SL0100-abcdefghijkl"), 6881);
//! req.left = 1000;
//! req.event = Some(Event::Started);
//! let url = req.url(&tracker);
//! assert!(url.to_string().starts_with("http://tracker.example:6969/announce?info_hash=%AB%AB"));
//! let bytes = url.get_request("sluice/0.1");
//! assert!(bytes.starts_with(b"GET /announce?info_hash=%AB"));
//!
//! // What the tracker sends back, read from the socket until EOF.
//! let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n\
//!               d8:intervali1800e5:peers12:\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x1a\xe2e";
//! let http = HttpResponse::parse(reply, true).unwrap().unwrap();
//! let announce = AnnounceResponse::from_http(&http).unwrap();
//! assert_eq!(announce.interval.as_secs(), 1800);
//! let addrs: Vec<_> = announce.addrs().map(|a| a.to_string()).collect();
//! assert_eq!(addrs, ["10.0.0.1:6881", "10.0.0.2:6882"]);
//! ```

use core::fmt::{self, Write as _};
use core::net::IpAddr;

use crate::bencode::DecodeError;
use crate::id::{InfoHash, PeerId};

mod announce;
mod response;
mod scrape;
mod url;

pub use announce::{AnnounceResponse, HostPeer, Peer};
pub use response::HttpResponse;
pub use scrape::{ScrapeResponse, ScrapeStats};
pub use url::{percent_encode, Host, TrackerUrl};

/// Longest URL [`TrackerUrl::parse`] accepts, in bytes.
pub const MAX_URL_LEN: usize = 8 * 1024;

/// Longest HTTP response head (status line and headers) accepted, in bytes.
pub const MAX_HEAD_LEN: usize = 16 * 1024;

/// Most header lines one HTTP response head may have.
pub const MAX_HEADERS: usize = 64;

/// Largest response body accepted, in bytes. Ten thousand compact peers take
/// 60 kB, so this leaves a wide margin for dictionary peer lists and scrapes.
pub const MAX_BODY_LEN: usize = 4 << 20;

/// Most peers one announce response yields (IPv4, IPv6 and host names
/// together); the rest are counted in [`AnnounceResponse::skipped`].
pub const MAX_PEERS: usize = 10_000;

/// Most torrents one scrape response yields; the rest are counted in
/// [`ScrapeResponse::skipped`].
pub const MAX_SCRAPE_FILES: usize = 10_000;

/// Most info-hashes one scrape request may ask about (each adds up to 70
/// bytes to the URL).
pub const MAX_SCRAPE_HASHES: usize = 64;

/// Shortest re-announce interval honoured: a smaller `interval` or
/// `min interval` from a tracker is raised to this.
pub const MIN_INTERVAL: core::time::Duration = core::time::Duration::from_secs(30);

/// Longest re-announce interval honoured: a larger `interval` or `min
/// interval` is lowered to this, so that a broken tracker cannot silence a
/// torrent for days.
pub const MAX_INTERVAL: core::time::Duration = core::time::Duration::from_secs(6 * 3600);

/// The interval used when a response has none (BEP 3 requires one, but not
/// every tracker sends it).
pub const DEFAULT_INTERVAL: core::time::Duration = core::time::Duration::from_secs(1800);

/// Why a tracker URL, request or response was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpTrackerError {
    /// A URL longer than [`MAX_URL_LEN`].
    UrlTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A URL that cannot be parsed; the text says which part is wrong.
    MalformedUrl(&'static str),
    /// An `https://` tracker: TLS is not supported yet.
    HttpsUnsupported,
    /// A `udp://` tracker: use the UDP tracker protocol in [`super::udp`].
    UdpScheme,
    /// A scheme other than `http`, `https` and `udp`.
    UnsupportedScheme(String),
    /// The announce URL's last path component is not `announce`, so by
    /// convention the tracker does not support scrape.
    ScrapeUnsupported,
    /// A scrape request for no info-hash or for more than [`MAX_SCRAPE_HASHES`].
    ScrapeHashCount(usize),
    /// The response head is longer than [`MAX_HEAD_LEN`] or has more than
    /// [`MAX_HEADERS`] lines.
    HeadTooLarge,
    /// The response body is longer than [`MAX_BODY_LEN`].
    BodyTooLarge,
    /// The bytes are not an HTTP/1.x response; the text says what is wrong.
    MalformedHttp(&'static str),
    /// A `Transfer-Encoding` or `Content-Encoding` other than chunked and
    /// identity (we always ask for identity).
    UnsupportedEncoding(String),
    /// The connection closed before the response was complete.
    Truncated,
    /// A redirect: the driver may retry at `location` (resolved against the
    /// request URL if it is relative).
    Redirect {
        /// The status code, 3xx.
        status: u16,
        /// The `Location` header, lossily decoded as UTF-8.
        location: String,
    },
    /// A status other than 200 whose body carries no `failure reason`.
    Status {
        /// The status code.
        status: u16,
        /// The reason phrase, lossily decoded as UTF-8.
        reason: String,
    },
    /// The body is not valid bencode.
    Bencode(DecodeError),
    /// The body is bencode but not a dictionary.
    NotADictionary,
    /// The tracker refused the request (`failure reason`).
    Failure {
        /// The tracker's message, lossily decoded as UTF-8 and shortened to
        /// at most 1024 characters.
        reason: String,
        /// BEP 31's `retry in`: minutes before trying again, if the tracker
        /// said (`None` also when it said "never").
        retry_in_minutes: Option<u32>,
    },
    /// A compact peer string (`peers` or `peers6`) whose length is not a
    /// multiple of the entry size (6 or 18). The whole response is refused:
    /// such a string means the tracker is broken and the addresses it holds
    /// cannot be trusted to be aligned.
    BadCompactLength {
        /// `"peers"` or `"peers6"`.
        key: &'static str,
        /// The string's length in bytes.
        len: usize,
    },
    /// A key whose value has the wrong type (`peers` that is an integer,
    /// `files` that is not a dictionary).
    BadField {
        /// The key.
        key: &'static str,
        /// What it should have been.
        expected: &'static str,
    },
}

impl fmt::Display for HttpTrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HttpTrackerError::*;
        match self {
            UrlTooLong { len } => {
                write!(
                    f,
                    "tracker URL is {len} bytes long, the limit is {MAX_URL_LEN}"
                )
            }
            MalformedUrl(what) => write!(f, "malformed tracker URL: {what}"),
            HttpsUnsupported => f.write_str("HTTPS trackers are not supported yet"),
            UdpScheme => f.write_str("udp:// trackers use the UDP tracker protocol, not HTTP"),
            UnsupportedScheme(s) => write!(f, "unsupported tracker URL scheme {s:?}"),
            ScrapeUnsupported => f.write_str(
                "tracker does not support scrape (announce URL does not end in /announce)",
            ),
            ScrapeHashCount(n) => write!(
                f,
                "a scrape asks about 1 to {MAX_SCRAPE_HASHES} torrents, not {n}"
            ),
            HeadTooLarge => write!(
                f,
                "HTTP response head exceeds {MAX_HEAD_LEN} bytes or {MAX_HEADERS} headers"
            ),
            BodyTooLarge => write!(f, "tracker response body exceeds {MAX_BODY_LEN} bytes"),
            MalformedHttp(what) => write!(f, "malformed HTTP response: {what}"),
            UnsupportedEncoding(e) => write!(f, "unsupported HTTP encoding {e:?}"),
            Truncated => f.write_str("connection closed before the HTTP response was complete"),
            Redirect { status, location } => {
                write!(f, "tracker redirects ({status}) to {location:?}")
            }
            Status { status, reason } => write!(f, "tracker answered HTTP {status} {reason}"),
            Bencode(e) => write!(f, "tracker response is not valid bencode: {e}"),
            NotADictionary => f.write_str("tracker response is not a bencoded dictionary"),
            Failure {
                reason,
                retry_in_minutes,
            } => {
                write!(f, "tracker refused the request: {reason}")?;
                match retry_in_minutes {
                    Some(m) => write!(f, " (retry in {m} minutes)"),
                    None => Ok(()),
                }
            }
            BadCompactLength { key, len } => write!(
                f,
                "compact {key:?} is {len} bytes long, not a multiple of {}",
                if *key == "peers6" { 18 } else { 6 }
            ),
            BadField { key, expected } => write!(f, "tracker response {key:?} is not {expected}"),
        }
    }
}

impl std::error::Error for HttpTrackerError {}

impl From<DecodeError> for HttpTrackerError {
    fn from(e: DecodeError) -> Self {
        HttpTrackerError::Bencode(e)
    }
}

/// The `event` of an announce (BEP 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The first announce of a download.
    Started,
    /// The download has just completed (not sent if it was complete at start).
    Completed,
    /// The client stops the torrent.
    Stopped,
    /// A regular announce. BEP 3 defines it as the same as no event, so it is
    /// not written into the URL at all (some trackers refuse `event=empty`).
    Empty,
}

impl Event {
    /// The value written after `event=`, or `None` for [`Event::Empty`].
    pub fn as_param(self) -> Option<&'static str> {
        match self {
            Event::Started => Some("started"),
            Event::Completed => Some("completed"),
            Event::Stopped => Some("stopped"),
            Event::Empty => None,
        }
    }
}

/// One announce: what a client tells the tracker (BEP 3, with BEP 7's `key`).
///
/// ```
/// use sluice_core::tracker::http::{AnnounceRequest, Event, TrackerUrl};
/// use sluice_core::{InfoHash, PeerId};
///
/// let tracker = TrackerUrl::parse("http://t.example/announce?passkey=abc").unwrap();
/// let mut req = AnnounceRequest::new(InfoHash([0; 20]), PeerId(*b"-SL0100-~._012345678"), 51413);
/// req.event = Some(Event::Stopped);
/// req.key = Some(0xdeadbeef);
/// let url = req.url(&tracker).to_string();
/// assert_eq!(
///     url,
///     "http://t.example/announce?passkey=abc\
///      &info_hash=%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00\
///      &peer_id=-SL0100-~._012345678&port=51413&uploaded=0&downloaded=0&left=0\
///      &compact=1&event=stopped&key=DEADBEEF"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Our peer id.
    pub peer_id: PeerId,
    /// The port we accept peer connections on.
    pub port: u16,
    /// Bytes uploaded since the `started` announce.
    pub uploaded: u64,
    /// Bytes downloaded since the `started` announce.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
    /// The event, if any; `None` (or [`Event::Empty`]) for a regular announce.
    pub event: Option<Event>,
    /// Ask for the compact peer list (BEP 23): `compact=1`, else `compact=0`.
    pub compact: bool,
    /// How many peers we would like; the tracker's default when `None`.
    pub numwant: Option<u32>,
    /// A value that stays the same for the torrent's session (BEP 7), sent
    /// as 8 uppercase hex digits.
    pub key: Option<u32>,
    /// The `tracker id` the tracker sent in an earlier response, echoed back
    /// as `trackerid`.
    pub tracker_id: Option<Vec<u8>>,
    /// Our address, for trackers that cannot see it (BEP 3's `ip`). BEP 7
    /// discourages it; leave `None` unless the tracker is on the same host.
    pub ip: Option<IpAddr>,
}

impl AnnounceRequest {
    /// A regular announce with zero counters, compact peers, no event and
    /// no optional parameters.
    pub fn new(info_hash: InfoHash, peer_id: PeerId, port: u16) -> Self {
        AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: None,
            compact: true,
            numwant: None,
            key: None,
            tracker_id: None,
            ip: None,
        }
    }

    /// The query parameters of this announce, `&`-separated, percent-encoded,
    /// in a fixed order: `info_hash`, `peer_id`, `port`, `uploaded`,
    /// `downloaded`, `left`, `compact`, then `event`, `numwant`, `key`,
    /// `trackerid` and `ip` when set.
    pub fn query(&self) -> String {
        let mut q = String::with_capacity(256);
        q.push_str("info_hash=");
        q.push_str(&percent_encode(&self.info_hash.0));
        q.push_str("&peer_id=");
        q.push_str(&percent_encode(&self.peer_id.0));
        // Writing to a String cannot fail.
        let _ = write!(
            q,
            "&port={}&uploaded={}&downloaded={}&left={}&compact={}",
            self.port,
            self.uploaded,
            self.downloaded,
            self.left,
            u8::from(self.compact)
        );
        if let Some(event) = self.event.and_then(Event::as_param) {
            q.push_str("&event=");
            q.push_str(event);
        }
        if let Some(n) = self.numwant {
            let _ = write!(q, "&numwant={n}");
        }
        if let Some(key) = self.key {
            let _ = write!(q, "&key={key:08X}");
        }
        if let Some(id) = &self.tracker_id {
            q.push_str("&trackerid=");
            q.push_str(&percent_encode(id));
        }
        if let Some(ip) = self.ip {
            q.push_str("&ip=");
            q.push_str(&percent_encode(ip.to_string().as_bytes()));
        }
        q
    }

    /// The announce URL: `tracker` with [`query`](Self::query) appended
    /// (after `&` when the tracker URL already has a query, as private
    /// trackers' passkeys often are).
    pub fn url(&self, tracker: &TrackerUrl) -> TrackerUrl {
        tracker.with_params(&self.query())
    }

    /// [`url`](Self::url) from the announce URL as text, for callers that
    /// have not parsed it.
    pub fn build_url(&self, announce: &str) -> Result<String, HttpTrackerError> {
        Ok(self.url(&TrackerUrl::parse(announce)?).to_string())
    }
}

/// Lossy UTF-8 of a tracker-supplied text, cut to at most `max` characters.
fn bounded_text(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(bytes).chars().take(max).collect()
}

#[cfg(test)]
mod body_tests;
#[cfg(test)]
mod tests;

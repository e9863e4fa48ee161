//! The announce manager of one torrent: which tracker to ask, when, with which
//! event (BEP 3, BEP 12 multitracker, BEP 27 private torrents).
//!
//! [`Announcer`] holds the torrent's tiers of tracker URLs, shuffled once
//! each, and announces to one tracker at a time: the first of the first tier
//! that is not backing off; on failure the next one in the tier, then the next
//! tier. A tracker that answers moves to the front of its tier and the next
//! regular announce waits for its interval (at least its `min interval` and
//! [`AnnouncerConfig::min_interval`]). A tracker that fails is skipped for
//! [`retry_base`](AnnouncerConfig::retry_base), doubled for each failure in a
//! row up to [`retry_max`](AnnouncerConfig::retry_max); when every tracker is
//! backing off the announce waits for the first to be usable again.
//!
//! It does no I/O. HTTP announces come out as [`Output::HttpGet`]: the
//! driver connects to `host:port`, writes `request`, reads to EOF and hands
//! the bytes (or its I/O error) to [`Announcer::http_response`]. UDP trackers
//! each get a [`UdpTrackerClient`](super::udp::UdpTrackerClient) inside the
//! announcer; their datagrams come out as [`Output::UdpSend`] naming the
//! tracker by the host and port of its URL. The driver resolves the host,
//! sends from one UDP socket, and hands back what arrives from that address
//! with [`Announcer::udp_datagram`], giving the same host and port and the
//! address it came from (its family decides how peers are decoded: an IPv6
//! tracker costs one extra connect exchange the first time). A failed lookup
//! or an unreachable tracker goes to [`Announcer::udp_error`], which fails
//! over at once instead of waiting for retransmissions.
//!
//! The run loop, with sockets and a clock in the driver:
//!
//! ```text
//! announcer.set_stats(up, down, left); announcer.start(now);
//! loop {
//!     while let Some(out) = announcer.poll() { execute(out) }   // GETs, datagrams, peers
//!     wait for an HTTP reply, a datagram, or announcer.poll_timeout()
//!     announcer.set_stats(up, down, left);
//!     announcer.http_response(now, id, Ok(&bytes)) / udp_datagram(..) / handle_timeout(now)
//! }
//! announcer.stop(now); drain poll() until is_stopped() or a few seconds pass
//! ```
//!
//! The same loop against a scripted HTTP tracker:
//!
//! ```
//! use sluice_core::tracker::announcer::{Announcer, AnnouncerConfig, Output};
//! use sluice_core::{InfoHash, PeerId, Rng, Time};
//!
//! let tiers = vec![vec!["http://tracker.example/announce".to_string()]];
//! let mut announcer = Announcer::new(
//!     InfoHash([1; 20]), PeerId([2; 20]), 6881, &tiers, false,
//!     AnnouncerConfig::default(), Rng::new(7),
//! );
//! announcer.set_stats(0, 0, 1000);
//! announcer.start(Time::ZERO);
//! let mut peers = Vec::new();
//! while let Some(out) = announcer.poll() {
//!     match out {
//!         Output::HttpGet { id, host, port, request, .. } => {
//!             assert_eq!((host.as_str(), port), ("tracker.example", 80));
//!             assert!(request.starts_with(b"GET /announce?info_hash="));
//!             // The driver would connect, write `request` and read to EOF.
//!             let reply = b"HTTP/1.0 200 OK\r\n\r\nd8:intervali900e5:peers6:\x0a\x00\x00\x01\x1a\xe1e";
//!             announcer.http_response(Time::ZERO, id, Ok(reply));
//!         }
//!         Output::Peers(found) => peers.extend(found),
//!         other => panic!("{other:?}"),
//!     }
//! }
//! assert_eq!(peers, ["10.0.0.1:6881".parse().unwrap()]);
//! // The next regular announce is due after the tracker's interval.
//! assert_eq!(announcer.poll_timeout(), Some(Time::from_millis(900_000)));
//! ```

use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;
use std::collections::VecDeque;

use super::http::Event;
use super::udp::{AddressFamily, OpId};
use crate::id::{InfoHash, PeerId};
use crate::rng::Rng;
use crate::time::Time;

mod flow;
mod tracker;

use flow::parse_http;
use tracker::{Kind, Tracker};

/// How an [`Announcer`] paces its announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncerConfig {
    /// Peers asked for in each announce (`numwant`); `stopped` asks for none.
    pub numwant: u32,
    /// The shortest wait between two regular announces, whatever a tracker's
    /// `interval` says; also the least wait before
    /// [`announce_now`](Announcer::announce_now) may ask again.
    pub min_interval: Duration,
    /// The longest wait between two regular announces.
    pub max_interval: Duration,
    /// The first wait before a failed tracker is tried again.
    pub retry_base: Duration,
    /// The longest such wait; it doubles with each failure in a row up to this.
    pub retry_max: Duration,
    /// How long an HTTP announce may take before the next tracker is tried.
    pub http_timeout: Duration,
    /// A UDP tracker's first wait for an answer (BEP 15: 15 s), doubled on
    /// each retransmission.
    pub udp_timeout: Duration,
    /// Retransmissions before a UDP tracker counts as failed. BEP 15 allows 8,
    /// which would hold up failover for more than two hours; the default, 2,
    /// gives up after 15 + 30 + 60 s.
    pub udp_retries: u32,
    /// How long `stopped` announces are waited for after
    /// [`stop`](Announcer::stop).
    pub stop_timeout: Duration,
    /// The `User-Agent` of HTTP requests.
    pub user_agent: String,
}

impl Default for AnnouncerConfig {
    fn default() -> AnnouncerConfig {
        AnnouncerConfig {
            numwant: 50,
            min_interval: Duration::from_secs(60),
            max_interval: super::http::MAX_INTERVAL,
            retry_base: Duration::from_secs(15),
            retry_max: Duration::from_secs(30 * 60),
            http_timeout: Duration::from_secs(30),
            udp_timeout: Duration::from_secs(15),
            udp_retries: 2,
            stop_timeout: Duration::from_secs(5),
            user_agent: "sluice/0.1".to_owned(),
        }
    }
}

/// Names one HTTP request the announcer asked the driver to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Something for the driver to do or show, from [`Announcer::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Connect over TCP to `host:port`, write `request`, read until the
    /// tracker closes the connection, and give the bytes read (or the I/O
    /// error) to [`Announcer::http_response`] with `id`.
    HttpGet {
        /// Names the request in the answer.
        id: RequestId,
        /// A DNS name or an IP literal (IPv6 without brackets).
        host: String,
        /// The TCP port.
        port: u16,
        /// The whole HTTP/1.1 request.
        request: Vec<u8>,
        /// The tracker's announce URL, for logs.
        url: String,
    },
    /// The request `id` timed out or is no longer wanted: close its
    /// connection. An answer given anyway is ignored.
    HttpCancel {
        /// The request.
        id: RequestId,
    },
    /// Send `datagram` to the UDP tracker at `host:port` (resolve the host; a
    /// failed lookup goes to [`Announcer::udp_error`]).
    UdpSend {
        /// A DNS name or an IP literal (IPv6 without brackets), as in the URL.
        host: String,
        /// The UDP port.
        port: u16,
        /// The datagram.
        datagram: Vec<u8>,
    },
    /// Peers a tracker gave.
    Peers(Vec<SocketAddr>),
    /// A tracker answered with a `warning message`.
    Warning {
        /// The tracker's URL.
        url: String,
        /// Its message.
        text: String,
    },
    /// A tracker URL cannot be used, or an announce to it failed.
    Error {
        /// The tracker's URL.
        url: String,
        /// What went wrong.
        text: String,
    },
}

/// Why [`Announcer::add_tracker`] refused a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddTrackerError {
    /// The torrent is private (BEP 27): only its own trackers may be used.
    Private,
    /// The tracker is already in a tier.
    Duplicate,
    /// The URL cannot be used (also reported as an [`Output::Error`]).
    Unsupported(String),
}

impl fmt::Display for AddTrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddTrackerError::Private => f.write_str("a private torrent uses only its own trackers"),
            AddTrackerError::Duplicate => f.write_str("the tracker is already known"),
            AddTrackerError::Unsupported(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for AddTrackerError {}

/// How a request is named to the driver or to a UDP client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handle {
    Http(RequestId),
    Udp(OpId),
}

/// An announce in flight.
#[derive(Debug, Clone)]
struct Flight {
    tracker: usize,
    event: Event,
    /// `left` as sent.
    left: u64,
    handle: Handle,
    /// When it is given up; `Time::MAX` when the UDP client decides.
    deadline: Time,
}

/// The announce of the running session, with its tracker's place in the
/// tiers (where failover goes on from).
#[derive(Debug, Clone)]
struct Current {
    flight: Flight,
    tier: usize,
    index: usize,
}

/// What a tracker answered.
#[derive(Debug)]
struct Reply {
    interval: Duration,
    min_interval: Option<Duration>,
    peers: Vec<SocketAddr>,
    warning: Option<String>,
    tracker_id: Option<Vec<u8>>,
}

/// Why an announce failed.
#[derive(Debug)]
struct Failure {
    text: String,
    /// The tracker asked not to be asked again before this (BEP 31).
    retry_after: Option<Duration>,
}

impl Failure {
    fn new(text: impl Into<String>) -> Failure {
        Failure {
            text: text.into(),
            retry_after: None,
        }
    }
}

/// The announce state machine of one torrent; see the [module](self) docs.
#[derive(Debug, Clone)]
pub struct Announcer {
    config: AnnouncerConfig,
    info_hash: InfoHash,
    peer_id: PeerId,
    port: u16,
    key: u32,
    private: bool,
    rng: Rng,
    trackers: Vec<Tracker>,
    /// Indices into `trackers`, in the order they are tried.
    tiers: Vec<Vec<usize>>,
    running: bool,
    uploaded: u64,
    downloaded: u64,
    left: u64,
    /// `completed` is owed to the next tracker that already had `started`.
    completed_pending: bool,
    /// A tracker has heard that the download is complete (`completed`, or
    /// `started` with nothing left), so `completed` is not sent again.
    complete_reported: bool,
    /// When the next announce starts, if none is in flight.
    next_announce: Option<Time>,
    /// [`announce_now`](Self::announce_now) waits until this.
    earliest_manual: Time,
    current: Option<Current>,
    /// `stopped` announces in flight.
    stops: Vec<Flight>,
    next_request: u64,
    outputs: VecDeque<Output>,
}

impl Announcer {
    /// An announcer for the torrent `info_hash`, announcing `peer_id` and the
    /// TCP `port`, over the tiers of tracker URLs `tiers` (a torrent's
    /// [`trackers`](crate::metainfo::Metainfo::trackers): `announce-list`, or
    /// `announce` as one tier). Each tier is shuffled with `rng`, which also
    /// draws the BEP 7 `key` and seeds the UDP clients. Duplicate URLs are
    /// dropped; URLs that cannot be used (HTTPS, unknown schemes, malformed)
    /// are dropped and reported once as [`Output::Error`]. `private`
    /// (BEP 27) makes [`add_tracker`](Self::add_tracker) refuse.
    pub fn new(
        info_hash: InfoHash,
        peer_id: PeerId,
        port: u16,
        tiers: &[Vec<String>],
        private: bool,
        config: AnnouncerConfig,
        mut rng: Rng,
    ) -> Announcer {
        let key = rng.next_u64() as u32;
        let mut announcer = Announcer {
            config,
            info_hash,
            peer_id,
            port,
            key,
            private,
            rng,
            trackers: Vec::new(),
            tiers: Vec::new(),
            running: false,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            completed_pending: false,
            complete_reported: false,
            next_announce: None,
            earliest_manual: Time::ZERO,
            current: None,
            stops: Vec::new(),
            next_request: 0,
            outputs: VecDeque::new(),
        };
        for tier in tiers {
            let mut urls = tier.clone();
            announcer.rng.shuffle(&mut urls);
            let ids: Vec<usize> = urls
                .iter()
                .filter_map(|url| announcer.insert(url).ok())
                .collect();
            if !ids.is_empty() {
                announcer.tiers.push(ids);
            }
        }
        announcer
    }

    /// Adds a tracker from elsewhere (a magnet link's `tr`, the user) as a
    /// tier of its own after the others. Refused for a private torrent, for a
    /// tracker already known and for a URL that cannot be used.
    pub fn add_tracker(&mut self, url: &str) -> Result<(), AddTrackerError> {
        if self.private {
            return Err(AddTrackerError::Private);
        }
        let i = self.insert(url)?;
        self.tiers.push(vec![i]);
        if self.running && self.current.is_none() && self.next_announce.is_none() {
            // There was nothing to announce to: announce at the next timeout.
            self.next_announce = Some(Time::ZERO);
        }
        Ok(())
    }

    /// The tracker URLs tier by tier, in the order they will be tried.
    pub fn tiers(&self) -> Vec<Vec<&str>> {
        self.tiers
            .iter()
            .map(|tier| {
                tier.iter()
                    .map(|&i| self.trackers[i].url.as_str())
                    .collect()
            })
            .collect()
    }

    /// The BEP 7 key sent with every announce.
    pub fn key(&self) -> u32 {
        self.key
    }

    /// Whether the torrent is private (BEP 27).
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// Between [`start`](Self::start) and [`stop`](Self::stop).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Not running, and no `stopped` announce is still waited for.
    pub fn is_stopped(&self) -> bool {
        !self.running && self.stops.is_empty()
    }

    /// When the next announce starts, if none is in flight now.
    pub fn next_announce(&self) -> Option<Time> {
        match (&self.current, self.running) {
            (None, true) => self.next_announce,
            _ => None,
        }
    }

    /// The counters sent with the next announce: bytes uploaded and
    /// downloaded since [`start`](Self::start), bytes still missing. Call it
    /// before `start` and before each input.
    pub fn set_stats(&mut self, uploaded: u64, downloaded: u64, left: u64) {
        self.uploaded = uploaded;
        self.downloaded = downloaded;
        self.left = left;
    }

    /// Starts the session: announces `started` now. Ignored while running.
    pub fn start(&mut self, now: Time) {
        if self.running {
            return;
        }
        self.running = true;
        self.completed_pending = false;
        self.complete_reported = false;
        self.next_announce = Some(now);
        self.advance(now);
    }

    /// The download has finished: announces `completed` now (or as soon as
    /// the announce in flight is done), once per session, and not at all if a
    /// tracker already had `started` with nothing left.
    pub fn completed(&mut self, now: Time) {
        if !self.running || self.complete_reported || self.completed_pending {
            return;
        }
        self.completed_pending = true;
        if self.current.is_none() {
            self.next_announce = Some(now);
        }
        self.advance(now);
    }

    /// Asks for peers sooner than the interval: a regular announce now, or
    /// once the minimum interval since the last answer has passed.
    pub fn announce_now(&mut self, now: Time) {
        if !self.running || self.current.is_some() {
            return;
        }
        let at = now.max(self.earliest_manual);
        self.next_announce = Some(self.next_announce.map_or(at, |next| next.min(at)));
        self.advance(now);
    }

    /// Ends the session: drops the announce in flight and sends `stopped` to
    /// every tracker that had `started` (and to the one a `started` is in
    /// flight to), all at once. The driver may keep running the loop until
    /// [`is_stopped`](Self::is_stopped), which takes at most
    /// [`stop_timeout`](AnnouncerConfig::stop_timeout).
    pub fn stop(&mut self, now: Time) {
        if !self.running {
            return;
        }
        self.running = false;
        self.next_announce = None;
        self.completed_pending = false;
        let mut owed = None;
        if let Some(current) = self.current.take() {
            if current.flight.event == Event::Started {
                owed = Some(current.flight.tracker);
            }
            self.cancel(&current.flight);
        }
        for t in 0..self.trackers.len() {
            if self.trackers[t].started_sent || owed == Some(t) {
                self.trackers[t].started_sent = false;
                let flight = self.send(now, t, Event::Stopped, true);
                self.stops.push(flight);
            }
        }
    }

    /// The bytes the driver read for request `id` until the tracker closed
    /// the connection, or the I/O error that ended it (refused, reset, no
    /// such host). Answers to unknown or cancelled requests are ignored.
    pub fn http_response(&mut self, now: Time, id: RequestId, result: Result<&[u8], &str>) {
        let handle = Handle::Http(id);
        let tracker = self
            .current
            .as_ref()
            .map(|c| &c.flight)
            .into_iter()
            .chain(&self.stops)
            .find(|f| f.handle == handle)
            .map(|f| f.tracker);
        if let Some(t) = tracker {
            let outcome = match result {
                Ok(bytes) => parse_http(bytes),
                Err(error) => Err(Failure::new(error)),
            };
            self.finish(now, t, handle, outcome);
        }
        self.advance(now);
    }

    /// A datagram that arrived from `from`, the address the driver resolved
    /// the UDP tracker `host:port` (as in [`Output::UdpSend`]) to. Datagrams
    /// for unknown trackers, and ones that answer nothing, are ignored.
    pub fn udp_datagram(
        &mut self,
        now: Time,
        host: &str,
        port: u16,
        from: SocketAddr,
        datagram: &[u8],
    ) {
        let Some(t) = self.udp_tracker(host, port) else {
            return;
        };
        let family = AddressFamily::of(&from);
        if let Kind::Udp(slot) = &mut self.trackers[t].kind {
            if slot.family() != family {
                self.switch_family(now, t, family);
            }
        }
        if let Kind::Udp(slot) = &mut self.trackers[t].kind {
            slot.client.handle_datagram(now, datagram);
        }
        self.pump(now, t);
        self.advance(now);
    }

    /// The driver could not reach the UDP tracker `host:port` (the name does
    /// not resolve, the network is unreachable): what is in flight to it
    /// fails now.
    pub fn udp_error(&mut self, now: Time, host: &str, port: u16, error: &str) {
        let Some(t) = self.udp_tracker(host, port) else {
            return;
        };
        let mut stops = core::mem::take(&mut self.stops);
        stops.retain(|f| {
            if f.tracker == t {
                self.cancel(f);
            }
            f.tracker != t
        });
        self.stops = stops;
        if self.current.as_ref().is_some_and(|c| c.flight.tracker == t) {
            if let Some(current) = self.current.take() {
                self.cancel(&current.flight);
                self.on_failure(now, current, Failure::new(error));
            }
        }
        self.advance(now);
    }

    /// Gives up what timed out, retransmits UDP requests, and starts the
    /// announce that is due. Call it when [`poll_timeout`](Self::poll_timeout)
    /// has passed (calling it early is harmless).
    pub fn handle_timeout(&mut self, now: Time) {
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.flight.deadline <= now)
        {
            if let Some(current) = self.current.take() {
                self.cancel(&current.flight);
                let secs = self.config.http_timeout.as_secs();
                let failure = Failure::new(format!("no answer within {secs} s"));
                self.on_failure(now, current, failure);
            }
        }
        let (expired, kept) = core::mem::take(&mut self.stops)
            .into_iter()
            .partition::<Vec<_>, _>(|f| f.deadline <= now);
        self.stops = kept;
        for flight in &expired {
            self.cancel(flight);
        }
        for t in 0..self.trackers.len() {
            if let Kind::Udp(slot) = &mut self.trackers[t].kind {
                if slot.client.poll_timeout().is_some_and(|at| at <= now) {
                    slot.client.handle_timeout(now);
                    self.pump(now, t);
                }
            }
        }
        self.advance(now);
    }

    /// The next thing for the driver to do or show.
    pub fn poll(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work; `None`
    /// when nothing is scheduled.
    pub fn poll_timeout(&self) -> Option<Time> {
        let udp = self.trackers.iter().filter_map(|t| match &t.kind {
            Kind::Udp(slot) => slot.client.poll_timeout(),
            Kind::Http(_) => None,
        });
        let current = self.current.as_ref().map(|c| c.flight.deadline);
        current
            .into_iter()
            .chain(self.next_announce())
            .chain(self.stops.iter().map(|f| f.deadline))
            .chain(udp)
            .filter(|&at| at != Time::MAX)
            .min()
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

//! The sans-IO client for one UDP tracker: connection ids, transaction ids,
//! retransmission and expiry as BEP 15 describes them.

use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;
use std::collections::VecDeque;

use super::codec::{
    AddressFamily, AnnounceParams, Request, Response, ScrapeStats, UdpError, MAX_DATAGRAM,
    MAX_SCRAPE_HASHES,
};
use crate::id::InfoHash;
use crate::rng::Rng;
use crate::time::Time;

/// How a [`UdpTrackerClient`] times its exchanges. [`Default`] is BEP 15 to the
/// letter for a tracker reached over IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpConfig {
    /// The family of the tracker's address; it fixes the peer format.
    pub family: AddressFamily,
    /// The wait for the first response; each retransmission doubles it
    /// (BEP 15: 15 s, so 15 × 2^n).
    pub base_timeout: Duration,
    /// The largest `n` in `base_timeout × 2^n`: an operation sends at most
    /// `max_backoff + 1` datagrams and fails when the last wait runs out
    /// (BEP 15: 8, a last wait of 3840 s).
    pub max_backoff: u32,
    /// How long a connection id may be used after it was received (BEP 15:
    /// one minute).
    pub connection_lifetime: Duration,
}

impl Default for UdpConfig {
    fn default() -> UdpConfig {
        UdpConfig {
            family: AddressFamily::V4,
            base_timeout: Duration::from_secs(15),
            max_backoff: 8,
            connection_lifetime: Duration::from_secs(60),
        }
    }
}

impl UdpConfig {
    /// The BEP 15 defaults for a tracker reached over `family`.
    pub fn new(family: AddressFamily) -> UdpConfig {
        UdpConfig {
            family,
            ..UdpConfig::default()
        }
    }

    /// The wait after the transmission numbered `n` (from 0).
    pub fn timeout(&self, n: u32) -> Duration {
        self.base_timeout.saturating_mul(1u32 << n.min(31))
    }
}

/// Names one announce or scrape started on a [`UdpTrackerClient`]; its
/// [`UdpEvent`] carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u64);

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailReason {
    /// No answer after every retransmission.
    TimedOut {
        /// How many waits ran out: [`max_backoff`](UdpConfig::max_backoff) + 1.
        attempts: u32,
    },
    /// The tracker answered with an error; its message.
    Tracker(String),
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::TimedOut { attempts } => {
                write!(f, "no response from the tracker after {attempts} attempts")
            }
            FailReason::Tracker(message) => write!(f, "tracker error: {message}"),
        }
    }
}

/// What finished, taken from [`UdpTrackerClient::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpEvent {
    /// An announce was answered.
    AnnounceOk {
        /// The operation.
        op: OpId,
        /// How long to wait before the next regular announce.
        interval: Duration,
        /// Peers still downloading.
        leechers: u32,
        /// Peers with the whole torrent.
        seeders: u32,
        /// Peers to try, at most [`MAX_PEERS_V4`](super::MAX_PEERS_V4).
        peers: Vec<SocketAddr>,
    },
    /// A scrape was answered.
    ScrapeOk {
        /// The operation.
        op: OpId,
        /// The statistics per requested hash, in request order; shorter than
        /// the request if the tracker answered fewer.
        stats: Vec<(InfoHash, ScrapeStats)>,
    },
    /// An operation gave up or was refused.
    Failed {
        /// The operation.
        op: OpId,
        /// Why.
        reason: FailReason,
    },
}

#[derive(Debug, Clone)]
enum Kind {
    Announce(AnnounceParams),
    Scrape(Vec<InfoHash>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Needs a connection id. `Some`: its own connect request is out with this
    /// transaction id. `None`: waits for another operation's connect.
    Connecting(Option<u32>),
    /// Its request is out with this transaction id and connection id.
    Requesting { tid: u32, connection_id: u64 },
}

#[derive(Debug, Clone)]
struct Op {
    id: OpId,
    kind: Kind,
    state: State,
    /// The `n` of the wait now running.
    attempt: u32,
    deadline: Time,
}

impl Op {
    fn owns(&self, tid: u32) -> bool {
        match self.state {
            State::Connecting(own) => own == Some(tid),
            State::Requesting { tid: t, .. } => t == tid,
        }
    }
}

/// The client side of BEP 15 for one tracker, without sockets or clocks.
///
/// Start operations with [`announce`](Self::announce) and
/// [`scrape`](Self::scrape); send what [`poll_transmit`](Self::poll_transmit)
/// returns to the tracker; hand every datagram from the tracker to
/// [`handle_datagram`](Self::handle_datagram); call
/// [`handle_timeout`](Self::handle_timeout) once [`poll_timeout`](Self::poll_timeout)
/// has passed; take results from [`poll_event`](Self::poll_event). Several
/// operations may be in flight at once and share one connection id.
///
/// ```
/// use sluice_core::tracker::udp::{AnnounceParams, Response, UdpConfig, UdpEvent, UdpTrackerClient};
/// use sluice_core::{InfoHash, PeerId, Rng, Time};
///
/// let mut client = UdpTrackerClient::new(UdpConfig::default(), Rng::new(1));
/// let op = client.announce(Time::ZERO, AnnounceParams::new(InfoHash([1; 20]), PeerId([2; 20]), 6881));
///
/// // A connect request goes out first; the tracker answers it.
/// let connect = client.poll_transmit().unwrap();
/// let tid = u32::from_be_bytes(connect[12..16].try_into().unwrap());
/// let reply = Response::Connect { transaction_id: tid, connection_id: 99 };
/// client.handle_datagram(Time::ZERO, &reply.to_bytes(Default::default()));
///
/// // Then the announce, carrying the connection id.
/// let announce = client.poll_transmit().unwrap();
/// assert_eq!(announce.len(), 98);
/// assert_eq!(announce[..8], 99u64.to_be_bytes());
/// let tid = u32::from_be_bytes(announce[12..16].try_into().unwrap());
/// let reply = Response::Announce {
///     transaction_id: tid, interval: 1800, leechers: 1, seeders: 2,
///     peers: vec!["10.0.0.1:6881".parse().unwrap()],
/// };
/// client.handle_datagram(Time::ZERO, &reply.to_bytes(Default::default()));
/// match client.poll_event() {
///     Some(UdpEvent::AnnounceOk { op: done, seeders, peers, .. }) => {
///         assert_eq!((done, seeders, peers.len()), (op, 2, 1));
///     }
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(client.poll_timeout(), None);
/// ```
#[derive(Debug, Clone)]
pub struct UdpTrackerClient {
    config: UdpConfig,
    rng: Rng,
    /// The last connection id and when it stops being usable.
    connection: Option<(u64, Time)>,
    ops: Vec<Op>,
    next_op: u64,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<UdpEvent>,
}

impl UdpTrackerClient {
    /// A client with no connection and nothing in flight; transaction ids come
    /// from `rng`.
    pub fn new(config: UdpConfig, rng: Rng) -> UdpTrackerClient {
        UdpTrackerClient {
            config,
            rng,
            connection: None,
            ops: Vec::new(),
            next_op: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &UdpConfig {
        &self.config
    }

    /// Starts an announce; its datagram (a connect first if there is no
    /// usable connection id) is ready from [`poll_transmit`](Self::poll_transmit).
    pub fn announce(&mut self, now: Time, params: AnnounceParams) -> OpId {
        self.start(now, Kind::Announce(params))
    }

    /// Starts a scrape of 1 to [`MAX_SCRAPE_HASHES`] torrents.
    pub fn scrape(&mut self, now: Time, info_hashes: &[InfoHash]) -> Result<OpId, UdpError> {
        if info_hashes.is_empty() || info_hashes.len() > MAX_SCRAPE_HASHES {
            return Err(UdpError::ScrapeCount {
                count: info_hashes.len(),
            });
        }
        Ok(self.start(now, Kind::Scrape(info_hashes.to_vec())))
    }

    /// Forgets an operation: no more retransmissions, no event, and a late
    /// answer is ignored. False if it had already finished.
    pub fn cancel(&mut self, op: OpId) -> bool {
        let before = self.ops.len();
        self.ops.retain(|o| o.id != op);
        self.ops.len() != before
    }

    /// How many operations are in flight.
    pub fn in_flight(&self) -> usize {
        self.ops.len()
    }

    /// The connection id in use at `now`, if one was received less than
    /// [`connection_lifetime`](UdpConfig::connection_lifetime) ago.
    pub fn connection_id(&self, now: Time) -> Option<u64> {
        self.connection
            .filter(|&(_, expires)| now < expires)
            .map(|(id, _)| id)
    }

    /// A datagram from the tracker. Returns true if it answered an operation;
    /// anything else (undecodable, too long, an unknown or stale transaction
    /// id, an action that does not match the request) is ignored.
    pub fn handle_datagram(&mut self, now: Time, datagram: &[u8]) -> bool {
        if datagram.len() > MAX_DATAGRAM {
            return false;
        }
        let Ok(response) = Response::decode(datagram, self.config.family) else {
            return false;
        };
        let tid = response.transaction_id();
        let Some(i) = self.ops.iter().position(|op| op.owns(tid)) else {
            return false;
        };
        let connecting = matches!(self.ops[i].state, State::Connecting(_));
        match response {
            Response::Connect { connection_id, .. } if connecting => {
                self.connection = Some((connection_id, now + self.config.connection_lifetime));
                // Every operation waiting for a connection id goes on at once.
                for j in 0..self.ops.len() {
                    if matches!(self.ops[j].state, State::Connecting(_)) {
                        self.transmit(now, j);
                    }
                }
            }
            Response::Error { message, .. } => {
                let op = self.ops.remove(i);
                self.events.push_back(UdpEvent::Failed {
                    op: op.id,
                    reason: FailReason::Tracker(message),
                });
            }
            Response::Announce {
                interval,
                leechers,
                seeders,
                peers,
                ..
            } if !connecting && matches!(self.ops[i].kind, Kind::Announce(_)) => {
                let op = self.ops.remove(i);
                self.events.push_back(UdpEvent::AnnounceOk {
                    op: op.id,
                    interval: Duration::from_secs(u64::from(interval)),
                    leechers,
                    seeders,
                    peers,
                });
            }
            Response::Scrape { stats, .. }
                if !connecting && matches!(self.ops[i].kind, Kind::Scrape(_)) =>
            {
                let op = self.ops.remove(i);
                let hashes = match op.kind {
                    Kind::Scrape(hashes) => hashes,
                    Kind::Announce(_) => Vec::new(),
                };
                self.events.push_back(UdpEvent::ScrapeOk {
                    op: op.id,
                    stats: hashes.into_iter().zip(stats).collect(),
                });
            }
            _ => return false,
        }
        true
    }

    /// Retransmits or gives up every operation whose wait ended by `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        let mut i = 0;
        while i < self.ops.len() {
            if self.ops[i].deadline > now {
                i += 1;
                continue;
            }
            if self.ops[i].attempt >= self.config.max_backoff {
                let op = self.ops.remove(i);
                self.events.push_back(UdpEvent::Failed {
                    op: op.id,
                    reason: FailReason::TimedOut {
                        attempts: op.attempt.saturating_add(1),
                    },
                });
                continue;
            }
            self.ops[i].attempt += 1;
            self.transmit(now, i);
            i += 1;
        }
    }

    /// The next datagram to send to the tracker.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work; `None`
    /// when nothing is in flight.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.ops.iter().map(|op| op.deadline).min()
    }

    /// The next finished operation.
    pub fn poll_event(&mut self) -> Option<UdpEvent> {
        self.events.pop_front()
    }

    fn start(&mut self, now: Time, kind: Kind) -> OpId {
        let id = OpId(self.next_op);
        self.next_op += 1;
        self.ops.push(Op {
            id,
            kind,
            state: State::Connecting(None),
            attempt: 0,
            deadline: now,
        });
        self.transmit(now, self.ops.len() - 1);
        id
    }

    /// A transaction id no operation is using.
    fn fresh_tid(&mut self) -> u32 {
        loop {
            let tid = self.rng.next_u64() as u32;
            if !self.ops.iter().any(|op| op.owns(tid)) {
                return tid;
            }
        }
    }

    /// Sends what operation `i` needs now and starts its wait: its request if
    /// the connection id is still usable, else a connect (its own, unless
    /// another operation's connect is already out).
    fn transmit(&mut self, now: Time, i: usize) {
        let datagram = match self.connection_id(now) {
            Some(connection_id) => {
                let tid = match self.ops[i].state {
                    // A retransmission: same request, same transaction id, so
                    // an answer to an earlier copy still counts.
                    State::Requesting {
                        tid,
                        connection_id: c,
                    } if c == connection_id => tid,
                    _ => self.fresh_tid(),
                };
                let op = &mut self.ops[i];
                op.state = State::Requesting { tid, connection_id };
                Some(match &op.kind {
                    Kind::Announce(params) => Request::Announce {
                        connection_id,
                        transaction_id: tid,
                        params: params.clone(),
                    },
                    Kind::Scrape(hashes) => Request::Scrape {
                        connection_id,
                        transaction_id: tid,
                        info_hashes: hashes.clone(),
                    },
                })
            }
            None => {
                let own = match self.ops[i].state {
                    State::Connecting(Some(tid)) => Some(tid),
                    _ => None,
                };
                let other_out = self
                    .ops
                    .iter()
                    .enumerate()
                    .any(|(j, op)| j != i && matches!(op.state, State::Connecting(Some(_))));
                let tid = match own {
                    Some(tid) => Some(tid),
                    None if other_out => None,
                    None => Some(self.fresh_tid()),
                };
                self.ops[i].state = State::Connecting(tid);
                tid.map(|transaction_id| Request::Connect { transaction_id })
            }
        };
        if let Some(request) = datagram {
            self.transmits.push_back(request.to_bytes());
        }
        let op = &mut self.ops[i];
        op.deadline = now + self.config.timeout(op.attempt);
    }
}

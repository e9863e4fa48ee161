//! The BEP 15 datagrams: the requests a client sends and the responses a
//! tracker sends back, both ways round (a client encodes requests and decodes
//! responses; a test tracker or a fuzzer does the opposite).
//!
//! Every integer is big-endian. Decoders check lengths before reading, reject
//! datagrams longer than [`MAX_DATAGRAM`], and ignore bytes past the fields they
//! know, as BEP 15 asks ("do not expect packets to be exactly of a certain
//! size"): a trailing partial peer or scrape entry is dropped, not an error.

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::id::{InfoHash, PeerId};

/// The magic constant that opens every connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;

/// The longest datagram any decoder here accepts, in bytes. It also bounds
/// the peers of one announce response (see [`MAX_PEERS_V4`]) and the hashes
/// of one scrape.
pub const MAX_DATAGRAM: usize = 16 * 1024;

/// The most IPv4 peers one announce response can carry: `(MAX_DATAGRAM - 20) / 6`.
pub const MAX_PEERS_V4: usize = (MAX_DATAGRAM - 20) / 6;

/// The most info-hashes a client puts in one scrape request ("up to about 74
/// torrents can be scraped at once").
pub const MAX_SCRAPE_HASHES: usize = 74;

/// How many bytes of a tracker's error message are kept; the rest is dropped.
pub const MAX_ERROR_MESSAGE: usize = 1024;

/// The `num_want` that lets the tracker choose how many peers to return.
pub const NUM_WANT_DEFAULT: i32 = -1;

/// The `action` field: what a datagram is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// 0: obtain a connection id.
    Connect,
    /// 1: announce a torrent and get peers.
    Announce,
    /// 2: ask for swarm statistics.
    Scrape,
    /// 3: the tracker reports an error (responses only).
    Error,
}

impl Action {
    /// The number on the wire.
    pub const fn code(self) -> u32 {
        match self {
            Action::Connect => 0,
            Action::Announce => 1,
            Action::Scrape => 2,
            Action::Error => 3,
        }
    }

    /// The action numbered `code`, if there is one.
    pub const fn from_code(code: u32) -> Option<Action> {
        match code {
            0 => Some(Action::Connect),
            1 => Some(Action::Announce),
            2 => Some(Action::Scrape),
            3 => Some(Action::Error),
            _ => None,
        }
    }
}

/// The address family of the socket the tracker is reached over. It decides
/// the size of a peer in an announce response: 6 bytes over IPv4, 18 over IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AddressFamily {
    /// The tracker's address is IPv4: peers are 4 address bytes and a port.
    #[default]
    V4,
    /// The tracker's address is IPv6: peers are 16 address bytes and a port.
    V6,
}

impl AddressFamily {
    /// The family of `addr`, the tracker's address as the driver resolved it.
    pub const fn of(addr: &SocketAddr) -> AddressFamily {
        match addr {
            SocketAddr::V4(_) => AddressFamily::V4,
            SocketAddr::V6(_) => AddressFamily::V6,
        }
    }

    /// Bytes per peer in an announce response.
    pub const fn peer_len(self) -> usize {
        match self {
            AddressFamily::V4 => 6,
            AddressFamily::V6 => 18,
        }
    }
}

/// The `event` field of an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AnnounceEvent {
    /// 0: a regular announce.
    #[default]
    None,
    /// 1: the download just completed.
    Completed,
    /// 2: the first announce of a torrent.
    Started,
    /// 3: the torrent is being stopped.
    Stopped,
}

impl AnnounceEvent {
    /// The number on the wire.
    pub const fn code(self) -> u32 {
        match self {
            AnnounceEvent::None => 0,
            AnnounceEvent::Completed => 1,
            AnnounceEvent::Started => 2,
            AnnounceEvent::Stopped => 3,
        }
    }

    /// The event numbered `code`, if there is one.
    pub const fn from_code(code: u32) -> Option<AnnounceEvent> {
        match code {
            0 => Some(AnnounceEvent::None),
            1 => Some(AnnounceEvent::Completed),
            2 => Some(AnnounceEvent::Started),
            3 => Some(AnnounceEvent::Stopped),
            _ => None,
        }
    }
}

/// What an announce says about us: every field of the request except the
/// connection and transaction ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnnounceParams {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Our peer id.
    pub peer_id: PeerId,
    /// Bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// Why we announce.
    pub event: AnnounceEvent,
    /// Our IPv4 address, or [`Ipv4Addr::UNSPECIFIED`] (the default, and the
    /// only sensible value over IPv6) to let the tracker use the source address.
    pub ip: Ipv4Addr,
    /// A number fixed for the session, so the tracker can recognise us when our
    /// address changes; BEP 15 asks for the same key over IPv4 and IPv6.
    pub key: u32,
    /// How many peers we want; [`NUM_WANT_DEFAULT`] lets the tracker decide.
    pub num_want: i32,
    /// The TCP port we accept peers on.
    pub port: u16,
}

impl AnnounceParams {
    /// A regular announce of `info_hash` with zero counters, no event, no
    /// explicit address, key 0 and the default number of peers.
    pub fn new(info_hash: InfoHash, peer_id: PeerId, port: u16) -> AnnounceParams {
        AnnounceParams {
            info_hash,
            peer_id,
            downloaded: 0,
            left: 0,
            uploaded: 0,
            event: AnnounceEvent::None,
            ip: Ipv4Addr::UNSPECIFIED,
            key: 0,
            num_want: NUM_WANT_DEFAULT,
            port,
        }
    }
}

/// A datagram a client sends.
///
/// ```
/// use sluice_core::tracker::udp::{Request, PROTOCOL_ID};
///
/// let bytes = Request::Connect { transaction_id: 7 }.to_bytes();
/// assert_eq!(bytes.len(), 16);
/// assert_eq!(bytes[..8], PROTOCOL_ID.to_be_bytes());
/// assert_eq!(Request::decode(&bytes), Ok(Request::Connect { transaction_id: 7 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Request {
    /// Ask for a connection id (16 bytes).
    Connect {
        /// Chosen at random by the client, echoed by the tracker.
        transaction_id: u32,
    },
    /// Announce a torrent (98 bytes).
    Announce {
        /// From the last connect response.
        connection_id: u64,
        /// Chosen at random by the client, echoed by the tracker.
        transaction_id: u32,
        /// The rest of the request.
        params: AnnounceParams,
    },
    /// Ask for the statistics of some torrents (16 + 20 per hash bytes).
    Scrape {
        /// From the last connect response.
        connection_id: u64,
        /// Chosen at random by the client, echoed by the tracker.
        transaction_id: u32,
        /// The torrents, at most [`MAX_SCRAPE_HASHES`] for a polite client
        /// (the codec itself does not count them).
        info_hashes: Vec<InfoHash>,
    },
}

/// The statistics of one torrent in a scrape response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScrapeStats {
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// How many times the torrent was downloaded to completion.
    pub completed: u32,
    /// Peers still downloading.
    pub leechers: u32,
}

/// A datagram a tracker sends.
///
/// ```
/// use sluice_core::tracker::udp::{AddressFamily, Response};
///
/// let mut bytes = vec![0, 0, 0, 1, 0, 0, 0, 9]; // announce, transaction 9
/// bytes.extend_from_slice(&[0, 0, 7, 8, 0, 0, 0, 5, 0, 0, 0, 2]); // interval, leechers, seeders
/// bytes.extend_from_slice(&[10, 0, 0, 1, 0x1a, 0xe1]); // one peer
/// let Ok(Response::Announce { interval, peers, .. }) = Response::decode(&bytes, AddressFamily::V4)
/// else { panic!() };
/// assert_eq!(interval, 1800);
/// assert_eq!(peers, ["10.0.0.1:6881".parse().unwrap()]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Response {
    /// A connection id, usable for one minute.
    Connect {
        /// Echoed from the request.
        transaction_id: u32,
        /// To put in announce and scrape requests.
        connection_id: u64,
    },
    /// Peers for an announce.
    Announce {
        /// Echoed from the request.
        transaction_id: u32,
        /// Seconds to wait before the next regular announce.
        interval: u32,
        /// Peers still downloading.
        leechers: u32,
        /// Peers with the whole torrent.
        seeders: u32,
        /// Peers to connect to, all of the family the response was decoded for.
        peers: Vec<SocketAddr>,
    },
    /// Statistics, one entry per requested hash, in request order.
    Scrape {
        /// Echoed from the request.
        transaction_id: u32,
        /// One entry per hash.
        stats: Vec<ScrapeStats>,
    },
    /// The tracker refused the request.
    Error {
        /// Echoed from the request.
        transaction_id: u32,
        /// What the tracker said, decoded as lossy UTF-8, trailing NULs
        /// removed, at most [`MAX_ERROR_MESSAGE`] bytes of the datagram kept.
        message: String,
    },
}

/// Why a datagram could not be decoded, or a request not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpError {
    /// The datagram is longer than [`MAX_DATAGRAM`].
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The datagram is shorter than its action requires.
    TooShort {
        /// Its length.
        len: usize,
        /// The least its action (or any datagram) needs.
        min: usize,
    },
    /// The action field holds a number BEP 15 does not define (or `error` in
    /// a request).
    UnknownAction {
        /// The number.
        action: u32,
    },
    /// A connect request without [`PROTOCOL_ID`].
    BadProtocolId {
        /// What the first eight bytes held.
        got: u64,
    },
    /// An announce request with an event number BEP 15 does not define.
    UnknownEvent {
        /// The number.
        event: u32,
    },
    /// A scrape of no torrents or of more than [`MAX_SCRAPE_HASHES`].
    ScrapeCount {
        /// How many hashes were given.
        count: usize,
    },
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UdpError::TooLong { len, max } => {
                write!(f, "datagram of {len} bytes exceeds the limit of {max}")
            }
            UdpError::TooShort { len, min } => {
                write!(f, "datagram of {len} bytes, expected at least {min}")
            }
            UdpError::UnknownAction { action } => write!(f, "unknown action {action}"),
            UdpError::BadProtocolId { got } => {
                write!(f, "connect request with protocol id {got:#x}")
            }
            UdpError::UnknownEvent { event } => write!(f, "unknown announce event {event}"),
            UdpError::ScrapeCount { count } => write!(
                f,
                "a scrape names 1 to {MAX_SCRAPE_HASHES} torrents, not {count}"
            ),
        }
    }
}

impl std::error::Error for UdpError {}

/// Reads big-endian fields off the front of a datagram whose length the
/// caller has already checked; a read past the end yields zeros rather than
/// a panic, and the length checks make sure it never happens.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some((head, tail)) = self.rest.split_first_chunk::<N>() {
            out = *head;
            self.rest = tail;
        } else {
            self.rest = &[];
        }
        out
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.bytes())
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.bytes())
    }

    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.bytes())
    }
}

fn check_len(bytes: &[u8], min: usize) -> Result<(), UdpError> {
    if bytes.len() > MAX_DATAGRAM {
        Err(UdpError::TooLong {
            len: bytes.len(),
            max: MAX_DATAGRAM,
        })
    } else if bytes.len() < min {
        Err(UdpError::TooShort {
            len: bytes.len(),
            min,
        })
    } else {
        Ok(())
    }
}

const ANNOUNCE_REQUEST_LEN: usize = 98;

impl Request {
    /// The transaction id, whichever the request.
    pub const fn transaction_id(&self) -> u32 {
        match self {
            Request::Connect { transaction_id }
            | Request::Announce { transaction_id, .. }
            | Request::Scrape { transaction_id, .. } => *transaction_id,
        }
    }

    /// The request's action.
    pub const fn action(&self) -> Action {
        match self {
            Request::Connect { .. } => Action::Connect,
            Request::Announce { .. } => Action::Announce,
            Request::Scrape { .. } => Action::Scrape,
        }
    }

    /// Appends the datagram to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let connection_id = match self {
            Request::Connect { .. } => PROTOCOL_ID,
            Request::Announce { connection_id, .. } | Request::Scrape { connection_id, .. } => {
                *connection_id
            }
        };
        out.extend_from_slice(&connection_id.to_be_bytes());
        out.extend_from_slice(&self.action().code().to_be_bytes());
        out.extend_from_slice(&self.transaction_id().to_be_bytes());
        match self {
            Request::Connect { .. } => {}
            Request::Announce { params: p, .. } => {
                out.extend_from_slice(&p.info_hash.0);
                out.extend_from_slice(&p.peer_id.0);
                out.extend_from_slice(&p.downloaded.to_be_bytes());
                out.extend_from_slice(&p.left.to_be_bytes());
                out.extend_from_slice(&p.uploaded.to_be_bytes());
                out.extend_from_slice(&p.event.code().to_be_bytes());
                out.extend_from_slice(&p.ip.octets());
                out.extend_from_slice(&p.key.to_be_bytes());
                out.extend_from_slice(&p.num_want.to_be_bytes());
                out.extend_from_slice(&p.port.to_be_bytes());
            }
            Request::Scrape { info_hashes, .. } => {
                for h in info_hashes {
                    out.extend_from_slice(&h.0);
                }
            }
        }
    }

    /// The datagram as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ANNOUNCE_REQUEST_LEN);
        self.encode(&mut out);
        out
    }

    /// Decodes a request, as a tracker would. Bytes past the known fields
    /// (BEP 41 options after an announce, half a hash after a scrape) are
    /// ignored.
    pub fn decode(bytes: &[u8]) -> Result<Request, UdpError> {
        check_len(bytes, 16)?;
        let mut r = Reader { rest: bytes };
        let connection_id = r.u64();
        let action = r.u32();
        let transaction_id = r.u32();
        match Action::from_code(action) {
            Some(Action::Connect) if connection_id == PROTOCOL_ID => {
                Ok(Request::Connect { transaction_id })
            }
            Some(Action::Connect) => Err(UdpError::BadProtocolId { got: connection_id }),
            Some(Action::Announce) => {
                check_len(bytes, ANNOUNCE_REQUEST_LEN)?;
                let info_hash = InfoHash(r.bytes());
                let peer_id = PeerId(r.bytes());
                let downloaded = r.u64();
                let left = r.u64();
                let uploaded = r.u64();
                let event_code = r.u32();
                let event = AnnounceEvent::from_code(event_code)
                    .ok_or(UdpError::UnknownEvent { event: event_code })?;
                let params = AnnounceParams {
                    info_hash,
                    peer_id,
                    downloaded,
                    left,
                    uploaded,
                    event,
                    ip: Ipv4Addr::from(r.u32()),
                    key: r.u32(),
                    num_want: i32::from_be_bytes(r.bytes()),
                    port: r.u16(),
                };
                Ok(Request::Announce {
                    connection_id,
                    transaction_id,
                    params,
                })
            }
            Some(Action::Scrape) => Ok(Request::Scrape {
                connection_id,
                transaction_id,
                info_hashes: r
                    .rest
                    .chunks_exact(20)
                    .map(|c| InfoHash(Reader { rest: c }.bytes()))
                    .collect(),
            }),
            Some(Action::Error) | None => Err(UdpError::UnknownAction { action }),
        }
    }
}

impl Response {
    /// The transaction id, whichever the response.
    pub const fn transaction_id(&self) -> u32 {
        match self {
            Response::Connect { transaction_id, .. }
            | Response::Announce { transaction_id, .. }
            | Response::Scrape { transaction_id, .. }
            | Response::Error { transaction_id, .. } => *transaction_id,
        }
    }

    /// The response's action.
    pub const fn action(&self) -> Action {
        match self {
            Response::Connect { .. } => Action::Connect,
            Response::Announce { .. } => Action::Announce,
            Response::Scrape { .. } => Action::Scrape,
            Response::Error { .. } => Action::Error,
        }
    }

    /// Appends the datagram to `out`, writing peers in the format of
    /// `family`. Peers of the other family cannot be written in it and are
    /// left out.
    pub fn encode(&self, family: AddressFamily, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.action().code().to_be_bytes());
        out.extend_from_slice(&self.transaction_id().to_be_bytes());
        match self {
            Response::Connect { connection_id, .. } => {
                out.extend_from_slice(&connection_id.to_be_bytes());
            }
            Response::Announce {
                interval,
                leechers,
                seeders,
                peers,
                ..
            } => {
                out.extend_from_slice(&interval.to_be_bytes());
                out.extend_from_slice(&leechers.to_be_bytes());
                out.extend_from_slice(&seeders.to_be_bytes());
                for peer in peers {
                    match (family, peer) {
                        (AddressFamily::V4, SocketAddr::V4(a)) => {
                            out.extend_from_slice(&a.ip().octets());
                        }
                        (AddressFamily::V6, SocketAddr::V6(a)) => {
                            out.extend_from_slice(&a.ip().octets());
                        }
                        _ => continue,
                    }
                    out.extend_from_slice(&peer.port().to_be_bytes());
                }
            }
            Response::Scrape { stats, .. } => {
                for s in stats {
                    out.extend_from_slice(&s.seeders.to_be_bytes());
                    out.extend_from_slice(&s.completed.to_be_bytes());
                    out.extend_from_slice(&s.leechers.to_be_bytes());
                }
            }
            Response::Error { message, .. } => out.extend_from_slice(message.as_bytes()),
        }
    }

    /// The datagram as a new vector.
    pub fn to_bytes(&self, family: AddressFamily) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(family, &mut out);
        out
    }

    /// Decodes a response from a tracker reached over `family`.
    pub fn decode(bytes: &[u8], family: AddressFamily) -> Result<Response, UdpError> {
        check_len(bytes, 8)?;
        let mut r = Reader { rest: bytes };
        let action = r.u32();
        let transaction_id = r.u32();
        match Action::from_code(action) {
            Some(Action::Connect) => {
                check_len(bytes, 16)?;
                Ok(Response::Connect {
                    transaction_id,
                    connection_id: r.u64(),
                })
            }
            Some(Action::Announce) => {
                check_len(bytes, 20)?;
                let interval = r.u32();
                let leechers = r.u32();
                let seeders = r.u32();
                let peers = r
                    .rest
                    .chunks_exact(family.peer_len())
                    .map(|c| decode_peer(c, family))
                    .collect();
                Ok(Response::Announce {
                    transaction_id,
                    interval,
                    leechers,
                    seeders,
                    peers,
                })
            }
            Some(Action::Scrape) => Ok(Response::Scrape {
                transaction_id,
                stats: r
                    .rest
                    .chunks_exact(12)
                    .map(|c| {
                        let mut e = Reader { rest: c };
                        ScrapeStats {
                            seeders: e.u32(),
                            completed: e.u32(),
                            leechers: e.u32(),
                        }
                    })
                    .collect(),
            }),
            Some(Action::Error) => Ok(Response::Error {
                transaction_id,
                message: error_message(r.rest),
            }),
            None => Err(UdpError::UnknownAction { action }),
        }
    }
}

fn decode_peer(chunk: &[u8], family: AddressFamily) -> SocketAddr {
    let mut r = Reader { rest: chunk };
    match family {
        AddressFamily::V4 => {
            let ip = Ipv4Addr::from(r.bytes::<4>());
            SocketAddr::V4(SocketAddrV4::new(ip, r.u16()))
        }
        AddressFamily::V6 => {
            let ip = Ipv6Addr::from(r.bytes::<16>());
            SocketAddr::V6(SocketAddrV6::new(ip, r.u16(), 0, 0))
        }
    }
}

/// The tracker's text: at most [`MAX_ERROR_MESSAGE`] bytes, trailing NULs
/// (some trackers send C strings) removed, invalid UTF-8 replaced.
fn error_message(bytes: &[u8]) -> String {
    let mut text = &bytes[..bytes.len().min(MAX_ERROR_MESSAGE)];
    while let Some((&0, head)) = text.split_last() {
        text = head;
    }
    String::from_utf8_lossy(text).into_owned()
}

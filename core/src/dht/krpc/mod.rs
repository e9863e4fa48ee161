//! KRPC, the message layer of the Mainline DHT (BEP 5): one bencoded dictionary
//! per UDP datagram.
//!
//! A [`Message`] is a query, a response or an error, tagged with the
//! [`TransactionId`] the querying node chose. [`Message::decode`] reads one from
//! an untrusted datagram and [`Message::to_bytes`] writes its canonical
//! encoding (keys sorted), which is byte for byte what BEP 5's examples show.
//!
//! Responses carry no method name, so they decode to one generic [`Response`]
//! with every optional field; the caller matches them to its queries by
//! transaction id.
//!
//! Decoding rules, in short:
//!
//! * a datagram longer than [`MAX_MESSAGE_LEN`] is refused, and bencode is read
//!   with the tight [`LIMITS`];
//! * `t`, `y` and, by message type, `q` + `a`, `r` or `e` are required; so are
//!   the arguments each known method needs and `id` in every query and
//!   response. Ids, targets and info-hashes must be exactly 20 bytes;
//! * bounded fields ([`MAX_TRANSACTION_LEN`], [`MAX_VERSION_LEN`],
//!   [`MAX_TOKEN_LEN`], [`MAX_METHOD_LEN`]) that are longer are errors;
//! * `nodes` must be a whole number of 26-byte entries, `nodes6` of 38-byte
//!   ones, and each of `values` 6 or 18 bytes; only the first [`MAX_NODES`]
//!   nodes of each family and [`MAX_VALUES`] values are kept, the rest is
//!   ignored unread (a table or a peer list never needs more from one reply);
//! * an unknown method decodes to [`Query::Unknown`] with the sender's id, so a
//!   node can answer [`METHOD_UNKNOWN`];
//! * the top-level `ip` (BEP 42, the requester's address as the responder saw
//!   it) and `ro` (BEP 43, read-only node) are hints: a malformed one is
//!   ignored rather than costing the whole message;
//! * an error's message is read as UTF-8 with bad bytes replaced, and cut to
//!   [`MAX_ERROR_MESSAGE_LEN`] bytes;
//! * unknown keys are ignored, as KRPC extensions require.
//!
//! Every failure is a [`DecodeError`] that keeps the transaction id when it was
//! read, so a node can answer a malformed query with [`PROTOCOL_ERROR`].

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::bencode::{Limits, OwnedValue};
use crate::id::{encode_hex, InfoHash};

mod decode;
mod node_id;
#[cfg(test)]
mod tests;

pub use decode::{DecodeError, ErrorKind};
pub use node_id::{Distance, NodeId};

/// Longest datagram [`Message::decode`] reads. Real nodes keep to one
/// unfragmented packet (about 1400 bytes); this leaves room for fragments.
pub const MAX_MESSAGE_LEN: usize = 8 * 1024;

/// The bencode limits for one datagram: shallow nesting (a message is a
/// dictionary of dictionaries of lists, with room for extensions) and few values.
pub const LIMITS: Limits = Limits {
    max_depth: 8,
    max_string_len: MAX_MESSAGE_LEN,
    max_values: 1024,
};

/// Longest transaction id, in bytes (two are usual).
pub const MAX_TRANSACTION_LEN: usize = 16;

/// Longest client version string `v` (BEP 5 asks for four bytes).
pub const MAX_VERSION_LEN: usize = 16;

/// Longest write token.
pub const MAX_TOKEN_LEN: usize = 64;

/// Longest method name `q`.
pub const MAX_METHOD_LEN: usize = 64;

/// Most nodes of one family (`nodes` or `nodes6`) kept from a response.
pub const MAX_NODES: usize = 100;

/// Most peers (`values`) kept from a response.
pub const MAX_VALUES: usize = 100;

/// Longest error message kept, in bytes; a longer one is cut at a character
/// boundary.
pub const MAX_ERROR_MESSAGE_LEN: usize = 1024;

/// Error code 201, "Generic Error".
pub const GENERIC_ERROR: i64 = 201;
/// Error code 202, "Server Error".
pub const SERVER_ERROR: i64 = 202;
/// Error code 203, "Protocol Error": a malformed packet, invalid arguments or a
/// bad token.
pub const PROTOCOL_ERROR: i64 = 203;
/// Error code 204, "Method Unknown".
pub const METHOD_UNKNOWN: i64 = 204;

/// Length of a compact IPv4 node entry: id, address, port.
pub const COMPACT_NODE_LEN: usize = 26;
/// Length of a compact IPv6 node entry (BEP 32's `nodes6`).
pub const COMPACT_NODE6_LEN: usize = 38;

/// The transaction id of a query, echoed by its response: up to
/// [`MAX_TRANSACTION_LEN`] opaque bytes, stored inline.
///
/// ```
/// use sluice_core::dht::krpc::TransactionId;
///
/// let t = TransactionId::from_u16(0x6161);
/// assert_eq!(t.as_bytes(), b"aa");
/// assert_eq!(TransactionId::new(b"aa"), Some(t));
/// assert!(TransactionId::new(&[0; 17]).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransactionId {
    // Bytes past `len` are always zero, so the derived traits are sound.
    len: u8,
    bytes: [u8; MAX_TRANSACTION_LEN],
}

impl TransactionId {
    /// The id made of `bytes`, or `None` if longer than [`MAX_TRANSACTION_LEN`].
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let mut t = TransactionId {
            len: u8::try_from(bytes.len()).ok()?,
            bytes: [0; MAX_TRANSACTION_LEN],
        };
        t.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(t)
    }

    /// The usual two-byte id, big-endian.
    pub fn from_u16(n: u16) -> Self {
        let mut bytes = [0; MAX_TRANSACTION_LEN];
        bytes[..2].copy_from_slice(&n.to_be_bytes());
        TransactionId { len: 2, bytes }
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionId({})", encode_hex(self.as_bytes()))
    }
}

/// One KRPC message.
///
/// ```
/// use sluice_core::dht::krpc::{Body, Message, NodeId, Query, TransactionId};
///
/// let ping = Message::query(
///     TransactionId::new(b"aa").unwrap(),
///     Query::Ping { id: NodeId(*b"abcdefghij0123456789") },
/// );
/// let bytes = ping.to_bytes();
/// assert_eq!(bytes, b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
/// let again = Message::decode(&bytes).unwrap();
/// assert_eq!(again, ping);
/// assert!(matches!(again.body, Body::Query(Query::Ping { .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// `t`: chosen by the querying node, echoed in the reply.
    pub transaction: TransactionId,
    /// `v`: the sender's client and version, up to [`MAX_VERSION_LEN`] bytes.
    pub version: Option<Vec<u8>>,
    /// `ip` (BEP 42): in a reply, the querying node's address as the responder
    /// saw it. IPv6 flow info and scope id are not on the wire and decode as 0.
    pub requester: Option<SocketAddr>,
    /// `ro` (BEP 43): in a query, the sender is read-only and must not be
    /// added to routing tables.
    pub read_only: bool,
    /// What the message says.
    pub body: Body,
}

/// The three kinds of message (`y`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `y = q`: a query.
    Query(Query),
    /// `y = r`: a successful reply.
    Response(Response),
    /// `y = e`: a failed reply.
    Error {
        /// One of [`GENERIC_ERROR`], [`SERVER_ERROR`], [`PROTOCOL_ERROR`],
        /// [`METHOD_UNKNOWN`], or any other number a node sent.
        code: i64,
        /// Human-readable text: invalid UTF-8 is replaced and the text cut to
        /// [`MAX_ERROR_MESSAGE_LEN`] bytes when decoding.
        message: String,
    },
}

/// A query (`q` and its arguments `a`); every one carries the sender's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// `ping`: are you there?
    Ping {
        /// The querying node.
        id: NodeId,
    },
    /// `find_node`: the nodes you know closest to `target`.
    FindNode {
        /// The querying node.
        id: NodeId,
        /// The id sought.
        target: NodeId,
    },
    /// `get_peers`: peers of a torrent, or the nodes closest to it, and a token.
    GetPeers {
        /// The querying node.
        id: NodeId,
        /// The torrent.
        info_hash: InfoHash,
    },
    /// `announce_peer`: the sender downloads `info_hash` on `port`.
    AnnouncePeer {
        /// The querying node.
        id: NodeId,
        /// The torrent.
        info_hash: InfoHash,
        /// The peer's port (ignored by the receiver when `implied_port`).
        port: u16,
        /// Use the datagram's source port instead of `port`.
        implied_port: bool,
        /// The token from an earlier `get_peers` reply of the receiver.
        token: Vec<u8>,
    },
    /// Any other method; its arguments are not kept. A method named like a
    /// known one decodes to that one instead, so do not build such a value.
    Unknown {
        /// The querying node.
        id: NodeId,
        /// The method name, up to [`MAX_METHOD_LEN`] bytes.
        method: Vec<u8>,
    },
}

impl Query {
    /// The querying node's id.
    pub fn id(&self) -> NodeId {
        match self {
            Query::Ping { id }
            | Query::FindNode { id, .. }
            | Query::GetPeers { id, .. }
            | Query::AnnouncePeer { id, .. }
            | Query::Unknown { id, .. } => *id,
        }
    }

    /// The method name, as sent in `q`.
    pub fn method(&self) -> &[u8] {
        match self {
            Query::Ping { .. } => b"ping",
            Query::FindNode { .. } => b"find_node",
            Query::GetPeers { .. } => b"get_peers",
            Query::AnnouncePeer { .. } => b"announce_peer",
            Query::Unknown { method, .. } => method,
        }
    }
}

/// A node's contact: its id and address (compact node info).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeInfo<A> {
    /// The node's id.
    pub id: NodeId,
    /// Where it listens: [`SocketAddrV4`] in `nodes`, [`SocketAddrV6`] in `nodes6`.
    pub addr: A,
}

/// A successful reply (`r`). Which fields are set depends on the query it
/// answers: `id` alone for `ping` and `announce_peer`, `nodes` for
/// `find_node`, `token` with `values` or `nodes` for `get_peers`.
///
/// ```
/// use core::net::SocketAddr;
/// use sluice_core::dht::krpc::{Body, Message, NodeId, Response};
///
/// let bytes = b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth\
///               6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re";
/// let Body::Response(r) = Message::decode(bytes).unwrap().body else { panic!() };
/// assert_eq!(r.id, NodeId(*b"abcdefghij0123456789"));
/// assert_eq!(r.token.as_deref(), Some(&b"aoeusnth"[..]));
/// let first: SocketAddr = "97.120.106.101:11893".parse().unwrap();
/// assert_eq!(r.values[0], first);
/// assert!(r.nodes.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The responding node.
    pub id: NodeId,
    /// `nodes`: IPv4 contacts close to the target (empty if absent).
    pub nodes: Vec<NodeInfo<SocketAddrV4>>,
    /// `nodes6`: IPv6 contacts close to the target (empty if absent).
    pub nodes6: Vec<NodeInfo<SocketAddrV6>>,
    /// `values`: peers of the torrent (empty if absent).
    pub values: Vec<SocketAddr>,
    /// `token`: to present in a later `announce_peer`.
    pub token: Option<Vec<u8>>,
}

impl Response {
    /// A reply carrying only the responder's id, as to `ping`.
    pub fn new(id: NodeId) -> Self {
        Response {
            id,
            nodes: Vec::new(),
            nodes6: Vec::new(),
            values: Vec::new(),
            token: None,
        }
    }
}

impl Message {
    /// A query with no version, address or read-only flag.
    pub fn query(transaction: TransactionId, query: Query) -> Self {
        Self::with_body(transaction, Body::Query(query))
    }

    /// A reply with no version or address.
    pub fn response(transaction: TransactionId, response: Response) -> Self {
        Self::with_body(transaction, Body::Response(response))
    }

    /// An error reply.
    pub fn error(transaction: TransactionId, code: i64, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::with_body(transaction, Body::Error { code, message })
    }

    fn with_body(transaction: TransactionId, body: Body) -> Self {
        Message {
            transaction,
            version: None,
            requester: None,
            read_only: false,
            body,
        }
    }

    /// Decodes one datagram; see the [module documentation](self) for the rules.
    pub fn decode(datagram: &[u8]) -> Result<Self, DecodeError> {
        decode::decode(datagram)
    }

    /// Appends the canonical encoding to `out`.
    ///
    /// Empty `nodes`, `nodes6` and `values`, and `false` flags, are left out,
    /// so they decode the same as absent ones. Fields longer than the decoder's
    /// bounds are written anyway; they just will not decode.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.to_value().encode(out);
    }

    /// The canonical encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_value().to_bytes()
    }

    fn to_value(&self) -> OwnedValue {
        let mut d = OwnedValue::dict();
        d.insert("t", self.transaction.as_bytes().to_vec().into());
        if let Some(v) = &self.version {
            d.insert("v", v.clone().into());
        }
        if let Some(addr) = &self.requester {
            let mut ip = Vec::with_capacity(18);
            push_compact_addr(addr, &mut ip);
            d.insert("ip", ip.into());
        }
        if self.read_only {
            d.insert("ro", OwnedValue::Integer(1));
        }
        match &self.body {
            Body::Query(q) => {
                d.insert("y", "q".into());
                d.insert("q", q.method().to_vec().into());
                d.insert("a", query_args(q));
            }
            Body::Response(r) => {
                d.insert("y", "r".into());
                d.insert("r", response_dict(r));
            }
            Body::Error { code, message } => {
                d.insert("y", "e".into());
                let e = vec![OwnedValue::Integer(*code), message.as_str().into()];
                d.insert("e", OwnedValue::List(e));
            }
        }
        d
    }
}

fn id_value(id: &NodeId) -> OwnedValue {
    OwnedValue::Bytes(id.0.to_vec())
}

fn query_args(q: &Query) -> OwnedValue {
    let mut a = OwnedValue::dict();
    a.insert("id", id_value(&q.id()));
    match q {
        Query::Ping { .. } | Query::Unknown { .. } => {}
        Query::FindNode { target, .. } => a.insert("target", id_value(target)),
        Query::GetPeers { info_hash, .. } => a.insert("info_hash", info_hash.0.to_vec().into()),
        Query::AnnouncePeer {
            info_hash,
            port,
            implied_port,
            token,
            ..
        } => {
            a.insert("info_hash", info_hash.0.to_vec().into());
            a.insert("port", OwnedValue::Integer(i64::from(*port)));
            if *implied_port {
                a.insert("implied_port", OwnedValue::Integer(1));
            }
            a.insert("token", token.clone().into());
        }
    }
    a
}

fn response_dict(r: &Response) -> OwnedValue {
    let mut d = OwnedValue::dict();
    d.insert("id", id_value(&r.id));
    if !r.nodes.is_empty() {
        let mut nodes = Vec::with_capacity(r.nodes.len() * COMPACT_NODE_LEN);
        for n in &r.nodes {
            nodes.extend_from_slice(&n.id.0);
            push_compact_addr(&SocketAddr::V4(n.addr), &mut nodes);
        }
        d.insert("nodes", nodes.into());
    }
    if !r.nodes6.is_empty() {
        let mut nodes = Vec::with_capacity(r.nodes6.len() * COMPACT_NODE6_LEN);
        for n in &r.nodes6 {
            nodes.extend_from_slice(&n.id.0);
            push_compact_addr(&SocketAddr::V6(n.addr), &mut nodes);
        }
        d.insert("nodes6", nodes.into());
    }
    if !r.values.is_empty() {
        let values = r
            .values
            .iter()
            .map(|addr| {
                let mut peer = Vec::with_capacity(18);
                push_compact_addr(addr, &mut peer);
                OwnedValue::Bytes(peer)
            })
            .collect();
        d.insert("values", OwnedValue::List(values));
    }
    if let Some(token) = &r.token {
        d.insert("token", token.clone().into());
    }
    d
}

/// Appends compact address info: the address in network order, then the port
/// (6 bytes for IPv4, 18 for IPv6).
fn push_compact_addr(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// Reads compact address info of 6 or 18 bytes.
fn compact_addr(bytes: &[u8]) -> Option<SocketAddr> {
    let (ip, port) = bytes.split_last_chunk::<2>()?;
    let port = u16::from_be_bytes(*port);
    if let Ok(v4) = <[u8; 4]>::try_from(ip) {
        Some(SocketAddrV4::new(Ipv4Addr::from(v4), port).into())
    } else if let Ok(v6) = <[u8; 16]>::try_from(ip) {
        Some(SocketAddrV6::new(Ipv6Addr::from(v6), port, 0, 0).into())
    } else {
        None
    }
}

//! Reading a KRPC datagram into a [`Message`].

use core::fmt;
use core::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use super::{
    compact_addr, Body, InfoHash, Message, NodeId, NodeInfo, Query, Response, TransactionId,
    COMPACT_NODE6_LEN, COMPACT_NODE_LEN, LIMITS, MAX_ERROR_MESSAGE_LEN, MAX_MESSAGE_LEN,
    MAX_METHOD_LEN, MAX_NODES, MAX_TOKEN_LEN, MAX_VALUES, MAX_VERSION_LEN,
};
use crate::bencode::{self, Dict, Node};

/// Why a datagram is not a valid KRPC message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The datagram is longer than [`MAX_MESSAGE_LEN`].
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Not one well-formed bencoded value within [`LIMITS`](super::LIMITS).
    Bencode(bencode::DecodeError),
    /// The top-level value, or `a` / `r`, is not a dictionary.
    NotDict,
    /// A required key is absent.
    Missing(&'static str),
    /// A key holds the wrong kind of value.
    WrongType {
        /// The key.
        field: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
    /// A byte string of the wrong length: an id not 20 bytes, a `nodes` string
    /// not a whole number of entries, a peer neither 6 nor 18 bytes, or a bounded
    /// field (`t`, `v`, `q`, `token`) over its bound.
    BadLength {
        /// The key.
        field: &'static str,
        /// The length found.
        len: usize,
    },
    /// `y` is not `q`, `r` or `e`.
    UnknownType,
    /// `port` is not in `0..=65535`.
    BadPort(i64),
    /// `e` is a list of fewer than two items.
    ShortError,
}

/// A datagram that is not a valid KRPC message.
///
/// ```
/// use sluice_core::dht::krpc::{ErrorKind, Message};
///
/// // A find_node without its target: the node can answer 203 to "aa".
/// let e = Message::decode(b"d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe")
///     .unwrap_err();
/// assert_eq!(e.kind, ErrorKind::Missing("target"));
/// assert_eq!(e.transaction.unwrap().as_bytes(), b"aa");
/// assert!(e.query);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// The transaction id, when it could be read before the failure.
    pub transaction: Option<TransactionId>,
    /// True when the message said it was a query (`y = q`): a reply with
    /// [`PROTOCOL_ERROR`](super::PROTOCOL_ERROR) is then in order.
    pub query: bool,
    /// What was wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::TooLong { len } => {
                write!(f, "datagram of {len} bytes exceeds {MAX_MESSAGE_LEN}")
            }
            ErrorKind::Bencode(e) => write!(f, "{e}"),
            ErrorKind::NotDict => write!(f, "not a dictionary"),
            ErrorKind::Missing(field) => write!(f, "missing `{field}`"),
            ErrorKind::WrongType { field, expected } => {
                write!(f, "`{field}` is not {expected}")
            }
            ErrorKind::BadLength { field, len } => write!(f, "`{field}` has a bad length {len}"),
            ErrorKind::UnknownType => write!(f, "`y` is not q, r or e"),
            ErrorKind::BadPort(p) => write!(f, "port {p} out of range"),
            ErrorKind::ShortError => write!(f, "`e` lacks a code or a message"),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "krpc: {}", self.kind)
    }
}

impl std::error::Error for DecodeError {}

/// What has been learnt of the message so far, for the error.
struct Context {
    transaction: Option<TransactionId>,
    query: bool,
}

impl Context {
    fn fail<T>(&self, kind: ErrorKind) -> Result<T, DecodeError> {
        Err(DecodeError {
            transaction: self.transaction,
            query: self.query,
            kind,
        })
    }
}

type Result<T, E = ErrorKind> = core::result::Result<T, E>;

pub(super) fn decode(datagram: &[u8]) -> Result<Message, DecodeError> {
    let mut cx = Context {
        transaction: None,
        query: false,
    };
    if datagram.len() > MAX_MESSAGE_LEN {
        return cx.fail(ErrorKind::TooLong {
            len: datagram.len(),
        });
    }
    let root = match bencode::decode_with(datagram, LIMITS) {
        Ok(root) => root,
        Err(e) => return cx.fail(ErrorKind::Bencode(e)),
    };
    let Some(dict) = root.as_dict() else {
        return cx.fail(ErrorKind::NotDict);
    };
    let transaction = match required(dict, "t").and_then(|t| {
        TransactionId::new(t).ok_or(ErrorKind::BadLength {
            field: "t",
            len: t.len(),
        })
    }) {
        Ok(t) => t,
        Err(kind) => return cx.fail(kind),
    };
    cx.transaction = Some(transaction);
    let y = match bytes(dict, "y").and_then(|y| y.ok_or(ErrorKind::Missing("y"))) {
        Ok(y) => y,
        Err(kind) => return cx.fail(kind),
    };
    cx.query = y == b"q";
    let rest = || -> Result<Message> {
        let version = bounded(dict, "v", MAX_VERSION_LEN)?.map(<[u8]>::to_vec);
        let body = match y {
            b"q" => Body::Query(query(dict)?),
            b"r" => Body::Response(response(sub_dict(dict, "r")?)?),
            b"e" => error(dict)?,
            _ => return Err(ErrorKind::UnknownType),
        };
        // Hints from later BEPs: a malformed one is dropped, not fatal.
        let requester = dict
            .get(b"ip")
            .and_then(Node::as_bytes)
            .and_then(compact_addr);
        let read_only = dict
            .get(b"ro")
            .and_then(Node::as_int)
            .is_some_and(|ro| ro != 0);
        Ok(Message {
            transaction,
            version,
            requester,
            read_only,
            body,
        })
    };
    rest().or_else(|kind| cx.fail(kind))
}

/// The byte string under `key`, if present.
fn bytes<'a>(dict: &Dict<'a>, key: &'static str) -> Result<Option<&'a [u8]>> {
    match dict.get(key.as_bytes()) {
        None => Ok(None),
        Some(node) => node.as_bytes().map(Some).ok_or(ErrorKind::WrongType {
            field: key,
            expected: "a byte string",
        }),
    }
}

/// The byte string under `key`, if present, no longer than `max`.
fn bounded<'a>(dict: &Dict<'a>, key: &'static str, max: usize) -> Result<Option<&'a [u8]>> {
    match bytes(dict, key)? {
        Some(b) if b.len() > max => Err(ErrorKind::BadLength {
            field: key,
            len: b.len(),
        }),
        other => Ok(other),
    }
}

fn required<'a>(dict: &Dict<'a>, key: &'static str) -> Result<&'a [u8]> {
    bytes(dict, key)?.ok_or(ErrorKind::Missing(key))
}

/// A required 20-byte string.
fn twenty(dict: &Dict<'_>, key: &'static str) -> Result<[u8; 20]> {
    let b = required(dict, key)?;
    b.try_into().map_err(|_| ErrorKind::BadLength {
        field: key,
        len: b.len(),
    })
}

fn integer(dict: &Dict<'_>, key: &'static str) -> Result<Option<i64>> {
    match dict.get(key.as_bytes()) {
        None => Ok(None),
        Some(node) => node.as_int().map(Some).ok_or(ErrorKind::WrongType {
            field: key,
            expected: "an integer",
        }),
    }
}

fn sub_dict<'d, 'a>(dict: &'d Dict<'a>, key: &'static str) -> Result<&'d Dict<'a>> {
    dict.get(key.as_bytes())
        .ok_or(ErrorKind::Missing(key))?
        .as_dict()
        .ok_or(ErrorKind::NotDict)
}

fn query(dict: &Dict<'_>) -> Result<Query> {
    let method = bounded(dict, "q", MAX_METHOD_LEN)?.ok_or(ErrorKind::Missing("q"))?;
    let a = sub_dict(dict, "a")?;
    let id = NodeId(twenty(a, "id")?);
    Ok(match method {
        b"ping" => Query::Ping { id },
        b"find_node" => Query::FindNode {
            id,
            target: NodeId(twenty(a, "target")?),
        },
        b"get_peers" => Query::GetPeers {
            id,
            info_hash: InfoHash(twenty(a, "info_hash")?),
        },
        b"announce_peer" => {
            let info_hash = InfoHash(twenty(a, "info_hash")?);
            let port = integer(a, "port")?.ok_or(ErrorKind::Missing("port"))?;
            let port = u16::try_from(port).map_err(|_| ErrorKind::BadPort(port))?;
            let implied_port = integer(a, "implied_port")?.is_some_and(|i| i != 0);
            let token = bounded(a, "token", MAX_TOKEN_LEN)?.ok_or(ErrorKind::Missing("token"))?;
            Query::AnnouncePeer {
                id,
                info_hash,
                port,
                implied_port,
                token: token.to_vec(),
            }
        }
        other => Query::Unknown {
            id,
            method: other.to_vec(),
        },
    })
}

fn response(r: &Dict<'_>) -> Result<Response> {
    let id = NodeId(twenty(r, "id")?);
    let nodes = compact_nodes(r, "nodes", COMPACT_NODE_LEN)?
        .filter_map(|(id, addr)| match addr {
            SocketAddr::V4(addr) => Some(NodeInfo::<SocketAddrV4> { id, addr }),
            SocketAddr::V6(_) => None,
        })
        .collect();
    let nodes6 = compact_nodes(r, "nodes6", COMPACT_NODE6_LEN)?
        .filter_map(|(id, addr)| match addr {
            SocketAddr::V6(addr) => Some(NodeInfo::<SocketAddrV6> { id, addr }),
            SocketAddr::V4(_) => None,
        })
        .collect();
    let values = match r.get(b"values") {
        None => Vec::new(),
        Some(node) => {
            let items = node.as_list().ok_or(ErrorKind::WrongType {
                field: "values",
                expected: "a list",
            })?;
            items
                .iter()
                .take(MAX_VALUES)
                .map(|item| {
                    let peer = item.as_bytes().ok_or(ErrorKind::WrongType {
                        field: "values",
                        expected: "a list of byte strings",
                    })?;
                    compact_addr(peer).ok_or(ErrorKind::BadLength {
                        field: "values",
                        len: peer.len(),
                    })
                })
                .collect::<Result<Vec<_>>>()?
        }
    };
    let token = bounded(r, "token", MAX_TOKEN_LEN)?.map(<[u8]>::to_vec);
    Ok(Response {
        id,
        nodes,
        nodes6,
        values,
        token,
    })
}

/// The first [`MAX_NODES`] entries of a compact node string of `entry`-byte
/// entries (26 or 38, so each address has the family of its key).
fn compact_nodes<'a>(
    r: &Dict<'a>,
    key: &'static str,
    entry: usize,
) -> Result<impl Iterator<Item = (NodeId, SocketAddr)> + 'a> {
    let b = bytes(r, key)?.unwrap_or_default();
    if b.len() % entry != 0 {
        return Err(ErrorKind::BadLength {
            field: key,
            len: b.len(),
        });
    }
    Ok(b.chunks_exact(entry).take(MAX_NODES).filter_map(|chunk| {
        let (id, addr) = chunk.split_first_chunk::<20>()?;
        Some((NodeId(*id), compact_addr(addr)?))
    }))
}

fn error(dict: &Dict<'_>) -> Result<Body> {
    let e = dict.get(b"e").ok_or(ErrorKind::Missing("e"))?;
    let items = e.as_list().ok_or(ErrorKind::WrongType {
        field: "e",
        expected: "a list",
    })?;
    let [code, message, ..] = items else {
        return Err(ErrorKind::ShortError);
    };
    let code = code.as_int().ok_or(ErrorKind::WrongType {
        field: "e",
        expected: "[code, message]",
    })?;
    let message = message.as_bytes().ok_or(ErrorKind::WrongType {
        field: "e",
        expected: "[code, message]",
    })?;
    let mut message = String::from_utf8_lossy(message).into_owned();
    if message.len() > MAX_ERROR_MESSAGE_LEN {
        let mut end = MAX_ERROR_MESSAGE_LEN;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    Ok(Body::Error { code, message })
}

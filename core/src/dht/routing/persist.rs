//! Saving a routing table between runs, as BEP 5 asks.
//!
//! The format, all integers big-endian:
//!
//! | bytes | what |
//! |---|---|
//! | 4 | [`MAGIC`], `SLRT` |
//! | 1 | [`FORMAT_VERSION`], 1 |
//! | 20 | our own id |
//! | 2 | the number of nodes that follow |
//! | 27 or 39 each | a node: family (4 or 6), id, IP address (4 or 16 bytes), port |
//!
//! Only the nodes are saved, not the bad ones and not the replacements; times
//! are not saved either, as they mean nothing to the next run. Reading is
//! strict about structure (every byte accounted for) and lenient about
//! content: a node the new table refuses (our own id, a duplicate, a BEP 42
//! failure under a stricter configuration) is skipped.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Config, RoutingTable};
use crate::dht::krpc::{NodeId, NodeInfo};
use crate::time::Time;

/// The first bytes of a saved table.
pub const MAGIC: [u8; 4] = *b"SLRT";

/// The version of the format [`RoutingTable::to_bytes`] writes and
/// [`RoutingTable::from_bytes`] reads.
pub const FORMAT_VERSION: u8 = 1;

/// Bytes before the first node.
const HEADER_LEN: usize = 4 + 1 + 20 + 2;

/// Why a saved table could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The input does not start with [`MAGIC`].
    BadMagic,
    /// The format version is not [`FORMAT_VERSION`].
    UnsupportedVersion(u8),
    /// The input ends in the middle of the header or of a node.
    Truncated,
    /// A node's family byte is neither 4 nor 6.
    BadFamily(u8),
    /// Bytes follow the last node.
    TrailingBytes,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::BadMagic => f.write_str("not a saved routing table"),
            LoadError::UnsupportedVersion(v) => {
                write!(f, "saved routing table has unsupported version {v}")
            }
            LoadError::Truncated => f.write_str("saved routing table is truncated"),
            LoadError::BadFamily(b) => write!(f, "saved node has unknown address family {b}"),
            LoadError::TrailingBytes => f.write_str("saved routing table has trailing bytes"),
        }
    }
}

impl std::error::Error for LoadError {}

impl RoutingTable {
    /// The table in the saved format: [`MAGIC`], [`FORMAT_VERSION`], our id,
    /// a big-endian `u16` count, then per node its family byte (4 or 6), id,
    /// address bytes and big-endian port. Every node that is not bad is
    /// written, closest buckets last; replacements and times are not.
    pub fn to_bytes(&self) -> Vec<u8> {
        let nodes: Vec<&NodeInfo<SocketAddr>> = self
            .nodes()
            .filter(|n| !n.is_bad())
            .map(|n| &n.info)
            .take(usize::from(u16::MAX))
            .collect();
        let mut out = Vec::with_capacity(HEADER_LEN + nodes.len() * 39);
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.own_id.0);
        let count = u16::try_from(nodes.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for info in nodes {
            match info.addr.ip() {
                IpAddr::V4(v4) => {
                    out.push(4);
                    out.extend_from_slice(&info.id.0);
                    out.extend_from_slice(&v4.octets());
                }
                IpAddr::V6(v6) => {
                    out.push(6);
                    out.extend_from_slice(&info.id.0);
                    out.extend_from_slice(&v6.octets());
                }
            }
            out.extend_from_slice(&info.addr.port().to_be_bytes());
        }
        out
    }

    /// Reads a table saved by [`to_bytes`](Self::to_bytes), with `config`
    /// and every bucket counted as changed at `now`. The nodes come back
    /// questionable, as if heard of from another node: whether they are
    /// still there is for the node logic to find out. Malformed input is an
    /// error, never a panic.
    ///
    /// ```
    /// use sluice_core::dht::krpc::{NodeId, NodeInfo};
    /// use sluice_core::dht::routing::{Config, LoadError, RoutingTable};
    /// use sluice_core::Time;
    ///
    /// let mut table = RoutingTable::new(NodeId([1; 20]), Config::default());
    /// let node = NodeInfo { id: NodeId([2; 20]), addr: "[2001:db8::1]:6881".parse().unwrap() };
    /// table.add_contact(node, Time::ZERO);
    /// let saved = table.to_bytes();
    /// let loaded = RoutingTable::from_bytes(&saved, Config::default(), Time::ZERO).unwrap();
    /// assert_eq!(loaded.own_id(), NodeId([1; 20]));
    /// assert_eq!(loaded.get(&node.id).unwrap().info, node);
    /// assert_eq!(
    ///     RoutingTable::from_bytes(&saved[..saved.len() - 1], Config::default(), Time::ZERO).err(),
    ///     Some(LoadError::Truncated)
    /// );
    /// ```
    pub fn from_bytes(bytes: &[u8], config: Config, now: Time) -> Result<RoutingTable, LoadError> {
        match bytes.get(..MAGIC.len()) {
            Some(magic) if magic == MAGIC => {}
            None if MAGIC.starts_with(bytes) => return Err(LoadError::Truncated),
            _ => return Err(LoadError::BadMagic),
        }
        let mut r = Reader(&bytes[MAGIC.len()..]);
        let version = r.array::<1>()?[0];
        if version != FORMAT_VERSION {
            return Err(LoadError::UnsupportedVersion(version));
        }
        let own_id = NodeId(r.array()?);
        let count = u16::from_be_bytes(r.array()?);
        let mut table = RoutingTable::new_at(own_id, config, now);
        for _ in 0..count {
            let family = r.array::<1>()?[0];
            let id = NodeId(r.array()?);
            let ip = match family {
                4 => IpAddr::V4(Ipv4Addr::from(r.array::<4>()?)),
                6 => IpAddr::V6(Ipv6Addr::from(r.array::<16>()?)),
                other => return Err(LoadError::BadFamily(other)),
            };
            let port = u16::from_be_bytes(r.array()?);
            let info = NodeInfo {
                id,
                addr: SocketAddr::new(ip, port),
            };
            // Refused nodes are skipped: the structure is what must be sound.
            table.add_contact(info, now);
        }
        if !r.0.is_empty() {
            return Err(LoadError::TrailingBytes);
        }
        Ok(table)
    }
}

/// A cursor over the input.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], LoadError> {
        let bytes = self.take(N).ok_or(LoadError::Truncated)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
}

//! The client's DHT node (BEP 5), shared by both drivers: the core's
//! [`DhtNode`] plus what a client needs around it: the torrents' peer lookups
//! and announces on a schedule, the routing table saved and reloaded between
//! runs, and the peers found handed back per torrent.
//!
//! A [`DhtService`] does no I/O on the network. A driver owns one UDP socket,
//! feeds [`DhtService::handle_datagram`] and [`DhtService::handle_timeout`],
//! sends what [`DhtService::poll_transmit`] gives and adds the peers of
//! [`DhtService::poll_peers`] to its torrents. The only I/O here is the
//! routing-table file, read once at the start and written by
//! [`DhtService::save`].
//!
//! # Schedule
//!
//! A torrent is looked up as soon as it is added and again every
//! [`RELOOKUP`] (BEP 5 peers expire after 30 minutes, so announcing every
//! 15 keeps us listed). A lookup that found nobody is retried sooner, after
//! [`RETRY`]. Lookups wait while the node is still joining the network (its
//! first `find_node` of its own id), so the first one already has a table to
//! start from. Private torrents (BEP 27) are never added by the drivers.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sluice_core::dht::krpc::NodeId;
use sluice_core::dht::node::{Config, DhtEvent, DhtNode, LookupId};
use sluice_core::dht::routing::RoutingTable;
use sluice_core::{InfoHash, Rng, Time};

use crate::tracker::unmap;

/// The public routers a node joins through when nothing else is given.
pub const PUBLIC_ROUTERS: &[&str] = &[
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "router.utorrent.com:6881",
    "dht.libtorrent.org:25401",
];

/// How often each torrent is looked up (and announced) again.
pub const RELOOKUP: Duration = Duration::from_secs(15 * 60);
/// How soon a lookup that found no peer is tried again.
pub const RETRY: Duration = Duration::from_secs(60);
/// How often the routing table is saved while running.
const SAVE_EVERY: Duration = Duration::from_secs(10 * 60);
/// How long torrent lookups wait for the first bootstrap at most.
const JOIN_WAIT: Duration = Duration::from_secs(10);
/// How soon a join that found nobody is tried again (doubling each time).
const REJOIN_FIRST: Duration = Duration::from_secs(30);
/// The longest wait between join attempts.
const REJOIN_MAX: Duration = Duration::from_secs(10 * 60);
/// Most peer batches waiting in [`DhtService::poll_peers`].
const MAX_PEER_BATCHES: usize = 1024;

/// How a client runs its DHT node.
///
/// ```
/// use sluice_std::dht::DhtOptions;
///
/// // Join through one known node, and keep the table between runs.
/// let mut dht = DhtOptions::bootstrap_from(["127.0.0.1:6881".parse().unwrap()]);
/// dht.state_file = Some("downloads/.sluice/dht.dat".into());
/// assert_eq!(dht.bootstrap, ["127.0.0.1:6881"]);
///
/// // The public routers.
/// assert!(!sluice_std::dht::DhtOptions::public().bootstrap.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhtOptions {
    /// Nodes to join through, as `host:port` (names are resolved off the
    /// driver's loop). Empty: only the saved table and peers' `port`
    /// messages introduce nodes.
    pub bootstrap: Vec<String>,
    /// Where the routing table (and our node id) is saved on shutdown and
    /// every few minutes, and read at the start; `None` keeps nothing.
    pub state_file: Option<PathBuf>,
    /// The UDP port of the node; `None` for the client's TCP listen port
    /// (any free port if that one is taken).
    pub port: Option<u16>,
}

impl DhtOptions {
    /// Join through the well-known [`PUBLIC_ROUTERS`]; nothing saved.
    pub fn public() -> DhtOptions {
        DhtOptions {
            bootstrap: PUBLIC_ROUTERS.iter().map(|s| s.to_string()).collect(),
            state_file: None,
            port: None,
        }
    }

    /// Join through these nodes only; nothing saved.
    pub fn bootstrap_from(nodes: impl IntoIterator<Item = SocketAddr>) -> DhtOptions {
        DhtOptions {
            bootstrap: nodes.into_iter().map(|a| a.to_string()).collect(),
            state_file: None,
            port: None,
        }
    }
}

/// Resolves bootstrap names (blocking: run it off the loop). Names that do
/// not resolve are skipped; IPv6 answers are kept only if the node is on
/// IPv6 (`v6`).
pub fn resolve_bootstrap(names: &[String], v6: bool) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for name in names {
        let Ok(addrs) = name.as_str().to_socket_addrs() else {
            continue;
        };
        for a in addrs.map(unmap) {
            if a.is_ipv6() == v6 && !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// Binds a node's UDP socket (blocking; sluice-mio makes it non-blocking):
/// on `port` when one is given, else on the TCP listen port if UDP is free
/// there too (a peer that learns one of our ports tries the other on it),
/// else on any free port of the listen address.
pub fn bind_socket(listen: SocketAddr, port: Option<u16>) -> io::Result<UdpSocket> {
    let at = |p: u16| UdpSocket::bind(SocketAddr::new(listen.ip(), p));
    match port {
        Some(p) => at(p),
        None => at(listen.port()).or_else(|_| at(0)),
    }
}

/// Figures of the node, for status displays and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DhtStatus {
    /// Our node id (hex).
    pub node_id: String,
    /// Nodes in the routing table.
    pub nodes: usize,
    /// Nodes read from the saved table at the start.
    pub loaded_nodes: usize,
    /// Whether the first join (the lookup of our own id) has ended.
    pub joined: bool,
    /// Torrent lookups finished.
    pub lookups_done: u64,
    /// Peers the lookups found, over all torrents.
    pub peers_found: u64,
    /// The last finished torrent lookup.
    pub last_lookup: Option<LookupFigures>,
    /// Announces that at least one node accepted.
    pub announces_stored: u64,
    /// Peers other nodes announced to us, held for them.
    pub stored_peers: usize,
}

/// What one lookup took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupFigures {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The longest chain of referrals followed.
    pub rounds: u32,
    /// Queries sent.
    pub queried: u32,
    /// Queries answered.
    pub responded: u32,
}

/// Why the saved table could not be used (the node then starts empty).
#[derive(Debug)]
pub struct LoadWarning(String);

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One torrent's place in the schedule.
#[derive(Debug)]
struct Track {
    /// Announce our TCP port, or only look for peers (a magnet link's
    /// metadata fetch).
    announce: bool,
    /// When the next lookup starts, unless one is running.
    next: Time,
    running: Option<LookupId>,
    /// Peers the running lookup found so far.
    found: usize,
}

/// The client's node and its torrents. See the [module documentation](self).
pub struct DhtService {
    node: DhtNode,
    /// Our TCP listen port, announced for every torrent.
    tcp_port: u16,
    torrents: BTreeMap<InfoHash, Track>,
    lookups: BTreeMap<LookupId, InfoHash>,
    /// The join lookup, while it runs.
    joining: Option<LookupId>,
    /// The routers' addresses are still being resolved.
    awaiting_bootstrap: bool,
    /// A join that found nobody is tried again then (lost datagrams, a
    /// network that was down), and the wait after that.
    rejoin: Option<(Time, Duration)>,
    /// Torrent lookups hold back until then (or until the join ends).
    join_deadline: Time,
    state_file: Option<PathBuf>,
    next_save: Time,
    peers: VecDeque<(InfoHash, Vec<SocketAddr>)>,
    status: DhtStatus,
}

impl DhtService {
    /// A node announcing `tcp_port`; its table comes from `opts.state_file`
    /// when that holds a valid one (the warning says why not otherwise).
    /// Call [`set_bootstrap`](Self::set_bootstrap) once the routers' names
    /// are resolved; a loaded table is asked at once.
    pub fn new(
        opts: &DhtOptions,
        tcp_port: u16,
        seed: u64,
        now: Time,
    ) -> (DhtService, Option<LoadWarning>) {
        let mut rng = Rng::new(seed);
        let config = Config::default();
        let (table, warning) = match &opts.state_file {
            Some(path) => load_table(path, &config, now),
            None => (None, None),
        };
        let loaded = table.as_ref().map_or(0, RoutingTable::len);
        let node_rng = rng.fork();
        let node = match table {
            Some(t) => DhtNode::with_routing_table(t, config, node_rng, now),
            None => {
                let mut id = [0u8; 20];
                for chunk in id.chunks_mut(8) {
                    let bytes = rng.next_u64().to_be_bytes();
                    chunk.copy_from_slice(&bytes[..chunk.len()]);
                }
                DhtNode::new(NodeId(id), config, node_rng, now)
            }
        };
        let mut service = DhtService {
            status: DhtStatus {
                node_id: node.own_id().to_hex(),
                loaded_nodes: loaded,
                ..DhtStatus::default()
            },
            node,
            tcp_port,
            torrents: BTreeMap::new(),
            lookups: BTreeMap::new(),
            joining: None,
            awaiting_bootstrap: !opts.bootstrap.is_empty(),
            rejoin: None,
            join_deadline: now + JOIN_WAIT,
            state_file: opts.state_file.clone(),
            next_save: now + SAVE_EVERY,
            peers: VecDeque::new(),
        };
        if loaded > 0 {
            service.joining = Some(service.node.bootstrap(now));
        }
        (service, warning)
    }

    /// The routers' addresses are known: join through them (and the table).
    pub fn set_bootstrap(&mut self, now: Time, nodes: Vec<SocketAddr>) {
        self.awaiting_bootstrap = false;
        if nodes.is_empty() && self.node.routing_table().is_empty() {
            // Nobody to ask: torrents need not wait for a join.
            self.join_deadline = now;
            return;
        }
        self.node.set_bootstrap(nodes);
        self.joining = Some(self.node.bootstrap(now));
        self.join_deadline = now + JOIN_WAIT;
    }

    /// Starts looking up `info_hash` now and on the schedule; with
    /// `announce`, also tells the closest nodes we serve it.
    pub fn add_torrent(&mut self, now: Time, info_hash: InfoHash, announce: bool) {
        let track = self.torrents.entry(info_hash).or_insert(Track {
            announce,
            next: now,
            running: None,
            found: 0,
        });
        track.announce |= announce;
        if track.running.is_none() {
            track.next = now;
        }
        self.start_due(now);
    }

    /// Stops looking `info_hash` up (a lookup running ends unheard).
    pub fn remove_torrent(&mut self, info_hash: &InfoHash) {
        self.torrents.remove(info_hash);
    }

    /// A peer named its DHT node (BEP 5 `port` message): ping it.
    pub fn add_node(&mut self, now: Time, addr: SocketAddr) {
        self.node.add_node(now, unmap(addr));
    }

    /// A datagram arrived on the node's socket.
    pub fn handle_datagram(&mut self, now: Time, from: SocketAddr, bytes: &[u8]) {
        self.node.handle_datagram(now, unmap(from), bytes);
        self.take_events(now);
        self.start_due(now);
    }

    /// Timers: the node's, the schedule's, and the periodic save.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now);
        }
        self.take_events(now);
        if let Some((at, wait)) = self.rejoin {
            if at <= now && self.joining.is_none() {
                self.rejoin = Some((now + wait, (wait * 2).min(REJOIN_MAX)));
                self.joining = Some(self.node.bootstrap(now));
                self.join_deadline = now + JOIN_WAIT;
            }
        }
        self.start_due(now);
        if now >= self.next_save {
            self.next_save = now + SAVE_EVERY;
            let _ = self.save();
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Time {
        let mut next = self.next_save;
        if let Some((at, _)) = self.rejoin {
            next = next.min(at);
        }
        if let Some(t) = self.node.poll_timeout() {
            next = next.min(t);
        }
        let waiting = self.joining.is_some() || self.awaiting_bootstrap;
        for track in self.torrents.values() {
            if track.running.is_none() {
                next = next.min(if waiting {
                    track.next.max(self.join_deadline)
                } else {
                    track.next
                });
            }
        }
        next
    }

    /// The next datagram to send, and where.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.node.poll_transmit()
    }

    /// Peers found for a torrent (each reported once per lookup).
    pub fn poll_peers(&mut self) -> Option<(InfoHash, Vec<SocketAddr>)> {
        self.peers.pop_front()
    }

    /// The node's figures.
    pub fn status(&self) -> DhtStatus {
        let mut s = self.status.clone();
        s.nodes = self.node.routing_table().len();
        s.stored_peers = self.node.stored_peers();
        s
    }

    /// Writes the routing table to the state file, if there is one (to a
    /// temporary file first, then renamed, so a crash never leaves half a
    /// table).
    pub fn save(&self) -> io::Result<()> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, self.node.routing_table().to_bytes())?;
        std::fs::rename(&tmp, path)
    }

    /// Starts the lookups that are due, unless the join still runs.
    fn start_due(&mut self, now: Time) {
        let joining = self.joining.is_some() || self.awaiting_bootstrap;
        if joining && now < self.join_deadline {
            return;
        }
        let due: Vec<InfoHash> = self
            .torrents
            .iter()
            .filter(|(_, t)| t.running.is_none() && t.next <= now)
            .map(|(ih, _)| *ih)
            .collect();
        for ih in due {
            let announce = self.torrents[&ih].announce;
            let id = if announce {
                self.node.announce(now, ih, self.tcp_port, false)
            } else {
                self.node.get_peers(now, ih)
            };
            self.lookups.insert(id, ih);
            if let Some(t) = self.torrents.get_mut(&ih) {
                t.running = Some(id);
                t.found = 0;
                t.next = now + RELOOKUP;
            }
        }
    }

    fn take_events(&mut self, now: Time) {
        while let Some(e) = self.node.poll_event() {
            match e {
                DhtEvent::Peers { lookup, peers, .. } => {
                    let Some(ih) = self.lookups.get(&lookup).copied() else {
                        continue;
                    };
                    self.status.peers_found += peers.len() as u64;
                    if let Some(t) = self.torrents.get_mut(&ih) {
                        t.found += peers.len();
                    }
                    if self.peers.len() < MAX_PEER_BATCHES {
                        self.peers.push_back((ih, peers));
                    }
                }
                DhtEvent::LookupDone {
                    lookup,
                    info_hash,
                    rounds,
                    queried,
                    responded,
                } => {
                    if self.joining == Some(lookup) {
                        self.joining = None;
                        if self.node.routing_table().is_empty() {
                            // Nobody answered: try again later, as often as
                            // it takes.
                            let wait = self.rejoin.map_or(REJOIN_FIRST, |(_, w)| w);
                            self.rejoin = Some((now + wait, (wait * 2).min(REJOIN_MAX)));
                            continue;
                        }
                        self.rejoin = None;
                        self.status.joined = true;
                        // Lookups that ran on a table too empty to find
                        // anyone try again with the one we have now.
                        for t in self.torrents.values_mut() {
                            if t.running.is_none() && t.found == 0 {
                                t.next = now;
                            }
                        }
                    }
                    let Some(ih) = self.lookups.get(&lookup).copied() else {
                        continue;
                    };
                    self.status.lookups_done += 1;
                    self.status.last_lookup = Some(LookupFigures {
                        info_hash,
                        rounds,
                        queried,
                        responded,
                    });
                    if let Some(t) = self.torrents.get_mut(&ih) {
                        if t.running == Some(lookup) {
                            t.running = None;
                            if t.found == 0 {
                                t.next = now + RETRY;
                            }
                        }
                    }
                    if !self.is_announce(&ih) {
                        self.lookups.remove(&lookup);
                    }
                }
                DhtEvent::Announced { lookup, stored, .. } => {
                    if stored > 0 {
                        self.status.announces_stored += 1;
                    }
                    self.lookups.remove(&lookup);
                }
            }
        }
    }

    fn is_announce(&self, ih: &InfoHash) -> bool {
        self.torrents.get(ih).is_some_and(|t| t.announce)
    }
}

/// Reads a saved table; a missing file is no warning.
fn load_table(
    path: &Path,
    config: &Config,
    now: Time,
) -> (Option<RoutingTable>, Option<LoadWarning>) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (None, None),
        Err(e) => {
            let w = LoadWarning(format!("{}: {e}", path.display()));
            return (None, Some(w));
        }
    };
    match RoutingTable::from_bytes(&bytes, config.routing, now) {
        Ok(t) => (Some(t), None),
        Err(e) => (None, Some(LoadWarning(format!("{}: {e}", path.display())))),
    }
}

#[cfg(test)]
mod tests;

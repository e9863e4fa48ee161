//! A deterministic swarm simulator: many sluice engines in one process, a
//! virtual clock, a seeded network, in-memory storage.
//!
//! * **Clock**: one event queue ordered by (virtual time, sequence number). The
//!   simulator jumps from event to event; nothing waits on a real clock.
//! * **Network**: every node has an uplink with a bandwidth (bytes/s, or
//!   unlimited) shared round-robin by its connections, and a one-way latency;
//!   a connection's latency is the sum of both ends'. Bytes arrive in order, in
//!   chunks of at most [`CHUNK`] bytes, so every byte stream reaches the engine
//!   split in many places. Connections can be dropped, nodes can vanish.
//! * **Storage**: see [`storage`]; disk jobs complete at once.
//! * **Behaviours**: honest peers, peers whose uploads are corrupt, peers that
//!   accept requests and never answer them.
//! * **Trace**: every event and close the engines emit is hashed, with its time
//!   and node, so two runs can be compared with one number.
//! * **DHT**: [`dht`] runs the same kind of network for the core's DHT nodes:
//!   datagrams instead of connections, lookups instead of pieces.
//!
//! ```no_run
//! use std::time::Duration;
//! use sluice_tests::sim::{Content, NodeSpec, Sim};
//!
//! let content = Content::single(1, 4 << 20, 256 << 10);
//! let mut sim = Sim::new(7, content);
//! let seed = sim.add_node(NodeSpec::seed());
//! let leech = sim.add_node(NodeSpec::leecher());
//! sim.introduce(leech, seed);
//! assert!(sim.run_until_complete(&[leech], Duration::from_secs(60)));
//! ```

mod agenda;
pub mod content;
pub mod dht;
pub mod storage;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use agenda::Agenda;
use sluice_core::torrent::{
    CloseReason, Config, Direction, DiskJob, Event, Output, PeerKey, Torrent,
};
use sluice_core::{Bitfield, PeerId, Time};

pub use content::Content;
pub use storage::Storage;

/// Largest piece of a byte stream delivered at once.
pub const CHUNK: usize = 16 * 1024 + 13;

/// The port every simulated node listens on.
pub const PORT: u16 = 6881;

/// How a node behaves beyond what its engine does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Runs the engine as is.
    Honest,
    /// Every block it uploads has a flipped byte.
    Corrupt,
    /// Accepts requests and never answers them (its reads never complete).
    Silent,
}

/// What a node is.
#[derive(Clone)]
pub struct NodeSpec {
    /// Starts with every piece.
    pub seed: bool,
    /// Keep real bytes (and compare them later) rather than block flags.
    pub real_bytes: bool,
    /// Uplink bandwidth in bytes per second; `None` for unlimited.
    pub upload: Option<u64>,
    /// One-way latency of this node's access link.
    pub latency: Duration,
    /// Extra behaviour.
    pub behaviour: Behaviour,
    /// Changes to the engine's configuration.
    pub tweak: Option<fn(&mut Config)>,
    /// Accepts incoming connections.
    pub listening: bool,
    /// For a leecher: pieces it already has verified (resume), with their
    /// bytes in storage.
    pub resume: Option<fn(u32) -> bool>,
}

impl NodeSpec {
    /// A seed with unlimited bandwidth and 5 ms latency.
    pub fn seed() -> NodeSpec {
        NodeSpec {
            seed: true,
            real_bytes: false,
            upload: None,
            latency: Duration::from_millis(5),
            behaviour: Behaviour::Honest,
            tweak: None,
            listening: true,
            resume: None,
        }
    }

    /// Starting with the pieces for which `has` is true already verified.
    pub fn resume(mut self, has: fn(u32) -> bool) -> NodeSpec {
        self.resume = Some(has);
        self
    }

    /// A leecher with unlimited bandwidth and 5 ms latency.
    pub fn leecher() -> NodeSpec {
        NodeSpec {
            seed: false,
            ..NodeSpec::seed()
        }
    }

    /// With this uplink rate.
    pub fn upload(mut self, bytes_per_sec: u64) -> NodeSpec {
        self.upload = Some(bytes_per_sec);
        self
    }

    /// With this one-way latency.
    pub fn latency(mut self, d: Duration) -> NodeSpec {
        self.latency = d;
        self
    }

    /// With this behaviour.
    pub fn behaviour(mut self, b: Behaviour) -> NodeSpec {
        self.behaviour = b;
        self
    }

    /// Keeping real bytes.
    pub fn real_bytes(mut self) -> NodeSpec {
        self.real_bytes = true;
        self
    }

    /// With a configuration change.
    pub fn tweak(mut self, f: fn(&mut Config)) -> NodeSpec {
        self.tweak = Some(f);
        self
    }
}

/// One simulated peer.
pub struct Node {
    /// Its listen address.
    pub addr: SocketAddr,
    /// Its engine.
    pub torrent: Torrent,
    /// Its storage.
    pub storage: Storage,
    /// Events it emitted (except stats), with times.
    pub events: Vec<(Time, Event)>,
    /// False once it vanished.
    pub alive: bool,
    spec: NodeSpec,
    conns: BTreeMap<PeerKey, usize>,
    timer: Option<(Time, u64)>,
    timer_gen: u64,
    uplink_free: Time,
    uplink_queued: bool,
    /// Connections with bytes to send, by id.
    sending: BTreeSet<usize>,
    rr: usize,
    /// Bytes this node's uplink carried.
    pub sent_bytes: u64,
    /// When it became complete.
    pub completed_at: Option<Time>,
}

impl Node {
    /// The latest stats event, if any.
    pub fn peer_count(&self) -> usize {
        self.torrent.peer_count()
    }
}

struct Conn {
    /// (node, key) of each end; the key is set when the end is connected.
    ends: [(usize, Option<PeerKey>); 2],
    open: bool,
    /// Latest scheduled arrival in each direction (towards end 0, end 1).
    last_arrival: [Time; 2],
}

enum Ev {
    Timer {
        node: usize,
        gen: u64,
    },
    Established {
        conn: usize,
    },
    ConnectFailed {
        node: usize,
        addr: SocketAddr,
    },
    Deliver {
        conn: usize,
        to: usize,
        bytes: Vec<u8>,
    },
    Closed {
        conn: usize,
        to: usize,
        why: &'static str,
    },
    Uplink {
        node: usize,
    },
}

/// Where the simulator's wall-clock time went, when profiling is on
/// ([`Sim::profile`]).
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Inside the engines' methods.
    pub engine: Duration,
    /// The same, per node.
    pub engine_by_node: Vec<Duration>,
    /// SHA-1 of pieces (the hash jobs).
    pub hashing: Duration,
    /// Storage reads and writes (copies and checks).
    pub storage: Duration,
}

/// The simulator.
pub struct Sim {
    now: Time,
    agenda: Agenda<Ev>,
    /// The torrent's payload.
    pub content: Content,
    /// The nodes.
    pub nodes: Vec<Node>,
    conns: Vec<Conn>,
    by_addr: BTreeMap<SocketAddr, usize>,
    seed: u64,
    trace: sha1_smol::Sha1,
    /// Events processed.
    pub steps: u64,
    /// Payload bytes moved over the network (every chunk counted).
    pub wire_bytes: u64,
    /// Wall-clock profile, if enabled with [`Sim::enable_profile`].
    pub profile: Option<Profile>,
}

impl Sim {
    /// An empty swarm for `content`; `seed` fixes every random choice.
    pub fn new(seed: u64, content: Content) -> Sim {
        Sim {
            now: Time::ZERO,
            agenda: Agenda::default(),
            content,
            nodes: Vec::new(),
            conns: Vec::new(),
            by_addr: BTreeMap::new(),
            seed,
            trace: sha1_smol::Sha1::new(),
            steps: 0,
            wire_bytes: 0,
            profile: None,
        }
    }

    /// Starts measuring where wall-clock time goes (see [`Profile`]).
    pub fn enable_profile(&mut self) {
        self.profile = Some(Profile::default());
    }

    /// Runs `f` on a node's engine, timing it when profiling.
    fn engine<R>(&mut self, node: usize, f: impl FnOnce(&mut Torrent) -> R) -> R {
        match self.profile.as_mut() {
            None => f(&mut self.nodes[node].torrent),
            Some(_) => {
                let start = std::time::Instant::now();
                let r = f(&mut self.nodes[node].torrent);
                let spent = start.elapsed();
                if let Some(p) = self.profile.as_mut() {
                    p.engine += spent;
                    if p.engine_by_node.len() <= node {
                        p.engine_by_node.resize(node + 1, Duration::ZERO);
                    }
                    p.engine_by_node[node] += spent;
                }
                r
            }
        }
    }

    fn timed<R>(
        &mut self,
        part: fn(&mut Profile) -> &mut Duration,
        f: impl FnOnce(&mut Sim) -> R,
    ) -> R {
        if self.profile.is_none() {
            return f(self);
        }
        let start = std::time::Instant::now();
        let r = f(self);
        let spent = start.elapsed();
        if let Some(p) = self.profile.as_mut() {
            *part(p) += spent;
        }
        r
    }

    /// Virtual time now.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Adds a node; returns its index.
    pub fn add_node(&mut self, spec: NodeSpec) -> usize {
        let index = self.nodes.len();
        // One /24 per node, as on the internet: BEP 6's allowed-fast sets are
        // computed per /24, and a whole swarm in one /24 would share one set.
        let n = index as u32 + 1;
        let ip = Ipv4Addr::new(127, (n >> 8) as u8, n as u8, 2);
        let addr = SocketAddr::new(IpAddr::V4(ip), PORT);
        let mut id = *b"-SL0100-000000000000";
        id[8..].copy_from_slice(format!("{index:012}").as_bytes());
        let mut cfg = Config::new(PeerId(id), self.seed ^ (index as u64).wrapping_mul(0x9E37));
        cfg.listen_port = Some(PORT);
        if let Some(f) = spec.tweak {
            f(&mut cfg);
        }
        let info = &self.content.meta.info;
        let mut have = if spec.seed {
            Bitfield::full(info.piece_count())
        } else {
            Bitfield::new(info.piece_count())
        };
        let mut storage = match (spec.real_bytes, spec.seed) {
            (true, true) => Storage::full_bytes(&self.content),
            (true, false) => Storage::empty_bytes(&self.content),
            (false, full) => Storage::checked(&self.content, full),
        };
        if let (Some(has), false) = (spec.resume, spec.seed) {
            let layout = self.content.meta.layout();
            for piece in (0..info.piece_count()).filter(|&p| has(p)) {
                have.set(piece, true);
                let at = layout.piece_offset(piece);
                let mut bytes = vec![0u8; layout.piece_len(piece) as usize];
                self.content.fill(at, &mut bytes);
                storage.write(&self.content, at, &bytes);
            }
        }
        let torrent = Torrent::new(
            self.content.meta.info_hash,
            info.clone(),
            cfg,
            have,
            self.now,
        );
        self.by_addr.insert(addr, index);
        self.nodes.push(Node {
            addr,
            torrent,
            storage,
            events: Vec::new(),
            alive: true,
            completed_at: spec.seed.then_some(self.now),
            spec,
            conns: BTreeMap::new(),
            timer: None,
            timer_gen: 0,
            uplink_free: Time::ZERO,
            uplink_queued: false,
            sending: BTreeSet::new(),
            rr: 0,
            sent_bytes: 0,
        });
        self.pump(index);
        index
    }

    /// Tells node `a` about node `b`'s address (as a tracker would).
    pub fn introduce(&mut self, a: usize, b: usize) {
        let addr = self.nodes[b].addr;
        let now = self.now;
        self.nodes[a].torrent.add_peers(now, [addr]);
        self.pump(a);
    }

    /// Runs a command on a node's engine at the current time, then lets the
    /// node act on it.
    pub fn with<R>(&mut self, node: usize, f: impl FnOnce(&mut Torrent, Time) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.nodes[node].torrent, now);
        self.pump(node);
        r
    }

    /// The node vanishes: its connections reset, it accepts nothing more.
    pub fn vanish(&mut self, node: usize) {
        self.nodes[node].alive = false;
        let conns: Vec<usize> = self.nodes[node].conns.values().copied().collect();
        for c in conns {
            let side = if self.conns[c].ends[0].0 == node {
                0
            } else {
                1
            };
            self.close_conn(c, side, "connection reset");
        }
        self.nodes[node].conns.clear();
        self.nodes[node].sending.clear();
        self.nodes[node].timer = None;
        self.trace_line(node, "vanished");
    }

    /// Hash of everything the engines emitted so far.
    pub fn trace_hash(&self) -> String {
        self.trace.digest().to_string()
    }

    /// Processes events until `stop` holds (checked after each event), `limit`
    /// of virtual time has passed, or nothing is left to do. Returns whether
    /// `stop` held.
    pub fn run_until(&mut self, limit: Duration, mut stop: impl FnMut(&Sim) -> bool) -> bool {
        let deadline = self.now + limit;
        if stop(self) {
            return true;
        }
        while let Some((at, ev)) = self.agenda.pop_due(deadline) {
            self.now = self.now.max(at);
            self.steps += 1;
            self.dispatch(ev);
            if stop(self) {
                return true;
            }
        }
        self.now = self.now.max(deadline);
        stop(self)
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    /// Runs until every node in `nodes` has every piece, or `limit` passes.
    pub fn run_until_complete(&mut self, nodes: &[usize], limit: Duration) -> bool {
        let nodes = nodes.to_vec();
        self.run_until(limit, move |sim| {
            nodes.iter().all(|&n| sim.nodes[n].torrent.is_complete())
        })
    }

    fn push(&mut self, at: Time, ev: Ev) {
        self.agenda.schedule(at.max(self.now), ev);
    }

    fn latency(&self, a: usize, b: usize) -> Duration {
        self.nodes[a].spec.latency + self.nodes[b].spec.latency
    }

    fn dispatch(&mut self, ev: Ev) {
        let now = self.now;
        match ev {
            Ev::Timer { node, gen } => {
                let n = &mut self.nodes[node];
                if !n.alive || n.timer.map(|t| t.1) != Some(gen) {
                    return;
                }
                n.timer = None;
                self.engine(node, |t| t.handle_timeout(now));
                self.pump(node);
            }
            Ev::Established { conn } => {
                let [(a, _), (b, _)] = self.conns[conn].ends;
                if !self.conns[conn].open || !self.nodes[a].alive || !self.nodes[b].alive {
                    if self.nodes[a].alive {
                        let addr = self.nodes[b].addr;
                        self.engine(a, |t| t.handle_connect_failed(now, addr));
                        self.pump(a);
                    }
                    return;
                }
                let b_addr = self.nodes[b].addr;
                let a_addr =
                    SocketAddr::new(self.nodes[a].addr.ip(), 20_000 + (conn % 40_000) as u16);
                let ka = self.engine(a, |t| t.handle_connected(now, b_addr, Direction::Outbound));
                self.conns[conn].ends[0].1 = Some(ka);
                self.nodes[a].conns.insert(ka, conn);
                let kb = self.engine(b, |t| t.handle_connected(now, a_addr, Direction::Inbound));
                self.conns[conn].ends[1].1 = Some(kb);
                self.nodes[b].conns.insert(kb, conn);
                self.pump(a);
                self.pump(b);
            }
            Ev::ConnectFailed { node, addr } => {
                if self.nodes[node].alive {
                    self.engine(node, |t| t.handle_connect_failed(now, addr));
                    self.pump(node);
                }
            }
            Ev::Deliver { conn, to, bytes } => {
                let (node, key) = self.conns[conn].ends[to];
                let Some(key) = key else { return };
                // Bytes sent before a close still arrive; after the receiver
                // closed its end they are dropped.
                if !self.nodes[node].alive || self.nodes[node].conns.get(&key) != Some(&conn) {
                    return;
                }
                if std::env::var("SIM_WIRE_LOG")
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok())
                    == Some(conn)
                {
                    eprintln!(
                        "{now:?} conn {conn} to end {to} (node {node}): {} bytes {:?}",
                        bytes.len(),
                        &bytes[..bytes.len().min(40)]
                    );
                }
                self.engine(node, |t| t.handle_data(now, key, &bytes));
                self.pump(node);
            }
            Ev::Closed { conn, to, why } => {
                let (node, key) = self.conns[conn].ends[to];
                let Some(key) = key else { return };
                if self.nodes[node].conns.remove(&key).is_some() && self.nodes[node].alive {
                    self.nodes[node].sending.remove(&conn);
                    self.engine(node, |t| t.handle_closed(now, key, why));
                    self.pump(node);
                }
            }
            Ev::Uplink { node } => {
                self.nodes[node].uplink_queued = false;
                self.uplink(node);
            }
        }
    }

    /// Drains a node's outputs, acting on each, until it has nothing more.
    fn pump(&mut self, node: usize) {
        if !self.nodes[node].alive {
            return;
        }
        self.pump_outputs_only(node);
        let now = self.now;
        let n = &mut self.nodes[node];
        if n.completed_at.is_none() && n.torrent.is_complete() {
            n.completed_at = Some(now);
        }
        let want = n.torrent.poll_timeout();
        if want != n.timer.map(|t| t.0) {
            if let Some(at) = want {
                n.timer_gen += 1;
                let gen = n.timer_gen;
                n.timer = Some((at, gen));
                self.push(at, Ev::Timer { node, gen });
            } else {
                n.timer = None;
            }
        }
        if !self.nodes[node].sending.is_empty() && !self.nodes[node].uplink_queued {
            self.nodes[node].uplink_queued = true;
            let at = self.nodes[node].uplink_free.max(now);
            self.push(at, Ev::Uplink { node });
        }
    }

    fn act(&mut self, node: usize, out: Output) {
        let now = self.now;
        match out {
            Output::Transmit(key) => {
                if let Some(&conn) = self.nodes[node].conns.get(&key) {
                    self.nodes[node].sending.insert(conn);
                }
            }
            Output::Connect(addr) => {
                let target = self.by_addr.get(&addr).copied();
                match target {
                    Some(b) if self.nodes[b].alive && self.nodes[b].spec.listening && b != node => {
                        let conn = self.conns.len();
                        self.conns.push(Conn {
                            ends: [(node, None), (b, None)],
                            open: true,
                            last_arrival: [Time::ZERO; 2],
                        });
                        let at = now + self.latency(node, b);
                        self.push(at, Ev::Established { conn });
                    }
                    _ => {
                        let at = now + Duration::from_millis(100);
                        self.push(at, Ev::ConnectFailed { node, addr });
                    }
                }
            }
            Output::Close { peer, reason } => {
                self.trace_line(node, &format!("close {} {reason}", peer.id()));
                if let Some(conn) = self.nodes[node].conns.remove(&peer) {
                    self.nodes[node].sending.remove(&conn);
                    let side = if self.conns[conn].ends[0] == (node, Some(peer)) {
                        0
                    } else {
                        1
                    };
                    let why = match reason {
                        CloseReason::Banned => "banned",
                        _ => "closed by peer",
                    };
                    self.close_conn(conn, side, why);
                }
            }
            Output::Disk(job) => self.disk(node, job),
            Output::Event(e) => {
                if !matches!(e, Event::Stats(_)) {
                    self.trace_line(node, &format!("{e:?}"));
                    self.nodes[node].events.push((now, e));
                }
            }
        }
    }

    fn disk(&mut self, node: usize, job: DiskJob) {
        let now = self.now;
        let layout = self.content.meta.layout();
        match job {
            DiskJob::Write {
                piece,
                offset,
                data,
            } => {
                let at = layout.piece_offset(piece) + u64::from(offset);
                self.timed(
                    |p| &mut p.storage,
                    |sim| sim.nodes[node].storage.write(&sim.content, at, &data),
                );
                self.engine(node, |t| t.handle_write(now, piece, offset, Ok(())));
            }
            DiskJob::Read {
                id,
                piece,
                offset,
                length,
            } => {
                let behaviour = self.nodes[node].spec.behaviour;
                if behaviour == Behaviour::Silent {
                    return;
                }
                let at = layout.piece_offset(piece) + u64::from(offset);
                let mut data = self.timed(
                    |p| &mut p.storage,
                    |sim| {
                        sim.nodes[node]
                            .storage
                            .read(&sim.content, at, length as usize)
                    },
                );
                if behaviour == Behaviour::Corrupt {
                    if let Some(b) = data.get_mut(length as usize / 2) {
                        *b ^= 0x5a;
                    }
                }
                self.engine(node, |t| t.handle_read(now, id, Ok(&data)));
            }
            DiskJob::Hash { piece } => {
                let digest = self.timed(
                    |p| &mut p.hashing,
                    |sim| sim.nodes[node].storage.hash(&sim.content, piece),
                );
                self.engine(node, |t| t.handle_hash(now, piece, Ok(digest)));
            }
        }
    }

    /// Sends from a node's connections over its uplink, round-robin.
    fn uplink(&mut self, node: usize) {
        let now = self.now;
        if !self.nodes[node].alive {
            return;
        }
        loop {
            let n = &self.nodes[node];
            if n.sending.is_empty() || n.uplink_free > now {
                break;
            }
            // Round-robin: the next connection after the last one served.
            let Some(conn) = n
                .sending
                .range(n.rr + 1..)
                .next()
                .or(n.sending.first())
                .copied()
            else {
                break;
            };
            self.nodes[node].rr = conn;
            let c = &self.conns[conn];
            let side = if c.ends[0].0 == node { 0 } else { 1 };
            let (Some(key), true) = (c.ends[side].1, c.open) else {
                self.nodes[node].sending.remove(&conn);
                continue;
            };
            let bytes = self.engine(node, |t| {
                let pending = t.send_buffer(key);
                let take = pending.len().min(CHUNK);
                let bytes = pending[..take].to_vec();
                t.handle_sent(now, key, take);
                bytes
            });
            if bytes.is_empty() {
                self.nodes[node].sending.remove(&conn);
                continue;
            }
            let n = &mut self.nodes[node];
            n.sent_bytes += bytes.len() as u64;
            self.wire_bytes += bytes.len() as u64;
            let ser = match n.spec.upload {
                Some(bw) => Duration::from_nanos(
                    (bytes.len() as u64).saturating_mul(1_000_000_000) / bw.max(1),
                ),
                None => Duration::ZERO,
            };
            n.uplink_free = now + ser;
            let other = 1 - side;
            let remote = self.conns[conn].ends[other].0;
            let arrive =
                (now + ser + self.latency(node, remote)).max(self.conns[conn].last_arrival[other]);
            self.conns[conn].last_arrival[other] = arrive;
            self.push(
                arrive,
                Ev::Deliver {
                    conn,
                    to: other,
                    bytes,
                },
            );
            // The engine may have queued more (reads completing).
            self.pump_outputs_only(node);
        }
        self.pump(node);
    }

    /// Acts on a node's outputs without rescheduling its uplink.
    fn pump_outputs_only(&mut self, node: usize) {
        while let Some(out) = self.engine(node, |t| t.poll()) {
            self.act(node, out);
        }
    }

    fn close_conn(&mut self, conn: usize, from_side: usize, why: &'static str) {
        if !self.conns[conn].open {
            return;
        }
        self.conns[conn].open = false;
        let other = 1 - from_side;
        let (a, b) = (
            self.conns[conn].ends[from_side].0,
            self.conns[conn].ends[other].0,
        );
        let at = (self.now + self.latency(a, b)).max(self.conns[conn].last_arrival[other]);
        self.push(
            at,
            Ev::Closed {
                conn,
                to: other,
                why,
            },
        );
    }

    fn trace_line(&mut self, node: usize, what: &str) {
        let line = format!("{:?} {node} {what}\n", self.now);
        self.trace.update(line.as_bytes());
    }

    /// Debug description of a node's connection to `ip`.
    pub fn debug_conn(&self, node: usize, ip: IpAddr) -> String {
        let n = &self.nodes[node];
        let mut out = String::new();
        for (key, &conn) in &n.conns {
            let c = &self.conns[conn];
            let other = if c.ends[0].0 == node {
                c.ends[1].0
            } else {
                c.ends[0].0
            };
            if self.nodes[other].addr.ip() == ip {
                out += &format!(
                    "conn {conn} key {:?} open {} sending {} pending {} uplink_free {:?} queued {} sending_set {:?}; ",
                    key,
                    c.open,
                    n.sending.contains(&conn),
                    n.torrent.send_buffer(*key).len(),
                    n.uplink_free,
                    n.uplink_queued,
                    n.sending
                );
            }
        }
        out
    }

    /// Events of one node matching `f`.
    pub fn events_of<'a>(
        &'a self,
        node: usize,
        f: impl Fn(&Event) -> bool + 'a,
    ) -> impl Iterator<Item = &'a (Time, Event)> + 'a {
        self.nodes[node].events.iter().filter(move |(_, e)| f(e))
    }
}

//! The event loop: one thread, one `mio::Poll`, every torrent.
//!
//! Sockets live in a slab (their token is their index). Each torrent's engine
//! is fed from here: bytes read from its peers, sends completed, connections
//! made or lost, timer expiries, and — through the [`Inbox`] — commands from
//! handles and finished disk jobs. After every input the engine's outputs are
//! drained at once: bytes are written straight from the engine's send buffer
//! to the socket until it would block, storage jobs go to the torrent's disk
//! workers, events to subscribers and the shared status.
//!
//! Sockets are edge-triggered: a readable socket is read until it would block,
//! a writable one written until the engine's buffer is empty or the socket is
//! full. A socket is read at most [`READ_BUDGET`] chunks in a row, though: a
//! fast seed can keep one readable for many milliseconds, and the inbox
//! (finished disk jobs, such as the last write of the piece a stream's reader
//! waits for) must not wait that long; the rest is read after the inbox, in
//! the next round. When too many received bytes wait for the disk, a
//! torrent's sockets are no longer read (TCP then slows the peers) until the
//! backlog drains.

mod dht;
mod inbox;
mod lsd;
mod slot;
mod tracker;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use sluice_core::torrent::{Direction, DiskJob, Event, Output, PeerKey};
use sluice_core::wire::Handshake;
use sluice_core::{InfoHash, Time};
use sluice_std::command::Command;
use sluice_std::disk::{DiskDone, DiskPool};
use sluice_std::resume::ResumeSaver;

use dht::Dht;
pub use dht::DhtSetup;
pub use inbox::{Inbox, NewTorrent, Sink, Work};
use lsd::Discovery;
use slot::Slot;
use tracker::Trackers;
pub use tracker::{Lookup, TrackerSetup};

/// The listening socket's token.
const LISTENER: Token = Token(usize::MAX - 1);
/// The waker's token.
pub const WAKER: Token = Token(usize::MAX - 2);
/// Bytes read from a socket at once.
const READ_CHUNK: usize = 256 * 1024;
/// Chunks read from one socket before the loop turns to its inbox and other
/// sockets (1 MiB).
const READ_BUDGET: usize = 4;
/// Received bytes waiting for the disk before a torrent's peers are no
/// longer read.
const WRITE_BACKLOG: u64 = 16 << 20;
/// How long an inbound peer has to send its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a socket is doing.
enum State {
    /// Our outbound connect, not yet established.
    Connecting {
        info_hash: InfoHash,
        addr: SocketAddr,
        deadline: Instant,
    },
    /// An inbound peer we have not routed yet: its handshake so far.
    Handshaking { buf: Vec<u8>, deadline: Instant },
    /// A peer of a torrent.
    Attached { info_hash: InfoHash, key: PeerKey },
}

struct Conn {
    stream: TcpStream,
    addr: SocketAddr,
    state: State,
    /// Not read for now (disk backlog); read again when it drains.
    paused: bool,
}

/// Where the loop finds peers besides those it is given: trackers, the DHT
/// and the local network, each with the sockets it needs.
pub struct PeerSources {
    /// Announces to trackers.
    pub trackers: TrackerSetup,
    /// The DHT node, if the client runs one.
    pub dht: Option<DhtSetup>,
    /// The LSD socket, if it could be opened.
    pub lsd: Option<std::net::UdpSocket>,
}

/// The loop's state.
pub struct EventLoop {
    poll: Poll,
    listener: TcpListener,
    inbox: Arc<Inbox>,
    conns: Slab<Conn>,
    torrents: BTreeMap<InfoHash, Slot>,
    trackers: Trackers,
    /// The DHT node, when the client runs one.
    dht: Option<Dht>,
    lsd: Discovery,
    /// Sockets left readable when their read budget ran out.
    unread: Vec<Token>,
    start: Instant,
    connect_timeout: Duration,
    exiting: bool,
}

impl EventLoop {
    pub fn new(
        poll: Poll,
        mut listener: TcpListener,
        inbox: Arc<Inbox>,
        start: Instant,
        connect_timeout: Duration,
        sources: PeerSources,
    ) -> io::Result<EventLoop> {
        let PeerSources { trackers, dht, lsd } = sources;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let lsd = Discovery::new(lsd, trackers.port, poll.registry());
        let trackers = Trackers::new(trackers, poll.registry());
        let now = Time::from_duration(start.elapsed());
        let dht = dht
            .map(|d| Dht::start(d, poll.registry(), &inbox, now))
            .transpose()?;
        Ok(EventLoop {
            poll,
            listener,
            inbox,
            conns: Slab::new(),
            torrents: BTreeMap::new(),
            trackers,
            dht,
            lsd,
            unread: Vec::new(),
            start,
            connect_timeout,
            exiting: false,
        })
    }

    fn now(&self) -> Time {
        Time::from_duration(self.start.elapsed())
    }

    /// Runs until told to exit and every torrent has stopped.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.next_deadline();
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return;
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER => {}
                    LISTENER => self.accept(),
                    tracker::UDP => self.udp_readable(),
                    dht::DHT_UDP => self.dht_readable(),
                    lsd::SOCKET => self.lsd_readable(),
                    token if tracker::is_http(token) => self.http_event(token),
                    token => self.socket_event(token, ev.is_readable(), ev.is_writable()),
                }
            }
            self.take_inbox();
            for token in std::mem::take(&mut self.unread) {
                self.read_attached(token);
            }
            self.expire();
            if self.exiting && self.torrents.is_empty() && self.trackers.is_idle() {
                self.dht_save();
                return;
            }
        }
    }

    /// How long poll may sleep: until the earliest engine timer or deadline.
    fn next_deadline(&self) -> Duration {
        if !self.unread.is_empty() {
            return Duration::ZERO;
        }
        let now = self.now();
        let mut wait = Duration::from_secs(1);
        for slot in self.torrents.values() {
            if let Some(t) = slot.torrent.poll_timeout() {
                wait = wait.min(t.saturating_since(now));
            }
        }
        let instant = Instant::now();
        for (_, c) in &self.conns {
            let deadline = match c.state {
                State::Connecting { deadline, .. } | State::Handshaking { deadline, .. } => {
                    deadline
                }
                State::Attached { .. } => continue,
            };
            wait = wait.min(deadline.saturating_duration_since(instant));
        }
        if let Some(dht) = &self.dht {
            wait = wait.min(dht.next_timeout().saturating_since(now));
        }
        let wait = self.lsd.next_wait(now, wait);
        self.trackers.next_wait(now, wait)
    }

    // ----- inputs from other threads -----

    fn take_inbox(&mut self) {
        for work in self.inbox.take() {
            match work {
                Work::Command(ih, cmd) => self.command(ih, cmd),
                Work::Disk(ih, done) => self.disk_done(ih, done),
                Work::Resolved(lookup) => self.lookup_done(lookup),
                Work::DhtBootstrap(nodes) => self.dht_bootstrap(nodes),
                Work::Find {
                    info_hash,
                    tiers,
                    tx,
                } => {
                    self.dht_find(info_hash, tx.clone());
                    self.tracker_find(info_hash, tiers, tx);
                }
                Work::FindDone(ih) => {
                    self.dht_find_done(ih);
                    self.tracker_find_done(ih);
                }
                Work::Add(new, reply) => {
                    let r = self.add(*new);
                    let _ = reply.send(r);
                }
                Work::Exit => {
                    self.exiting = true;
                    let _ = self.poll.registry().deregister(&mut self.listener);
                }
            }
        }
    }

    fn add(&mut self, new: NewTorrent) -> io::Result<()> {
        let NewTorrent {
            meta,
            prepared,
            disk_threads,
        } = new;
        let info_hash = meta.info_hash;
        let inbox = self.inbox.clone();
        let disk = DiskPool::start(
            disk_threads,
            prepared.storage.clone(),
            meta.layout(),
            crate::hash::sha1_stream,
            Arc::new(move |done| inbox.push(Work::Disk(info_hash, done))),
        )?;
        let resume = prepared
            .resume
            .map(|t| ResumeSaver::start(t, prepared.storage.clone()));
        self.torrents.insert(
            info_hash,
            Slot {
                torrent: prepared.torrent,
                conns: BTreeMap::new(),
                disk,
                pending_disk: 0,
                backlog: 0,
                storage: prepared.storage,
                shared: prepared.shared,
                subscribers: Vec::new(),
                resume,
                stopping: None,
                alive: Arc::new(AtomicBool::new(true)),
                tracker_log: Default::default(),
            },
        );
        self.drain(info_hash);
        self.tracker_add(&meta);
        self.dht_add(&meta);
        self.lsd_add(&meta);
        Ok(())
    }

    fn command(&mut self, ih: InfoHash, cmd: Command) {
        let now = self.now();
        let Some(slot) = self.torrents.get_mut(&ih) else {
            return;
        };
        if slot.stopping.is_some() {
            if let Command::Stop { reply, .. } = cmd {
                let _ = reply.send(Ok(()));
            }
            return;
        }
        let t = &mut slot.torrent;
        match cmd {
            Command::AddPeers(addrs) => t.add_peers(now, addrs),
            Command::Disconnect(addr) => t.disconnect(now, addr),
            Command::Ban(ip) => t.ban(now, ip),
            Command::FilePriority(file, prio, reply) => {
                t.set_file_priority(now, file, prio);
                slot.sync_finished();
                let _ = reply.send(());
            }
            Command::OpenStream {
                file,
                range,
                position,
                reply,
            } => {
                let _ = reply.send(t.open_stream_at(now, file, range, position));
            }
            Command::SeekStream(id, pos) => {
                let _ = t.seek_stream(now, id, pos);
            }
            Command::CloseStream(id) => t.close_stream(now, id),
            Command::Stats(reply) => {
                let _ = reply.send(t.stats(now));
            }
            Command::Peers(reply) => {
                let _ = reply.send(t.peers(now));
            }
            Command::Subscribe(tx) => slot.subscribe(tx),
            Command::Stop { remove, reply } => {
                t.shutdown(now);
                slot.stopping = Some((remove, reply));
                self.tracker_stop(ih);
                self.dht_remove(ih);
                self.lsd_remove(ih);
            }
        }
        self.drain(ih);
    }

    fn disk_done(&mut self, ih: InfoHash, done: DiskDone) {
        let now = self.now();
        let Some(slot) = self.torrents.get_mut(&ih) else {
            return;
        };
        slot.pending_disk = slot.pending_disk.saturating_sub(1);
        let t = &mut slot.torrent;
        match done {
            DiskDone::Write {
                piece,
                offset,
                len,
                result,
            } => {
                slot.backlog = slot.backlog.saturating_sub(len as u64);
                t.handle_write(now, piece, offset, result);
            }
            DiskDone::Read { id, result } => {
                t.handle_read(now, id, result.as_deref().map_err(Clone::clone))
            }
            DiskDone::Hash { piece, result } => t.handle_hash(now, piece, result),
        }
        self.drain(ih);
        self.resume_paused(ih);
    }

    // ----- sockets -----

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, addr)) => {
                    if self.exiting {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let entry = self.conns.vacant_entry();
                    let token = Token(entry.key());
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                        .is_err()
                    {
                        continue;
                    }
                    entry.insert(Conn {
                        stream,
                        addr,
                        state: State::Handshaking {
                            buf: Vec::with_capacity(Handshake::LEN),
                            deadline: Instant::now() + HANDSHAKE_TIMEOUT,
                        },
                        paused: false,
                    });
                    // Its handshake may already be waiting.
                    self.socket_event(token, true, false);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn socket_event(&mut self, token: Token, readable: bool, writable: bool) {
        let Some(conn) = self.conns.get(token.0) else {
            return;
        };
        match conn.state {
            State::Connecting { .. } => self.connect_progress(token),
            State::Handshaking { .. } => {
                if readable {
                    self.read_handshake(token);
                }
            }
            State::Attached { info_hash, key } => {
                if writable {
                    self.flush(info_hash, key);
                }
                if readable {
                    self.read_attached(token);
                }
                self.drain(info_hash);
            }
        }
    }

    /// An outbound connect made progress (or failed).
    fn connect_progress(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(token.0) else {
            return;
        };
        let State::Connecting {
            info_hash, addr, ..
        } = conn.state
        else {
            return;
        };
        let failed = !matches!(conn.stream.take_error(), Ok(None));
        let connected = !failed && conn.stream.peer_addr().is_ok();
        if !failed && !connected {
            return; // Still in progress.
        }
        let now = Time::from_duration(self.start.elapsed());
        if failed {
            self.drop_conn(token);
            if let Some(slot) = self.torrents.get_mut(&info_hash) {
                slot.torrent.handle_connect_failed(now, addr);
            }
            self.drain(info_hash);
            return;
        }
        let Some(slot) = self.torrents.get_mut(&info_hash) else {
            self.drop_conn(token);
            return;
        };
        let key = slot
            .torrent
            .handle_connected(now, addr, Direction::Outbound);
        slot.conns.insert(key, token);
        let _ = conn.stream.set_nodelay(true);
        conn.state = State::Attached { info_hash, key };
        self.drain(info_hash);
        self.read_attached(token);
        self.drain(info_hash);
    }

    /// Reads an inbound peer's handshake and routes it to its torrent.
    fn read_handshake(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(token.0) else {
            return;
        };
        let State::Handshaking { buf, .. } = &mut conn.state else {
            return;
        };
        let mut chunk = [0u8; Handshake::LEN];
        loop {
            let want = Handshake::LEN - buf.len();
            match conn.stream.read(&mut chunk[..want]) {
                Ok(0) => {
                    self.drop_conn(token);
                    return;
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() == Handshake::LEN {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.drop_conn(token);
                    return;
                }
            }
        }
        let first = std::mem::take(buf);
        let addr = conn.addr;
        let Some(info_hash) = Handshake::decode(&first).ok().map(|h| h.info_hash) else {
            self.drop_conn(token);
            return;
        };
        let now = Time::from_duration(self.start.elapsed());
        let Some(slot) = self.torrents.get_mut(&info_hash) else {
            self.drop_conn(token);
            return;
        };
        if slot.stopping.is_some() {
            self.drop_conn(token);
            return;
        }
        let key = slot.torrent.handle_connected(now, addr, Direction::Inbound);
        slot.conns.insert(key, token);
        conn.state = State::Attached { info_hash, key };
        slot.torrent.handle_data(now, key, &first);
        self.drain(info_hash);
        self.read_attached(token);
        self.drain(info_hash);
    }

    /// Reads a peer's socket until it would block, the disk backlog says stop,
    /// or its read budget runs out (it is then read again next round),
    /// feeding the engine.
    fn read_attached(&mut self, token: Token) {
        for _ in 0..READ_BUDGET {
            let Some(conn) = self.conns.get_mut(token.0) else {
                return;
            };
            let State::Attached { info_hash, key } = conn.state else {
                return;
            };
            let Some(slot) = self.torrents.get_mut(&info_hash) else {
                return;
            };
            if slot.backlog > WRITE_BACKLOG {
                conn.paused = true;
                return;
            }
            conn.paused = false;
            let now = Time::from_duration(self.start.elapsed());
            // Straight into the peer's receive buffer in the engine.
            let stream = &mut conn.stream;
            match slot
                .torrent
                .handle_read_with(now, key, READ_CHUNK, |buf| stream.read(buf))
            {
                Ok(0) => {
                    self.peer_gone(token, "connection closed by peer");
                    return;
                }
                Ok(_) => self.drain(info_hash),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.peer_gone(token, &e.to_string());
                    return;
                }
            }
        }
        if !self.unread.contains(&token) {
            self.unread.push(token);
        }
    }

    /// Reads again from a torrent's sockets paused for the disk backlog.
    fn resume_paused(&mut self, ih: InfoHash) {
        let Some(slot) = self.torrents.get(&ih) else {
            return;
        };
        if slot.backlog > WRITE_BACKLOG {
            return;
        }
        let paused: Vec<Token> = slot
            .conns
            .values()
            .copied()
            .filter(|t| self.conns.get(t.0).is_some_and(|c| c.paused))
            .collect();
        for token in paused {
            self.read_attached(token);
        }
    }

    /// Writes a peer's pending bytes until done or the socket is full.
    fn flush(&mut self, ih: InfoHash, key: PeerKey) {
        let Some(slot) = self.torrents.get_mut(&ih) else {
            return;
        };
        let Some(&token) = slot.conns.get(&key) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(token.0) else {
            return;
        };
        loop {
            let pending = slot.torrent.send_buffer(key);
            if pending.is_empty() {
                return;
            }
            match conn.stream.write(pending) {
                Ok(0) => {
                    self.peer_gone(token, "socket closed");
                    return;
                }
                Ok(n) => {
                    let now = Time::from_duration(self.start.elapsed());
                    slot.torrent.handle_sent(now, key, n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.peer_gone(token, &e.to_string());
                    return;
                }
            }
        }
    }

    /// The peer closed or the socket failed: tell its engine.
    fn peer_gone(&mut self, token: Token, why: &str) {
        let Some(conn) = self.conns.get(token.0) else {
            return;
        };
        let State::Attached { info_hash, key } = conn.state else {
            self.drop_conn(token);
            return;
        };
        self.drop_conn(token);
        let now = self.now();
        if let Some(slot) = self.torrents.get_mut(&info_hash) {
            slot.conns.remove(&key);
            slot.torrent.handle_closed(now, key, why);
        }
        self.drain(info_hash);
    }

    fn drop_conn(&mut self, token: Token) {
        if self.conns.contains(token.0) {
            let mut conn = self.conns.remove(token.0);
            let _ = self.poll.registry().deregister(&mut conn.stream);
            let _ = conn.stream.shutdown(Shutdown::Both);
        }
    }

    /// Connect and handshake deadlines; engine timers; resume records;
    /// stops that can finish.
    fn expire(&mut self) {
        let instant = Instant::now();
        let late: Vec<(Token, Option<(InfoHash, SocketAddr)>)> = self
            .conns
            .iter()
            .filter_map(|(i, c)| match c.state {
                State::Connecting {
                    info_hash,
                    addr,
                    deadline,
                } if deadline <= instant => Some((Token(i), Some((info_hash, addr)))),
                State::Handshaking { deadline, .. } if deadline <= instant => {
                    Some((Token(i), None))
                }
                _ => None,
            })
            .collect();
        let now = self.now();
        for (token, outbound) in late {
            self.drop_conn(token);
            if let Some((ih, addr)) = outbound {
                if let Some(slot) = self.torrents.get_mut(&ih) {
                    slot.torrent.handle_connect_failed(now, addr);
                }
                self.drain(ih);
            }
        }
        self.tracker_expire();
        self.dht_expire();
        self.lsd_expire();
        let ids: Vec<InfoHash> = self.torrents.keys().copied().collect();
        for ih in ids {
            let now = self.now();
            let slot = self.torrents.get_mut(&ih).expect("listed");
            if slot.torrent.poll_timeout().is_some_and(|t| t <= now) {
                slot.torrent.handle_timeout(now);
            }
            self.drain(ih);
            let slot = self.torrents.get_mut(&ih).expect("listed");
            slot.sync_finished();
            if let Some(r) = &mut slot.resume {
                r.tick(slot.torrent.have());
            }
            if slot.try_finish_stop() {
                self.torrents.remove(&ih);
            }
        }
    }

    /// Drains a torrent's outputs, acting on each.
    fn drain(&mut self, ih: InfoHash) {
        let mut complete = false;
        loop {
            let Some(slot) = self.torrents.get_mut(&ih) else {
                return;
            };
            let Some(out) = slot.torrent.poll() else {
                break;
            };
            match out {
                Output::Transmit(key) => self.flush(ih, key),
                Output::Connect(addr) => self.connect(ih, addr),
                Output::Close { peer, .. } => {
                    if let Some(token) = slot.conns.remove(&peer) {
                        self.drop_conn(token);
                    }
                }
                // Hashed as it was written: answered here, without a trip
                // through a worker (a reader may be waiting for this piece).
                Output::Disk(DiskJob::Hash { piece }) => match slot.disk.hash_ready(piece) {
                    Some(result) => {
                        let now = Time::from_duration(self.start.elapsed());
                        slot.torrent.handle_hash(now, piece, result)
                    }
                    None => {
                        slot.pending_disk += 1;
                        slot.disk.submit(DiskJob::Hash { piece });
                    }
                },
                Output::Disk(job) => {
                    slot.pending_disk += 1;
                    if let DiskJob::Write { data, .. } = &job {
                        slot.backlog += data.len() as u64;
                    }
                    slot.disk.submit(job);
                }
                Output::Event(Event::DhtNode { addr }) => self.dht_node(addr),
                Output::Event(e) => {
                    complete |= e == Event::Complete;
                    slot.publish(e);
                }
            }
        }
        if complete {
            self.tracker_completed(ih);
        }
        let Some(slot) = self.torrents.get_mut(&ih) else {
            return;
        };
        if slot.stopping.is_some() && slot.try_finish_stop() {
            self.torrents.remove(&ih);
        }
    }

    /// Starts a non-blocking connect.
    fn connect(&mut self, ih: InfoHash, addr: SocketAddr) {
        let now = self.now();
        let stream = TcpStream::connect(addr);
        let entry = self.conns.vacant_entry();
        let token = Token(entry.key());
        let registered = stream.and_then(|mut s| {
            self.poll
                .registry()
                .register(&mut s, token, Interest::READABLE | Interest::WRITABLE)
                .map(|()| s)
        });
        match registered {
            Ok(stream) => {
                entry.insert(Conn {
                    stream,
                    addr,
                    state: State::Connecting {
                        info_hash: ih,
                        addr,
                        deadline: Instant::now() + self.connect_timeout,
                    },
                    paused: false,
                });
            }
            Err(_) => {
                if let Some(slot) = self.torrents.get_mut(&ih) {
                    slot.torrent.handle_connect_failed(now, addr);
                }
            }
        }
    }
}

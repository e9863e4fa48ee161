//! Trackers inside the event loop: each torrent's [`Announcer`] (the core's
//! sans-IO BEP 12 announce manager) and the sockets it asks for.
//!
//! HTTP announces are one non-blocking TCP connection each, in a slab of their
//! own whose tokens start at [`HTTP_BASE`]: connect (trying each address the
//! host resolves to), write the request, read until the tracker closes (at
//! most [`MAX_RESPONSE`] bytes), hand the bytes to the announcer. UDP
//! announces share one socket ([`UDP`]) bound to the listener's address; an
//! answer is routed by the address it came from to every announcer that sent
//! to it (each checks its own transaction ids). Host names are resolved on a
//! short-lived thread whose answer comes back through the [`Inbox`]; IP
//! literals need none.
//!
//! An announcer outlives its torrent's slot: after a stop it stays until its
//! `stopped` announces are answered or [`AnnouncerConfig::stop_timeout`] (plus
//! a second) has passed, and the loop does not end before.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::{TcpStream, UdpSocket};
use mio::{Interest, Token};
use slab::Slab;
use sluice_core::metainfo::Metainfo;
use sluice_core::tracker::announcer::{Announcer, AnnouncerConfig, Output, RequestId};
use sluice_core::{InfoHash, PeerId, Rng};
use sluice_std::tracker::{self as shared, unmap};

use super::{EventLoop, Inbox, Work};

/// The UDP socket's token.
pub const UDP: Token = Token(usize::MAX - 3);
/// HTTP announce connections have tokens from here on (slab index added).
pub const HTTP_BASE: usize = usize::MAX / 2;
/// The largest HTTP answer read; a longer one fails the announce.
pub use sluice_std::tracker::MAX_RESPONSE;
/// How long a resolved UDP tracker address is reused.
const LOOKUP_TTL: Duration = Duration::from_secs(600);
/// How long past its stop timeout a stopping announcer is kept at most.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Whether `token` names an HTTP announce connection.
pub fn is_http(token: Token) -> bool {
    token.0 >= HTTP_BASE && token.0 < UDP.0
}

/// What the loop needs to announce: who we are and where.
pub struct TrackerSetup {
    /// Our peer id.
    pub peer_id: PeerId,
    /// The TCP port peers reach us at.
    pub port: u16,
    /// Trackers added to every (non-private) torrent.
    pub extra: Vec<String>,
    /// Seed of the announcers' random choices.
    pub seed: u64,
    /// The socket UDP trackers are spoken to from; `None` when it could not
    /// be opened (UDP announces then fail at once).
    pub udp: Option<UdpSocket>,
    /// Pacing of the announces.
    pub config: AnnouncerConfig,
}

/// Whom a name lookup is for.
pub enum LookupFor {
    /// An HTTP announce connection (slab key and serial, which is checked).
    Http { key: usize, serial: u64 },
    /// A UDP tracker.
    Udp { host: String, port: u16 },
}

/// A finished name lookup.
pub struct Lookup {
    pub target: LookupFor,
    pub result: Result<Vec<SocketAddr>, String>,
}

/// One torrent's announcer.
struct Entry {
    announcer: Announcer,
    /// The torrent's size, for `left`.
    total: u64,
    /// Set once stopped: dropped by then whatever is still in flight.
    give_up: Option<Instant>,
}

/// An HTTP announce in progress.
struct HttpConn {
    info_hash: InfoHash,
    id: RequestId,
    serial: u64,
    port: u16,
    request: Vec<u8>,
    written: usize,
    response: Vec<u8>,
    /// Addresses not tried yet.
    addrs: VecDeque<SocketAddr>,
    stream: Option<TcpStream>,
    connected: bool,
    /// Why the last address failed.
    last_error: String,
}

/// A datagram for a tracker whose name is being looked up: the torrent that
/// sends it, and the bytes.
type Queued = (InfoHash, Vec<u8>);

/// Where an HTTP announce got to.
enum HttpStep {
    /// Waiting for the socket.
    Wait,
    /// This address failed: try the next.
    NextAddress,
    /// The answer, or why there is none.
    Done(Result<Vec<u8>, String>),
}

/// The trackers' state in the loop.
pub struct Trackers {
    peer_id: PeerId,
    port: u16,
    extra: Vec<String>,
    config: AnnouncerConfig,
    rng: Rng,
    entries: BTreeMap<InfoHash, Entry>,
    http: Slab<HttpConn>,
    serial: u64,
    udp: Option<UdpSocket>,
    /// Who sent to a UDP tracker address: (torrent, host, port of its URL).
    routes: HashMap<SocketAddr, BTreeSet<(InfoHash, String, u16)>>,
    /// UDP tracker names resolved, and when.
    resolved: HashMap<(String, u16), (SocketAddr, Instant)>,
    /// Datagrams waiting for a UDP tracker's lookup.
    waiting: HashMap<(String, u16), Vec<Queued>>,
    /// Magnet fetches waiting for the peers trackers give an info-hash.
    finders: BTreeMap<InfoHash, Vec<Sender<Vec<SocketAddr>>>>,
    buf: Vec<u8>,
}

impl Trackers {
    /// The trackers' state; registers the UDP socket.
    pub fn new(setup: TrackerSetup, registry: &mio::Registry) -> Trackers {
        let mut udp = setup.udp;
        if let Some(sock) = &mut udp {
            if registry.register(sock, UDP, Interest::READABLE).is_err() {
                udp = None;
            }
        }
        Trackers {
            peer_id: setup.peer_id,
            port: setup.port,
            extra: setup.extra,
            config: setup.config,
            rng: Rng::new(setup.seed),
            entries: BTreeMap::new(),
            http: Slab::new(),
            serial: 0,
            udp,
            routes: HashMap::new(),
            resolved: HashMap::new(),
            waiting: HashMap::new(),
            finders: BTreeMap::new(),
            buf: vec![0; 64 * 1024],
        }
    }

    /// Nothing left to announce (every stopped announcer is gone).
    pub fn is_idle(&self) -> bool {
        self.entries.is_empty()
    }

    /// The earliest announcer timer or stop deadline, if before `wait`.
    pub fn next_wait(&self, now: sluice_core::Time, mut wait: Duration) -> Duration {
        let instant = Instant::now();
        for e in self.entries.values() {
            if let Some(t) = e.announcer.poll_timeout() {
                wait = wait.min(t.saturating_since(now));
            }
            if let Some(at) = e.give_up {
                wait = wait.min(at.saturating_duration_since(instant));
            }
        }
        wait
    }
}

/// Resolves `host:port`: at once for an IP literal (or when no thread can be
/// started), else on a thread whose answer comes back through the inbox.
fn resolve(
    inbox: &Arc<Inbox>,
    host: &str,
    port: u16,
    target: LookupFor,
) -> Option<(LookupFor, Result<Vec<SocketAddr>, String>)> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some((target, Ok(vec![SocketAddr::new(ip, port)])));
    }
    let inbox = inbox.clone();
    let name = host.to_owned();
    // The target is needed back if the thread cannot start.
    let (tx, rx) = std::sync::mpsc::channel::<LookupFor>();
    let spawned = thread::Builder::new()
        .name("sluice-lookup".into())
        .spawn(move || {
            let Ok(target) = rx.recv() else {
                return;
            };
            let result = (name.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>())
                .map_err(|e| format!("cannot resolve {name}: {e}"));
            inbox.push(Work::Resolved(Lookup { target, result }));
        });
    match spawned {
        Ok(_) => {
            let _ = tx.send(target);
            None
        }
        Err(e) => Some((target, Err(format!("cannot resolve {host}: {e}")))),
    }
}

impl EventLoop {
    /// Gives a new torrent its announcer and starts it.
    pub(super) fn tracker_add(&mut self, meta: &Metainfo) {
        let ih = meta.info_hash;
        self.tracker_forget(ih);
        let tr = &mut self.trackers;
        let announcer = shared::new_announcer(
            meta,
            tr.peer_id,
            tr.port,
            &tr.extra,
            tr.config.clone(),
            Rng::new(tr.rng.next_u64()),
        );
        tr.entries.insert(
            ih,
            Entry {
                announcer,
                total: meta.info.total_length,
                give_up: None,
            },
        );
        self.tracker_stats(ih);
        let now = self.now();
        if let Some(e) = self.trackers.entries.get_mut(&ih) {
            e.announcer.start(now);
        }
        self.drain_tracker(ih);
    }

    /// A magnet link's metadata fetch wants peers of `ih`: announce to the
    /// link's trackers (`tiers`) and the client's, without a torrent yet.
    /// `left` is reported as 1 byte (the size is not known, and we are no
    /// seed). When the torrent is added its own announcer takes over.
    pub(super) fn tracker_find(
        &mut self,
        ih: InfoHash,
        tiers: Vec<Vec<String>>,
        tx: Sender<Vec<SocketAddr>>,
    ) {
        self.trackers.finders.entry(ih).or_default().push(tx);
        if self.trackers.entries.contains_key(&ih) {
            return;
        }
        let tr = &mut self.trackers;
        let rng = Rng::new(tr.rng.next_u64());
        let mut announcer = Announcer::new(
            ih,
            tr.peer_id,
            tr.port,
            &tiers,
            false,
            tr.config.clone(),
            rng,
        );
        for url in &tr.extra {
            let _ = announcer.add_tracker(url);
        }
        announcer.set_stats(0, 0, 1);
        let now = self.now();
        announcer.start(now);
        let entry = Entry {
            announcer,
            total: 1,
            give_up: None,
        };
        self.trackers.entries.insert(ih, entry);
        self.drain_tracker(ih);
    }

    /// The metadata fetch of `ih` ended: its finders go, and so does the
    /// announcer it started unless the torrent runs now.
    pub(super) fn tracker_find_done(&mut self, ih: InfoHash) {
        self.trackers.finders.remove(&ih);
        if !self.torrents.contains_key(&ih) && self.trackers.entries.contains_key(&ih) {
            self.tracker_stop(ih);
        }
    }

    /// The torrent is stopping: announce `stopped`; the announcer stays until
    /// that is done or its time is up.
    pub(super) fn tracker_stop(&mut self, ih: InfoHash) {
        self.tracker_stats(ih);
        let now = self.now();
        let stop_timeout = self.trackers.config.stop_timeout;
        if let Some(e) = self.trackers.entries.get_mut(&ih) {
            e.announcer.stop(now);
            e.give_up = Some(Instant::now() + stop_timeout + STOP_GRACE);
        }
        self.drain_tracker(ih);
    }

    /// Every wanted byte is here: announce `completed` (once a session, and
    /// only if something was downloaded, so a seed never claims it).
    pub(super) fn tracker_completed(&mut self, ih: InfoHash) {
        let now = self.now();
        let worth = self
            .torrents
            .get(&ih)
            .is_some_and(|s| shared::worth_completed(&s.torrent, now));
        if !worth {
            return;
        }
        self.tracker_stats(ih);
        let now = self.now();
        if let Some(e) = self.trackers.entries.get_mut(&ih) {
            e.announcer.completed(now);
        }
        self.drain_tracker(ih);
    }

    /// Hands the engine's counters to the announcer (see
    /// [`sluice_std::tracker::set_stats`]).
    fn tracker_stats(&mut self, ih: InfoHash) {
        let now = self.now();
        let (Some(slot), Some(e)) = (self.torrents.get(&ih), self.trackers.entries.get_mut(&ih))
        else {
            return;
        };
        shared::set_stats(&mut e.announcer, &slot.torrent, e.total, now);
    }

    /// Drops a torrent's announcer and everything it had in flight.
    fn tracker_forget(&mut self, ih: InfoHash) {
        let tr = &mut self.trackers;
        if tr.entries.remove(&ih).is_none() {
            return;
        }
        let keys: Vec<usize> = tr
            .http
            .iter()
            .filter(|(_, c)| c.info_hash == ih)
            .map(|(k, _)| k)
            .collect();
        for key in keys {
            self.http_close(key);
        }
        let tr = &mut self.trackers;
        tr.routes.retain(|_, who| {
            who.retain(|(h, _, _)| *h != ih);
            !who.is_empty()
        });
        tr.waiting.retain(|_, list| {
            list.retain(|(h, _)| *h != ih);
            !list.is_empty()
        });
    }

    /// Timers of every announcer; stopped announcers leave.
    pub(super) fn tracker_expire(&mut self) {
        let ids: Vec<InfoHash> = self.trackers.entries.keys().copied().collect();
        let instant = Instant::now();
        for ih in ids {
            let now = self.now();
            let Some(e) = self.trackers.entries.get(&ih) else {
                continue;
            };
            let done = e.give_up.is_some()
                && (e.announcer.is_stopped() || e.give_up.is_some_and(|at| at <= instant));
            if done {
                self.tracker_forget(ih);
                continue;
            }
            if e.announcer.poll_timeout().is_some_and(|t| t <= now) {
                self.tracker_stats(ih);
                if let Some(e) = self.trackers.entries.get_mut(&ih) {
                    e.announcer.handle_timeout(now);
                }
                self.drain_tracker(ih);
            }
        }
    }

    /// Carries out what a torrent's announcer asks for.
    fn drain_tracker(&mut self, ih: InfoHash) {
        loop {
            let Some(e) = self.trackers.entries.get_mut(&ih) else {
                return;
            };
            let Some(out) = e.announcer.poll() else {
                return;
            };
            match out {
                Output::HttpGet {
                    id,
                    host,
                    port,
                    request,
                    ..
                } => self.http_start(ih, id, &host, port, request),
                Output::HttpCancel { id } => {
                    let key = self
                        .trackers
                        .http
                        .iter()
                        .find(|(_, c)| c.info_hash == ih && c.id == id)
                        .map(|(k, _)| k);
                    if let Some(key) = key {
                        self.http_close(key);
                    }
                }
                Output::UdpSend {
                    host,
                    port,
                    datagram,
                } => self.udp_send(ih, host, port, datagram),
                Output::Peers(peers) => {
                    if let Some(waiting) = self.trackers.finders.get_mut(&ih) {
                        waiting.retain(|tx| tx.send(peers.clone()).is_ok());
                    }
                    let now = self.now();
                    if let Some(slot) = self.torrents.get_mut(&ih) {
                        if slot.stopping.is_none() {
                            slot.torrent.add_peers(now, peers);
                            self.drain(ih);
                        }
                    }
                }
                Output::Warning { url, text } => self.tracker_event(ih, url, text, false),
                Output::Error { url, text } => self.tracker_event(ih, url, text, true),
            }
        }
    }

    fn tracker_event(&mut self, ih: InfoHash, url: String, text: String, error: bool) {
        if let Some(slot) = self.torrents.get_mut(&ih) {
            slot.publish(shared::event(url, text, error));
        }
    }

    /// A name lookup finished.
    pub(super) fn lookup_done(&mut self, lookup: Lookup) {
        match lookup.target {
            LookupFor::Http { key, serial } => {
                if self
                    .trackers
                    .http
                    .get(key)
                    .is_some_and(|c| c.serial == serial)
                {
                    self.http_resolved(key, lookup.result);
                }
            }
            LookupFor::Udp { host, port } => self.udp_resolved(host, port, lookup.result),
        }
    }

    // ----- HTTP -----

    fn http_start(&mut self, ih: InfoHash, id: RequestId, host: &str, port: u16, request: Vec<u8>) {
        let tr = &mut self.trackers;
        tr.serial += 1;
        let serial = tr.serial;
        let key = tr.http.insert(HttpConn {
            info_hash: ih,
            id,
            serial,
            port,
            request,
            written: 0,
            response: Vec::new(),
            addrs: VecDeque::new(),
            stream: None,
            connected: false,
            last_error: String::new(),
        });
        let target = LookupFor::Http { key, serial };
        if let Some((_, result)) = resolve(&self.inbox, host, port, target) {
            self.http_resolved(key, result);
        }
    }

    fn http_resolved(&mut self, key: usize, result: Result<Vec<SocketAddr>, String>) {
        let Some(conn) = self.trackers.http.get_mut(key) else {
            return;
        };
        match result {
            Ok(addrs) => {
                conn.addrs = addrs
                    .into_iter()
                    .map(|a| SocketAddr::new(a.ip(), conn.port))
                    .collect();
                conn.last_error = "the name resolves to no address".into();
                self.http_connect_next(key);
            }
            Err(text) => self.http_finish(key, Err(text)),
        }
    }

    /// Connects to the next address, or fails the request when none is left.
    fn http_connect_next(&mut self, key: usize) {
        let registry = self.poll.registry();
        let failed = loop {
            let Some(conn) = self.trackers.http.get_mut(key) else {
                return;
            };
            if let Some(mut old) = conn.stream.take() {
                let _ = registry.deregister(&mut old);
            }
            conn.connected = false;
            let Some(addr) = conn.addrs.pop_front() else {
                break std::mem::take(&mut conn.last_error);
            };
            let token = Token(HTTP_BASE + key);
            let started = TcpStream::connect(addr).and_then(|mut s| {
                registry
                    .register(&mut s, token, Interest::READABLE | Interest::WRITABLE)
                    .map(|()| s)
            });
            match started {
                Ok(s) => {
                    conn.stream = Some(s);
                    return;
                }
                Err(e) => conn.last_error = format!("cannot connect to {addr}: {e}"),
            }
        };
        self.http_finish(key, Err(failed));
    }

    /// Readiness of an HTTP announce connection.
    pub(super) fn http_event(&mut self, token: Token) {
        let key = token.0 - HTTP_BASE;
        match self.http_step(key) {
            HttpStep::Wait => {}
            HttpStep::NextAddress => self.http_connect_next(key),
            HttpStep::Done(result) => self.http_finish(key, result),
        }
    }

    /// Moves an HTTP announce on as far as its socket allows.
    fn http_step(&mut self, key: usize) -> HttpStep {
        let Some(conn) = self.trackers.http.get_mut(key) else {
            return HttpStep::Wait;
        };
        let Some(stream) = &mut conn.stream else {
            return HttpStep::Wait;
        };
        if !conn.connected {
            let error = match stream.take_error() {
                Ok(None) => None,
                Ok(Some(e)) | Err(e) => Some(e),
            };
            if let Some(e) = error {
                conn.last_error = format!("cannot connect: {e}");
                return HttpStep::NextAddress;
            }
            match stream.peer_addr() {
                Ok(_) => conn.connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return HttpStep::Wait,
                Err(e) => {
                    conn.last_error = format!("cannot connect: {e}");
                    return HttpStep::NextAddress;
                }
            }
        }
        // Write what is left of the request.
        while conn.written < conn.request.len() {
            match stream.write(&conn.request[conn.written..]) {
                Ok(0) => return HttpStep::Done(Err("the tracker closed the connection".into())),
                Ok(n) => conn.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return HttpStep::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return HttpStep::Done(Err(format!("sending the announce: {e}"))),
            }
        }
        // Read until the tracker closes.
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) => return HttpStep::Done(Ok(std::mem::take(&mut conn.response))),
                Ok(n) => {
                    if conn.response.len() + n > MAX_RESPONSE {
                        let text = format!("the answer is larger than {} MiB", MAX_RESPONSE >> 20);
                        return HttpStep::Done(Err(text));
                    }
                    conn.response.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return HttpStep::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return HttpStep::Done(Err(format!("reading the answer: {e}"))),
            }
        }
    }

    /// Closes an HTTP announce connection without an answer.
    fn http_close(&mut self, key: usize) {
        if !self.trackers.http.contains(key) {
            return;
        }
        let conn = self.trackers.http.remove(key);
        if let Some(mut s) = conn.stream {
            let _ = self.poll.registry().deregister(&mut s);
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Ends an HTTP announce and gives its outcome to the announcer.
    fn http_finish(&mut self, key: usize, result: Result<Vec<u8>, String>) {
        let Some(conn) = self.trackers.http.get(key) else {
            return;
        };
        let (ih, id) = (conn.info_hash, conn.id);
        self.http_close(key);
        self.tracker_stats(ih);
        let now = self.now();
        if let Some(e) = self.trackers.entries.get_mut(&ih) {
            let result = match &result {
                Ok(bytes) => Ok(bytes.as_slice()),
                Err(text) => Err(text.as_str()),
            };
            e.announcer.http_response(now, id, result);
        }
        self.drain_tracker(ih);
    }

    // ----- UDP -----

    fn udp_send(&mut self, ih: InfoHash, host: String, port: u16, datagram: Vec<u8>) {
        let key = (host, port);
        let fresh = self
            .trackers
            .resolved
            .get(&key)
            .filter(|(_, at)| at.elapsed() < LOOKUP_TTL)
            .map(|&(addr, _)| addr);
        if let Some(addr) = fresh {
            self.udp_send_to(ih, &key.0, port, addr, &datagram);
            return;
        }
        let list = self.trackers.waiting.entry(key.clone()).or_default();
        list.push((ih, datagram));
        if list.len() > 1 {
            return; // A lookup is under way.
        }
        let target = LookupFor::Udp {
            host: key.0.clone(),
            port,
        };
        if let Some((_, result)) = resolve(&self.inbox, &key.0, port, target) {
            self.udp_resolved(key.0, port, result);
        }
    }

    fn udp_resolved(&mut self, host: String, port: u16, result: Result<Vec<SocketAddr>, String>) {
        let key = (host, port);
        let waiting = self.trackers.waiting.remove(&key).unwrap_or_default();
        let v4_only = self
            .trackers
            .udp
            .as_ref()
            .and_then(|s| s.local_addr().ok())
            .is_some_and(|a| a.is_ipv4());
        let addr = result.and_then(|addrs| {
            addrs
                .into_iter()
                .find(|a| a.is_ipv4() || !v4_only)
                .map(|a| SocketAddr::new(a.ip(), port))
                .ok_or_else(|| format!("{} has no address this socket can reach", key.0))
        });
        match addr {
            Ok(addr) => {
                self.trackers
                    .resolved
                    .insert(key.clone(), (addr, Instant::now()));
                for (ih, datagram) in waiting {
                    self.udp_send_to(ih, &key.0, port, addr, &datagram);
                }
            }
            Err(text) => {
                let torrents: BTreeSet<InfoHash> = waiting.into_iter().map(|(ih, _)| ih).collect();
                for ih in torrents {
                    self.udp_failed(ih, &key.0, port, &text);
                }
            }
        }
    }

    fn udp_send_to(&mut self, ih: InfoHash, host: &str, port: u16, addr: SocketAddr, data: &[u8]) {
        let tr = &mut self.trackers;
        tr.routes
            .entry(addr)
            .or_default()
            .insert((ih, host.to_owned(), port));
        let Some(sock) = &tr.udp else {
            self.udp_failed(ih, host, port, "no UDP socket");
            return;
        };
        // A dual-stack socket reaches IPv4 trackers through mapped addresses.
        let to = match (sock.local_addr(), addr) {
            (Ok(SocketAddr::V6(_)), SocketAddr::V4(v4)) => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            _ => addr,
        };
        match sock.send_to(data, to) {
            Ok(_) => {}
            // Lost like any datagram; the announcer retransmits.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => self.udp_failed(ih, host, port, &format!("cannot send to {addr}: {e}")),
        }
    }

    fn udp_failed(&mut self, ih: InfoHash, host: &str, port: u16, text: &str) {
        let now = self.now();
        if let Some(e) = self.trackers.entries.get_mut(&ih) {
            e.announcer.udp_error(now, host, port, text);
        }
        self.drain_tracker(ih);
    }

    /// Reads every datagram waiting on the UDP socket.
    pub(super) fn udp_readable(&mut self) {
        let mut errors = 0;
        loop {
            let tr = &mut self.trackers;
            let Some(sock) = &tr.udp else {
                return;
            };
            let (n, from) = match sock.recv_from(&mut tr.buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // An ICMP error from an earlier send (port unreachable):
                // the announcers time out on their own.
                Err(_) => {
                    errors += 1;
                    if errors > 64 {
                        return;
                    }
                    continue;
                }
            };
            let from = unmap(from);
            let Some(who) = tr.routes.get(&from) else {
                continue;
            };
            let who: Vec<(InfoHash, String, u16)> = who.iter().cloned().collect();
            let datagram = tr.buf[..n].to_vec();
            for (ih, host, port) in who {
                self.tracker_stats(ih);
                let now = self.now();
                if let Some(e) = self.trackers.entries.get_mut(&ih) {
                    e.announcer.udp_datagram(now, &host, port, from, &datagram);
                }
                self.drain_tracker(ih);
            }
        }
    }
}

//! sluice-std's DHT node: one thread per client owns the node's UDP socket
//! (a blocking `std::net` one) and the shared [`DhtService`].
//!
//! The thread sleeps in `recv_from`, with a read timeout that ends when the
//! service next has timer work (and at least once a second). Everything else
//! it learns comes over one bounded channel, through a [`DhtLink`]: torrents
//! joining and leaving (sent by their engine threads), nodes that peers named
//! in `port` messages, the routers' addresses and the order to stop. A
//! blocking socket cannot also wait on a channel, so a sender follows its
//! message with an empty datagram to the node's own socket, which ends the
//! `recv_from` at once; senders coalesce those wakes (a flag the thread
//! clears before it reads the channel), so a burst costs one datagram. KRPC
//! messages are never empty, so an empty datagram from anyone is only ever a
//! wake.
//!
//! The routers' names are resolved on a short-lived thread: a slow DNS holds
//! up neither [`Client::start`](crate::Client::start) nor the node, and the
//! node still answers and uses its saved table meanwhile.
//!
//! Peers found go to their torrent's engine as [`Command::AddPeers`], never
//! by a blocking send: the DHT thread must not wait for a busy engine (whose
//! channel is full by design when peers send fast). A batch an engine has no
//! room for stays in a short queue and is offered again a moment later.
//!
//! On stop the routing table is saved and the thread ends; the client joins it.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sluice_core::{InfoHash, Time};

use crate::command::Command;
use crate::dht::{bind_socket, resolve_bootstrap, DhtOptions, DhtService, DhtStatus};
use crate::runner::Msg;

/// The largest datagram read; KRPC messages are far smaller, and a longer
/// one arrives cut short and fails to parse.
const MAX_DATAGRAM: usize = 2048;
/// Messages waiting for the DHT thread before senders block (node hints are
/// dropped instead).
const CHANNEL: usize = 1024;
/// The longest sleep, so a lost wake costs at most this much.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// How soon a batch of peers an engine had no room for is offered again.
const REDELIVER: Duration = Duration::from_millis(50);
/// Most batches of peers waiting for their engines; the oldest go first
/// (the next lookup finds them again).
const MAX_UNDELIVERED: usize = 64;
/// How long sending one datagram may block.
const SEND_TIMEOUT: Duration = Duration::from_millis(100);
/// Pause after a socket error that is no timeout, so a broken socket cannot
/// spin the thread.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// What the DHT thread is told.
enum ToDht {
    /// A torrent's engine started: look the torrent up, announce it, and
    /// send the peers found to `tx`.
    Add(InfoHash, SyncSender<Msg>),
    /// The torrent stopped.
    Remove(InfoHash),
    /// A peer named its DHT node.
    Node(SocketAddr),
    /// The routers' names are resolved.
    Bootstrap(Vec<SocketAddr>),
    /// Save the table and end.
    Stop,
}

/// How engine threads and the client reach the DHT thread. Cheap to clone.
#[derive(Clone)]
pub(crate) struct DhtLink(Arc<Link>);

struct Link {
    tx: SyncSender<ToDht>,
    /// Sends the wakes (bound next to the node's socket).
    waker: UdpSocket,
    /// Where wakes go: the node's socket, as this host reaches it.
    node: SocketAddr,
    /// A wake is on its way and the thread has not yet read the channel.
    woken: Arc<AtomicBool>,
}

impl DhtLink {
    /// A torrent's engine started (`engine` is its channel).
    pub(crate) fn add_torrent(&self, info_hash: InfoHash, engine: SyncSender<Msg>) {
        self.send(ToDht::Add(info_hash, engine));
    }

    /// A torrent's engine is stopping.
    pub(crate) fn remove_torrent(&self, info_hash: InfoHash) {
        self.send(ToDht::Remove(info_hash));
    }

    /// A peer named its DHT node. A hint only: dropped when the thread is
    /// behind, so a peer repeating `port` messages cannot fill memory or
    /// block its engine.
    pub(crate) fn add_node(&self, addr: SocketAddr) {
        if self.0.tx.try_send(ToDht::Node(addr)).is_ok() {
            self.wake();
        }
    }

    /// Queues a message (waiting while the channel is full: the thread
    /// drains it without ever waiting on a sender) and wakes the thread. A
    /// thread that has ended takes nothing, which is fine: it has stopped.
    fn send(&self, msg: ToDht) {
        if self.0.tx.send(msg).is_ok() {
            self.wake();
        }
    }

    fn wake(&self) {
        if !self.0.woken.swap(true, Ordering::SeqCst) {
            // A lost wake costs at most MAX_WAIT.
            let _ = self.0.waker.send_to(&[], self.0.node);
        }
    }
}

/// The client's DHT thread: the link to it, its port and figures.
pub(crate) struct DhtThread {
    link: DhtLink,
    port: u16,
    status: Arc<Mutex<DhtStatus>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl DhtThread {
    /// Binds the node's socket (see [`bind_socket`]) next to the TCP
    /// listener at `listen`, loads the saved table and starts the thread;
    /// the routers are resolved on a thread of their own. `start` is the
    /// client's clock.
    pub(crate) fn start(
        opts: &DhtOptions,
        listen: SocketAddr,
        seed: u64,
        start: Instant,
    ) -> io::Result<DhtThread> {
        let socket = bind_socket(listen, opts.port)?;
        socket.set_write_timeout(Some(SEND_TIMEOUT))?;
        let local = socket.local_addr()?;
        let node = reachable(local);
        let waker = UdpSocket::bind(SocketAddr::new(node.ip(), 0))?;
        let now = Time::from_duration(start.elapsed());
        let (service, warning) = DhtService::new(opts, listen.port(), seed, now);
        if let Some(w) = warning {
            // A bad state file costs only the head start it would have given.
            eprintln!("sluice: DHT routing table not loaded: {w}");
        }
        let status = Arc::new(Mutex::new(service.status()));
        let (tx, rx) = mpsc::sync_channel(CHANNEL);
        let woken = Arc::new(AtomicBool::new(false));
        let link = DhtLink(Arc::new(Link {
            tx,
            waker,
            node,
            woken: woken.clone(),
        }));
        let state = Node {
            service,
            socket,
            rx,
            woken,
            engines: BTreeMap::new(),
            undelivered: VecDeque::new(),
            status: status.clone(),
            start,
        };
        let thread = thread::Builder::new()
            .name("sluice-dht".into())
            .spawn(move || state.run())?;
        if !opts.bootstrap.is_empty() {
            let names = opts.bootstrap.clone();
            let to = link.clone();
            // Without this thread the node runs on its saved table and the
            // peers' port messages; lookups stop waiting for a join soon.
            let _ = thread::Builder::new()
                .name("sluice-dht-resolve".into())
                .spawn(move || {
                    let nodes = resolve_bootstrap(&names, local.is_ipv6());
                    to.send(ToDht::Bootstrap(nodes));
                });
        }
        Ok(DhtThread {
            link,
            port: local.port(),
            status,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// For engine threads.
    pub(crate) fn link(&self) -> DhtLink {
        self.link.clone()
    }

    /// The node's UDP port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The node's latest figures.
    pub(crate) fn status(&self) -> DhtStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Saves the table and ends the thread; returns once it has. Quick: the
    /// thread wakes at once and never waits on anything but its socket.
    pub(crate) fn stop(&self) {
        self.link.send(ToDht::Stop);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// The address this host reaches a socket bound at `local` by (a wildcard
/// address is no destination).
fn reachable(local: SocketAddr) -> SocketAddr {
    match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), local.port())
        }
        _ => local,
    }
}

/// What the DHT thread owns.
struct Node {
    service: DhtService,
    socket: UdpSocket,
    rx: Receiver<ToDht>,
    woken: Arc<AtomicBool>,
    /// The running torrents' engines, where their peers go.
    engines: BTreeMap<InfoHash, SyncSender<Msg>>,
    /// Peers whose engine had no room yet.
    undelivered: VecDeque<(InfoHash, Vec<SocketAddr>)>,
    status: Arc<Mutex<DhtStatus>>,
    start: Instant,
}

impl Node {
    fn now(&self) -> Time {
        Time::from_duration(self.start.elapsed())
    }

    /// Runs until told to stop, then saves the table.
    fn run(mut self) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            // Cleared before the channel is read: a message sent after this
            // point wakes the next sleep.
            self.woken.store(false, Ordering::SeqCst);
            if !self.take_messages() {
                break;
            }
            let now = self.now();
            if self.service.poll_timeout() <= now {
                self.service.handle_timeout(now);
            }
            self.flush();
            // Zero would mean "no timeout" to std; a millisecond is the least.
            let wait = self.wait().max(Duration::from_millis(1));
            if self.socket.set_read_timeout(Some(wait)).is_err() {
                thread::sleep(ERROR_PAUSE);
                continue;
            }
            match self.socket.recv_from(&mut buf) {
                // A wake.
                Ok((0, _)) => {}
                Ok((n, from)) => {
                    let now = self.now();
                    self.service.handle_datagram(now, from, &buf[..n]);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                // ICMP errors of earlier sends surface here on some systems;
                // the node times those queries out on its own.
                Err(_) => thread::sleep(ERROR_PAUSE),
            }
        }
        if let Err(e) = self.service.save() {
            eprintln!("sluice: DHT routing table not saved: {e}");
        }
        self.publish();
    }

    /// Handles what the channel holds; false when the thread is to end.
    fn take_messages(&mut self) -> bool {
        loop {
            let msg = match self.rx.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            };
            let now = self.now();
            match msg {
                ToDht::Add(ih, engine) => {
                    self.engines.insert(ih, engine);
                    self.service.add_torrent(now, ih, true);
                }
                ToDht::Remove(ih) => self.forget(ih),
                ToDht::Node(addr) => self.service.add_node(now, addr),
                ToDht::Bootstrap(nodes) => self.service.set_bootstrap(now, nodes),
                ToDht::Stop => return false,
            }
        }
    }

    /// How long to sleep in `recv_from`.
    fn wait(&self) -> Duration {
        let next = self.service.poll_timeout().saturating_since(self.now());
        let mut wait = next.min(MAX_WAIT);
        if !self.undelivered.is_empty() {
            wait = wait.min(REDELIVER);
        }
        wait
    }

    /// Sends what the node has queued, hands found peers to their engines
    /// and publishes the figures.
    fn flush(&mut self) {
        while let Some((to, bytes)) = self.service.poll_transmit() {
            // Lost like any datagram when it cannot be sent now; the node
            // retries unanswered queries.
            let _ = self.socket.send_to(&bytes, to);
        }
        while let Some(batch) = self.service.poll_peers() {
            if self.undelivered.len() == MAX_UNDELIVERED {
                self.undelivered.pop_front();
            }
            self.undelivered.push_back(batch);
        }
        self.deliver();
        self.publish();
    }

    /// Offers each waiting batch to its engine, keeping those it has no
    /// room for.
    fn deliver(&mut self) {
        for _ in 0..self.undelivered.len() {
            let Some((ih, peers)) = self.undelivered.pop_front() else {
                break;
            };
            let Some(engine) = self.engines.get(&ih) else {
                continue;
            };
            match engine.try_send(Msg::Cmd(Command::AddPeers(peers))) {
                Ok(()) => {}
                Err(TrySendError::Full(Msg::Cmd(Command::AddPeers(peers)))) => {
                    self.undelivered.push_back((ih, peers));
                }
                Err(TrySendError::Full(_)) => {}
                // The engine ended without saying so (it always says so when
                // it stops; this is the backstop).
                Err(TrySendError::Disconnected(_)) => self.forget(ih),
            }
        }
    }

    /// A torrent stopped: no more lookups, nowhere to send its peers.
    fn forget(&mut self, ih: InfoHash) {
        self.engines.remove(&ih);
        self.service.remove_torrent(&ih);
        self.undelivered.retain(|(i, _)| *i != ih);
    }

    fn publish(&self) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = self.service.status();
    }
}

//! The DHT node inside the event loop: one UDP socket ([`DHT_UDP`]) and the
//! shared [`DhtService`], which schedules the torrents' lookups and keeps the
//! routing table between runs.
//!
//! Datagrams are read until the socket would block and handed to the
//! service; what it has to send is sent at once, and a datagram the socket
//! cannot take now is dropped (the node retries unanswered queries, as it
//! must on any network). Peers found go to their torrent's engine and to any
//! magnet fetch waiting for them ([`Work::DhtFind`](super::Work::DhtFind)).
//! The bootstrap routers' names are resolved on a short-lived thread whose
//! answer comes back as [`Work::DhtBootstrap`](super::Work::DhtBootstrap).

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread;

use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};
use sluice_core::metainfo::Metainfo;
use sluice_core::{InfoHash, Time};
use sluice_std::dht::{resolve_bootstrap, DhtOptions, DhtService, DhtStatus};

use super::{EventLoop, Inbox, Work};

/// The DHT socket's token.
pub const DHT_UDP: Token = Token(usize::MAX - 4);
/// The largest datagram read; KRPC messages are far smaller.
const MAX_DATAGRAM: usize = 2048;

/// What the loop needs to run a node.
pub struct DhtSetup {
    /// The node's socket, bound.
    pub socket: UdpSocket,
    /// Bootstrap and state file.
    pub options: DhtOptions,
    /// Our TCP port, announced for every torrent.
    pub tcp_port: u16,
    /// Seed of the node id (when none is saved) and its random choices.
    pub seed: u64,
    /// Where the loop publishes the node's figures.
    pub status: Arc<Mutex<DhtStatus>>,
}

/// The node's state in the loop.
pub struct Dht {
    service: DhtService,
    socket: UdpSocket,
    status: Arc<Mutex<DhtStatus>>,
    /// Magnet fetches waiting for peers of an info-hash.
    finders: BTreeMap<InfoHash, Vec<Sender<Vec<SocketAddr>>>>,
    buf: Vec<u8>,
}

impl Dht {
    /// Registers the socket, loads the saved table and starts resolving the
    /// routers (their addresses come back through `inbox`).
    pub fn start(
        mut setup: DhtSetup,
        registry: &Registry,
        inbox: &Arc<Inbox>,
        now: Time,
    ) -> io::Result<Dht> {
        registry.register(&mut setup.socket, DHT_UDP, Interest::READABLE)?;
        let (service, warning) = DhtService::new(&setup.options, setup.tcp_port, setup.seed, now);
        if let Some(w) = warning {
            // A bad state file costs only the head start it would have given.
            eprintln!("sluice: DHT routing table not loaded: {w}");
        }
        let names = setup.options.bootstrap.clone();
        let v6 = setup.socket.local_addr()?.is_ipv6();
        let inbox = inbox.clone();
        thread::Builder::new()
            .name("sluice-dht-resolve".into())
            .spawn(move || inbox.push(Work::DhtBootstrap(resolve_bootstrap(&names, v6))))?;
        Ok(Dht {
            service,
            socket: setup.socket,
            status: setup.status,
            finders: BTreeMap::new(),
            buf: vec![0; MAX_DATAGRAM],
        })
    }

    /// When the node next has timer work.
    pub fn next_timeout(&self) -> Time {
        self.service.poll_timeout()
    }
}

impl EventLoop {
    /// A torrent joined the loop: look it up and announce it, unless it is
    /// private (BEP 27).
    pub(super) fn dht_add(&mut self, meta: &Metainfo) {
        let now = self.now();
        let Some(dht) = &mut self.dht else { return };
        if meta.info.private {
            return;
        }
        dht.service.add_torrent(now, meta.info_hash, true);
        self.dht_flush();
    }

    /// A torrent left the loop.
    pub(super) fn dht_remove(&mut self, ih: InfoHash) {
        let Some(dht) = &mut self.dht else { return };
        dht.service.remove_torrent(&ih);
    }

    /// A peer named its DHT node.
    pub(super) fn dht_node(&mut self, addr: SocketAddr) {
        let now = self.now();
        let Some(dht) = &mut self.dht else { return };
        dht.service.add_node(now, addr);
        self.dht_flush();
    }

    /// The routers' addresses are known.
    pub(super) fn dht_bootstrap(&mut self, nodes: Vec<SocketAddr>) {
        let now = self.now();
        let Some(dht) = &mut self.dht else { return };
        dht.service.set_bootstrap(now, nodes);
        self.dht_flush();
    }

    /// A magnet fetch wants peers of `ih` as they are found.
    pub(super) fn dht_find(&mut self, ih: InfoHash, tx: Sender<Vec<SocketAddr>>) {
        let now = self.now();
        let Some(dht) = &mut self.dht else { return };
        dht.finders.entry(ih).or_default().push(tx);
        dht.service.add_torrent(now, ih, false);
        self.dht_flush();
    }

    /// The metadata fetch of `ih` ended: stop looking it up unless the
    /// torrent runs now.
    pub(super) fn dht_find_done(&mut self, ih: InfoHash) {
        let running = self.torrents.contains_key(&ih);
        let Some(dht) = &mut self.dht else { return };
        dht.finders.remove(&ih);
        if !running {
            dht.service.remove_torrent(&ih);
        }
    }

    /// The socket is readable: take every datagram waiting.
    pub(super) fn dht_readable(&mut self) {
        let Some(dht) = &mut self.dht else { return };
        loop {
            match dht.socket.recv_from(&mut dht.buf) {
                Ok((n, from)) => {
                    let now = Time::from_duration(self.start.elapsed());
                    dht.service.handle_datagram(now, from, &dht.buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // ICMP errors of earlier sends surface here; nothing to do.
                Err(_) => continue,
            }
        }
        self.dht_flush();
    }

    /// Timers of the node.
    pub(super) fn dht_expire(&mut self) {
        let now = self.now();
        let Some(dht) = &mut self.dht else { return };
        if dht.service.poll_timeout() <= now {
            dht.service.handle_timeout(now);
            self.dht_flush();
        }
    }

    /// Saves the routing table (the loop is ending).
    pub(super) fn dht_save(&mut self) {
        if let Some(dht) = &self.dht {
            if let Err(e) = dht.service.save() {
                eprintln!("sluice: DHT routing table not saved: {e}");
            }
        }
    }

    /// Sends what the node has queued, hands found peers out and publishes
    /// the figures.
    fn dht_flush(&mut self) {
        let now = self.now();
        let Some(dht) = &mut self.dht else { return };
        while let Some((to, bytes)) = dht.service.poll_transmit() {
            // Dropped when the socket is full or the address unreachable.
            let _ = dht.socket.send_to(&bytes, to);
        }
        let mut found = Vec::new();
        while let Some((ih, peers)) = dht.service.poll_peers() {
            if let Some(waiting) = dht.finders.get_mut(&ih) {
                waiting.retain(|tx| tx.send(peers.clone()).is_ok());
                if waiting.is_empty() {
                    dht.finders.remove(&ih);
                }
            }
            found.push((ih, peers));
        }
        *dht.status.lock().unwrap_or_else(|e| e.into_inner()) = dht.service.status();
        for (ih, peers) in found {
            if let Some(slot) = self.torrents.get_mut(&ih) {
                if slot.stopping.is_none() {
                    slot.torrent.add_peers(now, peers);
                    self.drain(ih);
                }
            }
        }
    }
}

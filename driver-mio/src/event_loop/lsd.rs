//! Local Service Discovery (BEP 14) inside the event loop: the core's sans-IO
//! [`Lsd`] and its multicast socket ([`SOCKET`]), opened by the client with
//! [`sluice_std::lsd::open_socket`].
//!
//! Torrents join when the loop starts running them and leave when they begin
//! to stop; private ones are passed on as such and the machine never
//! announces them. An announce heard for a torrent we run adds its sender to
//! that torrent's peers, as a tracker's answer does. Without LSD (not asked
//! for, or its socket could not be opened) every hook does nothing.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};
use sluice_core::lsd::{Group, Lsd};
use sluice_core::metainfo::Metainfo;
use sluice_core::{InfoHash, Time};
use sluice_std::lsd::{cookie_rng, RECV_BUFFER};
use sluice_std::tracker::unmap;

use super::EventLoop;

/// The LSD socket's token. It lies in the range [`super::tracker::is_http`]
/// accepts, so the loop matches it before HTTP tokens.
pub const SOCKET: Token = Token(usize::MAX - 5);

/// How many read errors in a row end one readiness event (ICMP errors from
/// earlier sends are reported on reads).
const MAX_READ_ERRORS: u32 = 64;

/// A running LSD: its socket and state machine.
struct Active {
    sock: UdpSocket,
    machine: Lsd,
    /// The torrents it knows: info-hash, private.
    torrents: BTreeMap<InfoHash, bool>,
    buf: Box<[u8; RECV_BUFFER]>,
}

/// The loop's LSD, on or off.
pub struct Discovery {
    active: Option<Active>,
}

impl Discovery {
    /// LSD on `sock` (a socket from [`sluice_std::lsd::open_socket`]),
    /// announcing our TCP `port`; off with `None` or if the socket cannot be
    /// registered.
    pub fn new(sock: Option<std::net::UdpSocket>, port: u16, registry: &Registry) -> Discovery {
        let active = sock.and_then(|sock| {
            sock.set_nonblocking(true).ok()?;
            let mut sock = UdpSocket::from_std(sock);
            registry
                .register(&mut sock, SOCKET, Interest::READABLE)
                .ok()?;
            Some(Active {
                sock,
                machine: Lsd::new(Group::V4, port, &mut cookie_rng()),
                torrents: BTreeMap::new(),
                buf: Box::new([0; RECV_BUFFER]),
            })
        });
        Discovery { active }
    }

    /// The machine's next timer, if before `wait`.
    pub fn next_wait(&self, now: Time, wait: Duration) -> Duration {
        match self.active.as_ref().and_then(|a| a.machine.poll_timeout()) {
            Some(t) => wait.min(t.saturating_since(now)),
            None => wait,
        }
    }
}

impl Active {
    /// Tells the machine the torrents, and sends what it wants sent.
    fn sync(&mut self, now: Time) {
        let list: Vec<(InfoHash, bool)> = self.torrents.iter().map(|(h, p)| (*h, *p)).collect();
        self.machine.set_torrents(now, &list);
        self.transmit();
    }

    fn transmit(&mut self) {
        while let Some(datagram) = self.machine.poll_transmit() {
            // A lost announce (socket full, no route) is repeated at the next
            // interval.
            let _ = self.sock.send_to(&datagram, Group::V4.destination());
        }
    }
}

impl EventLoop {
    /// A torrent starts running: announce it unless it is private.
    pub(super) fn lsd_add(&mut self, meta: &Metainfo) {
        let now = self.now();
        if let Some(a) = &mut self.lsd.active {
            a.torrents.insert(meta.info_hash, meta.info.private);
            a.sync(now);
        }
    }

    /// A torrent begins to stop: announce it no more, take no more peers.
    pub(super) fn lsd_remove(&mut self, ih: InfoHash) {
        let now = self.now();
        if let Some(a) = &mut self.lsd.active {
            if a.torrents.remove(&ih).is_some() {
                a.sync(now);
            }
        }
    }

    /// The machine's timer.
    pub(super) fn lsd_expire(&mut self) {
        let now = self.now();
        if let Some(a) = &mut self.lsd.active {
            if a.machine.poll_timeout().is_some_and(|t| t <= now) {
                a.machine.handle_timeout(now);
                a.transmit();
            }
        }
    }

    /// Reads every datagram waiting on the socket; each announce of a
    /// torrent we run adds its sender to that torrent's peers.
    pub(super) fn lsd_readable(&mut self) {
        let mut errors = 0;
        loop {
            let now = self.now();
            let Some(a) = &mut self.lsd.active else {
                return;
            };
            let (n, from) = match a.sock.recv_from(&mut a.buf[..]) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    errors += 1;
                    if errors > MAX_READ_ERRORS {
                        return;
                    }
                    continue;
                }
            };
            let Some(found) = a.machine.handle_datagram(now, unmap(from), &a.buf[..n]) else {
                continue;
            };
            for ih in found.info_hashes {
                let Some(slot) = self.torrents.get_mut(&ih) else {
                    continue;
                };
                if slot.stopping.is_none() {
                    slot.torrent.add_peers(now, [found.peer]);
                    self.drain(ih);
                }
            }
        }
    }
}

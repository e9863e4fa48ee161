//! Local Service Discovery (BEP 14): the socket both drivers share the making
//! of, and sluice-std's thread around the core's sans-IO [`Lsd`].
//!
//! Shared: [`open_socket`] (bound to port 6771 with the port shared, joined
//! to the group on the configured interface, multicast sent from it and
//! looped back), [`cookie_rng`] and [`RECV_BUFFER`].
//!
//! sluice-std runs one LSD thread per client (`LsdService`): it owns the
//! state machine, reads the socket with a short timeout, turns announces of
//! torrents we run into [`Command::AddPeers`] for their engines, and sends
//! what the machine asks for. Torrents join when they are added and leave
//! when removed or stopped.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant};

use sluice_core::lsd::{Group, Lsd, LSD_PORT, MAX_DATAGRAM, MULTICAST_V4};
use sluice_core::{InfoHash, Rng, Time};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::command::Command;
use crate::options::LsdOptions;
use crate::prepare::random_u64;
use crate::runner::Msg;
use crate::status::Shared;

/// Bytes read per datagram: one more than the largest announce, so that a
/// longer datagram arrives cut and is refused as too large rather than read
/// whole.
pub const RECV_BUFFER: usize = MAX_DATAGRAM + 1;

/// How often the LSD thread looks at its timer and at stopped torrents when
/// nothing arrives.
const TICK: Duration = Duration::from_millis(500);

/// The LSD socket for `opts`: UDP on `0.0.0.0:6771` shared with the other
/// clients of the machine, a member of `239.192.152.143` on the interface,
/// sending multicast from that interface with the TTL asked for and with
/// loopback on (so clients on this machine hear each other).
///
/// std cannot set `SO_REUSEADDR` before binding nor choose the interface of
/// outgoing multicast, hence `socket2`. Each error names the step that failed.
pub fn open_socket(opts: &LsdOptions) -> io::Result<UdpSocket> {
    let step = |what: String| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    let group = *MULTICAST_V4.ip();
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .map_err(step("cannot open a UDP socket".into()))?;
    sock.set_reuse_address(true)
        .map_err(step("cannot share port 6771".into()))?;
    // Where it exists, multicast sharing needs it too (BSDs, macOS); on
    // Linux SO_REUSEADDR is enough, and every datagram to a group still goes
    // to every socket.
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    sock.set_reuse_port(true)
        .map_err(step("cannot share port 6771".into()))?;
    // Only the groups joined by this socket, on the interfaces it joined on,
    // rather than every group any socket of the machine joined.
    #[cfg(target_os = "linux")]
    sock.set_multicast_all_v4(false)
        .map_err(step("cannot restrict the socket to its group".into()))?;
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, LSD_PORT);
    sock.bind(&SockAddr::from(any))
        .map_err(step(format!("cannot bind {any}")))?;
    sock.join_multicast_v4(&group, &opts.interface)
        .map_err(step(format!("cannot join {group} on {}", opts.interface)))?;
    if !opts.interface.is_unspecified() {
        sock.set_multicast_if_v4(&opts.interface)
            .map_err(step(format!(
                "cannot send multicast from {}",
                opts.interface
            )))?;
    }
    sock.set_multicast_loop_v4(true)
        .map_err(step("cannot loop multicast back".into()))?;
    sock.set_multicast_ttl_v4(opts.ttl).map_err(step(format!(
        "cannot set the multicast TTL to {}",
        opts.ttl
    )))?;
    Ok(sock.into())
}

/// The cookie's seed: random whatever [`ClientOptions::seed`](crate::ClientOptions::seed)
/// says, since two clients with the same seed must still tell their
/// announces apart.
pub fn cookie_rng() -> Rng {
    Rng::new(random_u64())
}

/// A torrent LSD announces and finds peers for.
struct Member {
    private: bool,
    engine: SyncSender<Msg>,
    /// Says when the torrent has stopped (it then leaves).
    shared: Arc<Shared>,
}

struct State {
    machine: Lsd,
    members: BTreeMap<InfoHash, Member>,
    last_prune: Instant,
}

/// sluice-std's LSD: the socket, the state machine and the torrents, shared
/// by the client (which adds and removes torrents) and the LSD thread.
pub(crate) struct LsdService {
    sock: UdpSocket,
    state: Mutex<State>,
    start: Instant,
}

impl LsdService {
    /// Opens the socket and starts the thread, which ends soon after the last
    /// `Arc` is dropped. `port` is the TCP port peers reach us at; `start`
    /// is the client's clock.
    pub(crate) fn start(
        opts: &LsdOptions,
        port: u16,
        start: Instant,
    ) -> io::Result<Arc<LsdService>> {
        let sock = open_socket(opts)?;
        let reader = sock.try_clone()?;
        reader.set_read_timeout(Some(TICK))?;
        let service = Arc::new(LsdService {
            sock,
            state: Mutex::new(State {
                machine: Lsd::new(Group::V4, port, &mut cookie_rng()),
                members: BTreeMap::new(),
                last_prune: Instant::now(),
            }),
            start,
        });
        let weak = Arc::downgrade(&service);
        thread::Builder::new()
            .name("sluice-lsd".into())
            .spawn(move || read_loop(&reader, &weak))?;
        Ok(service)
    }

    fn now(&self) -> Time {
        Time::from_duration(self.start.elapsed())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A torrent starts: announce it (unless private), and send its engine
    /// the peers that announce it.
    pub(crate) fn add(
        &self,
        info_hash: InfoHash,
        private: bool,
        engine: SyncSender<Msg>,
        shared: Arc<Shared>,
    ) {
        let mut state = self.lock();
        let member = Member {
            private,
            engine,
            shared,
        };
        state.members.insert(info_hash, member);
        self.sync(&mut state);
    }

    /// A torrent is removed: announce it no more.
    pub(crate) fn remove(&self, info_hash: &InfoHash) {
        let mut state = self.lock();
        if state.members.remove(info_hash).is_some() {
            self.sync(&mut state);
        }
    }

    /// Tells the machine the torrents, and sends what it wants sent.
    fn sync(&self, state: &mut State) {
        let list: Vec<(InfoHash, bool)> =
            state.members.iter().map(|(h, m)| (*h, m.private)).collect();
        state.machine.set_torrents(self.now(), &list);
        self.transmit(state);
    }

    fn transmit(&self, state: &mut State) {
        while let Some(datagram) = state.machine.poll_transmit() {
            // A lost announce is repeated at the next interval.
            let _ = self.sock.send_to(&datagram, Group::V4.destination());
        }
    }

    /// A datagram arrived: the peer it names goes to each torrent it
    /// announces that we run. An engine with a full channel misses it (the
    /// peer announces again).
    fn datagram(&self, from: SocketAddr, bytes: &[u8]) {
        let mut state = self.lock();
        let now = self.now();
        let Some(found) = state.machine.handle_datagram(now, from, bytes) else {
            return;
        };
        for hash in found.info_hashes {
            if let Some(m) = state.members.get(&hash) {
                let _ = m
                    .engine
                    .try_send(Msg::Cmd(Command::AddPeers(vec![found.peer])));
            }
        }
    }

    /// Drops stopped torrents (at most once a tick) and runs the timer.
    fn tick(&self) {
        let mut state = self.lock();
        if state.last_prune.elapsed() >= TICK {
            state.last_prune = Instant::now();
            let before = state.members.len();
            state.members.retain(|_, m| !m.shared.lock().stopped);
            if state.members.len() != before {
                self.sync(&mut state);
            }
        }
        let now = self.now();
        if state.machine.poll_timeout().is_some_and(|t| t <= now) {
            state.machine.handle_timeout(now);
            self.transmit(&mut state);
        }
    }
}

/// Reads announces until the service is gone.
fn read_loop(sock: &UdpSocket, service: &Weak<LsdService>) {
    let mut buf = [0u8; RECV_BUFFER];
    loop {
        let got = sock.recv_from(&mut buf);
        let Some(service) = service.upgrade() else {
            return;
        };
        // Timeouts, interruptions, ICMP errors: nothing to read.
        if let Ok((n, from)) = got {
            service.datagram(from, &buf[..n]);
        }
        service.tick();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sockets on the loopback interface share port 6771, and a datagram
    /// one sends to the group comes to both (loopback on), from the sender's
    /// loopback address.
    #[test]
    fn sockets_share_the_port_and_hear_the_group() {
        let opts = LsdOptions::new(Ipv4Addr::LOCALHOST);
        let a = open_socket(&opts).expect("first socket");
        let b = open_socket(&opts).expect("second socket on the same port");
        // Other tests may multicast at the same time: look for ours.
        let mark = format!("sluice-std lsd test {}", random_u64());
        a.send_to(mark.as_bytes(), Group::V4.destination()).unwrap();
        for sock in [&a, &b] {
            sock.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let end = Instant::now() + Duration::from_secs(10);
            let mut buf = [0u8; RECV_BUFFER];
            loop {
                assert!(Instant::now() < end, "the datagram did not come back");
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if &buf[..n] == mark.as_bytes() {
                    assert_eq!(from.ip(), Ipv4Addr::LOCALHOST);
                    break;
                }
            }
        }
    }
}

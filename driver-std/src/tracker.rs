//! Trackers: the building blocks both drivers share around the core's sans-IO
//! [`Announcer`], and sluice-std's own way of carrying out what it asks for.
//!
//! Shared: [`new_announcer`] (the torrent's tiers plus the client's extra
//! trackers), [`set_stats`] (`left` is the part of the torrent not verified
//! yet), [`worth_completed`], [`event`], [`unmap`] and [`MAX_RESPONSE`].
//!
//! sluice-std's announcer lives in the torrent's engine thread. Each HTTP
//! announce runs on a short-lived thread ([`http_get`]: blocking socket,
//! bounded timeouts) whose answer comes back as a message. UDP announces share
//! one socket per client ([`UdpTrackers`]) read by one thread, which routes each
//! answer by the address it came from to every engine that sent there; names
//! are resolved on a short-lived thread.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};

use sluice_core::metainfo::Metainfo;
use sluice_core::torrent::{Event, Torrent};
use sluice_core::tracker::announcer::{Announcer, AnnouncerConfig};
use sluice_core::{InfoHash, PeerId, Rng, Time};

use crate::runner::Msg;

/// The largest HTTP answer read; a longer one fails the announce.
pub const MAX_RESPONSE: usize = 4 << 20;
/// How long a resolved UDP tracker address is reused.
const LOOKUP_TTL: Duration = Duration::from_secs(600);
/// How often the UDP reader looks whether its client is gone.
const UDP_TICK: Duration = Duration::from_millis(500);

/// A torrent's announcer: its own tiers, then each of `extra` as a tier of its
/// own (refused for private torrents; duplicates are dropped, unusable URLs
/// reported through `poll`).
pub fn new_announcer(
    meta: &Metainfo,
    peer_id: PeerId,
    port: u16,
    extra: &[String],
    config: AnnouncerConfig,
    rng: Rng,
) -> Announcer {
    let mut announcer = Announcer::new(
        meta.info_hash,
        peer_id,
        port,
        &meta.trackers(),
        meta.info.private,
        config,
        rng,
    );
    for url in extra {
        let _ = announcer.add_tracker(url);
    }
    announcer
}

/// Hands the engine's counters to the announcer. `left` is the part of the
/// torrent not verified yet (the whole torrent, not only the selected files:
/// a streaming client with nothing selected is no seed); at least 1 until the
/// torrent is complete.
pub fn set_stats(announcer: &mut Announcer, torrent: &Torrent, total: u64, now: Time) {
    let s = torrent.stats(now);
    let left = if torrent.is_complete() {
        0
    } else {
        total.saturating_sub(s.verified_bytes).max(1)
    };
    announcer.set_stats(s.uploaded, s.downloaded, left);
}

/// Whether `completed` is to be announced now that the torrent is complete:
/// only if something was downloaded this session, so a seed never claims it.
pub fn worth_completed(torrent: &Torrent, now: Time) -> bool {
    torrent.stats(now).downloaded > 0
}

/// The event for a tracker's warning or error.
pub fn event(url: String, text: String, error: bool) -> Event {
    Event::Tracker { url, text, error }
}

/// An IPv4 address a dual-stack socket reported as IPv6-mapped, as IPv4.
pub fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// One blocking HTTP announce: resolves `host`, connects to each address in
/// turn, sends `request` and reads until the tracker closes (at most
/// [`MAX_RESPONSE`] bytes). Nothing takes longer than `timeout` (each address
/// gets at most that to connect, and the whole exchange after it as well).
pub fn http_get(
    host: &str,
    port: u16,
    request: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last_error = format!("{host} resolves to no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = format!("cannot connect to {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last_error)?;
    let end = Instant::now() + timeout;
    let left = |end: Instant| {
        let d = end.saturating_duration_since(Instant::now());
        (!d.is_zero()).then_some(d)
    };
    let timed_out = || "the tracker did not answer in time".to_owned();
    stream
        .set_write_timeout(Some(timeout))
        .and_then(|()| stream.write_all(request))
        .map_err(|e| format!("sending the announce: {e}"))?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let wait = left(end).ok_or_else(timed_out)?;
        stream
            .set_read_timeout(Some(wait))
            .map_err(|e| format!("reading the answer: {e}"))?;
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(response),
            Ok(n) => {
                if response.len() + n > MAX_RESPONSE {
                    return Err(format!(
                        "the answer is larger than {} MiB",
                        MAX_RESPONSE >> 20
                    ));
                }
                response.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out())
            }
            Err(e) => return Err(format!("reading the answer: {e}")),
        }
    }
}

/// Who sent to a UDP tracker address: the torrent, its URL's host and port,
/// and its engine.
struct Route {
    info_hash: InfoHash,
    host: String,
    port: u16,
    tx: SyncSender<Msg>,
}

/// A client's UDP tracker socket, shared by its torrents' engines.
pub struct UdpTrackers {
    sock: UdpSocket,
    routes: Mutex<HashMap<SocketAddr, Vec<Route>>>,
    resolved: Mutex<HashMap<(String, u16), (SocketAddr, Instant)>>,
}

impl UdpTrackers {
    /// Binds a socket on `ip` and starts its reader thread, which ends soon
    /// after the last `Arc` is dropped.
    pub fn start(ip: IpAddr) -> io::Result<Arc<UdpTrackers>> {
        let sock = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let reader = sock.try_clone()?;
        reader.set_read_timeout(Some(UDP_TICK))?;
        let udp = Arc::new(UdpTrackers {
            sock,
            routes: Mutex::new(HashMap::new()),
            resolved: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&udp);
        thread::Builder::new()
            .name("sluice-udp-trackers".into())
            .spawn(move || read_loop(&reader, &weak))?;
        Ok(udp)
    }

    /// Sends a torrent's datagram to `host:port`, resolving the name on a
    /// short-lived thread when needed; a failure comes back to `tx` as
    /// [`Msg::TrackerUdpError`].
    pub(crate) fn send(
        self: &Arc<Self>,
        info_hash: InfoHash,
        host: String,
        port: u16,
        datagram: Vec<u8>,
        tx: SyncSender<Msg>,
    ) {
        let known = match host.parse::<IpAddr>() {
            Ok(ip) => Some(SocketAddr::new(ip, port)),
            Err(_) => self.resolved.lock().ok().and_then(|r| {
                r.get(&(host.clone(), port))
                    .filter(|(_, at)| at.elapsed() < LOOKUP_TTL)
                    .map(|&(addr, _)| addr)
            }),
        };
        if let Some(addr) = known {
            self.send_to(info_hash, host, port, addr, &datagram, tx);
            return;
        }
        let udp = self.clone();
        // Without a thread the datagram is lost, and retransmitted later.
        let _ = thread::Builder::new()
            .name("sluice-lookup".into())
            .spawn(move || {
                let v4_only = udp.sock.local_addr().is_ok_and(|a| a.is_ipv4());
                let found = (host.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| format!("cannot resolve {host}: {e}"))
                    .and_then(|mut addrs| {
                        addrs
                            .find(|a| a.is_ipv4() || !v4_only)
                            .ok_or_else(|| format!("{host} has no address this socket can reach"))
                    });
                match found {
                    Ok(addr) => {
                        if let Ok(mut r) = udp.resolved.lock() {
                            r.insert((host.clone(), port), (addr, Instant::now()));
                        }
                        udp.send_to(info_hash, host, port, addr, &datagram, tx);
                    }
                    Err(text) => {
                        let _ = tx.send(Msg::TrackerUdpError { host, port, text });
                    }
                }
            });
    }

    fn send_to(
        &self,
        info_hash: InfoHash,
        host: String,
        port: u16,
        addr: SocketAddr,
        datagram: &[u8],
        tx: SyncSender<Msg>,
    ) {
        if let Ok(mut routes) = self.routes.lock() {
            let list = routes.entry(addr).or_default();
            if !list
                .iter()
                .any(|r| r.info_hash == info_hash && r.host == host && r.port == port)
            {
                list.push(Route {
                    info_hash,
                    host: host.clone(),
                    port,
                    tx: tx.clone(),
                });
            }
        }
        // A dual-stack socket reaches IPv4 trackers through mapped addresses.
        let to = match (self.sock.local_addr(), addr) {
            (Ok(SocketAddr::V6(_)), SocketAddr::V4(v4)) => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            _ => addr,
        };
        match self.sock.send_to(datagram, to) {
            Ok(_) => {}
            // Lost like any datagram; the announcer retransmits.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                let text = format!("cannot send to {addr}: {e}");
                let _ = tx.send(Msg::TrackerUdpError { host, port, text });
            }
        }
    }

    /// Forgets a torrent's routes (its announcer is gone).
    pub(crate) fn forget(&self, info_hash: InfoHash) {
        if let Ok(mut routes) = self.routes.lock() {
            routes.retain(|_, list| {
                list.retain(|r| r.info_hash != info_hash);
                !list.is_empty()
            });
        }
    }
}

/// Reads answers and hands each to the engines that sent to its address,
/// without blocking on them (a datagram an engine has no room for is lost,
/// and retransmitted). Ends when the client's [`UdpTrackers`] is gone.
fn read_loop(sock: &UdpSocket, udp: &Weak<UdpTrackers>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let got = sock.recv_from(&mut buf);
        let Some(udp) = udp.upgrade() else {
            return;
        };
        // Timeouts, interruptions and ICMP errors from earlier sends: the
        // announcers time out on their own.
        let Ok((n, from)) = got else {
            continue;
        };
        let from = unmap(from);
        let Ok(routes) = udp.routes.lock() else {
            return;
        };
        for r in routes.get(&from).into_iter().flatten() {
            let _ = r.tx.try_send(Msg::TrackerUdp {
                host: r.host.clone(),
                port: r.port,
                from,
                datagram: buf[..n].to_vec(),
            });
        }
    }
}

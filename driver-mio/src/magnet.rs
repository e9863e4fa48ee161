//! Magnet links: the metadata (the info dictionary) fetched from peers with
//! ut_metadata, verified against the info-hash, and cached in the download
//! folder so that the next start needs no peer for it.
//!
//! [`fetch_metadata`] runs a small `mio` loop of its own around the core's
//! [`MetadataSession`] and blocks until the metadata has verified, every peer
//! has failed, or the timeout passes. [`Client::add_magnet`](crate::Client::add_magnet)
//! does that, then adds the torrent.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use sluice_core::bencode::OwnedValue;
use sluice_core::magnet::{MagnetLink, PeerAddr};
use sluice_core::magnet_fetch::{MetadataSession, Output};
use sluice_core::metainfo::Metainfo;
use sluice_core::{InfoHash, PeerId, Time};
use sluice_std::Error;

/// Most bytes waiting to be sent to one peer before it is dropped.
const MAX_SEND_BUFFER: usize = 1 << 20;

/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often peers found meanwhile (the DHT's) are taken in.
const NEW_PEERS_EVERY: Duration = Duration::from_millis(20);

/// The metadata of a magnet link.
#[derive(Debug, Clone)]
pub struct FetchedMetadata {
    /// The torrent: the verified info dictionary with the link's trackers.
    pub meta: Metainfo,
    /// True if it came from the cache, without asking any peer.
    pub cached: bool,
}

/// Where the metadata of `info_hash` is cached under a download folder:
/// `<dir>/.sluice/metadata/<info-hash>.torrent`.
pub fn cache_path(download_dir: &Path, info_hash: &InfoHash) -> PathBuf {
    download_dir
        .join(".sluice")
        .join("metadata")
        .join(format!("{}.torrent", info_hash.to_hex()))
}

/// The peers a magnet link names (host names resolved; those that do not
/// resolve are skipped) followed by `extra`, without repeats.
pub fn link_peers(link: &MagnetLink, extra: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for p in &link.peers {
        let addr = match p {
            PeerAddr::Ip(a) => Some(*a),
            PeerAddr::Host { host, port } => (host.as_str(), *port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next()),
        };
        if let Some(a) = addr {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    for a in extra {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    out
}

/// The torrent of `link`: from the cache in `download_dir` if a verified copy
/// is there, else fetched within `timeout` from the link's peers,
/// `extra_peers` and the peers `found` brings meanwhile (the DHT's), then
/// cached. Cached bytes that do not hash to the info-hash are ignored (and
/// replaced).
pub fn fetch_metadata(
    link: &MagnetLink,
    extra_peers: &[SocketAddr],
    found: Option<Receiver<Vec<SocketAddr>>>,
    download_dir: &Path,
    peer_id: PeerId,
    timeout: Duration,
) -> Result<FetchedMetadata, Error> {
    let tiers: Vec<Vec<String>> = link.trackers.iter().map(|t| vec![t.clone()]).collect();
    let cache = cache_path(download_dir, &link.info_hash);
    if let Ok(bytes) = std::fs::read(&cache) {
        if let Ok(meta) = Metainfo::from_bytes(&bytes) {
            if meta.info_hash == link.info_hash {
                return Ok(FetchedMetadata { meta, cached: true });
            }
        }
    }
    let peers = link_peers(link, extra_peers);
    let info = fetch_info(link.info_hash, &peers, found, peer_id, timeout)?;
    let meta = Metainfo::from_info_bytes(&info, tiers.clone()).map_err(Error::Torrent)?;
    if meta.info_hash != link.info_hash {
        // The session verified the hash; this would be a bug, not a peer.
        return Err(Error::Io(io::Error::other(
            "fetched metadata has another hash",
        )));
    }
    // A cache that cannot be written costs only a refetch next time.
    let _ = write_cache(&cache, &info, &tiers);
    Ok(FetchedMetadata {
        meta,
        cached: false,
    })
}

/// A full `.torrent`: `announce`, `announce-list` (when there are trackers)
/// and the exact info bytes. Written to a temporary file and renamed.
fn write_cache(path: &Path, info: &[u8], tiers: &[Vec<String>]) -> io::Result<()> {
    let mut out = b"d".to_vec();
    if let Some(first) = tiers.first().and_then(|t| t.first()) {
        out.extend_from_slice(b"8:announce");
        out.extend_from_slice(&OwnedValue::from(first.as_str()).to_bytes());
        let list = OwnedValue::List(
            tiers
                .iter()
                .map(|tier| {
                    OwnedValue::List(tier.iter().map(|u| OwnedValue::from(u.as_str())).collect())
                })
                .collect(),
        );
        out.extend_from_slice(b"13:announce-list");
        out.extend_from_slice(&list.to_bytes());
    }
    out.extend_from_slice(b"4:info");
    out.extend_from_slice(info);
    out.push(b'e');
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("torrent.tmp");
    std::fs::write(&tmp, &out)?;
    std::fs::rename(&tmp, path)
}

struct Conn {
    stream: TcpStream,
    addr: SocketAddr,
    /// Connected (an outbound connect completes on the first writable event).
    open: bool,
    started: Instant,
    send: Vec<u8>,
}

/// Runs a [`MetadataSession`] on real sockets until it is done.
fn fetch_info(
    info_hash: InfoHash,
    peers: &[SocketAddr],
    mut found: Option<Receiver<Vec<SocketAddr>>>,
    peer_id: PeerId,
    timeout: Duration,
) -> Result<Vec<u8>, Error> {
    if peers.is_empty() && found.is_none() {
        return Err(Error::Io(io::Error::new(
            ErrorKind::NotFound,
            "the magnet link names no peer to fetch its metadata from (add --peer ADDR)",
        )));
    }
    let start = Instant::now();
    let deadline = start + timeout;
    let now = |at: Instant| Time::from_duration(at.duration_since(start));
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(64);
    let mut session: MetadataSession<usize> = MetadataSession::new(info_hash, peer_id);
    session.add_peers(peers.iter().copied());
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next_key = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_error = String::from(if peers.is_empty() {
        "no peer found"
    } else {
        "no peer answered"
    });
    loop {
        // Peers found since (the source may end, e.g. without a DHT).
        if let Some(rx) = &found {
            loop {
                match rx.try_recv() {
                    Ok(more) => session.add_peers(more),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        found = None;
                        break;
                    }
                }
            }
        }
        // Do what the session says.
        while let Some(out) = session.poll() {
            match out {
                Output::Connect(addr) => match TcpStream::connect(addr) {
                    Ok(mut stream) => {
                        let key = next_key;
                        next_key += 1;
                        poll.registry().register(
                            &mut stream,
                            Token(key),
                            Interest::READABLE | Interest::WRITABLE,
                        )?;
                        conns.insert(
                            key,
                            Conn {
                                stream,
                                addr,
                                open: false,
                                started: Instant::now(),
                                send: Vec::new(),
                            },
                        );
                    }
                    Err(e) => {
                        last_error = format!("{addr}: {e}");
                        session.connect_failed(now(Instant::now()), addr);
                    }
                },
                Output::Transmit { peer, bytes } => {
                    if let Some(c) = conns.get_mut(&peer) {
                        c.send.extend_from_slice(&bytes);
                    }
                }
                Output::Close { peer, reason } => {
                    if let Some(mut c) = conns.remove(&peer) {
                        last_error = format!("{}: {reason}", c.addr);
                        let _ = poll.registry().deregister(&mut c.stream);
                    }
                }
                Output::Done(info) => return Ok(info),
            }
        }
        // Flush what is queued.
        let mut failed = Vec::new();
        for (key, c) in conns.iter_mut() {
            if c.open && !c.send.is_empty() {
                if let Err(e) = flush(c) {
                    failed.push((*key, e.to_string()));
                } else if c.send.len() > MAX_SEND_BUFFER {
                    failed.push((*key, "peer does not read".into()));
                }
            }
        }
        // Connects that take too long.
        for (key, c) in conns.iter() {
            if !c.open && c.started.elapsed() > CONNECT_TIMEOUT {
                failed.push((*key, "connect timed out".into()));
            }
        }
        for (key, why) in failed {
            drop_conn(&mut session, &mut conns, &poll, key, now(Instant::now()));
            last_error = why;
        }
        if !session.has_prospects() && found.is_none() {
            return Err(Error::Io(io::Error::new(
                ErrorKind::NotFound,
                format!("no peer could send the metadata (last: {last_error})"),
            )));
        }
        let at = Instant::now();
        if at >= deadline {
            return Err(Error::Io(io::Error::new(
                ErrorKind::TimedOut,
                format!(
                    "no peer sent the metadata within {} s (last: {last_error})",
                    timeout.as_secs()
                ),
            )));
        }
        let mut wait = deadline - at;
        wait = wait.min(if found.is_some() {
            NEW_PEERS_EVERY
        } else {
            Duration::from_millis(500)
        });
        if let Some(t) = session.poll_timeout() {
            let due = t.saturating_since(now(at));
            wait = wait.min(due);
        }
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() != ErrorKind::Interrupted {
                return Err(Error::Io(e));
            }
        }
        let at = now(Instant::now());
        for ev in events.iter() {
            let key = ev.token().0;
            let Some(c) = conns.get_mut(&key) else {
                continue;
            };
            if !c.open && (ev.is_writable() || ev.is_readable()) {
                match c.stream.peer_addr() {
                    Ok(_) => {
                        c.open = true;
                        let addr = c.addr;
                        session.peer_connected(at, key, addr, true);
                    }
                    Err(e) if e.kind() == ErrorKind::NotConnected => {
                        if ev.is_error() || ev.is_write_closed() || ev.is_read_closed() {
                            let err = c.stream.take_error().ok().flatten();
                            last_error = format!(
                                "{}: {}",
                                c.addr,
                                err.map_or("connection refused".into(), |e| e.to_string())
                            );
                            let addr = c.addr;
                            let mut c = conns.remove(&key).expect("present");
                            let _ = poll.registry().deregister(&mut c.stream);
                            session.connect_failed(at, addr);
                        }
                        continue;
                    }
                    Err(e) => {
                        last_error = format!("{}: {e}", c.addr);
                        let addr = c.addr;
                        let mut c = conns.remove(&key).expect("present");
                        let _ = poll.registry().deregister(&mut c.stream);
                        session.connect_failed(at, addr);
                        continue;
                    }
                }
            }
            if ev.is_readable() || ev.is_read_closed() {
                let mut closed = false;
                while let Some(c) = conns.get_mut(&key) {
                    match c.stream.read(&mut buf) {
                        Ok(0) => {
                            closed = true;
                            break;
                        }
                        Ok(n) => session.handle_data(at, key, &buf[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => {
                            last_error = format!("{}: {e}", c.addr);
                            closed = true;
                            break;
                        }
                    }
                }
                if closed {
                    drop_conn(&mut session, &mut conns, &poll, key, at);
                }
            }
        }
        session.handle_timeout(now(Instant::now()));
    }
}

fn flush(c: &mut Conn) -> io::Result<()> {
    while !c.send.is_empty() {
        match c.stream.write(&c.send) {
            Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "peer closed")),
            Ok(n) => {
                c.send.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn drop_conn(
    session: &mut MetadataSession<usize>,
    conns: &mut HashMap<usize, Conn>,
    poll: &Poll,
    key: usize,
    at: Time,
) {
    if let Some(mut c) = conns.remove(&key) {
        let _ = poll.registry().deregister(&mut c.stream);
        if c.open {
            session.peer_closed(at, key);
        } else {
            session.connect_failed(at, c.addr);
        }
    }
}

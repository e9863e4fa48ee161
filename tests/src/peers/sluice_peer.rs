//! A sluice client (either driver) with one torrent, on 127.0.0.1, that records its
//! events.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_std::core::torrent::{Direction, Event, Stats};
use sluice_std::{ClientOptions, Error, TorrentHandle};

use super::{wait_watching, Describe, WaitEnd};

/// Which sluice driver runs an in-process peer. Both take the same
/// [`ClientOptions`] and hand out the same [`TorrentHandle`]s; only the client differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// sluice-std: a thread per torrent, blocking sockets.
    Std,
    /// sluice-mio: one event loop for every torrent.
    Mio,
}

impl Driver {
    /// Its crate's name, for messages: `sluice-std` or `sluice-mio`.
    pub fn name(self) -> &'static str {
        match self {
            Driver::Std => "sluice-std",
            Driver::Mio => "sluice-mio",
        }
    }

    /// A short tag for names of scratch folders: `std` or `mio`.
    pub fn tag(self) -> &'static str {
        match self {
            Driver::Std => "std",
            Driver::Mio => "mio",
        }
    }
}

/// A running client of either driver; the calls the interop tests make.
#[derive(Clone)]
pub enum SluiceClient {
    /// A sluice-std client.
    Std(sluice_std::Client),
    /// A sluice-mio client.
    Mio(sluice_mio::Client),
}

impl SluiceClient {
    /// Starts a client of `driver` with `opts`.
    pub fn start(driver: Driver, opts: ClientOptions) -> Result<SluiceClient, Error> {
        Ok(match driver {
            Driver::Std => SluiceClient::Std(sluice_std::Client::start(opts)?),
            Driver::Mio => SluiceClient::Mio(sluice_mio::Client::start(opts)?),
        })
    }

    /// Which driver it is.
    pub fn driver(&self) -> Driver {
        match self {
            SluiceClient::Std(_) => Driver::Std,
            SluiceClient::Mio(_) => Driver::Mio,
        }
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        match self {
            SluiceClient::Std(c) => c.local_addr(),
            SluiceClient::Mio(c) => c.local_addr(),
        }
    }

    /// Its peer id.
    pub fn peer_id(&self) -> sluice_std::core::PeerId {
        match self {
            SluiceClient::Std(c) => c.peer_id(),
            SluiceClient::Mio(c) => c.peer_id(),
        }
    }

    /// Why local peer discovery, asked for in its options, does not run.
    pub fn lsd_error(&self) -> Option<String> {
        match self {
            SluiceClient::Std(c) => c.lsd_error().map(str::to_owned),
            SluiceClient::Mio(c) => c.lsd_error().map(str::to_owned),
        }
    }

    /// Its DHT node's UDP address, when it runs one.
    pub fn dht_addr(&self) -> Option<SocketAddr> {
        match self {
            SluiceClient::Std(c) => c.dht_addr(),
            SluiceClient::Mio(c) => c.dht_addr(),
        }
    }

    /// Its DHT node's figures, when it runs one.
    pub fn dht_status(&self) -> Option<sluice_std::dht::DhtStatus> {
        match self {
            SluiceClient::Std(c) => c.dht_status(),
            SluiceClient::Mio(c) => c.dht_status(),
        }
    }

    /// Adds a torrent from the bytes of a `.torrent` file.
    pub fn add_torrent_bytes(&self, bytes: &[u8]) -> Result<TorrentHandle, Error> {
        match self {
            SluiceClient::Std(c) => c.add_torrent_bytes(bytes),
            SluiceClient::Mio(c) => c.add_torrent_bytes(bytes),
        }
    }

    /// Stops every torrent and the client.
    pub fn shutdown(self) -> Result<(), Error> {
        match self {
            SluiceClient::Std(c) => c.shutdown(),
            SluiceClient::Mio(c) => c.shutdown(),
        }
    }
}

/// Events worth showing when a test fails, and counts of the frequent ones.
#[derive(Default)]
struct Recorded {
    notable: Vec<(Duration, String)>,
    verified: u32,
    hash_failed: u32,
    first_piece: Option<Duration>,
    last_stats: Option<Stats>,
    /// (time, verified pieces, download rate, upload rate) from each `Stats` event.
    timeline: Vec<(Duration, u32, u64, u64)>,
    /// (time, address, direction) of each `PeerConnected` event.
    connected: Vec<(Duration, SocketAddr, Direction)>,
}

/// Most notable events kept.
const KEEP_EVENTS: usize = 500;

/// How long a question to the engine may take when describing it.
const ASK_LIMIT: Duration = Duration::from_secs(5);

/// Run `f` on a thread of its own; its result, or `None` if it takes longer than
/// `limit` (the thread is then left behind).
pub fn bounded<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).ok()
}

/// A sluice client of either [`Driver`] listening on 127.0.0.1 (a free port) with
/// one torrent. Shut down when dropped.
pub struct SluicePeer {
    /// The client.
    pub client: SluiceClient,
    /// Its torrent.
    pub torrent: TorrentHandle,
    /// `sluice-std <name>` or `sluice-mio <name>`, for messages.
    label: String,
    dir: PathBuf,
    started: Instant,
    recorded: Arc<Mutex<Recorded>>,
}

impl SluicePeer {
    /// A `driver` client downloading into (or seeding from) `download_dir`, with the
    /// torrent `torrent_bytes` added (existing data is verified first).
    pub fn start(
        driver: Driver,
        name: &str,
        download_dir: &Path,
        torrent_bytes: &[u8],
    ) -> SluicePeer {
        SluicePeer::start_with(driver, name, download_dir, torrent_bytes, |_| {})
    }

    /// Like [`start`](Self::start), with the options adjusted by `tune`.
    pub fn start_with(
        driver: Driver,
        name: &str,
        download_dir: &Path,
        torrent_bytes: &[u8],
        tune: impl FnOnce(&mut ClientOptions),
    ) -> SluicePeer {
        let label = format!("{} {name}", driver.name());
        let mut opts = ClientOptions::new(download_dir);
        opts.listen = "127.0.0.1:0".parse().unwrap();
        tune(&mut opts);
        let client =
            SluiceClient::start(driver, opts).unwrap_or_else(|e| panic!("{label}: start: {e}"));
        let torrent = client
            .add_torrent_bytes(torrent_bytes)
            .unwrap_or_else(|e| panic!("{label}: add torrent: {e}"));
        let started = Instant::now();
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let events = torrent.subscribe();
        let rec = recorded.clone();
        std::thread::spawn(move || {
            for ev in events {
                let at = started.elapsed();
                let mut r = rec.lock().unwrap();
                let note = match ev {
                    Event::PieceVerified { .. } => {
                        r.verified += 1;
                        r.first_piece.get_or_insert(at);
                        None
                    }
                    Event::Stats(s) => {
                        if r.timeline.len() < KEEP_EVENTS {
                            r.timeline
                                .push((at, s.pieces, s.download_rate, s.upload_rate));
                        }
                        r.last_stats = Some(s);
                        None
                    }
                    Event::HashFailed { .. } => {
                        r.hash_failed += 1;
                        Some(format!("{ev:?}"))
                    }
                    Event::PeerConnected {
                        addr, direction, ..
                    } => {
                        if r.connected.len() < KEEP_EVENTS {
                            r.connected.push((at, addr, direction));
                        }
                        Some(format!("{ev:?}"))
                    }
                    Event::StreamReady { .. } => None,
                    other => Some(format!("{other:?}")),
                };
                if let Some(n) = note {
                    if r.notable.len() < KEEP_EVENTS {
                        r.notable.push((at, n));
                    }
                }
            }
        });
        SluicePeer {
            client,
            torrent,
            label,
            dir: download_dir.to_path_buf(),
            started,
            recorded,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.client.local_addr()
    }

    /// Which driver runs it.
    pub fn driver(&self) -> Driver {
        self.client.driver()
    }

    /// Its client.
    pub fn client(&self) -> &SluiceClient {
        &self.client
    }

    /// Its download folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Pieces verified since it started (from its events).
    pub fn pieces_verified_by_events(&self) -> u32 {
        self.recorded.lock().unwrap().verified
    }

    /// When the first piece was verified, counted from the start.
    pub fn first_piece_at(&self) -> Option<Duration> {
        self.recorded.lock().unwrap().first_piece
    }

    /// Once a second: time since start, verified pieces, download and upload rate.
    pub fn timeline(&self) -> String {
        let r = self.recorded.lock().unwrap();
        r.timeline
            .iter()
            .map(|(t, p, d, u)| {
                format!(
                    "{:.0}s:{p}p/{:.1}↓/{:.1}↑",
                    t.as_secs_f64(),
                    *d as f64 / (1 << 20) as f64,
                    *u as f64 / (1 << 20) as f64
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Hash failures seen.
    pub fn hash_failures(&self) -> u32 {
        self.recorded.lock().unwrap().hash_failed
    }

    /// The notable events so far (connections, disconnections with reasons, hash
    /// failures, bans, completion), with the time since start.
    pub fn events(&self) -> Vec<String> {
        self.recorded
            .lock()
            .unwrap()
            .notable
            .iter()
            .map(|(t, e)| format!("{:>8.3}s {e}", t.as_secs_f64()))
            .collect()
    }

    /// Wait at most `timeout` for a connection with `addr` to finish its
    /// handshake (an earlier one counts too). Returns when it did, counted from
    /// the start, and who opened it; `None` on timeout.
    pub fn wait_connected(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Option<(Duration, Direction)> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .recorded
                .lock()
                .unwrap()
                .connected
                .iter()
                .find(|(_, a, _)| *a == addr)
                .map(|&(at, _, direction)| (at, direction));
            if found.is_some() {
                return found;
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait at most `timeout` for every piece to be verified; returns how long it
    /// took. Panics with its own state and the descriptions of `others` otherwise,
    /// early when no byte arrives for [`STALL`](super::STALL).
    pub fn wait_complete(&self, timeout: Duration, others: &[&dyn Describe]) -> Duration {
        let t0 = Instant::now();
        let end = wait_watching(
            timeout,
            || {
                if self.torrent.is_complete() {
                    Some(Ok(()))
                } else {
                    self.torrent.error().map(Err)
                }
            },
            || {
                let r = self.recorded.lock().unwrap();
                (
                    r.verified,
                    r.last_stats.as_ref().map_or(0, |s| s.downloaded),
                )
            },
        );
        if end != WaitEnd::Done(Ok(())) {
            panic!(
                "{} did not complete: {end:?}\n==== {}{}",
                self.label,
                self.describe(),
                super::describe_all(others)
            );
        }
        t0.elapsed()
    }

    /// Shut the client down (also done on drop); gives up waiting after 20 s.
    pub fn shutdown(&self) {
        let client = self.client.clone();
        match bounded(Duration::from_secs(20), move || client.shutdown()) {
            Some(Ok(())) => {}
            Some(Err(e)) => eprintln!("{}: shutdown: {e}", self.label),
            None => eprintln!("{}: shutdown did not return within 20 s", self.label),
        }
    }
}

impl Describe for SluicePeer {
    fn describe(&self) -> String {
        let mut s = String::new();
        let (have, total) = self.torrent.progress();
        let _ = writeln!(
            s,
            "{} at {} — {have}/{total} pieces after {:.1}s, complete: {}, error: {:?}",
            self.label,
            self.addr(),
            self.started.elapsed().as_secs_f64(),
            self.torrent.is_complete(),
            self.torrent.error()
        );
        let t = self.torrent.clone();
        match bounded(ASK_LIMIT, move || t.stats()) {
            Some(Ok(st)) => {
                let _ = writeln!(s, "stats: {st:?}");
            }
            Some(Err(e)) => {
                let _ = writeln!(s, "stats: {e}");
            }
            None => {
                let _ = writeln!(s, "stats: no answer within {ASK_LIMIT:?} (engine stuck?)");
            }
        }
        let t = self.torrent.clone();
        match bounded(ASK_LIMIT, move || t.peers()) {
            None => {
                let _ = writeln!(s, "peers: no answer within {ASK_LIMIT:?} (engine stuck?)");
            }
            Some(Ok(peers)) => {
                let _ = writeln!(s, "peers ({}):", peers.len());
                for p in peers {
                    let _ = writeln!(
                        s,
                        "  {} {:?} {:?} pieces={} am_choking={} am_interested={} peer_choking={} \
                         peer_interested={} snubbed={} requests={} requests_from_peer={} down={}B/s up={}B/s",
                        p.addr,
                        p.direction,
                        p.client,
                        p.pieces,
                        p.am_choking,
                        p.am_interested,
                        p.peer_choking,
                        p.peer_interested,
                        p.snubbed,
                        p.requests,
                        p.requests_from_peer,
                        p.download_rate,
                        p.upload_rate
                    );
                }
            }
            Some(Err(e)) => {
                let _ = writeln!(s, "peers: {e}");
            }
        }
        let r = self.recorded.lock().unwrap();
        let _ = writeln!(
            s,
            "events: {} pieces verified, {} hash failures; notable:",
            r.verified, r.hash_failed
        );
        drop(r);
        let _ = writeln!(s, "timeline (pieces, MiB/s down/up): {}", self.timeline());
        let r = self.recorded.lock().unwrap();
        let skip = r.notable.len().saturating_sub(40);
        for (t, e) in &r.notable[skip..] {
            let _ = writeln!(s, "  {:>8.3}s {e}", t.as_secs_f64());
        }
        s
    }
}

impl Drop for SluicePeer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

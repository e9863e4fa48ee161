//! [`Client`]: a listening socket and the torrents behind it.
//!
//! Inbound connections are accepted on one thread, which reads the peer's
//! 68-byte handshake (with a timeout) to learn which torrent it is for and
//! hands the socket to that torrent's engine thread. With
//! [`ClientOptions::dht`] a DHT node runs on a thread of its own (see
//! `dht_thread`), which the engines of non-private torrents join.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sluice_core::metainfo::Metainfo;
use sluice_core::tracker::announcer::AnnouncerConfig;
use sluice_core::wire::Handshake;
use sluice_core::{InfoHash, PeerId, Rng, Time};

use crate::dht::DhtStatus;
use crate::dht_thread::DhtThread;
use crate::error::Error;
use crate::handle::TorrentHandle;
use crate::lsd::LsdService;
use crate::options::ClientOptions;
use crate::prepare::{fresh_peer_id, prepare, random_u64, Prepared};
use crate::runner::{Announcing, EngineSink, Msg, Runner, CHANNEL};
use crate::tracker::{self, UdpTrackers};

/// How long an inbound peer has to send its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a torrent is added.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Files to download; `None` selects every file. Deselected files are
    /// still streamed on demand (torrent-stream selects nothing by default;
    /// pass `Some(vec![])` for that).
    pub selected: Option<Vec<usize>>,
    /// Peers to connect to at once.
    pub peers: Vec<SocketAddr>,
}

struct ClientInner {
    opts: ClientOptions,
    peer_id: PeerId,
    local_addr: SocketAddr,
    torrents: Mutex<BTreeMap<InfoHash, TorrentHandle>>,
    senders: Mutex<BTreeMap<InfoHash, SyncSender<Msg>>>,
    stopping: AtomicBool,
    start: Instant,
    /// Seeds the torrents' announcers.
    rng: Mutex<Rng>,
    /// The UDP tracker socket; `None` if it could not be opened (UDP
    /// announces then fail, HTTP ones still work).
    udp: Option<Arc<UdpTrackers>>,
    /// Local Service Discovery, when asked for and its socket could be
    /// opened.
    lsd: Option<Arc<LsdService>>,
    /// Why LSD was asked for but does not run.
    lsd_error: Option<String>,
    /// The DHT node, when [`ClientOptions::dht`] asks for one.
    dht: Option<DhtThread>,
}

/// A BitTorrent client: one listen address, one download folder, any number of
/// torrents, each run by its own engine thread.
///
/// ```no_run
/// use sluice_std::{Client, ClientOptions};
///
/// let mut opts = ClientOptions::new("downloads");
/// opts.listen = "127.0.0.1:0".parse().unwrap();
/// let client = Client::start(opts)?;
/// let torrent = client.add_torrent_file("debian.torrent")?;
/// torrent.connect("127.0.0.1:51413".parse().unwrap());
/// torrent.wait_complete(None)?;
/// client.shutdown()?;
/// # Ok::<(), sluice_std::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

impl Client {
    /// Binds the listen address and starts accepting peers. Every torrent
    /// announces to its trackers and [`ClientOptions::trackers`]; their
    /// warnings and errors come as [`Event::Tracker`](crate::Event::Tracker).
    /// With [`ClientOptions::lsd`], non-private torrents are also announced
    /// on the local network (if its socket cannot be opened the client runs
    /// without it: see [`lsd_error`](Client::lsd_error)).
    /// With [`ClientOptions::dht`], a DHT node too, on a UDP socket of its
    /// own (on the listen port if it is free); the bootstrap names are
    /// resolved in the background, so a slow DNS does not hold this up.
    pub fn start(opts: ClientOptions) -> Result<Client, Error> {
        let listener = TcpListener::bind(opts.listen)?;
        let local_addr = listener.local_addr()?;
        let seed = opts
            .seed
            .map_or_else(random_u64, |s| s ^ 0x7472_6163_6b65_7273);
        let start = Instant::now();
        // First, as the one that can fail the start.
        let dht = match &opts.dht {
            Some(d) => {
                let seed = opts
                    .seed
                    .map_or_else(random_u64, |s| s ^ 0x6468_7420_6e6f_6465);
                Some(DhtThread::start(d, local_addr, seed, start)?)
            }
            None => None,
        };
        let (lsd, lsd_error) = match &opts.lsd {
            None => (None, None),
            Some(o) => match LsdService::start(o, local_addr.port(), start) {
                Ok(service) => (Some(service), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        let inner = Arc::new(ClientInner {
            rng: Mutex::new(Rng::new(seed)),
            udp: UdpTrackers::start(local_addr.ip()).ok(),
            lsd,
            lsd_error,
            peer_id: fresh_peer_id(),
            local_addr,
            torrents: Mutex::new(BTreeMap::new()),
            senders: Mutex::new(BTreeMap::new()),
            stopping: AtomicBool::new(false),
            start,
            dht,
            opts,
        });
        let acceptor = inner.clone();
        let spawned = thread::Builder::new()
            .name("sluice-listen".into())
            .spawn(move || accept_loop(listener, &acceptor));
        if let Err(e) = spawned {
            if let Some(dht) = &inner.dht {
                dht.stop();
            }
            return Err(e.into());
        }
        Ok(Client { inner })
    }

    /// The address peers can reach us at.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The DHT node's figures (routing table size, lookups, peers found), or
    /// `None` when the client runs no node.
    pub fn dht_status(&self) -> Option<DhtStatus> {
        self.inner.dht.as_ref().map(DhtThread::status)
    }

    /// The DHT node's UDP address, when the client runs one.
    pub fn dht_addr(&self) -> Option<SocketAddr> {
        let dht = self.inner.dht.as_ref()?;
        Some(SocketAddr::new(self.inner.local_addr.ip(), dht.port()))
    }

    /// Our peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer_id
    }

    /// The options the client was started with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// Why Local Service Discovery, asked for in [`ClientOptions::lsd`],
    /// does not run (its socket could not be opened); `None` when it runs or
    /// was not asked for.
    pub fn lsd_error(&self) -> Option<&str> {
        self.inner.lsd_error.as_deref()
    }

    /// Adds a torrent from a `.torrent` file.
    pub fn add_torrent_file(&self, path: impl AsRef<Path>) -> Result<TorrentHandle, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        self.add_torrent_bytes(&bytes)
    }

    /// Adds a torrent from the bytes of a `.torrent` file.
    pub fn add_torrent_bytes(&self, bytes: &[u8]) -> Result<TorrentHandle, Error> {
        self.add_torrent(Metainfo::from_bytes(bytes)?, AddOptions::default())
    }

    /// Adds a parsed torrent. Existing data in the download folder is checked
    /// first (see [`ClientOptions::verify_on_start`]).
    pub fn add_torrent(&self, meta: Metainfo, add: AddOptions) -> Result<TorrentHandle, Error> {
        let opts = &self.inner.opts;
        let info_hash = meta.info_hash;
        let private = meta.info.private;
        if self
            .inner
            .torrents
            .lock()
            .map_err(|_| poisoned())?
            .contains_key(&info_hash)
        {
            return Err(Error::Duplicate(info_hash));
        }
        let now = Time::from_duration(self.inner.start.elapsed());
        let Prepared {
            torrent,
            storage,
            resume: resume_target,
            shared,
        } = prepare(
            opts,
            self.inner.peer_id,
            self.inner.local_addr.port(),
            self.inner.dht.as_ref().map(DhtThread::port),
            &meta,
            &add,
            now,
        )?;
        let config = AnnouncerConfig::default();
        let rng = Rng::new(self.inner.rng.lock().map_err(|_| poisoned())?.next_u64());
        let announcing = Announcing {
            announcer: tracker::new_announcer(
                &meta,
                self.inner.peer_id,
                self.inner.local_addr.port(),
                &opts.trackers,
                config.clone(),
                rng,
            ),
            total: meta.info.total_length,
            udp: self.inner.udp.clone(),
            http_timeout: config.http_timeout,
            stop_timeout: config.stop_timeout,
        };
        let (tx, rx) = mpsc::sync_channel(CHANNEL);
        let runner = Runner::new(
            torrent,
            rx,
            tx.clone(),
            storage.clone(),
            shared.clone(),
            opts.disk_threads,
            opts.connect_timeout,
            resume_target,
            self.inner.start,
            Some(announcing),
            // BEP 27: a private torrent's peers come from its tracker only.
            self.inner
                .dht
                .as_ref()
                .filter(|_| !private)
                .map(DhtThread::link),
        )?;
        thread::Builder::new()
            .name(format!("sluice-engine-{}", &info_hash.to_hex()[..8]))
            .spawn(move || runner.run())?;
        let handle = TorrentHandle::from_parts(
            Arc::new(EngineSink(tx.clone())),
            shared.clone(),
            storage,
            meta,
            opts.download_dir.clone(),
            opts.trackers.clone(),
        );
        self.inner
            .torrents
            .lock()
            .map_err(|_| poisoned())?
            .insert(info_hash, handle.clone());
        self.inner
            .senders
            .lock()
            .map_err(|_| poisoned())?
            .insert(info_hash, tx.clone());
        if let Some(lsd) = &self.inner.lsd {
            lsd.add(info_hash, private, tx, shared);
        }
        Ok(handle)
    }

    /// The torrents added so far.
    pub fn torrents(&self) -> Vec<TorrentHandle> {
        self.inner
            .torrents
            .lock()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops one torrent and forgets it; with `remove`, deletes its data too
    /// (see [`TorrentHandle::remove`]).
    pub fn remove_torrent(&self, info_hash: &InfoHash, remove: Option<bool>) -> Result<(), Error> {
        let handle = self
            .inner
            .torrents
            .lock()
            .map_err(|_| poisoned())?
            .remove(info_hash);
        self.inner
            .senders
            .lock()
            .map_err(|_| poisoned())?
            .remove(info_hash);
        if let Some(lsd) = &self.inner.lsd {
            lsd.remove(info_hash);
        }
        match (handle, remove) {
            (Some(h), Some(keep)) => h.remove(keep),
            (Some(h), None) => h.stop(),
            (None, _) => Ok(()),
        }
    }

    /// Stops accepting peers and stops every torrent: connections closed,
    /// queued writes finished, files flushed, resume files saved; then the
    /// DHT node, whose routing table is saved.
    pub fn shutdown(self) -> Result<(), Error> {
        self.inner.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(
            &wake_addr(self.inner.local_addr),
            Duration::from_millis(200),
        );
        let mut first_error = None;
        for h in self.torrents() {
            if let Err(e) = h.stop() {
                first_error.get_or_insert(e);
            }
        }
        if let Some(dht) = &self.inner.dht {
            dht.stop();
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// A connectable form of the listen address (0.0.0.0 is not).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

fn poisoned() -> Error {
    Error::Io(io::Error::other("client lock poisoned"))
}

fn accept_loop(listener: TcpListener, client: &Arc<ClientInner>) {
    for conn in listener.incoming() {
        if client.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else { continue };
        let client = client.clone();
        // The handshake is read off the accept thread, so a silent peer does
        // not hold up the next one.
        let _ = thread::Builder::new()
            .name("sluice-inbound".into())
            .spawn(move || route_inbound(stream, &client));
    }
}

/// Reads the handshake of an inbound peer and hands the socket to its torrent.
fn route_inbound(mut stream: TcpStream, client: &ClientInner) {
    let Ok(addr) = stream.peer_addr() else { return };
    if stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT)).is_err() {
        return;
    }
    let mut first = vec![0u8; Handshake::LEN];
    if stream.read_exact(&mut first).is_err() || stream.set_read_timeout(None).is_err() {
        return;
    }
    let Ok(hs) = Handshake::decode(&first) else {
        return;
    };
    let sender = client
        .senders
        .lock()
        .ok()
        .and_then(|s| s.get(&hs.info_hash).cloned());
    if let Some(tx) = sender {
        let _ = tx.send(Msg::Inbound(stream, addr, first));
    }
}

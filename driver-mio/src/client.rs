//! [`Client`]: the event-loop driver's client. Same API as sluice-std's; the
//! torrents run on one `mio` event loop thread instead of a thread each.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use mio::{Poll, Waker};
use sluice_core::metainfo::Metainfo;
use sluice_core::tracker::announcer::AnnouncerConfig;
use sluice_core::{InfoHash, PeerId, Time};
use sluice_std::dht::DhtStatus;
use sluice_std::prepare::{fresh_peer_id, prepare, random_u64};
use sluice_std::{AddOptions, ClientOptions, Error, TorrentHandle};

use crate::event_loop::{
    DhtSetup, EventLoop, Inbox, NewTorrent, PeerSources, Sink, TrackerSetup, Work, WAKER,
};

struct Inner {
    opts: ClientOptions,
    peer_id: PeerId,
    local_addr: SocketAddr,
    inbox: Arc<Inbox>,
    /// The DHT node's UDP port and figures, when it runs.
    dht: Option<(u16, Arc<Mutex<DhtStatus>>)>,
    torrents: Mutex<BTreeMap<InfoHash, TorrentHandle>>,
    start: Instant,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Why LSD was asked for but does not run.
    lsd_error: Option<String>,
}

/// A BitTorrent client whose torrents all run on one event loop.
///
/// ```no_run
/// use sluice_mio::{Client, ClientOptions};
///
/// let mut opts = ClientOptions::new("downloads");
/// opts.listen = "127.0.0.1:0".parse().unwrap();
/// let client = Client::start(opts)?;
/// let t = client.add_torrent_file("file.torrent")?;
/// t.connect("127.0.0.1:6881".parse().unwrap());
/// t.wait_complete(None)?;
/// client.shutdown()?;
/// # Ok::<(), sluice_mio::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Binds the listen address (and a UDP socket on its IP for UDP
    /// trackers) and starts the event loop. Every torrent announces to its
    /// trackers and [`ClientOptions::trackers`]; their warnings and errors
    /// come as [`Event::Tracker`](crate::Event::Tracker). With
    /// [`ClientOptions::dht`], a UDP socket for the DHT node too (on the
    /// listen port if it is free).
    /// With
    /// [`ClientOptions::lsd`], non-private torrents are also announced on the
    /// local network (if its socket cannot be opened the client runs without
    /// it: see [`lsd_error`](Client::lsd_error)).
    pub fn start(opts: ClientOptions) -> Result<Client, Error> {
        let std_listener = std::net::TcpListener::bind(opts.listen)?;
        std_listener.set_nonblocking(true)?;
        let local_addr = std_listener.local_addr()?;
        let listener = mio::net::TcpListener::from_std(std_listener);
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let inbox = Inbox::new(waker);
        let start = Instant::now();
        let peer_id = fresh_peer_id();
        // Without it UDP announces fail and HTTP ones still work.
        let udp = mio::net::UdpSocket::bind(SocketAddr::new(local_addr.ip(), 0)).ok();
        let seed = opts
            .seed
            .map_or_else(random_u64, |s| s ^ 0x6468_7420_6e6f_6465);
        let dht = match &opts.dht {
            Some(d) => {
                let socket = bind_dht(local_addr, d.port)?;
                let port = socket.local_addr()?.port();
                let status = Arc::new(Mutex::new(DhtStatus::default()));
                let setup = DhtSetup {
                    socket,
                    options: d.clone(),
                    tcp_port: local_addr.port(),
                    seed,
                    status: status.clone(),
                };
                Some((setup, (port, status)))
            }
            None => None,
        };
        let (dht_setup, dht) = dht.unzip();
        let trackers = TrackerSetup {
            peer_id,
            port: local_addr.port(),
            extra: opts.trackers.clone(),
            seed: opts
                .seed
                .map_or_else(random_u64, |s| s ^ 0x7472_6163_6b65_7273),
            udp,
            config: AnnouncerConfig::default(),
        };
        let (lsd, lsd_error) = match opts.lsd.as_ref().map(sluice_std::lsd::open_socket) {
            None => (None, None),
            Some(Ok(sock)) => (Some(sock), None),
            Some(Err(e)) => (None, Some(e.to_string())),
        };
        let event_loop = EventLoop::new(
            poll,
            listener,
            inbox.clone(),
            start,
            opts.connect_timeout,
            PeerSources {
                trackers,
                dht: dht_setup,
                lsd,
            },
        )?;
        let thread = thread::Builder::new()
            .name("sluice-loop".into())
            .spawn(move || event_loop.run())?;
        Ok(Client {
            inner: Arc::new(Inner {
                opts,
                peer_id,
                local_addr,
                inbox,
                dht,
                torrents: Mutex::new(BTreeMap::new()),
                start,
                thread: Mutex::new(Some(thread)),
                lsd_error,
            }),
        })
    }

    /// The address peers can reach us at.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The DHT node's figures (routing table size, lookups, peers found), or
    /// `None` when the client runs no node.
    pub fn dht_status(&self) -> Option<DhtStatus> {
        let (_, status) = self.inner.dht.as_ref()?;
        Some(status.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// The DHT node's UDP address, when the client runs one.
    pub fn dht_addr(&self) -> Option<SocketAddr> {
        let (port, _) = self.inner.dht.as_ref()?;
        Some(SocketAddr::new(self.inner.local_addr.ip(), *port))
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
        let info_hash = meta.info_hash;
        if self.lock_torrents()?.contains_key(&info_hash) {
            return Err(Error::Duplicate(info_hash));
        }
        let opts = &self.inner.opts;
        let now = Time::from_duration(self.inner.start.elapsed());
        let prepared = prepare(
            opts,
            self.inner.peer_id,
            self.inner.local_addr.port(),
            self.inner.dht.as_ref().map(|(port, _)| *port),
            &meta,
            &add,
            now,
        )?;
        let (storage, shared) = (prepared.storage.clone(), prepared.shared.clone());
        let (tx, rx) = mpsc::channel();
        self.inner.inbox.push(Work::Add(
            Box::new(NewTorrent {
                meta: meta.clone(),
                prepared,
                disk_threads: opts.disk_threads,
            }),
            tx,
        ));
        rx.recv()
            .map_err(|_| Error::Stopped("the event loop has ended".into()))??;
        let sink = Sink {
            info_hash,
            inbox: self.inner.inbox.clone(),
            alive: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        };
        let handle = TorrentHandle::from_parts(
            Arc::new(sink),
            shared,
            storage,
            meta,
            opts.download_dir.clone(),
            opts.trackers.clone(),
        );
        self.lock_torrents()?.insert(info_hash, handle.clone());
        Ok(handle)
    }

    /// The torrent of a magnet link: its metadata from the cache in the
    /// download folder (`.sluice/metadata/<info-hash>.torrent`), or else
    /// fetched with ut_metadata from the link's `x.pe` peers, `peers`, the
    /// peers its `tr` trackers (and [`ClientOptions::trackers`]) give and,
    /// when the client runs a DHT node, those the DHT finds; verified
    /// against the info-hash, within `timeout` (this call blocks until then),
    /// and cached.
    pub fn fetch_metadata(
        &self,
        link: &sluice_core::magnet::MagnetLink,
        peers: &[SocketAddr],
        timeout: std::time::Duration,
    ) -> Result<crate::magnet::FetchedMetadata, Error> {
        let dir = &self.inner.opts.download_dir;
        let cached = crate::magnet::cache_path(dir, &link.info_hash).exists();
        let searching = self.inner.dht.is_some()
            || !link.trackers.is_empty()
            || !self.inner.opts.trackers.is_empty();
        let found = (searching && !cached).then(|| {
            let (tx, rx) = mpsc::channel();
            self.inner.inbox.push(Work::Find {
                info_hash: link.info_hash,
                tiers: link.trackers.iter().map(|t| vec![t.clone()]).collect(),
                tx,
            });
            rx
        });
        let peers = crate::magnet::link_peers(link, peers);
        let searched = found.is_some();
        let result =
            crate::magnet::fetch_metadata(link, &peers, found, dir, self.inner.peer_id, timeout);
        if searched {
            self.inner.inbox.push(Work::FindDone(link.info_hash));
        }
        result
    }

    /// Adds the torrent of a magnet link: its metadata comes from
    /// [`fetch_metadata`](Self::fetch_metadata) (the link's `x.pe` peers and
    /// `add.peers` are then the download's first peers too). The link's `so`
    /// selects files when `add.selected` is `None`.
    pub fn add_magnet(
        &self,
        uri: &str,
        mut add: AddOptions,
        timeout: std::time::Duration,
    ) -> Result<TorrentHandle, Error> {
        let link = sluice_core::magnet::MagnetLink::parse(uri)
            .map_err(|e| Error::Io(io::Error::new(io::ErrorKind::InvalidInput, e.to_string())))?;
        // The link's peers serve the metadata, then the download.
        add.peers = crate::magnet::link_peers(&link, &add.peers);
        let fetched = self.fetch_metadata(&link, &add.peers, timeout)?;
        if add.selected.is_none() && !link.select_only.is_empty() {
            let count = fetched.meta.info.files.len();
            add.selected = Some(
                (0..count)
                    .filter(|i| u32::try_from(*i).is_ok_and(|i| link.is_selected(i)))
                    .collect(),
            );
        }
        self.add_torrent(fetched.meta, add)
    }

    fn lock_torrents(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, BTreeMap<InfoHash, TorrentHandle>>, Error> {
        self.inner
            .torrents
            .lock()
            .map_err(|_| Error::Io(io::Error::other("client lock poisoned")))
    }

    /// The torrents added so far.
    pub fn torrents(&self) -> Vec<TorrentHandle> {
        self.lock_torrents()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops one torrent and forgets it; with `remove`, deletes its data too.
    pub fn remove_torrent(&self, info_hash: &InfoHash, remove: Option<bool>) -> Result<(), Error> {
        let handle = self.lock_torrents()?.remove(info_hash);
        match (handle, remove) {
            (Some(h), Some(keep)) => h.remove(keep),
            (Some(h), None) => h.stop(),
            (None, _) => Ok(()),
        }
    }

    /// Stops every torrent (connections closed, queued writes finished, files
    /// flushed, resume records saved) and ends the event loop.
    pub fn shutdown(self) -> Result<(), Error> {
        let mut first_error = None;
        for h in self.torrents() {
            if let Err(e) = h.stop() {
                first_error.get_or_insert(e);
            }
        }
        self.inner.inbox.push(Work::Exit);
        let thread = self.inner.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The DHT node's socket, placed as [`bind_socket`](sluice_std::dht::bind_socket)
/// says, made non-blocking for the loop.
fn bind_dht(listen: SocketAddr, port: Option<u16>) -> io::Result<mio::net::UdpSocket> {
    let socket = sluice_std::dht::bind_socket(listen, port)?;
    socket.set_nonblocking(true)?;
    Ok(mio::net::UdpSocket::from_std(socket))
}

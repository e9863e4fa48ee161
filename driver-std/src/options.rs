//! What a program can set: the client's options and the storage backend.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sluice_core::metainfo::Metainfo;

use crate::storage::Storage;

/// Makes the storage of one torrent: given its metainfo and the download
/// folder. torrent-stream's `storage` option.
pub type StorageFactory =
    Arc<dyn Fn(&Metainfo, &Path) -> io::Result<Arc<dyn Storage>> + Send + Sync>;

/// Which storage backend new torrents get.
#[derive(Clone, Default)]
pub enum StorageChoice {
    /// Files under the download folder ([`FileStorage`](crate::storage::FileStorage)).
    #[default]
    Files,
    /// Memory ([`MemoryStorage`](crate::storage::MemoryStorage)); nothing
    /// survives the process.
    Memory,
    /// A backend of the program's own.
    Custom(StorageFactory),
}

impl fmt::Debug for StorageChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageChoice::Files => "Files",
            StorageChoice::Memory => "Memory",
            StorageChoice::Custom(_) => "Custom",
        })
    }
}

/// Options of a [`Client`](crate::Client).
///
/// ```
/// use sluice_std::ClientOptions;
///
/// let mut opts = ClientOptions::new("downloads");
/// opts.listen = "127.0.0.1:0".parse().unwrap();
/// opts.max_peers = 50;
/// assert_eq!(opts.upload_slots, 4);
/// ```
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Where to listen for peers; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The download folder.
    pub download_dir: PathBuf,
    /// Most peer connections per torrent.
    pub max_peers: usize,
    /// Upload slots per torrent (the optimistic unchoke comes on top).
    pub upload_slots: usize,
    /// Check existing data when a torrent is added (torrent-stream's `verify`).
    /// A resume file that matches the files on disk skips the hashing.
    pub verify_on_start: bool,
    /// Write a resume file (file storage only) so restarts skip rehashing.
    pub resume: bool,
    /// Extra trackers for every (non-private) torrent, each as a tier of its
    /// own after the torrent's. Both drivers announce to them.
    pub trackers: Vec<String>,
    /// The storage backend.
    pub storage: StorageChoice,
    /// Give up on an outbound connection after this long.
    pub connect_timeout: Duration,
    /// Disk worker threads per torrent (reads, writes and hashing).
    pub disk_threads: usize,
    /// Seed of the engines' random choices; `None` for a fresh one per run.
    pub seed: Option<u64>,
    /// Stay interested in peers that have pieces we lack even when nothing
    /// of theirs is wanted, so that a reader's first request finds them
    /// unchoking us already (peers unchoke at their next choke round, which
    /// can be half a second). For streaming; costs the peers an upload slot.
    pub stay_interested: bool,
    /// Run a DHT node (BEP 5): non-private torrents are looked up and
    /// announced in the DHT, and peers that run one are told its port.
    /// `None` (the default) runs none, so a program never talks to the
    /// public DHT unless it asks: [`DhtOptions::public`](crate::dht::DhtOptions::public)
    /// joins through the well-known routers.
    pub dht: Option<crate::dht::DhtOptions>,
    /// Local Service Discovery (BEP 14): announce every non-private torrent
    /// on the local network by multicast and take the peers that announce
    /// the same torrents. `None` (the default) sends and hears nothing.
    pub lsd: Option<LsdOptions>,
}

impl ClientOptions {
    /// Defaults, downloading into `download_dir`, listening on all addresses
    /// at port 6881.
    pub fn new(download_dir: impl Into<PathBuf>) -> ClientOptions {
        ClientOptions {
            listen: SocketAddr::from(([0, 0, 0, 0], 6881)),
            download_dir: download_dir.into(),
            max_peers: 100,
            upload_slots: 4,
            verify_on_start: true,
            resume: true,
            trackers: Vec::new(),
            storage: StorageChoice::Files,
            connect_timeout: Duration::from_secs(10),
            disk_threads: 2,
            seed: None,
            stay_interested: false,
            dht: None,
            lsd: None,
        }
    }
}

/// Where and how Local Service Discovery (BEP 14) runs: the client joins the
/// multicast group `239.192.152.143:6771` on one IPv4 interface, announces
/// its torrents there (each every 5 minutes, at most one datagram a minute)
/// and connects to the peers it hears announcing the same torrents. Private
/// torrents (BEP 27) are never announced and never matched.
///
/// The UDP port 6771 is shared with every other client on the machine
/// (`SO_REUSEADDR`, and `SO_REUSEPORT` where it exists), and announces are
/// looped back, so several clients on one machine find each other; each one
/// recognises its own announces by their cookie.
///
/// ```no_run
/// use sluice_std::{Client, ClientOptions, LsdOptions};
///
/// // Two clients on this machine that meet with no peer given: LSD on the
/// // loopback interface.
/// let mut opts = ClientOptions::new("downloads");
/// opts.listen = "127.0.0.1:0".parse().unwrap();
/// opts.lsd = Some(LsdOptions::new("127.0.0.1".parse().unwrap()));
/// let client = Client::start(opts)?;
/// assert_eq!(client.lsd_error(), None);
/// let torrent = client.add_torrent_file("example.torrent")?;
/// torrent.wait_complete(None)?;
/// # Ok::<(), sluice_std::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsdOptions {
    /// The address of the interface to announce on and to join the group
    /// on; `0.0.0.0` lets the system choose (the interface of its default
    /// route). It should be one the listen address can be reached at: peers
    /// connect to the announce's source address.
    pub interface: Ipv4Addr,
    /// How many routers an announce may cross (`IP_MULTICAST_TTL`); 1, the
    /// default, keeps it on the local link.
    pub ttl: u32,
}

impl LsdOptions {
    /// Announces on `interface` with a TTL of 1.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use sluice_std::LsdOptions;
    ///
    /// let lsd = LsdOptions::new(Ipv4Addr::LOCALHOST);
    /// assert_eq!(lsd.ttl, 1);
    /// assert_eq!(LsdOptions::default().interface, Ipv4Addr::UNSPECIFIED);
    /// ```
    pub fn new(interface: Ipv4Addr) -> LsdOptions {
        LsdOptions { interface, ttl: 1 }
    }
}

impl Default for LsdOptions {
    /// On the interface the system chooses.
    fn default() -> LsdOptions {
        LsdOptions::new(Ipv4Addr::UNSPECIFIED)
    }
}

//! Everything between "a program adds a torrent" and "an engine can run it",
//! shared by both drivers: the storage backend, the resume record, the check of
//! data already on disk, and the engine with its configuration.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::SystemTime;

use sluice_core::metainfo::Metainfo;
use sluice_core::picker::Priority;
use sluice_core::torrent::{Config, Torrent};
use sluice_core::{InfoHash, PeerId, Time};

use crate::client::AddOptions;
use crate::error::Error;
use crate::options::{ClientOptions, StorageChoice};
use crate::resume;
use crate::startup::initial_pieces;
use crate::status::Shared;
use crate::storage::{FileStorage, MemoryStorage, Storage};

/// A torrent ready to run.
pub struct Prepared {
    /// The engine, with the verified pieces found on disk, file priorities
    /// and initial peers applied.
    pub torrent: Torrent,
    /// Its storage.
    pub storage: Arc<dyn Storage>,
    /// Where its resume record goes (file storage with resume on only).
    pub resume: Option<ResumeTarget>,
    /// State published to handles and readers.
    pub shared: Arc<Shared>,
}

/// Where a torrent's resume record is kept.
#[derive(Debug, Clone)]
pub struct ResumeTarget {
    /// The file.
    pub path: PathBuf,
    /// Whose record it is.
    pub info_hash: InfoHash,
}

/// Builds the storage, checks what is on disk and makes the engine for `meta`.
/// `listen_port` is advertised to peers, and so is `dht_port` (our DHT
/// node's UDP port) unless the torrent is private; `now` is the driver's
/// clock.
pub fn prepare(
    opts: &ClientOptions,
    peer_id: PeerId,
    listen_port: u16,
    dht_port: Option<u16>,
    meta: &Metainfo,
    add: &AddOptions,
    now: Time,
) -> Result<Prepared, Error> {
    let info_hash = meta.info_hash;
    let files = meta.info.files.len();
    let selected = |i: usize| add.selected.as_ref().is_none_or(|s| s.contains(&i));
    let deselected: Vec<usize> = (0..files).filter(|&i| !selected(i)).collect();
    let (storage, resume_target): (Arc<dyn Storage>, _) = match &opts.storage {
        StorageChoice::Files => {
            let s = FileStorage::open(
                &opts.download_dir,
                &meta.info,
                &info_hash.to_hex(),
                &deselected,
            )?;
            let target = opts.resume.then(|| ResumeTarget {
                path: resume::resume_path(&opts.download_dir, &info_hash),
                info_hash,
            });
            (Arc::new(s), target)
        }
        StorageChoice::Memory => (Arc::new(MemoryStorage::new(&meta.layout())), None),
        StorageChoice::Custom(make) => (make(meta, &opts.download_dir)?, None),
    };
    let record = resume_target
        .as_ref()
        .and_then(|t| resume::load(&t.path, &info_hash, meta.info.piece_count(), files));
    let threads = thread::available_parallelism().map_or(2, |n| n.get());
    let have = initial_pieces(
        &*storage,
        &meta.info,
        record.as_ref(),
        opts.verify_on_start,
        threads,
    );

    let mut cfg = Config::new(peer_id, opts.seed.unwrap_or_else(random_u64));
    cfg.max_peers = opts.max_peers;
    cfg.upload_slots = opts.upload_slots;
    cfg.stay_interested = opts.stay_interested;
    cfg.listen_port = Some(listen_port);
    cfg.dht_port = dht_port.filter(|_| !meta.info.private);
    let mut torrent = Torrent::new(info_hash, meta.info.clone(), cfg, have.clone(), now);
    for &i in &deselected {
        torrent.set_file_priority(now, i, Priority::Skip);
    }
    torrent.add_peers(now, add.peers.iter().copied());
    Ok(Prepared {
        torrent,
        storage,
        resume: resume_target,
        shared: Arc::new(Shared::new(have)),
    })
}

/// A peer id "-SL0100-" followed by twelve random characters.
pub fn fresh_peer_id() -> PeerId {
    let mut id = *b"-SL0100-000000000000";
    let mut r = random_u64();
    for b in &mut id[8..] {
        *b = b"0123456789abcdefghijklmnopqrstuvwxyz"[(r % 36) as usize];
        r /= 36;
        if r == 0 {
            r = random_u64();
        }
    }
    PeerId(id)
}

/// 64 random bits from what std offers: the per-process random keys of
/// `RandomState`, mixed with the time.
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

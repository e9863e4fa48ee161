//! Disk workers: storage jobs (writes, reads, piece hashes) run on a few
//! threads of their own, so a slow disk or a large piece never holds up the
//! engine's loop. Each finished job is handed to a callback the driver gives
//! (sluice-std sends it to the engine thread; sluice-mio queues it and wakes its
//! loop), and pieces are hashed with the hash function the driver picks.
//!
//! **Hashing as blocks are written.** Blocks of a piece usually arrive in order
//! (a peer is asked for whole pieces), so each written block is fed to the
//! piece's running SHA-1 right away; the few that arrive early wait in memory
//! (bounded) until the gap before them is filled. When the engine asks for the
//! piece's hash, the digest is usually ready: the piece is not read back from
//! storage. Otherwise (blocks from a previous run, too many early blocks) the
//! piece is read and hashed in one go.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use sluice_core::layout::Layout;
use sluice_core::torrent::{DiskError, DiskJob, ReadId};

use crate::storage::Storage;

/// A SHA-1 fed in pieces.
pub trait StreamHasher: Send {
    /// Feeds the next bytes.
    fn update(&mut self, data: &[u8]);
    /// The digest of everything fed.
    fn finish(self: Box<Self>) -> [u8; 20];
}

/// Makes a fresh [`StreamHasher`].
pub type HasherFactory = fn() -> Box<dyn StreamHasher>;

/// Receives each finished job.
pub type Report = Arc<dyn Fn(DiskDone) + Send + Sync>;

/// Most bytes of early blocks kept waiting per piece before giving up on
/// hashing it as written.
const MAX_EARLY: usize = 8 << 20;

/// A finished storage job.
#[derive(Debug)]
pub enum DiskDone {
    /// A block was written.
    Write {
        /// Piece index.
        piece: u32,
        /// Offset in the piece.
        offset: u32,
        /// Bytes written.
        len: usize,
        /// The outcome.
        result: Result<(), DiskError>,
    },
    /// A block was read.
    Read {
        /// The job.
        id: ReadId,
        /// The bytes, or why not.
        result: Result<Vec<u8>, DiskError>,
    },
    /// A piece was hashed.
    Hash {
        /// Piece index.
        piece: u32,
        /// The digest, or why not.
        result: Result<[u8; 20], DiskError>,
    },
}

/// The running hash of one piece.
struct Running {
    hasher: Box<dyn StreamHasher>,
    /// Bytes hashed so far (the next offset expected).
    next: u32,
    /// Blocks that arrived before `next` reached them.
    early: BTreeMap<u32, Vec<u8>>,
    early_bytes: usize,
    /// Gave up: the piece will be read back when hashed.
    broken: bool,
}

/// Running hashes of the pieces being written, shared by the workers.
struct Hashes {
    make: HasherFactory,
    pieces: Mutex<HashMap<u32, Arc<Mutex<Running>>>>,
}

impl Hashes {
    fn entry(&self, piece: u32) -> Arc<Mutex<Running>> {
        let mut map = self.pieces.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(piece)
            .or_insert_with(|| {
                Arc::new(Mutex::new(Running {
                    hasher: (self.make)(),
                    next: 0,
                    early: BTreeMap::new(),
                    early_bytes: 0,
                    broken: false,
                }))
            })
            .clone()
    }

    /// A block was written: feed it (and any early blocks it unblocks).
    fn written(&self, piece: u32, offset: u32, data: Vec<u8>) {
        let running = self.entry(piece);
        let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
        if r.broken {
            return;
        }
        if offset != r.next {
            if offset < r.next || r.early_bytes + data.len() > MAX_EARLY {
                // A block written twice, or too much waiting: read it back later.
                r.broken = true;
                r.early.clear();
                return;
            }
            r.early_bytes += data.len();
            r.early.insert(offset, data);
            return;
        }
        r.hasher.update(&data);
        r.next += data.len() as u32;
        while let Some(block) = {
            let next = r.next;
            r.early.remove(&next)
        } {
            r.early_bytes -= block.len();
            r.hasher.update(&block);
            r.next += block.len() as u32;
        }
    }

    /// The digest of a whole piece of `len` bytes if it was hashed as written.
    fn take(&self, piece: u32, len: u32) -> Option<[u8; 20]> {
        let running = self
            .pieces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&piece)?;
        let r = match Arc::try_unwrap(running) {
            Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
            // A write of this piece is still being fed: read it back instead.
            Err(_) => return None,
        };
        (!r.broken && r.next == len).then(|| r.hasher.finish())
    }
}

/// The workers of one torrent.
pub struct DiskPool {
    jobs: Option<Sender<DiskJob>>,
    workers: Vec<JoinHandle<()>>,
}

impl DiskPool {
    /// Starts `threads` workers on `storage`, hashing with hashers from
    /// `hasher` and handing every finished job to `report`.
    pub fn start(
        threads: usize,
        storage: Arc<dyn Storage>,
        layout: Layout,
        hasher: HasherFactory,
        report: Report,
    ) -> std::io::Result<DiskPool> {
        let (tx, rx) = mpsc::channel::<DiskJob>();
        let rx = Arc::new(Mutex::new(rx));
        let hashes = Arc::new(Hashes {
            make: hasher,
            pieces: Mutex::new(HashMap::new()),
        });
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let (rx, storage, layout, report, hashes) = (
                rx.clone(),
                storage.clone(),
                layout.clone(),
                report.clone(),
                hashes.clone(),
            );
            workers.push(
                thread::Builder::new()
                    .name(format!("sluice-disk-{i}"))
                    .spawn(move || work(&rx, &*storage, &layout, &hashes, &*report))?,
            );
        }
        Ok(DiskPool {
            jobs: Some(tx),
            workers,
        })
    }

    /// Queues a job.
    pub fn submit(&self, job: DiskJob) {
        if let Some(tx) = &self.jobs {
            let _ = tx.send(job);
        }
    }

    /// Lets the workers finish the queued jobs, then joins them.
    pub fn finish(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for DiskPool {
    fn drop(&mut self) {
        self.finish();
    }
}

fn work(
    jobs: &Mutex<Receiver<DiskJob>>,
    storage: &dyn Storage,
    layout: &Layout,
    hashes: &Hashes,
    report: &(dyn Fn(DiskDone) + Send + Sync),
) {
    let mut piece_buf = Vec::new();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        report(run(job, storage, layout, hashes, &mut piece_buf));
    }
}

fn run(
    job: DiskJob,
    storage: &dyn Storage,
    layout: &Layout,
    hashes: &Hashes,
    piece_buf: &mut Vec<u8>,
) -> DiskDone {
    let err = |e: std::io::Error| DiskError(e.to_string());
    match job {
        DiskJob::Write {
            piece,
            offset,
            data,
        } => {
            let len = data.len();
            let result = storage.write(piece, offset, &data).map_err(err);
            if result.is_ok() {
                hashes.written(piece, offset, data);
            }
            DiskDone::Write {
                piece,
                offset,
                len,
                result,
            }
        }
        DiskJob::Read {
            id,
            piece,
            offset,
            length,
        } => {
            let mut buf = vec![0u8; length as usize];
            DiskDone::Read {
                id,
                result: storage
                    .read(piece, offset, &mut buf)
                    .map(|()| buf)
                    .map_err(err),
            }
        }
        DiskJob::Hash { piece } => {
            let len = layout.piece_len(piece);
            // A file that vanished under us must not pass as verified.
            let result = storage.check_piece(piece).and_then(|()| {
                if let Some(digest) = hashes.take(piece, len) {
                    return Ok(digest);
                }
                let len = len as usize;
                if piece_buf.len() < len {
                    piece_buf.resize(len, 0);
                }
                storage.read(piece, 0, &mut piece_buf[..len])?;
                let mut h = (hashes.make)();
                h.update(&piece_buf[..len]);
                Ok(h.finish())
            });
            DiskDone::Hash {
                piece,
                result: result.map_err(err),
            }
        }
    }
}

/// The core's portable SHA-1 (`sha1_smol`) as a [`StreamHasher`]: what the
/// std-only driver uses.
pub fn portable_sha1() -> Box<dyn StreamHasher> {
    struct Portable(sluice_core::create::PieceHasher);
    impl StreamHasher for Portable {
        fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }
        fn finish(self: Box<Self>) -> [u8; 20] {
            self.0
                .finish()
                .first()
                .copied()
                .unwrap_or_else(|| sluice_core::create::hash_piece(&[]))
        }
    }
    // One "piece" as long as anything a piece can be: one digest at the end.
    Box::new(Portable(sluice_core::create::PieceHasher::new(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_in_any_order_hash_like_the_whole_piece() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
        let want = sluice_core::create::hash_piece(&data);
        let hashes = Hashes {
            make: portable_sha1,
            pieces: Mutex::new(HashMap::new()),
        };
        let blocks: Vec<(u32, &[u8])> = data
            .chunks(16_384)
            .enumerate()
            .map(|(i, c)| ((i * 16_384) as u32, c))
            .collect();
        // In order, reversed, shuffled.
        for order in [
            vec![0, 1, 2, 3, 4, 5, 6],
            vec![6, 5, 4, 3, 2, 1, 0],
            vec![2, 0, 5, 1, 6, 3, 4],
        ] {
            for &i in &order {
                hashes.written(9, blocks[i].0, blocks[i].1.to_vec());
            }
            assert_eq!(hashes.take(9, data.len() as u32), Some(want), "{order:?}");
        }
        // A block written twice: no digest (the piece will be read back).
        for &(o, b) in &blocks {
            hashes.written(3, o, b.to_vec());
        }
        hashes.written(3, 0, blocks[0].1.to_vec());
        assert_eq!(hashes.take(3, data.len() as u32), None);
        // Incomplete: no digest.
        hashes.written(4, 0, blocks[0].1.to_vec());
        assert_eq!(hashes.take(4, data.len() as u32), None);
    }
}

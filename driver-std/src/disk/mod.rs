//! Disk workers: storage jobs (writes, reads, piece hashes) run on a few
//! threads of their own, so a slow disk or a large piece never holds up the
//! engine's loop. Each finished job is handed to a callback the driver gives
//! (sluice-std sends it to the engine thread; sluice-mio queues it and wakes its
//! loop), and pieces are hashed with the hash function the driver picks.
//!
//! **Hashing as blocks are written.** Blocks of a piece usually arrive in order
//! (a peer is asked for whole pieces), so each written block is fed to the
//! piece's running SHA-1 right away; the few that arrive early wait in memory
//! (bounded) until the gap before them is filled. The worker that feeds a
//! piece's last bytes finishes the digest and checks the piece's files there
//! and then, so when the engine asks for the piece's hash the answer is
//! waiting: the driver gives it at once ([`DiskPool::hash_ready`]), with no
//! trip through a worker and no read back from storage. Otherwise (blocks
//! from a previous run, too many early blocks) the piece is read and hashed
//! in one go.
//!
//! Hashes and reads are queued ahead of writes (see `queue.rs`).

mod queue;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use sluice_core::layout::Layout;
use sluice_core::torrent::{DiskError, DiskJob, ReadId};

use crate::storage::Storage;
use queue::JobQueue;

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
    /// `None` once every byte is fed and the digest made.
    hasher: Option<Box<dyn StreamHasher>>,
    /// The piece's digest, made when its last byte was fed.
    digest: Option<[u8; 20]>,
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
    /// Results of pieces whose last block was just written and hashed: the
    /// engine's hash job for them needs no worker.
    ready: Mutex<HashMap<u32, Result<[u8; 20], DiskError>>>,
}

impl Hashes {
    fn entry(&self, piece: u32) -> Arc<Mutex<Running>> {
        let mut map = self.pieces.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(piece)
            .or_insert_with(|| {
                Arc::new(Mutex::new(Running {
                    hasher: Some((self.make)()),
                    digest: None,
                    next: 0,
                    early: BTreeMap::new(),
                    early_bytes: 0,
                    broken: false,
                }))
            })
            .clone()
    }

    /// A block was written: feed it (and any early blocks it unblocks).
    /// Returns true when the piece's bytes have all been fed.
    fn written(&self, piece: u32, offset: u32, data: Vec<u8>, piece_len: u32) -> bool {
        // A result from earlier bytes no longer holds (the engine never
        // writes into a piece it has asked to hash; this is a safeguard).
        self.ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&piece);
        let running = self.entry(piece);
        let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
        if r.broken {
            return false;
        }
        let Some(mut hasher) = r.hasher.take() else {
            // Every byte was fed already: this block was written twice.
            r.broken = true;
            return false;
        };
        if offset != r.next {
            if offset < r.next || r.early_bytes + data.len() > MAX_EARLY {
                // A block written twice, or too much waiting: read it back later.
                r.broken = true;
                r.early.clear();
                return false;
            }
            r.early_bytes += data.len();
            r.early.insert(offset, data);
            r.hasher = Some(hasher);
            return false;
        }
        hasher.update(&data);
        r.next += data.len() as u32;
        while let Some(block) = {
            let next = r.next;
            r.early.remove(&next)
        } {
            r.early_bytes -= block.len();
            hasher.update(&block);
            r.next += block.len() as u32;
        }
        if r.next == piece_len {
            r.digest = Some(hasher.finish());
            true
        } else {
            r.hasher = Some(hasher);
            false
        }
    }

    /// The digest of a whole piece of `len` bytes if it was hashed as written.
    fn take(&self, piece: u32, len: u32) -> Option<[u8; 20]> {
        let running = self
            .pieces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&piece)?;
        // Another worker may still hold the entry for a moment after feeding
        // its block; the lock is what orders the writes.
        let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
        if r.broken || r.next != len {
            return None;
        }
        r.digest.take()
    }

    /// The piece's last bytes were fed: finish its digest and check its files
    /// now, so that its hash job is answered at once.
    fn finish_early(&self, piece: u32, len: u32, storage: &dyn Storage) {
        if let Some(digest) = self.take(piece, len) {
            let result = storage
                .check_piece(piece)
                .map(|()| digest)
                .map_err(|e| DiskError(e.to_string()));
            self.ready
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(piece, result);
        }
    }
}

/// The workers of one torrent.
pub struct DiskPool {
    jobs: Arc<JobQueue>,
    hashes: Arc<Hashes>,
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
        let hashes = Arc::new(Hashes {
            make: hasher,
            pieces: Mutex::new(HashMap::new()),
            ready: Mutex::new(HashMap::new()),
        });
        // Built first so that a failed spawn drops it, closing the queue and
        // ending the workers already started.
        let mut pool = DiskPool {
            jobs: Arc::new(JobQueue::default()),
            hashes,
            workers: Vec::new(),
        };
        for i in 0..threads.max(1) {
            let (jobs, storage, layout, report, hashes) = (
                pool.jobs.clone(),
                storage.clone(),
                layout.clone(),
                report.clone(),
                pool.hashes.clone(),
            );
            pool.workers.push(
                thread::Builder::new()
                    .name(format!("sluice-disk-{i}"))
                    .spawn(move || work(&jobs, &*storage, &layout, &hashes, &*report))?,
            );
        }
        Ok(pool)
    }

    /// Queues a job.
    pub fn submit(&self, job: DiskJob) {
        self.jobs.push(job);
    }

    /// The result of a hash job for `piece` if it needs no worker: the piece
    /// was hashed as its blocks were written, and its last write is done. A
    /// driver answers such a job on the spot, which spares a reader waiting
    /// for the piece two thread hand-offs. `None`: submit the job.
    pub fn hash_ready(&self, piece: u32) -> Option<Result<[u8; 20], DiskError>> {
        self.hashes
            .ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&piece)
    }

    /// Lets the workers finish the queued jobs, then joins them.
    pub fn finish(&mut self) {
        self.jobs.close();
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
    jobs: &JobQueue,
    storage: &dyn Storage,
    layout: &Layout,
    hashes: &Hashes,
    report: &(dyn Fn(DiskDone) + Send + Sync),
) {
    let mut piece_buf = Vec::new();
    while let Some(job) = jobs.pop() {
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
                let piece_len = layout.piece_len(piece);
                if hashes.written(piece, offset, data, piece_len) {
                    hashes.finish_early(piece, piece_len, storage);
                }
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
            let ready = hashes
                .ready
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&piece);
            if let Some(result) = ready {
                return DiskDone::Hash { piece, result };
            }
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
            ready: Mutex::new(HashMap::new()),
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
                hashes.written(9, blocks[i].0, blocks[i].1.to_vec(), data.len() as u32);
            }
            assert_eq!(hashes.take(9, data.len() as u32), Some(want), "{order:?}");
        }
        // A block written twice: no digest (the piece will be read back).
        for &(o, b) in &blocks {
            hashes.written(3, o, b.to_vec(), data.len() as u32);
        }
        hashes.written(3, 0, blocks[0].1.to_vec(), data.len() as u32);
        assert_eq!(hashes.take(3, data.len() as u32), None);
        // Incomplete: no digest.
        hashes.written(4, 0, blocks[0].1.to_vec(), data.len() as u32);
        assert_eq!(hashes.take(4, data.len() as u32), None);
    }

    /// A pool of two workers over memory storage, and its reports.
    struct Harness {
        pool: DiskPool,
        reports: std::sync::mpsc::Receiver<DiskDone>,
    }

    impl Harness {
        fn new(layout: &Layout) -> Harness {
            let storage = Arc::new(crate::storage::MemoryStorage::new(layout));
            let (tx, reports) = std::sync::mpsc::channel();
            let tx = Mutex::new(tx);
            let report: Report = Arc::new(move |done| {
                let _ = tx.lock().unwrap().send(done);
            });
            let pool = DiskPool::start(2, storage, layout.clone(), portable_sha1, report)
                .expect("workers start");
            Harness { pool, reports }
        }

        /// Writes blocks of piece 0 (offset, bytes), all queued at once, and
        /// waits for their reports.
        fn write(&self, blocks: &[(u32, Vec<u8>)]) {
            for (offset, data) in blocks {
                self.pool.submit(DiskJob::Write {
                    piece: 0,
                    offset: *offset,
                    data: data.clone(),
                });
            }
            for _ in blocks {
                let done = self
                    .reports
                    .recv_timeout(std::time::Duration::from_secs(10))
                    .expect("write report");
                assert!(matches!(done, DiskDone::Write { result: Ok(()), .. }));
            }
        }
    }

    #[test]
    fn a_piece_hashed_as_written_is_answered_without_a_worker() {
        let data: Vec<u8> = (0..65_536u32).map(|i| (i * 13 % 251) as u8).collect();
        let layout = Layout::new(65_536, &[65_536]).expect("layout");
        let h = Harness::new(&layout);
        // Out of order, over two workers.
        let blocks: Vec<(u32, Vec<u8>)> = [3u32, 0, 2, 1]
            .iter()
            .map(|&b| (b * 16_384, data[b as usize * 16_384..][..16_384].to_vec()))
            .collect();
        h.write(&blocks);
        let digest = sluice_core::create::hash_piece(&data);
        assert_eq!(h.pool.hash_ready(0), Some(Ok(digest)));
        // Taken once: another hash job goes to a worker (which reads the
        // piece back).
        assert_eq!(h.pool.hash_ready(0), None);
        h.pool.submit(DiskJob::Hash { piece: 0 });
        let done = h.reports.recv_timeout(std::time::Duration::from_secs(10));
        assert!(
            matches!(done, Ok(DiskDone::Hash { piece: 0, result: Ok(d) }) if d == digest),
            "{done:?}"
        );
    }

    #[test]
    fn an_incomplete_or_rewritten_piece_has_no_early_answer() {
        let data = vec![7u8; 32_768];
        let layout = Layout::new(32_768, &[32_768]).expect("layout");
        let first = (0u32, data[..16_384].to_vec());
        let second = (16_384u32, data[16_384..].to_vec());
        let h = Harness::new(&layout);
        h.write(std::slice::from_ref(&first));
        assert_eq!(h.pool.hash_ready(0), None, "half written");
        h.write(std::slice::from_ref(&second));
        // Written again after it was complete: the early answer is void.
        h.write(&[first]);
        assert_eq!(h.pool.hash_ready(0), None, "a block written again");
    }
}

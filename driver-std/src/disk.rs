//! Disk workers: storage jobs (writes, reads, piece hashes) run on a few
//! threads of their own, so a slow disk or a large piece never holds up the
//! engine's loop. Each finished job is handed to a callback the driver gives
//! (sluice-std sends it to the engine thread; sluice-mio queues it and wakes its
//! loop), and pieces are hashed with the function the driver picks.

/// SHA-1 of a buffer.
pub type Hasher = fn(&[u8]) -> [u8; 20];

/// Receives each finished job.
pub type Report = Arc<dyn Fn(DiskDone) + Send + Sync>;

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use sluice_core::layout::Layout;
use sluice_core::torrent::{DiskError, DiskJob, ReadId};

use crate::storage::Storage;

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

/// The workers of one torrent.
pub struct DiskPool {
    jobs: Option<Sender<DiskJob>>,
    workers: Vec<JoinHandle<()>>,
}

impl DiskPool {
    /// Starts `threads` workers on `storage`, hashing with `hasher` and
    /// handing every finished job to `report`.
    pub fn start(
        threads: usize,
        storage: Arc<dyn Storage>,
        layout: Layout,
        hasher: Hasher,
        report: Report,
    ) -> std::io::Result<DiskPool> {
        let (tx, rx) = mpsc::channel::<DiskJob>();
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let (rx, storage, layout, report) =
                (rx.clone(), storage.clone(), layout.clone(), report.clone());
            workers.push(
                thread::Builder::new()
                    .name(format!("sluice-disk-{i}"))
                    .spawn(move || work(&rx, &*storage, &layout, hasher, &*report))?,
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
    hasher: Hasher,
    report: &(dyn Fn(DiskDone) + Send + Sync),
) {
    let mut piece_buf = Vec::new();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        report(run(job, storage, layout, hasher, &mut piece_buf));
    }
}

fn run(
    job: DiskJob,
    storage: &dyn Storage,
    layout: &Layout,
    hasher: Hasher,
    piece_buf: &mut Vec<u8>,
) -> DiskDone {
    let err = |e: std::io::Error| DiskError(e.to_string());
    match job {
        DiskJob::Write {
            piece,
            offset,
            data,
        } => DiskDone::Write {
            piece,
            offset,
            len: data.len(),
            result: storage.write(piece, offset, &data).map_err(err),
        },
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
            // A file that vanished under us must not pass as verified.
            let result = storage.check_piece(piece).and_then(|()| {
                let len = layout.piece_len(piece) as usize;
                if piece_buf.len() < len {
                    piece_buf.resize(len, 0);
                }
                storage.read(piece, 0, &mut piece_buf[..len])?;
                Ok(hasher(&piece_buf[..len]))
            });
            DiskDone::Hash {
                piece,
                result: result.map_err(err),
            }
        }
    }
}

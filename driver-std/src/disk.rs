//! Disk workers: storage jobs (writes, reads, piece hashes) run on a few
//! threads of their own, so a slow disk or a large piece never holds up the
//! engine's loop.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use sluice_core::layout::Layout;
use sluice_core::torrent::{DiskError, DiskJob, ReadId};

use crate::runner::Msg;
use crate::storage::{hash_piece_with, Storage};

/// A finished storage job.
#[derive(Debug)]
pub enum DiskDone {
    /// A block was written.
    Write {
        piece: u32,
        offset: u32,
        len: usize,
        result: Result<(), DiskError>,
    },
    /// A block was read.
    Read {
        id: ReadId,
        result: Result<Vec<u8>, DiskError>,
    },
    /// A piece was hashed.
    Hash {
        piece: u32,
        result: Result<[u8; 20], DiskError>,
    },
}

/// The workers of one torrent.
pub struct DiskPool {
    jobs: Option<Sender<DiskJob>>,
    workers: Vec<JoinHandle<()>>,
}

impl DiskPool {
    /// Starts `threads` workers on `storage`, reporting to `engine`.
    pub fn start(
        threads: usize,
        storage: Arc<dyn Storage>,
        layout: Layout,
        engine: SyncSender<Msg>,
    ) -> std::io::Result<DiskPool> {
        let (tx, rx) = mpsc::channel::<DiskJob>();
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let (rx, storage, layout, engine) =
                (rx.clone(), storage.clone(), layout.clone(), engine.clone());
            workers.push(
                thread::Builder::new()
                    .name(format!("sluice-disk-{i}"))
                    .spawn(move || work(&rx, &*storage, &layout, &engine))?,
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
    engine: &SyncSender<Msg>,
) {
    let mut piece_buf = Vec::new();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let done = run(job, storage, layout, &mut piece_buf);
        if engine.send(Msg::Disk(done)).is_err() {
            // The engine is gone; keep draining so queued writes still land.
            continue;
        }
    }
}

fn run(job: DiskJob, storage: &dyn Storage, layout: &Layout, piece_buf: &mut Vec<u8>) -> DiskDone {
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
        DiskJob::Hash { piece } => DiskDone::Hash {
            piece,
            // A file that vanished under us must not pass as verified.
            result: storage
                .check_piece(piece)
                .and_then(|()| hash_piece_with(storage, layout, piece, piece_buf))
                .map_err(err),
        },
    }
}

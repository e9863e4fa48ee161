//! The disk workers' job queue. Block writes stream in by the hundred while a
//! piece downloads; a piece's hash or a block read for a peer is what someone
//! is waiting on (the reader of a stream, an unchoked peer), so those go ahead
//! of every queued write. Reordering is safe: the engine asks for a piece's
//! hash only after all its writes are done, and reads only verified pieces,
//! which are never written again.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use sluice_core::torrent::DiskJob;

/// Jobs waiting for a worker: hashes and reads first, then writes.
#[derive(Default)]
pub(super) struct JobQueue {
    state: Mutex<Queued>,
    ready: Condvar,
}

#[derive(Default)]
struct Queued {
    first: VecDeque<DiskJob>,
    writes: VecDeque<DiskJob>,
    closed: bool,
}

impl JobQueue {
    /// Queues a job and wakes one worker.
    pub fn push(&self, job: DiskJob) {
        let mut q = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match job {
            DiskJob::Write { .. } => q.writes.push_back(job),
            _ => q.first.push_back(job),
        }
        drop(q);
        self.ready.notify_one();
    }

    /// The next job, waiting for one; `None` once closed and empty.
    pub fn pop(&self) -> Option<DiskJob> {
        let mut q = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = q.first.pop_front().or_else(|| q.writes.pop_front()) {
                return Some(job);
            }
            if q.closed {
                return None;
            }
            q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// No more jobs: workers finish what is queued, then stop.
    pub fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(piece: u32) -> DiskJob {
        DiskJob::Write {
            piece,
            offset: 0,
            data: vec![1; 4],
        }
    }

    #[test]
    fn hashes_go_ahead_of_queued_writes_and_close_drains_the_rest() {
        let q = JobQueue::default();
        q.push(write(1));
        q.push(write(2));
        q.push(DiskJob::Hash { piece: 7 });
        q.push(write(3));
        q.push(DiskJob::Hash { piece: 8 });
        q.close();
        let order: Vec<String> = std::iter::from_fn(|| q.pop())
            .map(|j| match j {
                DiskJob::Write { piece, .. } => format!("w{piece}"),
                DiskJob::Hash { piece } => format!("h{piece}"),
                DiskJob::Read { .. } => "r".into(),
            })
            .collect();
        assert_eq!(order, ["h7", "h8", "w1", "w2", "w3"]);
    }

    #[test]
    fn a_waiting_worker_wakes_for_a_job_and_for_close() {
        let q = std::sync::Arc::new(JobQueue::default());
        let worker = {
            let q = q.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while q.pop().is_some() {
                    n += 1;
                }
                n
            })
        };
        q.push(write(1));
        q.push(DiskJob::Hash { piece: 2 });
        q.close();
        assert_eq!(worker.join().expect("worker"), 2);
    }
}

//! One torrent inside the event loop: its engine and everything around it.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use mio::Token;
use sluice_core::torrent::{Event, PeerKey, Torrent};
use sluice_std::disk::DiskPool;
use sluice_std::resume::ResumeSaver;
use sluice_std::status::Shared;
use sluice_std::storage::Storage;

/// A torrent's engine and its surroundings.
pub struct Slot {
    pub torrent: Torrent,
    /// Its connections' tokens.
    pub conns: BTreeMap<PeerKey, Token>,
    pub disk: DiskPool,
    /// Storage jobs out.
    pub pending_disk: usize,
    /// Bytes of received blocks waiting to be written.
    pub backlog: u64,
    pub storage: Arc<dyn Storage>,
    pub shared: Arc<Shared>,
    pub subscribers: Vec<Sender<Event>>,
    pub resume: Option<ResumeSaver>,
    /// A stop in progress: what to do with the data, whom to tell.
    pub stopping: Option<(Option<bool>, Sender<io::Result<()>>)>,
    /// Cleared when the torrent is gone, so its handles fail fast.
    pub alive: Arc<AtomicBool>,
    /// The latest tracker warnings and errors, given to each new subscriber
    /// first (the first ones come before anyone can subscribe).
    pub tracker_log: VecDeque<Event>,
}

/// Tracker messages kept for new subscribers.
const TRACKER_LOG: usize = 16;

impl Slot {
    /// Publishes an event: updates the shared status readers wait on and
    /// forwards it to subscribers.
    pub fn publish(&mut self, e: Event) {
        match &e {
            Event::PieceVerified { piece } => {
                let piece = *piece;
                self.shared.update(|s| {
                    s.have.set(piece, true);
                });
                if let Some(r) = &mut self.resume {
                    r.dirty = true;
                }
            }
            Event::Complete => {
                self.shared.update(|s| s.complete = true);
                if let Some(r) = &mut self.resume {
                    r.save_soon();
                }
            }
            Event::Stopped { error } => {
                let msg = error.to_string();
                self.shared.update(|s| s.error = Some(msg));
            }
            Event::Stats(stats) => {
                let stats = stats.clone();
                self.shared.update(|s| s.stats = stats);
            }
            Event::Tracker { .. } => {
                if self.tracker_log.len() == TRACKER_LOG {
                    self.tracker_log.pop_front();
                }
                self.tracker_log.push_back(e.clone());
            }
            _ => {}
        }
        self.subscribers.retain(|tx| tx.send(e.clone()).is_ok());
    }

    /// Adds a subscriber, telling it the tracker messages so far.
    pub fn subscribe(&mut self, tx: Sender<Event>) {
        for e in &self.tracker_log {
            if tx.send(e.clone()).is_err() {
                return;
            }
        }
        self.subscribers.push(tx);
    }

    /// "Finished" follows the selection.
    pub fn sync_finished(&self) {
        let finished = self.torrent.is_finished();
        if self.shared.lock().finished != finished {
            self.shared.update(|s| s.finished = finished);
        }
    }

    /// Ends the stop once every storage job landed: flush, resume record,
    /// data removal, status, reply. Returns true when done.
    pub fn try_finish_stop(&mut self) -> bool {
        if self.stopping.is_none() || self.pending_disk > 0 {
            return false;
        }
        let (remove, reply) = self.stopping.take().expect("checked above");
        self.disk.finish();
        let have = self.torrent.have().clone();
        let mut result = self.storage.flush();
        if let Some(saver) = self.resume.take() {
            result = result.and(saver.finish(&have, remove));
        }
        if let Some(keep) = remove {
            result = result.and(self.storage.remove(keep.then_some(&have)));
        }
        self.shared.update(|s| s.stopped = true);
        self.alive.store(false, Ordering::SeqCst);
        if self.shared.lock().error.is_some() {
            // The storage error already said it all.
            result = Ok(());
        }
        let _ = reply.send(result);
        true
    }
}

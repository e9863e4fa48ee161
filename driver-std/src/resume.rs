//! The resume file: which pieces were verified, and the size and modification
//! time each file had when that was recorded.
//!
//! On start, a piece listed as verified is trusted without rehashing only if
//! every file it touches still has the recorded size and time. Anything else
//! (a file changed, truncated, or written after the record: the process was
//! killed) is hashed again. The file is written atomically (a temporary file,
//! synced, then renamed) and only after the data it vouches for was synced, so
//! a crash at any moment leaves either the old record or the new one, and never
//! one that lists a piece whose bytes are not on disk.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use sluice_core::bencode::{self, OwnedValue};
use sluice_core::{Bitfield, InfoHash};

use crate::prepare::ResumeTarget;
use crate::storage::Storage;

/// Seconds between resume-file saves while pieces keep arriving.
const RESUME_EVERY: Duration = Duration::from_secs(30);

/// Format version written in the file.
const VERSION: i64 = 1;

/// What a resume file records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeData {
    /// Verified pieces.
    pub have: Bitfield,
    /// Per file: size and modification time (ns since the epoch).
    pub files: Vec<(u64, u128)>,
}

/// Where the resume file of a torrent lives under `download_dir`.
pub fn resume_path(download_dir: &Path, info_hash: &InfoHash) -> PathBuf {
    download_dir
        .join(".sluice")
        .join(format!("{}.resume", info_hash.to_hex()))
}

/// Reads a resume file; `None` if it is missing, unreadable, for another
/// torrent, or of another shape (then everything is simply checked again).
pub fn load(path: &Path, info_hash: &InfoHash, pieces: u32, files: usize) -> Option<ResumeData> {
    let bytes = fs::read(path).ok()?;
    let root = bencode::decode(&bytes).ok()?;
    let dict = root.as_dict()?;
    if dict.get(b"version")?.as_int()? != VERSION
        || dict.get(b"info_hash")?.as_bytes()? != info_hash.0
        || dict.get(b"piece_count")?.as_int()? != i64::from(pieces)
    {
        return None;
    }
    let have = Bitfield::from_wire(dict.get(b"pieces")?.as_bytes()?, pieces).ok()?;
    let list = dict.get(b"files")?.as_list()?;
    if list.len() != files {
        return None;
    }
    let mut out = Vec::with_capacity(files);
    for entry in list {
        let e = entry.as_list()?;
        let (size, secs, nanos) = (
            e.first()?.as_int()?,
            e.get(1)?.as_int()?,
            e.get(2)?.as_int()?,
        );
        let time = u128::try_from(secs).ok()? * 1_000_000_000 + u128::try_from(nanos).ok()?;
        out.push((u64::try_from(size).ok()?, time));
    }
    Some(ResumeData { have, files: out })
}

/// Writes a resume file atomically.
pub fn save_record(path: &Path, info_hash: &InfoHash, data: &ResumeData) -> io::Result<()> {
    let mut root = OwnedValue::dict();
    root.insert("version", OwnedValue::Integer(VERSION));
    root.insert("info_hash", OwnedValue::Bytes(info_hash.0.to_vec()));
    root.insert("pieces", OwnedValue::Bytes(data.have.to_wire()));
    root.insert(
        "piece_count",
        OwnedValue::Integer(i64::from(data.have.len())),
    );
    let files = data
        .files
        .iter()
        .map(|&(size, time)| {
            OwnedValue::List(vec![
                OwnedValue::Integer(i64::try_from(size).unwrap_or(i64::MAX)),
                OwnedValue::Integer(i64::try_from(time / 1_000_000_000).unwrap_or(i64::MAX)),
                OwnedValue::Integer((time % 1_000_000_000) as i64),
            ])
        })
        .collect();
    root.insert("files", OwnedValue::List(files));
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = path.with_extension("resume.tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&root.to_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    // Make the rename itself durable.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Deletes a resume file (a missing one is fine).
pub fn delete(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Saves the resume file on its own thread (it syncs the data first, which
/// can take a while), at most every [`RESUME_EVERY`] while pieces arrive.
pub struct ResumeSaver {
    target: ResumeTarget,
    storage: Arc<dyn Storage>,
    jobs: Option<SyncSender<Bitfield>>,
    worker: Option<thread::JoinHandle<()>>,
    /// Pieces were verified since the last save.
    pub dirty: bool,
    last: Instant,
}

impl ResumeSaver {
    /// Starts the saver thread for `target`.
    pub fn start(target: ResumeTarget, storage: Arc<dyn Storage>) -> ResumeSaver {
        let (tx, rx) = mpsc::sync_channel::<Bitfield>(1);
        let (path, info_hash, st) = (target.path.clone(), target.info_hash, storage.clone());
        let worker = thread::Builder::new()
            .name("sluice-resume".into())
            .spawn(move || {
                while let Ok(have) = rx.recv() {
                    let _ = save_now(&path, &info_hash, &*st, have);
                }
            })
            .ok();
        ResumeSaver {
            target,
            storage,
            jobs: Some(tx),
            worker,
            dirty: false,
            last: Instant::now(),
        }
    }

    /// Saves at the next tick (the torrent just completed).
    pub fn save_soon(&mut self) {
        self.dirty = true;
        self.last = Instant::now() - RESUME_EVERY;
    }

    /// Call often: saves `have` if pieces arrived and the last save is old.
    pub fn tick(&mut self, have: &Bitfield) {
        if !self.dirty || self.last.elapsed() < RESUME_EVERY {
            return;
        }
        if let Some(tx) = &self.jobs {
            // Busy saving: the next tick tries again.
            if tx.try_send(have.clone()).is_ok() {
                self.dirty = false;
                self.last = Instant::now();
            }
        }
    }

    /// Final save (or delete), after every write landed.
    /// Final save (or, when the data is removed without keeping verified
    /// pieces, deletion), after every write landed.
    pub fn finish(mut self, have: &Bitfield, remove: Option<bool>) -> io::Result<()> {
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        match remove {
            Some(false) => delete(&self.target.path),
            _ => save_now(
                &self.target.path,
                &self.target.info_hash,
                &*self.storage,
                have.clone(),
            ),
        }
    }
}

/// Syncs the data, then records `have` with the files' current fingerprint.
fn save_now(
    path: &std::path::Path,
    info_hash: &InfoHash,
    storage: &dyn Storage,
    have: Bitfield,
) -> io::Result<()> {
    storage.flush()?;
    storage.check()?;
    let Some(files) = storage.fingerprint() else {
        return Ok(());
    };
    save_record(path, info_hash, &ResumeData { have, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mismatches() {
        let dir = std::env::temp_dir().join(format!("sluice-resume-{}", std::process::id()));
        let path = dir.join("x.resume");
        let ih = InfoHash([3; 20]);
        let mut have = Bitfield::new(10);
        have.set(2, true);
        have.set(9, true);
        let data = ResumeData {
            have,
            files: vec![(100, 1_700_000_000_123_456_789), (0, 0)],
        };
        save_record(&path, &ih, &data).unwrap();
        assert_eq!(load(&path, &ih, 10, 2), Some(data.clone()));
        assert_eq!(
            load(&path, &InfoHash([4; 20]), 10, 2),
            None,
            "other torrent"
        );
        assert_eq!(load(&path, &ih, 11, 2), None, "other piece count");
        assert_eq!(load(&path, &ih, 10, 3), None, "other file count");
        fs::write(&path, b"garbage").unwrap();
        assert_eq!(load(&path, &ih, 10, 2), None);
        delete(&path).unwrap();
        delete(&path).unwrap();
        assert_eq!(load(&path, &ih, 10, 2), None);
        let _ = fs::remove_dir_all(&dir);
    }
}

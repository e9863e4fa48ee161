//! Deciding, when a torrent is added, which pieces are already on disk and
//! verified: trusted from the resume file where the files are unchanged,
//! hashed again everywhere else that holds data.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::thread;

use sluice_core::layout::Layout;
use sluice_core::metainfo::Info;
use sluice_core::Bitfield;

use crate::resume::ResumeData;
use crate::storage::{hash_piece, Storage};

/// The pieces to start from. `verify`: hash data found on disk when there is
/// no usable resume record for it. Pieces of files that changed since the
/// record are always hashed again (the process may have been killed after it).
pub fn initial_pieces(
    storage: &dyn Storage,
    info: &Info,
    resume: Option<&ResumeData>,
    verify: bool,
    threads: usize,
) -> Bitfield {
    let layout = info.layout();
    let count = layout.piece_count();
    let mut have = Bitfield::new(count);
    let Some(now) = storage.fingerprint() else {
        return have;
    };
    let unchanged: Vec<bool> = match resume {
        Some(r) => now.iter().zip(&r.files).map(|(a, b)| a == b).collect(),
        None => vec![false; now.len()],
    };
    let mut to_check = Vec::new();
    for piece in 0..count {
        let files = layout.piece_files(piece);
        let trusted =
            resume.is_some_and(|r| r.have.get(piece)) && files.clone().all(|f| unchanged[f]);
        if trusted {
            have.set(piece, true);
            continue;
        }
        // Only pieces whose files hold data are worth hashing.
        let has_data = files
            .clone()
            .any(|f| !info.files[f].padding && now[f].0 > 0);
        let recorded = resume.is_some_and(|r| files.clone().any(|f| r.files[f].0 > 0));
        if has_data && (verify || recorded) {
            to_check.push(piece);
        }
    }
    for piece in hash_pieces(storage, &layout, info, &to_check, threads) {
        have.set(piece, true);
    }
    have
}

/// Hashes `pieces` on `threads` threads; returns those that match.
fn hash_pieces(
    storage: &dyn Storage,
    layout: &Layout,
    info: &Info,
    pieces: &[u32],
    threads: usize,
) -> Vec<u32> {
    let next = AtomicU32::new(0);
    let good = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&piece) = pieces.get(i) else { return };
                let ok = hash_piece(storage, layout, piece)
                    .is_ok_and(|h| info.pieces.get(piece as usize) == Some(&h));
                if ok {
                    good.lock().unwrap_or_else(|e| e.into_inner()).push(piece);
                }
            });
        }
    });
    let mut good = good.into_inner().unwrap_or_else(|e| e.into_inner());
    good.sort_unstable();
    good
}

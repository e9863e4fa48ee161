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

use sluice_core::bencode::{self, OwnedValue};
use sluice_core::{Bitfield, InfoHash};

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
pub fn save(path: &Path, info_hash: &InfoHash, data: &ResumeData) -> io::Result<()> {
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
        save(&path, &ih, &data).unwrap();
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

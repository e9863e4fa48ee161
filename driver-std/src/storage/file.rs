//! Storage in files under a download folder, laid out by the core's [`Layout`].
//!
//! * Files are created when first written, with their parent folders, and
//!   preallocated sparsely to their full size (`set_len`), so positioned writes
//!   anywhere need no further growth and holes cost no disk space.
//! * Reads and writes are positioned (`pread`/`pwrite`), so they run in
//!   parallel without a lock or a shared cursor.
//! * BEP 47 padding files are never written; they read as zeros.
//! * **Deselected files** are not created. The bytes of theirs that a boundary
//!   piece needs (the piece is shared with a selected file and must be verified
//!   whole) go to a *parts file*, `.sluice/<info-hash>.parts` in the download
//!   folder, a sparse file at payload offsets; `.sluice/<info-hash>.parts.idx`
//!   lists the pieces it holds, so it survives restarts. Selecting the file
//!   later (or starting again with it selected) moves those bytes into it.
//! * Zero-length files of selected files are created when the storage opens.
//! * A file removed or replaced while we have it open is noticed by
//!   [`Storage::check`] (the path no longer leads to the inode we write to).

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::UNIX_EPOCH;

use sluice_core::layout::Layout;
use sluice_core::metainfo::Info;
use sluice_core::Bitfield;

use super::Storage;

/// Where a file's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Its own file under the download folder.
    Own,
    /// The parts file (the file is deselected and was never created).
    Parts,
    /// Nowhere: a padding file.
    Padding,
}

#[derive(Debug)]
struct Slot {
    path: PathBuf,
    length: u64,
    place: Place,
    /// Open handle and the (device, inode) it had when opened.
    open: Option<(Arc<File>, (u64, u64))>,
}

/// A torrent's files under a download folder. See the [module docs](self).
#[derive(Debug)]
pub struct FileStorage {
    root: PathBuf,
    layout: Layout,
    slots: Mutex<Vec<Slot>>,
    parts_path: PathBuf,
    index_path: PathBuf,
    parts: Mutex<Option<Arc<File>>>,
    /// Pieces with bytes in the parts file.
    parts_pieces: Mutex<BTreeSet<u32>>,
    /// Reads and writes hold it shared; moving a file's bytes out of the
    /// parts file holds it alone, so no write lands in the old place mid-move.
    gate: RwLock<()>,
}

impl FileStorage {
    /// Storage for the torrent `info` (whose info-hash is `info_hash_hex`)
    /// under `root`. Files listed in `deselected` start in the parts file
    /// unless they already exist.
    pub fn new(
        root: impl Into<PathBuf>,
        info: &Info,
        info_hash_hex: &str,
        deselected: &[usize],
    ) -> FileStorage {
        let root = root.into();
        let slots = info
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let path = f.path.iter().fold(root.clone(), |p, c| p.join(c));
                let place = if f.padding {
                    Place::Padding
                } else if deselected.contains(&i) && !path.exists() {
                    Place::Parts
                } else {
                    Place::Own
                };
                Slot {
                    path,
                    length: f.length,
                    place,
                    open: None,
                }
            })
            .collect();
        FileStorage {
            parts_path: root.join(".sluice").join(format!("{info_hash_hex}.parts")),
            index_path: root
                .join(".sluice")
                .join(format!("{info_hash_hex}.parts.idx")),
            root,
            layout: info.layout(),
            slots: Mutex::new(slots),
            parts: Mutex::new(None),
            parts_pieces: Mutex::new(BTreeSet::new()),
            gate: RwLock::new(()),
        }
    }

    /// Storage as [`new`](FileStorage::new) makes it, then brought in line with
    /// the disk: the parts index is read back, bytes of selected files that are
    /// still in the parts file are moved into them, and zero-length selected
    /// files are created.
    pub fn open(
        root: impl Into<PathBuf>,
        info: &Info,
        info_hash_hex: &str,
        deselected: &[usize],
    ) -> io::Result<FileStorage> {
        let s = FileStorage::new(root, info, info_hash_hex, deselected);
        if let Ok(bytes) = fs::read(&s.index_path) {
            let pieces = bytes
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .filter(|&p| p < s.layout.piece_count());
            s.parts_pieces
                .lock()
                .map_err(|_| io::Error::other("parts lock poisoned"))?
                .extend(pieces);
        }
        for file in 0..s.layout.file_count() {
            let (place, exists, length) = {
                let slots = s.lock_slots()?;
                (
                    slots[file].place,
                    slots[file].path.exists(),
                    slots[file].length,
                )
            };
            if place != Place::Own || exists {
                continue;
            }
            if length == 0 {
                s.handle(file, true)?;
            } else if s.has_parts_data(file)? {
                // Selected now, but its bytes so far went to the parts file.
                s.lock_slots()?[file].place = Place::Parts;
                s.set_file_wanted(file, true)?;
            }
        }
        Ok(s)
    }

    /// True when the parts file holds bytes of `file`.
    fn has_parts_data(&self, file: usize) -> io::Result<bool> {
        let (start, length) = (self.layout.file_offset(file), self.layout.file_length(file));
        let set = self
            .parts_pieces
            .lock()
            .map_err(|_| io::Error::other("parts lock poisoned"))?;
        Ok(set.iter().any(|&p| {
            let ps = self.layout.piece_offset(p);
            ps < start + length && start < ps + u64::from(self.layout.piece_len(p))
        }))
    }

    /// Records that `piece` has bytes in the parts file (in memory, and in the
    /// index file so a restart knows).
    fn note_parts_piece(&self, piece: u32) -> io::Result<()> {
        let mut set = self
            .parts_pieces
            .lock()
            .map_err(|_| io::Error::other("parts lock poisoned"))?;
        if set.insert(piece) {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.index_path)
                .map_err(|e| annotate(e, &self.index_path))?;
            io::Write::write_all(&mut f, &piece.to_be_bytes())
                .map_err(|e| annotate(e, &self.index_path))?;
        }
        Ok(())
    }

    /// The download folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of file `index`.
    pub fn path(&self, index: usize) -> Option<PathBuf> {
        self.lock_slots().ok()?.get(index).map(|s| s.path.clone())
    }

    fn lock_slots(&self) -> io::Result<std::sync::MutexGuard<'_, Vec<Slot>>> {
        self.slots
            .lock()
            .map_err(|_| io::Error::other("file storage lock poisoned"))
    }

    /// The open handle of file `index`, opening (and creating, if `create`)
    /// it first. `None` when it does not exist and `create` is false.
    fn handle(&self, index: usize, create: bool) -> io::Result<Option<Arc<File>>> {
        let mut slots = self.lock_slots()?;
        let slot = &mut slots[index];
        if let Some((file, _)) = &slot.open {
            return Ok(Some(file.clone()));
        }
        let file = match open_file(&slot.path, slot.length, create) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !create => return Ok(None),
            Err(e) => return Err(annotate(e, &slot.path)),
        };
        let meta = file.metadata().map_err(|e| annotate(e, &slot.path))?;
        let file = Arc::new(file);
        slot.open = Some((file.clone(), (meta.dev(), meta.ino())));
        Ok(Some(file))
    }

    fn parts_handle(&self, create: bool) -> io::Result<Option<Arc<File>>> {
        let mut parts = self
            .parts
            .lock()
            .map_err(|_| io::Error::other("parts lock poisoned"))?;
        if let Some(f) = parts.as_ref() {
            return Ok(Some(f.clone()));
        }
        match open_file(&self.parts_path, 0, create) {
            Ok(f) => {
                let f = Arc::new(f);
                *parts = Some(f.clone());
                Ok(Some(f))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && !create => Ok(None),
            Err(e) => Err(annotate(e, &self.parts_path)),
        }
    }

    fn place(&self, index: usize) -> io::Result<Place> {
        Ok(self.lock_slots()?[index].place)
    }

    /// Runs `f(file, file_offset, payload_offset, range in data)` for each
    /// span of a block.
    fn spans(
        &self,
        piece: u32,
        offset: u32,
        len: usize,
        mut f: impl FnMut(usize, u64, u64, std::ops::Range<usize>) -> io::Result<()>,
    ) -> io::Result<()> {
        let spans = self
            .layout
            .spans(piece, offset, len as u32)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let mut at = 0usize;
        let base = self.layout.piece_offset(piece) + u64::from(offset);
        for span in spans {
            let n = span.length as usize;
            f(span.file, span.file_offset, base + at as u64, at..at + n)?;
            at += n;
        }
        Ok(())
    }
}

/// Opens `path` for reading and writing; when creating, makes the parent
/// folders and preallocates `length` bytes sparsely.
fn open_file(path: &Path, length: u64, create: bool) -> io::Result<File> {
    if create {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)?;
    if create && file.metadata()?.len() < length {
        file.set_len(length)?;
    }
    Ok(file)
}

/// Puts the path into an I/O error's message.
fn annotate(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Reads at `pos`, filling what lies past the end of the file with zeros.
fn read_at_or_zero(file: &File, mut buf: &mut [u8], mut pos: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.read_at(buf, pos) {
            Ok(0) => {
                buf.fill(0);
                return Ok(());
            }
            Ok(n) => {
                buf = &mut buf[n..];
                pos += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Storage for FileStorage {
    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> io::Result<()> {
        let _gate = self
            .gate
            .read()
            .map_err(|_| io::Error::other("gate poisoned"))?;
        self.spans(
            piece,
            offset,
            data.len(),
            |file, file_offset, payload, range| match self.place(file)? {
                Place::Padding => Ok(()),
                Place::Own => {
                    let handle = self.handle(file, true)?.expect("created");
                    handle.write_all_at(&data[range], file_offset).map_err(|e| {
                        let path = self.path(file).unwrap_or_default();
                        annotate(e, &path)
                    })
                }
                Place::Parts => {
                    let handle = self.parts_handle(true)?.expect("created");
                    handle
                        .write_all_at(&data[range], payload)
                        .map_err(|e| annotate(e, &self.parts_path))?;
                    self.note_parts_piece(piece)
                }
            },
        )
    }

    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> io::Result<()> {
        let _gate = self
            .gate
            .read()
            .map_err(|_| io::Error::other("gate poisoned"))?;
        let len = buf.len();
        self.spans(piece, offset, len, |file, file_offset, payload, range| {
            let out = &mut buf[range];
            match self.place(file)? {
                Place::Padding => {
                    out.fill(0);
                    Ok(())
                }
                Place::Own => match self.handle(file, false)? {
                    Some(h) => read_at_or_zero(&h, out, file_offset),
                    None => {
                        out.fill(0);
                        Ok(())
                    }
                },
                Place::Parts => match self.parts_handle(false)? {
                    Some(h) => read_at_or_zero(&h, out, payload),
                    None => {
                        out.fill(0);
                        Ok(())
                    }
                },
            }
        })
    }

    fn flush(&self) -> io::Result<()> {
        let handles: Vec<(Arc<File>, PathBuf)> = self
            .lock_slots()?
            .iter()
            .filter_map(|s| s.open.as_ref().map(|(f, _)| (f.clone(), s.path.clone())))
            .collect();
        for (f, path) in handles {
            f.sync_data().map_err(|e| annotate(e, &path))?;
        }
        if let Some(p) = self.parts_handle(false)? {
            p.sync_data().map_err(|e| annotate(e, &self.parts_path))?;
        }
        Ok(())
    }

    fn set_file_wanted(&self, file: usize, wanted: bool) -> io::Result<()> {
        if !wanted {
            // A deselected file that does not exist yet is not created: its
            // bytes go to the parts file. One that exists keeps its bytes.
            let _gate = self
                .gate
                .write()
                .map_err(|_| io::Error::other("gate poisoned"))?;
            let mut slots = self.lock_slots()?;
            let slot = &mut slots[file];
            if slot.place == Place::Own && slot.open.is_none() && !slot.path.exists() {
                slot.place = Place::Parts;
            }
            return Ok(());
        }
        if self.place(file)? != Place::Parts {
            return Ok(());
        }
        let _gate = self
            .gate
            .write()
            .map_err(|_| io::Error::other("gate poisoned"))?;
        if self.place(file)? != Place::Parts {
            return Ok(());
        }
        // Move the bytes this file had in the parts file into the file itself.
        let (start, length) = (self.layout.file_offset(file), self.layout.file_length(file));
        let pieces: Vec<u32> = self
            .parts_pieces
            .lock()
            .map_err(|_| io::Error::other("parts lock poisoned"))?
            .iter()
            .copied()
            .filter(|p| {
                let ps = self.layout.piece_offset(*p);
                let pe = ps + u64::from(self.layout.piece_len(*p));
                ps < start + length && start < pe
            })
            .collect();
        self.lock_slots()?[file].place = Place::Own;
        let target = self.handle(file, true)?.expect("created");
        let Some(parts) = self.parts_handle(false)? else {
            return Ok(());
        };
        for p in pieces {
            let ps = self.layout.piece_offset(p);
            let from = ps.max(start);
            let to = (ps + u64::from(self.layout.piece_len(p))).min(start + length);
            let mut buf = vec![0u8; (to - from) as usize];
            read_at_or_zero(&parts, &mut buf, from)?;
            target.write_all_at(&buf, from - start)?;
        }
        Ok(())
    }

    fn remove(&self, keep: Option<&Bitfield>) -> io::Result<()> {
        let mut slots = self.lock_slots()?;
        for (i, slot) in slots.iter_mut().enumerate() {
            slot.open = None;
            if slot.place != Place::Own {
                continue;
            }
            let keeps_verified = keep.is_some_and(|have| {
                slot.length > 0 && self.layout.file_pieces(i).any(|p| have.get(p))
            });
            if !keeps_verified {
                match fs::remove_file(&slot.path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(annotate(e, &slot.path))
                    }
                    _ => {}
                }
                remove_empty_parents(&slot.path, &self.root);
            }
        }
        drop(slots);
        if let Ok(mut p) = self.parts.lock() {
            *p = None;
        }
        let parts_keep = keep.is_some_and(|have| {
            self.parts_pieces
                .lock()
                .map(|set| set.iter().any(|p| have.get(*p)))
                .unwrap_or(false)
        });
        if !parts_keep {
            for path in [&self.parts_path, &self.index_path] {
                match fs::remove_file(path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(annotate(e, path)),
                    _ => {}
                }
            }
            if let Ok(mut set) = self.parts_pieces.lock() {
                set.clear();
            }
        }
        Ok(())
    }

    fn fingerprint(&self) -> Option<Vec<(u64, u128)>> {
        let slots = self.lock_slots().ok()?;
        Some(
            slots
                .iter()
                .map(|s| {
                    match fs::metadata(if s.place == Place::Parts {
                        &self.parts_path
                    } else {
                        &s.path
                    }) {
                        Ok(m) => (
                            m.len(),
                            m.modified()
                                .ok()
                                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                                .map_or(0, |d| d.as_nanos()),
                        ),
                        Err(_) => (0, 0),
                    }
                })
                .collect(),
        )
    }

    fn check(&self) -> io::Result<()> {
        self.check_files(0..self.layout.file_count())
    }

    fn check_piece(&self, piece: u32) -> io::Result<()> {
        self.check_files(self.layout.piece_files(piece))
    }
}

impl FileStorage {
    /// Checks that the open files among `files` are still the ones at their paths.
    fn check_files(&self, files: std::ops::Range<usize>) -> io::Result<()> {
        let slots = self.lock_slots()?;
        for slot in &slots[files] {
            let Some((_, identity)) = &slot.open else {
                continue;
            };
            let now = fs::metadata(&slot.path).map(|m| (m.dev(), m.ino()));
            match now {
                Ok(id) if id == *identity => {}
                Ok(_) => {
                    return Err(io::Error::other(format!(
                        "{} was replaced while downloading",
                        slot.path.display()
                    )))
                }
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{} was removed while downloading", slot.path.display()),
                    ))
                }
            }
        }
        Ok(())
    }
}

/// Removes the folders between `path` and `root` that are now empty.
fn remove_empty_parents(path: &Path, root: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::create::{PieceHasher, TorrentBuilder};
    use sluice_core::metainfo::Metainfo;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sluice-std-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn torrent(files: &[(&str, u64)]) -> Metainfo {
        let list = files
            .iter()
            .map(|(n, s)| (n.split('/').map(str::to_string).collect(), *s))
            .collect();
        let mut b = TorrentBuilder::multi_file("t", list);
        b.piece_length(16 * 1024);
        let total: u64 = files.iter().map(|f| f.1).sum();
        let mut h = PieceHasher::new(b.chosen_piece_length());
        h.update(&vec![1u8; total as usize]);
        Metainfo::from_bytes(&b.build(&h.finish()).unwrap()).unwrap()
    }

    fn write_all(s: &FileStorage, layout: &Layout, data: &[u8]) {
        for p in 0..layout.piece_count() {
            let at = layout.piece_offset(p) as usize;
            s.write(p, 0, &data[at..at + layout.piece_len(p) as usize])
                .unwrap();
        }
    }

    #[test]
    fn files_are_laid_out_nested_and_sparse() {
        let dir = temp("layout");
        let meta = torrent(&[("a/x.bin", 20_000), ("b/c/y.bin", 30_000)]);
        let layout = meta.layout();
        let s = FileStorage::new(&dir, &meta.info, "h", &[]);
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        write_all(&s, &layout, &data);
        assert_eq!(fs::read(dir.join("t/a/x.bin")).unwrap(), &data[..20_000]);
        assert_eq!(fs::read(dir.join("t/b/c/y.bin")).unwrap(), &data[20_000..]);
        let mut back = vec![0u8; 16 * 1024];
        s.read(1, 0, &mut back).unwrap();
        assert_eq!(&back[..], &data[16_384..32_768]);
        s.flush().unwrap();
        assert_eq!(s.fingerprint().unwrap().len(), 2);
        s.check().unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn deselected_files_live_in_the_parts_file_until_selected() {
        let dir = temp("parts");
        let meta = torrent(&[("a.bin", 20_000), ("b.bin", 30_000)]);
        let layout = meta.layout();
        let s = FileStorage::new(&dir, &meta.info, "h", &[0]);
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 249) as u8).collect();
        // Piece 1 spans both files.
        let at = layout.piece_offset(1) as usize;
        s.write(1, 0, &data[at..at + 16_384]).unwrap();
        assert!(
            !dir.join("t/a.bin").exists(),
            "no stray file for a deselected file"
        );
        assert!(dir.join(".sluice/h.parts").exists());
        let mut back = vec![0u8; 16_384];
        s.read(1, 0, &mut back).unwrap();
        assert_eq!(&back[..], &data[at..at + 16_384]);
        // Selecting it moves its bytes into the real file.
        s.set_file_wanted(0, true).unwrap();
        let a = fs::read(dir.join("t/a.bin")).unwrap();
        assert_eq!(&a[at..20_000], &data[at..20_000]);
        s.read(1, 0, &mut back).unwrap();
        assert_eq!(&back[..], &data[at..at + 16_384]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_removed_file_is_noticed_and_remove_keeps_verified_files() {
        let dir = temp("gone");
        let meta = torrent(&[("a.bin", 20_000), ("b.bin", 30_000)]);
        let layout = meta.layout();
        let s = FileStorage::new(&dir, &meta.info, "h", &[]);
        write_all(&s, &layout, &vec![7u8; 50_000]);
        s.check().unwrap();
        fs::remove_file(dir.join("t/a.bin")).unwrap();
        let err = s.check().unwrap_err();
        assert!(err.to_string().contains("removed"), "{err}");

        let s = FileStorage::new(&dir, &meta.info, "h", &[]);
        write_all(&s, &layout, &vec![7u8; 50_000]);
        // Only the last piece (inside b.bin) is verified.
        let mut have = Bitfield::new(layout.piece_count());
        have.set(3, true);
        s.remove(Some(&have)).unwrap();
        assert!(!dir.join("t/a.bin").exists());
        assert!(dir.join("t/b.bin").exists());
        s.remove(None).unwrap();
        assert!(!dir.join("t/b.bin").exists());
        assert!(!dir.join("t").exists(), "empty folders removed");
        fs::remove_dir_all(&dir).unwrap();
    }
}

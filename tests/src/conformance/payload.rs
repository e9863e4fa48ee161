//! [`Payload`]: test data on disk, its `.torrent`, and the expected bytes to
//! check downloads against.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use sluice_core::layout::Layout;
use sluice_core::metainfo::Metainfo;
use sluice_core::Bitfield;
use sluice_mio::create::{create_torrent, CreateOptions};

use crate::payload::write_payload;

/// Files written under a seed folder, with their torrent.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The folder a seed downloads into: its files are already there.
    pub seed_dir: PathBuf,
    /// The `.torrent` document.
    pub torrent: Vec<u8>,
    /// The same, parsed.
    pub meta: Metainfo,
    /// The whole payload, file after file.
    pub bytes: Vec<u8>,
}

impl Payload {
    /// One file `name` of `len` pseudo-random bytes (from `seed`) in
    /// `seed_dir`, cut in pieces of `piece_length`.
    pub fn single(seed_dir: &Path, name: &str, len: u64, piece_length: u32, seed: u64) -> Payload {
        let path = seed_dir.join(name);
        write_payload(&path, len, seed);
        Payload::create(seed_dir, &path, piece_length)
    }

    /// A folder `name` in `seed_dir` holding `files` (relative paths and
    /// sizes) of pseudo-random bytes.
    pub fn multi(
        seed_dir: &Path,
        name: &str,
        files: &[(&str, u64)],
        piece_length: u32,
        seed: u64,
    ) -> Payload {
        let root = seed_dir.join(name);
        for (i, (rel, len)) in files.iter().enumerate() {
            write_payload(&root.join(rel), *len, seed.wrapping_add(i as u64));
        }
        Payload::create(seed_dir, &root, piece_length)
    }

    /// A torrent of `path` (a file or folder directly in `seed_dir`).
    pub fn create(seed_dir: &Path, path: &Path, piece_length: u32) -> Payload {
        let mut co = CreateOptions::new(path);
        co.piece_length = Some(piece_length);
        let made = create_torrent(&co, &mut |_, _| {})
            .unwrap_or_else(|e| panic!("create a torrent of {}: {e}", path.display()));
        let mut bytes = Vec::with_capacity(made.meta.info.total_length as usize);
        for f in &made.meta.info.files {
            if f.padding {
                bytes.resize(bytes.len() + f.length as usize, 0);
                continue;
            }
            let p = file_path(seed_dir, &f.path);
            let data = fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            assert_eq!(data.len() as u64, f.length, "{} changed", p.display());
            bytes.extend_from_slice(&data);
        }
        Payload {
            seed_dir: seed_dir.to_path_buf(),
            torrent: made.bytes,
            meta: made.meta,
            bytes,
        }
    }

    /// Piece arithmetic.
    pub fn layout(&self) -> Layout {
        self.meta.layout()
    }

    /// Number of pieces.
    pub fn pieces(&self) -> u32 {
        self.meta.info.piece_count()
    }

    /// Number of files.
    pub fn file_count(&self) -> usize {
        self.meta.info.files.len()
    }

    /// Where file `file` lives under a download folder `dir`.
    pub fn path_in(&self, dir: &Path, file: usize) -> PathBuf {
        file_path(dir, &self.meta.info.files[file].path)
    }

    /// The relative path of file `file` (components joined with `/`).
    pub fn rel_path(&self, file: usize) -> String {
        self.meta.info.files[file].path.join("/")
    }

    /// The expected bytes of file `file`.
    pub fn file(&self, file: usize) -> &[u8] {
        let f = &self.meta.info.files[file];
        &self.bytes[f.offset as usize..(f.offset + f.length) as usize]
    }

    /// The expected bytes of piece `piece`.
    pub fn piece(&self, piece: u32) -> &[u8] {
        let range = self.piece_range(piece);
        &self.bytes[range.start as usize..range.end as usize]
    }

    /// The payload bytes of piece `piece`.
    pub fn piece_range(&self, piece: u32) -> Range<u64> {
        let l = self.layout();
        let start = l.piece_offset(piece);
        start..start + u64::from(l.piece_len(piece))
    }

    /// The pieces holding any byte of file `file`.
    pub fn file_pieces(&self, file: usize) -> Bitfield {
        let mut b = Bitfield::new(self.pieces());
        for p in self.layout().file_pieces(file) {
            b.set(p, true);
        }
        b
    }

    /// Writes the `.torrent` to `path`.
    pub fn write_torrent(&self, path: &Path) {
        fs::write(path, &self.torrent).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Panics unless every file under `dir` holds the expected bytes.
    pub fn assert_files(&self, dir: &Path) {
        for i in 0..self.file_count() {
            if self.meta.info.files[i].padding {
                continue;
            }
            self.assert_file(dir, i);
        }
    }

    /// Panics unless file `file` under `dir` holds the expected bytes.
    pub fn assert_file(&self, dir: &Path, file: usize) {
        let path = self.path_in(dir, file);
        let got = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        assert_bytes(&got, self.file(file), &path.display().to_string());
    }

    /// The pieces in `have` whose bytes in the files under `dir` are not the
    /// expected ones (a missing or short file counts as wrong).
    pub fn wrong_pieces_on_disk(&self, dir: &Path, have: &Bitfield) -> Vec<u32> {
        let files: Vec<Option<Vec<u8>>> = (0..self.file_count())
            .map(|i| fs::read(self.path_in(dir, i)).ok())
            .collect();
        let mut disk = Vec::with_capacity(self.bytes.len());
        for (i, f) in self.meta.info.files.iter().enumerate() {
            let mut data = match &files[i] {
                Some(d) if !f.padding => d.clone(),
                _ if f.padding => vec![0; f.length as usize],
                // Missing: make it differ from the expected bytes.
                _ => self.file(i).iter().map(|b| !b).collect(),
            };
            data.resize(f.length as usize, 0);
            disk.extend_from_slice(&data);
        }
        have.ones()
            .filter(|&p| {
                let r = self.piece_range(p);
                disk[r.start as usize..r.end as usize] != *self.piece(p)
            })
            .collect()
    }
}

/// `dir` joined with each component.
fn file_path(dir: &Path, parts: &[String]) -> PathBuf {
    parts.iter().fold(dir.to_path_buf(), |p, c| p.join(c))
}

/// Panics with the first differing offset unless `got == want`.
pub fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{what}: bytes differ from offset {first} ({} bytes, expected {})",
        got.len(),
        want.len()
    );
}

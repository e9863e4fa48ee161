//! Payloads, `.torrent` files and byte-for-byte comparison of downloaded trees.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sluice_mio::create::{create_torrent, CreateOptions, Created};

use crate::{fixtures, write_payload};

/// 1 MiB.
pub const MIB: u64 = 1 << 20;

/// Piece length of the interop torrents: 256 KiB (256 pieces for 64 MiB).
pub const PIECE_LENGTH: u32 = 256 << 10;

/// A payload and its torrent. The payload (a file or a folder) sits in `save_path`,
/// the folder a client is pointed at (libtorrent's `save_path`, transmission's `-w`,
/// aria2's `-d`, sluice's download folder).
#[derive(Debug)]
pub struct Payload {
    /// The folder that holds the payload.
    pub save_path: PathBuf,
    /// The file or top folder of the payload (`save_path/<name>`).
    pub root: PathBuf,
    /// The `.torrent` written next to `save_path`.
    pub torrent: PathBuf,
    /// The torrent made from it.
    pub created: Created,
}

impl Payload {
    /// The torrent's pieces.
    pub fn pieces(&self) -> u32 {
        self.created.meta.info.piece_count()
    }

    /// The total payload length.
    pub fn total_length(&self) -> u64 {
        self.created.meta.info.files.iter().map(|f| f.length).sum()
    }
}

/// One file of `size` pseudo-random bytes (from `seed`) named `name` in `dir/seed/`,
/// and its torrent (`dir/<name>.torrent`) announcing `trackers`.
pub fn single_file(dir: &Path, name: &str, size: u64, seed: u64, trackers: &[String]) -> Payload {
    let save_path = dir.join("seed");
    let root = save_path.join(name);
    write_payload(&root, size, seed);
    make(dir, save_path, root, name, trackers)
}

/// A folder `name` in `dir/seed/` holding [`fixtures::TREE`] (nested folders,
/// non-ASCII names, an empty file) plus `big/large.bin` of `large` bytes, and its
/// torrent.
pub fn multi_file(dir: &Path, name: &str, large: u64, seed: u64, trackers: &[String]) -> Payload {
    let save_path = dir.join("seed");
    let root = save_path.join(name);
    fixtures::write_tree(&root, seed);
    write_payload(&root.join("big/large.bin"), large, seed ^ 0x5eed);
    make(dir, save_path, root, name, trackers)
}

fn make(dir: &Path, save_path: PathBuf, root: PathBuf, name: &str, trackers: &[String]) -> Payload {
    let mut opts = CreateOptions::new(&root);
    opts.piece_length = Some(PIECE_LENGTH);
    opts.trackers = trackers.to_vec();
    let created = create_torrent(&opts, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("create a torrent of {}: {e}", root.display()));
    let torrent = dir.join(format!("{name}.torrent"));
    std::fs::write(&torrent, &created.bytes)
        .unwrap_or_else(|e| panic!("write {}: {e}", torrent.display()));
    Payload {
        save_path,
        root,
        torrent,
        created,
    }
}

/// Every regular file under `root` (or `root` itself if it is a file), as paths
/// relative to `root`, sorted.
pub fn list_files(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read folder {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("folder entry").path();
            let meta = std::fs::symlink_metadata(&path)
                .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
            if meta.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    if root.is_file() {
        out.push(PathBuf::new());
    } else {
        walk(root, root, &mut out);
    }
    out.sort();
    out
}

/// Panics unless `got` holds exactly the files of `want` (a file or a folder), with
/// the same bytes. `ignore` names relative paths to leave out of the comparison
/// (a client's own state files, such as aria2's `.aria2` control files). Every
/// problem is listed: missing and extra files, and the first differing byte of each
/// file that differs.
pub fn assert_same_tree(want: &Path, got: &Path, ignore: &[&str]) {
    let problems = compare_trees(want, got, ignore);
    assert!(
        problems.is_empty(),
        "{} is not a copy of {}:\n  {}",
        got.display(),
        want.display(),
        problems.join("\n  ")
    );
}

/// What [`assert_same_tree`] checks: the list of problems, empty when `got` is a
/// byte-for-byte copy of `want`.
pub fn compare_trees(want: &Path, got: &Path, ignore: &[&str]) -> Vec<String> {
    if !got.exists() {
        return vec![format!("{} does not exist", got.display())];
    }
    let keep = |p: &PathBuf| !ignore.iter().any(|i| p.to_string_lossy().ends_with(i));
    let want_files: Vec<PathBuf> = list_files(want).into_iter().filter(keep).collect();
    let got_files: Vec<PathBuf> = list_files(got).into_iter().filter(keep).collect();
    let mut problems = Vec::new();
    for rel in want_files.iter().filter(|f| !got_files.contains(f)) {
        let len = std::fs::metadata(under(want, rel)).map_or(0, |m| m.len());
        problems.push(format!("missing: {} ({len} bytes)", rel.display()));
    }
    for rel in got_files.iter().filter(|f| !want_files.contains(f)) {
        problems.push(format!("unexpected: {}", rel.display()));
    }
    for rel in want_files.iter().filter(|f| got_files.contains(f)) {
        let (a, b) = (under(want, rel), under(got, rel));
        if let Some(at) = first_difference(&a, &b) {
            let (la, lb) = (
                std::fs::metadata(&a).map_or(0, |m| m.len()),
                std::fs::metadata(&b).map_or(0, |m| m.len()),
            );
            problems.push(format!(
                "differs: {} at byte {at} (lengths {lb}, expected {la})",
                rel.display()
            ));
        }
    }
    problems
}

/// `root/rel`, or `root` itself for the empty `rel` of a single file.
fn under(root: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// The offset of the first byte where two files differ (or where one ends), if any.
pub fn first_difference(a: &Path, b: &Path) -> Option<u64> {
    let open = |p: &Path| File::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
    let (mut fa, mut fb) = (open(a), open(b));
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut at = 0u64;
    loop {
        let na = read_full(&mut fa, &mut ba, a);
        let nb = read_full(&mut fb, &mut bb, b);
        let n = na.min(nb);
        if let Some(i) = (0..n).find(|&i| ba[i] != bb[i]) {
            return Some(at + i as u64);
        }
        if na != nb {
            return Some(at + n as u64);
        }
        if na == 0 {
            return None;
        }
        at += n as u64;
    }
}

fn read_full(f: &mut File, buf: &mut [u8], path: &Path) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => panic!("read {}: {e}", path.display()),
        }
    }
    n
}

/// `len` bytes of `path` from `offset`.
pub fn read_range(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.seek(SeekFrom::Start(offset))
        .unwrap_or_else(|e| panic!("seek {}: {e}", path.display()));
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    buf
}

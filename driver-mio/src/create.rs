//! Making a `.torrent` from files on disk: the I/O half of `sluice create`.
//!
//! The core's [`TorrentBuilder`] decides the layout and encodes the result; this
//! module walks the folder, reads the payload in order, and hashes pieces on all
//! cores, with the `sha1` crate, which uses the CPU's SHA instructions where there
//! are any (the core's portable `sha1_smol` serves as the reference in the tests). One reader thread fills piece-sized buffers and worker threads hash
//! them; a fixed set of buffers circulates, so memory stays at a few pieces
//! whatever the payload size.
//!
//! ```no_run
//! use sluice_mio::create::{create_torrent, CreateOptions};
//! let opts = CreateOptions::new("some/folder");
//! let made = create_torrent(&opts, &mut |_done, _total| {}).unwrap();
//! std::fs::write("folder.torrent", &made.bytes).unwrap();
//! println!("{}", made.meta.info_hash);
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use sluice_core::create::{CreateError as BuildError, TorrentBuilder};
use sluice_core::metainfo::Metainfo;

/// What to make a torrent of, and how.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// A file or a folder.
    pub path: PathBuf,
    /// Trackers, each in its own tier.
    pub trackers: Vec<String>,
    /// Web seeds (BEP 19).
    pub web_seeds: Vec<String>,
    /// Piece length; chosen from the payload size when `None`.
    pub piece_length: Option<u32>,
    /// Private torrent (BEP 27).
    pub private: bool,
    /// Free-text comment.
    pub comment: Option<String>,
    /// `creation date`; absent by default so the output is reproducible.
    pub creation_date: Option<i64>,
    /// Hashing threads; 0 means one per core.
    pub threads: usize,
}

impl CreateOptions {
    /// Defaults for `path`: no trackers, automatic piece length, public.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CreateOptions {
            path: path.into(),
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            piece_length: None,
            private: false,
            comment: None,
            creation_date: None,
            threads: 0,
        }
    }
}

/// A finished torrent.
#[derive(Debug, Clone)]
pub struct Created {
    /// The `.torrent` document.
    pub bytes: Vec<u8>,
    /// The same, parsed.
    pub meta: Metainfo,
    /// Wall time spent reading and hashing the payload.
    pub hashing_time: Duration,
}

/// Why a torrent could not be made.
#[derive(Debug)]
pub enum CreateError {
    /// Reading the payload failed.
    Io {
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A file name that is not valid UTF-8 cannot be written into a torrent
    /// portably.
    NonUtf8Name(PathBuf),
    /// A file changed size while it was being hashed.
    Changed(PathBuf),
    /// The torrent itself could not be built.
    Build(BuildError),
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            CreateError::NonUtf8Name(p) => write!(f, "{}: file name is not UTF-8", p.display()),
            CreateError::Changed(p) => {
                write!(f, "{}: file changed size while hashing", p.display())
            }
            CreateError::Build(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CreateError {}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CreateError + '_ {
    move |source| CreateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Walks, reads and hashes `opts.path`, calling `progress(done, total)` as bytes
/// are hashed, and returns the finished torrent.
pub fn create_torrent(
    opts: &CreateOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Created, CreateError> {
    let root = &opts.path;
    let meta = std::fs::metadata(root).map_err(io_err(root))?;
    let name = root_name(root)?;
    let mut builder = if meta.is_dir() {
        let mut files = Vec::new();
        walk(root, &mut Vec::new(), &mut files)?;
        TorrentBuilder::multi_file(&name, files)
    } else {
        TorrentBuilder::single_file(&name, meta.len())
    };
    if let Some(len) = opts.piece_length {
        builder.piece_length(len);
    }
    for t in &opts.trackers {
        builder.tracker(t);
    }
    for w in &opts.web_seeds {
        builder.web_seed(w);
    }
    builder
        .private(opts.private)
        .creation_date(opts.creation_date);
    if let Some(c) = &opts.comment {
        builder.comment(c);
    }
    if builder.total_length() == 0 {
        return Err(CreateError::Build(BuildError::EmptyPayload));
    }

    let paths: Vec<(PathBuf, u64)> = builder
        .payload_files()
        .into_iter()
        .map(|(parts, len)| (parts.iter().fold(root.clone(), |p, c| p.join(c)), len))
        .collect();
    let threads = if opts.threads == 0 {
        thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.threads
    };
    let started = Instant::now();
    let hashes = hash_files(
        &paths,
        builder.chosen_piece_length(),
        builder.total_length(),
        threads,
        progress,
    )?;
    let hashing_time = started.elapsed();
    let bytes = builder.build(&hashes).map_err(CreateError::Build)?;
    let meta =
        Metainfo::from_bytes(&bytes).map_err(|e| CreateError::Build(BuildError::Invalid(e)))?;
    Ok(Created {
        bytes,
        meta,
        hashing_time,
    })
}

/// The torrent's name: the last component of the (canonical) path.
fn root_name(root: &Path) -> Result<String, CreateError> {
    let canonical = root.canonicalize().map_err(io_err(root))?;
    let name = canonical.file_name().unwrap_or(canonical.as_os_str());
    name.to_str()
        .map(str::to_owned)
        .ok_or_else(|| CreateError::NonUtf8Name(root.to_owned()))
}

/// Collects regular files below `dir` as (components below the root, length).
/// Symbolic links to folders are not followed, so a loop cannot trap the walk.
fn walk(
    dir: &Path,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, u64)>,
) -> Result<(), CreateError> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| CreateError::NonUtf8Name(path.clone()))?;
        let link = entry.file_type().map_err(io_err(&path))?.is_symlink();
        let meta = std::fs::metadata(&path).map_err(io_err(&path))?;
        prefix.push(name);
        if meta.is_dir() && !link {
            walk(&path, prefix, out)?;
        } else if meta.is_file() {
            out.push((prefix.clone(), meta.len()));
        }
        prefix.pop();
    }
    Ok(())
}

/// Reads the files in order as one stream of pieces and hashes the pieces on
/// `threads` workers.
fn hash_files(
    files: &[(PathBuf, u64)],
    piece_length: u32,
    total: u64,
    threads: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<[u8; 20]>, CreateError> {
    let piece_count = total.div_ceil(piece_length as u64) as usize;
    let threads = threads.max(1);
    // Each worker holds one buffer, one waits in each queue, one is being filled.
    let buffers = 2 * threads + 2;
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 0..buffers {
        free_tx
            .send(Vec::with_capacity(piece_length as usize))
            .expect("receiver is alive");
    }
    let (work_tx, work_rx) = mpsc::sync_channel::<(usize, Vec<u8>)>(threads);
    let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
    let (done_tx, done_rx) = mpsc::channel::<(usize, [u8; 20], usize)>();
    let mut hashes = vec![[0u8; 20]; piece_count];

    thread::scope(|scope| {
        for _ in 0..threads {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            let free_tx = free_tx.clone();
            scope.spawn(move || loop {
                let job = work_rx.lock().map(|rx| rx.recv());
                let Ok(Ok((index, buf))) = job else { break };
                let hash: [u8; 20] = Sha1::digest(&buf).into();
                let len = buf.len();
                // The reader may have stopped early on an error; then nobody
                // waits for buffers or results and sends may fail.
                let _ = free_tx.send(buf);
                let _ = done_tx.send((index, hash, len));
            });
        }
        drop(done_tx);

        let reader = scope.spawn(move || read_pieces(files, piece_length, free_rx, work_tx));

        let mut hashed = 0u64;
        for (index, hash, len) in done_rx {
            hashes[index] = hash;
            hashed += len as u64;
            progress(hashed, total);
        }
        reader.join().expect("reader thread does not panic")
    })?;
    Ok(hashes)
}

/// Fills buffers from `free` with consecutive pieces of the concatenated files
/// and sends them to the workers.
fn read_pieces(
    files: &[(PathBuf, u64)],
    piece_length: u32,
    free: mpsc::Receiver<Vec<u8>>,
    work: mpsc::SyncSender<(usize, Vec<u8>)>,
) -> Result<(), CreateError> {
    let piece_length = piece_length as usize;
    let mut index = 0;
    let mut buf = free.recv().expect("buffers circulate while reading");
    buf.clear();
    for (path, expected) in files {
        let mut file = File::open(path).map_err(io_err(path))?;
        let mut remaining = *expected;
        while remaining > 0 {
            let want = (piece_length - buf.len()).min(remaining as usize);
            let got = read_append(&mut file, &mut buf, want).map_err(io_err(path))?;
            if got < want {
                return Err(CreateError::Changed(path.clone()));
            }
            remaining -= want as u64;
            if buf.len() == piece_length {
                let full = std::mem::replace(&mut buf, free.recv().expect("buffers circulate"));
                buf.clear();
                if work.send((index, full)).is_err() {
                    break;
                }
                index += 1;
            }
        }
        // A file that grew since it was listed would change the layout.
        let mut probe = [0u8; 1];
        if file.read(&mut probe).map_err(io_err(path))? != 0 {
            return Err(CreateError::Changed(path.clone()));
        }
    }
    if !buf.is_empty() {
        let _ = work.send((index, buf));
    }
    Ok(())
}

/// Appends up to `want` bytes from `file` to `buf`, stopping early only at the end
/// of the file; returns the bytes appended. Reads into the buffer's spare capacity
/// rather than zeroing it first: at gigabytes per second the memset shows.
fn read_append(file: &mut File, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    buf.reserve_exact(want);
    // `read_to_end` retries interrupted reads and stops at the limit or at EOF.
    Read::take(file, want as u64).read_to_end(buf)
}

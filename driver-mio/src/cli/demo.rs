//! `sluice demo`: shows sluice at work with no network and no arguments.
//!
//! The loopback swarm (seeds, a streaming client, HTTP) arrives with the engine
//! and the mio driver. Until then the demo exercises what exists end to end: it
//! writes a sample payload, makes a torrent of it, reads the torrent back, and
//! verifies every piece by reading the files through the core's `layout`, as a
//! storage backend will.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use sluice_core::create::hash_piece;
use sluice_core::magnet::MagnetLink;
use sluice_core::metainfo::Metainfo;
use sluice_mio::create::{create_torrent, CreateOptions};

use super::{format, CliError};

/// Sample files: (path below the payload folder, size). Odd sizes so that
/// pieces straddle file boundaries.
const SAMPLE: &[(&str, u64)] = &[
    ("video/trailer.mp4", 6_000_123),
    ("video/subtitles/en.srt", 48_321),
    ("README.txt", 1_234),
    ("empty.log", 0),
    ("music/theme.ogg", 2_500_017),
];

/// Runs the demo in `dir` (a fresh temporary folder when `None`).
pub fn run(dir: Option<PathBuf>) -> Result<(), CliError> {
    let (dir, temporary) = match dir {
        Some(d) => (d, false),
        None => {
            let d = std::env::temp_dir().join(format!("sluice-demo-{}", std::process::id()));
            (d, true)
        }
    };
    let result = demo(&dir);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn demo(dir: &Path) -> Result<(), CliError> {
    let payload = dir.join("sample");
    println!(
        "sluice demo: writing a sample payload to {}",
        payload.display()
    );
    write_sample(&payload)?;

    let mut opts = CreateOptions::new(&payload);
    opts.piece_length = Some(64 << 10);
    opts.trackers = vec!["http://127.0.0.1:6969/announce".into()];
    let made = create_torrent(&opts, &mut |_, _| {})?;
    let torrent_path = dir.join("sample.torrent");
    std::fs::write(&torrent_path, &made.bytes)
        .map_err(|e| CliError::new(format!("{}: {e}", torrent_path.display())))?;
    let meta = Metainfo::from_bytes(&std::fs::read(&torrent_path)?)?;
    let info = &meta.info;
    println!(
        "made {} ({} files, {}, {} pieces of {})",
        torrent_path.display(),
        info.files.len(),
        format::bytes(info.total_length),
        info.piece_count(),
        format::bytes(info.piece_length as u64)
    );
    println!("info hash: {}", meta.info_hash);

    let link = MagnetLink {
        info_hash: meta.info_hash,
        display_name: Some(info.name.clone()),
        trackers: meta.trackers().into_iter().flatten().collect(),
        peers: Vec::new(),
        select_only: Vec::new(),
    };
    let uri = link.to_string();
    let back = MagnetLink::parse(&uri)?;
    if back != link {
        return Err(CliError::new("magnet link did not survive a round trip"));
    }
    println!("magnet: {uri}");

    let started = Instant::now();
    let layout = meta.layout();
    let mut files: Vec<Option<File>> = Vec::new();
    for f in &info.files {
        let path = f.path.iter().fold(dir.to_path_buf(), |p, c| p.join(c));
        files.push(if f.length > 0 {
            Some(File::open(&path)?)
        } else {
            None
        });
    }
    let mut piece = Vec::new();
    let mut verified = 0u32;
    for index in 0..layout.piece_count() {
        let len = layout.piece_len(index);
        piece.clear();
        piece.resize(len as usize, 0);
        for span in layout.spans(index, 0, len)? {
            let file = files[span.file]
                .as_mut()
                .ok_or_else(|| CliError::new("layout pointed into an empty file"))?;
            file.seek(SeekFrom::Start(span.file_offset))?;
            let at = span.piece_offset as usize;
            file.read_exact(&mut piece[at..at + span.length as usize])?;
        }
        if hash_piece(&piece) != info.pieces[index as usize] {
            return Err(CliError::new(format!("piece {index} failed verification")));
        }
        verified += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "verified {verified}/{} pieces through the file layout in {seconds:.3} s ({})",
        layout.piece_count(),
        format::rate(info.total_length, seconds)
    );
    println!(
        "proved: torrent creation, parsing, magnet links and piece/file layout agree byte for byte"
    );
    println!(
        "next: the loopback swarm and HTTP streaming arrive with the engine and the mio driver"
    );
    Ok(())
}

/// Deterministic, incompressible-looking bytes (xorshift) for each sample file.
fn write_sample(root: &Path) -> Result<(), CliError> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for (name, size) in SAMPLE {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut data = Vec::with_capacity(*size as usize);
        while (data.len() as u64) < *size {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            data.extend_from_slice(&state.to_le_bytes());
        }
        data.truncate(*size as usize);
        std::fs::write(&path, &data)
            .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

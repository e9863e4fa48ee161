//! `sluice seed`: check that data on disk is a torrent's, then share it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sluice_core::metainfo::Metainfo;
use sluice_mio::AddOptions;

use super::common::{read_torrent, start_client, PeerArgs};
use super::download::seed_until_interrupted;
use super::interrupt::Interrupt;
use super::progress::print_stdout;
use super::{format, CliError};

/// Arguments of `sluice seed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent file.
    torrent: String,
    /// The data: the torrent's file or folder itself, or the folder that
    /// holds it.
    path: PathBuf,
    #[command(flatten)]
    net: PeerArgs,
}

/// Verifies every piece, then seeds until Ctrl-C.
pub fn run(args: Args) -> Result<(), CliError> {
    let meta = read_torrent(&args.torrent)?;
    let dir = data_folder(&args.path, &meta)?;
    check_sizes(&dir, &meta)?;
    let mut interrupt = Interrupt::install()?;
    // No resume record: every piece is hashed, and nothing is written next to
    // the user's data.
    let client = start_client(&dir, &args.net, |o| o.resume = false)?;
    print_stdout(&format!(
        "verifying {} ({})",
        dir.join(&meta.info.name).display(),
        format::bytes(meta.info.total_length)
    ));
    let started = Instant::now();
    let add = AddOptions {
        selected: None,
        peers: args.net.peers.clone(),
    };
    let torrent = match client.add_torrent(meta.clone(), add) {
        Ok(t) => t,
        Err(e) => {
            let _ = client.shutdown();
            return Err(CliError::new(format!("{}: {e}", args.path.display())));
        }
    };
    if !torrent.is_complete() {
        let have = torrent.have();
        let total = meta.info.piece_count();
        let missing: Vec<u32> = (0..total).filter(|&p| !have.get(p)).collect();
        let _ = client.shutdown();
        return Err(CliError::new(format!(
            "{}: the data is incomplete or not this torrent's: {} of {total} pieces do not \
             match (the first is piece {}, in {})",
            args.path.display(),
            missing.len(),
            missing[0],
            file_of_piece(&meta, missing[0])
        )));
    }
    print_stdout(&format!(
        "verified {} pieces in {:.1} s",
        meta.info.piece_count(),
        started.elapsed().as_secs_f64()
    ));
    print_stdout(&format!("listening on {}", client.local_addr()));
    let mut trackers = super::common::TrackerLog::new(&torrent);
    seed_until_interrupted(&torrent, &mut interrupt, &mut trackers);
    client
        .shutdown()
        .map_err(|e| CliError::new(format!("shutting down: {e}")))
}

/// The folder that holds the payload named like the torrent: `path`'s parent
/// when `path` is the payload, or `path` itself when it holds the payload.
fn data_folder(path: &Path, meta: &Metainfo) -> Result<PathBuf, CliError> {
    let name = &meta.info.name;
    let want_dir = meta.info.multi_file;
    let kind = if want_dir { "folder" } else { "file" };
    let fits = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| if want_dir { m.is_dir() } else { m.is_file() })
    };
    if !path.exists() {
        return Err(CliError::new(format!(
            "{}: no such file or folder",
            path.display()
        )));
    }
    if path.file_name().is_some_and(|n| n == name.as_str()) && fits(path) {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        return Ok(parent.map_or_else(|| PathBuf::from("."), Path::to_path_buf));
    }
    if path.is_dir() && fits(&path.join(name)) {
        return Ok(path.to_path_buf());
    }
    Err(CliError::new(format!(
        "{}: not this torrent's data: expected the {kind} '{name}' or a folder that holds it",
        path.display()
    )))
}

/// Every file must be there with its length before anything is hashed (and
/// before the storage would create what is missing).
fn check_sizes(dir: &Path, meta: &Metainfo) -> Result<(), CliError> {
    for f in meta
        .info
        .files
        .iter()
        .filter(|f| !f.padding && f.length > 0)
    {
        let path = f.path.iter().fold(dir.to_path_buf(), |p, c| p.join(c));
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() == f.length => {}
            Ok(m) if m.is_file() => {
                return Err(CliError::new(format!(
                    "{}: {} bytes where the torrent has {}: the data is incomplete or not this \
                     torrent's",
                    path.display(),
                    m.len(),
                    f.length
                )))
            }
            Ok(_) => {
                return Err(CliError::new(format!("{}: not a file", path.display())));
            }
            Err(e) => {
                return Err(CliError::new(format!(
                    "{}: {e} (the data is incomplete)",
                    path.display()
                )))
            }
        }
    }
    Ok(())
}

/// The file holding the first byte of `piece`.
fn file_of_piece(meta: &Metainfo, piece: u32) -> String {
    let at = u64::from(piece) * u64::from(meta.info.piece_length);
    meta.info
        .files
        .iter()
        .find(|f| !f.padding && f.offset <= at && at < f.offset + f.length)
        .map_or_else(|| "padding".into(), |f| f.display_path())
}

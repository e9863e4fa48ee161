//! `sluice download`: fetch a torrent (or some of its files) into a folder.

use std::time::{Duration, Instant};

use sluice_mio::{AddOptions, TorrentHandle};

use super::common::{check_files, note_peers, read_source, start_client, NetArgs, TrackerLog};
use super::interrupt::Interrupt;
use super::progress::{Figures, Measure, Plain, Progress};
use super::{format, CliError};

/// How often the torrent's state is looked at.
const TICK: Duration = Duration::from_millis(250);

/// How often a plain progress line is printed when not on a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(2);

/// Arguments of `sluice download`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent file or a magnet URI.
    torrent: String,
    #[command(flatten)]
    net: NetArgs,
    /// Download only these files (numbers from `sluice info`, from 0).
    #[arg(long, value_name = "N,M", value_delimiter = ',')]
    only: Option<Vec<usize>>,
    /// Keep seeding once the download is complete, until Ctrl-C.
    #[arg(long)]
    seed: bool,
}

/// Downloads, showing progress; returns once every wanted byte is verified
/// and written (or, with `--seed`, once Ctrl-C is pressed).
pub fn run(mut args: Args) -> Result<(), CliError> {
    let client = start_client(&args.net.dir, &args.net.net, |_| {})?;
    let meta = read_source(&args.torrent, &mut args.net, &client)?;
    if let Some(only) = &args.only {
        if let Err(e) = check_files(&meta, only) {
            let _ = client.shutdown();
            return Err(e);
        }
    }
    let wanted: u64 = meta
        .info
        .files
        .iter()
        .enumerate()
        .filter(|(i, f)| !f.padding && args.only.as_ref().is_none_or(|o| o.contains(i)))
        .map(|(_, f)| f.length)
        .sum();
    let mut interrupt = Interrupt::install()?;
    let add = AddOptions {
        selected: args.only.clone(),
        peers: args.net.net.peers.clone(),
    };
    let torrent = match client.add_torrent(meta.clone(), add) {
        Ok(t) => t,
        Err(e) => {
            let _ = client.shutdown();
            return Err(CliError::new(format!("{}: {e}", args.torrent)));
        }
    };
    let mut progress = Progress::new(Plain::Stdout, PLAIN_EVERY);
    progress.stdout(&format!(
        "downloading {} ({}) into {}",
        torrent.name(),
        format::bytes(wanted),
        args.net.dir.display()
    ));
    progress.stdout(&format!("listening on {}", client.local_addr()));
    note_peers(&args.net.net, &client, &meta);
    let mut trackers = TrackerLog::new(&torrent);

    let started = Instant::now();
    let measure = Measure::Bytes(wanted);
    loop {
        trackers.print(&progress);
        match wait(&torrent, &mut interrupt) {
            Wait::Done => break,
            Wait::Pending => progress.show(&Figures::of(&torrent, measure), ""),
            Wait::Interrupted => {
                progress.finish();
                let figures = Figures::of(&torrent, measure);
                let result = client.shutdown();
                return Err(CliError::interrupted(format!(
                    "interrupted at {} (run the same command to resume){}",
                    figures.line().trim(),
                    shutdown_note(result)
                )));
            }
            Wait::Failed(e) => {
                progress.finish();
                let _ = client.shutdown();
                return Err(CliError::new(format!("{}: {e}", torrent.name())));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    trackers.print(&progress);
    progress.show(&Figures::of(&torrent, measure), "");
    progress.finish();
    let fetched = torrent.stats().map_or(0, |s| s.downloaded);
    progress.stdout(&format!(
        "complete: {} in {}, {} from peers in {seconds:.1} s ({})",
        format::bytes(wanted),
        args.net.dir.display(),
        format::bytes(fetched),
        format::rate(fetched, seconds),
    ));
    if args.seed {
        seed_until_interrupted(&torrent, &mut interrupt, &mut trackers);
    }
    client
        .shutdown()
        .map_err(|e| CliError::new(format!("shutting down: {e}")))
}

enum Wait {
    Done,
    Pending,
    Interrupted,
    Failed(String),
}

/// Waits a tick for the selected files to finish.
fn wait(torrent: &TorrentHandle, interrupt: &mut Interrupt) -> Wait {
    match torrent.wait_finished(Some(TICK)) {
        Ok(()) => Wait::Done,
        Err(sluice_mio::Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            if interrupt.fired() {
                Wait::Interrupted
            } else {
                Wait::Pending
            }
        }
        Err(e) => Wait::Failed(e.to_string()),
    }
}

/// Seeds, showing the upload (and tracker messages), until Ctrl-C.
pub fn seed_until_interrupted(
    torrent: &TorrentHandle,
    interrupt: &mut Interrupt,
    trackers: &mut TrackerLog,
) {
    let mut progress = Progress::new(Plain::Stdout, PLAIN_EVERY * 5);
    progress.stdout(&format!("seeding {} (Ctrl-C to stop)", torrent.name()));
    let mut uploaded = 0;
    while !interrupt.wait(TICK) {
        trackers.print(&progress);
        if let Some(e) = torrent.error() {
            progress.stdout(&format!("stopped seeding: {e}"));
            return;
        }
        let figures = Figures::of(torrent, Measure::Pieces);
        uploaded = figures.uploaded();
        progress.show(&figures, &format!("  uploaded {}", format::bytes(uploaded)));
    }
    progress.finish();
    progress.stdout(&format!(
        "stopping: uploaded {} this session",
        format::bytes(uploaded)
    ));
}

/// What to add to a message when the shutdown after it failed too.
pub fn shutdown_note(result: Result<(), sluice_mio::Error>) -> String {
    match result {
        Ok(()) => String::new(),
        Err(e) => format!("; shutting down: {e}"),
    }
}

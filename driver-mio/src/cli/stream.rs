//! `sluice stream`: serve a torrent's files over HTTP while they download.

use std::net::SocketAddr;
use std::time::Duration;

use sluice_mio::{http, AddOptions};

use super::common::{
    choose_file, note_peers, parse_addr, read_source, start_client, NetArgs, TrackerLog,
};
use super::download::shutdown_note;
use super::interrupt::Interrupt;
use super::progress::{Figures, Measure, Plain, Progress};
use super::{format, CliError};

/// How often the progress is looked at.
const TICK: Duration = Duration::from_millis(250);

/// How often a plain progress line is printed when not on a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Arguments of `sluice stream`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent file or a magnet URI.
    torrent: String,
    #[command(flatten)]
    net: NetArgs,
    /// The file whose URL is printed [default: the largest]; every file is
    /// served.
    #[arg(long, value_name = "N")]
    file: Option<usize>,
    /// Where to serve HTTP (0.0.0.0:PORT to let other machines in).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8888", value_parser = parse_addr)]
    http: SocketAddr,
    /// Download every file in the background too; by default only what
    /// players read is fetched.
    #[arg(long)]
    all: bool,
}

/// Serves until Ctrl-C.
pub fn run(mut args: Args) -> Result<(), CliError> {
    // Unchoked before the player's first request arrives.
    let client = start_client(&args.net.dir, &args.net.net, |o| o.stay_interested = true)?;
    let meta = read_source(&args.torrent, &mut args.net, &client)?;
    let file = choose_file(&meta, args.file).inspect_err(|_| {
        let _ = client.clone().shutdown();
    })?;
    let mut interrupt = Interrupt::install()?;
    let add = AddOptions {
        selected: if args.all { None } else { Some(Vec::new()) },
        peers: args.net.net.peers.clone(),
    };
    let torrent = match client.add_torrent(meta.clone(), add) {
        Ok(t) => t,
        Err(e) => {
            let _ = client.shutdown();
            return Err(CliError::new(format!("{}: {e}", args.torrent)));
        }
    };
    let server = match http::Server::start(args.http, torrent.clone()) {
        Ok(s) => s,
        Err(e) => {
            let _ = client.shutdown();
            return Err(CliError::new(format!(
                "cannot serve HTTP on {}: {e} (choose another address with --http)",
                args.http
            )));
        }
    };
    let mut progress = Progress::new(Plain::Stdout, PLAIN_EVERY);
    let files = torrent.files().iter().filter(|f| !f.padding).count();
    let total: u64 = torrent.files().iter().map(|f| f.length).sum();
    progress.stdout(&format!(
        "streaming {} ({files} file{}, {}) into {}{}",
        torrent.name(),
        if files == 1 { "" } else { "s" },
        format::bytes(total),
        args.net.dir.display(),
        if args.all {
            "; downloading everything"
        } else {
            "; fetching what is read"
        }
    ));
    progress.stdout(&format!("listening on {}", client.local_addr()));
    progress.stdout(&format!("index: {}/", server.base_url()));
    let url = server.file_url(file).unwrap_or_else(|| server.base_url());
    progress.stdout(&format!("url: {url}"));
    progress.stdout("open the url in mpv, VLC or a browser; Ctrl-C to stop");
    note_peers(&args.net.net, &client, &meta);
    let mut trackers = TrackerLog::new(&torrent);

    let mut failed = None;
    while !interrupt.wait(TICK) {
        trackers.print(&progress);
        if let Some(e) = torrent.error() {
            failed = Some(e);
            break;
        }
        let figures = Figures::of(&torrent, Measure::Pieces);
        let extra = format!(
            "  http: {} requests, {} sent",
            server.requests(),
            format::bytes(server.body_bytes())
        );
        progress.show(&figures, &extra);
    }
    progress.finish();
    server.shutdown();
    let result = client.shutdown();
    if let Some(e) = failed {
        return Err(CliError::new(format!(
            "{}: {e}{}",
            torrent.name(),
            shutdown_note(result)
        )));
    }
    result.map_err(|e| CliError::new(format!("shutting down: {e}")))?;
    progress.stdout("stopped");
    Ok(())
}

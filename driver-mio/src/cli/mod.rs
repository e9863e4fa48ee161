//! Argument parsing and dispatch for the `sluice` command. Each subcommand lives
//! in its own module and returns `Result<(), CliError>`; this module turns an
//! error into one line on stderr and a non-zero exit code.

mod cat;
mod common;
mod create;
mod demo;
mod download;
mod format;
mod info;
mod interrupt;
mod progress;
mod seed;
mod stream;

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sluice: a streaming BitTorrent engine. Read any file of a torrent while it downloads.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what a .torrent file or magnet link describes (a magnet link's
    /// metadata is fetched from its peers and the DHT, or read from the cache).
    Info(info::Args),
    /// Make a .torrent from a file or a folder.
    Create(create::Args),
    /// Download a torrent (or some of its files) into a folder.
    Download(download::Args),
    /// Check data against a torrent, then share it until Ctrl-C.
    Seed(seed::Args),
    /// Serve a torrent's files over HTTP while they download (for mpv, VLC,
    /// ffmpeg, a browser).
    Stream(stream::Args),
    /// Write a file of a torrent, or a byte range of it, to standard output as
    /// it downloads.
    Cat(cat::Args),
    /// Show sluice at work on this machine, without the network: a loopback
    /// swarm, a streaming client and its HTTP server.
    Demo {
        /// Keep the demo's files in this folder instead of a temporary one.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// A failure to report to the user: one line, no backtrace, and an exit code.
#[derive(Debug)]
pub struct CliError {
    message: String,
    code: u8,
}

impl CliError {
    /// An error with the given message (exit code 1).
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 1,
        }
    }

    /// The command was stopped by Ctrl-C before it was done (exit code 130).
    pub fn interrupted(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: interrupt::EXIT_INTERRUPTED,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep the promise of one line even when a cause spans several.
        f.write_str(&self.message.replace('\n', " "))
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError::new(e.to_string())
    }
}

/// Parses the command line, runs the command, and reports the outcome.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => info::run(args),
        Command::Create(args) => create::run(args),
        Command::Download(args) => download::run(args),
        Command::Seed(args) => seed::run(args),
        Command::Stream(args) => stream::run(args),
        Command::Cat(args) => cat::run(args),
        Command::Demo { dir } => demo::run(dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code)
        }
    }
}

/// A bug must still end in one readable line rather than a backtrace dump.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error{place}: {message} (please report this bug)");
    }));
}

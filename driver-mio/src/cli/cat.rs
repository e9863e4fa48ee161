//! `sluice cat`: write a file of a torrent (or a byte range of it) to standard
//! output as its pieces are verified. Nothing else goes to standard output.

use std::io::{self, Read, Write};
use std::thread;
use std::time::Duration;

use sluice_mio::{AddOptions, FileReader};

use super::common::{choose_file, note_peers, read_source, start_client, NetArgs, TrackerLog};
use super::download::shutdown_note;
use super::interrupt::Interrupt;
use super::progress::{Figures, Measure, Plain, Progress};
use super::CliError;

const TICK: Duration = Duration::from_millis(100);

/// Arguments of `sluice cat`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent file or a magnet URI.
    torrent: String,
    #[command(flatten)]
    net: NetArgs,
    /// The file to write [default: the largest].
    #[arg(long, value_name = "N")]
    file: Option<usize>,
    /// Only these bytes: START-END (inclusive, END past the file's end means
    /// to its end), START- (to the end) or -N (the last N bytes).
    #[arg(long, value_name = "START-END", value_parser = parse_span, allow_hyphen_values = true)]
    range: Option<Span>,
}

/// A byte range as written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// `START-END` or `START-`.
    From(u64, Option<u64>),
    /// `-N`.
    Last(u64),
}

fn parse_span(text: &str) -> Result<Span, String> {
    let bad = || format!("'{text}' is not a range: expected START-END, START- or -N");
    let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
    let number = |s: &str| {
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse::<u64>().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Err(bad()),
        (true, false) => Ok(Span::Last(number(b)?)),
        (false, true) => Ok(Span::From(number(a)?, None)),
        (false, false) => {
            let (start, end) = (number(a)?, number(b)?);
            if start > end {
                return Err(format!("'{text}': START is after END"));
            }
            Ok(Span::From(start, Some(end)))
        }
    }
}

/// `span` in a file of `len` bytes, as `start..=end`; `None` for nothing.
fn resolve(span: Option<Span>, len: u64) -> Result<Option<(u64, u64)>, String> {
    if len == 0 {
        return match span {
            None => Ok(None),
            Some(_) => Err("the file is empty".into()),
        };
    }
    match span {
        None => Ok(Some((0, len - 1))),
        Some(Span::Last(0)) => Err("-0 is no bytes".into()),
        Some(Span::Last(n)) => Ok(Some((len - n.min(len), len - 1))),
        Some(Span::From(start, _)) if start >= len => Err(format!(
            "the range starts at byte {start}, past the end of the file ({len} bytes)"
        )),
        Some(Span::From(start, end)) => Ok(Some((start, end.map_or(len - 1, |e| e.min(len - 1))))),
    }
}

/// Writes the bytes, then shuts down.
pub fn run(mut args: Args) -> Result<(), CliError> {
    let client = start_client(&args.net.dir, &args.net.net, |_| {})?;
    let meta = read_source(&args.torrent, &mut args.net, &client)?;
    let chosen = choose_file(&meta, args.file).and_then(|file| {
        let f = &meta.info.files[file];
        let range = resolve(args.range, f.length)
            .map_err(|e| CliError::new(format!("{}: {e}", f.display_path())))?;
        Ok((file, range))
    });
    let (file, Some((start, end))) = chosen.inspect_err(|_| {
        let _ = client.clone().shutdown();
    })?
    else {
        return client.shutdown().map_err(CliError::from);
    };
    let mut interrupt = Interrupt::install()?;
    note_peers(&args.net.net, &client, &meta);
    let add = AddOptions {
        selected: Some(Vec::new()),
        peers: args.net.net.peers.clone(),
    };
    let opened = client
        .add_torrent(meta, add)
        .and_then(|t| Ok((t.range_reader(file, start..=end)?, t)));
    let (reader, torrent) = match opened {
        Ok(pair) => pair,
        Err(e) => {
            let _ = client.shutdown();
            return Err(CliError::new(format!("{}: {e}", args.torrent)));
        }
    };
    let copier = thread::Builder::new()
        .name("sluice-cat".into())
        .spawn(move || copy(reader))
        .map_err(|e| CliError::new(format!("cannot start a thread: {e}")))?;
    let mut progress = Progress::new(Plain::Off, Duration::MAX);
    let mut trackers = TrackerLog::new(&torrent);
    let mut interrupted = false;
    while !copier.is_finished() {
        trackers.print(&progress);
        if interrupt.wait(TICK) {
            // Stopping the torrent ends the read the copier waits in.
            interrupted = true;
            break;
        }
        progress.show(&Figures::of(&torrent, Measure::Pieces), "");
    }
    trackers.print(&progress);
    progress.finish();
    let shutdown = client.shutdown();
    let copied = copier
        .join()
        .map_err(|_| CliError::new("the copying thread failed"))?;
    if interrupted {
        return Err(CliError::interrupted(format!(
            "interrupted{}",
            shutdown_note(shutdown)
        )));
    }
    match copied {
        Ok(()) => shutdown.map_err(|e| CliError::new(format!("shutting down: {e}"))),
        Err(e) => Err(CliError::new(format!(
            "{}: {e}{}",
            torrent.name(),
            shutdown_note(shutdown)
        ))),
    }
}

/// Copies the reader to stdout, flushing as bytes come. A closed stdout (as
/// with `| head`) ends the copy without an error.
fn copy(mut reader: FileReader) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        match out.write_all(&buf[..n]).and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(io::Error::new(e.kind(), format!("standard output: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(parse_span("0-99"), Ok(Span::From(0, Some(99))));
        assert_eq!(parse_span("5-"), Ok(Span::From(5, None)));
        assert_eq!(parse_span("-7"), Ok(Span::Last(7)));
        for bad in ["", "-", "a-b", "5-4", "1-2-3", "+1-2", "1", " - 1"] {
            assert!(parse_span(bad).is_err(), "{bad:?}");
        }
        assert_eq!(resolve(None, 10), Ok(Some((0, 9))));
        assert_eq!(resolve(None, 0), Ok(None));
        assert!(resolve(Some(Span::From(0, None)), 0).is_err());
        assert_eq!(
            resolve(Some(Span::From(2, Some(100))), 10),
            Ok(Some((2, 9)))
        );
        assert_eq!(resolve(Some(Span::Last(100)), 10), Ok(Some((0, 9))));
        assert_eq!(resolve(Some(Span::Last(3)), 10), Ok(Some((7, 9))));
        assert!(resolve(Some(Span::Last(0)), 10).is_err());
        assert!(resolve(Some(Span::From(10, None)), 10).is_err());
    }
}

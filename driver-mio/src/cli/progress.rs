//! Progress of a torrent: a bar on a terminal, plain periodic lines otherwise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use sluice_mio::TorrentHandle;

use super::format;

/// Where plain progress lines go when stderr is not a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plain {
    /// Standard output (commands whose output is a log).
    Stdout,
    /// Nowhere (commands whose standard output is data).
    Off,
}

/// What is measured: bytes of the selected files, or pieces of the torrent
/// (when nothing is selected and readers decide what is fetched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Bytes wanted in all.
    Bytes(u64),
    /// Pieces.
    Pieces,
}

/// The figures shown.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    done: u64,
    of: u64,
    pieces: bool,
    down: u64,
    up: u64,
    peers: usize,
    uploaded: u64,
}

impl Figures {
    /// The torrent's figures now.
    pub fn of(t: &TorrentHandle, measure: Measure) -> Figures {
        let stats = t.stats().unwrap_or_default();
        let (have, total) = t.progress();
        let (done, of, pieces) = match measure {
            Measure::Bytes(wanted) => (wanted.saturating_sub(stats.left), wanted, false),
            Measure::Pieces => (u64::from(have), u64::from(total), true),
        };
        Figures {
            done,
            of,
            pieces,
            down: stats.download_rate,
            up: stats.upload_rate,
            peers: stats.peers,
            uploaded: stats.uploaded,
        }
    }

    /// Bytes uploaded so far.
    pub fn uploaded(&self) -> u64 {
        self.uploaded
    }

    fn percent(&self) -> f64 {
        if self.of == 0 {
            100.0
        } else {
            self.done as f64 * 100.0 / self.of as f64
        }
    }

    fn amount(&self) -> String {
        if self.pieces {
            format!("{}/{} pieces", self.done, self.of)
        } else {
            format!("{}/{}", format::bytes(self.done), format::bytes(self.of))
        }
    }

    /// `down 1.0 MiB/s  up 0 B/s  peers 2  eta 12s`.
    fn rates(&self) -> String {
        let mut s = format!(
            "down {}/s  up {}/s  peers {}",
            format::bytes(self.down),
            format::bytes(self.up),
            self.peers
        );
        if !self.pieces && self.done < self.of {
            s.push_str("  eta ");
            let eta = (self.of - self.done).checked_div(self.down);
            s.push_str(&eta.map_or_else(|| "-".to_string(), duration));
        }
        s
    }

    /// One line with everything.
    pub fn line(&self) -> String {
        format!(
            "{:5.1}%  {}  {}",
            self.percent(),
            self.amount(),
            self.rates()
        )
    }
}

/// `75` → `1m15s`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
    }
}

/// Shows progress: a bar on stderr when it is a terminal, else a plain line at
/// most every `every`.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Plain,
    every: Duration,
    last: Option<Instant>,
}

impl Progress {
    /// A display; plain lines go to `plain` when stderr is not a terminal.
    pub fn new(plain: Plain, every: Duration) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(1000);
            let style = ProgressStyle::with_template("[{bar:30}] {msg}")
                .expect("the template is valid")
                .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress {
            bar,
            plain,
            every,
            last: None,
        }
    }

    /// Shows `figures`, with `extra` after them.
    pub fn show(&mut self, figures: &Figures, extra: &str) {
        let text = format!("{}{extra}", figures.line());
        if let Some(bar) = &self.bar {
            bar.set_position((figures.percent() * 10.0) as u64);
            bar.set_message(text);
            return;
        }
        if self.last.is_some_and(|t| t.elapsed() < self.every) {
            return;
        }
        self.last = Some(Instant::now());
        self.print(&text);
    }

    /// Prints a line on stdout, whatever `plain` says, keeping the bar intact.
    pub fn stdout(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| print_stdout(text)),
            None => print_stdout(text),
        }
    }

    /// Prints a line on stderr, keeping the bar intact.
    pub fn stderr(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    fn print(&self, text: &str) {
        match self.plain {
            Plain::Stdout => print_stdout(text),
            Plain::Off => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// A line on stdout, flushed at once (stdout may be a pipe someone waits on).
pub fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(75), "1m15s");
        assert_eq!(duration(3 * 3600 + 120), "3h02m");
    }

    #[test]
    fn lines() {
        let f = Figures {
            done: 1 << 20,
            of: 4 << 20,
            down: 1 << 20,
            peers: 2,
            ..Figures::default()
        };
        assert_eq!(
            f.line(),
            " 25.0%  1.0 MiB/4.0 MiB  down 1.0 MiB/s  up 0 B/s  peers 2  eta 3s"
        );
    }
}

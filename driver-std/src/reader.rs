//! [`FileReader`]: a blocking `Read + Seek` over a file (or a byte range of
//! it) while the torrent downloads. Each reader is a stream in the engine, so
//! the pieces under its position are fetched first; a read waits until the
//! bytes it returns are verified, and never returns unverified ones.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::time::Duration;

use sluice_core::torrent::StreamId;

use crate::command::Command;
use crate::error::Error;
use crate::handle::TorrentHandle;
use crate::storage::read_payload;

/// Tell the engine about consumption at least this often.
const TELL_EVERY: u64 = 64 * 1024;

/// A reader over `range` of one file. Positions (for `Seek`) are relative to
/// the start of the range. Dropping it closes its stream.
pub struct FileReader {
    torrent: TorrentHandle,
    file: usize,
    /// File-relative bytes.
    range: Range<u64>,
    /// File-relative position.
    pos: u64,
    /// Opened at the first read, at the position then.
    stream: Option<StreamId>,
    told: u64,
    /// Longest a read waits for data before failing with `TimedOut`.
    timeout: Option<Duration>,
}

impl FileReader {
    pub(crate) fn new(
        torrent: TorrentHandle,
        file: usize,
        range: Range<u64>,
    ) -> Result<FileReader, Error> {
        Ok(FileReader {
            torrent,
            file,
            pos: range.start,
            told: range.start,
            range,
            stream: None,
            timeout: None,
        })
    }

    /// Opens the reader's stream in the engine now rather than at the first
    /// read, so the pieces at its position are on their way while the caller
    /// does something else first (an HTTP server sends its response head).
    ///
    /// ```no_run
    /// # fn demo(t: sluice_std::TorrentHandle) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut r = t.range_reader(0, 1_000_000..=1_999_999)?;
    /// r.start_fetching()?;
    /// // ... prepare the response; the first piece is already being fetched.
    /// # Ok(())
    /// # }
    /// ```
    pub fn start_fetching(&mut self) -> io::Result<()> {
        self.ensure_stream().map(drop)
    }

    /// Makes reads that wait longer than `timeout` for verified bytes fail
    /// with [`io::ErrorKind::TimedOut`] (the reader stays usable; read again
    /// to keep waiting). `None`, the default, waits as long as it takes. A
    /// server uses this to notice, while a piece is slow to come, that its
    /// client went away, and drop the reader (and its stream) at once.
    ///
    /// ```no_run
    /// # fn demo(t: sluice_std::TorrentHandle) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let mut r = t.reader(0)?;
    /// r.set_read_timeout(Some(Duration::from_millis(200)));
    /// let mut buf = [0u8; 4096];
    /// loop {
    ///     match r.read(&mut buf) {
    ///         Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue, // check the client here
    ///         other => break other.map(drop)?,
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Bytes in the reader's range.
    pub fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    /// True for an empty range (never, for readers the handle makes).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The position, relative to the start of the range.
    pub fn position(&self) -> u64 {
        self.pos - self.range.start
    }

    fn ensure_stream(&mut self) -> io::Result<StreamId> {
        if let Some(id) = self.stream {
            return Ok(id);
        }
        let (file, range, position) = (self.file, self.range.clone(), self.pos);
        let id = self
            .torrent
            .request(|reply| Command::OpenStream {
                file,
                range,
                position,
                reply,
            })?
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        self.stream = Some(id);
        self.told = position;
        Ok(id)
    }

    /// Waits until the byte at the position is verified; returns the
    /// file-relative end of the verified run that starts there.
    fn wait_verified(&self) -> io::Result<u64> {
        let inner = &self.torrent.inner;
        let layout = inner.meta.layout();
        let base = layout.file_offset(self.file);
        let piece_length = u64::from(layout.piece_length());
        let first = ((base + self.pos) / piece_length) as u32;
        let last = ((base + self.range.end - 1) / piece_length) as u32;
        let end = inner.shared.wait_for(self.timeout, |s| {
            if let Some(e) = &s.error {
                return Some(Err(io::Error::other(format!("torrent failed: {e}"))));
            }
            if s.stopped {
                return Some(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "torrent was stopped",
                )));
            }
            if !s.have.get(first) {
                return None;
            }
            let mut p = first;
            while p <= last && s.have.get(p) {
                p += 1;
            }
            let run_end = if p > last {
                self.range.end
            } else {
                layout.piece_offset(p) - base
            };
            Some(Ok(run_end.min(self.range.end)))
        });
        end.unwrap_or_else(|| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no verified data within the read timeout",
            ))
        })
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.range.end {
            return Ok(0);
        }
        let id = self.ensure_stream()?;
        let available = self.wait_verified()?;
        let n = (available - self.pos).min(buf.len() as u64) as usize;
        let inner = &self.torrent.inner;
        let layout = inner.meta.layout();
        let at = layout.file_offset(self.file) + self.pos;
        read_payload(&*inner.storage, &layout, at, &mut buf[..n])?;
        self.pos += n as u64;
        if self.pos - self.told >= TELL_EVERY || self.pos == self.range.end {
            self.told = self.pos;
            let _ = self.torrent.command(Command::SeekStream(id, self.pos));
        }
        Ok(n)
    }
}

impl Seek for FileReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => self.range.start.checked_add(n),
            SeekFrom::End(d) => self.range.end.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = match target {
            Some(t) if t >= self.range.start => t.min(self.range.end),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "seek before the start of the range",
                ))
            }
        };
        if target != self.pos {
            self.pos = target;
            self.told = target;
            if let Some(id) = self.stream {
                let _ = self.torrent.command(Command::SeekStream(id, target));
            }
        }
        Ok(self.pos - self.range.start)
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        if let Some(id) = self.stream {
            let _ = self.torrent.command(Command::CloseStream(id));
        }
    }
}

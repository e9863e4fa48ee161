//! Streams: byte ranges of files that a reader consumes while the torrent
//! downloads (torrent-stream's `createReadStream`).
//!
//! Each stream has a position. The pieces from the position through a
//! read-ahead window outrank everything else; the first missing one is urgent.
//! The window is bounded twice: by what the measured download rate fetches in
//! `readahead_time`, and by a budget that grows only as the reader consumes
//! (so a player's small probe reads do not each grab a whole window). A stream
//! opened at the very start of a file also wants the file's last piece early,
//! where containers such as MP4 keep their index.
//!
//! Seeking outside the window re-aims at once: requests that served the old
//! position are cancelled and the new urgent piece is asked for in the same
//! call. Readers learn through [`Event::StreamReady`] when the bytes at their
//! position are verified; unverified bytes are never announced.

use core::fmt;
use core::ops::Range;
use std::collections::BTreeMap;

use crate::time::Time;

use super::output::Event;
use super::{StreamId, Torrent};

/// Requests kept at each peer when a seek re-aims (likely already on the wire).
const KEEP_ON_SEEK: usize = 1;

/// Smallest read-ahead, in bytes (or two pieces, if larger).
const MIN_READAHEAD: u64 = 1 << 20;

/// Why a stream command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// No file with this index.
    NoSuchFile(usize),
    /// The range is empty or goes past the end of the file.
    BadRange {
        /// The range asked for.
        range: Range<u64>,
        /// The file's length.
        file_length: u64,
    },
    /// The position is outside the stream's range.
    BadPosition(u64),
    /// No stream with this id.
    NoSuchStream,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::NoSuchFile(i) => write!(f, "no file {i} in the torrent"),
            StreamError::BadRange { range, file_length } => write!(
                f,
                "range {}..{} does not fit a file of {file_length} bytes",
                range.start, range.end
            ),
            StreamError::BadPosition(p) => write!(f, "position {p} is outside the stream"),
            StreamError::NoSuchStream => f.write_str("no such stream"),
        }
    }
}

impl std::error::Error for StreamError {}

#[derive(Debug, Clone)]
struct Stream {
    file: usize,
    /// File-relative byte range.
    start: u64,
    end: u64,
    pos: u64,
    /// Read-ahead the reader has earned by consuming.
    budget: u64,
    /// End of the verified run last announced.
    notified: u64,
    /// Opened at byte 0 of the file: wants the tail early.
    from_start: bool,
    /// End of the window at the last computation (payload offset).
    window_end: u64,
    /// Opened, or moved by a seek, and nothing verified at the position
    /// since: the reader starts from scratch, so the peers asked for its
    /// piece are asked for nothing else until it is in (the picker's hold).
    /// A reader that caught up with the download while reading along is not
    /// fresh: there the hold would idle each peer for a round trip per piece.
    fresh: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Streams {
    map: BTreeMap<StreamId, Stream>,
    next: u32,
}

impl Torrent {
    /// Opens a stream on `range` of `file` (file-relative bytes, end
    /// exclusive). Its first piece is asked for before this returns, from every
    /// peer that has it if need be.
    pub fn open_stream(
        &mut self,
        now: Time,
        file: usize,
        range: Range<u64>,
    ) -> Result<StreamId, StreamError> {
        let start = range.start;
        self.open_stream_at(now, file, range, start)
    }

    /// Opens a stream on `range` of `file` with its position already at
    /// `position` (a reader over a whole file that starts reading in the
    /// middle): nothing is asked for the start of the range.
    pub fn open_stream_at(
        &mut self,
        now: Time,
        file: usize,
        range: Range<u64>,
        position: u64,
    ) -> Result<StreamId, StreamError> {
        if file >= self.layout.file_count() || self.info.files[file].padding {
            return Err(StreamError::NoSuchFile(file));
        }
        let file_length = self.layout.file_length(file);
        if range.start >= range.end || range.end > file_length {
            return Err(StreamError::BadRange { range, file_length });
        }
        if position < range.start || position > range.end {
            return Err(StreamError::BadPosition(position));
        }
        let id = StreamId(self.streams.next);
        self.streams.next += 1;
        let min = self.min_readahead();
        self.streams.map.insert(
            id,
            Stream {
                file,
                start: range.start,
                end: range.end,
                pos: position,
                budget: min,
                notified: position,
                from_start: position == 0,
                window_end: 0,
                fresh: true,
            },
        );
        self.apply_stream_order(now, true);
        self.notify_stream(id);
        self.flush_transmits();
        Ok(id)
    }

    /// Moves a stream's position (file-relative). Moving forward inside the
    /// read-ahead is consumption and grows the window; anything else is a seek
    /// that re-aims requests at the new position.
    pub fn seek_stream(
        &mut self,
        now: Time,
        id: StreamId,
        position: u64,
    ) -> Result<(), StreamError> {
        let min = self.min_readahead();
        let max = self.cfg.max_readahead;
        let file_offset = {
            let s = self.streams.map.get(&id).ok_or(StreamError::NoSuchStream)?;
            if position < s.start || position > s.end {
                return Err(StreamError::BadPosition(position));
            }
            self.layout.file_offset(s.file)
        };
        let s = self.streams.map.get_mut(&id).expect("checked above");
        let consumed = position >= s.pos && file_offset + position <= s.window_end;
        if consumed {
            let step = position - s.pos;
            s.budget = s.budget.saturating_add(step.saturating_mul(2)).min(max);
        } else {
            s.budget = min;
            s.from_start = false;
            s.fresh = true;
        }
        s.pos = position;
        s.notified = s.notified.max(position);
        if !consumed {
            s.notified = position;
        }
        self.apply_stream_order(now, !consumed);
        self.notify_stream(id);
        self.flush_transmits();
        Ok(())
    }

    /// Closes a stream; its pieces lose their precedence.
    pub fn close_stream(&mut self, now: Time, id: StreamId) {
        if self.streams.map.remove(&id).is_some() {
            self.apply_stream_order(now, false);
            self.flush_transmits();
        }
    }

    /// The verified bytes at a stream's position: `position..available`.
    pub fn stream_available(&self, id: StreamId) -> Option<Range<u64>> {
        let s = self.streams.map.get(&id)?;
        Some(s.pos..self.verified_run_end(s))
    }

    /// Open streams.
    pub fn stream_count(&self) -> usize {
        self.streams.map.len()
    }

    fn min_readahead(&self) -> u64 {
        MIN_READAHEAD.max(2 * u64::from(self.layout.piece_length()))
    }

    /// Once a second: the rate-bound window may have changed.
    pub(super) fn refresh_streams(&mut self, now: Time) {
        if !self.streams.map.is_empty() {
            self.apply_stream_order(now, false);
        }
    }

    /// A piece was verified: readers at it may go on, and the urgent piece moves.
    pub(super) fn streams_piece_verified(&mut self, now: Time, piece: u32) {
        if self.streams.map.is_empty() {
            return;
        }
        let ids: Vec<StreamId> = self.streams.map.keys().copied().collect();
        for id in ids {
            self.notify_stream(id);
        }
        if self.picker.stream_order().contains(&piece) {
            self.apply_stream_order(now, false);
        }
    }

    /// End (file-relative) of the verified run starting at the position.
    fn verified_run_end(&self, s: &Stream) -> u64 {
        if s.pos >= s.end {
            return s.end;
        }
        let base = self.layout.file_offset(s.file);
        let last = self.piece_at(base + s.end - 1);
        let mut p = self.piece_at(base + s.pos);
        while p <= last && self.picker.have().get(p) {
            p += 1;
        }
        if p > last {
            return s.end;
        }
        let end = self.layout.piece_offset(p).saturating_sub(base);
        end.clamp(s.pos, s.end)
    }

    fn piece_at(&self, payload_offset: u64) -> u32 {
        (payload_offset / u64::from(self.layout.piece_length())) as u32
    }

    /// Emits `StreamReady` if more bytes at the position are verified than
    /// last announced.
    fn notify_stream(&mut self, id: StreamId) {
        let Some(s) = self.streams.map.get(&id) else {
            return;
        };
        let available = self.verified_run_end(s);
        if available > s.pos && available > s.notified || available == s.end && s.notified < s.end {
            let position = s.pos;
            let s = self.streams.map.get_mut(&id).expect("present");
            s.notified = available;
            s.fresh &= available <= position;
            self.event(Event::StreamReady {
                stream: id,
                position,
                available,
            });
        }
    }

    /// Recomputes the stream order from every stream's position and window,
    /// hands it to the picker and, when `reaim`, cancels requests that served
    /// old positions.
    fn apply_stream_order(&mut self, now: Time, reaim: bool) {
        let rate_window = {
            let rate = self.down_rate.rate(now);
            let by_rate =
                u64::try_from(u128::from(rate) * self.cfg.readahead_time.as_micros() / 1_000_000)
                    .unwrap_or(u64::MAX);
            by_rate.clamp(
                self.min_readahead(),
                self.cfg.max_readahead.max(self.min_readahead()),
            )
        };
        let mut lists: Vec<Vec<u32>> = Vec::new();
        let mut waiting = Vec::new();
        let ids: Vec<StreamId> = self.streams.map.keys().copied().collect();
        for id in ids {
            let s = self.streams.map[&id].clone();
            if s.pos >= s.end {
                continue;
            }
            let base = self.layout.file_offset(s.file);
            let window = s.budget.min(rate_window);
            let window_end = (base + s.pos).saturating_add(window).min(base + s.end);
            self.streams.map.get_mut(&id).expect("present").window_end = window_end;
            let first = self.piece_at(base + s.pos);
            let last = self.piece_at(window_end - 1);
            let mut list: Vec<u32> = (first..=last)
                .filter(|&p| !self.picker.have().get(p))
                .collect();
            if s.fresh && list.first() == Some(&first) {
                waiting.push(first);
            }
            let tail = self.piece_at(base + s.end - 1);
            if s.from_start && tail > last && !self.picker.have().get(tail) {
                list.insert(list.len().min(2), tail);
            }
            if !list.is_empty() {
                lists.push(list);
            }
        }
        // The first missing piece of each stream is urgent; the rest interleave.
        let urgent = lists.len();
        let mut order: Vec<u32> = lists.iter().map(|l| l[0]).collect();
        let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
        for i in 1..longest {
            for l in &lists {
                if let Some(&p) = l.get(i) {
                    order.push(p);
                }
            }
        }
        let changed = self.picker.set_stream_pieces(order, urgent);
        let released = self.picker.set_stream_waiting(&waiting);
        self.wanted_changed(&changed);
        self.check_finished();
        if reaim {
            self.reaim_requests(now, KEEP_ON_SEEK);
        }
        let keys = if reaim {
            self.keys_from_random()
        } else {
            self.keys()
        };
        for key in keys {
            self.update_interest(now, key);
        }
        if released {
            self.refill_all(now);
        }
    }
}

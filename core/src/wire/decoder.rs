//! The incremental decoder: bytes in, in any split; handshake and messages out.

use core::fmt;

use super::decode::{decode_message, frame_extent};
use super::handshake::check_prefix;
use super::{DecoderConfig, Handshake, Message, WireError};

/// Storage never grows by less than this, so a trickle of small frames does
/// not reallocate on every feed.
const MIN_GROWTH: usize = 4 * 1024;

/// Turns a byte stream, split anywhere, into a handshake and then messages.
///
/// Use it in three steps, again and again:
///
/// 1. **Feed** what arrived: [`feed`](Decoder::feed) copies from a slice, or
///    [`read_with`](Decoder::read_with) lets the driver read from its socket
///    straight into the decoder's buffer. Both take only what fits and say how
///    much that was.
/// 2. If a handshake is expected, call [`next_handshake`](Decoder::next_handshake)
///    until it returns it (`Ok(None)` means "not all there yet").
/// 3. Drain [`next_message`](Decoder::next_message) until it returns `Ok(None)`.
///    Messages borrow the decoder's buffer, so each one must be handled (or
///    copied) before the next call.
///
/// **Memory** is bounded: at most [`limit`](Decoder::limit) bytes are held,
/// `max_frame + 4` (or the 68 of a handshake, if larger), and storage is
/// allocated as frames need it, not up front. The buffer compacts itself.
///
/// **Progress** is guaranteed: when `feed` takes fewer bytes than it was
/// offered, a handshake, a message or an error is ready, so a driver that
/// alternates feeding and draining never spins.
///
/// **Errors**: a fatal [`WireError`] (see [`WireError::is_fatal`]) poisons the
/// decoder: every later `next_*` call returns the same error and `feed`
/// takes nothing; the peer should be disconnected. After
/// [`WireError::UnknownMessage`] the unknown frame has been skipped and
/// decoding can go on, or the engine may close the connection.
///
/// ```
/// use sluice_core::wire::{Decoder, DecoderConfig, Handshake, Message, Reserved};
/// use sluice_core::{InfoHash, PeerId};
///
/// // What a peer sends: its handshake, then 'unchoke' and a 'have'.
/// let hs = Handshake {
///     reserved: Reserved::sluice_default(),
///     info_hash: InfoHash([1; 20]),
///     peer_id: PeerId([2; 20]),
/// };
/// let mut stream = Vec::new();
/// hs.encode(&mut stream);
/// Message::Unchoke.encode(&mut stream);
/// Message::Have { piece: 7 }.encode(&mut stream);
///
/// let mut dec = Decoder::new(DecoderConfig::default(), true);
/// let mut got = Vec::new();
/// let mut handshake = None;
/// // The bytes arrive in reads of 5 bytes.
/// for read in stream.chunks(5) {
///     let mut rest = read;
///     while !rest.is_empty() {
///         let n = dec.feed(rest);
///         rest = &rest[n..];
///         if handshake.is_none() {
///             handshake = dec.next_handshake()?;
///             if handshake.is_none() {
///                 continue;
///             }
///         }
///         while let Some(msg) = dec.next_message()? {
///             got.push(format!("{msg:?}"));
///         }
///     }
/// }
/// assert_eq!(handshake, Some(hs));
/// assert_eq!(got, ["Unchoke", "Have { piece: 7 }"]);
/// # Ok::<(), sluice_core::wire::WireError>(())
/// ```
pub struct Decoder {
    cfg: DecoderConfig,
    /// Storage. Bytes `start..end` are received and not yet decoded; its
    /// length never exceeds `limit()`. Invariant: `start <= end <= buf.len()`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    phase: Phase,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Handshake,
    Messages,
    Failed(WireError),
}

impl Decoder {
    /// A decoder that expects a [`Handshake`] first if `expect_handshake`, or
    /// messages straight away (when the handshake was read elsewhere).
    pub fn new(cfg: DecoderConfig, expect_handshake: bool) -> Self {
        Decoder {
            cfg,
            buf: Vec::new(),
            start: 0,
            end: 0,
            phase: if expect_handshake {
                Phase::Handshake
            } else {
                Phase::Messages
            },
        }
    }

    /// The configuration messages are checked against.
    pub fn config(&self) -> &DecoderConfig {
        &self.cfg
    }

    /// Sets the torrent's piece count, once the metadata is known. Later
    /// messages are checked against it; a bitfield received before should be
    /// checked with [`validate_bitfield`](super::validate_bitfield).
    pub fn set_piece_count(&mut self, piece_count: u32) {
        self.cfg.piece_count = Some(piece_count);
    }

    /// True until [`next_handshake`](Decoder::next_handshake) has returned the
    /// handshake (and never, for a decoder made without one).
    pub fn expects_handshake(&self) -> bool {
        self.phase == Phase::Handshake
    }

    /// The fatal error this decoder stopped at, if any.
    pub fn error(&self) -> Option<&WireError> {
        match &self.phase {
            Phase::Failed(err) => Some(err),
            _ => None,
        }
    }

    /// Bytes received and not yet decoded. Never more than
    /// [`limit`](Decoder::limit).
    pub fn buffered_len(&self) -> usize {
        self.end - self.start
    }

    /// Bytes of storage currently allocated for the buffer. Never more than
    /// [`limit`](Decoder::limit).
    pub fn allocated(&self) -> usize {
        self.buf.len()
    }

    /// The most this decoder ever buffers: `max_frame + 4`, or
    /// [`Handshake::LEN`] if that is larger.
    pub fn limit(&self) -> usize {
        usize::try_from(self.cfg.max_frame)
            .unwrap_or(usize::MAX)
            .saturating_add(4)
            .max(Handshake::LEN)
    }

    /// How many bytes [`feed`](Decoder::feed) would take now: zero once the
    /// decoder has failed.
    pub fn room(&self) -> usize {
        match self.phase {
            Phase::Failed(_) => 0,
            _ => self.limit().saturating_sub(self.buffered_len()),
        }
    }

    /// Appends as much of `bytes` as fits and returns how many bytes were
    /// taken. The caller feeds the rest after draining: when fewer bytes than
    /// offered are taken, a handshake, message or error is ready. Takes
    /// nothing once the decoder has failed.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.room());
        let Some(src) = bytes.get(..n) else {
            return 0;
        };
        if n == 0 {
            return 0;
        }
        self.make_room(n);
        // `make_room` left at least `n` bytes of storage after `end`.
        self.buf[self.end..self.end + n].copy_from_slice(src);
        self.end += n;
        n
    }

    /// Lends `read` up to `max` bytes of free buffer space to fill (for
    /// instance with a socket read) and keeps the bytes it reports, so they
    /// are not copied through another buffer first.
    ///
    /// Returns `Ok(None)` without calling `read` when there is no room (drain
    /// messages first, or the decoder has failed), so `Ok(Some(0))` always
    /// means `read` itself returned 0. A count larger than the slice it was
    /// given is clamped to the slice.
    ///
    /// ```
    /// use sluice_core::wire::{Decoder, DecoderConfig, Message};
    ///
    /// let mut dec = Decoder::new(DecoderConfig::default(), false);
    /// let incoming = [0u8, 0, 0, 1, 2];
    /// let got = dec.read_with(64 * 1024, |buf| {
    ///     buf[..incoming.len()].copy_from_slice(&incoming);
    ///     Ok::<_, std::io::Error>(incoming.len())
    /// });
    /// assert_eq!(got.unwrap(), Some(5));
    /// assert_eq!(dec.next_message(), Ok(Some(Message::Interested)));
    /// ```
    pub fn read_with<E>(
        &mut self,
        max: usize,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Option<usize>, E> {
        let n = max.min(self.room());
        if n == 0 {
            return Ok(None);
        }
        self.make_room(n);
        // `make_room` left at least `n` bytes of storage after `end`.
        let got = read(&mut self.buf[self.end..self.end + n])?.min(n);
        self.end += got;
        Ok(Some(got))
    }

    /// Ensures `n` bytes of storage after `end`, compacting and growing as
    /// needed. The caller guarantees `buffered_len() + n <= limit()`.
    fn make_room(&mut self, n: usize) {
        if self.buf.len() - self.end >= n {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end >= n {
                return;
            }
        }
        let limit = self.limit();
        let needed = self.end + n;
        let grown = self.buf.len().saturating_mul(2).max(MIN_GROWTH).min(limit);
        let new_len = needed.max(grown);
        self.buf.reserve_exact(new_len - self.buf.len());
        self.buf.resize(new_len, 0);
    }

    /// Releases storage not needed for the bytes now buffered, for instance
    /// when a connection goes idle after a burst of large frames.
    pub fn shrink_to_fit(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        self.buf.truncate(self.end);
        self.buf.shrink_to_fit();
    }

    fn fail(&mut self, err: WireError) -> WireError {
        self.phase = Phase::Failed(err.clone());
        err
    }

    /// The peer's handshake, once all 68 bytes have arrived.
    ///
    /// `Ok(None)`: not all there yet. [`WireError::BadProtocolString`] is
    /// reported from the first byte that differs from
    /// [`Handshake::PREFIX`], so a stream that is not BitTorrent is refused
    /// early. After the handshake has been returned, messages follow.
    /// [`WireError::HandshakeNotExpected`] if the decoder was made without a
    /// handshake or has already returned it.
    pub fn next_handshake(&mut self) -> Result<Option<Handshake>, WireError> {
        match &self.phase {
            Phase::Failed(err) => return Err(err.clone()),
            Phase::Messages => return Err(WireError::HandshakeNotExpected),
            Phase::Handshake => {}
        }
        let avail = &self.buf[self.start..self.end];
        if let Err(err) = check_prefix(avail) {
            return Err(self.fail(err));
        }
        if avail.len() < Handshake::LEN {
            return Ok(None);
        }
        match Handshake::decode(avail) {
            Ok(hs) => {
                self.start += Handshake::LEN;
                self.phase = Phase::Messages;
                Ok(Some(hs))
            }
            Err(err) => Err(self.fail(err)),
        }
    }

    /// The next complete message, borrowed from the buffer, or `Ok(None)` if
    /// the next frame has not fully arrived.
    ///
    /// Errors are those of [`decode_frame`](super::decode_frame): an oversized
    /// or impossible length is refused as soon as its header is buffered. All
    /// but [`WireError::UnknownMessage`] (after which the frame is skipped)
    /// poison the decoder. [`WireError::HandshakePending`] if the handshake
    /// has not been taken with [`next_handshake`](Decoder::next_handshake).
    pub fn next_message(&mut self) -> Result<Option<Message<'_>>, WireError> {
        match &self.phase {
            Phase::Failed(err) => return Err(err.clone()),
            Phase::Handshake => return Err(WireError::HandshakePending),
            Phase::Messages => {}
        }
        let total = match frame_extent(&self.buf[self.start..self.end], &self.cfg) {
            Ok(Some(total)) => total,
            Ok(None) => {
                if self.start == self.end {
                    self.start = 0;
                    self.end = 0;
                }
                return Ok(None);
            }
            Err(err) => return Err(self.fail(err)),
        };
        // `frame_extent` returned 4 <= total <= end - start.
        let frame = self.start;
        self.start += total;
        if self.start == self.end {
            // Everything is consumed; the next feed can start at 0. The bytes
            // stay in place for the message borrowed below.
            self.start = 0;
            self.end = 0;
        }
        match decode_message(&self.buf[frame + 4..frame + total], &self.cfg) {
            Ok(msg) => Ok(Some(msg)),
            Err(err) if !err.is_fatal() => Err(err),
            Err(err) => {
                // Not `self.fail`: `self.buf` is still borrowed on this path.
                self.phase = Phase::Failed(err.clone());
                Err(err)
            }
        }
    }
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("cfg", &self.cfg)
            .field("phase", &self.phase)
            .field("buffered", &self.buffered_len())
            .field("allocated", &self.buf.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{InfoHash, PeerId};
    use crate::wire::Reserved;

    fn hs() -> Handshake {
        Handshake {
            reserved: Reserved::sluice_default(),
            info_hash: InfoHash([0x11; 20]),
            peer_id: PeerId([0x22; 20]),
        }
    }

    fn small(max_frame: u32) -> DecoderConfig {
        DecoderConfig {
            max_frame,
            piece_count: None,
        }
    }

    #[test]
    fn handshake_then_messages_byte_by_byte() {
        let mut stream = Vec::new();
        hs().encode(&mut stream);
        Message::Bitfield(&[0xf0]).encode(&mut stream);
        Message::KeepAlive.encode(&mut stream);
        Message::Port(6881).encode(&mut stream);

        let mut dec = Decoder::new(DecoderConfig::default(), true);
        assert!(dec.expects_handshake());
        assert_eq!(dec.next_message(), Err(WireError::HandshakePending));
        let mut got_hs = None;
        let mut got = Vec::new();
        for b in &stream {
            assert_eq!(dec.feed(&[*b]), 1);
            if got_hs.is_none() {
                got_hs = dec.next_handshake().unwrap();
                continue;
            }
            while let Some(msg) = dec.next_message().unwrap() {
                got.push(format!("{msg:?}"));
            }
        }
        assert_eq!(got_hs, Some(hs()));
        assert!(!dec.expects_handshake());
        assert_eq!(dec.next_handshake(), Err(WireError::HandshakeNotExpected));
        assert_eq!(got, ["Bitfield([240])", "KeepAlive", "Port(6881)"]);
        assert_eq!(dec.buffered_len(), 0);
        assert_eq!(dec.error(), None);
    }

    #[test]
    fn bad_protocol_string_from_first_byte() {
        let mut dec = Decoder::new(DecoderConfig::default(), true);
        assert_eq!(dec.feed(&[0x13, b'B', b'X']), 3);
        assert_eq!(dec.next_handshake(), Err(WireError::BadProtocolString));
        // Poisoned.
        assert_eq!(dec.next_handshake(), Err(WireError::BadProtocolString));
        assert_eq!(dec.next_message(), Err(WireError::BadProtocolString));
        assert_eq!(dec.error(), Some(&WireError::BadProtocolString));
        assert_eq!(dec.feed(b"more"), 0);
        assert_eq!(dec.room(), 0);
        assert_eq!(dec.read_with(10, |_| Ok::<_, ()>(5)), Ok(None));

        let mut dec = Decoder::new(DecoderConfig::default(), true);
        dec.feed(&[0x14]);
        assert_eq!(dec.next_handshake(), Err(WireError::BadProtocolString));
    }

    #[test]
    fn oversized_frame_refused_after_four_bytes() {
        let mut dec = Decoder::new(small(1000), false);
        dec.feed(&[0, 0, 3]);
        assert_eq!(dec.next_message(), Ok(None));
        dec.feed(&[0xe9]);
        let err = WireError::FrameTooLong {
            len: 1001,
            max: 1000,
        };
        assert_eq!(dec.next_message(), Err(err.clone()));
        assert_eq!(dec.next_message(), Err(err.clone()));
        assert_eq!(dec.feed(&[7; 10]), 0);
        assert_eq!(dec.buffered_len(), 4);
        assert!(err.is_fatal());
    }

    #[test]
    fn bad_length_refused_after_five_bytes() {
        let mut dec = Decoder::new(DecoderConfig::default(), false);
        dec.feed(&[0, 0, 0x10, 0, 0]); // a 'choke' of 4096 bytes
        assert_eq!(
            dec.next_message(),
            Err(WireError::BadLength { id: 0, len: 4096 })
        );
    }

    #[test]
    fn unknown_message_is_skipped() {
        let mut dec = Decoder::new(DecoderConfig::default(), false);
        dec.feed(&[0, 0, 0, 3, 0x42, 1]);
        assert_eq!(dec.next_message(), Ok(None));
        dec.feed(&[2, 0, 0, 0, 1, 1]);
        assert_eq!(
            dec.next_message(),
            Err(WireError::UnknownMessage { id: 0x42 })
        );
        assert_eq!(dec.error(), None);
        assert_eq!(dec.next_message(), Ok(Some(Message::Unchoke)));
        assert_eq!(dec.next_message(), Ok(None));
    }

    #[test]
    fn piece_count_set_later() {
        let mut dec = Decoder::new(DecoderConfig::default(), false);
        let mut stream = Vec::new();
        Message::Have { piece: 10 }.encode(&mut stream);
        Message::Have { piece: 10 }.encode(&mut stream);
        dec.feed(&stream);
        assert_eq!(dec.next_message(), Ok(Some(Message::Have { piece: 10 })));
        dec.set_piece_count(10);
        assert_eq!(dec.config().piece_count, Some(10));
        assert_eq!(
            dec.next_message(),
            Err(WireError::PieceOutOfRange {
                piece: 10,
                count: 10
            })
        );
        assert!(dec.error().is_some());
    }

    #[test]
    fn feed_is_bounded_and_reports_what_it_took() {
        let cfg = small(100);
        let mut dec = Decoder::new(cfg, false);
        assert_eq!(dec.limit(), 104);
        // Twenty 'have' frames of 9 bytes: only 104 bytes fit.
        let mut stream = Vec::new();
        for piece in 0..20 {
            Message::Have { piece }.encode(&mut stream);
        }
        let mut rest = &stream[..];
        let mut got = Vec::new();
        while !rest.is_empty() {
            let n = dec.feed(rest);
            assert!(dec.buffered_len() <= dec.limit());
            assert!(dec.allocated() <= dec.limit());
            if n < rest.len() {
                // Something must be ready when feed refuses bytes.
                assert!(matches!(dec.next_message(), Ok(Some(_))));
                got.push(());
            }
            rest = &rest[n..];
            while let Some(_msg) = dec.next_message().unwrap() {
                got.push(());
            }
        }
        assert_eq!(got.len(), 20);
    }

    #[test]
    fn tiny_max_frame_still_takes_a_handshake() {
        let mut dec = Decoder::new(small(0), true);
        assert_eq!(dec.limit(), Handshake::LEN);
        let mut stream = hs().to_bytes().to_vec();
        stream.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        let n = dec.feed(&stream);
        assert_eq!(n, Handshake::LEN);
        assert_eq!(dec.next_handshake(), Ok(Some(hs())));
        assert_eq!(dec.feed(&stream[n..]), 8);
        assert_eq!(dec.next_message(), Ok(Some(Message::KeepAlive)));
        assert_eq!(
            dec.next_message(),
            Err(WireError::FrameTooLong { len: 1, max: 0 })
        );
    }

    #[test]
    fn storage_grows_on_demand_and_shrinks() {
        let mut dec = Decoder::new(DecoderConfig::default(), false);
        assert_eq!(dec.allocated(), 0);
        dec.feed(&[0, 0, 0, 1, 2]);
        assert_eq!(dec.allocated(), MIN_GROWTH);
        assert_eq!(dec.next_message(), Ok(Some(Message::Interested)));
        let data = vec![5u8; 100_000];
        let mut frame = Vec::new();
        Message::Piece {
            piece: 0,
            offset: 0,
            data: &data,
        }
        .encode(&mut frame);
        assert_eq!(dec.feed(&frame[..50_000]), 50_000);
        assert!(dec.allocated() >= 50_000 && dec.allocated() < 100_000);
        assert_eq!(dec.feed(&frame[50_000..]), frame.len() - 50_000);
        assert!(dec.allocated() <= dec.limit());
        assert!(matches!(
            dec.next_message(),
            Ok(Some(Message::Piece { data: d, .. })) if d.len() == 100_000
        ));
        dec.shrink_to_fit();
        assert_eq!(dec.allocated(), 0);
        dec.feed(&[0, 0, 0, 1, 3]);
        assert_eq!(dec.next_message(), Ok(Some(Message::NotInterested)));
    }

    #[test]
    fn compaction_keeps_partial_frame() {
        // limit 68: three 53-byte piece frames pass through it.
        let mut dec = Decoder::new(small(64), false);
        assert_eq!(dec.limit(), 68);
        let data = [7u8; 40];
        let piece = |piece| Message::Piece {
            piece,
            offset: 0,
            data: &data,
        };
        let mut stream = Vec::new();
        for i in 0..3 {
            piece(i).encode(&mut stream);
        }
        assert_eq!(stream.len(), 159);
        assert_eq!(dec.feed(&stream[..60]), 60);
        assert_eq!(dec.next_message(), Ok(Some(piece(0))));
        assert_eq!(dec.next_message(), Ok(None));
        // 7 bytes buffered at offset 53; 61 more fit after compaction.
        assert_eq!(dec.feed(&stream[60..]), 61);
        assert_eq!(dec.buffered_len(), 68);
        assert_eq!(dec.next_message(), Ok(Some(piece(1))));
        assert_eq!(dec.next_message(), Ok(None));
        assert_eq!(dec.feed(&stream[121..]), 38);
        assert_eq!(dec.next_message(), Ok(Some(piece(2))));
        assert_eq!(dec.buffered_len(), 0);
        assert!(dec.allocated() <= 68);
    }

    #[test]
    fn read_with_clamps_and_reports_eof() {
        let mut dec = Decoder::new(DecoderConfig::default(), false);
        assert_eq!(dec.read_with(0, |_| Ok::<_, ()>(1)), Ok(None));
        assert_eq!(dec.read_with(16, |_| Ok::<_, ()>(0)), Ok(Some(0)));
        assert_eq!(dec.read_with(16, |_| Err::<usize, _>("boom")), Err("boom"));
        assert_eq!(
            dec.read_with(3, |buf| {
                assert_eq!(buf.len(), 3);
                Ok::<_, ()>(1000)
            }),
            Ok(Some(3))
        );
        assert_eq!(dec.buffered_len(), 3);
    }

    #[test]
    fn debug_does_not_dump_the_buffer() {
        let dec = Decoder::new(DecoderConfig::default(), true);
        let text = format!("{dec:?}");
        assert!(text.contains("Handshake") && text.contains("buffered: 0"));
    }
}

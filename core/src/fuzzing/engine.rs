//! The engine fuzz target: one torrent state machine driven by a program of
//! driver calls and peer bytes, with its invariants checked after every step.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::ops::Range;
use core::time::Duration;
use std::collections::VecDeque;
use std::sync::OnceLock;

use crate::bitfield::Bitfield;
use crate::create::{PieceHasher, TorrentBuilder};
use crate::ext::ExtHandshake;
use crate::id::PeerId;
use crate::layout::{Layout, BLOCK_SIZE};
use crate::metainfo::Metainfo;
use crate::picker::Priority;
use crate::time::Time;
use crate::torrent::{
    Config, Direction, DiskError, DiskJob, Event, Output, PeerKey, StreamId, Torrent,
};
use crate::wire::{BlockRequest, Decoder, DecoderConfig, Handshake, Message, Reserved};

/// Engine: one [`Torrent`] driven by a program of driver calls, checked after
/// every operation.
///
/// `data[0]` picks the configuration: bits 0-1 what we start with (nothing,
/// everything, or half the pieces), bit 2 turns the Fast extension off, bit 3
/// the extension protocol, bits 4-5 `max_peers` (2, 4, 8 or 100), bit 6 a
/// short incoming request queue, bit 7 no stats timer. The rest is a program
/// of at most 400 operations: each is one byte (the codes are in the `op`
/// module of this file) followed by its arguments; an input that runs out
/// reads zeros for them.
///
/// The harness plays the driver and every remote peer: it stores written
/// blocks in a simulated disk, answers reads and hashes from it (honestly or
/// not), decodes what the engine sends and can answer its requests. Checked
/// after every operation: `poll_timeout` is `None` exactly when the torrent
/// stopped; no more connections than `max_peers`, and the open ones are the
/// ones the driver was not told to close; every buffered send was signalled;
/// storage jobs and messages the engine emits are in bounds and consistent
/// with what it has; a piece becomes ours only through a hash result with
/// the right digest; [`Stats`](crate::torrent::Stats) agrees with the
/// getters; streams announce verified bytes only.
pub fn engine(data: &[u8]) {
    let Some((&config, program)) = data.split_first() else {
        return;
    };
    let mut harness = Harness::new(config);
    let mut program = Program(program);
    for _ in 0..MAX_OPS {
        let Some(op) = program.op() else {
            break;
        };
        harness.step(op, &mut program);
        harness.drain();
        harness.check();
    }
}

/// Most operations one input runs.
const MAX_OPS: usize = 400;
/// Most connections the harness remembers, closed ones included (so that
/// stale keys are tried too).
const MAX_CONNS: usize = 24;
/// Most storage jobs waiting for the harness; later ones are lost, as if the
/// driver dropped them.
const MAX_JOBS: usize = 256;
/// Most `Connect` outputs waiting for an answer; later ones are never answered.
const MAX_CONNECTS: usize = 16;
/// Most streams the harness opens.
const MAX_STREAMS: usize = 8;
/// Requests from the engine remembered per connection.
const MAX_ASKED: usize = 1024;
/// Our peer id; remote ids differ from it in the last byte.
const OUR_ID: PeerId = PeerId(*b"-SL0100-fuzzfuzzfuzz");

/// Operation codes, in the order [`Harness::step`] matches them.
mod op {
    pub const CONNECT_IN: u8 = 0;
    pub const ADD_PEER: u8 = 1;
    pub const ANSWER_CONNECT: u8 = 2;
    pub const HANDSHAKE: u8 = 3;
    pub const RAW: u8 = 4;
    pub const MESSAGE: u8 = 5;
    pub const SERVE: u8 = 6;
    pub const TRANSMIT: u8 = 7;
    pub const CLOSED: u8 = 8;
    pub const DISCONNECT: u8 = 9;
    pub const BAN: u8 = 10;
    pub const TIME: u8 = 11;
    pub const JOB: u8 = 12;
    pub const ALL_JOBS: u8 = 13;
    pub const OPEN_STREAM: u8 = 14;
    pub const SEEK_STREAM: u8 = 15;
    pub const CLOSE_STREAM: u8 = 16;
    pub const FILE_PRIORITY: u8 = 17;
    pub const PIECE_PRIORITY: u8 = 18;
    pub const SHUTDOWN: u8 = 19;
    pub const COUNT: u8 = 20;
}

/// The torrent every engine input runs: four files (one empty) over four
/// pieces of 32 KiB, the last one short, built once.
struct Fixture {
    meta: Metainfo,
    payload: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let files = [
            ("a.bin", 40_000),
            ("b.bin", 0),
            ("c.bin", 50_000),
            ("d.bin", 20_000),
        ];
        let files = files
            .iter()
            .map(|&(n, l)| (vec![n.to_string()], l))
            .collect();
        let mut builder = TorrentBuilder::multi_file("fuzz", files);
        builder.piece_length(32 * 1024);
        let payload: Vec<u8> = (0..builder.total_length())
            .map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8)
            .collect();
        let mut hasher = PieceHasher::new(builder.chosen_piece_length());
        hasher.update(&payload);
        let bytes = builder.build(&hasher.finish()).expect("fixture builds");
        let meta = Metainfo::from_bytes(&bytes).expect("fixture parses");
        Fixture { meta, payload }
    })
}

/// The operations and their arguments; arguments past the end read as zero.
struct Program<'a>(&'a [u8]);

impl<'a> Program<'a> {
    fn op(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn byte(&mut self) -> u8 {
        self.op().unwrap_or(0)
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }
}

/// One connection as the driver and the remote peer see it.
struct Conn {
    key: PeerKey,
    open: bool,
    /// A `Transmit` came and the buffer was not emptied since.
    signalled: bool,
    /// Decodes what the engine sends to this peer.
    from_engine: Option<Decoder>,
    /// Requests the engine sent that the peer has not answered.
    asked: VecDeque<BlockRequest>,
}

/// A stream the harness opened.
struct Stream {
    id: StreamId,
    file: usize,
    open: bool,
}

struct Harness {
    fx: &'static Fixture,
    t: Torrent,
    now: Time,
    max_peers: usize,
    conns: Vec<Conn>,
    connects: VecDeque<SocketAddr>,
    jobs: VecDeque<DiskJob>,
    streams: Vec<Stream>,
    /// What the driver stored.
    disk: Vec<u8>,
    /// The pieces the torrent has, as the harness tracks them: they change
    /// only with a hash result.
    have: Bitfield,
    /// Bytes handed to `handle_data`.
    fed: u64,
    /// Bytes handed to `handle_read`.
    read: u64,
}

impl Harness {
    fn new(config: u8) -> Harness {
        let fx = fixture();
        let count = fx.meta.info.piece_count();
        let have = match config & 3 {
            0 => Bitfield::new(count),
            1 => Bitfield::full(count),
            start => {
                let mut have = Bitfield::new(count);
                for piece in (u32::from(start) - 2..count).step_by(2) {
                    have.set(piece, true);
                }
                have
            }
        };
        let mut cfg = Config::new(OUR_ID, u64::from(config));
        cfg.fast_extension = config & 4 == 0;
        cfg.extension_protocol = config & 8 == 0;
        cfg.max_peers = [2, 4, 8, 100][usize::from(config >> 4) & 3];
        if config & 0x40 != 0 {
            cfg.max_incoming_requests = 3;
        }
        if config & 0x80 != 0 {
            cfg.stats_interval = None;
        }
        let layout = fx.meta.layout();
        let mut disk = vec![0; fx.payload.len()];
        for piece in have.ones() {
            let range = piece_range(&layout, piece);
            disk[range.clone()].copy_from_slice(&fx.payload[range]);
        }
        let max_peers = cfg.max_peers;
        let t = Torrent::new(
            fx.meta.info_hash,
            fx.meta.info.clone(),
            cfg,
            have.clone(),
            Time::ZERO,
        );
        Harness {
            fx,
            t,
            now: Time::ZERO,
            max_peers,
            conns: Vec::new(),
            connects: VecDeque::new(),
            jobs: VecDeque::new(),
            streams: Vec::new(),
            disk,
            have,
            fed: 0,
            read: 0,
        }
    }

    /// Runs one operation: `code` modulo [`op::COUNT`] names it.
    fn step(&mut self, code: u8, p: &mut Program<'_>) {
        match code % op::COUNT {
            op::CONNECT_IN => {
                let addr = address(p.byte());
                self.connected(addr, Direction::Inbound);
            }
            op::ADD_PEER => {
                let addrs: Vec<SocketAddr> = p.bytes(2).iter().map(|&b| address(b)).collect();
                self.t.add_peers(self.now, addrs);
            }
            op::ANSWER_CONNECT => {
                let how = p.byte();
                let Some(addr) = pick(&mut self.connects, how >> 1) else {
                    return;
                };
                if how & 1 == 0 {
                    self.connected(addr, Direction::Outbound);
                } else {
                    self.t.handle_connect_failed(self.now, addr);
                }
            }
            op::HANDSHAKE => {
                let (conn, flags) = (p.byte(), p.byte());
                if let Some(conn) = self.conn(conn) {
                    self.handshake(conn, flags);
                }
            }
            op::RAW => {
                let (conn, len) = (p.byte(), p.byte());
                let bytes = p.bytes(usize::from(len));
                if let Some(conn) = self.conn(conn) {
                    self.feed(conn, bytes);
                }
            }
            op::MESSAGE => {
                let conn = p.byte();
                let bytes = self.message(p);
                if let Some(conn) = self.conn(conn) {
                    self.feed(conn, &bytes);
                }
            }
            op::SERVE => {
                let (conn, how) = (p.byte(), p.byte());
                if let Some(conn) = self.conn(conn) {
                    self.serve(conn, how);
                }
            }
            op::TRANSMIT => {
                let (conn, amount) = (p.byte(), p.byte());
                let limit = match amount {
                    0 => usize::MAX,
                    n => usize::from(n) * 37,
                };
                if let Some(conn) = self.conn(conn) {
                    self.transmit(conn, limit);
                }
            }
            op::CLOSED => {
                if let Some(conn) = self.conn(p.byte()) {
                    let c = &mut self.conns[conn];
                    c.open = false;
                    self.t.handle_closed(self.now, c.key, "reset by fuzzer");
                }
            }
            op::DISCONNECT => self.t.disconnect(self.now, address(p.byte())),
            op::BAN => self.t.ban(self.now, address(p.byte()).ip()),
            op::TIME => self.advance(p.byte()),
            op::JOB => {
                let (index, how) = (p.byte(), p.byte());
                if let Some(job) = pick(&mut self.jobs, index) {
                    self.complete(job, how);
                }
            }
            op::ALL_JOBS => {
                // Finish everything honestly, including the hash jobs that the
                // writes lead to, so that pieces get verified in one step.
                for _ in 0..64 {
                    self.drain();
                    let Some(job) = self.jobs.pop_front() else {
                        break;
                    };
                    self.complete(job, 0);
                }
            }
            op::OPEN_STREAM => {
                let (file, start, len) = (p.byte(), p.byte(), p.byte());
                self.open_stream(usize::from(file), start, len);
            }
            op::SEEK_STREAM => {
                let (index, position) = (p.byte(), p.byte());
                let index = usize::from(index) % self.streams.len().max(1);
                if let Some(s) = self.streams.get(index) {
                    let pos = scale(self.file_length(s.file), position, 250);
                    let _ = self.t.seek_stream(self.now, s.id, pos);
                }
            }
            op::CLOSE_STREAM => {
                let index = usize::from(p.byte()) % self.streams.len().max(1);
                if let Some(s) = self.streams.get_mut(index) {
                    s.open = false;
                    self.t.close_stream(self.now, s.id);
                }
            }
            op::FILE_PRIORITY => {
                let (file, prio) = (p.byte(), p.byte());
                self.t
                    .set_file_priority(self.now, usize::from(file) % 5, priority(prio));
            }
            op::PIECE_PRIORITY => {
                let (piece, prio) = (p.byte(), p.byte());
                let piece = u32::from(piece) % (self.piece_count() + 1);
                self.t.set_piece_priority(self.now, piece, priority(prio));
            }
            op::SHUTDOWN => self.t.shutdown(self.now),
            _ => unreachable!("codes are taken modulo op::COUNT"),
        }
    }

    fn piece_count(&self) -> u32 {
        self.fx.meta.info.piece_count()
    }

    fn file_length(&self, file: usize) -> u64 {
        self.fx.meta.info.files.get(file).map_or(1000, |f| f.length)
    }

    /// The connection an argument names, among those remembered; closed ones
    /// included, so stale keys reach the engine too.
    fn conn(&self, b: u8) -> Option<usize> {
        (!self.conns.is_empty()).then(|| usize::from(b) % self.conns.len())
    }

    fn open(&mut self, key: PeerKey) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.open && c.key == key)
    }

    fn is_open(&self, key: PeerKey) -> bool {
        self.conns.iter().any(|c| c.open && c.key == key)
    }

    fn connected(&mut self, addr: SocketAddr, direction: Direction) {
        if self.conns.len() >= MAX_CONNS {
            let Some(closed) = self.conns.iter().position(|c| !c.open) else {
                return;
            };
            self.conns.remove(closed);
        }
        let key = self.t.handle_connected(self.now, addr, direction);
        assert!(
            self.conns.iter().all(|c| c.key != key),
            "key {key:?} given twice"
        );
        let cfg = DecoderConfig {
            max_frame: 1 << 20,
            piece_count: Some(self.piece_count()),
        };
        self.conns.push(Conn {
            key,
            open: true,
            signalled: false,
            from_engine: Some(Decoder::new(cfg, true)),
            asked: VecDeque::new(),
        });
    }

    fn feed(&mut self, conn: usize, bytes: &[u8]) {
        self.fed += bytes.len() as u64;
        self.t.handle_data(self.now, self.conns[conn].key, bytes);
    }

    /// The remote peer's handshake. `flags`: bits 0-2 its Fast, extension and
    /// DHT bits; bits 3-5 its peer id (7: ours); bit 6 a wrong info-hash; bit
    /// 7 sent in two parts.
    fn handshake(&mut self, conn: usize, flags: u8) {
        let mut reserved = Reserved::NONE;
        reserved.set_fast(flags & 1 != 0);
        reserved.set_extensions(flags & 2 != 0);
        reserved.set_dht(flags & 4 != 0);
        let mut peer_id = OUR_ID;
        match (flags >> 3) & 7 {
            7 => {}
            n => peer_id.0[19] = b'0' + n,
        }
        let mut info_hash = self.fx.meta.info_hash;
        if flags & 0x40 != 0 {
            info_hash.0[0] ^= 1;
        }
        let bytes = Handshake {
            reserved,
            info_hash,
            peer_id,
        }
        .to_bytes();
        if flags & 0x80 != 0 {
            self.feed(conn, &bytes[..30]);
            self.feed(conn, &bytes[30..]);
        } else {
            self.feed(conn, &bytes);
        }
    }

    /// One well-framed message from the remote peer, its kind and fields
    /// read from the program.
    fn message(&self, p: &mut Program<'_>) -> Vec<u8> {
        let count = self.piece_count();
        let (kind, arg) = (p.byte(), p.byte());
        let piece = u32::from(arg) % (count + 1);
        let payload;
        let msg = match kind % 18 {
            0 => Message::KeepAlive,
            1 => Message::Choke,
            2 => Message::Unchoke,
            3 => Message::Interested,
            4 => Message::NotInterested,
            5 => Message::Have { piece },
            6 => {
                payload = bitfield(count, arg);
                Message::Bitfield(&payload)
            }
            7 => Message::Request(self.request(arg, p.byte())),
            8 => Message::Cancel(self.request(arg, p.byte())),
            9 => Message::Port(u16::from(arg) << 4),
            10 => Message::Suggest { piece },
            11 => Message::HaveAll,
            12 => Message::HaveNone,
            13 => Message::Reject(self.request(arg, p.byte())),
            14 => Message::AllowedFast { piece },
            15 => {
                payload = ExtHandshake {
                    client: Some("fuzz".into()),
                    reqq: (arg != 0).then(|| u32::from(arg) * 9),
                    ..ExtHandshake::default()
                }
                .encode();
                Message::Extended {
                    id: 0,
                    payload: &payload,
                }
            }
            16 => Message::Extended {
                id: arg % 3,
                payload: b"i1e",
            },
            _ => {
                let r = self.request(arg, p.byte());
                payload = self.true_bytes(&r).unwrap_or_default();
                Message::Piece {
                    piece: r.piece,
                    offset: r.offset,
                    data: &payload,
                }
            }
        };
        let mut out = Vec::new();
        msg.encode(&mut out);
        out
    }

    /// A request of the remote peer: often valid, sometimes not.
    fn request(&self, piece: u8, b: u8) -> BlockRequest {
        let count = self.piece_count();
        let piece = u32::from(piece) % (count + 1);
        let offset = u32::from(b & 3) * BLOCK_SIZE;
        let rest = if piece < count {
            self.t.layout().piece_len(piece).saturating_sub(offset)
        } else {
            BLOCK_SIZE
        };
        let length = match (b >> 2) & 3 {
            0 => BLOCK_SIZE.min(rest),
            1 => rest,
            2 => 1 + u32::from(b >> 4) * 997,
            _ => 128 * 1024 + 1,
        };
        BlockRequest {
            piece,
            offset,
            length,
        }
    }

    /// The payload bytes a request names, if it lies inside the payload.
    fn true_bytes(&self, r: &BlockRequest) -> Option<Vec<u8>> {
        let start = self.t.layout().piece_offset(r.piece) + u64::from(r.offset);
        let start = usize::try_from(start).ok()?;
        let end = start.checked_add(r.length as usize)?;
        self.fx.payload.get(start..end).map(<[u8]>::to_vec)
    }

    /// The remote peer takes what the engine sent, then answers requests.
    /// `how`: bits 0-2 the answer (0-2 the block, 3 a corrupted block, 4 a
    /// reject, 5 a block one byte short, 6 silence, 7 every request answered
    /// with its block), bits 3-7 which request.
    fn serve(&mut self, conn: usize, how: u8) {
        self.transmit(conn, usize::MAX);
        let asked = &mut self.conns[conn].asked;
        let requests: Vec<BlockRequest> = if how & 7 == 7 {
            asked.drain(..).collect()
        } else {
            pick(asked, how >> 3).into_iter().collect()
        };
        let mut out = Vec::new();
        for r in requests {
            let mut data = self
                .true_bytes(&r)
                .expect("engine requests lie inside pieces");
            match how & 7 {
                3 => data[usize::from(how) % r.length as usize] ^= 0x55,
                4 => {
                    Message::Reject(r).encode(&mut out);
                    continue;
                }
                5 => {
                    data.pop();
                }
                6 => continue,
                _ => {}
            }
            let msg = Message::Piece {
                piece: r.piece,
                offset: r.offset,
                data: &data,
            };
            msg.encode(&mut out);
        }
        if !out.is_empty() {
            self.feed(conn, &out);
        }
    }

    /// The driver sends up to `limit` bytes of the connection's buffer, slice
    /// by slice as `send_buffer` lends them; the remote peer decodes them.
    fn transmit(&mut self, conn: usize, limit: usize) {
        let key = self.conns[conn].key;
        let mut sent = Vec::new();
        // The buffer lends a prefix when it wraps; two rounds empty it.
        for _ in 0..4 {
            let pending = self.t.send_buffer(key);
            let n = (limit - sent.len()).min(pending.len());
            sent.extend_from_slice(&pending[..n]);
            self.t.handle_sent(self.now, key, n);
            if n == 0 {
                break;
            }
        }
        if self.t.send_buffer(key).is_empty() {
            self.conns[conn].signalled = false;
        }
        let Some(mut dec) = self.conns[conn].from_engine.take() else {
            return;
        };
        let mut rest = &sent[..];
        while !rest.is_empty() {
            let taken = dec.feed(rest);
            rest = &rest[taken..];
            if dec.expects_handshake() {
                match dec.next_handshake() {
                    Ok(Some(hs)) => {
                        assert!(
                            hs.info_hash == self.fx.meta.info_hash,
                            "handshake info-hash"
                        );
                        assert!(hs.peer_id == OUR_ID, "handshake peer id");
                    }
                    Ok(None) => continue,
                    Err(e) => panic!("engine sent a bad handshake: {e}"),
                }
            }
            loop {
                match dec.next_message() {
                    Ok(Some(msg)) => self.observe(conn, msg),
                    Ok(None) => break,
                    Err(e) => panic!("engine sent a bad frame: {e}"),
                }
            }
            if taken == 0 {
                break;
            }
        }
        self.conns[conn].from_engine = Some(dec);
    }

    /// A message the engine sent: checked against what it has.
    fn observe(&mut self, conn: usize, msg: Message<'_>) {
        let have = self.t.have();
        let layout = self.t.layout();
        match msg {
            Message::Request(r) => {
                assert!(r.piece < self.piece_count(), "request {r:?} out of range");
                assert!(r.length > 0 && r.length <= BLOCK_SIZE, "request {r:?}");
                let end = u64::from(r.offset) + u64::from(r.length);
                assert!(end <= u64::from(layout.piece_len(r.piece)), "request {r:?}");
                let asked = &mut self.conns[conn].asked;
                if asked.len() >= MAX_ASKED {
                    asked.pop_front();
                }
                asked.push_back(r);
            }
            Message::Piece {
                piece,
                offset,
                data,
            } => {
                assert!(have.get(piece), "sent a block of piece {piece} we lack");
                let start = layout.piece_offset(piece) as usize + offset as usize;
                let stored = self.disk.get(start..start + data.len());
                assert!(
                    stored == Some(data),
                    "sent piece {piece} at {offset} != disk"
                );
            }
            Message::Have { piece } => assert!(have.get(piece), "sent have {piece}"),
            Message::Bitfield(bits) => {
                let bits = Bitfield::from_wire(bits, self.piece_count()).expect("bitfield");
                assert!(bits.ones().all(|p| have.get(p)), "sent bitfield {bits:?}");
            }
            Message::HaveAll => assert!(have.is_full(), "sent have-all"),
            _ => {}
        }
    }

    fn advance(&mut self, b: u8) {
        let step = match b >> 6 {
            0 => Duration::from_millis(u64::from(b & 63) * 50),
            1 => Duration::from_secs(u64::from(b & 63)),
            2 => Duration::from_secs(u64::from(b & 63) * 10),
            _ => self
                .t
                .poll_timeout()
                .map_or(Duration::from_secs(1), |at| at - self.now),
        };
        self.now += step;
        self.t.handle_timeout(self.now);
        if let Some(next) = self.t.poll_timeout() {
            assert!(
                next > self.now,
                "timer at {next:?} still due at {:?}",
                self.now
            );
        }
    }

    /// The driver finishes a storage job. `how` modulo 8: 7 fails it; 6 reads
    /// one byte too few or reports a wrong digest; 5 reports the expected
    /// digest whatever is stored; otherwise the job is done honestly.
    fn complete(&mut self, job: DiskJob, how: u8) {
        let layout = self.t.layout().clone();
        let how = how % 8;
        let failed = || DiskError("fuzzer says no".into());
        match job {
            DiskJob::Write {
                piece,
                offset,
                data,
            } => {
                let result = if how == 7 {
                    Err(failed())
                } else {
                    let start = (layout.piece_offset(piece) + u64::from(offset)) as usize;
                    self.disk[start..start + data.len()].copy_from_slice(&data);
                    Ok(())
                };
                self.t.handle_write(self.now, piece, offset, result);
            }
            DiskJob::Read {
                id,
                piece,
                offset,
                length,
            } => {
                let start = (layout.piece_offset(piece) + u64::from(offset)) as usize;
                let len = length as usize - usize::from(how == 6);
                let data = &self.disk[start..start + len];
                let result = if how == 7 { Err(failed()) } else { Ok(data) };
                self.read += len as u64;
                self.t.handle_read(self.now, id, result);
            }
            DiskJob::Hash { piece } => {
                let expected = self.fx.meta.info.pieces[piece as usize];
                let result = match how {
                    7 => Err(failed()),
                    6 => Ok([0; 20]),
                    5 => Ok(expected),
                    _ => Ok(crate::create::hash_piece(
                        &self.disk[piece_range(&layout, piece)],
                    )),
                };
                let right = result == Ok(expected);
                self.t.handle_hash(self.now, piece, result);
                let have = self.t.have();
                for p in 0..self.piece_count() {
                    assert!(have.get(p) || !self.have.get(p), "lost piece {p}");
                    if have.get(p) && !self.have.get(p) {
                        assert!(p == piece && right, "piece {p} ours without a right hash");
                    }
                }
                self.have = have.clone();
            }
        }
    }

    fn open_stream(&mut self, file: usize, start: u8, len: u8) {
        if self.streams.len() >= MAX_STREAMS {
            return;
        }
        let file = file % 5;
        let length = self.file_length(file);
        let start = scale(length, start, 256);
        let end = start + 1 + scale(length, len, 250);
        if let Ok(id) = self.t.open_stream(self.now, file, start..end) {
            self.streams.push(Stream {
                id,
                file,
                open: true,
            });
        }
    }

    /// Takes every output, checking each.
    fn drain(&mut self) {
        while let Some(output) = self.t.poll() {
            match output {
                Output::Transmit(key) => {
                    let conn = self.open(key).expect("Transmit for an open connection");
                    conn.signalled = true;
                }
                Output::Connect(addr) => {
                    assert!(addr.port() != 0, "connect to port 0");
                    assert!(
                        !self.t.banned().any(|ip| ip == addr.ip()),
                        "connect to banned"
                    );
                    if self.connects.len() < MAX_CONNECTS {
                        self.connects.push_back(addr);
                    }
                }
                Output::Close { peer, .. } => {
                    let conn = self.open(peer).expect("Close for an open connection");
                    conn.open = false;
                }
                Output::Disk(job) => {
                    self.check_job(&job);
                    if self.jobs.len() < MAX_JOBS {
                        self.jobs.push_back(job);
                    }
                }
                Output::Event(event) => self.check_event(&event),
            }
        }
    }

    fn check_job(&self, job: &DiskJob) {
        let layout = self.t.layout();
        let have = self.t.have();
        let inside = |piece: u32, offset: u32, len: usize| {
            piece < self.piece_count()
                && len > 0
                && u64::from(offset) + len as u64 <= u64::from(layout.piece_len(piece))
        };
        match job {
            DiskJob::Write {
                piece,
                offset,
                data,
            } => {
                assert!(
                    inside(*piece, *offset, data.len()),
                    "write outside its piece"
                );
                assert!(!have.get(*piece), "write to piece {piece} we have");
            }
            DiskJob::Read {
                piece,
                offset,
                length,
                ..
            } => {
                assert!(inside(*piece, *offset, *length as usize), "read {job:?}");
                assert!(have.get(*piece), "read of piece {piece} we lack");
            }
            DiskJob::Hash { piece } => {
                assert!(*piece < self.piece_count(), "hash {piece}");
                assert!(!have.get(*piece), "hash of piece {piece} we have");
            }
        }
    }

    fn check_event(&self, event: &Event) {
        let have = self.t.have();
        match event {
            Event::PieceVerified { piece } => assert!(have.get(*piece), "verified {piece}"),
            Event::Complete => assert!(have.is_full(), "complete without every piece"),
            Event::Stopped { .. } => assert!(self.t.error().is_some(), "stopped, no error"),
            Event::PeerConnected { peer, .. } => {
                assert!(self.is_open(*peer), "connected {peer:?} is not open")
            }
            Event::StreamReady {
                stream,
                position,
                available,
            } => {
                let file = self
                    .streams
                    .iter()
                    .find(|s| s.id == *stream && s.open)
                    .map(|s| s.file)
                    .expect("ready stream is open");
                self.check_verified(file, *position..*available);
            }
            _ => {}
        }
    }

    /// Every piece under `range` of `file` is verified.
    fn check_verified(&self, file: usize, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        let layout = self.t.layout();
        let base = layout.file_offset(file);
        let piece_length = u64::from(layout.piece_length());
        let first = (base + range.start) / piece_length;
        let last = (base + range.end - 1) / piece_length;
        for piece in first..=last {
            assert!(
                self.t.have().get(piece as u32),
                "{range:?} of file {file} unverified"
            );
        }
    }

    /// The invariants that hold between any two operations.
    fn check(&self) {
        let t = &self.t;
        assert_eq!(
            t.poll_timeout().is_none(),
            t.error().is_some(),
            "timeout vs stop"
        );
        assert!(t.have() == &self.have, "pieces changed outside handle_hash");
        assert_eq!(t.is_complete(), t.have().is_full());

        let peers = t.peers(self.now);
        assert!(peers.len() <= self.max_peers, "{} connections", peers.len());
        let mut engine: Vec<PeerKey> = peers.iter().map(|p| p.key).collect();
        let mut ours: Vec<PeerKey> = self
            .conns
            .iter()
            .filter(|c| c.open)
            .map(|c| c.key)
            .collect();
        engine.sort_unstable();
        ours.sort_unstable();
        assert_eq!(engine, ours, "open connections");
        for c in self.conns.iter().filter(|c| c.open) {
            let buffered = !t.send_buffer(c.key).is_empty();
            assert!(
                !buffered || c.signalled,
                "bytes for {:?} without Transmit",
                c.key
            );
        }

        let s = t.stats(self.now);
        let layout = t.layout();
        let verified: u64 = t
            .have()
            .ones()
            .map(|p| u64::from(layout.piece_len(p)))
            .sum();
        assert_eq!(s.pieces, t.have().count());
        assert_eq!(s.peers, t.peer_count());
        assert!(s.unchoked <= s.peers);
        assert_eq!(s.verified_bytes, verified);
        assert!(s.verified_bytes + s.left <= layout.total_length());
        assert!(
            s.downloaded + s.wasted <= self.fed,
            "more received than fed"
        );
        assert!(s.uploaded <= self.read, "more uploaded than read");

        for s in &self.streams {
            let available = t.stream_available(s.id);
            assert_eq!(available.is_some(), s.open, "stream {:?}", s.id);
            if let Some(range) = available {
                self.check_verified(s.file, range);
            }
        }
    }
}

/// One of a few addresses: seven IPs (one IPv6) and four ports (one zero).
fn address(b: u8) -> SocketAddr {
    let ip = match b & 7 {
        7 => IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
        n => IpAddr::V4(Ipv4Addr::new(10, 0, 0, n + 1)),
    };
    let port = [6881, 6882, 51413, 0][usize::from(b >> 3) & 3];
    SocketAddr::new(ip, port)
}

fn priority(b: u8) -> Priority {
    [Priority::Skip, Priority::Normal, Priority::High][usize::from(b) % 3]
}

/// A bitfield message body for `count` pieces from the bits of `b`, with
/// clean spare bits unless `b` is odd.
fn bitfield(count: u32, b: u8) -> Vec<u8> {
    let mut bytes = vec![b; count.div_ceil(8) as usize];
    let spare = bytes.len() * 8 - count as usize;
    if b & 1 == 0 {
        if let Some(last) = bytes.last_mut() {
            *last &= 0xFFu8 << spare;
        }
    }
    bytes
}

/// Removes and returns the element `index` names (modulo the length).
fn pick<T>(queue: &mut VecDeque<T>, index: u8) -> Option<T> {
    if queue.is_empty() {
        return None;
    }
    queue.remove(usize::from(index) % queue.len())
}

/// `len * b / div`: a position in a file from one byte.
fn scale(len: u64, b: u8, div: u64) -> u64 {
    len * u64::from(b) / div
}

fn piece_range(layout: &Layout, piece: u32) -> Range<usize> {
    let start = layout.piece_offset(piece) as usize;
    start..start + layout.piece_len(piece) as usize
}

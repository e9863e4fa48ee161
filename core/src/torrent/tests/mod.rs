//! Tests of the torrent engine against scripted peers.
//!
//! A fake peer is a handshake, a [`Decoder`] for what the torrent sends it and
//! whatever messages the test writes. The scenario tests script one situation
//! each; the property test drives a leeching torrent with up to four fake
//! peers doing random (but protocol-abiding) things and checks, after every
//! input, the requests the torrent actually put on the wire.

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;

use super::*;
use crate::create::{hash_piece, PieceHasher, TorrentBuilder};
use crate::ext::ExtHandshake;
use crate::id::PeerId;
use crate::layout::BLOCK_SIZE;
use crate::metainfo::Metainfo;
use crate::picker::{BlockState, MAX_REQUESTERS};
use crate::wire::{BlockRequest, Decoder, DecoderConfig, Handshake, Message, Reserved};

const OUR_ID: PeerId = PeerId(*b"-SL0100-000000000001");
const T0: Time = Time::ZERO;
const K: u32 = BLOCK_SIZE;

fn secs(s: u64) -> Time {
    Time::from_millis(s * 1000)
}

fn addr(n: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::from([10, 0, n / 100 + 1, n]), 6881)
}

fn peer_id(n: u8) -> PeerId {
    let mut id = *b"-XX0001-000000000000";
    id[19] = n;
    PeerId(id)
}

fn fast_bits() -> Reserved {
    Reserved::NONE.with_fast(true).with_extensions(true)
}

// ----- a torrent to test with -----

/// A single-file torrent and its payload.
struct Fixture {
    meta: Metainfo,
    data: Vec<u8>,
}

impl Fixture {
    fn new(piece_len: u32, len: usize) -> Fixture {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut b = TorrentBuilder::single_file("payload.bin", len as u64);
        b.piece_length(piece_len);
        let mut h = PieceHasher::new(b.chosen_piece_length());
        h.update(&data);
        let bytes = b.build(&h.finish()).expect("valid torrent");
        let meta = Metainfo::from_bytes(&bytes).expect("parses");
        Fixture { meta, data }
    }

    fn count(&self) -> u32 {
        self.meta.info.piece_count()
    }

    fn torrent(&self, have: Bitfield, cfg: Config) -> Torrent {
        Torrent::new(self.meta.info_hash, self.meta.info.clone(), cfg, have, T0)
    }

    fn leecher(&self) -> Torrent {
        self.torrent(Bitfield::new(self.count()), Config::new(OUR_ID, 1))
    }

    fn seed(&self) -> Torrent {
        self.torrent(Bitfield::full(self.count()), Config::new(OUR_ID, 1))
    }

    /// The payload bytes of a block.
    fn bytes(&self, piece: u32, offset: u32, length: u32) -> &[u8] {
        let start = self.meta.layout().piece_offset(piece) as usize + offset as usize;
        &self.data[start..start + length as usize]
    }
}

// ----- what the torrent sends -----

/// An owned copy of a decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Msg {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    Bitfield(Vec<u8>),
    Request(BlockRequest),
    Piece(u32, u32, Data),
    Cancel(BlockRequest),
    Port(u16),
    Suggest(u32),
    HaveAll,
    HaveNone,
    Reject(BlockRequest),
    AllowedFast(u32),
    Extended(u8, Vec<u8>),
}

/// A block's bytes, shown by length in failure messages.
#[derive(Clone, PartialEq, Eq)]
struct Data(Vec<u8>);

impl core::fmt::Debug for Data {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl From<Message<'_>> for Msg {
    fn from(m: Message<'_>) -> Msg {
        match m {
            Message::KeepAlive => Msg::KeepAlive,
            Message::Choke => Msg::Choke,
            Message::Unchoke => Msg::Unchoke,
            Message::Interested => Msg::Interested,
            Message::NotInterested => Msg::NotInterested,
            Message::Have { piece } => Msg::Have(piece),
            Message::Bitfield(bits) => Msg::Bitfield(bits.to_vec()),
            Message::Request(r) => Msg::Request(r),
            Message::Piece {
                piece,
                offset,
                data,
            } => Msg::Piece(piece, offset, Data(data.to_vec())),
            Message::Cancel(r) => Msg::Cancel(r),
            Message::Port(p) => Msg::Port(p),
            Message::Suggest { piece } => Msg::Suggest(piece),
            Message::HaveAll => Msg::HaveAll,
            Message::HaveNone => Msg::HaveNone,
            Message::Reject(r) => Msg::Reject(r),
            Message::AllowedFast { piece } => Msg::AllowedFast(piece),
            Message::Extended { id, payload } => Msg::Extended(id, payload.to_vec()),
        }
    }
}

/// Reads the torrent's side of one connection.
struct Reader {
    decoder: Decoder,
    handshake: Option<Handshake>,
}

impl Reader {
    fn new(pieces: u32) -> Reader {
        let cfg = DecoderConfig::default().with_piece_count(pieces);
        Reader {
            decoder: Decoder::new(cfg, true),
            handshake: None,
        }
    }

    /// Takes everything in the peer's send buffer (telling the torrent it was
    /// sent) and decodes it.
    fn read(&mut self, t: &mut Torrent, now: Time, key: PeerKey) -> Vec<Msg> {
        let bytes = t.send_buffer(key).to_vec();
        if !bytes.is_empty() {
            t.handle_sent(now, key, bytes.len());
        }
        let mut out = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = self.decoder.feed(rest);
            rest = &rest[n..];
            if self.handshake.is_none() {
                match self.decoder.next_handshake() {
                    Ok(Some(hs)) => self.handshake = Some(hs),
                    Ok(None) => continue,
                    Err(e) => panic!("torrent sent a bad handshake: {e}"),
                }
            }
            loop {
                match self.decoder.next_message() {
                    Ok(Some(m)) => out.push(Msg::from(m)),
                    Ok(None) => break,
                    Err(e) => panic!("torrent sent a bad frame: {e}"),
                }
            }
        }
        out
    }
}

fn encode(msgs: &[Message<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        m.encode(&mut out);
    }
    out
}

fn drain(t: &mut Torrent) -> Vec<Output> {
    std::iter::from_fn(|| t.poll()).collect()
}

fn closes(outs: &[Output]) -> Vec<(PeerKey, CloseReason)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Close { peer, reason } => Some((*peer, reason.clone())),
            _ => None,
        })
        .collect()
}

fn events(outs: &[Output]) -> Vec<Event> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(Event::Stats(_)) => None,
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn requests(msgs: &[Msg]) -> Vec<BlockRequest> {
    msgs.iter()
        .filter_map(|m| match m {
            Msg::Request(r) => Some(*r),
            _ => None,
        })
        .collect()
}

/// Calls `handle_timeout` at every wake-up up to `to`.
fn advance(t: &mut Torrent, to: Time) {
    while let Some(at) = t.poll_timeout() {
        if at > to {
            break;
        }
        t.handle_timeout(at);
    }
}

// ----- scripted peers for the scenario tests -----

/// One scripted peer connection.
struct Remote {
    key: PeerKey,
    ip: IpAddr,
    reader: Reader,
}

impl Remote {
    /// Opens an inbound connection from `addr(n)` and sends a handshake.
    fn connect_with(
        t: &mut Torrent,
        now: Time,
        n: u8,
        reserved: Reserved,
        info_hash: InfoHash,
        id: PeerId,
    ) -> Remote {
        let key = t.handle_connected(now, addr(n), Direction::Inbound);
        let hs = Handshake {
            reserved,
            info_hash,
            peer_id: id,
        };
        t.handle_data(now, key, &hs.to_bytes());
        Remote {
            key,
            ip: addr(n).ip(),
            reader: Reader::new(t.layout().piece_count()),
        }
    }

    fn connect(t: &mut Torrent, now: Time, n: u8, reserved: Reserved) -> Remote {
        let ih = t.info_hash();
        Remote::connect_with(t, now, n, reserved, ih, peer_id(n))
    }

    fn send(&self, t: &mut Torrent, now: Time, msgs: &[Message<'_>]) {
        t.handle_data(now, self.key, &encode(msgs));
    }

    /// Sends one extended message (BEP 10) under `id`.
    fn send_ext(&self, t: &mut Torrent, now: Time, id: u8, payload: &[u8]) {
        self.send(t, now, &[Message::Extended { id, payload }]);
    }

    fn read(&mut self, t: &mut Torrent, now: Time) -> Vec<Msg> {
        self.reader.read(t, now, self.key)
    }

    fn connected(&self, t: &Torrent, now: Time) -> bool {
        t.peers(now).iter().any(|p| p.key == self.key)
    }
}

/// Sends the block `q` asks for, with the right bytes.
fn deliver(t: &mut Torrent, fx: &Fixture, r: &Remote, now: Time, q: BlockRequest) {
    let data = fx.bytes(q.piece, q.offset, q.length);
    r.send(
        t,
        now,
        &[Message::Piece {
            piece: q.piece,
            offset: q.offset,
            data,
        }],
    );
}

/// Runs the storage jobs in `outs` against `store`; hash results are the
/// SHA-1 of what is stored. Returns every output seen, jobs' included.
fn run_disk(
    t: &mut Torrent,
    now: Time,
    store: &mut [u8],
    piece_len: u32,
    outs: Vec<Output>,
) -> Vec<Output> {
    let mut queue: VecDeque<Output> = outs.into();
    let mut seen = Vec::new();
    while let Some(o) = queue.pop_front() {
        match &o {
            Output::Disk(DiskJob::Write {
                piece,
                offset,
                data,
            }) => {
                let at = (*piece * piece_len + *offset) as usize;
                store[at..at + data.len()].copy_from_slice(data);
                t.handle_write(now, *piece, *offset, Ok(()));
                queue.extend(drain(t));
            }
            Output::Disk(DiskJob::Hash { piece }) => {
                let start = (*piece * piece_len) as usize;
                let end = (start + piece_len as usize).min(store.len());
                t.handle_hash(now, *piece, Ok(hash_piece(&store[start..end])));
                queue.extend(drain(t));
            }
            _ => {}
        }
        seen.push(o);
    }
    seen
}

mod dht_port;
mod invariants;
mod metadata;
mod pex;
mod scenarios;
mod streams;

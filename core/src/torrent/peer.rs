//! One connection's protocol state: choke and interest flags both ways, what
//! the peer has, our requests to it and its requests to us, rates and clocks.

use core::net::SocketAddr;
use std::collections::VecDeque;

use crate::bitfield::Bitfield;
use crate::ext::ExtHandshake;
use crate::id::PeerId;
use crate::picker::BlockRef;
use crate::rate::RateMeter;
use crate::time::Time;
use crate::wire::{BlockRequest, Decoder, Message};

use super::output::{Direction, ReadId};
use super::send_buffer::SendBuffer;

/// Requests a peer is assumed to accept when it does not announce `reqq`.
pub const DEFAULT_PEER_REQQ: u32 = 250;

/// One of our requests to a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outstanding {
    pub block: BlockRef,
    pub length: u32,
    pub sent_at: Time,
    /// When we cancelled it (or the peer choked us). A Fast peer still owes
    /// an answer, so a late block or reject for it is not a protocol error.
    pub cancelled: Option<Time>,
}

impl Outstanding {
    /// True for a request we still expect data for.
    pub fn is_live(&self) -> bool {
        self.cancelled.is_none()
    }
}

/// A read job for a block this peer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingRead {
    pub id: ReadId,
    pub request: BlockRequest,
    /// The request was voided (choke without the Fast extension): drop the data.
    pub void: bool,
}

#[derive(Debug)]
pub struct Peer {
    /// Generation of the slab slot, part of the [`PeerKey`](super::PeerKey).
    pub gen: u32,
    pub addr: SocketAddr,
    pub direction: Direction,
    pub connected_at: Time,
    /// Their handshake arrived and checked out.
    pub handshake_done: bool,
    pub peer_id: Option<PeerId>,
    /// Both sides speak the Fast extension.
    pub fast: bool,
    /// Both sides speak the extension protocol.
    pub extended: bool,
    pub ext: Option<ExtHandshake>,
    pub decoder: Option<Decoder>,
    pub send: SendBuffer,
    /// An [`Output::Transmit`](super::Output::Transmit) is out and not yet
    /// answered by draining the buffer.
    pub transmit_signalled: bool,

    pub has: Bitfield,
    /// Counted in the picker as a seed (has every piece).
    pub is_seed: bool,
    /// Pieces it has that we need (for non-seeds).
    pub interesting: u32,
    /// Pieces it has that we lack, wanted or not (for non-seeds).
    pub lacking: u32,
    /// Peer exchange with it.
    pub(crate) pex: super::pex::PeerPex,
    /// `ut_metadata` requests it made (bounded, see the metadata module).
    pub metadata_served: u32,
    /// A bitfield, have-all, have-none or have was received.
    pub got_have_info: bool,

    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    /// Holds the optimistic unchoke.
    pub optimistic: bool,
    /// Last time the optimistic unchoke went to this peer (never: `None`).
    pub last_optimistic: Option<Time>,

    /// Pieces it lets us request while it chokes us.
    pub allowed_fast_in: Vec<u32>,
    /// Pieces we let it request while we choke it.
    pub allowed_fast_out: Vec<u32>,

    /// Our requests, oldest first.
    pub outgoing: VecDeque<Outstanding>,
    /// How many requests we want outstanding.
    pub depth: u32,
    /// Its requests waiting for a read.
    pub incoming: VecDeque<BlockRequest>,
    /// Reads in flight for it.
    pub reads: Vec<PendingRead>,

    pub down: RateMeter,
    pub up: RateMeter,
    pub last_recv: Time,
    pub last_sent: Time,
    /// Last block received, or when requests to it last started from none.
    pub last_block: Time,
    /// No block for a request timeout while it had our requests.
    pub snubbed: bool,
    /// Growing its queue by one request per block received (doubling per
    /// round trip) until its rate stops growing: finds the depth a
    /// high-latency peer needs faster than the rate alone would.
    pub slow_start: bool,
    /// Its rate at the last slow-start check.
    pub slow_start_rate: u64,
    /// The DHT port from its `port` message.
    pub dht_port: Option<u16>,
}

impl Peer {
    pub fn new(
        gen: u32,
        addr: SocketAddr,
        direction: Direction,
        now: Time,
        pieces: u32,
        decoder: Decoder,
        initial_depth: u32,
    ) -> Peer {
        Peer {
            gen,
            addr,
            direction,
            connected_at: now,
            handshake_done: false,
            peer_id: None,
            fast: false,
            extended: false,
            ext: None,
            decoder: Some(decoder),
            send: SendBuffer::default(),
            transmit_signalled: false,
            has: Bitfield::new(pieces),
            is_seed: false,
            interesting: 0,
            lacking: 0,
            pex: super::pex::PeerPex::new(),
            metadata_served: 0,
            got_have_info: false,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            optimistic: false,
            last_optimistic: None,
            allowed_fast_in: Vec::new(),
            allowed_fast_out: Vec::new(),
            outgoing: VecDeque::new(),
            depth: initial_depth,
            incoming: VecDeque::new(),
            reads: Vec::new(),
            down: RateMeter::new(now),
            up: RateMeter::new(now),
            last_recv: now,
            last_sent: now,
            last_block: now,
            snubbed: false,
            slow_start: true,
            slow_start_rate: 0,
            dht_port: None,
        }
    }

    /// Appends a message to the send buffer.
    pub fn push(&mut self, now: Time, msg: &Message<'_>) {
        self.send.push(msg);
        self.last_sent = now;
    }

    /// The `reqq` it announced, or the usual default.
    pub fn reqq(&self) -> u32 {
        self.ext
            .as_ref()
            .and_then(|e| e.reqq)
            .unwrap_or(DEFAULT_PEER_REQQ)
    }

    /// Requests still expected to be answered with data.
    pub fn live_requests(&self) -> usize {
        self.outgoing
            .iter()
            .filter(|o| o.cancelled.is_none())
            .count()
    }

    /// Bytes of live requests queued at this peer.
    pub fn queued_bytes(&self) -> u64 {
        self.outgoing
            .iter()
            .filter(|o| o.cancelled.is_none())
            .map(|o| u64::from(o.length))
            .sum()
    }

    /// True if the peer has something we need: a wanted piece we lack, or
    /// with `stay` any piece we lack (`missing_total` is how many we lack).
    pub fn is_interesting(&self, needed_total: u32, missing_total: u32, stay: bool) -> bool {
        match (self.is_seed, stay) {
            (true, false) => needed_total > 0,
            (true, true) => missing_total > 0,
            (false, false) => self.interesting > 0,
            (false, true) => self.lacking > 0,
        }
    }

    /// The client name from its extension handshake.
    pub fn client(&self) -> Option<&str> {
        self.ext.as_ref().and_then(|e| e.client.as_deref())
    }
}

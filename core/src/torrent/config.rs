//! Settings of one torrent's engine. Every limit that bounds memory or work is
//! here, with the default a user of a BitTorrent library would expect.

use core::time::Duration;

use crate::id::PeerId;

/// How a [`Torrent`](super::Torrent) behaves.
///
/// ```
/// use sluice_core::torrent::Config;
/// use sluice_core::PeerId;
///
/// let mut cfg = Config::new(PeerId(*b"-SL0100-abcdefghijkl"), 42);
/// cfg.upload_slots = 8;
/// assert_eq!(cfg.max_peers, 100);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// Our peer id, sent in every handshake.
    pub peer_id: PeerId,
    /// Seed of every random choice (picker ties, optimistic unchoke).
    pub seed: u64,
    /// Client name sent in the extension handshake (`v`).
    pub client_name: String,
    /// Our listen port, advertised in the extension handshake (`p`).
    pub listen_port: Option<u16>,
    /// Most connected peers.
    pub max_peers: usize,
    /// Most outbound connections being set up at once.
    pub max_connecting: usize,
    /// Regular upload slots (the optimistic unchoke comes on top).
    pub upload_slots: usize,
    /// Requests we accept queued from one peer (announced as `reqq`).
    pub max_incoming_requests: u32,
    /// Most requests we keep outstanding at one peer, whatever its `reqq`.
    pub max_outgoing_requests: u32,
    /// Outstanding requests per peer before its rate is known.
    pub initial_request_depth: u32,
    /// How much of a peer's measured rate to keep requested: queue depth is
    /// rate × this, in blocks.
    pub request_queue_time: Duration,
    /// Largest frame accepted from a peer.
    pub max_frame: u32,
    /// Bytes buffered for sending to one peer before we stop reading blocks
    /// for it from storage.
    pub max_send_buffer: usize,
    /// Offer the Fast extension (BEP 6).
    pub fast_extension: bool,
    /// Offer the extension protocol (BEP 10).
    pub extension_protocol: bool,
    /// The UDP port of our DHT node, if we run one (BEP 5): the handshake
    /// then sets the DHT bit, and peers that set it too are sent a `port`
    /// message so they can add our node to their routing tables.
    pub dht_port: Option<u16>,
    /// Most peers the urgent piece (the one a reader waits for) is split
    /// over (2). A piece split over more peers is done only when the slowest
    /// of them has delivered its share; rate-limited peers deliver in bursts
    /// on their limiter's tick (libtorrent's every 500 ms), so every extra
    /// share adds another wait for a tick. The other peers, while nothing is
    /// known of the rates and their queues are shorter, race the two for the
    /// same blocks (the picker's rule for urgent blocks another peer would
    /// deliver sooner; the blocks fewest peers race for go first, so with
    /// four peers each half is raced by one), which shortens the wait.
    /// Measured with four 1 MiB/s libtorrent seeds and 1 MiB pieces (`cargo
    /// bench -p sluice-mio --bench streaming`): first byte after a median of
    /// 385 ms split four ways, 375 to 399 ms three ways, 252 to 333 ms two
    /// ways with both racers on one half, 182 to 312 ms with one on each.
    pub urgent_sources: u32,
    /// Allowed-fast pieces granted to a peer that has few pieces (BEP 6's k).
    pub allowed_fast_count: u32,
    /// A connection that has not completed its handshake by then is closed.
    pub handshake_timeout: Duration,
    /// A peer that sent nothing (not even a keep-alive) for this long is closed.
    pub idle_timeout: Duration,
    /// We send a keep-alive after sending nothing for this long.
    pub keepalive_interval: Duration,
    /// A peer that has our requests and sends no block for this long is
    /// snubbed: its requests go to other peers.
    pub request_timeout: Duration,
    /// How often regular upload slots are reassigned.
    pub rechoke_interval: Duration,
    /// How often the optimistic unchoke moves to another peer.
    pub optimistic_interval: Duration,
    /// How often a [`Stats`](super::Stats) event is emitted; `None` for never.
    pub stats_interval: Option<Duration>,
    /// Wait before retrying an address that failed, doubled per failure.
    pub reconnect_backoff: Duration,
    /// Most addresses remembered for connecting.
    pub max_known_addresses: usize,
    /// Seconds of download a stream's read-ahead covers, at the measured rate.
    pub readahead_time: Duration,
    /// Most bytes of read-ahead per stream.
    pub max_readahead: u64,
    /// Shared hash failures after which a peer that never contributed to a
    /// verified piece is banned (a sole source of a failure is banned at once).
    pub max_strikes: u8,
    /// Stay interested in every peer that has a piece we lack, wanted or not.
    /// Peers commonly unchoke only at their next choke round (libtorrent:
    /// up to half a second after `interested`); a streaming client that is
    /// already unchoked sends a reader's first request at once. Costs each
    /// such peer an upload slot it may give to us. torrent-stream does this.
    pub stay_interested: bool,
    /// Exchange peers with peers that speak `ut_pex` (BEP 11). Private
    /// torrents never do, whatever this says.
    pub pex: bool,
}

impl Config {
    /// Defaults, with our peer id and the seed of every random choice.
    pub fn new(peer_id: PeerId, seed: u64) -> Config {
        Config {
            peer_id,
            seed,
            client_name: concat!("sluice/", env!("CARGO_PKG_VERSION")).to_string(),
            listen_port: None,
            max_peers: 100,
            max_connecting: 20,
            upload_slots: 4,
            max_incoming_requests: 500,
            max_outgoing_requests: 500,
            initial_request_depth: 4,
            request_queue_time: Duration::from_secs(1),
            max_frame: 1 << 20,
            max_send_buffer: 1 << 20,
            fast_extension: true,
            extension_protocol: true,
            dht_port: None,
            urgent_sources: 2,
            allowed_fast_count: 10,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(150),
            keepalive_interval: Duration::from_secs(60),
            request_timeout: Duration::from_secs(20),
            rechoke_interval: Duration::from_secs(10),
            optimistic_interval: Duration::from_secs(30),
            stats_interval: Some(Duration::from_secs(1)),
            reconnect_backoff: Duration::from_secs(5),
            max_known_addresses: 2000,
            readahead_time: Duration::from_secs(4),
            max_readahead: 64 << 20,
            max_strikes: 3,
            stay_interested: false,
            pex: true,
        }
    }
}

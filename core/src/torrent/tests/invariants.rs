//! The property test: a leeching torrent and up to four fake peers doing
//! random, protocol-abiding things; after every input the requests on the wire
//! are checked against the rules.

use super::*;

/// Requests a peer accepts when it announces no `reqq`.
const DEFAULT_REQQ: usize = 250;

/// What a fake peer does next.
#[derive(Debug, Clone)]
enum Act {
    /// A bitfield (bit `i` of the mask: piece `i`), if it sent no piece
    /// information yet.
    Bitfield(u8),
    Have(u8),
    HaveAll,
    HaveNone,
    /// With the Fast extension, every pending request outside the
    /// allowed-fast set is rejected right after the choke.
    Choke,
    Unchoke,
    AllowedFast(u8),
    /// Rejects one pending request (Fast only).
    Reject(u8),
    /// Sends the block of one pending request, with the right data.
    Deliver(u8),
    /// Sends the block of one pending request with a byte flipped.
    Corrupt(u8),
    /// Extension handshake announcing this `reqq`.
    Ext(u32),
    Disconnect,
    /// Connects again after a disconnect.
    Join,
    /// Time passes (milliseconds).
    Wait(u32),
    /// Opens a stream at this fraction of the file (/ 65536), or seeks it.
    Stream(u16),
    /// The program sets a piece's priority (skip, normal, high).
    Priority(u8, u8),
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        2 => any::<u8>().prop_map(Act::Bitfield),
        3 => any::<u8>().prop_map(Act::Have),
        1 => Just(Act::HaveAll),
        1 => Just(Act::HaveNone),
        2 => Just(Act::Choke),
        4 => Just(Act::Unchoke),
        2 => any::<u8>().prop_map(Act::AllowedFast),
        2 => any::<u8>().prop_map(Act::Reject),
        10 => any::<u8>().prop_map(Act::Deliver),
        1 => any::<u8>().prop_map(Act::Corrupt),
        2 => prop_oneof![1u32..=4, 1u32..=300].prop_map(Act::Ext),
        1 => Just(Act::Disconnect),
        1 => Just(Act::Join),
        2 => (0u32..45_000).prop_map(Act::Wait),
        1 => any::<u16>().prop_map(Act::Stream),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(p, l)| Act::Priority(p, l)),
    ]
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    req: BlockRequest,
    /// When the torrent sent it.
    sent: Time,
    /// We sent a cancel; a Fast peer still owes an answer.
    cancelled: bool,
}

/// The model of one fake peer: what it told the torrent and what the torrent
/// asked of it.
struct Fake {
    fast: bool,
    ext: bool,
    direction: Direction,
    key: PeerKey,
    ip: IpAddr,
    alive: bool,
    reader: Reader,
    has: Bitfield,
    have_info: bool,
    choking: bool,
    allowed: Vec<u32>,
    reqq: Option<u32>,
    pending: Vec<Pending>,
    /// When it last sent the torrent anything.
    heard: Time,
    /// It sent its handshake.
    greeted: bool,
    /// What the torrent last told it: interested or not.
    wanted_by_us: bool,
}

impl Fake {
    /// Requests the torrent still wants answered (not cancelled).
    fn live(&self) -> impl Iterator<Item = &BlockRequest> + '_ {
        self.pending.iter().filter(|p| !p.cancelled).map(|p| &p.req)
    }

    /// Removes the oldest pending entry for `req` (peers answer in order).
    fn answer(&mut self, req: BlockRequest) {
        let at = self
            .pending
            .iter()
            .position(|p| p.req == req)
            .expect("answering a pending request");
        self.pending.remove(at);
    }

    /// True when the oldest pending copy of `req` was cancelled and a newer
    /// one is live: the torrent asked again for a block it had cancelled.
    fn cancelled_twin(&self, req: BlockRequest) -> bool {
        let mut copies = self.pending.iter().filter(|p| p.req == req);
        copies.next().is_some_and(|p| p.cancelled) && copies.next().is_some()
    }
}

struct Swarm {
    fx: Fixture,
    t: Torrent,
    now: Time,
    idle_timeout: Duration,
    request_timeout: Duration,
    store: Vec<u8>,
    fakes: Vec<Fake>,
    disk: VecDeque<DiskJob>,
    /// Blocks (piece, offset) the torrent took in (until their piece fails).
    delivered: BTreeSet<(u32, u32)>,
    /// Pieces the torrent wrote bad data for (until they fail).
    corrupted: BTreeSet<u32>,
    /// Addresses that took part in a failed piece.
    struck: BTreeSet<IpAddr>,
    banned: BTreeSet<IpAddr>,
    stream: Option<StreamId>,
    /// Connections opened so far: each gets its own address and peer id.
    joined: u8,
}

impl Swarm {
    fn new(fx: Fixture, seed: u64, peers: &[(bool, bool, bool)]) -> Swarm {
        let cfg = Config::new(OUR_ID, seed);
        let idle_timeout = cfg.idle_timeout;
        let request_timeout = cfg.request_timeout;
        let t = fx.torrent(Bitfield::new(fx.count()), cfg);
        let count = fx.count();
        let mut s = Swarm {
            store: vec![0; fx.data.len()],
            fx,
            t,
            now: T0,
            idle_timeout,
            request_timeout,
            fakes: Vec::new(),
            disk: VecDeque::new(),
            delivered: BTreeSet::new(),
            corrupted: BTreeSet::new(),
            struck: BTreeSet::new(),
            banned: BTreeSet::new(),
            stream: None,
            joined: 0,
        };
        for &(fast, ext, outbound) in peers {
            s.fakes.push(Fake {
                fast,
                ext,
                direction: if outbound {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                },
                key: PeerKey::default(),
                ip: IpAddr::from([0, 0, 0, 0]),
                alive: false,
                reader: Reader::new(count),
                has: Bitfield::new(count),
                have_info: false,
                choking: true,
                allowed: Vec::new(),
                reqq: None,
                pending: Vec::new(),
                heard: T0,
                greeted: false,
                wanted_by_us: false,
            });
        }
        for i in 0..s.fakes.len() {
            s.join(i);
        }
        s
    }

    fn count(&self) -> u32 {
        self.fx.count()
    }

    /// (Re)connects fake `i` as a fresh connection from a fresh address.
    fn join(&mut self, i: usize) {
        let count = self.count();
        let f = &mut self.fakes[i];
        if f.alive {
            return;
        }
        self.joined += 1;
        let a = addr(self.joined);
        f.ip = a.ip();
        f.key = self.t.handle_connected(self.now, a, f.direction);
        f.alive = true;
        f.reader = Reader::new(count);
        f.has = Bitfield::new(count);
        f.have_info = false;
        f.choking = true;
        f.allowed.clear();
        f.reqq = None;
        f.pending.clear();
        f.greeted = false;
        f.wanted_by_us = false;
        let hs = Handshake {
            reserved: Reserved::NONE.with_fast(f.fast).with_extensions(f.ext),
            info_hash: self.fx.meta.info_hash,
            peer_id: peer_id(self.joined),
        };
        self.settle();
        self.send(i, hs.to_bytes().to_vec(), 0);
        self.fakes[i].greeted = true;
    }

    /// Delivers bytes from fake `i`, split in two at `split`.
    fn send(&mut self, i: usize, bytes: Vec<u8>, split: u8) {
        if !self.fakes[i].alive {
            return;
        }
        self.fakes[i].heard = self.now;
        let key = self.fakes[i].key;
        let at = usize::from(split) % (bytes.len() + 1);
        for part in [&bytes[..at], &bytes[at..]] {
            if !part.is_empty() {
                self.t.handle_data(self.now, key, part);
                self.settle();
            }
        }
    }

    fn send_msgs(&mut self, i: usize, msgs: &[Message<'_>], split: u8) {
        self.send(i, encode(msgs), split);
    }

    /// Drains the torrent after an input: closes, events, what it sent, and
    /// the storage jobs (completed at once, each followed by the same checks).
    fn settle(&mut self) {
        loop {
            for o in drain(&mut self.t) {
                match o {
                    Output::Close { peer, reason } => self.closed(peer, reason),
                    Output::Event(e) => self.event(e),
                    Output::Disk(job) => {
                        if let DiskJob::Write {
                            piece,
                            offset,
                            data,
                        } = &job
                        {
                            self.accepted(*piece, *offset, data);
                        }
                        self.disk.push_back(job);
                    }
                    Output::Transmit(_) | Output::Connect(_) => {}
                }
            }
            self.read_wires();
            let Some(job) = self.disk.pop_front() else {
                break;
            };
            self.run(job);
        }
        let live: BTreeSet<PeerKey> = self.t.peers(self.now).iter().map(|p| p.key).collect();
        let ours: BTreeSet<PeerKey> = self
            .fakes
            .iter()
            .filter(|f| f.alive)
            .map(|f| f.key)
            .collect();
        assert_eq!(live, ours, "connections the torrent has vs. the model");
    }

    /// We are interested exactly in peers that have a piece we need (once
    /// everything a step sent has arrived).
    fn check_interest(&self) {
        for (i, f) in self
            .fakes
            .iter()
            .enumerate()
            .filter(|(_, f)| f.alive && f.greeted)
        {
            let want = f.has.ones().any(|p| self.t.picker.needed(p));
            assert_eq!(
                f.wanted_by_us, want,
                "peer {i} has {:?}; interested: {}",
                f.has, f.wanted_by_us
            );
        }
    }

    fn run(&mut self, job: DiskJob) {
        let layout = self.fx.meta.layout();
        match job {
            DiskJob::Write {
                piece,
                offset,
                data,
            } => {
                let at = (layout.piece_offset(piece) + u64::from(offset)) as usize;
                self.store[at..at + data.len()].copy_from_slice(&data);
                self.t.handle_write(self.now, piece, offset, Ok(()));
            }
            DiskJob::Hash { piece } => {
                let at = layout.piece_offset(piece) as usize;
                let end = at + layout.piece_len(piece) as usize;
                let digest = hash_piece(&self.store[at..end]);
                self.t.handle_hash(self.now, piece, Ok(digest));
            }
            DiskJob::Read { .. } => panic!("nobody asked the leecher for data: {job:?}"),
        }
    }

    /// The torrent took a block in (and asks for it to be written).
    fn accepted(&mut self, piece: u32, offset: u32, data: &[u8]) {
        assert!(
            self.delivered.insert((piece, offset)),
            "block {piece}/{offset} written twice"
        );
        if data != self.fx.bytes(piece, offset, data.len() as u32) {
            self.corrupted.insert(piece);
        }
    }

    fn closed(&mut self, key: PeerKey, reason: CloseReason) {
        let now = self.now;
        let complete = self.t.is_complete();
        let Some(f) = self.fakes.iter_mut().find(|f| f.alive && f.key == key) else {
            panic!("close of an unknown connection {key:?}");
        };
        match &reason {
            CloseReason::Idle => assert!(
                now - f.heard > self.idle_timeout,
                "closed as idle after {:?} of silence",
                now - f.heard
            ),
            CloseReason::BothSeeds => assert!(complete && f.has.is_full()),
            CloseReason::Banned => assert!(self.banned.contains(&f.ip)),
            other => panic!("honest peer closed: {other:?}"),
        }
        f.alive = false;
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::HashFailed {
                piece,
                contributors,
            } => {
                assert!(
                    self.corrupted.remove(&piece),
                    "piece {piece} failed without bad data"
                );
                self.delivered.retain(|(p, _)| *p != piece);
                self.struck.extend(contributors);
            }
            Event::PieceVerified { piece } => {
                self.corrupted.remove(&piece);
            }
            Event::PeerBanned { ip, .. } => {
                assert!(self.struck.contains(&ip), "{ip} banned without a strike");
                self.banned.insert(ip);
            }
            Event::Stopped { .. } => panic!("no storage error, yet {e:?}"),
            _ => {}
        }
    }

    /// Reads every connection's send buffer and checks each request.
    fn read_wires(&mut self) {
        let mut fresh: Vec<(usize, BlockRequest)> = Vec::new();
        for i in 0..self.fakes.len() {
            if !self.fakes[i].alive {
                continue;
            }
            let key = self.fakes[i].key;
            let msgs = self.fakes[i].reader.read(&mut self.t, self.now, key);
            for m in msgs {
                match m {
                    Msg::Request(r) => {
                        self.check_request(i, r);
                        self.fakes[i].pending.push(Pending {
                            req: r,
                            sent: self.now,
                            cancelled: false,
                        });
                        fresh.push((i, r));
                    }
                    Msg::Cancel(r) => {
                        let f = &mut self.fakes[i];
                        let at = f
                            .pending
                            .iter()
                            .position(|p| !p.cancelled && p.req == r)
                            .unwrap_or_else(|| panic!("cancel of {r:?}, not outstanding"));
                        if f.fast {
                            f.pending[at].cancelled = true;
                        } else {
                            f.pending.remove(at);
                        }
                    }
                    Msg::Interested => self.fakes[i].wanted_by_us = true,
                    Msg::NotInterested => self.fakes[i].wanted_by_us = false,
                    Msg::Piece(..) | Msg::Reject(_) => {
                        panic!("the leecher answered a request nobody made: {m:?}")
                    }
                    _ => {}
                }
            }
            if let Some(hs) = self.fakes[i].reader.handshake {
                assert_eq!(hs.info_hash, self.fx.meta.info_hash);
                assert_eq!(hs.peer_id, OUR_ID);
            }
        }
        self.check_outstanding(&fresh);
    }

    fn check_request(&self, i: usize, r: BlockRequest) {
        let f = &self.fakes[i];
        let layout = self.fx.meta.layout();
        assert!(r.piece < self.count(), "{r:?}: no such piece");
        assert_eq!(r.offset % K, 0, "{r:?}: unaligned");
        let blk = layout
            .block(r.piece, r.offset / K)
            .unwrap_or_else(|| panic!("{r:?}: past the end of the piece"));
        assert_eq!(r.length, blk.length, "{r:?}: not a whole block");
        assert!(f.has.get(r.piece), "{r:?}: peer {i} never announced it");
        assert!(
            !f.choking || f.fast && f.allowed.contains(&r.piece),
            "{r:?}: peer {i} chokes us and did not allow it"
        );
        assert!(!self.t.have().get(r.piece), "{r:?}: piece already verified");
        assert!(self.t.picker.wanted(r.piece), "{r:?}: piece not wanted");
        assert!(
            !self.delivered.contains(&(r.piece, r.offset)),
            "{r:?}: block already delivered"
        );
        assert!(!f.live().any(|q| *q == r), "{r:?}: asked twice of peer {i}");
        let reqq = f.reqq.map_or(DEFAULT_REQQ, |q| q as usize);
        assert!(
            f.live().count() < reqq,
            "{r:?}: peer {i} announced reqq {reqq} and has {} outstanding",
            f.live().count()
        );
    }

    /// No block is outstanding at two peers outside endgame and urgent
    /// streaming, or at more than `MAX_REQUESTERS`; and every outstanding
    /// request is one the picker knows about.
    fn check_outstanding(&self, fresh: &[(usize, BlockRequest)]) {
        let mut holders: BTreeMap<BlockRequest, Vec<usize>> = BTreeMap::new();
        for (i, f) in self.fakes.iter().enumerate().filter(|(_, f)| f.alive) {
            for r in f.live() {
                holders.entry(*r).or_default().push(i);
                let blk = self
                    .t
                    .picker
                    .block_of(r.piece, r.offset, r.length)
                    .expect("checked when requested");
                let state = self
                    .t
                    .picker
                    .partial(r.piece)
                    .map(|p| p.blocks()[blk.block as usize]);
                assert!(
                    matches!(state, Some(BlockState::Requested(q)) if q.contains(f.key)),
                    "{r:?} outstanding at peer {i}, picker has {state:?}"
                );
            }
        }
        for (r, who) in &holders {
            assert!(who.len() <= MAX_REQUESTERS, "{r:?} outstanding at {who:?}");
        }
        let endgame = self.t.picker.in_endgame();
        for (i, r) in fresh {
            let Some(who) = holders.get(r) else { continue };
            if who.len() > 1 && who.contains(i) {
                assert!(
                    endgame || self.t.picker.is_urgent(r.piece),
                    "{r:?} asked of peer {i} while outstanding at {who:?}, not in endgame"
                );
            }
        }
    }

    /// The torrent forgets a cancelled request two request timeouts after
    /// it was sent; a Fast peer's answer after that is misread (see
    /// `a_late_answer_to_a_cancelled_request_is_not_a_protocol_error` and
    /// `a_late_reject_does_not_void_a_newer_request`). Until that is fixed,
    /// the fake peers drop such requests silently, as the torrent does.
    fn forget_old_cancels(&mut self) {
        let forget = self.request_timeout * 2;
        let now = self.now;
        for f in &mut self.fakes {
            if f.fast {
                f.pending.retain(|p| !p.cancelled || now - p.sent < forget);
            }
        }
    }

    /// Lets `ms` milliseconds pass, firing every timer on the way.
    fn wait(&mut self, ms: u32) {
        let to = self.now + Duration::from_millis(u64::from(ms));
        while let Some(at) = self.t.poll_timeout() {
            if at > to {
                break;
            }
            self.now = self.now.max(at);
            self.t.handle_timeout(self.now);
            self.settle();
            self.forget_old_cancels();
        }
        self.now = to;
    }

    /// The first live peer from `i` on (wrapping around) that
    /// is owed an answer (by a Fast peer if `fast_only`).
    fn owing(&self, i: usize, fast_only: bool) -> Option<usize> {
        let n = self.fakes.len();
        (0..n).map(|d| (i + d) % n).find(|&j| {
            let f = &self.fakes[j];
            f.alive && !f.pending.is_empty() && (f.fast || !fast_only)
        })
    }

    fn step(&mut self, i: usize, act: &Act, split: u8) {
        self.act(i, act, split);
        self.check_interest();
    }

    fn act(&mut self, i: usize, act: &Act, split: u8) {
        let count = self.count();
        let i = match act {
            Act::Deliver(_) | Act::Corrupt(_) => self.owing(i, false).unwrap_or(i),
            Act::Reject(_) => self.owing(i, true).unwrap_or(i),
            _ => i,
        };
        let fast = self.fakes[i].fast;
        let global = matches!(
            act,
            Act::Join | Act::Wait(_) | Act::Stream(_) | Act::Priority(..)
        );
        if !self.fakes[i].alive && !global {
            return;
        }
        match *act {
            Act::Bitfield(mask) => {
                if self.fakes[i].have_info {
                    return;
                }
                let mut has = Bitfield::new(count);
                for p in 0..count.min(8) {
                    has.set(p, mask & (1 << p) != 0);
                }
                self.fakes[i].has = has.clone();
                self.fakes[i].have_info = true;
                self.send_msgs(i, &[Message::Bitfield(&has.to_wire())], split);
            }
            Act::Have(p) => {
                let piece = u32::from(p) % count;
                self.fakes[i].has.set(piece, true);
                self.fakes[i].have_info = true;
                self.send_msgs(i, &[Message::Have { piece }], split);
            }
            Act::HaveAll | Act::HaveNone => {
                if !fast || self.fakes[i].have_info {
                    return;
                }
                let all = matches!(act, Act::HaveAll);
                self.fakes[i].has = if all {
                    Bitfield::full(count)
                } else {
                    Bitfield::new(count)
                };
                self.fakes[i].have_info = true;
                let msg = if all {
                    Message::HaveAll
                } else {
                    Message::HaveNone
                };
                self.send_msgs(i, &[msg], split);
            }
            Act::Choke => {
                let f = &mut self.fakes[i];
                if f.choking {
                    return;
                }
                f.choking = true;
                let mut msgs = vec![Message::Choke];
                if fast {
                    // BEP 6: choke, then reject all but allowed-fast requests.
                    let allowed = f.allowed.clone();
                    let (keep, reject): (Vec<Pending>, Vec<Pending>) =
                        std::mem::take(&mut f.pending)
                            .into_iter()
                            .partition(|p| allowed.contains(&p.req.piece));
                    f.pending = keep;
                    msgs.extend(reject.iter().map(|p| Message::Reject(p.req)));
                } else {
                    f.pending.clear();
                }
                self.send_msgs(i, &msgs, split);
            }
            Act::Unchoke => {
                if !self.fakes[i].choking {
                    return;
                }
                self.fakes[i].choking = false;
                self.send_msgs(i, &[Message::Unchoke], split);
            }
            Act::AllowedFast(p) => {
                if !fast {
                    return;
                }
                let piece = u32::from(p) % count;
                if !self.fakes[i].allowed.contains(&piece) {
                    self.fakes[i].allowed.push(piece);
                }
                self.send_msgs(i, &[Message::AllowedFast { piece }], split);
            }
            Act::Reject(n) => {
                let f = &mut self.fakes[i];
                if !fast || f.pending.is_empty() {
                    return;
                }
                let req = f.pending[usize::from(n) % f.pending.len()].req;
                f.answer(req);
                self.send_msgs(i, &[Message::Reject(req)], split);
            }
            Act::Deliver(n) | Act::Corrupt(n) => {
                let f = &mut self.fakes[i];
                if f.pending.is_empty() {
                    return;
                }
                let req = f.pending[usize::from(n) % f.pending.len()].req;
                let twin = f.cancelled_twin(req);
                f.answer(req);
                if twin {
                    // The answer would be taken for the live copy (see
                    // `a_snubbed_fast_peer_is_not_asked_again_for_a_cancelled_block`):
                    // answer the cancelled copy with a reject instead.
                    self.send_msgs(i, &[Message::Reject(req)], split);
                    return;
                }
                let mut data = self.fx.bytes(req.piece, req.offset, req.length).to_vec();
                if matches!(act, Act::Corrupt(_)) {
                    data[0] ^= 0xff;
                }
                let msg = Message::Piece {
                    piece: req.piece,
                    offset: req.offset,
                    data: &data,
                };
                self.send_msgs(i, &[msg], split);
            }
            Act::Ext(reqq) => {
                if !self.fakes[i].ext {
                    return;
                }
                self.fakes[i].reqq = Some(reqq);
                let payload = ExtHandshake {
                    reqq: Some(reqq),
                    client: Some("fake/1".into()),
                    ..ExtHandshake::default()
                }
                .encode();
                self.send_msgs(
                    i,
                    &[Message::Extended {
                        id: 0,
                        payload: &payload,
                    }],
                    split,
                );
            }
            Act::Disconnect => {
                let key = self.fakes[i].key;
                self.fakes[i].alive = false;
                self.t.handle_closed(self.now, key, "reset by peer");
                self.settle();
            }
            Act::Join => self.join(i),
            Act::Wait(ms) => self.wait(ms),
            Act::Priority(p, level) => {
                let prio =
                    [Priority::Skip, Priority::Normal, Priority::High][usize::from(level) % 3];
                self.t
                    .set_piece_priority(self.now, u32::from(p) % count, prio);
                self.settle();
            }
            Act::Stream(at) => {
                let len = self.fx.data.len() as u64;
                let pos = len * u64::from(at) / 65_536;
                match self.stream {
                    None => {
                        self.stream = self.t.open_stream(self.now, 0, pos..len).ok();
                    }
                    Some(id) => {
                        let _ = self.t.seek_stream(self.now, id, pos);
                    }
                }
                self.settle();
            }
        }
    }
}

/// A payload of `pieces` pieces of `piece_len` bytes, the last one `tail`
/// bytes long (at most a piece).
fn payload() -> impl Strategy<Value = (u32, usize)> {
    (
        prop_oneof![Just(16 * 1024u32), Just(32 * 1024u32)],
        1usize..=6,
        1usize..=32 * 1024,
    )
        .prop_map(|(piece_len, pieces, tail)| {
            let tail = 1 + (tail - 1) % piece_len as usize;
            (piece_len, (pieces - 1) * piece_len as usize + tail)
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn requests_on_the_wire_respect_what_peers_allow(
        (piece_len, len) in payload(),
        seed in any::<u64>(),
        peers in proptest::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 1..=4),
        steps in proptest::collection::vec((any::<u8>(), act(), any::<u8>()), 1..80),
    ) {
        let fx = Fixture::new(piece_len, len);
        let mut swarm = Swarm::new(fx, seed, &peers);
        for (who, act, split) in &steps {
            let i = usize::from(*who) % swarm.fakes.len();
            swarm.step(i, act, *split);
        }
    }
}

/// Found by `requests_on_the_wire_respect_what_peers_allow`: a Fast peer
/// snubbed while a stream waits, then a block delivered and one rejected.
#[test]
fn a_snubbed_fast_peer_with_a_stream_is_never_asked_twice() {
    let fx = Fixture::new(32768, 98305);
    let mut swarm = Swarm::new(fx, 0, &[(true, false, false)]);
    let steps = [
        (Act::Choke, 0),
        (Act::Unchoke, 0),
        (Act::HaveAll, 0),
        (Act::Stream(43691), 0),
        (Act::Wait(20000), 3),
        (Act::Deliver(35), 236),
        (Act::Reject(193), 36),
    ];
    for (act, split) in &steps {
        swarm.step(0, act, *split);
    }
}

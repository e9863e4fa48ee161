//! The fetcher against scripted peers, with a fake clock.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::id::InfoHash;
use crate::rng::Rng;
use crate::time::Time;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// Serves the true metadata.
    Honest,
    /// Serves metadata of the right size with block `n` (all blocks for
    /// `u32::MAX`) corrupted.
    Liar(u32),
    /// Never answers.
    Silent,
    /// Rejects every request.
    Rejecter,
    /// Announces and serves zeros of another size.
    OtherSize(u32),
}

struct Sim {
    fetcher: MetadataFetcher<u64>,
    truth: Vec<u8>,
    peers: BTreeMap<u64, Peer>,
    now: Time,
    rng: Rng,
    /// Every request sent: (time, peer, piece).
    requests: Vec<(Time, u64, u32)>,
    bans: Vec<(u64, BanReason)>,
    done: Option<Vec<u8>>,
    inbox: Vec<(u64, Vec<u8>)>,
}

impl Sim {
    fn new(truth: Vec<u8>, seed: u64) -> Sim {
        Sim {
            fetcher: MetadataFetcher::new(InfoHash::of(&truth)),
            truth,
            peers: BTreeMap::new(),
            now: Time::ZERO,
            rng: Rng::new(seed),
            requests: Vec::new(),
            bans: Vec::new(),
            done: None,
            inbox: Vec::new(),
        }
    }

    /// Adds a peer whose handshake says `ut_metadata` is extended id 3.
    fn add(&mut self, key: u64, behaviour: Peer) {
        let size = match behaviour {
            Peer::OtherSize(n) => n,
            _ => self.truth.len() as u32,
        };
        self.add_with_size(key, behaviour, Some(size));
    }

    fn add_with_size(&mut self, key: u64, behaviour: Peer, size: Option<u32>) {
        self.peers.insert(key, behaviour);
        self.fetcher.peer_supports(key, 3, size);
    }

    fn answer(&self, peer: u64, piece: u32) -> Option<Vec<u8>> {
        let mut served = self.truth.clone();
        match self.peers[&peer] {
            Peer::Honest => {}
            Peer::Liar(n) => {
                for (i, block) in served.chunks_mut(BLOCK_SIZE).enumerate() {
                    if n == u32::MAX || i as u32 == n {
                        block[0] ^= 0xff;
                    }
                }
            }
            Peer::Silent => return None,
            Peer::Rejecter => return Some(Message::Reject { piece }.to_bytes()),
            Peer::OtherSize(n) => served = vec![0; n as usize],
        }
        Some(respond(Some(&served), piece).to_bytes())
    }

    /// Drains the fetcher, queueing the scripted answers.
    fn drain(&mut self) {
        while let Some(event) = self.fetcher.poll(self.now) {
            match event {
                FetchEvent::Send {
                    peer,
                    ext_id,
                    payload,
                } => {
                    assert_eq!(ext_id, 3);
                    let Ok(Message::Request { piece }) = Message::decode(&payload) else {
                        panic!("the fetcher sends requests only, got {payload:?}");
                    };
                    self.requests.push((self.now, peer, piece));
                    if let Some(answer) = self.answer(peer, piece) {
                        self.inbox.push((peer, answer));
                    }
                }
                FetchEvent::Ban { peer, reason } => self.bans.push((peer, reason)),
                FetchEvent::Done { metadata } => {
                    assert!(self.done.is_none(), "Done twice");
                    self.done = Some(metadata);
                }
            }
        }
    }

    /// Runs until done or nothing can happen any more; answers arrive 1 ms after
    /// the requests, in an order the seed picks.
    fn run(&mut self) {
        for _ in 0..100_000 {
            self.drain();
            if self.done.is_some() {
                return;
            }
            if self.inbox.is_empty() {
                match self.fetcher.poll_timeout() {
                    Some(t) => self.now = t.max(self.now),
                    None => return,
                }
                continue;
            }
            self.now += Duration::from_millis(1);
            let mut inbox = std::mem::take(&mut self.inbox);
            self.rng.shuffle(&mut inbox);
            for (peer, bytes) in inbox {
                self.fetcher.handle_message(peer, &bytes).unwrap();
            }
        }
        panic!("the simulation did not settle");
    }

    fn asked(&self, peer: u64) -> usize {
        self.requests.iter().filter(|r| r.1 == peer).count()
    }
}

fn metadata(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

#[test]
fn one_honest_peer_delivers_everything() {
    let mut sim = Sim::new(metadata(5 * BLOCK_SIZE + 100, 1), 0);
    sim.add(1, Peer::Honest);
    sim.drain();
    // At most three requests at once, each for a distinct block.
    assert_eq!(sim.requests.len(), 3);
    assert_eq!(
        sim.fetcher.metadata_size(),
        Some(5 * BLOCK_SIZE as u32 + 100)
    );
    assert_eq!(sim.fetcher.progress(), (0, 6));
    sim.run();
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
    assert_eq!(sim.requests.len(), 6);
    assert!(sim.bans.is_empty());
    assert!(sim.fetcher.is_done());
    assert_eq!(sim.fetcher.poll(sim.now), None);
}

#[test]
fn requests_are_spread_over_peers() {
    let mut sim = Sim::new(metadata(9 * BLOCK_SIZE, 2), 0);
    for k in 1..=3 {
        sim.add(k, Peer::Honest);
    }
    sim.drain();
    assert_eq!(sim.requests.len(), 9);
    for k in 1..=3 {
        assert_eq!(sim.asked(k), 3, "peer {k}");
    }
    sim.run();
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
}

#[test]
fn timed_out_requests_are_retried_elsewhere() {
    let mut sim = Sim::new(metadata(2 * BLOCK_SIZE, 3), 0);
    sim.add(1, Peer::Silent);
    sim.add(2, Peer::Silent);
    sim.drain();
    assert_eq!(sim.requests.len(), 2);
    let deadline = Time::ZERO + Duration::from_secs(10);
    assert_eq!(sim.fetcher.poll_timeout(), Some(deadline));
    // An honest peer arrives, but every block is already asked for: nothing
    // moves before the deadline.
    sim.add(3, Peer::Honest);
    sim.now = Time::from_millis(9_999);
    sim.drain();
    assert_eq!(sim.requests.len(), 2);
    sim.run();
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
    // Both blocks went to peer 3 once the first requests timed out.
    assert_eq!(sim.asked(3), 2);
    assert!(sim.requests[2..].iter().all(|r| r.0 == deadline));
}

#[test]
fn a_timed_out_block_goes_to_a_peer_not_yet_asked() {
    let mut sim = Sim::new(metadata(BLOCK_SIZE, 4), 0);
    sim.add(1, Peer::Silent);
    sim.drain();
    sim.add(2, Peer::Silent);
    sim.add(3, Peer::Honest);
    sim.now = Time::ZERO + Duration::from_secs(10);
    sim.drain();
    // Peer 1 was asked already; of the other two the lower key goes first.
    assert_eq!(sim.requests.last().map(|r| r.1), Some(2));
    sim.run();
    assert_eq!(
        sim.requests.iter().map(|r| r.1).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
}

#[test]
fn a_late_answer_after_a_timeout_still_counts() {
    let truth = metadata(100, 5);
    let mut f = MetadataFetcher::new(InfoHash::of(&truth));
    f.peer_supports(7u64, 2, Some(100));
    assert!(matches!(
        f.poll(Time::ZERO),
        Some(FetchEvent::Send { peer: 7, .. })
    ));
    assert_eq!(f.poll(Time::ZERO), None);
    let late = Time::ZERO + Duration::from_secs(11);
    // The timeout re-asks the same peer (it is the only one)...
    assert!(matches!(
        f.poll(late),
        Some(FetchEvent::Send { peer: 7, .. })
    ));
    // ...and the answer to either request completes the fetch.
    let answer = respond(Some(&truth), 0).to_bytes();
    f.handle_message(7, &answer).unwrap();
    assert_eq!(f.poll(late), Some(FetchEvent::Done { metadata: truth }));
    assert_eq!(f.poll_timeout(), None);
}

#[test]
fn a_reject_means_the_peer_has_no_metadata() {
    let mut sim = Sim::new(metadata(4 * BLOCK_SIZE, 6), 0);
    sim.add(1, Peer::Rejecter);
    sim.add(2, Peer::Honest);
    sim.run();
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
    // Peer 1 got half of the first requests, and none after rejecting them.
    assert_eq!(sim.asked(1), 2);
    assert!(sim.requests.iter().all(|r| r.1 != 1 || r.0 == Time::ZERO));
}

#[test]
fn a_sole_liar_is_named_and_an_honest_peer_finishes() {
    let mut sim = Sim::new(metadata(3 * BLOCK_SIZE, 7), 0);
    sim.add(1, Peer::Liar(1));
    sim.run();
    assert_eq!(sim.bans, [(1, BanReason::BadMetadata)]);
    assert!(sim.done.is_none());
    assert!(sim.fetcher.is_banned(1));
    // A banned peer's new handshake is ignored.
    sim.fetcher.peer_supports(1, 3, Some(3 * BLOCK_SIZE as u32));
    assert_eq!(sim.fetcher.peer_count(), 0);
    sim.add(2, Peer::Honest);
    sim.run();
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
}

#[test]
fn a_liar_among_honest_peers_is_named_after_verification() {
    let mut sim = Sim::new(metadata(6 * BLOCK_SIZE, 8), 0);
    sim.add(1, Peer::Honest);
    sim.add(2, Peer::Liar(u32::MAX));
    sim.add(3, Peer::Honest);
    sim.run();
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
    assert_eq!(sim.bans, [(2, BanReason::BadBlock)]);
}

#[test]
fn the_size_most_peers_announce_wins_and_the_others_are_named() {
    let mut sim = Sim::new(metadata(2 * BLOCK_SIZE + 1, 9), 0);
    sim.add(1, Peer::OtherSize(100));
    sim.drain();
    assert_eq!(sim.fetcher.metadata_size(), Some(100));
    sim.add(2, Peer::Honest);
    sim.drain();
    // A tie keeps the size in progress.
    assert_eq!(sim.fetcher.metadata_size(), Some(100));
    sim.add(3, Peer::Honest);
    sim.run();
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
    assert!(sim.bans.contains(&(1, BanReason::WrongSize)));
    assert!(!sim.bans.iter().any(|b| b.0 != 1));
}

#[test]
fn a_size_over_the_cap_gets_the_peer_ignored() {
    let mut f = MetadataFetcher::new(InfoHash([0; 20]));
    f.peer_supports(1u64, 3, Some(MAX_METADATA_SIZE + 1));
    f.peer_supports(2u64, 3, Some(0));
    f.peer_supports(3u64, 0, Some(100));
    assert_eq!(f.peer_count(), 0);
    assert_eq!(f.poll(Time::ZERO), None);
    f.peer_supports(4u64, 3, Some(MAX_METADATA_SIZE));
    assert_eq!(f.peer_count(), 1);
    // A later handshake with a huge size drops the peer again.
    f.peer_supports(4u64, 3, Some(u32::MAX));
    assert_eq!(f.peer_count(), 0);
}

#[test]
fn with_no_size_announced_block_0_is_probed() {
    let mut sim = Sim::new(metadata(BLOCK_SIZE + 10, 10), 0);
    sim.add_with_size(1, Peer::Honest, None);
    sim.add_with_size(2, Peer::Honest, None);
    sim.drain();
    assert_eq!(sim.requests, [(Time::ZERO, 1, 0)]);
    sim.run();
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
    assert_eq!(sim.requests.len(), 2, "block 0 is not fetched twice");
}

#[test]
fn a_peer_contradicting_its_own_size_is_named() {
    let truth = metadata(100, 11);
    let mut f = MetadataFetcher::new(InfoHash::of(&truth));
    f.peer_supports(1u64, 3, Some(100));
    assert!(f.poll(Time::ZERO).is_some());
    let other = vec![0u8; 50];
    f.handle_message(1, &respond(Some(&other), 0).to_bytes())
        .unwrap();
    assert_eq!(
        f.poll(Time::ZERO),
        Some(FetchEvent::Ban {
            peer: 1,
            reason: BanReason::ContradictorySize
        })
    );
    assert_eq!(f.peer_count(), 0);
}

#[test]
fn unsolicited_blocks_are_dropped() {
    let truth = metadata(2 * BLOCK_SIZE, 12);
    let config = FetcherConfig {
        max_outstanding_per_peer: 1,
        ..FetcherConfig::default()
    };
    let mut f = MetadataFetcher::with_config(InfoHash::of(&truth), config);
    f.peer_supports(1u64, 3, Some(2 * BLOCK_SIZE as u32));
    while f.poll(Time::ZERO).is_some() {}
    // Block 1 was not asked for (one slot): it is dropped.
    f.handle_message(1, &respond(Some(&truth), 1).to_bytes())
        .unwrap();
    assert_eq!(f.progress(), (0, 2));
    // Nor is data from a peer the fetcher does not know.
    f.handle_message(9, &respond(Some(&truth), 0).to_bytes())
        .unwrap();
    assert_eq!(f.progress(), (0, 2));
}

#[test]
fn requests_to_us_are_rejected_and_errors_reported() {
    let mut f = MetadataFetcher::new(InfoHash([1; 20]));
    f.peer_supports(1u64, 5, None);
    while f.poll(Time::ZERO).is_some() {}
    f.handle_message(1, &Message::Request { piece: 4 }.to_bytes())
        .unwrap();
    assert_eq!(
        f.poll(Time::ZERO),
        Some(FetchEvent::Send {
            peer: 1,
            ext_id: 5,
            payload: b"d8:msg_typei2e5:piecei4ee".to_vec()
        })
    );
    assert_eq!(
        f.handle_message(1, b"d8:msg_typei9ee"),
        Err(MetadataError::UnknownType(9))
    );
}

#[test]
fn a_departed_peers_requests_go_elsewhere_at_once() {
    let mut sim = Sim::new(metadata(2 * BLOCK_SIZE, 13), 0);
    sim.add(1, Peer::Silent);
    sim.drain();
    sim.fetcher.peer_gone(1);
    sim.add(2, Peer::Honest);
    sim.run();
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
    assert!(sim.requests.iter().all(|r| r.0 < Time::from_millis(100)));
}

#[test]
fn stalled_peers_are_passed_over() {
    let mut sim = Sim::new(metadata(BLOCK_SIZE, 14), 0);
    sim.add(1, Peer::Silent);
    // Three timeouts in a row stall peer 1.
    for _ in 0..3 {
        sim.drain();
        sim.now = sim.fetcher.poll_timeout().unwrap();
    }
    sim.add(2, Peer::Silent);
    sim.add(3, Peer::Honest);
    sim.run();
    assert_eq!(sim.done.as_ref(), Some(&sim.truth));
    assert_eq!(sim.asked(1), 3);
}

#[test]
fn fetched_info_builds_a_torrent() {
    let info = b"d6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAe";
    let mut sim = Sim::new(info.to_vec(), 0);
    sim.add(1, Peer::Honest);
    sim.run();
    let metadata = sim.done.unwrap();
    let trackers = vec![vec!["udp://tracker:6969".to_string()]];
    let meta = crate::metainfo::Metainfo::from_info_bytes(&metadata, trackers).unwrap();
    assert_eq!(meta.info_hash, sim.fetcher.info_hash());
    assert_eq!(meta.info.name, "a.txt");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn honest_peers_deliver_random_metadata(
        len in 1usize..(6 * BLOCK_SIZE),
        peers in 1u64..6,
        seed in any::<u64>(),
    ) {
        let mut sim = Sim::new(metadata(len, seed), seed);
        for k in 0..peers {
            sim.add(k, Peer::Honest);
        }
        sim.run();
        prop_assert_eq!(sim.done.as_ref(), Some(&sim.truth));
        prop_assert!(sim.bans.is_empty());
        prop_assert_eq!(sim.requests.len(), piece_count(len as u32) as usize);
    }

    #[test]
    fn liars_are_named_and_honest_peers_finish(
        len in 1usize..(5 * BLOCK_SIZE),
        honest in 1u64..4,
        liars in proptest::collection::vec(any::<u32>(), 1..3),
        silent in 0u64..2,
        seed in any::<u64>(),
    ) {
        let mut sim = Sim::new(metadata(len, seed), seed);
        let pieces = piece_count(len as u32);
        let mut keys: Vec<u64> = (0..honest + liars.len() as u64 + silent).collect();
        Rng::new(seed).shuffle(&mut keys);
        let mut roles = BTreeMap::new();
        for (i, &k) in keys.iter().enumerate() {
            let role = if (i as u64) < honest {
                Peer::Honest
            } else if let Some(&n) = liars.get(i - honest as usize) {
                // Lies about one block it may be asked for, or about all.
                Peer::Liar(if n % 3 == 0 { u32::MAX } else { n % pieces })
            } else {
                Peer::Silent
            };
            roles.insert(k, role);
            sim.add(k, role);
        }
        sim.run();
        prop_assert_eq!(sim.done.as_ref(), Some(&sim.truth));
        for (peer, reason) in &sim.bans {
            prop_assert!(matches!(roles[peer], Peer::Liar(_)), "{:?} banned: {:?}", peer, reason);
        }
        // A liar asked for a block it lies about served it, the block counted,
        // its attempt failed, and that named the liar.
        for (&k, role) in &roles {
            if let Peer::Liar(n) = *role {
                let lied = sim.requests.iter().any(|r| r.1 == k && (n == u32::MAX || r.2 == n));
                prop_assert_eq!(lied, sim.bans.iter().any(|b| b.0 == k), "liar {}", k);
            }
        }
    }
}

//! The session against scripted peers speaking the wire protocol.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::ext::metadata::{respond, Message as Meta};

/// What a scripted peer does with metadata requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Honest,
    /// Serves the right size with every byte flipped.
    Liar,
    /// Its BitTorrent handshake names another info-hash.
    WrongHash,
    /// Never sends anything.
    Silent,
}

struct Peer {
    kind: Kind,
    /// Parses what the session sends it.
    decoder: Decoder,
    greeted: bool,
}

struct Net {
    session: MetadataSession<u32>,
    truth: Vec<u8>,
    peers: BTreeMap<u32, Peer>,
    closed: Vec<(u32, String)>,
    done: Option<Vec<u8>>,
    now: Time,
}

const PEER_ID: u8 = 9;

fn metadata(len: usize) -> Vec<u8> {
    // Any bytes will do: the session only checks the SHA-1.
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

impl Net {
    fn new(truth: Vec<u8>, kinds: &[Kind]) -> Net {
        let hash = InfoHash::of(&truth);
        let mut net = Net {
            session: MetadataSession::new(hash, PeerId([1; 20])),
            truth,
            peers: BTreeMap::new(),
            closed: Vec::new(),
            done: None,
            now: Time::ZERO,
        };
        for (i, kind) in kinds.iter().enumerate() {
            let key = i as u32;
            let addr = SocketAddr::from(([127, 0, 0, 1], 7000 + key as u16));
            net.peers.insert(
                key,
                Peer {
                    kind: *kind,
                    decoder: Decoder::new(DecoderConfig::default(), true),
                    greeted: false,
                },
            );
            net.session.peer_connected(net.now, key, addr, false);
        }
        net
    }

    /// What peer `key` answers to `bytes` from the session.
    fn peer_reads(&mut self, key: u32, bytes: &[u8]) -> Vec<u8> {
        let hash = self.session.info_hash();
        let truth = self.truth.clone();
        let Some(peer) = self.peers.get_mut(&key) else {
            return Vec::new();
        };
        let mut reply = Vec::new();
        if peer.kind == Kind::Silent {
            return reply;
        }
        peer.decoder.feed(bytes);
        if !peer.greeted {
            let hs = peer.decoder.next_handshake().unwrap();
            let Some(hs) = hs else {
                return reply;
            };
            assert!(hs.reserved.supports_extensions(), "no extension bit");
            assert_eq!(hs.info_hash, hash);
            peer.greeted = true;
            let info_hash = if peer.kind == Kind::WrongHash {
                InfoHash([0xee; 20])
            } else {
                hash
            };
            Handshake {
                reserved: Reserved::NONE.with_extensions(true),
                info_hash,
                peer_id: PeerId([PEER_ID; 20]),
            }
            .encode(&mut reply);
            let mut ext = ExtHandshake::default();
            ext.extensions.push(("ut_metadata".into(), 5));
            ext.metadata_size = Some(truth.len() as u32);
            Message::Extended {
                id: 0,
                payload: &ext.encode(),
            }
            .encode(&mut reply);
            Message::HaveAll.encode(&mut reply);
        }
        while let Some(msg) = peer.decoder.next_message().unwrap() {
            let Message::Extended { id, payload } = msg else {
                continue;
            };
            if id == 0 {
                let ext = ExtHandshake::decode(payload).unwrap();
                assert_eq!(ext.extension_id("ut_metadata"), Some(UT_METADATA_ID));
                continue;
            }
            assert_eq!(id, 5, "ut_metadata under the id the peer announced");
            let Meta::Request { piece } = Meta::decode(payload).unwrap() else {
                panic!("the session only requests");
            };
            let served = match peer.kind {
                Kind::Liar => truth.iter().map(|b| !b).collect(),
                _ => truth.clone(),
            };
            let answer = respond(Some(&served), piece).to_bytes();
            Message::Extended {
                id: UT_METADATA_ID,
                payload: &answer,
            }
            .encode(&mut reply);
        }
        reply
    }

    /// Runs until nothing moves; at most `rounds` exchanges.
    fn run(&mut self, rounds: usize) {
        for _ in 0..rounds {
            let mut moved = false;
            while let Some(out) = self.session.poll() {
                moved = true;
                match out {
                    Output::Transmit { peer, bytes } => {
                        let reply = self.peer_reads(peer, &bytes);
                        // Split the reply to exercise reassembly.
                        for chunk in reply.chunks(777) {
                            self.session.handle_data(self.now, peer, chunk);
                        }
                    }
                    Output::Close { peer, reason } => {
                        self.peers.remove(&peer);
                        self.closed.push((peer, reason));
                    }
                    Output::Done(metadata) => self.done = Some(metadata),
                    Output::Connect(addr) => panic!("unexpected connect to {addr}"),
                }
            }
            if !moved {
                match self.session.poll_timeout() {
                    Some(t) => {
                        self.now = t.max(self.now + Duration::from_millis(1));
                        self.session.handle_timeout(self.now);
                    }
                    None => return,
                }
            }
        }
    }
}

#[test]
fn honest_peer_gives_the_metadata() {
    let truth = metadata(40_000);
    let mut net = Net::new(truth.clone(), &[Kind::Honest]);
    net.run(100);
    assert_eq!(net.done.as_deref(), Some(&truth[..]));
    assert!(net.session.is_done());
    assert_eq!(net.session.connection_count(), 0);
    assert_eq!(net.session.poll_timeout(), None);
}

#[test]
fn liar_alone_is_closed() {
    let truth = metadata(20_000);
    let mut net = Net::new(truth, &[Kind::Liar]);
    net.run(100);
    assert_eq!(net.done, None);
    assert_eq!(net.closed.len(), 1, "{:?}", net.closed);
    assert!(net.closed[0].1.contains("bad metadata"), "{:?}", net.closed);
    assert!(!net.session.has_prospects());
}

#[test]
fn liar_next_to_honest_is_closed_and_the_fetch_completes() {
    let truth = metadata(50_000);
    let mut net = Net::new(truth.clone(), &[Kind::Liar, Kind::Honest, Kind::Silent]);
    net.run(1000);
    assert_eq!(net.done.as_deref(), Some(&truth[..]));
    assert!(
        net.closed
            .iter()
            .any(|(k, why)| *k == 0 && why.contains("bad metadata")),
        "{:?}",
        net.closed
    );
}

#[test]
fn wrong_info_hash_and_silence_are_closed() {
    let truth = metadata(1000);
    let mut net = Net::new(truth, &[Kind::WrongHash, Kind::Silent]);
    net.run(100);
    assert_eq!(net.done, None);
    let why: BTreeMap<u32, String> = net.closed.iter().cloned().collect();
    assert!(why[&0].contains("another torrent"), "{why:?}");
    assert!(why[&1].contains("in time"), "{why:?}");
    assert!(net.now >= Time::ZERO + HANDSHAKE_TIMEOUT);
}

#[test]
fn connects_are_bounded_and_refilled() {
    let mut s: MetadataSession<u32> = MetadataSession::new(InfoHash([3; 20]), PeerId([1; 20]));
    let addrs: Vec<SocketAddr> = (0..40)
        .map(|i| SocketAddr::from(([10, 0, 0, 1], 1000 + i)))
        .collect();
    s.add_peers(addrs.clone());
    s.add_peers(addrs.clone());
    let mut connects = Vec::new();
    while let Some(out) = s.poll() {
        if let Output::Connect(a) = out {
            connects.push(a);
        }
    }
    assert_eq!(connects.len(), MAX_CONNECTIONS);
    s.connect_failed(Time::ZERO, connects[0]);
    assert!(matches!(s.poll(), Some(Output::Connect(_))));
    assert_eq!(s.poll(), None);
}

proptest! {
    #[test]
    fn hostile_bytes_never_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
        greet in any::<bool>(),
    ) {
        let truth = metadata(3000);
        let hash = InfoHash::of(&truth);
        let mut s: MetadataSession<u8> = MetadataSession::new(hash, PeerId([1; 20]));
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        s.peer_connected(Time::ZERO, 1, addr, true);
        let mut now = Time::ZERO;
        if greet {
            let mut hs = Vec::new();
            Handshake { reserved: Reserved::NONE.with_extensions(true), info_hash: hash, peer_id: PeerId([2; 20]) }
                .encode(&mut hs);
            s.handle_data(now, 1, &hs);
        }
        for chunk in &chunks {
            now += Duration::from_millis(500);
            s.handle_data(now, 1, chunk);
            s.handle_timeout(now);
            while let Some(out) = s.poll() {
                if let Output::Done(m) = out {
                    prop_assert_eq!(InfoHash::of(&m), hash);
                }
            }
        }
        s.peer_closed(now, 1);
        prop_assert_eq!(s.connection_count(), 0);
    }
}

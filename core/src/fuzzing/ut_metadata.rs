//! ut_metadata (BEP 9): arbitrary bytes against the codec and against a
//! fetcher talking to scripted peers.

use std::collections::BTreeSet;

use crate::ext::metadata::{
    block_len, piece_count, respond, FetchEvent, Message, MetadataFetcher, BLOCK_SIZE,
    MAX_METADATA_SIZE,
};
use crate::id::InfoHash;
use crate::time::Time;

/// The input goes two ways. Whole, it is one message for the decoder:
/// whatever decodes must re-encode to something that decodes equal and passes
/// the bounds it promised. Then, after a selector byte that picks the size of
/// the true metadata, it is a script of records `[op, peer, length, bytes…]`
/// driving a fetcher: op 0 is a handshake (the bytes, if four, give the
/// size), 1 feeds the bytes as a message, 2 and 3 answer the peer's oldest
/// request truthfully or with a flipped byte, 4 rejects it, 5 drops the peer,
/// 6 and 7 advance the clock by `length` seconds. The fetcher must never
/// panic, send anything but well-formed requests and rejects, or report
/// metadata whose SHA-1 is not the info-hash.
pub fn ut_metadata(data: &[u8]) {
    decoder(data);
    if let Some((&selector, script)) = data.split_first() {
        fetch(selector, script);
    }
}

fn decoder(data: &[u8]) {
    let Ok(message) = Message::decode(data) else {
        return;
    };
    let bytes = message.to_bytes();
    assert_eq!(Message::decode(&bytes), Ok(message));
    if let Message::Data {
        piece,
        total_size,
        data,
    } = message
    {
        assert!(total_size > 0 && total_size <= MAX_METADATA_SIZE);
        assert!(piece < piece_count(total_size));
        assert_eq!(data.len(), block_len(total_size, piece));
        assert_eq!(message.check(total_size), Ok(()));
    }
}

struct Script {
    fetcher: MetadataFetcher<u8>,
    truth: Vec<u8>,
    now: Time,
    /// Requests sent and not yet answered by the script: (peer, piece).
    requests: Vec<(u8, u32)>,
    banned: BTreeSet<u8>,
    done: bool,
}

impl Script {
    fn drain(&mut self) {
        while let Some(event) = self.fetcher.poll(self.now) {
            assert!(!self.done, "nothing follows Done");
            match event {
                FetchEvent::Send { peer, payload, .. } => match Message::decode(&payload) {
                    Ok(Message::Request { piece }) => self.requests.push((peer, piece)),
                    Ok(Message::Reject { .. }) => {}
                    other => panic!("the fetcher sent {other:?}"),
                },
                FetchEvent::Ban { peer, .. } => {
                    assert!(self.banned.insert(peer), "peer {peer} banned twice");
                }
                FetchEvent::Done { metadata } => {
                    assert_eq!(InfoHash::of(&metadata), self.fetcher.info_hash());
                    assert_eq!(metadata, self.truth);
                    self.done = true;
                }
            }
        }
        if self.done {
            assert_eq!(self.fetcher.poll_timeout(), None);
        }
    }

    /// The oldest unanswered request to `peer`.
    fn take_request(&mut self, peer: u8) -> Option<u32> {
        let i = self.requests.iter().position(|r| r.0 == peer)?;
        Some(self.requests.remove(i).1)
    }
}

fn fetch(selector: u8, mut script: &[u8]) {
    let size = usize::from(selector % 8) * BLOCK_SIZE / 3 + usize::from(selector) + 1;
    let truth: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
    let mut s = Script {
        fetcher: MetadataFetcher::new(InfoHash::of(&truth)),
        truth,
        now: Time::ZERO,
        requests: Vec::new(),
        banned: BTreeSet::new(),
        done: false,
    };
    while let [op, peer, len, rest @ ..] = script {
        let take = usize::from(*len).min(rest.len());
        let (bytes, tail) = rest.split_at(take);
        script = tail;
        let peer = *peer % 8;
        match op % 8 {
            0 => {
                let announced = match bytes {
                    [a, b, c, d] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
                    [] => None,
                    _ => Some(s.truth.len() as u32),
                };
                s.fetcher.peer_supports(peer, op >> 3, announced);
            }
            1 => {
                let _ = s.fetcher.handle_message(peer, bytes);
            }
            2..=4 => {
                if let Some(piece) = s.take_request(peer) {
                    let mut served = s.truth.clone();
                    if op % 8 == 3 {
                        let at = usize::from(*len) % served.len();
                        served[at] ^= 1;
                    }
                    let answer = if op % 8 == 4 {
                        Message::Reject { piece }
                    } else {
                        respond(Some(&served), piece)
                    };
                    let result = s.fetcher.handle_message(peer, &answer.to_bytes());
                    assert!(result.is_ok(), "well-formed answers decode");
                }
            }
            5 => s.fetcher.peer_gone(peer),
            _ => s.now += core::time::Duration::from_secs(u64::from(*len)),
        }
        s.drain();
    }
}

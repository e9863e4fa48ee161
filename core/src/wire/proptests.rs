//! Property tests: any split of a stream decodes like the whole stream, and no
//! input can panic the decoder or make it hold more than its limit.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::handshake::check_prefix;
use super::*;
use crate::id::{InfoHash, PeerId};

/// An owned copy of a [`Message`], so decoded messages can be kept and compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    Bitfield(Vec<u8>),
    Request(BlockRequest),
    Piece(u32, u32, Vec<u8>),
    Cancel(BlockRequest),
    Port(u16),
    Suggest(u32),
    HaveAll,
    HaveNone,
    Reject(BlockRequest),
    AllowedFast(u32),
    Extended(u8, Vec<u8>),
}

impl Owned {
    fn as_message(&self) -> Message<'_> {
        match self {
            Owned::KeepAlive => Message::KeepAlive,
            Owned::Choke => Message::Choke,
            Owned::Unchoke => Message::Unchoke,
            Owned::Interested => Message::Interested,
            Owned::NotInterested => Message::NotInterested,
            Owned::Have(piece) => Message::Have { piece: *piece },
            Owned::Bitfield(bits) => Message::Bitfield(bits),
            Owned::Request(r) => Message::Request(*r),
            Owned::Piece(piece, offset, data) => Message::Piece {
                piece: *piece,
                offset: *offset,
                data,
            },
            Owned::Cancel(r) => Message::Cancel(*r),
            Owned::Port(port) => Message::Port(*port),
            Owned::Suggest(piece) => Message::Suggest { piece: *piece },
            Owned::HaveAll => Message::HaveAll,
            Owned::HaveNone => Message::HaveNone,
            Owned::Reject(r) => Message::Reject(*r),
            Owned::AllowedFast(piece) => Message::AllowedFast { piece: *piece },
            Owned::Extended(id, payload) => Message::Extended { id: *id, payload },
        }
    }

    fn of(msg: &Message<'_>) -> Owned {
        match *msg {
            Message::KeepAlive => Owned::KeepAlive,
            Message::Choke => Owned::Choke,
            Message::Unchoke => Owned::Unchoke,
            Message::Interested => Owned::Interested,
            Message::NotInterested => Owned::NotInterested,
            Message::Have { piece } => Owned::Have(piece),
            Message::Bitfield(bits) => Owned::Bitfield(bits.to_vec()),
            Message::Request(r) => Owned::Request(r),
            Message::Piece {
                piece,
                offset,
                data,
            } => Owned::Piece(piece, offset, data.to_vec()),
            Message::Cancel(r) => Owned::Cancel(r),
            Message::Port(port) => Owned::Port(port),
            Message::Suggest { piece } => Owned::Suggest(piece),
            Message::HaveAll => Owned::HaveAll,
            Message::HaveNone => Owned::HaveNone,
            Message::Reject(r) => Owned::Reject(r),
            Message::AllowedFast { piece } => Owned::AllowedFast(piece),
            Message::Extended { id, payload } => Owned::Extended(id, payload.to_vec()),
        }
    }
}

/// What a decoder produced, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Handshake(Handshake),
    Message(Owned),
    Error(WireError),
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..64),
        1 => vec(any::<u8>(), 0..3000),
    ]
}

/// Any message; piece indices below `count` and bitfields of the right shape
/// when a piece count is given.
fn message(count: Option<u32>) -> BoxedStrategy<Owned> {
    let piece = match count {
        Some(n) => (0..n.max(1)).boxed(),
        None => any::<u32>().boxed(),
    };
    let block = (piece.clone(), any::<u32>(), any::<u32>()).prop_map(|(piece, offset, length)| {
        BlockRequest {
            piece,
            offset,
            length,
        }
    });
    let bitfield = match count {
        Some(n) => vec(any::<u8>(), n.div_ceil(8) as usize)
            .prop_map(move |mut bits| {
                if let (Some(last), r @ 1..) = (bits.last_mut(), n % 8) {
                    *last &= !(0xffu8 >> r);
                }
                bits
            })
            .boxed(),
        None => payload().boxed(),
    };
    prop_oneof![
        Just(Owned::KeepAlive),
        Just(Owned::Choke),
        Just(Owned::Unchoke),
        Just(Owned::Interested),
        Just(Owned::NotInterested),
        Just(Owned::HaveAll),
        Just(Owned::HaveNone),
        piece.clone().prop_map(Owned::Have),
        piece.clone().prop_map(Owned::Suggest),
        piece.clone().prop_map(Owned::AllowedFast),
        bitfield.prop_map(Owned::Bitfield),
        block.clone().prop_map(Owned::Request),
        block.clone().prop_map(Owned::Cancel),
        block.prop_map(Owned::Reject),
        (piece, any::<u32>(), payload()).prop_map(|(p, o, d)| Owned::Piece(p, o, d)),
        any::<u16>().prop_map(Owned::Port),
        (any::<u8>(), payload()).prop_map(|(id, p)| Owned::Extended(id, p)),
    ]
    .boxed()
}

fn handshake() -> impl Strategy<Value = Handshake> {
    (any::<[u8; 8]>(), any::<[u8; 20]>(), any::<[u8; 20]>()).prop_map(|(r, h, p)| Handshake {
        reserved: Reserved(r),
        info_hash: InfoHash(h),
        peer_id: PeerId(p),
    })
}

/// Chunk sizes for splitting a stream, with plenty of 1-byte reads.
fn chunks() -> impl Strategy<Value = Vec<usize>> {
    vec(
        prop_oneof![3 => 1usize..4, 3 => 1usize..100, 1 => 1usize..70_000],
        1..40,
    )
}

/// Drains everything ready; returns how many events that was and whether the
/// decoder is now dead.
fn drain(dec: &mut Decoder, events: &mut Vec<Event>) -> (usize, bool) {
    let mut produced = 0;
    if dec.expects_handshake() {
        match dec.next_handshake() {
            Ok(Some(hs)) => {
                events.push(Event::Handshake(hs));
                produced += 1;
            }
            Ok(None) => return (0, false),
            Err(err) => {
                events.push(Event::Error(err.clone()));
                assert_eq!(dec.next_handshake(), Err(err.clone()), "poisoned");
                assert_eq!(dec.next_message().err(), Some(err));
                return (1, true);
            }
        }
    }
    loop {
        match dec.next_message() {
            Ok(Some(msg)) => events.push(Event::Message(Owned::of(&msg))),
            Ok(None) => return (produced, false),
            Err(err) => {
                events.push(Event::Error(err.clone()));
                if err.is_fatal() {
                    assert_eq!(dec.next_message().err(), Some(err.clone()), "poisoned");
                    assert_eq!(dec.error(), Some(&err));
                    assert_eq!(dec.feed(&[0]), 0);
                    return (produced + 1, true);
                }
            }
        }
        produced += 1;
    }
}

/// Feeds `stream` to `dec` in reads of the given sizes (cycled), draining after
/// every feed like a driver would, and checks the memory bound and the
/// progress guarantee all along.
fn drive(dec: &mut Decoder, stream: &[u8], sizes: &[usize]) -> Vec<Event> {
    let limit = dec.limit();
    let mut events = Vec::new();
    let mut pos = 0;
    for &size in sizes.iter().cycle() {
        if pos >= stream.len() {
            break;
        }
        let end = stream.len().min(pos + size);
        let mut rest = &stream[pos..end];
        pos = end;
        loop {
            let offered = rest.len();
            let n = dec.feed(rest);
            assert!(n <= offered);
            assert!(dec.buffered_len() <= limit, "buffered over the limit");
            assert!(dec.allocated() <= limit, "allocated over the limit");
            rest = &rest[n..];
            let (produced, dead) = drain(dec, &mut events);
            if dead {
                return events;
            }
            if n < offered {
                assert!(produced > 0, "feed refused bytes with nothing ready");
            }
            if rest.is_empty() {
                break;
            }
        }
    }
    events
}

/// The model: the whole stream at once through `decode_frame`.
fn reference(stream: &[u8], cfg: &DecoderConfig, expect_handshake: bool) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = stream;
    if expect_handshake {
        if let Err(err) = check_prefix(rest) {
            events.push(Event::Error(err));
            return events;
        }
        let Ok(hs) = Handshake::decode(rest) else {
            return events;
        };
        events.push(Event::Handshake(hs));
        rest = &rest[Handshake::LEN..];
    }
    loop {
        match decode_frame(rest, cfg) {
            Ok(None) => return events,
            Ok(Some((msg, used))) => {
                events.push(Event::Message(Owned::of(&msg)));
                rest = &rest[used..];
            }
            Err(err @ WireError::UnknownMessage { .. }) => {
                let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
                events.push(Event::Error(err));
                rest = &rest[4 + len..];
            }
            Err(err) => {
                events.push(Event::Error(err));
                return events;
            }
        }
    }
}

fn encode_all(hs: Option<&Handshake>, msgs: &[Owned]) -> Vec<u8> {
    let mut stream = Vec::new();
    if let Some(hs) = hs {
        hs.encode(&mut stream);
    }
    for msg in msgs {
        let msg = msg.as_message();
        let before = stream.len();
        msg.encode(&mut stream);
        assert_eq!(stream.len() - before, msg.encoded_len());
    }
    stream
}

fn expected_events(hs: Option<&Handshake>, msgs: &[Owned]) -> Vec<Event> {
    hs.map(|hs| Event::Handshake(*hs))
        .into_iter()
        .chain(msgs.iter().cloned().map(Event::Message))
        .collect()
}

/// The smallest `max_frame` that admits every message in `msgs`.
fn tight_max_frame(msgs: &[Owned]) -> u32 {
    msgs.iter()
        .map(|m| m.as_message().encoded_len() - 4)
        .max()
        .unwrap_or(0) as u32
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_split_decodes_the_same(
        msgs in vec(message(None), 0..40),
        hs in option::of(handshake()),
        sizes in chunks(),
        tight in any::<bool>(),
    ) {
        let stream = encode_all(hs.as_ref(), &msgs);
        let cfg = DecoderConfig {
            max_frame: if tight { tight_max_frame(&msgs) } else { DecoderConfig::DEFAULT_MAX_FRAME },
            piece_count: None,
        };
        let expected = expected_events(hs.as_ref(), &msgs);
        let mut dec = Decoder::new(cfg, hs.is_some());
        prop_assert_eq!(&drive(&mut dec, &stream, &sizes), &expected);
        prop_assert_eq!(dec.buffered_len(), 0);
        prop_assert_eq!(&reference(&stream, &cfg, hs.is_some()), &expected);
    }

    #[test]
    fn any_split_decodes_the_same_with_piece_count(
        (count, msgs) in (0u32..300).prop_flat_map(|n| (Just(n), vec(message(Some(n)), 0..40))),
        hs in option::of(handshake()),
        sizes in chunks(),
    ) {
        // With no pieces there is no valid index: keep only index-free messages.
        let msgs: Vec<Owned> = if count == 0 {
            msgs.into_iter()
                .filter(|m| {
                    let mut frame = Vec::new();
                    m.as_message().encode(&mut frame);
                    decode_frame(&frame, &DecoderConfig::default().with_piece_count(0)).is_ok()
                })
                .collect()
        } else {
            msgs
        };
        let stream = encode_all(hs.as_ref(), &msgs);
        let cfg = DecoderConfig::default().with_piece_count(count);
        let expected = expected_events(hs.as_ref(), &msgs);
        let mut dec = Decoder::new(cfg, hs.is_some());
        prop_assert_eq!(&drive(&mut dec, &stream, &sizes), &expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_match_the_model(
        stream in prop_oneof![
            // Pure noise.
            vec(any::<u8>(), 0..2000),
            // A valid stream with a few bytes overwritten and maybe truncated.
            (
                option::of(handshake()),
                vec(message(None), 0..20),
                vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
                any::<prop::sample::Index>(),
            )
                .prop_map(|(hs, msgs, edits, cut)| {
                    let mut stream = encode_all(hs.as_ref(), &msgs);
                    if !stream.is_empty() {
                        for (at, byte) in edits {
                            let i = at.index(stream.len());
                            stream[i] = byte;
                        }
                        let keep = cut.index(stream.len() + 1);
                        stream.truncate(keep.max(stream.len() / 2));
                    }
                    stream
                }),
        ],
        expect_handshake in any::<bool>(),
        max_frame in prop_oneof![0u32..64, 0u32..5000, Just(DecoderConfig::DEFAULT_MAX_FRAME)],
        piece_count in option::of(0u32..100),
        sizes in chunks(),
    ) {
        let cfg = DecoderConfig { max_frame, piece_count };
        let mut dec = Decoder::new(cfg, expect_handshake);
        prop_assert_eq!(dec.limit(), (max_frame as usize + 4).max(Handshake::LEN));
        let got = drive(&mut dec, &stream, &sizes);
        prop_assert_eq!(got, reference(&stream, &cfg, expect_handshake));
    }

    #[test]
    fn decode_message_never_panics(body in vec(any::<u8>(), 0..64), count in option::of(0u32..64)) {
        let cfg = DecoderConfig { max_frame: 64, piece_count: count };
        if let Ok(msg) = decode_message(&body, &cfg) {
            // Whatever decodes re-encodes to the same bytes.
            let mut frame = Vec::new();
            msg.encode(&mut frame);
            prop_assert_eq!(&frame[4..], &body[..]);
        }
    }
}

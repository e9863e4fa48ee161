//! Serving the info dictionary (`ut_metadata`) to magnet-link peers.

use super::*;
use crate::ext::metadata::Message as Meta;

const THEIRS: u8 = 3;

fn ask(piece: u32) -> Vec<u8> {
    Meta::Request { piece }.to_bytes()
}

fn answers(msgs: &[Msg]) -> Vec<Vec<u8>> {
    msgs.iter()
        .filter_map(|m| match m {
            Msg::Extended(THEIRS, payload) => Some(payload.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_info_dictionary_is_served_block_by_block_and_bounded_per_peer() {
    // 1000 pieces: the dictionary (20 bytes a piece) spans two blocks.
    let fx = Fixture::new(16 << 10, 1000 * (16 << 10) - 5);
    let raw = fx.meta.info.raw.clone();
    assert!(raw.len() > 16 << 10);
    let blocks = raw.len().div_ceil(16 << 10) as u32;
    let mut t = fx.seed();
    let mut a = Remote::connect(&mut t, T0, 1, fast_bits());
    let hs = ExtHandshake {
        extensions: vec![("ut_metadata".into(), THEIRS)],
        ..ExtHandshake::default()
    }
    .encode();
    a.send_ext(&mut t, T0, 0, &hs);
    let ours = a
        .read(&mut t, T0)
        .into_iter()
        .find_map(|m| match m {
            Msg::Extended(0, p) => Some(ExtHandshake::decode(&p).unwrap()),
            _ => None,
        })
        .expect("our extension handshake");
    assert_eq!(ours.metadata_size, Some(raw.len() as u32));
    let id = ours
        .extensions
        .iter()
        .find(|(n, _)| n == "ut_metadata")
        .map(|&(_, id)| id)
        .expect("ut_metadata advertised");

    // Every block, then the dictionary again, byte for byte.
    let mut got = Vec::new();
    for piece in 0..blocks {
        a.send_ext(&mut t, T0, id, &ask(piece));
        let replies = answers(&a.read(&mut t, T0));
        assert_eq!(replies.len(), 1);
        match Meta::decode(&replies[0]).unwrap() {
            Meta::Data {
                piece: p,
                total_size,
                data,
            } => {
                assert_eq!((p, total_size as usize), (piece, raw.len()));
                got.extend_from_slice(data);
            }
            other => panic!("block {piece}: {other:?}"),
        }
    }
    assert!(got == raw, "the served dictionary differs");
    // Past the end: rejected.
    a.send_ext(&mut t, T0, id, &ask(blocks));
    let replies = answers(&a.read(&mut t, T0));
    assert_eq!(
        Meta::decode(&replies[0]).unwrap(),
        Meta::Reject { piece: blocks }
    );
    // A peer asking on and on gets rejects once it had four copies' worth.
    let mut data = 0;
    for _ in 0..10 * blocks {
        a.send_ext(&mut t, T0, id, &ask(0));
        for r in answers(&a.read(&mut t, T0)) {
            if matches!(Meta::decode(&r).unwrap(), Meta::Data { .. }) {
                data += 1;
            }
        }
    }
    assert_eq!(data, 4 * blocks - blocks - 1, "answered beyond the bound");
}

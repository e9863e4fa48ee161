//! Entry points for the cargo-fuzz targets in `fuzz/` and for the test that
//! replays their corpora on stable Rust.
//!
//! Each function takes arbitrary bytes, must never panic on them, and checks a
//! round trip where the codec has one: a panic here is a bug the fuzzer found.
//! The codec targets live here; the engine harness, much larger, in [`engine`].

mod dht_node;
mod engine;
mod http_tracker;
mod krpc;
mod lsd;
mod magnet_fetch;
mod udp_tracker;
mod ut_metadata;
mod ut_pex;

pub use dht_node::dht_node;
pub use engine::engine;
pub use http_tracker::http_tracker;
pub use krpc::krpc;
pub use lsd::lsd;
pub use magnet_fetch::magnet_fetch;
pub use udp_tracker::udp_tracker;
pub use ut_metadata::ut_metadata;
pub use ut_pex::ut_pex;

use crate::bencode;
use crate::magnet::MagnetLink;
use crate::metainfo::Metainfo;
use crate::wire::{decode_frame, Decoder, DecoderConfig};

/// Bencode: decode; whatever decodes must re-encode to a value that decodes to
/// the same thing, and a canonical input must re-encode to itself.
pub fn bencode(data: &[u8]) {
    let Ok(node) = bencode::decode(data) else {
        return;
    };
    let owned = node.to_owned();
    let encoded = owned.to_bytes();
    let again = bencode::decode(&encoded).expect("re-encoded bencode decodes");
    assert_eq!(again.to_owned(), owned);
    if is_canonical(&node) {
        assert_eq!(encoded, data, "canonical input re-encodes to itself");
    }
}

fn is_canonical(node: &bencode::Node<'_>) -> bool {
    match &node.value {
        bencode::Value::Dict(d) => d.is_sorted() && d.iter().all(|(_, v)| is_canonical(v)),
        bencode::Value::List(items) => items.iter().all(is_canonical),
        _ => true,
    }
}

/// Metainfo: parse; an accepted torrent has consistent offsets, piece count and
/// safe paths, and its layout covers the payload.
pub fn metainfo(data: &[u8]) {
    let Ok(meta) = Metainfo::from_bytes(data) else {
        return;
    };
    let info = &meta.info;
    let mut offset = 0u64;
    for f in &info.files {
        assert_eq!(f.offset, offset);
        offset += f.length;
        for c in &f.path {
            assert!(!c.is_empty() && c != ".." && c != "." && !c.contains(['/', '\\', '\0']));
        }
    }
    assert_eq!(offset, info.total_length);
    let layout = meta.layout();
    assert_eq!(layout.piece_count(), info.piece_count());
    assert_eq!(layout.total_length(), info.total_length);
}

/// Magnet: parse; an accepted link formats to a URI that parses back equal.
pub fn magnet(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(link) = MagnetLink::parse(text) else {
        return;
    };
    let again = MagnetLink::parse(&link.to_string()).expect("formatted magnet parses");
    assert_eq!(again, link);
}

/// Wire: the first byte picks a piece count and a chunk size, the rest is fed
/// to a decoder in chunks; every decoded message re-encodes to a frame that
/// decodes to the same message.
pub fn wire(data: &[u8]) {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let cfg = DecoderConfig {
        max_frame: 1 << 16,
        piece_count: (selector & 1 == 1).then_some(u32::from(selector >> 1) * 3),
    };
    let chunk = usize::from(selector % 13) + 1;
    let mut decoder = Decoder::new(cfg, selector & 2 == 2);
    let mut rest = stream;
    let mut frame = Vec::new();
    'feed: while !rest.is_empty() {
        let take = chunk.min(rest.len());
        let accepted = decoder.feed(&rest[..take]);
        rest = &rest[accepted..];
        if decoder.expects_handshake() {
            match decoder.next_handshake() {
                Ok(_) => {}
                Err(_) => break 'feed,
            }
        }
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => {
                    frame.clear();
                    message.encode(&mut frame);
                    assert_eq!(frame.len(), message.encoded_len());
                    let (again, used) = decode_frame(&frame, &cfg)
                        .expect("re-encoded frame decodes")
                        .expect("re-encoded frame is complete");
                    assert_eq!(used, frame.len());
                    assert_eq!(again, message);
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
        if accepted == 0 && !decoder.expects_handshake() {
            break;
        }
    }
}

//! The metadata session of a magnet link fed arbitrary peer bytes: whatever
//! two peers send, it must never panic, and once it says it is done the
//! bytes it hands over must hash to the info-hash.

use core::net::SocketAddr;
use core::time::Duration;

use crate::id::{InfoHash, PeerId};
use crate::magnet_fetch::{MetadataSession, Output};
use crate::time::Time;

/// `data` is a script of records: a selector byte (which of two peers, and
/// whether time moves on or the peer hangs up), a length byte, then that
/// many bytes from the peer.
pub fn magnet_fetch(data: &[u8]) {
    // A known info dictionary's hash, so a fuzzer that finds the bytes can
    // reach the end; most inputs never will.
    let info = b"d6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
    let info_hash = InfoHash(sha1_smol::Sha1::from(&info[..]).digest().bytes());
    let mut session: MetadataSession<u8> = MetadataSession::new(info_hash, PeerId([7; 20]));
    let mut now = Time::ZERO;
    for key in 0..2u8 {
        let addr = SocketAddr::from(([127, 0, 0, 2 + key], 6881));
        session.peer_connected(now, key, addr, key == 0);
    }
    let mut rest = data;
    while let [sel, len, tail @ ..] = rest {
        let take = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(take);
        rest = next;
        let key = sel & 1;
        session.handle_data(now, key, bytes);
        if sel & 0x40 != 0 {
            session.peer_closed(now, key);
        }
        if sel & 0x80 != 0 {
            now += Duration::from_millis(u64::from(*sel) * 100);
            session.handle_timeout(now);
        }
        while let Some(out) = session.poll() {
            if let Output::Done(metadata) = out {
                let digest = sha1_smol::Sha1::from(&metadata[..]).digest().bytes();
                assert_eq!(
                    InfoHash(digest),
                    info_hash,
                    "done with bytes of another hash"
                );
            }
        }
    }
}

//! Local Service Discovery (BEP 14): arbitrary datagrams against the codec and
//! against a state machine running a few torrents.

use core::net::SocketAddr;
use core::time::Duration;

use crate::id::InfoHash;
use crate::lsd::{Announce, Group, Lsd, MAX_DATAGRAM, MAX_INFO_HASHES, MAX_RECEIVED_PER_SECOND};
use crate::rng::Rng;
use crate::time::Time;

/// LSD: parse the input as one announce; an accepted announce is bounded and,
/// when it can be re-encoded, re-encodes to a datagram that parses back equal.
/// Then the input is fed to a state machine, as-is and cut into pieces at each
/// `\0` with the clock advancing, and its answers must only name torrents it
/// runs, with the announced port, and never our own cookie.
pub fn lsd(data: &[u8]) {
    if let Ok(announce) = Announce::parse(data) {
        assert!(!announce.info_hashes.is_empty());
        assert!(announce.info_hashes.len() <= MAX_INFO_HASHES);
        assert_ne!(announce.port, 0);
        let group = announce.group.unwrap_or(Group::V4);
        if let Ok(bytes) = announce.encode(group) {
            assert!(bytes.len() <= MAX_DATAGRAM);
            let again = Announce::parse(&bytes).expect("re-encoded announce parses");
            assert_eq!(again.port, announce.port);
            assert_eq!(again.info_hashes, announce.info_hashes);
            assert_eq!(again.cookie, announce.cookie);
            assert_eq!(again.group, Some(group));
        }
    }

    let first = data.first().copied().unwrap_or(0);
    let mut machine = Lsd::new(Group::V4, 6881, &mut Rng::new(u64::from(first)));
    // Torrents named by the input's own hex, when it has any, so that valid
    // seeds produce peers; every fourth one private.
    let mut torrents: Vec<(InfoHash, bool)> = vec![(InfoHash([0; 20]), false)];
    if let Ok(announce) = Announce::parse(data) {
        for (i, hash) in announce.info_hashes.iter().enumerate() {
            torrents.push((*hash, i % 4 == 3));
        }
    }
    let mut now = Time::ZERO;
    machine.set_torrents(now, &torrents);
    let from: SocketAddr = "10.0.0.2:6771".parse().expect("literal address");
    let feed = |machine: &mut Lsd, now: Time, bytes: &[u8]| {
        if let Some(found) = machine.handle_datagram(now, from, bytes) {
            assert!(!found.info_hashes.is_empty());
            assert_eq!(found.peer.ip(), from.ip());
            assert_ne!(found.peer.port(), 0);
            for hash in &found.info_hashes {
                assert!(machine.has_torrent(hash));
            }
        }
    };
    feed(&mut machine, now, data);
    let own = machine
        .poll_transmit()
        .expect("a new torrent is announced at once");
    assert!(machine.handle_datagram(now, from, &own).is_none());
    for piece in data.split(|&b| b == 0) {
        now += Duration::from_millis(u64::from(piece.len() as u8) * 1000);
        feed(&mut machine, now, piece);
        if machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now);
        }
        if let Some(bytes) = machine.poll_transmit() {
            Announce::parse(&bytes).expect("our own announce parses");
        }
    }
    assert!(
        machine.stats().received
            <= machine.stats().rate_limited
                + u64::from(MAX_RECEIVED_PER_SECOND) * (now.as_micros() / 1_000_000 + 1)
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds() {
        for seed in [
            &include_bytes!("../../../fuzz/corpus/lsd/seed-v4")[..],
            include_bytes!("../../../fuzz/corpus/lsd/seed-v6-multi"),
            include_bytes!("../../../fuzz/corpus/lsd/seed-mixed"),
        ] {
            assert!(crate::lsd::Announce::parse(seed).is_ok());
            super::lsd(seed);
        }
        super::lsd(b"");
        super::lsd(&[0; 3000]);
    }
}

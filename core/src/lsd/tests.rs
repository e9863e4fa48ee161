use super::*;
use crate::rng::Rng;
use proptest::prelude::*;

const HASH_HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

fn hash() -> InfoHash {
    InfoHash::from_hex(HASH_HEX).unwrap()
}

fn from() -> SocketAddr {
    "192.168.1.20:6771".parse().unwrap()
}

#[test]
fn encodes_exact_bytes_v4() {
    let a = Announce {
        group: Some(Group::V4),
        port: 6881,
        info_hashes: vec![hash()],
        cookie: Some(b"abc123".to_vec()),
    };
    let expected = "BT-SEARCH * HTTP/1.1\r\n\
                    Host: 239.192.152.143:6771\r\n\
                    Port: 6881\r\n\
                    Infohash: c12fe1c06bba254a9dc9f519b335aa7c1367a88a\r\n\
                    cookie: abc123\r\n\
                    \r\n\
                    \r\n";
    assert_eq!(a.encode(Group::V4).unwrap(), expected.as_bytes());
}

#[test]
fn encodes_exact_bytes_v6_two_hashes_no_cookie() {
    let a = Announce {
        group: Some(Group::V6),
        port: 1,
        info_hashes: vec![hash(), InfoHash([0xab; 20])],
        cookie: None,
    };
    let expected = format!(
        "BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\nPort: 1\r\n\
         Infohash: {HASH_HEX}\r\nInfohash: {}\r\n\r\n\r\n",
        "ab".repeat(20)
    );
    assert_eq!(a.encode(Group::V6).unwrap(), expected.as_bytes());
    assert_eq!(Announce::parse(expected.as_bytes()).unwrap(), a);
}

#[test]
fn encode_rejects_bad_input() {
    let ok = Announce {
        group: None,
        port: 6881,
        info_hashes: vec![hash()],
        cookie: None,
    };
    assert!(ok.encode(Group::V4).is_ok());
    let port0 = Announce {
        port: 0,
        ..ok.clone()
    };
    assert_eq!(port0.encode(Group::V4), Err(Error::BadPort));
    let none = Announce {
        info_hashes: vec![],
        ..ok.clone()
    };
    assert_eq!(none.encode(Group::V4), Err(Error::NoInfoHash));
    let many = Announce {
        info_hashes: vec![hash(); MAX_INFO_HASHES + 1],
        ..ok.clone()
    };
    assert_eq!(many.encode(Group::V4), Err(Error::TooManyInfoHashes));
    for cookie in [&b""[..], b"a b", b"a\r\n", &[b'x'; MAX_COOKIE_LEN + 1]] {
        let bad = Announce {
            cookie: Some(cookie.to_vec()),
            ..ok.clone()
        };
        assert_eq!(bad.encode(Group::V4), Err(Error::BadCookie));
    }
    let biggest = Announce {
        group: Some(Group::V6),
        port: 65535,
        info_hashes: vec![hash(); MAX_INFO_HASHES],
        cookie: Some(vec![b'~'; MAX_COOKIE_LEN]),
    };
    let bytes = biggest.encode(Group::V6).unwrap();
    assert!(bytes.len() <= MAX_DATAGRAM);
    assert_eq!(Announce::parse(&bytes).unwrap(), biggest);
}

#[test]
fn parses_multiple_hashes_mixed_case_and_unknown_headers() {
    let text = format!(
        "BT-SEARCH * HTTP/1.1\r\nhOsT:239.192.152.143:6771\r\nPORT:   51413\t\r\n\
         X-Extra: whatever: colons\r\ninfohash: {}\r\nINFOHASH: {HASH_HEX}\r\n\
         Cookie: xyz\r\n\r\n\r\nbody: ignored\r\n",
        HASH_HEX.to_uppercase()
    );
    let a = Announce::parse(text.as_bytes()).unwrap();
    assert_eq!(a.group, Some(Group::V4));
    assert_eq!(a.port, 51413);
    assert_eq!(a.info_hashes, vec![hash(), hash()]);
    assert_eq!(a.cookie.as_deref(), Some(&b"xyz"[..]));
}

#[test]
fn parses_missing_cookie_bare_newlines_and_other_hosts() {
    let text = format!("BT-SEARCH * HTTP/1.1\nHost: example:1\nPort: 6881\nInfohash: {HASH_HEX}\n");
    let a = Announce::parse(text.as_bytes()).unwrap();
    assert_eq!(a.group, None);
    assert_eq!(a.cookie, None);
    assert_eq!(a.port, 6881);
    let v6 = format!("BT-SEARCH * HTTP/1.1\r\nHost: [FF15::EFC0:988F]:6771\r\nPort: 6881\r\nInfohash: {HASH_HEX}\r\n\r\n");
    assert_eq!(
        Announce::parse(v6.as_bytes()).unwrap().group,
        Some(Group::V6)
    );
}

#[test]
fn rejects_junk() {
    let good = |port: &str, ih: &str| {
        format!("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: {port}\r\nInfohash: {ih}\r\n\r\n")
    };
    let cases: Vec<(Vec<u8>, Error)> = vec![
        (b"".to_vec(), Error::BadRequestLine),
        (b"garbage".to_vec(), Error::BadRequestLine),
        (b"bt-search * HTTP/1.1\r\n".to_vec(), Error::BadRequestLine),
        (b"BT-SEARCH * HTTP/1.0\r\n".to_vec(), Error::BadRequestLine),
        (b"BT-SEARCH  * HTTP/1.1\r\n".to_vec(), Error::BadRequestLine),
        (b"M-SEARCH * HTTP/1.1\r\n".to_vec(), Error::BadRequestLine),
        (good("0", HASH_HEX).into_bytes(), Error::BadPort),
        (good("65536", HASH_HEX).into_bytes(), Error::BadPort),
        (good("-1", HASH_HEX).into_bytes(), Error::BadPort),
        (good("", HASH_HEX).into_bytes(), Error::BadPort),
        (good("000001", HASH_HEX).into_bytes(), Error::BadPort),
        (
            good("6881", &HASH_HEX[1..]).into_bytes(),
            Error::BadInfoHash,
        ),
        (
            good("6881", &HASH_HEX.replace('c', "g")).into_bytes(),
            Error::BadInfoHash,
        ),
        (
            b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: x\r\n".to_vec(),
            Error::BadInfoHash,
        ),
        (
            format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {HASH_HEX}\r\n").into_bytes(),
            Error::MissingHost,
        ),
        (
            format!("BT-SEARCH * HTTP/1.1\r\nHost: a\r\nInfohash: {HASH_HEX}\r\n").into_bytes(),
            Error::MissingPort,
        ),
        (
            b"BT-SEARCH * HTTP/1.1\r\nHost: a\r\nPort: 1\r\n".to_vec(),
            Error::NoInfoHash,
        ),
        (
            b"BT-SEARCH * HTTP/1.1\r\nHost: a\r\nPort: 1\r\nno colon\r\n".to_vec(),
            Error::MalformedHeader,
        ),
        (
            b"BT-SEARCH * HTTP/1.1\r\n: empty name\r\n".to_vec(),
            Error::MalformedHeader,
        ),
        (
            b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nport: 2\r\n".to_vec(),
            Error::DuplicateHeader,
        ),
        (vec![b' '; MAX_DATAGRAM + 1], Error::TooLarge),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            Announce::parse(&bytes),
            Err(expected),
            "{:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let mut many = String::from("BT-SEARCH * HTTP/1.1\r\nHost: a\r\nPort: 1\r\n");
    for _ in 0..=MAX_INFO_HASHES {
        many.push_str(&format!("Infohash:{HASH_HEX}\n"));
    }
    assert!(many.len() <= MAX_DATAGRAM);
    assert_eq!(
        Announce::parse(many.as_bytes()),
        Err(Error::TooManyInfoHashes)
    );
}

#[test]
fn state_machine_announces_discovers_and_ignores_itself() {
    let mut rng = Rng::new(9);
    let mut lsd = Lsd::new(Group::V4, 6881, &mut rng);
    assert_eq!(lsd.cookie().len(), 16);
    assert_eq!(lsd.poll_timeout(), None);
    lsd.set_torrents(Time::ZERO, &[(hash(), false), (InfoHash([1; 20]), true)]);
    let sent = lsd.poll_transmit().unwrap();
    let parsed = Announce::parse(&sent).unwrap();
    assert_eq!(parsed.info_hashes, vec![hash()]);
    assert_eq!(parsed.port, 6881);
    assert_eq!(lsd.poll_transmit(), None);
    assert_eq!(lsd.poll_timeout(), Some(Time::ZERO + ANNOUNCE_INTERVAL));

    // Our own announce is ignored.
    assert_eq!(lsd.handle_datagram(Time::ZERO, from(), &sent), None);
    assert_eq!(lsd.stats().own, 1);

    // Someone else's, for our torrent, a private one and an unknown one.
    let other = Announce {
        group: Some(Group::V4),
        port: 51413,
        info_hashes: vec![InfoHash([1; 20]), InfoHash([2; 20]), hash(), hash()],
        cookie: Some(b"other".to_vec()),
    };
    let found = lsd
        .handle_datagram(Time::ZERO, from(), &other.encode(Group::V4).unwrap())
        .unwrap();
    assert_eq!(found.peer, "192.168.1.20:51413".parse().unwrap());
    assert_eq!(found.info_hashes, vec![hash()]);

    let unknown = Announce {
        info_hashes: vec![InfoHash([1; 20])],
        ..other
    };
    assert_eq!(
        lsd.handle_datagram(Time::ZERO, from(), &unknown.encode(Group::V4).unwrap()),
        None
    );
    assert_eq!(lsd.handle_datagram(Time::ZERO, from(), b"junk"), None);
    let s = lsd.stats();
    assert_eq!((s.useful, s.irrelevant, s.malformed, s.sent), (1, 1, 1, 1));
}

#[test]
fn v6_peer_keeps_scope() {
    let mut lsd = Lsd::new(Group::V6, 6881, &mut Rng::new(1));
    lsd.set_torrents(Time::ZERO, &[(hash(), false)]);
    let other = Announce {
        group: Some(Group::V6),
        port: 7000,
        info_hashes: vec![hash()],
        cookie: None,
    };
    let sender: SocketAddr = "[fe80::1%3]:6771".parse().unwrap();
    let found = lsd
        .handle_datagram(Time::ZERO, sender, &other.encode(Group::V6).unwrap())
        .unwrap();
    assert_eq!(found.peer, "[fe80::1%3]:7000".parse().unwrap());
    let sent = lsd.poll_transmit().unwrap();
    assert!(sent.starts_with(b"BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\n"));
}

#[test]
fn receive_rate_guard() {
    let mut lsd = Lsd::new(Group::V4, 6881, &mut Rng::new(1));
    lsd.set_torrents(Time::ZERO, &[(hash(), false)]);
    let other = Announce {
        group: Some(Group::V4),
        port: 7000,
        info_hashes: vec![hash()],
        cookie: None,
    }
    .encode(Group::V4)
    .unwrap();
    let t = Time::from_millis(5_000);
    let mut found = 0;
    for _ in 0..1000 {
        found += usize::from(lsd.handle_datagram(t, from(), &other).is_some());
    }
    assert_eq!(found, MAX_RECEIVED_PER_SECOND as usize);
    assert_eq!(
        lsd.stats().rate_limited,
        1000 - u64::from(MAX_RECEIVED_PER_SECOND)
    );
    let later = t + Duration::from_secs(1);
    assert!(lsd.handle_datagram(later, from(), &other).is_some());
}

#[test]
fn groups_hashes_and_round_robins_when_many() {
    let mut lsd = Lsd::new(Group::V4, 6881, &mut Rng::new(3));
    let torrents: Vec<(InfoHash, bool)> = (0..30u8).map(|i| (InfoHash([i; 20]), false)).collect();
    lsd.set_torrents(Time::ZERO, &torrents);
    let first = Announce::parse(&lsd.poll_transmit().unwrap()).unwrap();
    assert_eq!(first.info_hashes.len(), MAX_INFO_HASHES);
    // The rest must wait for the send gap.
    lsd.handle_timeout(Time::from_millis(59_999));
    assert_eq!(lsd.poll_transmit(), None);
    assert_eq!(lsd.poll_timeout(), Some(Time::ZERO + MIN_SEND_GAP));
    lsd.handle_timeout(Time::ZERO + MIN_SEND_GAP);
    let second = Announce::parse(&lsd.poll_transmit().unwrap()).unwrap();
    assert_eq!(second.info_hashes.len(), 30 - MAX_INFO_HASHES);
    for h in &second.info_hashes {
        assert!(!first.info_hashes.contains(h));
    }
}

#[test]
fn readding_a_torrent_does_not_announce_it_early() {
    let mut lsd = Lsd::new(Group::V4, 6881, &mut Rng::new(3));
    lsd.set_torrents(Time::ZERO, &[(hash(), false)]);
    assert!(lsd.poll_transmit().is_some());
    lsd.set_torrents(Time::from_millis(1000), &[]);
    assert_eq!(lsd.poll_timeout(), None);
    lsd.set_torrents(Time::from_millis(120_000), &[(hash(), false)]);
    assert_eq!(lsd.poll_transmit(), None);
    assert_eq!(lsd.poll_timeout(), Some(Time::ZERO + ANNOUNCE_INTERVAL));
}

fn arb_hash() -> impl Strategy<Value = InfoHash> {
    any::<[u8; 20]>().prop_map(InfoHash)
}

fn arb_cookie() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(proptest::collection::vec(0x21u8..=0x7e, 1..=MAX_COOKIE_LEN))
}

proptest! {
    #[test]
    fn encode_parse_round_trip(
        v6 in any::<bool>(),
        port in 1u16..,
        info_hashes in proptest::collection::vec(arb_hash(), 1..=MAX_INFO_HASHES),
        cookie in arb_cookie(),
    ) {
        let group = if v6 { Group::V6 } else { Group::V4 };
        let a = Announce { group: Some(group), port, info_hashes, cookie };
        let bytes = a.encode(group).unwrap();
        prop_assert!(bytes.len() <= MAX_DATAGRAM);
        prop_assert_eq!(Announce::parse(&bytes).unwrap(), a);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = Announce::parse(&bytes);
        let mut lsd = Lsd::new(Group::V4, 6881, &mut Rng::new(1));
        lsd.set_torrents(Time::ZERO, &[(hash(), false)]);
        let _ = lsd.handle_datagram(Time::ZERO, from(), &bytes);
    }

    #[test]
    fn mutated_announces_never_panic(
        cut in 0usize..400,
        flip in 0usize..400,
        byte in any::<u8>(),
    ) {
        let mut bytes = Announce {
            group: Some(Group::V4),
            port: 6881,
            info_hashes: vec![hash(), InfoHash([3; 20])],
            cookie: Some(b"c".to_vec()),
        }
        .encode(Group::V4)
        .unwrap();
        if flip < bytes.len() {
            bytes[flip] = byte;
        }
        bytes.truncate(cut);
        if let Ok(a) = Announce::parse(&bytes) {
            prop_assert!(!a.info_hashes.is_empty() && a.port != 0);
        }
    }

    /// A fake clock walks forward in random steps while torrents come and go;
    /// every datagram is at least a minute after the previous one, each torrent
    /// is announced at most once per five minutes, private torrents never are,
    /// and every active public torrent is announced within its interval plus
    /// the round-robin delay.
    #[test]
    fn announce_timing(
        steps in proptest::collection::vec(
            (0u64..200_000, proptest::collection::vec((0u8..40, any::<bool>()), 0..40), any::<bool>()),
            1..60,
        ),
    ) {
        let mut lsd = Lsd::new(Group::V4, 6881, &mut Rng::new(7));
        let mut now = Time::ZERO;
        let mut last_datagram: Option<Time> = None;
        let mut last_per_hash: BTreeMap<InfoHash, Time> = BTreeMap::new();
        let is_private = |i: u8| i % 5 == 0;
        for (advance_ms, torrents, change) in steps {
            now += Duration::from_millis(advance_ms);
            if change {
                let list: Vec<(InfoHash, bool)> = torrents
                    .iter()
                    .map(|&(i, _)| (InfoHash([i; 20]), is_private(i)))
                    .collect();
                lsd.set_torrents(now, &list);
            }
            if lsd.poll_timeout().is_some_and(|t| t <= now) {
                lsd.handle_timeout(now);
            }
            while let Some(bytes) = lsd.poll_transmit() {
                let a = Announce::parse(&bytes).unwrap();
                prop_assert_eq!(a.cookie.as_deref(), Some(lsd.cookie()));
                if let Some(prev) = last_datagram {
                    prop_assert!(now - prev >= MIN_SEND_GAP);
                }
                last_datagram = Some(now);
                for h in a.info_hashes {
                    prop_assert!(!is_private(h.0[0]), "private torrent announced");
                    prop_assert!(lsd.has_torrent(&h));
                    if let Some(prev) = last_per_hash.insert(h, now) {
                        prop_assert!(now - prev >= ANNOUNCE_INTERVAL);
                    }
                }
            }
            // Nothing that could be sent now was left unsent.
            if let Some(t) = lsd.poll_timeout() {
                prop_assert!(t > now);
            }
        }
    }
}

//! Codec tests: every datagram byte for byte, round trips, limits, and
//! property tests that round-trip everything and never panic on noise.

use core::net::{Ipv4Addr, SocketAddr};

use proptest::collection::vec;
use proptest::prelude::*;

use super::client_tests::{drive, Tracker};
use super::*;
use crate::id::{InfoHash, PeerId};
use crate::rng::Rng;
use crate::time::Time;

fn params() -> AnnounceParams {
    AnnounceParams {
        info_hash: InfoHash([0xAA; 20]),
        peer_id: PeerId(*b"-SL0100-abcdefghijkl"),
        downloaded: 0x0102_0304_0506_0708,
        left: 5,
        uploaded: 1 << 40,
        event: AnnounceEvent::Started,
        ip: Ipv4Addr::new(192, 0, 2, 1),
        key: 0xDEAD_BEEF,
        num_want: NUM_WANT_DEFAULT,
        port: 6881,
    }
}

#[test]
fn connect_request_bytes() {
    let bytes = Request::Connect {
        transaction_id: 0x1234_5678,
    }
    .to_bytes();
    assert_eq!(
        bytes,
        [0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]
    );
    assert_eq!(
        Request::decode(&bytes),
        Ok(Request::Connect {
            transaction_id: 0x1234_5678
        })
    );
}

#[test]
fn connect_request_needs_the_magic() {
    let mut bytes = Request::Connect { transaction_id: 1 }.to_bytes();
    bytes[7] ^= 1;
    assert_eq!(
        Request::decode(&bytes),
        Err(UdpError::BadProtocolId {
            got: PROTOCOL_ID ^ 1
        })
    );
}

#[test]
fn announce_request_bytes() {
    let req = Request::Announce {
        connection_id: 0x1111_2222_3333_4444,
        transaction_id: 9,
        params: params(),
    };
    let bytes = req.to_bytes();
    assert_eq!(bytes.len(), 98);
    assert_eq!(bytes[..8], 0x1111_2222_3333_4444u64.to_be_bytes());
    assert_eq!(bytes[8..12], [0, 0, 0, 1]);
    assert_eq!(bytes[12..16], [0, 0, 0, 9]);
    assert_eq!(bytes[16..36], [0xAA; 20]);
    assert_eq!(&bytes[36..56], b"-SL0100-abcdefghijkl");
    assert_eq!(bytes[56..64], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(bytes[64..72], [0, 0, 0, 0, 0, 0, 0, 5]);
    assert_eq!(bytes[72..80], [0, 0, 1, 0, 0, 0, 0, 0]);
    assert_eq!(bytes[80..84], [0, 0, 0, 2]);
    assert_eq!(bytes[84..88], [192, 0, 2, 1]);
    assert_eq!(bytes[88..92], [0xDE, 0xAD, 0xBE, 0xEF]);
    assert_eq!(bytes[92..96], [0xFF; 4]);
    assert_eq!(bytes[96..98], [0x1A, 0xE1]);
    assert_eq!(Request::decode(&bytes), Ok(req.clone()));
    // BEP 41 options (or anything else) after the fields are ignored.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[2, 5, b'/', b'a', b'n', b'n', b'o', 0]);
    assert_eq!(Request::decode(&longer), Ok(req));
    assert_eq!(
        Request::decode(&bytes[..97]),
        Err(UdpError::TooShort { len: 97, min: 98 })
    );
}

#[test]
fn announce_defaults_and_event_codes() {
    let p = AnnounceParams::new(InfoHash([1; 20]), PeerId([2; 20]), 1);
    assert_eq!(p.ip, Ipv4Addr::UNSPECIFIED);
    assert_eq!(p.num_want, -1);
    assert_eq!(p.event, AnnounceEvent::None);
    for (event, code) in [
        (AnnounceEvent::None, 0),
        (AnnounceEvent::Completed, 1),
        (AnnounceEvent::Started, 2),
        (AnnounceEvent::Stopped, 3),
    ] {
        assert_eq!(event.code(), code);
        assert_eq!(AnnounceEvent::from_code(code), Some(event));
    }
    assert_eq!(AnnounceEvent::from_code(4), None);
    let mut bytes = Request::Announce {
        connection_id: 1,
        transaction_id: 2,
        params: p,
    }
    .to_bytes();
    bytes[83] = 4;
    assert_eq!(
        Request::decode(&bytes),
        Err(UdpError::UnknownEvent { event: 4 })
    );
}

#[test]
fn scrape_request_bytes() {
    let req = Request::Scrape {
        connection_id: 5,
        transaction_id: 6,
        info_hashes: vec![InfoHash([1; 20]), InfoHash([2; 20])],
    };
    let bytes = req.to_bytes();
    assert_eq!(bytes.len(), 56);
    assert_eq!(bytes[8..12], [0, 0, 0, 2]);
    assert_eq!(bytes[16..36], [1; 20]);
    assert_eq!(bytes[36..56], [2; 20]);
    assert_eq!(Request::decode(&bytes), Ok(req));
}

#[test]
fn request_with_error_or_unknown_action_is_refused() {
    for action in [3u32, 4, u32::MAX] {
        let mut bytes = vec![0; 16];
        bytes[8..12].copy_from_slice(&action.to_be_bytes());
        assert_eq!(
            Request::decode(&bytes),
            Err(UdpError::UnknownAction { action })
        );
    }
}

#[test]
fn connect_response_bytes() {
    let bytes = [0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8];
    let resp = Response::Connect {
        transaction_id: 7,
        connection_id: 0x0102_0304_0506_0708,
    };
    assert_eq!(
        Response::decode(&bytes, AddressFamily::V4),
        Ok(resp.clone())
    );
    assert_eq!(resp.to_bytes(AddressFamily::V4), bytes);
    assert_eq!(
        Response::decode(&bytes[..15], AddressFamily::V4),
        Err(UdpError::TooShort { len: 15, min: 16 })
    );
}

#[test]
fn announce_response_ipv4_and_ipv6() {
    let v4: Vec<SocketAddr> = vec![
        "10.0.0.1:6881".parse().unwrap(),
        "203.0.113.9:1".parse().unwrap(),
    ];
    let resp = Response::Announce {
        transaction_id: 3,
        interval: 1800,
        leechers: 4,
        seeders: 5,
        peers: v4.clone(),
    };
    let bytes = resp.to_bytes(AddressFamily::V4);
    assert_eq!(bytes.len(), 20 + 12);
    assert_eq!(bytes[20..26], [10, 0, 0, 1, 0x1A, 0xE1]);
    assert_eq!(Response::decode(&bytes, AddressFamily::V4), Ok(resp));

    let v6: Vec<SocketAddr> = vec!["[2001:db8::1]:6881".parse().unwrap()];
    let resp = Response::Announce {
        transaction_id: 3,
        interval: 60,
        leechers: 0,
        seeders: 1,
        peers: v6.clone(),
    };
    let bytes = resp.to_bytes(AddressFamily::V6);
    assert_eq!(bytes.len(), 20 + 18);
    assert_eq!(bytes[20..22], [0x20, 0x01]);
    assert_eq!(bytes[36..38], [0x1A, 0xE1]);
    assert_eq!(Response::decode(&bytes, AddressFamily::V6), Ok(resp));

    // A peer of the other family cannot be written and is left out.
    let mixed = Response::Announce {
        transaction_id: 3,
        interval: 60,
        leechers: 0,
        seeders: 1,
        peers: [v4, v6].concat(),
    };
    assert_eq!(mixed.to_bytes(AddressFamily::V6).len(), 38);
    assert_eq!(mixed.to_bytes(AddressFamily::V4).len(), 32);
}

#[test]
fn announce_response_limits() {
    let mut bytes = vec![0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        Response::decode(&bytes, AddressFamily::V4),
        Err(UdpError::TooShort { len: 19, min: 20 })
    );
    // A trailing partial peer is dropped.
    bytes.extend_from_slice(&[0, 1, 2, 3, 4, 0x1A, 0xE1, 9, 9]);
    let Ok(Response::Announce { peers, .. }) = Response::decode(&bytes, AddressFamily::V4) else {
        panic!("decodes")
    };
    assert_eq!(peers, ["1.2.3.4:6881".parse::<SocketAddr>().unwrap()]);
    // The most peers a datagram may hold, and one byte more.
    let mut full = bytes[..20].to_vec();
    full.resize(MAX_DATAGRAM, 7);
    let Ok(Response::Announce { peers, .. }) = Response::decode(&full, AddressFamily::V4) else {
        panic!("decodes")
    };
    assert_eq!(peers.len(), MAX_PEERS_V4);
    full.push(7);
    assert_eq!(
        Response::decode(&full, AddressFamily::V4),
        Err(UdpError::TooLong {
            len: MAX_DATAGRAM + 1,
            max: MAX_DATAGRAM
        })
    );
}

#[test]
fn scrape_response_bytes() {
    let resp = Response::Scrape {
        transaction_id: 8,
        stats: vec![
            ScrapeStats {
                seeders: 1,
                completed: 2,
                leechers: 3,
            },
            ScrapeStats {
                seeders: 4,
                completed: 5,
                leechers: 6,
            },
        ],
    };
    let bytes = resp.to_bytes(AddressFamily::V4);
    assert_eq!(bytes.len(), 8 + 24);
    assert_eq!(bytes[8..20], [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
    assert_eq!(Response::decode(&bytes, AddressFamily::V4), Ok(resp));
    let empty = [0, 0, 0, 2, 0, 0, 0, 8];
    assert_eq!(
        Response::decode(&empty, AddressFamily::V6),
        Ok(Response::Scrape {
            transaction_id: 8,
            stats: vec![]
        })
    );
}

#[test]
fn error_response_text() {
    let resp = Response::Error {
        transaction_id: 1,
        message: "unregistered torrent".into(),
    };
    let bytes = resp.to_bytes(AddressFamily::V4);
    assert_eq!(&bytes[8..], b"unregistered torrent");
    assert_eq!(Response::decode(&bytes, AddressFamily::V4), Ok(resp));
    // A C string, invalid UTF-8, and an overlong message.
    let mut odd = bytes[..8].to_vec();
    odd.extend_from_slice(b"bad \xFF\0\0");
    let Ok(Response::Error { message, .. }) = Response::decode(&odd, AddressFamily::V4) else {
        panic!("decodes")
    };
    assert_eq!(message, "bad \u{FFFD}");
    let mut long = bytes[..8].to_vec();
    long.resize(8 + 5000, b'x');
    let Ok(Response::Error { message, .. }) = Response::decode(&long, AddressFamily::V4) else {
        panic!("decodes")
    };
    assert_eq!(message.len(), MAX_ERROR_MESSAGE);
}

#[test]
fn short_and_unknown_responses() {
    assert_eq!(
        Response::decode(&[0, 0, 0, 3, 0, 0, 0], AddressFamily::V4),
        Err(UdpError::TooShort { len: 7, min: 8 })
    );
    assert_eq!(
        Response::decode(&[0, 0, 0, 4, 0, 0, 0, 0], AddressFamily::V4),
        Err(UdpError::UnknownAction { action: 4 })
    );
    assert_eq!(
        UdpError::UnknownAction { action: 4 }.to_string(),
        "unknown action 4"
    );
    assert_eq!(Action::from_code(2), Some(Action::Scrape));
    assert_eq!(Action::Error.code(), 3);
}

#[test]
fn address_family_of_the_tracker() {
    let v4: SocketAddr = "198.51.100.1:80".parse().unwrap();
    let v6: SocketAddr = "[::1]:80".parse().unwrap();
    assert_eq!(AddressFamily::of(&v4), AddressFamily::V4);
    assert_eq!(AddressFamily::of(&v6), AddressFamily::V6);
    assert_eq!(AddressFamily::V6.peer_len(), 18);
}

fn family() -> impl Strategy<Value = AddressFamily> {
    prop_oneof![Just(AddressFamily::V4), Just(AddressFamily::V6)]
}

fn event() -> impl Strategy<Value = AnnounceEvent> {
    (0u32..4).prop_map(|c| AnnounceEvent::from_code(c).unwrap_or_default())
}

fn announce_params() -> impl Strategy<Value = AnnounceParams> {
    (
        any::<[u8; 20]>(),
        any::<[u8; 20]>(),
        any::<(u64, u64, u64)>(),
        event(),
        any::<(u32, u32, i32, u16)>(),
    )
        .prop_map(
            |(h, p, (downloaded, left, uploaded), event, (ip, key, num_want, port))| {
                AnnounceParams {
                    info_hash: InfoHash(h),
                    peer_id: PeerId(p),
                    downloaded,
                    left,
                    uploaded,
                    event,
                    ip: Ipv4Addr::from(ip),
                    key,
                    num_want,
                    port,
                }
            },
        )
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        any::<u32>().prop_map(|transaction_id| Request::Connect { transaction_id }),
        (any::<u64>(), any::<u32>(), announce_params()).prop_map(|(c, t, params)| {
            Request::Announce {
                connection_id: c,
                transaction_id: t,
                params,
            }
        }),
        (any::<u64>(), any::<u32>(), vec(any::<[u8; 20]>(), 0..=74)).prop_map(|(c, t, hs)| {
            Request::Scrape {
                connection_id: c,
                transaction_id: t,
                info_hashes: hs.into_iter().map(InfoHash).collect(),
            }
        }),
    ]
}

fn peer(family: AddressFamily) -> BoxedStrategy<SocketAddr> {
    match family {
        AddressFamily::V4 => any::<core::net::SocketAddrV4>()
            .prop_map(SocketAddr::V4)
            .boxed(),
        AddressFamily::V6 => (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::from((ip, port)))
            .boxed(),
    }
}

fn response(family: AddressFamily) -> impl Strategy<Value = Response> {
    prop_oneof![
        any::<(u32, u64)>().prop_map(|(t, c)| Response::Connect {
            transaction_id: t,
            connection_id: c
        }),
        (any::<(u32, u32, u32, u32)>(), vec(peer(family), 0..100)).prop_map(
            |((t, interval, leechers, seeders), peers)| Response::Announce {
                transaction_id: t,
                interval,
                leechers,
                seeders,
                peers,
            }
        ),
        (any::<u32>(), vec(any::<(u32, u32, u32)>(), 0..=74)).prop_map(|(t, stats)| {
            Response::Scrape {
                transaction_id: t,
                stats: stats
                    .into_iter()
                    .map(|(seeders, completed, leechers)| ScrapeStats {
                        seeders,
                        completed,
                        leechers,
                    })
                    .collect(),
            }
        }),
        (any::<u32>(), "[^\u{0}]{0,200}").prop_map(|(t, message)| Response::Error {
            transaction_id: t,
            message,
        }),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(req in request()) {
        let bytes = req.to_bytes();
        prop_assert_eq!(Request::decode(&bytes), Ok(req));
    }

    #[test]
    fn responses_round_trip((family, resp) in family().prop_flat_map(|f| (Just(f), response(f)))) {
        let bytes = resp.to_bytes(family);
        prop_assert_eq!(Response::decode(&bytes, family), Ok(resp));
    }

    #[test]
    fn noise_never_panics_the_decoders(bytes in vec(any::<u8>(), 0..2048), family in family()) {
        if let Ok(req) = Request::decode(&bytes) {
            prop_assert_eq!(Request::decode(&req.to_bytes()), Ok(req));
        }
        if let Ok(resp) = Response::decode(&bytes, family) {
            let again = Response::decode(&resp.to_bytes(family), family);
            if !matches!(resp, Response::Error { .. }) {
                prop_assert_eq!(again, Ok(resp));
            }
        }
    }

    /// Noise, some of it wearing a live transaction id, at random times: the
    /// client never panics and always either has a deadline or is done.
    #[test]
    fn noise_never_panics_the_client(
        seed in any::<u64>(),
        family in family(),
        steps in vec((any::<bool>(), any::<u16>(), vec(any::<u8>(), 0..64)), 0..40),
    ) {
        let mut client = UdpTrackerClient::new(UdpConfig::new(family), Rng::new(seed));
        client.announce(Time::ZERO, AnnounceParams::new(InfoHash([1; 20]), PeerId([2; 20]), 1));
        let _ = client.scrape(Time::ZERO, &[InfoHash([3; 20])]);
        let mut now = Time::ZERO;
        let mut last_tid = [0u8; 4];
        for (patch, secs, mut datagram) in steps {
            while let Some(d) = client.poll_transmit() {
                prop_assert!(Request::decode(&d).is_ok());
                last_tid.copy_from_slice(&d[12..16]);
            }
            now += core::time::Duration::from_secs(u64::from(secs % 200));
            if patch && datagram.len() >= 8 {
                datagram[4..8].copy_from_slice(&last_tid);
            }
            client.handle_datagram(now, &datagram);
            client.handle_timeout(now);
            while client.poll_event().is_some() {}
            prop_assert_eq!(client.poll_timeout().is_some(), client.in_flight() > 0);
        }
    }

    /// Whatever order a well-behaved tracker answers in, every operation ends
    /// exactly once.
    #[test]
    fn every_operation_ends_once(seed in any::<u64>(), drops in vec(any::<bool>(), 0..64)) {
        let mut tracker = Tracker::new(AddressFamily::V4);
        tracker.drop_pattern = drops;
        let mut client = UdpTrackerClient::new(UdpConfig::default(), Rng::new(seed));
        let a = client.announce(Time::ZERO, AnnounceParams::new(InfoHash([1; 20]), PeerId([2; 20]), 1));
        let s = client.scrape(Time::ZERO, &[InfoHash([3; 20])]).unwrap();
        let events = drive(&mut client, &mut tracker, Time::ZERO, 4 * 3600);
        let mut ops: Vec<OpId> = events.iter().map(|(_, e)| match e {
            UdpEvent::AnnounceOk { op, .. } | UdpEvent::ScrapeOk { op, .. } | UdpEvent::Failed { op, .. } => *op,
        }).collect();
        ops.sort();
        prop_assert_eq!(ops, vec![a, s]);
        prop_assert_eq!(client.in_flight(), 0);
    }
}

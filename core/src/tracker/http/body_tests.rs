//! Tests of announce and scrape response bodies, and of the fuzz seeds.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;

use proptest::prelude::*;

use super::tests::{http, url};
use super::*;
use crate::bencode::OwnedValue;

use HttpTrackerError as E;

fn announce(body: &[u8]) -> Result<AnnounceResponse, HttpTrackerError> {
    AnnounceResponse::parse(body)
}

// ---- announce responses ----

fn compact4(peers: &[(Ipv4Addr, u16)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ip, port) in peers {
        out.extend_from_slice(&ip.octets());
        out.extend_from_slice(&port.to_be_bytes());
    }
    out
}

fn compact6(peers: &[(Ipv6Addr, u16)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ip, port) in peers {
        out.extend_from_slice(&ip.octets());
        out.extend_from_slice(&port.to_be_bytes());
    }
    out
}

fn body(entries: &[(&str, OwnedValue)]) -> Vec<u8> {
    let mut d = OwnedValue::dict();
    for (k, v) in entries {
        d.insert(k, v.clone());
    }
    d.to_bytes()
}

fn peer_dict(ip: &str, port: i64, id: Option<&[u8]>) -> OwnedValue {
    let mut d = OwnedValue::dict();
    d.insert("ip", ip.into());
    d.insert("port", OwnedValue::Integer(port));
    if let Some(id) = id {
        d.insert("peer id", id.to_vec().into());
    }
    d
}

#[test]
fn announce_scalar_fields() {
    let b = body(&[
        ("interval", 1800.into()),
        ("min interval", 300.into()),
        ("tracker id", "abc".into()),
        ("complete", 7.into()),
        ("incomplete", 0.into()),
        (
            "warning message",
            OwnedValue::Bytes(b"slow \xff down".to_vec()),
        ),
        ("peers", "".into()),
    ]);
    let r = announce(&b).unwrap();
    assert_eq!(r.interval, Duration::from_secs(1800));
    assert_eq!(r.min_interval, Some(Duration::from_secs(300)));
    assert_eq!(r.tracker_id.as_deref(), Some(&b"abc"[..]));
    assert_eq!((r.complete, r.incomplete), (Some(7), Some(0)));
    assert_eq!(r.warning.as_deref(), Some("slow \u{fffd} down"));
    assert!(r.peers.is_empty() && r.hosts.is_empty() && r.skipped == 0);

    let r = announce(b"de").unwrap();
    assert_eq!(r.interval, DEFAULT_INTERVAL);
    assert_eq!(
        (r.min_interval, r.complete, r.tracker_id),
        (None, None, None)
    );
    let b = body(&[
        ("interval", "1800".into()),
        ("complete", (-1).into()),
        ("incomplete", (1i64 << 40).into()),
        ("tracker id", OwnedValue::Bytes(vec![b'x'; 257])),
    ]);
    let r = announce(&b).unwrap();
    assert_eq!(r.interval, DEFAULT_INTERVAL);
    assert_eq!((r.complete, r.incomplete), (None, Some(u32::MAX)));
    assert_eq!(r.tracker_id, None);
}

#[test]
fn intervals_are_clamped() {
    for (given, expected) in [
        (i64::MIN, MIN_INTERVAL),
        (-5, MIN_INTERVAL),
        (0, MIN_INTERVAL),
        (29, MIN_INTERVAL),
        (31, Duration::from_secs(31)),
        (21_600, MAX_INTERVAL),
        (10_000_000, MAX_INTERVAL),
        (i64::MAX, MAX_INTERVAL),
    ] {
        let r = announce(&body(&[
            ("interval", given.into()),
            ("min interval", given.into()),
        ]));
        let r = r.unwrap();
        assert_eq!(
            (r.interval, r.min_interval),
            (expected, Some(expected)),
            "{given}"
        );
    }
}

#[test]
fn compact_peers_v4_and_v6() {
    let v4 = [
        (Ipv4Addr::new(1, 2, 3, 4), 6881),
        (Ipv4Addr::new(255, 0, 0, 1), 1),
    ];
    let v6 = [(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9), 65535)];
    let b = body(&[
        ("peers", compact4(&v4).into()),
        ("peers6", compact6(&v6).into()),
    ]);
    let r = announce(&b).unwrap();
    let got: Vec<String> = r.addrs().map(|a| a.to_string()).collect();
    assert_eq!(got, ["1.2.3.4:6881", "255.0.0.1:1", "[2001:db8::9]:65535"]);
    assert!(r.peers.iter().all(|p| p.peer_id.is_none()));

    // Port 0 and unspecified addresses are useless: skipped.
    let b = body(&[
        (
            "peers",
            compact4(&[(Ipv4Addr::new(1, 1, 1, 1), 0), (Ipv4Addr::UNSPECIFIED, 5)]).into(),
        ),
        ("peers6", compact6(&[(Ipv6Addr::UNSPECIFIED, 5)]).into()),
    ]);
    let r = announce(&b).unwrap();
    assert_eq!((r.peers.len(), r.skipped), (0, 3));
}

#[test]
fn compact_lengths_must_be_whole() {
    let b = body(&[("peers", OwnedValue::Bytes(vec![1; 7]))]);
    assert_eq!(
        announce(&b),
        Err(E::BadCompactLength {
            key: "peers",
            len: 7
        })
    );
    let b = body(&[("peers6", OwnedValue::Bytes(vec![1; 17]))]);
    assert_eq!(
        announce(&b),
        Err(E::BadCompactLength {
            key: "peers6",
            len: 17
        })
    );
    let b = body(&[("peers6", OwnedValue::Bytes(vec![1; 6]))]);
    assert!(announce(&b).is_err());
}

#[test]
fn dictionary_peers() {
    let id = [b'P'; 20];
    let list = OwnedValue::List(vec![
        peer_dict("10.0.0.1", 1000, Some(&id)),
        peer_dict("2001:db8::7", 1001, None),
        peer_dict("[2001:db8::8]", 1002, Some(b"short")),
        peer_dict("peer.example.net", 1003, Some(&id)),
        peer_dict("10.0.0.2", 0, None),
        peer_dict("10.0.0.3", 65536, None),
        peer_dict("10.0.0.4", -1, None),
        peer_dict("bad host!", 1004, None),
        peer_dict("1.2.3.999", 1005, None),
        peer_dict("", 1006, None),
        peer_dict("zero.port", 0, None),
        OwnedValue::Integer(3),
        OwnedValue::dict(),
    ]);
    let r = announce(&body(&[("peers", list)])).unwrap();
    assert_eq!(
        r.peers,
        [
            Peer {
                addr: "10.0.0.1:1000".parse().unwrap(),
                peer_id: Some(PeerId(id))
            },
            Peer {
                addr: "[2001:db8::7]:1001".parse().unwrap(),
                peer_id: None
            },
            Peer {
                addr: "[2001:db8::8]:1002".parse().unwrap(),
                peer_id: None
            },
        ]
    );
    assert_eq!(
        r.hosts,
        [HostPeer {
            host: "peer.example.net".into(),
            port: 1003,
            peer_id: Some(PeerId(id))
        }]
    );
    assert_eq!(r.skipped, 9);
}

#[test]
fn peer_count_is_bounded() {
    let many: Vec<(Ipv4Addr, u16)> = (0..MAX_PEERS as u32 + 5)
        .map(|i| (Ipv4Addr::from(i + 1), 80))
        .collect();
    let b = body(&[
        ("peers", compact4(&many).into()),
        ("peers6", compact6(&[(Ipv6Addr::LOCALHOST, 1)]).into()),
    ]);
    let r = announce(&b).unwrap();
    assert_eq!((r.peers.len(), r.skipped), (MAX_PEERS, 6));
}

#[test]
fn announce_failures_and_malformed_bodies() {
    let b = body(&[
        ("failure reason", "torrent not registered".into()),
        ("interval", 5.into()),
    ]);
    assert_eq!(
        announce(&b),
        Err(E::Failure {
            reason: "torrent not registered".into(),
            retry_in_minutes: None
        })
    );
    let b = body(&[("failure reason", "busy".into()), ("retry in", 10.into())]);
    assert_eq!(
        announce(&b),
        Err(E::Failure {
            reason: "busy".into(),
            retry_in_minutes: Some(10)
        })
    );
    let b = body(&[("failure reason", 1.into()), ("retry in", "never".into())]);
    assert!(matches!(
        announce(&b),
        Err(E::Failure {
            retry_in_minutes: None,
            ..
        })
    ));
    let b = body(&[("failure reason", OwnedValue::Bytes(vec![b'x'; 5000]))]);
    assert!(matches!(announce(&b), Err(E::Failure { reason, .. }) if reason.len() == 1024));

    assert_eq!(announce(b"le"), Err(E::NotADictionary));
    assert_eq!(announce(b"i1e"), Err(E::NotADictionary));
    assert!(matches!(announce(b""), Err(E::Bencode(_))));
    assert!(matches!(announce(b"d8:intervali1800e"), Err(E::Bencode(_))));
    assert!(matches!(announce(b"dexyz"), Err(E::Bencode(_))));
    assert!(announce(b"de\r\n \t").is_ok());
    assert!(matches!(announce(b"<html>404</html>"), Err(E::Bencode(_))));
    let huge = vec![b' '; MAX_BODY_LEN + 1];
    assert_eq!(announce(&huge), Err(E::BodyTooLarge));
    let b = body(&[("peers", 5.into())]);
    assert!(matches!(
        announce(&b),
        Err(E::BadField { key: "peers", .. })
    ));
    let b = body(&[("peers6", OwnedValue::List(vec![]))]);
    assert!(matches!(
        announce(&b),
        Err(E::BadField { key: "peers6", .. })
    ));
}

fn response(status: u16, headers: &str, body: &[u8]) -> HttpResponse {
    let mut raw = format!("HTTP/1.1 {status} Reason\r\n{headers}\r\n").into_bytes();
    raw.extend_from_slice(body);
    http(&raw, true).unwrap().unwrap()
}

#[test]
fn statuses_through_from_http() {
    let ok = response(200, "", b"d8:intervali60ee");
    assert_eq!(
        AnnounceResponse::from_http(&ok).unwrap().interval,
        Duration::from_secs(60)
    );
    let refused = response(403, "", b"d14:failure reason6:bannede");
    assert!(
        matches!(AnnounceResponse::from_http(&refused), Err(E::Failure { reason, .. }) if reason == "banned")
    );
    assert!(matches!(
        ScrapeResponse::from_http(&refused),
        Err(E::Failure { .. })
    ));
    let error = response(500, "", b"<html>oops</html>");
    assert_eq!(
        AnnounceResponse::from_http(&error),
        Err(E::Status {
            status: 500,
            reason: "Reason".into()
        })
    );
    let moved = response(302, "Location: http://other/announce\r\n", b"");
    assert_eq!(
        ScrapeResponse::from_http(&moved),
        Err(E::Redirect {
            status: 302,
            location: "http://other/announce".into()
        })
    );
    let moved = response(301, "", b"");
    assert!(matches!(
        AnnounceResponse::from_http(&moved),
        Err(E::Status { status: 301, .. })
    ));
    // A 200 whose body is a failure is still a failure.
    let failure = response(200, "", b"d14:failure reason1:xe");
    assert!(matches!(
        AnnounceResponse::from_http(&failure),
        Err(E::Failure { .. })
    ));
}

// ---- scrape responses ----

#[test]
fn scrape_responses() {
    let mut files = OwnedValue::dict();
    let mut full = OwnedValue::dict();
    full.insert("complete", 3.into());
    full.insert("downloaded", 100.into());
    full.insert("incomplete", 1.into());
    full.insert("name", "x".into());
    files.insert([1u8; 20], full);
    let mut partial = OwnedValue::dict();
    partial.insert("complete", (-4).into());
    partial.insert("incomplete", (1i64 << 33).into());
    files.insert([2u8; 20], partial);
    files.insert([3u8; 19], OwnedValue::dict());
    files.insert([4u8; 20], 5.into());
    let mut flags = OwnedValue::dict();
    flags.insert("min_request_interval", 900.into());
    let b = body(&[("files", files), ("flags", flags)]);
    let r = ScrapeResponse::parse(&b).unwrap();
    assert_eq!(r.files.len(), 2);
    assert_eq!(
        r.files[&InfoHash([1; 20])],
        ScrapeStats {
            complete: 3,
            downloaded: 100,
            incomplete: 1
        }
    );
    assert_eq!(
        r.files[&InfoHash([2; 20])],
        ScrapeStats {
            complete: 0,
            downloaded: 0,
            incomplete: u32::MAX
        }
    );
    assert_eq!(
        (r.skipped, r.min_request_interval),
        (2, Some(Duration::from_secs(900)))
    );

    let r = ScrapeResponse::parse(b"d5:filesdee").unwrap();
    assert_eq!(r, ScrapeResponse::default());
    assert_eq!(
        ScrapeResponse::parse(b"de"),
        Err(E::BadField {
            key: "files",
            expected: "a dictionary"
        })
    );
    assert!(matches!(
        ScrapeResponse::parse(b"d5:fileslee"),
        Err(E::BadField { .. })
    ));
    assert!(matches!(
        ScrapeResponse::parse(b"d14:failure reason1:xe"),
        Err(E::Failure { .. })
    ));
    assert_eq!(ScrapeResponse::parse(b"le"), Err(E::NotADictionary));
}

fn arb_peer_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<u32>(), 1..=u16::MAX)
            .prop_map(|(ip, port)| SocketAddr::new(Ipv4Addr::from(ip.max(1)).into(), port)),
        (any::<u128>(), 1..=u16::MAX)
            .prop_map(|(ip, port)| SocketAddr::new(Ipv6Addr::from(ip.max(1)).into(), port)),
    ]
}

proptest! {
    #[test]
    fn compact_peers_round_trip(addrs in proptest::collection::vec(arb_peer_addr(), 0..50)) {
        let v4: Vec<(Ipv4Addr, u16)> = addrs.iter().filter_map(|a| match a.ip() {
            IpAddr::V4(ip) => Some((ip, a.port())),
            IpAddr::V6(_) => None,
        }).collect();
        let v6: Vec<(Ipv6Addr, u16)> = addrs.iter().filter_map(|a| match a.ip() {
            IpAddr::V6(ip) => Some((ip, a.port())),
            IpAddr::V4(_) => None,
        }).collect();
        let b = body(&[("peers", compact4(&v4).into()), ("peers6", compact6(&v6).into())]);
        let r = announce(&b).unwrap();
        let expected: Vec<SocketAddr> = v4.iter().map(|&(ip, p)| SocketAddr::new(ip.into(), p))
            .chain(v6.iter().map(|&(ip, p)| SocketAddr::new(ip.into(), p))).collect();
        prop_assert_eq!(r.addrs().collect::<Vec<_>>(), expected);
        prop_assert_eq!(r.skipped, 0);
    }
    #[test]
    fn dictionary_peers_round_trip(addrs in proptest::collection::vec(arb_peer_addr(), 0..30)) {
        let list = addrs.iter().map(|a| peer_dict(&a.ip().to_string(), i64::from(a.port()), None)).collect();
        let r = announce(&body(&[("peers", OwnedValue::List(list))])).unwrap();
        prop_assert_eq!(r.addrs().collect::<Vec<_>>(), addrs);
    }
}

// ---- the fuzz seeds are what they claim to be ----

macro_rules! seed {
    ($name:literal) => {
        include_bytes!(concat!("../../../../fuzz/corpus/http_tracker/", $name))
    };
}

#[test]
fn fuzz_seeds_parse() {
    let r = http(seed!("seed-compact"), true).unwrap().unwrap();
    let a = AnnounceResponse::from_http(&r).unwrap();
    assert_eq!(
        (a.peers.len(), a.complete, a.incomplete),
        (4, Some(12), Some(4))
    );
    assert_eq!(a.min_interval, Some(Duration::from_secs(300)));

    let r = http(seed!("seed-dict-peers"), true).unwrap().unwrap();
    let a = AnnounceResponse::from_http(&r).unwrap();
    assert_eq!((a.peers.len(), a.hosts.len(), a.skipped), (2, 1, 0));
    assert_eq!(a.peers[0].peer_id, Some(PeerId(*b"-TR3000-abcdefghijkl")));
    assert_eq!(a.tracker_id.as_deref(), Some(&b"xyz123"[..]));
    assert!(a.warning.is_some());

    let r = http(seed!("seed-failure"), false).unwrap().unwrap();
    assert!(matches!(
        AnnounceResponse::from_http(&r),
        Err(E::Failure {
            retry_in_minutes: Some(60),
            ..
        })
    ));

    let r = http(seed!("seed-chunked-scrape"), false).unwrap().unwrap();
    let s = ScrapeResponse::from_http(&r).unwrap();
    assert_eq!(s.files.len(), 2);
    assert_eq!(s.min_request_interval, Some(Duration::from_secs(1800)));

    let text = core::str::from_utf8(seed!("seed-url")).unwrap();
    assert_eq!(url(text).scrape().unwrap().path(), "/tracker/scrape.php");
}

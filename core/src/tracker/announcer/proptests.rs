//! Properties: no panic on anything a tracker sends or any order of inputs,
//! no busy loop, one announce at a time, and the same seed giving the same
//! outputs.

use core::net::SocketAddr;
use core::time::Duration;

use proptest::prelude::*;

use super::tests::{announcer, drain, http, ok_body, secs};
use super::{Announcer, Output, RequestId};
use crate::time::Time;
use crate::tracker::udp::{AddressFamily, Request, Response};

/// One input of a script.
#[derive(Debug, Clone)]
enum Step {
    Start,
    Completed,
    Stop,
    AnnounceNow,
    Stats(u64),
    Wait(u16),
    /// Answer the oldest open HTTP request: 0 success, 1 I/O error, 2 the bytes.
    Http(u8, Vec<u8>),
    /// Answer the oldest datagram: 0 as the tracker would, 1 with the bytes,
    /// 2 with an error, 3 with a lookup failure.
    Udp(u8, Vec<u8>),
    AddTracker(u8),
}

fn step() -> impl Strategy<Value = Step> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..64);
    prop_oneof![
        1 => Just(Step::Start),
        1 => Just(Step::Completed),
        1 => Just(Step::Stop),
        1 => Just(Step::AnnounceNow),
        1 => any::<u64>().prop_map(Step::Stats),
        4 => any::<u16>().prop_map(Step::Wait),
        4 => (0..3u8, bytes.clone()).prop_map(|(k, b)| Step::Http(k, b)),
        4 => (0..4u8, bytes).prop_map(|(k, b)| Step::Udp(k, b)),
        1 => any::<u8>().prop_map(Step::AddTracker),
    ]
}

fn tiers() -> Vec<&'static [&'static str]> {
    vec![
        &["http://a.example/announce", "udp://b.example:6969"],
        &["udp://[2001:db8::1]:80", "http://c.example:8080/x"],
        &["https://d.example/", "udp://e.example:1"],
    ]
}

/// Runs `script` against a fresh announcer seeded with `seed`, checking the
/// invariants after each step; returns every output.
fn run(seed: u64, private: bool, script: &[Step]) -> Vec<Output> {
    let mut a = announcer(&tiers(), private, seed);
    let mut now = Time::ZERO;
    let mut log = Vec::new();
    let mut http_open: Vec<RequestId> = Vec::new();
    let mut udp_out: Vec<(String, u16, Vec<u8>)> = Vec::new();
    for s in script {
        match s {
            Step::Start => a.start(now),
            Step::Completed => a.completed(now),
            Step::Stop => a.stop(now),
            Step::AnnounceNow => a.announce_now(now),
            Step::Stats(left) => a.set_stats(left / 3, left / 2, *left),
            Step::Wait(ms) => {
                now += Duration::from_millis(u64::from(*ms) * 50);
                a.handle_timeout(now);
            }
            Step::Http(kind, bytes) => {
                if !http_open.is_empty() {
                    let id = http_open.remove(0);
                    match kind {
                        0 => a.http_response(now, id, Ok(&http(&ok_body(60, None, 1)))),
                        1 => a.http_response(now, id, Err("refused")),
                        _ => a.http_response(now, id, Ok(bytes)),
                    }
                }
            }
            Step::Udp(kind, bytes) => {
                if !udp_out.is_empty() {
                    let (host, port, datagram) = udp_out.remove(0);
                    let from: SocketAddr = if host.contains(':') {
                        SocketAddr::new(host.parse().unwrap(), port)
                    } else {
                        SocketAddr::from(([192, 0, 2, 1], port))
                    };
                    match kind {
                        0 => {
                            let reply = scripted(&datagram, AddressFamily::of(&from));
                            a.udp_datagram(now, &host, port, from, &reply);
                        }
                        1 => a.udp_datagram(now, &host, port, from, bytes),
                        2 => {
                            let tid = datagram.get(12..16).unwrap_or(&[0; 4]);
                            let mut error = vec![0, 0, 0, 3];
                            error.extend_from_slice(tid);
                            error.extend_from_slice(bytes);
                            a.udp_datagram(now, &host, port, from, &error);
                        }
                        _ => a.udp_error(now, &host, port, "unreachable"),
                    }
                }
            }
            Step::AddTracker(n) => {
                let url = format!("http://extra{}.example/a", n % 4);
                let added = a.add_tracker(&url);
                assert!(!private || added.is_err());
            }
        }
        for out in drain(&mut a) {
            match &out {
                Output::HttpGet { id, .. } => http_open.push(*id),
                Output::HttpCancel { id } => http_open.retain(|x| x != id),
                Output::UdpSend {
                    host,
                    port,
                    datagram,
                } => udp_out.push((host.clone(), *port, datagram.clone())),
                _ => {}
            }
            log.push(out);
        }
        check(&mut a, now, &mut log);
    }
    log
}

/// After the due work is done, nothing is due again at the same instant,
/// and a running announcer has at most one announce in flight.
fn check(a: &mut Announcer, now: Time, log: &mut Vec<Output>) {
    a.handle_timeout(now);
    log.extend(drain(a));
    if let Some(at) = a.poll_timeout() {
        assert!(at > now, "busy loop: timeout {at:?} at {now:?}");
    }
    let in_flight = usize::from(a.current.is_some());
    assert!(in_flight <= 1);
    if !a.is_running() {
        assert!(a.current.is_none());
    }
}

/// What a well-behaved tracker answers to `datagram`.
fn scripted(datagram: &[u8], family: AddressFamily) -> Vec<u8> {
    let response = match Request::decode(datagram) {
        Ok(Request::Connect { transaction_id }) => Response::Connect {
            transaction_id,
            connection_id: 5,
        },
        Ok(Request::Announce { transaction_id, .. }) => Response::Announce {
            transaction_id,
            interval: 0,
            leechers: 0,
            seeders: 0,
            peers: Vec::new(),
        },
        _ => return Vec::new(),
    };
    response.to_bytes(family)
}

proptest! {
    #[test]
    fn arbitrary_http_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let mut a = announcer(&[&["http://t.example/a"], &["http://u.example/a"]], false, 1);
        a.start(secs(0));
        let id = drain(&mut a)
            .iter()
            .find_map(|o| match o { Output::HttpGet { id, .. } => Some(*id), _ => None })
            .unwrap();
        let mut framed = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        framed.extend_from_slice(&bytes);
        a.http_response(secs(1), id, Ok(&framed));
        let out = drain(&mut a);
        // Either an answer or a failure with failover, never silence.
        prop_assert!(!out.is_empty() || a.next_announce().is_some());
        a.http_response(secs(1), id, Ok(&bytes));
    }

    #[test]
    fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), v6 in any::<bool>()) {
        let mut a = announcer(&[&["udp://t.example:1"]], false, 1);
        a.start(secs(0));
        drain(&mut a);
        let from = if v6 { "[::1]:1" } else { "127.0.0.1:1" };
        a.udp_datagram(secs(1), "t.example", 1, from.parse().unwrap(), &bytes);
        drain(&mut a);
    }

    #[test]
    fn scripts_keep_the_invariants(
        seed in any::<u64>(),
        private in any::<bool>(),
        script in proptest::collection::vec(step(), 0..60),
    ) {
        run(seed, private, &script);
    }

    #[test]
    fn the_same_seed_gives_the_same_outputs(
        seed in any::<u64>(),
        script in proptest::collection::vec(step(), 0..40),
    ) {
        prop_assert_eq!(run(seed, false, &script), run(seed, false, &script));
    }
}

//! Scripted trackers and a fake clock against the announcer.

use core::net::SocketAddr;
use core::time::Duration;

use super::{AddTrackerError, Announcer, AnnouncerConfig, Output, RequestId};
use crate::id::{InfoHash, PeerId};
use crate::rng::Rng;
use crate::time::Time;
use crate::tracker::udp::{AddressFamily, AnnounceEvent, Request, Response};

pub(super) fn secs(s: u64) -> Time {
    Time::from_millis(s * 1000)
}

pub(super) fn announcer(tiers: &[&[&str]], private: bool, seed: u64) -> Announcer {
    let tiers: Vec<Vec<String>> = tiers
        .iter()
        .map(|tier| tier.iter().map(|u| u.to_string()).collect())
        .collect();
    Announcer::new(
        InfoHash([0x11; 20]),
        PeerId(*b"-SL0100-abcdefghijkl"),
        6881,
        &tiers,
        private,
        AnnouncerConfig::default(),
        Rng::new(seed),
    )
}

pub(super) fn drain(a: &mut Announcer) -> Vec<Output> {
    core::iter::from_fn(|| a.poll()).collect()
}

/// An HTTP GET the announcer asked for: its id, tracker URL and request line.
#[derive(Debug)]
struct Get {
    id: RequestId,
    url: String,
    line: String,
}

impl Get {
    /// The value of query parameter `name`, if present.
    fn param(&self, name: &str) -> Option<&str> {
        let target = self.line.split(' ').nth(1)?;
        let query = target.split_once('?')?.1;
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }

    fn event(&self) -> Option<&str> {
        self.param("event")
    }
}

fn gets(outputs: &[Output]) -> Vec<Get> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::HttpGet {
                id, url, request, ..
            } => {
                let text = String::from_utf8_lossy(request);
                let line = text.lines().next().unwrap_or_default().to_owned();
                Some(Get {
                    id: *id,
                    url: url.clone(),
                    line,
                })
            }
            _ => None,
        })
        .collect()
}

fn only_get(outputs: &[Output]) -> Get {
    let mut all = gets(outputs);
    assert_eq!(all.len(), 1, "{outputs:?}");
    all.remove(0)
}

fn errors(outputs: &[Output]) -> Vec<(String, String)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Error { url, text } => Some((url.clone(), text.clone())),
            _ => None,
        })
        .collect()
}

fn peers(outputs: &[Output]) -> Vec<SocketAddr> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Peers(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// An HTTP response carrying `body`.
pub(super) fn http(body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// A bencoded announce answer with `interval`, optional `min interval`, and
/// one compact peer 10.0.0.`last`:6881.
pub(super) fn ok_body(interval: u32, min: Option<u32>, last: u8) -> Vec<u8> {
    let mut b = format!("d8:intervali{interval}e").into_bytes();
    if let Some(m) = min {
        b.extend_from_slice(format!("12:min intervali{m}e").as_bytes());
    }
    b.extend_from_slice(b"5:peers6:");
    b.extend_from_slice(&[10, 0, 0, last, 0x1a, 0xe1]);
    b.push(b'e');
    b
}

fn answer(a: &mut Announcer, now: Time, get: &Get, body: &[u8]) -> Vec<Output> {
    a.http_response(now, get.id, Ok(&http(body)));
    drain(a)
}

fn fail(a: &mut Announcer, now: Time, get: &Get) -> Vec<Output> {
    a.http_response(now, get.id, Err("connection refused"));
    drain(a)
}

fn timeout(a: &mut Announcer, now: Time) -> Vec<Output> {
    a.handle_timeout(now);
    drain(a)
}

#[test]
fn started_interval_completed_stopped() {
    let mut a = announcer(&[&["http://t.example/announce"]], false, 1);
    assert!(drain(&mut a).is_empty());
    a.set_stats(0, 0, 1000);
    a.start(secs(0));
    let out = drain(&mut a);
    let get = only_get(&out);
    assert_eq!(get.event(), Some("started"));
    assert_eq!(get.param("left"), Some("1000"));
    assert_eq!(get.param("numwant"), Some("50"));
    assert_eq!(get.param("key"), Some(format!("{:08X}", a.key()).as_str()));
    match &out[0] {
        Output::HttpGet { host, port, .. } => assert_eq!((host.as_str(), *port), ("t.example", 80)),
        other => panic!("{other:?}"),
    }
    let out = answer(&mut a, secs(1), &get, &ok_body(1800, None, 1));
    assert_eq!(peers(&out), ["10.0.0.1:6881".parse().unwrap()]);
    assert_eq!(a.poll_timeout(), Some(secs(1801)));

    // Nothing happens early; the regular announce carries no event.
    assert!(timeout(&mut a, secs(1800)).is_empty());
    a.set_stats(10, 500, 500);
    let get = only_get(&timeout(&mut a, secs(1801)));
    assert_eq!(get.event(), None);
    assert_eq!(get.param("downloaded"), Some("500"));
    answer(&mut a, secs(1802), &get, &ok_body(1800, None, 2));

    a.set_stats(20, 1000, 0);
    a.completed(secs(2000));
    let get = only_get(&drain(&mut a));
    assert_eq!(get.event(), Some("completed"));
    assert_eq!(get.param("left"), Some("0"));
    answer(&mut a, secs(2001), &get, &ok_body(1800, None, 3));
    // Only once.
    a.completed(secs(2002));
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.poll_timeout(), Some(secs(3801)));

    a.stop(secs(2100));
    assert!(!a.is_stopped());
    let get = only_get(&drain(&mut a));
    assert_eq!(get.event(), Some("stopped"));
    assert_eq!(get.param("numwant"), Some("0"));
    let out = answer(&mut a, secs(2101), &get, &ok_body(1800, None, 4));
    assert!(peers(&out).is_empty(), "no peers after stop");
    assert!(a.is_stopped());
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn a_seed_does_not_send_completed() {
    let mut a = announcer(&[&["http://t.example/announce"]], false, 1);
    a.set_stats(0, 0, 0);
    a.start(secs(0));
    let get = only_get(&drain(&mut a));
    assert_eq!(
        (get.event(), get.param("left")),
        (Some("started"), Some("0"))
    );
    answer(&mut a, secs(0), &get, &ok_body(1800, None, 1));
    a.completed(secs(5));
    assert!(drain(&mut a).is_empty());
}

#[test]
fn completed_during_an_announce_follows_it() {
    let mut a = announcer(&[&["http://t.example/announce"]], false, 1);
    a.set_stats(0, 0, 10);
    a.start(secs(0));
    let started = only_get(&drain(&mut a));
    a.set_stats(0, 10, 0);
    a.completed(secs(1));
    assert!(drain(&mut a).is_empty(), "one announce at a time");
    assert_eq!(a.poll_timeout(), Some(secs(30)), "only the HTTP deadline");
    let get = only_get(&answer(&mut a, secs(2), &started, &ok_body(1800, None, 1)));
    assert_eq!(get.event(), Some("completed"));
    assert_eq!(get.param("left"), Some("0"));
}

#[test]
fn failover_in_the_tier_then_to_the_next_tier() {
    let mut a = announcer(
        &[
            &["http://a.example/announce", "http://b.example/announce"],
            &["http://c.example/announce"],
        ],
        false,
        3,
    );
    let order: Vec<String> = a.tiers()[0].iter().map(|s| s.to_string()).collect();
    a.set_stats(0, 0, 1);
    a.start(secs(0));
    let first = only_get(&drain(&mut a));
    assert_eq!(first.url, order[0]);
    let out = fail(&mut a, secs(1), &first);
    assert_eq!(
        errors(&out),
        [(order[0].clone(), "connection refused".to_owned())]
    );
    let second = only_get(&out);
    assert_eq!(second.url, order[1]);
    assert_eq!(second.event(), Some("started"));
    let out = fail(&mut a, secs(2), &second);
    let third = only_get(&out);
    assert_eq!(third.url, "http://c.example/announce");
    answer(&mut a, secs(3), &third, &ok_body(1800, None, 1));
    assert_eq!(a.tiers()[0], order, "a failure does not reorder");

    // The next announce starts over at the first tier, whose backoff is over.
    let get = only_get(&timeout(&mut a, secs(1803)));
    assert_eq!(get.url, order[0]);
    assert_eq!(get.event(), Some("started"), "it never had one");
    answer(&mut a, secs(1803), &get, &ok_body(1800, None, 1));

    // stopped goes to both trackers that had started, at once.
    a.stop(secs(1900));
    let stops = gets(&drain(&mut a));
    let mut urls: Vec<&str> = stops.iter().map(|g| g.url.as_str()).collect();
    urls.sort_unstable();
    assert_eq!(urls, [order[0].as_str(), "http://c.example/announce"]);
    assert!(stops.iter().all(|g| g.event() == Some("stopped")));
}

#[test]
fn the_answering_tracker_moves_to_the_front_of_its_tier() {
    let urls = [
        "http://a.example/announce",
        "http://b.example/announce",
        "http://c.example/announce",
    ];
    let mut a = announcer(&[&urls], false, 9);
    let order: Vec<String> = a.tiers()[0].iter().map(|s| s.to_string()).collect();
    a.start(secs(0));
    let first = only_get(&drain(&mut a));
    let second = only_get(&fail(&mut a, secs(0), &first));
    answer(&mut a, secs(1), &second, &ok_body(1800, None, 1));
    assert_eq!(
        a.tiers()[0],
        [order[1].as_str(), order[0].as_str(), order[2].as_str()]
    );
    // And is asked first from then on.
    let get = only_get(&timeout(&mut a, secs(1801)));
    assert_eq!(get.url, order[1]);
}

#[test]
fn tiers_are_shuffled_by_the_seed() {
    let urls: Vec<String> = (0..8).map(|i| format!("http://t{i}.example/a")).collect();
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let one = announcer(&[&refs], false, 1).tiers()[0].join(" ");
    assert_eq!(one, announcer(&[&refs], false, 1).tiers()[0].join(" "));
    let others: Vec<String> = (2..6)
        .map(|s| announcer(&[&refs], false, s).tiers()[0].join(" "))
        .collect();
    assert!(others.iter().any(|o| *o != one));
}

#[test]
fn a_failing_tracker_backs_off_doubling() {
    let mut a = announcer(&[&["http://t.example/announce"]], false, 1);
    a.start(secs(0));
    let mut get = only_get(&drain(&mut a));
    let mut now = secs(0);
    let mut waits = Vec::new();
    for _ in 0..9 {
        let out = fail(&mut a, now, &get);
        assert_eq!(errors(&out).len(), 1);
        assert!(gets(&out).is_empty(), "no other tracker");
        let at = a.poll_timeout().unwrap();
        waits.push((at - now).as_secs());
        now = at;
        get = only_get(&timeout(&mut a, now));
        assert_eq!(get.event(), Some("started"));
    }
    assert_eq!(waits, [15, 30, 60, 120, 240, 480, 960, 1800, 1800]);
    // An answer resets the count.
    answer(&mut a, now, &get, &ok_body(60, None, 1));
    let get = only_get(&timeout(&mut a, now + Duration::from_secs(60)));
    fail(&mut a, now + Duration::from_secs(60), &get);
    assert_eq!(a.poll_timeout(), Some(now + Duration::from_secs(75)));
}

#[test]
fn an_unanswered_http_request_times_out() {
    let mut a = announcer(
        &[&["http://a.example/x"], &["http://b.example/x"]],
        false,
        1,
    );
    a.start(secs(0));
    let first = only_get(&drain(&mut a));
    assert_eq!(a.poll_timeout(), Some(secs(30)));
    let out = timeout(&mut a, secs(30));
    assert_eq!(out[0], Output::HttpCancel { id: first.id });
    assert_eq!(errors(&out)[0].1, "no answer within 30 s");
    assert_eq!(only_get(&out).url, "http://b.example/x");
    // A late answer to the cancelled request changes nothing.
    let late = answer(&mut a, secs(31), &first, &ok_body(1800, None, 1));
    assert!(late.is_empty());
}

#[test]
fn every_tracker_backing_off_waits_for_the_first() {
    let mut a = announcer(
        &[&["http://a.example/x"], &["http://b.example/x"]],
        false,
        1,
    );
    a.start(secs(0));
    let first = only_get(&drain(&mut a));
    let second = only_get(&fail(&mut a, secs(0), &first));
    assert!(gets(&fail(&mut a, secs(10), &second)).is_empty());
    // a may be asked again at 15, b at 25.
    assert_eq!(a.poll_timeout(), Some(secs(15)));
    let get = only_get(&timeout(&mut a, secs(15)));
    assert_eq!(get.url, "http://a.example/x");
    let out = fail(&mut a, secs(15), &get);
    assert!(gets(&out).is_empty(), "b is still backing off");
    assert_eq!(a.poll_timeout(), Some(secs(25)));
    assert_eq!(
        only_get(&timeout(&mut a, secs(25))).url,
        "http://b.example/x"
    );
}

#[test]
fn min_interval_is_respected() {
    let mut a = announcer(&[&["http://t.example/announce"]], false, 1);
    a.start(secs(0));
    let get = only_get(&drain(&mut a));
    // interval 30 (the codec's floor), min interval 20: the config's floor, 60, wins.
    answer(&mut a, secs(0), &get, &ok_body(30, Some(20), 1));
    assert_eq!(a.poll_timeout(), Some(secs(60)));
    let get = only_get(&timeout(&mut a, secs(60)));
    // min interval 600 above interval 300.
    answer(&mut a, secs(60), &get, &ok_body(300, Some(600), 1));
    assert_eq!(a.poll_timeout(), Some(secs(660)));
    // Asking for peers early waits for the min interval too.
    a.announce_now(secs(100));
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.poll_timeout(), Some(secs(660)));
    let get = only_get(&timeout(&mut a, secs(660)));
    answer(&mut a, secs(660), &get, &ok_body(3600, None, 1));
    a.announce_now(secs(800));
    assert_eq!(only_get(&drain(&mut a)).event(), None);
}

#[test]
fn a_tracker_failure_reason_is_reported_and_its_retry_in_honoured() {
    let mut a = announcer(&[&["http://t.example/announce"]], false, 1);
    a.start(secs(0));
    let get = only_get(&drain(&mut a));
    let out = answer(
        &mut a,
        secs(0),
        &get,
        b"d14:failure reason6:banned8:retry ini10ee",
    );
    let errs = errors(&out);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].1.contains("banned"), "{errs:?}");
    assert_eq!(a.poll_timeout(), Some(secs(600)));
}

#[test]
fn warnings_and_tracker_ids() {
    let mut a = announcer(&[&["http://t.example/announce?pk=1"]], false, 1);
    a.start(secs(0));
    let get = only_get(&drain(&mut a));
    let body = b"d8:intervali60e10:tracker id3:xyz15:warning message4:slow5:peers0:e";
    let out = answer(&mut a, secs(0), &get, body);
    assert_eq!(
        out,
        [Output::Warning {
            url: "http://t.example/announce?pk=1".into(),
            text: "slow".into()
        }]
    );
    let get = only_get(&timeout(&mut a, secs(60)));
    assert_eq!(get.param("trackerid"), Some("xyz"));
    assert_eq!(get.param("pk"), Some("1"));
}

#[test]
fn unusable_urls_are_reported_once_and_skipped() {
    let mut a = announcer(
        &[
            &["https://s.example/announce", "wss://w.example"],
            &[
                "http://ok.example/a",
                "udp://nopor.example",
                "http://ok.example/a",
            ],
        ],
        false,
        1,
    );
    let errs = errors(&drain(&mut a));
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(errs.contains(&(
        "https://s.example/announce".into(),
        "HTTPS trackers are not supported yet".into()
    )));
    assert_eq!(a.tiers(), [["http://ok.example/a"]]);
    a.start(secs(0));
    assert_eq!(only_get(&drain(&mut a)).url, "http://ok.example/a");
    assert_eq!(
        a.add_tracker("https://x.example/a"),
        Err(AddTrackerError::Unsupported(
            "HTTPS trackers are not supported yet".into()
        ))
    );
    assert_eq!(errors(&drain(&mut a)).len(), 1);
}

#[test]
fn add_tracker_refused_when_private_or_known() {
    let mut private = announcer(&[&["http://t.example/a"]], true, 1);
    assert!(private.is_private());
    assert_eq!(
        private.add_tracker("http://u.example/a"),
        Err(AddTrackerError::Private)
    );
    assert_eq!(private.tiers().len(), 1);

    let mut public = announcer(&[&["http://t.example/a"]], false, 1);
    assert_eq!(
        public.add_tracker("HTTP://T.example:80/a"),
        Err(AddTrackerError::Duplicate)
    );
    assert_eq!(public.add_tracker("udp://u.example:80"), Ok(()));
    assert_eq!(
        public.tiers(),
        [["http://t.example/a"], ["udp://u.example:80"]]
    );
}

#[test]
fn a_tracker_added_to_an_empty_running_announcer_is_used() {
    let mut a = announcer(&[], false, 1);
    a.start(secs(0));
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.poll_timeout(), None);
    a.add_tracker("http://t.example/a").unwrap();
    assert!(a.poll_timeout().is_some_and(|t| t <= secs(5)));
    assert_eq!(only_get(&timeout(&mut a, secs(5))).event(), Some("started"));
}

#[test]
fn stop_during_started_cancels_and_says_stopped_with_a_deadline() {
    let mut a = announcer(&[&["http://t.example/a"]], false, 1);
    a.start(secs(0));
    let started = only_get(&drain(&mut a));
    a.stop(secs(1));
    let out = drain(&mut a);
    assert_eq!(out[0], Output::HttpCancel { id: started.id });
    let stopped = only_get(&out);
    assert_eq!(stopped.event(), Some("stopped"));
    assert_eq!(a.poll_timeout(), Some(secs(6)));
    let out = timeout(&mut a, secs(6));
    assert_eq!(out, [Output::HttpCancel { id: stopped.id }]);
    assert!(a.is_stopped());
    // Stopping again, or before starting, sends nothing.
    a.stop(secs(7));
    assert!(drain(&mut a).is_empty());
    let mut idle = announcer(&[&["http://t.example/a"]], false, 1);
    idle.stop(secs(0));
    assert!(idle.is_stopped() && drain(&mut idle).is_empty());
}

#[test]
fn a_restart_sends_started_again() {
    let mut a = announcer(&[&["http://t.example/a"]], false, 1);
    a.start(secs(0));
    let get = only_get(&drain(&mut a));
    answer(&mut a, secs(0), &get, &ok_body(1800, None, 1));
    a.stop(secs(10));
    let stop = only_get(&drain(&mut a));
    a.http_response(secs(10), stop.id, Err("reset"));
    assert_eq!(errors(&drain(&mut a)).len(), 1);
    assert!(a.is_stopped());
    a.start(secs(20));
    assert_eq!(only_get(&drain(&mut a)).event(), Some("started"));
}

/// A scripted UDP tracker: answers connects with id 77 and announces with
/// `interval` and `peers`; returns the decoded request.
fn udp_reply(
    a: &mut Announcer,
    now: Time,
    from: SocketAddr,
    out: &[Output],
    peers: &[SocketAddr],
) -> Vec<Request> {
    let family = AddressFamily::of(&from);
    let mut seen = Vec::new();
    for o in out {
        let Output::UdpSend {
            host,
            port,
            datagram,
        } = o
        else {
            continue;
        };
        let request = Request::decode(datagram).unwrap();
        let response = match &request {
            Request::Connect { transaction_id } => Response::Connect {
                transaction_id: *transaction_id,
                connection_id: 77,
            },
            Request::Announce {
                transaction_id,
                connection_id,
                ..
            } => {
                assert_eq!(*connection_id, 77);
                Response::Announce {
                    transaction_id: *transaction_id,
                    interval: 900,
                    leechers: 1,
                    seeders: 2,
                    peers: peers.to_vec(),
                }
            }
            Request::Scrape { .. } => panic!("no scrape expected"),
        };
        let mut bytes = Vec::new();
        response.encode(family, &mut bytes);
        a.udp_datagram(now, host, *port, from, &bytes);
        seen.push(request);
    }
    seen
}

fn udp_sends(out: &[Output]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::UdpSend { .. }))
        .count()
}

#[test]
fn udp_tracker_through_its_client() {
    let mut a = announcer(&[&["udp://tracker.example:6969/announce"]], false, 1);
    let from: SocketAddr = "192.0.2.1:6969".parse().unwrap();
    a.set_stats(1, 2, 3);
    a.start(secs(0));
    let out = drain(&mut a);
    match &out[..] {
        [Output::UdpSend { host, port, .. }] => {
            assert_eq!((host.as_str(), *port), ("tracker.example", 6969))
        }
        other => panic!("{other:?}"),
    }
    let seen = udp_reply(&mut a, secs(0), from, &out, &[]);
    assert!(matches!(seen[..], [Request::Connect { .. }]));
    let out = drain(&mut a);
    let peer: SocketAddr = "10.1.2.3:51413".parse().unwrap();
    let seen = udp_reply(&mut a, secs(1), from, &out, &[peer]);
    let [Request::Announce { params, .. }] = &seen[..] else {
        panic!("{seen:?}")
    };
    assert_eq!(params.event, AnnounceEvent::Started);
    assert_eq!((params.uploaded, params.downloaded, params.left), (1, 2, 3));
    assert_eq!(
        (params.key, params.num_want, params.port),
        (a.key(), 50, 6881)
    );
    assert_eq!(peers(&drain(&mut a)), [peer]);
    assert_eq!(a.poll_timeout(), Some(secs(901)));

    // The regular announce reconnects (the connection id expired).
    let out = timeout(&mut a, secs(901));
    let seen = udp_reply(&mut a, secs(901), from, &out, &[]);
    assert!(matches!(seen[..], [Request::Connect { .. }]));
    let out = drain(&mut a);
    let seen = udp_reply(&mut a, secs(901), from, &out, &[]);
    let [Request::Announce { params, .. }] = &seen[..] else {
        panic!()
    };
    assert_eq!(params.event, AnnounceEvent::None);
    assert!(drain(&mut a).is_empty(), "no peers, no output");

    // stopped within the connection id's minute goes straight out.
    a.stop(secs(930));
    let out = drain(&mut a);
    let seen = udp_reply(&mut a, secs(930), from, &out, &[]);
    let [Request::Announce { params, .. }] = &seen[..] else {
        panic!()
    };
    assert_eq!((params.event, params.num_want), (AnnounceEvent::Stopped, 0));
    assert!(a.is_stopped());
}

#[test]
fn an_ipv6_udp_tracker_gets_a_client_for_ipv6_peers() {
    let mut a = announcer(&[&["udp://v6.example:6969"]], false, 1);
    let from: SocketAddr = "[2001:db8::1]:6969".parse().unwrap();
    a.start(secs(0));
    let out = drain(&mut a);
    // The first connect answer shows the family; the client starts over.
    udp_reply(&mut a, secs(0), from, &out, &[]);
    let out = drain(&mut a);
    let seen = udp_reply(&mut a, secs(0), from, &out, &[]);
    assert!(matches!(seen[..], [Request::Connect { .. }]), "{seen:?}");
    let out = drain(&mut a);
    let peer: SocketAddr = "[2001:db8::99]:6881".parse().unwrap();
    let seen = udp_reply(&mut a, secs(1), from, &out, &[peer]);
    assert!(matches!(seen[..], [Request::Announce { .. }]));
    assert_eq!(peers(&drain(&mut a)), [peer]);
}

#[test]
fn a_silent_udp_tracker_fails_over_after_its_retransmissions() {
    let mut a = announcer(&[&["udp://u.example:1"], &["http://h.example/a"]], false, 1);
    a.start(secs(0));
    assert_eq!(udp_sends(&drain(&mut a)), 1);
    let mut now = secs(0);
    for wait in [15, 30] {
        now += Duration::from_secs(wait);
        assert_eq!(a.poll_timeout(), Some(now));
        assert_eq!(udp_sends(&timeout(&mut a, now)), 1, "retransmission");
    }
    now += Duration::from_secs(60);
    let out = timeout(&mut a, now);
    assert_eq!(errors(&out).len(), 1);
    assert_eq!(only_get(&out).url, "http://h.example/a");
}

#[test]
fn a_udp_lookup_failure_fails_over_at_once() {
    let mut a = announcer(&[&["udp://u.example:1"], &["http://h.example/a"]], false, 1);
    a.start(secs(0));
    drain(&mut a);
    a.udp_error(secs(1), "U.example", 1, "no such host");
    let out = drain(&mut a);
    assert_eq!(
        errors(&out),
        [("udp://u.example:1".into(), "no such host".into())]
    );
    assert_eq!(only_get(&out).url, "http://h.example/a");
    // Nothing more comes from the UDP tracker's client.
    a.handle_timeout(secs(20));
    assert_eq!(udp_sends(&drain(&mut a)), 0);
    // Unknown trackers are ignored.
    a.udp_error(secs(2), "other.example", 1, "x");
    let from: SocketAddr = "192.0.2.1:1".parse().unwrap();
    a.udp_datagram(secs(2), "other.example", 1, from, &[0; 16]);
    assert!(drain(&mut a).is_empty());
}

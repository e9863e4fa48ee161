//! The client against a scripted tracker and a fake clock: BEP 15's examples
//! step by step.

use core::net::SocketAddr;
use core::time::Duration;

use super::*;
use crate::id::{InfoHash, PeerId};
use crate::rng::Rng;
use crate::time::Time;

/// A tracker in memory: hands out connection ids, answers announces with a
/// fixed peer list and scrapes with made-up stats, refuses unknown
/// connection ids, and drops the datagrams `drop_pattern` says to.
pub(super) struct Tracker {
    family: AddressFamily,
    next_connection: u64,
    /// Connection ids handed out, with when.
    issued: Vec<(u64, Time)>,
    /// One entry per datagram received, in order: true drops it.
    pub(super) drop_pattern: Vec<bool>,
    received: usize,
    /// Answer requests (not connects) with this error instead.
    pub(super) error: Option<String>,
}

impl Tracker {
    pub(super) fn new(family: AddressFamily) -> Tracker {
        Tracker {
            family,
            next_connection: 0x00C0_FFEE,
            issued: Vec::new(),
            drop_pattern: Vec::new(),
            received: 0,
            error: None,
        }
    }

    fn peers(&self) -> Vec<SocketAddr> {
        let text: &[&str] = match self.family {
            AddressFamily::V4 => &["10.0.0.1:6881", "10.0.0.2:51413"],
            AddressFamily::V6 => &["[2001:db8::7]:6881"],
        };
        text.iter().map(|t| t.parse().unwrap()).collect()
    }

    /// The answer to `datagram` received at `now`, if any.
    pub(super) fn answer(&mut self, now: Time, datagram: &[u8]) -> Option<Vec<u8>> {
        let dropped = self.drop_pattern.get(self.received).copied();
        self.received += 1;
        if dropped == Some(true) {
            return None;
        }
        let request = Request::decode(datagram).expect("the client sends valid requests");
        let transaction_id = request.transaction_id();
        let response = match request {
            Request::Connect { .. } => {
                self.next_connection += 1;
                self.issued.push((self.next_connection, now));
                Response::Connect {
                    transaction_id,
                    connection_id: self.next_connection,
                }
            }
            Request::Announce { connection_id, .. } | Request::Scrape { connection_id, .. }
                if !self.accepts(now, connection_id) =>
            {
                return None;
            }
            _ if self.error.is_some() => Response::Error {
                transaction_id,
                message: self.error.clone().unwrap_or_default(),
            },
            Request::Announce { .. } => Response::Announce {
                transaction_id,
                interval: 1800,
                leechers: 3,
                seeders: 4,
                peers: self.peers(),
            },
            Request::Scrape { info_hashes, .. } => Response::Scrape {
                transaction_id,
                stats: info_hashes
                    .iter()
                    .map(|h| ScrapeStats {
                        seeders: u32::from(h.0[0]),
                        completed: 7,
                        leechers: 1,
                    })
                    .collect(),
            },
        };
        Some(response.to_bytes(self.family))
    }

    /// BEP 15: trackers accept a connection id for two minutes.
    fn accepts(&self, now: Time, connection_id: u64) -> bool {
        self.issued
            .iter()
            .any(|&(id, at)| id == connection_id && now - at <= Duration::from_secs(120))
    }
}

/// Runs client and tracker together from `start` until nothing is in flight
/// or `max_secs` have passed, answers arriving at once; returns the events.
pub(super) fn drive(
    client: &mut UdpTrackerClient,
    tracker: &mut Tracker,
    start: Time,
    max_secs: u64,
) -> Vec<(Time, UdpEvent)> {
    let mut now = start;
    let end = start + Duration::from_secs(max_secs);
    let mut events = Vec::new();
    loop {
        while let Some(d) = client.poll_transmit() {
            if let Some(reply) = tracker.answer(now, &d) {
                assert!(client.handle_datagram(now, &reply));
            }
        }
        while let Some(e) = client.poll_event() {
            events.push((now, e));
        }
        match client.poll_timeout() {
            Some(t) if t <= end => {
                assert!(t >= now, "deadlines never lie in the past");
                now = t;
                client.handle_timeout(now);
            }
            _ => return events,
        }
    }
}

fn secs(s: u64) -> Time {
    Time::ZERO + Duration::from_secs(s)
}

fn params() -> AnnounceParams {
    let mut p = AnnounceParams::new(InfoHash([9; 20]), PeerId([8; 20]), 6881);
    p.event = AnnounceEvent::Started;
    p.left = 1000;
    p
}

fn client() -> UdpTrackerClient {
    UdpTrackerClient::new(UdpConfig::default(), Rng::new(42))
}

/// Everything the client has queued, decoded.
fn sent(client: &mut UdpTrackerClient) -> Vec<Request> {
    core::iter::from_fn(|| client.poll_transmit())
        .map(|d| Request::decode(&d).expect("valid request"))
        .collect()
}

fn one(client: &mut UdpTrackerClient) -> Request {
    let mut all = sent(client);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

fn connect_reply(req: &Request, connection_id: u64) -> Vec<u8> {
    assert_eq!(req.action(), Action::Connect, "{req:?}");
    Response::Connect {
        transaction_id: req.transaction_id(),
        connection_id,
    }
    .to_bytes(AddressFamily::V4)
}

fn announce_reply(req: &Request) -> Vec<u8> {
    Response::Announce {
        transaction_id: req.transaction_id(),
        interval: 900,
        leechers: 1,
        seeders: 2,
        peers: vec!["192.0.2.5:7000".parse().unwrap()],
    }
    .to_bytes(AddressFamily::V4)
}

/// Connects at `t` and answers at `t`; returns the announce request sent.
fn connected(client: &mut UdpTrackerClient, t: u64) -> (OpId, Request) {
    let op = client.announce(secs(t), params());
    let connect = one(client);
    assert!(client.handle_datagram(secs(t), &connect_reply(&connect, 77)));
    (op, one(client))
}

#[test]
fn connect_then_announce() {
    let mut c = client();
    let op = c.announce(Time::ZERO, params());
    assert_eq!(c.poll_timeout(), Some(secs(15)));
    let connect = one(&mut c);
    assert!(matches!(connect, Request::Connect { .. }));
    assert!(c.handle_datagram(secs(1), &connect_reply(&connect, 77)));
    assert_eq!(c.connection_id(secs(1)), Some(77));
    let announce = one(&mut c);
    let Request::Announce {
        connection_id,
        transaction_id,
        params: p,
    } = &announce
    else {
        panic!("{announce:?}")
    };
    assert_eq!((*connection_id, p), (77, &params()));
    assert_ne!(*transaction_id, connect.transaction_id());
    assert_eq!(c.poll_timeout(), Some(secs(16)));
    assert!(c.handle_datagram(secs(3), &announce_reply(&announce)));
    assert_eq!(
        c.poll_event(),
        Some(UdpEvent::AnnounceOk {
            op,
            interval: Duration::from_secs(900),
            leechers: 1,
            seeders: 2,
            peers: vec!["192.0.2.5:7000".parse().unwrap()],
        })
    );
    assert_eq!(
        (c.poll_event(), c.poll_timeout(), c.in_flight()),
        (None, None, 0)
    );
}

#[test]
fn connection_id_lasts_one_minute_after_it_arrived() {
    let mut c = client();
    let (_, first) = connected(&mut c, 1);
    assert!(c.handle_datagram(secs(2), &announce_reply(&first)));
    // Within the minute: straight to the announce.
    c.announce(secs(60) + Duration::from_millis(999), params());
    let again = one(&mut c);
    assert!(matches!(
        again,
        Request::Announce {
            connection_id: 77,
            ..
        }
    ));
    assert!(c.handle_datagram(secs(61), &announce_reply(&again)));
    // A minute after it arrived: a new connect first.
    assert_eq!(c.connection_id(secs(61)), None);
    c.announce(secs(61), params());
    let connect = one(&mut c);
    assert!(c.handle_datagram(secs(62), &connect_reply(&connect, 78)));
    assert!(matches!(
        one(&mut c),
        Request::Announce {
            connection_id: 78,
            ..
        }
    ));
}

#[test]
fn connect_retransmits_at_15_45_105_then_gives_up() {
    let mut c = client();
    let op = c.announce(Time::ZERO, params());
    let mut times = vec![0];
    let tid = one(&mut c).transaction_id();
    while let Some(t) = c.poll_timeout() {
        c.handle_timeout(t);
        if let Some(d) = c.poll_transmit() {
            let req = Request::decode(&d).unwrap();
            assert_eq!(
                req,
                Request::Connect {
                    transaction_id: tid
                }
            );
            times.push(t.since_epoch().as_secs());
        }
    }
    // 15 × 2^n after each send, n = 0..=8.
    assert_eq!(times, [0, 15, 45, 105, 225, 465, 945, 1905, 3825]);
    assert_eq!(
        c.poll_event(),
        Some(UdpEvent::Failed {
            op,
            reason: FailReason::TimedOut { attempts: 9 },
        })
    );
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn announce_times_out_and_reconnects_when_the_id_expires() {
    // BEP 15's "announce times out" example, one second earlier because the
    // announce leaves as soon as the connect response arrives.
    let mut c = client();
    let (_, announce) = connected(&mut c, 0);
    let mut log = vec![(0, announce.action())];
    let mut last = announce.clone();
    let mut t = Time::ZERO;
    while log.len() < 6 {
        t = c.poll_timeout().unwrap();
        c.handle_timeout(t);
        last = one(&mut c);
        if last.action() == Action::Announce {
            assert_eq!(last, announce, "the same datagram is retransmitted");
        }
        log.push((t.since_epoch().as_secs(), last.action()));
    }
    assert_eq!(
        log,
        [
            (0, Action::Announce),
            (15, Action::Announce),
            (45, Action::Announce),
            (105, Action::Connect),
            (225, Action::Connect),
            (465, Action::Connect),
        ]
    );
    // An answer to the old announce is stale now; the tracker's answer to
    // the connect brings a fresh announce with the new id.
    assert!(!c.handle_datagram(t, &announce_reply(&announce)));
    assert!(c.handle_datagram(t, &connect_reply(&last, 5)));
    let fresh = one(&mut c);
    assert!(matches!(
        fresh,
        Request::Announce {
            connection_id: 5,
            ..
        }
    ));
    assert_ne!(fresh.transaction_id(), announce.transaction_id());
    // The backoff goes on where it was: the wait after the sixth send.
    assert_eq!(c.poll_timeout(), Some(t + Duration::from_secs(15 << 5)));
    assert!(c.handle_datagram(t, &announce_reply(&fresh)));
    assert!(matches!(c.poll_event(), Some(UdpEvent::AnnounceOk { .. })));
}

#[test]
fn late_answer_to_an_earlier_copy_counts() {
    let mut c = client();
    let (op, announce) = connected(&mut c, 0);
    c.handle_timeout(secs(15));
    assert_eq!(one(&mut c), announce);
    assert!(c.handle_datagram(secs(16), &announce_reply(&announce)));
    assert!(matches!(c.poll_event(), Some(UdpEvent::AnnounceOk { op: o, .. }) if o == op));
}

#[test]
fn strangers_wrong_actions_and_stale_exchanges_are_ignored() {
    let mut c = client();
    let op = c.announce(Time::ZERO, params());
    let connect = one(&mut c);
    let tid = connect.transaction_id();
    let stranger = Request::Connect {
        transaction_id: tid.wrapping_add(1),
    };
    assert!(!c.handle_datagram(secs(1), &connect_reply(&stranger, 1)));
    // The right transaction id with the wrong action.
    assert!(!c.handle_datagram(secs(1), &announce_reply(&connect)));
    assert!(!c.handle_datagram(secs(1), &[0, 0, 0, 0]));
    assert!(!c.handle_datagram(secs(1), &vec![0; MAX_DATAGRAM + 1]));
    assert_eq!((sent(&mut c), c.poll_event()), (vec![], None));

    assert!(c.handle_datagram(secs(1), &connect_reply(&connect, 77)));
    let announce = one(&mut c);
    // A duplicate connect response belongs to a finished exchange.
    assert!(!c.handle_datagram(secs(2), &connect_reply(&connect, 99)));
    assert_eq!(c.connection_id(secs(2)), Some(77));
    // A scrape answer to an announce.
    let scrape = Response::Scrape {
        transaction_id: announce.transaction_id(),
        stats: vec![],
    };
    assert!(!c.handle_datagram(secs(2), &scrape.to_bytes(AddressFamily::V4)));
    assert_eq!(c.poll_event(), None);
    assert!(c.handle_datagram(secs(2), &announce_reply(&announce)));
    assert!(matches!(c.poll_event(), Some(UdpEvent::AnnounceOk { op: o, .. }) if o == op));
    // Answered once; a second copy is stale.
    assert!(!c.handle_datagram(secs(3), &announce_reply(&announce)));
    assert_eq!(c.poll_event(), None);
}

#[test]
fn cancelled_operations_stay_quiet() {
    let mut c = client();
    let (op, announce) = connected(&mut c, 0);
    assert!(c.cancel(op));
    assert!(!c.cancel(op));
    assert!(!c.handle_datagram(secs(1), &announce_reply(&announce)));
    assert_eq!((c.poll_event(), c.poll_timeout()), (None, None));
}

#[test]
fn error_action_fails_with_the_trackers_message() {
    let mut c = client();
    let (op, announce) = connected(&mut c, 0);
    let mut reply = Response::Error {
        transaction_id: announce.transaction_id(),
        message: String::new(),
    }
    .to_bytes(AddressFamily::V4);
    reply.extend_from_slice(b"torrent not registered\0");
    assert!(c.handle_datagram(secs(1), &reply));
    let Some(UdpEvent::Failed { op: o, reason }) = c.poll_event() else {
        panic!("fails")
    };
    assert_eq!(o, op);
    assert_eq!(reason, FailReason::Tracker("torrent not registered".into()));
    assert_eq!(reason.to_string(), "tracker error: torrent not registered");
    assert_eq!(c.poll_timeout(), None);

    // An error in answer to a connect fails the operation too.
    let op = c.announce(secs(70), params());
    let connect = one(&mut c);
    let reply = Response::Error {
        transaction_id: connect.transaction_id(),
        message: "go away".into(),
    };
    assert!(c.handle_datagram(secs(70), &reply.to_bytes(AddressFamily::V4)));
    assert_eq!(
        c.poll_event(),
        Some(UdpEvent::Failed {
            op,
            reason: FailReason::Tracker("go away".into())
        })
    );
}

#[test]
fn scrape_of_several_hashes() {
    let mut c = client();
    let hashes = [InfoHash([1; 20]), InfoHash([2; 20]), InfoHash([3; 20])];
    let op = c.scrape(Time::ZERO, &hashes).unwrap();
    let mut tracker = Tracker::new(AddressFamily::V4);
    let events = drive(&mut c, &mut tracker, Time::ZERO, 60);
    let stats = |s| ScrapeStats {
        seeders: s,
        completed: 7,
        leechers: 1,
    };
    assert_eq!(
        events,
        [(
            Time::ZERO,
            UdpEvent::ScrapeOk {
                op,
                stats: vec![
                    (hashes[0], stats(1)),
                    (hashes[1], stats(2)),
                    (hashes[2], stats(3))
                ],
            }
        )]
    );
    assert_eq!(
        c.scrape(Time::ZERO, &[]),
        Err(UdpError::ScrapeCount { count: 0 })
    );
    assert_eq!(
        c.scrape(Time::ZERO, &[InfoHash([0; 20]); 75]),
        Err(UdpError::ScrapeCount { count: 75 })
    );
    assert!(c.scrape(Time::ZERO, &[InfoHash([0; 20]); 74]).is_ok());
}

#[test]
fn concurrent_operations_share_one_connect() {
    let mut c = client();
    let a = c.announce(Time::ZERO, params());
    let s = c.scrape(Time::ZERO, &[InfoHash([5; 20])]).unwrap();
    let connect = one(&mut c);
    assert!(c.handle_datagram(secs(1), &connect_reply(&connect, 3)));
    let requests = sent(&mut c);
    assert_eq!(requests.len(), 2);
    assert_ne!(requests[0].transaction_id(), requests[1].transaction_id());
    let mut tracker = Tracker::new(AddressFamily::V4);
    tracker.issued.push((3, secs(1)));
    for r in &requests {
        let reply = tracker.answer(secs(2), &r.to_bytes()).unwrap();
        assert!(c.handle_datagram(secs(2), &reply));
    }
    let done: Vec<OpId> = core::iter::from_fn(|| c.poll_event())
        .map(|e| match e {
            UdpEvent::AnnounceOk { op, .. } | UdpEvent::ScrapeOk { op, .. } => op,
            UdpEvent::Failed { .. } => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(done, [a, s]);
}

#[test]
fn a_waiting_operation_connects_itself_if_the_first_is_cancelled() {
    let mut c = client();
    let first = c.announce(Time::ZERO, params());
    let _connect = one(&mut c);
    c.announce(secs(1), params());
    assert_eq!(sent(&mut c), vec![], "joins the connect already out");
    c.cancel(first);
    c.handle_timeout(secs(16));
    assert!(matches!(one(&mut c), Request::Connect { .. }));
}

#[test]
fn faster_retries_when_configured() {
    let config = UdpConfig {
        base_timeout: Duration::from_millis(100),
        max_backoff: 2,
        ..UdpConfig::default()
    };
    assert_eq!(config.timeout(2), Duration::from_millis(400));
    assert_eq!(UdpConfig::default().timeout(8), Duration::from_secs(3840));
    let mut c = UdpTrackerClient::new(config, Rng::new(1));
    let op = c.announce(Time::ZERO, params());
    let mut times = Vec::new();
    while let Some(t) = c.poll_timeout() {
        times.push(t.as_micros() / 1000);
        c.handle_timeout(t);
    }
    assert_eq!(times, [100, 300, 700]);
    assert_eq!(sent(&mut c).len(), 3);
    assert_eq!(
        c.poll_event(),
        Some(UdpEvent::Failed {
            op,
            reason: FailReason::TimedOut { attempts: 3 }
        })
    );
}

#[test]
fn ipv6_tracker_gives_ipv6_peers() {
    let mut c = UdpTrackerClient::new(UdpConfig::new(AddressFamily::V6), Rng::new(5));
    c.announce(Time::ZERO, params());
    let mut tracker = Tracker::new(AddressFamily::V6);
    let events = drive(&mut c, &mut tracker, Time::ZERO, 60);
    let [(_, UdpEvent::AnnounceOk { peers, .. })] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        peers,
        &["[2001:db8::7]:6881".parse::<SocketAddr>().unwrap()]
    );
}

#[test]
fn lossy_network_still_gets_through() {
    let mut c = client();
    let mut tracker = Tracker::new(AddressFamily::V4);
    // Lose the first connect, then the first announce.
    tracker.drop_pattern = vec![true, false, true];
    let op = c.announce(Time::ZERO, params());
    let events = drive(&mut c, &mut tracker, Time::ZERO, 600);
    // Connect at 0 (lost), 15 (answered), announce at 15 (lost), at 45.
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, secs(45));
    assert!(matches!(&events[0].1, UdpEvent::AnnounceOk { op: o, .. } if *o == op));
}

#[test]
fn transaction_ids_come_from_the_seed() {
    let tids = |seed| {
        let mut c = UdpTrackerClient::new(UdpConfig::default(), Rng::new(seed));
        c.announce(Time::ZERO, params());
        c.scrape(Time::ZERO, &[InfoHash([1; 20])]).unwrap();
        c.announce(Time::ZERO, params());
        let connect = one(&mut c);
        c.handle_datagram(Time::ZERO, &connect_reply(&connect, 1));
        sent(&mut c)
            .iter()
            .map(Request::transaction_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(tids(1), tids(1));
    assert_ne!(tids(1), tids(2));
    let mut distinct = tids(3);
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 3);
}

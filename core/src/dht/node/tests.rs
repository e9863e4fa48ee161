//! Protocol tests of the node: one node, datagrams written by hand.

use core::net::{SocketAddr, SocketAddrV4};
use core::time::Duration;

use proptest::prelude::*;

use super::{Config, DhtEvent, DhtNode};
use crate::dht::krpc::{
    Body, Message, NodeId, NodeInfo, Query, Response, TransactionId, METHOD_UNKNOWN, PROTOCOL_ERROR,
};
use crate::id::InfoHash;
use crate::rng::Rng;
use crate::time::Time;

const HASH: InfoHash = InfoHash([7; 20]);

fn node(config: Config) -> DhtNode {
    DhtNode::new(NodeId([1; 20]), config, Rng::new(9), Time::ZERO)
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Sends `q` from `from` and returns the node's reply.
fn ask(n: &mut DhtNode, now: Time, from: SocketAddr, q: Query) -> Message {
    let msg = Message::query(TransactionId::from_u16(0x6161), q);
    n.handle_datagram(now, from, &msg.to_bytes());
    // Skip the pings the routing table asked for; the reply is the one
    // datagram that is not a query.
    let reply = core::iter::from_fn(|| n.poll_transmit())
        .map(|(to, bytes)| (to, Message::decode(&bytes).unwrap()))
        .find(|(_, m)| !matches!(m.body, Body::Query(_)))
        .expect("a reply");
    assert_eq!(reply.0, from);
    assert_eq!(reply.1.transaction.as_bytes(), b"aa");
    reply.1
}

fn response(m: Message) -> Response {
    match m.body {
        Body::Response(r) => r,
        other => panic!("not a response: {other:?}"),
    }
}

fn error_code(m: Message) -> i64 {
    match m.body {
        Body::Error { code, .. } => code,
        other => panic!("not an error: {other:?}"),
    }
}

fn token(n: &mut DhtNode, now: Time, from: SocketAddr) -> Vec<u8> {
    let q = Query::GetPeers {
        id: NodeId([2; 20]),
        info_hash: HASH,
    };
    response(ask(n, now, from, q)).token.expect("a token")
}

fn announce(port: u16, implied: bool, token: Vec<u8>) -> Query {
    Query::AnnouncePeer {
        id: NodeId([2; 20]),
        info_hash: HASH,
        port,
        implied_port: implied,
        token,
    }
}

#[test]
fn ping_is_answered_and_the_sender_enters_the_table() {
    let mut n = node(Config::default());
    let from = sa("203.0.113.1:4000");
    let r = ask(
        &mut n,
        Time::ZERO,
        from,
        Query::Ping {
            id: NodeId([2; 20]),
        },
    );
    assert_eq!(r.requester, Some(from));
    assert_eq!(response(r).id, NodeId([1; 20]));
    assert_eq!(n.routing_table().len(), 1);
}

#[test]
fn a_node_added_by_address_joins_the_table_once_it_answers_our_ping() {
    let mut n = node(Config::default());
    let addr = sa("203.0.113.9:6881");
    assert!(n.add_node(Time::ZERO, addr));
    assert!(!n.add_node(Time::ZERO, sa("203.0.113.9:0")));
    let (to, bytes) = n.poll_transmit().expect("a ping");
    assert_eq!(to, addr);
    let ping = Message::decode(&bytes).unwrap();
    assert!(matches!(ping.body, Body::Query(Query::Ping { .. })));
    assert_eq!(n.routing_table().len(), 0, "not before it answers");
    let reply = Message::response(ping.transaction, Response::new(NodeId([5; 20])));
    // From another port: not the node we asked.
    n.handle_datagram(Time::ZERO, sa("203.0.113.9:6882"), &reply.to_bytes());
    assert_eq!(n.routing_table().len(), 0);
    n.handle_datagram(Time::ZERO, addr, &reply.to_bytes());
    assert_eq!(n.routing_table().len(), 1);
}

#[test]
fn find_node_returns_known_nodes_but_not_the_asker() {
    let mut n = node(Config::default());
    for i in 1..=12u8 {
        let from = sa(&format!("203.0.113.{i}:4000"));
        ask(
            &mut n,
            Time::ZERO,
            from,
            Query::Ping {
                id: NodeId([i + 1; 20]),
            },
        );
    }
    let q = Query::FindNode {
        id: NodeId([2; 20]),
        target: NodeId([0; 20]),
    };
    let r = response(ask(&mut n, Time::ZERO, sa("203.0.113.1:4000"), q));
    assert_eq!(r.nodes.len(), 8);
    assert!(r.nodes.iter().all(|x| x.id != NodeId([2; 20])));
}

#[test]
fn token_works_from_the_same_ip_only() {
    let mut n = node(Config::default());
    let now = Time::ZERO;
    let a = sa("203.0.113.1:4000");
    let t = token(&mut n, now, a);
    // Another IP presenting it is refused.
    let r = ask(
        &mut n,
        now,
        sa("203.0.113.2:4000"),
        announce(7000, false, t.clone()),
    );
    assert_eq!(error_code(r), PROTOCOL_ERROR);
    assert_eq!(n.stored_peers(), 0);
    // The same IP, another port: accepted.
    response(ask(
        &mut n,
        now,
        sa("203.0.113.1:5000"),
        announce(7000, false, t.clone()),
    ));
    // implied_port stores the source port instead.
    response(ask(&mut n, now, a, announce(1, true, t.clone())));
    assert_eq!(n.stored_peers(), 2);
    let r = response(ask(
        &mut n,
        now,
        sa("198.51.100.9:1"),
        Query::GetPeers {
            id: NodeId([3; 20]),
            info_hash: HASH,
        },
    ));
    let mut values = r.values;
    values.sort();
    assert_eq!(values, vec![sa("203.0.113.1:4000"), sa("203.0.113.1:7000")]);
    assert!(r.nodes.is_empty());
    // A token a quarter of an hour old no longer works.
    let later = now + Duration::from_secs(15 * 60);
    n.handle_timeout(now + Duration::from_secs(6 * 60));
    n.handle_timeout(later);
    let r = ask(&mut n, later, a, announce(7001, false, t));
    assert_eq!(error_code(r), PROTOCOL_ERROR);
}

#[test]
fn unknown_method_is_204_and_malformed_query_203() {
    let mut n = node(Config::default());
    let q = Query::Unknown {
        id: NodeId([2; 20]),
        method: b"vote".to_vec(),
    };
    assert_eq!(
        error_code(ask(&mut n, Time::ZERO, sa("203.0.113.1:1"), q)),
        METHOD_UNKNOWN
    );
    let bad = b"d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe";
    n.handle_datagram(Time::ZERO, sa("203.0.113.1:1"), bad);
    let (_, bytes) = n.poll_transmit().unwrap();
    let reply = Message::decode(&bytes).unwrap();
    assert_eq!(reply.transaction.as_bytes(), b"aa");
    assert_eq!(error_code(reply), PROTOCOL_ERROR);
    // Garbage that is not a query gets nothing.
    n.handle_datagram(Time::ZERO, sa("203.0.113.1:1"), b"hello");
    assert!(n.poll_transmit().is_none());
}

#[test]
fn storage_is_bounded_and_expires() {
    let config = Config {
        max_peers_per_info_hash: 3,
        max_peers: 4,
        max_info_hashes: 2,
        ..Config::default()
    };
    let mut n = node(config);
    let now = Time::ZERO;
    for i in 1..=10u8 {
        let from = sa(&format!("203.0.113.{i}:4000"));
        let t = token(&mut n, now, from);
        for hash in [HASH, InfoHash([8; 20]), InfoHash([9; 20])] {
            let q = Query::AnnouncePeer {
                id: NodeId([2; 20]),
                info_hash: hash,
                port: 7000,
                implied_port: false,
                token: t.clone(),
            };
            ask(&mut n, now, from, q);
        }
        assert!(n.stored_peers() <= 4 && n.stored_info_hashes() <= 2);
    }
    assert_eq!(n.stored_peers(), 4);
    let later = now + Duration::from_secs(31 * 60);
    n.handle_timeout(later);
    assert_eq!(n.stored_peers(), 0);
    let r = response(ask(
        &mut n,
        later,
        sa("198.51.100.9:1"),
        Query::GetPeers {
            id: NodeId([3; 20]),
            info_hash: HASH,
        },
    ));
    assert!(r.values.is_empty());
}

#[test]
fn a_query_flood_stays_bounded() {
    let config = Config {
        max_queued: 64,
        max_in_flight: 16,
        ..Config::default()
    };
    let mut n = node(config);
    let mut rng = Rng::new(1);
    for i in 0..20_000u32 {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
        let from = SocketAddr::from(([100, 64, (i >> 8) as u8, i as u8], 1000 + (i % 50) as u16));
        let q = if i % 2 == 0 {
            Query::Ping { id: NodeId(id) }
        } else {
            Query::GetPeers {
                id: NodeId(id),
                info_hash: InfoHash(id),
            }
        };
        let msg = Message::query(TransactionId::from_u16(i as u16), q);
        n.handle_datagram(Time::from_millis(u64::from(i)), from, &msg.to_bytes());
        assert!(n.queued_transmits() <= 64);
        assert!(n.in_flight() <= 16);
    }
    assert!(n.routing_table().len() <= 512);
    assert_eq!(n.stored_peers(), 0);
}

#[test]
fn replies_must_come_from_the_queried_address() {
    let router = sa("203.0.113.50:6881");
    let config = Config {
        bootstrap: vec![router],
        ..Config::default()
    };
    let mut n = node(config);
    let lookup = n.bootstrap(Time::ZERO);
    let (to, bytes) = n.poll_transmit().unwrap();
    assert_eq!(to, router);
    let q = Message::decode(&bytes).unwrap();
    assert!(matches!(q.body, Body::Query(Query::FindNode { .. })));
    let reply = Message::response(q.transaction, Response::new(NodeId([5; 20])));
    // From elsewhere, or with another transaction: ignored.
    n.handle_datagram(Time::ZERO, sa("203.0.113.51:6881"), &reply.to_bytes());
    let other = Message::response(TransactionId::from_u16(1), Response::new(NodeId([5; 20])));
    n.handle_datagram(Time::ZERO, router, &other.to_bytes());
    assert_eq!(n.in_flight(), 1);
    assert!(n.poll_event().is_none());
    // From the router: the lookup ends (the router knew nobody else).
    n.handle_datagram(Time::ZERO, router, &reply.to_bytes());
    assert_eq!(n.in_flight(), 0);
    assert_eq!(n.routing_table().len(), 1);
    match n.poll_event() {
        Some(DhtEvent::LookupDone {
            lookup: l,
            queried: 1,
            responded: 1,
            rounds: 1,
            ..
        }) => assert_eq!(l, lookup),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unanswered_queries_time_out_and_the_lookup_ends() {
    let config = Config {
        bootstrap: vec![sa("203.0.113.50:6881")],
        ..Config::default()
    };
    let mut n = node(config);
    let lookup = n.get_peers(Time::ZERO, HASH);
    assert!(n.poll_transmit().is_some());
    let deadline = n.poll_timeout().unwrap();
    assert_eq!(deadline, Time::from_millis(3000));
    n.handle_timeout(deadline);
    assert_eq!(n.in_flight(), 0);
    assert_eq!(n.active_lookups(), 0);
    assert!(matches!(
        n.poll_event(),
        Some(DhtEvent::LookupDone { lookup: l, responded: 0, .. }) if l == lookup
    ));
    // Announcing with nobody to ask settles at once.
    let a = n.announce(deadline, HASH, 7000, false);
    n.handle_timeout(deadline + Duration::from_secs(3));
    let events: Vec<_> = core::iter::from_fn(|| n.poll_event()).collect();
    assert!(events.contains(&DhtEvent::Announced {
        lookup: a,
        info_hash: HASH,
        stored: 0,
        tried: 0
    }));
}

/// Regression, found by the DHT simulator (`tests/tests/sim_dht.rs`): a
/// node that had just joined knew its neighbourhood but only one or two
/// nodes of the far half of the id space, and some of its lookups there
/// missed an announce. When the bootstrap ends, the far bucket is looked up.
#[test]
fn joining_fills_the_far_bucket_the_own_id_lookup_passed_by() {
    let router = sa("203.0.113.50:6881");
    let mut n = node(Config {
        bootstrap: vec![router],
        ..Config::default()
    });
    let own = n.own_id();
    let join = n.bootstrap(Time::ZERO);
    // The router, in the far half, names nine nodes sharing two to five
    // leading bits with us (our id starts with 0x01).
    let near: Vec<NodeInfo<SocketAddrV4>> = [0x20, 0x24, 0x28, 0x30, 0x10, 0x14, 0x08, 0x0c, 0x04]
        .iter()
        .enumerate()
        .map(|(i, &first)| {
            let mut id = [0x33; 20];
            id[0] = first;
            let addr = format!("198.51.100.{}:6881", i + 1).parse().unwrap();
            NodeInfo {
                id: NodeId(id),
                addr,
            }
        })
        .collect();
    let mut done = false;
    let mut far_targets = 0;
    for _ in 0..100 {
        let Some((to, bytes)) = n.poll_transmit() else {
            break;
        };
        let q = Message::decode(&bytes).unwrap();
        let Body::Query(Query::FindNode { target, .. }) = q.body else {
            continue;
        };
        if !done {
            assert_eq!(target, own, "the join looks up our own id first");
        } else {
            assert_eq!(own.common_prefix_len(&target), 0, "{target:?}");
            far_targets += 1;
            continue;
        }
        let r = if to == router {
            let mut r = Response::new(NodeId([0x80; 20]));
            r.nodes = near.clone();
            r
        } else {
            let who = near.iter().find(|x| SocketAddr::V4(x.addr) == to).unwrap();
            Response::new(who.id)
        };
        n.handle_datagram(
            Time::ZERO,
            to,
            &Message::response(q.transaction, r).to_bytes(),
        );
        while let Some(e) = n.poll_event() {
            assert!(matches!(e, DhtEvent::LookupDone { lookup, .. } if lookup == join));
            done = true;
        }
    }
    assert!(done, "the join ended");
    assert!(far_targets > 0, "the far bucket was looked up");
    // The fill lookup is the node's own business: no event when it ends.
    n.handle_timeout(Time::from_millis(3000));
    assert!(n.poll_event().is_none());
}

#[test]
fn a_read_only_node_answers_nothing() {
    let mut n = node(Config {
        read_only: true,
        ..Config::default()
    });
    let msg = Message::query(
        TransactionId::from_u16(1),
        Query::Ping {
            id: NodeId([2; 20]),
        },
    );
    n.handle_datagram(Time::ZERO, sa("203.0.113.1:1"), &msg.to_bytes());
    assert!(n.poll_transmit().is_none());
    assert!(n.routing_table().is_empty());
}

proptest! {
    #[test]
    fn arbitrary_datagrams_never_panic(
        datagrams in proptest::collection::vec(
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..200)),
            0..20,
        )
    ) {
        let router = sa("203.0.113.50:6881");
        let mut n = node(Config { bootstrap: vec![router], ..Config::default() });
        n.bootstrap(Time::ZERO);
        n.get_peers(Time::ZERO, HASH);
        let mut now = Time::ZERO;
        for (sel, bytes) in datagrams {
            let from = if sel & 1 == 0 { router } else { sa("198.51.100.1:1") };
            n.handle_datagram(now, from, &bytes);
            now += Duration::from_millis(u64::from(sel) * 20);
            n.handle_timeout(now);
            while n.poll_transmit().is_some() {}
            while n.poll_event().is_some() {}
        }
    }
}

use super::*;
use crate::rng::Rng;
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

const OWN: NodeId = NodeId([0; 20]);

fn mins(m: u64) -> Duration {
    Duration::from_secs(60 * m)
}

/// An id sharing exactly `prefix` leading bits with `own`; the other bits
/// come from `noise`.
fn id_at(own: &NodeId, prefix: u32, noise: [u8; 20]) -> NodeId {
    let mut id = noise;
    for bit in 0..prefix.min(160) as usize {
        let (byte, mask) = (bit / 8, 0x80u8 >> (bit % 8));
        id[byte] = (id[byte] & !mask) | (own.0[byte] & mask);
    }
    if prefix < 160 {
        let bit = prefix as usize;
        let (byte, mask) = (bit / 8, 0x80u8 >> (bit % 8));
        id[byte] = (id[byte] & !mask) | (!own.0[byte] & mask);
    }
    NodeId(id)
}

/// Distinct public addresses.
fn public(n: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + n)), 6881)
}

fn node(prefix: u32, n: u8) -> NodeInfo<SocketAddr> {
    NodeInfo {
        id: id_at(&OWN, prefix, [n; 20]),
        addr: public(prefix * 256 + u32::from(n)),
    }
}

fn table() -> RoutingTable {
    RoutingTable::new(OWN, Config::default())
}

/// Checks every structural promise of the table.
fn check_invariants(t: &RoutingTable) {
    assert!(!t.buckets.is_empty() && t.buckets.len() <= MAX_BUCKETS);
    assert!(t.len <= t.config.max_nodes);
    let mut count = 0;
    let mut ids = std::collections::BTreeSet::new();
    let mut ips = BTreeMap::new();
    for (i, b) in t.buckets.iter().enumerate() {
        assert!(b.nodes.len() <= K, "bucket {i} has {}", b.nodes.len());
        assert!(b.replacements.len() <= t.config.replacements.min(MAX_REPLACEMENTS));
        for n in b.nodes.iter().chain(&b.replacements) {
            assert_ne!(n.info.id, t.own_id);
            assert_eq!(t.bucket_of(&n.info.id), i);
        }
        for n in &b.nodes {
            assert!(ids.insert(n.info.id), "duplicate {:?}", n.info.id);
            let ip = n.info.addr.ip().to_canonical();
            if t.restricted(ip) {
                assert!(ips.insert(ip, n.info.id).is_none(), "ip {ip} twice");
            }
        }
        for r in &b.replacements {
            assert!(!ids.contains(&r.info.id) || b.nodes.iter().all(|n| n.info.id != r.info.id));
        }
        count += b.nodes.len();
    }
    assert_eq!(count, t.len);
    assert_eq!(ips, t.ips);
}

#[test]
fn own_id_and_bad_addresses_are_refused() {
    let mut t = table();
    let me = NodeInfo {
        id: OWN,
        addr: public(1),
    };
    assert_eq!(
        t.heard_response(me, Time::ZERO),
        Insert::Rejected(Reject::OwnId)
    );
    for addr in [
        "1.2.3.4:0",
        "0.0.0.0:1",
        "224.0.0.1:1",
        "255.255.255.255:1",
        "[ff02::1]:1",
        "[::]:1",
    ] {
        let n = NodeInfo {
            id: NodeId([9; 20]),
            addr: addr.parse().unwrap(),
        };
        assert_eq!(
            t.add_contact(n, Time::ZERO),
            Insert::Rejected(Reject::BadAddress),
            "{addr}"
        );
    }
    assert!(t.is_empty());
    check_invariants(&t);
}

#[test]
fn full_far_bucket_of_good_nodes_keeps_newcomers_waiting() {
    let mut t = table();
    for n in 0..8 {
        assert_eq!(t.heard_response(node(0, n), Time::ZERO), Insert::Added);
    }
    assert_eq!(t.len(), 8);
    assert_eq!(t.bucket_count(), 1);
    // The ninth far node splits the only bucket, but lands in the far half
    // again, which is full of good nodes.
    let ninth = node(0, 8);
    assert_eq!(
        t.heard_response(ninth, Time::ZERO),
        Insert::Pending {
            cached: true,
            ping: vec![]
        }
    );
    assert_eq!(t.bucket_count(), 2);
    // Near nodes fill the bucket holding our id, splitting as they come.
    for prefix in 1..5 {
        for n in 0..8 {
            assert_eq!(t.add_contact(node(prefix, n), Time::ZERO), Insert::Added);
        }
    }
    assert_eq!(t.len(), 40);
    assert_eq!(t.bucket_count(), 5);
    check_invariants(&t);
    // Re-hearing a node updates it.
    assert_eq!(t.heard_query(node(0, 3), Time::ZERO), Insert::Updated);
}

#[test]
fn bad_nodes_are_replaced_first() {
    let mut t = table();
    for n in 0..8 {
        t.heard_response(node(0, n), Time::ZERO);
    }
    t.heard_response(node(1, 0), Time::ZERO);
    let victim = node(0, 5);
    assert_eq!(t.query_failed(&victim.id, Time::ZERO), None);
    assert_eq!(
        t.get(&victim.id).unwrap().state(Time::ZERO),
        NodeState::Questionable
    );
    assert_eq!(t.query_failed(&victim.id, Time::ZERO), None);
    assert_eq!(t.get(&victim.id).unwrap().state(Time::ZERO), NodeState::Bad);
    // Bad nodes are left out of lookups...
    assert!(t.closest(&victim.id, 100).iter().all(|n| n.id != victim.id));
    // ...and give way to the next node.
    let newcomer = node(0, 9);
    assert_eq!(
        t.add_contact(newcomer, Time::ZERO),
        Insert::Replaced(victim)
    );
    assert!(t.get(&victim.id).is_none());
    assert!(t.get(&newcomer.id).is_some());
    check_invariants(&t);
}

#[test]
fn failures_promote_the_best_replacement() {
    let mut t = table();
    for n in 0..8 {
        t.heard_response(node(0, n), Time::ZERO);
    }
    t.heard_response(node(1, 0), Time::ZERO);
    let heard_of = node(0, 20);
    let verified = node(0, 21);
    assert!(matches!(
        t.add_contact(heard_of, Time::ZERO),
        Insert::Pending { cached: true, .. }
    ));
    assert!(matches!(
        t.heard_response(verified, Time::ZERO),
        Insert::Pending { cached: true, .. }
    ));
    let victim = node(0, 2).id;
    t.query_failed(&victim, Time::ZERO);
    assert_eq!(
        t.query_failed(&victim, Time::from_millis(5)),
        Some(verified)
    );
    assert_eq!(
        t.get(&verified.id).unwrap().state(Time::ZERO),
        NodeState::Good
    );
    // A replacement that fails is forgotten.
    assert_eq!(t.query_failed(&heard_of.id, Time::ZERO), None);
    let victim = node(0, 3).id;
    t.query_failed(&victim, Time::ZERO);
    assert_eq!(t.query_failed(&victim, Time::ZERO), None);
    assert_eq!(t.get(&victim).unwrap().state(Time::ZERO), NodeState::Bad);
    check_invariants(&t);
}

#[test]
fn questionable_nodes_are_pinged_least_recently_seen_first() {
    let mut t = table();
    for n in 0..8 {
        t.add_contact(
            node(0, n),
            Time::ZERO + Duration::from_secs(u64::from(8 - n)),
        );
    }
    t.add_contact(node(1, 0), Time::ZERO);
    let now = Time::ZERO + mins(1);
    let Insert::Pending { cached, ping } = t.add_contact(node(0, 30), now) else {
        panic!("expected pending");
    };
    assert!(cached);
    let expected: Vec<_> = (0..8).rev().map(|n| node(0, n)).collect();
    assert_eq!(ping, expected);
    // Not again until the backoff passes or an outcome arrives.
    let again = t.add_contact(node(0, 31), now);
    assert_eq!(
        again,
        Insert::Pending {
            cached: true,
            ping: vec![]
        }
    );
    t.query_failed(&node(0, 4).id, now);
    t.heard_response(node(0, 5), now);
    let Insert::Pending { ping, .. } = t.add_contact(node(0, 32), now) else {
        panic!("expected pending");
    };
    assert_eq!(ping, vec![node(0, 4)]);
    let Insert::Pending { ping, .. } = t.add_contact(node(0, 33), now + PING_BACKOFF) else {
        panic!("expected pending");
    };
    assert_eq!(ping.len(), 7);
    check_invariants(&t);
}

#[test]
fn node_states_follow_the_fifteen_minute_rules() {
    let mut t = table();
    let n = node(0, 1);
    t.add_contact(n, Time::ZERO);
    assert_eq!(
        t.get(&n.id).unwrap().state(Time::ZERO),
        NodeState::Questionable
    );
    // A query alone does not make a node good.
    t.heard_query(n, Time::ZERO);
    assert_eq!(
        t.get(&n.id).unwrap().state(Time::ZERO),
        NodeState::Questionable
    );
    t.heard_response(n, Time::ZERO);
    let at = |m| Time::ZERO + mins(m);
    assert_eq!(t.get(&n.id).unwrap().state(at(14)), NodeState::Good);
    assert_eq!(t.get(&n.id).unwrap().state(at(15)), NodeState::Questionable);
    // Having answered once, a query keeps it good.
    t.heard_query(n, at(20));
    assert_eq!(t.get(&n.id).unwrap().state(at(34)), NodeState::Good);
    assert_eq!(t.closest_good(&n.id, 8, at(34)), vec![n]);
    assert!(t.closest_good(&n.id, 8, at(35)).is_empty());
    assert_eq!(t.closest(&n.id, 8), vec![n]);
}

#[test]
fn one_node_per_public_address() {
    let mut t = table();
    let a = NodeInfo {
        id: NodeId([0x81; 20]),
        addr: "198.51.100.1:1000".parse().unwrap(),
    };
    let b = NodeInfo {
        id: NodeId([0x82; 20]),
        addr: "198.51.100.1:2000".parse().unwrap(),
    };
    let b_mapped = NodeInfo {
        addr: "[::ffff:198.51.100.1]:2000".parse().unwrap(),
        ..b
    };
    assert_eq!(t.add_contact(a, Time::ZERO), Insert::Added);
    assert_eq!(
        t.add_contact(b, Time::ZERO),
        Insert::Rejected(Reject::IpTaken)
    );
    assert_eq!(
        t.add_contact(b_mapped, Time::ZERO),
        Insert::Rejected(Reject::IpTaken)
    );
    // Local addresses are exempt.
    for (i, port) in (1..20).enumerate() {
        let local = NodeInfo {
            id: NodeId([0x40 + i as u8; 20]),
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        };
        assert!(matches!(
            t.add_contact(local, Time::ZERO),
            Insert::Added | Insert::Pending { .. }
        ));
    }
    // Once the entry leaves, the address is free.
    assert!(t.remove(&a.id).is_some());
    assert_eq!(t.add_contact(b, Time::ZERO), Insert::Added);
    check_invariants(&t);

    let mut free = RoutingTable::new(
        OWN,
        Config {
            one_node_per_ip: false,
            ..Config::default()
        },
    );
    assert_eq!(free.add_contact(a, Time::ZERO), Insert::Added);
    assert_eq!(free.add_contact(b, Time::ZERO), Insert::Added);
    check_invariants(&free);
}

#[test]
fn ids_move_only_after_the_old_address_fails() {
    let mut t = table();
    let a = node(0, 1);
    let moved = NodeInfo {
        addr: public(9999),
        ..a
    };
    t.heard_response(a, Time::ZERO);
    assert_eq!(
        t.add_contact(moved, Time::ZERO),
        Insert::Rejected(Reject::IdConflict)
    );
    assert_eq!(
        t.heard_query(moved, Time::ZERO),
        Insert::Rejected(Reject::IdConflict)
    );
    assert_eq!(
        t.heard_response(moved, Time::ZERO),
        Insert::Rejected(Reject::IdConflict)
    );
    t.query_failed(&a.id, Time::ZERO);
    assert_eq!(t.heard_response(moved, Time::ZERO), Insert::Updated);
    assert_eq!(t.get(&a.id).unwrap().info, moved);
    assert_eq!(t.get(&a.id).unwrap().failures, 0);
    // The old address is free again.
    let other = NodeInfo {
        id: NodeId([0x99; 20]),
        addr: a.addr,
    };
    assert_eq!(t.add_contact(other, Time::ZERO), Insert::Added);
    check_invariants(&t);
}

#[test]
fn bep42_enforcement_is_optional() {
    let strict = Config {
        enforce_bep42: true,
        ..Config::default()
    };
    let mut t = RoutingTable::new(OWN, strict);
    let ip: IpAddr = "124.31.75.21".parse().unwrap();
    let mut rng = Rng::new(5);
    let good = NodeInfo {
        id: bep42::generate_node_id(ip, &mut rng),
        addr: SocketAddr::new(ip, 1),
    };
    let bad = NodeInfo {
        id: NodeId([0x77; 20]),
        addr: "124.31.75.22:1".parse().unwrap(),
    };
    let local = NodeInfo {
        id: NodeId([0x78; 20]),
        addr: "192.168.1.2:1".parse().unwrap(),
    };
    assert_eq!(
        t.add_contact(bad, Time::ZERO),
        Insert::Rejected(Reject::Bep42)
    );
    assert_eq!(t.add_contact(good, Time::ZERO), Insert::Added);
    assert_eq!(t.add_contact(local, Time::ZERO), Insert::Added);
    assert_eq!(table().add_contact(bad, Time::ZERO), Insert::Added);
}

#[test]
fn closest_is_sorted_and_skips_nothing_closer() {
    let mut t = table();
    for prefix in 0..12 {
        for n in 0..8 {
            t.add_contact(node(prefix, n), Time::ZERO);
        }
    }
    let target = NodeId([0x0f; 20]);
    let all = t.closest(&target, usize::MAX);
    assert_eq!(all.len(), t.len());
    let best = t.closest(&target, 8);
    assert_eq!(best[..], all[..8]);
    assert!(best
        .windows(2)
        .all(|w| target.distance(&w[0].id) < target.distance(&w[1].id)));
    assert!(t.closest(&target, 0).is_empty());
}

#[test]
fn refresh_targets_fall_in_their_buckets() {
    let mut t = RoutingTable::new_at(NodeId([0x5a; 20]), Config::default(), Time::ZERO);
    let own = t.own_id();
    for prefix in 0..6 {
        for n in 0..8 {
            let info = NodeInfo {
                id: id_at(&own, prefix, [n; 20]),
                addr: public(prefix * 100 + u32::from(n)),
            };
            t.add_contact(info, Time::ZERO);
        }
    }
    let buckets = t.bucket_count();
    assert_eq!(buckets, 6);
    let mut rng = Rng::new(3);
    assert!(t
        .buckets_needing_refresh(Time::ZERO + mins(14), &mut rng)
        .is_empty());
    assert_eq!(t.next_refresh(), Time::ZERO + mins(15));
    let targets = t.buckets_needing_refresh(Time::ZERO + mins(15), &mut rng);
    assert_eq!(targets.len(), buckets);
    for (i, target) in targets.iter().enumerate() {
        assert_eq!(t.bucket_of(target), i, "{target:?}");
    }
    assert!(t
        .buckets_needing_refresh(Time::ZERO + mins(16), &mut rng)
        .is_empty());
    // A response changes its bucket; the others come due again.
    t.heard_response(
        NodeInfo {
            id: id_at(&own, 0, [0; 20]),
            addr: public(0),
        },
        Time::ZERO + mins(20),
    );
    let due = t.buckets_needing_refresh(Time::ZERO + mins(30), &mut rng);
    assert_eq!(due.len(), buckets - 1);
}

/// Regression, found by the DHT simulator (`tests/tests/sim_dht.rs`): right
/// after joining, the far buckets held one or two nodes and some lookups
/// missed an announce. The buckets that could be full but are not are
/// handed out for lookups; those deeper than the neighbourhood are not.
#[test]
fn sparse_buckets_are_those_the_network_could_fill() {
    let mut t = RoutingTable::new_at(NodeId([0x5a; 20]), Config::default(), Time::ZERO);
    let own = t.own_id();
    // Per shared prefix length: how many nodes. The eight sharing six bits
    // are our neighbourhood.
    let plan = [(0, 8), (1, 2), (2, 8), (3, 8), (4, 1), (6, 8)];
    for (prefix, count) in plan {
        for n in 0..count {
            let info = NodeInfo {
                id: id_at(&own, prefix, [n; 20]),
                addr: public(prefix * 100 + u32::from(n)),
            };
            t.add_contact(info, Time::ZERO);
        }
    }
    check_invariants(&t);
    let sizes: Vec<usize> = t.buckets.iter().map(|b| b.nodes.len()).collect();
    assert_eq!(sizes, [8, 2, 8, 8, 1, 8]);
    let mut rng = Rng::new(4);
    let targets = t.sparse_buckets(Time::ZERO + mins(1), &mut rng);
    let buckets: Vec<usize> = targets.iter().map(|id| t.bucket_of(id)).collect();
    assert_eq!(buckets, [1, 4]);
    // They count as refreshed.
    let due = t.buckets_needing_refresh(Time::ZERO + mins(15), &mut rng);
    assert_eq!(due.len(), sizes.len() - 2);
    // A table of our neighbourhood alone has nothing to fill.
    let mut near = RoutingTable::new_at(own, Config::default(), Time::ZERO);
    for n in 0..5 {
        near.add_contact(node_near(&own, n), Time::ZERO);
    }
    assert!(near.sparse_buckets(Time::ZERO, &mut rng).is_empty());
}

fn node_near(own: &NodeId, n: u8) -> NodeInfo<SocketAddr> {
    NodeInfo {
        id: id_at(own, 40, [n; 20]),
        addr: public(9000 + u32::from(n)),
    }
}

#[test]
fn the_table_stops_at_its_cap_and_its_depth() {
    let cap = Config {
        max_nodes: 10,
        ..Config::default()
    };
    let mut t = RoutingTable::new(OWN, cap);
    for prefix in 0..4 {
        for n in 0..8 {
            t.heard_response(node(prefix, n), Time::ZERO);
        }
    }
    assert_eq!(t.len(), 10);
    check_invariants(&t);
    // Ids as close to ours as ids get: at most 160 buckets.
    let mut deep = table();
    for prefix in 0..160 {
        for n in 0..3 {
            deep.add_contact(node(prefix, n), Time::ZERO);
        }
    }
    assert!((150..=160).contains(&deep.bucket_count()));
    check_invariants(&deep);
    assert!(deep.len() <= deep.config().max_nodes);
}

#[test]
fn save_and_load() {
    let mut t = table();
    for prefix in 0..5 {
        for n in 0..8 {
            t.add_contact(node(prefix, n), Time::ZERO);
        }
    }
    let v6 = NodeInfo {
        id: id_at(&OWN, 6, [1; 20]),
        addr: SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            6881,
        ),
    };
    t.add_contact(v6, Time::ZERO);
    let dead = node(0, 0).id;
    t.query_failed(&dead, Time::ZERO);
    t.query_failed(&dead, Time::ZERO);
    let bytes = t.to_bytes();
    assert_eq!(&bytes[..5], b"SLRT\x01");
    let loaded = RoutingTable::from_bytes(&bytes, Config::default(), Time::ZERO).unwrap();
    check_invariants(&loaded);
    assert_eq!(loaded.len(), t.len() - 1);
    assert!(loaded.get(&dead).is_none());
    assert_eq!(loaded.get(&v6.id).unwrap().info, v6);
    assert_eq!(
        loaded.get(&v6.id).unwrap().state(Time::ZERO),
        NodeState::Questionable
    );
    assert_eq!(loaded.to_bytes(), bytes);

    let load = |b: &[u8]| RoutingTable::from_bytes(b, Config::default(), Time::ZERO).err();
    for cut in 0..bytes.len() {
        assert_eq!(
            load(&bytes[..cut]),
            Some(LoadError::Truncated),
            "cut at {cut}"
        );
    }
    assert_eq!(load(b"XLRT"), Some(LoadError::BadMagic));
    assert_eq!(load(b"X"), Some(LoadError::BadMagic));
    let mut v2 = bytes.clone();
    v2[4] = 2;
    assert_eq!(load(&v2), Some(LoadError::UnsupportedVersion(2)));
    let mut fam = bytes.clone();
    fam[27] = 5;
    assert_eq!(load(&fam), Some(LoadError::BadFamily(5)));
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(load(&long), Some(LoadError::TrailingBytes));
    assert!(!LoadError::TrailingBytes.to_string().is_empty());
}

/// One thing that can happen to a table.
#[derive(Clone, Debug)]
enum Op {
    Response(u32, [u8; 20], u8),
    Query(u32, [u8; 20], u8),
    Contact(u32, [u8; 20], u8),
    Fail(usize),
    Remove(usize),
    Advance(u16),
    Refresh,
}

fn op() -> impl Strategy<Value = Op> {
    // Prefixes are skewed to the deep buckets, and addresses come from a
    // small pool so that they clash; ids too, through small noise.
    let prefix = prop_oneof![0u32..8, 0u32..161];
    let noise = prop_oneof![any::<[u8; 20]>(), (0u8..4).prop_map(|b| [b; 20])];
    prop_oneof![
        (prefix.clone(), noise.clone(), any::<u8>()).prop_map(|(p, n, a)| Op::Response(p, n, a)),
        (prefix.clone(), noise.clone(), any::<u8>()).prop_map(|(p, n, a)| Op::Query(p, n, a)),
        (prefix, noise, any::<u8>()).prop_map(|(p, n, a)| Op::Contact(p, n, a)),
        any::<usize>().prop_map(Op::Fail),
        any::<usize>().prop_map(Op::Remove),
        any::<u16>().prop_map(Op::Advance),
        Just(Op::Refresh),
    ]
}

fn addr_of(a: u8) -> SocketAddr {
    match a % 4 {
        0 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 1000 + u16::from(a)),
        1 => SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(a))),
            1,
        ),
        _ => SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, a % 64)),
            1 + u16::from(a),
        ),
    }
}

fn config() -> impl Strategy<Value = Config> {
    (1usize..60, 0usize..20, any::<bool>(), any::<bool>()).prop_map(
        |(max_nodes, replacements, enforce_bep42, one_node_per_ip)| Config {
            max_nodes,
            replacements,
            enforce_bep42,
            one_node_per_ip,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn invariants_hold_after_any_history(
        own in any::<[u8; 20]>(),
        config in config(),
        ops in proptest::collection::vec(op(), 1..200),
        seed in any::<u64>(),
        target in any::<[u8; 20]>(),
    ) {
        let own = NodeId(own);
        let mut t = RoutingTable::new(own, config);
        let mut rng = Rng::new(seed);
        let mut now = Time::ZERO;
        let mut seen: Vec<NodeId> = vec![own];
        for op in ops {
            match op {
                Op::Response(p, n, a) | Op::Query(p, n, a) | Op::Contact(p, n, a) => {
                    let info = NodeInfo { id: id_at(&own, p, n), addr: addr_of(a) };
                    seen.push(info.id);
                    let result = match op {
                        Op::Response(..) => t.heard_response(info, now),
                        Op::Query(..) => t.heard_query(info, now),
                        _ => t.add_contact(info, now),
                    };
                    if info.id == own {
                        prop_assert_eq!(result, Insert::Rejected(Reject::OwnId));
                    }
                }
                Op::Fail(i) => {
                    let id = seen[i % seen.len()];
                    t.query_failed(&id, now);
                }
                Op::Remove(i) => {
                    let id = seen[i % seen.len()];
                    t.remove(&id);
                    prop_assert!(t.get(&id).is_none());
                }
                Op::Advance(secs) => now += Duration::from_secs(u64::from(secs)),
                Op::Refresh => {
                    let last = t.bucket_count() - 1;
                    let due: Vec<usize> = t.buckets.iter().enumerate()
                        .filter(|(_, b)| now.saturating_since(b.last_changed) >= REFRESH_AFTER)
                        .map(|(i, _)| i)
                        .collect();
                    let targets = t.buckets_needing_refresh(now, &mut rng);
                    prop_assert_eq!(targets.len(), due.len());
                    for (target, i) in targets.iter().zip(due) {
                        let prefix = own.common_prefix_len(target) as usize;
                        if i == last {
                            prop_assert!(prefix >= i);
                        } else {
                            prop_assert_eq!(prefix, i);
                        }
                    }
                }
            }
            check_invariants(&t);
            prop_assert!(t.get(&own).is_none());
        }
        // closest() is sorted, distinct, and excludes only bad nodes.
        let target = NodeId(target);
        let close = t.closest(&target, 20);
        prop_assert!(close.windows(2).all(|w| target.distance(&w[0].id) < target.distance(&w[1].id)));
        let usable = t.nodes().filter(|n| n.state(now) != NodeState::Bad).count();
        prop_assert_eq!(close.len(), usable.min(20));
        // A save comes back as the same nodes, minus the bad ones.
        let bytes = t.to_bytes();
        let loaded = RoutingTable::from_bytes(&bytes, config, now).unwrap();
        check_invariants(&loaded);
        let mut before: Vec<_> = t.nodes().filter(|n| !n.is_bad()).map(|n| n.info).collect();
        let mut after: Vec<_> = loaded.nodes().map(|n| n.info).collect();
        before.sort_by_key(|n| n.id);
        after.sort_by_key(|n| n.id);
        prop_assert_eq!(before, after);
        prop_assert_eq!(loaded.own_id(), own);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(t) = RoutingTable::from_bytes(&bytes, Config::default(), Time::ZERO) {
            check_invariants(&t);
        }
    }

    #[test]
    fn damaged_saves_never_panic(
        n in 0u8..40,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut t = table();
        for i in 0..n {
            t.add_contact(node(u32::from(i % 6), i), Time::ZERO);
        }
        let mut bytes = t.to_bytes();
        for (at, x) in flips {
            let len = bytes.len();
            bytes[at % len] ^= x;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        if let Ok(t) = RoutingTable::from_bytes(&bytes, Config::default(), Time::ZERO) {
            check_invariants(&t);
        }
    }
}

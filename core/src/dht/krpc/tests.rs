//! BEP 5's example packets, the decoder's refusals, and round-trip properties.

use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use proptest::prelude::*;

use super::*;

const ID_A: NodeId = NodeId(*b"abcdefghij0123456789");
const ID_M: NodeId = NodeId(*b"mnopqrstuvwxyz123456");

fn aa() -> TransactionId {
    TransactionId::new(b"aa").unwrap()
}

/// Decodes `bytes`, checks it equals `expected` and re-encodes to `bytes`.
fn check(bytes: &[u8], expected: &Message) {
    assert_eq!(&Message::decode(bytes).unwrap(), expected);
    assert_eq!(expected.to_bytes(), bytes);
}

fn kind(bytes: &[u8]) -> ErrorKind {
    Message::decode(bytes).unwrap_err().kind
}

#[test]
fn bep5_error() {
    check(
        b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
        &Message::error(aa(), GENERIC_ERROR, "A Generic Error Ocurred"),
    );
}

#[test]
fn bep5_ping() {
    check(
        b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
        &Message::query(aa(), Query::Ping { id: ID_A }),
    );
    // The same reply answers ping and announce_peer.
    check(
        b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
        &Message::response(aa(), Response::new(ID_M)),
    );
}

#[test]
fn bep5_find_node() {
    check(
        b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
        &Message::query(aa(), Query::FindNode { id: ID_A, target: ID_M }),
    );
    // The BEP's reply abbreviates its nodes to "def456...", 9 bytes: not a
    // whole number of 26-byte entries.
    assert_eq!(
        kind(b"d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re"),
        ErrorKind::BadLength {
            field: "nodes",
            len: 9
        }
    );
    // With a real entry in its place.
    let mut r = Response::new(NodeId(*b"0123456789abcdefghij"));
    r.nodes.push(NodeInfo {
        id: ID_M,
        addr: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 7), 6881),
    });
    let mut bytes = b"d1:rd2:id20:0123456789abcdefghij5:nodes26:mnopqrstuvwxyz123456".to_vec();
    bytes.extend_from_slice(&[192, 0, 2, 7, 0x1a, 0xe1]);
    bytes.extend_from_slice(b"e1:t2:aa1:y1:re");
    check(&bytes, &Message::response(aa(), r));
}

#[test]
fn bep5_get_peers() {
    check(
        b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
        &Message::query(aa(), Query::GetPeers { id: ID_A, info_hash: InfoHash(ID_M.0) }),
    );
    let mut r = Response::new(ID_A);
    r.token = Some(b"aoeusnth".to_vec());
    r.values = vec![
        SocketAddr::from(([b'a', b'x', b'j', b'e'], u16::from_be_bytes([b'.', b'u']))),
        SocketAddr::from(([b'i', b'd', b'h', b't'], u16::from_be_bytes([b'n', b'm']))),
    ];
    check(
        b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
        &Message::response(aa(), r),
    );
    assert_eq!(
        kind(b"d1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re"),
        ErrorKind::BadLength {
            field: "nodes",
            len: 9
        }
    );
}

#[test]
fn bep5_announce_peer() {
    check(
        b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
        &Message::query(
            aa(),
            Query::AnnouncePeer {
                id: ID_A,
                info_hash: InfoHash(ID_M.0),
                port: 6881,
                implied_port: true,
                token: b"aoeusnth".to_vec(),
            },
        ),
    );
    // implied_port 0 is the same as none, and is not written back.
    let m = Message::decode(b"d1:ad2:id20:abcdefghij012345678912:implied_porti0e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token0:e1:q13:announce_peer1:t2:aa1:y1:qe").unwrap();
    let Body::Query(Query::AnnouncePeer { implied_port, .. }) = &m.body else {
        panic!("{m:?}")
    };
    assert!(!implied_port);
    assert!(!m.to_bytes().windows(12).any(|w| w == b"implied_port"));
}

#[test]
fn unknown_methods_keep_the_id() {
    let m = Message::decode(b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q17:sample_infohashes1:t2:xy1:y1:qe").unwrap();
    let Body::Query(q) = &m.body else { panic!() };
    assert_eq!(q.id(), ID_A);
    assert_eq!(q.method(), b"sample_infohashes");
    assert!(matches!(q, Query::Unknown { .. }));
}

#[test]
fn extensions_version_ip_and_read_only() {
    // BEP 42's `ip` and BEP 43's `ro`, with a version and an unknown key.
    let mut bytes = b"d1:ad2:id20:abcdefghij0123456789e2:ip6:".to_vec();
    bytes.extend_from_slice(&[10, 0, 0, 1, 0x1a, 0xe1]);
    bytes.extend_from_slice(b"1:q4:ping2:roi1e1:t2:aa1:v4:SL011:y1:q1:zi7ee");
    let m = Message::decode(&bytes).unwrap();
    assert_eq!(m.requester, Some("10.0.0.1:6881".parse().unwrap()));
    assert!(m.read_only);
    assert_eq!(m.version.as_deref(), Some(&b"SL01"[..]));
    let without_z = bytes.len() - b"1:zi7ee".len();
    assert_eq!(m.to_bytes(), [&bytes[..without_z], b"e"].concat());
    // Malformed hints are dropped; the message stands.
    let m = Message::decode(
        b"d1:ad2:id20:abcdefghij0123456789e2:ip3:abc1:q4:ping2:ro2:no1:t2:aa1:y1:qe",
    )
    .unwrap();
    assert_eq!((m.requester, m.read_only), (None, false));
    // An IPv6 `ip`.
    let mut m = Message::response(aa(), Response::new(ID_M));
    m.requester = Some(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 1));
    assert_eq!(Message::decode(&m.to_bytes()).unwrap(), m);
}

#[test]
fn unsorted_keys_are_accepted() {
    let m = Message::decode(b"d1:t2:aa1:y1:q1:q4:ping1:ad2:id20:abcdefghij0123456789ee").unwrap();
    assert_eq!(m, Message::query(aa(), Query::Ping { id: ID_A }));
}

#[test]
fn refusals() {
    use ErrorKind::*;
    let ping = |t: &str, a: &str| format!("d1:a{a}1:q4:ping{t}1:y1:qe");
    let id = "d2:id20:abcdefghij0123456789e";
    assert_eq!(kind(ping("", id).as_bytes()), Missing("t"));
    assert_eq!(
        kind(ping("1:ti1e", id).as_bytes()),
        WrongType {
            field: "t",
            expected: "a byte string"
        }
    );
    assert_eq!(
        kind(ping("1:t17:aaaaaaaaaaaaaaaaa", id).as_bytes()),
        BadLength {
            field: "t",
            len: 17
        }
    );
    assert_eq!(
        kind(ping("1:t2:aa", "d2:id19:abcdefghij012345678e").as_bytes()),
        BadLength {
            field: "id",
            len: 19
        }
    );
    assert_eq!(kind(ping("1:t2:aa", "de").as_bytes()), Missing("id"));
    assert_eq!(kind(ping("1:t2:aa", "le").as_bytes()), NotDict);
    assert_eq!(kind(b"d1:t2:aa1:y1:xe"), UnknownType);
    assert_eq!(kind(b"d1:t2:aae"), Missing("y"));
    assert_eq!(kind(b"d1:t2:aa1:y1:qe"), Missing("q"));
    assert_eq!(kind(b"d1:q4:ping1:t2:aa1:y1:qe"), Missing("a"));
    assert_eq!(kind(b"d1:t2:aa1:y1:re"), Missing("r"));
    assert_eq!(kind(b"d1:t2:aa1:y1:ee"), Missing("e"));
    assert_eq!(kind(b"d1:eli201ee1:t2:aa1:y1:ee"), ShortError);
    assert_eq!(
        kind(b"d1:el3:xyz3:xyze1:t2:aa1:y1:ee"),
        WrongType {
            field: "e",
            expected: "[code, message]"
        }
    );
    assert_eq!(kind(b"li1ee"), NotDict);
    assert!(matches!(kind(b"d1:t2:aa"), Bencode(_)));
    assert_eq!(
        kind(&vec![b' '; MAX_MESSAGE_LEN + 1]),
        TooLong {
            len: MAX_MESSAGE_LEN + 1
        }
    );
    let announce = |port: &str| {
        format!("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456{port}5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe")
    };
    assert_eq!(kind(announce("4:porti65536e").as_bytes()), BadPort(65536));
    assert_eq!(kind(announce("4:porti-1e").as_bytes()), BadPort(-1));
    assert_eq!(kind(announce("").as_bytes()), Missing("port"));
    let reply = |r: &str| format!("d1:rd2:id20:abcdefghij0123456789{r}e1:t2:aa1:y1:re");
    assert_eq!(
        kind(reply("6:valuesl5:abcdee").as_bytes()),
        BadLength {
            field: "values",
            len: 5
        }
    );
    assert_eq!(
        kind(reply("6:valuesli1ee").as_bytes()),
        WrongType {
            field: "values",
            expected: "a list of byte strings"
        }
    );
    assert_eq!(
        kind(reply("6:values6:abcdef").as_bytes()),
        WrongType {
            field: "values",
            expected: "a list"
        }
    );
    assert_eq!(
        kind(reply("6:nodes626:abcdefghij0123456789abcdef").as_bytes()),
        BadLength {
            field: "nodes6",
            len: 26
        }
    );
    assert_eq!(
        kind(reply(&format!("5:token65:{}", "x".repeat(65))).as_bytes()),
        BadLength {
            field: "token",
            len: 65
        }
    );
    // The error remembers what it could for a 203 reply.
    let e = Message::decode(ping("1:t2:aa", "de").as_bytes()).unwrap_err();
    assert_eq!((e.transaction, e.query), (Some(aa()), true));
    let e = Message::decode(reply("6:valuesi1e").as_bytes()).unwrap_err();
    assert_eq!((e.transaction, e.query), (Some(aa()), false));
    assert_eq!(e.to_string(), "krpc: `values` is not a list");
}

#[test]
fn long_lists_are_cut_to_their_bounds() {
    let mut r = Response::new(ID_A);
    r.nodes = (0..MAX_NODES as u16 + 5)
        .map(|i| NodeInfo {
            id: ID_M,
            addr: SocketAddrV4::new(Ipv4Addr::LOCALHOST, i),
        })
        .collect();
    r.values = (0..MAX_VALUES as u16 + 5)
        .map(|i| SocketAddr::from((Ipv4Addr::LOCALHOST, i)))
        .collect();
    let Body::Response(got) = Message::decode(&Message::response(aa(), r.clone()).to_bytes())
        .unwrap()
        .body
    else {
        panic!()
    };
    assert_eq!(got.nodes, r.nodes[..MAX_NODES]);
    assert_eq!(got.values, r.values[..MAX_VALUES]);
}

fn arb_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 20]>().prop_map(NodeId)
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

fn arb_v4() -> impl Strategy<Value = SocketAddrV4> {
    (any::<u32>(), any::<u16>()).prop_map(|(ip, port)| SocketAddrV4::new(Ipv4Addr::from(ip), port))
}

fn arb_v6() -> impl Strategy<Value = SocketAddrV6> {
    (any::<u128>(), any::<u16>())
        .prop_map(|(ip, port)| SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0))
}

fn arb_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        arb_v4().prop_map(SocketAddr::V4),
        arb_v6().prop_map(SocketAddr::V6)
    ]
}

fn arb_query() -> impl Strategy<Value = Query> {
    let known: &[&[u8]] = &[b"ping", b"find_node", b"get_peers", b"announce_peer"];
    prop_oneof![
        arb_id().prop_map(|id| Query::Ping { id }),
        (arb_id(), arb_id()).prop_map(|(id, target)| Query::FindNode { id, target }),
        (arb_id(), any::<[u8; 20]>()).prop_map(|(id, h)| Query::GetPeers {
            id,
            info_hash: InfoHash(h)
        }),
        (
            arb_id(),
            any::<[u8; 20]>(),
            any::<u16>(),
            any::<bool>(),
            arb_bytes(MAX_TOKEN_LEN)
        )
            .prop_map(|(id, h, port, implied_port, token)| Query::AnnouncePeer {
                id,
                info_hash: InfoHash(h),
                port,
                implied_port,
                token,
            }),
        (arb_id(), arb_bytes(MAX_METHOD_LEN))
            .prop_filter("not a known method", move |(_, m)| !known.contains(&&m[..]))
            .prop_map(|(id, method)| Query::Unknown { id, method }),
    ]
}

fn arb_response() -> impl Strategy<Value = Response> {
    let node4 = (arb_id(), arb_v4()).prop_map(|(id, addr)| NodeInfo { id, addr });
    let node6 = (arb_id(), arb_v6()).prop_map(|(id, addr)| NodeInfo { id, addr });
    (
        arb_id(),
        proptest::collection::vec(node4, 0..10),
        proptest::collection::vec(node6, 0..10),
        proptest::collection::vec(arb_addr(), 0..20),
        proptest::option::of(arb_bytes(MAX_TOKEN_LEN)),
    )
        .prop_map(|(id, nodes, nodes6, values, token)| Response {
            id,
            nodes,
            nodes6,
            values,
            token,
        })
}

fn arb_message() -> impl Strategy<Value = Message> {
    let body = prop_oneof![
        arb_query().prop_map(Body::Query),
        arb_response().prop_map(Body::Response),
        (any::<i64>(), ".{0,40}").prop_map(|(code, message)| Body::Error { code, message }),
    ];
    (
        arb_bytes(MAX_TRANSACTION_LEN),
        proptest::option::of(arb_bytes(MAX_VERSION_LEN)),
        proptest::option::of(arb_addr()),
        any::<bool>(),
        body,
    )
        .prop_map(|(t, version, requester, read_only, body)| Message {
            transaction: TransactionId::new(&t).unwrap(),
            version,
            requester,
            read_only,
            body,
        })
}

proptest! {
    #[test]
    fn encode_then_decode_round_trips(m in arb_message()) {
        let bytes = m.to_bytes();
        prop_assert!(bytes.len() <= MAX_MESSAGE_LEN);
        prop_assert_eq!(Message::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in arb_bytes(512)) {
        if let Ok(m) = Message::decode(&bytes) {
            prop_assert_eq!(Message::decode(&m.to_bytes()).unwrap(), m);
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        m in arb_message(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let mut bytes = m.to_bytes();
        for (at, b) in flips {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        if let Ok(m) = Message::decode(&bytes) {
            prop_assert_eq!(Message::decode(&m.to_bytes()).unwrap(), m);
        }
    }
}

#[test]
fn error_messages_are_repaired_and_bounded() {
    let mut bytes = b"d1:eli202e3000:".to_vec();
    bytes.extend_from_slice(&[0xff; 3000]);
    bytes.extend_from_slice(b"e1:t2:aa1:y1:ee");
    let m = Message::decode(&bytes).unwrap();
    let Body::Error { code, message } = &m.body else {
        panic!()
    };
    assert_eq!(*code, SERVER_ERROR);
    assert_eq!(
        message.len(),
        MAX_ERROR_MESSAGE_LEN - MAX_ERROR_MESSAGE_LEN % 3
    );
    assert!(message.chars().all(|c| c == char::REPLACEMENT_CHARACTER));
    assert_eq!(Message::decode(&m.to_bytes()).unwrap(), m);
}

//! The DHT node fed arbitrary datagrams: it must never panic, and must keep
//! its queues and in-flight state within the configured bounds.

use core::net::SocketAddr;
use core::time::Duration;

use crate::dht::krpc::{Message, NodeId};
use crate::dht::node::{Config, DhtNode};
use crate::id::InfoHash;
use crate::rng::Rng;
use crate::time::Time;

/// Splits `data` into datagrams (a selector byte, a length byte, then the
/// bytes) and hands them to a node that is bootstrapping and looking up a
/// torrent. The selector picks the sender (one of them the router the node
/// queried), how far time moves, and whether the datagram reuses the
/// transaction id of the node's latest query so that replies get matched.
pub fn dht_node(data: &[u8]) {
    let routers: Vec<SocketAddr> = (1..=3u8)
        .map(|i| SocketAddr::from(([192, 0, 2, i], 6881)))
        .collect();
    let config = Config {
        bootstrap: routers.clone(),
        max_queued: 32,
        max_in_flight: 16,
        max_lookups: 4,
        ..Config::default()
    };
    let mut node = DhtNode::new(NodeId([0x55; 20]), config, Rng::new(1), Time::ZERO);
    let mut now = Time::ZERO;
    node.bootstrap(now);
    node.get_peers(now, InfoHash([0xaa; 20]));
    let mut last_t: Option<Vec<u8>> = None;
    let mut rest = data;
    while let [sel, len, tail @ ..] = rest {
        let take = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(take);
        rest = next;
        let from = match sel & 7 {
            0..=2 => routers[usize::from(sel & 7)],
            3 => SocketAddr::from(([198, 51, 100, sel >> 3], 1000)),
            _ => SocketAddr::from(([203, 0, 113, 9], u16::from(*sel))),
        };
        let mut datagram = bytes.to_vec();
        if sel & 0x40 != 0 {
            if let Some(t) = &last_t {
                // Splice the transaction in: "1:t4:" followed by its bytes.
                let mut framed = b"1:t".to_vec();
                framed.extend_from_slice(t.len().to_string().as_bytes());
                framed.push(b':');
                framed.extend_from_slice(t);
                if let Some(at) = find(&datagram, b"1:t2:xx") {
                    datagram.splice(at..at + 7, framed);
                }
            }
        }
        node.handle_datagram(now, from, &datagram);
        if sel & 0x80 != 0 {
            now += Duration::from_millis(u64::from(*sel) * 40);
            node.handle_timeout(now);
        }
        while let Some((_, out)) = node.poll_transmit() {
            if let Ok(msg) = Message::decode(&out) {
                last_t = Some(msg.transaction.as_bytes().to_vec());
            }
        }
        while node.poll_event().is_some() {}
        assert!(node.in_flight() <= 16);
        assert!(node.active_lookups() <= 4);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

//! BEP 5's `port` message: we name our DHT node to peers that run one, and
//! report the nodes peers name to the driver.

use super::*;

fn with_dht_port(fx: &Fixture, port: Option<u16>) -> Torrent {
    let mut cfg = Config::new(OUR_ID, 1);
    cfg.dht_port = port;
    fx.torrent(Bitfield::new(fx.count()), cfg)
}

fn dht_nodes(outs: &[Output]) -> Vec<SocketAddr> {
    events(outs)
        .into_iter()
        .filter_map(|e| match e {
            Event::DhtNode { addr } => Some(addr),
            _ => None,
        })
        .collect()
}

#[test]
fn peers_that_set_the_dht_bit_are_told_our_port() {
    let fx = Fixture::new(16 << 10, 64 << 10);
    let mut t = with_dht_port(&fx, Some(6881));
    let mut dht = Remote::connect(&mut t, T0, 1, fast_bits().with_dht(true));
    let mut plain = Remote::connect(&mut t, T0, 2, fast_bits());
    let to_dht = dht.read(&mut t, T0);
    assert!(to_dht.contains(&Msg::Port(6881)), "{to_dht:?}");
    assert!(!plain.read(&mut t, T0).contains(&Msg::Port(6881)));
    let ours = dht.reader.handshake.expect("our handshake").reserved;
    assert!(ours.supports_dht());
}

#[test]
fn without_a_dht_node_we_neither_set_the_bit_nor_send_port() {
    let fx = Fixture::new(16 << 10, 64 << 10);
    let mut t = with_dht_port(&fx, None);
    let mut r = Remote::connect(&mut t, T0, 1, fast_bits().with_dht(true));
    let msgs = r.read(&mut t, T0);
    assert!(!msgs.iter().any(|m| matches!(m, Msg::Port(_))), "{msgs:?}");
    assert!(!r
        .reader
        .handshake
        .expect("our handshake")
        .reserved
        .supports_dht());
}

#[test]
fn a_peers_port_message_names_its_node_once() {
    let fx = Fixture::new(16 << 10, 64 << 10);
    let mut t = with_dht_port(&fx, Some(6881));
    let r = Remote::connect(&mut t, T0, 3, fast_bits().with_dht(true));
    drain(&mut t);
    r.send(&mut t, T0, &[Message::Port(7000)]);
    let want = SocketAddr::new(addr(3).ip(), 7000);
    assert_eq!(dht_nodes(&drain(&mut t)), [want]);
    // The same port again is no news; port 0 is ignored.
    r.send(&mut t, T0, &[Message::Port(7000), Message::Port(0)]);
    assert!(dht_nodes(&drain(&mut t)).is_empty());
    assert!(r.connected(&t, T0), "port messages never close a peer");
}

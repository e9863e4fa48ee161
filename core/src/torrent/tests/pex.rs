//! Peer exchange in the engine: what we tell peers that speak `ut_pex`, and
//! what we do with what they tell us.

use super::*;
use crate::ext::pex::{PexFlags, PexMessage, PexPeer};

const THEIR_PEX_ID: u8 = 7;

fn ext_handshake(pex: bool, listen: u16) -> Vec<u8> {
    ExtHandshake {
        extensions: if pex {
            vec![("ut_pex".into(), THEIR_PEX_ID)]
        } else {
            Vec::new()
        },
        listen_port: Some(listen),
        ..ExtHandshake::default()
    }
    .encode()
}

fn pex_messages(msgs: &[Msg]) -> Vec<PexMessage> {
    msgs.iter()
        .filter_map(|m| match m {
            Msg::Extended(THEIR_PEX_ID, payload) => Some(PexMessage::decode(payload).unwrap()),
            _ => None,
        })
        .collect()
}

fn our_extensions(msgs: &[Msg]) -> Vec<(String, u8)> {
    msgs.iter()
        .find_map(|m| match m {
            Msg::Extended(0, payload) => Some(ExtHandshake::decode(payload).unwrap().extensions),
            _ => None,
        })
        .expect("our extension handshake")
}

fn at(n: u8, port: u16) -> SocketAddr {
    SocketAddr::new(addr(n).ip(), port)
}

#[test]
fn peers_that_speak_ut_pex_hear_about_the_others_and_we_learn_from_them() {
    let fx = Fixture::new(16 << 10, 64 << 10);
    let mut t = fx.leecher();
    let mut a = Remote::connect(&mut t, T0, 1, fast_bits());
    let mut b = Remote::connect(&mut t, T0, 2, fast_bits());
    a.send_ext(&mut t, T0, 0, &ext_handshake(true, 7001));
    b.send_ext(&mut t, T0, 0, &ext_handshake(false, 7002));
    let to_a = a.read(&mut t, T0);
    assert!(our_extensions(&to_a).contains(&("ut_pex".to_string(), 1)));

    // Within a tick, A hears of B (at its listen port), and never of itself.
    advance(&mut t, secs(2));
    let told = pex_messages(&a.read(&mut t, secs(2)));
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(
        told[0].added,
        vec![PexPeer {
            addr: at(2, 7002),
            flags: PexFlags::NONE
        }]
    );
    assert!(told[0].dropped.is_empty());
    // B does not speak ut_pex: it hears nothing.
    assert!(pex_messages(&b.read(&mut t, secs(2))).is_empty());

    // Nothing changed: nothing more, even after a minute.
    advance(&mut t, secs(70));
    assert!(pex_messages(&a.read(&mut t, secs(70))).is_empty());

    // B leaves: A hears it was dropped, once the minute since the last
    // message is up.
    t.handle_closed(secs(71), b.key, "gone");
    advance(&mut t, secs(125));
    let told = pex_messages(&a.read(&mut t, secs(125)));
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].dropped, vec![at(2, 7002)]);

    // A tells us of C: we connect to it.
    let news = PexMessage {
        added: vec![PexPeer {
            addr: at(3, 7003),
            flags: PexFlags::SEED,
        }],
        dropped: Vec::new(),
    };
    a.send_ext(&mut t, secs(126), 1, &news.encode());
    advance(&mut t, secs(128));
    let outs = drain(&mut t);
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Connect(c) if *c == at(3, 7003))),
        "no connect to the exchanged peer: {outs:?}"
    );
}

#[test]
fn a_peer_that_floods_peer_exchange_is_ignored_then_closed() {
    let fx = Fixture::new(16 << 10, 64 << 10);
    let mut t = fx.leecher();
    let a = Remote::connect(&mut t, T0, 1, fast_bits());
    a.send_ext(&mut t, T0, 0, &ext_handshake(true, 7001));
    let news = |n: u8| PexMessage {
        added: vec![PexPeer {
            addr: at(n, 7000 + u16::from(n)),
            flags: PexFlags::NONE,
        }],
        dropped: Vec::new(),
    };
    for n in 10..14 {
        a.send_ext(&mut t, secs(u64::from(n)), 1, &news(n).encode());
    }
    assert!(
        !a.connected(&t, secs(14)),
        "a peer sending PEX every second stays"
    );
    // Only the first message was taken.
    advance(&mut t, secs(16));
    let connects: Vec<SocketAddr> = drain(&mut t)
        .into_iter()
        .filter_map(|o| match o {
            Output::Connect(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(connects, vec![at(10, 7010)]);
}

#[test]
fn without_pex_nothing_is_advertised_sent_or_taken() {
    let fx = Fixture::new(16 << 10, 64 << 10);
    let mut cfg = Config::new(OUR_ID, 1);
    cfg.pex = false;
    let mut t = fx.torrent(Bitfield::new(fx.count()), cfg);
    let mut a = Remote::connect(&mut t, T0, 1, fast_bits());
    let _b = Remote::connect(&mut t, T0, 2, fast_bits());
    a.send_ext(&mut t, T0, 0, &ext_handshake(true, 7001));
    let to_a = a.read(&mut t, T0);
    assert!(!our_extensions(&to_a)
        .iter()
        .any(|(name, _)| name == "ut_pex"));
    let news = PexMessage {
        added: vec![PexPeer {
            addr: at(3, 7003),
            flags: PexFlags::NONE,
        }],
        dropped: Vec::new(),
    };
    a.send_ext(&mut t, T0, 1, &news.encode());
    advance(&mut t, secs(5));
    assert!(pex_messages(&a.read(&mut t, secs(5))).is_empty());
    assert!(!drain(&mut t)
        .iter()
        .any(|o| matches!(o, Output::Connect(_))));
}

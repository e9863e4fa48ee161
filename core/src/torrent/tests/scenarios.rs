//! One situation per test: handshakes, protocol errors, uploads, hash
//! failures, storage errors, timeouts, and cancelled requests.

use super::*;

#[test]
fn handshake_for_another_torrent_closes() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let mut t = fx.leecher();
    let r = Remote::connect_with(&mut t, T0, 1, fast_bits(), InfoHash([0xee; 20]), peer_id(1));
    let outs = drain(&mut t);
    assert_eq!(closes(&outs), vec![(r.key, CloseReason::WrongInfoHash)]);
    assert!(!events(&outs)
        .iter()
        .any(|e| matches!(e, Event::PeerConnected { .. })));
    assert_eq!(t.peer_count(), 0);
    assert!(!r.connected(&t, T0));
}

#[test]
fn our_own_peer_id_is_a_self_connection() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let mut t = fx.leecher();
    let ih = t.info_hash();
    let r = Remote::connect_with(&mut t, T0, 1, fast_bits(), ih, OUR_ID);
    let outs = drain(&mut t);
    assert_eq!(closes(&outs), vec![(r.key, CloseReason::SelfConnection)]);
    assert_eq!(t.peer_count(), 0);
}

#[test]
fn a_second_connection_with_the_same_peer_id_is_closed() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let mut t = fx.leecher();
    let ih = t.info_hash();
    let first = Remote::connect_with(&mut t, T0, 1, fast_bits(), ih, peer_id(9));
    let outs = drain(&mut t);
    assert!(closes(&outs).is_empty());
    assert!(events(&outs).contains(&Event::PeerConnected {
        peer: first.key,
        addr: addr(1),
        direction: Direction::Inbound,
    }));
    let second = Remote::connect_with(&mut t, T0, 2, fast_bits(), ih, peer_id(9));
    let outs = drain(&mut t);
    assert_eq!(
        closes(&outs),
        vec![(second.key, CloseReason::DuplicatePeerId)]
    );
    assert_eq!(t.peer_count(), 1);
    assert!(first.connected(&t, T0));
    assert_ne!(first.key, second.key);
}

#[test]
fn crossed_connections_keep_the_one_the_lower_peer_id_opened() {
    // Our id sorts below the peer's, so both sides keep the connection we
    // opened: the older inbound one goes.
    assert!(OUR_ID.0 < peer_id(9).0);
    let fx = Fixture::new(32 * 1024, 100_000);
    let mut t = fx.leecher();
    let ih = t.info_hash();
    let inbound = Remote::connect_with(&mut t, T0, 1, fast_bits(), ih, peer_id(9));
    drain(&mut t);
    let outbound = t.handle_connected(T0, addr(2), Direction::Outbound);
    let hs = Handshake {
        reserved: fast_bits(),
        info_hash: ih,
        peer_id: peer_id(9),
    };
    t.handle_data(T0, outbound, &hs.to_bytes());
    let outs = drain(&mut t);
    assert_eq!(
        closes(&outs),
        vec![(inbound.key, CloseReason::DuplicatePeerId)]
    );
    assert_eq!(t.peer_count(), 1);
    assert_eq!(t.peers(T0)[0].key, outbound);
}

#[test]
fn fast_messages_without_the_fast_bit_close_the_peer() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let r0 = BlockRequest {
        piece: 0,
        offset: 0,
        length: K,
    };
    let fast_only = [
        Message::HaveAll,
        Message::HaveNone,
        Message::Reject(r0),
        Message::AllowedFast { piece: 1 },
        Message::Suggest { piece: 1 },
    ];
    for msg in fast_only {
        let mut t = fx.leecher();
        let mut r = Remote::connect(&mut t, T0, 1, Reserved::NONE.with_extensions(true));
        drain(&mut t);
        let hello = r.read(&mut t, T0);
        assert!(
            !hello.contains(&Msg::HaveNone),
            "have-none sent to a peer without the Fast bit"
        );
        r.send(&mut t, T0, &[msg]);
        let outs = drain(&mut t);
        match closes(&outs).as_slice() {
            [(k, CloseReason::Protocol(_))] if *k == r.key => {}
            other => panic!("{} without the Fast bit gave {other:?}", msg.name()),
        }
        assert!(events(&outs)
            .iter()
            .any(|e| matches!(e, Event::PeerDisconnected { peer, .. } if *peer == r.key)));
    }
    // The same messages are fine from a Fast peer.
    let mut t = fx.leecher();
    let r = Remote::connect(&mut t, T0, 1, fast_bits());
    r.send(
        &mut t,
        T0,
        &[Message::HaveNone, Message::AllowedFast { piece: 1 }],
    );
    assert!(closes(&drain(&mut t)).is_empty());
    assert!(r.connected(&t, T0));
}

#[test]
fn a_bitfield_with_spare_bits_set_closes() {
    // Three pieces: the bitfield is one byte whose five low bits are spare.
    let fx = Fixture::new(32 * 1024, 80_000);
    assert_eq!(fx.count(), 3);
    let mut t = fx.leecher();
    let r = Remote::connect(&mut t, T0, 1, Reserved::NONE);
    drain(&mut t);
    r.send(&mut t, T0, &[Message::Bitfield(&[0b1110_0100])]);
    match closes(&drain(&mut t)).as_slice() {
        [(k, CloseReason::Protocol(_))] if *k == r.key => {}
        other => panic!("spare bits gave {other:?}"),
    }
    // Without the spare bit it is accepted and makes us interested.
    let mut t = fx.leecher();
    let mut r = Remote::connect(&mut t, T0, 1, Reserved::NONE);
    r.send(&mut t, T0, &[Message::Bitfield(&[0b1010_0000])]);
    assert!(closes(&drain(&mut t)).is_empty());
    assert!(r.read(&mut t, T0).contains(&Msg::Interested));
}

/// aria2 sends a bitfield mid-connection in place of many `have`s: it is
/// merged into what the peer has, not treated as a protocol error.
#[test]
fn a_bitfield_after_a_have_is_merged() {
    let fx = Fixture::new(32 * 1024, 80_000);
    let mut t = fx.leecher();
    let r = Remote::connect(&mut t, T0, 1, Reserved::NONE);
    r.send(&mut t, T0, &[Message::Have { piece: 1 }]);
    assert!(closes(&drain(&mut t)).is_empty());
    r.send(&mut t, T0, &[Message::Bitfield(&[0b1010_0000])]);
    assert!(
        closes(&drain(&mut t)).is_empty(),
        "late bitfield closed the peer"
    );
    let pieces = t.peers(T0)[0].pieces;
    assert_eq!(
        pieces, 3,
        "piece 1 from the have, pieces 0 and 2 from the bitfield"
    );
}

#[test]
fn a_request_while_we_choke_a_fast_peer_is_rejected() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let mut t = fx.seed();
    let mut r = Remote::connect(&mut t, T0, 1, fast_bits());
    drain(&mut t);
    let hello = r.read(&mut t, T0);
    assert!(hello.contains(&Msg::HaveAll), "{hello:?}");
    assert!(!hello.contains(&Msg::Unchoke));
    let req = BlockRequest {
        piece: 1,
        offset: K,
        length: K,
    };
    r.send(&mut t, T0, &[Message::Request(req)]);
    let outs = drain(&mut t);
    assert!(closes(&outs).is_empty());
    assert!(
        !outs.iter().any(|o| matches!(o, Output::Disk(_))),
        "{outs:?}"
    );
    assert_eq!(r.read(&mut t, T0), vec![Msg::Reject(req)]);
}

#[test]
fn allowed_fast_pieces_are_served_while_choked_and_others_rejected() {
    // Twenty pieces: the allowed-fast set (ten pieces) is a strict subset.
    let fx = Fixture::new(16 * 1024, 20 * 16 * 1024);
    let mut t = fx.seed();
    let mut r = Remote::connect(&mut t, T0, 1, fast_bits());
    r.send(&mut t, T0, &[Message::HaveNone]);
    drain(&mut t);
    let allowed: Vec<u32> = r
        .read(&mut t, T0)
        .iter()
        .filter_map(|m| match m {
            Msg::AllowedFast(p) => Some(*p),
            _ => None,
        })
        .collect();
    assert_eq!(allowed.len(), 10, "{allowed:?}");
    let outside = (0..20).find(|p| !allowed.contains(p)).unwrap();
    let inside = BlockRequest {
        piece: allowed[0],
        offset: 0,
        length: K,
    };
    let denied = BlockRequest {
        piece: outside,
        offset: 0,
        length: K,
    };
    r.send(
        &mut t,
        T0,
        &[Message::Request(inside), Message::Request(denied)],
    );
    let outs = drain(&mut t);
    let reads: Vec<(u32, u32, u32)> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Disk(DiskJob::Read {
                piece,
                offset,
                length,
                ..
            }) => Some((*piece, *offset, *length)),
            _ => None,
        })
        .collect();
    assert_eq!(reads, vec![(inside.piece, 0, K)]);
    assert_eq!(r.read(&mut t, T0), vec![Msg::Reject(denied)]);
}

#[test]
fn a_seed_serves_an_unchoked_peer_through_a_read_job() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let mut t = fx.seed();
    let mut r = Remote::connect(&mut t, T0, 1, Reserved::NONE);
    drain(&mut t);
    let hello = r.read(&mut t, T0);
    assert_eq!(r.reader.handshake.map(|h| h.peer_id), Some(OUR_ID));
    assert_eq!(
        r.reader.handshake.map(|h| h.info_hash),
        Some(fx.meta.info_hash)
    );
    let full = Bitfield::full(fx.count()).to_wire();
    assert_eq!(
        hello,
        vec![Msg::Bitfield(full)],
        "no Fast: a plain bitfield"
    );

    r.send(&mut t, T0, &[Message::Interested]);
    drain(&mut t);
    assert_eq!(r.read(&mut t, T0), vec![Msg::Unchoke]);

    // The last block of the last piece is short: 100000 - 3 * 32768 = 1696.
    let reqs = [
        BlockRequest {
            piece: 1,
            offset: K,
            length: K,
        },
        BlockRequest {
            piece: 3,
            offset: 0,
            length: 1696,
        },
    ];
    r.send(
        &mut t,
        T0,
        &[Message::Request(reqs[0]), Message::Request(reqs[1])],
    );
    let outs = drain(&mut t);
    let jobs: Vec<(ReadId, BlockRequest)> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Disk(DiskJob::Read {
                id,
                piece,
                offset,
                length,
            }) => Some((
                *id,
                BlockRequest {
                    piece: *piece,
                    offset: *offset,
                    length: *length,
                },
            )),
            _ => None,
        })
        .collect();
    assert_eq!(jobs.iter().map(|j| j.1).collect::<Vec<_>>(), reqs.to_vec());
    assert!(r.read(&mut t, T0).is_empty(), "nothing before the read");
    // Completed out of order: each block goes out as its read finishes.
    for (id, req) in jobs.iter().rev() {
        t.handle_read(T0, *id, Ok(fx.bytes(req.piece, req.offset, req.length)));
        let outs = drain(&mut t);
        assert!(outs.contains(&Output::Transmit(r.key)), "{outs:?}");
        assert_eq!(
            r.read(&mut t, T0),
            vec![Msg::Piece(
                req.piece,
                req.offset,
                Data(fx.bytes(req.piece, req.offset, req.length).to_vec())
            )]
        );
    }
    assert_eq!(t.stats(T0).uploaded, u64::from(K) + 1696);
}

/// A seed that unchoked a Fast peer (which asked for something).
fn seed_serving_fast_peer(fx: &Fixture) -> (Torrent, Remote) {
    let mut t = fx.seed();
    let mut r = Remote::connect(&mut t, T0, 1, fast_bits());
    r.send(&mut t, T0, &[Message::HaveNone, Message::Interested]);
    drain(&mut t);
    assert!(r.read(&mut t, T0).contains(&Msg::Unchoke));
    (t, r)
}

/// Completes every read job in `outs` with the payload.
fn complete_reads(t: &mut Torrent, fx: &Fixture, now: Time, outs: &[Output]) {
    for o in outs {
        if let Output::Disk(DiskJob::Read {
            id,
            piece,
            offset,
            length,
        }) = o
        {
            t.handle_read(now, *id, Ok(fx.bytes(*piece, *offset, *length)));
        }
    }
}

/// Completes read jobs, lets the peer take what is sent, and repeats until
/// no read is left; returns what the peer got.
fn serve_all(
    t: &mut Torrent,
    fx: &Fixture,
    r: &mut Remote,
    now: Time,
    mut outs: Vec<Output>,
) -> Vec<Msg> {
    let mut got = Vec::new();
    loop {
        complete_reads(t, fx, now, &outs);
        got.extend(r.read(t, now));
        outs = drain(t);
        if !outs
            .iter()
            .any(|o| matches!(o, Output::Disk(DiskJob::Read { .. })))
        {
            got.extend(r.read(t, now));
            return got;
        }
    }
}

#[test]
fn a_cancelled_request_is_answered_once_queued_or_in_flight() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let (mut t, mut r) = seed_serving_fast_peer(&fx);
    let reqs: Vec<BlockRequest> = (0..7)
        .map(|i| BlockRequest {
            piece: i / 2,
            offset: (i % 2) * K,
            length: if i == 6 { 1696 } else { K },
        })
        .collect();
    let msgs: Vec<Message<'_>> = reqs.iter().map(|q| Message::Request(*q)).collect();
    r.send(&mut t, T0, &msgs);
    let outs = drain(&mut t);
    let reading: Vec<BlockRequest> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Disk(DiskJob::Read {
                piece,
                offset,
                length,
                ..
            }) => Some(BlockRequest {
                piece: *piece,
                offset: *offset,
                length: *length,
            }),
            _ => None,
        })
        .collect();
    assert!(
        !reading.is_empty() && reading.len() < reqs.len(),
        "{reading:?}"
    );
    assert_eq!(reading, reqs[..reading.len()].to_vec(), "read in order");
    // One cancel for a read in flight (its block is the answer), one for a
    // request still queued (a reject is).
    let in_flight = reqs[0];
    let queued = reqs[reqs.len() - 1];
    r.send(
        &mut t,
        T0,
        &[Message::Cancel(in_flight), Message::Cancel(queued)],
    );
    let got = serve_all(&mut t, &fx, &mut r, T0, outs);
    let mut answered: Vec<BlockRequest> = got
        .iter()
        .filter_map(|m| match m {
            Msg::Piece(piece, offset, Data(data)) => {
                let length = data.len() as u32;
                assert_eq!(&data[..], fx.bytes(*piece, *offset, length));
                Some(BlockRequest {
                    piece: *piece,
                    offset: *offset,
                    length,
                })
            }
            Msg::Reject(q) => {
                assert_eq!(*q, queued, "only the queued request is rejected");
                Some(*q)
            }
            _ => None,
        })
        .collect();
    answered.sort();
    assert_eq!(answered, reqs, "every request answered exactly once");
}

#[test]
fn every_request_of_a_fast_peer_gets_an_answer() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let (mut t, mut r) = seed_serving_fast_peer(&fx);
    let x = BlockRequest {
        piece: 0,
        offset: 0,
        length: K,
    };
    r.send(&mut t, T0, &[Message::Request(x)]);
    let mut outs = drain(&mut t);
    // The peer changes its mind twice before the read completes: cancel,
    // then ask again. It is owed two answers.
    r.send(&mut t, T0, &[Message::Cancel(x), Message::Request(x)]);
    outs.extend(drain(&mut t));
    let got = serve_all(&mut t, &fx, &mut r, T0, outs);
    let answers: Vec<String> = got
        .iter()
        .filter_map(|m| match m {
            Msg::Piece(0, 0, _) => Some("piece".to_string()),
            Msg::Reject(q) if *q == x => Some("reject".to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 2, "two requests, answers: {answers:?}");
}

/// A leecher with one Fast seed that unchoked it; returns the requests the
/// torrent made.
fn leech_from_fast_seed(t: &mut Torrent, r: &mut Remote) -> Vec<BlockRequest> {
    r.send(t, T0, &[Message::HaveAll, Message::Unchoke]);
    drain(t);
    let msgs = r.read(t, T0);
    assert!(msgs.contains(&Msg::Interested), "{msgs:?}");
    requests(&msgs)
}

#[test]
fn bad_data_fails_the_hash_and_bans_a_sole_contributor() {
    let fx = Fixture::new(32 * 1024, 64 * 1024);
    let mut t = fx.leecher();
    let mut r = Remote::connect(&mut t, T0, 1, fast_bits());
    let reqs = leech_from_fast_seed(&mut t, &mut r);
    assert_eq!(reqs.len(), 4, "{reqs:?}");
    // The peer answers piece 0 with garbage.
    let garbage = vec![0xab; K as usize];
    let piece0: Vec<Message<'_>> = reqs
        .iter()
        .filter(|q| q.piece == 0)
        .map(|q| Message::Piece {
            piece: 0,
            offset: q.offset,
            data: &garbage,
        })
        .collect();
    r.send(&mut t, T0, &piece0);
    let outs = drain(&mut t);
    let mut store = vec![0u8; fx.data.len()];
    let seen = run_disk(&mut t, T0, &mut store, 32 * 1024, outs);
    assert!(seen.contains(&Output::Disk(DiskJob::Hash { piece: 0 })));
    let evs = events(&seen);
    let failed = evs
        .iter()
        .position(|e| {
            *e == Event::HashFailed {
                piece: 0,
                contributors: vec![r.ip],
            }
        })
        .expect("hash failure reported");
    let banned = evs
        .iter()
        .position(|e| {
            *e == Event::PeerBanned {
                ip: r.ip,
                strikes: 1,
            }
        })
        .expect("sole contributor banned");
    assert!(failed < banned);
    assert!(!evs.iter().any(|e| matches!(e, Event::PieceVerified { .. })));
    assert_eq!(closes(&seen), vec![(r.key, CloseReason::Banned)]);
    assert_eq!(t.banned().collect::<Vec<_>>(), vec![r.ip]);
    assert!(!t.have().get(0));
    // A banned address is refused at once when it comes back.
    let back = t.handle_connected(T0, addr(1), Direction::Inbound);
    assert_eq!(closes(&drain(&mut t)), vec![(back, CloseReason::Banned)]);
}

#[test]
fn a_shared_hash_failure_strikes_without_banning() {
    let fx = Fixture::new(32 * 1024, 64 * 1024);
    let mut t = fx.leecher();
    let mut a = Remote::connect(&mut t, T0, 1, fast_bits());
    let mut b = Remote::connect(&mut t, T0, 2, fast_bits());
    drain(&mut t);
    a.read(&mut t, T0);
    b.read(&mut t, T0);
    let from_a = leech_from_fast_seed(&mut t, &mut a);
    assert_eq!(from_a.len(), 4);
    // Everything is asked of A: B's requests are endgame duplicates.
    let from_b = leech_from_fast_seed(&mut t, &mut b);
    assert!(t.picker.in_endgame());
    let b1 = BlockRequest {
        piece: 0,
        offset: K,
        length: K,
    };
    assert!(from_b.contains(&b1), "{from_b:?}");
    let garbage = vec![0x5a; K as usize];
    a.send(
        &mut t,
        T0,
        &[Message::Piece {
            piece: 0,
            offset: 0,
            data: &garbage,
        }],
    );
    b.send(
        &mut t,
        T0,
        &[Message::Piece {
            piece: 0,
            offset: K,
            data: &garbage,
        }],
    );
    let outs = drain(&mut t);
    // Each delivery cancels the other copy.
    assert!(a.read(&mut t, T0).contains(&Msg::Cancel(b1)));
    let mut store = vec![0u8; fx.data.len()];
    let seen = run_disk(&mut t, T0, &mut store, 32 * 1024, outs);
    let evs = events(&seen);
    assert!(evs.contains(&Event::HashFailed {
        piece: 0,
        contributors: vec![a.ip, b.ip],
    }));
    assert!(!evs.iter().any(|e| matches!(e, Event::PeerBanned { .. })));
    assert!(closes(&seen).is_empty());
    assert!(a.connected(&t, T0) && b.connected(&t, T0));
}

#[test]
fn a_write_error_stops_the_torrent_and_closes_every_peer() {
    let fx = Fixture::new(32 * 1024, 64 * 1024);
    let mut t = fx.leecher();
    let mut a = Remote::connect(&mut t, T0, 1, fast_bits());
    let b = Remote::connect(&mut t, T0, 2, Reserved::NONE);
    drain(&mut t);
    let reqs = leech_from_fast_seed(&mut t, &mut a);
    let q = reqs[0];
    a.send(
        &mut t,
        T0,
        &[Message::Piece {
            piece: q.piece,
            offset: q.offset,
            data: fx.bytes(q.piece, q.offset, q.length),
        }],
    );
    let outs = drain(&mut t);
    assert!(outs.contains(&Output::Disk(DiskJob::Write {
        piece: q.piece,
        offset: q.offset,
        data: fx.bytes(q.piece, q.offset, q.length).to_vec(),
    })));
    let error = DiskError("disk full".into());
    t.handle_write(T0, q.piece, q.offset, Err(error.clone()));
    let outs = drain(&mut t);
    let mut closed = closes(&outs);
    closed.sort_by_key(|c| c.0);
    assert_eq!(
        closed,
        vec![
            (a.key, CloseReason::TorrentStopped),
            (b.key, CloseReason::TorrentStopped)
        ]
    );
    assert!(events(&outs).contains(&Event::Stopped {
        error: error.clone()
    }));
    assert_eq!(t.error(), Some(&error));
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(t.peer_count(), 0);
    // Nothing more happens: no new connections, no late results.
    a.send(&mut t, T0, &[Message::Have { piece: 0 }]);
    t.handle_write(T0, q.piece, q.offset, Ok(()));
    assert!(drain(&mut t).is_empty());
    let late = t.handle_connected(T0, addr(3), Direction::Inbound);
    assert_eq!(
        closes(&drain(&mut t)),
        vec![(late, CloseReason::TorrentStopped)]
    );
}

#[test]
fn keep_alives_after_silence_and_idle_peers_closed() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let mut t = fx.leecher();
    let mut quiet = Remote::connect(&mut t, T0, 1, fast_bits());
    let mut chatty = Remote::connect(&mut t, T0, 2, fast_bits());
    quiet.send(&mut t, T0, &[Message::HaveNone]);
    chatty.send(&mut t, T0, &[Message::HaveNone]);
    drain(&mut t);
    quiet.read(&mut t, T0);
    chatty.read(&mut t, T0);

    let keepalives = |r: &mut Remote, t: &mut Torrent, now| {
        r.read(t, now)
            .iter()
            .filter(|m| **m == Msg::KeepAlive)
            .count()
    };
    advance(&mut t, secs(59));
    assert_eq!(keepalives(&mut quiet, &mut t, secs(59)), 0);
    advance(&mut t, secs(60));
    assert_eq!(keepalives(&mut quiet, &mut t, secs(60)), 1);
    assert_eq!(keepalives(&mut chatty, &mut t, secs(60)), 1);
    advance(&mut t, secs(119));
    assert_eq!(keepalives(&mut quiet, &mut t, secs(119)), 0);
    advance(&mut t, secs(120));
    assert_eq!(keepalives(&mut quiet, &mut t, secs(120)), 1);

    // The chatty peer sends a keep-alive now and then.
    chatty.send(&mut t, secs(120), &[Message::KeepAlive]);
    chatty.read(&mut t, secs(120));
    advance(&mut t, secs(150));
    assert!(closes(&drain(&mut t)).is_empty(), "closed at the limit");
    advance(&mut t, secs(152));
    let outs = drain(&mut t);
    assert_eq!(closes(&outs), vec![(quiet.key, CloseReason::Idle)]);
    assert!(events(&outs).contains(&Event::PeerDisconnected {
        peer: quiet.key,
        addr: addr(1),
        reason: CloseReason::Idle,
    }));
    assert!(chatty.connected(&t, secs(152)));
    advance(&mut t, secs(270));
    assert!(closes(&drain(&mut t)).is_empty());
    advance(&mut t, secs(272));
    assert_eq!(
        closes(&drain(&mut t)),
        vec![(chatty.key, CloseReason::Idle)]
    );
}

#[test]
fn a_handshake_that_never_comes_times_out() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let mut t = fx.leecher();
    let key = t.handle_connected(T0, addr(1), Direction::Inbound);
    drain(&mut t);
    advance(&mut t, secs(10));
    assert!(closes(&drain(&mut t)).is_empty());
    advance(&mut t, secs(12));
    assert_eq!(
        closes(&drain(&mut t)),
        vec![(key, CloseReason::HandshakeTimeout)]
    );
}

#[test]
fn a_leecher_downloads_everything_from_one_seed() {
    // Three pieces and a short fourth: 100000 = 3 * 32768 + 1696.
    let fx = Fixture::new(32 * 1024, 100_000);
    let mut t = fx.leecher();
    let mut r = Remote::connect(&mut t, T0, 1, fast_bits());
    let mut asked = leech_from_fast_seed(&mut t, &mut r);
    let mut store = vec![0u8; fx.data.len()];
    let mut seen = Vec::new();
    let mut now = T0;
    while !asked.is_empty() {
        now += Duration::from_millis(100);
        for q in std::mem::take(&mut asked) {
            deliver(&mut t, &fx, &r, now, q);
        }
        let outs = drain(&mut t);
        seen.extend(run_disk(&mut t, now, &mut store, 32 * 1024, outs));
        asked = requests(&r.read(&mut t, now));
    }
    assert_eq!(store, fx.data, "what was written is the payload");
    assert!(t.is_complete() && t.is_finished());
    let evs = events(&seen);
    for piece in 0..4 {
        assert!(evs.contains(&Event::PieceVerified { piece }), "{evs:?}");
    }
    let tail: Vec<&Event> = evs
        .iter()
        .filter(|e| !matches!(e, Event::PieceVerified { .. }))
        .collect();
    assert_eq!(
        tail,
        vec![
            &Event::FileCompleted { file: 0 },
            &Event::Finished,
            &Event::Complete,
            &Event::PeerDisconnected {
                peer: r.key,
                addr: addr(1),
                reason: CloseReason::BothSeeds
            },
        ]
    );
    assert_eq!(closes(&seen), vec![(r.key, CloseReason::BothSeeds)]);
    let stats = t.stats(now);
    assert_eq!(
        (stats.downloaded, stats.wasted, stats.left),
        (100_000, 0, 0)
    );
}

#[test]
fn a_seed_closes_a_seed() {
    let fx = Fixture::new(32 * 1024, 100_000);
    let mut t = fx.seed();
    let r = Remote::connect(&mut t, T0, 1, fast_bits());
    drain(&mut t);
    r.send(&mut t, T0, &[Message::HaveAll]);
    assert_eq!(
        closes(&drain(&mut t)),
        vec![(r.key, CloseReason::BothSeeds)]
    );
    // The same through `have` messages, one piece at a time.
    let r = Remote::connect(&mut t, T0, 2, Reserved::NONE);
    for piece in 0..3 {
        r.send(&mut t, T0, &[Message::Have { piece }]);
        assert!(closes(&drain(&mut t)).is_empty());
    }
    r.send(&mut t, T0, &[Message::Have { piece: 3 }]);
    assert_eq!(
        closes(&drain(&mut t)),
        vec![(r.key, CloseReason::BothSeeds)]
    );
}

/// Sends the block of `q` with the right data.
fn cancels(msgs: &[Msg]) -> Vec<BlockRequest> {
    msgs.iter()
        .filter_map(|m| match m {
            Msg::Cancel(r) => Some(*r),
            _ => None,
        })
        .collect()
}

#[test]
fn a_snubbed_fast_peer_is_not_asked_again_for_a_cancelled_block() {
    // One piece of one block, from one Fast seed that does not answer.
    let fx = Fixture::new(16 * 1024, 16 * 1024);
    let mut t = fx.leecher();
    let mut r = Remote::connect(&mut t, T0, 1, fast_bits());
    let first = leech_from_fast_seed(&mut t, &mut r);
    assert_eq!(first.len(), 1);
    let x = first[0];
    advance(&mut t, secs(20));
    drain(&mut t);
    let msgs = r.read(&mut t, secs(20));
    assert_eq!(cancels(&msgs), vec![x], "the request timed out");
    // BEP 6: every request gets exactly one answer, cancelled or not. The
    // peer answers each request it got with the block.
    let asked = 1 + requests(&msgs).iter().filter(|q| **q == x).count();
    for _ in 0..asked {
        deliver(&mut t, &fx, &r, secs(21), x);
    }
    drain(&mut t);
    assert_eq!(
        t.stats(secs(21)).wasted,
        0,
        "asked {asked} times for {x:?} by the same peer: {msgs:?}"
    );
}

/// A leecher whose Fast seed sent one block at 19 s and then stalled: at 39 s
/// the torrent cancelled the other three requests (sent at 0 s). It does not
/// ask the same peer again for a block the peer still owes an answer for, so
/// nothing new is requested. Returns the torrent, the peer and the cancelled
/// requests, at 41 s.
fn stalled_after_one_block(fx: &Fixture) -> (Torrent, Remote, Vec<BlockRequest>) {
    let mut t = fx.leecher();
    let mut r = Remote::connect(&mut t, T0, 1, fast_bits());
    let reqs = leech_from_fast_seed(&mut t, &mut r);
    assert_eq!(reqs.len(), 4);
    deliver(&mut t, fx, &r, secs(19), reqs[0]);
    drain(&mut t);
    r.read(&mut t, secs(19));
    advance(&mut t, secs(39));
    drain(&mut t);
    let msgs = r.read(&mut t, secs(39));
    let cancelled = cancels(&msgs);
    assert_eq!(cancelled, reqs[1..].to_vec(), "{msgs:?}");
    assert!(
        requests(&msgs).is_empty(),
        "every free block is still owed by this peer: {msgs:?}"
    );
    advance(&mut t, secs(41));
    drain(&mut t);
    assert!(r
        .read(&mut t, secs(41))
        .iter()
        .all(|m| *m == Msg::KeepAlive));
    (t, r, cancelled)
}

#[test]
fn a_late_answer_to_a_cancelled_request_is_not_a_protocol_error() {
    let fx = Fixture::new(32 * 1024, 64 * 1024);
    let (mut t, r, cancelled) = stalled_after_one_block(&fx);
    // BEP 6 lets a peer answer a cancelled request with the block, and the
    // cancel is only two seconds old.
    deliver(&mut t, &fx, &r, secs(41), cancelled[0]);
    let outs = drain(&mut t);
    assert!(closes(&outs).is_empty(), "{:?}", closes(&outs));
    assert!(r.connected(&t, secs(41)));
    assert_eq!(
        t.stats(secs(41)).wasted,
        0,
        "the late block was still needed"
    );
}

#[test]
fn a_reject_settles_a_cancelled_request_and_frees_the_block_for_this_peer() {
    let fx = Fixture::new(32 * 1024, 64 * 1024);
    let (mut t, mut r, cancelled) = stalled_after_one_block(&fx);
    // The peer answers one cancelled request with a reject: it owes nothing
    // for that block any more, so asking it again is safe.
    let z = cancelled[1];
    r.send(&mut t, secs(41), &[Message::Reject(z)]);
    drain(&mut t);
    let msgs = r.read(&mut t, secs(41));
    assert_eq!(requests(&msgs), vec![z], "{msgs:?}");
    assert_eq!(t.peers(secs(41))[0].requests, 1);
}

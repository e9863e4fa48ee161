//! What peers are asked for around a reader: the piece under its position
//! first, shared and raced; nothing else from the peers serving it until it
//! is verified; read-ahead as usual otherwise.

use super::*;

/// A leecher with nothing selected and `seeds` fast seeds that have unchoked
/// it, their first messages read.
fn streaming_leecher(fx: &Fixture, seeds: u8) -> (Torrent, Vec<Remote>) {
    let mut t = fx.leecher();
    t.set_file_priority(T0, 0, crate::picker::Priority::Skip);
    let mut remotes: Vec<Remote> = (1..=seeds)
        .map(|n| Remote::connect(&mut t, T0, n, fast_bits()))
        .collect();
    for r in &mut remotes {
        r.send(&mut t, T0, &[Message::HaveAll, Message::Unchoke]);
        r.read(&mut t, T0);
    }
    (t, remotes)
}

/// The pieces of the requests in `msgs`, in order, each once.
fn pieces_asked(msgs: &[Msg]) -> Vec<u32> {
    let mut pieces: Vec<u32> = Vec::new();
    for r in requests(msgs) {
        if !pieces.contains(&r.piece) {
            pieces.push(r.piece);
        }
    }
    pieces
}

/// The offsets of piece `piece` each seed was asked for, in the order asked.
fn asked_in(seeds: &mut [Remote], t: &mut Torrent, piece: u32) -> Vec<Vec<u32>> {
    seeds
        .iter_mut()
        .map(|s| {
            let msgs = s.read(t, T0);
            let reqs = requests(&msgs);
            assert!(reqs.iter().all(|r| r.piece == piece), "{msgs:?}");
            reqs.iter().map(|r| r.offset / K).collect()
        })
        .collect()
}

#[test]
fn the_urgent_piece_is_shared_by_two_peers_and_each_half_raced_by_another() {
    // 256 KiB pieces: sixteen blocks, eight to each of two peers.
    let piece_len = 256 << 10;
    let fx = Fixture::new(piece_len, 8 * piece_len as usize);
    let (mut t, mut seeds) = streaming_leecher(&fx, 4);
    // A reader at piece 5; nothing but that piece is asked for.
    let len = fx.meta.info.total_length;
    t.open_stream(T0, 0, (5 * u64::from(piece_len))..len)
        .unwrap();
    let mut asked = asked_in(&mut seeds, &mut t, 5);
    for a in &mut asked {
        a.sort();
    }
    // The first two peers take a half each...
    assert_eq!(asked[0].len(), 8, "{asked:?}");
    assert_eq!(asked[1].len(), 8, "{asked:?}");
    let mut halves = [asked[0].clone(), asked[1].clone()].concat();
    halves.sort();
    assert_eq!(halves, (0..16).collect::<Vec<u32>>(), "{asked:?}");
    // ...and the other two, with nothing known of anyone's rate and shorter
    // queues, race them: one half each, so every block is asked of exactly
    // two peers.
    let mut raced = [asked[2].clone(), asked[3].clone()].concat();
    raced.sort();
    assert_eq!(raced, halves, "{asked:?}");
}

#[test]
fn a_peer_serving_the_piece_a_reader_waits_for_gets_no_other_request_until_it_verifies() {
    let piece_len = 64 << 10;
    let fx = Fixture::new(piece_len, 8 * piece_len as usize);
    let (mut t, mut seeds) = streaming_leecher(&fx, 1);
    let s = &mut seeds[0];
    let len = fx.meta.info.total_length;
    t.open_stream(T0, 0, (5 * u64::from(piece_len) + 100)..len)
        .unwrap();
    let asked = requests(&s.read(&mut t, T0));
    assert_eq!(
        asked.len(),
        4,
        "the whole piece, nothing after it: {asked:?}"
    );
    assert!(asked.iter().all(|r| r.piece == 5), "{asked:?}");
    // The blocks arrive: still nothing else while the piece is written and
    // hashed (the seed's upload, and this machine, serve the reader first).
    let mut outs = Vec::new();
    for q in &asked {
        deliver(&mut t, &fx, s, T0, *q);
        outs.extend(drain(&mut t));
    }
    assert!(requests(&s.read(&mut t, T0)).is_empty());
    let mut store = vec![0u8; fx.data.len()];
    let seen = run_disk(&mut t, T0, &mut store, piece_len, outs);
    assert!(
        seen.iter()
            .any(|o| matches!(o, Output::Disk(DiskJob::Hash { piece: 5 }))),
        "{seen:?}"
    );
    // Verified: the read-ahead after it is asked for at once.
    assert!(t.have().get(5));
    let next = pieces_asked(&s.read(&mut t, T0));
    assert_eq!(next.first(), Some(&6), "{next:?}");
}

#[test]
fn a_peer_without_the_waited_for_piece_keeps_fetching_read_ahead() {
    let piece_len = 64 << 10;
    let fx = Fixture::new(piece_len, 8 * piece_len as usize);
    let mut t = fx.leecher();
    t.set_file_priority(T0, 0, crate::picker::Priority::Skip);
    let mut seed = Remote::connect(&mut t, T0, 1, fast_bits());
    seed.send(&mut t, T0, &[Message::HaveAll, Message::Unchoke]);
    seed.read(&mut t, T0);
    // A partial peer: everything but piece 5.
    let mut partial = Remote::connect(&mut t, T0, 2, fast_bits());
    let mut bits = Bitfield::full(fx.count());
    bits.set(5, false);
    partial.send(
        &mut t,
        T0,
        &[Message::Bitfield(&bits.to_wire()), Message::Unchoke],
    );
    partial.read(&mut t, T0);
    let len = fx.meta.info.total_length;
    t.open_stream(T0, 0, (5 * u64::from(piece_len))..len)
        .unwrap();
    assert_eq!(pieces_asked(&seed.read(&mut t, T0)), [5]);
    let other = pieces_asked(&partial.read(&mut t, T0));
    assert!(!other.is_empty() && !other.contains(&5), "{other:?}");
}

#[test]
fn a_reader_ahead_of_the_missing_pieces_holds_nobody_back() {
    // Piece 5 is verified: the reader there does not wait, so the requests
    // after the first missing piece go out as its blocks come in, not after
    // it is verified.
    let piece_len = 64 << 10;
    let fx = Fixture::new(piece_len, 8 * piece_len as usize);
    let mut have = Bitfield::new(fx.count());
    have.set(5, true);
    let mut t = fx.torrent(have, Config::new(OUR_ID, 1));
    t.set_file_priority(T0, 0, crate::picker::Priority::Skip);
    let mut s = Remote::connect(&mut t, T0, 1, fast_bits());
    s.send(&mut t, T0, &[Message::HaveAll, Message::Unchoke]);
    s.read(&mut t, T0);
    let len = fx.meta.info.total_length;
    t.open_stream(T0, 0, (5 * u64::from(piece_len))..len)
        .unwrap();
    let asked = requests(&s.read(&mut t, T0));
    assert!(asked.iter().all(|r| r.piece == 6), "{asked:?}");
    for q in &asked {
        deliver(&mut t, &fx, &s, T0, *q);
    }
    drain(&mut t);
    let next = pieces_asked(&s.read(&mut t, T0));
    assert_eq!(next.first(), Some(&7), "{next:?}");
}

#[test]
fn a_reader_that_caught_up_while_reading_along_holds_nobody_back() {
    // The hold is for a reader starting from scratch (opened, or sought).
    // One that reads along and reaches the download's edge waits for every
    // piece in turn; holding the peers for a round trip on each would only
    // slow it down.
    let piece_len = 64 << 10;
    let fx = Fixture::new(piece_len, 32 * piece_len as usize);
    let (mut t, mut seeds) = streaming_leecher(&fx, 1);
    let s = &mut seeds[0];
    let len = fx.meta.info.total_length;
    let start = 5 * u64::from(piece_len);
    let id = t.open_stream_at(T0, 0, 0..len, start).unwrap();
    assert_eq!(t.picker.stream_waiting(), [5]);
    let mut store = vec![0u8; fx.data.len()];
    let asked = requests(&s.read(&mut t, T0));
    let mut outs = Vec::new();
    for q in &asked {
        deliver(&mut t, &fx, s, T0, *q);
        outs.extend(drain(&mut t));
    }
    run_disk(&mut t, T0, &mut store, piece_len, outs);
    assert!(t.have().get(5));
    // The reader reads piece 5 and stands at piece 6, not in yet: it waits,
    // but holds nobody.
    t.seek_stream(T0, id, start + u64::from(piece_len)).unwrap();
    assert!(!t.have().get(6));
    assert_eq!(t.picker.stream_waiting(), Vec::<u32>::new());
    // A seek back starts from scratch again.
    t.seek_stream(T0, id, 2 * u64::from(piece_len) + 7).unwrap();
    assert_eq!(t.picker.stream_waiting(), [2]);
}

#[test]
fn which_peers_share_the_urgent_piece_varies_from_one_torrent_seed_to_another() {
    // Rate-limited seeds keep their tick phases: a pairing fixed by the
    // order peers connected would make every read equally lucky or unlucky.
    let piece_len = 256 << 10;
    let fx = Fixture::new(piece_len, 8 * piece_len as usize);
    let len = fx.meta.info.total_length;
    let mut sharers = BTreeSet::new();
    for seed in 1..=8 {
        let mut t = fx.torrent(Bitfield::new(fx.count()), Config::new(OUR_ID, seed));
        t.set_file_priority(T0, 0, crate::picker::Priority::Skip);
        let mut seeds: Vec<Remote> = (1..=4)
            .map(|n| Remote::connect(&mut t, T0, n, fast_bits()))
            .collect();
        for s in &mut seeds {
            s.send(&mut t, T0, &[Message::HaveAll, Message::Unchoke]);
            s.read(&mut t, T0);
        }
        t.open_stream(T0, 0, (5 * u64::from(piece_len))..len)
            .unwrap();
        let asked = asked_in(&mut seeds, &mut t, 5);
        // The peer asked for block 0 first is the one that shares it.
        let first: Vec<usize> = (0..4).filter(|&i| asked[i].first() == Some(&0)).collect();
        sharers.insert(first);
    }
    assert!(sharers.len() > 1, "{sharers:?}");
}

//! Tests of the piece picker.

use core::net::{IpAddr, Ipv4Addr};
use std::collections::BTreeSet;

use super::*;

const K: u32 = BLOCK_SIZE;

/// A picker over one file of `total` bytes cut into `piece_len` pieces.
fn picker(piece_len: u32, total: u64, seed: u64) -> Picker {
    let layout = Layout::new(piece_len, &[total]).expect("valid layout");
    let count = layout.piece_count();
    Picker::new(layout, Bitfield::new(count), &mut Rng::new(seed))
}

fn key(n: u32) -> PeerKey {
    PeerKey::for_tests(n)
}

fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
}

fn has(count: u32, pieces: &[u32]) -> Bitfield {
    let mut b = Bitfield::new(count);
    for &p in pieces {
        b.set(p, true);
    }
    b
}

fn never(_: &Requesters) -> bool {
    false
}

fn always(_: &Requesters) -> bool {
    true
}

/// An unchoked peer without a share limit.
fn view(key: PeerKey, has: &Bitfield) -> PeerView<'_> {
    PeerView {
        key,
        has,
        choked: false,
        allowed_fast: &[],
        urgent_share: u32::MAX,
        owed: &[],
        parole: false,
    }
}

fn pick(pk: &mut Picker, peer: &PeerView<'_>, want: usize) -> Vec<BlockRef> {
    let mut out = Vec::new();
    pk.pick(peer, want, &mut out, &never);
    out
}

fn b(piece: u32, block: u32) -> BlockRef {
    BlockRef { piece, block }
}

fn requesters_of(pk: &Picker, blk: BlockRef) -> Vec<PeerKey> {
    match pk
        .partial(blk.piece)
        .map(|p| p.blocks()[blk.block as usize])
    {
        Some(BlockState::Requested(r)) => r.as_slice().to_vec(),
        _ => Vec::new(),
    }
}

/// Announces `pieces` from one more (non-seed) peer.
fn announce(pk: &mut Picker, pieces: &[u32]) {
    for &p in pieces {
        pk.peer_has(p);
    }
}

/// Picks single-block pieces one at a time until nothing is left and returns
/// the pieces in the order they were started.
fn pick_order(pk: &mut Picker, everything: &Bitfield) -> Vec<u32> {
    let mut order = Vec::new();
    for _ in 0..everything.len() + 2 {
        let got = pick(pk, &view(key(1), everything), 1);
        match got.as_slice() {
            [] => break,
            [one] => {
                assert_eq!(one.block, 0);
                order.push(one.piece);
            }
            more => panic!("asked for one block, got {more:?}"),
        }
    }
    order
}

#[test]
fn rarest_first_with_the_seeded_rank_breaking_ties() {
    // Eight single-block pieces with availability 3,1,2,1,3,2,1,2.
    let avail = [3u32, 1, 2, 1, 3, 2, 1, 2];
    let make = |seed| {
        let mut pk = picker(K, 8 * u64::from(K), seed);
        for (p, &n) in avail.iter().enumerate() {
            for _ in 0..n {
                pk.peer_has(p as u32);
            }
        }
        // Seeds count for every piece and change nothing in the order.
        pk.seed_changed(true);
        pk
    };
    let all = Bitfield::full(8);
    let mut pk = make(11);
    for (p, &n) in avail.iter().enumerate() {
        assert_eq!(pk.availability(p as u32), n + 1);
    }
    let mut expected: Vec<u32> = (0..8).collect();
    expected.sort_by_key(|&p| (avail[p as usize], pk.rank[p as usize]));
    let order = pick_order(&mut pk, &all);
    assert_eq!(order, expected);
    let by_avail: Vec<u32> = order.iter().map(|&p| avail[p as usize]).collect();
    assert_eq!(by_avail, vec![1, 1, 1, 2, 2, 2, 3, 3]);

    // Same seed, same order.
    assert_eq!(pick_order(&mut make(11), &all), order);
}

#[test]
fn equal_availability_order_is_fixed_by_the_seed_and_varies_with_it() {
    let all = Bitfield::full(16);
    let order_for = |seed| {
        let mut pk = picker(K, 16 * u64::from(K), seed);
        announce(&mut pk, &(0..16).collect::<Vec<_>>());
        pick_order(&mut pk, &all)
    };
    let mut orders = BTreeSet::new();
    for seed in 0..8 {
        let first = order_for(seed);
        assert_eq!(first, order_for(seed), "seed {seed} is not repeatable");
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..16).collect::<Vec<_>>(), "every piece once");
        orders.insert(first);
    }
    assert!(
        orders.len() > 1,
        "eight seeds gave one order: no random tie-break"
    );
    assert!(
        orders.iter().any(|o| *o != (0..16).collect::<Vec<_>>()),
        "ties must not fall back to index order"
    );
}

#[test]
fn availability_follows_peers_and_seeds() {
    let mut pk = picker(K, 4 * u64::from(K), 1);
    announce(&mut pk, &[0, 1]);
    announce(&mut pk, &[1]);
    pk.seed_changed(true);
    assert_eq!(
        (0..4).map(|p| pk.availability(p)).collect::<Vec<_>>(),
        [2, 3, 1, 1]
    );
    pk.peer_lost(&has(4, &[0, 1]));
    pk.seed_changed(false);
    pk.seed_changed(false);
    pk.peer_lost(&has(4, &[2]));
    assert_eq!(
        (0..4).map(|p| pk.availability(p)).collect::<Vec<_>>(),
        [0, 1, 0, 0],
        "losses saturate at zero"
    );
}

#[test]
fn high_priority_first_skip_never() {
    let count = 6;
    let mut pk = picker(K, u64::from(count) * u64::from(K), 3);
    // The high pieces are the most common: priority beats rarity.
    announce(&mut pk, &[0, 1, 2, 3, 4, 5]);
    announce(&mut pk, &[4, 5]);
    announce(&mut pk, &[4, 5]);
    assert!(!pk.set_priority(4, Priority::High), "still wanted");
    assert!(!pk.set_priority(5, Priority::High));
    assert!(pk.set_priority(0, Priority::Skip), "no longer wanted");
    assert!(pk.set_priority(1, Priority::Skip));
    assert!(!pk.set_priority(1, Priority::Skip), "no change");
    assert_eq!(pk.priority(4), Priority::High);
    assert!(!pk.wanted(0) && pk.wanted(2));

    let all = Bitfield::full(count);
    let order = pick_order(&mut pk, &all);
    assert_eq!(order.len(), 4, "{order:?}");
    let mut high: Vec<u32> = order[..2].to_vec();
    high.sort_unstable();
    assert_eq!(high, [4, 5]);
    let mut normal: Vec<u32> = order[2..].to_vec();
    normal.sort_unstable();
    assert_eq!(normal, [2, 3]);
    // Everything wanted is asked for: endgame, yet skipped pieces stay out.
    assert!(pk.in_endgame());
    for n in 2..6 {
        for blk in pick(&mut pk, &view(key(n), &all), 10) {
            assert!(blk.piece >= 2, "skipped piece {} picked", blk.piece);
        }
    }
    assert_eq!(pk.phase(0), Phase::Missing);
    assert_eq!(pk.phase(1), Phase::Missing);
}

#[test]
fn skipped_piece_is_picked_when_a_stream_wants_it() {
    let mut pk = picker(K, 4 * u64::from(K), 5);
    announce(&mut pk, &[0, 1, 2, 3]);
    for p in 0..4 {
        pk.set_priority(p, Priority::Skip);
    }
    let all = Bitfield::full(4);
    assert!(pick(&mut pk, &view(key(1), &all), 4).is_empty());
    assert_eq!(pk.set_stream_pieces(vec![2], 0), vec![2]);
    assert!(pk.wanted(2) && !pk.is_urgent(2));
    assert_eq!(pick(&mut pk, &view(key(1), &all), 4), vec![b(2, 0)]);
    // The stream moves on: the piece is unwanted again, its partial stays.
    assert_eq!(pk.set_stream_pieces(vec![], 0), vec![2]);
    assert!(pick(&mut pk, &view(key(2), &all), 4).is_empty());
}

#[test]
fn a_peer_continues_its_own_partial_piece() {
    // Three pieces of four blocks.
    let mut pk = picker(4 * K, 3 * 4 * u64::from(K), 9);
    let a = key(1);
    let bk = key(2);
    pk.pick(&view(a, &has(3, &[1])), 1, &mut Vec::new(), &never);
    pk.pick(&view(bk, &has(3, &[0])), 1, &mut Vec::new(), &never);
    assert_eq!(requesters_of(&pk, b(1, 0)), vec![a]);
    assert_eq!(requesters_of(&pk, b(0, 0)), vec![bk]);

    // Both partials have three free blocks; without affinity the lower index
    // (piece 0) would win the tie.
    let all = Bitfield::full(3);
    assert_eq!(
        pick(&mut pk, &view(a, &all), 3),
        vec![b(1, 1), b(1, 2), b(1, 3)]
    );
    assert_eq!(
        pick(&mut pk, &view(bk, &all), 3),
        vec![b(0, 1), b(0, 2), b(0, 3)]
    );
}

#[test]
fn free_blocks_of_partials_come_before_new_pieces() {
    let mut pk = picker(4 * K, 3 * 4 * u64::from(K), 2);
    // Piece 2 is by far the most common; 0 and 1 are rare.
    announce(&mut pk, &[0, 1, 2]);
    for _ in 0..5 {
        announce(&mut pk, &[2]);
    }
    let a = key(1);
    assert_eq!(pick(&mut pk, &view(a, &has(3, &[2])), 1), vec![b(2, 0)]);
    let all = Bitfield::full(3);
    assert_eq!(
        pick(&mut pk, &view(key(2), &all), 3),
        vec![b(2, 1), b(2, 2), b(2, 3)],
        "the started piece is finished before a rarer one is started"
    );
    assert_eq!(pk.partial_count(), 1);
    // Only then are new pieces started.
    let next = pick(&mut pk, &view(key(2), &all), 1);
    assert_eq!(next.len(), 1);
    assert!(next[0].piece < 2);
}

#[test]
fn a_choked_peer_gets_only_allowed_fast_pieces() {
    let mut pk = picker(K, 4 * u64::from(K), 4);
    announce(&mut pk, &[0, 1, 2, 3]);
    let all = Bitfield::full(4);
    let choked = PeerView {
        key: key(1),
        has: &all,
        choked: true,
        allowed_fast: &[3],
        urgent_share: u32::MAX,
        owed: &[],
        parole: false,
    };
    assert_eq!(pick(&mut pk, &choked, 4), vec![b(3, 0)]);
    assert!(pick(&mut pk, &choked, 4).is_empty());
    // Allowed-fast does not stretch to pieces the peer lacks.
    let lacking = has(4, &[0]);
    let choked = PeerView {
        key: key(2),
        has: &lacking,
        choked: true,
        allowed_fast: &[1],
        urgent_share: u32::MAX,
        owed: &[],
        parole: false,
    };
    assert!(pick(&mut pk, &choked, 4).is_empty());
    // Unchoked it may have piece 0.
    assert_eq!(pick(&mut pk, &view(key(2), &lacking), 4), vec![b(0, 0)]);
}

#[test]
fn endgame_starts_only_when_no_wanted_block_is_free() {
    // Two pieces of two blocks; peer A has only piece 0.
    let mut pk = picker(2 * K, 4 * u64::from(K), 6);
    announce(&mut pk, &[0]);
    let only0 = has(2, &[0]);
    assert!(!pk.in_endgame());
    assert_eq!(
        pick(&mut pk, &view(key(1), &only0), 5),
        vec![b(0, 0), b(0, 1)]
    );
    // Piece 1 is missing and wanted, though nobody has it: no endgame.
    assert!(!pk.in_endgame());
    assert!(pick(&mut pk, &view(key(2), &only0), 5).is_empty());
    assert_eq!(requesters_of(&pk, b(0, 0)), vec![key(1)]);
    // Once piece 1 is not wanted, every wanted block is asked for.
    pk.set_priority(1, Priority::Skip);
    assert!(pk.in_endgame());
    assert_eq!(
        pick(&mut pk, &view(key(2), &only0), 5),
        vec![b(0, 0), b(0, 1)]
    );
}

#[test]
fn endgame_duplicates_go_to_the_least_requested_blocks_up_to_the_limit() {
    let mut pk = picker(2 * K, 4 * u64::from(K), 8);
    let all = Bitfield::full(2);
    for _ in 0..6 {
        announce(&mut pk, &[0, 1]);
    }
    let a = pick(&mut pk, &view(key(1), &all), 3);
    assert_eq!(a.len(), 3);
    assert!(!pk.in_endgame(), "one block is still free");
    let everything: BTreeSet<BlockRef> = [b(0, 0), b(0, 1), b(1, 0), b(1, 1)].into();
    let free: Vec<BlockRef> = everything
        .iter()
        .copied()
        .filter(|x| !a.contains(x))
        .collect();
    assert_eq!(free.len(), 1);

    // B first takes the free block, then duplicates of blocks asked of one peer.
    let bb = pick(&mut pk, &view(key(2), &all), 3);
    assert_eq!(bb[0], free[0]);
    assert!(pk.in_endgame());
    assert_eq!(bb.len(), 3);
    assert!(bb[1..].iter().all(|x| a.contains(x)));

    // Requester counts now: two blocks with {A, B}, one with {A}, one with {B}.
    let singles: BTreeSet<BlockRef> = everything
        .iter()
        .copied()
        .filter(|&x| requesters_of(&pk, x).len() == 1)
        .collect();
    assert_eq!(singles.len(), 2);
    let c = pick(&mut pk, &view(key(3), &all), 4);
    assert_eq!(c.len(), 4);
    let c_first: BTreeSet<BlockRef> = c[..2].iter().copied().collect();
    assert_eq!(c_first, singles, "blocks with one requester come first");
    for x in &everything {
        assert!(requesters_of(&pk, *x).contains(&key(3)));
    }

    // D can join only the blocks with two requesters; E gets nothing.
    let d = pick(&mut pk, &view(key(4), &all), 4);
    let d_set: BTreeSet<BlockRef> = d.iter().copied().collect();
    assert_eq!(d_set, singles);
    assert!(pick(&mut pk, &view(key(5), &all), 4).is_empty());
    for x in &everything {
        assert_eq!(requesters_of(&pk, *x).len(), MAX_REQUESTERS, "{x:?}");
    }
    // A peer never asks for a block twice.
    assert!(pick(&mut pk, &view(key(1), &all), 4).is_empty());
}

#[test]
fn unrequest_frees_a_block_once_nobody_has_it() {
    let mut pk = picker(2 * K, 4 * u64::from(K), 1);
    announce(&mut pk, &[0, 1]);
    let all = Bitfield::full(2);
    let a = pick(&mut pk, &view(key(1), &all), 4);
    assert_eq!(a.len(), 4);
    let dup = pick(&mut pk, &view(key(2), &all), 1);
    assert_eq!(dup.len(), 1);
    let x = dup[0];
    pk.unrequest(x, key(1));
    assert_eq!(requesters_of(&pk, x), vec![key(2)]);
    assert!(pk.in_endgame());
    pk.unrequest(x, key(2));
    assert_eq!(
        pk.partial(x.piece).unwrap().blocks()[x.block as usize],
        BlockState::Free
    );
    assert!(!pk.in_endgame());
    // Unknown peers, pieces and blocks are ignored.
    pk.unrequest(b(1, 7), key(1));
    pk.unrequest(b(9, 0), key(1));
    assert_eq!(pick(&mut pk, &view(key(3), &all), 1), vec![x]);
}

#[test]
fn arrived_names_the_other_requesters_and_refuses_duplicates() {
    let mut pk = picker(2 * K, 4 * u64::from(K), 3);
    announce(&mut pk, &[0, 1]);
    let all = Bitfield::full(2);
    let a = pick(&mut pk, &view(key(1), &all), 4);
    assert_eq!(a.len(), 4);
    let bb = pick(&mut pk, &view(key(2), &all), 1);
    let x = bb[0];
    let c = pick(&mut pk, &view(key(3), &all), 1);
    assert_eq!(c.len(), 1);
    assert_ne!(c[0], x);
    assert_eq!(requesters_of(&pk, c[0]), vec![key(1), key(3)]);

    match pk.arrived(x, key(2), ip(2)) {
        Arrival::Accepted { others } => assert_eq!(others.as_slice(), [key(1)]),
        other => panic!("first copy refused: {other:?}"),
    }
    assert_eq!(pk.arrived(x, key(1), ip(1)), Arrival::Unwanted);
    assert_eq!(pk.arrived(x, key(2), ip(2)), Arrival::Unwanted);
    assert_eq!(pk.partial_bytes(x.piece), u64::from(K));

    // A block nobody asked for (it was unrequested) is still accepted once.
    let y = a
        .iter()
        .copied()
        .find(|y| *y != x && !c.contains(y))
        .unwrap();
    pk.unrequest(y, key(1));
    assert_eq!(
        pk.arrived(y, key(1), ip(1)),
        Arrival::Accepted {
            others: Requesters::default()
        }
    );
    assert!(
        !pick(&mut pk, &view(key(4), &all), 4).contains(&y),
        "a received block is not handed out"
    );

    // Out of range and missing pieces are unwanted.
    assert_eq!(pk.arrived(b(0, 5), key(1), ip(1)), Arrival::Unwanted);
    assert_eq!(pk.arrived(b(7, 0), key(1), ip(1)), Arrival::Unwanted);
}

#[test]
fn blocks_of_verified_or_missing_pieces_are_unwanted() {
    let mut pk = picker(2 * K, 4 * u64::from(K), 3);
    announce(&mut pk, &[0, 1]);
    let only0 = has(2, &[0]);
    let got = pick(&mut pk, &view(key(1), &only0), 2);
    for &x in &got {
        assert!(matches!(
            pk.arrived(x, key(1), ip(1)),
            Arrival::Accepted { .. }
        ));
    }
    assert!(!pk.written(got[0]));
    assert!(pk.written(got[1]));
    pk.verified(0);
    assert_eq!(pk.phase(0), Phase::Have);
    assert!(pk.have().get(0));
    assert!(pk.partial(0).is_none());
    assert_eq!(pk.arrived(b(0, 0), key(2), ip(2)), Arrival::Unwanted);
    assert_eq!(pk.phase(1), Phase::Missing);
    assert_eq!(pk.arrived(b(1, 0), key(2), ip(2)), Arrival::Unwanted);
    assert!(!pk.needed(0) && pk.needed(1));
}

#[test]
fn written_completes_a_piece_exactly_once() {
    let mut pk = picker(2 * K, 4 * u64::from(K), 3);
    announce(&mut pk, &[0, 1]);
    let got = pick(&mut pk, &view(key(1), &has(2, &[1])), 2);
    assert_eq!(got, vec![b(1, 0), b(1, 1)]);
    assert!(!pk.written(b(1, 0)), "requested, not received");
    for &x in &got {
        assert!(matches!(
            pk.arrived(x, key(1), ip(1)),
            Arrival::Accepted { .. }
        ));
    }
    assert!(!pk.written(b(1, 1)));
    assert!(!pk.written(b(1, 1)), "written twice");
    assert_eq!(pk.phase(1), Phase::Downloading);
    assert!(pk.written(b(1, 0)));
    assert_eq!(pk.phase(1), Phase::Verifying);
    assert!(!pk.written(b(1, 0)));
    assert!(!pk.written(b(1, 1)));
    assert!(!pk.written(b(1, 9)));
    assert!(!pk.written(b(0, 0)), "piece not started");
    // A verifying piece hands out nothing, not even in endgame.
    assert!(pick(&mut pk, &view(key(2), &has(2, &[1])), 4).is_empty());
    assert_eq!(pk.partial_bytes(1), 2 * u64::from(K));
}

#[test]
fn failed_resets_the_piece_and_names_each_contributor_once() {
    // One piece of three blocks.
    let mut pk = picker(4 * K, 3 * u64::from(K), 3);
    announce(&mut pk, &[0]);
    let all = Bitfield::full(1);
    let got = pick(&mut pk, &view(key(1), &all), 3);
    assert_eq!(got.len(), 3);
    let senders = [ip(5), ip(6), ip(5)];
    for (x, from) in got.iter().zip(senders) {
        assert!(matches!(
            pk.arrived(*x, key(1), from),
            Arrival::Accepted { .. }
        ));
    }
    let done: Vec<bool> = got.iter().map(|x| pk.written(*x)).collect();
    assert_eq!(done, [false, false, true]);

    assert_eq!(pk.failed(0), vec![ip(5), ip(6)]);
    assert_eq!(pk.phase(0), Phase::Missing);
    assert!(pk.partial(0).is_none());
    assert!(!pk.have().get(0));
    assert_eq!(pk.partial_bytes(0), 0);
    // It is downloaded again from scratch.
    assert_eq!(pick(&mut pk, &view(key(2), &all), 5), got);
    assert!(pk.failed(0).is_empty(), "no contributors this time");
}

#[test]
fn failed_does_not_undo_a_verified_piece() {
    let mut pk = picker(K, 2 * u64::from(K), 3);
    announce(&mut pk, &[0, 1]);
    let got = pick(&mut pk, &view(key(1), &has(2, &[0])), 1);
    pk.arrived(got[0], key(1), ip(1));
    assert!(pk.written(got[0]));
    pk.verified(0);
    assert!(pk.failed(0).is_empty());
    assert_eq!(pk.phase(0), Phase::Have);
    assert!(pk.have().get(0));
}

/// A torrent with an eight-block urgent piece (0) and a second piece.
fn urgent_picker() -> Picker {
    let mut pk = picker(8 * K, 16 * u64::from(K), 7);
    announce(&mut pk, &[0, 1]);
    assert!(pk.set_stream_pieces(vec![0], 1).is_empty());
    assert!(pk.is_urgent(0));
    pk
}

fn share_view(key: PeerKey, has: &Bitfield, share: u32) -> PeerView<'_> {
    PeerView {
        urgent_share: share,
        owed: &[],
        parole: false,
        ..view(key, has)
    }
}

fn count_in(blocks: &[BlockRef], piece: u32) -> usize {
    blocks.iter().filter(|x| x.piece == piece).count()
}

#[test]
fn urgent_share_spreads_the_urgent_piece_over_peers() {
    let mut pk = urgent_picker();
    let all = Bitfield::full(2);
    // Each peer asks for exactly its share.
    for n in 1..=2 {
        let got = pick(&mut pk, &share_view(key(n), &all, 3), 3);
        assert_eq!(count_in(&got, 0), 3, "peer {n}: {got:?}");
    }
    // The third takes the two blocks that are left, then moves on.
    let got = pick(&mut pk, &share_view(key(3), &all, 3), 3);
    assert_eq!(count_in(&got, 0), 2, "{got:?}");
    assert_eq!(count_in(&got, 1), 1, "{got:?}");
    // A share of 0 still lets a peer help with one block.
    let mut pk = urgent_picker();
    assert_eq!(
        pick(&mut pk, &share_view(key(1), &all, 0), 1),
        vec![b(0, 0)]
    );
}

#[test]

fn urgent_share_holds_when_the_peer_wants_more_blocks() {
    let mut pk = urgent_picker();
    let all = Bitfield::full(2);
    let got = pick(&mut pk, &share_view(key(1), &all, 3), 16);
    assert_eq!(
        count_in(&got, 0),
        3,
        "peer with a share of 3 took {got:?} of the urgent piece"
    );
    // Asking again later does not grow the share either.
    let again = pick(&mut pk, &share_view(key(1), &all, 3), 16);
    assert_eq!(count_in(&again, 0), 0, "{again:?}");
}

#[test]
fn urgent_blocks_are_asked_again_of_a_sooner_peer() {
    let mut pk = urgent_picker();
    let all = Bitfield::full(2);
    let first = pick(&mut pk, &share_view(key(1), &all, 8), 8);
    assert_eq!(count_in(&first, 0), 8);
    // Nobody is faster: the second peer leaves the urgent piece alone.
    let slow = pick(&mut pk, &share_view(key(2), &all, 4), 2);
    assert_eq!(count_in(&slow, 0), 0, "{slow:?}");
    // A faster peer doubles the last blocks of the queue, up to its share.
    let mut fast = Vec::new();
    pk.pick(&share_view(key(3), &all, 3), 3, &mut fast, &always);
    assert_eq!(fast, vec![b(0, 7), b(0, 6), b(0, 5)]);
    assert_eq!(requesters_of(&pk, b(0, 7)), vec![key(1), key(3)]);
    // Never past the requester limit.
    for n in 4..8 {
        let mut more = Vec::new();
        pk.pick(&share_view(key(n), &all, 8), 8, &mut more, &always);
    }
    for blk in 0..8 {
        assert!(requesters_of(&pk, b(0, blk)).len() <= MAX_REQUESTERS);
    }
}

#[test]
fn set_stream_pieces_reports_exactly_the_changes_in_wantedness() {
    let mut pk = picker(K, 6 * u64::from(K), 1);
    for p in 1..=3 {
        pk.set_priority(p, Priority::Skip);
    }
    // 1 and 2 become wanted; 4 was wanted anyway.
    assert_eq!(pk.set_stream_pieces(vec![1, 4, 2], 1), vec![1, 2]);
    assert_eq!(pk.stream_order(), [1, 4, 2]);
    assert!(pk.is_urgent(1) && !pk.is_urgent(4));
    // 1 is dropped, 2 stays, 3 joins.
    assert_eq!(pk.set_stream_pieces(vec![2, 3], 1), vec![1, 3]);
    assert!(!pk.wanted(1) && pk.wanted(2) && pk.wanted(3));
    // Duplicates and out-of-range pieces are dropped; 5 was wanted anyway.
    assert_eq!(pk.set_stream_pieces(vec![5, 5, 99, 2], 9), vec![3]);
    assert_eq!(pk.stream_order(), [5, 2]);
    assert!(pk.is_urgent(5) && pk.is_urgent(2));
    assert_eq!(pk.set_stream_pieces(Vec::new(), 0), vec![2]);
    assert!(pk.stream_order().is_empty());
    assert!(!pk.wanted(2) && pk.wanted(5));
    assert!(pk.set_stream_pieces(Vec::new(), 0).is_empty());
}

#[test]
fn wire_requests_match_blocks() {
    // Two pieces of 40000 bytes: the second is 20000, its last block 3616.
    let pk = picker(40_000, 60_000, 1);
    assert_eq!(pk.blocks_in(0), 3);
    assert_eq!(pk.blocks_in(1), 2);
    let r = pk.request_for(b(0, 2));
    assert_eq!((r.piece, r.offset, r.length), (0, 2 * K, 40_000 - 2 * K));
    let r = pk.request_for(b(1, 1));
    assert_eq!((r.piece, r.offset, r.length), (1, K, 20_000 - K));
    assert_eq!(pk.block_of(1, K, 20_000 - K), Some(b(1, 1)));
    assert_eq!(pk.block_of(1, K, K), None, "wrong length");
    assert_eq!(pk.block_of(0, 100, K), None, "unaligned");
    assert_eq!(pk.block_of(2, 0, K), None, "no such piece");
}

#[test]

fn arrived_others_equal_a_set_of_the_same_peers() {
    let mut pk = picker(K, u64::from(K), 3);
    announce(&mut pk, &[0]);
    let all = Bitfield::full(1);
    let x = pick(&mut pk, &view(key(1), &all), 1)[0];
    assert_eq!(pick(&mut pk, &view(key(2), &all), 1), vec![x]);
    let mut expected = Requesters::default();
    expected.insert(key(1));
    // Requested by [1, 2]; 2 delivers, so the others are {1}.
    assert_eq!(
        pk.arrived(x, key(2), ip(2)),
        Arrival::Accepted { others: expected }
    );
}

// ----- a property test over random sequences of picker calls -----

mod sequences {
    use proptest::prelude::*;

    use super::*;

    /// One call to the picker, in the order the torrent would make them.
    #[derive(Debug, Clone)]
    enum Op {
        /// Peer `peer` asks for `want` blocks, choked or not, with an urgent
        /// share (0: none) and an answer for `sooner`.
        Pick {
            peer: u8,
            want: u8,
            choked: bool,
            share: u8,
            sooner: bool,
        },
        /// One requester of one requested block will not deliver it.
        Unrequest(u16),
        /// One requested block arrives from one of its requesters.
        Arrive(u16),
        /// One received block is on disk.
        Write(u16),
        /// One verifying piece hashed right (or wrong).
        Hash(u8, bool),
        Priority(u8, u8),
        /// New stream order (indices past the end allowed) and urgent count.
        Stream(Vec<u8>, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<u8>(), 1u8..8, prop::bool::weighted(0.25), 0u8..4, any::<bool>()).prop_map(
                |(peer, want, choked, share, sooner)| Op::Pick {
                    peer,
                    want,
                    choked,
                    share,
                    sooner,
                }
            ),
            2 => any::<u16>().prop_map(Op::Unrequest),
            4 => any::<u16>().prop_map(Op::Arrive),
            4 => any::<u16>().prop_map(Op::Write),
            2 => (any::<u8>(), prop::bool::weighted(0.8)).prop_map(|(p, ok)| Op::Hash(p, ok)),
            1 => (any::<u8>(), any::<u8>()).prop_map(|(p, l)| Op::Priority(p, l)),
            1 => (prop::collection::vec(any::<u8>(), 0..4), 0u8..3)
                .prop_map(|(o, u)| Op::Stream(o, u)),
        ]
    }

    struct Peer {
        key: PeerKey,
        has: Bitfield,
        allowed_fast: Vec<u32>,
    }

    fn state(pk: &Picker, blk: BlockRef) -> Option<BlockState> {
        pk.partial(blk.piece)
            .map(|part| part.blocks()[blk.block as usize])
    }

    /// Every (block, requester) pair, in piece and block order.
    fn requested(pk: &Picker, count: u32) -> Vec<(BlockRef, PeerKey)> {
        let mut out = Vec::new();
        for piece in 0..count {
            let Some(part) = pk.partial(piece) else {
                continue;
            };
            for (i, s) in part.blocks().iter().enumerate() {
                if let BlockState::Requested(r) = s {
                    for &who in r.as_slice() {
                        out.push((b(piece, i as u32), who));
                    }
                }
            }
        }
        out
    }

    fn blocks_in_state(pk: &Picker, count: u32, want: BlockState) -> Vec<BlockRef> {
        let mut out = Vec::new();
        for piece in 0..count {
            if let Some(part) = pk.partial(piece) {
                for (i, s) in part.blocks().iter().enumerate() {
                    if *s == want {
                        out.push(b(piece, i as u32));
                    }
                }
            }
        }
        out
    }

    fn wanted_set(pk: &Picker, count: u32) -> Vec<bool> {
        (0..count).map(|p| pk.wanted(p)).collect()
    }

    /// What the life-cycle page promises, checked from the outside.
    fn check_invariants(pk: &Picker, count: u32) {
        let mut missing_selected = 0;
        let mut downloading_selected = 0;
        let mut free_selected = false;
        for p in 0..count {
            let phase = pk.phase(p);
            assert_eq!(pk.have().get(p), phase == Phase::Have, "piece {p}");
            assert_eq!(
                pk.partial(p).is_some(),
                matches!(phase, Phase::Downloading | Phase::Verifying),
                "piece {p} in {phase:?}"
            );
            let selected = pk.priority(p) != Priority::Skip;
            match phase {
                Phase::Missing if selected => missing_selected += 1,
                Phase::Downloading if selected => {
                    downloading_selected += 1;
                    let part = pk.partial(p).unwrap();
                    free_selected |= part.blocks().contains(&BlockState::Free);
                }
                Phase::Verifying => {
                    let part = pk.partial(p).unwrap();
                    assert!(part.blocks().iter().all(|s| *s == BlockState::Written));
                }
                _ => {}
            }
        }
        assert_eq!(pk.missing_selected(), missing_selected);
        let endgame = missing_selected == 0 && downloading_selected > 0 && !free_selected;
        assert_eq!(pk.in_endgame(), endgame);
    }

    /// Whether `pick` must find something for `peer`: a wanted piece it may
    /// ask for that is missing or has a free block (an urgent piece only
    /// while the peer is under its share).
    fn something_to_pick(pk: &Picker, peer: &PeerView<'_>, count: u32) -> bool {
        (0..count).any(|p| {
            if !peer.may_ask(p) || !pk.wanted(p) {
                return false;
            }
            if pk.is_urgent(p) && pk.requested_by(p, peer.key) >= peer.urgent_share.max(1) as usize
            {
                return false;
            }
            match pk.phase(p) {
                Phase::Missing => true,
                Phase::Downloading => pk
                    .partial(p)
                    .is_some_and(|part| part.blocks().contains(&BlockState::Free)),
                _ => false,
            }
        })
    }

    fn run_pick(pk: &mut Picker, peer: &PeerView<'_>, want: usize, sooner: bool, count: u32) {
        let before: Vec<Option<BlockState>> = (0..count)
            .flat_map(|p| (0..pk.blocks_in(p)).map(move |i| (p, i)))
            .map(|(p, i)| state(pk, b(p, i)))
            .collect();
        let index = |pk: &Picker, x: BlockRef| -> usize {
            (0..x.piece)
                .map(|p| pk.blocks_in(p) as usize)
                .sum::<usize>()
                + x.block as usize
        };
        let expect_some = want > 0 && something_to_pick(pk, peer, count);
        let phases: Vec<Phase> = (0..count).map(|p| pk.phase(p)).collect();
        let mut out = Vec::new();
        let answer = |_: &Requesters| sooner;
        pk.pick(peer, want, &mut out, &answer);
        assert!(out.len() <= want, "{out:?}");
        assert!(
            !expect_some || !out.is_empty(),
            "nothing picked for {peer:?}"
        );
        let distinct: BTreeSet<BlockRef> = out.iter().copied().collect();
        assert_eq!(distinct.len(), out.len(), "{out:?}");
        for &x in &out {
            assert!(x.piece < count && x.block < pk.blocks_in(x.piece), "{x:?}");
            assert!(peer.has.get(x.piece), "{x:?}: peer lacks it");
            assert!(
                !peer.choked || peer.allowed_fast.contains(&x.piece),
                "{x:?}: choked"
            );
            assert!(pk.wanted(x.piece), "{x:?}: not wanted");
            assert!(
                matches!(
                    phases[x.piece as usize],
                    Phase::Missing | Phase::Downloading
                ),
                "{x:?} of a {:?} piece",
                phases[x.piece as usize]
            );
            match before[index(pk, x)] {
                None | Some(BlockState::Free) => {}
                Some(BlockState::Requested(r)) => {
                    assert!(!r.contains(peer.key), "{x:?} asked twice of one peer");
                    assert!(
                        pk.in_endgame() || pk.is_urgent(x.piece),
                        "{x:?} already requested by {r:?}, outside endgame"
                    );
                }
                other => panic!("{x:?} handed out in state {other:?}"),
            }
            match state(pk, x) {
                Some(BlockState::Requested(r)) => {
                    assert!(r.contains(peer.key) && r.len() <= MAX_REQUESTERS)
                }
                other => panic!("{x:?} picked but {other:?}"),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 128,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_calls_keep_the_life_cycle(
            piece_len in prop_oneof![Just(K), Just(2 * K), Just(4 * K)],
            pieces in 1u32..=6,
            tail in 1u32..=4 * K,
            seed in any::<u64>(),
            peers in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..3)), 1..=4),
            ops in prop::collection::vec(op(), 1..120),
        ) {
            let tail = 1 + (tail - 1) % piece_len;
            let total = u64::from(pieces - 1) * u64::from(piece_len) + u64::from(tail);
            let mut pk = picker(piece_len, total, seed);
            let count = pk.layout.piece_count();
            let peers: Vec<Peer> = peers
                .iter()
                .enumerate()
                .map(|(n, (mask, fast))| {
                    let mut has = Bitfield::new(count);
                    for p in 0..count {
                        has.set(p, mask & (1 << p) != 0 || *mask == 0xff);
                    }
                    for p in has.ones() {
                        pk.peer_has(p);
                    }
                    Peer {
                        key: key(n as u32 + 1),
                        has,
                        allowed_fast: fast.iter().map(|&p| u32::from(p) % count).collect(),
                    }
                })
                .collect();
            for op in ops {
                match op {
                    Op::Pick { peer, want, choked, share, sooner } => {
                        let p = &peers[usize::from(peer) % peers.len()];
                        let view = PeerView {
                            key: p.key,
                            has: &p.has,
                            choked,
                            allowed_fast: &p.allowed_fast,
                            urgent_share: if share == 0 { u32::MAX } else { u32::from(share) },
        owed: &[],
        parole: false,
                        };
                        run_pick(&mut pk, &view, usize::from(want), sooner, count);
                    }
                    Op::Unrequest(n) => {
                        let list = requested(&pk, count);
                        if let Some(&(x, who)) = list.get(usize::from(n) % list.len().max(1)) {
                            pk.unrequest(x, who);
                            match state(&pk, x) {
                                Some(BlockState::Requested(r)) => prop_assert!(!r.contains(who)),
                                Some(BlockState::Free) => {}
                                other => prop_assert!(false, "{:?} after unrequest", other),
                            }
                        }
                    }
                    Op::Arrive(n) => {
                        let list = requested(&pk, count);
                        if let Some(&(x, who)) = list.get(usize::from(n) % list.len().max(1)) {
                            let Some(BlockState::Requested(r)) = state(&pk, x) else {
                                unreachable!("listed as requested");
                            };
                            let expected: Vec<PeerKey> =
                                r.as_slice().iter().copied().filter(|k| *k != who).collect();
                            match pk.arrived(x, who, ip(1)) {
                                Arrival::Accepted { others } => {
                                    prop_assert_eq!(others.as_slice(), &expected[..]);
                                    // The torrent cancels the other copies.
                                    for other in expected {
                                        pk.unrequest(x, other);
                                    }
                                }
                                Arrival::Unwanted => prop_assert!(false, "first copy of {:?} refused", x),
                            }
                            prop_assert_eq!(state(&pk, x), Some(BlockState::Received));
                            prop_assert_eq!(pk.arrived(x, who, ip(1)), Arrival::Unwanted);
                        }
                    }
                    Op::Write(n) => {
                        let list = blocks_in_state(&pk, count, BlockState::Received);
                        if let Some(&x) = list.get(usize::from(n) % list.len().max(1)) {
                            let done = pk.written(x);
                            let all = pk
                                .partial(x.piece)
                                .unwrap()
                                .blocks()
                                .iter()
                                .all(|s| *s == BlockState::Written);
                            prop_assert_eq!(done, all);
                            prop_assert_eq!(pk.phase(x.piece) == Phase::Verifying, all);
                            prop_assert!(!pk.written(x), "written twice");
                        }
                    }
                    Op::Hash(n, ok) => {
                        let list: Vec<u32> =
                            (0..count).filter(|&p| pk.phase(p) == Phase::Verifying).collect();
                        if let Some(&p) = list.get(usize::from(n) % list.len().max(1)) {
                            if ok {
                                pk.verified(p);
                                prop_assert_eq!(pk.phase(p), Phase::Have);
                            } else {
                                prop_assert_eq!(pk.failed(p), vec![ip(1)]);
                                prop_assert_eq!(pk.phase(p), Phase::Missing);
                            }
                        }
                    }
                    Op::Priority(p, l) => {
                        let p = u32::from(p) % count;
                        let before = pk.wanted(p);
                        let prio = [Priority::Skip, Priority::Normal, Priority::High][usize::from(l) % 3];
                        let changed = pk.set_priority(p, prio);
                        prop_assert_eq!(changed, before != pk.wanted(p));
                        prop_assert_eq!(pk.priority(p), prio);
                    }
                    Op::Stream(order, urgent) => {
                        let before = wanted_set(&pk, count);
                        let order: Vec<u32> =
                            order.iter().map(|&p| u32::from(p) % (count + 1)).collect();
                        let changed = pk.set_stream_pieces(order.clone(), usize::from(urgent));
                        let after = wanted_set(&pk, count);
                        let expected: Vec<u32> =
                            (0..count).filter(|&p| before[p as usize] != after[p as usize]).collect();
                        prop_assert_eq!(changed, expected);
                        let mut kept = Vec::new();
                        for p in order {
                            if p < count && !kept.contains(&p) {
                                kept.push(p);
                            }
                        }
                        prop_assert_eq!(pk.stream_order(), &kept[..]);
                    }
                }
                check_invariants(&pk, count);
            }
        }
    }
}

//! Scenario 5: streaming. A reader opens a stream in the middle of a large file
//! in a swarm of 8 seeds that upload 2 MiB/s each over 50 ms links. Its first
//! byte must come within twice the ideal: one piece over the aggregate
//! bandwidth, plus two round trips (interested → unchoke, request → data).
//! After reading for a while it seeks elsewhere; the same bound holds.

use std::time::Duration;

use sluice_core::picker::Priority;
use sluice_core::torrent::{Event, StreamId};
use sluice_core::Time;
use sluice_tests::sim::{Content, NodeSpec, Sim};

const PIECE: u64 = 1 << 20;
const SEEDS: u64 = 8;
const SEED_RATE: u64 = 2 << 20;
const ONE_WAY: Duration = Duration::from_millis(50);

fn ideal() -> Duration {
    let transfer = Duration::from_secs_f64(PIECE as f64 / (SEEDS * SEED_RATE) as f64);
    transfer + 4 * ONE_WAY
}

/// Runs until the stream reports verified bytes at `position`; returns when.
fn wait_ready(sim: &mut Sim, node: usize, stream: StreamId, position: u64) -> Option<Time> {
    let seen = sim.nodes[node].events.len();
    let ok = sim.run_until(Duration::from_secs(30), |sim| {
        sim.nodes[node].events[seen..].iter().any(|(_, e)| {
            matches!(e, Event::StreamReady { stream: s, position: p, available }
                if *s == stream && *p == position && *available > position)
        })
    });
    ok.then(|| sim.now())
}

#[test]
fn first_byte_and_seek_within_twice_the_ideal() {
    let content = Content::single(5, 256 << 20, PIECE as u32);
    let len = content.len();
    let mut sim = Sim::new(5, content);
    let seeds: Vec<usize> = (0..SEEDS)
        .map(|_| sim.add_node(NodeSpec::seed().upload(SEED_RATE).latency(ONE_WAY)))
        .collect();
    let leech = sim.add_node(NodeSpec::leecher().latency(Duration::ZERO));
    // Like torrent-stream: nothing is downloaded unless a reader asks.
    sim.with(leech, |t, now| t.set_file_priority(now, 0, Priority::Skip));
    for &s in &seeds {
        sim.introduce(leech, s);
    }
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.nodes[leech].torrent.peer_count(), SEEDS as usize);
    assert_eq!(
        sim.nodes[leech].torrent.have().count(),
        0,
        "nothing fetched unasked"
    );

    // Open in the middle, not on a piece boundary.
    let middle = len / 2 + 12_345;
    let opened = sim.now();
    let stream = sim
        .with(leech, |t, now| t.open_stream_at(now, 0, 0..len, middle))
        .unwrap();
    let ready = wait_ready(&mut sim, leech, stream, middle).expect("first byte");
    let first = ready - opened;

    // Read along for a few seconds, as a player would.
    let mut pos = middle;
    let until = sim.now() + Duration::from_secs(4);
    while sim.now() < until {
        let avail = sim.nodes[leech]
            .torrent
            .stream_available(stream)
            .unwrap()
            .end;
        if avail > pos {
            pos = avail.min(pos + (2 << 20));
            sim.with(leech, |t, now| t.seek_stream(now, stream, pos))
                .unwrap();
        }
        sim.run_for(Duration::from_millis(100));
    }
    assert!(pos > middle + 4 * PIECE, "the reader made progress: {pos}");

    // Seek to a quarter of the file.
    let target = len / 4 + 777;
    let sought = sim.now();
    sim.with(leech, |t, now| t.seek_stream(now, stream, target))
        .unwrap();
    let ready = wait_ready(&mut sim, leech, stream, target).expect("first byte after seek");
    let after_seek = ready - sought;

    let ideal = ideal();
    println!(
        "streaming, 8 seeds × 2 MiB/s, 50 ms links, 1 MiB pieces: ideal {:.0} ms; first byte {:.0} ms ({:.2}× ideal); after seek {:.0} ms ({:.2}× ideal)",
        ideal.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        first.as_secs_f64() / ideal.as_secs_f64(),
        after_seek.as_secs_f64() * 1e3,
        after_seek.as_secs_f64() / ideal.as_secs_f64()
    );
    assert!(
        first <= 2 * ideal,
        "first byte after {first:?}, ideal {ideal:?}"
    );
    assert!(
        after_seek <= 2 * ideal,
        "after seek {after_seek:?}, ideal {ideal:?}"
    );
    // Only what the reader needed was fetched: the pieces it read, its
    // read-ahead, and the piece at the new position; never the file's start.
    let have: Vec<u32> = sim.nodes[leech].torrent.have().ones().collect();
    let first_piece = (middle / PIECE) as u32;
    let read_end = (pos / PIECE) as u32;
    let target_piece = (target / PIECE) as u32;
    let readahead_pieces = (64 << 20) / PIECE as u32;
    for p in &have {
        let near_reader = (first_piece..=read_end + readahead_pieces).contains(p);
        let near_seek = (target_piece..=target_piece + readahead_pieces).contains(p);
        assert!(near_reader || near_seek, "piece {p} fetched for no reader");
    }
    println!("{} of 256 pieces fetched", have.len());
}

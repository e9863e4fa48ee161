//! Peer exchange (BEP 11) with libtorrent: sluice is told of one libtorrent peer
//! and must find a second one, a seed, through that peer's `ut_pex` messages.
//!
//! Three peers, each on its own loopback address so that every log names who is
//! who by IP alone:
//!
//! * **B**, a libtorrent seed on 127.0.0.3 with peer exchange off, so that it
//!   cannot learn of sluice and every connection between the two is sluice's
//!   doing; upload-limited so that a transfer from it spans several of its
//!   twice-a-second `peer_stats` reports;
//! * **A**, a libtorrent leecher on 127.0.0.2 told to connect to B, its download
//!   limited so that it stays a leecher (and stays connected to B) for the whole
//!   test and has next to nothing to pass on;
//! * **sluice** on 127.0.0.1, given only A's address: no tracker in the torrent,
//!   and neither driver runs DHT or LSD. B's address can only come from A's
//!   peer exchange.
//!
//! sluice passes when it opened a connection to B's listen address (its own
//! `PeerConnected` event), B saw that connection come in from 127.0.0.1, sluice
//! completed, and B's own counters say it sent sluice at least half the payload.
//!
//! What libtorrent 2.0.8 does, read from its `ut_pex.cpp` and seen here:
//!
//! * `ut_pex` is one of libtorrent's default plugins; `lt.session(settings)` in
//!   `lt_peer.py` adds them, so every libtorrent peer of these tests speaks it
//!   (never for a private torrent).
//! * A peer is listed only once its handshake is done, and only if libtorrent
//!   connected to it or it sent its listen port (`p` in the extension
//!   handshake); a peer that connected in is listed at that listen port. A
//!   connecting to B makes B's listen address known to A.
//! * A sends nothing while it has at most one peer. Its first message to a peer
//!   is the full list of its peers (the recipient included, at its listen
//!   port); later ones are diffs from a list A rebuilds once a minute. The
//!   messages are due at A's once-a-second tick, and one process sends them
//!   at least min(3 s, 60 s / peers) apart, whoever they go to. So the test
//!   waits for A to be connected to B *before* sluice connects to A: then the
//!   first message lists B, and comes within about 4 s at worst. sluice
//!   connected to B 0.49–1.05 s after connecting to A in our runs. Had the
//!   first message missed B, the next chance would be a diff a minute later,
//!   which [`PEX_WAIT`] leaves room for.
//! * A tells B too, once it has two peers: B hears of sluice's listen address
//!   (and of its own, which it then dials every second or so, dropping each
//!   connection as "connected to ourselves"). With peer exchange on, B, a
//!   seed, dialled sluice within 10 ms of sluice dialling B, and libtorrent
//!   closed one of the two as "duplicate peer-id": which one is a race. Hence
//!   `--no-pex` for B (`torrent_flags::disable_pex`: it still advertises
//!   `ut_pex`, but neither sends nor heeds it).
//! * Seeds drop each other once both are complete, so A must not complete
//!   before the message is sent; hence its download limit.
//! * libtorrent sends up to 100 peers a message, and ignores loopback
//!   addresses in what it *receives* unless the sender is local too, which
//!   does not matter here.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::{scratch, LIMIT};
use crate::peers::data::{self, MIB};
use crate::peers::{describe_all, Driver, LtOptions, LtPeer, SluicePeer, START_TIMEOUT};
use crate::require_python_libtorrent;
use sluice_std::core::torrent::Direction;

/// Where the seed B listens and connects from.
const SEED_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// Where the leecher A listens and connects from.
const LEECHER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Where sluice listens; its connections come from there too (the kernel's
/// source address for a loopback destination).
const SLUICE_IP: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Size of the payload.
const SIZE: u64 = 16 * MIB;

/// Upload limit of the seed B, bytes/s: the 16 MiB take about 4 s.
const SEED_RATE: u64 = 4 * MIB;

/// Download limit of the leecher A, bytes/s: it gets a few pieces at most
/// while the test runs.
const LEECHER_RATE: u64 = 64 << 10;

/// How long sluice may take to connect to B after connecting to A: A's first
/// message comes within seconds, and a missed one is followed by a diff a
/// minute later.
const PEX_WAIT: Duration = Duration::from_secs(75);

/// A sluice leecher told only of a libtorrent leecher learns of a libtorrent
/// seed from the leecher's peer exchange, connects to it and downloads from it.
pub fn sluice_finds_a_libtorrent_seed_through_pex(driver: Driver) {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = scratch(driver, "pex");
    let payload = data::single_file(dir.path(), "pex.bin", SIZE, 0x11_0b, &[]);
    let timeout = PEX_WAIT + LIMIT + Duration::from_secs(30);
    let seed_opts = LtOptions {
        ip: SEED_IP,
        upload_limit: SEED_RATE,
        pex: false,
        report_peers: true,
        timeout,
        ..LtOptions::default()
    };
    let Some(seed) = LtPeer::seed(&payload.torrent, &payload.save_path, &seed_opts) else {
        return;
    };
    let leech_opts = LtOptions {
        ip: LEECHER_IP,
        peers: vec![seed.addr()],
        download_limit: LEECHER_RATE,
        report_peers: true,
        timeout,
        ..LtOptions::default()
    };
    let Some(mut leecher) = LtPeer::leech(&payload.torrent, &dir.join("lt"), &leech_opts) else {
        return;
    };
    // A's first peer-exchange message to sluice lists the peers A is connected
    // to at that moment: be sure B is one of them.
    leecher
        .wait_connected(IpAddr::V4(SEED_IP), START_TIMEOUT)
        .unwrap_or_else(|| {
            panic!(
                "the libtorrent leecher did not connect to the seed\n{}",
                describe_all(&[&leecher, &seed])
            )
        });

    let sluice = SluicePeer::start_with(
        driver,
        "leecher",
        &dir.join("sluice"),
        &payload.created.bytes,
        |o| o.listen = SocketAddr::new(IpAddr::V4(SLUICE_IP), 0),
    );
    let t0 = Instant::now();
    sluice.torrent.connect(leecher.addr());
    let (to_a, _) = sluice
        .wait_connected(leecher.addr(), START_TIMEOUT)
        .unwrap_or_else(|| {
            panic!(
                "{} did not connect to the libtorrent leecher\n{}",
                driver.name(),
                describe_all(&[&sluice, &leecher, &seed])
            )
        });
    let (to_b, direction) = sluice
        .wait_connected(seed.addr(), PEX_WAIT)
        .unwrap_or_else(|| {
            panic!(
                "{} never connected to the seed it could only learn of by peer exchange\n{}",
                driver.name(),
                describe_all(&[&sluice, &leecher, &seed])
            )
        });
    assert_eq!(
        direction,
        Direction::Outbound,
        "the seed at {} connected to {}, not the other way round",
        seed.addr(),
        driver.name()
    );
    // B agrees: a connection from sluice's address (A's are from 127.0.0.2).
    let (seen_by_b, incoming) = seed
        .wait_connected(IpAddr::V4(SLUICE_IP), Duration::from_secs(10))
        .unwrap_or_else(|| {
            panic!(
                "the seed never saw a connection from {SLUICE_IP}\n{}",
                describe_all(&[&seed, &leecher, &sluice])
            )
        });
    assert!(
        incoming,
        "the seed connected to {seen_by_b}, not the other way round"
    );

    sluice.wait_complete(LIMIT, &[&seed, &leecher]);
    let took = t0.elapsed();
    let stats = sluice.torrent.stats().expect("stats");
    // B reports its counters at most twice a second: give the last report time
    // to come (it may not, if the two seeds drop each other first).
    let half = SIZE / 2;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut from_b = seed.payload_with(IpAddr::V4(SLUICE_IP)).1;
    while from_b < half && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        from_b = seed.payload_with(IpAddr::V4(SLUICE_IP)).1;
    }
    let a_sent = leecher.payload_with(IpAddr::V4(SLUICE_IP)).1;
    let a_got = leecher.payload_with(IpAddr::V4(SEED_IP)).0;
    leecher.stop();
    sluice.shutdown();

    data::assert_same_tree(&payload.root, &dir.join("sluice/pex.bin"), &[]);
    assert!(
        from_b >= half,
        "the seed says it sent {} only {from_b} bytes of {SIZE}\n{}",
        driver.name(),
        describe_all(&[&seed, &leecher])
    );
    println!(
        "{} connected to the libtorrent leecher {:.2?} after start, to the seed {:.2?} later \
         (peer exchange), complete {took:.2?} after being told of the leecher. \
         The seed sent it {:.1} MiB (of {:.1} MiB downloaded), the leecher {:.1} MiB \
         (it had downloaded {:.1} MiB from the seed)\n  {}",
        driver.name(),
        to_a,
        to_b.saturating_sub(to_a),
        from_b as f64 / MIB as f64,
        stats.downloaded as f64 / MIB as f64,
        a_sent as f64 / MIB as f64,
        a_got as f64 / MIB as f64,
        sluice.timeline()
    );
}

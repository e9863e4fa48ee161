//! A mixed swarm on 127.0.0.1: a libtorrent seed, a sluice leecher and a libtorrent
//! leecher, all at once. The seed's upload is limited, so the two leechers finish
//! sooner by trading pieces with each other; both must complete with byte-identical
//! files.

use std::time::{Duration, Instant};

use super::{scratch, LIMIT};
use crate::peers::data::{self, MIB};
use crate::peers::{describe_all, Driver, LtOptions, LtPeer, SluicePeer};
use crate::require_python_libtorrent;

/// Upload limit of the seed, bytes/s.
const SEED_RATE: u64 = 8 << 20;

/// 48 MiB from a libtorrent seed to a sluice leecher and a libtorrent leecher.
pub fn libtorrent_seed_sluice_and_libtorrent_leechers(driver: Driver) {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = scratch(driver, "swarm");
    let payload = data::single_file(dir.path(), "swarm.bin", 48 * MIB, 0x5001, &[]);
    let seed_opts = LtOptions {
        upload_limit: SEED_RATE,
        timeout: LIMIT + Duration::from_secs(30),
        ..LtOptions::default()
    };
    let Some(seed) = LtPeer::seed(&payload.torrent, &payload.save_path, &seed_opts) else {
        return;
    };

    let t0 = Instant::now();
    let sluice = SluicePeer::start(
        driver,
        "leecher",
        &dir.join("sluice"),
        &payload.created.bytes,
    );
    sluice.torrent.connect(seed.addr());
    // The libtorrent leecher connects to both (one connection per pair).
    let lt_opts = LtOptions {
        peers: vec![seed.addr(), sluice.addr()],
        timeout: LIMIT,
        // Stay a while after completing, so the sluice leecher may still use it.
        linger: Duration::from_secs(60),
        ..LtOptions::default()
    };
    let Some(mut lt) = LtPeer::leech(&payload.torrent, &dir.join("lt"), &lt_opts) else {
        return;
    };

    let sluice_took = sluice.wait_complete(LIMIT, &[&seed, &lt]);
    lt.log()
        .wait_for(LIMIT.saturating_sub(t0.elapsed()), |l| l == "complete")
        .unwrap_or_else(|| {
            panic!(
                "the libtorrent leecher did not complete\n{}",
                describe_all(&[&lt, &sluice, &seed])
            )
        });
    let lt_took = t0.elapsed();
    let stats = sluice.torrent.stats().expect("stats");
    let lt_last = lt.last_progress().unwrap_or_default();
    lt.stop();
    sluice.shutdown();

    data::assert_same_tree(&payload.root, &dir.join("sluice/swarm.bin"), &[]);
    // A swarm, not two downloads side by side: sluice served the other leecher too.
    assert!(
        stats.uploaded > 0,
        "the {} leecher uploaded nothing to the libtorrent leecher: {stats:?}",
        driver.name()
    );
    data::assert_same_tree(&payload.root, &dir.join("lt/swarm.bin"), &[]);
    println!(
        "swarm of 48 MiB, seed limited to {} MiB/s: {} complete after {sluice_took:.2?} \
         (downloaded {:.1} MiB, uploaded {:.1} MiB), libtorrent leecher complete after {lt_took:.2?} \
         (last: {lt_last})\n  sluice: {}",
        SEED_RATE / MIB,
        driver.name(),
        stats.downloaded as f64 / MIB as f64,
        stats.uploaded as f64 / MIB as f64,
        sluice.timeline()
    );
}

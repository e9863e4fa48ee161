//! Replays every committed fuzz seed through the same functions the cargo-fuzz
//! targets call, so stable CI exercises them on every run. A seed that makes a
//! target panic fails this test with the seed's name.

use std::path::Path;

use sluice_core::fuzzing;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "fuzz target {target} panicked on {}",
            path.display()
        );
        count += 1;
    }
    assert!(count > 0, "no seeds in {}", dir.display());
    eprintln!("{target}: {count} inputs replayed");
}

#[test]
fn bencode_corpus() {
    replay("bencode", fuzzing::bencode);
}

#[test]
fn metainfo_corpus() {
    replay("metainfo", fuzzing::metainfo);
}

#[test]
fn magnet_corpus() {
    replay("magnet", fuzzing::magnet);
}

#[test]
fn wire_corpus() {
    replay("wire", fuzzing::wire);
}

#[test]
fn engine_corpus() {
    replay("engine", fuzzing::engine);
}

#[test]
fn http_tracker_corpus() {
    replay("http_tracker", fuzzing::http_tracker);
}

#[test]
fn udp_tracker_corpus() {
    replay("udp_tracker", fuzzing::udp_tracker);
}

#[test]
fn krpc_corpus() {
    replay("krpc", fuzzing::krpc);
}

#[test]
fn ut_pex_corpus() {
    replay("ut_pex", fuzzing::ut_pex);
}

#[test]
fn ut_metadata_corpus() {
    replay("ut_metadata", fuzzing::ut_metadata);
}

#[test]
fn dht_node_corpus() {
    replay("dht_node", fuzzing::dht_node);
}

#[test]
fn magnet_fetch_corpus() {
    replay("magnet_fetch", fuzzing::magnet_fetch);
}

#[test]
fn lsd_corpus() {
    replay("lsd", fuzzing::lsd);
}

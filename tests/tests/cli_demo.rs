//! `sluice demo` runs to completion by itself, without the network, and says
//! what it proved.

use std::time::{Duration, Instant};

use sluice_tests::{run_with_timeout, sluice, OutputExt, TempDir};

#[test]
fn demo_runs_to_completion() {
    let dir = TempDir::new("cli-demo");
    let t = Instant::now();
    let out = run_with_timeout(
        sluice::command().args(["demo", "--dir"]).arg(dir.path()),
        Duration::from_secs(120),
    );
    let took = t.elapsed();
    assert!(out.status.success(), "sluice demo failed\n{}", out.dump());
    let text = out.stdout_str();
    println!("sluice demo took {took:.2?}:\n{text}");
    for want in [
        "[5/5]",
        "206",
        "416",
        "byte-identical to the source",
        "pieces fetched",
        "proved:",
    ] {
        assert!(
            text.contains(want),
            "no {want:?} in the demo's output\n{text}"
        );
    }
    // What it fetched is a small part of the torrent.
    let line = text.lines().find(|l| l.contains("pieces fetched")).unwrap();
    let numbers: Vec<u32> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        numbers.len() >= 2 && numbers[0] < numbers[1] / 2,
        "fetched too much: {line}"
    );
    // --dir keeps its files.
    assert!(dir.join("sample.torrent").is_file());
    assert!(out.stderr_str().trim().is_empty(), "{}", out.dump());
}

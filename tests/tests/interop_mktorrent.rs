//! `.torrent` files made by mktorrent, read by `sluice info`, checked against
//! `transmission-show` and against the payload the test wrote.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sluice_tests::reference::{transmission_show, TransmissionShow};
use sluice_tests::sluice::{self, Info};
use sluice_tests::{
    assert_success, fixtures, require_tool, run_with_timeout, write_payload, OutputExt, TempDir,
};

const SINGLE_SIZE: u64 = 3 * 1024 * 1024 + 12_345;
const TRACKER_A: &str = "http://127.0.0.1:1/announce";
const TRACKER_B: &str = "udp://127.0.0.1:2/announce";

struct Tools {
    mktorrent: PathBuf,
    show: PathBuf,
}

fn tools() -> Option<Tools> {
    Some(Tools {
        mktorrent: require_tool("mktorrent")?,
        show: require_tool("transmission-show")?,
    })
}

/// `mktorrent -d -l <log2> <extra> -o <out> <path>`.
fn mktorrent(tools: &Tools, path: &Path, log2: u32, extra: &[&str], out: &Path) {
    let output = run_with_timeout(
        Command::new(&tools.mktorrent)
            .arg("-d")
            .arg("-l")
            .arg(log2.to_string())
            .args(extra)
            .arg("-o")
            .arg(out)
            .arg(path),
        Duration::from_secs(120),
    );
    assert_success(&output, "mktorrent");
}

/// The checks every mktorrent torrent goes through; returns sluice's view.
fn compare(tools: &Tools, torrent: &Path, log2: u32) -> (Info, TransmissionShow) {
    let reference = transmission_show(&tools.show, torrent);
    let info = sluice::info_json(torrent);
    assert_eq!(
        info.info_hash,
        reference.hash,
        "info-hash of {} differs from transmission-show",
        torrent.display()
    );
    info.assert_consistent();
    assert_eq!(info.piece_length, 1 << log2, "piece length");
    if let Some(count) = reference.piece_count {
        assert_eq!(info.piece_count, count, "piece count vs transmission-show");
    }
    assert_eq!(info.private, reference.private, "private flag");

    // The human output names the same info-hash.
    let human = sluice::run([std::ffi::OsStr::new("info"), torrent.as_os_str()]);
    assert_success(&human, "sluice info");
    assert_eq!(
        sluice::info_hash_line(&human.stdout_str()).as_deref(),
        Some(reference.hash.as_str()),
        "`info hash:` line of `sluice info`:\n{}",
        human.stdout_str()
    );
    (info, reference)
}

fn sorted(mut v: Vec<(String, u64)>) -> Vec<(String, u64)> {
    v.sort();
    v
}

#[test]
fn single_file() {
    let Some(tools) = tools() else { return };
    let dir = TempDir::new("mktorrent-single");
    let data = dir.join("single payload.bin");
    write_payload(&data, SINGLE_SIZE, 1);
    for log2 in [16, 20] {
        let torrent = dir.join(format!("single-{log2}.torrent"));
        mktorrent(&tools, &data, log2, &["-a", TRACKER_A], &torrent);
        let (info, _) = compare(&tools, &torrent, log2);
        assert_eq!(info.name, "single payload.bin");
        assert_eq!(info.total_size, SINGLE_SIZE);
        assert_eq!(
            info.data_files(),
            vec![("single payload.bin".to_string(), SINGLE_SIZE)]
        );
        assert_eq!(info.trackers, vec![vec![TRACKER_A.to_string()]]);
        assert!(!info.private);
    }
}

#[test]
fn nested_tree_with_non_ascii_names() {
    let Some(tools) = tools() else { return };
    let dir = TempDir::new("mktorrent-tree");
    let root = dir.join("données");
    let expected: Vec<(String, u64)> = fixtures::write_tree(&root, 100)
        .into_iter()
        .map(|(p, s)| (format!("données/{p}"), s))
        .collect();
    let total: u64 = expected.iter().map(|f| f.1).sum();

    let variants: [(u32, &[&str]); 2] = [
        (
            16,
            &[
                "-a",
                TRACKER_A,
                "-a",
                TRACKER_B,
                "-p",
                "-c",
                "un commentaire é",
            ],
        ),
        (20, &[]),
    ];
    for (log2, extra) in variants {
        let torrent = dir.join(format!("tree-{log2}.torrent"));
        mktorrent(&tools, &root, log2, extra, &torrent);
        let (info, reference) = compare(&tools, &torrent, log2);
        assert_eq!(info.name, "données");
        assert_eq!(info.total_size, total, "total size");
        assert_eq!(sorted(info.data_files()), expected, "files (sorted)");
        let mut listed = reference.files.clone();
        listed.sort();
        let mut ours: Vec<String> = info.data_files().into_iter().map(|f| f.0).collect();
        ours.sort();
        assert_eq!(ours, listed, "file paths vs transmission-show");
        if extra.is_empty() {
            assert!(!info.private);
            assert!(
                info.trackers.iter().all(|t| t.is_empty()),
                "no trackers expected: {:?}",
                info.trackers
            );
        } else {
            assert!(info.private, "mktorrent -p sets the private flag");
            assert_eq!(info.trackers, reference.trackers, "tracker tiers");
            assert_eq!(
                info.trackers,
                vec![vec![TRACKER_A.to_string()], vec![TRACKER_B.to_string()]]
            );
        }
    }
}

/// A magnet link built from the reference info-hash (hex and base32) reads back the
/// same hash and name.
#[test]
fn magnet_of_reference_hash() {
    let Some(tools) = tools() else { return };
    let dir = TempDir::new("mktorrent-magnet");
    let data = dir.join("m.bin");
    write_payload(&data, 100_000, 7);
    let torrent = dir.join("m.torrent");
    mktorrent(&tools, &data, 16, &["-a", TRACKER_A], &torrent);
    let hash = transmission_show(&tools.show, &torrent).hash;
    let b32 = base32(&hex_decode(&hash));
    for xt in [hash.clone(), hash.to_ascii_uppercase(), b32] {
        let uri = format!(
            "magnet:?xt=urn:btih:{xt}&dn=m%C3%A9.bin&tr=http%3A%2F%2F127.0.0.1%3A1%2Fannounce"
        );
        let out = sluice::run(["info", uri.as_str(), "--json"]);
        assert_success(&out, &format!("sluice info --json {uri}"));
        let json: serde_json::Value = serde_json::from_str(out.stdout_str().trim())
            .unwrap_or_else(|e| panic!("invalid JSON for {uri} ({e}):\n{}", out.stdout_str()));
        assert_eq!(json["info_hash"], hash.as_str(), "info_hash of {uri}");
        assert_eq!(json["name"], "mé.bin", "name (dn) of {uri}");
    }
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 4648 base32, no padding (20 bytes → 32 characters).
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0);
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

//! `.torrent` files made by `sluice create`, loaded and hash-checked by libtorrent
//! (python3-libtorrent, rasterbar 2.0) against the data they were made from.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value as Json;
use sluice_tests::sluice::{self, find_hex40, Info};
use sluice_tests::{
    assert_success, fixtures, require_python_libtorrent, run_with_timeout, write_payload,
    OutputExt, TempDir,
};

const TRACKER_A: &str = "http://127.0.0.1:1/announce";
const TRACKER_B: &str = "http://127.0.0.1:2/announce";

/// `sluice create <args>` in `cwd`; must succeed.
fn create<S: AsRef<OsStr>>(cwd: &Path, args: &[S]) -> Output {
    let mut cmd = sluice::command();
    cmd.current_dir(cwd).arg("create").args(args);
    let what = sluice_tests::describe(&cmd);
    let out = run_with_timeout(&mut cmd, sluice::TIMEOUT);
    assert_success(&out, &what);
    out
}

/// Run tests/scripts/lt_check.py on `torrent` with the data under `save_path`.
fn lt_check(python: &Path, torrent: &Path, save_path: &Path) -> Json {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lt_check.py");
    let out = run_with_timeout(
        Command::new(python)
            .arg(&script)
            .arg(torrent)
            .arg(save_path)
            .arg("60"),
        Duration::from_secs(120),
    );
    assert_success(&out, "lt_check.py");
    serde_json::from_str(out.stdout_str().trim())
        .unwrap_or_else(|e| panic!("lt_check.py printed invalid JSON ({e}):\n{}", out.dump()))
}

/// libtorrent reads the same torrent as sluice, and finds every piece valid.
fn assert_libtorrent_agrees(info: &Info, lt: &Json) {
    let u = |key: &str| {
        lt[key]
            .as_u64()
            .unwrap_or_else(|| panic!("lt_check: {key} missing in {lt}"))
    };
    assert_eq!(
        lt["info_hash"],
        info.info_hash.as_str(),
        "info-hash vs libtorrent"
    );
    assert_eq!(lt["name"], info.name.as_str(), "name vs libtorrent");
    assert_eq!(
        u("piece_length"),
        info.piece_length,
        "piece length vs libtorrent"
    );
    assert_eq!(
        u("piece_count"),
        info.piece_count,
        "piece count vs libtorrent"
    );
    assert_eq!(u("total_size"), info.total_size, "total size vs libtorrent");
    assert_eq!(lt["private"], info.private, "private flag vs libtorrent");
    let lt_files: Vec<(String, u64, u64, bool)> = lt["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path").to_string(),
                f["size"].as_u64().expect("size"),
                f["offset"].as_u64().expect("offset"),
                f["padding"].as_bool().expect("padding"),
            )
        })
        .collect();
    let ours: Vec<(String, u64, u64, bool)> = info
        .files
        .iter()
        .map(|f| (f.path.clone(), f.size, f.offset, f.padding))
        .collect();
    assert_eq!(
        ours, lt_files,
        "files (path, size, offset, padding) vs libtorrent"
    );

    assert_eq!(lt["error"], Json::Null, "libtorrent check failed: {lt}");
    assert_eq!(
        lt["checked"], true,
        "libtorrent did not finish checking: {lt}"
    );
    let total = u("piece_count");
    assert!(total > 0);
    assert_eq!(
        u("have_pieces"),
        total,
        "pieces libtorrent found valid: {lt}"
    );
    assert_eq!(u("num_pieces"), total, "status.num_pieces: {lt}");
}

/// `sluice create` printed the info-hash that `sluice info` reads back.
fn assert_printed_hash(out: &Output, info: &Info) {
    let text = out.stdout_str() + &out.stderr_str();
    let printed = sluice::info_hash_line(&text).or_else(|| find_hex40(&text));
    assert_eq!(
        printed.as_deref(),
        Some(info.info_hash.as_str()),
        "info-hash printed by sluice create:\n{}",
        out.dump()
    );
}

fn flat(trackers: &[Vec<String>]) -> Vec<String> {
    trackers.iter().flatten().cloned().collect()
}

#[test]
fn single_file_with_tracker_and_piece_length() {
    let Some(python) = require_python_libtorrent() else {
        return;
    };
    let dir = TempDir::new("lt-single");
    let data = dir.join("data");
    let size = 3 * 1024 * 1024 + 777;
    write_payload(&data.join("single é.bin"), size, 11);
    let torrent = dir.join("single.torrent");
    let out = create(
        dir.path(),
        &[
            data.join("single é.bin").as_os_str(),
            OsStr::new("-t"),
            OsStr::new(TRACKER_A),
            OsStr::new("--piece-length"),
            OsStr::new("65536"),
            OsStr::new("-o"),
            torrent.as_os_str(),
        ],
    );
    let info = sluice::info_json(&torrent);
    assert_printed_hash(&out, &info);
    info.assert_consistent();
    assert_eq!(info.name, "single é.bin");
    assert_eq!(info.piece_length, 65536);
    assert_eq!(info.total_size, size);
    assert_eq!(info.data_files(), vec![("single é.bin".to_string(), size)]);
    assert_eq!(flat(&info.trackers), vec![TRACKER_A.to_string()]);
    assert!(!info.private);

    let lt = lt_check(&python, &torrent, &data);
    assert_libtorrent_agrees(&info, &lt);
    assert_eq!(lt["trackers"], serde_json::json!([[TRACKER_A]]));
}

#[test]
fn nested_tree_private_two_trackers() {
    let Some(python) = require_python_libtorrent() else {
        return;
    };
    let dir = TempDir::new("lt-tree");
    let data = dir.join("data");
    let expected: Vec<(String, u64)> = fixtures::write_tree(&data.join("données"), 200)
        .into_iter()
        .map(|(p, s)| (format!("données/{p}"), s))
        .collect();
    let torrent = dir.join("tree.torrent");
    let comment = "commentaire: ça marche ✓";
    let out = create(
        dir.path(),
        &[
            data.join("données").as_os_str(),
            OsStr::new("-t"),
            OsStr::new(TRACKER_A),
            OsStr::new("-t"),
            OsStr::new(TRACKER_B),
            OsStr::new("--piece-length"),
            OsStr::new("32768"),
            OsStr::new("--private"),
            OsStr::new("--comment"),
            OsStr::new(comment),
            OsStr::new("-o"),
            torrent.as_os_str(),
        ],
    );
    let info = sluice::info_json(&torrent);
    assert_printed_hash(&out, &info);
    info.assert_consistent();
    assert_eq!(info.name, "données");
    assert_eq!(info.piece_length, 32768);
    assert!(info.private, "--private");
    let mut files = info.data_files();
    files.sort();
    assert_eq!(files, expected, "files (sorted)");
    assert_eq!(
        flat(&info.trackers),
        vec![TRACKER_A.to_string(), TRACKER_B.to_string()]
    );

    let lt = lt_check(&python, &torrent, &data);
    assert_libtorrent_agrees(&info, &lt);
    assert_eq!(lt["comment"], comment, "comment as libtorrent reads it");
    let lt_trackers: Vec<String> = lt["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t.as_array().unwrap().iter())
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        lt_trackers,
        vec![TRACKER_A, TRACKER_B],
        "trackers vs libtorrent"
    );
}

#[test]
fn default_piece_length_and_output_name() {
    let Some(python) = require_python_libtorrent() else {
        return;
    };
    let dir = TempDir::new("lt-default");
    let data = dir.join("data");
    fixtures::write_tree(&data.join("données"), 300);
    write_payload(&data.join("données/gros.bin"), 5 * 1024 * 1024 + 3, 301);
    let work = dir.join("work");
    std::fs::create_dir(&work).unwrap();
    create(&work, &[data.join("données")]);
    let torrent: PathBuf = work.join("données.torrent");
    assert!(
        torrent.is_file(),
        "sluice create without -o should write <name>.torrent in the current directory; \
         found {:?}",
        std::fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>()
    );
    let info = sluice::info_json(&torrent);
    info.assert_consistent();
    assert!(
        info.piece_length.is_power_of_two() && info.piece_length >= 16 * 1024,
        "default piece length {} should be a power of two ≥ 16 KiB",
        info.piece_length
    );
    assert!(
        flat(&info.trackers).is_empty(),
        "no -t given: {:?}",
        info.trackers
    );

    let lt = lt_check(&python, &torrent, &data);
    assert_libtorrent_agrees(&info, &lt);
}

/// The control for the tests above: libtorrent's check really looks at the data.
/// One flipped byte in the middle of the payload costs exactly the piece that holds
/// it, so "every piece valid" above is a finding, not a default.
#[test]
fn a_flipped_byte_costs_exactly_its_piece() {
    let Some(python) = require_python_libtorrent() else {
        return;
    };
    let dir = TempDir::new("lt-flip");
    let data = dir.join("data");
    let file = data.join("flip.bin");
    let piece_length: u64 = 16 * 1024;
    let size = 40 * piece_length + 123;
    write_payload(&file, size, 17);
    let torrent = dir.join("flip.torrent");
    create(
        dir.path(),
        &[
            file.as_os_str(),
            OsStr::new("--piece-length"),
            OsStr::new("16384"),
            OsStr::new("-o"),
            torrent.as_os_str(),
        ],
    );
    let info = sluice::info_json(&torrent);
    assert_eq!(info.piece_count, 41);

    let mut bytes = std::fs::read(&file).unwrap();
    let at = 17 * piece_length as usize + 5;
    bytes[at] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();

    let lt = lt_check(&python, &torrent, &data);
    assert_eq!(lt["error"], Json::Null, "libtorrent check failed: {lt}");
    assert_eq!(lt["checked"], true, "libtorrent did not finish: {lt}");
    assert_eq!(
        lt["have_pieces"].as_u64(),
        Some(info.piece_count - 1),
        "exactly one piece (17) should fail libtorrent's check: {lt}"
    );
}

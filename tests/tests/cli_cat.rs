//! `sluice cat`: the bytes of a file (or a range of it) on standard output,
//! nothing else, byte-identical to the source; and a reader that goes away
//! (`| head`) ends it quietly.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use sluice_tests::peers::data::{self, MIB};
use sluice_tests::sluice_proc::SluiceProc;
use sluice_tests::{run_with_timeout, sluice, ChildGuard, OutputExt, TempDir};

const LIMIT: Duration = Duration::from_secs(120);

fn cat(torrent: &Path, dir: &Path, peer: SocketAddr, extra: &[&str]) -> Output {
    let mut cmd = sluice::command();
    cmd.arg("cat")
        .arg(torrent)
        .arg("-o")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0", "--peer", &peer.to_string()])
        .args(extra);
    run_with_timeout(&mut cmd, LIMIT)
}

#[test]
fn cat_ranges_are_byte_identical() {
    let dir = TempDir::new("cli-cat");
    let payload = data::multi_file(dir.path(), "tree", 20 * MIB + 77, 0xca, &[]);
    let mut seed = SluiceProc::seed(&payload, |_| {});
    let peer = seed.peer_addr();
    let large = payload.root.join("big/large.bin");
    let len = std::fs::metadata(&large).unwrap().len();
    let files = &payload.created.meta.info.files;
    let large_index = files
        .iter()
        .position(|f| f.path.last().is_some_and(|n| n == "large.bin"))
        .unwrap()
        .to_string();

    let cases: [(&str, u64, u64); 4] = [
        ("10000000-10999999", 10_000_000, 10_999_999),
        ("123-456", 123, 456),
        ("-1000", len - 1000, len - 1),
        ("20000000-", 20_000_000, len - 1),
    ];
    for (i, (range, a, b)) in cases.iter().enumerate() {
        // The largest file is the default; name it for half the cases.
        let mut extra = vec!["--range", range];
        if i % 2 == 0 {
            extra.extend(["--file", &large_index]);
        }
        let out = cat(&payload.torrent, &dir.join(format!("o{i}")), peer, &extra);
        assert!(out.status.success(), "cat --range {range}\n{}", out.dump());
        let want = data::read_range(&large, *a, (b - a + 1) as usize);
        assert!(
            out.stdout == want,
            "cat --range {range}: {} bytes, want {} (first difference at {:?})",
            out.stdout.len(),
            want.len(),
            out.stdout.iter().zip(&want).position(|(x, y)| x != y)
        );
    }

    // A small file whole, by number.
    let (index, f) = files
        .iter()
        .enumerate()
        .find(|(_, f)| f.length > 0 && f.length < 100_000)
        .unwrap();
    let source = payload
        .save_path
        .join(f.path.iter().collect::<std::path::PathBuf>());
    let out = cat(
        &payload.torrent,
        &dir.join("small"),
        peer,
        &["--file", &index.to_string()],
    );
    assert!(out.status.success(), "{}", out.dump());
    assert_eq!(out.stdout, std::fs::read(&source).unwrap());
    assert!(seed.stop(Duration::from_secs(20)).success());
}

#[test]
fn a_closed_stdout_ends_cat_quietly() {
    let dir = TempDir::new("cli-cat-pipe");
    let payload = data::single_file(dir.path(), "movie.mkv", 16 * MIB, 0xcb, &[]);
    let mut seed = SluiceProc::seed(&payload, |_| {});
    let peer = seed.peer_addr();
    let mut cmd = sluice::command();
    cmd.arg("cat")
        .arg(&payload.torrent)
        .arg("-o")
        .arg(dir.join("o"))
        .args(["--listen", "127.0.0.1:0", "--peer", &peer.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&mut cmd);
    let mut out = child.child().stdout.take().unwrap();
    let mut head = vec![0u8; 100_000];
    out.read_exact(&mut head).unwrap();
    assert_eq!(head, data::read_range(&payload.root, 0, head.len()));
    drop(out);
    let status = child
        .wait_timeout(Duration::from_secs(60))
        .expect("cat did not end after its reader went away");
    let mut err = String::new();
    child
        .child()
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status}: {err}");
    assert!(!err.contains("error"), "{err}");
    assert!(seed.stop(Duration::from_secs(20)).success());
}

#[test]
fn cat_writes_nothing_else_on_stdout_and_errors_are_one_line() {
    let dir = TempDir::new("cli-cat-err");
    let payload = data::single_file(dir.path(), "a.txt", MIB, 0xcc, &[]);
    let o = dir.join("o");
    let out = sluice::run([
        "cat".as_ref(),
        payload.torrent.as_os_str(),
        "-o".as_ref(),
        o.as_os_str(),
        "--range".as_ref(),
        "-0".as_ref(),
    ] as [&std::ffi::OsStr; 6]);
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert!(out.stdout.is_empty());
    assert_eq!(out.stderr_str().lines().count(), 1, "{}", out.dump());
    assert!(out.stderr_str().starts_with("error: "));
}

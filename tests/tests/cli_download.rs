//! `sluice download` and `sluice seed` as processes on 127.0.0.1: between two
//! sluice processes, from a libtorrent seed, some files only, passing a download
//! on with `--seed`, refusing bad data, and Ctrl-C.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use sluice_tests::peers::data::{self, Payload, MIB};
use sluice_tests::peers::{LtOptions, LtPeer};
use sluice_tests::sluice_proc::SluiceProc;
use sluice_tests::{run_with_timeout, sluice, OutputExt, TempDir};

/// A download of a few MiB takes well under a second; this is for slow machines.
const LIMIT: Duration = Duration::from_secs(120);

/// How long a clean shutdown may take after Ctrl-C.
const STOP: Duration = Duration::from_secs(20);

/// Command-line arguments of mixed types.
fn args(parts: &[&dyn AsRef<OsStr>]) -> Vec<OsString> {
    parts.iter().map(|p| p.as_ref().to_owned()).collect()
}

fn seed(payload: &Payload) -> SluiceProc {
    SluiceProc::spawn(
        "seed",
        args(&[
            &"seed",
            &payload.torrent,
            &payload.root,
            &"--listen",
            &"127.0.0.1:0",
        ]),
    )
}

fn download(torrent: &Path, dir: &Path, peer: std::net::SocketAddr, extra: &[&str]) -> Output {
    let mut cmd = sluice::command();
    cmd.arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0", "--peer", &peer.to_string()])
        .args(extra);
    run_with_timeout(&mut cmd, LIMIT)
}

fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed\n{}", out.dump());
    assert!(
        out.stdout_str().contains("complete: "),
        "{what}: no `complete:` line\n{}",
        out.dump()
    );
}

/// One line on stderr starting with `error: `, exit status 1, no panic.
fn assert_clean_error(out: &Output, code: i32, words: &[&str]) {
    let err = out.stderr_str();
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("note: ")).collect();
    assert_eq!(out.status.code(), Some(code), "{}", out.dump());
    assert_eq!(lines.len(), 1, "want one error line\n{}", out.dump());
    assert!(lines[0].starts_with("error: "), "{}", out.dump());
    assert!(!err.contains("panicked"), "{}", out.dump());
    let lower = lines[0].to_lowercase();
    assert!(
        words.iter().any(|w| lower.contains(w)),
        "the error mentions none of {words:?}\n{}",
        out.dump()
    );
}

#[test]
fn download_from_a_sluice_seed_process_is_byte_identical() {
    let dir = TempDir::new("cli-dl");
    let payload = data::multi_file(dir.path(), "tree", 12 * MIB + 123, 0xd0, &[]);
    let mut seeder = seed(&payload);
    let addr = seeder.peer_addr();
    seeder.wait_line("seeding ", Duration::from_secs(10));

    let t = Instant::now();
    let out = download(&payload.torrent, &dir.join("got"), addr, &[]);
    assert_ok(&out, "sluice download");
    println!(
        "downloaded {} MiB from a sluice seed in {:.2?} (process start to exit)",
        payload.total_length() / MIB,
        t.elapsed()
    );
    data::assert_same_tree(&payload.root, &dir.join("got/tree"), &[]);

    // Ctrl-C ends the seed cleanly, with exit status 0.
    let status = seeder.stop(STOP);
    assert!(status.success(), "seed after Ctrl-C: {status}");
    seeder.wait_line("stopping: uploaded ", Duration::from_secs(5));
}

#[test]
fn download_only_some_files() {
    let dir = TempDir::new("cli-only");
    let payload = data::multi_file(dir.path(), "tree", 6 * MIB, 0xd1, &[]);
    let files = &payload.created.meta.info.files;
    let pick: Vec<usize> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.length > 50_000)
        .map(|(i, _)| i)
        .step_by(2)
        .collect();
    assert!(pick.len() >= 2);
    let mut seeder = seed(&payload);
    let addr = seeder.peer_addr();
    let only = pick
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let got = dir.join("got");
    let out = download(&payload.torrent, &got, addr, &["--only", &only]);
    assert_ok(&out, "sluice download --only");
    for (i, f) in files.iter().enumerate() {
        let rel: std::path::PathBuf = f.path.iter().collect();
        let (want, have) = (payload.save_path.join(&rel), got.join(&rel));
        if pick.contains(&i) {
            assert_eq!(
                data::first_difference(&want, &have),
                None,
                "{} differs",
                rel.display()
            );
        } else if f.length > 0 {
            assert!(
                !have.exists(),
                "{} was not asked for but is in the folder",
                rel.display()
            );
        }
    }
    assert!(seeder.stop(STOP).success());
}

#[test]
fn download_with_seed_passes_the_torrent_on() {
    let dir = TempDir::new("cli-relay");
    let payload = data::single_file(dir.path(), "movie.mkv", 9 * MIB + 7, 0xd2, &[]);
    let mut first = seed(&payload);
    let first_addr = first.peer_addr();

    // B downloads from A, then keeps seeding.
    let mut relay = SluiceProc::spawn(
        "download --seed",
        args(&[
            &"download",
            &payload.torrent,
            &"-o",
            &dir.join("relay"),
            &"--listen",
            &"127.0.0.1:0",
            &"--peer",
            &first_addr.to_string(),
            &"--seed",
        ]),
    );
    let relay_addr = relay.peer_addr();
    relay.wait_line("complete: ", LIMIT);
    relay.wait_line("seeding ", Duration::from_secs(10));
    assert!(first.stop(STOP).success());

    // C gets everything from B alone.
    let out = download(&payload.torrent, &dir.join("last"), relay_addr, &[]);
    assert_ok(&out, "sluice download from the relay");
    data::assert_same_tree(&payload.root, &dir.join("last/movie.mkv"), &[]);
    let status = relay.stop(STOP);
    assert!(status.success(), "download --seed after Ctrl-C: {status}");
}

#[test]
fn download_from_a_libtorrent_seed() {
    let dir = TempDir::new("cli-lt");
    let payload = data::multi_file(dir.path(), "tree", 16 * MIB + 1, 0xd3, &[]);
    let Some(lt) = LtPeer::seed(&payload.torrent, &payload.save_path, &LtOptions::default()) else {
        return;
    };
    let t = Instant::now();
    let out = download(&payload.torrent, &dir.join("got"), lt.addr(), &[]);
    assert_ok(&out, "sluice download from libtorrent");
    println!(
        "downloaded {} MiB from libtorrent in {:.2?}",
        payload.total_length() / MIB,
        t.elapsed()
    );
    data::assert_same_tree(&payload.root, &dir.join("got/tree"), &[]);
}

#[test]
fn seed_refuses_data_that_is_not_the_torrents() {
    let dir = TempDir::new("cli-badseed");
    let payload = data::single_file(dir.path(), "movie.mkv", 3 * MIB, 0xd4, &[]);
    let run = |path: &Path| {
        run_with_timeout(
            sluice::command()
                .arg("seed")
                .arg(&payload.torrent)
                .arg(path)
                .args(["--listen", "127.0.0.1:0"]),
            LIMIT,
        )
    };
    // One byte changed in the middle: the same size, one piece wrong.
    let mut bytes = std::fs::read(&payload.root).unwrap();
    bytes[1_500_000] ^= 0xff;
    std::fs::write(&payload.root, &bytes).unwrap();
    let out = run(&payload.root);
    assert_clean_error(&out, 1, &["1 of 12 pieces do not match"]);
    assert!(
        !payload.save_path.join(".sluice").exists(),
        "seed wrote into the data folder"
    );

    // Cut short.
    bytes.truncate(2 * MIB as usize);
    std::fs::write(&payload.root, &bytes).unwrap();
    assert_clean_error(&run(&payload.root), 1, &["incomplete"]);
    // Missing, or not the torrent's name.
    std::fs::remove_file(&payload.root).unwrap();
    assert_clean_error(&run(&payload.root), 1, &["no such file"]);
    assert_clean_error(&run(dir.path()), 1, &["not this torrent's data"]);
}

#[test]
fn errors_are_one_line() {
    let dir = TempDir::new("cli-dlerr");
    let payload = data::single_file(dir.path(), "a.bin", MIB, 0xd5, &[]);
    let t = payload.torrent.to_str().unwrap();
    let o = dir.join("o");
    let o = o.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["download", "/nonexistent.torrent", "-o", o],
            &["no such file"],
        ),
        (vec!["download", t, "-o", o, "--only", "3"], &["no file 3"]),
        (
            vec![
                "download",
                "magnet:?xt=urn:btih:0000000000000000000000000000000000000000",
                "-o",
                o,
            ],
            &["magnet"],
        ),
        (vec!["stream", t, "-o", o, "--file", "9"], &["no file 9"]),
        (
            vec!["cat", t, "-o", o, "--range", "5-2"],
            &["start is after end"],
        ),
        (
            vec!["cat", t, "-o", o, "--range", "2000000-"],
            &["past the end"],
        ),
        (
            vec!["download", t, "-o", o, "--peer", "nowhere"],
            &["not an address"],
        ),
        (
            vec!["download", t, "-o", o, "--listen", "127.0.0.1"],
            &["not an address"],
        ),
    ];
    for (args, words) in cases {
        let out = sluice::run(&args);
        let code = out.status.code();
        // clap's own errors exit with 2 and print a usage hint after the line.
        if code == Some(2) {
            let first = out.stderr_str().lines().next().unwrap_or("").to_lowercase();
            assert!(first.starts_with("error: "), "{args:?}\n{}", out.dump());
            assert!(
                words.iter().any(|w| first.contains(w)),
                "{args:?}\n{}",
                out.dump()
            );
            continue;
        }
        assert_clean_error(&out, 1, words);
    }

    // A busy listen address.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = sluice::run(["download", t, "-o", o, "--listen", &addr]);
    assert_clean_error(&out, 1, &["cannot listen"]);
}

#[test]
fn ctrl_c_stops_an_unfinished_download_cleanly() {
    let dir = TempDir::new("cli-int");
    let payload = data::single_file(dir.path(), "a.bin", MIB, 0xd6, &[]);
    // No peer at all: the download waits until interrupted.
    let mut dl = SluiceProc::spawn(
        "download",
        args(&[
            &"download",
            &payload.torrent,
            &"-o",
            &dir.join("got"),
            &"--listen",
            &"127.0.0.1:0",
        ]),
    );
    dl.peer_addr();
    let status = dl.stop(STOP);
    assert_eq!(status.code(), Some(130), "{}", dl.log().tail(20));
    let errors: Vec<String> = dl
        .log()
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("! error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", dl.log().tail(20));
    assert!(errors[0].contains("interrupted"), "{errors:?}");
}

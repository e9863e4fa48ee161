//! sluice-mio finds its peers through a tracker: opentracker on 127.0.0.1 (HTTP
//! and UDP on one port), torrents naming only that tracker, and no peer given
//! to anyone. A sluice-mio leecher downloads from a sluice-mio seed over an
//! HTTP tracker and over a UDP tracker, and from a libtorrent seed; the bytes
//! must come out identical. The same between `sluice seed` and `sluice
//! download` processes; and a tracker that cannot be used is reported on one
//! line without failing the command. The in-process scenarios are
//! [`sluice_tests::trackers`], shared with `tracker_std.rs`.
//!
//! Skipped with a printed reason when opentracker (or python3-libtorrent) is
//! missing, unless `SLUICE_REQUIRE_INTEROP=1`.

use std::time::{Duration, Instant};

use sluice_tests::peers::data::{self, MIB};
use sluice_tests::peers::{free_port, Driver, Tracker};
use sluice_tests::sluice_proc::SluiceProc;
use sluice_tests::trackers::{self, Protocol};
use sluice_tests::{require_tool, run_with_timeout, sluice, OutputExt, TempDir};

/// The longest a download (or a seed's check) may take.
const LIMIT: Duration = trackers::LIMIT;

#[test]
fn mio_leecher_finds_mio_seed_through_http_tracker() {
    trackers::same_driver(Driver::Mio, Protocol::Http, 0x7101);
}

#[test]
fn mio_leecher_finds_mio_seed_through_udp_tracker() {
    trackers::same_driver(Driver::Mio, Protocol::Udp, 0x7102);
}

#[test]
fn mio_leecher_finds_libtorrent_seed_through_tracker() {
    trackers::from_libtorrent(Driver::Mio, 0x7103);
}

/// `sluice seed` and `sluice download` processes, no `--peer`: the download
/// finds the seed through the HTTP tracker.
#[test]
fn cli_download_finds_cli_seed_through_tracker() {
    if require_tool("opentracker").is_none() {
        return;
    }
    let dir = TempDir::new("tracker-mio-cli");
    let port = free_port();
    let payload = data::single_file(
        dir.path(),
        "single.bin",
        16 * MIB,
        0x7104,
        &[Tracker::url(port)],
    );
    let Some(_tracker) = Tracker::start(dir.path(), port, &[payload.created.meta.info_hash]) else {
        return;
    };
    let mut seeder = SluiceProc::seed(&payload, |_| {});
    seeder.peer_addr();
    let t0 = Instant::now();
    let out_dir = dir.join("cli-leech");
    let mut cmd = sluice::command();
    cmd.arg("download")
        .arg(&payload.torrent)
        .arg("-o")
        .arg(&out_dir)
        .args(["--listen", "127.0.0.1:0"]);
    let out = run_with_timeout(&mut cmd, LIMIT);
    assert!(out.status.success(), "download failed\n{}", out.dump());
    assert!(
        !out.stderr_str().contains("tracker error"),
        "{}",
        out.dump()
    );
    eprintln!("tracker_mio cli: download in {:.2?}", t0.elapsed());
    data::assert_same_tree(&payload.root, &out_dir.join("single.bin"), &[]);
    seeder.stop(Duration::from_secs(20));
}

/// A tracker that cannot be used is one `tracker error:` line on stderr, and
/// the command still succeeds with the peer it was given.
#[test]
fn cli_reports_tracker_errors_without_failing() {
    let dir = TempDir::new("tracker-mio-cli-err");
    let unused = free_port();
    let trackers = [
        "https://127.0.0.1/announce".to_owned(),
        format!("http://127.0.0.1:{unused}/announce"),
    ];
    let payload = data::single_file(dir.path(), "single.bin", 4 * MIB, 0x7105, &trackers);
    let mut seeder = SluiceProc::seed(&payload, |_| {});
    let addr = seeder.peer_addr();
    let out_dir = dir.join("cli-leech");
    let mut cmd = sluice::command();
    cmd.arg("download")
        .arg(&payload.torrent)
        .arg("-o")
        .arg(&out_dir)
        .args(["--listen", "127.0.0.1:0", "--peer", &addr.to_string()]);
    let out = run_with_timeout(&mut cmd, LIMIT);
    assert!(out.status.success(), "download failed\n{}", out.dump());
    let err = out.stderr_str();
    let https: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("tracker error: https://127.0.0.1/announce: "))
        .collect();
    assert_eq!(https.len(), 1, "{}", out.dump());
    assert!(https[0].contains("HTTPS"), "{}", out.dump());
    assert!(!err.contains("panicked"), "{}", out.dump());
    data::assert_same_tree(&payload.root, &out_dir.join("single.bin"), &[]);
    seeder.stop(Duration::from_secs(20));
}

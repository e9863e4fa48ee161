//! Magnet links in sluice-mio: the metadata fetched with ut_metadata from a
//! libtorrent seed and from a sluice-mio seed, then the download; the second
//! start takes the metadata from the cache, with no peer at all.

use std::path::Path;
use std::time::{Duration, Instant};

use sluice_mio::{AddOptions, Client, ClientOptions};
use sluice_tests::peers::data::{self, Payload, MIB};
use sluice_tests::peers::{Driver, LtOptions, LtPeer, SluicePeer, Tracker};
use sluice_tests::sluice_proc::SluiceProc;
use sluice_tests::{require_python_libtorrent, TempDir};

/// The longest a fetch plus download may take.
const LIMIT: Duration = Duration::from_secs(120);

fn magnet(payload: &Payload, peer: std::net::SocketAddr) -> String {
    format!(
        "magnet:?xt=urn:btih:{}&x.pe={peer}",
        payload.created.meta.info_hash.to_hex()
    )
}

fn cache_file(dir: &Path, payload: &Payload) -> std::path::PathBuf {
    sluice_mio::magnet::cache_path(dir, &payload.created.meta.info_hash)
}

/// An in-process sluice-mio client downloading `uri` into `dir`; returns the
/// time to the metadata and to the first verified piece.
fn add_magnet_in_process(dir: &Path, uri: &str) -> (Duration, Duration) {
    let mut opts = ClientOptions::new(dir);
    opts.listen = "127.0.0.1:0".parse().unwrap();
    let client = Client::start(opts).unwrap();
    let t0 = Instant::now();
    let torrent = client
        .add_magnet(uri, AddOptions::default(), LIMIT)
        .unwrap();
    let metadata = t0.elapsed();
    let mut first = None;
    while !torrent.is_complete() {
        assert!(
            t0.elapsed() < LIMIT,
            "the download stalled at {:?}",
            torrent.progress()
        );
        if first.is_none() && torrent.progress().0 > 0 {
            first = Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let first = first.unwrap_or(t0.elapsed());
    client.shutdown().unwrap();
    (metadata, first)
}

/// `sluice download magnet:…` from a libtorrent seed: exit 0, the same bytes;
/// then with the seed gone, the metadata comes from the cache and the
/// complete download exits 0 without any peer.
#[test]
fn cli_downloads_magnet_from_libtorrent_seed_then_uses_the_cache() {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = TempDir::new("magnet-mio-lt");
    let payload = data::single_file(dir.path(), "single.bin", 16 * MIB, 0x3a61, &[]);
    let opts = LtOptions {
        timeout: LIMIT * 3,
        ..LtOptions::default()
    };
    let Some(mut seeder) = LtPeer::seed(&payload.torrent, &payload.save_path, &opts) else {
        return;
    };
    let uri = magnet(&payload, seeder.addr());
    let out = dir.join("out");
    let out_arg = out.to_str().unwrap().to_string();

    // In-process first: time to the first verified piece.
    let inproc = dir.join("inproc");
    let (meta_at, first) = add_magnet_in_process(&inproc, &uri);
    eprintln!(
        "magnet_mio libtorrent (in-process): metadata after {meta_at:.2?}, first verified piece after {first:.2?}"
    );
    data::assert_same_tree(&payload.root, &inproc.join("single.bin"), &[]);

    // The command.
    let t0 = Instant::now();
    let mut proc = SluiceProc::spawn(
        "download",
        ["download", &uri, "-o", &out_arg, "--listen", "127.0.0.1:0"],
    );
    let line = proc.wait_line("! metadata:", LIMIT);
    let meta_at = t0.elapsed();
    assert!(line.starts_with("single.bin ("), "{line}");
    let status = proc
        .wait_exit(LIMIT)
        .expect("sluice download did not finish");
    assert!(status.success(), "sluice download failed: {status:?}");
    eprintln!(
        "magnet_mio libtorrent (sluice download): metadata after {meta_at:.2?}, done after {:.2?}",
        t0.elapsed()
    );
    data::assert_same_tree(&payload.root, &out.join("single.bin"), &[]);
    assert!(cache_file(&out, &payload).is_file());

    // Seed gone: the cache serves the metadata, the data is already there.
    seeder.stop();
    let t1 = Instant::now();
    let mut again = SluiceProc::spawn(
        "download-again",
        ["download", &uri, "-o", &out_arg, "--listen", "127.0.0.1:0"],
    );
    let line = again.wait_line("! metadata:", Duration::from_secs(10));
    assert!(line.ends_with("from the cache"), "{line}");
    let status = again
        .wait_exit(LIMIT)
        .expect("the second download did not finish");
    assert!(
        status.success(),
        "second sluice download failed: {status:?}"
    );
    eprintln!("magnet_mio: cached start to exit in {:.2?}", t1.elapsed());
}

/// A sluice-mio seed serves the metadata to an in-process sluice-mio client,
/// which then downloads the torrent.
#[test]
fn mio_client_downloads_magnet_from_mio_seed() {
    let dir = TempDir::new("magnet-mio-mio");
    let payload = data::single_file(dir.path(), "single.bin", 4 * MIB, 0x3a62, &[]);
    let seeder = SluicePeer::start(
        Driver::Mio,
        "seed",
        &payload.save_path,
        &payload.created.bytes,
    );
    seeder.wait_complete(LIMIT, &[]);
    let uri = magnet(&payload, seeder.addr());
    let leech = dir.join("leech");
    let (meta_at, first) = add_magnet_in_process(&leech, &uri);
    eprintln!(
        "magnet_mio sluice-mio seed: metadata after {meta_at:.2?}, first piece after {first:.2?}"
    );
    data::assert_same_tree(&payload.root, &leech.join("single.bin"), &[]);
    assert!(cache_file(&leech, &payload).is_file());
    seeder.shutdown();
}

/// No peer answers: a clear error within the timeout, nothing cached.
#[test]
fn cli_magnet_without_peers_fails_with_one_line() {
    let dir = TempDir::new("magnet-mio-none");
    let port = sluice_tests::peers::free_port();
    let uri = format!(
        "magnet:?xt=urn:btih:{}&x.pe=127.0.0.1:{port}",
        "ab".repeat(20)
    );
    let out = sluice_tests::run_with_timeout(
        sluice_tests::sluice::command().args([
            "download",
            &uri,
            "-o",
            dir.join("out").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ]),
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: magnet link"), "{err}");
}

/// `sluice download magnet:?xt=…&tr=…` with no peer in the link: the
/// metadata comes from a libtorrent seed that only the link's tracker
/// (opentracker on 127.0.0.1) names, then the download.
#[test]
fn cli_fetches_magnet_metadata_from_peers_the_links_tracker_names() {
    if sluice_tests::require_tool("opentracker").is_none() || require_python_libtorrent().is_none()
    {
        return;
    }
    let dir = TempDir::new("magnet-mio-tr");
    let port = sluice_tests::peers::free_port();
    let url = Tracker::url(port);
    let payload = data::single_file(
        dir.path(),
        "tracked.bin",
        4 * MIB,
        0x7a7,
        std::slice::from_ref(&url),
    );
    let ih = payload.created.meta.info_hash;
    let Some(_tracker) = Tracker::start(dir.path(), port, &[ih]) else {
        return;
    };
    let opts = LtOptions {
        timeout: LIMIT * 2,
        ..LtOptions::default()
    };
    let Some(_seeder) = LtPeer::seed(&payload.torrent, &payload.save_path, &opts) else {
        return;
    };
    let uri = format!(
        "magnet:?xt=urn:btih:{}&tr={}",
        ih.to_hex(),
        url.replace(':', "%3A").replace('/', "%2F")
    );
    let out = dir.join("out");
    let mut sluice = SluiceProc::spawn(
        "download",
        [
            "download",
            &uri,
            "-o",
            out.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let fetching = sluice.wait_line("! fetching metadata", LIMIT);
    assert!(fetching.contains("1 tracker"), "{fetching}");
    sluice.wait_line("! metadata:", LIMIT);
    let status = sluice.wait_exit(LIMIT);
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        sluice.log().tail(30)
    );
    data::assert_same_tree(&payload.root, &out.join("tracked.bin"), &[]);
}

/// `sluice info magnet:…` fetches the metadata and shows the torrent (its
/// files and pieces), not just the link; `--link-only` shows the link.
#[test]
fn cli_info_shows_the_torrent_behind_a_magnet_link() {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = TempDir::new("magnet-mio-info");
    let payload = data::single_file(dir.path(), "shown.bin", 2 * MIB, 0x1f0, &[]);
    let Some(seeder) = LtPeer::seed(&payload.torrent, &payload.save_path, &LtOptions::default())
    else {
        return;
    };
    let uri = magnet(&payload, seeder.addr());
    let cache = dir.join("cache");
    let info = |extra: &[&str]| {
        let mut args = vec![
            "info",
            uri.as_str(),
            "--json",
            "-o",
            cache.to_str().unwrap(),
        ];
        args.extend_from_slice(&["--listen", "127.0.0.1:0"]);
        args.extend_from_slice(extra);
        let out = sluice_tests::sluice::run(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let full = info(&[]);
    let meta = &payload.created.meta;
    assert_eq!(full["info_hash"], meta.info_hash.to_hex().as_str());
    assert_eq!(full["piece_count"], meta.info.piece_count());
    assert_eq!(full["files"][0]["size"], 2 * MIB);
    assert!(
        cache_file(&cache, &payload).is_file(),
        "cached for next time"
    );
    let link = info(&["--link-only"]);
    assert!(link.get("piece_count").is_none(), "{link}");
    assert_eq!(link["info_hash"], meta.info_hash.to_hex().as_str());
}

/// `sluice stream magnet:…`: the metadata comes from the link's peer, then a
/// range request is served with the source's bytes.
#[test]
fn cli_streams_a_magnet_link() {
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = TempDir::new("magnet-mio-stream");
    let payload = data::single_file(dir.path(), "watched.bin", 4 * MIB, 0x5e1, &[]);
    let Some(seeder) = LtPeer::seed(&payload.torrent, &payload.save_path, &LtOptions::default())
    else {
        return;
    };
    let uri = magnet(&payload, seeder.addr());
    let out = dir.join("out");
    let stream = SluiceProc::spawn(
        "stream",
        [
            "stream",
            &uri,
            "-o",
            out.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ],
    );
    stream.wait_line("! metadata:", LIMIT);
    let url = stream.wait_line("url: ", LIMIT);
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_at(rest.find('/').expect("a path"));
    let addr: std::net::SocketAddr = host.parse().unwrap();
    let (a, b) = (3 * MIB + 7, 3 * MIB + 70_000);
    let range = format!("Range: bytes={a}-{b}");
    let got = sluice_tests::sluice_proc::http_get(addr, path, &[&range], LIMIT);
    assert_eq!(got.status, 206, "{}", stream.log().tail(20));
    assert!(
        got.body == data::read_range(&payload.root, a, (b - a + 1) as usize),
        "wrong bytes"
    );
}

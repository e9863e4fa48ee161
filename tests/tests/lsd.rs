//! Local Service Discovery (BEP 14) on the loopback interface: clients given
//! no peer and no tracker find each other by their multicast announces and
//! complete a download, for each pair of drivers and between `sluice`
//! processes, and with libtorrent (python3-libtorrent, LSD on, listening on
//! 127.0.0.1) as seed or leecher; a private torrent is never announced; and
//! the CLI sends nothing with `SLUICE_LSD=off` or `--no-lsd`.
//!
//! The libtorrent tests are skipped with a printed reason when
//! python3-libtorrent is missing, unless `SLUICE_REQUIRE_INTEROP=1`.
//!
//! Every client here announces on 127.0.0.1 only. The tests of this file run
//! in parallel on the one port 6771 and hear each other's announces; those
//! name other torrents and are ignored, so nothing here counts strangers'
//! datagrams.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use sluice_core::lsd::Announce;
use sluice_core::InfoHash;
use sluice_mio::create::{create_torrent, CreateOptions, Created};
use sluice_std::LsdOptions;
use sluice_tests::peers::data::{self, MIB};
use sluice_tests::peers::{Driver, LtOptions, LtPeer, SluiceClient, SluicePeer};
use sluice_tests::sluice_proc::SluiceProc;
use sluice_tests::{run_with_timeout, sluice, write_payload, OutputExt, TempDir};

/// The longest a download, a seed's check or the wait for an announce may
/// take.
const LIMIT: Duration = Duration::from_secs(120);

/// How long a `sluice` process may take to exit after Ctrl-C.
const STOP: Duration = Duration::from_secs(20);

/// LSD on the loopback interface.
fn loopback() -> LsdOptions {
    LsdOptions::new(Ipv4Addr::LOCALHOST)
}

/// A `seed_driver` seed and a `leech_driver` leecher, both with LSD on
/// 127.0.0.1 and no peer given, the seed first: the leecher downloads the
/// whole payload.
fn pair(seed_driver: Driver, leech_driver: Driver, seed: u64) {
    order_pair(seed_driver, leech_driver, seed, Order::SeedFirst);
}

fn order_pair(seed_driver: Driver, leech_driver: Driver, seed: u64, order: Order) {
    let tag = format!("lsd-{}-{}-{order:?}", seed_driver.tag(), leech_driver.tag());
    let dir = TempDir::new(&tag);
    let payload = data::single_file(dir.path(), "single.bin", 8 * MIB, seed, &[]);
    let start_seed = || {
        let seeder = SluicePeer::start_with(
            seed_driver,
            "seed",
            &payload.save_path,
            &payload.created.bytes,
            |o| o.lsd = Some(loopback()),
        );
        assert_eq!(seeder.client().lsd_error(), None, "{tag}: the seed's LSD");
        seeder
    };
    let start_leech = || {
        let leech = SluicePeer::start_with(
            leech_driver,
            "leecher",
            &dir.join("leech"),
            &payload.created.bytes,
            |o| o.lsd = Some(loopback()),
        );
        assert_eq!(leech.client().lsd_error(), None, "{tag}: the leecher's LSD");
        leech
    };
    let t0 = Instant::now();
    let (seeder, leech) = match order {
        Order::SeedFirst => {
            let seeder = start_seed();
            seeder.wait_complete(LIMIT, &[]);
            (seeder, start_leech())
        }
        Order::LeecherFirst => {
            let leech = start_leech();
            (start_seed(), leech)
        }
    };
    let took = leech.wait_complete(LIMIT, &[&seeder]);
    eprintln!(
        "{tag}: 8 MiB found and downloaded in {took:.2?} ({:.2?} in all)",
        t0.elapsed()
    );
    leech.shutdown();
    seeder.shutdown();
    data::assert_same_tree(&payload.root, &dir.join("leech/single.bin"), &[]);
}

#[test]
fn mio_leecher_finds_mio_seed_on_the_local_network() {
    pair(Driver::Mio, Driver::Mio, 0x15d1);
}

#[test]
fn std_leecher_finds_std_seed_on_the_local_network() {
    pair(Driver::Std, Driver::Std, 0x15d2);
}

#[test]
fn std_leecher_finds_mio_seed_on_the_local_network() {
    pair(Driver::Mio, Driver::Std, 0x15d3);
}

#[test]
fn mio_leecher_finds_std_seed_on_the_local_network() {
    pair(Driver::Std, Driver::Mio, 0x15d4);
}

/// Who starts first.
#[derive(Debug, Clone, Copy)]
enum Order {
    /// The leecher misses the seed's first announce; the seed hears the
    /// leecher's and connects to it.
    SeedFirst,
    /// The seed misses the leecher's first announce; the leecher hears the
    /// seed's and connects to it.
    LeecherFirst,
}

/// A `leech_driver` leecher that starts before its seed, both with LSD on
/// 127.0.0.1 and no peer given.
fn leecher_first(seed_driver: Driver, leech_driver: Driver, seed: u64) {
    order_pair(seed_driver, leech_driver, seed, Order::LeecherFirst);
}

/// A libtorrent seed with LSD on, and a sluice leecher with LSD on and no
/// peer given: libtorrent hears the leecher's announce (or the leecher the
/// seed's) and they meet.
fn from_libtorrent(driver: Driver, seed: u64) {
    let dir = TempDir::new(&format!("lsd-lt-{}", driver.tag()));
    let payload = data::single_file(dir.path(), "single.bin", 8 * MIB, seed, &[]);
    let opts = LtOptions {
        timeout: LIMIT * 2,
        lsd: true,
        ..LtOptions::default()
    };
    let t0 = Instant::now();
    let Some(seeder) = LtPeer::seed(&payload.torrent, &payload.save_path, &opts) else {
        return;
    };
    let t1 = Instant::now();
    let leech = SluicePeer::start_with(
        driver,
        "leecher",
        &dir.join("leech"),
        &payload.created.bytes,
        |o| o.lsd = Some(loopback()),
    );
    assert_eq!(leech.client().lsd_error(), None);
    let took = leech.wait_complete(LIMIT, &[&seeder]);
    eprintln!(
        "libtorrent seed -> {}: seed ready in {:.2?}, 8 MiB found and downloaded in {took:.2?}",
        driver.name(),
        t1 - t0
    );
    leech.shutdown();
    data::assert_same_tree(&payload.root, &dir.join("leech/single.bin"), &[]);
}

/// A sluice seed with LSD on, and a libtorrent leecher with LSD on and no
/// peer given.
fn to_libtorrent(driver: Driver, seed: u64) {
    let dir = TempDir::new(&format!("lsd-to-lt-{}", driver.tag()));
    let payload = data::single_file(dir.path(), "single.bin", 8 * MIB, seed, &[]);
    let seeder = SluicePeer::start_with(
        driver,
        "seed",
        &payload.save_path,
        &payload.created.bytes,
        |o| o.lsd = Some(loopback()),
    );
    assert_eq!(seeder.client().lsd_error(), None);
    seeder.wait_complete(LIMIT, &[]);
    let opts = LtOptions {
        timeout: LIMIT,
        lsd: true,
        ..LtOptions::default()
    };
    let t0 = Instant::now();
    let Some(mut leech) = LtPeer::leech(&payload.torrent, &dir.join("lt"), &opts) else {
        return;
    };
    leech.wait_complete(LIMIT, &[&seeder]);
    eprintln!(
        "{} seed -> libtorrent: 8 MiB found and downloaded in {:.2?}",
        driver.name(),
        t0.elapsed()
    );
    seeder.shutdown();
    data::assert_same_tree(&payload.root, &dir.join("lt/single.bin"), &[]);
}

#[test]
fn mio_seed_started_later_is_found() {
    leecher_first(Driver::Mio, Driver::Mio, 0x15d5);
}

#[test]
fn std_seed_started_later_is_found() {
    leecher_first(Driver::Std, Driver::Std, 0x15d6);
}

#[test]
fn mio_leecher_finds_libtorrent_seed_on_the_local_network() {
    from_libtorrent(Driver::Mio, 0x15d7);
}

#[test]
fn std_leecher_finds_libtorrent_seed_on_the_local_network() {
    from_libtorrent(Driver::Std, 0x15d8);
}

#[test]
fn libtorrent_leecher_finds_mio_seed_on_the_local_network() {
    to_libtorrent(Driver::Mio, 0x15d9);
}

#[test]
fn libtorrent_leecher_finds_std_seed_on_the_local_network() {
    to_libtorrent(Driver::Std, 0x15da);
}

/// Junk on the LSD port, multicast and unicast: random bytes, a datagram
/// far larger than any announce, broken and hostile announces, and one that
/// names `ours` with a port nobody listens on. Few enough (24) that the
/// receive guard of the clients of the tests running alongside is not
/// reached.
fn junk(ours: InfoHash) {
    let sock = sluice_std::lsd::open_socket(&loopback()).expect("open an LSD socket");
    let group = sluice_core::lsd::Group::V4.destination();
    let unicast = SocketAddr::from((Ipv4Addr::LOCALHOST, sluice_core::lsd::LSD_PORT));
    let mut rng = sluice_tests::Rng::new(0x15b0);
    let hex = ours.to_hex();
    let many: String = (0..40)
        .map(|i| format!("Infohash: {:040x}\r\n", i + 1))
        .collect();
    let mut datagrams: Vec<Vec<u8>> = vec![
        vec![],
        vec![0; 60_000],
        b"BT-SEARCH * HTTP/1.1\r\n".to_vec(),
        format!("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 99999\r\nInfohash: {hex}\r\n\r\n").into_bytes(),
        format!("BT-SEARCH * HTTP/1.1\r\nHost: x\r\nPort: 1\r\n{many}\r\n").into_bytes(),
        format!("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 1\r\nInfohash: {hex}\r\nInfohash: {hex}\r\n\r\n").into_bytes(),
        format!("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 0\r\nInfohash: {hex}\r\n\r\n").into_bytes(),
        format!("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 2\r\nInfohash: {}\r\n\r\n", &hex[..39]).into_bytes(),
    ];
    while datagrams.len() < 12 {
        let len = rng.below(1500) as usize;
        datagrams.push(rng.bytes(len));
    }
    for (i, d) in datagrams.iter().enumerate() {
        let to = if i % 2 == 0 { group } else { unicast };
        sock.send_to(d, to).expect("send junk");
        sock.send_to(d, if i % 2 == 0 { unicast } else { group })
            .expect("send junk");
    }
}

/// A seed of each driver that was sent [`junk`] still hears a leecher's
/// announce and serves it.
#[test]
fn junk_on_the_lsd_port_does_not_stop_discovery() {
    for (seed_driver, leech_driver, seed) in [
        (Driver::Mio, Driver::Std, 0x15c1),
        (Driver::Std, Driver::Mio, 0x15c2),
    ] {
        let tag = format!("lsd-junk-{}", seed_driver.tag());
        let dir = TempDir::new(&tag);
        let payload = data::single_file(dir.path(), "single.bin", 2 * MIB, seed, &[]);
        let seeder = SluicePeer::start_with(
            seed_driver,
            "seed",
            &payload.save_path,
            &payload.created.bytes,
            |o| o.lsd = Some(loopback()),
        );
        seeder.wait_complete(LIMIT, &[]);
        junk(payload.created.meta.info_hash);
        // Past the receive guard's one-second window.
        std::thread::sleep(Duration::from_millis(1500));
        let leech = SluicePeer::start_with(
            leech_driver,
            "leecher",
            &dir.join("leech"),
            &payload.created.bytes,
            |o| o.lsd = Some(loopback()),
        );
        leech.wait_complete(LIMIT, &[&seeder]);
        leech.shutdown();
        seeder.shutdown();
        data::assert_same_tree(&payload.root, &dir.join("leech/single.bin"), &[]);
    }
}

/// A member of the LSD group on 127.0.0.1 that reads announces.
struct Listener {
    sock: UdpSocket,
}

impl Listener {
    fn open() -> Listener {
        let sock = sluice_std::lsd::open_socket(&loopback()).expect("open an LSD socket");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Listener { sock }
    }

    /// Reads announces until one names `wanted`, and panics if one names
    /// any of `never` first (or if `wanted` is not heard within [`LIMIT`]).
    fn wait_for(&self, wanted: InfoHash, never: &[(InfoHash, &str)]) -> Duration {
        let t0 = Instant::now();
        let mut buf = [0u8; 2048];
        while t0.elapsed() < LIMIT {
            let Ok((n, from)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            let Ok(announce) = Announce::parse(&buf[..n]) else {
                continue;
            };
            for (hash, what) in never {
                assert!(
                    !announce.info_hashes.contains(hash),
                    "{what} ({hash}) was announced by {from}: {:?}",
                    String::from_utf8_lossy(&buf[..n])
                );
            }
            if announce.info_hashes.contains(&wanted) {
                return t0.elapsed();
            }
        }
        panic!("no announce of {wanted} within {LIMIT:?}");
    }
}

/// A torrent of one file of `size` pseudo-random bytes.
fn torrent(dir: &Path, name: &str, size: u64, seed: u64, private: bool) -> Created {
    let file = dir.join(name);
    write_payload(&file, size, seed);
    let mut co = CreateOptions::new(&file);
    co.private = private;
    create_torrent(&co, &mut |_, _| {}).unwrap()
}

/// A client with LSD on, given a private torrent and then a public one,
/// announces the public one and never the private one (BEP 27). Had the
/// private one been announced, it would have been sent first, or in the same
/// datagram.
fn private_never_announced(driver: Driver, seed: u64) {
    let dir = TempDir::new(&format!("lsd-private-{}", driver.tag()));
    let private = torrent(dir.path(), "private.bin", 1 << 20, seed, true);
    let public = torrent(dir.path(), "public.bin", 1 << 20, seed + 1, false);
    assert!(private.meta.info.private && !public.meta.info.private);
    let listener = Listener::open();
    let mut opts = sluice_std::ClientOptions::new(dir.join("client"));
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.lsd = Some(loopback());
    let client = SluiceClient::start(driver, opts).unwrap();
    assert_eq!(client.lsd_error(), None);
    client.add_torrent_bytes(&private.bytes).unwrap();
    client.add_torrent_bytes(&public.bytes).unwrap();
    let after = listener.wait_for(
        public.meta.info_hash,
        &[(private.meta.info_hash, "the private torrent")],
    );
    eprintln!(
        "{}: the public torrent was announced after {after:.2?}, the private one not",
        driver.name()
    );
    client.shutdown().unwrap();
}

#[test]
fn mio_never_announces_a_private_torrent() {
    private_never_announced(Driver::Mio, 0x15e1);
}

#[test]
fn std_never_announces_a_private_torrent() {
    private_never_announced(Driver::Std, 0x15e3);
}

/// `sluice seed` and `sluice download` processes on 127.0.0.1, no `--peer`,
/// LSD on (its interface follows `--listen`): the download finds the seed.
#[test]
fn cli_download_finds_cli_seed_on_the_local_network() {
    let dir = TempDir::new("lsd-cli");
    let payload = data::single_file(dir.path(), "single.bin", 4 * MIB, 0x15f1, &[]);
    let lsd_on = |cmd: &mut std::process::Command| {
        cmd.env_remove("SLUICE_LSD");
    };
    let mut seed = SluiceProc::seed(&payload, lsd_on);
    let seed_addr: SocketAddr = seed.peer_addr();
    let t0 = Instant::now();
    let out_dir = dir.join("leech");
    let mut cmd = sluice::command();
    lsd_on(&mut cmd);
    cmd.arg("download")
        .arg(&payload.torrent)
        .arg("-o")
        .arg(&out_dir)
        .args(["--listen", "127.0.0.1:0"]);
    let out = run_with_timeout(&mut cmd, LIMIT);
    assert!(
        out.status.success(),
        "download from the seed at {seed_addr} failed\n{}",
        out.dump()
    );
    assert!(
        out.stderr_str()
            .contains("looking for peers on the local network"),
        "the download does not say it looks on the local network\n{}",
        out.dump()
    );
    eprintln!("cli: 4 MiB found and downloaded in {:.2?}", t0.elapsed());
    data::assert_same_tree(&payload.root, &out_dir.join("single.bin"), &[]);
    let status = seed.stop(STOP);
    assert!(
        status.success() || status.code() == Some(130),
        "seed exit: {status:?}"
    );
}

/// `SLUICE_LSD=off` (which the test harness sets) and `--no-lsd` each keep a
/// `sluice seed` silent. Both seeds have added their torrents before a third,
/// with LSD on, adds its own: had they announced, their datagrams would have
/// come first.
#[test]
fn cli_sends_nothing_with_lsd_off() {
    let dir = TempDir::new("lsd-cli-off");
    let quiet_env = data::single_file(&dir.join("a"), "a.bin", MIB, 0x15f2, &[]);
    let quiet_flag = data::single_file(&dir.join("b"), "b.bin", MIB, 0x15f3, &[]);
    let loud = data::single_file(&dir.join("c"), "c.bin", MIB, 0x15f4, &[]);
    let listener = Listener::open();
    let args = |p: &data::Payload, extra: &'static str| {
        let mut v = vec![
            "seed".into(),
            p.torrent.clone().into_os_string(),
            p.root.clone().into_os_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        if !extra.is_empty() {
            v.push(extra.into());
        }
        v
    };
    let mut a = SluiceProc::spawn("seed SLUICE_LSD=off", args(&quiet_env, ""));
    let mut b = SluiceProc::spawn_with("seed --no-lsd", args(&quiet_flag, "--no-lsd"), |c| {
        c.env_remove("SLUICE_LSD");
    });
    a.peer_addr();
    b.peer_addr();
    let mut c = SluiceProc::spawn_with("seed", args(&loud, ""), |c| {
        c.env_remove("SLUICE_LSD");
    });
    listener.wait_for(
        loud.created.meta.info_hash,
        &[
            (
                quiet_env.created.meta.info_hash,
                "a seed under SLUICE_LSD=off",
            ),
            (quiet_flag.created.meta.info_hash, "a seed with --no-lsd"),
        ],
    );
    for p in [&mut a, &mut b, &mut c] {
        let status = p.stop(STOP);
        assert!(
            status.success() || status.code() == Some(130),
            "seed exit: {status:?}"
        );
    }
}

#[test]
fn help_documents_the_lsd_switches() {
    let out = sluice::run(["download", "--help"]);
    let text = out.stdout_str();
    for word in ["--no-lsd", "--lsd-interface", "SLUICE_LSD=off"] {
        assert!(
            text.contains(word),
            "`sluice download --help` lacks {word}\n{text}"
        );
    }
}

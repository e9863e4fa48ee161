//! Streaming benchmarks: how soon the first byte of a read in the middle of a
//! file arrives, with nothing downloaded before the read.
//!
//! * **fast seed**: one libtorrent seed on loopback, no rate limit.
//! * **slow swarm**: four libtorrent seeds, each limited to 1 MiB/s upload.
//!   The ideal is one piece over the aggregate rate: 1 MiB / 4 MiB/s = 250 ms.
//!
//! Each case adds a 256 MiB single-file torrent (1 MiB pieces) to a sluice-mio
//! client with nothing selected, connects the seeds, waits until they are all
//! connected and unchoking (the client stays interested in seeds, as `sluice
//! stream` does), then sends an HTTP range request (`sluice stream`'s server)
//! for the bytes from 12,345 past the middle and times the first body byte.
//! Several reads at different places give the median and the worst.
//!
//! Then, with the same seeds and the same pieces and pauses, a libtorrent
//! leecher does the same through its deadline API (`set_piece_deadline`, timed
//! to its `read_piece_alert`; no HTTP): the field's figure on this machine in
//! the same minute, since the machine's speed drifts from one run to the next.
//!
//! Run: `cargo bench -p sluice-mio --bench streaming` (needs /usr/bin/python3
//! with libtorrent). `SLUICE_BENCH_READS=N` sets the reads per case (11);
//! `SLUICE_BENCH_CASE=fast` or `slow` runs one case only.

#[path = "../../driver-std/benches/support/payload.rs"]
mod payload;

use payload::write_payload;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sluice_core::metainfo::Metainfo;
use sluice_mio::create::{create_torrent, CreateOptions};
use sluice_mio::{http, AddOptions, Client, ClientOptions, StorageChoice};

const PYTHON: &str = "/usr/bin/python3";
const MIB: u64 = 1 << 20;

/// Kills the child when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let ok = Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("streaming: skipped ({PYTHON} cannot import libtorrent)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../driver-std/benches/lt_bench.py");
    let dir = std::env::temp_dir().join(format!("sluice-bench-stream-{}", std::process::id()));
    let data = dir.join("seed");
    std::fs::create_dir_all(&data).expect("temp dir");
    let file = data.join("movie.bin");
    write_payload(&file, 256 * MIB, 0x2545_F491_4F6C_DD1D);
    let mut co = CreateOptions::new(&file);
    co.piece_length = Some(MIB as u32);
    let made = create_torrent(&co, &mut |_, _| {}).expect("create torrent");
    let torrent = dir.join("movie.torrent");
    std::fs::write(&torrent, &made.bytes).expect("write torrent");
    let source = std::fs::read(&file).expect("read payload");

    let case = std::env::var("SLUICE_BENCH_CASE").unwrap_or_default();
    let run = |seeds, rate| {
        run_case(
            &script,
            &torrent,
            &data,
            &dir,
            &made.bytes,
            &source,
            seeds,
            rate,
        )
    };
    if case != "slow" {
        let fast = run(1, None);
        println!(
            "streaming, fast seed: first byte median {:.1} ms, worst {:.1} ms over {} reads (target < 10 ms)",
            ms(fast.sluice.median()),
            ms(fast.sluice.worst()),
            fast.sluice.0.len()
        );
        println!(
            "  libtorrent deadline API, same seed: median {:.1} ms, worst {:.1} ms",
            ms(fast.libtorrent.median()),
            ms(fast.libtorrent.worst())
        );
    }
    if case != "fast" {
        let slow = run(4, Some(MIB));
        let ideal = Duration::from_millis(250).as_secs_f64();
        let (median, worst) = (slow.sluice.median(), slow.sluice.worst());
        println!(
            "streaming, 4 seeds x 1 MiB/s: first byte median {:.0} ms ({:.2}x ideal), worst {:.0} ms ({:.2}x) over {} reads (ideal 250 ms, target < 1.2x)",
            ms(median),
            median.as_secs_f64() / ideal,
            ms(worst),
            worst.as_secs_f64() / ideal,
            slow.sluice.0.len()
        );
        let (median, worst) = (slow.libtorrent.median(), slow.libtorrent.worst());
        println!(
            "  libtorrent deadline API, same seeds: median {:.0} ms ({:.2}x), worst {:.0} ms ({:.2}x)",
            ms(median),
            median.as_secs_f64() / ideal,
            ms(worst),
            worst.as_secs_f64() / ideal
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// First-byte times of one client.
struct Times(Vec<Duration>);

impl Times {
    fn sorted(mut v: Vec<Duration>) -> Times {
        v.sort();
        Times(v)
    }
    fn median(&self) -> Duration {
        self.0[self.0.len() / 2]
    }
    fn worst(&self) -> Duration {
        *self.0.last().expect("reads")
    }
}

/// One case's figures.
struct Case {
    sluice: Times,
    libtorrent: Times,
}

/// Starts `seeds` libtorrent seeds (rate-limited if `rate`), then times first
/// bytes at several places: a streaming sluice client's, then a libtorrent
/// leecher's.
#[allow(clippy::too_many_arguments)]
fn run_case(
    script: &Path,
    torrent: &Path,
    data: &Path,
    dir: &Path,
    torrent_bytes: &[u8],
    source: &[u8],
    seeds: usize,
    rate: Option<u64>,
) -> Case {
    let mut guards = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..seeds {
        let mut cmd = Command::new(PYTHON);
        cmd.arg(script).arg("seed").arg(torrent).arg(data);
        if let Some(r) = rate {
            cmd.arg(r.to_string());
        }
        let mut child = Guard(cmd.stdout(Stdio::piped()).spawn().expect("start seed"));
        let mut line = String::new();
        BufReader::new(child.0.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("seed output");
        ports.push(
            line.trim()
                .strip_prefix("ready ")
                .unwrap_or_else(|| panic!("unexpected seed output {line:?}"))
                .to_string(),
        );
        guards.push(child);
    }
    let peers: Vec<std::net::SocketAddr> = ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}").parse().expect("addr"))
        .collect();
    let len = source.len() as u64;
    let mut times = Vec::new();
    let mut lt_reads = Vec::new();
    let reads: u64 = std::env::var("SLUICE_BENCH_READS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11);
    // Round 0 warms the seeds up and is not counted: the first connections to
    // a freshly started, rate-limited libtorrent seed wait a tick of its rate
    // limiter at each step (handshake, extension handshake, unchoke, and a
    // second unchoke before any data), which later connections do not.
    for round in 0..=reads {
        let warm_up = round == 0;
        let k = round.saturating_sub(1);
        // A fresh client each time: connected, nothing fetched, then one read.
        // Memory storage: the disk is not what is measured here.
        let mut opts = ClientOptions::new(dir.join("client"));
        opts.listen = "127.0.0.1:0".parse().expect("addr");
        opts.storage = StorageChoice::Memory;
        // As `sluice stream` does: interested in the seeds from the start.
        opts.stay_interested = true;
        let client = Client::start(opts).expect("client");
        let meta = Metainfo::from_bytes(torrent_bytes).expect("torrent");
        let add = AddOptions {
            selected: Some(vec![]),
            peers: peers.clone(),
        };
        let t = client.add_torrent(meta, add).expect("add");
        let deadline = Instant::now() + Duration::from_secs(30);
        // Connected and unchoked, as a player finds a torrent it has had
        // open for a moment.
        while t
            .peers()
            .map_or(0, |p| p.iter().filter(|p| !p.peer_choking).count())
            < seeds
        {
            assert!(
                Instant::now() < deadline,
                "seeds did not connect and unchoke"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // libtorrent unchokes on its 500 ms tick and its rate limiter releases
        // data on the same tick: a fixed pause here would read at the same
        // phase every time. Spread the reads over the tick instead.
        let pause = 100 + (k * 173) % 500;
        std::thread::sleep(Duration::from_millis(pause));
        assert_eq!(t.progress().0, 0, "nothing is fetched before the read");
        let server = http::Server::start("127.0.0.1:0".parse().expect("addr"), t.clone())
            .expect("http server");
        let at = if warm_up {
            len / 4 + 12_345
        } else {
            (len / 2 + k * 17 * MIB + 12_345) % (len - MIB)
        };
        let path = server.file_url(0).expect("url");
        let path = path.trim_start_matches(&server.base_url());
        let mut conn = TcpStream::connect(server.local_addr()).expect("connect");
        conn.set_nodelay(true).expect("nodelay");
        let started = Instant::now();
        write!(
            conn,
            "GET {path} HTTP/1.1\r\nHost: bench\r\nRange: bytes={at}-\r\n\r\n"
        )
        .expect("send request");
        let first = first_body_byte(&mut conn);
        if !warm_up {
            times.push(started.elapsed());
            lt_reads.push(format!("{}:{pause}", at / MIB));
        }
        assert_eq!(first, source[at as usize], "byte at {at}");
        drop(conn);
        server.shutdown();
        client.shutdown().expect("shutdown");
    }
    let out = Command::new(PYTHON)
        .arg(script)
        .arg("deadline")
        .arg(torrent)
        .arg(dir.join("lt-leecher"))
        .arg(ports.join(","))
        .args(&lt_reads)
        .stderr(Stdio::inherit())
        .output()
        .expect("run the libtorrent leecher");
    assert!(out.status.success(), "libtorrent leecher failed");
    let lt_ms: Vec<f64> = serde_json::from_slice(&out.stdout).expect("libtorrent figures");
    drop(guards);
    Case {
        sluice: Times::sorted(times),
        libtorrent: Times::sorted(
            lt_ms
                .iter()
                .map(|m| Duration::from_secs_f64(m / 1e3))
                .collect(),
        ),
    }
}

/// Reads a response head and the body's first byte.
fn first_body_byte(conn: &mut TcpStream) -> u8 {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        conn.read_exact(&mut byte).expect("response");
        seen.push(byte[0]);
        if seen.ends_with(b"\r\n\r\n") {
            assert!(
                seen.starts_with(b"HTTP/1.1 206"),
                "{}",
                String::from_utf8_lossy(&seen)
            );
            conn.read_exact(&mut byte).expect("first body byte");
            return byte[0];
        }
    }
}

//! Loopback download benchmark: one libtorrent seed (python3-libtorrent), a
//! single-file torrent of `SLUICE_BENCH_MIB` MiB (default 1024) with 1 MiB
//! pieces; downloaded by sluice-mio, by sluice-std (each driver's `download`
//! example, a separate process) and by a libtorrent leecher, in the same run.
//! Prints wall time, MiB/s, CPU seconds and peak RSS of each.
//!
//! Run: `cargo bench -p sluice-mio --bench loopback` (needs /usr/bin/python3
//! with libtorrent; prints why and stops otherwise).

#[path = "../../driver-std/benches/support/payload.rs"]
mod payload;

use payload::write_payload;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use sluice_mio::create::{create_torrent, CreateOptions};

const PYTHON: &str = "/usr/bin/python3";

/// Kills the child when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let mib: u64 = std::env::var("SLUICE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let ok = Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("loopback: skipped ({PYTHON} cannot import libtorrent)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("../driver-std/benches/lt_bench.py");
    let drivers = [
        (
            "sluice-mio",
            build_example(root, "sluice-mio", "mio_download"),
        ),
        ("sluice-std", build_example(root, "sluice-std", "download")),
    ];
    let dir = std::env::temp_dir().join(format!("sluice-bench-loopback-{}", std::process::id()));
    let data = dir.join("seed");
    std::fs::create_dir_all(&data).expect("temp dir");
    let file = data.join("payload.bin");
    write_payload(&file, mib << 20, 0x9E37_79B9_7F4A_7C15);
    let mut co = CreateOptions::new(&file);
    co.piece_length = Some(1 << 20);
    let made = create_torrent(&co, &mut |_, _| {}).expect("create torrent");
    let torrent = dir.join("payload.torrent");
    std::fs::write(&torrent, &made.bytes).expect("write torrent");

    let started = Instant::now();
    let mut seed = Guard(
        Command::new(PYTHON)
            .arg(&script)
            .args(["seed"])
            .arg(&torrent)
            .arg(&data)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start libtorrent seed"),
    );
    let mut line = String::new();
    BufReader::new(seed.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("seed output");
    let port = line
        .trim()
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("unexpected seed output {line:?}"))
        .to_string();
    println!(
        "loopback: {mib} MiB, 1 MiB pieces, libtorrent seed on 127.0.0.1:{port} (checked in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    for (name, download) in &drivers {
        let out = dir.join(name);
        let figures = run_json(
            Command::new(PYTHON)
                .arg(&script)
                .arg("measure")
                .arg(download)
                .arg(&torrent)
                .arg("-o")
                .arg(&out)
                .arg("--peer")
                .arg(format!("127.0.0.1:{port}")),
        );
        report(name, mib, &figures);
        assert_same(&file, &out.join("payload.bin"));
        let _ = std::fs::remove_dir_all(&out);
    }

    let lt_out = dir.join("libtorrent");
    std::fs::create_dir_all(&lt_out).expect("out dir");
    let figures = run_json(
        Command::new(PYTHON)
            .arg(&script)
            .arg("leech")
            .arg(&torrent)
            .arg(&lt_out)
            .arg(&port),
    );
    report("libtorrent", mib, &figures);
    drop(seed);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Builds a driver's download example in release mode, copies it aside
/// and returns the copy's path.
fn build_example(root: &Path, package: &str, example: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            package,
            "--example",
            example,
        ])
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "building the {package} download example failed"
    );
    let built = root
        .parent()
        .expect("workspace")
        .join("target/release/examples")
        .join(example);
    let copy = std::env::temp_dir().join(format!("sluice-bench-{package}-download"));
    std::fs::copy(&built, &copy).expect("copy the example");
    copy
}

fn run_json(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run benchmark step");
    assert!(
        out.status.success(),
        "benchmark step failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn field(json: &str, key: &str) -> f64 {
    let at = json
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("{key} missing in {json}"));
    json[at + key.len() + 4..]
        .split([',', '}'])
        .next()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("bad {key} in {json}"))
}

fn report(who: &str, mib: u64, json: &str) {
    let wall = field(json, "wall");
    println!(
        "{who:<11} {wall:6.2} s wall, {:7.1} MiB/s, {:5.2} s CPU, {:6.1} MiB peak RSS",
        mib as f64 / wall,
        field(json, "cpu"),
        field(json, "rss_mib")
    );
}

fn assert_same(a: &Path, b: &Path) {
    let (x, y) = (
        std::fs::read(a).expect("read"),
        std::fs::read(b).expect("read"),
    );
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

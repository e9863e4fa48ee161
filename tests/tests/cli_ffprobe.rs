//! A real player's reads: `ffprobe` finds the container metadata of an MP4 whose
//! index (`moov`) is at the end, served by `sluice stream` while the torrent is
//! still coming from a rate-limited libtorrent seed. ffprobe reads the head,
//! seeks to the end for `moov`, and back for the first frames; each seek is a new
//! range request, which moves the download there.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sluice_mio::create::{create_torrent, CreateOptions};
use sluice_tests::peers::{LtOptions, LtPeer};
use sluice_tests::sluice_proc::{stream_status, SluiceProc};
use sluice_tests::{require_python_libtorrent, require_tool, run_with_timeout, OutputExt, TempDir};

/// Small pieces, so that what ffprobe reads is a small part of the torrent.
const PIECE_LENGTH: u32 = 16 << 10;

/// The seed's upload limit: the whole clip (about 700 KB) needs about 30 s.
const SEED_RATE: u64 = 24 << 10;

/// Top-level MP4 boxes: (type, offset, size).
fn boxes(path: &Path) -> Vec<(String, u64, u64)> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&data[at + 4..at + 8]).into_owned();
        assert!(size >= 8, "box {kind} at {at} has size {size}");
        out.push((kind, at as u64, size as u64));
        at += size;
    }
    out
}

#[test]
fn ffprobe_reads_a_moov_at_end_mp4_while_it_downloads() {
    let (Some(ffmpeg), Some(ffprobe)) = (require_tool("ffmpeg"), require_tool("ffprobe")) else {
        return;
    };
    if require_python_libtorrent().is_none() {
        return;
    }
    let dir = TempDir::new("cli-ffprobe");
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    let clip = seed_dir.join("clip.mp4");
    // No +faststart: ffmpeg writes `moov` after `mdat`, at the end.
    let out = run_with_timeout(
        Command::new(ffmpeg)
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostdin",
                "-f",
                "lavfi",
            ])
            .args(["-i", "testsrc=duration=20:size=320x240:rate=25"])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-crf", "14"])
            .args(["-pix_fmt", "yuv420p", "-y"])
            .arg(&clip),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "ffmpeg failed\n{}", out.dump());
    let layout = boxes(&clip);
    let kinds: Vec<&str> = layout.iter().map(|(k, _, _)| k.as_str()).collect();
    let (mdat, moov) = (
        kinds.iter().position(|k| *k == "mdat").expect("mdat"),
        kinds.iter().position(|k| *k == "moov").expect("moov"),
    );
    assert!(mdat < moov, "moov is not at the end: {layout:?}");
    let size = std::fs::metadata(&clip).unwrap().len();

    let mut opts = CreateOptions::new(&clip);
    opts.piece_length = Some(PIECE_LENGTH);
    let made = create_torrent(&opts, &mut |_, _| {}).unwrap();
    let torrent = dir.join("clip.torrent");
    std::fs::write(&torrent, &made.bytes).unwrap();
    let pieces = made.meta.info.piece_count();

    let lt_opts = LtOptions {
        upload_limit: SEED_RATE,
        ..LtOptions::default()
    };
    let Some(seed) = LtPeer::seed(&torrent, &seed_dir, &lt_opts) else {
        return;
    };
    let seed_addr = seed.addr().to_string();
    let out_dir = dir.join("stream");
    let args: [&std::ffi::OsStr; 10] = [
        "stream".as_ref(),
        torrent.as_os_str(),
        "-o".as_ref(),
        out_dir.as_os_str(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--http".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--peer".as_ref(),
        seed_addr.as_ref(),
    ];
    let mut stream = SluiceProc::spawn("stream", args);
    let url = stream.wait_line("url: ", Duration::from_secs(60));
    let index = stream.wait_line("index: ", Duration::from_secs(5));
    let addr = index
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();

    let t = Instant::now();
    let probe = run_with_timeout(
        Command::new(ffprobe)
            .args(["-v", "error", "-of", "json"])
            .args([
                "-show_entries",
                "format=duration:stream=codec_name,width,height",
            ])
            .arg(&url),
        Duration::from_secs(120),
    );
    let took = t.elapsed();
    let status = stream_status(addr);
    assert!(probe.status.success(), "ffprobe failed\n{}", probe.dump());
    let json: serde_json::Value = serde_json::from_slice(&probe.stdout)
        .unwrap_or_else(|e| panic!("ffprobe printed no JSON ({e})\n{}", probe.dump()));
    let duration: f64 = json["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration: {json}"));
    let stream0 = &json["streams"][0];
    assert!((duration - 20.0).abs() < 0.1, "duration {duration}: {json}");
    assert_eq!(stream0["codec_name"], "h264", "{json}");
    assert_eq!(stream0["width"], 320, "{json}");
    assert_eq!(stream0["height"], 240, "{json}");

    let have = status["pieces_verified"].as_u64().unwrap();
    println!(
        "ffprobe read a {size}-byte moov-at-end MP4 ({pieces} pieces; the seed sends {} KiB/s, \
         ~{} s for all) in {took:.2?}; {have} pieces were verified then",
        SEED_RATE >> 10,
        size / SEED_RATE
    );
    assert_eq!(
        status["complete"], false,
        "the torrent was complete when ffprobe finished: {status}"
    );
    assert!(have < u64::from(pieces), "{status}");
    assert!(stream.stop(Duration::from_secs(20)).success());
    drop(seed);
}

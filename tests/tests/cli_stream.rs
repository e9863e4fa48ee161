//! `sluice stream` seen through `curl`: the index, HEAD, byte ranges of several
//! forms (also several at once), a range past the end (416) and unknown paths,
//! while the torrent downloads from a `sluice seed` process. Every body is
//! compared with the source.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sluice_tests::peers::data::{self, Payload, MIB};
use sluice_tests::sluice_proc::{stream_status, SluiceProc};
use sluice_tests::{require_tool, run_with_timeout, OutputExt, TempDir};

const STOP: Duration = Duration::from_secs(20);

fn args(parts: &[&dyn AsRef<OsStr>]) -> Vec<OsString> {
    parts.iter().map(|p| p.as_ref().to_owned()).collect()
}

/// A seed of `payload` and a `sluice stream` fed by it; returns them with the
/// index URL and the HTTP address.
fn start(payload: &Payload, dir: &Path, extra: &[&str]) -> (SluiceProc, SluiceProc, String) {
    let seed = SluiceProc::spawn(
        "seed",
        args(&[
            &"seed",
            &payload.torrent,
            &payload.root,
            &"--listen",
            &"127.0.0.1:0",
        ]),
    );
    let seed_addr = seed.peer_addr();
    let mut list = args(&[
        &"stream",
        &payload.torrent,
        &"-o",
        &dir,
        &"--listen",
        &"127.0.0.1:0",
        &"--http",
        &"127.0.0.1:0",
        &"--peer",
        &seed_addr.to_string(),
    ]);
    list.extend(extra.iter().map(OsString::from));
    let stream = SluiceProc::spawn("stream", list);
    let index = stream.wait_line("index: ", Duration::from_secs(60));
    (seed, stream, index)
}

fn http_addr(index: &str) -> SocketAddr {
    index
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("index URL")
}

/// A `HEAD` request by hand, with `Connection: close`: everything the server
/// sent back.
fn raw_head(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        conn,
        "HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).unwrap();
    got
}

/// What curl got.
#[derive(Debug)]
struct Got {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Curl {
    bin: PathBuf,
    dir: PathBuf,
}

impl Curl {
    /// `curl <opts> url`, its status, headers and body.
    fn run(&self, opts: &[&str], url: &str) -> Got {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (head, body) = (
            self.dir.join(format!("h{n}")),
            self.dir.join(format!("b{n}")),
        );
        let out = run_with_timeout(
            Command::new(&self.bin)
                .args(["-sS", "--max-time", "60", "-w", "%{http_code}", "-D"])
                .arg(&head)
                .arg("-o")
                .arg(&body)
                .args(opts)
                .arg(url),
            Duration::from_secs(90),
        );
        assert!(out.status.success(), "curl {opts:?} {url}\n{}", out.dump());
        let status = out.stdout_str().trim().parse().expect("status code");
        let text = std::fs::read_to_string(&head).unwrap();
        let headers = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_string(), v.trim().to_string()))
            .collect();
        Got {
            status,
            headers,
            body: std::fs::read(&body).unwrap_or_default(),
        }
    }
}

fn source_range(path: &Path, start: u64, end: u64) -> Vec<u8> {
    data::read_range(path, start, (end - start + 1) as usize)
}

#[test]
fn curl_ranges_head_index_and_416_while_downloading() {
    let Some(bin) = require_tool("curl") else {
        return;
    };
    let dir = TempDir::new("cli-stream");
    let payload = data::multi_file(dir.path(), "tree", 24 * MIB + 999, 0xe0, &[]);
    let (mut seed, mut stream, index) = start(&payload, &dir.join("stream"), &[]);
    let addr = http_addr(&index);
    let curl = Curl {
        bin,
        dir: dir.join("curl"),
    };
    std::fs::create_dir_all(&curl.dir).unwrap();

    // The url printed is the largest file's.
    let url = stream.wait_line("url: ", Duration::from_secs(5));
    assert!(url.ends_with("/tree/big/large.bin"), "{url}");
    let large = payload.root.join("big/large.bin");
    let len = std::fs::metadata(&large).unwrap().len();

    let t = Instant::now();
    let head = curl.run(&["-I"], &url);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Content-Length"),
        Some(len.to_string().as_str())
    );
    assert_eq!(head.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(
        head.header("Content-Type"),
        Some("application/octet-stream")
    );
    // curl -I prints the head as its output; on the wire, nothing follows it.
    let raw = raw_head(addr, url.trim_start_matches(&format!("http://{addr}")));
    let (head_text, after) = raw.split_at(raw.find("\r\n\r\n").expect("a head") + 4);
    assert!(head_text.starts_with("HTTP/1.1 200"), "{head_text}");
    assert!(after.is_empty(), "HEAD answered with a body: {after:?}");

    let ranges: [(&str, u64, u64); 5] = [
        ("0-99", 0, 99),
        ("12345678-13000000", 12_345_678, 13_000_000),
        ("-65536", len - 65_536, len - 1),
        ("20000000-", 20_000_000, len - 1),
        ("7-7", 7, 7),
    ];
    for (r, a, b) in ranges {
        let got = curl.run(&["-r", r], &url);
        assert_eq!(got.status, 206, "range {r}");
        assert_eq!(
            got.header("Content-Range"),
            Some(format!("bytes {a}-{b}/{len}").as_str()),
            "range {r}"
        );
        assert!(
            got.body == source_range(&large, a, b),
            "range {r}: wrong bytes"
        );
    }
    // Several clients at once, each on its own range.
    let threads: Vec<_> = (0..4u64)
        .map(|i| {
            let (bin, cdir, url, large) = (
                curl.bin.clone(),
                curl.dir.clone(),
                url.clone(),
                large.clone(),
            );
            std::thread::spawn(move || {
                let c = Curl { bin, dir: cdir };
                let (a, b) = (2 * MIB + i * 3 * MIB, 2 * MIB + i * 3 * MIB + MIB);
                let got = c.run(&["-r", &format!("{a}-{b}")], &url);
                assert_eq!(got.status, 206);
                assert!(got.body == source_range(&large, a, b), "parallel range {i}");
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    println!("HEAD and 9 ranges of the large file in {:.2?}", t.elapsed());

    // A range past the end.
    let past = curl.run(&["-r", &format!("{len}-")], &url);
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("Content-Range"),
        Some(format!("bytes */{len}").as_str())
    );

    // The index links every file; each link serves the file whole.
    let page = curl.run(&[], &index);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(page.body).unwrap();
    let links: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    let files = &payload.created.meta.info.files;
    assert_eq!(links.len(), files.len(), "{html}");
    for (f, link) in files.iter().zip(&links) {
        let rel: PathBuf = f.path.iter().collect();
        let source = payload.save_path.join(&rel);
        assert!(
            link.starts_with('/') && !link.contains(' '),
            "link {link:?} is not an encoded path"
        );
        if f.length > 1_000_000 {
            continue;
        }
        let got = curl.run(&[], &format!("http://{addr}{link}"));
        assert_eq!(got.status, 200, "{link}");
        assert!(
            got.body == std::fs::read(&source).unwrap(),
            "{link}: wrong bytes"
        );
        let txt = link.ends_with(".txt");
        assert_eq!(
            got.header("Content-Type") == Some("text/plain; charset=utf-8"),
            txt,
            "{link}: {:?}",
            got.header("Content-Type")
        );
    }
    for bad in ["/999", "/0/not-the-name", "/nothing", "/1/../0"] {
        let got = curl.run(&["--path-as-is"], &format!("http://{addr}{bad}"));
        assert_eq!(got.status, 404, "{bad}");
    }

    // Only what was read was fetched: nothing is selected.
    let status = stream_status(addr);
    let (have, total) = (
        status["pieces_verified"].as_u64().unwrap(),
        status["pieces_total"].as_u64().unwrap(),
    );
    println!("{have} of {total} pieces fetched for the requests");
    assert!(have < total, "everything was downloaded: {status}");
    assert_eq!(status["complete"], false);

    assert!(stream.stop(STOP).success(), "stream after Ctrl-C");
    stream.wait_line("stopped", Duration::from_secs(5));
    assert!(seed.stop(STOP).success());
}

#[test]
fn stream_all_downloads_everything_in_the_background() {
    let dir = TempDir::new("cli-stream-all");
    let payload = data::multi_file(dir.path(), "tree", 8 * MIB, 0xe1, &[]);
    let got = dir.join("stream");
    let (mut seed, mut stream, index) = start(&payload, &got, &["--all"]);
    let addr = http_addr(&index);
    let t = Instant::now();
    while stream_status(addr)["complete"] != true {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "not complete: {}",
            stream_status(addr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(stream.stop(STOP).success());
    assert!(seed.stop(STOP).success());
    data::assert_same_tree(&payload.root, &got.join("tree"), &[]);
}

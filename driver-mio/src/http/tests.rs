//! The server over real loopback sockets, with files in memory: routes, ranges,
//! keep-alive, hostile input, many clients, and readers freed when clients go.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Content, Entry, Limits, Server};

/// Files in memory. Readers count themselves while alive and can be slowed
/// down, to see that a client going away frees its reader.
struct Memory {
    files: Vec<(String, Vec<u8>)>,
    open_readers: Arc<AtomicUsize>,
    opened: Arc<AtomicUsize>,
    delay: Duration,
    stall_at: usize,
}

struct MemoryReader {
    data: Vec<u8>,
    pos: usize,
    open: Arc<AtomicUsize>,
    delay: Duration,
    /// From this position on, reads time out (a piece that does not come).
    stall_at: usize,
}

impl Read for MemoryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        std::thread::sleep(self.delay);
        if self.pos >= self.stall_at {
            std::thread::sleep(Duration::from_millis(20));
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no data yet"));
        }
        // Small reads, like a reader that returns what is verified so far.
        let n = buf.len().min(self.data.len() - self.pos).min(10_000);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for MemoryReader {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Content for Memory {
    fn title(&self) -> String {
        "a <test> & co".into()
    }

    fn entries(&self) -> Vec<Entry> {
        self.files
            .iter()
            .enumerate()
            .map(|(index, (path, data))| Entry {
                index,
                path: path.clone(),
                length: data.len() as u64,
            })
            .collect()
    }

    fn open(&self, index: usize, start: u64, end: u64) -> io::Result<Box<dyn Read + Send>> {
        let data = &self.files[index].1;
        assert!(start <= end && end < data.len() as u64, "bad range asked");
        self.open_readers.fetch_add(1, Ordering::SeqCst);
        self.opened.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(MemoryReader {
            data: data[start as usize..=end as usize].to_vec(),
            pos: 0,
            open: self.open_readers.clone(),
            delay: self.delay,
            stall_at: self.stall_at,
        }))
    }

    fn tag(&self) -> String {
        "t".into()
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

struct Fixture {
    server: Server,
    open_readers: Arc<AtomicUsize>,
    opened: Arc<AtomicUsize>,
    big: Vec<u8>,
}

fn start(delay: Duration, limits: Limits) -> Fixture {
    start_stalling(delay, limits, usize::MAX)
}

fn start_stalling(delay: Duration, limits: Limits, stall_at: usize) -> Fixture {
    let big = pattern(3_000_000, 7);
    let open_readers = Arc::new(AtomicUsize::new(0));
    let opened = Arc::new(AtomicUsize::new(0));
    let content = Memory {
        files: vec![
            ("Show/video one.mp4".into(), big.clone()),
            ("Show/sub/en.srt".into(), pattern(1234, 1)),
            ("empty.txt".into(), Vec::new()),
        ],
        open_readers: open_readers.clone(),
        opened: opened.clone(),
        delay,
        stall_at,
    };
    let server =
        Server::start_with("127.0.0.1:0".parse().unwrap(), Arc::new(content), limits).unwrap();
    Fixture {
        server,
        open_readers,
        opened,
        big,
    }
}

fn fixture() -> Fixture {
    start(Duration::ZERO, Limits::default())
}

/// A parsed response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Reads one response from `s` (`head_only`: a response to HEAD, no body).
fn read_reply(s: &mut TcpStream, head_only: bool) -> Reply {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).unwrap();
        assert_eq!(
            n,
            1,
            "connection closed in the head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_string(), v.to_string())
        })
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = reply.header("Content-Length").unwrap().parse().unwrap();
    if !head_only {
        reply.body = vec![0; len];
        s.read_exact(&mut reply.body).unwrap();
    }
    reply
}

fn request(addr: SocketAddr, raw: &str) -> Reply {
    let mut s = connect(addr);
    s.write_all(raw.as_bytes()).unwrap();
    read_reply(&mut s, raw.starts_with("HEAD"))
}

fn get(addr: SocketAddr, path: &str, range: Option<&str>) -> Reply {
    let range = range.map_or(String::new(), |r| format!("Range: {r}\r\n"));
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{range}Connection: close\r\n\r\n"),
    )
}

#[test]
fn index_lists_every_file_with_a_link() {
    let f = fixture();
    let r = get(f.server.local_addr(), "/", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    let page = String::from_utf8(r.body).unwrap();
    assert!(
        page.contains("<title>a &lt;test&gt; &amp; co</title>"),
        "{page}"
    );
    assert!(page.contains("href=\"/0/Show/video%20one.mp4\""), "{page}");
    assert!(page.contains("href=\"/1/Show/sub/en.srt\""), "{page}");
    assert!(page.contains("href=\"/2/empty.txt\""), "{page}");
    assert_eq!(
        f.server.file_url(0).unwrap(),
        format!("{}/0/Show/video%20one.mp4", f.server.base_url())
    );
    let status = get(f.server.local_addr(), "/status", None);
    let json: serde_json::Value = serde_json::from_slice(&status.body).unwrap();
    assert_eq!(json["files"][1]["url"], "/1/Show/sub/en.srt");
    assert_eq!(json["files"][0]["length"], 3_000_000);
}

#[test]
fn whole_files_and_ranges() {
    let f = fixture();
    let addr = f.server.local_addr();
    let len = f.big.len();
    for path in ["/0/Show/video%20one.mp4", "/0", "/0/"] {
        let r = get(addr, path, None);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("Content-Type"), Some("video/mp4"));
        assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
        assert_eq!(r.header("ETag"), Some("\"t-0-3000000\""));
        assert!(r.body == f.big, "{path}: wrong body");
    }
    let cases: [(&str, usize, usize); 5] = [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=1500000-", 1_500_000, len - 1),
        ("bytes=-4096", len - 4096, len - 1),
        ("bytes=2999000-99999999", 2_999_000, len - 1),
    ];
    for (range, a, b) in cases {
        let r = get(addr, "/0", Some(range));
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("Content-Range"),
            Some(format!("bytes {a}-{b}/{len}").as_str()),
            "{range}"
        );
        assert!(r.body == f.big[a..=b], "{range}: wrong body");
    }
    let srt = get(addr, "/1/Show/sub/en.srt", None);
    assert_eq!(srt.header("Content-Type"), Some("application/x-subrip"));
    assert_eq!(srt.body, pattern(1234, 1));
    let empty = get(addr, "/2/empty.txt", None);
    assert_eq!((empty.status, empty.body.len()), (200, 0));
    // Several ranges: the whole file.
    let r = get(addr, "/1", Some("bytes=0-1,5-6"));
    assert_eq!((r.status, r.body.len()), (200, 1234));
    // A stale If-Range: the whole file; a matching one: the range.
    let raw = "GET /1 HTTP/1.1\r\nRange: bytes=0-9\r\nIf-Range: \"old\"\r\n\r\n";
    assert_eq!(request(addr, raw).status, 200);
    let raw = "GET /1 HTTP/1.1\r\nRange: bytes=0-9\r\nIf-Range: \"t-1-1234\"\r\n\r\n";
    assert_eq!(request(addr, raw).status, 206);
}

#[test]
fn head_unsatisfiable_and_unknown_paths() {
    let f = fixture();
    let addr = f.server.local_addr();
    let r = request(addr, "HEAD /0 HTTP/1.1\r\nRange: bytes=10-19\r\n\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Length"), Some("10"));
    assert_eq!(r.header("Content-Range"), Some("bytes 10-19/3000000"));
    let r = request(addr, "HEAD /0 HTTP/1.1\r\n\r\n");
    assert_eq!(r.header("Content-Length"), Some("3000000"));
    assert_eq!(f.opened.load(Ordering::SeqCst), 0, "HEAD opened a reader");

    for range in [
        "bytes=3000000-",
        "bytes=5000000-6000000",
        "bytes=-0",
        "bytes=9-1",
        "bytes=x",
    ] {
        let r = get(addr, "/0", Some(range));
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(
            r.header("Content-Range"),
            Some("bytes */3000000"),
            "{range}"
        );
    }
    assert_eq!(get(addr, "/2", Some("bytes=0-")).status, 416);
    for path in [
        "/3",
        "/99999999999999999999999",
        "/00",
        "/-1",
        "/0x",
        "/abc",
        "/1/wrong.srt",
        "/0/Show/video%20one.mp4/..",
        "/favicon.ico",
        "//",
    ] {
        assert_eq!(get(addr, path, None).status, 404, "{path}");
    }
    assert_eq!(get(addr, "/0/%zz", None).status, 400);
    assert_eq!(get(addr, "/0/%ff", None).status, 400);
    assert_eq!(f.open_readers.load(Ordering::SeqCst), 0);
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let f = fixture();
    let mut s = connect(f.server.local_addr());
    // Two requests sent at once (pipelined), then a third.
    s.write_all(b"GET /1 HTTP/1.1\r\nRange: bytes=0-9\r\n\r\nHEAD /0 HTTP/1.1\r\n\r\n")
        .unwrap();
    let a = read_reply(&mut s, false);
    let b = read_reply(&mut s, true);
    assert_eq!((a.status, a.body.len(), b.status), (206, 10, 200));
    s.write_all(b"GET /1 HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let c = read_reply(&mut s, false);
    assert_eq!((c.status, c.body.len()), (200, 1234));
    assert_eq!(c.header("Connection"), Some("close"));
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

/// Sends `raw` and returns the status of the answer (the connection must then
/// be closed by the server).
fn hostile(addr: SocketAddr, raw: &[u8]) -> u16 {
    let mut s = connect(addr);
    // The server may answer and close before reading everything.
    let _ = s.write_all(raw);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 "),
        "no response to {:?}: {text:?}",
        &raw[..raw.len().min(60)]
    );
    text[9..12].parse().unwrap()
}

#[test]
fn hostile_input_gets_4xx_and_the_server_lives_on() {
    let f = fixture();
    let addr = f.server.local_addr();
    let mut huge_header = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    huge_header.extend(std::iter::repeat_n(b'a', 100_000));
    huge_header.extend_from_slice(b"\r\n\r\n");
    let mut many_headers = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..1000 {
        many_headers.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
    }
    many_headers.extend_from_slice(b"\r\n");
    let mut long_uri = b"GET /".to_vec();
    long_uri.extend(std::iter::repeat_n(b'x', 100_000));
    long_uri.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    let cases: Vec<(&[u8], u16)> = vec![
        (&huge_header, 431),
        (&many_headers, 431),
        (&long_uri, 414),
        (b"\x00\x01\x02\xff\xfe garbage\r\n\r\n", 400),
        (b"GET\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\n\r\n", 505),
        (b"GET / SPDY/3\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 405),
        (b"BREW /0 HTTP/1.1\r\n\r\n", 501),
        (b"GET /0 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400),
        (
            b"GET /0 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            b"GET /0 HTTP/1.1\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n",
            400,
        ),
        (b"GET /0 HTTP/1.1\r\nRange: bytes=--1\r\n\r\n", 416),
        (
            b"GET /0 HTTP/1.1\r\nRange: bytes=0-1\r\n folded\r\n\r\n",
            400,
        ),
        (b"GET /../../etc/passwd HTTP/1.1\r\n\r\n", 404),
        (b"GET /0/%2e%2e/%2e%2e HTTP/1.1\r\n\r\n", 404),
        (b"GET /%00 HTTP/1.1\r\n\r\n", 404),
    ];
    for (raw, want) in cases {
        let got = hostile(addr, raw);
        assert_eq!(
            got,
            want,
            "{:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(60)])
        );
    }
    // Random bytes: whatever the answer, it is not a 2xx or 5xx, and the
    // server keeps serving.
    let mut x: u64 = 0x1234_5678;
    for _ in 0..50 {
        let len = (x % 300) as usize + 1;
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .chain(*b"\r\n\r\n")
            .collect();
        let status = hostile(addr, &junk);
        assert!(
            (400..500).contains(&status) || status == 505,
            "{status} for {junk:?}"
        );
    }
    assert_eq!(get(addr, "/1", None).body, pattern(1234, 1));
    assert_eq!(f.open_readers.load(Ordering::SeqCst), 0);
}

#[test]
fn a_slow_client_gets_408_and_an_idle_one_is_closed() {
    let limits = Limits {
        head_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let f = start(Duration::ZERO, limits);
    let addr = f.server.local_addr();
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 408 "),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    let mut idle = connect(addr);
    let t = Instant::now();
    let mut out = Vec::new();
    idle.read_to_end(&mut out).unwrap();
    assert!(out.is_empty());
    assert!(t.elapsed() < Duration::from_secs(15));
}

#[test]
fn many_clients_at_once() {
    let f = fixture();
    let addr = f.server.local_addr();
    let big = Arc::new(f.big.clone());
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let big = big.clone();
            std::thread::spawn(move || {
                let a = i * 150_000;
                let b = a + 200_000;
                let r = get(addr, "/0", Some(&format!("bytes={a}-{b}")));
                assert_eq!(r.status, 206);
                assert!(r.body == big[a..=b], "client {i}: wrong body");
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(f.opened.load(Ordering::SeqCst), 16);
}

#[test]
fn a_client_that_goes_away_frees_its_reader() {
    // Each read of 10,000 bytes takes 5 ms: the 3 MB body takes 1.5 s.
    let f = start(Duration::from_millis(5), Limits::default());
    let mut s = connect(f.server.local_addr());
    s.write_all(b"GET /0 HTTP/1.1\r\n\r\n").unwrap();
    let mut first = [0u8; 1000];
    s.read_exact(&mut first).unwrap();
    assert_eq!(f.open_readers.load(Ordering::SeqCst), 1);
    drop(s);
    let t = Instant::now();
    while f.open_readers.load(Ordering::SeqCst) != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the reader was not dropped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(f.server.body_bytes() < 3_000_000);
}

#[test]
fn a_client_that_goes_away_while_its_piece_is_missing_frees_its_reader() {
    // After 10,000 bytes the reader has nothing more and times out on every read.
    let f = start_stalling(Duration::ZERO, Limits::default(), 10_000);
    let mut s = connect(f.server.local_addr());
    s.write_all(b"GET /0 HTTP/1.1\r\n\r\n").unwrap();
    let mut first = [0u8; 1000];
    s.read_exact(&mut first).unwrap();
    // The client is there: the response waits for the data, however long.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(f.open_readers.load(Ordering::SeqCst), 1);
    drop(s);
    let t = Instant::now();
    while f.open_readers.load(Ordering::SeqCst) != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the reader of a client that left was not dropped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("reader dropped {:?} after the client left", t.elapsed());
}

#[test]
fn connections_over_the_limit_get_503() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let f = start(Duration::ZERO, limits);
    let addr = f.server.local_addr();
    let a = connect(addr);
    let b = connect(addr);
    let t = Instant::now();
    while f.server.connections() < 2 {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(hostile(addr, b"GET / HTTP/1.1\r\n\r\n"), 503);
    drop((a, b));
    let t = Instant::now();
    while f.server.connections() > 0 {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(get(addr, "/1", None).status, 200);
}

#[test]
fn shutdown_closes_connections() {
    let f = fixture();
    let addr = f.server.local_addr();
    let mut s = connect(addr);
    s.write_all(b"GET /1 HTTP/1.1\r\n\r\n").unwrap();
    read_reply(&mut s, false);
    f.server.shutdown();
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap_or(0), 0);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

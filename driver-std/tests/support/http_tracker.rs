//! A tiny HTTP tracker on a loopback `TcpListener`, shared by both drivers'
//! `tracker_http` tests (sluice-mio includes this file by path): it answers
//! every announce with one compact peer (a loopback listener of the test) and
//! a warning, and reports each request line. Plus the checks both tests make.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sluice_mio::create::{create_torrent, CreateOptions};
use sluice_std::core::metainfo::Metainfo;
use sluice_std::core::PeerId;
use sluice_std::Event;

/// The longest each step may take.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A fresh folder under the system's temporary folder, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("sluice-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch folder");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
            out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The query parameters of a request line `GET /announce?a=b&c=d HTTP/1.1`.
pub fn params(request_line: &str) -> BTreeMap<String, Vec<u8>> {
    let target = request_line.split(' ').nth(1).expect("a request target");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

/// Serves announces until `stop` is set or the limit passes; sends each
/// request line to `seen`.
fn serve(
    listener: TcpListener,
    peer: SocketAddr,
    seen: mpsc::Sender<String>,
    stop: Arc<AtomicBool>,
) {
    listener.set_nonblocking(true).expect("non-blocking");
    let end = Instant::now() + LIMIT * 2;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        let mut s = match listener.accept() {
            Ok((s, _)) => s,
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        s.set_nonblocking(false).expect("blocking");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut request = Vec::new();
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16384 {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&chunk[..n]),
            }
        }
        let text = String::from_utf8_lossy(&request).to_string();
        let line = text.lines().next().unwrap_or_default().to_owned();
        let SocketAddr::V4(v4) = peer else {
            panic!("IPv4 peer")
        };
        let mut body = b"d8:intervali1800e5:peers6:".to_vec();
        body.extend_from_slice(&v4.ip().octets());
        body.extend_from_slice(&v4.port().to_be_bytes());
        body.extend_from_slice(b"15:warning message10:be carefule");
        let mut reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        reply.extend_from_slice(&body);
        let _ = s.write_all(&reply);
        drop(s);
        if seen.send(line).is_err() {
            return;
        }
    }
}

/// A payload, a torrent naming only the test's tracker, the tracker and the
/// peer it hands out.
pub struct Setup {
    pub scratch: Scratch,
    pub payload_len: u64,
    pub meta: Metainfo,
    pub tracker_port: u16,
    /// The peer the tracker gives.
    pub peer: TcpListener,
    /// Each announce's request line.
    pub seen: Receiver<String>,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
}

impl Setup {
    pub fn new(tag: &str) -> Setup {
        let scratch = Scratch::new(tag);
        let data = scratch.0.join("payload.bin");
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&data, &payload).expect("write the payload");

        let tracker = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the tracker");
        let tracker_port = tracker.local_addr().expect("addr").port();
        let peer = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the peer");
        let peer_addr = peer.local_addr().expect("addr");

        let mut create = CreateOptions::new(&data);
        create.trackers = vec![format!("http://127.0.0.1:{tracker_port}/announce")];
        let made = create_torrent(&create, &mut |_, _| {}).expect("create the torrent");

        let (seen_tx, seen) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let server = {
            let stop = stop.clone();
            thread::spawn(move || serve(tracker, peer_addr, seen_tx, stop))
        };
        Setup {
            scratch,
            payload_len: payload.len() as u64,
            meta: made.meta,
            tracker_port,
            peer,
            seen,
            stop,
            server: Some(server),
        }
    }

    /// The first announce: every parameter as it should be.
    pub fn expect_started(&self, peer_id: PeerId, port: u16) {
        let line = self
            .seen
            .recv_timeout(LIMIT)
            .expect("an announce within the limit");
        assert!(line.starts_with("GET /announce?"), "{line}");
        let p = params(&line);
        assert_eq!(p["info_hash"], self.meta.info_hash.0, "{line}");
        assert_eq!(p["peer_id"], peer_id.0, "{line}");
        assert_eq!(p["port"], port.to_string().into_bytes(), "{line}");
        assert_eq!(p["event"], b"started", "{line}");
        assert_eq!(
            p["left"],
            self.payload_len.to_string().into_bytes(),
            "{line}"
        );
        assert_eq!(p["uploaded"], b"0", "{line}");
        assert_eq!(p["compact"], b"1", "{line}");
    }

    /// The peer the tracker gave is connected to, with this torrent's
    /// handshake; the connection is returned.
    pub fn expect_peer_connection(&self) -> TcpStream {
        self.peer.set_nonblocking(true).expect("non-blocking");
        let end = Instant::now() + LIMIT;
        let mut conn: Option<TcpStream> = None;
        while conn.is_none() && Instant::now() < end {
            match self.peer.accept() {
                Ok((s, _)) => conn = Some(s),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
        let mut conn = conn.expect("the client connects to the tracker's peer");
        conn.set_nonblocking(false).expect("blocking");
        conn.set_read_timeout(Some(LIMIT)).expect("timeout");
        let mut handshake = [0u8; 68];
        conn.read_exact(&mut handshake).expect("a handshake");
        assert_eq!(&handshake[1..20], b"BitTorrent protocol");
        assert_eq!(&handshake[28..48], &self.meta.info_hash.0[..]);
        conn
    }

    /// The tracker's warning comes as an event.
    pub fn expect_warning(&self, events: &Receiver<Event>) {
        let end = Instant::now() + LIMIT;
        let mut warned = false;
        while !warned && Instant::now() < end {
            if let Ok(Event::Tracker { url, text, error }) =
                events.recv_timeout(Duration::from_millis(200))
            {
                assert!(url.contains(&self.tracker_port.to_string()), "{url}");
                assert_eq!((text.as_str(), error), ("be careful", false));
                warned = true;
            }
        }
        assert!(warned, "no tracker warning event");
    }

    /// Shuts the client down with `shutdown`, which must not take long, and
    /// expects a `stopped` announce.
    pub fn expect_stopped_on(mut self, shutdown: impl FnOnce()) {
        let t0 = Instant::now();
        shutdown();
        assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
        let stopped = self
            .seen
            .recv_timeout(Duration::from_secs(5))
            .expect("a stopped announce");
        assert_eq!(params(&stopped)["event"], b"stopped", "{stopped}");
        self.stop.store(true, Ordering::SeqCst);
        if let Some(server) = self.server.take() {
            server.join().expect("the tracker thread");
        }
    }
}

//! opentracker on 127.0.0.1, serving only white-listed info-hashes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sluice_std::core::InfoHash;

use super::net::{running, wait_for_port};
use super::{Describe, ProcLog, START_TIMEOUT};
use crate::{require_tool, ChildGuard};

/// A running `opentracker` (HTTP and UDP on one loopback port). Killed when dropped.
pub struct Tracker {
    child: ChildGuard,
    log: ProcLog,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Tracker {
    /// The HTTP announce URL of a tracker on `port`.
    pub fn url(port: u16) -> String {
        format!("http://127.0.0.1:{port}/announce")
    }

    /// Start opentracker on `port` (see [`free_port`](super::free_port): the port is
    /// picked first because the `.torrent` names it) serving `info_hashes`, with
    /// `work/opentracker` as its folder. Returns once it accepts connections. `None`
    /// when opentracker is missing.
    pub fn start(work: &Path, port: u16, info_hashes: &[InfoHash]) -> Option<Tracker> {
        let program = require_tool("opentracker")?;
        let dir = work.join("opentracker");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let list: String = info_hashes
            .iter()
            .map(|h| format!("{}\n", h.to_hex()))
            .collect();
        std::fs::write(dir.join("whitelist"), list).expect("write the whitelist");
        // The Debian build serves only white-listed hashes; it may chroot into `-d`
        // (when run as root), so the whitelist is named relative to it.
        let mut cmd = Command::new(program);
        cmd.current_dir(&dir)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-P",
                &port.to_string(),
            ])
            .args(["-d", ".", "-w", "whitelist"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ChildGuard::spawn(&mut cmd);
        let log = ProcLog::capture(child.child(), "opentracker");
        let mut tracker = Tracker {
            child,
            log,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        let addr = tracker.addr;
        let child = &mut tracker.child;
        if !wait_for_port(addr, START_TIMEOUT, || running(child)) {
            panic!(
                "opentracker did not open {addr} within {START_TIMEOUT:?}\n{}",
                tracker.describe()
            );
        }
        Some(tracker)
    }

    /// Its announce URL.
    pub fn announce_url(&self) -> String {
        Tracker::url(self.addr.port())
    }

    /// Announce a peer at 127.0.0.1:`port` for `info_hash` (as that peer would: the
    /// tracker records the source address and the `port` parameter). `left` is 0 for a
    /// seed. Returns the peers the tracker answered with.
    pub fn announce(
        &self,
        info_hash: &InfoHash,
        peer_id: &[u8; 20],
        port: u16,
        left: u64,
    ) -> Vec<SocketAddr> {
        let query = format!(
            "info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left={left}&compact=1&numwant=50&event=started",
            percent(&info_hash.0),
            percent(peer_id)
        );
        let body = self.get(&format!("/announce?{query}"));
        compact_peers(&body).unwrap_or_else(|| {
            panic!(
                "opentracker answered no peer list: {:?}",
                String::from_utf8_lossy(&body)
            )
        })
    }

    /// An HTTP GET of `path`; the body.
    fn get(&self, path: &str) -> Vec<u8> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to opentracker at {}: {e}", self.addr));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)
            .unwrap_or_else(|e| panic!("read opentracker's answer: {e}"));
        let head_end = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("opentracker: no HTTP header in {resp:?}"));
        let head = String::from_utf8_lossy(&resp[..head_end]);
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "opentracker answered {head}"
        );
        resp[head_end + 4..].to_vec()
    }

    /// Its folder (whitelist).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Describe for Tracker {
    fn describe(&self) -> String {
        format!(
            "opentracker at {} — last lines:\n{}",
            self.addr,
            self.log.tail(20)
        )
    }
}

fn percent(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `peers` string of a compact tracker answer, as addresses.
fn compact_peers(body: &[u8]) -> Option<Vec<SocketAddr>> {
    let key = b"5:peers";
    let at = body.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &body[at..];
    let colon = rest.iter().position(|&b| b == b':')?;
    let len: usize = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
    let peers = rest.get(colon + 1..colon + 1 + len)?;
    Some(
        peers
            .chunks_exact(6)
            .map(|c| SocketAddr::from(([c[0], c[1], c[2], c[3]], u16::from_be_bytes([c[4], c[5]]))))
            .collect(),
    )
}

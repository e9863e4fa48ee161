//! A libtorrent peer: `tests/scripts/lt_peer.py` run by the Debian python.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use super::{wait_watching, Describe, ProcLog, WaitEnd, START_TIMEOUT};
use crate::{require_python_libtorrent, ChildGuard};

/// How a libtorrent peer runs.
#[derive(Debug, Clone)]
pub struct LtOptions {
    /// Peers to connect to (retried until connected).
    pub peers: Vec<SocketAddr>,
    /// Upload limit in bytes/s, applied to loopback peers too; 0 for none.
    pub upload_limit: u64,
    /// Download limit in bytes/s, applied to loopback peers too; 0 for none.
    /// libtorrent lets the first second or so burst above it.
    pub download_limit: u64,
    /// The loopback address it listens on and connects from. Peers on distinct
    /// addresses (127.0.0.2, 127.0.0.3 …) tell apart who connected to whom.
    pub ip: Ipv4Addr,
    /// Peer exchange (BEP 11 `ut_pex`, a default plugin of libtorrent): on by
    /// default; off, the torrent neither sends nor heeds it.
    pub pex: bool,
    /// Print `connected` and `peer_stats` lines, read by
    /// [`LtPeer::wait_connected`] and [`LtPeer::payload_with`].
    pub report_peers: bool,
    /// The script gives up (exit 3) after this long.
    pub timeout: Duration,
    /// A leecher keeps seeding this long after completing.
    pub linger: Duration,
    /// Local Service Discovery (BEP 14) on 127.0.0.1: announce the torrent
    /// and connect to the peers heard announcing it.
    pub lsd: bool,
}

impl Default for LtOptions {
    fn default() -> LtOptions {
        LtOptions {
            peers: Vec::new(),
            upload_limit: 0,
            download_limit: 0,
            ip: Ipv4Addr::LOCALHOST,
            pex: true,
            report_peers: false,
            timeout: Duration::from_secs(150),
            linger: Duration::ZERO,
            lsd: false,
        }
    }
}

/// A running `lt_peer.py`. Killed when dropped.
pub struct LtPeer {
    child: ChildGuard,
    log: ProcLog,
    addr: SocketAddr,
    role: &'static str,
}

/// The script, in the test crate's `scripts` folder.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lt_peer.py")
}

impl LtPeer {
    /// A seed of `torrent` whose data is in `save_path`: returns once it has checked
    /// the data and seeds it (panics if the data does not check out). `None` when
    /// python3-libtorrent is missing (see [`require_python_libtorrent`]).
    pub fn seed(torrent: &Path, save_path: &Path, opts: &LtOptions) -> Option<LtPeer> {
        let peer = LtPeer::start("seed", torrent, save_path, opts)?;
        peer.wait_line(START_TIMEOUT, "ready", |l| l == "ready");
        Some(peer)
    }

    /// A leecher of `torrent` downloading into `save_path` from `opts.peers`; returns
    /// once it listens. Wait for it with [`wait_complete`](Self::wait_complete).
    pub fn leech(torrent: &Path, save_path: &Path, opts: &LtOptions) -> Option<LtPeer> {
        LtPeer::start("leech", torrent, save_path, opts)
    }

    fn start(
        role: &'static str,
        torrent: &Path,
        save_path: &Path,
        opts: &LtOptions,
    ) -> Option<LtPeer> {
        let python = require_python_libtorrent()?;
        std::fs::create_dir_all(save_path)
            .unwrap_or_else(|e| panic!("create {}: {e}", save_path.display()));
        let mut cmd = Command::new(python);
        cmd.arg(script())
            .arg(role)
            .arg(torrent)
            .arg(save_path)
            .arg("--timeout")
            .arg(opts.timeout.as_secs_f64().to_string())
            .arg("--linger")
            .arg(opts.linger.as_secs_f64().to_string());
        if opts.upload_limit > 0 {
            cmd.arg("--upload-limit").arg(opts.upload_limit.to_string());
        }
        if opts.download_limit > 0 {
            cmd.arg("--download-limit")
                .arg(opts.download_limit.to_string());
        }
        if opts.ip != Ipv4Addr::LOCALHOST {
            cmd.arg("--ip").arg(opts.ip.to_string());
        }
        if !opts.pex {
            cmd.arg("--no-pex");
        }
        if opts.report_peers {
            cmd.arg("--report-peers");
        }
        if opts.lsd {
            cmd.args(["--lsd", "on"]);
        }
        for p in &opts.peers {
            cmd.arg("--peer").arg(p.to_string());
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ChildGuard::spawn(&mut cmd);
        let log = ProcLog::capture(child.child(), format!("libtorrent {role}"));
        let mut peer = LtPeer {
            child,
            log,
            addr: SocketAddr::new(IpAddr::V4(opts.ip), 0),
            role,
        };
        let line = peer.wait_line(START_TIMEOUT, "listening PORT", |l| {
            l.starts_with("listening ")
        });
        let port: u16 = line["listening ".len()..]
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("libtorrent {role}: bad line {line:?}: {e}"));
        peer.addr.set_port(port);
        Some(peer)
    }

    /// Wait for a line, or panic with the log.
    fn wait_line(&self, timeout: Duration, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.log.wait_for(timeout, pred).unwrap_or_else(|| {
            panic!(
                "libtorrent {} did not print {what:?} within {timeout:?}\n{}",
                self.role,
                self.describe()
            )
        })
    }

    /// Where it listens ([`LtOptions::ip`], 127.0.0.1 by default).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its output so far.
    pub fn log(&self) -> &ProcLog {
        &self.log
    }

    /// Leecher: wait at most `timeout` for it to download everything and exit. Returns
    /// its exit status (0: complete; 3: its own time limit; 2: an error), or `None`
    /// when it was still running at the deadline.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.wait_timeout(timeout)
    }

    /// Leecher: wait at most `timeout` for it to complete and exit 0, or panic with its
    /// log and the descriptions of `others`. Gives up early when its `progress` lines
    /// stop changing for [`STALL`](super::STALL).
    pub fn wait_complete(&mut self, timeout: Duration, others: &[&dyn Describe]) {
        let log = self.log.clone();
        let child = &mut self.child;
        let end = wait_watching(
            timeout,
            || child.child().try_wait().ok().flatten(),
            || {
                log.lines()
                    .iter()
                    .rev()
                    .find(|l| l.starts_with("progress "))
                    .cloned()
            },
        );
        if let WaitEnd::Done(status) = &end {
            if status.success() {
                return;
            }
        }
        panic!(
            "libtorrent {} did not complete: {end:?}\n==== {}{}",
            self.role,
            self.describe(),
            super::describe_all(others)
        );
    }

    /// With [`LtOptions::report_peers`]: wait at most `timeout` for a connection
    /// with a peer at `ip` to finish its handshake. Returns the peer's endpoint
    /// as libtorrent sees it and whether the peer connected to libtorrent
    /// (`true`) or libtorrent to it (`false`); `None` on timeout.
    pub fn wait_connected(&self, ip: IpAddr, timeout: Duration) -> Option<(SocketAddr, bool)> {
        let line = self.log.wait_for(timeout, |l| {
            parse_connected(l).is_some_and(|(addr, _)| addr.ip() == ip)
        })?;
        parse_connected(&line)
    }

    /// With [`LtOptions::report_peers`]: the payload bytes libtorrent has
    /// received from and sent to peers at `ip` (every connection's last
    /// `peer_stats` line, summed), as `(down, up)`. The lines come at most twice
    /// a second, so the figures may lag by that much.
    pub fn payload_with(&self, ip: IpAddr) -> (u64, u64) {
        let mut last = std::collections::HashMap::new();
        for line in self.log.lines() {
            let mut words = line.split(' ');
            if words.next() != Some("peer_stats") {
                continue;
            }
            let addr = words.next().and_then(|w| w.parse::<SocketAddr>().ok());
            let down = words.next().and_then(|w| w.parse::<u64>().ok());
            let up = words.next().and_then(|w| w.parse::<u64>().ok());
            if let (Some(addr), Some(down), Some(up)) = (addr, down, up) {
                if addr.ip() == ip {
                    last.insert(addr, (down, up));
                }
            }
        }
        last.values()
            .fold((0, 0), |(d, u), &(down, up)| (d + down, u + up))
    }

    /// Pieces it reported last (`progress` lines), if any.
    pub fn last_progress(&self) -> Option<String> {
        self.log
            .lines()
            .iter()
            .rev()
            .find(|l| l.starts_with("progress "))
            .cloned()
    }

    /// Stop it now.
    pub fn stop(&mut self) {
        self.child.stop();
    }
}

/// A `connected IP:PORT in|out` line: the endpoint, and whether it came in.
fn parse_connected(line: &str) -> Option<(SocketAddr, bool)> {
    let mut words = line.split(' ');
    if words.next() != Some("connected") {
        return None;
    }
    let addr = words.next()?.parse().ok()?;
    match words.next()? {
        "in" => Some((addr, true)),
        "out" => Some((addr, false)),
        _ => None,
    }
}

impl Describe for LtPeer {
    fn describe(&self) -> String {
        format!(
            "libtorrent {} at {} — last lines:\n{}",
            self.role,
            self.addr,
            self.log.tail(40)
        )
    }
}

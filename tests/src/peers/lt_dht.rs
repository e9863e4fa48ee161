//! A small Mainline DHT of libtorrent sessions on 127.0.0.1:
//! `tests/scripts/lt_dht.py` run by the Debian python.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::data::Payload;
use super::{Describe, ProcLog, START_TIMEOUT};
use crate::{require_python_libtorrent, ChildGuard};

/// What the DHT holds besides its plain nodes.
#[derive(Debug, Clone, Default)]
pub struct LtDhtOptions {
    /// Plain DHT nodes (sessions with no torrent).
    pub nodes: usize,
    /// A session seeding this torrent (`.torrent`, data folder) and
    /// announcing it in the DHT.
    pub seed: Option<(PathBuf, PathBuf)>,
    /// A session downloading this torrent (`.torrent`, folder) with peers
    /// from the DHT only.
    pub leech: Option<(PathBuf, PathBuf)>,
    /// DHT nodes outside the script every session knows (sluice's).
    pub extra_nodes: Vec<SocketAddr>,
    /// The script gives up after this long.
    pub timeout: Duration,
}

impl LtDhtOptions {
    /// `nodes` plain nodes, the script ending after `timeout`.
    pub fn nodes(nodes: usize, timeout: Duration) -> LtDhtOptions {
        LtDhtOptions {
            nodes,
            timeout,
            ..LtDhtOptions::default()
        }
    }

    /// `nodes` plain nodes and a seed of `payload`.
    pub fn seeding(nodes: usize, payload: &Payload, timeout: Duration) -> LtDhtOptions {
        LtDhtOptions {
            seed: Some((payload.torrent.clone(), payload.save_path.clone())),
            ..LtDhtOptions::nodes(nodes, timeout)
        }
    }

    /// `nodes` plain nodes and a leecher of `payload` downloading into `dir`.
    pub fn leeching(
        nodes: usize,
        payload: &Payload,
        dir: &Path,
        timeout: Duration,
    ) -> LtDhtOptions {
        LtDhtOptions {
            leech: Some((payload.torrent.clone(), dir.to_path_buf())),
            ..LtDhtOptions::nodes(nodes, timeout)
        }
    }
}

/// A running `lt_dht.py`. Killed when dropped.
pub struct LtDht {
    _child: ChildGuard,
    log: ProcLog,
    nodes: Vec<SocketAddr>,
    seed: Option<SocketAddr>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lt_dht.py")
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl LtDht {
    /// Starts the sessions and returns once every DHT port is known (and the
    /// seed, if any, has checked its data). `None` when python3-libtorrent is
    /// missing (see [`require_python_libtorrent`]).
    pub fn start(opts: &LtDhtOptions) -> Option<LtDht> {
        let python = require_python_libtorrent()?;
        let mut cmd = Command::new(python);
        cmd.arg(script())
            .arg(opts.nodes.to_string())
            .arg("--timeout")
            .arg(opts.timeout.as_secs_f64().to_string());
        for (flag, torrent) in [("--seed", &opts.seed), ("--leech", &opts.leech)] {
            if let Some((file, dir)) = torrent {
                std::fs::create_dir_all(dir).unwrap();
                cmd.arg(flag).arg(file).arg(dir);
            }
        }
        for n in &opts.extra_nodes {
            cmd.arg("--node").arg(n.to_string());
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ChildGuard::spawn(&mut cmd);
        let log = ProcLog::capture(child.child(), "libtorrent DHT");
        let mut dht = LtDht {
            _child: child,
            log,
            nodes: Vec::new(),
            seed: None,
        };
        let sessions = opts.nodes + opts.seed.is_some() as usize + opts.leech.is_some() as usize;
        let want = |l: &str| l.starts_with("node ");
        let port_of = |l: &str| -> u16 {
            let (_, port) = l.rsplit_once(' ').expect("a port");
            port.trim().parse().expect("a port number")
        };
        let mut seen = 0;
        while dht.nodes.len() < sessions {
            let line = dht.wait_line("node PORT", |l| want(l), seen);
            seen = line.0 + 1;
            dht.nodes.push(loopback(port_of(&line.1)));
        }
        if opts.seed.is_some() {
            let (_, line) = dht.wait_line(
                "seed_listening PORT",
                |l| l.starts_with("seed_listening "),
                0,
            );
            dht.seed = Some(loopback(port_of(&line)));
            dht.wait_line("ready", |l| l == "ready", 0);
        }
        Some(dht)
    }

    /// The first line from index `from` on that `pred` accepts, with its
    /// index; panics with the log after [`START_TIMEOUT`].
    fn wait_line(&self, what: &str, pred: impl Fn(&str) -> bool, from: usize) -> (usize, String) {
        self.log
            .wait_for_from(from, START_TIMEOUT, pred)
            .unwrap_or_else(|| panic!("libtorrent DHT did not print {what:?}\n{}", self.describe()))
    }

    /// Every session's DHT address (plain nodes first, then the seed's and
    /// the leecher's).
    pub fn nodes(&self) -> &[SocketAddr] {
        &self.nodes
    }

    /// The seed's TCP address, with `--seed`.
    pub fn seed_addr(&self) -> Option<SocketAddr> {
        self.seed
    }

    /// Its output so far.
    pub fn log(&self) -> &ProcLog {
        &self.log
    }

    /// Waits at most `timeout` for a line `pred` accepts.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        self.log.wait_for(timeout, pred)
    }
}

impl Describe for LtDht {
    fn describe(&self) -> String {
        format!("libtorrent DHT\n{}", self.log.tail(40))
    }
}

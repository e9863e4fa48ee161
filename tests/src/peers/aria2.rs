//! aria2c as a seed or a leecher. It learns peers only from a tracker (see
//! [`Tracker`](super::Tracker)); other peers can also connect to its listen port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use super::net::{free_port, running, wait_for_port};
use super::{wait_watching, Describe, ProcLog, WaitEnd, START_TIMEOUT};
use crate::{require_tool, ChildGuard};

/// A running `aria2c`. Killed when dropped.
pub struct Aria2 {
    child: ChildGuard,
    log: ProcLog,
    addr: SocketAddr,
    role: &'static str,
    log_file: PathBuf,
}

impl Aria2 {
    /// Seed `torrent` from the data in `save_path`: verify it (`-V`), then seed
    /// forever (`--seed-ratio=0.0`). Returns once it listens, which it does after the
    /// check. Its detailed log goes to `work/aria2-seed.log`. `None` when aria2c is
    /// missing.
    pub fn seed(work: &Path, torrent: &Path, save_path: &Path, limit: Duration) -> Option<Aria2> {
        let mut aria = Aria2::start("seed", work, torrent, save_path, limit, |cmd| {
            cmd.args(["-V", "--seed-ratio=0.0"]);
        })?;
        aria.wait_listening();
        Some(aria)
    }

    /// Download `torrent` into `save_path` from the peers its tracker names, then exit
    /// (`--seed-time=0`). Returns once it listens. Its detailed log goes to
    /// `work/aria2-leech.log`.
    pub fn leech(work: &Path, torrent: &Path, save_path: &Path, limit: Duration) -> Option<Aria2> {
        let mut aria = Aria2::start("leech", work, torrent, save_path, limit, |cmd| {
            cmd.args(["--seed-time=0"]);
        })?;
        aria.wait_listening();
        Some(aria)
    }

    fn start(
        role: &'static str,
        work: &Path,
        torrent: &Path,
        save_path: &Path,
        limit: Duration,
        extra: impl FnOnce(&mut Command),
    ) -> Option<Aria2> {
        let program = require_tool("aria2c")?;
        std::fs::create_dir_all(save_path)
            .unwrap_or_else(|e| panic!("create {}: {e}", save_path.display()));
        let port = free_port();
        let log_file = work.join(format!("aria2-{role}.log"));
        let mut cmd = Command::new(program);
        cmd.arg("--no-conf=true")
            .arg(format!("--listen-port={port}"))
            .arg("--interface=127.0.0.1")
            .arg("--disable-ipv6=true")
            .arg("--enable-dht=false")
            .arg("--enable-dht6=false")
            .arg("--bt-enable-lpd=false")
            .arg("--enable-peer-exchange=false")
            .arg("--file-allocation=none")
            .arg("--auto-file-renaming=false")
            .arg("--summary-interval=0")
            .arg("--console-log-level=notice")
            .arg(format!("--stop={}", limit.as_secs().max(1)))
            .arg("--log")
            .arg(&log_file)
            .arg("--log-level=info")
            .arg("-d")
            .arg(save_path);
        extra(&mut cmd);
        cmd.arg(torrent)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ChildGuard::spawn(&mut cmd);
        let log = ProcLog::capture(child.child(), format!("aria2 {role}"));
        Some(Aria2 {
            child,
            log,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            role,
            log_file,
        })
    }

    /// Wait for "listening on TCP port N" and for the port itself.
    fn wait_listening(&mut self) {
        let port = self.addr.port();
        let line = self.log.wait_for(START_TIMEOUT, |l| {
            l.contains("listening on TCP port") || (l.contains("ERROR") && !l.contains("IPv6"))
        });
        let addr = self.addr;
        let child = &mut self.child;
        let ok = line
            .as_deref()
            .is_some_and(|l| l.ends_with(&port.to_string()))
            && wait_for_port(addr, START_TIMEOUT, || running(child));
        if !ok {
            panic!(
                "aria2 {} did not listen on {addr} within {START_TIMEOUT:?}\n{}",
                self.role,
                self.describe()
            );
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its console output so far.
    pub fn log(&self) -> &ProcLog {
        &self.log
    }

    /// Leecher: wait at most `timeout` for it to exit; `None` if still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.wait_timeout(timeout)
    }

    /// Leecher: wait at most `timeout` for it to finish the download and exit 0, or
    /// panic with its logs and the descriptions of `others`. Gives up early when its
    /// progress readout (`[#gid DONE/TOTAL(..%) CN:..]`, printed every second) shows
    /// the same amount for [`STALL`](super::STALL).
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
                    .find(|l| l.starts_with("[#"))
                    .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
            },
        );
        if let WaitEnd::Done(status) = &end {
            if status.success() {
                return;
            }
        }
        panic!(
            "aria2 {} did not complete: {end:?}\n==== {}{}",
            self.role,
            self.describe(),
            super::describe_all(others)
        );
    }
}

impl Describe for Aria2 {
    fn describe(&self) -> String {
        let detail = std::fs::read_to_string(&self.log_file).unwrap_or_default();
        let lines: Vec<&str> = detail.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        format!(
            "aria2 {} at {} — console:\n{}---- last lines of {}:\n{tail}",
            self.role,
            self.addr,
            self.log.tail(30),
            self.log_file.display()
        )
    }
}

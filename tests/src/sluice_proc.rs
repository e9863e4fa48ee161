//! `sluice` commands that run until stopped (`seed`, `download --seed`,
//! `stream`), for the CLI tests: their output line by line, the addresses they
//! print, Ctrl-C by their own process id, and a tiny HTTP client.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::peers::data::Payload;
use crate::peers::{Describe, ProcLog};
use crate::ChildGuard;

/// How long a command may take to print its first lines (it may hash its data
/// first).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `sluice` command. Killed when dropped.
pub struct SluiceProc {
    child: ChildGuard,
    log: ProcLog,
    name: String,
}

impl SluiceProc {
    /// Starts `sluice <args>` with its output captured; `name` says which one
    /// it is in failure messages.
    pub fn spawn<I, S>(name: &str, args: I) -> SluiceProc
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        SluiceProc::spawn_with(name, args, |_| {})
    }

    /// Like [`spawn`](Self::spawn), with the command adjusted by `tune`
    /// first (its environment, say).
    pub fn spawn_with<I, S>(name: &str, args: I, tune: impl FnOnce(&mut Command)) -> SluiceProc
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = crate::sluice::command();
        tune(&mut cmd);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ChildGuard::spawn(&mut cmd);
        let log = ProcLog::capture(child.child(), format!("sluice {name}"));
        SluiceProc {
            child,
            log,
            name: name.to_string(),
        }
    }

    /// `sluice seed` of `payload` listening on a free port of 127.0.0.1,
    /// with the command adjusted by `tune` first.
    pub fn seed(payload: &Payload, tune: impl FnOnce(&mut Command)) -> SluiceProc {
        let args: [&OsStr; 5] = [
            "seed".as_ref(),
            payload.torrent.as_os_str(),
            payload.root.as_os_str(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
        ];
        SluiceProc::spawn_with("seed", args, tune)
    }

    /// Its output so far.
    pub fn log(&self) -> &ProcLog {
        &self.log
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line starting with `prefix` and returns the rest of it, or
    /// panics with the output when it does not come within `timeout`.
    pub fn wait_line(&self, prefix: &str, timeout: Duration) -> String {
        match self.log.wait_for(timeout, |l| l.starts_with(prefix)) {
            Some(line) => line[prefix.len()..].trim().to_string(),
            None => panic!(
                "sluice {} printed no line starting with {prefix:?} within {timeout:?}\n{}",
                self.name,
                self.describe()
            ),
        }
    }

    /// The peer address it printed (`listening on ADDR`), with 127.0.0.1 for
    /// an unspecified IP.
    pub fn peer_addr(&self) -> SocketAddr {
        let text = self.wait_line("listening on ", START_TIMEOUT);
        let mut addr: SocketAddr = text
            .parse()
            .unwrap_or_else(|e| panic!("bad address {text:?}: {e}"));
        if addr.ip().is_unspecified() {
            addr.set_ip([127, 0, 0, 1].into());
        }
        addr
    }

    /// Sends SIGINT (Ctrl-C) to it, by its own process id.
    pub fn interrupt(&mut self) {
        let status = Command::new("kill")
            .args(["-INT", &self.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT {} failed", self.id());
    }

    /// Waits at most `timeout` for it to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.wait_timeout(timeout)
    }

    /// Ctrl-C, then its exit status (panics with the output if it does not
    /// exit within `timeout`).
    pub fn stop(&mut self, timeout: Duration) -> ExitStatus {
        self.interrupt();
        match self.wait_exit(timeout) {
            Some(status) => status,
            None => panic!(
                "sluice {} did not exit within {timeout:?} of Ctrl-C\n{}",
                self.name,
                self.describe()
            ),
        }
    }
}

impl Describe for SluiceProc {
    fn describe(&self) -> String {
        format!(
            "sluice {} (pid {}) — last lines:\n{}",
            self.name,
            self.child.id(),
            self.log.tail(40)
        )
    }
}

/// A response read by [`http_get`].
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// Header fields as sent.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl HttpReply {
    /// The first field called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` from `addr` on a fresh connection, with extra header lines;
/// panics on a network error or after `timeout`.
pub fn http_get(addr: SocketAddr, path: &str, extra: &[&str], timeout: Duration) -> HttpReply {
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for line in extra {
        req.push_str(line);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').expect("header field");
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut reply = HttpReply {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = reply
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .expect("Content-Length");
    reply.body = vec![0; len];
    r.read_exact(&mut reply.body)
        .unwrap_or_else(|e| panic!("GET {path}: body: {e}"));
    reply
}

/// The JSON of `GET /status` from a `sluice stream` server.
pub fn stream_status(addr: SocketAddr) -> serde_json::Value {
    let reply = http_get(addr, "/status", &[], Duration::from_secs(30));
    assert_eq!(reply.status, 200);
    serde_json::from_slice(&reply.body).expect("/status is JSON")
}

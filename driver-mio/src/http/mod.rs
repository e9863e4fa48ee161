//! An HTTP/1.1 server for the files of a torrent while it downloads, so that
//! mpv, VLC, ffmpeg or a browser can play them.
//!
//! * `GET` and `HEAD` of `/` (an index with links), `/status` (JSON figures)
//!   and `/N/<path>` (file `N`, its path percent-encoded; `/N` alone works too).
//! * `Range: bytes=a-b`, `a-` and `-n` are answered `206` with `Content-Range`;
//!   a range that cannot be satisfied `416` with `Content-Range: bytes */LEN`.
//!   Several ranges in one request get the whole file (`200`).
//! * `Content-Type` comes from the file's extension.
//! * Each request reads through its own reader ([`Content::open`]); for a
//!   torrent that is a [`FileReader`](crate::FileReader), a stream in the
//!   engine, so the pieces a player asks for (and seeks to) are fetched first.
//!   The reader is dropped when the response ends or the client goes away.
//! * A thread per connection, keep-alive, and strict [`Limits`] on what a
//!   client may send; hostile input gets a `4xx` and a closed connection.
//!
//! ```no_run
//! use sluice_mio::{http, AddOptions, Client, ClientOptions};
//!
//! let client = Client::start(ClientOptions::new("downloads"))?;
//! let meta = sluice_core::metainfo::Metainfo::from_bytes(&std::fs::read("movie.torrent")?)?;
//! // Nothing selected: only what players ask for is downloaded.
//! let add = AddOptions { selected: Some(vec![]), ..AddOptions::default() };
//! let torrent = client.add_torrent(meta, add)?;
//! let server = http::Server::start("127.0.0.1:8888".parse()?, torrent)?;
//! println!("mpv {}", server.file_url(0).unwrap());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod conn;
mod mime;
mod range;
mod request;
mod text;

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use mime::content_type;
pub use range::{parse_range, RangeRequest};
pub use request::{read_head, Head, HeadError, Limits, Version};
pub use text::{decode_path, encode_path};

use crate::TorrentHandle;

/// How often a response waiting for a piece looks whether its client is still
/// connected (a player that seeks closes the old connection; its stream must
/// not keep fetching the old position).
const CLIENT_CHECK: Duration = Duration::from_millis(200);

/// One file a server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its number in the URL (`/N/...`): the file's index in the torrent.
    pub index: usize,
    /// Its path, `/`-separated.
    pub path: String,
    /// Its length in bytes.
    pub length: u64,
}

/// What a [`Server`] serves: a list of files, and a reader for a byte range of
/// each.
pub trait Content: Send + Sync + 'static {
    /// A title for the index page.
    fn title(&self) -> String;

    /// The files, in index order.
    fn entries(&self) -> Vec<Entry>;

    /// A reader over bytes `start..=end` of file `index` (`start <= end <
    /// length`), blocking until the bytes are ready.
    fn open(&self, index: usize, start: u64, end: u64) -> io::Result<Box<dyn Read + Send>>;

    /// A tag that changes whenever the bytes could (the `ETag` is made of it,
    /// the file's index and length); empty for none.
    fn tag(&self) -> String {
        String::new()
    }

    /// Figures for `/status` and the index page.
    fn status(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// A torrent's files; readers are [`FileReader`](crate::FileReader)s.
impl Content for TorrentHandle {
    fn title(&self) -> String {
        self.name().to_string()
    }

    fn entries(&self) -> Vec<Entry> {
        self.files()
            .into_iter()
            .filter(|f| !f.padding)
            .map(|f| Entry {
                index: f.index,
                path: f.path,
                length: f.length,
            })
            .collect()
    }

    fn open(&self, index: usize, start: u64, end: u64) -> io::Result<Box<dyn Read + Send>> {
        let mut reader = self.range_reader(index, start..=end)?;
        // Fetching starts before the response head goes out.
        reader.start_fetching()?;
        // Wakes the connection now and then while a piece is slow to come,
        // to see whether its client is still there.
        reader.set_read_timeout(Some(CLIENT_CHECK));
        Ok(Box::new(reader))
    }

    fn tag(&self) -> String {
        self.info_hash().to_hex()
    }

    fn status(&self) -> serde_json::Value {
        let (verified, total) = self.progress();
        let mut status = serde_json::json!({
            "name": self.name(),
            "info_hash": self.info_hash().to_hex(),
            "pieces_verified": verified,
            "pieces_total": total,
            "complete": self.is_complete(),
        });
        if let Ok(stats) = self.stats() {
            status["downloaded"] = stats.downloaded.into();
            status["uploaded"] = stats.uploaded.into();
            status["download_rate"] = stats.download_rate.into();
            status["upload_rate"] = stats.upload_rate.into();
            status["peers"] = stats.peers.into();
            status["verified_bytes"] = stats.verified_bytes.into();
        }
        status
    }
}

/// What connection threads share.
struct Shared {
    content: Arc<dyn Content>,
    limits: Limits,
    stopping: AtomicBool,
    /// Open connections (clones, to shut them down on [`Server::shutdown`]).
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    requests: AtomicU64,
    body_bytes: AtomicU64,
}

impl Shared {
    fn conns(&self) -> std::sync::MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running server: one thread accepting, one per connection. Stops on
/// [`shutdown`](Server::shutdown) or when dropped.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `addr` (port 0 picks a free one) and serves `content`.
    pub fn start(addr: SocketAddr, content: impl Content) -> io::Result<Server> {
        Server::start_with(addr, Arc::new(content), Limits::default())
    }

    /// Like [`start`](Server::start), with shared content and chosen limits.
    pub fn start_with(
        addr: SocketAddr,
        content: Arc<dyn Content>,
        limits: Limits,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            content,
            limits,
            stopping: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
        });
        let for_thread = shared.clone();
        let accept = thread::Builder::new()
            .name("sluice-http".into())
            .spawn(move || accept_loop(&listener, &for_thread))?;
        Ok(Server {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT` with a host a client can connect to (`127.0.0.1`
    /// when listening on every address).
    pub fn base_url(&self) -> String {
        format!("http://{}", connectable(self.addr))
    }

    /// The URL of file `index`, if the content has such a file.
    pub fn file_url(&self, index: usize) -> Option<String> {
        let entry = self
            .shared
            .content
            .entries()
            .into_iter()
            .find(|e| e.index == index)?;
        Some(format!("{}{}", self.base_url(), file_path(&entry)))
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Body bytes sent so far.
    pub fn body_bytes(&self) -> u64 {
        self.shared.body_bytes.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.shared.conns().len()
    }

    /// Stops accepting and closes every connection. A connection waiting for
    /// bytes that are not verified yet ends when its reader returns (at the
    /// latest when the torrent stops).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&connectable(self.addr), Duration::from_secs(1));
        let _ = accept.join();
        for (_, conn) in self.shared.conns().drain() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The path part of a file's URL: `/N/<percent-encoded path>`.
pub fn file_path(entry: &Entry) -> String {
    format!("/{}/{}", entry.index, encode_path(&entry.path))
}

fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else {
            // Out of descriptors, for instance: give the others time to close.
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        {
            let mut conns = shared.conns();
            if conns.len() >= shared.limits.max_connections {
                drop(conns);
                conn::refuse_busy(stream);
                continue;
            }
            if let Ok(clone) = stream.try_clone() {
                conns.insert(id, clone);
            }
        }
        let for_thread = shared.clone();
        let spawned = thread::Builder::new()
            .name("sluice-http-conn".into())
            .spawn(move || {
                conn::serve(stream, &for_thread);
                for_thread.conns().remove(&id);
            });
        if spawned.is_err() {
            shared.conns().remove(&id);
        }
    }
}

#[cfg(test)]
mod tests;

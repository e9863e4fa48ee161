//! Socket threads. Each connection has a reader thread (socket → engine
//! channel) and a writer thread (one chunk at a time from the engine → socket),
//! so a peer that stops reading blocks only its own writer, never the engine or
//! the other peers. Outbound connects run on a short-lived thread each, with a
//! timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use sluice_core::torrent::PeerKey;

use crate::runner::Msg;

/// Largest read from a socket at once.
const READ_SIZE: usize = 64 * 1024;

/// Largest chunk handed to a writer at once.
pub const WRITE_CHUNK: usize = 256 * 1024;

/// Bytes of received blocks waiting to be written, shared by a torrent's
/// reader threads: above the limit they stop reading, so a disk slower than
/// the network slows the peers down (TCP flow control) instead of filling
/// memory.
#[derive(Debug)]
pub struct WriteBacklog {
    bytes: Mutex<u64>,
    drained: Condvar,
    limit: u64,
}

impl WriteBacklog {
    pub fn new(limit: u64) -> Arc<WriteBacklog> {
        Arc::new(WriteBacklog {
            bytes: Mutex::new(0),
            drained: Condvar::new(),
            limit,
        })
    }

    /// A write of `n` bytes was queued.
    pub fn add(&self, n: u64) {
        *self.bytes.lock().unwrap_or_else(|e| e.into_inner()) += n;
    }

    /// A write of `n` bytes finished.
    pub fn done(&self, n: u64) {
        let mut b = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        *b = b.saturating_sub(n);
        if *b <= self.limit {
            self.drained.notify_all();
        }
    }

    /// Waits while the backlog is over the limit (re-checking now and then, so
    /// a stopped torrent never leaves a reader waiting for ever).
    fn wait_below_limit(&self) {
        let mut b = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        while *b > self.limit {
            b = self
                .drained
                .wait_timeout(b, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// The engine's side of a connection.
#[derive(Debug)]
pub struct Conn {
    /// A handle on the socket, to shut it down.
    pub stream: TcpStream,
    /// Chunks for the writer thread (capacity 1: one in flight).
    pub writer: SyncSender<Vec<u8>>,
    /// Bytes of the chunk the writer has, if any.
    pub writing: Option<usize>,
}

/// Starts the reader and writer threads of a connected socket.
pub fn start(
    key: PeerKey,
    stream: TcpStream,
    engine: SyncSender<Msg>,
    backlog: Arc<WriteBacklog>,
) -> std::io::Result<Conn> {
    stream.set_nodelay(true)?;
    let reader = stream.try_clone()?;
    let writer_stream = stream.try_clone()?;
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(1);
    let to_engine = engine.clone();
    thread::Builder::new()
        .name(format!("sluice-read-{}", key.id()))
        .spawn(move || read_loop(key, reader, to_engine, &backlog))?;
    thread::Builder::new()
        .name(format!("sluice-write-{}", key.id()))
        .spawn(move || write_loop(key, writer_stream, rx, engine))?;
    Ok(Conn {
        stream,
        writer: tx,
        writing: None,
    })
}

fn read_loop(key: PeerKey, mut stream: TcpStream, engine: SyncSender<Msg>, backlog: &WriteBacklog) {
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        backlog.wait_below_limit();
        match stream.read(&mut buf) {
            Ok(0) => {
                let _ = engine.send(Msg::Closed(key, "connection closed by peer".into()));
                return;
            }
            Ok(n) => {
                if engine.send(Msg::Data(key, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = engine.send(Msg::Closed(key, e.to_string()));
                return;
            }
        }
    }
}

fn write_loop(
    key: PeerKey,
    mut stream: TcpStream,
    chunks: Receiver<Vec<u8>>,
    engine: SyncSender<Msg>,
) {
    while let Ok(chunk) = chunks.recv() {
        if let Err(e) = stream.write_all(&chunk) {
            let _ = engine.send(Msg::Closed(key, e.to_string()));
            return;
        }
        if engine.send(Msg::Sent(key, chunk.len())).is_err() {
            return;
        }
    }
}

/// Connects to `addr` on its own thread and reports to the engine.
pub fn connect(addr: SocketAddr, timeout: Duration, engine: SyncSender<Msg>) {
    let spawned = thread::Builder::new()
        .name(format!("sluice-connect-{addr}"))
        .spawn({
            let engine = engine.clone();
            move || {
                let msg = match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(stream) => Msg::Connected(addr, stream),
                    Err(_) => Msg::ConnectFailed(addr),
                };
                let _ = engine.send(msg);
            }
        });
    if spawned.is_err() {
        let _ = engine.send(Msg::ConnectFailed(addr));
    }
}

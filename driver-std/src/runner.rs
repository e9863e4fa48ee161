//! The engine thread of one torrent: it owns the [`Torrent`] and runs the
//! sans-IO loop of `sluice_core` over one channel. Socket threads, disk
//! workers, connectors and the program's handles all send it [`Msg`]s; it feeds
//! each into the engine, drains the outputs (handing bytes to writer threads,
//! jobs to disk workers, events to subscribers, the DHT nodes peers name to
//! the client's DHT thread) and sleeps until the next message or the
//! engine's timeout. The DHT thread hears from it when the torrent starts
//! and stops, and sends it the peers it finds as [`Command::AddPeers`].
//!
//! It never blocks on anything but its own channel: writers get a chunk only
//! when idle (`try_send`), disk jobs go to an unbounded queue. Everything that
//! sends to it blocks when its bounded channel is full, which is the
//! back-pressure that keeps a fast peer from filling memory.

use std::collections::BTreeMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::Arc;

use std::time::{Duration, Instant};

use sluice_core::torrent::{Direction, DiskJob, Event, Output, PeerKey, Torrent};
use sluice_core::tracker::announcer::RequestId;
use sluice_core::Time;

use crate::command::{Command, CommandSink};
use crate::dht_thread::DhtLink;
use crate::disk::{DiskDone, DiskPool};
use crate::net::{self, Conn, WriteBacklog, WRITE_CHUNK};
use crate::prepare::ResumeTarget;
use crate::resume::ResumeSaver;
use crate::status::Shared;
use crate::storage::Storage;

mod announce;

pub use announce::Announcing;

/// Capacity of the engine's channel: senders block beyond it.
pub const CHANNEL: usize = 256;

/// Received bytes waiting for the disk before peers are read no more.
const WRITE_BACKLOG: u64 = 32 << 20;

/// A message to the engine thread.
pub enum Msg {
    /// Bytes from a peer.
    Data(PeerKey, Vec<u8>),
    /// The connection ended.
    Closed(PeerKey, String),
    /// The writer sent this many bytes.
    Sent(PeerKey, usize),
    /// An outbound connection succeeded.
    Connected(SocketAddr, TcpStream),
    /// An outbound connection failed.
    ConnectFailed(SocketAddr),
    /// A peer connected to us; its handshake bytes were already read.
    Inbound(TcpStream, SocketAddr, Vec<u8>),
    /// A storage job finished.
    Disk(DiskDone),
    /// The program asks for something.
    Cmd(Command),
    /// An HTTP announce ended: the tracker's answer, or why there is none.
    TrackerHttp(RequestId, Result<Vec<u8>, String>),
    /// A datagram from a UDP tracker this torrent sent to.
    TrackerUdp {
        /// The tracker URL's host.
        host: String,
        /// The tracker URL's port.
        port: u16,
        /// Where it came from.
        from: SocketAddr,
        /// The bytes.
        datagram: Vec<u8>,
    },
    /// A UDP tracker could not be reached (its name did not resolve, or the
    /// datagram could not be sent).
    TrackerUdpError {
        /// The tracker URL's host.
        host: String,
        /// The tracker URL's port.
        port: u16,
        /// Why.
        text: String,
    },
}

/// sluice-std's [`CommandSink`]: the engine thread's channel.
pub struct EngineSink(pub SyncSender<Msg>);

impl CommandSink for EngineSink {
    fn send(&self, cmd: Command) -> bool {
        self.0.send(Msg::Cmd(cmd)).is_ok()
    }
}

/// The engine thread's state.
pub struct Runner {
    torrent: Torrent,
    rx: Receiver<Msg>,
    tx: SyncSender<Msg>,
    conns: BTreeMap<PeerKey, Conn>,
    disk: DiskPool,
    pending_disk: usize,
    backlog: Arc<WriteBacklog>,
    storage: Arc<dyn Storage>,
    shared: Arc<Shared>,
    subscribers: Vec<Sender<Event>>,
    start: Instant,
    connect_timeout: Duration,
    resume: Option<ResumeSaver>,
    tracker: Option<Announcing>,
    /// The client's DHT node, unless it runs none or the torrent is private.
    dht: Option<DhtLink>,
    /// The torrent became complete: announce `completed`.
    completed: bool,
}

impl Runner {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        torrent: Torrent,
        rx: Receiver<Msg>,
        tx: SyncSender<Msg>,
        storage: Arc<dyn Storage>,
        shared: Arc<Shared>,
        disk_threads: usize,
        connect_timeout: Duration,
        resume: Option<ResumeTarget>,
        start: Instant,
        tracker: Option<Announcing>,
        dht: Option<DhtLink>,
    ) -> io::Result<Runner> {
        let to_engine = tx.clone();
        let disk = DiskPool::start(
            disk_threads,
            storage.clone(),
            torrent.layout().clone(),
            crate::disk::portable_sha1,
            Arc::new(move |done| {
                let _ = to_engine.send(Msg::Disk(done));
            }),
        )?;
        let resume = resume.map(|t| ResumeSaver::start(t, storage.clone()));
        Ok(Runner {
            torrent,
            rx,
            tx,
            conns: BTreeMap::new(),
            disk,
            pending_disk: 0,
            backlog: WriteBacklog::new(WRITE_BACKLOG),
            storage,
            shared,
            subscribers: Vec::new(),
            start,
            connect_timeout,
            resume,
            tracker,
            dht,
            completed: false,
        })
    }

    fn now(&self) -> Time {
        Time::from_duration(self.start.elapsed())
    }

    /// Runs until the torrent is stopped.
    pub fn run(mut self) {
        self.drain_outputs();
        self.tracker_start();
        if let Some(dht) = &self.dht {
            dht.add_torrent(self.torrent.info_hash(), self.tx.clone());
        }
        loop {
            let now = self.now();
            let mut wait = self
                .torrent
                .poll_timeout()
                .map_or(Duration::from_secs(1), |t| t.saturating_since(now))
                .min(Duration::from_secs(1));
            if let Some(t) = self
                .tracker
                .as_ref()
                .and_then(|a| a.announcer.poll_timeout())
            {
                wait = wait.min(t.saturating_since(now));
            }
            match self.rx.recv_timeout(wait) {
                Ok(Msg::Cmd(Command::Stop { remove, reply })) => {
                    let result = self.stop(remove);
                    let _ = reply.send(result);
                    return;
                }
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = self.now();
            if self.torrent.poll_timeout().is_some_and(|t| t <= now) {
                self.torrent.handle_timeout(now);
            }
            self.tracker_timers();
            self.drain_outputs();
            if std::mem::take(&mut self.completed) {
                self.tracker_completed();
                self.drain_outputs();
            }
            self.sync_finished();
            if let Some(r) = &mut self.resume {
                r.tick(self.torrent.have());
            }
        }
    }

    fn handle(&mut self, msg: Msg) {
        let now = self.now();
        match msg {
            Msg::Data(key, bytes) => self.torrent.handle_data(now, key, &bytes),
            Msg::Closed(key, why) => {
                if let Some(c) = self.conns.remove(&key) {
                    let _ = c.stream.shutdown(Shutdown::Both);
                    self.torrent.handle_closed(now, key, &why);
                }
            }
            Msg::Sent(key, n) => {
                if let Some(c) = self.conns.get_mut(&key) {
                    c.writing = None;
                    self.torrent.handle_sent(now, key, n);
                    self.pump_send(key);
                }
            }
            Msg::Connected(addr, stream) => {
                let key = self
                    .torrent
                    .handle_connected(now, addr, Direction::Outbound);
                self.attach(key, stream);
            }
            Msg::ConnectFailed(addr) => self.torrent.handle_connect_failed(now, addr),
            Msg::Inbound(stream, addr, first) => {
                let key = self.torrent.handle_connected(now, addr, Direction::Inbound);
                self.attach(key, stream);
                if self.conns.contains_key(&key) {
                    self.torrent.handle_data(now, key, &first);
                }
            }
            Msg::Disk(done) => {
                self.pending_disk = self.pending_disk.saturating_sub(1);
                match done {
                    DiskDone::Write {
                        piece,
                        offset,
                        len,
                        result,
                    } => {
                        self.backlog.done(len as u64);
                        self.torrent.handle_write(now, piece, offset, result)
                    }
                    DiskDone::Read { id, result } => {
                        self.torrent
                            .handle_read(now, id, result.as_deref().map_err(Clone::clone))
                    }
                    DiskDone::Hash { piece, result } => {
                        self.torrent.handle_hash(now, piece, result)
                    }
                }
            }
            Msg::Cmd(cmd) => self.command(now, cmd),
            Msg::TrackerHttp(..) | Msg::TrackerUdp { .. } | Msg::TrackerUdpError { .. } => {
                self.tracker_msg(msg)
            }
        }
    }

    fn command(&mut self, now: Time, cmd: Command) {
        let t = &mut self.torrent;
        match cmd {
            Command::AddPeers(addrs) => t.add_peers(now, addrs),
            Command::Disconnect(addr) => t.disconnect(now, addr),
            Command::Ban(ip) => t.ban(now, ip),
            Command::FilePriority(file, prio, reply) => {
                t.set_file_priority(now, file, prio);
                self.sync_finished();
                let _ = reply.send(());
            }
            Command::OpenStream {
                file,
                range,
                position,
                reply,
            } => {
                let _ = reply.send(t.open_stream_at(now, file, range, position));
            }
            Command::SeekStream(id, pos) => {
                let _ = t.seek_stream(now, id, pos);
            }
            Command::CloseStream(id) => t.close_stream(now, id),
            Command::Stats(reply) => {
                let _ = reply.send(t.stats(now));
            }
            Command::Peers(reply) => {
                let _ = reply.send(t.peers(now));
            }
            Command::Subscribe(tx) => self.subscribers.push(tx),
            Command::Stop { .. } => unreachable!("handled by run"),
        }
    }

    /// Starts the socket threads of a new connection.
    fn attach(&mut self, key: PeerKey, stream: TcpStream) {
        match net::start(key, stream, self.tx.clone(), self.backlog.clone()) {
            Ok(conn) => {
                self.conns.insert(key, conn);
                self.pump_send(key);
            }
            Err(e) => {
                let now = self.now();
                self.torrent.handle_closed(now, key, &e.to_string());
            }
        }
    }

    /// Hands the next chunk of a peer's send buffer to its writer, if idle.
    fn pump_send(&mut self, key: PeerKey) {
        let Some(c) = self.conns.get_mut(&key) else {
            return;
        };
        if c.writing.is_some() {
            return;
        }
        let pending = self.torrent.send_buffer(key);
        if pending.is_empty() {
            return;
        }
        let n = pending.len().min(WRITE_CHUNK);
        match c.writer.try_send(pending[..n].to_vec()) {
            Ok(()) => c.writing = Some(n),
            // The writer died; its reader reports the close.
            Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => unreachable!("a writer holds one chunk at most"),
        }
    }

    fn drain_outputs(&mut self) {
        while let Some(out) = self.torrent.poll() {
            match out {
                Output::Transmit(key) => self.pump_send(key),
                Output::Connect(addr) => net::connect(addr, self.connect_timeout, self.tx.clone()),
                Output::Close { peer, .. } => {
                    if let Some(c) = self.conns.remove(&peer) {
                        let _ = c.stream.shutdown(Shutdown::Both);
                    }
                }
                // Hashed as it was written: answered here, without a trip
                // through a worker (a reader may be waiting for this piece).
                Output::Disk(DiskJob::Hash { piece }) => match self.disk.hash_ready(piece) {
                    Some(result) => self.torrent.handle_hash(self.now(), piece, result),
                    None => {
                        self.pending_disk += 1;
                        self.disk.submit(DiskJob::Hash { piece });
                    }
                },
                Output::Disk(job) => {
                    self.pending_disk += 1;
                    if let DiskJob::Write { data, .. } = &job {
                        self.backlog.add(data.len() as u64);
                    }
                    self.disk.submit(job);
                }
                // The DHT node's business, not the subscribers'.
                Output::Event(Event::DhtNode { addr }) => {
                    if let Some(dht) = &self.dht {
                        dht.add_node(addr);
                    }
                }
                Output::Event(e) => self.publish(e),
            }
        }
    }

    /// "Finished" follows the selection: selecting another file makes the
    /// torrent unfinished again.
    fn sync_finished(&mut self) {
        let finished = self.torrent.is_finished();
        if self.shared.lock().finished != finished {
            self.shared.update(|s| s.finished = finished);
        }
    }

    fn publish(&mut self, e: Event) {
        match &e {
            Event::PieceVerified { piece } => {
                let piece = *piece;
                self.shared.update(|s| {
                    s.have.set(piece, true);
                });
                if let Some(r) = &mut self.resume {
                    r.dirty = true;
                }
            }
            Event::Finished => self.shared.update(|s| s.finished = true),
            Event::Complete => {
                self.completed = true;
                self.shared.update(|s| s.complete = true);
                if let Some(r) = &mut self.resume {
                    r.save_soon();
                }
            }
            Event::Stopped { error } => {
                let msg = error.to_string();
                self.shared.update(|s| s.error = Some(msg));
            }
            Event::Stats(stats) => {
                let stats = stats.clone();
                self.shared.update(|s| s.stats = stats);
            }
            _ => {}
        }
        self.subscribers.retain(|tx| tx.send(e.clone()).is_ok());
    }

    /// Stops the torrent: closes every connection, lets queued disk jobs
    /// finish, flushes, saves (or deletes) the resume file and, if asked,
    /// deletes the data.
    fn stop(&mut self, remove: Option<bool>) -> io::Result<()> {
        let since = Instant::now();
        if let Some(dht) = self.dht.take() {
            dht.remove_torrent(self.torrent.info_hash());
        }
        self.tracker_stop();
        let now = self.now();
        self.torrent.shutdown(now);
        self.drain_outputs();
        for (_, c) in std::mem::take(&mut self.conns) {
            let _ = c.stream.shutdown(Shutdown::Both);
        }
        // Let every queued job land before flushing.
        while self.pending_disk > 0 {
            match self.rx.recv_timeout(Duration::from_secs(30)) {
                Ok(Msg::Disk(_)) => self.pending_disk -= 1,
                Ok(
                    msg @ (Msg::TrackerHttp(..)
                    | Msg::TrackerUdp { .. }
                    | Msg::TrackerUdpError { .. }),
                ) => self.tracker_msg(msg),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        self.disk.finish();
        let have = self.torrent.have().clone();
        let mut result = self.storage.flush();
        if let Some(saver) = self.resume.take() {
            let r = saver.finish(&have, remove);
            result = result.and(r);
        }
        if let Some(keep) = remove {
            let keep = keep.then_some(&have);
            result = result.and(self.storage.remove(keep));
        }
        self.tracker_wait(since);
        self.shared.update(|s| s.stopped = true);
        // After a storage failure the torrent's error is the news; a flush or
        // resume save failing again for the same reason is not a second one.
        if self.shared.lock().error.is_some() {
            return Ok(());
        }
        result
    }
}

//! [`Gate`]: a TCP proxy on 127.0.0.1 in front of one peer that passes the
//! peer's bytes on only up to an allowance. Scenarios use it to stop a transfer
//! part-way at a point they choose, act, and let it go on, without a slow link
//! or a sleep.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A proxy to `target`: connections made to [`Gate::addr`] are relayed to it.
/// What a client sends goes through at once; what `target` sends back goes
/// through only while the total so far is under the allowance.
#[derive(Debug)]
pub struct Gate {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    closing: AtomicBool,
    /// Every relayed socket, to shut down when the gate goes.
    sockets: Mutex<Vec<TcpStream>>,
}

#[derive(Debug)]
struct State {
    /// Bytes from `target` allowed through in total; `None`: no limit.
    allowance: Option<u64>,
    /// Bytes from `target` passed on so far.
    forwarded: u64,
    /// Connections accepted so far.
    connections: u32,
}

impl Gate {
    /// A proxy to `target` letting `allowance` bytes of `target`'s through
    /// (`None`: all of them).
    pub fn start(target: SocketAddr, allowance: Option<u64>) -> Gate {
        Gate::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), target, allowance)
    }

    /// The same, listening on `listen` (another loopback address, say).
    pub fn start_at(listen: SocketAddr, target: SocketAddr, allowance: Option<u64>) -> Gate {
        let listener =
            TcpListener::bind(listen).unwrap_or_else(|e| panic!("bind the gate on {listen}: {e}"));
        let addr = listener.local_addr().expect("gate address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                allowance,
                forwarded: 0,
                connections: 0,
            }),
            changed: Condvar::new(),
            closing: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        thread::Builder::new()
            .name("gate-accept".into())
            .spawn(move || accept(listener, target, &s))
            .expect("spawn the gate");
        Gate { addr, shared }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the total allowance (`None`: no limit). It counts from the start,
    /// so `allow(Some(self.forwarded()))` holds everything from now on.
    pub fn allow(&self, allowance: Option<u64>) {
        self.shared.lock().allowance = allowance;
        self.shared.changed.notify_all();
    }

    /// Lets everything through from now on.
    pub fn open(&self) {
        self.allow(None);
    }

    /// Holds everything from now on.
    pub fn close(&self) {
        let mut s = self.shared.lock();
        s.allowance = Some(s.forwarded);
    }

    /// Bytes of `target`'s passed on so far.
    pub fn forwarded(&self) -> u64 {
        self.shared.lock().forwarded
    }

    /// Connections made through the gate so far.
    pub fn connections(&self) -> u32 {
        self.shared.lock().connections
    }

    /// Waits until the whole allowance went through; false after `timeout`.
    pub fn wait_spent(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.shared.lock();
        loop {
            if s.allowance.is_some_and(|a| s.forwarded >= a) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self
                .shared
                .changed
                .wait_timeout(s, left.min(Duration::from_millis(100)))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        let sockets = std::mem::take(&mut *self.shared.sockets_lock());
        for s in sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sockets_lock(&self) -> std::sync::MutexGuard<'_, Vec<TcpStream>> {
        self.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Waits until at least one of `want` bytes may pass; how many may.
    /// `None` when the gate is going away.
    fn take(&self, want: usize) -> Option<usize> {
        let mut s = self.lock();
        loop {
            if self.closing() {
                return None;
            }
            let room = s
                .allowance
                .map_or(want as u64, |a| a.saturating_sub(s.forwarded));
            if room > 0 {
                let n = room.min(want as u64) as usize;
                s.forwarded += n as u64;
                drop(s);
                self.changed.notify_all();
                return Some(n);
            }
            s = self
                .changed
                .wait_timeout(s, Duration::from_millis(200))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

fn accept(listener: TcpListener, target: SocketAddr, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.closing() {
            return;
        }
        let Ok(client) = conn else { continue };
        let Ok(upstream) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        if relay(client, upstream, shared).is_err() {
            continue;
        }
        shared.lock().connections += 1;
    }
}

/// Starts the two pumps of one relayed connection.
fn relay(client: TcpStream, upstream: TcpStream, shared: &Arc<Shared>) -> io::Result<()> {
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    {
        let mut sockets = shared.sockets_lock();
        sockets.push(client.try_clone()?);
        sockets.push(upstream.try_clone()?);
    }
    let (c_read, u_write) = (client.try_clone()?, upstream.try_clone()?);
    thread::Builder::new()
        .name("gate-up".into())
        .spawn(move || pump(c_read, u_write, None))?;
    let s = shared.clone();
    thread::Builder::new()
        .name("gate-down".into())
        .spawn(move || pump(upstream, client, Some(&s)))?;
    Ok(())
}

/// Copies `from` to `to` until either ends, metered by `gate` if given.
fn pump(mut from: TcpStream, mut to: TcpStream, gate: Option<&Shared>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut done = 0;
        while done < n {
            let k = match gate {
                Some(g) => match g.take(n - done) {
                    Some(k) => k,
                    None => {
                        let _ = to.shutdown(Shutdown::Both);
                        return;
                    }
                },
                None => n - done,
            };
            if to.write_all(&buf[done..done + k]).is_err() {
                let _ = from.shutdown(Shutdown::Both);
                return;
            }
            done += k;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

//! Loopback ports and a minimal BitTorrent probe.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use sluice_std::core::InfoHash;

use crate::ChildGuard;

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then
/// released), for programs that cannot be told to pick one themselves.
pub fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    l.local_addr().expect("local address").port()
}

/// Wait at most `timeout` until something accepts TCP connections at `addr`, while
/// `alive()` holds (pass a check that the program serving it still runs).
pub fn wait_for_port(addr: SocketAddr, timeout: Duration, mut alive: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && alive() {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Handshake with the peer at `addr` for `info_hash` and count the pieces it says it
/// has (its bitfield, `have all` or `have` messages), waiting at most `timeout`.
/// `Ok(None)` when the handshake was refused or never answered; `Ok(Some(n))` with the
/// `have` messages counted when no bitfield came (a peer with nothing may send none).
pub fn probe_pieces(
    addr: SocketAddr,
    info_hash: &InfoHash,
    timeout: Duration,
) -> io::Result<Option<u32>> {
    let deadline = Instant::now() + timeout;
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut hs = Vec::with_capacity(68);
    hs.push(19);
    hs.extend_from_slice(b"BitTorrent protocol");
    // The fast extension, so a seed may say `have all`.
    hs.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x04]);
    hs.extend_from_slice(&info_hash.0);
    hs.extend_from_slice(b"-PR0001-probeprobe00");
    s.write_all(&hs)?;

    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut have = 0u32;
    let mut handshaken = false;
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => return Ok(handshaken.then_some(have)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            // Nothing yet: some peers send their bitfield a while after the handshake.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
            Err(e) => return Err(e),
        }
        if !handshaken {
            if buf.len() < 68 {
                continue;
            }
            if buf[0] != 19 || &buf[1..20] != b"BitTorrent protocol" || buf[28..48] != info_hash.0 {
                return Ok(None);
            }
            buf.drain(..68);
            handshaken = true;
        }
        // Messages: 4-byte length, id, payload.
        while buf.len() >= 4 {
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() < 4 + len {
                break;
            }
            let msg: Vec<u8> = buf.drain(..4 + len).skip(4).collect();
            match msg.first() {
                // bitfield
                Some(5) => {
                    have = msg[1..].iter().map(|b| b.count_ones()).sum();
                    return Ok(Some(have));
                }
                // have
                Some(4) => have += 1,
                // have all: the caller compares with the piece count
                Some(0x0E) => return Ok(Some(u32::MAX)),
                // have none
                Some(0x0F) => return Ok(Some(0)),
                _ => {}
            }
        }
    }
    Ok(handshaken.then_some(have))
}

/// Whether the child of `guard` is still running.
pub fn running(guard: &mut ChildGuard) -> bool {
    matches!(guard.child().try_wait(), Ok(None))
}

/// Probe `addr` (see [`probe_pieces`]) until it says it has all `pieces`, while
/// `alive()` holds; at most `timeout`. A `have all` counts as every piece.
pub fn wait_until_seeding(
    addr: SocketAddr,
    info_hash: &InfoHash,
    pieces: u32,
    timeout: Duration,
    mut alive: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && alive() {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Ok(Some(n)) = probe_pieces(addr, info_hash, left.min(Duration::from_secs(3))) {
            if n >= pieces {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

//! Things going wrong: a peer sending corrupt data, a storage backend that
//! fails, a file deleted under the download. Each ends cleanly: a ban, or a
//! stopped torrent with an error that says why, and never a piece counted as
//! verified that is not.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use sluice_core::torrent::Event;

use crate::conformance::{within, Add, Client, Driver, Gate, Options, Payload, StorageKind};
use crate::conformance::{Torrent, WriteBudget};
use crate::tempdir::TempDir;

use super::{
    add, assert_failed, assert_no_driver_panic, client, complete, drain, flip_byte,
    resume_and_complete, seed, seed_with, settled, start, WAIT,
};

/// A second seed, on 127.0.0.2 (bans are per address), serves a copy whose
/// every piece has a flipped byte. The leecher bans it — and only it — and
/// completes from the good seed on 127.0.0.1 with the right bytes.
pub fn bad_peer_is_banned<D: Driver>() {
    let dir = TempDir::new("conf-bad");
    let p = Payload::single(&dir.join("seed"), "bad.bin", 2 << 20, 32 << 10, 61);
    let (good_c, _good_t) = seed::<D>(&p);
    let (bad_c, bad_ip) = corrupt_seed::<D>(&p, &dir);

    let leech = client::<D>(&dir.join("leech"));
    let t = add::<D>(&leech, &p, Add::default());
    let events = t.subscribe();
    t.connect(bad_c.local_addr());
    // The bad seed alone first, so its data is certainly tried.
    let mut seen = Vec::new();
    let banned = loop {
        match events.recv_timeout(WAIT) {
            Ok(Event::PeerBanned { ip, strikes }) => break (ip, strikes),
            Ok(e) => seen.push(e),
            Err(e) => panic!(
                "{}: the corrupt seed was not banned ({e}); events: {seen:?}",
                D::NAME
            ),
        }
    };
    assert_eq!(banned.0, bad_ip, "{}: banned the wrong address", D::NAME);
    let blamed = |e: &Event| match e {
        Event::HashFailed { contributors, .. } => contributors.contains(&bad_ip),
        _ => false,
    };
    assert!(
        seen.iter().any(blamed),
        "{}: banned without a hash failure: {seen:?}",
        D::NAME
    );
    let bad_verified: Vec<&Event> = seen
        .iter()
        .filter(|e| matches!(e, Event::PieceVerified { .. }))
        .collect();
    assert!(
        bad_verified.is_empty(),
        "{}: pieces from the corrupt seed verified: {bad_verified:?}",
        D::NAME
    );

    t.connect(good_c.local_addr());
    // Connecting to a banned address again is refused.
    t.connect(bad_c.local_addr());
    complete::<D>(&t, "download after the ban");
    let later = drain(&events);
    let other_bans: Vec<&Event> = later
        .iter()
        .filter(|e| matches!(e, Event::PeerBanned { .. }))
        .collect();
    assert!(
        other_bans.is_empty(),
        "{}: more bans: {other_bans:?}",
        D::NAME
    );
    let reconnected = later
        .iter()
        .any(|e| matches!(e, Event::PeerConnected { addr, .. } if addr.ip() == bad_ip));
    assert!(
        !reconnected,
        "{}: connected to the banned address again",
        D::NAME
    );
    leech.shutdown().expect("shutdown");
    p.assert_files(&dir.join("leech"));
    bad_c.shutdown().expect("bad seed shutdown");
    good_c.shutdown().expect("seed shutdown");
    assert_no_driver_panic::<D>();
}

/// Another seed of `p`, from a copy of its data in `dir/<name>`, listening
/// on `ip`.
fn seed_copy<D: Driver>(p: &Payload, dir: &TempDir, name: &str, ip: IpAddr) -> D::Client {
    let copy_dir = dir.join(name);
    std::fs::create_dir_all(&copy_dir).expect("mkdir");
    std::fs::copy(p.path_in(&p.seed_dir, 0), p.path_in(&copy_dir, 0)).expect("copy");
    let mut copy = p.clone();
    copy.seed_dir = copy_dir;
    let mut opts = Options::new(&copy.seed_dir);
    opts.listen = SocketAddr::new(ip, 0);
    seed_with::<D>(&copy, opts).0
}

/// A second seed of `p` on 127.0.0.2 whose copy has one flipped byte in
/// every piece (flipped after it checked its data: it serves what is on disk).
fn corrupt_seed<D: Driver>(p: &Payload, dir: &TempDir) -> (D::Client, IpAddr) {
    let bad_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let bad_c = seed_copy::<D>(p, dir, "bad", bad_ip);
    for piece in 0..p.pieces() {
        flip_byte(
            &p.path_in(&dir.join("bad"), 0),
            p.piece_range(piece).start + 100,
        );
    }
    (bad_c, bad_ip)
}

/// The corrupt seed and the good one connected at once, pieces of several
/// blocks (so a failed piece may mix both peers' blocks): the corrupt one is
/// banned, the good one never, and the download completes with the right
/// bytes.
pub fn bad_peer_alongside_good<D: Driver>() {
    let dir = TempDir::new("conf-bad-mixed");
    let p = Payload::single(&dir.join("seed"), "mixed.bin", 4 << 20, 256 << 10, 63);
    let (good_c, _good_t) = seed::<D>(&p);
    let (bad_c, bad_ip) = corrupt_seed::<D>(&p, &dir);
    let leech = client::<D>(&dir.join("leech"));
    let t = add::<D>(&leech, &p, Add::default());
    let events = t.subscribe();
    t.connect(bad_c.local_addr());
    t.connect(good_c.local_addr());
    let done = t.wait_complete(WAIT);
    let seen = drain(&events);
    if let Err(e) = done {
        let peers = t.stats().map(|s| s.peers);
        panic!(
            "{}: not complete with a good and a corrupt seed ({e}); progress {:?}, \
             connected peers {peers:?}, missing pieces {:?}; events other than verified \
             pieces: {:?}",
            D::NAME,
            t.progress(),
            (0..p.pieces())
                .filter(|&x| !t.have().get(x))
                .collect::<Vec<_>>(),
            seen.iter()
                .filter(|e| !matches!(e, Event::PieceVerified { .. } | Event::Stats(_)))
                .collect::<Vec<_>>()
        );
    }
    let bans: Vec<IpAddr> = seen
        .iter()
        .filter_map(|e| match e {
            Event::PeerBanned { ip, .. } => Some(*ip),
            _ => None,
        })
        .collect();
    let failures = seen
        .iter()
        .filter(|e| matches!(e, Event::HashFailed { .. }))
        .count();
    println!("{}: {failures} hash failures, bans {bans:?}", D::NAME);
    assert!(
        bans.iter().all(|ip| *ip == bad_ip),
        "{}: banned {bans:?}, the good seed included",
        D::NAME
    );
    leech.shutdown().expect("shutdown");
    p.assert_files(&dir.join("leech"));
    bad_c.shutdown().expect("bad seed shutdown");
    good_c.shutdown().expect("seed shutdown");
    assert_no_driver_panic::<D>();
}

/// `block(ip)` on a connected peer: its connection closes, the address is
/// never connected again (even when asked to), and the download completes
/// from another peer.
pub fn blocked_peer_is_dropped<D: Driver>() {
    let dir = TempDir::new("conf-block");
    let p = Payload::single(&dir.join("seed"), "block.bin", 2 << 20, 32 << 10, 62);
    let (seed_c, _seed_t) = seed::<D>(&p);
    // Another seed, reached through 127.0.0.2 and sending a trickle only.
    let other = seed_copy::<D>(&p, &dir, "other", IpAddr::V4(Ipv4Addr::LOCALHOST));
    let blocked_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let gate = Gate::start_at(
        SocketAddr::new(blocked_ip, 0),
        other.local_addr(),
        Some(64 << 10),
    );
    let leech = client::<D>(&dir.join("leech"));
    let t = add::<D>(&leech, &p, Add::default());
    let events = t.subscribe();
    t.connect(gate.addr());
    let mut seen = Vec::new();
    let wait_for = |seen: &mut Vec<Event>, what: &str, hit: &dyn Fn(&Event) -> bool| loop {
        match events.recv_timeout(WAIT) {
            Ok(e) if hit(&e) => return,
            Ok(e) => seen.push(e),
            Err(e) => panic!("{}: no {what} ({e}); events: {seen:?}", D::NAME),
        }
    };
    wait_for(
        &mut seen,
        "connection to 127.0.0.2",
        &|e| matches!(e, Event::PeerConnected { addr, .. } if addr.ip() == blocked_ip),
    );
    t.block(blocked_ip);
    wait_for(
        &mut seen,
        "disconnection of 127.0.0.2",
        &|e| matches!(e, Event::PeerDisconnected { addr, .. } if addr.ip() == blocked_ip),
    );
    t.connect(gate.addr());
    t.connect(seed_c.local_addr());
    complete::<D>(&t, "download from the other address");
    let later = drain(&events);
    let banned = seen
        .iter()
        .chain(&later)
        .any(|e| matches!(e, Event::PeerBanned { ip, .. } if *ip == blocked_ip));
    assert!(
        banned,
        "{}: no PeerBanned event for the blocked address",
        D::NAME
    );
    assert_eq!(
        gate.connections(),
        1,
        "{}: connected to the blocked address again",
        D::NAME
    );
    p.assert_files(&dir.join("leech"));
    leech.shutdown().expect("shutdown");
    other.shutdown().expect("seed shutdown");
    seed_c.shutdown().expect("seed shutdown");
    assert_no_driver_panic::<D>();
}

/// A custom backend reports a full disk after three blocks.
pub fn storage_full<D: Driver>() {
    storage_error::<D>(WriteBudget::disk_full(3 * (16 << 10)), "disk full");
}

/// A custom backend refuses writes after three blocks, as a folder made
/// read-only would.
pub fn storage_read_only<D: Driver>() {
    storage_error::<D>(
        WriteBudget::permission_denied(3 * (16 << 10)),
        "permission denied",
    );
}

/// The torrent stops with `needle` in its error; `wait_complete` and a reader
/// blocked on data that cannot come both fail saying so; no piece counts as
/// verified that was not stored whole; nothing panics.
fn storage_error<D: Driver>(budget: WriteBudget, needle: &str) {
    let dir = TempDir::new("conf-storage-error");
    let p = Payload::single(&dir.join("seed"), "full.bin", 1 << 20, 16 << 10, 71);
    let (seed_c, _seed_t) = seed::<D>(&p);
    let budget = Arc::new(budget);
    let mut opts = Options::new(dir.join("leech"));
    opts.storage = StorageKind::FailingWrites(budget.clone());
    let leech = start::<D>(opts);
    let t = add::<D>(&leech, &p, Add::default());

    // A reader blocked on a range larger than the budget.
    let mut r = t.range_reader(0, 0..=(256 << 10) - 1).expect("reader");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = tx.send(r.read_to_end(&mut buf).map(|_| buf.len()));
    });
    t.connect(seed_c.local_addr());

    let waited = assert_failed(t.wait_complete(WAIT), needle, "wait_complete");
    let error = t.error();
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.to_lowercase().contains(needle)),
        "{}: error() is {error:?}, expected one saying {needle:?}",
        D::NAME
    );
    let read = rx.recv_timeout(WAIT).expect("the blocked reader returned");
    let read_err = assert_failed(read, needle, "blocked reader");
    println!(
        "{}: wait_complete: {waited}\n  error(): {error:?}\n  reader: {read_err}",
        D::NAME
    );
    assert!(budget.failures() > 0, "no write was refused");

    // Nothing counts as verified that was not stored whole, and nothing more
    // becomes verified once stopped.
    let have = t.have();
    let layout = p.layout();
    for piece in have.ones() {
        assert!(
            budget.stored_in(piece) >= u64::from(layout.piece_len(piece)),
            "{}: piece {piece} counts as verified but was not stored whole",
            D::NAME
        );
    }
    thread::sleep(Duration::from_millis(300));
    assert!(
        t.have() == have,
        "{}: pieces verified after the stop",
        D::NAME
    );

    // A new reader fails at once rather than blocking.
    let mut again = t.reader(0).expect("reader after the failure");
    let late = within(
        "read after the failure",
        Duration::from_secs(10),
        move || {
            let mut buf = vec![0u8; 1 << 20];
            again.read_exact(&mut buf)
        },
    );
    assert_failed(late, needle, "read after the failure");
    let shut = leech.shutdown();
    println!("{}: shutdown after the failure: {shut:?}", D::NAME);
    seed_c.shutdown().expect("seed shutdown");
    assert_no_driver_panic::<D>();
}

/// The file being downloaded is deleted part-way (data held back meanwhile, so
/// nothing is in flight): the torrent stops with an error naming the file;
/// `wait_complete` and a blocked reader fail; no piece becomes verified after
/// the deletion; a client started again on the folder counts only pieces whose
/// bytes are on disk and completes.
pub fn file_deleted_mid_download<D: Driver>() {
    let dir = TempDir::new("conf-deleted");
    let p = Payload::single(&dir.join("seed"), "deleted.bin", 2 << 20, 16 << 10, 81);
    let (seed_c, _seed_t) = seed::<D>(&p);
    let leech_dir = dir.join("leech");
    let gate = Gate::start(seed_c.local_addr(), Some(p.bytes.len() as u64 * 3 / 10));
    let leech = client::<D>(&leech_dir);
    let t = add::<D>(&leech, &p, Add::from(&[gate.addr()]));
    assert!(gate.wait_spent(WAIT), "30% of the payload did not come");
    let before = settled::<D>(&t, Duration::from_millis(300));
    assert!(before.count() > 0 && !before.is_full());

    std::fs::remove_file(p.path_in(&leech_dir, 0)).expect("delete the file");
    let mut r = t.reader(0).expect("reader");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = tx.send(r.read_to_end(&mut buf).map(|_| buf.len()));
    });
    gate.open();

    let name = "deleted.bin";
    let waited = assert_failed(t.wait_complete(WAIT), name, "wait_complete");
    let read = rx.recv_timeout(WAIT).expect("the blocked reader returned");
    let read_err = assert_failed(read, name, "blocked reader");
    println!(
        "{}: wait_complete: {waited}\n  error(): {:?}\n  reader: {read_err}",
        D::NAME,
        t.error()
    );
    assert!(t.error().is_some_and(|e| e.contains(name)));
    let after = t.have();
    let new: Vec<u32> = after.ones().filter(|&x| !before.get(x)).collect();
    assert!(
        new.is_empty(),
        "{}: pieces {new:?} became verified after their file was deleted",
        D::NAME
    );
    let shut = leech.shutdown();
    println!("{}: shutdown after the failure: {shut:?}", D::NAME);
    drop(gate);

    let kept = resume_and_complete::<D>(&p, &leech_dir, true, seed_c.local_addr());
    println!(
        "{}: {} pieces verified before the deletion, {} counted after the restart",
        D::NAME,
        before.count(),
        kept.count()
    );
    seed_c.shutdown().expect("seed shutdown");
}

//! A torrent's life across restarts: resuming after a kill or a clean stop,
//! removing its data, and memory storage (nothing on disk at all).

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::conformance::payload::assert_bytes;
use crate::conformance::{files_under, Torrent};
use crate::conformance::{within, Add, Client, Driver, Gate, Options, Payload, StorageKind};
use crate::process::ChildGuard;
use crate::tempdir::TempDir;

use super::{
    add, client, complete, eventually, flip_byte, ones, payload_files_under, resume_and_complete,
    seed, settled, start, subset, WAIT,
};

/// The leecher runs as a child process and is killed (SIGKILL) part-way
/// through; a client started again on the same folder keeps every piece
/// that was verified (none is fetched twice), counts no piece whose bytes are
/// wrong, and completes.
pub fn resume_after_kill<D: Driver>() {
    let dir = TempDir::new("conf-kill");
    let p = Payload::single(&dir.join("seed"), "killed.bin", 8 << 20, 32 << 10, 31);
    let (seed_c, _seed_t) = seed::<D>(&p);
    let torrent_file = dir.join("killed.torrent");
    p.write_torrent(&torrent_file);
    let leech_dir = dir.join("leech");
    std::fs::create_dir_all(&leech_dir).expect("mkdir");

    let gate = Gate::start(seed_c.local_addr(), Some(p.bytes.len() as u64 * 2 / 5));
    let mut child = ChildGuard::spawn(
        D::download_command(&torrent_file, &leech_dir, &[gate.addr()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    // The child's "<have>/<total> pieces" lines, as they come.
    let reported = Arc::new(Mutex::new(Vec::<u32>::new()));
    let stdout = child.child().stdout.take().expect("stdout");
    let stderr = child.child().stderr.take().expect("stderr");
    let errors = thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });
    let r = reported.clone();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(n) = pieces_reported(&line) {
                r.lock().unwrap_or_else(|e| e.into_inner()).push(n);
            }
        }
    });
    assert!(
        gate.wait_spent(WAIT),
        "the child took only {} bytes",
        gate.forwarded()
    );
    // Kill it once it says the same count twice: what came in is verified.
    let steady = eventually(WAIT, || {
        let r = reported.lock().unwrap_or_else(|e| e.into_inner());
        r.len() >= 2 && r[r.len() - 1] > 0 && r[r.len() - 1] == r[r.len() - 2]
    });
    let status = child.wait_timeout(Duration::ZERO);
    assert!(status.is_none(), "the child exited early: {status:?}");
    child.stop();
    let err = errors.join().unwrap_or_default();
    let last = reported
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .last()
        .copied()
        .unwrap_or(0);
    assert!(
        steady,
        "the child never reported steady progress (last {last}); stderr: {err}"
    );
    drop(gate);

    let kept = resume_and_complete::<D>(&p, &leech_dir, true, seed_c.local_addr());
    println!(
        "{}: the child reported {last}/{} pieces when killed; {} kept",
        D::NAME,
        p.pieces(),
        kept.count()
    );
    assert!(
        kept.count() >= last,
        "{}: the child had verified {last} pieces, only {} were kept",
        D::NAME,
        kept.count()
    );
    seed_c.shutdown().expect("seed shutdown");
}

/// `have` from the first `<have>/<total>` word of a progress line.
fn pieces_reported(line: &str) -> Option<u32> {
    line.split_whitespace().find_map(|w| {
        let (have, total) = w.split_once('/')?;
        total.trim_end_matches(',').parse::<u32>().ok()?;
        have.parse().ok()
    })
}

/// A partial download of two files stopped cleanly, then one verified piece
/// of the first file tampered with on disk: a client started again on the
/// folder, without verifying, trusts the resume record for the unchanged
/// file, hashes the changed one again (the tampered piece is dropped), keeps
/// every other verified piece, fetches nothing twice and completes.
pub fn resume_after_stop<D: Driver>() {
    let dir = TempDir::new("conf-stop");
    let p = Payload::multi(
        &dir.join("seed"),
        "stopped",
        &[("first.bin", (2 << 20) + 1234), ("second.bin", 2 << 20)],
        32 << 10,
        32,
    );
    let (seed_c, _seed_t) = seed::<D>(&p);
    let leech_dir = dir.join("leech");
    let gate = Gate::start(seed_c.local_addr(), Some(p.bytes.len() as u64 / 2));
    let leech = client::<D>(&leech_dir);
    let t = add::<D>(&leech, &p, Add::from(&[gate.addr()]));
    assert!(gate.wait_spent(WAIT), "half the payload did not come");
    let before = settled::<D>(&t, Duration::from_millis(300));
    t.stop().expect("stop");
    assert!(
        t.wait_complete(Duration::from_secs(1))
            .is_err_and(|e| e.kind() != std::io::ErrorKind::TimedOut),
        "{}: wait_complete on a stopped torrent does not fail at once",
        D::NAME
    );
    leech.shutdown().expect("clean shutdown");
    drop(gate);
    assert!(before.count() > 0, "nothing verified before the stop");
    assert!(!before.is_full(), "everything verified before the stop");

    // Tamper with a verified piece of the first file; the second is untouched.
    let tampered = before
        .ones()
        .find(|&x| p.layout().piece_files(x) == (0..1))
        .expect("a verified piece of the first file");
    flip_byte(&p.path_in(&leech_dir, 0), p.piece_range(tampered).start + 5);
    let mut expected = before.clone();
    expected.set(tampered, false);

    let kept = resume_and_complete::<D>(&p, &leech_dir, false, seed_c.local_addr());
    assert!(
        !kept.get(tampered),
        "{}: piece {tampered} was tampered with after the stop yet trusted",
        D::NAME
    );
    let lost: Vec<u32> = ones(&expected).difference(&ones(&kept)).copied().collect();
    assert!(
        lost.is_empty(),
        "{}: pieces {lost:?} were verified before the stop and lost",
        D::NAME
    );
    seed_c.shutdown().expect("seed shutdown");
}

/// `remove(false)` deletes everything the torrent wrote: its files (complete
/// and, with a deselected file, the parts area) and its resume record.
pub fn remove_deletes_data<D: Driver>() {
    let dir = TempDir::new("conf-remove");
    let p = Payload::multi(
        &dir.join("seed"),
        "gone",
        &[("a.bin", 300_001), ("b.bin", 500_000), ("c.bin", 200_003)],
        16 << 10,
        41,
    );
    let (seed_c, _seed_t) = seed::<D>(&p);
    let leech_dir = dir.join("leech");
    let leech = client::<D>(&leech_dir);
    // Files 0 and 1: file 2's share of a boundary piece goes to the parts area.
    let t = add::<D>(&leech, &p, Add::only(&[0, 1], &[seed_c.local_addr()]));
    super::finished::<D>(&t, "files 0 and 1");
    p.assert_file(&leech_dir, 0);
    p.assert_file(&leech_dir, 1);
    t.remove(false).expect("remove(false)");
    let left = files_under(&leech_dir);
    assert!(
        left.is_empty(),
        "{}: files left after remove(false): {left:?}",
        D::NAME
    );
    assert!(t.wait_complete(Duration::from_secs(1)).is_err());
    leech.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
}

/// `remove(true)` keeps verified data: after a partial download, the file
/// stays and a client started again on the folder (without verifying) has
/// every piece that was verified, and completes without fetching them. After a
/// complete download every file stays and the torrent is complete at once.
pub fn remove_keeps_verified<D: Driver>() {
    let dir = TempDir::new("conf-keep");
    let p = Payload::single(&dir.join("seed"), "kept.bin", 4 << 20, 32 << 10, 42);
    let (seed_c, _seed_t) = seed::<D>(&p);

    // Partial.
    let partial_dir = dir.join("partial");
    let gate = Gate::start(seed_c.local_addr(), Some(p.bytes.len() as u64 / 3));
    let leech = client::<D>(&partial_dir);
    let t = add::<D>(&leech, &p, Add::from(&[gate.addr()]));
    assert!(gate.wait_spent(WAIT), "a third of the payload did not come");
    let before = settled::<D>(&t, Duration::from_millis(300));
    assert!(before.count() > 0 && !before.is_full());
    // A reader blocked on missing data returns when the torrent goes.
    let mut r = t.reader(0).expect("reader");
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = tx.send(r.read_to_end(&mut buf).map(|_| buf.len()));
    });
    thread::sleep(Duration::from_millis(100));
    t.remove(true).expect("remove(true)");
    let read = rx.recv_timeout(WAIT).expect("the blocked reader returned");
    assert!(
        read.is_err(),
        "{}: a reader blocked on missing data returned {read:?} after remove",
        D::NAME
    );
    leech.shutdown().expect("shutdown");
    drop(gate);
    assert!(p.path_in(&partial_dir, 0).is_file(), "the file was deleted");
    let kept = resume_and_complete::<D>(&p, &partial_dir, false, seed_c.local_addr());
    assert!(
        subset(&before, &kept),
        "{}: remove(true) lost verified pieces {:?}",
        D::NAME,
        ones(&before).difference(&ones(&kept)).collect::<Vec<_>>()
    );

    // Complete.
    let full_dir = dir.join("full");
    let leech = client::<D>(&full_dir);
    let t = add::<D>(&leech, &p, Add::from(&[seed_c.local_addr()]));
    complete::<D>(&t, "download");
    t.remove(true).expect("remove(true)");
    leech.shutdown().expect("shutdown");
    p.assert_files(&full_dir);
    let mut opts = Options::new(&full_dir);
    opts.verify_on_start = false;
    let again = start::<D>(opts);
    let t = add::<D>(&again, &p, Add::default());
    t.wait_complete(Duration::from_secs(5))
        .expect("complete at once after remove(true) of a complete torrent");
    again.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
}

/// Memory storage: a download lands nowhere on disk, readers return its
/// bytes, and it seeds them to another client.
pub fn memory_storage<D: Driver>() {
    let dir = TempDir::new("conf-memory");
    let p = Payload::multi(
        &dir.join("seed"),
        "mem",
        &[("x.bin", 1_000_003), ("y.bin", 700_000)],
        32 << 10,
        51,
    );
    let (seed_c, _seed_t) = seed::<D>(&p);
    let mem_dir = dir.join("memory");
    let mut opts = Options::new(&mem_dir);
    opts.storage = StorageKind::Memory;
    let mem = start::<D>(opts);
    let t = add::<D>(&mem, &p, Add::from(&[seed_c.local_addr()]));
    complete::<D>(&t, "memory download");
    for i in 0..p.file_count() {
        let mut r = t.reader(i).expect("reader");
        let got = within("read from memory", WAIT, move || {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).map(|_| buf)
        })
        .expect("read");
        assert_bytes(&got, p.file(i), &p.rel_path(i));
    }
    assert!(
        payload_files_under(&mem_dir).is_empty(),
        "{}: memory storage wrote {:?}",
        D::NAME,
        files_under(&mem_dir)
    );

    // The memory client seeds: the original seed goes away first.
    seed_c.shutdown().expect("seed shutdown");
    let leech_dir = dir.join("leech");
    let leech = client::<D>(&leech_dir);
    let l = add::<D>(&leech, &p, Add::from(&[mem.local_addr()]));
    complete::<D>(&l, "download from the memory seed");
    p.assert_files(&leech_dir);
    leech.shutdown().expect("shutdown");
    mem.shutdown().expect("memory client shutdown");
    assert!(
        files_under(&mem_dir).is_empty(),
        "{}: memory storage wrote {:?}",
        D::NAME,
        files_under(&mem_dir)
    );
}

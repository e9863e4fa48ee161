//! The scenarios, one generic function each. A driver's test file calls each
//! one from its own `#[test]`:
//!
//! ```ignore
//! use sluice_tests::conformance::{scenarios, Std};
//!
//! #[test]
//! fn download_single_file() {
//!     scenarios::download_single_file::<Std>();
//! }
//! ```
//!
//! Every scenario makes its own folders and clients, listens on 127.0.0.1 at
//! free ports, and bounds every wait (a failure is a panic that says which
//! wait and what was seen).

mod faults;
mod lifecycle;
mod selection;
mod streaming;
mod transfer;

pub use faults::{
    bad_peer_alongside_good, bad_peer_is_banned, blocked_peer_is_dropped,
    file_deleted_mid_download, storage_full, storage_read_only,
};
pub use lifecycle::{
    memory_storage, remove_deletes_data, remove_keeps_verified, resume_after_kill,
    resume_after_stop,
};
pub use selection::{
    deselect_before_data, deselect_leaves_no_stray_files, select_after_restart,
    select_all_after_restart, select_one_file_then_another, wait_finished_sees_new_selection,
};
pub use streaming::{ranged_read_before_complete, ranged_read_streams_only_the_range, seek};
pub use transfer::{
    api_misuse_is_an_error, download_multi_file, download_single_file, empty_files_are_created,
    seed_uploads_both_ways,
};

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use sluice_core::torrent::Event;
use sluice_core::Bitfield;

use super::{Add, Client, Driver, Options, Payload, Torrent};

/// The bound on every wait that should end in a second.
pub const WAIT: Duration = Duration::from_secs(60);

/// Starts a client with `opts`.
fn start<D: Driver>(opts: Options) -> D::Client {
    super::watch_driver_panics();
    let dir = opts.download_dir.display().to_string();
    D::start(opts).unwrap_or_else(|e| panic!("{}: start a client in {dir}: {e}", D::NAME))
}

/// Starts a client on `dir` with default options.
fn client<D: Driver>(dir: &Path) -> D::Client {
    start::<D>(Options::new(dir))
}

/// Adds `payload`'s torrent to `client`.
fn add<D: Driver>(client: &D::Client, payload: &Payload, add: Add) -> D::Torrent {
    client
        .add(&payload.torrent, add)
        .unwrap_or_else(|e| panic!("{}: add the torrent: {e}", D::NAME))
}

/// A client seeding `payload` from its seed folder, listening on `opts`'s
/// address; waits until it has checked its data.
fn seed_with<D: Driver>(payload: &Payload, mut opts: Options) -> (D::Client, D::Torrent) {
    opts.download_dir = payload.seed_dir.clone();
    let c = start::<D>(opts);
    let t = add::<D>(&c, payload, Add::default());
    t.wait_complete(WAIT)
        .unwrap_or_else(|e| panic!("{}: the seed did not verify its data: {e}", D::NAME));
    (c, t)
}

/// A client seeding `payload` on 127.0.0.1.
fn seed<D: Driver>(payload: &Payload) -> (D::Client, D::Torrent) {
    seed_with::<D>(payload, Options::new(&payload.seed_dir))
}

/// Waits for completion, panicking with what was seen if it does not come.
fn complete<D: Driver>(t: &D::Torrent, what: &str) {
    if let Err(e) = t.wait_complete(WAIT) {
        panic!(
            "{}: {what}: not complete ({e}); progress {:?}, error {:?}",
            D::NAME,
            t.progress(),
            t.error()
        );
    }
}

/// Waits for the selected files, panicking with what was seen if they do not
/// come.
fn finished<D: Driver>(t: &D::Torrent, what: &str) {
    if let Err(e) = t.wait_finished(WAIT) {
        panic!(
            "{}: {what}: not finished ({e}); progress {:?}, error {:?}",
            D::NAME,
            t.progress(),
            t.error()
        );
    }
}

/// Polls `check` every 10 ms until it holds; false after `timeout`.
fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until the verified pieces stop changing for `quiet`; returns them.
fn settled<D: Driver>(t: &D::Torrent, quiet: Duration) -> Bitfield {
    let deadline = Instant::now() + WAIT;
    let mut last = t.have();
    let mut since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        let now = t.have();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return last;
        }
    }
    panic!("{}: verified pieces never settled", D::NAME);
}

/// Every event received so far.
fn drain(rx: &Receiver<Event>) -> Vec<Event> {
    rx.try_iter().collect()
}

/// The pieces of `PieceVerified` events.
fn verified_in(events: &[Event]) -> BTreeSet<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PieceVerified { piece } => Some(*piece),
            _ => None,
        })
        .collect()
}

/// The set pieces of a bitfield.
fn ones(b: &Bitfield) -> BTreeSet<u32> {
    b.ones().collect()
}

/// True when every piece of `small` is in `big`.
fn subset(small: &Bitfield, big: &Bitfield) -> bool {
    small.ones().all(|p| big.get(p))
}

/// The files under `dir` outside the driver's own `.sluice/` area.
fn payload_files_under(dir: &Path) -> BTreeSet<String> {
    super::files_under(dir)
        .into_iter()
        .filter(|f| !f.starts_with(".sluice/"))
        .collect()
}

/// Panics unless `r` failed with an error that is not a timeout and whose
/// message contains `needle`; returns the message.
fn assert_failed<T: std::fmt::Debug>(r: io::Result<T>, needle: &str, what: &str) -> String {
    match r {
        Ok(v) => panic!("{what}: succeeded ({v:?}), expected an error saying {needle:?}"),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            panic!("{what}: timed out ({e}), expected an error saying {needle:?}")
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.to_lowercase().contains(&needle.to_lowercase()),
                "{what}: error {msg:?} does not say {needle:?}"
            );
            msg
        }
    }
}

/// Panics if a driver thread panicked (in any scenario of this process).
fn assert_no_driver_panic<D: Driver>() {
    let n = super::driver_panics();
    assert_eq!(n, 0, "{}: {n} driver thread(s) panicked", D::NAME);
}

/// Flips one byte of `path` at `at`, in place (the file keeps its inode).
fn flip_byte(path: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).expect("read a byte");
    b[0] ^= 0xff;
    f.write_all_at(&b, at).expect("write a byte");
}

/// Restarts a client on `dir` (verifying existing data or not), adds the
/// torrent, connects it to `peer`, and checks that no piece it starts with is
/// fetched again and that it completes with the right bytes. Returns the
/// pieces it started with.
pub(super) fn resume_and_complete<D: Driver>(
    p: &Payload,
    dir: &std::path::Path,
    verify: bool,
    peer: std::net::SocketAddr,
) -> sluice_core::Bitfield {
    let mut opts = Options::new(dir);
    opts.verify_on_start = verify;
    let c = start::<D>(opts);
    let t = add::<D>(&c, p, Add::default());
    let start_have = t.have();
    let wrong = p.wrong_pieces_on_disk(dir, &start_have);
    assert!(
        wrong.is_empty(),
        "{}: pieces {wrong:?} count as verified after the restart, but their bytes on disk \
         are wrong",
        D::NAME
    );
    let events = t.subscribe();
    t.connect(peer);
    complete::<D>(&t, "download after the restart");
    let again: Vec<u32> = verified_in(&drain(&events))
        .into_iter()
        .filter(|&x| start_have.get(x))
        .collect();
    assert!(
        again.is_empty(),
        "{}: pieces {again:?} were verified before the restart and fetched again",
        D::NAME
    );
    let stats = t.stats().expect("stats");
    let missing: u64 = (0..p.pieces())
        .filter(|&x| !start_have.get(x))
        .map(|x| p.piece(x).len() as u64)
        .sum();
    assert!(
        stats.downloaded <= missing + stats.wasted,
        "{}: downloaded {} bytes ({} wasted) for {missing} missing bytes",
        D::NAME,
        stats.downloaded,
        stats.wasted
    );
    c.shutdown().expect("shutdown after the restart");
    p.assert_files(dir);
    assert_no_driver_panic::<D>();
    start_have
}

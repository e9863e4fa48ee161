//! Selecting files: only the selected file's pieces are fetched, deselected
//! files leave no file behind (their share of boundary pieces goes to the
//! driver's parts area under `.sluice/`), and a file selected later completes.

use std::collections::BTreeSet;
use std::io;
use std::time::Duration;

use crate::conformance::{Add, Client, Driver, Gate, Payload, Torrent};
use crate::tempdir::TempDir;

use super::{add, client, finished, payload_files_under, seed, subset, WAIT};

/// Three files; the middle one starts and ends inside pieces it shares with
/// its neighbours.
const FILES: &[(&str, u64)] = &[("a.bin", 300_001), ("b.bin", 500_000), ("c.bin", 200_003)];

fn payload(dir: &TempDir, seed: u64) -> Payload {
    Payload::multi(&dir.join("seed"), "three", FILES, 16 << 10, seed)
}

/// The set of relative paths of `files`.
fn paths(p: &Payload, files: &[usize]) -> BTreeSet<String> {
    files.iter().map(|&i| p.rel_path(i)).collect()
}

/// Only file 1 selected at add: exactly its pieces are verified, only its
/// file exists, with the seed's bytes. Then file 2 is selected: it completes
/// with the right bytes (its share of the boundary piece included), file 0
/// still does not exist, and no piece of file 0 alone was fetched.
pub fn select_one_file_then_another<D: Driver>() {
    let dir = TempDir::new("conf-select");
    let p = payload(&dir, 21);
    let (seed_c, _seed_t) = seed::<D>(&p);
    let leech_dir = dir.join("leech");
    let leech = client::<D>(&leech_dir);
    let t = add::<D>(&leech, &p, Add::only(&[1], &[seed_c.local_addr()]));

    finished::<D>(&t, "file 1");
    let want = p.file_pieces(1);
    let have = t.have();
    assert!(
        have == want,
        "{}: with only file 1 selected, verified pieces {:?} are not file 1's {:?}",
        D::NAME,
        have.ones().collect::<Vec<_>>(),
        p.layout().file_pieces(1)
    );
    p.assert_file(&leech_dir, 1);
    assert_eq!(
        payload_files_under(&leech_dir),
        paths(&p, &[1]),
        "{}: files in the download folder besides .sluice/",
        D::NAME
    );

    t.select(2).expect("select file 2");
    // Finished again once file 2 is in too.
    assert!(
        super::eventually(WAIT, || subset(&p.file_pieces(2), &t.have())),
        "{}: file 2 not verified after selecting it: {:?}",
        D::NAME,
        t.progress()
    );
    finished::<D>(&t, "files 1 and 2");
    p.assert_file(&leech_dir, 2);
    p.assert_file(&leech_dir, 1);
    let mut want = p.file_pieces(1);
    for piece in p.layout().file_pieces(2) {
        want.set(piece, true);
    }
    assert!(t.have() == want, "{}: stray pieces of file 0", D::NAME);
    assert_eq!(
        payload_files_under(&leech_dir),
        paths(&p, &[1, 2]),
        "{}: files in the download folder besides .sluice/",
        D::NAME
    );
    assert!(!t.have().is_full());
    leech.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
}

/// Every file selected at add, then files 0 and 2 deselected before any data
/// arrives: only file 1's pieces are fetched, and it holds the seed's bytes.
pub fn deselect_before_data<D: Driver>() {
    let dir = TempDir::new("conf-deselect");
    let p = payload(&dir, 22);
    deselect_0_and_2::<D>(&p, &dir);
}

/// The same: files 0 and 2 leave no file behind in the download folder (their
/// bytes of the boundary pieces go to the parts area), as when they are
/// deselected at add.
pub fn deselect_leaves_no_stray_files<D: Driver>() {
    let dir = TempDir::new("conf-deselect-stray");
    let p = payload(&dir, 27);
    deselect_0_and_2::<D>(&p, &dir);
    assert_eq!(
        payload_files_under(&dir.join("leech")),
        paths(&p, &[1]),
        "{}: files for deselected files were created",
        D::NAME
    );
}

/// Adds the torrent with every file, deselects 0 and 2, downloads from a seed
/// until finished; checks the verified pieces and file 1's bytes.
fn deselect_0_and_2<D: Driver>(p: &Payload, dir: &TempDir) {
    let (seed_c, _seed_t) = seed::<D>(p);
    let leech_dir = dir.join("leech");
    let leech = client::<D>(&leech_dir);
    let t = add::<D>(&leech, p, Add::default());
    t.deselect(0).expect("deselect 0");
    t.deselect(2).expect("deselect 2");
    t.connect(seed_c.local_addr());
    finished::<D>(&t, "file 1");
    assert!(
        t.have() == p.file_pieces(1),
        "{}: verified pieces {:?} are not file 1's {:?}",
        D::NAME,
        t.have().ones().collect::<Vec<_>>(),
        p.layout().file_pieces(1)
    );
    p.assert_file(&leech_dir, 1);
    leech.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
}

/// Downloads file 1 alone into `dir/leech` and shuts the client down.
fn only_file_1<D: Driver>(p: &Payload, dir: &TempDir, seed: std::net::SocketAddr) {
    let leech = client::<D>(&dir.join("leech"));
    let t = add::<D>(&leech, p, Add::only(&[1], &[seed]));
    finished::<D>(&t, "file 1");
    leech.shutdown().expect("shutdown");
}

/// File 1 alone downloaded and the client restarted with the same selection:
/// the boundary pieces count as verified without being fetched again, and
/// selecting file 2 then gives it its share of them (kept in the parts area
/// across the restart): file 2 holds the seed's bytes.
pub fn select_after_restart<D: Driver>() {
    let dir = TempDir::new("conf-select-restart");
    let p = payload(&dir, 24);
    let (seed_c, _seed_t) = seed::<D>(&p);
    only_file_1::<D>(&p, &dir, seed_c.local_addr());

    let leech_dir = dir.join("leech");
    let leech = client::<D>(&leech_dir);
    let t = add::<D>(&leech, &p, Add::only(&[1], &[]));
    assert!(
        t.have() == p.file_pieces(1),
        "{}: after the restart, verified pieces {:?} are not file 1's",
        D::NAME,
        t.have().ones().collect::<Vec<_>>()
    );
    t.select(2).expect("select file 2");
    t.connect(seed_c.local_addr());
    assert!(
        super::eventually(WAIT, || subset(&p.file_pieces(2), &t.have())),
        "{}: file 2 not verified after selecting it: {:?}",
        D::NAME,
        t.progress()
    );
    leech.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
    p.assert_file(&leech_dir, 1);
    p.assert_file(&leech_dir, 2);
}

/// File 1 alone downloaded, then the client restarted with every file
/// selected: it completes, and every file holds the seed's bytes — the
/// neighbours' shares of the boundary pieces included.
pub fn select_all_after_restart<D: Driver>() {
    let dir = TempDir::new("conf-all-restart");
    let p = payload(&dir, 25);
    let (seed_c, _seed_t) = seed::<D>(&p);
    only_file_1::<D>(&p, &dir, seed_c.local_addr());

    let leech_dir = dir.join("leech");
    let leech = client::<D>(&leech_dir);
    let t = add::<D>(&leech, &p, Add::from(&[seed_c.local_addr()]));
    super::complete::<D>(&t, "every file after the restart");
    leech.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
    p.assert_files(&leech_dir);
}

/// `wait_finished` waits for a file selected after the first ones finished:
/// with the seed's bytes held back, it times out instead of returning at once;
/// once they flow it returns with the new file verified.
pub fn wait_finished_sees_new_selection<D: Driver>() {
    let dir = TempDir::new("conf-refinish");
    let p = payload(&dir, 23);
    let (seed_c, _seed_t) = seed::<D>(&p);
    let gate = Gate::start(seed_c.local_addr(), None);
    let leech = client::<D>(&dir.join("leech"));
    let t = add::<D>(&leech, &p, Add::only(&[1], &[gate.addr()]));
    finished::<D>(&t, "file 1");

    gate.close();
    t.select(2).expect("select file 2");
    let early = t.wait_finished(Duration::from_millis(500));
    let file2_done = subset(&p.file_pieces(2), &t.have());
    assert!(
        matches!(&early, Err(e) if e.kind() == io::ErrorKind::TimedOut),
        "{}: wait_finished after selecting file 2 returned {early:?} while no byte could \
         arrive (file 2 verified: {file2_done}, progress {:?})",
        D::NAME,
        t.progress()
    );
    gate.open();
    finished::<D>(&t, "files 1 and 2");
    assert!(
        subset(&p.file_pieces(2), &t.have()),
        "{}: wait_finished returned before file 2 was verified",
        D::NAME
    );
    p.assert_file(&dir.join("leech"), 2);
    leech.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
}

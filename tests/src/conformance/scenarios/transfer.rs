//! Plain transfers: a seed, a leecher, identical bytes.

use std::io::Read;
use std::time::Duration;

use crate::conformance::{within, Add, Client, Driver, Payload, Torrent};
use crate::fixtures;
use crate::tempdir::TempDir;

use super::{add, client, complete, seed};

/// A single-file torrent downloads from a seed; the file is byte for byte the
/// seed's once the torrent says it is complete (before any shutdown).
pub fn download_single_file<D: Driver>() {
    let dir = TempDir::new("conf-single");
    let p = Payload::single(&dir.join("seed"), "single.bin", 3 << 20, 32 << 10, 1);
    let (seed_c, _seed_t) = seed::<D>(&p);

    let leech = client::<D>(&dir.join("leech"));
    let t = add::<D>(&leech, &p, Add::from(&[seed_c.local_addr()]));
    complete::<D>(&t, "download");
    assert!(t.have().is_full());
    assert_eq!(t.progress(), (p.pieces(), p.pieces()));
    p.assert_files(&dir.join("leech"));
    let stats = t.stats().expect("stats");
    assert!(
        stats.downloaded >= p.bytes.len() as u64,
        "downloaded {} of {} bytes",
        stats.downloaded,
        p.bytes.len()
    );
    leech.shutdown().expect("leecher shutdown");
    seed_c.shutdown().expect("seed shutdown");
    p.assert_files(&dir.join("leech"));
}

/// A multi-file torrent (nested folders, non-ASCII names, files smaller
/// than a piece, a zero-length file) downloads; every non-empty file holds
/// the seed's bytes.
pub fn download_multi_file<D: Driver>() {
    let dir = TempDir::new("conf-multi");
    let p = tree::<D>(&dir);
    for i in 0..p.file_count() {
        if p.meta.info.files[i].length > 0 {
            p.assert_file(&dir.join("leech"), i);
        }
    }
}

/// The same download: the zero-length file exists afterwards too, as every
/// other client creates it.
pub fn empty_files_are_created<D: Driver>() {
    let dir = TempDir::new("conf-empty");
    let p = tree::<D>(&dir);
    for i in 0..p.file_count() {
        let path = p.path_in(&dir.join("leech"), i);
        assert!(
            path.is_file(),
            "{}: {} is missing after the download (length {})",
            D::NAME,
            p.rel_path(i),
            p.meta.info.files[i].length
        );
    }
    p.assert_files(&dir.join("leech"));
}

/// Downloads [`fixtures::TREE`] into `dir/leech`, then shuts both down.
fn tree<D: Driver>(dir: &TempDir) -> Payload {
    let root = dir.join("seed").join("tree");
    fixtures::write_tree(&root, 11);
    let p = Payload::create(&dir.join("seed"), &root, 16 << 10);
    assert!(p.meta.info.files.iter().any(|f| f.length == 0));
    let (seed_c, _seed_t) = seed::<D>(&p);
    let leech = client::<D>(&dir.join("leech"));
    let t = add::<D>(&leech, &p, Add::from(&[seed_c.local_addr()]));
    complete::<D>(&t, "download");
    leech.shutdown().expect("leecher shutdown");
    seed_c.shutdown().expect("seed shutdown");
    p
}

/// A seed serves a leecher that connects to it, and a leecher it connects to
/// itself; it stays complete and counts what it uploaded.
pub fn seed_uploads_both_ways<D: Driver>() {
    let dir = TempDir::new("conf-seed");
    let p = Payload::single(&dir.join("seed"), "served.bin", 2 << 20, 32 << 10, 2);
    let (seed_c, seed_t) = seed::<D>(&p);
    assert!(seed_t.have().is_full(), "the seed has every piece");

    // One connects to the seed...
    let inbound = client::<D>(&dir.join("a"));
    let a = add::<D>(&inbound, &p, Add::from(&[seed_c.local_addr()]));
    // ...the seed connects to the other.
    let outbound = client::<D>(&dir.join("b"));
    let b = add::<D>(&outbound, &p, Add::default());
    seed_t.connect(outbound.local_addr());

    complete::<D>(&a, "leecher that connected to the seed");
    complete::<D>(&b, "leecher the seed connected to");
    p.assert_files(&dir.join("a"));
    p.assert_files(&dir.join("b"));
    let stats = seed_t.stats().expect("seed stats");
    assert!(
        stats.uploaded >= p.bytes.len() as u64,
        "the seed uploaded {} bytes for two leechers of {} bytes",
        stats.uploaded,
        p.bytes.len()
    );
    assert_eq!(stats.downloaded, 0, "a seed downloads nothing");
    assert!(seed_t.have().is_full());
    inbound.shutdown().expect("shutdown");
    outbound.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
    // Seeding wrote nothing.
    p.assert_files(&dir.join("seed"));
}

/// Misuse is an error, never a panic or a hang: a `.torrent` that is not one,
/// the same torrent twice, file indices out of range, an empty or
/// out-of-bounds range. A reader over a zero-length file is at its end at once.
pub fn api_misuse_is_an_error<D: Driver>() {
    let dir = TempDir::new("conf-misuse");
    let root = dir.join("seed").join("tree");
    fixtures::write_tree(&root, 12);
    let p = Payload::create(&dir.join("seed"), &root, 16 << 10);
    let c = client::<D>(&dir.join("leech"));
    assert!(
        c.add(b"d4:infoi1ee", Add::default()).is_err(),
        "{}: a bad .torrent was added",
        D::NAME
    );
    let t = add::<D>(&c, &p, Add::default());
    assert!(
        c.add(&p.torrent, Add::default()).is_err(),
        "{}: the same torrent was added twice",
        D::NAME
    );
    let n = p.file_count();
    assert!(t.reader(n).is_err(), "reader({n})");
    assert!(t.range_reader(n, 0..=0).is_err(), "range_reader({n})");
    assert!(t.select(n).is_err(), "select({n})");
    assert!(t.deselect(n).is_err(), "deselect({n})");
    let big = p
        .meta
        .info
        .files
        .iter()
        .position(|f| f.length > 1000)
        .expect("a file over 1000 bytes");
    let len = p.meta.info.files[big].length;
    assert!(
        t.range_reader(big, len..=len + 10).is_err(),
        "a range past the end of the file"
    );
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = t.range_reader(big, 10..=5);
    assert!(reversed.is_err(), "a reversed range");
    let empty = p
        .meta
        .info
        .files
        .iter()
        .position(|f| f.length == 0)
        .expect("a zero-length file");
    let mut r = t.reader(empty).expect("reader over the empty file");
    let n = within("read the empty file", Duration::from_secs(10), move || {
        let mut buf = [0u8; 16];
        r.read(&mut buf)
    })
    .expect("read the empty file");
    assert_eq!(n, 0, "{}: bytes read from a zero-length file", D::NAME);
    c.shutdown().expect("shutdown");
}

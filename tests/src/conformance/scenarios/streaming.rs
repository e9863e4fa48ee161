//! Readers: ranged reads and seeks return exactly the payload's bytes, and
//! they need neither the whole download nor the file to be selected.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::conformance::payload::assert_bytes;
use crate::conformance::{within, Add, Client, Driver, Gate, Payload, Torrent};
use crate::tempdir::TempDir;

use super::{add, client, complete, seed, WAIT};

/// With no file selected, a ranged read in the middle of a file returns
/// exactly its bytes, and only the pieces under the range are fetched.
/// Selecting the file afterwards completes it (streamed bytes included).
pub fn ranged_read_streams_only_the_range<D: Driver>() {
    let dir = TempDir::new("conf-range");
    let p = Payload::single(&dir.join("seed"), "film.bin", 4 << 20, 16 << 10, 3);
    let (seed_c, _seed_t) = seed::<D>(&p);
    let leech = client::<D>(&dir.join("leech"));
    let t = add::<D>(&leech, &p, Add::only(&[], &[]));

    let (start, len) = (2_000_003u64, 100_000u64);
    let mut r = t
        .range_reader(0, start..=start + len - 1)
        .expect("range reader");
    t.connect(seed_c.local_addr());
    let got = within("ranged read", WAIT, move || {
        let mut buf = Vec::new();
        r.read_to_end(&mut buf).map(|_| buf)
    })
    .expect("ranged read");
    assert_bytes(
        &got,
        &p.bytes[start as usize..(start + len) as usize],
        "ranged read",
    );

    let range_pieces = p.layout().byte_range_pieces(0, start..start + len);
    let have = t.have();
    for piece in range_pieces.clone() {
        assert!(
            have.get(piece),
            "piece {piece} under the range not verified"
        );
    }
    let stray: Vec<u32> = have.ones().filter(|x| !range_pieces.contains(x)).collect();
    assert!(
        stray.is_empty(),
        "{}: with nothing selected, pieces outside the read range {range_pieces:?} were \
         fetched: {stray:?}",
        D::NAME
    );

    // The last bytes of the file, through a range that ends with it.
    let end = p.bytes.len() as u64;
    let mut tail = t.range_reader(0, end - 10..=end - 1).expect("tail reader");
    let got = within("tail read", WAIT, move || {
        let mut buf = Vec::new();
        tail.read_to_end(&mut buf).map(|_| buf)
    })
    .expect("tail read");
    assert_bytes(&got, &p.bytes[end as usize - 10..], "tail read");
    assert!(t.progress().0 < p.pieces(), "streaming fetched everything");

    t.select(0).expect("select");
    complete::<D>(&t, "after selecting the streamed file");
    p.assert_files(&dir.join("leech"));
    leech.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
}

/// With every file selected and the seed's bytes trickling in through a
/// gate, a ranged read in the middle of the file returns its exact bytes long
/// before the download is complete: the stream's pieces come first.
pub fn ranged_read_before_complete<D: Driver>() {
    let dir = TempDir::new("conf-range-early");
    let p = Payload::single(&dir.join("seed"), "film.bin", 8 << 20, 16 << 10, 4);
    let (seed_c, _seed_t) = seed::<D>(&p);
    let gate = Gate::start(seed_c.local_addr(), Some(32 << 10));
    let leech = client::<D>(&dir.join("leech"));
    let t = add::<D>(&leech, &p, Add::from(&[gate.addr()]));

    let (start, len) = (5_000_001u64, 64 << 10);
    let mut r = t
        .range_reader(0, start..=start + len - 1)
        .expect("range reader");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = tx.send(r.read_to_end(&mut buf).map(|_| buf));
    });
    // Let about 6 MB/s through until the read is done.
    let deadline = Instant::now() + WAIT;
    let got = loop {
        match rx.try_recv() {
            Ok(r) => break r.expect("ranged read"),
            Err(mpsc::TryRecvError::Empty) => {}
            Err(e) => panic!("ranged read: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "ranged read: not done after {WAIT:?}"
        );
        gate.allow(Some(gate.forwarded() + (32 << 10)));
        thread::sleep(Duration::from_millis(5));
    };
    let (have, total) = t.progress();
    let forwarded = gate.forwarded();
    gate.open();
    assert_bytes(
        &got,
        &p.bytes[start as usize..(start + len) as usize],
        "ranged read",
    );
    println!(
        "{}: read {len} bytes at {start} after {have}/{total} pieces \
         ({forwarded} bytes from the seed)",
        D::NAME
    );
    assert!(
        have < total / 2 && forwarded < p.bytes.len() as u64 / 2,
        "{}: the ranged read waited for {have}/{total} pieces ({forwarded} bytes from the seed)",
        D::NAME
    );
    complete::<D>(&t, "download after the read");
    p.assert_files(&dir.join("leech"));
    leech.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
}

/// `Seek` on a reader, with nothing selected (so every read waits on the
/// stream's own pieces): forward, back a little, to the end, back far, before
/// the start (refused); and on a range reader, positions relative to the range.
pub fn seek<D: Driver>() {
    let dir = TempDir::new("conf-seek");
    let p = Payload::single(&dir.join("seed"), "seek.bin", 3_000_017, 16 << 10, 5);
    let (seed_c, _seed_t) = seed::<D>(&p);
    let leech = client::<D>(&dir.join("leech"));
    let t = add::<D>(&leech, &p, Add::only(&[], &[seed_c.local_addr()]));

    let bytes = p.bytes.clone();
    let mut r = t.reader(0).expect("reader");
    let mut rr = t.range_reader(0, 100_000..=199_999).expect("range reader");
    within("seeks", WAIT, move || -> io::Result<()> {
        let len = bytes.len() as u64;
        let at = |r: &mut <D::Torrent as Torrent>::Reader, want: u64| {
            let pos = r.stream_position().expect("position");
            assert_eq!(pos, want, "position");
        };
        let check = |r: &mut <D::Torrent as Torrent>::Reader, from: usize, n: usize, what: &str| {
            let mut buf = vec![0u8; n];
            r.read_exact(&mut buf)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_bytes(&buf, &bytes[from..from + n], what);
        };
        check(&mut r, 0, 1000, "read at 0");
        at(&mut r, 1000);
        assert_eq!(r.seek(SeekFrom::Start(1_500_000))?, 1_500_000);
        check(&mut r, 1_500_000, 20_000, "read after seeking forward");
        assert_eq!(r.seek(SeekFrom::Current(-10_000))?, 1_510_000);
        check(&mut r, 1_510_000, 5_000, "read after seeking back a little");
        assert_eq!(r.seek(SeekFrom::End(-100))?, len - 100);
        let mut tail = Vec::new();
        r.read_to_end(&mut tail)?;
        assert_bytes(&tail, &bytes[len as usize - 100..], "read to the end");
        let mut one = [0u8; 1];
        assert_eq!(r.read(&mut one)?, 0, "a read at the end returns 0");
        assert_eq!(r.seek(SeekFrom::Start(700_000))?, 700_000);
        check(&mut r, 700_000, 30_000, "read after seeking back far");
        let before = r.seek(SeekFrom::Current(-1_000_000));
        assert!(before.is_err(), "a seek before the start is refused");
        at(&mut r, 730_000);
        check(&mut r, 730_000, 10, "read after a refused seek");

        // Range readers: positions are relative to the range.
        at(&mut rr, 0);
        assert_eq!(rr.seek(SeekFrom::Start(50_000))?, 50_000);
        check(&mut rr, 150_000, 1000, "range read after a seek");
        assert_eq!(rr.seek(SeekFrom::End(-1))?, 99_999);
        check(&mut rr, 199_999, 1, "last byte of the range");
        assert_eq!(
            rr.read(&mut one)?,
            0,
            "a read at the end of the range returns 0"
        );
        assert_eq!(rr.seek(SeekFrom::Current(-99_999))?, 1);
        check(&mut rr, 100_001, 2, "range read after seeking back");
        Ok(())
    })
    .expect("seeks");
    assert!(
        t.progress().0 < p.pieces(),
        "{}: nothing selected, yet everything was fetched",
        D::NAME
    );
    leech.shutdown().expect("shutdown");
    seed_c.shutdown().expect("seed shutdown");
}

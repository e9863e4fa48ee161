//! Two sluice-std clients on loopback: one seeds, one downloads.

use std::time::{Duration, Instant};

use sluice_mio::create::{create_torrent, CreateOptions};
use sluice_std::{Client, ClientOptions};
use sluice_tests::{write_payload, TempDir};

#[test]
fn std_seed_to_std_leecher() {
    let dir = TempDir::new("std-loop");
    let data = dir.join("seed");
    let file = data.join("payload.bin");
    let size = 24 << 20;
    write_payload(&file, size, 5);
    let mut co = CreateOptions::new(&file);
    co.piece_length = Some(256 << 10);
    let made = create_torrent(&co, &mut |_, _| {}).unwrap();

    let mut so = ClientOptions::new(&data);
    so.listen = "127.0.0.1:0".parse().unwrap();
    let seed = Client::start(so).unwrap();
    let st = seed.add_torrent_bytes(&made.bytes).unwrap();
    assert!(
        st.is_complete(),
        "seed verified its data: {:?}",
        st.progress()
    );

    let mut lo = ClientOptions::new(dir.join("leech"));
    lo.listen = "127.0.0.1:0".parse().unwrap();
    let leech = Client::start(lo).unwrap();
    let lt = leech.add_torrent_bytes(&made.bytes).unwrap();
    let started = Instant::now();
    lt.connect(seed.local_addr());
    lt.wait_complete(Some(Duration::from_secs(60))).unwrap();
    let took = started.elapsed();
    leech.shutdown().unwrap();
    seed.shutdown().unwrap();
    let got = std::fs::read(dir.join("leech/payload.bin")).unwrap();
    let want = std::fs::read(&file).unwrap();
    assert!(got == want, "downloaded bytes differ");
    println!("24 MiB over loopback in {took:?}");
}

/// A peer that asks for a lot and then never reads must not slow the others:
/// its writer thread blocks on a full socket, nobody else's does.
#[test]
fn a_peer_that_stops_reading_does_not_stall_the_others() {
    use sluice_core::wire::{BlockRequest, Handshake, Message, Reserved};
    use sluice_core::PeerId;
    use std::io::Write;
    use std::net::TcpStream;

    let dir = TempDir::new("std-stall");
    let data = dir.join("seed");
    let file = data.join("payload.bin");
    write_payload(&file, 16 << 20, 9);
    let mut co = CreateOptions::new(&file);
    co.piece_length = Some(256 << 10);
    let made = create_torrent(&co, &mut |_, _| {}).unwrap();

    let mut so = ClientOptions::new(&data);
    so.listen = "127.0.0.1:0".parse().unwrap();
    let seed = Client::start(so).unwrap();
    let st = seed.add_torrent_bytes(&made.bytes).unwrap();

    // The stalling peer: handshake, interested, then requests for every block
    // of the torrent, and it never reads a byte.
    let mut stall = TcpStream::connect(seed.local_addr()).unwrap();
    let hs = Handshake {
        reserved: Reserved::NONE,
        info_hash: made.meta.info_hash,
        peer_id: PeerId(*b"-XX0000-stallstallst"),
    };
    let mut out = hs.to_bytes().to_vec();
    Message::Interested.encode(&mut out);
    let blocks_per_piece = (256 << 10) / (16 << 10);
    for piece in 0..64u32 {
        for b in 0..blocks_per_piece {
            let req = BlockRequest {
                piece,
                offset: b * (16 << 10),
                length: 16 << 10,
            };
            Message::Request(req).encode(&mut out);
        }
    }
    stall.write_all(&out).unwrap();

    let mut lo = ClientOptions::new(dir.join("leech"));
    lo.listen = "127.0.0.1:0".parse().unwrap();
    let leech = Client::start(lo).unwrap();
    let lt = leech.add_torrent_bytes(&made.bytes).unwrap();
    let started = Instant::now();
    lt.connect(seed.local_addr());
    lt.wait_complete(Some(Duration::from_secs(60)))
        .expect("the honest leecher completes while another peer stalls");
    println!("16 MiB next to a stalled peer in {:?}", started.elapsed());
    // The staller really was served, and is stuck with requests pending.
    let stalled = st
        .peers()
        .unwrap()
        .into_iter()
        .find(|p| p.client.is_none())
        .expect("the stalling peer is still connected");
    assert!(!stalled.am_choking, "{stalled:?}");
    assert!(stalled.requests_from_peer > 0, "{stalled:?}");
    leech.shutdown().unwrap();
    seed.shutdown().unwrap();
    drop(stall);
    let got = std::fs::read(dir.join("leech/payload.bin")).unwrap();
    assert!(got == std::fs::read(&file).unwrap());
}

/// Several readers at once, on several files and on two ranges of one file,
/// each on its own thread, with nothing selected: each gets exactly its bytes,
/// and only what they read (and the pieces around it) is fetched.
#[test]
fn many_readers_at_once() {
    use std::io::{Read, Seek, SeekFrom};
    use std::thread;

    use sluice_core::metainfo::Metainfo;
    use sluice_std::AddOptions;

    let dir = TempDir::new("std-readers");
    let data = dir.join("seed/multi");
    let sizes = [(0usize, 3_000_000u64), (1, 5_000_017), (2, 2_500_000)];
    for (i, size) in sizes {
        write_payload(&data.join(format!("f{i}.bin")), size, 40 + i as u64);
    }
    let mut co = CreateOptions::new(&data);
    co.piece_length = Some(64 << 10);
    let made = create_torrent(&co, &mut |_, _| {}).unwrap();

    let mut so = ClientOptions::new(dir.join("seed"));
    so.listen = "127.0.0.1:0".parse().unwrap();
    let seed = Client::start(so).unwrap();
    seed.add_torrent_bytes(&made.bytes).unwrap();
    let mut lo = ClientOptions::new(dir.join("leech"));
    lo.listen = "127.0.0.1:0".parse().unwrap();
    let leech = Client::start(lo).unwrap();
    let meta = Metainfo::from_bytes(&made.bytes).unwrap();
    let add = AddOptions {
        selected: Some(vec![]),
        peers: vec![seed.local_addr()],
    };
    let t = leech.add_torrent(meta, add).unwrap();

    // (file, start, length) for each reader.
    let reads = [
        (0usize, 1_000_000u64, 300_000u64),
        (1, 4_000_000, 500_000),
        (1, 17, 100_000),
        (2, 2_400_000, 100_000),
    ];
    let handles: Vec<_> = reads
        .iter()
        .map(|&(file, start, len)| {
            let t = t.clone();
            thread::spawn(move || {
                let mut r = t.reader(file).unwrap();
                r.seek(SeekFrom::Start(start)).unwrap();
                let mut buf = vec![0u8; len as usize];
                r.read_exact(&mut buf).unwrap();
                buf
            })
        })
        .collect();
    for (h, &(file, start, len)) in handles.into_iter().zip(&reads) {
        let got = h.join().expect("reader thread");
        let whole = std::fs::read(data.join(format!("f{file}.bin"))).unwrap();
        assert!(
            got == whole[start as usize..(start + len) as usize],
            "file {file} at {start}"
        );
    }
    let (have, total) = t.progress();
    assert!(
        have < total,
        "only what was read was fetched: {have}/{total}"
    );
    leech.shutdown().unwrap();
    seed.shutdown().unwrap();
}

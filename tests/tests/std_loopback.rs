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

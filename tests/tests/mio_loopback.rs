//! sluice-mio clients on loopback: what the event loop must not let one
//! torrent do to the others.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_core::metainfo::Metainfo;
use sluice_core::Bitfield;
use sluice_mio::create::{create_torrent, CreateOptions};
use sluice_mio::{Client, ClientOptions, StorageChoice};
use sluice_std::storage::{MemoryStorage, Storage};
use sluice_tests::{write_payload, TempDir};

/// Memory storage whose every write takes `delay`: a disk that cannot keep up.
struct SlowDisk {
    inner: MemoryStorage,
    delay: Duration,
    writes: Arc<AtomicU64>,
}

impl Storage for SlowDisk {
    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> io::Result<()> {
        std::thread::sleep(self.delay);
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(piece, offset, data)
    }

    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read(piece, offset, buf)
    }

    fn remove(&self, keep: Option<&Bitfield>) -> io::Result<()> {
        self.inner.remove(keep)
    }
}

fn make(dir: &Path, name: &str, size: u64, seed: u64) -> sluice_mio::create::Created {
    let file = dir.join(name);
    write_payload(&file, size, seed);
    let mut co = CreateOptions::new(&file);
    co.piece_length = Some(64 << 10);
    create_torrent(&co, &mut |_, _| {}).unwrap()
}

/// Two torrents in one client, one on a disk that takes 100 ms per block
/// write. Disk work runs on each torrent's own workers, off the loop: the
/// other torrent downloads at network speed meanwhile.
#[test]
fn a_slow_disk_does_not_stall_the_other_torrents() {
    let dir = TempDir::new("mio-slow-disk");
    let data = dir.join("seed");
    let slow = make(&data, "slow.bin", 1 << 20, 3);
    let fast = make(&data, "fast.bin", 16 << 20, 4);

    let mut so = ClientOptions::new(&data);
    so.listen = "127.0.0.1:0".parse().unwrap();
    let seed = Client::start(so).unwrap();
    for made in [&slow, &fast] {
        let t = seed.add_torrent_bytes(&made.bytes).unwrap();
        assert!(t.is_complete(), "the seed has {}", t.name());
    }

    let writes = Arc::new(AtomicU64::new(0));
    let slow_hash = slow.meta.info_hash;
    let counted = writes.clone();
    let factory = move |meta: &Metainfo, _dir: &Path| -> io::Result<Arc<dyn Storage>> {
        let inner = MemoryStorage::new(&meta.layout());
        if meta.info_hash == slow_hash {
            Ok(Arc::new(SlowDisk {
                inner,
                delay: Duration::from_millis(100),
                writes: counted.clone(),
            }))
        } else {
            Ok(Arc::new(inner))
        }
    };
    let mut lo = ClientOptions::new(dir.join("leech"));
    lo.listen = "127.0.0.1:0".parse().unwrap();
    lo.storage = StorageChoice::Custom(Arc::new(factory));
    let leech = Client::start(lo).unwrap();
    let ls = leech.add_torrent_bytes(&slow.bytes).unwrap();
    ls.connect(seed.local_addr());
    // The slow torrent's blocks are arriving and queueing for its disk first.
    let t = Instant::now();
    while writes.load(Ordering::SeqCst) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no write reached the slow disk"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let lf = leech.add_torrent_bytes(&fast.bytes).unwrap();
    lf.connect(seed.local_addr());
    let started = Instant::now();
    lf.wait_complete(Some(Duration::from_secs(120))).unwrap();
    let took = started.elapsed();
    let slow_writes = writes.load(Ordering::SeqCst);
    // 1 MiB is 64 blocks: at 100 ms each on its two workers, at least 3.2 s.
    let (have, total) = ls.progress();
    println!(
        "16 MiB torrent complete in {took:?} while the slow one had {slow_writes} of 64 \
         blocks written ({have}/{total} pieces)"
    );
    assert!(
        !ls.is_complete(),
        "the slow torrent finished first: the test proves nothing"
    );
    assert!(slow_writes < 64);
    leech.shutdown().unwrap();
    seed.shutdown().unwrap();
}

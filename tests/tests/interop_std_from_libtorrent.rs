//! sluice-std downloads from a libtorrent seed (python3-libtorrent 2.0, over TCP on
//! 127.0.0.1): a 64 MiB single-file torrent and a multi-file torrent of more than
//! 64 MiB; the files must come out byte-identical.
//!
//! The scenarios live in `sluice_tests::interop::from_libtorrent`, shared with
//! `interop_mio_from_libtorrent.rs`.

use sluice_tests::interop::from_libtorrent;
use sluice_tests::peers::Driver;

#[test]
fn single_file_from_libtorrent_seed() {
    from_libtorrent::single_file(Driver::Std);
}

#[test]
fn multi_file_from_libtorrent_seed() {
    from_libtorrent::multi_file(Driver::Std);
}

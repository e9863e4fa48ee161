//! sluice-mio seeds to a libtorrent leecher and an aria2 leecher on 127.0.0.1, a
//! 64 MiB single-file torrent and a multi-file torrent of more than 64 MiB each; what
//! they download must be byte-identical.
//!
//! The scenarios live in `sluice_tests::interop::to_leechers`, shared with
//! `interop_std_to_leechers.rs`.

use sluice_tests::interop::to_leechers;
use sluice_tests::peers::Driver;

#[test]
fn single_file_to_libtorrent_leecher() {
    to_leechers::single_file_to_libtorrent(Driver::Mio);
}

#[test]
fn multi_file_to_libtorrent_leecher() {
    to_leechers::multi_file_to_libtorrent(Driver::Mio);
}

#[test]
fn single_file_to_aria2_leecher() {
    to_leechers::single_file_to_aria2(Driver::Mio);
}

#[test]
fn multi_file_to_aria2_leecher() {
    to_leechers::multi_file_to_aria2(Driver::Mio);
}

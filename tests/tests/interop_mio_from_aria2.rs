//! sluice-mio downloads from an aria2c 1.36 seed on 127.0.0.1 (found through an
//! opentracker on loopback): a 64 MiB single-file torrent and a multi-file torrent of
//! more than 64 MiB; the files must come out byte-identical.
//!
//! The scenarios live in `sluice_tests::interop::from_aria2`, shared with
//! `interop_std_from_aria2.rs`.

use sluice_tests::interop::from_aria2;
use sluice_tests::peers::Driver;

#[test]
fn single_file_from_aria2_seed() {
    from_aria2::single_file(Driver::Mio);
}

#[test]
fn multi_file_from_aria2_seed() {
    from_aria2::multi_file(Driver::Mio);
}

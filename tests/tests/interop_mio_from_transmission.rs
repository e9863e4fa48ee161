//! sluice-mio downloads from a transmission-cli 3.00 seed on 127.0.0.1: a 64 MiB
//! single-file torrent and a multi-file torrent of more than 64 MiB; the files must
//! come out byte-identical.
//!
//! The scenarios live in `sluice_tests::interop::from_transmission`, shared with
//! `interop_std_from_transmission.rs`.

use sluice_tests::interop::from_transmission;
use sluice_tests::peers::Driver;

#[test]
fn single_file_from_transmission_seed() {
    from_transmission::single_file(Driver::Mio);
}

#[test]
fn multi_file_from_transmission_seed() {
    from_transmission::multi_file(Driver::Mio);
}

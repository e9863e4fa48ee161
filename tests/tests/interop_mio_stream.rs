//! sluice-mio streams from a rate-limited libtorrent seed: a ranged reader in the
//! middle of a 64 MiB file returns the right bytes long before the file is complete.
//!
//! The scenarios live in `sluice_tests::interop::stream`, shared with
//! `interop_std_stream.rs`.

use sluice_tests::interop::stream;
use sluice_tests::peers::Driver;

#[test]
fn range_reader_in_the_middle_from_a_rate_limited_libtorrent_seed() {
    stream::range_reader_in_the_middle(Driver::Mio);
}

//! sluice-mio is told only of a libtorrent leecher and must find a libtorrent
//! seed through the leecher's peer exchange (BEP 11 `ut_pex`), connect to it and
//! download from it.
//!
//! The scenario lives in `sluice_tests::interop::pex` (with what libtorrent
//! needs for it), shared with `interop_std_pex.rs`.

use sluice_tests::interop::pex;
use sluice_tests::peers::Driver;

#[test]
fn sluice_finds_a_libtorrent_seed_through_pex() {
    pex::sluice_finds_a_libtorrent_seed_through_pex(Driver::Mio);
}

//! sluice-mio announces to an HTTP tracker: a tiny tracker on a loopback
//! `TcpListener` checks the announce parameters and answers with one compact
//! peer (a loopback listener of the test) and a warning; the client must
//! connect to that peer with the torrent's handshake, report the warning as an
//! event, and announce `stopped` when shut down. The tracker and the checks
//! are sluice-std's (`driver-std/tests/support/http_tracker.rs`), shared with
//! its test of the same.

#[path = "../../driver-std/tests/support/http_tracker.rs"]
mod http_tracker;

use http_tracker::Setup;
use sluice_mio as driver;

include!("../../driver-std/tests/support/http_tracker_test.rs");

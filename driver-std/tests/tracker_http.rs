//! sluice-std announces to an HTTP tracker: a tiny tracker on a loopback
//! `TcpListener` checks the announce parameters and answers with one compact
//! peer (a loopback listener of the test) and a warning; the client must
//! connect to that peer with the torrent's handshake, report the warning as an
//! event, and announce `stopped` when shut down.

mod support;

use sluice_std as driver;
use support::http_tracker::Setup;

include!("support/http_tracker_test.rs");

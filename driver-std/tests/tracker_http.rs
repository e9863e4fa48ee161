//! sluice-std announces to an HTTP tracker: a tiny tracker on a loopback
//! `TcpListener` checks the announce parameters and answers with one compact
//! peer (a loopback listener of the test) and a warning; the client must
//! connect to that peer with the torrent's handshake, report the warning as an
//! event, and announce `stopped` when shut down.

mod support;

use sluice_std::{AddOptions, Client, ClientOptions};
use support::http_tracker::Setup;

#[test]
fn announces_to_an_http_tracker_and_connects_to_its_peers() {
    let setup = Setup::new("std-tracker-http");
    let mut opts = ClientOptions::new(setup.scratch.0.join("leech"));
    opts.listen = "127.0.0.1:0".parse().expect("addr");
    opts.seed = Some(11);
    let client = Client::start(opts).expect("start the client");
    let torrent = client
        .add_torrent(setup.meta.clone(), AddOptions::default())
        .expect("add the torrent");
    let events = torrent.subscribe();

    setup.expect_started(client.peer_id(), client.local_addr().port());
    let conn = setup.expect_peer_connection();
    setup.expect_warning(&events);

    drop(conn);
    setup.expect_stopped_on(|| client.shutdown().expect("shutdown"));
}

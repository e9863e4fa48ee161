// The test both drivers run against the in-test HTTP tracker (they have the
// same API): the including file names the driver `driver` and declares the
// `http_tracker` support module.

#[test]
fn announces_to_an_http_tracker_and_connects_to_its_peers() {
    let setup = Setup::new(concat!(env!("CARGO_PKG_NAME"), "-tracker-http"));
    let mut opts = driver::ClientOptions::new(setup.scratch.0.join("leech"));
    opts.listen = "127.0.0.1:0".parse().expect("addr");
    opts.seed = Some(11);
    let client = driver::Client::start(opts).expect("start the client");
    let torrent = client
        .add_torrent(setup.meta.clone(), driver::AddOptions::default())
        .expect("add the torrent");
    let events = torrent.subscribe();

    setup.expect_started(client.peer_id(), client.local_addr().port());
    let conn = setup.expect_peer_connection();
    setup.expect_warning(&events);

    drop(conn);
    setup.expect_stopped_on(|| client.shutdown().expect("shutdown"));
}

//! UDP tracker (BEP 15): arbitrary datagrams against the codec and against a
//! client with operations in flight.

use core::time::Duration;

use crate::id::{InfoHash, PeerId};
use crate::rng::Rng;
use crate::time::Time;
use crate::tracker::udp::{
    AddressFamily, AnnounceParams, Request, Response, UdpConfig, UdpEvent, UdpTrackerClient,
    MAX_SCRAPE_HASHES,
};

/// The input goes three ways. Whole, it is one datagram for every decoder
/// (whatever decodes must round-trip), and one answer to a client's connect,
/// announce and scrape in turn, its transaction id patched to the one the
/// client chose so that raw seeds reach past the id check. Then, after a
/// selector byte, it is a script of records `[control, length, bytes…]`: bit 0
/// of the control patches the transaction id, bit 1 fires the client's timer,
/// the other six bits advance the clock by that many seconds.
pub fn udp_tracker(data: &[u8]) {
    decoders(data);
    for family in [AddressFamily::V4, AddressFamily::V6] {
        single_answers(data, family);
    }
    script(data);
}

fn decoders(data: &[u8]) {
    if let Ok(request) = Request::decode(data) {
        let again = Request::decode(&request.to_bytes()).expect("re-encoded request decodes");
        assert_eq!(again, request);
    }
    for family in [AddressFamily::V4, AddressFamily::V6] {
        let Ok(response) = Response::decode(data, family) else {
            continue;
        };
        // Error texts are lossy, so only the others round-trip exactly, and
        // never grow: unknown trailing bytes are all they can lose.
        if !matches!(response, Response::Error { .. }) {
            let bytes = response.to_bytes(family);
            assert!(bytes.len() <= data.len());
            assert_eq!(Response::decode(&bytes, family), Ok(response));
        }
    }
}

fn params() -> AnnounceParams {
    AnnounceParams::new(InfoHash([1; 20]), PeerId([2; 20]), 6881)
}

/// The transaction id of the last datagram the client queued, after
/// checking that each one is a request the client may send.
fn drain_transmits(client: &mut UdpTrackerClient) -> Option<[u8; 4]> {
    let mut tid = None;
    while let Some(datagram) = client.poll_transmit() {
        let request = Request::decode(&datagram).expect("the client sends valid requests");
        if let Request::Scrape { info_hashes, .. } = &request {
            assert!(!info_hashes.is_empty() && info_hashes.len() <= MAX_SCRAPE_HASHES);
        }
        tid = Some(request.transaction_id().to_be_bytes());
    }
    tid
}

/// Events are consistent with the client's family and requests, and a
/// client with work always has a deadline after `now`.
fn check(client: &mut UdpTrackerClient, now: Time, scraped: usize) {
    let family = client.config().family;
    while let Some(event) = client.poll_event() {
        match event {
            UdpEvent::AnnounceOk { peers, .. } => {
                assert!(peers.iter().all(|p| AddressFamily::of(p) == family));
            }
            UdpEvent::ScrapeOk { stats, .. } => assert!(stats.len() <= scraped),
            UdpEvent::Failed { .. } => {}
        }
    }
    match client.poll_timeout() {
        Some(deadline) => assert!(client.in_flight() > 0 && deadline > now),
        None => assert_eq!(client.in_flight(), 0),
    }
}

fn patched(data: &[u8], tid: Option<[u8; 4]>) -> Vec<u8> {
    let mut datagram = data.to_vec();
    if let (Some(tid), Some(field)) = (tid, datagram.get_mut(4..8)) {
        field.copy_from_slice(&tid);
    }
    datagram
}

fn single_answers(data: &[u8], family: AddressFamily) {
    let now = Time::ZERO;
    let mut client = UdpTrackerClient::new(UdpConfig::new(family), Rng::new(0));
    client.announce(now, params());
    // As the answer to the connect.
    let tid = drain_transmits(&mut client);
    client.handle_datagram(now, &patched(data, tid));
    let _ = drain_transmits(&mut client);
    check(&mut client, now, 0);

    // As the answer to an announce and to a scrape.
    let mut client = UdpTrackerClient::new(UdpConfig::new(family), Rng::new(1));
    client.announce(now, params());
    let _ = client.scrape(now, &[InfoHash([3; 20]), InfoHash([4; 20])]);
    let connect = drain_transmits(&mut client).map(u32::from_be_bytes);
    let reply = Response::Connect {
        transaction_id: connect.unwrap_or_default(),
        connection_id: 5,
    };
    assert!(client.handle_datagram(now, &reply.to_bytes(family)));
    let mut tids = Vec::new();
    while let Some(datagram) = client.poll_transmit() {
        tids.push(datagram.get(12..16).and_then(|t| t.try_into().ok()));
    }
    for tid in tids {
        client.handle_datagram(now, &patched(data, tid));
        check(&mut client, now, 2);
    }
}

fn script(data: &[u8]) {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let family = if selector & 1 == 0 {
        AddressFamily::V4
    } else {
        AddressFamily::V6
    };
    let config = UdpConfig {
        max_backoff: u32::from(selector >> 1) % 9,
        ..UdpConfig::new(family)
    };
    let scraped = usize::from(selector >> 4) + 1;
    let mut client = UdpTrackerClient::new(config, Rng::new(u64::from(selector)));
    let mut now = Time::ZERO;
    client.announce(now, params());
    let hashes: Vec<InfoHash> = (0..scraped).map(|i| InfoHash([i as u8; 20])).collect();
    client.scrape(now, &hashes).expect("1 to 16 hashes");
    let mut tid = drain_transmits(&mut client);
    while let [control, len, tail @ ..] = rest {
        let take = usize::from(*len).min(tail.len());
        let (datagram, after) = tail.split_at(take);
        rest = after;
        now += Duration::from_secs(u64::from(control >> 2));
        if control & 2 != 0 {
            if let Some(deadline) = client.poll_timeout() {
                now = now.max(deadline);
            }
            client.handle_timeout(now);
        }
        let datagram = patched(datagram, tid.filter(|_| control & 1 != 0));
        client.handle_datagram(now, &datagram);
        client.handle_timeout(now);
        tid = drain_transmits(&mut client).or(tid);
        check(&mut client, now, scraped);
        if client.in_flight() == 0 {
            // Keep the machine busy so later records still reach it.
            client.announce(now, params());
            tid = drain_transmits(&mut client).or(tid);
        }
    }
}

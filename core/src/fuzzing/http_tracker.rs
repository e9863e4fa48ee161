//! The HTTP tracker fuzz target: HTTP response framing, announce and scrape
//! bodies, and tracker URLs, all from the same bytes.

use core::net::{IpAddr, SocketAddr};

use crate::bencode::OwnedValue;
use crate::tracker::http::{
    AnnounceResponse, HttpResponse, ScrapeResponse, TrackerUrl, MAX_INTERVAL, MAX_PEERS,
    MIN_INTERVAL,
};

/// HTTP tracker: `data` is parsed as a raw HTTP response (complete and still
/// open), as an announce body, as a scrape body and as a tracker URL.
///
/// Checked: a response complete before EOF is the same at EOF and its body is
/// no longer than the input; an accepted announce keeps its peer limit,
/// interval range and non-zero ports, and its IP peers re-encoded as compact
/// `peers`/`peers6` parse back to the same list; an accepted scrape
/// re-encoded parses back to the same counts; an accepted URL prints as a
/// URL that parses back equal and gives a one-line-per-header request.
pub fn http_tracker(data: &[u8]) {
    if let Ok(Some(open)) = HttpResponse::parse(data, false) {
        let closed = HttpResponse::parse(data, true);
        assert_eq!(closed.as_ref(), Ok(&Some(open.clone())));
        assert!(open.body.len() <= data.len());
    }
    if let Ok(Some(response)) = HttpResponse::parse(data, true) {
        assert!(response.body.len() <= data.len());
        if let Ok(announce) = AnnounceResponse::from_http(&response) {
            check_announce(&announce);
        }
        if let Ok(scrape) = ScrapeResponse::from_http(&response) {
            check_scrape(&scrape);
        }
    }
    if let Ok(announce) = AnnounceResponse::parse(data) {
        check_announce(&announce);
    }
    if let Ok(scrape) = ScrapeResponse::parse(data) {
        check_scrape(&scrape);
    }
    if let Ok(text) = core::str::from_utf8(data) {
        check_url(text);
    }
}

fn check_announce(announce: &AnnounceResponse) {
    assert!(announce.peers.len() + announce.hosts.len() <= MAX_PEERS);
    assert!((MIN_INTERVAL..=MAX_INTERVAL).contains(&announce.interval));
    if let Some(min) = announce.min_interval {
        assert!((MIN_INTERVAL..=MAX_INTERVAL).contains(&min));
    }
    assert!(announce.peers.iter().all(|p| p.addr.port() != 0));
    assert!(announce
        .hosts
        .iter()
        .all(|h| h.port != 0 && !h.host.is_empty()));

    // Re-encode the IP peers compactly: IPv4 in `peers`, IPv6 in `peers6`.
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for addr in announce.addrs() {
        match addr.ip() {
            IpAddr::V4(ip) => v4.extend_from_slice(&ip.octets()),
            IpAddr::V6(ip) => v6.extend_from_slice(&ip.octets()),
        }
        let out = if addr.is_ipv4() { &mut v4 } else { &mut v6 };
        out.extend_from_slice(&addr.port().to_be_bytes());
    }
    let mut body = OwnedValue::dict();
    body.insert(
        "interval",
        OwnedValue::Integer(announce.interval.as_secs() as i64),
    );
    body.insert("peers", OwnedValue::Bytes(v4));
    body.insert("peers6", OwnedValue::Bytes(v6));
    let again = AnnounceResponse::parse(&body.to_bytes()).expect("re-encoded announce parses");
    assert_eq!(again.interval, announce.interval);
    assert_eq!(again.skipped, 0);
    let mut expected: Vec<SocketAddr> = announce.addrs().collect();
    // Compact encoding puts every IPv4 peer before every IPv6 one.
    expected.sort_by_key(|a| a.is_ipv6());
    assert_eq!(again.addrs().collect::<Vec<_>>(), expected);
}

fn check_scrape(scrape: &ScrapeResponse) {
    let mut files = OwnedValue::dict();
    for (hash, stats) in &scrape.files {
        let mut d = OwnedValue::dict();
        d.insert("complete", OwnedValue::Integer(stats.complete.into()));
        d.insert("downloaded", OwnedValue::Integer(stats.downloaded.into()));
        d.insert("incomplete", OwnedValue::Integer(stats.incomplete.into()));
        files.insert(hash.0, d);
    }
    let mut body = OwnedValue::dict();
    body.insert("files", files);
    let again = ScrapeResponse::parse(&body.to_bytes()).expect("re-encoded scrape parses");
    assert_eq!(again.files, scrape.files);
    assert_eq!(again.skipped, 0);
}

fn check_url(text: &str) {
    let Ok(url) = TrackerUrl::parse(text) else {
        return;
    };
    let again = TrackerUrl::parse(&url.to_string()).expect("printed URL parses");
    assert_eq!(again, url);
    let request = url.get_request("sluice-fuzz");
    assert_eq!(request.windows(2).filter(|w| w == b"\r\n").count(), 6);
    assert!(!request.contains(&b'\0'));
    if let Ok(scrape) = url.scrape() {
        assert_eq!(TrackerUrl::parse(&scrape.to_string()), Ok(scrape));
    }
}

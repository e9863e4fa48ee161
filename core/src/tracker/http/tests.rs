//! Tests of tracker URLs, announce requests and HTTP response framing
//! (response bodies are in `body_tests.rs`).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

use HttpTrackerError as E;

pub(super) fn url(text: &str) -> TrackerUrl {
    TrackerUrl::parse(text).unwrap()
}

fn request() -> AnnounceRequest {
    let mut peer_id = *b"-SL0100-\x00\x01 %&+/~.Zz9";
    peer_id[19] = 0xff;
    AnnounceRequest::new(InfoHash([0x12; 20]), PeerId(peer_id), 6881)
}

/// The test's own decoder: `%XX` (either case) to bytes, other characters
/// as themselves; `None` on a malformed escape.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The query parameters of a URL, decoded.
fn params(u: &TrackerUrl) -> Vec<(String, Vec<u8>)> {
    u.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), percent_decode(v).unwrap())
        })
        .collect()
}

pub(super) fn http(bytes: &[u8], eof: bool) -> Result<Option<HttpResponse>, HttpTrackerError> {
    HttpResponse::parse(bytes, eof)
}

fn body_of(bytes: &[u8]) -> Vec<u8> {
    http(bytes, true).unwrap().unwrap().body
}

// ---- URLs ----

#[test]
fn url_parts_and_defaults() {
    let u = url("  HTTP://Tracker.Example.ORG/announce  ");
    assert_eq!(u.host(), &Host::Name("tracker.example.org".into()));
    assert_eq!((u.port(), u.path(), u.query()), (80, "/announce", None));
    assert_eq!(u.to_string(), "http://tracker.example.org/announce");
    let u = url("http://10.1.2.3:6969");
    assert_eq!(u.host(), &Host::Ip(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))));
    assert_eq!((u.port(), u.target()), (6969, "/".to_owned()));
    let u = url("http://h:/a?x=1&y#frag");
    assert_eq!((u.port(), u.target()), (80, "/a?x=1&y".to_owned()));
    assert_eq!(url("http://h?pk=1").target(), "/?pk=1");
    assert_eq!(url("http://[::1]").host_header(), "[::1]");
    assert_eq!(url("http://[::1]:81/").host_header(), "[::1]:81");
    assert_eq!(url("http://my_host-1.lan:65535/").port(), 65535);
}

#[test]
fn url_errors() {
    let cases: &[(&str, HttpTrackerError)] = &[
        ("https://t.example/announce", E::HttpsUnsupported),
        ("UDP://t.example:80", E::UdpScheme),
        ("ftp://t.example/", E::UnsupportedScheme("ftp".into())),
        (
            "t.example/announce",
            E::MalformedUrl("no scheme (expected http://)"),
        ),
        ("1http://t/", E::MalformedUrl("invalid scheme")),
        ("://t/", E::MalformedUrl("invalid scheme")),
        (
            "http://u:p@t/",
            E::MalformedUrl("user info is not supported"),
        ),
        ("http:///announce", E::MalformedUrl("empty host")),
        ("http://:80/", E::MalformedUrl("empty host")),
        ("http://t:0/", E::MalformedUrl("port out of range")),
        ("http://t:65536/", E::MalformedUrl("port out of range")),
        ("http://t:12a/", E::MalformedUrl("invalid port")),
        ("http://t:+80/", E::MalformedUrl("invalid port")),
        ("http://t:000080/", E::MalformedUrl("invalid port")),
        ("http://[::1/", E::MalformedUrl("unclosed '[' in host")),
        ("http://[zz]/", E::MalformedUrl("invalid IPv6 literal")),
        ("http://[::1]x/", E::MalformedUrl("junk after IPv6 literal")),
        ("http://::1/", E::MalformedUrl("empty host")),
        ("http://1.2.3.400/", E::MalformedUrl("invalid host name")),
        ("http://a..b/", E::MalformedUrl("invalid host name")),
        ("http://a%20b/", E::MalformedUrl("invalid host name")),
    ];
    for (text, expected) in cases {
        assert_eq!(TrackerUrl::parse(text).as_ref(), Err(expected), "{text}");
    }
    for bad_path in [
        "http://t/a b",
        "http://t/a\r\nX: y",
        "http://t/é",
        "http://t/?\x7f",
    ] {
        assert!(matches!(
            TrackerUrl::parse(bad_path),
            Err(E::MalformedUrl(_))
        ));
    }
    let long = format!("http://t/{}", "a".repeat(MAX_URL_LEN));
    assert_eq!(
        TrackerUrl::parse(&long),
        Err(E::UrlTooLong { len: long.len() })
    );
}

#[test]
fn with_params_joins_queries() {
    assert_eq!(url("http://t/a").with_params("x=1").target(), "/a?x=1");
    assert_eq!(url("http://t/a?").with_params("x=1").target(), "/a?x=1");
    assert_eq!(
        url("http://t/a?k=v").with_params("x=1").target(),
        "/a?k=v&x=1"
    );
    assert_eq!(
        url("http://t/a?k=v&").with_params("x=1").target(),
        "/a?k=v&x=1"
    );
}

#[test]
fn scrape_convention() {
    let cases = [
        ("http://t/announce", Ok("/scrape")),
        ("http://t/x/announce.php?pk=9", Ok("/x/scrape.php?pk=9")),
        ("http://t/announce?a=/announce", Ok("/scrape?a=/announce")),
        ("http://t/a", Err(E::ScrapeUnsupported)),
        ("http://t/announce/x", Err(E::ScrapeUnsupported)),
        ("http://t/", Err(E::ScrapeUnsupported)),
        ("http://t/x%064announce", Err(E::ScrapeUnsupported)),
    ];
    for (text, expected) in cases {
        let got = url(text).scrape().map(|u| u.target());
        assert_eq!(got, expected.map(str::to_owned), "{text}");
    }
    let t = url("http://t:8000/announce?pk=1");
    let u = t
        .scrape_url(&[InfoHash([0; 20]), InfoHash([b'a'; 20])])
        .unwrap();
    assert_eq!(
        u.to_string(),
        format!(
            "http://t:8000/scrape?pk=1&info_hash={}&info_hash={}",
            "%00".repeat(20),
            "a".repeat(20)
        )
    );
    assert_eq!(t.scrape_url(&[]), Err(E::ScrapeHashCount(0)));
    let many = vec![InfoHash([1; 20]); MAX_SCRAPE_HASHES + 1];
    assert_eq!(t.scrape_url(&many), Err(E::ScrapeHashCount(65)));
    assert!(t.scrape_url(&many[1..]).is_ok());
    assert_eq!(
        url("http://t/a").scrape_url(&many[..1]),
        Err(E::ScrapeUnsupported)
    );
}

#[test]
fn get_request_bytes() {
    let u = url("http://t.example/announce?x=%41");
    assert_eq!(
        u.get_request("sluice/0.1"),
        b"GET /announce?x=%41 HTTP/1.1\r\nHost: t.example\r\nUser-Agent: sluice/0.1\r\n\
          Connection: close\r\nAccept-Encoding: identity\r\n\r\n"
    );
    let u = url("http://[2001:db8::2]:6969/a");
    let text = String::from_utf8(u.get_request(" evil\r\nX-Injected: 1\u{e9} ")).unwrap();
    assert!(text.starts_with("GET /a HTTP/1.1\r\nHost: [2001:db8::2]:6969\r\n"));
    assert!(text.contains("\r\nUser-Agent: evilX-Injected: 1\r\n"));
    assert_eq!(text.matches("\r\n").count(), 6);
    let long = "x".repeat(1000);
    assert!(u.get_request(&long).len() < 400);
}

#[test]
fn percent_encoding_known_values() {
    assert_eq!(percent_encode(b""), "");
    assert_eq!(percent_encode(b"AZaz09-._~"), "AZaz09-._~");
    assert_eq!(
        percent_encode(b" !*'();:@&=+$,/?#[]%"),
        "%20%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D%25"
    );
    assert_eq!(
        percent_encode(&[0x00, 0x7f, 0x80, 0xab, 0xff]),
        "%00%7F%80%AB%FF"
    );
}

// ---- announce requests ----

#[test]
fn announce_query_minimal() {
    let req = request();
    assert_eq!(
        req.query(),
        format!(
            "info_hash={}&peer_id=-SL0100-%00%01%20%25%26%2B%2F~.Zz%FF\
             &port=6881&uploaded=0&downloaded=0&left=0&compact=1",
            "%12".repeat(20)
        )
    );
}

#[test]
fn announce_query_every_field() {
    let mut req = request();
    req.uploaded = u64::MAX;
    req.downloaded = 12345;
    req.left = 1 << 40;
    req.compact = false;
    req.numwant = Some(200);
    req.key = Some(0x0a0b);
    req.tracker_id = Some(b"id 1/\xff".to_vec());
    req.ip = Some(IpAddr::V6(Ipv6Addr::LOCALHOST));
    for (event, text) in [
        (Event::Started, Some("started")),
        (Event::Completed, Some("completed")),
        (Event::Stopped, Some("stopped")),
        (Event::Empty, None),
    ] {
        req.event = Some(event);
        let u = req.url(&url("http://t/announce?pk=s3cr%2Ft"));
        let p = params(&u);
        let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(p[0], ("pk".to_owned(), b"s3cr/t".to_vec()));
        assert_eq!(get("info_hash"), Some(vec![0x12; 20]));
        assert_eq!(get("peer_id"), Some(req.peer_id.0.to_vec()));
        assert_eq!(get("uploaded").unwrap(), u64::MAX.to_string().as_bytes());
        assert_eq!(get("downloaded").unwrap(), b"12345");
        assert_eq!(get("left").unwrap(), b"1099511627776");
        assert_eq!(get("compact").unwrap(), b"0");
        assert_eq!(get("numwant").unwrap(), b"200");
        assert_eq!(get("key").unwrap(), b"00000A0B");
        assert_eq!(get("trackerid").unwrap(), b"id 1/\xff");
        assert_eq!(get("ip").unwrap(), b"::1");
        assert_eq!(get("event").as_deref(), text.map(str::as_bytes));
        assert!(u.query().unwrap().contains("&ip=%3A%3A1"));
    }
    req.event = None;
    assert!(!req.query().contains("event"));
}

#[test]
fn announce_build_url_checks_the_scheme() {
    let req = request();
    assert_eq!(
        req.build_url("https://t/announce"),
        Err(E::HttpsUnsupported)
    );
    assert_eq!(req.build_url("udp://t:1/announce"), Err(E::UdpScheme));
    let text = req.build_url("http://t/announce").unwrap();
    assert_eq!(text, format!("http://t/announce?{}", req.query()));
    assert_eq!(TrackerUrl::parse(&text).unwrap().to_string(), text);
}

// ---- HTTP responses ----

#[test]
fn content_length_bodies() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhelloEXTRA";
    let r = http(raw, false).unwrap().unwrap();
    assert_eq!(
        (r.status, r.reason.as_str(), &r.body[..]),
        (200, "OK", &b"hello"[..])
    );
    assert_eq!(r.header("X-a"), Some(&b"b"[..]));
    assert_eq!(r.header("missing"), None);
    assert_eq!(http(&raw[..raw.len() - 6], false), Ok(None));
    assert_eq!(http(&raw[..raw.len() - 6], true), Err(E::Truncated));
    assert_eq!(http(b"", false), Ok(None));
    assert_eq!(http(b"", true), Err(E::Truncated));
    // Identical repeated lengths are fine, different ones are not.
    assert_eq!(
        body_of(b"HTTP/1.0 200 OK\nContent-Length: 2, 2\nContent-Length: 2\n\nabc"),
        b"ab"
    );
    for bad in ["1, 2", "-1", "", "0x10", "99999999999999999999"] {
        let raw = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n");
        assert!(
            matches!(http(raw.as_bytes(), true), Err(E::MalformedHttp(_))),
            "{bad}"
        );
    }
    let raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY_LEN + 1
    );
    assert_eq!(http(raw.as_bytes(), false), Err(E::BodyTooLarge));
}

#[test]
fn bodies_until_eof_and_empty_ones() {
    let raw = b"HTTP/1.0 200 OK\r\n\r\nd5:peers0:e";
    assert_eq!(http(raw, false), Ok(None));
    assert_eq!(body_of(raw), b"d5:peers0:e");
    assert_eq!(body_of(b"HTTP/1.1 204 No Content\r\n\r\n"), b"");
    let r = http(b"HTTP/1.1 304\r\n\r\n", false).unwrap().unwrap();
    assert_eq!((r.status, r.reason.as_str()), (304, ""));
    let mut big = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    big.resize(big.len() + MAX_BODY_LEN + 1, b'x');
    assert_eq!(http(&big, false), Err(E::BodyTooLarge));
}

#[test]
fn chunked_bodies() {
    let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, Chunked\r\n\r\n\
                5;ext=1\r\nhello\r\nA \r\n0123456789\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
    assert_eq!(body_of(raw), b"hello0123456789");
    // Every strict prefix asks for more bytes.
    let end = raw.len() - 4;
    for cut in 0..end {
        assert_eq!(http(&raw[..cut], false), Ok(None), "cut at {cut}");
        assert_eq!(http(&raw[..cut], true), Err(E::Truncated), "cut at {cut}");
    }
    // Transfer-Encoding wins over Content-Length.
    let raw =
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(body_of(raw), b"");
    for bad in ["x\r\n", "\r\n", "123456789\r\n", "2\r\nabc\r\n", "-1\r\n"] {
        let raw = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{bad}");
        assert!(
            matches!(http(raw.as_bytes(), false), Err(E::MalformedHttp(_))),
            "{bad:?}"
        );
    }
    let raw = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        MAX_BODY_LEN + 1
    );
    assert_eq!(http(raw.as_bytes(), false), Err(E::BodyTooLarge));
    let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
    raw.resize(raw.len() + 2000, b'e');
    assert!(matches!(http(&raw, false), Err(E::MalformedHttp(_))));
}

#[test]
fn interim_responses_and_line_endings() {
    let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nde";
    let r = http(raw, false).unwrap().unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"de"[..]));
    assert_eq!(http(&raw[..30], false), Ok(None));
    assert!(matches!(
        http(b"HTTP/1.1 101 Switching\r\n\r\n", false),
        Err(E::MalformedHttp(_))
    ));
    assert_eq!(body_of(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nde"), b"de");
}

#[test]
fn malformed_heads() {
    for bad in [
        &b"HTTP/2 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 099 OK\r\n\r\n",
        b"HTTP/1.x 200 OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad name: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA: x\r\n folded\r\n\r\n",
    ] {
        assert!(
            matches!(http(bad, true), Err(E::MalformedHttp(_))),
            "{bad:?}"
        );
    }
    let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    long.resize(MAX_HEAD_LEN, b'a');
    assert_eq!(http(&long, false), Err(E::HeadTooLarge));
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(http(&many, true), Err(E::HeadTooLarge));
    for (header, coding) in [
        ("Content-Encoding: gzip", "gzip"),
        ("Transfer-Encoding: gzip, chunked", "gzip, chunked"),
        ("Transfer-Encoding: chunked, chunked", "chunked, chunked"),
    ] {
        let raw = format!("HTTP/1.1 200 OK\r\n{header}\r\n\r\n");
        assert_eq!(
            http(raw.as_bytes(), true),
            Err(E::UnsupportedEncoding(coding.into()))
        );
    }
    assert_eq!(
        body_of(b"HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\n\r\nx"),
        b"x"
    );
}

#[test]
fn errors_display() {
    let all = [
        E::UrlTooLong { len: 9000 },
        E::MalformedUrl("x"),
        E::HttpsUnsupported,
        E::UdpScheme,
        E::UnsupportedScheme("ftp".into()),
        E::ScrapeUnsupported,
        E::ScrapeHashCount(0),
        E::HeadTooLarge,
        E::BodyTooLarge,
        E::MalformedHttp("x"),
        E::UnsupportedEncoding("gzip".into()),
        E::Truncated,
        E::Redirect {
            status: 302,
            location: "http://x/".into(),
        },
        E::Status {
            status: 500,
            reason: "Oops".into(),
        },
        E::Bencode(crate::bencode::decode(b"").unwrap_err()),
        E::NotADictionary,
        E::Failure {
            reason: "no".into(),
            retry_in_minutes: Some(5),
        },
        E::BadCompactLength {
            key: "peers6",
            len: 17,
        },
        E::BadField {
            key: "peers",
            expected: "a list",
        },
    ];
    for e in &all {
        assert!(!e.to_string().is_empty());
    }
    assert!(E::HttpsUnsupported.to_string().contains("HTTPS"));
    assert!(E::UdpScheme.to_string().contains("UDP"));
    assert!(all[16].to_string().contains("retry in 5 minutes"));
    assert!(all[17].to_string().contains("multiple of 18"));
}

// ---- properties ----

/// A response with an arbitrary body, framed by Content-Length (0),
/// chunks (1) or the end of the connection (2).
fn arb_response() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, u8)> {
    let body = proptest::collection::vec(any::<u8>(), 0..300);
    (body, 0..3u8, 1..40usize).prop_map(|(body, framing, chunk)| {
        let mut raw = b"HTTP/1.1 200 OK\r\nServer: t\r\n".to_vec();
        match framing {
            0 => {
                raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                raw.extend_from_slice(&body);
            }
            1 => {
                raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for piece in body.chunks(chunk) {
                    raw.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    raw.extend_from_slice(piece);
                    raw.extend_from_slice(b"\r\n");
                }
                raw.extend_from_slice(b"0\r\n\r\n");
            }
            _ => {
                raw.extend_from_slice(b"\r\n");
                raw.extend_from_slice(&body);
            }
        }
        (raw, body, framing)
    })
}

proptest! {
    #[test]
    fn percent_encoding_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let encoded = percent_encode(&bytes);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        for escape in encoded.split('%').skip(1) {
            prop_assert!(escape.len() >= 2);
            prop_assert!(escape[..2].bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        }
        prop_assert_eq!(percent_decode(&encoded), Some(bytes));
    }
    #[test]
    fn announce_urls_carry_the_ids(hash in any::<[u8; 20]>(), id in any::<[u8; 20]>(), port in any::<u16>(), left in any::<u64>()) {
        let mut req = AnnounceRequest::new(InfoHash(hash), PeerId(id), port);
        req.left = left;
        let u = req.url(&url("http://t.example:1/announce?pk=1"));
        let again = TrackerUrl::parse(&u.to_string()).unwrap();
        prop_assert_eq!(&again, &u);
        let p = params(&again);
        prop_assert_eq!(&p[1], &("info_hash".to_owned(), hash.to_vec()));
        prop_assert_eq!(&p[2], &("peer_id".to_owned(), id.to_vec()));
        prop_assert_eq!(&p[3].1, &port.to_string().into_bytes());
        prop_assert_eq!(&p[6].1, &left.to_string().into_bytes());
    }
    #[test]
    fn http_responses_parse_at_any_split((raw, body, framing) in arb_response(), cut in any::<prop::sample::Index>()) {
        let full = HttpResponse::parse(&raw, true).unwrap().unwrap();
        prop_assert_eq!(&full.body, &body);
        let open = HttpResponse::parse(&raw, false).unwrap();
        prop_assert_eq!(open.map(|r| r.body), (framing != 2).then(|| body.clone()));
        let cut = cut.index(raw.len());
        prop_assert_eq!(HttpResponse::parse(&raw[..cut], false), Ok(None));
    }
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), eof in any::<bool>()) {
        if let Ok(Some(r)) = HttpResponse::parse(&bytes, eof) {
            prop_assert!(r.body.len() <= bytes.len());
            let _ = AnnounceResponse::from_http(&r);
            let _ = ScrapeResponse::from_http(&r);
        }
        let _ = AnnounceResponse::parse(&bytes);
        let _ = ScrapeResponse::parse(&bytes);
        let _ = TrackerUrl::parse(&String::from_utf8_lossy(&bytes));
    }
    #[test]
    fn http_prefixed_garbage_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        raw.extend_from_slice(&tail);
        let _ = HttpResponse::parse(&raw, true);
        let mut raw = b"d5:peers".to_vec();
        raw.extend_from_slice(&tail);
        let _ = AnnounceResponse::parse(&raw);
    }
    #[test]
    fn parsed_urls_display_and_reparse(text in "(http|HTTP|udp|https)://([a-z0-9.-]{0,12}|\\[[0-9a-f:]{0,12}\\])(:[0-9]{0,6})?(/[ -~]{0,20})?") {
        if let Ok(u) = TrackerUrl::parse(&text) {
            let again = TrackerUrl::parse(&u.to_string()).unwrap();
            prop_assert_eq!(&again, &u);
            let request = u.get_request("t");
            prop_assert!(request.starts_with(b"GET /"));
            prop_assert_eq!(request.windows(2).filter(|w| w == b"\r\n").count(), 6);
        }
    }
}

//! One tracker of the announcer: its parsed URL, its transport, and what the
//! announcer remembers about it between announces.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;

use super::super::http::{Host, TrackerUrl};
use super::super::udp::{AddressFamily, UdpConfig, UdpTrackerClient};
use crate::rng::Rng;
use crate::time::Time;

/// A tracker in one of the tiers.
#[derive(Debug, Clone)]
pub(super) struct Tracker {
    /// The URL as given (surrounding whitespace removed), shown to the user.
    pub url: String,
    /// What makes two URLs the same tracker: the normalised URL for HTTP,
    /// `udp://host:port` for UDP.
    pub identity: String,
    /// How to reach it.
    pub kind: Kind,
    /// It answered a `started` announce this session, so it is owed a
    /// `stopped` one.
    pub started_sent: bool,
    /// Failures in a row since its last answer.
    pub failures: u32,
    /// Not tried again before this time.
    pub retry_at: Time,
    /// The `tracker id` it sent last (HTTP only), echoed in later announces.
    pub tracker_id: Option<Vec<u8>>,
}

/// The transport of a tracker.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    /// An `http://` tracker: the driver fetches the URL.
    Http(TrackerUrl),
    /// A `udp://` tracker, spoken to through its own BEP 15 client.
    Udp(UdpSlot),
}

/// A UDP tracker's client and the address family it decodes peers for.
#[derive(Debug, Clone)]
pub(super) struct UdpSlot {
    /// The host as written in the URL: a lowercased name or an IP literal
    /// without brackets.
    pub host: String,
    /// The port from the URL.
    pub port: u16,
    /// The client; rebuilt when the family turns out to be another.
    pub client: UdpTrackerClient,
    /// Seeds each client this tracker gets.
    pub rng: Rng,
}

impl UdpSlot {
    /// The family the client decodes peers for.
    pub fn family(&self) -> AddressFamily {
        self.client.config().family
    }

    /// Replaces the client by one for `family`; whatever was in flight on the
    /// old one is forgotten.
    pub fn rebuild(&mut self, family: AddressFamily) {
        let config = UdpConfig {
            family,
            ..*self.client.config()
        };
        self.client = UdpTrackerClient::new(config, self.rng.fork());
    }

    /// Whether `host` and `port`, as the driver names them, are this tracker.
    pub fn is(&self, host: &str, port: u16) -> bool {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        self.port == port && self.host.eq_ignore_ascii_case(host)
    }
}

impl Tracker {
    /// Parses `url` into a tracker; the error text says why it cannot be used.
    /// `udp` is the template for its UDP client, whose family is fixed here
    /// from the host when it is an IP literal (names start as IPv4).
    pub fn parse(url: &str, rng: &mut Rng, udp: UdpConfig) -> Result<Tracker, String> {
        let url = url.trim_matches(|c: char| c.is_ascii_whitespace());
        let is_udp = url
            .split_once("://")
            .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("udp"));
        let (identity, kind) = if is_udp {
            let (host, port) = parse_udp(url).map_err(|e| format!("malformed tracker URL: {e}"))?;
            let family = match host.parse::<IpAddr>() {
                Ok(IpAddr::V6(_)) => AddressFamily::V6,
                _ => AddressFamily::V4,
            };
            let mut rng = rng.fork();
            let client = UdpTrackerClient::new(UdpConfig { family, ..udp }, rng.fork());
            let identity = match family {
                AddressFamily::V6 => format!("udp://[{host}]:{port}"),
                AddressFamily::V4 => format!("udp://{host}:{port}"),
            };
            let slot = UdpSlot {
                host,
                port,
                client,
                rng,
            };
            (identity, Kind::Udp(slot))
        } else {
            let parsed = TrackerUrl::parse(url).map_err(|e| e.to_string())?;
            (parsed.to_string(), Kind::Http(parsed))
        };
        Ok(Tracker {
            url: url.to_owned(),
            identity,
            kind,
            started_sent: false,
            failures: 0,
            retry_at: Time::ZERO,
            tracker_id: None,
        })
    }
}

/// The host to connect to for an HTTP tracker, spelt so that the driver can
/// resolve `(host, port)` directly: IPv6 literals without brackets.
pub(super) fn connect_host(url: &TrackerUrl) -> String {
    match url.host() {
        Host::Ip(ip) => ip.to_string(),
        Host::Name(name) => name.clone(),
    }
}

/// The wait after `failures` failures in a row: `base` doubled for each
/// failure after the first, at most `max`.
pub(super) fn backoff(failures: u32, base: Duration, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    base.saturating_mul(1u32 << doublings).min(max)
}

/// Host and port of `udp://host:port[/path][?query]`. The port is required
/// (there is no default for UDP trackers) and may not be 0; the path, which
/// BEP 41 would send along, is ignored.
fn parse_udp(url: &str) -> Result<(String, u16), &'static str> {
    let (_, rest) = url.split_once("://").ok_or("no scheme")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        return Err("user info is not supported");
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (literal, after) = inner.split_once(']').ok_or("unclosed '[' in host")?;
        let ip: Ipv6Addr = literal.parse().map_err(|_| "invalid IPv6 address")?;
        let port = after
            .strip_prefix(':')
            .ok_or("a UDP tracker needs a port")?;
        (ip.to_string(), port)
    } else {
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or("a UDP tracker needs a port")?;
        let valid = host.parse::<Ipv4Addr>().is_ok() || crate::magnet::is_host_name(host);
        if !valid {
            return Err("invalid host");
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = if port.bytes().all(|b| b.is_ascii_digit()) {
        port.parse::<u16>().ok()
    } else {
        None
    };
    match port {
        Some(port) if port != 0 => Ok((host, port)),
        _ => Err("invalid port"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(url: &str) -> Result<(String, u16), &'static str> {
        parse_udp(url)
    }

    #[test]
    fn udp_urls() {
        assert_eq!(udp("udp://T.example:6969"), Ok(("t.example".into(), 6969)));
        assert_eq!(
            udp("udp://t.example:80/announce?x=1"),
            Ok(("t.example".into(), 80))
        );
        assert_eq!(udp("udp://10.0.0.1:1"), Ok(("10.0.0.1".into(), 1)));
        assert_eq!(
            udp("udp://[2001:db8::1]:6969/a"),
            Ok(("2001:db8::1".into(), 6969))
        );
        assert!(udp("udp://t.example").is_err());
        assert!(udp("udp://t.example:0").is_err());
        assert!(udp("udp://t.example:+80").is_err());
        assert!(udp("udp://t.example:70000").is_err());
        assert!(udp("udp://:80").is_err());
        assert!(udp("udp://a b:80").is_err());
        assert!(udp("udp://u@t:80").is_err());
        assert!(udp("udp://[::1:80").is_err());
        assert!(udp("udp://[zz]:80").is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (b, m) = (Duration::from_secs(15), Duration::from_secs(1800));
        let waits: Vec<u64> = (1..10).map(|n| backoff(n, b, m).as_secs()).collect();
        assert_eq!(waits, [15, 30, 60, 120, 240, 480, 960, 1800, 1800]);
        assert_eq!(backoff(u32::MAX, b, m), m);
    }

    #[test]
    fn the_same_udp_tracker_has_one_identity() {
        let mut rng = Rng::new(1);
        let a = Tracker::parse(
            " udp://T.example:80/announce ",
            &mut rng,
            UdpConfig::default(),
        );
        let b = Tracker::parse("UDP://t.example:80", &mut rng, UdpConfig::default());
        assert_eq!(a.unwrap().identity, b.unwrap().identity);
        let v6 = Tracker::parse("udp://[::1]:80", &mut rng, UdpConfig::default()).unwrap();
        let Kind::Udp(slot) = &v6.kind else { panic!() };
        assert_eq!(slot.family(), AddressFamily::V6);
        assert!(slot.is("[::1]", 80) && slot.is("::1", 80) && !slot.is("::1", 81));
    }
}

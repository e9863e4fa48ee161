//! Tracker URLs: parsing `http://host:port/path?query`, appending query
//! parameters, the scrape convention, and the GET request bytes.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{HttpTrackerError, MAX_SCRAPE_HASHES, MAX_URL_LEN};
use crate::id::InfoHash;

/// Longest `User-Agent` written into a request; longer ones are cut.
const MAX_USER_AGENT_LEN: usize = 256;

/// Where a tracker is: an IP literal or a name the driver must resolve.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 literal, or an IPv6 literal written in brackets in the URL.
    Ip(IpAddr),
    /// A DNS name, lowercased.
    Name(String),
}

impl fmt::Display for Host {
    /// The spelling used in URLs and `Host` headers: IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// A parsed `http://` tracker URL.
///
/// The path and query are kept as written (they are sent to the tracker
/// verbatim), the host is checked and lowercased, the port defaults to 80 and
/// a `#fragment` is dropped. `Display` gives the URL back, with the port only
/// when it is not 80.
///
/// ```
/// use sluice_core::tracker::http::{Host, TrackerUrl, HttpTrackerError};
///
/// let url = TrackerUrl::parse("http://[2001:db8::1]:8080/a/announce.php?pk=1#x").unwrap();
/// assert_eq!(url.host(), &Host::Ip("2001:db8::1".parse().unwrap()));
/// assert_eq!(url.port(), 8080);
/// assert_eq!(url.target(), "/a/announce.php?pk=1");
/// assert_eq!(url.to_string(), "http://[2001:db8::1]:8080/a/announce.php?pk=1");
/// assert_eq!(url.scrape().unwrap().target(), "/a/scrape.php?pk=1");
///
/// assert_eq!(TrackerUrl::parse("https://t.example/announce"), Err(HttpTrackerError::HttpsUnsupported));
/// assert_eq!(TrackerUrl::parse("udp://t.example:6969"), Err(HttpTrackerError::UdpScheme));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackerUrl {
    host: Host,
    port: u16,
    /// Starts with `/`.
    path: String,
    /// Without the `?`; `Some("")` for a URL ending in `?`.
    query: Option<String>,
}

impl TrackerUrl {
    /// Parses an `http://` URL; see [`HttpTrackerError`] for what is refused.
    /// Surrounding ASCII whitespace is ignored; user info (`user@`) is
    /// refused, and so are control characters, spaces and non-ASCII bytes in
    /// the path or query (a tracker URL must be sendable as is).
    pub fn parse(text: &str) -> Result<TrackerUrl, HttpTrackerError> {
        use HttpTrackerError::MalformedUrl;
        if text.len() > MAX_URL_LEN {
            return Err(HttpTrackerError::UrlTooLong { len: text.len() });
        }
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let (scheme, rest) = text
            .split_once("://")
            .ok_or(MalformedUrl("no scheme (expected http://)"))?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(MalformedUrl("invalid scheme"));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "http" => {}
            "https" => return Err(HttpTrackerError::HttpsUnsupported),
            "udp" => return Err(HttpTrackerError::UdpScheme),
            other => return Err(HttpTrackerError::UnsupportedScheme(other.to_owned())),
        }
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(MalformedUrl("user info is not supported"));
        }
        let (host, port) = parse_authority(authority)?;
        if !target.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(MalformedUrl(
                "path or query holds spaces, control or non-ASCII characters",
            ));
        }
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (target, None),
        };
        let path = if path.is_empty() { "/" } else { path };
        Ok(TrackerUrl {
            host,
            port,
            path: path.to_owned(),
            query,
        })
    }

    /// The host to connect to.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port to connect to (80 unless the URL names one).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path, starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query without its `?`, if the URL has one.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The request target of the GET line: path, then `?query` if any.
    pub fn target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// The value of the `Host` header: the host, with `:port` unless it is 80.
    pub fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.to_string()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// This URL with `params` (already percent-encoded `k=v&k=v` text)
    /// appended to the query, after `&` if there already is one.
    pub fn with_params(&self, params: &str) -> TrackerUrl {
        let query = match self.query.as_deref() {
            Some(q) if !q.is_empty() && !q.ends_with('&') => format!("{q}&{params}"),
            Some(q) => format!("{q}{params}"),
            None => params.to_owned(),
        };
        TrackerUrl {
            query: Some(query),
            ..self.clone()
        }
    }

    /// The scrape URL by the usual convention: when the last path component
    /// starts with `announce`, that word becomes `scrape` (`/announce.php` ->
    /// `/scrape.php`) and the query is kept; otherwise the tracker is taken
    /// not to support scrape.
    pub fn scrape(&self) -> Result<TrackerUrl, HttpTrackerError> {
        let slash = self.path.rfind('/').unwrap_or(0);
        let (dir, last) = self.path.split_at(slash + 1);
        let tail = last
            .strip_prefix("announce")
            .ok_or(HttpTrackerError::ScrapeUnsupported)?;
        Ok(TrackerUrl {
            path: format!("{dir}scrape{tail}"),
            ..self.clone()
        })
    }

    /// The scrape URL ([`scrape`](Self::scrape)) asking about `info_hashes`
    /// (one `info_hash` parameter each, 1 to [`MAX_SCRAPE_HASHES`] of them).
    pub fn scrape_url(&self, info_hashes: &[InfoHash]) -> Result<TrackerUrl, HttpTrackerError> {
        if info_hashes.is_empty() || info_hashes.len() > MAX_SCRAPE_HASHES {
            return Err(HttpTrackerError::ScrapeHashCount(info_hashes.len()));
        }
        let scrape = self.scrape()?;
        let params: Vec<String> = info_hashes
            .iter()
            .map(|h| format!("info_hash={}", percent_encode(&h.0)))
            .collect();
        Ok(scrape.with_params(&params.join("&")))
    }

    /// The bytes of an HTTP/1.1 GET for this URL: `Host`, `User-Agent`,
    /// `Connection: close` and `Accept-Encoding: identity`. Characters
    /// outside printable ASCII are dropped from `user_agent`, which is cut to
    /// 256 bytes.
    pub fn get_request(&self, user_agent: &str) -> Vec<u8> {
        let agent: String = user_agent
            .chars()
            .filter(|c| matches!(c, ' '..='~'))
            .take(MAX_USER_AGENT_LEN)
            .collect();
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\n\
             Connection: close\r\nAccept-Encoding: identity\r\n\r\n",
            self.target(),
            self.host_header(),
            agent.trim()
        )
        .into_bytes()
    }
}

impl fmt::Display for TrackerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.host)?;
        if self.port != 80 {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.path)?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}

/// Splits `host[:port]` (or `[v6][:port]`) and checks both halves.
fn parse_authority(authority: &str) -> Result<(Host, u16), HttpTrackerError> {
    use HttpTrackerError::MalformedUrl;
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (literal, after) = inner
            .split_once(']')
            .ok_or(MalformedUrl("unclosed '[' in host"))?;
        let ip: Ipv6Addr = literal
            .parse()
            .map_err(|_| MalformedUrl("invalid IPv6 literal"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or(MalformedUrl("junk after IPv6 literal"))?,
            ),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (name, port) = match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        (parse_host(name)?, port)
    };
    let port = match port {
        None | Some("") => 80,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(MalformedUrl("port out of range")),
                Ok(n) => n,
            }
        }
        Some(_) => return Err(MalformedUrl("invalid port")),
    };
    Ok((host, port))
}

/// An IPv4 literal or a DNS name (labels of letters, digits, `-` and `_`
/// whose last label is not all digits).
fn parse_host(name: &str) -> Result<Host, HttpTrackerError> {
    use HttpTrackerError::MalformedUrl;
    if name.is_empty() {
        return Err(MalformedUrl("empty host"));
    }
    if let Ok(ip) = name.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    if !is_host_name(name) {
        return Err(MalformedUrl("invalid host name"));
    }
    Ok(Host::Name(name.to_ascii_lowercase()))
}

/// Whether `host` looks like a DNS name (and not like a broken IPv4 literal):
/// the same rule as magnet links' `x.pe` hosts.
pub(super) use crate::magnet::is_host_name;

/// Percent-encodes arbitrary bytes for a URL query: the unreserved
/// characters `A-Z a-z 0-9 - . _ ~` are kept, every other byte becomes `%XX`
/// with uppercase hex digits.
///
/// ```
/// use sluice_core::tracker::http::percent_encode;
/// assert_eq!(percent_encode(b"a b/~\x00\xff"), "a%20b%2F~%00%FF");
/// ```
pub fn percent_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

//! Reading a request head (request line and header fields) with strict limits.
//!
//! Everything a client sends is untrusted: every line, the number of fields and
//! the whole head are bounded, and anything malformed is an error that maps to a
//! 4xx status, never a panic.

use std::fmt;
use std::io::{self, BufRead};
use std::time::{Duration, Instant};

/// Bounds on what a client may send and how long it may take.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest request line (method, target, version), in bytes.
    pub max_request_line: usize,
    /// Longest header field line, in bytes.
    pub max_header_line: usize,
    /// Most header fields.
    pub max_headers: usize,
    /// Largest head (request line and all fields), in bytes.
    pub max_head: usize,
    /// How long a client may take to send a whole head once it has started.
    pub head_timeout: Duration,
    /// How long an idle connection waits for its next request.
    pub idle_timeout: Duration,
    /// How long a write may block (a client that stops reading is dropped).
    pub write_timeout: Duration,
    /// Most connections served at once; more are answered `503` and closed.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_request_line: 8 * 1024,
            max_header_line: 8 * 1024,
            max_headers: 64,
            max_head: 32 * 1024,
            head_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            max_connections: 128,
        }
    }
}

/// The HTTP version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after the response unless asked otherwise.
    Http10,
    /// HTTP/1.1: the connection stays open unless asked otherwise.
    Http11,
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The method, as sent (methods are case-sensitive).
    pub method: String,
    /// The request target, as sent (origin form: starts with `/`).
    pub target: String,
    /// The version.
    pub version: Version,
    /// Header fields in order; names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The values of every field called `name` (lowercase).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of field `name` (lowercase); `Err` when it is sent more than
    /// once, which is an error for the single-valued fields a server reads.
    pub fn single<'a>(&'a self, name: &'a str) -> Result<Option<&'a str>, HeadError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(HeadError::Malformed(format!("more than one {name} field")));
        }
        Ok(first)
    }

    /// Whether the client wants the connection kept open after the response.
    pub fn keep_alive(&self) -> bool {
        let mut close = false;
        let mut keep = false;
        for value in self.all("connection") {
            for token in value.split(',') {
                let token = token.trim();
                close |= token.eq_ignore_ascii_case("close");
                keep |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
        match self.version {
            Version::Http11 => !close,
            Version::Http10 => keep && !close,
        }
    }
}

/// Why a head could not be read.
#[derive(Debug)]
pub enum HeadError {
    /// The request line is longer than allowed (`414`).
    RequestLineTooLong,
    /// A field line, the number of fields or the whole head is over its limit
    /// (`431`).
    HeadTooLarge,
    /// Not HTTP (`400`), with what was wrong.
    Malformed(String),
    /// An HTTP version other than 1.0 and 1.1 (`505`).
    Version,
    /// The client stopped sending halfway through a head (`408`).
    Timeout,
    /// The connection ended or failed halfway through a head (nothing to answer).
    Io(io::Error),
}

impl HeadError {
    /// The status to answer with, if answering makes sense.
    pub fn status(&self) -> Option<u16> {
        match self {
            HeadError::RequestLineTooLong => Some(414),
            HeadError::HeadTooLarge => Some(431),
            HeadError::Malformed(_) => Some(400),
            HeadError::Version => Some(505),
            HeadError::Timeout => Some(408),
            HeadError::Io(_) => None,
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::RequestLineTooLong => f.write_str("request line too long"),
            HeadError::HeadTooLarge => f.write_str("request header fields too large"),
            HeadError::Malformed(what) => write!(f, "malformed request: {what}"),
            HeadError::Version => f.write_str("only HTTP/1.0 and HTTP/1.1 are supported"),
            HeadError::Timeout => f.write_str("the request head took too long"),
            HeadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HeadError {}

/// Empty lines tolerated before a request line (RFC 9110 asks servers to skip
/// at least one, which some clients send after a body).
const MAX_LEADING_EMPTY_LINES: usize = 4;

/// Reads one request head from `r`. `Ok(None)` when the connection is closed
/// or stays idle past [`Limits::idle_timeout`] before the first byte of a
/// request: the client is done, nothing to answer.
///
/// `r` may be a socket with a read timeout shorter than the limits: reads that
/// time out are retried until the deadlines of `limits` pass.
pub fn read_head<R: BufRead>(r: &mut R, limits: &Limits) -> Result<Option<Head>, HeadError> {
    let mut clock = Clock {
        start: Instant::now(),
        started: false,
        limits,
    };
    let mut line = Vec::new();
    let mut empty = 0;
    loop {
        line.clear();
        match read_line(r, limits.max_request_line, &mut line, &mut clock)? {
            LineEnd::Eof if !clock.started => return Ok(None),
            LineEnd::Idle => return Ok(None),
            LineEnd::Eof => return Err(HeadError::Io(io::ErrorKind::UnexpectedEof.into())),
            LineEnd::TooLong => return Err(HeadError::RequestLineTooLong),
            LineEnd::Line if line.is_empty() => {
                empty += 1;
                if empty > MAX_LEADING_EMPTY_LINES {
                    return Err(HeadError::Malformed(
                        "empty lines instead of a request".into(),
                    ));
                }
            }
            LineEnd::Line => break,
        }
    }
    let (method, target, version) = parse_request_line(&line)?;
    let mut size = line.len();
    let mut headers = Vec::new();
    loop {
        line.clear();
        match read_line(r, limits.max_header_line, &mut line, &mut clock)? {
            LineEnd::Line => {}
            LineEnd::Eof | LineEnd::Idle => {
                return Err(HeadError::Io(io::ErrorKind::UnexpectedEof.into()))
            }
            LineEnd::TooLong => return Err(HeadError::HeadTooLarge),
        }
        if line.is_empty() {
            break;
        }
        size += line.len() + 2;
        if size > limits.max_head || headers.len() == limits.max_headers {
            return Err(HeadError::HeadTooLarge);
        }
        headers.push(parse_field(&line)?);
    }
    Ok(Some(Head {
        method,
        target,
        version,
        headers,
    }))
}

/// Deadlines of one head: idle until its first byte, then the head timeout.
struct Clock<'a> {
    start: Instant,
    started: bool,
    limits: &'a Limits,
}

impl Clock<'_> {
    fn first_byte(&mut self) {
        if !self.started {
            self.started = true;
            self.start = Instant::now();
        }
    }

    fn expired(&self) -> bool {
        let limit = if self.started {
            self.limits.head_timeout
        } else {
            self.limits.idle_timeout
        };
        self.start.elapsed() >= limit
    }
}

enum LineEnd {
    Line,
    Eof,
    Idle,
    TooLong,
}

/// Reads up to `\n` into `line` (without the `\r\n` or `\n`), at most `max`
/// bytes.
fn read_line<R: BufRead>(
    r: &mut R,
    max: usize,
    line: &mut Vec<u8>,
    clock: &mut Clock<'_>,
) -> Result<LineEnd, HeadError> {
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if !clock.expired() {
                    continue;
                }
                return if clock.started {
                    Err(HeadError::Timeout)
                } else {
                    Ok(LineEnd::Idle)
                };
            }
            Err(e) => return Err(HeadError::Io(e)),
        };
        if available.is_empty() {
            return Ok(LineEnd::Eof);
        }
        clock.first_byte();
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        // `max` counts the line without its `\r\n`.
        if line.len() + take > max + 2 {
            return Ok(LineEnd::TooLong);
        }
        line.extend_from_slice(&available[..take]);
        r.consume(take);
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.len() > max {
                return Ok(LineEnd::TooLong);
            }
            return Ok(LineEnd::Line);
        }
        if clock.expired() {
            return Err(HeadError::Timeout);
        }
    }
}

fn malformed(what: &str) -> HeadError {
    HeadError::Malformed(what.into())
}

/// `tchar` of RFC 9110: what a method or a field name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_request_line(line: &[u8]) -> Result<(String, String, Version), HeadError> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("the request line is not METHOD TARGET VERSION"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_token_byte(b)) {
        return Err(malformed("invalid method"));
    }
    // Origin form only, visible ASCII (a proxy's absolute form is not for us).
    if target.first() != Some(&b'/') || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(malformed("invalid request target"));
    }
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        v if v.len() == 8
            && v.starts_with(b"HTTP/")
            && v[5].is_ascii_digit()
            && v[6] == b'.'
            && v[7].is_ascii_digit() =>
        {
            return Err(HeadError::Version)
        }
        _ => return Err(malformed("invalid HTTP version")),
    };
    // Both checked to be ASCII above.
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((text(method), text(target), version))
}

fn parse_field(line: &[u8]) -> Result<(String, String), HeadError> {
    if line[0] == b' ' || line[0] == b'\t' {
        return Err(malformed("obsolete line folding"));
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| malformed("a header field without a colon"))?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
        return Err(malformed("invalid header field name"));
    }
    let value = line[colon + 1..].trim_ascii();
    if value.iter().any(|&b| b == b'\r' || b == 0 || b == b'\n') {
        return Err(malformed("invalid byte in a header field value"));
    }
    Ok((
        String::from_utf8_lossy(name).to_ascii_lowercase(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<Head>, HeadError> {
        read_head(
            &mut io::BufReader::with_capacity(7, bytes),
            &Limits::default(),
        )
    }

    fn status(bytes: &[u8]) -> Option<u16> {
        parse(bytes).expect_err("should fail").status()
    }

    #[test]
    fn a_simple_request() {
        let head = parse(b"GET /0/a%20b.mkv?x=1 HTTP/1.1\r\nHost: x\r\nRange:  bytes=0-1 \r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.target, "/0/a%20b.mkv?x=1");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.single("range").unwrap(), Some("bytes=0-1"));
        assert_eq!(head.single("host").unwrap(), Some("x"));
        assert!(head.keep_alive());
    }

    #[test]
    fn bare_newlines_and_leading_empty_lines_are_accepted() {
        let head = parse(b"\r\n\nHEAD / HTTP/1.0\nConnection: keep-alive\n\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.method, "HEAD");
        assert!(head.keep_alive());
        let head = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!head.keep_alive());
        let head = parse(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!head.keep_alive());
    }

    #[test]
    fn nothing_sent_is_no_request() {
        assert!(parse(b"").unwrap().is_none());
    }

    #[test]
    fn hostile_heads_map_to_4xx_and_5xx() {
        assert_eq!(status(b"GARBAGE\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1 extra\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET  / HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET http://x/ HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / FTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"G(T / HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET /\xff HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), Some(505));
        assert_eq!(status(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\n: x\r\n\r\n"), Some(400));
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"),
            Some(400)
        );
        assert_eq!(status(b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nA: b\0\r\n\r\n"), Some(400));
        assert_eq!(status(b"\r\n\r\n\r\n\r\n\r\n\r\n"), Some(400));
        // Cut short: nothing to answer.
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(status(b"GET / HTT"), None);
    }

    #[test]
    fn limits_hold() {
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat_n(b'a', 10_000));
        long.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert_eq!(status(&long), Some(414));
        // No newline at all: refused once the limit is passed, not buffered.
        assert_eq!(status(&vec![b'A'; 1 << 20]), Some(414));

        let mut big_field = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big_field.extend(std::iter::repeat_n(b'b', 9_000));
        big_field.extend_from_slice(b"\r\n\r\n");
        assert_eq!(status(&big_field), Some(431));

        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..100 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(status(&many), Some(431));

        let mut large = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..60 {
            large.extend_from_slice(format!("X-{i}: {}\r\n", "z".repeat(1000)).as_bytes());
        }
        large.extend_from_slice(b"\r\n");
        assert_eq!(status(&large), Some(431));
    }

    #[test]
    fn duplicate_single_fields_are_refused() {
        let head = parse(b"GET / HTTP/1.1\r\nRange: bytes=0-1\r\nrange: bytes=2-3\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.single("range").is_err());
    }

    /// Every prefix and every single-byte corruption of a valid head parses or
    /// fails cleanly.
    #[test]
    fn cuts_and_corruptions_never_panic() {
        let good = b"GET /1/x.mp4 HTTP/1.1\r\nHost: a\r\nRange: bytes=5-\r\n\r\n";
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        for at in 0..good.len() {
            for b in [0u8, b' ', b':', b'\r', b'\n', 0x80, 0xff, b'%'] {
                let mut bad = good.to_vec();
                bad[at] = b;
                let _ = parse(&bad);
            }
        }
    }
}

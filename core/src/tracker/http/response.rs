//! HTTP/1.x responses from raw socket bytes: status line, headers, and a body
//! framed by `Content-Length`, chunked transfer coding, or the end of the
//! connection.

use super::{bounded_text, HttpTrackerError, MAX_BODY_LEN, MAX_HEADERS, MAX_HEAD_LEN};

/// Longest chunk-size line of a chunked body (size, extensions, CRLF).
const MAX_CHUNK_LINE: usize = 1024;

/// Longest reason phrase kept, in characters.
const MAX_REASON_CHARS: usize = 256;

/// A complete HTTP/1.x response.
///
/// ```
/// use sluice_core::tracker::http::HttpResponse;
///
/// let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nd1:a\r\n3\r\ni1e\r\n1\r\ne\r\n0\r\n\r\n";
/// // Not all there yet: ask for more bytes.
/// assert_eq!(HttpResponse::parse(&raw[..30], false), Ok(None));
/// let response = HttpResponse::parse(raw, false).unwrap().unwrap();
/// assert_eq!(response.status, 200);
/// assert_eq!(response.body, b"d1:ai1ee");
/// assert_eq!(response.header("transfer-encoding"), Some(&b"chunked"[..]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The reason phrase, lossily decoded as UTF-8 (may be empty).
    pub reason: String,
    /// The headers in order, names lowercased, values with surrounding
    /// whitespace removed.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, with any chunked framing removed.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Parses the response at the start of `bytes`, everything read from the
    /// connection so far; `eof` says whether the peer has closed it.
    ///
    /// Returns `Ok(None)` when more bytes are needed (never when `eof`: then
    /// an incomplete response is [`HttpTrackerError::Truncated`]). Interim
    /// `1xx` responses are skipped. The head may end lines with CRLF or a bare
    /// LF, and is bounded by [`MAX_HEAD_LEN`] and [`MAX_HEADERS`]; the body by
    /// [`MAX_BODY_LEN`]. Bytes after a complete response are ignored.
    ///
    /// Each call parses from the start, so a driver calls it after each read
    /// with all bytes so far, or once at EOF.
    pub fn parse(bytes: &[u8], eof: bool) -> Result<Option<HttpResponse>, HttpTrackerError> {
        match parse_partial(bytes, eof)? {
            Some(response) => Ok(Some(response)),
            None if eof => Err(HttpTrackerError::Truncated),
            None => Ok(None),
        }
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// All values of the headers named `name` (case-insensitive), in order.
    fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// How the body of a response is delimited.
enum Framing {
    /// No body at all (`204`, `304`).
    Empty,
    /// Exactly this many bytes.
    Length(usize),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the connection closes.
    UntilEof,
}

fn parse_partial(bytes: &[u8], eof: bool) -> Result<Option<HttpResponse>, HttpTrackerError> {
    let mut start = 0;
    loop {
        let rest = &bytes[start..];
        let Some(head_len) = head_end(rest)? else {
            return Ok(None);
        };
        let mut response = parse_head(&rest[..head_len])?;
        let body_start = start + head_len;
        if (100..200).contains(&response.status) {
            if response.status == 101 {
                return Err(HttpTrackerError::MalformedHttp(
                    "unexpected protocol switch",
                ));
            }
            start = body_start;
            continue;
        }
        let body = &bytes[body_start..];
        let framed = match framing(&response)? {
            Framing::Empty => Some(Vec::new()),
            Framing::Length(len) => body.get(..len).map(<[u8]>::to_vec),
            Framing::Chunked => dechunk(body)?,
            Framing::UntilEof if body.len() > MAX_BODY_LEN => {
                return Err(HttpTrackerError::BodyTooLarge)
            }
            Framing::UntilEof => eof.then(|| body.to_vec()),
        };
        return Ok(framed.map(|body| {
            response.body = body;
            response
        }));
    }
}

/// The length of the head (through its empty line), if it is all there.
fn head_end(bytes: &[u8]) -> Result<Option<usize>, HttpTrackerError> {
    let window = &bytes[..bytes.len().min(MAX_HEAD_LEN)];
    let mut line_start = 0;
    while let Some(nl) = window[line_start..].iter().position(|&b| b == b'\n') {
        let line = &window[line_start..line_start + nl];
        if line.is_empty() || line == b"\r" {
            if line_start == 0 {
                return Err(HttpTrackerError::MalformedHttp("empty status line"));
            }
            return Ok(Some(line_start + nl + 1));
        }
        line_start += nl + 1;
    }
    if bytes.len() >= MAX_HEAD_LEN {
        return Err(HttpTrackerError::HeadTooLarge);
    }
    Ok(None)
}

/// Splits a head into lines without their CRLF or LF; the last (empty) line
/// is dropped.
fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
}

/// Parses the status line and headers of a complete head.
fn parse_head(head: &[u8]) -> Result<HttpResponse, HttpTrackerError> {
    use HttpTrackerError::MalformedHttp;
    let mut lines = lines(head);
    let status_line = lines.next().ok_or(MalformedHttp("empty status line"))?;
    let (status, reason) = parse_status_line(status_line)?;
    let mut headers = Vec::new();
    for line in lines {
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(MalformedHttp("folded header line"));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(MalformedHttp("header line without ':'"))?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
            return Err(MalformedHttp("invalid header name"));
        }
        if headers.len() >= MAX_HEADERS {
            return Err(HttpTrackerError::HeadTooLarge);
        }
        // A token is ASCII, so this is lossless.
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        headers.push((name, trim_ows(value).to_vec()));
    }
    Ok(HttpResponse {
        status,
        reason,
        headers,
        body: Vec::new(),
    })
}

/// `HTTP/1.x SP 3DIGIT [SP reason]`.
fn parse_status_line(line: &[u8]) -> Result<(u16, String), HttpTrackerError> {
    use HttpTrackerError::MalformedHttp;
    let rest = line
        .strip_prefix(b"HTTP/1.")
        .ok_or(MalformedHttp("not an HTTP/1.x status line"))?;
    let [minor, b' ', d0, d1, d2, tail @ ..] = rest else {
        return Err(MalformedHttp("short status line"));
    };
    if !minor.is_ascii_digit() {
        return Err(MalformedHttp("bad HTTP version"));
    }
    let digits = [*d0, *d1, *d2];
    if !digits.iter().all(u8::is_ascii_digit) || *d0 == b'0' {
        return Err(MalformedHttp("bad status code"));
    }
    let status = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let reason = match tail {
        [] => &[][..],
        [b' ', reason @ ..] => reason,
        _ => return Err(MalformedHttp("bad status code")),
    };
    Ok((status, bounded_text(reason, MAX_REASON_CHARS)))
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Strips spaces and tabs from both ends.
fn trim_ows(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// The comma-separated, lowercased, non-empty items of every `name` header.
fn list_items(response: &HttpResponse, name: &str) -> Vec<String> {
    response
        .header_values(name)
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|item| String::from_utf8_lossy(trim_ows(item)).to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

/// Decides how the body is delimited, refusing encodings we did not ask for.
fn framing(response: &HttpResponse) -> Result<Framing, HttpTrackerError> {
    let content_coding: Vec<String> = list_items(response, "content-encoding")
        .into_iter()
        .filter(|c| c != "identity")
        .collect();
    if !content_coding.is_empty() {
        return Err(HttpTrackerError::UnsupportedEncoding(
            content_coding.join(", "),
        ));
    }
    if matches!(response.status, 204 | 304) {
        return Ok(Framing::Empty);
    }
    let transfer: Vec<String> = list_items(response, "transfer-encoding")
        .into_iter()
        .filter(|c| c != "identity")
        .collect();
    match transfer.as_slice() {
        [] => {}
        [only] if only == "chunked" => return Ok(Framing::Chunked),
        _ => return Err(HttpTrackerError::UnsupportedEncoding(transfer.join(", "))),
    }
    let mut length: Option<u64> = None;
    for value in response.header_values("content-length") {
        for item in value.split(|&b| b == b',') {
            let item = trim_ows(item);
            if item.is_empty() || item.len() > 19 || !item.iter().all(u8::is_ascii_digit) {
                return Err(HttpTrackerError::MalformedHttp("invalid Content-Length"));
            }
            let n = item.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            if length.is_some_and(|seen| seen != n) {
                return Err(HttpTrackerError::MalformedHttp(
                    "conflicting Content-Length values",
                ));
            }
            length = Some(n);
        }
    }
    match length {
        Some(n) if n > MAX_BODY_LEN as u64 => Err(HttpTrackerError::BodyTooLarge),
        Some(n) => Ok(Framing::Length(n as usize)),
        None => Ok(Framing::UntilEof),
    }
}

/// Removes chunked framing; `None` when the body is not all there yet.
fn dechunk(bytes: &[u8]) -> Result<Option<Vec<u8>>, HttpTrackerError> {
    use HttpTrackerError::MalformedHttp;
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let Some((line, next)) = line_at(bytes, pos, MAX_CHUNK_LINE)? else {
            return Ok(None);
        };
        let size_text = line.split(|&b| b == b';').next().unwrap_or(line);
        let size_text = trim_ows(size_text);
        if size_text.is_empty() || size_text.len() > 8 {
            // Eight hex digits already exceed the body limit.
            return Err(MalformedHttp("invalid chunk size"));
        }
        let mut size = 0usize;
        for &d in size_text {
            let v = (d as char)
                .to_digit(16)
                .ok_or(MalformedHttp("invalid chunk size"))?;
            size = size * 16 + v as usize;
        }
        pos = next;
        if size == 0 {
            return trailers(bytes, pos).map(|done| done.then_some(out));
        }
        if out.len() + size > MAX_BODY_LEN {
            return Err(HttpTrackerError::BodyTooLarge);
        }
        let Some(data) = bytes.get(pos..pos + size) else {
            return Ok(None);
        };
        out.extend_from_slice(data);
        pos += size;
        match bytes.get(pos..) {
            Some([b'\r', b'\n', ..]) => pos += 2,
            Some([b'\n', ..]) => pos += 1,
            Some([] | [b'\r']) => return Ok(None),
            _ => return Err(MalformedHttp("chunk data not followed by CRLF")),
        }
    }
}

/// Skips the trailer section after the last chunk; true once its empty
/// line has been seen.
fn trailers(bytes: &[u8], mut pos: usize) -> Result<bool, HttpTrackerError> {
    let start = pos;
    loop {
        let Some((line, next)) = line_at(bytes, pos, MAX_HEAD_LEN)? else {
            return Ok(false);
        };
        if line.is_empty() {
            return Ok(true);
        }
        if next - start > MAX_HEAD_LEN {
            return Err(HttpTrackerError::HeadTooLarge);
        }
        pos = next;
    }
}

/// The line starting at `pos` without its CRLF or LF, and where the next
/// one starts; `None` if it has not ended yet. Lines longer than `max` are
/// refused.
fn line_at(
    bytes: &[u8],
    pos: usize,
    max: usize,
) -> Result<Option<(&[u8], usize)>, HttpTrackerError> {
    let rest = bytes.get(pos..).unwrap_or(&[]);
    match rest.iter().take(max).position(|&b| b == b'\n') {
        Some(nl) => {
            let line = &rest[..nl];
            Ok(Some((
                line.strip_suffix(b"\r").unwrap_or(line),
                pos + nl + 1,
            )))
        }
        None if rest.len() >= max => Err(HttpTrackerError::MalformedHttp("line too long")),
        None => Ok(None),
    }
}

//! One connection: read a request, answer it, repeat while the client keeps the
//! connection open.

use std::io::{self, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::range::{parse_range, RangeRequest};
use super::request::{read_head, Head};
use super::text::{decode_path, escape_html, http_date};
use super::{content_type, file_path, Entry, Shared};

/// How long one socket read waits before the deadlines in the limits are
/// checked again.
const READ_POLL: Duration = Duration::from_secs(5);

/// Body bytes moved per read and write.
const CHUNK: usize = 128 * 1024;

/// Serves requests on `stream` until the client closes it, an error, or a
/// response that ends the connection.
pub(super) fn serve(stream: TcpStream, shared: &Shared) {
    let limits = &shared.limits;
    let _ = stream.set_nodelay(true);
    let poll = READ_POLL.min(limits.head_timeout).min(limits.idle_timeout);
    if stream
        .set_read_timeout(Some(poll.max(Duration::from_millis(1))))
        .is_err()
        || stream
            .set_write_timeout(Some(limits.write_timeout))
            .is_err()
    {
        return;
    }
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(16 * 1024, read_half);
    let mut out = stream;
    while !shared.stopping.load(Ordering::SeqCst) {
        let head = match read_head(&mut reader, limits) {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => {
                if let Some(status) = e.status() {
                    let _ = Response::error(status, &e.to_string())
                        .close()
                        .send(&mut out, false);
                }
                return;
            }
        };
        shared.requests.fetch_add(1, Ordering::Relaxed);
        match answer(&head, &mut out, shared) {
            Ok(true) => {}
            // The client asked to close, the response required it, or the
            // client went away: in all cases the reader (if any) is dropped.
            Ok(false) | Err(_) => return,
        }
    }
}

/// Answers `503` to a connection over the limit.
pub(super) fn refuse_busy(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = Response::error(503, "too many connections")
        .close()
        .header("Retry-After", "1")
        .send(&mut stream, false);
}

/// A response head and a small body held in memory (file bodies are streamed
/// separately).
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Response {
    fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        }
    }

    fn error(status: u16, message: &str) -> Response {
        let text = format!("{status} {}: {message}\n", reason(status));
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(text.into_bytes())
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: Vec<u8>) -> Response {
        self.body = body;
        self
    }

    fn close(mut self) -> Response {
        self.close = true;
        self
    }

    /// The head, ending with the empty line; `length` is the body's length.
    fn head(&self, length: u64) -> String {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nServer: sluice/{}\r\nDate: {}\r\nContent-Length: {length}\r\n",
            self.status,
            reason(self.status),
            env!("CARGO_PKG_VERSION"),
            http_date(SystemTime::now()),
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        head
    }

    /// Sends the head and (unless `head_only`) the in-memory body. Returns
    /// whether the connection may carry another request.
    fn send(self, out: &mut impl Write, head_only: bool) -> io::Result<bool> {
        let mut bytes = self.head(self.body.len() as u64).into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        out.write_all(&bytes)?;
        out.flush()?;
        Ok(!self.close)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Answers one request; `Ok(false)` when the connection must close after it.
fn answer(head: &Head, out: &mut TcpStream, shared: &Shared) -> io::Result<bool> {
    let keep = head.keep_alive();
    let response = route(head, shared);
    let (response, head_only) = match response {
        Routed::Ready(r) => (r, head.method == "HEAD"),
        Routed::File { entry, range } => return send_file(head, out, shared, &entry, range, keep),
    };
    let response = if keep { response } else { response.close() };
    response.send(out, head_only)
}

enum Routed {
    Ready(Response),
    File { entry: Entry, range: RangeRequest },
}

fn route(head: &Head, shared: &Shared) -> Routed {
    use Routed::Ready;
    match head.method.as_str() {
        "GET" | "HEAD" => {}
        "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "TRACE" | "CONNECT" => {
            return Ready(
                Response::error(405, "only GET and HEAD are served").header("Allow", "GET, HEAD"),
            )
        }
        _ => return Ready(Response::error(501, "unknown method")),
    }
    // A body on GET or HEAD means nothing here, and reading past it is not
    // worth the risk: refuse and close.
    let has_body = match head.single("content-length") {
        Ok(Some(v)) => v != "0",
        Ok(None) => false,
        Err(_) => true,
    };
    if has_body || head.single("transfer-encoding").ok().flatten().is_some() {
        return Ready(Response::error(400, "request bodies are not accepted").close());
    }
    let path = head.target.split(['?', '#']).next().unwrap_or("/");
    let Some(path) = decode_path(path) else {
        return Ready(Response::error(400, "invalid percent-encoding in the path"));
    };
    let content = &shared.content;
    match path.as_str() {
        "/" | "/index.html" => {
            return Ready(
                Response::new(200)
                    .header("Content-Type", "text/html; charset=utf-8")
                    .header("Cache-Control", "no-cache")
                    .body(index_page(shared).into_bytes()),
            )
        }
        "/status" => {
            let mut status = content.status();
            if !status.is_object() {
                status = serde_json::json!({});
            }
            status["files"] = content
                .entries()
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "index": e.index,
                        "path": e.path,
                        "length": e.length,
                        "url": file_path(e),
                    })
                })
                .collect();
            return Ready(
                Response::new(200)
                    .header("Content-Type", "application/json")
                    .header("Cache-Control", "no-cache")
                    .body(format!("{status:#}\n").into_bytes()),
            );
        }
        _ => {}
    }
    let Some(entry) = find_file(&path, content.entries()) else {
        return Ready(Response::error(404, "no such file"));
    };
    let range = match head.single("range") {
        Err(_) => return Ready(Response::error(400, "more than one Range field")),
        Ok(None) => RangeRequest::Whole,
        Ok(Some(value)) => {
            let tag = etag(&content.tag(), &entry);
            match head.single("if-range") {
                // A stale validator (or a date, which we cannot compare): send
                // the whole file, as RFC 9110 asks.
                Ok(Some(v)) if tag.as_deref() != Some(v) => RangeRequest::Whole,
                Err(_) => return Ready(Response::error(400, "more than one If-Range field")),
                _ => parse_range(value, entry.length),
            }
        }
    };
    Routed::File { entry, range }
}

/// `/N` or `/N/<path of file N>`.
fn find_file(path: &str, entries: Vec<Entry>) -> Option<Entry> {
    let rest = path.strip_prefix('/')?;
    let (number, name) = rest.split_once('/').unwrap_or((rest, ""));
    // Digits only, no sign or leading zeros: one URL per file.
    if number.is_empty()
        || !number.bytes().all(|b| b.is_ascii_digit())
        || (number.len() > 1 && number.starts_with('0'))
    {
        return None;
    }
    let index: usize = number.parse().ok()?;
    let entry = entries.into_iter().find(|e| e.index == index)?;
    (name.is_empty() || name == entry.path).then_some(entry)
}

fn etag(tag: &str, entry: &Entry) -> Option<String> {
    (!tag.is_empty()).then(|| format!("\"{tag}-{}-{}\"", entry.index, entry.length))
}

/// Sends a file (or a range of it) through a reader of its own. Returns
/// whether the whole response went out.
fn send_file(
    head: &Head,
    out: &mut TcpStream,
    shared: &Shared,
    entry: &Entry,
    range: RangeRequest,
    keep: bool,
) -> io::Result<bool> {
    let len = entry.length;
    let mut response = Response::new(200)
        .header("Content-Type", content_type(&entry.path))
        .header("Accept-Ranges", "bytes");
    response.close = !keep;
    if let Some(tag) = etag(&shared.content.tag(), entry) {
        response = response.header("ETag", tag);
    }
    let (start, end) = match range {
        RangeRequest::Whole => (0, len),
        RangeRequest::Part { start, end } => {
            response.status = 206;
            response = response.header("Content-Range", format!("bytes {start}-{end}/{len}"));
            (start, end + 1)
        }
        RangeRequest::Unsatisfiable => {
            let mut refused = Response::error(416, "range not satisfiable")
                .header("Content-Range", format!("bytes */{len}"));
            refused.close = !keep;
            return refused.send(out, head.method == "HEAD");
        }
    };
    let count = end - start;
    if head.method == "HEAD" || count == 0 {
        out.write_all(response.head(count).as_bytes())?;
        return Ok(keep);
    }
    // Opened before the head is sent, so a failure can still be a 500.
    let mut reader = match shared.content.open(entry.index, start, end - 1) {
        Ok(r) => r,
        Err(e) => {
            return Response::error(500, &e.to_string())
                .close()
                .send(out, false)
        }
    };
    out.write_all(response.head(count).as_bytes())?;
    let mut buf = vec![0u8; CHUNK.min(count as usize)];
    let mut left = count;
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = match reader.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ended early",
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The reader waits for a piece: is anyone still listening?
            Err(e) if e.kind() == io::ErrorKind::TimedOut && client_is_there(out) => continue,
            // The head is out: all that can be done is to close early, which
            // tells the client the body is incomplete.
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        shared.body_bytes.fetch_add(n as u64, Ordering::Relaxed);
        left -= n as u64;
    }
    Ok(keep)
}

/// False once the client closed its end (or the socket failed). Bytes it sent
/// meanwhile (a pipelined request) stay queued for the next read.
fn client_is_there(out: &TcpStream) -> bool {
    if out.set_nonblocking(true).is_err() {
        return false;
    }
    let there = match out.peek(&mut [0u8; 1]) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    };
    there && out.set_nonblocking(false).is_ok()
}

fn index_page(shared: &Shared) -> String {
    let content = &shared.content;
    let title = escape_html(&content.title());
    let status = content.status();
    let mut page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body>\n<h1>{title}</h1>\n"
    );
    if let (Some(have), Some(total)) = (
        status["pieces_verified"].as_u64(),
        status["pieces_total"].as_u64(),
    ) {
        page.push_str(&format!(
            "<p>{have} of {total} pieces verified; {} peers</p>\n",
            status["peers"].as_u64().unwrap_or(0)
        ));
    }
    page.push_str("<ul>\n");
    for entry in content.entries() {
        page.push_str(&format!(
            "<li><a href=\"{}\">{}</a> ({} bytes)</li>\n",
            escape_html(&file_path(&entry)),
            escape_html(&entry.path),
            entry.length
        ));
    }
    page.push_str("</ul>\n</body></html>\n");
    page
}

//! `sluice demo`: sluice at work with no network and no arguments.
//!
//! It writes a sample payload (a 64 MiB "video" and a few small files), makes a
//! torrent of it, starts three seeding clients on loopback addresses, and a
//! streaming client with nothing selected behind an HTTP server. Then, as a
//! player would, it asks the server (with a plain `TcpStream`) for a range in
//! the middle of the video and for the small files whole, checks every byte
//! against the source, and shows what was fetched: only the pieces those
//! requests needed.
//!
//! Its clients are given their peers and do not use local peer discovery
//! ([`ClientOptions::lsd`] stays `None`): the demo sends nothing beyond the
//! loopback interface.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sluice_core::metainfo::Metainfo;
use sluice_mio::create::{create_torrent, CreateOptions};
use sluice_mio::{http, AddOptions, Client, ClientOptions, TorrentHandle};

use super::progress::print_stdout as say;
use super::{format, CliError};

/// Sample files: (path below the payload folder, size). Odd sizes so that
/// pieces straddle file boundaries.
const SAMPLE: &[(&str, u64)] = &[
    ("video/feature.mp4", 64 * MIB + 12_345),
    ("video/subtitles/en.srt", 48_321),
    ("README.txt", 1_234),
    ("empty.log", 0),
    ("music/theme.ogg", 2_500_017),
];

/// The large file (first in `SAMPLE`), and the range a "player" asks for in
/// its middle.
const VIDEO: usize = 0;
const RANGE_AT: u64 = 27 * MIB + 4321;
const RANGE_LEN: u64 = 4 * MIB;

const MIB: u64 = 1 << 20;
const PIECE_LENGTH: u32 = 256 << 10;
const SEEDS: u8 = 3;

/// Every wait of the demo gives up after this long.
const LIMIT: Duration = Duration::from_secs(60);

/// Runs the demo in `dir` (a fresh temporary folder when `None`).
pub fn run(dir: Option<PathBuf>) -> Result<(), CliError> {
    let (dir, temporary) = match dir {
        Some(d) => (d, false),
        None => {
            let d = std::env::temp_dir().join(format!("sluice-demo-{}", std::process::id()));
            (d, true)
        }
    };
    let result = demo(&dir);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        say(&format!("kept the demo's files in {}", dir.display()));
    }
    result
}

/// What the demo started, to shut down whatever happens.
#[derive(Default)]
struct Swarm {
    seeds: Vec<Client>,
    streamer: Option<Client>,
    server: Option<http::Server>,
}

impl Swarm {
    fn shutdown(&mut self) -> Result<(), CliError> {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
        let mut first = Ok(());
        for client in self.streamer.take().into_iter().chain(self.seeds.drain(..)) {
            if let Err(e) = client.shutdown() {
                if first.is_ok() {
                    first = Err(CliError::new(format!("shutting down a client: {e}")));
                }
            }
        }
        first
    }
}

fn demo(dir: &Path) -> Result<(), CliError> {
    let started = Instant::now();
    let mut swarm = Swarm::default();
    let result = demo_in(dir, &mut swarm);
    let shutdown = swarm.shutdown();
    result?;
    shutdown?;
    say(&format!(
        "the demo took {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn demo_in(dir: &Path, swarm: &mut Swarm) -> Result<(), CliError> {
    let seed_dir = dir.join("seed");
    let payload = seed_dir.join("sample");
    let total: u64 = SAMPLE.iter().map(|(_, n)| n).sum();
    say(&format!(
        "[1/5] writing a sample payload: {} files, {} (a {} \"video\"), in {}",
        SAMPLE.len(),
        format::bytes(total),
        format::bytes(SAMPLE[VIDEO].1),
        payload.display()
    ));
    write_sample(&payload)?;

    let mut opts = CreateOptions::new(&payload);
    opts.piece_length = Some(PIECE_LENGTH);
    let made = create_torrent(&opts, &mut |_, _| {})?;
    let torrent_path = dir.join("sample.torrent");
    std::fs::write(&torrent_path, &made.bytes)
        .map_err(|e| CliError::new(format!("{}: {e}", torrent_path.display())))?;
    let meta = Metainfo::from_bytes(&made.bytes)?;
    let pieces = meta.info.piece_count();
    say(&format!(
        "[2/5] made {}: {pieces} pieces of {}, info hash {}",
        torrent_path.display(),
        format::bytes(u64::from(PIECE_LENGTH)),
        meta.info_hash
    ));

    let mut seed_addrs = Vec::new();
    let mut seeds = Vec::new();
    for n in 0..SEEDS {
        let (client, torrent) = start_seed(&seed_dir, &meta, n)?;
        seed_addrs.push(client.local_addr());
        swarm.seeds.push(client);
        seeds.push(torrent.clone());
        if !torrent.is_complete() {
            return Err(CliError::new("a seed found its data incomplete"));
        }
    }
    say(&format!(
        "[3/5] {SEEDS} seeds checked the payload and listen on {}",
        join(&seed_addrs)
    ));

    let mut opts = ClientOptions::new(dir.join("stream"));
    opts.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let streamer = Client::start(opts)?;
    let add = AddOptions {
        selected: Some(Vec::new()),
        peers: seed_addrs,
    };
    let torrent = streamer.add_torrent(meta.clone(), add)?;
    swarm.streamer = Some(streamer);
    let server = http::Server::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), torrent.clone())?;
    let files: Vec<sluice_mio::FileInfo> = torrent.files();
    // The torrent lists files sorted by path: find the video by its name.
    let video = files
        .iter()
        .find(|f| f.path.ends_with(SAMPLE[VIDEO].0))
        .ok_or_else(|| CliError::new("the video is not in the torrent"))?
        .clone();
    let video_url = server
        .file_url(video.index)
        .unwrap_or_else(|| server.base_url());
    let addr = server.local_addr();
    say(&format!(
        "[4/5] a streaming client (nothing selected: it fetches only what is read) serves \
         {}/",
        server.base_url()
    ));
    swarm.server = Some(server);

    say("[5/5] a player asks for bytes over HTTP:");
    let end = RANGE_AT + RANGE_LEN - 1;
    let path = url_path(&video_url);
    let head = fetch(addr, "HEAD", &path, None)?;
    expect(&head, 200, &[("Content-Length", &video.length.to_string())])?;
    expect(
        &head,
        200,
        &[("Content-Type", "video/mp4"), ("Accept-Ranges", "bytes")],
    )?;
    say(&format!(
        "      HEAD {path}: 200, {} bytes, video/mp4",
        video.length
    ));

    let range = format!("bytes={RANGE_AT}-{end}");
    let reply = fetch(addr, "GET", &path, Some(&range))?;
    let content_range = format!("bytes {RANGE_AT}-{end}/{}", video.length);
    expect(&reply, 206, &[("Content-Range", &content_range)])?;
    same_bytes(&reply.body, &payload_file(&seed_dir, &video), RANGE_AT)?;
    let (first_byte, took) = (reply.first_byte, reply.took);
    let after_range = torrent.progress().0;
    say(&format!(
        "      GET {path} Range: {range}: 206, {} byte-identical to the source, first \
         byte after {} ms, all in {} ms ({} pieces verified so far)",
        format::bytes(RANGE_LEN),
        first_byte.as_millis(),
        took.as_millis(),
        after_range
    ));

    let mut small = 0;
    for f in files
        .iter()
        .filter(|f| f.index != video.index && !f.padding)
    {
        let path = http::file_path(&http::Entry {
            index: f.index,
            path: f.path.clone(),
            length: f.length,
        });
        let reply = fetch(addr, "GET", &path, None)?;
        expect(&reply, 200, &[("Content-Length", &f.length.to_string())])?;
        same_bytes(&reply.body, &payload_file(&seed_dir, f), 0)?;
        small += f.length;
        say(&format!(
            "      GET {path}: 200, {} byte-identical, {}",
            format::bytes(f.length),
            reply.header("Content-Type").unwrap_or("?")
        ));
    }
    let past_end = format!("bytes={}-", video.length);
    let refused = fetch(addr, "GET", &path, Some(&past_end))?;
    let star = format!("bytes */{}", video.length);
    expect(&refused, 416, &[("Content-Range", &star)])?;
    say(&format!(
        "      GET {path} Range: {past_end}: 416, Content-Range: {star}"
    ));

    let (verified, total) = torrent.progress();
    let fetched = torrent.stats().map_or(0, |s| s.downloaded);
    say("proved:");
    say(&format!(
        "  {} from the middle of a {} video and {} files whole ({}) came over HTTP \
         byte-identical to the source",
        format::bytes(RANGE_LEN),
        format::bytes(video.length),
        files.len() - 1,
        format::bytes(small),
    ));
    say(&format!(
        "  first byte of the range after {} ms, from {SEEDS} seeds on loopback",
        first_byte.as_millis()
    ));
    say(&format!(
        "  {verified} of {total} pieces fetched ({} of {}): only what the reads needed, \
         plus a bounded read-ahead",
        format::bytes(fetched),
        format::bytes(meta.info.total_length)
    ));
    let sent: Vec<String> = seeds
        .iter()
        .map(|s| format::bytes(s.stats().map_or(0, |s| s.uploaded)))
        .collect();
    say(&format!(
        "  the seeds sent {} each: the pieces were spread over the swarm",
        sent.join(", ")
    ));
    say(&format!(
        "  every response carried the right status, Content-Range and Content-Type; the \
         video was at {video_url}"
    ));
    say("next: `sluice stream FILE.torrent --peer ADDR` and open the printed url in mpv or VLC");
    Ok(())
}

/// A seeding client on 127.0.0.(2 + n), port 0 (any 127.x address works on a
/// Linux loopback; elsewhere 127.0.0.1 is used).
fn start_seed(dir: &Path, meta: &Metainfo, n: u8) -> Result<(Client, TorrentHandle), CliError> {
    let start = |ip: Ipv4Addr| {
        let mut opts = ClientOptions::new(dir);
        opts.listen = SocketAddr::from((IpAddr::V4(ip), 0));
        opts.resume = false;
        Client::start(opts)
    };
    let client = match start(Ipv4Addr::new(127, 0, 0, 2 + n)) {
        Ok(c) => c,
        Err(_) => start(Ipv4Addr::LOCALHOST)?,
    };
    match client.add_torrent(meta.clone(), AddOptions::default()) {
        Ok(t) => Ok((client, t)),
        Err(e) => {
            let _ = client.shutdown();
            Err(e.into())
        }
    }
}

fn join(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn url_path(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    rest.find('/').map_or("/".into(), |i| rest[i..].to_string())
}

fn payload_file(seed_dir: &Path, f: &sluice_mio::FileInfo) -> PathBuf {
    f.path
        .split('/')
        .fold(seed_dir.to_path_buf(), |p, c| p.join(c))
}

/// Compares `got` with the bytes of `source` from `offset`.
fn same_bytes(got: &[u8], source: &Path, offset: u64) -> Result<(), CliError> {
    let mut want = vec![0u8; got.len()];
    let mut file = std::fs::File::open(source)?;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut want)?;
    match got.iter().zip(&want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(at) => Err(CliError::new(format!(
            "{}: byte {} differs from the source",
            source.display(),
            offset + at as u64
        ))),
    }
}

/// An HTTP response as the demo's client read it.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    first_byte: Duration,
    took: Duration,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn expect(reply: &Reply, status: u16, headers: &[(&str, &str)]) -> Result<(), CliError> {
    if reply.status != status {
        return Err(CliError::new(format!(
            "the server answered {} where {status} was expected",
            reply.status
        )));
    }
    for (name, value) in headers {
        if reply.header(name) != Some(value) {
            return Err(CliError::new(format!(
                "the server sent {name}: {:?} where {value:?} was expected",
                reply.header(name)
            )));
        }
    }
    Ok(())
}

/// One request on a fresh connection, the plain way a player would make it.
fn fetch(
    addr: SocketAddr,
    method: &str,
    path: &str,
    range: Option<&str>,
) -> Result<Reply, CliError> {
    let fail = |e: io::Error| CliError::new(format!("{method} {path}: {e}"));
    let started = Instant::now();
    let stream = TcpStream::connect_timeout(&addr, LIMIT).map_err(fail)?;
    stream.set_read_timeout(Some(LIMIT)).map_err(fail)?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(r) = range {
        request.push_str(&format!("Range: {r}\r\n"));
    }
    request.push_str("\r\n");
    (&stream).write_all(request.as_bytes()).map_err(fail)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(fail)?;
    let first_byte = started.elapsed();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CliError::new(format!("{method} {path}: not an HTTP response: {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(fail)?;
        let text = line.trim_end();
        if text.is_empty() {
            break;
        }
        if let Some((n, v)) = text.split_once(':') {
            headers.push((n.to_string(), v.trim().to_string()));
        }
    }
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
        first_byte,
        took: Duration::ZERO,
    };
    if method != "HEAD" {
        let length: usize = reply
            .header("Content-Length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| CliError::new(format!("{method} {path}: no Content-Length")))?;
        reply.body = vec![0; length];
        // The head comes once the body's first bytes are verified and read:
        // time to first byte is when the body starts.
        let mut first = [0u8; 1];
        if length > 0 {
            reader.read_exact(&mut first).map_err(fail)?;
            reply.first_byte = started.elapsed();
            reply.body[0] = first[0];
            reader.read_exact(&mut reply.body[1..]).map_err(fail)?;
        }
    }
    reply.took = started.elapsed();
    Ok(reply)
}

/// Deterministic, incompressible-looking bytes (xorshift), written a
/// mebibyte at a time.
fn write_sample(root: &Path) -> Result<(), CliError> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = Vec::with_capacity(MIB as usize);
    for (name, size) in SAMPLE {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let fail = |e: io::Error| CliError::new(format!("{}: {e}", path.display()));
        let mut file = io::BufWriter::new(std::fs::File::create(&path).map_err(fail)?);
        let mut left = *size;
        while left > 0 {
            let n = left.min(MIB);
            chunk.clear();
            while (chunk.len() as u64) < n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.extend_from_slice(&state.to_le_bytes());
            }
            chunk.truncate(n as usize);
            file.write_all(&chunk).map_err(fail)?;
            left -= n;
        }
        file.flush().map_err(fail)?;
    }
    Ok(())
}

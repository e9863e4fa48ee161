//! `sluice info`: what a .torrent file or magnet link describes.

use std::io::Read;

use serde_json::{json, Value};
use sluice_core::magnet::MagnetLink;
use sluice_core::metainfo::{Metainfo, MAX_TORRENT_SIZE};

use super::common::{is_magnet, read_source, start_client, NetArgs};
use super::{format, CliError};

/// `sluice info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .torrent file or a magnet URI.
    torrent: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// For a magnet link, show only what the link itself says; fetch nothing.
    #[arg(long)]
    link_only: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// Prints a torrent's or a magnet link's contents, as text or JSON. A magnet
/// link's torrent is fetched (or read from the cache) when there is a way to
/// find peers: `x.pe`, `--peer` or the DHT; otherwise, and with
/// `--link-only`, the link itself is shown.
pub fn run(mut args: Args) -> Result<(), CliError> {
    let source = args.torrent.clone();
    if !is_magnet(&source) {
        let meta = load_torrent(&source)?;
        print(args.json, torrent_json(&meta), || torrent_text(&meta));
        return Ok(());
    }
    let link = MagnetLink::parse(&source)?;
    let cached = sluice_mio::magnet::cache_path(&args.net.dir, &link.info_hash).exists();
    let findable = cached
        || !link.peers.is_empty()
        || !args.net.net.peers.is_empty()
        || args.net.net.dht(&args.net.dir).is_some();
    if args.link_only || !findable {
        print(args.json, magnet_json(&link), || magnet_text(&link));
        return Ok(());
    }
    let client = start_client(&args.net.dir, &args.net.net, |o| o.resume = false)?;
    let meta = read_source(&source, &mut args.net, &client)?;
    client.shutdown()?;
    print(args.json, torrent_json(&meta), || torrent_text(&meta));
    Ok(())
}

fn print(json: bool, value: Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value:#}");
    } else {
        print!("{}", text());
    }
}

/// Reads and parses a `.torrent` file, with errors that name the file.
pub fn load_torrent(path: &str) -> Result<Metainfo, CliError> {
    let file = std::fs::File::open(path).map_err(|e| CliError::new(format!("{path}: {e}")))?;
    // Read one byte past the limit so an oversized file is refused, not truncated.
    let mut bytes = Vec::new();
    file.take(MAX_TORRENT_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::new(format!("{path}: {e}")))?;
    Metainfo::from_bytes(&bytes).map_err(|e| CliError::new(format!("{path}: {e}")))
}

fn torrent_json(meta: &Metainfo) -> Value {
    let info = &meta.info;
    let files: Vec<Value> = info
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.display_path(),
                "size": f.length,
                "offset": f.offset,
                "padding": f.padding,
            })
        })
        .collect();
    json!({
        "name": info.name,
        "info_hash": meta.info_hash.to_hex(),
        "piece_length": info.piece_length,
        "piece_count": info.piece_count(),
        "total_size": info.total_length,
        "private": info.private,
        "multi_file": info.multi_file,
        "trackers": meta.trackers(),
        "web_seeds": meta.url_list,
        "comment": meta.comment,
        "created_by": meta.created_by,
        "creation_date": meta.creation_date,
        "files": files,
    })
}

fn torrent_text(meta: &Metainfo) -> String {
    let info = &meta.info;
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k}: {v}\n"));
    line("name", info.name.clone());
    line("info hash", meta.info_hash.to_hex());
    line(
        "piece length",
        format!(
            "{} ({})",
            info.piece_length,
            format::bytes(info.piece_length as u64)
        ),
    );
    line("pieces", info.piece_count().to_string());
    line(
        "total size",
        format!(
            "{} ({})",
            info.total_length,
            format::bytes(info.total_length)
        ),
    );
    line("private", if info.private { "yes" } else { "no" }.into());
    if let Some(c) = &meta.comment {
        line("comment", c.clone());
    }
    if let Some(c) = &meta.created_by {
        line("created by", c.clone());
    }
    if let Some(d) = meta.creation_date {
        line("creation date", d.to_string());
    }
    let tiers = meta.trackers();
    if tiers.is_empty() {
        line("trackers", "none".into());
    }
    for (i, tier) in tiers.iter().enumerate() {
        line(&format!("tracker tier {}", i + 1), tier.join(" "));
    }
    for seed in &meta.url_list {
        line("web seed", seed.clone());
    }
    out.push_str(&format!("files: {}\n", info.files.len()));
    let width = info.total_length.to_string().len();
    for (i, f) in info.files.iter().enumerate() {
        let pad = if f.padding { " (padding)" } else { "" };
        out.push_str(&format!(
            "  {i:>3}  offset {:>width$}  size {:>width$}  {}{pad}\n",
            f.offset,
            f.length,
            f.display_path(),
        ));
    }
    out
}

fn magnet_json(link: &MagnetLink) -> Value {
    let select_only: Vec<Value> = link
        .select_only
        .iter()
        .map(|r| json!([r.start(), r.end()]))
        .collect();
    json!({
        "name": link.display_name,
        "info_hash": link.info_hash.to_hex(),
        "trackers": link.trackers.iter().map(|t| vec![t.clone()]).collect::<Vec<_>>(),
        "peers": link.peers.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "select_only": select_only,
    })
}

fn magnet_text(link: &MagnetLink) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k}: {v}\n"));
    line(
        "name",
        link.display_name
            .clone()
            .unwrap_or_else(|| "(unknown)".into()),
    );
    line("info hash", link.info_hash.to_hex());
    if link.trackers.is_empty() {
        line("trackers", "none".into());
    }
    for t in &link.trackers {
        line("tracker", t.clone());
    }
    for p in &link.peers {
        line("peer", p.to_string());
    }
    if !link.select_only.is_empty() {
        let files: Vec<String> = link
            .select_only
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{}-{}", r.start(), r.end())
                }
            })
            .collect();
        line("select only", files.join(","));
    }
    out.push_str("(metadata is fetched from peers when the torrent is added)\n");
    out
}

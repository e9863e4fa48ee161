//! Running the `sluice` binary and reading `sluice info --json`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value as Json;

use crate::process::{assert_success, run_with_timeout, OutputExt};

/// Time limit for one `sluice info`/`sluice create` run.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A `Command` for the `sluice` binary, with `RUST_BACKTRACE=1` so a panic is
/// loud, the DHT off (`SLUICE_DHT=off`) so that no test joins the public DHT
/// (a test of the DHT names its bootstrap node with `--dht-bootstrap`), and
/// `SLUICE_LSD=off` so that no test multicasts announces (least of all off
/// the loopback interface, where a command's default `--listen 0.0.0.0` would
/// send them). A test of local peer discovery removes that variable and names
/// the loopback interface.
pub fn command() -> Command {
    let mut cmd = Command::new(crate::sluice_bin());
    cmd.env("RUST_BACKTRACE", "1");
    cmd.env("SLUICE_DHT", "off");
    cmd.env("SLUICE_LSD", "off");
    cmd
}

/// Run `sluice <args>` with the [`TIMEOUT`]; the output whatever the exit status.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with_timeout(command().args(args), TIMEOUT)
}

/// One file of a torrent as `sluice info --json` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the download directory, `/`-separated (starts with the
    /// torrent's name for a multi-file torrent).
    pub path: String,
    /// Length in bytes.
    pub size: u64,
    /// Offset of its first byte in the torrent's byte stream.
    pub offset: u64,
    /// A BEP 47 padding file.
    pub padding: bool,
}

/// What `sluice info --json` says about a `.torrent`.
#[derive(Debug, Clone)]
pub struct Info {
    /// The `name` field.
    pub name: String,
    /// v1 info-hash, 40 lowercase hex digits.
    pub info_hash: String,
    /// Bytes per piece.
    pub piece_length: u64,
    /// Number of pieces.
    pub piece_count: u64,
    /// Sum of the file lengths (padding included).
    pub total_size: u64,
    /// The `private` flag.
    pub private: bool,
    /// Announce URLs, by tier.
    pub trackers: Vec<Vec<String>>,
    /// Files in torrent order.
    pub files: Vec<FileEntry>,
    /// The whole JSON object, for keys not mapped above.
    pub json: Json,
}

impl Info {
    /// Read the JSON object printed by `sluice info --json`. Panics with the text if
    /// a required key is missing or has the wrong type.
    pub fn from_json(text: &str) -> Info {
        let json: Json = serde_json::from_str(text.trim())
            .unwrap_or_else(|e| panic!("sluice info --json printed invalid JSON ({e}):\n{text}"));
        let field = |key: &str| {
            json.get(key)
                .unwrap_or_else(|| panic!("sluice info --json: no {key:?} in\n{text}"))
        };
        let string = |v: &Json, what: &str| {
            v.as_str()
                .unwrap_or_else(|| panic!("sluice info --json: {what} is not a string: {v}"))
                .to_string()
        };
        let number = |v: &Json, what: &str| {
            v.as_u64()
                .unwrap_or_else(|| panic!("sluice info --json: {what} is not a u64: {v}"))
        };
        let array = |v: &Json, what: &str| -> Vec<Json> {
            v.as_array()
                .unwrap_or_else(|| panic!("sluice info --json: {what} is not an array: {v}"))
                .clone()
        };
        let trackers = array(field("trackers"), "trackers")
            .iter()
            .map(|tier| {
                array(tier, "a tracker tier")
                    .iter()
                    .map(|url| string(url, "a tracker URL"))
                    .collect()
            })
            .collect();
        let files = array(field("files"), "files")
            .iter()
            .map(|f| {
                let get = |key: &str| {
                    f.get(key)
                        .unwrap_or_else(|| panic!("sluice info --json: file without {key:?}: {f}"))
                };
                FileEntry {
                    path: string(get("path"), "files[].path"),
                    size: number(get("size"), "files[].size"),
                    offset: number(get("offset"), "files[].offset"),
                    padding: get("padding")
                        .as_bool()
                        .unwrap_or_else(|| panic!("files[].padding is not a bool: {f}")),
                }
            })
            .collect();
        Info {
            name: string(field("name"), "name"),
            info_hash: string(field("info_hash"), "info_hash"),
            piece_length: number(field("piece_length"), "piece_length"),
            piece_count: number(field("piece_count"), "piece_count"),
            total_size: number(field("total_size"), "total_size"),
            private: field("private")
                .as_bool()
                .unwrap_or_else(|| panic!("sluice info --json: private is not a bool")),
            trackers,
            files,
            json,
        }
    }

    /// The files that are not padding, as (path, size), in torrent order.
    pub fn data_files(&self) -> Vec<(String, u64)> {
        self.files
            .iter()
            .filter(|f| !f.padding)
            .map(|f| (f.path.clone(), f.size))
            .collect()
    }

    /// Check the internal consistency of the listing: offsets are the running sum of
    /// sizes, sizes add up to `total_size`, and the piece count covers it.
    pub fn assert_consistent(&self) {
        let mut offset = 0u64;
        for f in &self.files {
            assert_eq!(
                f.offset, offset,
                "offset of {:?} in {:#?}",
                f.path, self.files
            );
            offset += f.size;
        }
        assert_eq!(offset, self.total_size, "sum of file sizes vs total_size");
        assert!(self.piece_length > 0, "piece_length is 0");
        assert_eq!(
            self.piece_count,
            self.total_size.div_ceil(self.piece_length),
            "piece_count for total {} / piece length {}",
            self.total_size,
            self.piece_length
        );
        assert!(
            self.info_hash.len() == 40
                && self
                    .info_hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "info_hash is not 40 lowercase hex digits: {:?}",
            self.info_hash
        );
    }
}

/// `sluice info --json <torrent>`: must succeed and print one JSON object.
pub fn info_json(torrent: &Path) -> Info {
    let out = run([
        OsStr::new("info"),
        torrent.as_os_str(),
        OsStr::new("--json"),
    ]);
    assert_success(&out, &format!("sluice info --json {}", torrent.display()));
    Info::from_json(&out.stdout_str())
}

/// The 40-hex-digit info-hash on the `info hash: <hex>` line of human `sluice info`
/// output (or any line containing `info hash`).
pub fn info_hash_line(text: &str) -> Option<String> {
    text.lines()
        .filter(|l| l.to_ascii_lowercase().contains("info hash"))
        .find_map(find_hex40)
}

/// The first run of exactly 40 hex digits in `text`, lowercased.
pub fn find_hex40(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_hexdigit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                i += 1;
            }
            if i - start == 40 {
                return Some(text[start..i].to_ascii_lowercase());
            }
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json() {
        let info = Info::from_json(
            r#"{"name":"a","info_hash":"0123456789abcdef0123456789abcdef01234567",
                "piece_length":16384,"piece_count":1,"total_size":5,"private":false,
                "trackers":[["http://x/a"],["http://y/b","http://z/c"]],
                "files":[{"path":"a","size":5,"offset":0,"padding":false}]}"#,
        );
        info.assert_consistent();
        assert_eq!(info.trackers[1].len(), 2);
        assert_eq!(info.data_files(), vec![("a".to_string(), 5)]);
    }

    #[test]
    fn finds_hash() {
        let h = "0123456789abcdef0123456789ABCDEF01234567";
        assert_eq!(
            info_hash_line(&format!("name: x\ninfo hash: {h}\n")),
            Some(h.to_ascii_lowercase())
        );
        assert_eq!(find_hex40("Hash: abc"), None);
    }
}

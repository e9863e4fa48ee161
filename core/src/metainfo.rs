//! `.torrent` files (BitTorrent v1) as typed, validated values.
//!
//! Everything in a `.torrent` is untrusted. Parsing checks the structure, that the
//! piece hashes cover exactly the payload, and that every file path stays inside
//! the download folder: a name or path component that is empty, `.` or `..`, holds
//! a `/`, `\` or NUL, or looks like a drive (`C:`) is refused, so later code can
//! join components onto a folder without further thought.
//!
//! The info-hash is the SHA-1 of the `info` dictionary's exact bytes, kept from the
//! input ([`Info::raw`]), never of a re-encoding.
//!
//! ```
//! use sluice_core::metainfo::Metainfo;
//!
//! let torrent = b"d8:announce30:http://127.0.0.1:6969/announce4:infod6:lengthi5e\
//! 4:name5:a.txt12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAee";
//! let meta = Metainfo::from_bytes(torrent).unwrap();
//! assert_eq!(meta.info.name, "a.txt");
//! assert_eq!(meta.info.total_length, 5);
//! assert_eq!(meta.info.files[0].path, vec!["a.txt".to_string()]);
//! assert_eq!(meta.trackers(), vec![vec!["http://127.0.0.1:6969/announce".to_string()]]);
//! ```

use std::fmt;

use crate::bencode::{self, DecodeError, Dict, Limits, Node};
use crate::id::InfoHash;
use crate::layout::{Layout, LayoutError};

/// Largest piece length accepted. Real torrents stay far below; a reader must be
/// able to hold a piece in memory to verify it.
pub const MAX_PIECE_LENGTH: u32 = 256 << 20;

/// Most files accepted in one torrent.
pub const MAX_FILES: usize = 1 << 20;

/// Largest `.torrent` document accepted, in bytes.
pub const MAX_TORRENT_SIZE: usize = 64 << 20;

/// A parsed `.torrent` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    /// SHA-1 of the exact bytes of the `info` dictionary.
    pub info_hash: InfoHash,
    /// The `info` dictionary: what the payload is.
    pub info: Info,
    /// `announce`: the single tracker of BEP 3.
    pub announce: Option<String>,
    /// `announce-list` (BEP 12): tiers of trackers, empty tiers dropped.
    pub announce_list: Vec<Vec<String>>,
    /// `url-list` (BEP 19): web seeds.
    pub url_list: Vec<String>,
    /// `comment`.
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `creation date`, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
}

/// The `info` dictionary: names, sizes and piece hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Suggested name: the file name (single-file) or the top folder (multi-file).
    pub name: String,
    /// Bytes per piece (the last piece may be shorter).
    pub piece_length: u32,
    /// SHA-1 of each piece.
    pub pieces: Vec<[u8; 20]>,
    /// Files in payload order, with their offsets in the payload.
    pub files: Vec<FileEntry>,
    /// `private` (BEP 27): only the torrent's own trackers may be used.
    pub private: bool,
    /// Sum of all file lengths.
    pub total_length: u64,
    /// True for the `files` form, whose paths sit under a folder named `name`.
    pub multi_file: bool,
    /// The exact bytes of the `info` dictionary (served to peers by ut_metadata).
    pub raw: Vec<u8>,
}

/// One file of the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the download folder, as sanitised components. For a
    /// multi-file torrent the first component is the torrent's name.
    pub path: Vec<String>,
    /// Length in bytes.
    pub length: u64,
    /// Offset of the file's first byte in the payload.
    pub offset: u64,
    /// A BEP 47 padding file: zeros that align the next file; never written.
    pub padding: bool,
    /// BEP 47 `x` attribute.
    pub executable: bool,
    /// BEP 47 `h` attribute.
    pub hidden: bool,
}

impl FileEntry {
    /// The path joined with `/`, for display.
    pub fn display_path(&self) -> String {
        self.path.join("/")
    }
}

/// Why a `.torrent` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetainfoError {
    /// The document is larger than [`MAX_TORRENT_SIZE`].
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// The bytes are not valid bencode.
    Bencode(DecodeError),
    /// A required field is absent.
    Missing {
        /// Where, e.g. `info.piece length`.
        field: String,
    },
    /// A field has the wrong type.
    WrongType {
        /// Where.
        field: String,
        /// The expected type.
        expected: &'static str,
    },
    /// A field has a value outside what is allowed.
    BadValue {
        /// Where.
        field: String,
        /// Why.
        reason: String,
    },
    /// A name or path would leave the download folder or cannot be a file name.
    UnsafePath {
        /// The offending path, as written in the torrent (lossily decoded).
        path: String,
        /// Why it is unsafe.
        reason: &'static str,
    },
    /// `piece length` is zero.
    ZeroPieceLength,
    /// `pieces` does not hold one 20-byte hash per piece of the payload.
    PieceCountMismatch {
        /// Pieces the payload size implies.
        expected: u64,
        /// Hashes present.
        found: u64,
    },
    /// A BitTorrent v2-only torrent (BEP 52), which this version does not read.
    V2Only,
}

impl fmt::Display for MetainfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MetainfoError::*;
        match self {
            TooLarge { size } => write!(
                f,
                "torrent file of {size} bytes is larger than the {MAX_TORRENT_SIZE}-byte limit"
            ),
            Bencode(e) => write!(f, "not a valid torrent file: {e}"),
            Missing { field } => write!(f, "torrent has no '{field}'"),
            WrongType { field, expected } => {
                write!(f, "torrent field '{field}' is not a {expected}")
            }
            BadValue { field, reason } => write!(f, "torrent field '{field}' {reason}"),
            UnsafePath { path, reason } => {
                write!(f, "unsafe path {path:?} in torrent: {reason}")
            }
            ZeroPieceLength => write!(f, "torrent has a piece length of zero"),
            PieceCountMismatch { expected, found } => write!(
                f,
                "torrent's piece hashes do not match its size: {found} pieces given, {expected} expected"
            ),
            V2Only => write!(
                f,
                "BitTorrent v2-only torrents are not supported yet (no v1 'pieces')"
            ),
        }
    }
}

impl std::error::Error for MetainfoError {}

impl From<DecodeError> for MetainfoError {
    fn from(e: DecodeError) -> Self {
        MetainfoError::Bencode(e)
    }
}

impl Metainfo {
    /// Parses and validates a `.torrent` document.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        if bytes.len() > MAX_TORRENT_SIZE {
            return Err(MetainfoError::TooLarge { size: bytes.len() });
        }
        let root = bencode::decode_with(bytes, Limits::default())?;
        let dict = root
            .as_dict()
            .ok_or_else(|| wrong_type("(root)", "dictionary"))?;
        let info_node = dict.get(b"info").ok_or_else(|| missing("info"))?;
        let info = Info::from_node(info_node)?;
        Ok(Metainfo {
            info_hash: InfoHash::of(info_node.raw),
            info,
            announce: opt_string(dict, b"announce"),
            announce_list: announce_list(dict),
            url_list: url_list(dict),
            comment: opt_string_utf8(dict, b"comment"),
            created_by: opt_string_utf8(dict, b"created by"),
            creation_date: dict.get(b"creation date").and_then(Node::as_int),
        })
    }

    /// Builds a torrent around a bare `info` dictionary, such as metadata
    /// fetched with ut_metadata (BEP 9) for a magnet link, with the tracker tiers
    /// known from elsewhere (empty tiers and URLs are dropped). The info-hash is
    /// the SHA-1 of `info` as given; the caller compares it with the one it
    /// expected. Every other field is absent.
    pub fn from_info_bytes(
        info: &[u8],
        tiers: Vec<Vec<String>>,
    ) -> Result<Metainfo, MetainfoError> {
        if info.len() > MAX_TORRENT_SIZE {
            return Err(MetainfoError::TooLarge { size: info.len() });
        }
        let announce_list = tiers
            .into_iter()
            .map(|tier| {
                tier.into_iter()
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|tier| !tier.is_empty())
            .collect();
        Ok(Metainfo {
            info_hash: InfoHash::of(info),
            info: Info::from_bytes(info)?,
            announce: None,
            announce_list,
            url_list: Vec::new(),
            comment: None,
            created_by: None,
            creation_date: None,
        })
    }

    /// Tracker tiers to use: `announce-list` when present (BEP 12 says it then
    /// replaces `announce`), otherwise `announce` as a single tier.
    pub fn trackers(&self) -> Vec<Vec<String>> {
        if !self.announce_list.is_empty() {
            self.announce_list.clone()
        } else {
            self.announce.iter().map(|a| vec![a.clone()]).collect()
        }
    }

    /// The piece/file arithmetic for this torrent's payload.
    pub fn layout(&self) -> Layout {
        self.info.layout()
    }
}

impl Info {
    /// Parses a bare `info` dictionary, as received through ut_metadata once its
    /// SHA-1 has been checked against the info-hash.
    pub fn from_bytes(bytes: &[u8]) -> Result<Info, MetainfoError> {
        let node = bencode::decode_with(bytes, Limits::default())?;
        Info::from_node(&node)
    }

    /// The piece/file arithmetic for this payload.
    pub fn layout(&self) -> Layout {
        let lengths: Vec<u64> = self.files.iter().map(|f| f.length).collect();
        match Layout::new(self.piece_length, &lengths) {
            Ok(layout) => layout,
            // Parsing checked the piece length, the total and the piece count, which
            // is everything `Layout::new` can refuse.
            Err(e) => unreachable!("validated info has an invalid layout: {e}"),
        }
    }

    /// Number of pieces.
    pub fn piece_count(&self) -> u32 {
        // Parsing ensured the count matches the layout, which fits in a u32.
        self.pieces.len() as u32
    }

    fn from_node(node: &Node<'_>) -> Result<Info, MetainfoError> {
        let dict = node
            .as_dict()
            .ok_or_else(|| wrong_type("info", "dictionary"))?;
        let name = dict
            .get(b"name.utf-8")
            .and_then(Node::as_str)
            .map(str::to_owned)
            .map_or_else(|| required_text(dict, b"name", "info.name"), Ok)?;
        check_component(&name, &name)?;

        let piece_length = required_int(dict, b"piece length", "info.piece length")?;
        if piece_length == 0 {
            return Err(MetainfoError::ZeroPieceLength);
        }
        if piece_length < 0 || piece_length > MAX_PIECE_LENGTH as i64 {
            return Err(bad_value(
                "info.piece length",
                format!("is {piece_length}, outside 1..={MAX_PIECE_LENGTH}"),
            ));
        }
        let piece_length = piece_length as u32;

        let pieces = match dict.get(b"pieces") {
            Some(node) => node
                .as_bytes()
                .ok_or_else(|| wrong_type("info.pieces", "byte string"))?,
            None if dict.get(b"file tree").is_some() => return Err(MetainfoError::V2Only),
            None => return Err(missing("info.pieces")),
        };
        if pieces.len() % 20 != 0 {
            return Err(bad_value(
                "info.pieces",
                format!("has {} bytes, not a multiple of 20", pieces.len()),
            ));
        }

        let (files, multi_file) = match (dict.get(b"length"), dict.get(b"files")) {
            (Some(_), Some(_)) => {
                return Err(bad_value("info", "has both 'length' and 'files'".into()))
            }
            (Some(length), None) => {
                let length = length
                    .as_int()
                    .ok_or_else(|| wrong_type("info.length", "integer"))?;
                let length = non_negative(length, "info.length")?;
                let file = file_entry(vec![name.clone()], length, 0, dict)?;
                (vec![file], false)
            }
            (None, Some(files)) => (parse_files(&name, files)?, true),
            (None, None) => return Err(missing("info.length' or 'info.files")),
        };
        let total_length = files.last().map_or(0, |f| f.offset + f.length);
        if total_length == 0 {
            return Err(bad_value("info", "describes an empty payload".into()));
        }
        let expected = total_length.div_ceil(piece_length as u64);
        let found = (pieces.len() / 20) as u64;
        if expected != found {
            return Err(MetainfoError::PieceCountMismatch { expected, found });
        }
        if let Err(e) = Layout::new(piece_length, &[total_length]) {
            return Err(layout_error(e));
        }
        let pieces = pieces
            .chunks_exact(20)
            .map(|c| {
                let mut h = [0u8; 20];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Info {
            name,
            piece_length,
            pieces,
            files,
            private: dict.get(b"private").and_then(Node::as_int) == Some(1),
            total_length,
            multi_file,
            raw: node.raw.to_vec(),
        })
    }
}

fn layout_error(e: LayoutError) -> MetainfoError {
    bad_value("info", format!("has an impossible layout: {e}"))
}

fn parse_files(name: &str, files: &Node<'_>) -> Result<Vec<FileEntry>, MetainfoError> {
    let list = files
        .as_list()
        .ok_or_else(|| wrong_type("info.files", "list"))?;
    if list.is_empty() {
        return Err(bad_value("info.files", "is empty".into()));
    }
    if list.len() > MAX_FILES {
        return Err(bad_value(
            "info.files",
            format!("lists {} files, more than {MAX_FILES}", list.len()),
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    let mut offset: u64 = 0;
    for (i, item) in list.iter().enumerate() {
        let field = |f: &str| format!("info.files[{i}].{f}");
        let dict = item
            .as_dict()
            .ok_or_else(|| wrong_type(&format!("info.files[{i}]"), "dictionary"))?;
        let length = dict
            .get(b"length")
            .ok_or_else(|| missing(&field("length")))?
            .as_int()
            .ok_or_else(|| wrong_type(&field("length"), "integer"))?;
        let length = non_negative(length, &field("length"))?;
        let components = match dict.get(b"path.utf-8").and_then(utf8_path) {
            Some(path) => path,
            None => {
                let path = dict.get(b"path").ok_or_else(|| missing(&field("path")))?;
                text_path(path, &field("path"))?
            }
        };
        let shown = components.join("/");
        if components.is_empty() {
            return Err(MetainfoError::UnsafePath {
                path: shown,
                reason: "the path has no components",
            });
        }
        for c in &components {
            check_component(c, &shown)?;
        }
        let mut path = Vec::with_capacity(components.len() + 1);
        path.push(name.to_owned());
        path.extend(components);
        out.push(file_entry(path, length, offset, dict)?);
        offset = offset.checked_add(length).ok_or_else(|| {
            bad_value(
                "info.files",
                "lengths add up to more than 2^64 bytes".into(),
            )
        })?;
    }
    Ok(out)
}

fn file_entry(
    path: Vec<String>,
    length: u64,
    offset: u64,
    dict: &Dict<'_>,
) -> Result<FileEntry, MetainfoError> {
    let attr = dict.get(b"attr").and_then(Node::as_bytes).unwrap_or(b"");
    let legacy_padding = path
        .last()
        .is_some_and(|n| n.starts_with("_____padding_file_"));
    Ok(FileEntry {
        padding: attr.contains(&b'p') || legacy_padding,
        executable: attr.contains(&b'x'),
        hidden: attr.contains(&b'h'),
        path,
        length,
        offset,
    })
}

/// A `path.utf-8` list when every element is valid UTF-8 text.
fn utf8_path(node: &Node<'_>) -> Option<Vec<String>> {
    node.as_list()?
        .iter()
        .map(|c| c.as_str().map(str::to_owned))
        .collect()
}

/// A `path` list; components that are not UTF-8 are decoded lossily (older
/// torrents used local code pages) — the info-hash is unaffected.
fn text_path(node: &Node<'_>, field: &str) -> Result<Vec<String>, MetainfoError> {
    let list = node.as_list().ok_or_else(|| wrong_type(field, "list"))?;
    list.iter()
        .map(|c| {
            c.as_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .ok_or_else(|| wrong_type(field, "list of byte strings"))
        })
        .collect()
}

/// Refuses a name or path component that could leave the download folder or
/// name something other than a plain file.
fn check_component(component: &str, whole: &str) -> Result<(), MetainfoError> {
    let reason = if component.is_empty() {
        "empty component"
    } else if component == "." || component == ".." {
        "'.' or '..' component"
    } else if component.contains('/') || component.contains('\\') {
        "separator inside a component"
    } else if component.contains('\0') {
        "NUL byte in a component"
    } else if component.len() >= 2
        && component.as_bytes()[1] == b':'
        && component.as_bytes()[0].is_ascii_alphabetic()
    {
        "drive prefix in a component"
    } else {
        return Ok(());
    };
    Err(MetainfoError::UnsafePath {
        path: whole.to_owned(),
        reason,
    })
}

fn required_int(dict: &Dict<'_>, key: &[u8], field: &str) -> Result<i64, MetainfoError> {
    dict.get(key)
        .ok_or_else(|| missing(field))?
        .as_int()
        .ok_or_else(|| wrong_type(field, "integer"))
}

fn required_text(dict: &Dict<'_>, key: &[u8], field: &str) -> Result<String, MetainfoError> {
    let bytes = dict
        .get(key)
        .ok_or_else(|| missing(field))?
        .as_bytes()
        .ok_or_else(|| wrong_type(field, "byte string"))?;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

fn non_negative(value: i64, field: &str) -> Result<u64, MetainfoError> {
    u64::try_from(value).map_err(|_| bad_value(field, format!("is negative ({value})")))
}

/// An optional text field; lossily decoded, absent when of the wrong type.
fn opt_string(dict: &Dict<'_>, key: &[u8]) -> Option<String> {
    dict.get(key)
        .and_then(Node::as_bytes)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .filter(|s| !s.is_empty())
}

/// `comment` and `created by` prefer their `.utf-8` variants when present.
fn opt_string_utf8(dict: &Dict<'_>, key: &[u8]) -> Option<String> {
    let mut utf8_key = key.to_vec();
    utf8_key.extend_from_slice(b".utf-8");
    dict.get(&utf8_key)
        .and_then(Node::as_str)
        .map(str::to_owned)
        .or_else(|| opt_string(dict, key))
}

/// `announce-list`: malformed entries are skipped rather than fatal, as the
/// payload is still well described without them.
fn announce_list(dict: &Dict<'_>) -> Vec<Vec<String>> {
    let Some(tiers) = dict.get(b"announce-list").and_then(Node::as_list) else {
        return Vec::new();
    };
    tiers
        .iter()
        .filter_map(Node::as_list)
        .map(|tier| {
            tier.iter()
                .filter_map(Node::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|tier| !tier.is_empty())
        .collect()
}

/// `url-list` may be a single string or a list of strings (BEP 19).
fn url_list(dict: &Dict<'_>) -> Vec<String> {
    match dict.get(b"url-list") {
        Some(node) => match (node.as_str(), node.as_list()) {
            (Some(s), _) if !s.is_empty() => vec![s.to_owned()],
            (_, Some(list)) => list
                .iter()
                .filter_map(Node::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    }
}

fn missing(field: &str) -> MetainfoError {
    MetainfoError::Missing {
        field: field.to_owned(),
    }
}

fn wrong_type(field: &str, expected: &'static str) -> MetainfoError {
    MetainfoError::WrongType {
        field: field.to_owned(),
        expected,
    }
}

fn bad_value(field: &str, reason: String) -> MetainfoError {
    MetainfoError::BadValue {
        field: field.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bencode::OwnedValue as V;

    fn list(items: Vec<V>) -> V {
        V::List(items)
    }

    fn path(parts: &[&str]) -> V {
        list(parts.iter().map(|p| V::from(*p)).collect())
    }

    fn file(length: i64, parts: &[&str]) -> V {
        let mut f = V::dict();
        f.insert("length", V::Integer(length));
        f.insert("path", path(parts));
        f
    }

    fn multi(files: Vec<V>, piece_length: i64, pieces: usize) -> V {
        let mut info = V::dict();
        info.insert("name", V::from("top"));
        info.insert("piece length", V::Integer(piece_length));
        info.insert("pieces", V::Bytes(vec![7; pieces * 20]));
        info.insert("files", list(files));
        let mut root = V::dict();
        root.insert("info", info);
        root
    }

    fn parse(v: &V) -> Result<Metainfo, MetainfoError> {
        Metainfo::from_bytes(&v.to_bytes())
    }

    #[test]
    fn multi_file_offsets_and_paths() {
        let mut pad = file(3, &[".pad", "3"]);
        pad.insert("attr", V::from("p"));
        let t = multi(
            vec![
                file(10, &["a", "b.txt"]),
                pad,
                file(0, &["empty"]),
                file(20, &["c"]),
            ],
            16,
            3,
        );
        let m = parse(&t).unwrap();
        assert!(m.info.multi_file);
        assert_eq!(m.info.total_length, 33);
        let files = &m.info.files;
        assert_eq!(files[0].path, ["top", "a", "b.txt"]);
        assert_eq!((files[1].offset, files[1].padding), (10, true));
        assert_eq!((files[2].offset, files[2].length), (13, 0));
        assert_eq!(files[3].offset, 13);
        assert_eq!(m.layout().piece_count(), 3);
    }

    #[test]
    fn info_hash_uses_the_exact_bytes() {
        // Unsorted keys inside info: canonical re-encoding would change the hash.
        let info = b"d4:name1:x6:lengthi1e12:piece lengthi1e6:pieces20:AAAAAAAAAAAAAAAAAAAAe";
        let mut doc = b"d4:info".to_vec();
        doc.extend_from_slice(info);
        doc.push(b'e');
        let m = Metainfo::from_bytes(&doc).unwrap();
        assert_eq!(m.info_hash, InfoHash::of(info));
        assert_eq!(m.info.raw, info.to_vec());
    }

    #[test]
    fn utf8_variants_win() {
        let mut f = file(4, &["latin"]);
        f.insert("path.utf-8", path(&["été", "ü.txt"]));
        let mut t = multi(vec![f], 4, 1);
        if let V::Dict(root) = &mut t {
            let info = root.get_mut(&b"info"[..]).unwrap();
            info.insert("name.utf-8", V::from("naïve"));
        }
        let m = parse(&t).unwrap();
        assert_eq!(m.info.name, "naïve");
        assert_eq!(m.info.files[0].path, ["naïve", "été", "ü.txt"]);
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for parts in [
            &["..", "x"][..],
            &["a", "..", "x"],
            &["/etc/passwd"],
            &["a/b"],
            &["a\\b"],
            &[""],
            &["a", ""],
            &["nul\0x"],
            &["."],
            &["C:", "x"],
            &[],
        ] {
            let t = multi(vec![file(1, parts)], 1, 1);
            let err = parse(&t).unwrap_err();
            assert!(
                matches!(err, MetainfoError::UnsafePath { .. }),
                "{parts:?} gave {err}"
            );
        }
        for name in ["..", "", "a/b", "/abs"] {
            let mut info = V::dict();
            info.insert("name", V::from(name));
            info.insert("length", V::Integer(1));
            info.insert("piece length", V::Integer(1));
            info.insert("pieces", V::Bytes(vec![0; 20]));
            let mut root = V::dict();
            root.insert("info", info);
            assert!(matches!(
                parse(&root),
                Err(MetainfoError::UnsafePath { .. })
            ));
        }
    }

    #[test]
    fn sizes_and_piece_counts_are_checked() {
        assert_eq!(
            parse(&multi(vec![file(10, &["a"])], 0, 1)).unwrap_err(),
            MetainfoError::ZeroPieceLength
        );
        assert!(matches!(
            parse(&multi(vec![file(10, &["a"])], -5, 1)).unwrap_err(),
            MetainfoError::BadValue { .. }
        ));
        assert_eq!(
            parse(&multi(vec![file(10, &["a"])], 4, 2)).unwrap_err(),
            MetainfoError::PieceCountMismatch {
                expected: 3,
                found: 2
            }
        );
        assert!(matches!(
            parse(&multi(vec![file(-1, &["a"])], 4, 1)).unwrap_err(),
            MetainfoError::BadValue { .. }
        ));
        let huge = multi(
            vec![
                file(i64::MAX, &["a"]),
                file(i64::MAX, &["b"]),
                file(4, &["c"]),
            ],
            1 << 20,
            1,
        );
        assert!(matches!(
            parse(&huge).unwrap_err(),
            MetainfoError::BadValue { .. }
        ));
        assert!(matches!(
            parse(&multi(vec![file(0, &["a"])], 4, 0)).unwrap_err(),
            MetainfoError::BadValue { .. }
        ));
    }

    #[test]
    fn structure_errors_name_the_field() {
        let err = Metainfo::from_bytes(b"d4:infod4:name1:xee").unwrap_err();
        assert_eq!(err.to_string(), "torrent has no 'info.piece length'");
        let err = Metainfo::from_bytes(b"li1ee").unwrap_err();
        assert!(err.to_string().contains("(root)"));
        let err = Metainfo::from_bytes(b"d4:info").unwrap_err();
        assert!(matches!(err, MetainfoError::Bencode(_)));
        let v2 = b"d4:infod9:file treede4:name1:x12:piece lengthi16384eee";
        assert_eq!(Metainfo::from_bytes(v2).unwrap_err(), MetainfoError::V2Only);
    }

    #[test]
    fn trackers_and_optional_fields() {
        let mut t = multi(vec![file(4, &["a"])], 4, 1);
        t.insert("announce", V::from("http://a/announce"));
        t.insert(
            "announce-list",
            list(vec![
                path(&["http://b/announce", "udp://c:80"]),
                list(vec![]),
                list(vec![V::Integer(3)]),
                path(&["http://d/announce"]),
            ]),
        );
        t.insert("url-list", V::from("http://seed/"));
        t.insert("comment", V::from("hello"));
        t.insert("created by", V::from("test"));
        t.insert("creation date", V::Integer(1_700_000_000));
        let m = parse(&t).unwrap();
        assert_eq!(
            m.trackers(),
            vec![
                vec!["http://b/announce".to_string(), "udp://c:80".to_string()],
                vec!["http://d/announce".to_string()]
            ]
        );
        assert_eq!(m.url_list, ["http://seed/"]);
        assert_eq!(m.comment.as_deref(), Some("hello"));
        assert_eq!(m.created_by.as_deref(), Some("test"));
        assert_eq!(m.creation_date, Some(1_700_000_000));
    }

    #[test]
    fn from_info_bytes_matches_the_torrent_it_came_from() {
        let mut t = multi(vec![file(4, &["a"]), file(3, &["b"])], 4, 2);
        t.insert("announce", V::from("http://a/announce"));
        let bytes = t.to_bytes();
        let whole = Metainfo::from_bytes(&bytes).unwrap();
        let tiers = vec![vec!["udp://t:1".to_string(), String::new()], vec![]];
        let m = Metainfo::from_info_bytes(&whole.info.raw, tiers).unwrap();
        assert_eq!(m.info_hash, whole.info_hash);
        assert_eq!(m.info, whole.info);
        assert_eq!(m.trackers(), vec![vec!["udp://t:1".to_string()]]);
        assert!(m.announce.is_none() && m.comment.is_none());
        assert!(Metainfo::from_info_bytes(b"d4:name1:xe", Vec::new()).is_err());
        assert!(Metainfo::from_info_bytes(b"le", Vec::new()).is_err());
    }
}

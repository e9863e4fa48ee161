//! Building `.torrent` files: the pure half of `sluice create`.
//!
//! The driver walks the file system and reads the bytes; this module decides the
//! piece length, hashes the payload as it streams past ([`PieceHasher`], or
//! [`hash_piece`] for drivers that hash pieces on several threads), and encodes the
//! document ([`TorrentBuilder`]). Output is deterministic: files are sorted by
//! path and nothing time-dependent is added unless the caller passes a date.
//!
//! ```
//! use sluice_core::create::{PieceHasher, TorrentBuilder};
//! use sluice_core::metainfo::Metainfo;
//!
//! let data = vec![42u8; 40_000];
//! let mut builder = TorrentBuilder::single_file("answer.bin", data.len() as u64);
//! builder.piece_length(16 * 1024).tracker("http://127.0.0.1:6969/announce");
//! let mut hasher = PieceHasher::new(builder.chosen_piece_length());
//! hasher.update(&data);
//! let bytes = builder.build(&hasher.finish()).unwrap();
//! let meta = Metainfo::from_bytes(&bytes).unwrap();
//! assert_eq!(meta.info.piece_count(), 3);
//! ```

use std::fmt;

use crate::bencode::OwnedValue;
use crate::metainfo::{Metainfo, MetainfoError};

/// Smallest piece length chosen automatically (one block).
pub const MIN_AUTO_PIECE_LENGTH: u32 = 16 << 10;
/// Largest piece length chosen automatically.
pub const MAX_AUTO_PIECE_LENGTH: u32 = 16 << 20;

/// The power-of-two piece length that gives between 1000 and 2000 pieces,
/// clamped to 16 KiB..=16 MiB: enough pieces for peers to trade, few enough that
/// the `.torrent` stays small.
///
/// ```
/// use sluice_core::create::auto_piece_length;
/// assert_eq!(auto_piece_length(1 << 30), 1 << 20); // 1 GiB → 1 MiB pieces, 1024 of them
/// assert_eq!(auto_piece_length(1000), 16 << 10); // small payloads: one block
/// ```
pub fn auto_piece_length(total: u64) -> u32 {
    let target = total.div_ceil(2000).max(1);
    let length = target
        .checked_next_power_of_two()
        .unwrap_or(MAX_AUTO_PIECE_LENGTH as u64);
    length.clamp(MIN_AUTO_PIECE_LENGTH as u64, MAX_AUTO_PIECE_LENGTH as u64) as u32
}

/// SHA-1 of one piece.
pub fn hash_piece(piece: &[u8]) -> [u8; 20] {
    sha1_smol::Sha1::from(piece).digest().bytes()
}

/// Hashes a payload fed in arbitrary chunks into one SHA-1 per piece.
#[derive(Clone)]
pub struct PieceHasher {
    piece_length: u64,
    in_piece: u64,
    current: sha1_smol::Sha1,
    hashes: Vec<[u8; 20]>,
}

impl PieceHasher {
    /// A hasher for pieces of `piece_length` bytes.
    ///
    /// # Panics
    /// If `piece_length` is zero: the caller chooses it, never a peer.
    pub fn new(piece_length: u32) -> Self {
        assert!(piece_length > 0, "piece length must be positive");
        PieceHasher {
            piece_length: piece_length as u64,
            in_piece: 0,
            current: sha1_smol::Sha1::new(),
            hashes: Vec::new(),
        }
    }

    /// Feeds the next bytes of the payload.
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = (self.piece_length - self.in_piece).min(bytes.len() as u64) as usize;
            self.current.update(&bytes[..room]);
            self.in_piece += room as u64;
            bytes = &bytes[room..];
            if self.in_piece == self.piece_length {
                self.hashes.push(self.current.digest().bytes());
                self.current.reset();
                self.in_piece = 0;
            }
        }
    }

    /// Pieces completed so far.
    pub fn pieces_done(&self) -> usize {
        self.hashes.len()
    }

    /// The hash of every piece, the last (short) one included.
    pub fn finish(mut self) -> Vec<[u8; 20]> {
        if self.in_piece > 0 {
            self.hashes.push(self.current.digest().bytes());
        }
        self.hashes
    }
}

/// Why a torrent could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateError {
    /// No files, or only empty ones.
    EmptyPayload,
    /// The number of hashes given does not match the payload.
    PieceCount {
        /// Pieces the payload needs.
        expected: u64,
        /// Hashes given.
        given: usize,
    },
    /// The result would not parse back (an unsafe name, for instance).
    Invalid(MetainfoError),
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateError::EmptyPayload => write!(f, "nothing to share: the payload is empty"),
            CreateError::PieceCount { expected, given } => {
                write!(
                    f,
                    "{given} piece hashes given, the payload needs {expected}"
                )
            }
            CreateError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CreateError {}

/// Describes a torrent to build; see the [module docs](self) for an example.
#[derive(Debug, Clone)]
pub struct TorrentBuilder {
    name: String,
    /// `None` for a single-file torrent, else (path below the name, length).
    files: Option<Vec<(Vec<String>, u64)>>,
    single_length: u64,
    piece_length: Option<u32>,
    trackers: Vec<Vec<String>>,
    web_seeds: Vec<String>,
    private: bool,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
}

impl TorrentBuilder {
    /// A torrent of one file.
    pub fn single_file(name: &str, length: u64) -> Self {
        Self::new(name, None, length)
    }

    /// A torrent of a folder: `files` are paths below the folder with their
    /// lengths, in any order (they are sorted by path components).
    pub fn multi_file(name: &str, mut files: Vec<(Vec<String>, u64)>) -> Self {
        files.sort();
        Self::new(name, Some(files), 0)
    }

    fn new(name: &str, files: Option<Vec<(Vec<String>, u64)>>, single_length: u64) -> Self {
        TorrentBuilder {
            name: name.to_owned(),
            files,
            single_length,
            piece_length: None,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            private: false,
            comment: None,
            created_by: Some(concat!("sluice/", env!("CARGO_PKG_VERSION")).to_owned()),
            creation_date: None,
        }
    }

    /// Sets the piece length instead of [`auto_piece_length`].
    pub fn piece_length(&mut self, length: u32) -> &mut Self {
        self.piece_length = Some(length);
        self
    }

    /// Adds a tracker in a tier of its own (BEP 12 tiers are tried in order).
    pub fn tracker(&mut self, url: &str) -> &mut Self {
        self.trackers.push(vec![url.to_owned()]);
        self
    }

    /// Adds a web seed (`url-list`, BEP 19).
    pub fn web_seed(&mut self, url: &str) -> &mut Self {
        self.web_seeds.push(url.to_owned());
        self
    }

    /// Marks the torrent private (BEP 27).
    pub fn private(&mut self, private: bool) -> &mut Self {
        self.private = private;
        self
    }

    /// Sets the comment.
    pub fn comment(&mut self, comment: &str) -> &mut Self {
        self.comment = Some(comment.to_owned());
        self
    }

    /// Sets `created by` (defaults to `sluice/<version>`; `None` removes it).
    pub fn created_by(&mut self, created_by: Option<&str>) -> &mut Self {
        self.created_by = created_by.map(str::to_owned);
        self
    }

    /// Sets `creation date` (seconds since the Unix epoch); absent by default so
    /// that the same input always gives the same bytes.
    pub fn creation_date(&mut self, date: Option<i64>) -> &mut Self {
        self.creation_date = date;
        self
    }

    /// Total payload length.
    pub fn total_length(&self) -> u64 {
        match &self.files {
            None => self.single_length,
            Some(files) => files.iter().map(|(_, len)| *len).sum(),
        }
    }

    /// The piece length the torrent will have.
    pub fn chosen_piece_length(&self) -> u32 {
        self.piece_length
            .unwrap_or_else(|| auto_piece_length(self.total_length()))
    }

    /// The files in payload order (paths below the torrent name) with lengths;
    /// the order in which the driver must feed their bytes to the hasher.
    pub fn payload_files(&self) -> Vec<(Vec<String>, u64)> {
        match &self.files {
            None => vec![(Vec::new(), self.single_length)],
            Some(files) => files.clone(),
        }
    }

    /// Encodes the torrent with the given piece hashes, then parses the result
    /// back so that nothing is returned that sluice itself would refuse.
    pub fn build(&self, pieces: &[[u8; 20]]) -> Result<Vec<u8>, CreateError> {
        let total = self.total_length();
        if total == 0 {
            return Err(CreateError::EmptyPayload);
        }
        let expected = total.div_ceil(self.chosen_piece_length() as u64);
        if expected != pieces.len() as u64 {
            return Err(CreateError::PieceCount {
                expected,
                given: pieces.len(),
            });
        }
        let bytes = self.encode(pieces);
        Metainfo::from_bytes(&bytes).map_err(CreateError::Invalid)?;
        Ok(bytes)
    }

    fn encode(&self, pieces: &[[u8; 20]]) -> Vec<u8> {
        let mut info = OwnedValue::dict();
        info.insert("name", OwnedValue::from(self.name.as_str()));
        info.insert(
            "piece length",
            OwnedValue::Integer(self.chosen_piece_length() as i64),
        );
        info.insert("pieces", OwnedValue::Bytes(pieces.concat()));
        if self.private {
            info.insert("private", OwnedValue::Integer(1));
        }
        match &self.files {
            None => info.insert("length", int(self.single_length)),
            Some(files) => {
                let list = files
                    .iter()
                    .map(|(path, len)| {
                        let mut f = OwnedValue::dict();
                        f.insert("length", int(*len));
                        let parts = path.iter().map(|p| OwnedValue::from(p.as_str()));
                        f.insert("path", OwnedValue::List(parts.collect()));
                        f
                    })
                    .collect();
                info.insert("files", OwnedValue::List(list));
            }
        }

        let mut root = OwnedValue::dict();
        root.insert("info", info);
        if let Some(first) = self.trackers.first().and_then(|t| t.first()) {
            root.insert("announce", OwnedValue::from(first.as_str()));
        }
        if self.trackers.len() > 1 {
            let tiers = self.trackers.iter().map(|tier| {
                OwnedValue::List(tier.iter().map(|u| OwnedValue::from(u.as_str())).collect())
            });
            root.insert("announce-list", OwnedValue::List(tiers.collect()));
        }
        if !self.web_seeds.is_empty() {
            let seeds = self.web_seeds.iter().map(|u| OwnedValue::from(u.as_str()));
            root.insert("url-list", OwnedValue::List(seeds.collect()));
        }
        if let Some(comment) = &self.comment {
            root.insert("comment", OwnedValue::from(comment.as_str()));
        }
        if let Some(created_by) = &self.created_by {
            root.insert("created by", OwnedValue::from(created_by.as_str()));
        }
        if let Some(date) = self.creation_date {
            root.insert("creation date", OwnedValue::Integer(date));
        }
        root.to_bytes()
    }
}

/// Lengths above `i64::MAX` cannot be written in bencode; payloads that large do
/// not exist on any file system, so saturate rather than fail.
fn int(value: u64) -> OwnedValue {
    OwnedValue::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn auto_piece_length_aims_at_1000_to_2000_pieces() {
        for total in [
            64u64 << 20,
            100 << 20,
            1 << 30,
            3 << 30,
            5_000_000_000,
            20 << 30,
        ] {
            let len = auto_piece_length(total) as u64;
            let count = total.div_ceil(len);
            assert!((1000..=2000).contains(&count), "{total}: {count} pieces");
            assert!(len.is_power_of_two());
        }
        assert_eq!(auto_piece_length(0), MIN_AUTO_PIECE_LENGTH);
        assert_eq!(auto_piece_length(u64::MAX), MAX_AUTO_PIECE_LENGTH);
    }

    #[test]
    fn multi_file_build_round_trips_sorted() {
        let files = vec![
            (vec!["z.txt".to_string()], 5),
            (vec!["a".to_string(), "b.txt".to_string()], 7),
        ];
        let mut b = TorrentBuilder::multi_file("dir", files);
        b.piece_length(4)
            .tracker("http://t1/announce")
            .tracker("udp://t2:1")
            .private(true)
            .comment("c");
        let hashes = vec![[1u8; 20]; 3];
        let meta = Metainfo::from_bytes(&b.build(&hashes).unwrap()).unwrap();
        assert_eq!(meta.info.files[0].path, ["dir", "a", "b.txt"]);
        assert_eq!(meta.info.files[1].path, ["dir", "z.txt"]);
        assert!(meta.info.private);
        assert_eq!(meta.announce.as_deref(), Some("http://t1/announce"));
        assert_eq!(meta.trackers().len(), 2);
        assert_eq!(meta.comment.as_deref(), Some("c"));
        assert_eq!(
            b.build(&hashes[..2]),
            Err(CreateError::PieceCount {
                expected: 3,
                given: 2
            })
        );
    }

    #[test]
    fn unsafe_names_are_not_built() {
        let b = TorrentBuilder::single_file("..", 3);
        assert!(matches!(b.build(&[[0; 20]]), Err(CreateError::Invalid(_))));
        let empty = TorrentBuilder::single_file("x", 0);
        assert_eq!(empty.build(&[]), Err(CreateError::EmptyPayload));
    }

    proptest! {
        #[test]
        fn hasher_matches_piecewise_hashing(
            data in proptest::collection::vec(any::<u8>(), 1..5000),
            piece_length in 1u32..700,
            chunks in proptest::collection::vec(1usize..300, 1..40),
        ) {
            let mut hasher = PieceHasher::new(piece_length);
            let mut rest = &data[..];
            for c in chunks.iter().cycle() {
                if rest.is_empty() { break; }
                let n = (*c).min(rest.len());
                hasher.update(&rest[..n]);
                rest = &rest[n..];
            }
            let expected: Vec<_> = data.chunks(piece_length as usize).map(hash_piece).collect();
            prop_assert_eq!(hasher.finish(), expected);
        }
    }
}

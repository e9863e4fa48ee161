//! Scrape responses: per-torrent swarm counts.

use std::collections::BTreeMap;

use core::time::Duration;

use super::announce::{check_failure, check_status, count, decode_body};
use super::{HttpResponse, HttpTrackerError, MAX_INTERVAL, MAX_SCRAPE_FILES};
use crate::bencode::Node;
use crate::id::InfoHash;

/// The swarm counts of one torrent. Missing or negative counts are 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScrapeStats {
    /// Seeders (`complete`).
    pub complete: u32,
    /// Completed downloads ever reported (`downloaded`).
    pub downloaded: u32,
    /// Leechers (`incomplete`).
    pub incomplete: u32,
}

/// A scrape response: the `files` dictionary, keyed by info-hash.
///
/// ```
/// use sluice_core::tracker::http::{ScrapeResponse, ScrapeStats};
/// use sluice_core::InfoHash;
///
/// let mut body = b"d5:filesd20:".to_vec();
/// body.extend_from_slice(&[7; 20]);
/// body.extend_from_slice(b"d8:completei2e10:downloadedi9e10:incompletei4eeee");
/// let r = ScrapeResponse::parse(&body).unwrap();
/// assert_eq!(
///     r.files[&InfoHash([7; 20])],
///     ScrapeStats { complete: 2, downloaded: 9, incomplete: 4 }
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrapeResponse {
    /// Counts per torrent, at most [`MAX_SCRAPE_FILES`] of them.
    pub files: BTreeMap<InfoHash, ScrapeStats>,
    /// `flags` → `min_request_interval`: how long to wait before scraping
    /// again, capped at [`MAX_INTERVAL`].
    pub min_request_interval: Option<Duration>,
    /// Entries left out: a key that is not 20 bytes, a value that is not a
    /// dictionary, or beyond [`MAX_SCRAPE_FILES`].
    pub skipped: usize,
}

impl ScrapeResponse {
    /// Parses a bencoded scrape response body. A `failure reason` makes it
    /// [`HttpTrackerError::Failure`]; a missing or mistyped `files` is
    /// [`HttpTrackerError::BadField`].
    pub fn parse(body: &[u8]) -> Result<ScrapeResponse, HttpTrackerError> {
        let root = decode_body(body)?;
        let dict = root.as_dict().ok_or(HttpTrackerError::NotADictionary)?;
        check_failure(dict)?;
        let files =
            dict.get(b"files")
                .and_then(Node::as_dict)
                .ok_or(HttpTrackerError::BadField {
                    key: "files",
                    expected: "a dictionary",
                })?;
        let mut response = ScrapeResponse {
            min_request_interval: dict
                .get(b"flags")
                .and_then(Node::as_dict)
                .and_then(|flags| flags.get(b"min_request_interval"))
                .and_then(Node::as_int)
                .map(|s| Duration::from_secs(s.clamp(0, MAX_INTERVAL.as_secs() as i64) as u64)),
            ..ScrapeResponse::default()
        };
        for (key, value) in files.iter() {
            let hash = <[u8; 20]>::try_from(key).ok().map(InfoHash);
            match (hash, value.as_dict()) {
                (Some(hash), Some(stats)) if response.files.len() < MAX_SCRAPE_FILES => {
                    let stats = ScrapeStats {
                        complete: count(stats, b"complete").unwrap_or(0),
                        downloaded: count(stats, b"downloaded").unwrap_or(0),
                        incomplete: count(stats, b"incomplete").unwrap_or(0),
                    };
                    response.files.insert(hash, stats);
                }
                _ => response.skipped += 1,
            }
        }
        Ok(response)
    }

    /// Checks the HTTP status as [`AnnounceResponse::from_http`] does, then
    /// parses the body.
    ///
    /// [`AnnounceResponse::from_http`]: super::AnnounceResponse::from_http
    pub fn from_http(response: &HttpResponse) -> Result<ScrapeResponse, HttpTrackerError> {
        check_status(response)?;
        ScrapeResponse::parse(&response.body)
    }
}

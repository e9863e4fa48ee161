//! Independent references: other programs' view of a `.torrent`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::process::{assert_success, run_with_timeout, OutputExt};

/// What `transmission-show FILE.torrent` prints about a torrent.
#[derive(Debug, Clone)]
pub struct TransmissionShow {
    /// The `Hash:` line, lowercase hex.
    pub hash: String,
    /// The `Piece Count:` line.
    pub piece_count: Option<u64>,
    /// `Privacy: Private torrent`.
    pub private: bool,
    /// File paths of the FILES section (sizes are printed rounded, so not kept).
    pub files: Vec<String>,
    /// Announce URLs of the TRACKERS section, by tier.
    pub trackers: Vec<Vec<String>>,
    /// Everything it printed.
    pub text: String,
}

/// Run `transmission-show` (`tool`) on `torrent` and parse its output.
pub fn transmission_show(tool: &Path, torrent: &Path) -> TransmissionShow {
    let out = run_with_timeout(Command::new(tool).arg(torrent), Duration::from_secs(60));
    assert_success(&out, &format!("transmission-show {}", torrent.display()));
    parse_transmission_show(&out.stdout_str())
}

/// Parse `transmission-show` output (transmission 3.00 format).
pub fn parse_transmission_show(text: &str) -> TransmissionShow {
    let mut hash = None;
    let mut piece_count = None;
    let mut private = false;
    let mut files = Vec::new();
    let mut trackers: Vec<Vec<String>> = Vec::new();
    let mut section = "";
    for line in text.lines() {
        let trimmed = line.trim();
        if !line.starts_with(' ') && !trimmed.is_empty() {
            section = trimmed;
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        match section {
            "GENERAL" => {
                if let Some(v) = trimmed.strip_prefix("Hash: ") {
                    hash = Some(v.trim().to_ascii_lowercase());
                } else if let Some(v) = trimmed.strip_prefix("Piece Count: ") {
                    piece_count = v.trim().parse().ok();
                } else if let Some(v) = trimmed.strip_prefix("Privacy: ") {
                    private = v.trim().starts_with("Private");
                }
            }
            "TRACKERS" => {
                if trimmed.starts_with("Tier #") {
                    trackers.push(Vec::new());
                } else if let Some(tier) = trackers.last_mut() {
                    tier.push(trimmed.to_string());
                }
            }
            "FILES" => {
                // "  path/to/file (12.34 kB)"; the file name itself may contain " (".
                let path = match line.rfind(" (") {
                    Some(i) if line.ends_with(')') => &line[..i],
                    _ => line,
                };
                files.push(path.trim_start().to_string());
            }
            _ => {}
        }
    }
    TransmissionShow {
        hash: hash
            .unwrap_or_else(|| panic!("no `Hash:` line in transmission-show output:\n{text}")),
        piece_count,
        private,
        files,
        trackers,
        text: text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let text = "Name: d\nFile: x.torrent\n\nGENERAL\n\n  Name: d\n  \
            Hash: 352DA16436407113150a590ada4643174da60174\n  Piece Count: 2\n  \
            Privacy: Private torrent\n\nTRACKERS\n\n  Tier #1\n  http://a/1\n\n  \
            Tier #2\n  http://b/2\n\nFILES\n\n  d/empty (0.00 kB)\n  d/x (y).bin (100.0 kB)\n\n";
        let t = parse_transmission_show(text);
        assert_eq!(t.hash, "352da16436407113150a590ada4643174da60174");
        assert_eq!(t.piece_count, Some(2));
        assert!(t.private);
        assert_eq!(t.trackers, vec![vec!["http://a/1"], vec!["http://b/2"]]);
        assert_eq!(t.files, vec!["d/empty", "d/x (y).bin"]);
    }
}

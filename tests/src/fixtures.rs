//! Payload trees shared by the interop tests.

use std::path::Path;

use crate::payload::write_payload;

/// Relative paths and sizes of [`write_tree`]'s files: nested several levels deep,
/// non-ASCII names (accents, spaces, Japanese), and a zero-length file.
pub const TREE: &[(&str, u64)] = &[
    ("dossier/été/naïve café.txt", 70_001),
    ("dossier/été/vide.txt", 0),
    ("dossier/a/b/c/d/profond.bin", 40_000),
    ("日本語/ファイル.bin", 200_003),
    ("日本語/サブ/小さい.txt", 17),
    ("with space/x (1).dat", 65_536),
    ("readme.txt", 1_234),
];

/// Write [`TREE`] under `root` (created) with pseudo-random contents derived from
/// `seed`. Returns `(relative path, size)` sorted by path.
pub fn write_tree(root: &Path, seed: u64) -> Vec<(String, u64)> {
    std::fs::create_dir_all(root).unwrap_or_else(|e| panic!("create {}: {e}", root.display()));
    let mut files = Vec::new();
    for (i, (rel, size)) in TREE.iter().enumerate() {
        write_payload(&root.join(rel), *size, seed.wrapping_add(i as u64));
        files.push((rel.to_string(), *size));
    }
    files.sort();
    files
}

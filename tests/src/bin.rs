//! Locating the `sluice` binary.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The root of the cargo workspace (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// Path to the `sluice` binary built by the same cargo invocation as the running test.
///
/// A test executable lives in `target/<profile>/deps/`; the binary is
/// `target/<profile>/sluice`. `SLUICE_BIN` overrides the lookup.
///
/// Panics with instructions when the binary has not been built: `cargo test
/// --workspace` always builds it, but `cargo test -p sluice-tests` does not (run
/// `cargo build -p sluice-mio` first). Prints a warning when the binary looks older
/// than the sources it is built from.
pub fn sluice_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("SLUICE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test executable has a directory");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().expect("deps/ has a parent");
    }
    let bin = dir.join(format!("sluice{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        panic!(
            "the `sluice` binary is not built at {}: run `cargo build -p sluice-mio` \
             (with the same profile) before `cargo test -p sluice-tests`, or run \
             `cargo test --workspace`, which builds it",
            bin.display()
        );
    }
    warn_if_stale(&bin);
    bin
}

/// Warn (once per process) when a source file of sluice-core or sluice-mio is newer
/// than the binary: `cargo test -p sluice-tests` does not rebuild it.
fn warn_if_stale(bin: &Path) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(built) = bin.metadata().and_then(|m| m.modified()) else {
            return;
        };
        let root = workspace_root();
        let newest = ["core/src", "driver-mio/src"]
            .iter()
            .filter_map(|d| newest_mtime(&root.join(d)))
            .max();
        if newest.is_some_and(|t| t > built) {
            eprintln!(
                "warning: {} is older than the sources of sluice-core/sluice-mio; \
                 run `cargo build -p sluice-mio` to test the current code",
                bin.display()
            );
        }
    });
}

fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(t);
    }
    newest
}

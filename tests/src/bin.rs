//! Locating (and, when needed, building) the `sluice` binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The root of the cargo workspace (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// Path to an up-to-date `sluice` binary for the running test.
///
/// `SLUICE_BIN` overrides everything. Otherwise the binary is
/// `target/<profile>/sluice`, next to the test executable's `deps/` folder.
///
/// Cargo does not build another package's binaries for `cargo test`, so on a fresh
/// checkout `cargo test --workspace` would find none, and after an edit
/// `cargo test -p sluice-tests` would find a stale one. So the first call in each
/// test process runs `cargo build -p sluice-mio --bin sluice` with the cargo that
/// runs the tests (`$CARGO`) and the same profile: a no-op when the binary is
/// fresh. Cargo releases its build lock before it runs test executables, so the
/// nested build does not wait on its parent. When `$CARGO` is unset (a test
/// executable started by hand) the binary already on disk is used.
pub fn sluice_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(locate_or_build).clone()
}

fn locate_or_build() -> PathBuf {
    if let Some(path) = std::env::var_os("SLUICE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test executable has a directory");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().expect("deps/ has a parent");
    }
    let bin = dir.join(format!("sluice{}", std::env::consts::EXE_SUFFIX));
    if let Some(cargo) = std::env::var_os("CARGO") {
        build(Path::new(&cargo), dir);
    }
    assert!(
        bin.is_file(),
        "the `sluice` binary is not at {}: run `cargo build -p sluice-mio` with the \
         tests' profile, or set SLUICE_BIN",
        bin.display()
    );
    bin
}

/// Builds the binary into the profile folder `profile_dir` (`target/debug`,
/// `target/release`, ...) that the test executable itself was built into.
fn build(cargo: &Path, profile_dir: &Path) {
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "sluice-mio", "--bin", "sluice"])
        .current_dir(workspace_root());
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    if let Some(target) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run {} to build sluice: {e}", cargo.display()));
    assert!(status.success(), "building the sluice binary failed");
}

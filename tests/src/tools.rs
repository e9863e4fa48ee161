//! Finding external tools, and skipping tests that need a missing one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The Debian python, the one that can `import libtorrent` (another python on the
/// PATH may not).
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// Whether a missing interop tool must fail the test: `SLUICE_REQUIRE_INTEROP=1`
/// (CI sets it, after installing the tools).
pub fn interop_required() -> bool {
    std::env::var("SLUICE_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// Find the program `name` on the PATH.
///
/// The name `python3-libtorrent` is special: it checks that [`SYSTEM_PYTHON`] can
/// `import libtorrent` and returns the path of that python.
///
/// When the tool is missing, panics if [`interop_required`]; otherwise prints
/// `skipping: <tool> not installed (<reason>)` to stderr and returns `None`, so a
/// test reads `let Some(tool) = require_tool("mktorrent") else { return };`.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    if name == "python3-libtorrent" {
        return require_python_libtorrent();
    }
    match find_on_path(name) {
        Some(path) => Some(path),
        None => missing(name, "not found on PATH"),
    }
}

/// Check that [`SYSTEM_PYTHON`] exists and can `import libtorrent`; returns its path.
/// Skips or fails like [`require_tool`].
pub fn require_python_libtorrent() -> Option<PathBuf> {
    let tool = "python3-libtorrent";
    let python = Path::new(SYSTEM_PYTHON);
    if !python.is_file() {
        return missing(tool, &format!("{SYSTEM_PYTHON} does not exist"));
    }
    let output = crate::process::try_run_with_timeout(
        Command::new(python).args(["-c", "import libtorrent"]),
        Duration::from_secs(30),
    );
    match output {
        Ok(out) if out.status.success() => Some(python.to_path_buf()),
        Ok(out) => missing(
            tool,
            &format!(
                "`{SYSTEM_PYTHON} -c 'import libtorrent'` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
        Err(e) => missing(tool, &format!("could not run {SYSTEM_PYTHON}: {e}")),
    }
}

fn missing<T>(tool: &str, reason: &str) -> Option<T> {
    if interop_required() {
        panic!("{tool} not installed ({reason}) and SLUICE_REQUIRE_INTEROP=1");
    }
    eprintln!("skipping: {tool} not installed ({reason})");
    None
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

//! The core must stay pure: no sockets, files, threads, clocks or async runtimes,
//! and a short dependency list. This test keeps that true by machine rather than
//! by memory.

use std::path::{Path, PathBuf};

/// Text that must not appear in core sources, and why.
const FORBIDDEN: &[(&str, &str)] = &[
    (
        "std::net",
        "sockets belong to the drivers (core::net types are fine)",
    ),
    ("std::fs", "files belong to the drivers"),
    ("std::thread", "the core never spawns or sleeps"),
    ("std::process", "the core never runs programs"),
    ("std::env", "configuration comes in as arguments"),
    ("Instant::now", "time comes in as an argument"),
    ("SystemTime::now", "time comes in as an argument"),
    ("tokio", "no async runtime"),
    ("async_std", "no async runtime"),
    ("smol::", "no async runtime"),
    ("futures::", "no async runtime"),
    ("async fn", "the core is synchronous"),
    ("getrandom", "randomness comes from a seed"),
    ("thread_rng", "randomness comes from a seed"),
    ("unsafe {", "#![forbid(unsafe_code)] says it all"),
    ("unsafe fn", "#![forbid(unsafe_code)] says it all"),
    ("unsafe impl", "#![forbid(unsafe_code)] says it all"),
];

/// Dependencies the core may have, each with the reason it is worth having.
const ALLOWED_DEPENDENCIES: &[(&str, &str)] = &[
    ("nom", "parser combinators for bencode and other codecs"),
    ("sha1_smol", "piece and info-hash SHA-1, pure Rust, no I/O"),
    ("bit-vec", "piece bitfields"),
    (
        "slab",
        "handles for peers and streams inside state machines",
    ),
];

/// The line with comments and the contents of string literals blanked, so
/// that prose such as "unsafe path" is not mistaken for code.
fn code_of(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => {
                in_string = !in_string;
                out.push('"');
            }
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            _ if in_string => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// True when `needle` occurs in `code` not as the tail of a longer identifier
/// (`sha1_smol::` is not `smol::`).
fn mentions(code: &str, needle: &str) -> bool {
    code.match_indices(needle).any(|(at, _)| {
        code[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn core_sources_do_no_io() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 3, "found the core sources");
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (line_no, line) in text.lines().enumerate() {
            let code = code_of(line);
            for (needle, why) in FORBIDDEN {
                if mentions(&code, needle) {
                    offences.push(format!(
                        "{}:{}: `{needle}` ({why})",
                        file.display(),
                        line_no + 1
                    ));
                }
            }
        }
    }
    assert!(offences.is_empty(), "impure core:\n{}", offences.join("\n"));
}

#[test]
fn the_checker_sees_through_prose_and_longer_names() {
    assert!(mentions(&code_of("use std::net::TcpStream;"), "std::net"));
    assert!(!mentions(
        &code_of("let x = \"std::net\"; // std::fs"),
        "std::net"
    ));
    assert!(!mentions(&code_of("// std::fs"), "std::fs"));
    assert!(!mentions(&code_of("sha1_smol::Sha1::new()"), "smol::"));
    assert!(mentions(&code_of("smol::spawn(f)"), "smol::"));
}

#[test]
fn core_forbids_unsafe() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    assert!(lib.contains("#![forbid(unsafe_code)]"));
}

#[test]
fn core_dependencies_are_allow_listed() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let mut section = String::new();
    let mut unexpected = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        // Only what ships with the core counts; dev-dependencies are for tests.
        let counts = section == "dependencies"
            || section.starts_with("target.") && section.ends_with(".dependencies");
        if !counts || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("").trim();
        if !ALLOWED_DEPENDENCIES
            .iter()
            .any(|(allowed, _)| *allowed == name)
        {
            unexpected.push(name.to_string());
        }
    }
    assert!(
        unexpected.is_empty(),
        "sluice-core gained dependencies {unexpected:?}; justify them in ALLOWED_DEPENDENCIES"
    );
}

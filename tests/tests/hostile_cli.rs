//! Hostile `.torrent` files and arguments given to `sluice info`: every one must end
//! in a single `error: ...` line on stderr and exit code 1, never a panic.
//!
//! Each test runs all its cases and reports every failing case at once.

use std::ffi::OsStr;
use std::process::Output;

use sluice_tests::bencode::{
    bytes, dict, dict_unsorted, info_hash_hex, int, list, multi_file_info, raw, single_file_info,
    torrent, Value,
};
use sluice_tests::sluice;
use sluice_tests::{OutputExt, Rng, TempDir};

/// Words that name a malformed-input problem in general.
const GENERIC: &[&str] = &[
    "bencode",
    "torrent",
    "invalid",
    "parse",
    "expected",
    "unexpected",
    "malformed",
    "decode",
    "dict",
];

/// Why `out` is not a clean failure naming one of `keywords` (case-insensitive), if
/// it is not.
///
/// `arg` (the file or URI given to sluice) is removed from the message before looking
/// for the keywords, so an echoed file name cannot satisfy them.
fn clean_failure(out: &Output, arg: &OsStr, keywords: &[&str]) -> Option<String> {
    let stderr = out.stderr_str();
    let mut problems = Vec::new();
    if out.status.code() != Some(1) {
        problems.push(format!("{} (want exit status 1)", out.status));
    }
    if stderr.contains("panicked")
        || stderr.contains("RUST_BACKTRACE")
        || stderr.contains("stack backtrace")
    {
        problems.push("panicked".to_string());
    }
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    if lines.len() != 1 {
        problems.push(format!("{} stderr lines (want 1)", lines.len()));
    }
    if !stderr.starts_with("error: ") {
        problems.push("stderr does not start with `error: `".to_string());
    }
    let lower = stderr
        .replace(arg.to_string_lossy().as_ref(), "<arg>")
        .to_lowercase();
    if !keywords.is_empty() && !keywords.iter().any(|k| lower.contains(k)) {
        problems.push(format!("message mentions none of {keywords:?}"));
    }
    if problems.is_empty() {
        None
    } else {
        Some(format!("{}\n{}", problems.join("; "), out.dump()))
    }
}

/// Run `sluice info <arg>` and `sluice info <arg> --json`; collect failures.
fn expect_error(failures: &mut Vec<String>, case: &str, arg: &OsStr, keywords: &[&str]) {
    for json in [false, true] {
        let mut args = vec![OsStr::new("info"), arg];
        if json {
            args.push(OsStr::new("--json"));
        }
        let out = sluice::run(&args);
        if let Some(why) = clean_failure(&out, arg, keywords) {
            failures.push(format!(
                "[{case}] sluice info{}: {why}",
                if json { " --json" } else { "" }
            ));
        }
    }
}

/// Write each case to `<dir>/c<N>.torrent` (neutral names: an echoed file name must
/// not match a keyword; `<dir>/cases.txt` maps them to the case names) and expect a
/// clean error.
fn run_cases(dir: &TempDir, cases: Vec<(&str, Vec<u8>, &[&str])>) -> Vec<String> {
    let mut failures = Vec::new();
    let mut index = String::new();
    for (n, (case, content, keywords)) in cases.into_iter().enumerate() {
        let path = dir.join(format!("c{n}.torrent"));
        std::fs::write(&path, &content).unwrap();
        index.push_str(&format!("c{n}.torrent\t{case}\n"));
        expect_error(
            &mut failures,
            &format!("{case} = c{n}.torrent"),
            path.as_os_str(),
            keywords,
        );
    }
    std::fs::write(dir.join("cases.txt"), index).unwrap();
    failures
}

fn report(dir: TempDir, failures: Vec<String>) {
    if !failures.is_empty() {
        let kept = dir.keep();
        panic!(
            "{} failing case(s); the .torrent files are in {}\n\n{}",
            failures.len(),
            kept.display(),
            failures.join("\n\n")
        );
    }
}

/// A multi-file torrent whose only file has the path components `path`.
fn with_path(path: &[&[u8]]) -> Vec<u8> {
    let file = dict([
        ("length", int(1000)),
        ("path", list(path.iter().map(bytes))),
    ]);
    torrent(with_files(vec![file], 1000)).encode()
}

/// A multi-file info dictionary with these file entries and a matching `pieces`.
fn with_files(files: Vec<Value>, total: u64) -> Value {
    dict([
        ("files", list(files)),
        ("name", bytes("top")),
        ("piece length", int(16384)),
        (
            "pieces",
            sluice_tests::bencode::fake_pieces(total.div_ceil(16384) as usize),
        ),
    ])
}

/// A single-file torrent named `name`.
fn with_name(name: &[u8]) -> Vec<u8> {
    let mut info = single_file_info("x", 1000, 16384);
    info.set("name", bytes(name));
    torrent(info).encode()
}

#[test]
fn accepts_hand_built_torrents() {
    // Controls: the writer makes torrents sluice accepts, so the failures below are
    // about what each case changes.
    let dir = TempDir::new("hostile");
    let info = single_file_info("ok.bin", 100_000, 16384);
    let path = dir.join("single.torrent");
    std::fs::write(&path, torrent(info.clone()).encode()).unwrap();
    let got = sluice::info_json(&path);
    got.assert_consistent();
    assert_eq!(got.info_hash, info_hash_hex(&info));
    assert_eq!(got.data_files(), vec![("ok.bin".to_string(), 100_000)]);

    let info = multi_file_info(
        "top",
        &[
            (&["a", "b", "c.txt"], 5000),
            (&["é", "日本"], 0),
            (&["d"], 40_000),
        ],
        32768,
    );
    let path = dir.join("multi.torrent");
    std::fs::write(&path, torrent(info.clone()).encode()).unwrap();
    let got = sluice::info_json(&path);
    got.assert_consistent();
    assert_eq!(got.info_hash, info_hash_hex(&info));
    assert_eq!(
        got.data_files(),
        vec![
            ("top/a/b/c.txt".to_string(), 5000),
            ("top/é/日本".to_string(), 0),
            ("top/d".to_string(), 40_000)
        ]
    );
}

#[test]
fn path_traversal_and_unsafe_names() {
    let dir = TempDir::new("hostile");
    let path: &[&str] = &["path"];
    let name: &[&str] = &["name", "path"];
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("dotdot-component", with_path(&[b"..", b"evil.txt"]), path),
        (
            "dotdot-deep",
            with_path(&[b"a", b"..", b"..", b"..", b"etc", b"passwd"]),
            path,
        ),
        ("dotdot-last", with_path(&[b"a", b".."]), path),
        ("absolute-component", with_path(&[b"/etc/passwd"]), path),
        ("absolute-first", with_path(&[b"/etc", b"passwd"]), path),
        ("empty-component", with_path(&[b"", b"x"]), path),
        ("empty-last-component", with_path(&[b"x", b""]), path),
        ("slash-inside", with_path(&[b"a/b"]), path),
        ("slash-dotdot-inside", with_path(&[b"../../x"]), path),
        ("backslash-inside", with_path(&[b"a\\b"]), path),
        ("backslash-dotdot", with_path(&[b"..\\..\\x"]), path),
        ("nul-in-component", with_path(&[b"evil\0.txt"]), path),
        ("empty-path-list", with_path(&[]), path),
        (
            "missing-path",
            torrent(with_files(vec![dict([("length", int(10))])], 10)).encode(),
            path,
        ),
        (
            "path-not-a-list",
            torrent(with_files(
                vec![dict([("length", int(10)), ("path", bytes("x"))])],
                10,
            ))
            .encode(),
            path,
        ),
        ("name-dotdot", with_name(b".."), name),
        ("name-absolute", with_name(b"/etc/passwd"), name),
        ("name-empty", with_name(b""), name),
        ("name-slash", with_name(b"a/b"), name),
        ("name-backslash", with_name(b"..\\..\\x"), name),
        ("name-nul", with_name(b"x\0y"), name),
        (
            "multi-name-dotdot",
            {
                let mut info = multi_file_info("x", &[(&["a"], 10)], 16384);
                info.set("name", bytes(".."));
                torrent(info).encode()
            },
            name,
        ),
    ];
    let failures = run_cases(&dir, cases);
    report(dir, failures);
}

#[test]
fn absurd_sizes_and_pieces() {
    let dir = TempDir::new("hostile");
    let size: &[&str] = &[
        "length", "size", "negative", "overflow", "large", "range", "integer",
    ];
    let piece: &[&str] = &["piece"];
    let single = |f: &dyn Fn(&mut Value)| {
        let mut info = single_file_info("x", 100_000, 16384);
        f(&mut info);
        torrent(info).encode()
    };
    let huge = i64::MAX;
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "negative-length",
            single(&|i| {
                i.set("length", int(-1));
            }),
            size,
        ),
        (
            "negative-file-length",
            {
                let files = vec![
                    dict([("length", int(100)), ("path", list([bytes("a")]))]),
                    dict([("length", int(-50)), ("path", list([bytes("b")]))]),
                ];
                torrent(with_files(files, 50)).encode()
            },
            size,
        ),
        (
            "total-overflows",
            {
                let files = (0..3)
                    .map(|i| {
                        dict([
                            ("length", int(huge)),
                            ("path", list([bytes(format!("f{i}"))])),
                        ])
                    })
                    .collect();
                let mut info = with_files(files, 16384);
                info.set("pieces", sluice_tests::bencode::fake_pieces(1));
                torrent(info).encode()
            },
            &[
                "length", "size", "overflow", "large", "total", "piece", "range",
            ],
        ),
        (
            "length-i64-max",
            single(&|i| {
                i.set("length", int(huge));
            }),
            &["piece", "length", "size", "large"],
        ),
        (
            "length-beyond-i64",
            single(&|i| {
                i.set("length", raw("i99999999999999999999999e"));
            }),
            size,
        ),
        (
            "length-not-integer",
            single(&|i| {
                i.set("length", bytes("100000"));
            }),
            &["length", "integer", "expected", "type"],
        ),
        (
            "pieces-one-short",
            single(&|i| {
                i.set("pieces", sluice_tests::bencode::fake_pieces(6));
            }),
            piece,
        ),
        (
            "pieces-one-extra",
            single(&|i| {
                i.set("pieces", sluice_tests::bencode::fake_pieces(8));
            }),
            piece,
        ),
        (
            "pieces-not-multiple-of-20",
            single(&|i| {
                i.set("pieces", bytes([7u8; 7 * 20 + 3]));
            }),
            piece,
        ),
        (
            "pieces-missing",
            single(&|i| {
                i.remove("pieces");
            }),
            piece,
        ),
        (
            "pieces-empty",
            single(&|i| {
                i.set("pieces", bytes(""));
            }),
            piece,
        ),
        (
            "piece-length-zero",
            single(&|i| {
                i.set("piece length", int(0));
            }),
            piece,
        ),
        (
            "piece-length-negative",
            single(&|i| {
                i.set("piece length", int(-16384));
            }),
            piece,
        ),
        (
            "piece-length-missing",
            single(&|i| {
                i.remove("piece length");
            }),
            piece,
        ),
        (
            "piece-length-beyond-i64",
            single(&|i| {
                i.set(
                    "piece length",
                    raw("i340282366920938463463374607431768211456e"),
                );
            }),
            &["piece", "integer", "overflow", "range", "large", "number"],
        ),
    ];
    let failures = run_cases(&dir, cases);
    report(dir, failures);
}

#[test]
fn broken_structure() {
    let dir = TempDir::new("hostile");
    let valid = torrent(multi_file_info(
        "top",
        &[(&["a", "b"], 50_000), (&["c"], 1)],
        16384,
    ))
    .encode();
    let deep = 100_000;
    let nest = |open: &str, close: &str| -> Vec<u8> {
        let mut v = open.repeat(deep).into_bytes();
        v.extend(close.repeat(deep).into_bytes());
        v
    };
    let mut in_info = b"d4:info".to_vec();
    in_info.extend(nest("l", "e"));
    in_info.push(b'e');
    let mut random = Rng::new(99).bytes(4096);
    random[0] = b'd'; // starts like a dictionary, then garbage
    let generic = GENERIC;
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "truncated-half",
            valid[..valid.len() / 2].to_vec(),
            &[
                "truncat",
                "end",
                "eof",
                "incomplete",
                "unexpected",
                "bencode",
                "short",
                "invalid",
                "parse",
            ],
        ),
        (
            "truncated-last-byte",
            valid[..valid.len() - 1].to_vec(),
            &[
                "truncat",
                "end",
                "eof",
                "incomplete",
                "unexpected",
                "bencode",
                "short",
                "invalid",
                "parse",
            ],
        ),
        (
            "deep-lists",
            nest("l", "e"),
            &["depth", "nest", "deep", "limit", "recurs"],
        ),
        (
            "deep-lists-unclosed",
            "l".repeat(deep).into_bytes(),
            &["depth", "nest", "deep", "limit", "recurs"],
        ),
        (
            "deep-dicts",
            {
                let mut v = "d1:a".repeat(deep).into_bytes();
                v.extend(b"i0e");
                v.extend("e".repeat(deep).into_bytes());
                v
            },
            &["depth", "nest", "deep", "limit", "recurs"],
        ),
        (
            "deep-in-info",
            in_info,
            &["depth", "nest", "deep", "limit", "recurs"],
        ),
        (
            "plain-text",
            b"This is not a torrent file, just some text.\n".repeat(20),
            generic,
        ),
        ("random-bytes", random, generic),
        (
            "empty-file",
            Vec::new(),
            &[
                "empty",
                "end",
                "eof",
                "truncat",
                "bencode",
                "torrent",
                "invalid",
                "unexpected",
            ],
        ),
        (
            "string-length-overflow",
            b"d4:info99999999999999999999999:xe".to_vec(),
            &[
                "length",
                "large",
                "overflow",
                "bencode",
                "invalid",
                "unexpected",
                "truncat",
                "end",
            ],
        ),
        (
            "string-longer-than-file",
            b"d4:info100000:abce".to_vec(),
            &[
                "truncat",
                "end",
                "eof",
                "incomplete",
                "unexpected",
                "bencode",
                "short",
                "invalid",
                "length",
            ],
        ),
        ("top-level-list", list([int(1)]).encode(), generic),
        (
            "info-missing",
            dict([("announce", bytes("http://127.0.0.1:1/"))]).encode(),
            &["info"],
        ),
        (
            "info-not-dict",
            dict([("info", list([int(1)]))]).encode(),
            &["info", "dict"],
        ),
        (
            "name-missing",
            {
                let mut info = single_file_info("x", 1000, 16384);
                info.remove("name");
                torrent(info).encode()
            },
            &["name"],
        ),
        (
            "no-length-no-files",
            {
                let mut info = single_file_info("x", 1000, 16384);
                info.remove("length");
                torrent(info).encode()
            },
            &["length", "files"],
        ),
        (
            "files-not-list",
            {
                let mut info = multi_file_info("x", &[(&["a"], 10)], 16384);
                info.set("files", int(3));
                torrent(info).encode()
            },
            &["files", "list", "expected"],
        ),
        (
            "files-entry-not-dict",
            {
                let mut info = multi_file_info("x", &[(&["a"], 10)], 16384);
                info.set("files", list([bytes("a")]));
                torrent(info).encode()
            },
            &["file", "dict", "expected"],
        ),
    ];
    let failures = run_cases(&dir, cases);
    report(dir, failures);
}

#[test]
fn bad_arguments() {
    let dir = TempDir::new("hostile");
    let mut failures = Vec::new();
    expect_error(
        &mut failures,
        "nonexistent",
        OsStr::new("/nonexistent/sluice-test.torrent"),
        &[
            "no such",
            "not found",
            "nonexistent",
            "exist",
            "open",
            "read",
        ],
    );
    expect_error(
        &mut failures,
        "directory",
        dir.path().as_os_str(),
        &["directory", "read", "open", "is a dir"],
    );
    let magnet: &[&str] = &["magnet", "btih", "hash", "xt"];
    for (case, uri) in [
        ("magnet-bad-hex", "magnet:?xt=urn:btih:zzzz"),
        ("magnet-short-hash", "magnet:?xt=urn:btih:0123456789abcdef"),
        ("magnet-no-xt", "magnet:?dn=nothing"),
        (
            "magnet-other-urn",
            "magnet:?xt=urn:sha1:0123456789abcdef0123456789abcdef01234567",
        ),
    ] {
        expect_error(&mut failures, case, OsStr::new(uri), magnet);
    }
    // Usage errors: exit code 2, no panic.
    for args in [vec!["info"], vec!["info", "a", "b", "--no-such-flag"]] {
        let out = sluice::run(&args);
        let stderr = out.stderr_str();
        if out.status.code() != Some(2) || stderr.contains("panicked") {
            failures.push(format!(
                "[usage {args:?}] want exit 2 without panic\n{}",
                out.dump()
            ));
        }
    }
    report(dir, failures);
}

/// Inputs some decoders accept and others reject: whichever sluice does, it must not
/// panic, and a rejection is one clean `error:` line.
#[test]
fn borderline_inputs_do_not_panic() {
    let dir = TempDir::new("hostile");
    let info = single_file_info("x", 1000, 16384);
    let mut trailing = torrent(info.clone()).encode();
    trailing.extend(b"garbage");
    let unsorted = dict_unsorted([
        ("info", info.clone()),
        ("announce", bytes("http://127.0.0.1:1/")),
    ])
    .encode();
    let mut duplicate = b"d8:announce3:abc8:announce3:def4:info".to_vec();
    duplicate.extend(info.encode());
    duplicate.push(b'e');
    let leading_zero = replace_once(&torrent(info.clone()).encode(), b"i1000e", b"i01000e");
    let minus_zero = replace_once(&torrent(info.clone()).encode(), b"i1000e", b"i-0e");
    let mut dot = multi_file_info("x", &[(&[".", "a"], 10)], 16384);
    dot.set("private", int(1));
    let mut failures = Vec::new();
    for (case, content) in [
        ("trailing-garbage", trailing),
        ("unsorted-keys", unsorted),
        ("duplicate-keys", duplicate),
        ("leading-zero-int", leading_zero),
        ("minus-zero-int", minus_zero),
        ("dot-component", torrent(dot).encode()),
    ] {
        let path = dir.join(format!("{case}.torrent"));
        std::fs::write(&path, content).unwrap();
        let out = sluice::run([OsStr::new("info"), path.as_os_str()]);
        if out.status.success() {
            continue;
        }
        if let Some(why) = clean_failure(&out, path.as_os_str(), &[]) {
            failures.push(format!("[{case}] {why}"));
        }
    }
    report(dir, failures);
}

/// `hay` with the first occurrence of `from` replaced by `to`.
fn replace_once(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = hay
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    [&hay[..at], to, &hay[at + from.len()..]].concat()
}

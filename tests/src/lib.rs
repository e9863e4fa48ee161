//! Shared helpers for sluice's integration tests.
//!
//! The interop tests run the `sluice` binary and real BitTorrent tools from Debian
//! packages (mktorrent, transmission-cli, python3-libtorrent, aria2, opentracker) on
//! 127.0.0.1 only. This library gives them:
//!
//! * [`sluice_bin`]: an up-to-date `sluice` binary (built on first use);
//! * [`require_tool`]: find an external program, or skip the test when it is missing
//!   (fail instead when `SLUICE_REQUIRE_INTEROP=1`, as CI sets);
//! * [`TempDir`]: a unique scratch directory removed on drop (kept when the test
//!   panics, so the files that reproduce a failure survive);
//! * [`ChildGuard`] and [`run_with_timeout`]: every external program is bounded in
//!   time and stopped by its own handle, never by name;
//! * [`Rng`] and [`write_payload`]: deterministic pseudo-random test data;
//! * [`bencode`]: a tiny bencode writer to build (hostile) `.torrent` files by hand;
//! * [`sluice`]: run `sluice info --json` and read its output into a typed value;
//! * [`reference`](mod@reference): other programs' view of a torrent (`transmission-show`);
//! * [`fixtures`]: a nested payload tree with non-ASCII names;
//! * [`peers`] and [`interop`]: real peers on loopback and the interop scenarios that
//!   play them against either sluice driver in-process.

pub mod bencode;
mod bin;
pub mod conformance;
pub mod fixtures;
pub mod interop;
mod payload;
pub mod peers;
mod process;
pub mod reference;
pub mod sim;
pub mod sluice;
pub mod sluice_proc;
mod tempdir;
mod tools;
pub mod trackers;

pub use bin::{sluice_bin, workspace_root};
pub use payload::{write_payload, Rng};
pub use process::{
    assert_success, describe, run_with_timeout, try_run_with_timeout, ChildGuard, OutputExt,
    RunError,
};
pub use tempdir::TempDir;
pub use tools::{interop_required, require_python_libtorrent, require_tool, SYSTEM_PYTHON};

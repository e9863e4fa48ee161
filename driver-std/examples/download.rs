//! Downloads a torrent from given peers and exits when it is complete.
//!
//! cargo run -p sluice-std --example download -- <file.torrent> -o DIR [--peer ADDR]...

use sluice_std as driver;

include!("shared/download.rs");

//! Downloads a torrent from given peers and exits when it is complete: the
//! sluice-std example, word for word, on the mio driver.
//!
//! cargo run -p sluice-mio --example mio_download -- <file.torrent> -o DIR [--peer ADDR]...

use sluice_mio as driver;

include!("../../driver-std/examples/shared/download.rs");

//! `sluice`: a streaming BitTorrent client on the command line.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::install_panic_hook();
    cli::main()
}

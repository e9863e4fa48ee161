//! Verifies a torrent's data and seeds it until killed.
//!
//! cargo run -p sluice-std --example seed -- <file.torrent> <data-dir> [--listen ADDR]

use std::process::ExitCode;
use std::time::Duration;

use sluice_std::{Client, ClientOptions};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: seed <file.torrent> <data-dir> [--listen ADDR]";
    let (torrent, data) = match (args.first(), args.get(1)) {
        (Some(t), Some(d)) => (t, d),
        _ => return Err(usage.into()),
    };
    let mut opts = ClientOptions::new(data);
    match args.get(2).map(String::as_str) {
        Some("--listen") => opts.listen = args.get(3).ok_or(usage)?.parse()?,
        Some(other) => return Err(format!("unexpected argument {other:?}").into()),
        None => {}
    }
    let client = Client::start(opts)?;
    let t = client.add_torrent_file(torrent)?;
    let (have, total) = t.progress();
    if have < total {
        return Err(
            format!("only {have} of {total} pieces are present and valid in {data}").into(),
        );
    }
    println!("seeding {} on {}", t.name(), client.local_addr());
    loop {
        std::thread::sleep(Duration::from_secs(10));
        let s = t.stats()?;
        println!("{} peers, {} KiB uploaded", s.peers, s.uploaded / 1024);
    }
}

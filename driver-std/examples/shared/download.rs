// The body of both drivers' download examples: they have the same API, so the
// example is written once. The including file names the driver `driver`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

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
    let mut args = std::env::args().skip(1);
    let (mut torrent, mut out, mut peers) = (None, String::from("."), Vec::<SocketAddr>::new());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-o" => out = args.next().ok_or("-o needs a folder")?,
            "--peer" => peers.push(args.next().ok_or("--peer needs an address")?.parse()?),
            _ if torrent.is_none() => torrent = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}").into()),
        }
    }
    let torrent = torrent.ok_or("usage: download <file.torrent> -o DIR [--peer ADDR]...")?;

    let mut opts = driver::ClientOptions::new(out);
    opts.listen = "0.0.0.0:0".parse()?;
    let client = driver::Client::start(opts)?;
    let t = client.add_torrent_file(&torrent)?;
    t.add_peers(peers);
    println!("downloading {} ({} files)", t.name(), t.files().len());
    loop {
        match t.wait_complete(Some(Duration::from_secs(1))) {
            Ok(()) => break,
            Err(driver::Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                let s = t.stats()?;
                let (have, total) = t.progress();
                println!(
                    "{have}/{total} pieces, {} KiB/s down, {} KiB/s up, {} peers",
                    s.download_rate / 1024,
                    s.upload_rate / 1024,
                    s.peers
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!("complete: {}", t.name());
    client.shutdown()?;
    Ok(())
}

//! `sluice create`: make a .torrent from a file or folder.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use sluice_mio::create::{create_torrent, CreateOptions};

use super::{format, CliError};

/// Payloads smaller than this hash too fast for a progress bar to help.
const PROGRESS_THRESHOLD: u64 = 64 << 20;

/// Arguments of `sluice create`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file or folder to share.
    path: PathBuf,
    /// Tracker announce URL (repeat for more; each becomes its own tier).
    #[arg(short = 't', long = "tracker", value_name = "URL")]
    trackers: Vec<String>,
    /// Web seed URL (BEP 19; repeatable).
    #[arg(short = 'w', long = "web-seed", value_name = "URL")]
    web_seeds: Vec<String>,
    /// Piece length in bytes (a power of two from 16 KiB); chosen automatically
    /// to give 1000-2000 pieces when omitted.
    #[arg(long, value_name = "BYTES", value_parser = parse_piece_length)]
    piece_length: Option<u32>,
    /// Mark the torrent private (BEP 27): trackers only, no DHT or PEX.
    #[arg(long)]
    private: bool,
    /// A comment stored in the torrent.
    #[arg(long, value_name = "TEXT")]
    comment: Option<String>,
    /// Store the current time as the creation date (omitted by default so the
    /// same input always gives the same file).
    #[arg(long)]
    date: bool,
    /// Where to write the torrent [default: NAME.torrent].
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// Overwrite OUT if it exists.
    #[arg(short = 'f', long)]
    force: bool,
    /// Hashing threads [default: one per core].
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
}

/// Accepts `262144`, `256K`, `256KiB`, `4M`, `4MiB`.
fn parse_piece_length(text: &str) -> Result<u32, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, multiplier) = match lower.trim_end_matches("ib").trim_end_matches('b') {
        s if s.ends_with('k') => (&s[..s.len() - 1], 1u64 << 10),
        s if s.ends_with('m') => (&s[..s.len() - 1], 1u64 << 20),
        s => (s, 1),
    };
    let value = digits
        .parse::<u64>()
        .ok()
        .and_then(|v| v.checked_mul(multiplier))
        .ok_or_else(|| format!("'{text}' is not a size"))?;
    if !(16 << 10..=256 << 20).contains(&value) || !value.is_power_of_two() {
        return Err(format!(
            "piece length must be a power of two from 16 KiB to 256 MiB, not {value}"
        ));
    }
    Ok(value as u32)
}

/// Hashes the payload, writes the torrent, and prints its info-hash and the
/// hashing throughput.
pub fn run(args: Args) -> Result<(), CliError> {
    let mut opts = CreateOptions::new(&args.path);
    opts.trackers = args.trackers;
    opts.web_seeds = args.web_seeds;
    opts.piece_length = args.piece_length;
    opts.private = args.private;
    opts.comment = args.comment;
    opts.threads = args.threads;
    if args.date {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        opts.creation_date = Some(now);
    }

    let show_bar = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let made = create_torrent(&opts, &mut |done, total| {
        if !show_bar || total < PROGRESS_THRESHOLD {
            return;
        }
        let bar = bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "hashing [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("the template is valid")
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        bar.set_position(done);
    })
    .map_err(|e| CliError::new(e.to_string()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let info = &made.meta.info;
    let output = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{}.torrent", info.name)));
    write_output(&output, &made.bytes, args.force)?;

    let seconds = made.hashing_time.as_secs_f64();
    println!("created {}", output.display());
    println!("info hash: {}", made.meta.info_hash.to_hex());
    println!(
        "{} in {} files, {} pieces of {}",
        format::bytes(info.total_length),
        info.files.len(),
        info.piece_count(),
        format::bytes(info.piece_length as u64)
    );
    println!(
        "hashed {} in {seconds:.2} s ({})",
        format::bytes(info.total_length),
        format::rate(info.total_length, seconds)
    );
    Ok(())
}

fn write_output(path: &PathBuf, bytes: &[u8], force: bool) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::new(format!(
                "{}: already exists (use --force to overwrite)",
                path.display()
            ))
        } else {
            CliError::new(format!("{}: {e}", path.display()))
        }
    })?;
    std::io::Write::write_all(&mut file, bytes)
        .map_err(|e| CliError::new(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::parse_piece_length;

    #[test]
    fn piece_length_spellings() {
        assert_eq!(parse_piece_length("262144"), Ok(262144));
        assert_eq!(parse_piece_length("256K"), Ok(262144));
        assert_eq!(parse_piece_length("256KiB"), Ok(262144));
        assert_eq!(parse_piece_length("4m"), Ok(4 << 20));
        assert!(parse_piece_length("1000").is_err());
        assert!(parse_piece_length("8K").is_err());
        assert!(parse_piece_length("x").is_err());
    }
}

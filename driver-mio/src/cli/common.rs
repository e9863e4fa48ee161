//! What the commands that talk to peers share: their network arguments,
//! starting the client, loading the torrent, choosing a file.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use sluice_core::magnet::MagnetLink;
use sluice_core::metainfo::Metainfo;
use sluice_mio::magnet;
use sluice_mio::{Client, ClientOptions, Event, LsdOptions, TorrentHandle};
use sluice_std::dht::DhtOptions;

use super::info::load_torrent;
use super::progress::Progress;
use super::{format, CliError};

/// The environment variable that switches local peer discovery off when set
/// to `off` (or `0`, `no`, `false`), as `--no-lsd` does: for test harnesses
/// and scripts that start many commands.
pub const LSD_ENV: &str = "SLUICE_LSD";

/// `--peer`, `--listen`, `--no-lsd` and `--lsd-interface`.
#[derive(Debug, Clone, clap::Args)]
pub struct PeerArgs {
    /// A peer to connect to, as IP:PORT or HOST:PORT (repeatable).
    #[arg(long = "peer", value_name = "ADDR", value_parser = parse_addr)]
    pub peers: Vec<SocketAddr>,
    /// Where to listen for peers (port 0 picks a free one).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "0.0.0.0:6881",
        value_parser = parse_addr
    )]
    pub listen: SocketAddr,
    /// Run no DHT node. Otherwise the torrent (unless private) is looked up
    /// and announced in the Mainline DHT (BEP 5), joined through the public
    /// routers; the routing table is kept in DIR/.sluice/dht.dat. Setting
    /// SLUICE_DHT=off in the environment does the same.
    #[arg(long)]
    pub no_dht: bool,
    /// Join the DHT through this node instead of the public routers, as
    /// HOST:PORT (repeatable; runs the DHT even with SLUICE_DHT=off).
    #[arg(long = "dht-bootstrap", value_name = "ADDR")]
    pub dht_bootstrap: Vec<String>,
    /// Do not look for peers on the local network. Local peer discovery
    /// (BEP 14) announces the torrent (unless private) by multicast to
    /// 239.192.152.143:6771 and connects to the peers announcing it. Setting
    /// SLUICE_LSD=off in the environment does the same.
    #[arg(long, conflicts_with = "lsd_interface")]
    pub no_lsd: bool,
    /// The IPv4 address of the network interface to look for local peers on
    /// [default: the --listen address if it is one IPv4 address, else the
    /// system's choice].
    #[arg(long, value_name = "ADDR")]
    pub lsd_interface: Option<Ipv4Addr>,
}

impl PeerArgs {
    /// The DHT node to run for a client downloading into `dir`, if any: its
    /// routing table is kept in `<dir>/.sluice/dht.dat`.
    pub fn dht(&self, dir: &Path) -> Option<DhtOptions> {
        let off = is_off(std::env::var("SLUICE_DHT").ok().as_deref());
        if self.no_dht || (off && self.dht_bootstrap.is_empty()) {
            return None;
        }
        let mut opts = if self.dht_bootstrap.is_empty() {
            DhtOptions::public()
        } else {
            DhtOptions {
                bootstrap: self.dht_bootstrap.clone(),
                ..DhtOptions::public()
            }
        };
        opts.state_file = Some(dir.join(".sluice").join("dht.dat"));
        Some(opts)
    }

    /// The LSD options these arguments (and [`LSD_ENV`]) ask for; `None`
    /// when switched off.
    pub fn lsd(&self) -> Option<LsdOptions> {
        self.lsd_with_env(std::env::var(LSD_ENV).ok().as_deref())
    }

    /// [`lsd`](Self::lsd) with the environment variable's value given.
    fn lsd_with_env(&self, env: Option<&str>) -> Option<LsdOptions> {
        if self.no_lsd || is_off(env) {
            return None;
        }
        let interface = self.lsd_interface.unwrap_or(match self.listen.ip() {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        });
        Some(LsdOptions::new(interface))
    }
}

/// "a", "a and b", "a, b and c".
fn listing(items: &[String]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// "1 peer", "2 peers".
fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Whether an environment switch's value says off (`off`, `0`, `no`,
/// `false`).
fn is_off(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        ["off", "0", "no", "false"]
            .iter()
            .any(|off| v.trim().eq_ignore_ascii_case(off))
    })
}

/// `-o DIR` with `--peer` and `--listen`: what every downloading command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct NetArgs {
    /// The folder to download into.
    #[arg(short = 'o', long = "output", value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub net: PeerArgs,
}

/// `IP:PORT`, `[IPv6]:PORT` or `HOST:PORT` (the first address it resolves to).
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    if !text.contains(':') {
        return Err(format!("'{text}' is not an address: expected IP:PORT"));
    }
    text.to_socket_addrs()
        .map_err(|e| format!("'{text}': {e}"))?
        .next()
        .ok_or_else(|| format!("'{text}' resolves to no address"))
}

/// How long a magnet link's metadata may take to arrive.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(120);

/// True for a magnet URI.
pub fn is_magnet(source: &str) -> bool {
    source.len() >= 7 && source[..7].eq_ignore_ascii_case("magnet:")
}

/// Reads the torrent named on the command line; magnet links are refused with
/// a reason (for commands that cannot fetch metadata).
pub fn read_torrent(source: &str) -> Result<Metainfo, CliError> {
    if is_magnet(source) {
        return Err(CliError::new(
            "this command takes a .torrent file, not a magnet link",
        ));
    }
    load_torrent(source)
}

/// Reads the torrent named on the command line, a .torrent file or a magnet
/// link. A magnet link's metadata comes from the cache in the download
/// folder, or from its peers (`x.pe`), `--peer` and the DHT; the peers named
/// are then also the download's peers. On an error the client is shut down.
pub fn read_source(
    source: &str,
    args: &mut NetArgs,
    client: &Client,
) -> Result<Metainfo, CliError> {
    let result = if is_magnet(source) {
        fetch_magnet(source, args, client)
    } else {
        load_torrent(source)
    };
    if result.is_err() {
        let _ = client.clone().shutdown();
    }
    result
}

fn fetch_magnet(source: &str, args: &mut NetArgs, client: &Client) -> Result<Metainfo, CliError> {
    let link = MagnetLink::parse(source).map_err(|e| CliError::new(format!("{source}: {e}")))?;
    let peers = magnet::link_peers(&link, &args.net.peers);
    let cache = magnet::cache_path(&args.dir, &link.info_hash);
    let dht = client.dht_status().is_some();
    let trackers = link.trackers.len() + client.options().trackers.len();
    if !cache.exists() {
        if peers.is_empty() && !dht && trackers == 0 {
            return Err(CliError::new(format!(
                "magnet link {}: it names no peer (x.pe) or tracker (tr) to fetch the metadata \
                 from and the DHT is off: add --peer ADDR or --dht-bootstrap ADDR",
                link.info_hash
            )));
        }
        let mut sources = Vec::new();
        if !peers.is_empty() {
            sources.push(plural(peers.len(), "peer"));
        }
        if trackers > 0 {
            sources.push(plural(trackers, "tracker"));
        }
        if dht {
            sources.push("the DHT".into());
        }
        eprintln!("fetching metadata from {}…", listing(&sources));
    }
    let fetched = client
        .fetch_metadata(&link, &peers, METADATA_TIMEOUT)
        .map_err(|e| CliError::new(format!("magnet link {}: {e}", link.info_hash)))?;
    let meta = fetched.meta;
    let size: u64 = meta.info.files.iter().map(|f| f.length).sum();
    eprintln!(
        "metadata: {} ({}){}",
        meta.info.name,
        format::bytes(size),
        if fetched.cached {
            ", from the cache"
        } else {
            ""
        }
    );
    args.net.peers = peers;
    Ok(meta)
}

/// Starts a client downloading into `dir` (created if missing), listening
/// and looking for local peers as asked; `tweak` adjusts the options first.
/// Local peer discovery that cannot start is a note on stderr, not an error.
pub fn start_client(
    dir: &Path,
    net: &PeerArgs,
    tweak: impl FnOnce(&mut ClientOptions),
) -> Result<Client, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| CliError::new(format!("{}: {e}", dir.display())))?;
    let mut opts = ClientOptions::new(dir);
    opts.listen = net.listen;
    opts.dht = net.dht(dir);
    opts.lsd = net.lsd();
    tweak(&mut opts);
    let client = Client::start(opts).map_err(|e| {
        CliError::new(format!(
            "cannot listen for peers on {}: {e} (choose another address with --listen)",
            net.listen
        ))
    })?;
    if let Some(e) = client.lsd_error() {
        eprintln!("note: no local peer discovery: {e} (--no-lsd hides this note)");
    }
    Ok(client)
}

/// Whether the client looks for peers of `meta` on the local network.
fn finds_local_peers(client: &Client, meta: &Metainfo) -> bool {
    client.options().lsd.is_some() && client.lsd_error().is_none() && !meta.info.private
}

/// Says where peers can come from when none is given: the torrent's
/// `trackers` (and the client's), or only peers that connect to us.
pub fn note_peers(net: &PeerArgs, client: &Client, meta: &Metainfo) {
    if !net.peers.is_empty() {
        return;
    }
    let trackers = meta.trackers().iter().flatten().count() + client.options().trackers.len();
    let dht = client.dht_status().is_some() && !meta.info.private;
    if trackers == 0 && finds_local_peers(client, meta) {
        eprintln!(
            "note: no --peer given and the torrent names no tracker: looking for peers {}on \
             the local network, and waiting for peers to connect to {}",
            if dht { "in the DHT, " } else { "" },
            client.local_addr()
        );
    } else if trackers == 0 && !dht {
        eprintln!(
            "note: no --peer given, the torrent names no tracker and the DHT is off: \
             waiting for peers to connect to {}",
            client.local_addr()
        );
    }
}

/// A torrent's tracker warnings and errors, printed one line each on stderr
/// by the command's loop ([`print`](Self::print) at each tick). A tracker's
/// message is not repeated while it stays the same.
pub struct TrackerLog {
    events: Receiver<Event>,
    last: HashMap<String, String>,
}

impl TrackerLog {
    /// Listens to `torrent`'s events (the tracker messages so far included).
    pub fn new(torrent: &TorrentHandle) -> TrackerLog {
        TrackerLog {
            events: torrent.subscribe(),
            last: HashMap::new(),
        }
    }

    /// Prints the tracker messages that came since the last call.
    pub fn print(&mut self, progress: &Progress) {
        while let Ok(e) = self.events.try_recv() {
            let Event::Tracker { url, text, error } = e else {
                continue;
            };
            if self.last.get(&url) == Some(&text) {
                continue;
            }
            let kind = if error { "error" } else { "warning" };
            progress.stderr(&format!("tracker {kind}: {url}: {text}"));
            self.last.insert(url, text);
        }
    }
}

/// The file `--file` names (checked), or else the largest file.
pub fn choose_file(meta: &Metainfo, asked: Option<usize>) -> Result<usize, CliError> {
    let files = &meta.info.files;
    match asked {
        Some(n) => match files.get(n) {
            Some(f) if !f.padding => Ok(n),
            Some(_) => Err(CliError::new(format!("file {n} is a padding file"))),
            None => Err(no_such_file(n, meta)),
        },
        None => files
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.padding)
            // The first of the largest.
            .max_by(|(i, a), (j, b)| a.length.cmp(&b.length).then(j.cmp(i)))
            .map(|(i, _)| i)
            .ok_or_else(|| CliError::new("the torrent has no files")),
    }
}

/// Checks `--only` indices.
pub fn check_files(meta: &Metainfo, indices: &[usize]) -> Result<(), CliError> {
    for &n in indices {
        choose_file(meta, Some(n))?;
    }
    Ok(())
}

fn no_such_file(n: usize, meta: &Metainfo) -> CliError {
    let count = meta.info.files.len();
    CliError::new(format!(
        "no file {n} in the torrent: it has {count} file{} (numbered from 0; see `sluice info`)",
        if count == 1 { "" } else { "s" }
    ))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use clap::Parser;

    use super::{parse_addr, PeerArgs};

    #[derive(Parser)]
    struct Net {
        #[command(flatten)]
        net: PeerArgs,
    }

    fn lsd_interface(args: &[&str], env: Option<&str>) -> Option<Ipv4Addr> {
        let parsed = Net::try_parse_from(std::iter::once("sluice").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        parsed.net.lsd_with_env(env).map(|o| o.interface)
    }

    #[test]
    fn lsd_is_on_by_default_and_follows_the_listen_address() {
        let any = Some(Ipv4Addr::UNSPECIFIED);
        let lo = Some(Ipv4Addr::LOCALHOST);
        assert_eq!(lsd_interface(&[], None), any);
        assert_eq!(lsd_interface(&["--listen", "127.0.0.1:0"], None), lo);
        assert_eq!(lsd_interface(&["--listen", "[::1]:0"], None), any);
        assert_eq!(
            lsd_interface(
                &["--listen", "0.0.0.0:1", "--lsd-interface", "127.0.0.1"],
                None
            ),
            lo
        );
        assert_eq!(lsd_interface(&[], Some("on")), any);
    }

    #[test]
    fn lsd_switched_off() {
        assert_eq!(lsd_interface(&["--no-lsd"], None), None);
        for off in ["off", "OFF", "0", "no", "false", " off "] {
            assert_eq!(lsd_interface(&[], Some(off)), None, "{off:?}");
        }
        assert!(
            Net::try_parse_from(["sluice", "--no-lsd", "--lsd-interface", "127.0.0.1"]).is_err()
        );
        assert!(Net::try_parse_from(["sluice", "--lsd-interface", "::1"]).is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("127.0.0.1:80").unwrap().port(), 80);
        assert_eq!(parse_addr("[::1]:80").unwrap().port(), 80);
        assert_eq!(parse_addr("localhost:81").unwrap().port(), 81);
        assert!(parse_addr("127.0.0.1").is_err());
        assert!(parse_addr("nonsense").is_err());
        assert!(parse_addr("127.0.0.1:99999").is_err());
    }
}

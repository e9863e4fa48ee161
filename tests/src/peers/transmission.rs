//! A transmission-cli seed.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use sluice_std::core::InfoHash;

use super::net::{free_port, running, wait_for_port, wait_until_seeding};
use super::{Describe, ProcLog, START_TIMEOUT};
use crate::{require_tool, ChildGuard};

/// `settings.json` for a transmission that stays on 127.0.0.1: no DHT, LPD, PEX, uTP,
/// port forwarding or RPC; no speed limits; plaintext allowed.
const SETTINGS: &str = r#"{
    "bind-address-ipv4": "127.0.0.1",
    "bind-address-ipv6": "::1",
    "dht-enabled": false,
    "lpd-enabled": false,
    "pex-enabled": false,
    "utp-enabled": false,
    "port-forwarding-enabled": false,
    "peer-port-random-on-start": false,
    "rpc-enabled": false,
    "speed-limit-up-enabled": false,
    "speed-limit-down-enabled": false,
    "alt-speed-enabled": false,
    "ratio-limit-enabled": false,
    "idle-seeding-limit-enabled": false,
    "encryption": 1,
    "message-level": 2
}
"#;

/// `transmission-cli` seeding one torrent. It never exits by itself; it is killed
/// when dropped.
pub struct TransmissionSeed {
    child: ChildGuard,
    log: ProcLog,
    addr: SocketAddr,
}

impl TransmissionSeed {
    /// Seed `torrent` (info-hash `info_hash`, `pieces` pieces) from the data in
    /// `save_path`, with its own config folder `work/transmission-config`. Returns once
    /// it has verified the data and answers a handshake with a full bitfield. `None`
    /// when transmission-cli is missing.
    pub fn start(
        work: &Path,
        torrent: &Path,
        save_path: &Path,
        info_hash: &InfoHash,
        pieces: u32,
    ) -> Option<TransmissionSeed> {
        let program = require_tool("transmission-cli")?;
        let config = work.join("transmission-config");
        std::fs::create_dir_all(&config)
            .unwrap_or_else(|e| panic!("create {}: {e}", config.display()));
        std::fs::write(config.join("settings.json"), SETTINGS).expect("write settings.json");
        let port = free_port();
        let mut cmd = Command::new(program);
        cmd.arg("-g")
            .arg(&config)
            .arg("-w")
            .arg(save_path)
            .arg("-p")
            .arg(port.to_string())
            // No `-v`: a new torrent is verified when added anyway, and with
            // `-v` transmission-cli verifies twice and may see the torrent
            // stopped between the two checks and exit.
            .arg(torrent)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ChildGuard::spawn(&mut cmd);
        let log = ProcLog::capture(child.child(), "transmission seed");
        let mut seed = TransmissionSeed {
            child,
            log,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let addr = seed.addr;
        // Its port opens at once; the torrent answers handshakes once verified.
        let child = &mut seed.child;
        let up = wait_for_port(addr, START_TIMEOUT, || running(child))
            && wait_until_seeding(addr, info_hash, pieces, START_TIMEOUT, || running(child));
        if !up {
            panic!(
                "transmission did not start seeding within {START_TIMEOUT:?}\n{}",
                seed.describe()
            );
        }
        Some(seed)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its output so far.
    pub fn log(&self) -> &ProcLog {
        &self.log
    }
}

impl Describe for TransmissionSeed {
    fn describe(&self) -> String {
        format!(
            "transmission seed at {} — last lines:\n{}",
            self.addr,
            self.log.tail(40)
        )
    }
}

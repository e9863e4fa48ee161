//! What the DHT simulator measures, and the summary a scenario prints.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use sluice_core::dht::node::{DhtEvent, LookupId};
use sluice_core::Time;

/// Datagrams the network carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Sent by live nodes.
    pub sent: u64,
    /// Handed to a live node.
    pub delivered: u64,
    /// Dropped by the network's loss.
    pub lost: u64,
    /// Arrived at a node that had vanished.
    pub to_vanished: u64,
    /// Addressed to no simulated node.
    pub nowhere: u64,
}

/// What one lookup did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupReport {
    /// The lookup.
    pub lookup: LookupId,
    /// The longest referral chain it followed ([`LookupDone`]'s `rounds`).
    ///
    /// [`LookupDone`]: sluice_core::dht::node::DhtEvent::LookupDone
    pub rounds: u32,
    /// Queries it sent.
    pub queried: u32,
    /// Queries answered.
    pub responded: u32,
    /// Virtual time from the command to its `LookupDone`.
    pub elapsed: Duration,
    /// Datagrams the whole network sent while it ran (its queries, their
    /// replies, the pings they caused; for an announce, the `announce_peer`
    /// exchange too).
    pub datagrams: u64,
    /// Peers it found.
    pub peers: Vec<SocketAddr>,
    /// For an announce: nodes that stored us, and nodes asked to.
    pub stored: Option<(usize, usize)>,
}

impl LookupReport {
    /// The report of lookup `id`, started at `began`, from the events its
    /// node emitted since, while the network sent `datagrams`.
    pub fn from_events(
        id: LookupId,
        began: Time,
        datagrams: u64,
        events: &[(Time, DhtEvent)],
    ) -> LookupReport {
        let mut report = LookupReport {
            lookup: id,
            rounds: 0,
            queried: 0,
            responded: 0,
            elapsed: Duration::ZERO,
            datagrams,
            peers: Vec::new(),
            stored: None,
        };
        for (at, e) in events {
            match e {
                DhtEvent::LookupDone {
                    lookup,
                    rounds,
                    queried,
                    responded,
                    ..
                } if *lookup == id => {
                    report.rounds = *rounds;
                    report.queried = *queried;
                    report.responded = *responded;
                    report.elapsed = *at - began;
                }
                DhtEvent::Peers { lookup, peers, .. } if *lookup == id => {
                    report.peers.extend_from_slice(peers);
                }
                DhtEvent::Announced {
                    lookup,
                    stored,
                    tried,
                    ..
                } if *lookup == id => report.stored = Some((*stored, *tried)),
                _ => {}
            }
        }
        report
    }
}

/// How a whole network joined ([`DhtSim::join_all`](super::DhtSim::join_all)).
#[derive(Clone, Debug, PartialEq)]
pub struct JoinReport {
    /// Virtual time from the first join to the last bootstrap's end.
    pub elapsed: Duration,
    /// Datagrams sent meanwhile.
    pub datagrams: u64,
    /// Routing-table sizes of the live nodes afterwards.
    pub mean_table: f64,
    /// The smallest of them.
    pub min_table: usize,
    /// The largest of them.
    pub max_table: usize,
}

impl fmt::Display for JoinReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "joined in {:.1} s virtual, {} datagrams; tables mean {:.1} min {} max {}",
            self.elapsed.as_secs_f64(),
            self.datagrams,
            self.mean_table,
            self.min_table,
            self.max_table
        )
    }
}

/// Many lookups folded into the figures a scenario prints and bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Lookups folded.
    pub lookups: usize,
    /// Mean of [`LookupReport::rounds`].
    pub mean_rounds: f64,
    /// Largest [`LookupReport::rounds`].
    pub max_rounds: u32,
    /// Mean of [`LookupReport::queried`].
    pub mean_queries: f64,
    /// Largest [`LookupReport::queried`].
    pub max_queries: u32,
    /// Mean of [`LookupReport::elapsed`].
    pub mean_time: Duration,
    /// Largest [`LookupReport::elapsed`].
    pub max_time: Duration,
    /// Mean of [`LookupReport::datagrams`].
    pub datagrams_per_lookup: f64,
}

impl Summary {
    /// The figures of `reports`; all zero when there are none.
    pub fn of(reports: &[LookupReport]) -> Summary {
        let n = reports.len();
        let mean = |sum: u64| if n == 0 { 0.0 } else { sum as f64 / n as f64 };
        let total_time: Duration = reports.iter().map(|r| r.elapsed).sum();
        Summary {
            lookups: n,
            mean_rounds: mean(reports.iter().map(|r| u64::from(r.rounds)).sum()),
            max_rounds: reports.iter().map(|r| r.rounds).max().unwrap_or(0),
            mean_queries: mean(reports.iter().map(|r| u64::from(r.queried)).sum()),
            max_queries: reports.iter().map(|r| r.queried).max().unwrap_or(0),
            mean_time: total_time / n.max(1) as u32,
            max_time: reports.iter().map(|r| r.elapsed).max().unwrap_or_default(),
            datagrams_per_lookup: mean(reports.iter().map(|r| r.datagrams).sum()),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} lookups: rounds mean {:.2} max {}; queries mean {:.1} max {}; \
             virtual time mean {} ms max {} ms; {:.1} datagrams per lookup",
            self.lookups,
            self.mean_rounds,
            self.max_rounds,
            self.mean_queries,
            self.max_queries,
            self.mean_time.as_millis(),
            self.max_time.as_millis(),
            self.datagrams_per_lookup
        )
    }
}

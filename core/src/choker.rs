//! Choosing whom to upload to: the pure part of choking, with no connections in
//! sight. The torrent gathers the candidates and applies the answer.
//!
//! * Regular slots go to the interested peers with the best rate: the rate
//!   they send to us while we download (tit-for-tat), the rate we send to them
//!   once we seed (so slots go to peers that can take data fast).
//! * One optimistic slot rotates among the other interested peers, favouring
//!   those that had it least recently and new connections (three times the
//!   weight), so newcomers get a first piece to trade with.

use core::time::Duration;

use crate::rng::Rng;
use crate::time::Time;
use crate::torrent::PeerKey;

/// An interested peer competing for a regular slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotCandidate {
    /// The peer.
    pub key: PeerKey,
    /// Bytes per second that ranks it (see the module docs).
    pub rate: u64,
    /// Random tie-break.
    pub tiebreak: u64,
}

/// The peers that get the `slots` regular slots: best rate first.
///
/// ```
/// use sluice_core::choker::{regular_slots, SlotCandidate};
/// use sluice_core::torrent::PeerKey;
///
/// let c = |rate, tiebreak| SlotCandidate { key: PeerKey::default(), rate, tiebreak };
/// let mut cands = vec![c(10, 0), c(30, 1), c(20, 2)];
/// let won = regular_slots(&mut cands, 2);
/// assert_eq!(won.len(), 2);
/// assert_eq!(cands[0].rate, 30);
/// ```
pub fn regular_slots(candidates: &mut [SlotCandidate], slots: usize) -> Vec<PeerKey> {
    candidates.sort_by(|a, b| b.rate.cmp(&a.rate).then(a.tiebreak.cmp(&b.tiebreak)));
    candidates.iter().take(slots).map(|c| c.key).collect()
}

/// An interested, choked peer that could get the optimistic slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptimisticCandidate {
    /// The peer.
    pub key: PeerKey,
    /// When it connected.
    pub connected_at: Time,
    /// When it last had the optimistic slot.
    pub last_optimistic: Option<Time>,
}

/// Connections younger than this count three times in the optimistic draw.
pub const NEW_PEER_AGE: Duration = Duration::from_secs(60);

/// Draws the next optimistic unchoke. Peers that never had it come first; among
/// them (or, if all had it, among those that had it longest ago) new
/// connections weigh three times as much.
pub fn pick_optimistic(
    candidates: &[OptimisticCandidate],
    now: Time,
    rng: &mut Rng,
) -> Option<PeerKey> {
    let never: Vec<&OptimisticCandidate> = candidates
        .iter()
        .filter(|c| c.last_optimistic.is_none())
        .collect();
    let pool: Vec<&OptimisticCandidate> = if never.is_empty() {
        let oldest = candidates.iter().filter_map(|c| c.last_optimistic).min()?;
        candidates
            .iter()
            .filter(|c| c.last_optimistic == Some(oldest))
            .collect()
    } else {
        never
    };
    let weight = |c: &OptimisticCandidate| {
        if now - c.connected_at < NEW_PEER_AGE {
            3
        } else {
            1
        }
    };
    let total: u64 = pool.iter().map(|c| weight(c)).sum();
    let mut ticket = rng.below(total);
    for c in pool {
        let w = weight(c);
        if ticket < w {
            return Some(c.key);
        }
        ticket -= w;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> PeerKey {
        PeerKey::for_tests(n)
    }

    #[test]
    fn fastest_win_ties_broken_by_rank() {
        let mut cands = vec![
            SlotCandidate {
                key: key(1),
                rate: 5,
                tiebreak: 9,
            },
            SlotCandidate {
                key: key(2),
                rate: 50,
                tiebreak: 1,
            },
            SlotCandidate {
                key: key(3),
                rate: 5,
                tiebreak: 2,
            },
            SlotCandidate {
                key: key(4),
                rate: 1,
                tiebreak: 0,
            },
        ];
        assert_eq!(regular_slots(&mut cands, 2), vec![key(2), key(3)]);
        assert_eq!(regular_slots(&mut cands, 10).len(), 4);
    }

    #[test]
    fn optimistic_prefers_peers_that_never_had_it() {
        let now = Time::from_millis(600_000);
        let cands = [
            OptimisticCandidate {
                key: key(1),
                connected_at: Time::ZERO,
                last_optimistic: Some(Time::ZERO),
            },
            OptimisticCandidate {
                key: key(2),
                connected_at: Time::ZERO,
                last_optimistic: None,
            },
        ];
        let mut rng = Rng::new(1);
        for _ in 0..20 {
            assert_eq!(pick_optimistic(&cands, now, &mut rng), Some(key(2)));
        }
        assert_eq!(pick_optimistic(&[], now, &mut rng), None);
    }

    #[test]
    fn optimistic_rotates_to_the_longest_waiting() {
        let now = Time::from_millis(600_000);
        let cands = [
            OptimisticCandidate {
                key: key(1),
                connected_at: Time::ZERO,
                last_optimistic: Some(Time::from_millis(5)),
            },
            OptimisticCandidate {
                key: key(2),
                connected_at: Time::ZERO,
                last_optimistic: Some(Time::from_millis(1)),
            },
        ];
        let mut rng = Rng::new(2);
        assert_eq!(pick_optimistic(&cands, now, &mut rng), Some(key(2)));
    }

    #[test]
    fn new_peers_weigh_three_times() {
        let now = Time::from_millis(1_000_000);
        let cands = [
            OptimisticCandidate {
                key: key(1),
                connected_at: Time::ZERO,
                last_optimistic: None,
            },
            OptimisticCandidate {
                key: key(2),
                connected_at: now,
                last_optimistic: None,
            },
        ];
        let mut rng = Rng::new(3);
        let new = (0..4000)
            .filter(|_| pick_optimistic(&cands, now, &mut rng) == Some(key(2)))
            .count();
        assert!((2700..3300).contains(&new), "{new}");
    }
}

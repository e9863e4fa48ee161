//! The receiving side of PEX for one connection: is this peer behaving?

use core::time::Duration;

use super::WireCounts;
use crate::time::Time;

/// Least time between two PEX messages from a peer before the later one
/// counts as too soon. BEP 11 asks for one a minute; 15 s of slack absorbs
/// timer jitter and queueing.
pub const MIN_RECEIVE_INTERVAL: Duration = Duration::from_secs(45);
/// Most entries (added or dropped, either count, both families together) a
/// message other than the first may announce before it counts as a flood.
/// BEP 11 allows 50; twice that is tolerated.
pub const RECEIVE_FLOOD_ENTRIES: usize = 100;
/// Violations after which a peer is penalized.
pub const MAX_STRIKES: u32 = 3;

/// What the engine should do with a PEX message it received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PexVerdict {
    /// Use the message's contacts.
    Accept,
    /// Discard this message's contacts. The peer broke a rule (or the
    /// torrent is private); not yet often enough to hold it against it.
    Ignore,
    /// Discard this message's contacts and penalize the peer: it has broken
    /// the rules [`MAX_STRIKES`] times. The engine may disconnect it (BEP 11:
    /// "clients may disconnect peers that egregiously violate these
    /// constraints") or stop reading its PEX. Every later message gets this
    /// verdict too.
    Penalize,
}

/// Judges the PEX messages one peer sends us.
///
/// A message is a violation when it arrives less than
/// [`MIN_RECEIVE_INTERVAL`] after the last *accepted* one, when it is not the
/// first and announces more than [`RECEIVE_FLOOD_ENTRIES`] added or dropped
/// contacts, or when it does not decode ([`on_malformed`](Self::on_malformed)).
/// A violation is [`Ignore`](PexVerdict::Ignore)d; the
/// [`MAX_STRIKES`]-th and everything after it is
/// [`Penalize`](PexVerdict::Penalize)d. The first message may be large (BEP
/// 11 exempts it from the 50-entry rule; the decoder reads at most
/// [`MAX_DECODED_ENTRIES`](super::MAX_DECODED_ENTRIES) per field anyway).
///
/// Built with `private = true` it ignores everything, without strikes: a
/// private torrent takes no contacts from PEX.
///
/// ```
/// use std::time::Duration;
/// use sluice_core::ext::pex::{PexGuard, PexMessage, PexVerdict};
/// use sluice_core::Time;
///
/// let (_, counts) = PexMessage::decode_counted(b"d5:added6:\x01\x02\x03\x04\x1a\xe1e").unwrap();
/// let mut guard = PexGuard::new(false);
/// assert_eq!(guard.on_message(Time::ZERO, counts), PexVerdict::Accept);
/// let soon = Time::ZERO + Duration::from_secs(10);
/// assert_eq!(guard.on_message(soon, counts), PexVerdict::Ignore);
/// let later = Time::ZERO + Duration::from_secs(60);
/// assert_eq!(guard.on_message(later, counts), PexVerdict::Accept);
/// ```
#[derive(Debug, Clone)]
pub struct PexGuard {
    private: bool,
    last_accepted: Option<Time>,
    received: u64,
    strikes: u32,
}

impl PexGuard {
    /// A guard for a new connection; `private` for a private torrent.
    pub fn new(private: bool) -> PexGuard {
        PexGuard {
            private,
            last_accepted: None,
            received: 0,
            strikes: 0,
        }
    }

    /// Violations so far.
    pub fn strikes(&self) -> u32 {
        self.strikes
    }

    /// True once the peer has been penalized.
    pub fn is_penalized(&self) -> bool {
        self.strikes >= MAX_STRIKES
    }

    /// Judges a decoded message received at `now`; `counts` is what
    /// [`PexMessage::decode_counted`](super::PexMessage::decode_counted) reported.
    pub fn on_message(&mut self, now: Time, counts: WireCounts) -> PexVerdict {
        if self.private {
            return PexVerdict::Ignore;
        }
        let first = self.received == 0;
        self.received += 1;
        if self.is_penalized() {
            return PexVerdict::Penalize;
        }
        let too_soon = self
            .last_accepted
            .is_some_and(|t| now - t < MIN_RECEIVE_INTERVAL);
        let flood = !first
            && (counts.added > RECEIVE_FLOOD_ENTRIES || counts.dropped > RECEIVE_FLOOD_ENTRIES);
        if too_soon || flood {
            return self.strike();
        }
        self.last_accepted = Some(now);
        PexVerdict::Accept
    }

    /// Records a message that did not decode.
    pub fn on_malformed(&mut self) -> PexVerdict {
        if self.private {
            return PexVerdict::Ignore;
        }
        self.received += 1;
        if self.is_penalized() {
            return PexVerdict::Penalize;
        }
        self.strike()
    }

    fn strike(&mut self) -> PexVerdict {
        self.strikes += 1;
        if self.is_penalized() {
            PexVerdict::Penalize
        } else {
            PexVerdict::Ignore
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(added: usize, dropped: usize) -> WireCounts {
        WireCounts { added, dropped }
    }

    fn secs(s: u64) -> Time {
        Time::from_millis(s * 1000)
    }

    #[test]
    fn a_well_behaved_peer_is_always_accepted() {
        let mut guard = PexGuard::new(false);
        assert_eq!(
            guard.on_message(secs(0), counts(180, 0)),
            PexVerdict::Accept
        );
        for i in 1..100 {
            assert_eq!(
                guard.on_message(secs(i * 60), counts(50, 50)),
                PexVerdict::Accept
            );
        }
        assert_eq!(guard.strikes(), 0);
    }

    #[test]
    fn floods_and_haste_earn_strikes_then_a_penalty() {
        let mut guard = PexGuard::new(false);
        assert_eq!(guard.on_message(secs(0), counts(10, 0)), PexVerdict::Accept);
        assert_eq!(
            guard.on_message(secs(30), counts(10, 0)),
            PexVerdict::Ignore
        );
        // Measured from the last accepted message, so this one is fine.
        assert_eq!(
            guard.on_message(secs(50), counts(10, 0)),
            PexVerdict::Accept
        );
        assert_eq!(
            guard.on_message(secs(120), counts(0, 101)),
            PexVerdict::Ignore
        );
        assert_eq!(guard.strikes(), 2);
        assert_eq!(guard.on_malformed(), PexVerdict::Penalize);
        assert!(guard.is_penalized());
        assert_eq!(
            guard.on_message(secs(999), counts(1, 0)),
            PexVerdict::Penalize
        );
    }

    #[test]
    fn private_ignores_without_striking() {
        let mut guard = PexGuard::new(true);
        for i in 0..10 {
            assert_eq!(
                guard.on_message(secs(i), counts(500, 500)),
                PexVerdict::Ignore
            );
            assert_eq!(guard.on_malformed(), PexVerdict::Ignore);
        }
        assert_eq!(guard.strikes(), 0);
    }

    proptest! {
        #[test]
        fn accepted_messages_are_spaced_and_bounded(
            msgs in proptest::collection::vec((0u64..120, 0usize..300, 0usize..300), 1..60)
        ) {
            let mut guard = PexGuard::new(false);
            let mut now = Time::ZERO;
            let mut last: Option<Time> = None;
            for (i, &(gap, added, dropped)) in msgs.iter().enumerate() {
                now += Duration::from_secs(gap);
                if guard.on_message(now, counts(added, dropped)) == PexVerdict::Accept {
                    if let Some(t) = last {
                        prop_assert!(now - t >= MIN_RECEIVE_INTERVAL);
                    }
                    if i > 0 {
                        prop_assert!(added.max(dropped) <= RECEIVE_FLOOD_ENTRIES);
                    }
                    last = Some(now);
                }
                prop_assert!(guard.strikes() <= i as u32 + 1);
            }
        }
    }
}

//! The sending side of PEX for one connection.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use super::{is_valid_peer_addr, PexFlags, PexMessage, PexPeer};
use crate::time::Time;

/// Least time between two messages to the same peer (BEP 11: "no more than 1
/// PEX message per minute").
pub const PEX_INTERVAL: Duration = Duration::from_secs(60);
/// Most added contacts (IPv4 and IPv6 together) in one message.
pub const MAX_ADDED_PER_MESSAGE: usize = 50;
/// Most dropped contacts (IPv4 and IPv6 together) in one message.
pub const MAX_DROPPED_PER_MESSAGE: usize = 50;

/// What one peer has been told about our connections, and when.
///
/// The engine creates one per connection once the extension handshake shows
/// the peer speaks `ut_pex`, and calls [`poll`](Self::poll) from time to time
/// (on its periodic tick, say) with the peers it is connected to right now.
/// `poll` hands back the next message when one is both allowed and useful:
///
/// * the first message may go out at once, later ones at least
///   [`PEX_INTERVAL`] after the previous one;
/// * a message holds the difference between the current set and what this
///   peer has been told: peers connected since (`added`) and peers gone since
///   (`dropped`), at most [`MAX_ADDED_PER_MESSAGE`] and
///   [`MAX_DROPPED_PER_MESSAGE`] of each; the rest waits for the next message.
///   A peer that left and came back between two messages is simply not
///   mentioned, as BEP 11 allows;
/// * the peer itself (its connection address, and its listen address once
///   [`set_listen_port`](Self::set_listen_port) says it) is never included,
///   nor is an address [`is_valid_peer_addr`] refuses;
/// * when nothing changed no message is produced (an empty PEX message is not
///   allowed), and the minute starts from the last message actually produced.
///
/// What the engine passes in is its business to get right: only fully
/// established connections (BEP 11), and for inbound ones the peer's listen
/// address rather than its ephemeral source port. Flags are sent with the add;
/// a later change of flags alone is not re-sent.
///
/// A state built with `private = true` never produces anything: private
/// torrents must not use PEX.
///
/// ```
/// use std::time::Duration;
/// use sluice_core::ext::pex::{PexFlags, PexPeer, PexState};
/// use sluice_core::Time;
///
/// let remote = "10.0.0.1:6881".parse().unwrap();
/// let mut pex = PexState::new(remote, false);
/// let other = PexPeer { addr: "10.0.0.2:6881".parse().unwrap(), flags: PexFlags::SEED };
/// let me_too = PexPeer { addr: remote, flags: PexFlags::NONE };
///
/// let first = pex.poll(Time::ZERO, [other, me_too]).unwrap();
/// assert_eq!(first.added, vec![other]);
/// // Nothing new, and anyway too soon.
/// assert!(pex.poll(Time::from_millis(1_000), [me_too]).is_none());
/// let later = Time::ZERO + Duration::from_secs(60);
/// assert_eq!(pex.poll(later, [me_too]).unwrap().dropped, vec![other.addr]);
///
/// let mut private = PexState::new(remote, true);
/// assert!(private.poll(Time::ZERO, [other]).is_none());
/// ```
#[derive(Debug, Clone)]
pub struct PexState {
    /// Addresses of the peer itself, never sent to it.
    own: Vec<SocketAddr>,
    private: bool,
    /// What the peer has been told is connected: added and not dropped since.
    told: BTreeSet<SocketAddr>,
    last_sent: Option<Time>,
}

impl PexState {
    /// The state for a connection to the peer at `remote`. With `private`
    /// (the torrent's info dictionary says `private=1`) nothing is ever sent.
    pub fn new(remote: SocketAddr, private: bool) -> PexState {
        PexState {
            own: vec![remote],
            private,
            told: BTreeSet::new(),
            last_sent: None,
        }
    }

    /// Records the peer's listen port (the `p` of its extension handshake),
    /// so that its listen address is never sent to it either.
    pub fn set_listen_port(&mut self, port: u16) {
        let mut listen = self.own[0];
        listen.set_port(port);
        if !self.own.contains(&listen) {
            self.own.push(listen);
        }
    }

    /// True when built for a private torrent.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// How many peers this peer currently believes we are connected to.
    pub fn told_count(&self) -> usize {
        self.told.len()
    }

    /// The earliest time [`poll`](Self::poll) may produce a message, or
    /// `None` for a private torrent. Before the first message this is
    /// [`Time::ZERO`]: any time.
    pub fn next_send_at(&self) -> Option<Time> {
        if self.private {
            return None;
        }
        Some(self.last_sent.map_or(Time::ZERO, |t| t + PEX_INTERVAL))
    }

    /// The next message for this peer, if one is due and anything changed;
    /// `connected` is every peer we are connected to now. A returned message
    /// counts as sent.
    pub fn poll<I>(&mut self, now: Time, connected: I) -> Option<PexMessage>
    where
        I: IntoIterator<Item = PexPeer>,
    {
        if self.next_send_at()? > now {
            return None;
        }
        let current: BTreeMap<SocketAddr, PexFlags> = connected
            .into_iter()
            .filter(|p| is_valid_peer_addr(&p.addr) && !self.own.contains(&p.addr))
            .map(|p| (p.addr, p.flags))
            .collect();
        let added: Vec<PexPeer> = current
            .iter()
            .filter(|(addr, _)| !self.told.contains(addr))
            .take(MAX_ADDED_PER_MESSAGE)
            .map(|(&addr, &flags)| PexPeer { addr, flags })
            .collect();
        let dropped: Vec<SocketAddr> = self
            .told
            .iter()
            .filter(|addr| !current.contains_key(addr))
            .take(MAX_DROPPED_PER_MESSAGE)
            .copied()
            .collect();
        let message = PexMessage { added, dropped };
        if message.is_empty() {
            return None;
        }
        self.told.extend(message.added.iter().map(|p| p.addr));
        for addr in &message.dropped {
            self.told.remove(addr);
        }
        self.last_sent = Some(now);
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
    use proptest::prelude::*;

    fn addr(i: usize) -> SocketAddr {
        if i % 3 == 2 {
            let ip = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1);
            SocketAddr::V6(SocketAddrV6::new(ip, 6881, 0, 0))
        } else {
            SocketAddr::from((Ipv4Addr::from(0x0a00_0001 + i as u32), 6881))
        }
    }

    fn peers(range: impl IntoIterator<Item = usize>) -> Vec<PexPeer> {
        range
            .into_iter()
            .map(|i| PexPeer {
                addr: addr(i),
                flags: PexFlags(i as u8 & 0x1f),
            })
            .collect()
    }

    fn secs(s: u64) -> Time {
        Time::from_millis(s * 1000)
    }

    #[test]
    fn batches_of_fifty_a_minute_apart() {
        let mut pex = PexState::new(addr(0), false);
        let all = peers(0..121);
        let m1 = pex.poll(secs(5), all.clone()).unwrap();
        assert_eq!(m1.added.len(), 50);
        assert!(m1.added.iter().all(|p| p.addr != addr(0)));
        assert_eq!(pex.next_send_at(), Some(secs(65)));
        assert!(pex.poll(secs(64), all.clone()).is_none());
        assert_eq!(pex.poll(secs(65), all.clone()).unwrap().added.len(), 50);
        let m3 = pex.poll(secs(200), all.clone()).unwrap();
        assert_eq!(m3.added.len(), 20);
        assert_eq!(pex.told_count(), 120);
        assert!(pex.poll(secs(300), all).is_none(), "nothing changed");
        // All gone: drops in batches too.
        assert_eq!(pex.poll(secs(301), []).unwrap().dropped.len(), 50);
        assert_eq!(pex.told_count(), 70);
    }

    #[test]
    fn listen_address_and_invalid_addresses_are_excluded() {
        let remote: SocketAddr = "10.9.9.9:50000".parse().unwrap();
        let mut pex = PexState::new(remote, false);
        pex.set_listen_port(6881);
        let listed = [
            "10.9.9.9:50000",
            "10.9.9.9:6881",
            "10.9.9.9:7000",
            "0.0.0.0:1",
            "10.1.1.1:0",
        ];
        let connected = listed.iter().map(|s| PexPeer {
            addr: s.parse().unwrap(),
            flags: PexFlags::NONE,
        });
        let msg = pex.poll(Time::ZERO, connected).unwrap();
        let sent: Vec<SocketAddr> = msg.added.iter().map(|p| p.addr).collect();
        assert_eq!(sent, vec!["10.9.9.9:7000".parse::<SocketAddr>().unwrap()]);
    }

    #[test]
    fn transient_changes_are_elided() {
        let mut pex = PexState::new(addr(0), false);
        pex.poll(secs(0), peers(1..3)).unwrap();
        // 1 leaves and comes back, 3 comes and goes: nothing to say.
        assert!(pex.poll(secs(60), peers(1..3)).is_none());
        // The minute is counted from the last message sent.
        let msg = pex.poll(secs(61), peers(2..3)).unwrap();
        assert_eq!(msg.dropped, vec![addr(1)]);
    }

    #[test]
    fn private_never_sends() {
        let mut pex = PexState::new(addr(0), true);
        assert!(pex.is_private());
        assert_eq!(pex.next_send_at(), None);
        for t in 0..5 {
            assert!(pex.poll(secs(t * 100), peers(1..10)).is_none());
        }
    }

    /// One step of a scripted run: time advances, some peers come and go.
    #[derive(Debug, Clone)]
    struct Step {
        advance_secs: u64,
        toggle: Vec<usize>,
    }

    fn arb_steps() -> impl Strategy<Value = Vec<Step>> {
        let step = (0u64..100, proptest::collection::vec(0usize..140, 0..40)).prop_map(
            |(advance_secs, toggle)| Step {
                advance_secs,
                toggle,
            },
        );
        proptest::collection::vec(step, 1..40)
    }

    proptest! {
        #[test]
        fn diffing_keeps_its_promises(steps in arb_steps(), listen in any::<bool>()) {
            let remote = addr(7);
            let mut pex = PexState::new(remote, false);
            if listen {
                pex.set_listen_port(6881);
            }
            let mut connected = BTreeSet::new();
            // What the receiving peer has learnt from our messages.
            let mut believed = BTreeSet::new();
            let mut now = Time::ZERO;
            let mut last: Option<Time> = None;
            let mut check = |now: Time, msg: &PexMessage, believed: &mut BTreeSet<SocketAddr>| {
                prop_assert!(!msg.is_empty());
                prop_assert!(msg.added.len() <= MAX_ADDED_PER_MESSAGE);
                prop_assert!(msg.dropped.len() <= MAX_DROPPED_PER_MESSAGE);
                if let Some(t) = last {
                    prop_assert!(now - t >= PEX_INTERVAL);
                }
                last = Some(now);
                for p in &msg.added {
                    prop_assert!(p.addr != remote);
                    prop_assert!(believed.insert(p.addr), "added twice without a drop");
                }
                for a in &msg.dropped {
                    prop_assert!(believed.remove(a), "dropped what was never added");
                }
                // The message survives the wire unchanged.
                prop_assert_eq!(&PexMessage::decode(&msg.encode()).unwrap(), msg);
                Ok(())
            };
            for step in &steps {
                now += Duration::from_secs(step.advance_secs);
                for &i in &step.toggle {
                    if !connected.remove(&i) {
                        connected.insert(i);
                    }
                }
                if let Some(msg) = pex.poll(now, peers(connected.iter().copied())) {
                    check(now, &msg, &mut believed)?;
                }
            }
            // Once the swarm settles, the whole set gets across.
            for _ in 0..10 {
                now += PEX_INTERVAL;
                if let Some(msg) = pex.poll(now, peers(connected.iter().copied())) {
                    check(now, &msg, &mut believed)?;
                }
            }
            let want: BTreeSet<SocketAddr> =
                connected.iter().map(|&i| addr(i)).filter(|&a| a != remote).collect();
            prop_assert_eq!(believed, want);
        }
    }
}

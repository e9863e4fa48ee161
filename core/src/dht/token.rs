//! Write tokens for `announce_peer` (BEP 5).
//!
//! A node answering `get_peers` hands the querier a token; the querier must
//! present it in a later `announce_peer`, which proves it can receive packets
//! at the address it announces from. BEP 5 suggests the token be the SHA-1 of
//! the querier's IP address and a secret that changes every five minutes, with
//! tokens up to ten minutes old accepted. [`TokenSecret`] does exactly that,
//! keeping the current and the previous secret.
//!
//! The secrets come from the core's seeded [`Rng`], so they are as
//! unpredictable as the seed the driver picked; tokens need only resist
//! off-path guessing, not cryptanalysis.
//!
//! ```
//! use core::net::IpAddr;
//! use std::time::Duration;
//! use sluice_core::dht::token::TokenSecret;
//! use sluice_core::{Rng, Time};
//!
//! let mut rng = Rng::new(9);
//! let mut now = Time::ZERO;
//! let mut secret = TokenSecret::new(now, &mut rng);
//! let ip: IpAddr = "203.0.113.7".parse().unwrap();
//! let token = secret.token_for(ip, now);
//! assert!(secret.check(ip, &token, now));
//! assert!(!secret.check("203.0.113.8".parse().unwrap(), &token, now));
//!
//! // One rotation later the token still works; two rotations later it does not.
//! now += Duration::from_secs(5 * 60);
//! assert!(secret.rotate(now, &mut rng));
//! assert!(secret.check(ip, &token, now));
//! now += Duration::from_secs(5 * 60);
//! assert!(secret.rotate(now, &mut rng));
//! assert!(!secret.check(ip, &token, now));
//! ```

use core::net::IpAddr;
use core::time::Duration;

use crate::rng::Rng;
use crate::time::Time;

/// Length of the tokens [`TokenSecret::token_for`] hands out, in bytes: the
/// first bytes of a SHA-1 digest.
pub const TOKEN_LEN: usize = 8;

/// How often the secret changes.
pub const ROTATE_EVERY: Duration = Duration::from_secs(5 * 60);

/// The age past which no token is accepted.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Length of one secret, in bytes.
const SECRET_LEN: usize = 16;

/// One secret and when it became current.
#[derive(Clone, PartialEq, Eq)]
struct Secret {
    bytes: [u8; SECRET_LEN],
    since: Time,
}

impl Secret {
    fn random(now: Time, rng: &mut Rng) -> Secret {
        let mut bytes = [0u8; SECRET_LEN];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_be_bytes());
        }
        Secret { bytes, since: now }
    }

    fn token(&self, ip: IpAddr) -> [u8; TOKEN_LEN] {
        let mut h = sha1_smol::Sha1::new();
        match ip.to_canonical() {
            IpAddr::V4(v4) => h.update(&v4.octets()),
            IpAddr::V6(v6) => h.update(&v6.octets()),
        }
        h.update(&self.bytes);
        let digest = h.digest().bytes();
        let mut out = [0u8; TOKEN_LEN];
        out.copy_from_slice(&digest[..TOKEN_LEN]);
        out
    }

    /// True when the secret was current less than [`TOKEN_LIFETIME`] ago, so
    /// every token made with it is younger than that.
    fn fresh(&self, now: Time) -> bool {
        now.saturating_since(self.since) < TOKEN_LIFETIME
    }
}

/// The rotating secret behind write tokens.
///
/// Call [`rotate`](Self::rotate) whenever convenient (on every timer tick is
/// fine): it changes the secret once [`ROTATE_EVERY`] has passed.
/// [`check`](Self::check) accepts tokens made with the current or the previous
/// secret, as long as that secret became current less than
/// [`TOKEN_LIFETIME`] ago. With rotation on time, a token is therefore
/// accepted for at least five and at most ten minutes.
#[derive(Clone)]
pub struct TokenSecret {
    current: Secret,
    previous: Option<Secret>,
}

impl TokenSecret {
    /// A fresh secret, current from `now`.
    pub fn new(now: Time, rng: &mut Rng) -> TokenSecret {
        TokenSecret {
            current: Secret::random(now, rng),
            previous: None,
        }
    }

    /// Replaces the secret if it has been current for [`ROTATE_EVERY`] or
    /// longer, keeping the old one as the previous secret. Returns whether it
    /// rotated.
    pub fn rotate(&mut self, now: Time, rng: &mut Rng) -> bool {
        if now.saturating_since(self.current.since) < ROTATE_EVERY {
            return false;
        }
        let next = Secret::random(now, rng);
        self.previous = Some(core::mem::replace(&mut self.current, next));
        true
    }

    /// When [`rotate`](Self::rotate) will next change the secret.
    pub fn next_rotation(&self) -> Time {
        self.current.since + ROTATE_EVERY
    }

    /// The token for a querier at `ip`: the first [`TOKEN_LEN`] bytes of the
    /// SHA-1 of the address bytes followed by the current secret. An
    /// IPv4-mapped IPv6 address gives the IPv4 address's token.
    ///
    /// `now` is unused today: the token depends on the secret alone, which
    /// only [`rotate`](Self::rotate) changes. It is taken so that callers
    /// hand in the time, as with every other call.
    pub fn token_for(&self, ip: IpAddr, now: Time) -> [u8; TOKEN_LEN] {
        let _ = now;
        self.current.token(ip)
    }

    /// True when `token` is what [`token_for`](Self::token_for) gave `ip`
    /// with the current or previous secret, and that secret is still fresh at
    /// `now`. Tokens of any other length are refused.
    pub fn check(&self, ip: IpAddr, token: &[u8], now: Time) -> bool {
        core::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .filter(|s| s.fresh(now))
            .any(|s| same(&s.token(ip), token))
    }
}

impl core::fmt::Debug for TokenSecret {
    /// Shows when the secrets became current, never the secrets themselves.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenSecret")
            .field("current_since", &self.current.since)
            .field("previous_since", &self.previous.as_ref().map(|p| p.since))
            .finish()
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn mins(m: u64) -> Duration {
        Duration::from_secs(60 * m)
    }

    #[test]
    fn rotation_schedule() {
        let mut rng = Rng::new(1);
        let t0 = Time::from_millis(1_000);
        let mut s = TokenSecret::new(t0, &mut rng);
        assert_eq!(s.next_rotation(), t0 + mins(5));
        assert!(!s.rotate(t0 + mins(4), &mut rng));
        let a = ip("198.51.100.1");
        let tok = s.token_for(a, t0);
        assert_eq!(tok.len(), TOKEN_LEN);
        assert_eq!(tok, s.token_for(a, t0 + mins(4)));
        assert!(s.rotate(t0 + mins(5), &mut rng));
        assert_ne!(tok, s.token_for(a, t0 + mins(5)));
        assert!(s.check(a, &tok, t0 + mins(9)));
        // The previous secret became current ten minutes ago: too old.
        assert!(!s.check(a, &tok, t0 + mins(10)));
    }

    #[test]
    fn a_stale_secret_is_refused_even_without_rotation() {
        let mut rng = Rng::new(2);
        let s = TokenSecret::new(Time::ZERO, &mut rng);
        let a = ip("2001:db8::5");
        let tok = s.token_for(a, Time::ZERO);
        assert!(s.check(a, &tok, Time::ZERO + mins(9)));
        assert!(!s.check(a, &tok, Time::ZERO + mins(10)));
    }

    #[test]
    fn wrong_lengths_and_addresses_are_refused() {
        let mut rng = Rng::new(3);
        let s = TokenSecret::new(Time::ZERO, &mut rng);
        let a = ip("192.0.2.1");
        let tok = s.token_for(a, Time::ZERO);
        assert!(!s.check(a, &tok[..7], Time::ZERO));
        assert!(!s.check(a, &[], Time::ZERO));
        let mut long = tok.to_vec();
        long.push(0);
        assert!(!s.check(a, &long, Time::ZERO));
        assert!(!s.check(ip("192.0.2.2"), &tok, Time::ZERO));
        assert!(s.check(ip("::ffff:192.0.2.1"), &tok, Time::ZERO));
        assert!(!format!("{s:?}").contains("bytes"));
    }

    #[test]
    fn different_seeds_give_different_tokens() {
        let a = ip("192.0.2.1");
        let t1 = TokenSecret::new(Time::ZERO, &mut Rng::new(1)).token_for(a, Time::ZERO);
        let t2 = TokenSecret::new(Time::ZERO, &mut Rng::new(2)).token_for(a, Time::ZERO);
        assert_ne!(t1, t2);
    }

    proptest! {
        #[test]
        fn tokens_live_between_five_and_ten_minutes(
            seed in any::<u64>(),
            issue in 0u64..3_000,
            age in 0u64..1_200,
            addr in any::<[u8; 4]>(),
        ) {
            // The driver rotates on time (every tick of one second).
            let mut rng = Rng::new(seed);
            let mut s = TokenSecret::new(Time::ZERO, &mut rng);
            let a = IpAddr::from(addr);
            let mut token = None;
            for sec in 0..=issue + age {
                let now = Time::ZERO + Duration::from_secs(sec);
                s.rotate(now, &mut rng);
                if sec == issue {
                    token = Some(s.token_for(a, now));
                }
            }
            let now = Time::ZERO + Duration::from_secs(issue + age);
            let ok = s.check(a, &token.unwrap(), now);
            if age < 300 {
                prop_assert!(ok);
            }
            if age >= 600 {
                prop_assert!(!ok);
            }
        }

        #[test]
        fn arbitrary_tokens_do_not_panic(seed in any::<u64>(), tok in proptest::collection::vec(any::<u8>(), 0..40)) {
            let s = TokenSecret::new(Time::ZERO, &mut Rng::new(seed));
            let _ = s.check(ip("192.0.2.1"), &tok, Time::ZERO);
        }
    }
}

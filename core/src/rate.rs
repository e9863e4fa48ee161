//! Transfer rates measured over a short sliding window of virtual time.
//!
//! The choker ranks peers by rate, the request queue of a peer grows with its
//! rate, and the streaming read-ahead follows the torrent's download rate. All of
//! them want "bytes per second lately", computed from times the driver handed in.
//! Integer buckets keep the arithmetic exact and the same on every machine.

use core::time::Duration;

use crate::time::Time;

/// Width of one bucket.
const BUCKET_MICROS: u64 = 250_000;
/// Buckets in the window: 16 × 250 ms = 4 s.
const BUCKETS: usize = 16;

/// Bytes per second over the last few seconds.
///
/// ```
/// use std::time::Duration;
/// use sluice_core::{RateMeter, Time};
///
/// let mut m = RateMeter::new(Time::ZERO);
/// for i in 0..40 {
///     m.record(Time::ZERO + Duration::from_millis(100 * i), 10_000);
/// }
/// // 400 kB over 4 s.
/// let r = m.rate(Time::ZERO + Duration::from_secs(4));
/// assert!((90_000..=110_000).contains(&r), "{r}");
/// ```
#[derive(Debug, Clone)]
pub struct RateMeter {
    buckets: [u64; BUCKETS],
    /// Index (in bucket units since the epoch) of the newest bucket.
    head: u64,
    started: Time,
    total: u64,
}

impl RateMeter {
    /// A meter that starts measuring at `now`.
    pub fn new(now: Time) -> RateMeter {
        RateMeter {
            buckets: [0; BUCKETS],
            head: now.as_micros() / BUCKET_MICROS,
            started: now,
            total: 0,
        }
    }

    /// Counts `bytes` transferred at `now`.
    pub fn record(&mut self, now: Time, bytes: u64) {
        self.advance(now);
        self.buckets[(self.head % BUCKETS as u64) as usize] += bytes;
        self.total = self.total.saturating_add(bytes);
    }

    /// Bytes counted since the meter was made.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes per second over the window (or since the start, if the meter is
    /// younger than the window, but over at least one bucket).
    pub fn rate(&self, now: Time) -> u64 {
        let now_bucket = now.as_micros() / BUCKET_MICROS;
        let age = now_bucket.saturating_sub(self.head);
        if age >= BUCKETS as u64 {
            return 0;
        }
        // Buckets head-age+1 ..= head are inside the window ending at now.
        let mut sum = 0u64;
        for back in 0..(BUCKETS as u64 - age) {
            let Some(idx) = self.head.checked_sub(back) else {
                break;
            };
            sum += self.buckets[(idx % BUCKETS as u64) as usize];
        }
        let window = (now - self.started)
            .max(Duration::from_micros(BUCKET_MICROS))
            .min(Duration::from_micros(BUCKET_MICROS * BUCKETS as u64));
        (sum as u128 * 1_000_000 / window.as_micros().max(1)) as u64
    }

    fn advance(&mut self, now: Time) {
        let now_bucket = now.as_micros() / BUCKET_MICROS;
        if now_bucket <= self.head {
            return;
        }
        let steps = (now_bucket - self.head).min(BUCKETS as u64);
        for i in 1..=steps {
            self.buckets[((self.head + i) % BUCKETS as u64) as usize] = 0;
        }
        self.head = now_bucket;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Time {
        Time::from_millis(ms)
    }

    #[test]
    fn steady_rate_is_measured() {
        let mut m = RateMeter::new(at(0));
        for i in 0..100 {
            m.record(at(i * 100), 1_000);
        }
        let r = m.rate(at(10_000));
        assert!((9_000..=11_000).contains(&r), "{r}");
        assert_eq!(m.total(), 100_000);
    }

    #[test]
    fn rate_decays_to_zero_after_the_window() {
        let mut m = RateMeter::new(at(0));
        m.record(at(100), 1 << 20);
        assert!(m.rate(at(200)) > 0);
        assert_eq!(m.rate(at(5_000)), 0);
    }

    #[test]
    fn young_meter_is_not_diluted() {
        let mut m = RateMeter::new(at(1_000));
        m.record(at(1_100), 100_000);
        m.record(at(1_400), 100_000);
        // 200 kB in 0.5 s.
        let r = m.rate(at(1_500));
        assert!((350_000..=450_000).contains(&r), "{r}");
    }

    #[test]
    fn time_going_backwards_is_harmless() {
        let mut m = RateMeter::new(at(10_000));
        m.record(at(10_000), 5);
        m.record(at(9_000), 5);
        assert_eq!(m.total(), 10);
        let _ = m.rate(at(8_000));
    }
}

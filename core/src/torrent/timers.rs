//! Every timer of a torrent in one small table, so `poll_timeout` is a
//! minimum and a timeout that arrives early does nothing.

use core::time::Duration;

use super::Config;
use crate::time::Time;

/// Housekeeping period.
pub const TICK: Duration = Duration::from_secs(1);

/// The timers of a torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Timeouts, keep-alives, connection attempts, read-ahead.
    Tick,
    /// Reassign regular upload slots.
    Rechoke,
    /// Move the optimistic unchoke.
    Optimistic,
    /// Emit a stats event.
    Stats,
}

const ALL: [Timer; 4] = [Timer::Tick, Timer::Rechoke, Timer::Optimistic, Timer::Stats];

#[derive(Debug, Clone)]
pub struct Timers {
    at: [Option<Time>; 4],
}

impl Timers {
    pub fn new(now: Time, cfg: &Config) -> Timers {
        Timers {
            at: [
                Some(now + TICK),
                Some(now + cfg.rechoke_interval),
                Some(now + cfg.optimistic_interval),
                cfg.stats_interval.map(|d| now + d),
            ],
        }
    }

    /// The earliest armed timer.
    pub fn next(&self) -> Option<Time> {
        self.at.iter().flatten().min().copied()
    }

    /// A timer due at `now`, if any (and disarms it).
    pub fn due(&mut self, now: Time) -> Option<Timer> {
        for (i, t) in ALL.iter().enumerate() {
            if self.at[i].is_some_and(|at| at <= now) {
                self.at[i] = None;
                return Some(*t);
            }
        }
        None
    }

    /// Arms `timer` for its next period after `now`.
    pub fn rearm(&mut self, timer: Timer, now: Time, cfg: &Config) {
        let period = match timer {
            Timer::Tick => Some(TICK),
            Timer::Rechoke => Some(cfg.rechoke_interval),
            Timer::Optimistic => Some(cfg.optimistic_interval),
            Timer::Stats => cfg.stats_interval,
        };
        self.at[timer as usize] = period.map(|p| now + p.max(Duration::from_millis(1)));
    }

    /// Fires `timer` at `when` unless it is armed for earlier.
    pub fn arm_before(&mut self, timer: Timer, when: Time) {
        let slot = &mut self.at[timer as usize];
        if slot.is_none_or(|at| when < at) {
            *slot = Some(when);
        }
    }
}

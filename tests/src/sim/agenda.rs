//! The simulators' clock: events ordered by virtual time, ties broken by the
//! order they were scheduled in, so a run is the same every time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use sluice_core::Time;

/// Events waiting for their time.
#[derive(Debug)]
pub struct Agenda<E> {
    next_seq: u64,
    order: BinaryHeap<Reverse<(Time, u64)>>,
    events: BTreeMap<u64, E>,
}

impl<E> Default for Agenda<E> {
    fn default() -> Self {
        Agenda {
            next_seq: 0,
            order: BinaryHeap::new(),
            events: BTreeMap::new(),
        }
    }
}

impl<E> Agenda<E> {
    /// Schedules `ev` at `at`.
    pub fn schedule(&mut self, at: Time, ev: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push(Reverse((at, seq)));
        self.events.insert(seq, ev);
    }

    /// The earliest event, with its time, if it is due by `deadline`.
    pub fn pop_due(&mut self, deadline: Time) -> Option<(Time, E)> {
        let Reverse((at, seq)) = *self.order.peek()?;
        if at > deadline {
            return None;
        }
        self.order.pop();
        let ev = self
            .events
            .remove(&seq)
            .expect("every scheduled event is stored");
        Some((at, ev))
    }
}

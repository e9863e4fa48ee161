//! The announcer's machinery: choosing the tracker, sending, and what an
//! answer or a failure changes.

use core::time::Duration;

use super::tracker::{backoff, connect_host, Kind, Tracker};
use super::{
    AddTrackerError, Announcer, Current, Failure, Flight, Handle, Output, Reply, RequestId,
};
use crate::time::Time;
use crate::tracker::http::{
    AnnounceRequest, AnnounceResponse, Event, HttpResponse, HttpTrackerError,
};
use crate::tracker::udp::{
    AddressFamily, AnnounceEvent, AnnounceParams, OpId, UdpConfig, UdpEvent,
};

impl Announcer {
    /// Adds the tracker at `url` to the list (not to a tier), or says why not.
    pub(super) fn insert(&mut self, url: &str) -> Result<usize, AddTrackerError> {
        let udp = UdpConfig {
            family: AddressFamily::V4,
            base_timeout: self.config.udp_timeout,
            max_backoff: self.config.udp_retries,
            connection_lifetime: Duration::from_secs(60),
        };
        match Tracker::parse(url, &mut self.rng, udp) {
            Ok(tracker) => {
                if self.trackers.iter().any(|t| t.identity == tracker.identity) {
                    return Err(AddTrackerError::Duplicate);
                }
                self.trackers.push(tracker);
                Ok(self.trackers.len() - 1)
            }
            Err(text) => {
                self.outputs.push_back(Output::Error {
                    url: url.trim().to_owned(),
                    text: text.clone(),
                });
                Err(AddTrackerError::Unsupported(text))
            }
        }
    }

    pub(super) fn udp_tracker(&self, host: &str, port: u16) -> Option<usize> {
        self.trackers
            .iter()
            .position(|t| matches!(&t.kind, Kind::Udp(slot) if slot.is(host, port)))
    }

    /// Starts the announce that is due, if any.
    pub(super) fn advance(&mut self, now: Time) {
        if self.running && self.current.is_none() && self.next_announce.is_some_and(|at| at <= now)
        {
            self.try_from(now, 0, 0);
        }
    }

    /// Announces to the first tracker at or after `tier`/`index` that is not
    /// backing off; if there is none, waits for the first that will be usable.
    pub(super) fn try_from(&mut self, now: Time, tier: usize, index: usize) {
        let mut next = None;
        'tiers: for (ti, ids) in self.tiers.iter().enumerate().skip(tier) {
            let from = if ti == tier { index } else { 0 };
            for (i, &t) in ids.iter().enumerate().skip(from) {
                if self.trackers[t].retry_at <= now {
                    next = Some((ti, i, t));
                    break 'tiers;
                }
            }
        }
        match next {
            Some((tier, index, t)) => {
                let event = if !self.trackers[t].started_sent {
                    Event::Started
                } else if self.completed_pending {
                    Event::Completed
                } else {
                    Event::Empty
                };
                let flight = self.send(now, t, event, false);
                self.current = Some(Current {
                    flight,
                    tier,
                    index,
                });
            }
            None => self.next_announce = self.trackers.iter().map(|t| t.retry_at).min(),
        }
    }

    /// Sends an announce with `event` to tracker `t`.
    pub(super) fn send(&mut self, now: Time, t: usize, event: Event, stopping: bool) -> Flight {
        let tracker_id = self.trackers[t].tracker_id.clone();
        let (handle, deadline) = match &self.trackers[t].kind {
            Kind::Http(url) => {
                let id = RequestId(self.next_request);
                self.next_request += 1;
                let mut request = AnnounceRequest::new(self.info_hash, self.peer_id, self.port);
                request.uploaded = self.uploaded;
                request.downloaded = self.downloaded;
                request.left = self.left;
                request.event = Some(event).filter(|&e| e != Event::Empty);
                request.numwant = Some(self.numwant(event));
                request.key = Some(self.key);
                request.tracker_id = tracker_id;
                let target = request.url(url);
                self.outputs.push_back(Output::HttpGet {
                    id,
                    host: connect_host(url),
                    port: url.port(),
                    request: target.get_request(&self.config.user_agent),
                    url: self.trackers[t].url.clone(),
                });
                let wait = if stopping {
                    self.config.http_timeout.min(self.config.stop_timeout)
                } else {
                    self.config.http_timeout
                };
                (Handle::Http(id), now + wait)
            }
            Kind::Udp(_) => {
                let op = self.reissue(now, t, event).unwrap_or(OpId(u64::MAX));
                self.pump(now, t);
                let deadline = if stopping {
                    now + self.config.stop_timeout
                } else {
                    Time::MAX
                };
                (Handle::Udp(op), deadline)
            }
        };
        Flight {
            tracker: t,
            event,
            left: self.left,
            handle,
            deadline,
        }
    }

    /// Peers to ask for: none when leaving.
    pub(super) fn numwant(&self, event: Event) -> u32 {
        if event == Event::Stopped {
            0
        } else {
            self.config.numwant
        }
    }

    pub(super) fn udp_params(&self, event: Event) -> AnnounceParams {
        let mut params = AnnounceParams::new(self.info_hash, self.peer_id, self.port);
        params.uploaded = self.uploaded;
        params.downloaded = self.downloaded;
        params.left = self.left;
        params.event = match event {
            Event::Started => AnnounceEvent::Started,
            Event::Completed => AnnounceEvent::Completed,
            Event::Stopped => AnnounceEvent::Stopped,
            Event::Empty => AnnounceEvent::None,
        };
        params.key = self.key;
        params.num_want = i32::try_from(self.numwant(event)).unwrap_or(i32::MAX);
        params
    }

    /// Tracker `t` turned out to be reached over `family`: its client is
    /// replaced by one that decodes peers for it, and what was in flight on the
    /// old one starts again on the new one.
    pub(super) fn switch_family(&mut self, now: Time, t: usize, family: AddressFamily) {
        if let Kind::Udp(slot) = &mut self.trackers[t].kind {
            slot.rebuild(family);
        }
        let event = self
            .current
            .as_ref()
            .filter(|c| c.flight.tracker == t)
            .map(|c| c.flight.event);
        if let Some(op) = event.and_then(|event| self.reissue(now, t, event)) {
            if let Some(current) = self.current.as_mut() {
                current.flight.handle = Handle::Udp(op);
            }
        }
        for i in 0..self.stops.len() {
            if self.stops[i].tracker == t {
                if let Some(op) = self.reissue(now, t, self.stops[i].event) {
                    self.stops[i].handle = Handle::Udp(op);
                }
            }
        }
        self.pump(now, t);
    }

    /// Starts an announce with `event` on UDP tracker `t`'s client.
    pub(super) fn reissue(&mut self, now: Time, t: usize, event: Event) -> Option<OpId> {
        let params = self.udp_params(event);
        match &mut self.trackers[t].kind {
            Kind::Udp(slot) => Some(slot.client.announce(now, params)),
            Kind::Http(_) => None,
        }
    }

    /// Forwards UDP tracker `t`'s datagrams and handles its finished announces.
    pub(super) fn pump(&mut self, now: Time, t: usize) {
        let mut events = Vec::new();
        if let Kind::Udp(slot) = &mut self.trackers[t].kind {
            while let Some(datagram) = slot.client.poll_transmit() {
                self.outputs.push_back(Output::UdpSend {
                    host: slot.host.clone(),
                    port: slot.port,
                    datagram,
                });
            }
            while let Some(event) = slot.client.poll_event() {
                events.push(event);
            }
        }
        for event in events {
            let (op, outcome) = match event {
                UdpEvent::AnnounceOk {
                    op,
                    interval,
                    peers,
                    ..
                } => {
                    let reply = Reply {
                        interval,
                        min_interval: None,
                        peers,
                        warning: None,
                        tracker_id: None,
                    };
                    (op, Ok(reply))
                }
                UdpEvent::Failed { op, reason } => (op, Err(Failure::new(reason.to_string()))),
                UdpEvent::ScrapeOk { .. } => continue,
            };
            self.finish(now, t, Handle::Udp(op), outcome);
        }
    }

    /// Tells the driver or the UDP client that `flight` is no longer wanted.
    pub(super) fn cancel(&mut self, flight: &Flight) {
        match flight.handle {
            Handle::Http(id) => self.outputs.push_back(Output::HttpCancel { id }),
            Handle::Udp(op) => {
                if let Kind::Udp(slot) = &mut self.trackers[flight.tracker].kind {
                    slot.client.cancel(op);
                }
            }
        }
    }

    /// The announce `handle` to tracker `t` ended with `outcome`.
    pub(super) fn finish(
        &mut self,
        now: Time,
        t: usize,
        handle: Handle,
        outcome: Result<Reply, Failure>,
    ) {
        let is_current = self
            .current
            .as_ref()
            .is_some_and(|c| c.flight.tracker == t && c.flight.handle == handle);
        if is_current {
            if let Some(current) = self.current.take() {
                match outcome {
                    Ok(reply) => self.on_success(now, current, reply),
                    Err(failure) => self.on_failure(now, current, failure),
                }
            }
        } else if let Some(i) = self
            .stops
            .iter()
            .position(|f| f.tracker == t && f.handle == handle)
        {
            self.stops.remove(i);
            if let Err(failure) = outcome {
                self.outputs.push_back(Output::Error {
                    url: self.trackers[t].url.clone(),
                    text: failure.text,
                });
            }
        }
    }

    pub(super) fn on_success(&mut self, now: Time, current: Current, reply: Reply) {
        let flight = current.flight;
        let tracker = &mut self.trackers[flight.tracker];
        tracker.failures = 0;
        tracker.retry_at = Time::ZERO;
        if reply.tracker_id.is_some() {
            tracker.tracker_id = reply.tracker_id;
        }
        if flight.event == Event::Started {
            tracker.started_sent = true;
        }
        let told_complete = match flight.event {
            Event::Completed => true,
            Event::Started => flight.left == 0,
            _ => false,
        };
        if told_complete {
            self.complete_reported = true;
            self.completed_pending = false;
        }
        // BEP 12: the tracker that answered goes to the front of its tier.
        if let Some(tier) = self.tiers.get_mut(current.tier) {
            if let Some(i) = tier.iter().position(|&x| x == flight.tracker) {
                let t = tier.remove(i);
                tier.insert(0, t);
            }
        }
        let url = self.trackers[flight.tracker].url.clone();
        if let Some(text) = reply.warning {
            self.outputs.push_back(Output::Warning { url, text });
        }
        if !reply.peers.is_empty() {
            self.outputs.push_back(Output::Peers(reply.peers));
        }
        let floor = reply
            .min_interval
            .unwrap_or_default()
            .max(self.config.min_interval);
        let interval = reply.interval.min(self.config.max_interval).max(floor);
        self.earliest_manual = now + floor;
        // A `completed` that came in while this announce was out goes now.
        let wait = if self.completed_pending {
            Duration::ZERO
        } else {
            interval
        };
        self.next_announce = Some(now + wait);
    }

    pub(super) fn on_failure(&mut self, now: Time, current: Current, failure: Failure) {
        let tracker = &mut self.trackers[current.flight.tracker];
        tracker.failures = tracker.failures.saturating_add(1);
        let wait = backoff(
            tracker.failures,
            self.config.retry_base,
            self.config.retry_max,
        )
        .max(failure.retry_after.unwrap_or_default());
        tracker.retry_at = now + wait;
        self.outputs.push_back(Output::Error {
            url: tracker.url.clone(),
            text: failure.text,
        });
        self.try_from(now, current.tier, current.index + 1);
    }
}

/// Decodes what an HTTP tracker sent, up to EOF.
pub(super) fn parse_http(bytes: &[u8]) -> Result<Reply, Failure> {
    let response = match HttpResponse::parse(bytes, true) {
        Ok(Some(response)) => response,
        Ok(None) => return Err(failure_of(HttpTrackerError::Truncated)),
        Err(e) => return Err(failure_of(e)),
    };
    let announce = AnnounceResponse::from_http(&response).map_err(failure_of)?;
    Ok(Reply {
        interval: announce.interval,
        min_interval: announce.min_interval,
        peers: announce.addrs().collect(),
        warning: announce.warning,
        tracker_id: announce.tracker_id,
    })
}

fn failure_of(error: HttpTrackerError) -> Failure {
    let retry_after = match &error {
        HttpTrackerError::Failure {
            retry_in_minutes: Some(minutes),
            ..
        } => Some(Duration::from_secs(u64::from(*minutes) * 60)),
        _ => None,
    };
    Failure {
        text: error.to_string(),
        retry_after,
    }
}

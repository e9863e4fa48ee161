//! The engine thread's trackers: its [`Announcer`] lives on the engine
//! thread, next to the torrent whose figures it reports, and this part of
//! [`Runner`] carries out what it asks for (HTTP announces on short-lived
//! threads, UDP ones through the client's shared socket) and feeds its
//! answers back. Kept apart from the peer and disk plumbing in the parent
//! module, which only calls these hooks at start, on each turn and at stop.

use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use sluice_core::tracker::announcer::{self, Announcer, RequestId};

use super::{Msg, Runner};
use crate::tracker::{self, UdpTrackers};

/// How long past its stop timeout a stopping announcer is waited for at most.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// A torrent's announcer and what it needs to carry out its announces.
pub struct Announcing {
    /// The announcer (already given its trackers).
    pub announcer: Announcer,
    /// The torrent's size, for `left`.
    pub total: u64,
    /// The client's UDP tracker socket, if it could be opened.
    pub udp: Option<Arc<UdpTrackers>>,
    /// The longest an HTTP announce may take.
    pub http_timeout: Duration,
    /// How long `stopped` announces are waited for.
    pub stop_timeout: Duration,
}

impl Runner {
    /// Starts announcing (`started`).
    pub(super) fn tracker_start(&mut self) {
        let now = self.now();
        if let Some(a) = &mut self.tracker {
            tracker::set_stats(&mut a.announcer, &self.torrent, a.total, now);
            a.announcer.start(now);
        }
        self.drain_tracker();
    }

    /// Every piece is here: `completed`, if something was downloaded.
    pub(super) fn tracker_completed(&mut self) {
        let now = self.now();
        if !tracker::worth_completed(&self.torrent, now) {
            return;
        }
        if let Some(a) = &mut self.tracker {
            tracker::set_stats(&mut a.announcer, &self.torrent, a.total, now);
            a.announcer.completed(now);
        }
        self.drain_tracker();
    }

    /// The announcer's timers.
    pub(super) fn tracker_timers(&mut self) {
        let now = self.now();
        let Some(a) = &mut self.tracker else {
            return;
        };
        if a.announcer.poll_timeout().is_some_and(|t| t <= now) {
            tracker::set_stats(&mut a.announcer, &self.torrent, a.total, now);
            a.announcer.handle_timeout(now);
            self.drain_tracker();
        }
    }

    /// An answer (or failure) for the announcer.
    pub(super) fn tracker_msg(&mut self, msg: Msg) {
        let now = self.now();
        let Some(a) = &mut self.tracker else {
            return;
        };
        tracker::set_stats(&mut a.announcer, &self.torrent, a.total, now);
        match msg {
            Msg::TrackerHttp(id, result) => {
                let result = match &result {
                    Ok(bytes) => Ok(bytes.as_slice()),
                    Err(text) => Err(text.as_str()),
                };
                a.announcer.http_response(now, id, result);
            }
            Msg::TrackerUdp {
                host,
                port,
                from,
                datagram,
            } => a.announcer.udp_datagram(now, &host, port, from, &datagram),
            Msg::TrackerUdpError { host, port, text } => {
                a.announcer.udp_error(now, &host, port, &text)
            }
            _ => {}
        }
        self.drain_tracker();
    }

    /// Carries out what the announcer asks for.
    fn drain_tracker(&mut self) {
        loop {
            let Some(out) = self.tracker.as_mut().and_then(|a| a.announcer.poll()) else {
                return;
            };
            match out {
                announcer::Output::HttpGet {
                    id,
                    host,
                    port,
                    request,
                    ..
                } => self.http_start(id, host, port, request),
                // Its answer is ignored when it comes.
                announcer::Output::HttpCancel { .. } => {}
                announcer::Output::UdpSend {
                    host,
                    port,
                    datagram,
                } => {
                    let ih = self.torrent.info_hash();
                    match self.tracker.as_ref().and_then(|a| a.udp.clone()) {
                        Some(udp) => udp.send(ih, host, port, datagram, self.tx.clone()),
                        None => {
                            let now = self.now();
                            if let Some(a) = &mut self.tracker {
                                a.announcer.udp_error(now, &host, port, "no UDP socket");
                            }
                        }
                    }
                }
                announcer::Output::Peers(peers) => {
                    let now = self.now();
                    self.torrent.add_peers(now, peers);
                }
                announcer::Output::Warning { url, text } => {
                    self.publish(tracker::event(url, text, false))
                }
                announcer::Output::Error { url, text } => {
                    self.publish(tracker::event(url, text, true))
                }
            }
        }
    }

    /// Runs an HTTP announce on a thread of its own.
    fn http_start(&mut self, id: RequestId, host: String, port: u16, request: Vec<u8>) {
        let Some(a) = &self.tracker else {
            return;
        };
        let timeout = a.http_timeout;
        let tx = self.tx.clone();
        let spawned = thread::Builder::new()
            .name("sluice-announce".into())
            .spawn(move || {
                let result = tracker::http_get(&host, port, &request, timeout);
                let _ = tx.send(Msg::TrackerHttp(id, result));
            });
        if let Err(e) = spawned {
            let now = self.now();
            if let Some(a) = &mut self.tracker {
                let text = format!("cannot start an announce: {e}");
                a.announcer.http_response(now, id, Err(&text));
            }
        }
    }

    /// Announces `stopped`; [`Runner::tracker_wait`] waits for it.
    pub(super) fn tracker_stop(&mut self) {
        let now = self.now();
        if let Some(a) = &mut self.tracker {
            tracker::set_stats(&mut a.announcer, &self.torrent, a.total, now);
            a.announcer.stop(now);
        }
        self.drain_tracker();
    }

    /// Waits until the `stopped` announces are answered or the stop timeout
    /// (plus a second) has passed, then drops the announcer.
    pub(super) fn tracker_wait(&mut self, since: Instant) {
        let Some(a) = &self.tracker else {
            return;
        };
        let end = since + a.stop_timeout + STOP_GRACE;
        while self
            .tracker
            .as_ref()
            .is_some_and(|a| !a.announcer.is_stopped())
        {
            let now = self.now();
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let wait = self
                .tracker
                .as_ref()
                .and_then(|a| a.announcer.poll_timeout())
                .map_or(left, |t| t.saturating_since(now).min(left));
            match self.rx.recv_timeout(wait) {
                Ok(
                    msg @ (Msg::TrackerHttp(..)
                    | Msg::TrackerUdp { .. }
                    | Msg::TrackerUdpError { .. }),
                ) => self.tracker_msg(msg),
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.tracker_timers();
        }
        if let Some(a) = self.tracker.take() {
            if let Some(udp) = &a.udp {
                udp.forget(self.torrent.info_hash());
            }
        }
    }
}

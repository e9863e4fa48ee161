//! The UDP tracker protocol (BEP 15): a codec for its four kinds of datagram
//! and [`UdpTrackerClient`], the state machine that talks to one tracker.
//!
//! Like the rest of the core, nothing here touches a socket. A driver resolves
//! the tracker's host, picks the [`AddressFamily`] from the address it got
//! (IPv6 trackers send 18-byte peers), sends the datagrams the client hands
//! out and feeds back the ones that arrive, with the time:
//!
//! ```text
//! loop {
//!     while let Some(d) = client.poll_transmit() { socket.send_to(&d, tracker) }
//!     while let Some(e) = client.poll_event() { /* peers, stats, failures */ }
//!     wait for a datagram or client.poll_timeout()
//!     client.handle_datagram(now, &d)  or  client.handle_timeout(now)
//! }
//! ```
//!
//! The client follows BEP 15: a connect exchange first, its connection id
//! reused for one minute after it arrived; a random transaction id per
//! exchange, checked with the action on every response; retransmission after
//! 15 × 2^n seconds for n = 0 to 8, then failure (both numbers in
//! [`UdpConfig`]).

mod client;
mod codec;

pub use client::{FailReason, OpId, UdpConfig, UdpEvent, UdpTrackerClient};
pub use codec::{
    Action, AddressFamily, AnnounceEvent, AnnounceParams, Request, Response, ScrapeStats, UdpError,
    MAX_DATAGRAM, MAX_ERROR_MESSAGE, MAX_PEERS_V4, MAX_SCRAPE_HASHES, NUM_WANT_DEFAULT,
    PROTOCOL_ID,
};

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod tests;

//! Trackers: the codecs and state machines that find peers through HTTP
//! (BEP 3, 23, 7) and UDP (BEP 15) trackers. No sockets here: drivers send the
//! requests these modules build and feed back the bytes they receive.

pub mod announcer;
pub mod http;
pub mod udp;

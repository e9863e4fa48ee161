//! The Mainline DHT (BEP 5): KRPC messages and, later, the node's state
//! machine. No sockets here: drivers move the datagrams.

pub mod bep42;
pub mod krpc;
pub mod node;
pub mod routing;
pub mod token;

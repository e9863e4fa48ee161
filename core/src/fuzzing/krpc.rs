//! The KRPC fuzz target.

use crate::dht::krpc::Message;

/// KRPC: decode a datagram; an accepted message re-encodes to a datagram that
/// decodes to the same message and is canonical (encoding it again gives the
/// same bytes).
pub fn krpc(data: &[u8]) {
    let Ok(message) = Message::decode(data) else {
        return;
    };
    let encoded = message.to_bytes();
    let again = Message::decode(&encoded).expect("re-encoded message decodes");
    assert_eq!(again, message);
    assert_eq!(again.to_bytes(), encoded, "the encoding is canonical");
}

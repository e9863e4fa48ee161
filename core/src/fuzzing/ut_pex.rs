//! The ut_pex fuzz target.

use crate::ext::pex::{
    is_valid_peer_addr, PexMessage, PexState, MAX_ADDED_PER_MESSAGE, MAX_DECODED_ENTRIES,
};
use crate::time::Time;

/// ut_pex: decode a payload; an accepted message holds only valid, bounded
/// entries, re-encodes to a payload that decodes to the same message, and that
/// encoding is canonical. Its contacts, fed to a sending state as our
/// connected peers, come out at most fifty to a message.
pub fn ut_pex(data: &[u8]) {
    let Ok((message, counts)) = PexMessage::decode_counted(data) else {
        return;
    };
    assert!(message.added.len() <= 2 * MAX_DECODED_ENTRIES);
    assert!(message.dropped.len() <= 2 * MAX_DECODED_ENTRIES);
    assert!(message.added.len() <= counts.added);
    assert!(message.dropped.len() <= counts.dropped);
    assert!(message.added.iter().all(|p| is_valid_peer_addr(&p.addr)));
    assert!(message.dropped.iter().all(is_valid_peer_addr));

    let encoded = message.encode();
    let again = PexMessage::decode(&encoded).expect("re-encoded message decodes");
    assert_eq!(again, message);
    assert_eq!(again.encode(), encoded, "the encoding is canonical");

    if let Some(first) = message.added.first() {
        let mut state = PexState::new(first.addr, false);
        let sent = state.poll(Time::ZERO, message.added.iter().copied());
        let expected = (message.added.len() - 1).min(MAX_ADDED_PER_MESSAGE);
        assert_eq!(sent.map_or(0, |m| m.added.len()), expected);
    }
}

//! Serving the info dictionary (BEP 9, `ut_metadata`) to peers that came
//! with only the info-hash, from a magnet link.
//!
//! We advertise `ut_metadata` with the dictionary's size and answer each
//! request with its 16 KiB block. A peer may ask for the whole dictionary a
//! few times over (a fetch that failed verification starts again); beyond
//! that its requests are rejected, so nobody turns us into a free mirror.

use crate::ext::metadata::{self, Message as MetadataMessage};
use crate::time::Time;
use crate::wire::Message;

use super::{PeerKey, Torrent};

/// The id under which we receive `ut_metadata` messages (our handshake's `m`).
pub(super) const OUR_METADATA_ID: u8 = 2;

/// Name of the extension in handshakes.
pub(super) const EXTENSION_NAME: &str = "ut_metadata";

/// How many times over one connection may fetch the whole dictionary.
const WHOLE_FETCHES_PER_PEER: u32 = 4;

impl Torrent {
    /// The size we announce as `metadata_size`, if we serve the dictionary.
    pub(super) fn metadata_size(&self) -> Option<u32> {
        metadata::check_size(self.info.raw.len() as u64).ok()
    }

    /// A `ut_metadata` message from `key`: requests are answered; data and
    /// rejects (we never ask) are ignored.
    pub(super) fn on_metadata(&mut self, now: Time, key: PeerKey, payload: &[u8]) {
        let Ok(MetadataMessage::Request { piece }) = MetadataMessage::decode(payload) else {
            return;
        };
        let size = self.metadata_size();
        let limit = size.map_or(0, |s| metadata::piece_count(s) * WHOLE_FETCHES_PER_PEER);
        let raw = &self.info.raw;
        let Some(p) = self
            .peers
            .get_mut(key.slot as usize)
            .filter(|p| p.gen == key.gen)
        else {
            return;
        };
        let Some(their_id) = p.ext.as_ref().and_then(|e| {
            e.extensions
                .iter()
                .find(|(name, _)| name == EXTENSION_NAME)
                .map(|&(_, id)| id)
                .filter(|&id| id != 0)
        }) else {
            return;
        };
        p.metadata_served = p.metadata_served.saturating_add(1);
        let answer = if size.is_some() && p.metadata_served <= limit {
            metadata::respond(Some(raw), piece)
        } else {
            MetadataMessage::Reject { piece }
        };
        let payload = answer.to_bytes();
        p.push(
            now,
            &Message::Extended {
                id: their_id,
                payload: &payload,
            },
        );
    }
}

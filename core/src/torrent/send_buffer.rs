//! Bytes waiting to go to one peer. The driver reads them straight out of this
//! buffer and says how many the socket took, so nothing is copied twice.

use crate::wire::Message;

/// A FIFO of encoded messages.
#[derive(Debug, Default)]
pub struct SendBuffer {
    buf: Vec<u8>,
    start: usize,
}

impl SendBuffer {
    /// Bytes waiting.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, msg: &Message<'_>) {
        self.compact_if_worth_it();
        msg.encode(&mut self.buf);
    }

    pub fn push_raw(&mut self, bytes: &[u8]) {
        self.compact_if_worth_it();
        self.buf.extend_from_slice(bytes);
    }

    /// Drops the first `n` bytes (clamped to what is there); returns how many.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len());
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > 4 << 20 {
                self.buf.shrink_to(64 << 10);
            }
        }
        n
    }

    fn compact_if_worth_it(&mut self) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_partial_consumption() {
        let mut b = SendBuffer::default();
        b.push(&Message::Interested);
        b.push(&Message::Have { piece: 1 });
        assert_eq!(b.len(), 14);
        assert_eq!(b.consume(3), 3);
        assert_eq!(b.pending(), &[1, 2, 0, 0, 0, 5, 4, 0, 0, 0, 1]);
        b.push(&Message::Choke);
        assert_eq!(b.consume(100), 16);
        assert!(b.is_empty());
    }
}

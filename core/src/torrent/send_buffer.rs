//! Bytes waiting to go to one peer. The driver reads them straight out of this
//! buffer and says how many the socket took, so nothing is copied twice.
//!
//! A ring (`VecDeque`): bytes are appended at the back and consumed from the
//! front without ever moving what is still waiting.

use std::collections::VecDeque;

use crate::wire::Message;

/// A FIFO of encoded messages.
#[derive(Debug, Default)]
pub struct SendBuffer {
    buf: VecDeque<u8>,
    /// Scratch for encoding one message.
    scratch: Vec<u8>,
}

impl SendBuffer {
    /// The next bytes waiting: a prefix of everything waiting when the ring
    /// wraps (the rest follows once these are consumed).
    pub fn pending(&self) -> &[u8] {
        self.buf.as_slices().0
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn push(&mut self, msg: &Message<'_>) {
        self.scratch.clear();
        msg.encode(&mut self.scratch);
        self.buf.extend(self.scratch.iter());
    }

    pub fn push_raw(&mut self, bytes: &[u8]) {
        self.buf.extend(bytes.iter());
    }

    /// Drops the first `n` bytes (clamped to what is there); returns how many.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len());
        self.buf.drain(..n);
        if self.buf.is_empty() && self.buf.capacity() > 4 << 20 {
            self.buf.shrink_to(64 << 10);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_partial_consumption_and_wrap() {
        let mut b = SendBuffer::default();
        b.push(&Message::Interested);
        b.push(&Message::Have { piece: 1 });
        assert_eq!(b.len(), 14);
        assert_eq!(b.consume(3), 3);
        assert_eq!(b.pending(), &[1, 2, 0, 0, 0, 5, 4, 0, 0, 0, 1]);
        b.push(&Message::Choke);
        assert_eq!(b.consume(100), 16);
        assert!(b.is_empty());
        // Wrap around: what comes out is what went in, in order.
        let mut out = Vec::new();
        for round in 0..50u8 {
            b.push_raw(&[round; 37]);
            while b.len() > 20 {
                let n = b.pending().len().min(13);
                out.extend_from_slice(&b.pending()[..n]);
                b.consume(n);
            }
        }
        while !b.is_empty() {
            let n = b.pending().len();
            out.extend_from_slice(b.pending());
            b.consume(n);
        }
        let expected: Vec<u8> = (0..50u8).flat_map(|r| [r; 37]).collect();
        assert_eq!(out, expected);
    }
}

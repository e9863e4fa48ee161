//! Which pieces someone has: ours, or a peer's as its `bitfield` and `have`
//! messages told us.
//!
//! A thin layer over `bit_vec::BitVec` that keeps the count of set bits (asked for
//! on every message) and converts to and from the wire form of BEP 3: piece 0 is
//! the high bit of the first byte, spare bits at the end are zero.

use bit_vec::BitVec;

use crate::wire::{validate_bitfield, WireError};

/// A set of piece indices `0..len`.
///
/// ```
/// use sluice_core::Bitfield;
///
/// let mut have = Bitfield::new(10);
/// have.set(0, true);
/// have.set(9, true);
/// assert_eq!(have.count(), 2);
/// assert_eq!(have.to_wire(), vec![0b1000_0000, 0b0100_0000]);
/// let again = Bitfield::from_wire(&have.to_wire(), 10).unwrap();
/// assert_eq!(again, have);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bitfield {
    bits: BitVec,
    count: u32,
}

impl Bitfield {
    /// `len` pieces, none set.
    pub fn new(len: u32) -> Bitfield {
        Bitfield {
            bits: BitVec::from_elem(len as usize, false),
            count: 0,
        }
    }

    /// `len` pieces, all set.
    pub fn full(len: u32) -> Bitfield {
        Bitfield {
            bits: BitVec::from_elem(len as usize, true),
            count: len,
        }
    }

    /// Reads the wire form of a bitfield for `len` pieces: exactly
    /// `ceil(len / 8)` bytes with the spare bits clear.
    pub fn from_wire(bytes: &[u8], len: u32) -> Result<Bitfield, WireError> {
        validate_bitfield(bytes, len)?;
        let mut bits = BitVec::from_bytes(bytes);
        bits.truncate(len as usize);
        let count = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield { bits, count })
    }

    /// The wire form: piece 0 in the high bit of the first byte.
    pub fn to_wire(&self) -> Vec<u8> {
        self.bits.to_bytes()
    }

    /// Number of pieces this field covers.
    pub fn len(&self) -> u32 {
        self.bits.len() as u32
    }

    /// True when it covers no pieces at all.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// Whether `piece` is set; false for indices out of range.
    pub fn get(&self, piece: u32) -> bool {
        self.bits.get(piece as usize).unwrap_or(false)
    }

    /// Sets or clears `piece`; returns whether it changed. Out-of-range
    /// indices are ignored (and return false).
    pub fn set(&mut self, piece: u32, on: bool) -> bool {
        match self.bits.get(piece as usize) {
            Some(old) if old != on => {
                self.bits.set(piece as usize, on);
                if on {
                    self.count += 1;
                } else {
                    self.count -= 1;
                }
                true
            }
            _ => false,
        }
    }

    /// Number of pieces set.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// True when every piece is set (and there is at least one).
    pub fn is_full(&self) -> bool {
        self.count == self.len() && !self.is_empty()
    }

    /// True when no piece is set.
    pub fn is_clear(&self) -> bool {
        self.count == 0
    }

    /// The indices set in both `self` and `other`, in increasing order,
    /// found a word at a time (the picker's hot path).
    pub fn common_ones<'a>(&'a self, other: &'a Bitfield) -> impl Iterator<Item = u32> + 'a {
        let len = self.len().min(other.len());
        self.bits
            .storage()
            .iter()
            .zip(other.bits.storage())
            .enumerate()
            .flat_map(move |(w, (a, b))| {
                let mut word = a & b;
                core::iter::from_fn(move || {
                    if word == 0 {
                        return None;
                    }
                    let bit = word.trailing_zeros();
                    word &= word - 1;
                    Some(w as u32 * 32 + bit)
                })
            })
            .take_while(move |&i| i < len)
    }

    /// The indices that are set, in increasing order.
    pub fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, b)| *b)
            .map(|(i, _)| i as u32)
    }
}

impl core::fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Bitfield({}/{})", self.count, self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spare_bits_and_lengths_are_checked() {
        assert!(Bitfield::from_wire(&[0xff], 8).is_ok());
        assert!(Bitfield::from_wire(&[0xff], 7).is_err(), "spare bit set");
        assert!(Bitfield::from_wire(&[0xfe], 7).is_ok());
        assert!(Bitfield::from_wire(&[0xff, 0], 8).is_err(), "too long");
        assert!(Bitfield::from_wire(&[], 1).is_err(), "too short");
        assert!(Bitfield::from_wire(&[], 0).is_ok());
    }

    #[test]
    fn full_and_clear() {
        let f = Bitfield::full(9);
        assert!(f.is_full());
        assert_eq!(f.to_wire(), vec![0xff, 0x80]);
        let mut c = Bitfield::new(9);
        assert!(c.is_clear() && !c.is_full());
        assert!(!c.set(20, true), "out of range ignored");
        assert!(c.set(3, true) && !c.set(3, true));
        assert_eq!(c.ones().collect::<Vec<_>>(), vec![3]);
        assert!(!Bitfield::new(0).is_full());
    }

    proptest! {
        #[test]
        fn common_ones_is_the_intersection(
            a in proptest::collection::vec(any::<bool>(), 0..200),
            b in proptest::collection::vec(any::<bool>(), 0..200),
        ) {
            let field = |bits: &[bool]| {
                let mut f = Bitfield::new(bits.len() as u32);
                for (i, on) in bits.iter().enumerate() {
                    f.set(i as u32, *on);
                }
                f
            };
            let (fa, fb) = (field(&a), field(&b));
            let expected: Vec<u32> = (0..a.len().min(b.len()) as u32)
                .filter(|&i| fa.get(i) && fb.get(i))
                .collect();
            prop_assert_eq!(fa.common_ones(&fb).collect::<Vec<_>>(), expected);
        }

        #[test]
        fn wire_round_trip_and_count(bits in proptest::collection::vec(any::<bool>(), 0..300)) {
            let mut f = Bitfield::new(bits.len() as u32);
            for (i, b) in bits.iter().enumerate() {
                f.set(i as u32, *b);
            }
            prop_assert_eq!(f.count() as usize, bits.iter().filter(|b| **b).count());
            let again = Bitfield::from_wire(&f.to_wire(), f.len()).unwrap();
            prop_assert_eq!(again.count(), f.count());
            prop_assert_eq!(&again, &f);
            for (i, b) in bits.iter().enumerate() {
                prop_assert_eq!(again.get(i as u32), *b);
            }
        }
    }
}

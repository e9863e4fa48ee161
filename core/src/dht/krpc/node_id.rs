//! Node ids and the XOR metric of Kademlia.

use core::fmt;

use crate::id::{encode_hex, InfoHash};

/// The 160-bit id of a DHT node, in the same space as info-hashes.
///
/// Closeness is the XOR of two ids read as a big-endian unsigned number
/// ([`NodeId::distance`]); a routing table files a node in the bucket given by
/// the length of the prefix it shares with the table's own id.
///
/// ```
/// use sluice_core::dht::krpc::NodeId;
///
/// let me = NodeId([0; 20]);
/// let mut other = [0; 20];
/// other[0] = 0b0001_0000;
/// let other = NodeId(other);
/// assert_eq!(me.distance(&other).leading_zeros(), 3);
/// assert_eq!(me.bucket_index(&other), Some(156));
/// assert_eq!(me.bucket_index(&me), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub [u8; 20]);

/// The XOR of two ids: ordering distances orders nodes by closeness.
///
/// Comparison is lexicographic over the bytes, which for a big-endian number is
/// numeric order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Distance(pub [u8; 20]);

impl NodeId {
    /// Number of bits in an id.
    pub const BITS: u32 = 160;

    /// The XOR distance to `other`.
    pub fn distance(&self, other: &NodeId) -> Distance {
        let mut out = [0u8; 20];
        for (o, (a, b)) in out.iter_mut().zip(self.0.iter().zip(other.0.iter())) {
            *o = a ^ b;
        }
        Distance(out)
    }

    /// Length of the prefix this id shares with `other`, in bits (160 if equal).
    pub fn common_prefix_len(&self, other: &NodeId) -> u32 {
        self.distance(other).leading_zeros()
    }

    /// The bucket `other` falls in, seen from this id: `i` such that the
    /// distance lies in `[2^i, 2^(i+1))`, so 159 for the farthest half of the
    /// space and 0 for the id differing only in its last bit. `None` for the
    /// id itself.
    pub fn bucket_index(&self, other: &NodeId) -> Option<u32> {
        Self::BITS
            .checked_sub(self.common_prefix_len(other) + 1)
            .filter(|_| self != other)
    }

    /// Lowercase hex, 40 characters.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }
}

impl Distance {
    /// The distance from an id to itself.
    pub const ZERO: Distance = Distance([0; 20]);

    /// Number of leading zero bits (160 for [`Distance::ZERO`]).
    pub fn leading_zeros(&self) -> u32 {
        let mut zeros = 0;
        for &b in &self.0 {
            zeros += b.leading_zeros();
            if b != 0 {
                break;
            }
        }
        zeros
    }
}

impl From<InfoHash> for NodeId {
    /// An info-hash as a point in the id space: the target of a `get_peers`.
    fn from(hash: InfoHash) -> Self {
        NodeId(hash.0)
    }
}

impl From<NodeId> for InfoHash {
    fn from(id: NodeId) -> Self {
        InfoHash(id.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.to_hex())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(bytes: [u8; 20]) -> NodeId {
        NodeId(bytes)
    }

    #[test]
    fn buckets_at_the_edges() {
        let zero = id([0; 20]);
        let mut last = [0; 20];
        last[19] = 1;
        assert_eq!(zero.bucket_index(&id(last)), Some(0));
        assert_eq!(zero.common_prefix_len(&id(last)), 159);
        let mut first = [0; 20];
        first[0] = 0x80;
        assert_eq!(zero.bucket_index(&id(first)), Some(159));
        assert_eq!(zero.common_prefix_len(&zero), 160);
        assert_eq!(zero.distance(&zero), Distance::ZERO);
        assert_eq!(Distance::ZERO.leading_zeros(), 160);
        assert_eq!(
            format!("{:?}", id([0xab; 20])),
            format!("NodeId({})", "ab".repeat(20))
        );
    }

    #[test]
    fn info_hashes_convert_both_ways() {
        let h = InfoHash([7; 20]);
        assert_eq!(InfoHash::from(NodeId::from(h)), h);
    }

    fn xor(a: &Distance, b: &Distance) -> Distance {
        NodeId(a.0).distance(&NodeId(b.0))
    }

    proptest! {
        #[test]
        fn distance_is_a_metric(a in any::<[u8; 20]>(), b in any::<[u8; 20]>(), c in any::<[u8; 20]>()) {
            let (a, b, c) = (id(a), id(b), id(c));
            prop_assert_eq!(a.distance(&a), Distance::ZERO);
            prop_assert_eq!(a.distance(&b), b.distance(&a));
            prop_assert_eq!(a.distance(&b) == Distance::ZERO, a == b);
            // XOR's triangle: d(a,c) = d(a,b) ^ d(b,c), hence d(a,c) <= d(a,b) + d(b,c).
            let (ab, bc, ac) = (a.distance(&b), b.distance(&c), a.distance(&c));
            prop_assert_eq!(xor(&ab, &bc), ac);
            let sum = add(&ab, &bc);
            prop_assert!(sum.is_none_or(|s| ac.0 <= s));
        }

        #[test]
        fn bucket_index_matches_the_highest_differing_bit(a in any::<[u8; 20]>(), bit in 0u32..160) {
            let a = id(a);
            let mut b = a;
            b.0[19 - (bit / 8) as usize] ^= 1 << (bit % 8);
            prop_assert_eq!(a.bucket_index(&b), Some(bit));
            prop_assert_eq!(a.common_prefix_len(&b), 159 - bit);
        }

        #[test]
        fn unique_closest_under_xor(t in any::<[u8; 20]>(), a in any::<[u8; 20]>(), b in any::<[u8; 20]>()) {
            // Distinct ids are never equally far from a target.
            let (t, a, b) = (id(t), id(a), id(b));
            prop_assert_eq!(t.distance(&a) == t.distance(&b), a == b);
        }
    }

    /// Big-endian 160-bit sum, `None` on overflow.
    fn add(a: &Distance, b: &Distance) -> Option<[u8; 20]> {
        let mut out = [0u8; 20];
        let mut carry = 0u16;
        for i in (0..20).rev() {
            let s = u16::from(a.0[i]) + u16::from(b.0[i]) + carry;
            out[i] = s as u8;
            carry = s >> 8;
        }
        (carry == 0).then_some(out)
    }
}

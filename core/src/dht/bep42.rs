//! The DHT security extension (BEP 42): node ids tied to IP addresses.
//!
//! A compliant node id starts with 21 bits taken from the CRC32C of the
//! node's masked external IP address combined with a 3-bit random number `r`,
//! and ends with a byte whose low 3 bits are `r`. An attacker therefore cannot
//! choose ids close to a target without controlling many addresses.
//!
//! [`is_valid_node_id`] checks the rule, [`is_exempt`] tells which addresses
//! BEP 42 exempts (local networks), and [`generate_node_id`] makes a compliant
//! id for our own node once the external address is known.
//!
//! ```
//! use core::net::{IpAddr, Ipv4Addr};
//! use sluice_core::dht::bep42::{generate_node_id, is_valid_node_id};
//! use sluice_core::Rng;
//!
//! let ip = IpAddr::V4(Ipv4Addr::new(124, 31, 75, 21));
//! let id = generate_node_id(ip, &mut Rng::new(1));
//! assert!(is_valid_node_id(&id, ip));
//! ```

use core::net::IpAddr;

use super::krpc::NodeId;
use crate::rng::Rng;

/// The reflected CRC32C (Castagnoli) polynomial.
const CASTAGNOLI: u32 = 0x82F6_3B78;

/// The byte-at-a-time lookup table, built at compile time.
const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ CASTAGNOLI
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// CRC32C (Castagnoli, as in iSCSI and SSE 4.2) of `data`.
///
/// ```
/// use sluice_core::dht::bep42::crc32c;
///
/// assert_eq!(crc32c(b"123456789"), 0xE306_9283);
/// assert_eq!(crc32c(b""), 0);
/// ```
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = (crc >> 8) ^ CRC_TABLE[usize::from((crc as u8) ^ b)];
    }
    !crc
}

/// Mask applied to an IPv4 address before hashing.
const V4_MASK: [u8; 4] = [0x03, 0x0f, 0x3f, 0xff];
/// Mask applied to the high 64 bits of an IPv6 address before hashing.
const V6_MASK: [u8; 8] = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

/// The CRC32C that the first 21 bits of a node id at `ip` must match, for the
/// random number `r` (only its low 3 bits count).
///
/// IPv4 hashes the 4 masked address bytes, IPv6 the 8 masked high bytes, with
/// `r` in the top 3 bits of the first byte, as the BEP's reference code does.
/// An IPv4-mapped IPv6 address counts as the IPv4 address.
pub fn id_prefix(ip: IpAddr, r: u8) -> u32 {
    let r = (r & 7) << 5;
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let mut bytes = v4.octets();
            for (b, m) in bytes.iter_mut().zip(V4_MASK) {
                *b &= m;
            }
            bytes[0] |= r;
            crc32c(&bytes)
        }
        IpAddr::V6(v6) => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&v6.octets()[..8]);
            for (b, m) in bytes.iter_mut().zip(V6_MASK) {
                *b &= m;
            }
            bytes[0] |= r;
            crc32c(&bytes)
        }
    }
}

/// True when `id` obeys BEP 42's rule for `ip`: its first 21 bits match
/// [`id_prefix`] of `ip` with `r` = the low 3 bits of the id's last byte.
///
/// This is the formula alone: addresses that BEP 42 exempts ([`is_exempt`])
/// are not special here. A caller enforcing the rule accepts
/// `is_exempt(ip) || is_valid_node_id(id, ip)`.
pub fn is_valid_node_id(id: &NodeId, ip: IpAddr) -> bool {
    let h = id_prefix(ip, id.0[19]).to_be_bytes();
    id.0[0] == h[0] && id.0[1] == h[1] && (id.0[2] & 0xf8) == (h[2] & 0xf8)
}

/// True for addresses BEP 42 exempts from the id rule: the local networks
/// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16 and 127.0.0.0/8.
///
/// For IPv6, which the BEP does not list, the equivalents are exempt too:
/// loopback `::1`, unique local `fc00::/7` and link-local `fe80::/10`. An
/// IPv4-mapped IPv6 address counts as the IPv4 address.
pub fn is_exempt(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || v4.is_loopback(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// True when a node claiming `id` at `ip` is acceptable under BEP 42:
/// `ip` is exempt or the id is valid for it.
pub fn complies(id: &NodeId, ip: IpAddr) -> bool {
    is_exempt(ip) || is_valid_node_id(id, ip)
}

/// A node id valid for our external address `ip` under BEP 42, with every
/// free bit drawn from `rng`.
pub fn generate_node_id(ip: IpAddr, rng: &mut Rng) -> NodeId {
    let mut id = [0u8; 20];
    for chunk in id.chunks_mut(8) {
        let r = rng.next_u64().to_be_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    let h = id_prefix(ip, id[19]).to_be_bytes();
    id[0] = h[0];
    id[1] = h[1];
    id[2] = (h[2] & 0xf8) | (id[2] & 0x07);
    NodeId(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn hex_id(s: &str) -> NodeId {
        let mut id = [0u8; 20];
        for (i, b) in id.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        NodeId(id)
    }

    /// The BEP's table: IP, rand, and the example node id.
    const VECTORS: [([u8; 4], u8, &str); 5] = [
        (
            [124, 31, 75, 21],
            1,
            "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401",
        ),
        (
            [21, 75, 31, 124],
            86,
            "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256",
        ),
        (
            [65, 23, 51, 170],
            22,
            "a5d43220bc8f112a3d426c84764f8c2a1150e616",
        ),
        (
            [84, 124, 73, 14],
            65,
            "1b0321dd1bb1fe518101ceef99462b947a01ff41",
        ),
        (
            [43, 213, 53, 83],
            90,
            "e56f6cbf5b7c4be0237986d5243b87aa6d51305a",
        ),
    ];

    #[test]
    fn crc32c_known_answers() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xff; 32]), 0x62A8_AB43);
    }

    #[test]
    fn bep_test_vectors() {
        for ([a, b, c, d], rand, hex) in VECTORS {
            let ip = v4(a, b, c, d);
            let id = hex_id(hex);
            assert_eq!(id.0[19], rand);
            // The top 21 bits of the CRC are the id's first 21 bits.
            let prefix = id_prefix(ip, rand) >> 11;
            let expected = u32::from_be_bytes([0, id.0[0], id.0[1], id.0[2]]) >> 3;
            assert_eq!(prefix, expected, "{ip}");
            assert!(is_valid_node_id(&id, ip), "{ip}");
            assert!(complies(&id, ip));
            // Another address, another r or a flipped prefix bit fails.
            assert!(!is_valid_node_id(&id, v4(a, b, c ^ 1, d)));
            let mut other_r = id;
            other_r.0[19] ^= 1;
            assert!(!is_valid_node_id(&other_r, ip));
            let mut flipped = id;
            flipped.0[2] ^= 0x08;
            assert!(!is_valid_node_id(&flipped, ip));
            // Bits past the 21st and the high bits of the last byte are free.
            let mut free = id;
            free.0[2] ^= 0x07;
            free.0[10] ^= 0xff;
            free.0[19] ^= 0xf8;
            assert!(is_valid_node_id(&free, ip));
        }
    }

    #[test]
    fn exemptions() {
        for ip in [
            v4(10, 1, 2, 3),
            v4(172, 16, 0, 1),
            v4(172, 31, 255, 255),
            v4(192, 168, 1, 1),
            v4(169, 254, 3, 4),
            v4(127, 0, 0, 1),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            "fd00::1".parse().unwrap(),
            "fe80::1".parse().unwrap(),
            "::ffff:10.0.0.1".parse().unwrap(),
        ] {
            assert!(is_exempt(ip), "{ip}");
            assert!(complies(&NodeId([0; 20]), ip));
        }
        for ip in [
            v4(172, 32, 0, 1),
            v4(8, 8, 8, 8),
            "2001:db8::1".parse().unwrap(),
            "::ffff:8.8.8.8".parse().unwrap(),
        ] {
            assert!(!is_exempt(ip), "{ip}");
        }
    }

    #[test]
    fn mapped_addresses_hash_as_ipv4() {
        let ip = v4(124, 31, 75, 21);
        let mapped: IpAddr = "::ffff:124.31.75.21".parse().unwrap();
        assert_eq!(id_prefix(ip, 3), id_prefix(mapped, 3));
    }

    proptest! {
        #[test]
        fn generated_ids_are_valid(seed in any::<u64>(), ip in any::<[u8; 4]>(), ip6 in any::<[u8; 16]>()) {
            let mut rng = Rng::new(seed);
            let ip = IpAddr::V4(Ipv4Addr::from(ip));
            prop_assert!(is_valid_node_id(&generate_node_id(ip, &mut rng), ip));
            let ip6 = IpAddr::V6(Ipv6Addr::from(ip6));
            prop_assert!(is_valid_node_id(&generate_node_id(ip6, &mut rng), ip6));
        }

        #[test]
        fn only_the_masked_bits_matter(ip in any::<[u8; 4]>(), noise in any::<[u8; 4]>(), r in any::<u8>()) {
            let mut other = ip;
            for ((o, n), m) in other.iter_mut().zip(noise).zip(V4_MASK) {
                *o ^= n & !m;
            }
            let (a, b) = (IpAddr::V4(Ipv4Addr::from(ip)), IpAddr::V4(Ipv4Addr::from(other)));
            prop_assert_eq!(id_prefix(a, r), id_prefix(b, r));
        }
    }
}

//! Bencode: a borrowing decoder that remembers where every value came from, and a
//! canonical encoder.
//!
//! The decoder keeps the exact byte span of each value ([`Node::raw`]) because the
//! info-hash of a torrent is the SHA-1 of the `info` dictionary *as it appears in
//! the file*, canonical or not: re-encoding a dictionary whose keys were unsorted
//! would give another hash and the torrent would never be found in the swarm.
//!
//! Input is untrusted, so everything is bounded by [`Limits`] and every failure is
//! a [`DecodeError`] naming the byte offset where the input went wrong.
//!
//! ```
//! use sluice_core::bencode::{decode, Value};
//!
//! let input = b"d3:cow3:moo4:spaml4:eggsi42eee";
//! let root = decode(input).unwrap();
//! let dict = root.as_dict().unwrap();
//! assert_eq!(dict.get(b"cow").and_then(|n| n.as_bytes()), Some(&b"moo"[..]));
//! let spam = dict.get(b"spam").unwrap();
//! assert_eq!(spam.raw, b"l4:eggsi42ee");
//! assert!(matches!(spam.value, Value::List(ref items) if items.len() == 2));
//! // Re-encoding a canonical input gives the same bytes back.
//! assert_eq!(root.to_owned().to_bytes(), input.to_vec());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use nom::bytes::complete::tag;
use nom::character::complete::digit1;
use nom::combinator::{opt, recognize};
use nom::sequence::pair;
use nom::{IResult, Parser};

/// Bounds that keep a hostile input from using unbounded stack or memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of lists and dictionaries (the root container is depth 1).
    pub max_depth: usize,
    /// Longest single byte string.
    pub max_string_len: usize,
    /// Most values (of any kind) in one document.
    pub max_values: usize,
}

impl Default for Limits {
    /// Generous enough for any real `.torrent` (a 100k-file torrent has well under a
    /// million values), small enough that a crafted input cannot exhaust memory.
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_string_len: 64 << 20,
            max_values: 4 << 20,
        }
    }
}

/// A decoded value together with the bytes it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node<'a> {
    /// The value itself.
    pub value: Value<'a>,
    /// The exact input bytes of this value, from its first to its last byte.
    pub raw: &'a [u8],
    /// Byte offset of `raw` within the decoded document.
    pub offset: usize,
}

/// A bencode value borrowing its strings from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// `i…e`: a signed 64-bit integer.
    Integer(i64),
    /// `N:…`: a byte string (not necessarily UTF-8).
    Bytes(&'a [u8]),
    /// `l…e`
    List(Vec<Node<'a>>),
    /// `d…e`, entries in input order (which canonical bencode requires sorted).
    Dict(Dict<'a>),
}

/// A decoded dictionary: keys are unique; their input order is kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dict<'a> {
    entries: Vec<(&'a [u8], Node<'a>)>,
    sorted: bool,
}

impl<'a> Dict<'a> {
    /// The value stored under `key`, if any.
    pub fn get(&self, key: &[u8]) -> Option<&Node<'a>> {
        if self.sorted {
            let i = self.entries.binary_search_by(|(k, _)| (*k).cmp(key)).ok()?;
            Some(&self.entries[i].1)
        } else {
            self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
        }
    }

    /// Entries in the order they appeared in the input.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &Node<'a>)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the dictionary has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when the keys appeared in strictly increasing byte order, as canonical
    /// bencode requires.
    pub fn is_sorted(&self) -> bool {
        self.sorted
    }
}

impl<'a> Node<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self.value {
            Value::Integer(i) => Some(i),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, if this is a byte string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list items, if this is a list.
    pub fn as_list(&self) -> Option<&[Node<'a>]> {
        match &self.value {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match &self.value {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// A short name of the value's type, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Integer(_) => "integer",
            Value::Bytes(_) => "byte string",
            Value::List(_) => "list",
            Value::Dict(_) => "dictionary",
        }
    }

    /// An owned copy of the value, for inspection or canonical re-encoding.
    pub fn to_owned(&self) -> OwnedValue {
        match &self.value {
            Value::Integer(i) => OwnedValue::Integer(*i),
            Value::Bytes(b) => OwnedValue::Bytes(b.to_vec()),
            Value::List(items) => OwnedValue::List(items.iter().map(Node::to_owned).collect()),
            Value::Dict(d) => OwnedValue::Dict(
                d.entries
                    .iter()
                    .map(|(k, v)| (k.to_vec(), v.to_owned()))
                    .collect(),
            ),
        }
    }
}

/// Why decoding failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended in the middle of a value.
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here.
    UnexpectedByte(u8),
    /// An integer with no digits or stray characters (`ie`, `i12xe`).
    InvalidInteger,
    /// A number written with a leading zero (`i03e`, `03:abc`).
    LeadingZero,
    /// `i-0e`, which canonical bencode forbids.
    NegativeZero,
    /// An integer that does not fit in 64 bits.
    IntegerOverflow,
    /// A byte string longer than [`Limits::max_string_len`].
    StringTooLong {
        /// The declared length.
        len: u64,
        /// The limit in force.
        max: usize,
    },
    /// Lists/dictionaries nested deeper than [`Limits::max_depth`].
    TooDeep {
        /// The limit in force.
        max: usize,
    },
    /// More values than [`Limits::max_values`].
    TooManyValues {
        /// The limit in force.
        max: usize,
    },
    /// A dictionary key that is not a byte string.
    KeyNotString,
    /// The same key twice in one dictionary.
    DuplicateKey,
    /// Bytes after the end of the top-level value.
    TrailingBytes,
}

/// A decoding failure and the byte offset where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset into the input of the offending byte (or the input length at EOF).
    pub offset: usize,
    /// What went wrong there.
    pub kind: DecodeErrorKind,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeErrorKind::*;
        match self {
            UnexpectedEnd => write!(f, "input ends in the middle of a value"),
            UnexpectedByte(b) if b.is_ascii_graphic() => {
                write!(f, "unexpected byte '{}'", *b as char)
            }
            UnexpectedByte(b) => write!(f, "unexpected byte 0x{b:02x}"),
            InvalidInteger => write!(f, "malformed integer"),
            LeadingZero => write!(f, "number with a leading zero"),
            NegativeZero => write!(f, "negative zero"),
            IntegerOverflow => write!(f, "integer does not fit in 64 bits"),
            StringTooLong { len, max } => {
                write!(f, "byte string of {len} bytes exceeds the limit of {max}")
            }
            TooDeep { max } => write!(f, "nesting deeper than {max} levels"),
            TooManyValues { max } => write!(f, "more than {max} values"),
            KeyNotString => write!(f, "dictionary key is not a byte string"),
            DuplicateKey => write!(f, "duplicate dictionary key"),
            TrailingBytes => write!(f, "trailing bytes after the value"),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bencode: {} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one complete document with the default [`Limits`]; trailing bytes are
/// an error.
pub fn decode(input: &[u8]) -> Result<Node<'_>, DecodeError> {
    decode_with(input, Limits::default())
}

/// Decodes one complete document; trailing bytes are an error.
pub fn decode_with(input: &[u8], limits: Limits) -> Result<Node<'_>, DecodeError> {
    let (node, used) = decode_prefix(input, limits)?;
    if used != input.len() {
        return Err(DecodeError {
            offset: used,
            kind: DecodeErrorKind::TrailingBytes,
        });
    }
    Ok(node)
}

/// Decodes the value at the start of `input` and says how many bytes it took.
///
/// Extension messages such as ut_metadata put raw data after a bencoded header;
/// this is how to find where the header ends.
pub fn decode_prefix(input: &[u8], limits: Limits) -> Result<(Node<'_>, usize), DecodeError> {
    let mut parser = Decoder {
        input,
        limits,
        values: 0,
    };
    let node = parser.value(0, 0)?;
    let used = node.offset + node.raw.len();
    Ok((node, used))
}

struct Decoder<'a> {
    input: &'a [u8],
    limits: Limits,
    values: usize,
}

/// `-?[0-9]+`, the body of an integer.
fn signed_digits(input: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize(pair(opt(tag(&b"-"[..])), digit1)).parse(input)
}

/// `[0-9]+:`, the length prefix of a byte string.
fn length_prefix(input: &[u8]) -> IResult<&[u8], &[u8]> {
    let (rest, digits) = digit1(input)?;
    let (rest, _) = tag(&b":"[..]).parse(rest)?;
    Ok((rest, digits))
}

impl<'a> Decoder<'a> {
    fn err<T>(&self, offset: usize, kind: DecodeErrorKind) -> Result<T, DecodeError> {
        Err(DecodeError { offset, kind })
    }

    /// Offset of `rest` (a suffix of the input) from the input's start.
    fn offset_of(&self, rest: &[u8]) -> usize {
        self.input.len() - rest.len()
    }

    fn byte_at(&self, at: usize) -> Result<u8, DecodeError> {
        match self.input.get(at) {
            Some(&b) => Ok(b),
            None => self.err(at, DecodeErrorKind::UnexpectedEnd),
        }
    }

    fn node(&self, value: Value<'a>, start: usize, end: usize) -> Node<'a> {
        Node {
            value,
            raw: &self.input[start..end],
            offset: start,
        }
    }

    /// Decodes the value starting at `at`, nested `depth` containers deep.
    fn value(&mut self, at: usize, depth: usize) -> Result<Node<'a>, DecodeError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return self.err(
                at,
                DecodeErrorKind::TooManyValues {
                    max: self.limits.max_values,
                },
            );
        }
        match self.byte_at(at)? {
            b'i' => self.integer(at),
            b'0'..=b'9' => self.bytes(at),
            b'l' | b'd' if depth >= self.limits.max_depth => self.err(
                at,
                DecodeErrorKind::TooDeep {
                    max: self.limits.max_depth,
                },
            ),
            b'l' => self.list(at, depth + 1),
            b'd' => self.dict(at, depth + 1),
            other => self.err(at, DecodeErrorKind::UnexpectedByte(other)),
        }
    }

    fn integer(&mut self, at: usize) -> Result<Node<'a>, DecodeError> {
        let body = &self.input[at + 1..];
        let (rest, digits) = match signed_digits(body) {
            Ok(ok) => ok,
            Err(_) if body.is_empty() || body == b"-" => {
                return self.err(self.input.len(), DecodeErrorKind::UnexpectedEnd)
            }
            Err(_) => return self.err(at + 1, DecodeErrorKind::InvalidInteger),
        };
        let end = self.offset_of(rest);
        match rest.first() {
            Some(b'e') => {}
            Some(_) => return self.err(end, DecodeErrorKind::InvalidInteger),
            None => return self.err(end, DecodeErrorKind::UnexpectedEnd),
        }
        let unsigned = digits.strip_prefix(b"-").unwrap_or(digits);
        if unsigned.len() > 1 && unsigned[0] == b'0' {
            return self.err(at + 1, DecodeErrorKind::LeadingZero);
        }
        if digits == b"-0" {
            return self.err(at + 1, DecodeErrorKind::NegativeZero);
        }
        let value = parse_i64(digits)
            .ok_or(())
            .or_else(|_| self.err(at + 1, DecodeErrorKind::IntegerOverflow))?;
        Ok(self.node(Value::Integer(value), at, end + 1))
    }

    fn bytes(&mut self, at: usize) -> Result<Node<'a>, DecodeError> {
        let (bytes, end) = self.string(at)?;
        Ok(self.node(Value::Bytes(bytes), at, end))
    }

    /// The byte string starting at `at`, and the offset just past it.
    fn string(&self, at: usize) -> Result<(&'a [u8], usize), DecodeError> {
        let (start, len) = self.string_header(at)?;
        match start.checked_add(len) {
            Some(end) if end <= self.input.len() => Ok((&self.input[start..end], end)),
            _ => self.err(self.input.len(), DecodeErrorKind::UnexpectedEnd),
        }
    }

    /// Parses `N:` at `at`; returns where the string's bytes start and its length.
    fn string_header(&self, at: usize) -> Result<(usize, usize), DecodeError> {
        let (rest, digits) = match length_prefix(&self.input[at..]) {
            Ok(ok) => ok,
            Err(_) => {
                let digits = self.input[at..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let after = at + digits;
                return match self.input.get(after) {
                    None => self.err(after, DecodeErrorKind::UnexpectedEnd),
                    Some(&b) => self.err(after, DecodeErrorKind::UnexpectedByte(b)),
                };
            }
        };
        if digits.len() > 1 && digits[0] == b'0' {
            return self.err(at, DecodeErrorKind::LeadingZero);
        }
        let max = self.limits.max_string_len;
        let len = match parse_i64(digits) {
            Some(len) if (len as u64) <= max as u64 => len as usize,
            Some(len) => {
                return self.err(
                    at,
                    DecodeErrorKind::StringTooLong {
                        len: len as u64,
                        max,
                    },
                )
            }
            None => return self.err(at, DecodeErrorKind::StringTooLong { len: u64::MAX, max }),
        };
        Ok((self.offset_of(rest), len))
    }

    fn list(&mut self, at: usize, depth: usize) -> Result<Node<'a>, DecodeError> {
        let mut items = Vec::new();
        let mut pos = at + 1;
        loop {
            if self.byte_at(pos)? == b'e' {
                return Ok(self.node(Value::List(items), at, pos + 1));
            }
            let item = self.value(pos, depth)?;
            pos = item.offset + item.raw.len();
            items.push(item);
        }
    }

    fn dict(&mut self, at: usize, depth: usize) -> Result<Node<'a>, DecodeError> {
        let mut entries: Vec<(&'a [u8], Node<'a>)> = Vec::new();
        let mut sorted = true;
        let mut pos = at + 1;
        loop {
            let b = self.byte_at(pos)?;
            if b == b'e' {
                if !sorted {
                    check_unique(&entries)
                        .or_else(|offset| self.err(offset, DecodeErrorKind::DuplicateKey))?;
                }
                let dict = Dict { entries, sorted };
                return Ok(self.node(Value::Dict(dict), at, pos + 1));
            }
            if !b.is_ascii_digit() {
                return self.err(pos, DecodeErrorKind::KeyNotString);
            }
            let (key, value_at) = self.string(pos)?;
            if let Some((last, _)) = entries.last() {
                match (*last).cmp(key) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        return self.err(pos, DecodeErrorKind::DuplicateKey)
                    }
                    std::cmp::Ordering::Greater => sorted = false,
                }
            }
            let value = self.value(value_at, depth)?;
            pos = value.offset + value.raw.len();
            entries.push((key, value));
        }
    }
}

/// Checks an unsorted dictionary for repeated keys; returns the offset of the
/// later duplicate's value on failure.
fn check_unique(entries: &[(&[u8], Node<'_>)]) -> Result<(), usize> {
    let mut keys: Vec<(&[u8], usize)> = entries.iter().map(|(k, v)| (*k, v.offset)).collect();
    keys.sort_unstable();
    for pair in keys.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(pair[0].1.max(pair[1].1));
        }
    }
    Ok(())
}

/// Parses `-?[0-9]+` into an i64 without overflow.
fn parse_i64(digits: &[u8]) -> Option<i64> {
    let (negative, digits) = match digits.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, digits),
    };
    let mut value: i64 = 0;
    for &d in digits {
        let d = (d - b'0') as i64;
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(d)?
        } else {
            value.checked_add(d)?
        };
    }
    Some(value)
}

/// An owned bencode value, for building documents to encode.
///
/// Dictionaries are `BTreeMap`s, so encoding is always canonical (keys sorted by
/// their raw bytes).
///
/// ```
/// use sluice_core::bencode::OwnedValue;
/// let mut d = OwnedValue::dict();
/// d.insert("length", OwnedValue::Integer(5));
/// d.insert("name", OwnedValue::from("a.txt"));
/// assert_eq!(d.to_bytes(), b"d6:lengthi5e4:name5:a.txte");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedValue {
    /// An integer.
    Integer(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<OwnedValue>),
    /// A dictionary with unique, sorted keys.
    Dict(BTreeMap<Vec<u8>, OwnedValue>),
}

impl OwnedValue {
    /// An empty dictionary.
    pub fn dict() -> Self {
        OwnedValue::Dict(BTreeMap::new())
    }

    /// Inserts `key` into a dictionary value.
    ///
    /// # Panics
    /// If `self` is not a dictionary: that is a programming error in the caller,
    /// never something input can cause.
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: OwnedValue) {
        match self {
            OwnedValue::Dict(map) => {
                map.insert(key.as_ref().to_vec(), value);
            }
            _ => panic!("OwnedValue::insert on a non-dictionary"),
        }
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            OwnedValue::Integer(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            OwnedValue::Bytes(b) => encode_bytes(b, out),
            OwnedValue::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode(out);
                }
                out.push(b'e');
            }
            OwnedValue::Dict(map) => {
                out.push(b'd');
                for (k, v) in map {
                    encode_bytes(k, out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The canonical encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

impl From<&str> for OwnedValue {
    fn from(s: &str) -> Self {
        OwnedValue::Bytes(s.as_bytes().to_vec())
    }
}

impl From<String> for OwnedValue {
    fn from(s: String) -> Self {
        OwnedValue::Bytes(s.into_bytes())
    }
}

impl From<Vec<u8>> for OwnedValue {
    fn from(b: Vec<u8>) -> Self {
        OwnedValue::Bytes(b)
    }
}

impl From<i64> for OwnedValue {
    fn from(i: i64) -> Self {
        OwnedValue::Integer(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind(input: &[u8]) -> DecodeErrorKind {
        decode(input).unwrap_err().kind
    }

    fn err_at(input: &[u8]) -> (usize, DecodeErrorKind) {
        let e = decode(input).unwrap_err();
        (e.offset, e.kind)
    }

    #[test]
    fn integers() {
        assert_eq!(decode(b"i0e").unwrap().as_int(), Some(0));
        assert_eq!(decode(b"i-42e").unwrap().as_int(), Some(-42));
        assert_eq!(
            decode(b"i9223372036854775807e").unwrap().as_int(),
            Some(i64::MAX)
        );
        assert_eq!(
            decode(b"i-9223372036854775808e").unwrap().as_int(),
            Some(i64::MIN)
        );
        assert_eq!(
            kind(b"i9223372036854775808e"),
            DecodeErrorKind::IntegerOverflow
        );
        assert_eq!(kind(b"i03e"), DecodeErrorKind::LeadingZero);
        assert_eq!(kind(b"i-0e"), DecodeErrorKind::NegativeZero);
        assert_eq!(kind(b"ie"), DecodeErrorKind::InvalidInteger);
        assert_eq!(kind(b"i12x"), DecodeErrorKind::InvalidInteger);
        assert_eq!(kind(b"i12"), DecodeErrorKind::UnexpectedEnd);
        assert_eq!(kind(b"i-"), DecodeErrorKind::UnexpectedEnd);
        assert_eq!(kind(b"i"), DecodeErrorKind::UnexpectedEnd);
    }

    #[test]
    fn strings() {
        assert_eq!(decode(b"0:").unwrap().as_bytes(), Some(&b""[..]));
        assert_eq!(decode(b"4:spam").unwrap().as_str(), Some("spam"));
        assert_eq!(err_at(b"5:spam"), (6, DecodeErrorKind::UnexpectedEnd));
        assert_eq!(err_at(b"04:spam"), (0, DecodeErrorKind::LeadingZero));
        assert_eq!(err_at(b"4spam"), (1, DecodeErrorKind::UnexpectedByte(b's')));
        assert_eq!(err_at(b"12"), (2, DecodeErrorKind::UnexpectedEnd));
        assert!(matches!(
            kind(b"99999999999999999999999:"),
            DecodeErrorKind::StringTooLong { .. }
        ));
    }

    #[test]
    fn containers_and_spans() {
        let input = b"d1:ad1:bi1eee";
        let root = decode(input).unwrap();
        let a = root.as_dict().unwrap().get(b"a").unwrap();
        assert_eq!(a.raw, b"d1:bi1ee");
        assert_eq!(a.offset, 4);
        assert_eq!(err_at(b"l"), (1, DecodeErrorKind::UnexpectedEnd));
        assert_eq!(err_at(b"li1e"), (4, DecodeErrorKind::UnexpectedEnd));
        assert_eq!(err_at(b"di1ei2ee"), (1, DecodeErrorKind::KeyNotString));
        assert_eq!(err_at(b"d1:a"), (4, DecodeErrorKind::UnexpectedEnd));
        assert_eq!(err_at(b"i1ei2e"), (3, DecodeErrorKind::TrailingBytes));
        assert_eq!(err_at(b"x"), (0, DecodeErrorKind::UnexpectedByte(b'x')));
        assert_eq!(err_at(b""), (0, DecodeErrorKind::UnexpectedEnd));
    }

    #[test]
    fn unsorted_keys_are_kept_verbatim_but_duplicates_refused() {
        let input = b"d1:bi1e1:ai2ee";
        let root = decode(input).unwrap();
        let d = root.as_dict().unwrap();
        assert!(!d.is_sorted());
        assert_eq!(d.get(b"a").unwrap().as_int(), Some(2));
        assert_eq!(root.raw, input);
        // Canonical re-encoding differs, which is why raw spans exist.
        assert_ne!(root.to_owned().to_bytes(), input.to_vec());
        assert_eq!(kind(b"d1:ai1e1:ai2ee"), DecodeErrorKind::DuplicateKey);
        assert_eq!(kind(b"d1:bi1e1:ai2e1:bi3ee"), DecodeErrorKind::DuplicateKey);
    }

    #[test]
    fn limits_hold() {
        let deep = vec![b'l'; 100_000];
        assert_eq!(kind(&deep), DecodeErrorKind::TooDeep { max: 64 });
        let limits = Limits {
            max_depth: 2,
            max_string_len: 3,
            max_values: 4,
        };
        assert!(decode_with(b"lli1eee", limits).is_ok());
        assert_eq!(
            decode_with(b"llli1eeee", limits).unwrap_err().kind,
            DecodeErrorKind::TooDeep { max: 2 }
        );
        assert_eq!(
            decode_with(b"4:spam", limits).unwrap_err().kind,
            DecodeErrorKind::StringTooLong { len: 4, max: 3 }
        );
        assert_eq!(
            decode_with(b"li1ei2ei3ei4ee", limits).unwrap_err().kind,
            DecodeErrorKind::TooManyValues { max: 4 }
        );
    }

    #[test]
    fn prefix_decoding_reports_consumed_length() {
        let (node, used) = decode_prefix(b"d8:msg_typei1eeRAWDATA", Limits::default()).unwrap();
        assert_eq!(used, 15);
        assert!(node.as_dict().is_some());
    }

    fn arb_value() -> impl Strategy<Value = OwnedValue> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(OwnedValue::Integer),
            proptest::collection::vec(any::<u8>(), 0..24).prop_map(OwnedValue::Bytes),
        ];
        leaf.prop_recursive(5, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(OwnedValue::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..8),
                    inner,
                    0..8
                )
                .prop_map(OwnedValue::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(value in arb_value()) {
            let bytes = value.to_bytes();
            let node = decode(&bytes).unwrap();
            prop_assert_eq!(node.raw, &bytes[..]);
            prop_assert_eq!(node.to_owned(), value);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(node) = decode(&bytes) {
                // Whatever decodes spans the whole input.
                prop_assert_eq!(node.raw, &bytes[..]);
            }
        }

        #[test]
        fn mutated_documents_never_panic(
            value in arb_value(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
            cut in any::<usize>(),
        ) {
            let mut bytes = value.to_bytes();
            for (at, b) in flips {
                let i = at % bytes.len();
                bytes[i] = b;
            }
            bytes.truncate(cut % (bytes.len() + 1));
            if let Err(e) = decode(&bytes) {
                prop_assert!(e.offset <= bytes.len());
            }
        }
    }
}

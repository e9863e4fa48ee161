//! A tiny bencode writer for building `.torrent` files by hand, hostile ones included.
//!
//! Dictionaries built with [`dict`] are written with sorted keys, as BEP 3 asks;
//! [`Value::Raw`] and [`dict_unsorted`] write anything at all.

/// A bencode value, or raw bytes written as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `i<n>e` (i128, so values beyond i64 can be written).
    Int(i128),
    /// `<len>:<bytes>`.
    Bytes(Vec<u8>),
    /// `l...e`.
    List(Vec<Value>),
    /// `d...e`, entries written in this order.
    Dict(Vec<(Vec<u8>, Value)>),
    /// Written verbatim: malformed fragments.
    Raw(Vec<u8>),
}

/// An integer.
pub fn int(n: impl Into<i128>) -> Value {
    Value::Int(n.into())
}

/// A byte string.
pub fn bytes(b: impl AsRef<[u8]>) -> Value {
    Value::Bytes(b.as_ref().to_vec())
}

/// A list.
pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
    Value::List(items.into_iter().collect())
}

/// A dictionary, keys sorted by their raw bytes.
pub fn dict<K: AsRef<[u8]>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
    let mut entries: Vec<(Vec<u8>, Value)> = entries
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_vec(), v))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Dict(entries)
}

/// A dictionary whose entries are written in the given order.
pub fn dict_unsorted<K: AsRef<[u8]>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
    Value::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_vec(), v))
            .collect(),
    )
}

/// Raw bytes, written verbatim.
pub fn raw(b: impl AsRef<[u8]>) -> Value {
    Value::Raw(b.as_ref().to_vec())
}

impl Value {
    /// The encoded bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Append the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(n) => out.extend_from_slice(format!("i{n}e").as_bytes()),
            Value::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Value::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode_into(out);
                }
                out.push(b'e');
            }
            Value::Dict(entries) => {
                out.push(b'd');
                for (k, v) in entries {
                    out.extend_from_slice(format!("{}:", k.len()).as_bytes());
                    out.extend_from_slice(k);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
            Value::Raw(b) => out.extend_from_slice(b),
        }
    }

    /// Set `key` in a dictionary (replacing its value, or inserting it in sorted
    /// position). Panics if `self` is not a dictionary.
    pub fn set(&mut self, key: impl AsRef<[u8]>, value: Value) -> &mut Value {
        let Value::Dict(entries) = self else {
            panic!("set on a non-dictionary");
        };
        let key = key.as_ref();
        match entries.iter().position(|(k, _)| k.as_slice() >= key) {
            Some(i) if entries[i].0 == key => entries[i].1 = value,
            Some(i) => entries.insert(i, (key.to_vec(), value)),
            None => entries.push((key.to_vec(), value)),
        }
        self
    }

    /// Remove `key` from a dictionary. Panics if `self` is not a dictionary.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> &mut Value {
        let Value::Dict(entries) = self else {
            panic!("remove on a non-dictionary");
        };
        entries.retain(|(k, _)| k.as_slice() != key.as_ref());
        self
    }

    /// The value under `key` in a dictionary, for editing.
    pub fn get_mut(&mut self, key: impl AsRef<[u8]>) -> Option<&mut Value> {
        let Value::Dict(entries) = self else {
            return None;
        };
        entries
            .iter_mut()
            .find(|(k, _)| k.as_slice() == key.as_ref())
            .map(|(_, v)| v)
    }
}

/// Hex SHA-1 of the encoding of `info`: the v1 info-hash of a torrent whose info
/// dictionary is `info`.
pub fn info_hash_hex(info: &Value) -> String {
    sha1_smol::Sha1::from(info.encode()).digest().to_string()
}

/// A `pieces` value holding `count` (meaningless) 20-byte hashes.
pub fn fake_pieces(count: usize) -> Value {
    Value::Bytes((0..count * 20).map(|i| (i * 7 + 3) as u8).collect())
}

/// A well-formed single-file info dictionary (the piece hashes do not match any data).
pub fn single_file_info(name: &str, length: i64, piece_length: i64) -> Value {
    let pieces = (length as u64).div_ceil(piece_length as u64) as usize;
    dict([
        ("length", int(length)),
        ("name", bytes(name)),
        ("piece length", int(piece_length)),
        ("pieces", fake_pieces(pieces)),
    ])
}

/// A well-formed multi-file info dictionary; `files` are (path components, length).
pub fn multi_file_info(name: &str, files: &[(&[&str], i64)], piece_length: i64) -> Value {
    let total: i64 = files.iter().map(|f| f.1).sum();
    let pieces = (total as u64).div_ceil(piece_length as u64) as usize;
    let files = files.iter().map(|(path, length)| {
        dict([
            ("length", int(*length)),
            ("path", list(path.iter().map(bytes))),
        ])
    });
    dict([
        ("files", list(files)),
        ("name", bytes(name)),
        ("piece length", int(piece_length)),
        ("pieces", fake_pieces(pieces)),
    ])
}

/// A metainfo dictionary around `info`, with a loopback announce URL.
pub fn torrent(info: Value) -> Value {
    dict([
        ("announce", bytes("http://127.0.0.1:1/announce")),
        ("info", info),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes() {
        let v = dict([
            ("b", list([int(-3), bytes("xy")])),
            ("a", int(0)),
            ("c", raw("i1")),
        ]);
        assert_eq!(v.encode(), b"d1:ai0e1:bli-3e2:xye1:ci1e");
        let mut v = v;
        v.set("bb", int(1)).set("a", int(2)).remove("c");
        assert_eq!(v.encode(), b"d1:ai2e1:bli-3e2:xye2:bbi1ee");
    }

    #[test]
    fn info_hash_of_known_value() {
        // SHA-1("de") = ...
        assert_eq!(
            info_hash_hex(&dict::<&str>([])),
            sha1_smol::Sha1::from(b"de").digest().to_string()
        );
        assert_eq!(info_hash_hex(&dict::<&str>([])).len(), 40);
    }
}

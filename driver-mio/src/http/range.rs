//! The `Range` request field (RFC 9110 §14.2), for a representation of a known
//! length.

/// What a `Range` field asks of a representation of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// Serve the whole representation (`200`): no range, a unit other than
    /// `bytes`, or several ranges (which a server may ignore; multipart
    /// responses are not made).
    Whole,
    /// Serve bytes `start..=end` (`206`).
    Part {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// No byte can be served (`416`), or the `bytes` ranges are malformed
    /// (which a server may refuse the same way).
    Unsatisfiable,
}

/// Resolves the value of a `Range` field against a length.
///
/// `bytes=a-b`, `bytes=a-` and `bytes=-n` are read, with optional whitespace
/// around the ranges. `b` past the end is clamped; `a` at or past the end, or
/// `-0`, cannot be satisfied; `-n` longer than the representation means all of
/// it.
pub fn parse_range(value: &str, len: u64) -> RangeRequest {
    let Some((unit, set)) = value.split_once('=') else {
        return RangeRequest::Unsatisfiable;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        // RFC 9110: a range unit the server does not understand is ignored.
        return RangeRequest::Whole;
    }
    let specs: Vec<&str> = set.split(',').map(str::trim).collect();
    let mut parsed = Vec::with_capacity(specs.len().min(16));
    for spec in &specs {
        // Empty list elements are allowed by the list syntax; skip them.
        if spec.is_empty() {
            continue;
        }
        match parse_spec(spec) {
            Some(s) => parsed.push(s),
            None => return RangeRequest::Unsatisfiable,
        }
    }
    match parsed.as_slice() {
        [] => RangeRequest::Unsatisfiable,
        [one] => one.resolve(len),
        several => {
            if several
                .iter()
                .any(|s| s.resolve(len) != RangeRequest::Unsatisfiable)
            {
                RangeRequest::Whole
            } else {
                RangeRequest::Unsatisfiable
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `a-b` or `a-` (`b` = `None`).
    From(u64, Option<u64>),
    /// `-n`.
    Suffix(u64),
}

impl Spec {
    fn resolve(self, len: u64) -> RangeRequest {
        match self {
            Spec::From(start, end) if start < len => RangeRequest::Part {
                start,
                end: end.map_or(len - 1, |e| e.min(len - 1)),
            },
            Spec::Suffix(n) if n > 0 && len > 0 => RangeRequest::Part {
                start: len - n.min(len),
                end: len - 1,
            },
            _ => RangeRequest::Unsatisfiable,
        }
    }
}

fn parse_spec(spec: &str) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        // Digits only: no sign, no spaces inside, no overflow.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if first.is_empty() {
        return number(last).map(Spec::Suffix);
    }
    let start = number(first)?;
    if last.is_empty() {
        return Some(Spec::From(start, None));
    }
    let end = number(last)?;
    (start <= end).then_some(Spec::From(start, Some(end)))
}

#[cfg(test)]
mod tests {
    use super::RangeRequest::{self, *};
    use super::*;

    fn part(start: u64, end: u64) -> RangeRequest {
        Part { start, end }
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(parse_range("bytes=0-99", 1000), part(0, 99));
        assert_eq!(parse_range("bytes=500-", 1000), part(500, 999));
        assert_eq!(parse_range("bytes=-100", 1000), part(900, 999));
        assert_eq!(parse_range("bytes=999-999", 1000), part(999, 999));
        assert_eq!(parse_range("Bytes = 1-2 ", 1000), part(1, 2));
    }

    #[test]
    fn clamping() {
        assert_eq!(parse_range("bytes=900-5000", 1000), part(900, 999));
        assert_eq!(parse_range("bytes=-5000", 1000), part(0, 999));
        assert_eq!(parse_range("bytes=0-18446744073709551615", 10), part(0, 9));
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=1000-2000", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=2000-,3000-", 1000), Unsatisfiable);
    }

    #[test]
    fn malformed_is_refused() {
        for bad in [
            "bytes=",
            "bytes=-",
            "bytes=abc",
            "bytes=5-4",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=1 -2",
            "bytes=0x10-",
            "bytes=99999999999999999999999-",
            "bytes=1-2,x",
            "bytes",
            "",
        ] {
            assert_eq!(parse_range(bad, 1000), Unsatisfiable, "{bad:?}");
        }
    }

    #[test]
    fn other_units_and_several_ranges_mean_the_whole() {
        assert_eq!(parse_range("items=0-5", 1000), Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Whole);
        assert_eq!(parse_range("bytes=0-1,5000-", 1000), Whole);
        assert_eq!(parse_range("bytes=0-1,,", 1000), part(0, 1));
    }
}

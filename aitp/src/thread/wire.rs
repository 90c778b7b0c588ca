//! Tolerant readers for single wire fields, and writing helpers shared by the resources.

use serde::{Deserialize, Deserializer, de, ser::SerializeMap};
use serde_json::{Map, Value};

/// A unix-seconds timestamp as peers write it: an integer (OpenAI), a float (some Python
/// servers write `time.time()`), a numeric string, or an RFC 3339 date. Fractions are
/// truncated toward zero, without going through a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamp(pub(crate) i64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let parsed = match &v {
            Value::Number(n) => n.as_i64().or_else(|| truncate_decimal(n.as_str())),
            Value::String(s) => {
                let s = s.trim();
                truncate_decimal(s).or_else(|| {
                    chrono::DateTime::parse_from_rfc3339(s)
                        .ok()
                        .map(|t| t.timestamp())
                })
            }
            _ => None,
        };
        parsed.map(Timestamp).ok_or_else(|| {
            de::Error::invalid_value(crate::json::unexpected(&v), &"a unix timestamp in seconds")
        })
    }
}

/// The integer part of a decimal number in JSON syntax (`-12.5`, `1.7e9`), if it fits `i64`.
/// Exponents are bounded, so a hostile `1e999999999` costs nothing.
fn truncate_decimal(text: &str) -> Option<i64> {
    decimal(text).map(|d| d.whole)
}

/// A decimal number in JSON syntax, split at its point.
struct Decimal {
    /// The integer part, toward zero.
    whole: i64,
    /// Whether digits other than zero follow the point.
    fraction: bool,
}

fn decimal(text: &str) -> Option<Decimal> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || !(-64..=64).contains(&exponent)
    {
        return None;
    }
    let digits: String = int.chars().chain(frac.chars()).collect();
    let point = int.len() as i64 + i64::from(exponent);
    let (whole, fraction): (String, &str) = if point <= 0 {
        ("0".to_owned(), &digits)
    } else {
        let point = point as usize;
        if point <= digits.len() {
            (digits[..point].to_owned(), &digits[point..])
        } else {
            let mut w = digits.clone();
            w.extend(std::iter::repeat_n('0', point - digits.len()));
            (w, "")
        }
    };
    let fraction = fraction.bytes().any(|b| b != b'0');
    let whole = whole.trim_start_matches('0');
    let magnitude: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    Some(Decimal {
        whole: if negative { -magnitude } else { magnitude },
        fraction,
    })
}

/// Reads an optional count (token limits, `last_messages`) as JSON Schema counts integers:
/// `1062`, and also `1062.0` or `1.062e3`, which some clients write (JSON numbers from
/// JavaScript and Python floats). A fraction or a negative number is refused.
pub(crate) fn opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    let Some(v) = v else { return Ok(None) };
    let count = match &v {
        Value::Number(n) => n.as_u64().or_else(|| {
            decimal(n.as_str())
                .filter(|d| !d.fraction)
                .and_then(|d| u64::try_from(d.whole).ok())
        }),
        _ => None,
    };
    count.map(Some).ok_or_else(|| {
        de::Error::invalid_value(
            crate::json::unexpected(&v),
            &"a non-negative integer (1062 or 1062.0)",
        )
    })
}

/// Writes the unknown fields kept in `extra`, skipping any that would repeat a field the
/// resource writes itself (so a hand-filled `extra` cannot produce duplicate keys).
pub(crate) fn write_extra<M: SerializeMap>(
    map: &mut M,
    extra: &Map<String, Value>,
    known: &[&str],
) -> Result<(), M::Error> {
    for (k, v) in extra {
        if !known.contains(&k.as_str()) {
            map.serialize_entry(k, v)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(json: &str) -> Option<i64> {
        serde_json::from_str::<Timestamp>(json).ok().map(|t| t.0)
    }

    #[test]
    fn timestamps_read_every_form() {
        assert_eq!(ts("1740000000"), Some(1_740_000_000));
        assert_eq!(ts("1740000000.987"), Some(1_740_000_000));
        assert_eq!(ts("1.74e9"), Some(1_740_000_000));
        assert_eq!(ts("17400000001e-1"), Some(1_740_000_000));
        assert_eq!(ts("-1.5"), Some(-1));
        assert_eq!(ts("0.25"), Some(0));
        assert_eq!(ts("\"1740000000\""), Some(1_740_000_000));
        assert_eq!(ts("\"2025-02-19T21:20:00Z\""), Some(1_740_000_000));
        assert_eq!(ts("1e999999999"), None);
        assert_eq!(ts("99999999999999999999"), None);
        assert_eq!(ts("null"), None);
        assert_eq!(ts("\"soon\""), None);
        assert_eq!(ts("true"), None);
    }

    #[test]
    fn counts_read_integral_floats() {
        #[derive(Deserialize)]
        struct C {
            #[serde(default, deserialize_with = "opt_count")]
            n: Option<u64>,
        }
        let n = |json: &str| serde_json::from_str::<C>(json).map(|c| c.n).ok();
        assert_eq!(n(r#"{"n": 1062}"#), Some(Some(1062)));
        assert_eq!(n(r#"{"n": 1062.0}"#), Some(Some(1062)));
        assert_eq!(n(r#"{"n": 1.062e3}"#), Some(Some(1062)));
        assert_eq!(n(r#"{"n": null}"#), Some(None));
        assert_eq!(n("{}"), Some(None));
        assert_eq!(n(r#"{"n": 1062.5}"#), None);
        assert_eq!(n(r#"{"n": -1}"#), None);
        assert_eq!(n(r#"{"n": "7"}"#), None);
        assert_eq!(n(r#"{"n": 1e999999999}"#), None);
    }
}

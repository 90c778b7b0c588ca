//! RFC 8785 (JCS) canonical JSON: the exact bytes every AITP-01 signature covers.

use serde_json::{Number, Value};

/// Why a value has no canonical form that can be signed safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// An integer outside ±(2^53 − 1) that is not exactly the JCS text of a double. JCS writes
    /// numbers through IEEE 754 doubles, where such an integer would silently become a
    /// neighbour: two different messages would then share one signature. Refused, as Python's
    /// `rfc8785` refuses it (which also refuses the exact ones, such as `100000000000000000000`).
    #[error("the integer {0} is outside the range JCS can sign exactly (±(2^53 - 1))")]
    IntegerOutOfRange(String),
    /// A number that is not finite as an IEEE 754 double (such as `1e400`).
    #[error("the number {0} is not finite as a double, so it has no canonical form")]
    NotFinite(String),
}

/// The largest integer JCS writes exactly (2^53 − 1, JavaScript's `Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The RFC 8785 (JCS) canonical text of `value`: object keys sorted by their UTF-16 code
/// units, recursively; no whitespace; strings with JSON's minimal escapes; numbers in
/// ECMAScript's shortest round-trip form (`1.0` → `1`, `1e2` → `100`, `0.000001` → `0.000001`,
/// `1e-7` → `1e-7`).
///
/// Any JCS implementation produces the same bytes, which is why the signatures of this SDK
/// can be checked elsewhere (the tests check them against Python's `rfc8785`).
///
/// Numbers are the one place where JCS loses information: it writes them as IEEE 754
/// doubles. Integers beyond ±(2^53 − 1) are therefore refused
/// ([`CanonicalError::IntegerOutOfRange`]) instead of being rounded, unless they are already
/// exactly what JCS writes for their double (so canonical output canonicalises to itself). AITP-01's own numbers
/// (`affiliate_share_bps`, `weight`) are small integers and amounts are strings, so only
/// unknown fields can meet this.
///
/// ```
/// use aitp::sign::canonical_json;
/// let a = serde_json::json!({"b": 1.0, "a": {"d": [true, null], "c": "x"}});
/// assert_eq!(canonical_json(&a).unwrap(), r#"{"a":{"c":"x","d":[true,null]},"b":1}"#);
/// ```
pub fn canonical_json(value: &Value) -> Result<String, CanonicalError> {
    let normalised = normalise_numbers(value)?;
    // Only numbers and strings can fail to serialise, and both are valid here.
    Ok(
        serde_json_canonicalizer::to_string(normalised.as_ref().unwrap_or(value))
            .unwrap_or_default(),
    )
}

/// `value` with every number rewritten in JCS's form, or `None` when it holds none that
/// needs rewriting (the common case: no copy).
///
/// The workspace enables serde_json's `arbitrary_precision`, under which a number keeps the
/// digits it arrived with and the canonicaliser writes them unchanged. JCS wants them
/// re-written through a double, so that is done here first.
fn normalise_numbers(value: &Value) -> Result<Option<Value>, CanonicalError> {
    match value {
        Value::Number(n) => {
            let canonical = canonical_number(n)?;
            Ok((canonical.as_str() != n.to_string())
                .then(|| Value::Number(canonical.parse::<Number>().unwrap_or_else(|_| n.clone()))))
        }
        Value::Array(items) => {
            let mut changed: Option<Vec<Value>> = None;
            for (i, item) in items.iter().enumerate() {
                if let Some(new) = normalise_numbers(item)? {
                    changed.get_or_insert_with(|| items.clone())[i] = new;
                }
            }
            Ok(changed.map(Value::Array))
        }
        Value::Object(map) => {
            let mut changed: Option<serde_json::Map<String, Value>> = None;
            for (k, v) in map {
                if let Some(new) = normalise_numbers(v)? {
                    changed
                        .get_or_insert_with(|| map.clone())
                        .insert(k.clone(), new);
                }
            }
            Ok(changed.map(Value::Object))
        }
        _ => Ok(None),
    }
}

/// A number's JCS text: ECMAScript `Number.prototype.toString` of its double value.
fn canonical_number(n: &Number) -> Result<String, CanonicalError> {
    let text = n.to_string();
    let is_integer_text = !text.contains(['.', 'e', 'E']);
    if is_integer_text {
        let magnitude = text.trim_start_matches('-');
        let in_range = magnitude
            .parse::<u64>()
            .is_ok_and(|m| m <= MAX_SAFE_INTEGER);
        if !in_range {
            // Already the exact JCS text of a double (as JCS writes 1e20: all digits) is
            // accepted, so that canonical output canonicalises to itself; any other large
            // integer would be rounded, and is refused.
            let exact = text
                .parse::<f64>()
                .ok()
                .filter(|d| d.is_finite())
                .is_some_and(|d| ryu_js::Buffer::new().format_finite(d) == text);
            if !exact {
                return Err(CanonicalError::IntegerOutOfRange(text));
            }
        }
        // `-0` is `0` in JCS.
        return Ok(if magnitude.trim_start_matches('0').is_empty() {
            "0".to_owned()
        } else {
            text
        });
    }
    let double: f64 = text
        .parse()
        .map_err(|_| CanonicalError::NotFinite(text.clone()))?;
    if !double.is_finite() {
        return Err(CanonicalError::NotFinite(text));
    }
    if double == 0.0 {
        return Ok("0".to_owned());
    }
    Ok(ryu_js::Buffer::new().format_finite(double).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(text: &str) -> String {
        canonical_json(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn keys_sort_by_utf16_code_units_recursively() {
        // U+1F600 (a surrogate pair, D83D..) sorts before U+FB33 in UTF-16, after it in UTF-8.
        let v = json!({"\u{fb33}": 1, "\u{1f600}": 2, "b": {"z": 0, "a": [{"y": 1, "x": 2}]}, "a": null});
        assert_eq!(
            canonical_json(&v).unwrap(),
            "{\"a\":null,\"b\":{\"a\":[{\"x\":2,\"y\":1}],\"z\":0},\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn strings_use_minimal_escapes() {
        assert_eq!(
            canon(r#"{"s":"\u0041\u00e9\n\t\u001f\"\\/\u2028"}"#),
            "{\"s\":\"A\u{e9}\\n\\t\\u001f\\\"\\\\/\u{2028}\"}"
        );
    }

    #[test]
    fn numbers_take_the_ecmascript_form() {
        assert_eq!(
            canon("[1.0, 1e2, -0, 0.0, 1.5e-7, 123.456, 1e21, 1e20, -12]"),
            "[1,100,0,0,1.5e-7,123.456,1e+21,100000000000000000000,-12]"
        );
    }

    #[test]
    fn unsafe_integers_are_refused_not_rounded() {
        let v: Value = serde_json::from_str("[9007199254740993]").unwrap();
        assert_eq!(
            canonical_json(&v),
            Err(CanonicalError::IntegerOutOfRange("9007199254740993".into()))
        );
        assert_eq!(canon("[9007199254740991]"), "[9007199254740991]");
        // JCS writes 1e20 with all its digits; that text is exact, so it canonicalises to itself.
        assert_eq!(
            canon("[1e20, 100000000000000000000]"),
            "[100000000000000000000,100000000000000000000]"
        );
        assert!(canonical_json(&serde_json::from_str("[100000000000000000001]").unwrap()).is_err());
        let v: Value = serde_json::from_str("[1e400]").unwrap();
        assert!(matches!(
            canonical_json(&v),
            Err(CanonicalError::NotFinite(_))
        ));
    }

    #[test]
    fn whitespace_and_key_order_do_not_matter() {
        assert_eq!(
            canon("{ \"b\" : [ 1 , 2 ] ,\n \"a\" : \"x\" }"),
            canon(r#"{"a":"x","b":[1,2]}"#)
        );
    }

    mod stability {
        use super::*;
        use proptest::prelude::*;

        fn arb_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(|n| json!(n)),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(|f| json!(f)),
                ".{0,8}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                    prop::collection::btree_map(".{0,6}", inner, 0..5)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// `value` as JSON text with the choices in `rng` deciding whitespace, key order,
        /// string escapes and integer spelling: the same value, written differently.
        fn render(value: &Value, rng: &mut impl Iterator<Item = u8>, out: &mut String) {
            let ws = |c: u8, out: &mut String| {
                out.push_str([" ", "", "\n  ", "\t", "\r\n", ""][usize::from(c) % 6])
            };
            ws(rng.next().unwrap_or(0), out);
            match value {
                Value::Number(n) if n.is_i64() || n.is_u64() => {
                    out.push_str(&n.to_string());
                    out.push_str(
                        ["", ".0", "e0", ".000", ""][usize::from(rng.next().unwrap_or(0)) % 5],
                    );
                }
                Value::String(text) => render_string(text, rng.next().unwrap_or(0) % 2 == 0, out),
                Value::Array(items) => {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        render(item, rng, out);
                    }
                    ws(rng.next().unwrap_or(0), out);
                    out.push(']');
                }
                Value::Object(map) => {
                    let mut entries: Vec<_> = map.iter().collect();
                    let turn = usize::from(rng.next().unwrap_or(0));
                    if !entries.is_empty() {
                        let len = entries.len();
                        entries.rotate_left(turn % len);
                    }
                    if turn % 2 == 1 {
                        entries.reverse();
                    }
                    out.push('{');
                    for (i, (k, v)) in entries.into_iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let escape = rng.next().unwrap_or(0) % 2 == 0;
                        render_string(k, escape, out);
                        ws(rng.next().unwrap_or(0), out);
                        out.push(':');
                        render(v, rng, out);
                    }
                    ws(rng.next().unwrap_or(0), out);
                    out.push('}');
                }
                other => out.push_str(&other.to_string()),
            }
            ws(rng.next().unwrap_or(0), out);
        }

        /// A string literal, every character as `\uXXXX` (surrogate pairs beyond the BMP)
        /// when `escape_all`, else as serde_json writes it.
        fn render_string(text: &str, escape_all: bool, out: &mut String) {
            if !escape_all {
                out.push_str(&Value::String(text.into()).to_string());
                return;
            }
            out.push('"');
            for unit in text.encode_utf16() {
                out.push_str(&format!("\\u{unit:04x}"));
            }
            out.push('"');
        }

        proptest! {
            #[test]
            fn canonical_json_is_stable_under_key_order_whitespace_and_spelling(
                value in arb_json(),
                choices in prop::collection::vec(any::<u8>(), 0..256),
            ) {
                let expected = canonical_json(&value).unwrap();
                let mut text = String::new();
                render(&value, &mut choices.into_iter().cycle(), &mut text);
                let reparsed: Value = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(canonical_json(&reparsed).unwrap(), expected.clone(), "{}", text);
                let again: Value = serde_json::from_str(&expected).unwrap();
                prop_assert_eq!(canonical_json(&again).unwrap(), expected);
            }
        }
    }
}

//! Small helpers for reading JSON values with serde, shared by the capability and thread types.

use serde::de;
use serde_json::Value;

/// How a JSON value is described in a type error.
pub(crate) fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

/// A key that appears twice in one JSON object, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DuplicateKey {
    /// The JSON path of the object holding the key, from the root (`""` for the root itself),
    /// in the form `decision.options[0]`.
    pub(crate) path: String,
    /// The repeated key.
    pub(crate) key: String,
}

/// The first key repeated within one object anywhere in `text`, if any (`text` must be JSON;
/// malformed text reports no duplicate, its parse will fail on its own).
///
/// Parsers disagree on duplicates (serde's typed structs refuse them, `serde_json::Value` and
/// Python's `json` and JavaScript's `JSON.parse` keep the last), so a message that has one could
/// be read one way here and another way by the peer. One pass over the text, O(size): keys are
/// Every message is checked, so the common case must cost little next to the parse itself: a
/// byte-level pass ([`may_repeat_a_key`]) clears almost every message without allocating or
/// decoding anything. Only when it cannot (a repeated or escaped key, a very large object) does
/// the exact pass run: serde's tokenizer over the text, keys borrowed where they carry no
/// escapes, each object comparing its keys without a table until it has more than a few. The
/// path is only worked out (by a third pass) when a duplicate is found.
pub(crate) fn find_duplicate_key(text: &str) -> Option<DuplicateKey> {
    if !may_repeat_a_key(text.as_bytes()) {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let key = match de::DeserializeSeed::deserialize(Scan, &mut de) {
        Ok(()) => return None,
        Err(e) => duplicate_of(&e)?,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let path = match serde_path_to_error::deserialize::<_, ScanValue>(&mut de) {
        Ok(_) => String::new(),
        Err(e) => {
            let p = e.path().to_string();
            if p == "." { String::new() } else { p }
        }
    };
    Some(DuplicateKey { path, key })
}

/// Whether JSON `text` holds a `null` literal (not merely the word inside a string): one pass
/// over the bytes, so that the work `null`s need is only done for the messages that have one.
pub(crate) fn has_null(text: &str) -> bool {
    let b = text.as_bytes();
    if !text.contains("null") {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            // Outside strings only the literal `null` has an `n`.
            b'n' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Most keys one object may hold before the byte-level pass leaves it to the exact one: its
/// comparisons are linear, so past this a table is cheaper.
const FAST_KEYS: usize = 32;

/// Whether `text` might hold a key repeated within one object: `false` is certain for JSON text
/// (for text that is not JSON the answer does not matter, its parse fails), `true` means "ask
/// [`find_duplicate_key`]'s exact pass".
///
/// One pass over the bytes: strings are skipped to their closing quote, an object's keys are
/// compared as raw bytes with the keys before them in the same object. A key with an escape
/// (`"k\u0065y"` is `"key"`) or an object with more than [`FAST_KEYS`] keys answers `true`.
fn may_repeat_a_key(b: &[u8]) -> bool {
    // Each open object or array: for objects, where its keys start in `keys`.
    let mut open: Vec<Option<usize>> = Vec::new();
    let mut keys: Vec<&[u8]> = Vec::new();
    // Whether the next string in the innermost object is a key.
    let mut want_key = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                let mut escaped = false;
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\' {
                        escaped = true;
                        j += 1;
                    }
                    j += 1;
                }
                if want_key {
                    if escaped {
                        return true;
                    }
                    let Some(Some(first)) = open.last().copied() else {
                        return true;
                    };
                    let key = &b[start..j.min(b.len())];
                    let siblings = &keys[first..];
                    if siblings.len() >= FAST_KEYS || siblings.contains(&key) {
                        return true;
                    }
                    keys.push(key);
                    want_key = false;
                }
                i = j + 1;
                continue;
            }
            b'{' => {
                open.push(Some(keys.len()));
                want_key = true;
            }
            b'[' => {
                open.push(None);
                want_key = false;
            }
            b'}' | b']' => {
                if let Some(Some(first)) = open.pop() {
                    keys.truncate(first);
                }
                want_key = false;
            }
            b',' => want_key = matches!(open.last(), Some(Some(_))),
            _ => {}
        }
        i += 1;
    }
    false
}

const DUPLICATE: &str = "duplicate key \u{1}";

fn duplicate_of(e: &serde_json::Error) -> Option<String> {
    let msg = e.to_string();
    let rest = msg.strip_prefix(DUPLICATE)?;
    // serde_json appends " at line L column C".
    let end = rest.rfind(" at line ").unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// A JSON value walked only to check its objects' keys.
struct Scan;

/// [`Scan`] as a type, for `serde_path_to_error` (which needs `Deserialize`).
struct ScanValue;

impl<'de> serde::Deserialize<'de> for ScanValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de::DeserializeSeed::deserialize(Scan, d).map(|()| ScanValue)
    }
}

impl<'de> de::DeserializeSeed<'de> for Scan {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(Scan)
    }
}

/// An object key, borrowed from the text when it has no escapes.
pub(crate) struct Key<'de>(pub(crate) std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(v.to_owned().into()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> de::Visitor<'de> for Scan {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Scan)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Objects in messages are small: a linear search beats hashing until they are not.
        const LINEAR: usize = 16;
        let mut keys: Vec<std::borrow::Cow<'de, str>> = Vec::new();
        let mut table: Option<std::collections::HashSet<std::borrow::Cow<'de, str>>> = None;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let repeated = match &mut table {
                Some(t) => t.contains(&k),
                None => keys.contains(&k),
            };
            if repeated {
                return Err(de::Error::custom(format_args!("{DUPLICATE}{k}")));
            }
            match &mut table {
                Some(t) => {
                    t.insert(k);
                }
                None if keys.len() == LINEAR => {
                    let mut t: std::collections::HashSet<_> = keys.drain(..).collect();
                    t.insert(k);
                    table = Some(t);
                }
                None => keys.push(k),
            }
            map.next_value_seed(Scan)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(text: &str) -> Option<(String, String)> {
        find_duplicate_key(text).map(|d| (d.path, d.key))
    }

    #[test]
    fn finds_duplicates_at_any_depth() {
        assert_eq!(dup(r#"{"a":1,"b":{"c":[1,{"d":2}]}}"#), None);
        assert_eq!(dup(r#"{"a":1,"a":2}"#), Some(("".into(), "a".into())));
        assert_eq!(
            dup(r#"{"a":1,"b":{"c":[1,{"d":2,"d":3}]}}"#),
            Some(("b.c[1]".into(), "d".into()))
        );
        // Escaped and plain spellings of one key are one key.
        assert_eq!(
            dup(r#"{"x":{"k\u0065y":1,"key":2}}"#),
            Some(("x".into(), "key".into()))
        );
        // Past the linear search: the table takes over.
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let text = format!("{{{},\"k3\":0}}", many.join(","));
        assert_eq!(dup(&text), Some(("".into(), "k3".into())));
        let text = format!("{{{},\"k39\":0}}", many.join(","));
        assert_eq!(dup(&text), Some(("".into(), "k39".into())));
        let text = format!("{{{}}}", many.join(","));
        assert_eq!(dup(&text), None);
        // The same key in sibling objects is fine.
        assert_eq!(dup(r#"[{"a":1},{"a":2}]"#), None);
        // Not JSON: no duplicate to report.
        assert_eq!(dup("{\"a\":"), None);
    }

    #[test]
    fn null_literals_are_told_from_the_word() {
        assert!(has_null(r#"{"a":null}"#));
        assert!(has_null(r#"{"a":"null","b":[1,null]}"#));
        assert!(!has_null(r#"{"a":"null","nullable":"x \" null"}"#));
        assert!(!has_null(r#"{"a":1}"#));
    }

    #[test]
    fn the_byte_pass_never_clears_a_duplicate() {
        let cases = [
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"a":1,"b":[{"c":1},{"c":2,"c":3}]}}"#,
            r#"{"s":"a,\"b\":1","b":{"x":"}","x":1}}"#,
            r#"{"x":{"k\u0065y":1,"key":2}}"#,
            r#"[{"a":1},{"b":[1,{"b":2,"d":3,"b":4}]}]"#,
            r#"{"e":"\\","e":1}"#,
        ];
        for text in cases {
            assert!(may_repeat_a_key(text.as_bytes()), "{text}");
            assert!(find_duplicate_key(text).is_some(), "{text}");
        }
        // Strings that look like keys, keys reused in sibling and nested objects: clear.
        let clean = [
            r#"{"a":"a","b":{"a":1,"b":{"a":[{"a":1},{"a":2}]}},"c":"\"a\":1,"}"#,
            r#"{"a":[],"b":{},"c":[[{"a":1}],{"a":{"a":null}}]}"#,
        ];
        for text in clean {
            assert!(!may_repeat_a_key(text.as_bytes()), "{text}");
            assert_eq!(find_duplicate_key(text), None, "{text}");
        }
        // Past the byte pass's limit, the exact pass decides.
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let text = format!("{{{}}}", many.join(","));
        assert!(may_repeat_a_key(text.as_bytes()));
        assert_eq!(find_duplicate_key(&text), None);
    }
}

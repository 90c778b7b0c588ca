//! `metadata`: OpenAI's map of strings, where AITP keeps the thread's actors.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::Value;

use super::Actor;

/// Why metadata breaks OpenAI's limits, or why its `actors` entry cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// More than [`Metadata::MAX_KEYS`] keys.
    #[error("metadata has {count} keys; at most {max} are allowed")]
    TooManyKeys {
        /// How many keys there are.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A key longer than [`Metadata::MAX_KEY_CHARS`] characters.
    #[error("metadata key `{key}` is {len} characters long; at most {max} are allowed")]
    KeyTooLong {
        /// The key.
        key: String,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value longer than [`Metadata::MAX_VALUE_CHARS`] characters.
    #[error("metadata value of `{key}` is {len} characters long; at most {max} are allowed")]
    ValueTooLong {
        /// The key of the value.
        key: String,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `actors` is not a JSON array of actors.
    #[error("metadata `actors` is not a JSON array of actors: {0}")]
    Actors(#[source] serde_json::Error),
}

/// The metadata of an object read from the wire: `metadata`, or else `metadata_`.
///
/// Servers built on SQLModel (open-assistant-api) cannot name a column `metadata`, so they
/// answer with `metadata_`; reading it keeps the thread's actors (and so the negotiation) on
/// those servers. A `metadata_` that is not metadata stays in `extra`, as any unknown field.
pub(crate) fn metadata_or_alias(
    metadata: Option<Metadata>,
    extra: &mut serde_json::Map<String, Value>,
) -> Metadata {
    if let Some(m) = metadata {
        return m;
    }
    let Some(alias) = extra.remove(ALIAS) else {
        return Metadata::new();
    };
    match Metadata::deserialize(&alias) {
        Ok(m) => m,
        Err(_) => {
            extra.insert(ALIAS.to_owned(), alias);
            Metadata::new()
        }
    }
}

/// The name SQLModel-based servers give `metadata` on the wire.
const ALIAS: &str = "metadata_";

/// Metadata of a thread, message or run: a map of string keys to string values.
///
/// OpenAI types metadata as `Dict[str, str]`, so strict clients reject anything else: it is
/// always written as strings. Read tolerantly: a value that is not a string (the AITP spec
/// writes `"actors": [...]` and `"parent_id": null`) is stored JSON-encoded, and `null`
/// values are dropped. Encoding an array of actors gives exactly the string form that NEAR
/// AI and OpenAI-compatible servers use, so both forms read the same.
///
/// ```
/// use aitp::thread::{Actor, Metadata};
///
/// let spec: Metadata = serde_json::from_str(
///     r#"{"parent_id": null, "actors": [{"id": "me.near", "capabilities": []}]}"#,
/// ).unwrap();
/// assert_eq!(spec.get("parent_id"), None);
/// assert_eq!(spec.actors().unwrap()[0].id, "me.near");
///
/// let mut m = Metadata::new();
/// m.set_actors(&[Actor::new("me.near")]);
/// assert_eq!(m.get("actors"), Some(r#"[{"id":"me.near","capabilities":[]}]"#));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// OpenAI's limit on the number of keys.
    pub const MAX_KEYS: usize = 16;
    /// OpenAI's limit on the length of a key, in characters.
    pub const MAX_KEY_CHARS: usize = 64;
    /// OpenAI's limit on the length of a value, in characters (not applied to `actors`, see
    /// [`Metadata::check_limits`]).
    pub const MAX_VALUE_CHARS: usize = 512;
    /// The key under which AITP declares the thread's actors.
    pub const ACTORS: &'static str = "actors";

    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Sets `key`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.0.insert(key.into(), value.into())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The underlying map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The underlying map, by value.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    /// The actors declared in the `actors` entry (empty when there is none).
    ///
    /// The entry is a JSON-encoded array of `{id, client_id, capabilities}`; capabilities may
    /// be URL strings, `{"schema": url}` or `{"$schema": url}` objects.
    pub fn actors(&self) -> Result<Vec<Actor>, MetadataError> {
        match self.get(Self::ACTORS) {
            None => Ok(Vec::new()),
            Some(s) => serde_json::from_str(s).map_err(MetadataError::Actors),
        }
    }

    /// Sets the `actors` entry to the JSON encoding of `actors` (capabilities as URL strings).
    pub fn set_actors(&mut self, actors: &[Actor]) {
        let json = serde_json::to_string(actors).unwrap_or_else(|_| "[]".to_owned());
        self.0.insert(Self::ACTORS.to_owned(), json);
    }

    /// Checks OpenAI's limits: at most 16 keys, keys of at most 64 characters, values of at
    /// most 512 characters.
    ///
    /// The `actors` value is exempt from the value limit: a few actors with their capability
    /// URLs easily exceed 512 characters, and our server accepts longer `actors` values (an
    /// OpenAI server would not, so a client talking to one must keep `actors` short).
    ///
    /// ```
    /// use aitp::thread::{Metadata, MetadataError};
    /// let mut m = Metadata::new();
    /// m.insert("note", "x".repeat(513));
    /// assert!(matches!(m.check_limits(), Err(MetadataError::ValueTooLong { .. })));
    /// ```
    pub fn check_limits(&self) -> Result<(), MetadataError> {
        if self.0.len() > Self::MAX_KEYS {
            return Err(MetadataError::TooManyKeys {
                count: self.0.len(),
                max: Self::MAX_KEYS,
            });
        }
        for (k, v) in &self.0 {
            let len = k.chars().count();
            if len > Self::MAX_KEY_CHARS {
                return Err(MetadataError::KeyTooLong {
                    key: k.clone(),
                    len,
                    max: Self::MAX_KEY_CHARS,
                });
            }
            if k != Self::ACTORS {
                let len = v.chars().count();
                if len > Self::MAX_VALUE_CHARS {
                    return Err(MetadataError::ValueTooLong {
                        key: k.clone(),
                        len,
                        max: Self::MAX_VALUE_CHARS,
                    });
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Metadata {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.0
            .extend(iter.into_iter().map(|(k, v)| (k.into(), v.into())));
    }
}

impl From<BTreeMap<String, String>> for Metadata {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}

impl IntoIterator for Metadata {
    type Item = (String, String);
    type IntoIter = std::collections::btree_map::IntoIter<String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Metadata;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a metadata object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Metadata, E> {
                Ok(Metadata::new())
            }
            fn visit_none<E: de::Error>(self) -> Result<Metadata, E> {
                Ok(Metadata::new())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Metadata, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(k) = map.next_key::<String>()? {
                    match map.next_value::<Value>()? {
                        Value::Null => {}
                        Value::String(s) => {
                            out.insert(k, s);
                        }
                        other => {
                            out.insert(k, other.to_string());
                        }
                    }
                }
                Ok(Metadata(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_read_strict_write() {
        let m: Metadata = serde_json::from_str(
            r#"{"a": "x", "n": 1.50, "b": true, "o": {"k": [1]}, "gone": null}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({"a": "x", "n": "1.50", "b": "true", "o": "{\"k\":[1]}"})
        );
        assert!(serde_json::from_str::<Metadata>("null").unwrap().is_empty());
        assert!(serde_json::from_str::<Metadata>("[1]").is_err());
    }

    #[test]
    fn actors_string_or_array_read_the_same() {
        let as_string: Metadata = serde_json::from_str(
            r#"{"actors": "[{\"id\": \"a\", \"client_id\": \"app\", \"capabilities\": [\"https://aitp.dev/v1/data/schema.json\"]}]"}"#,
        )
        .unwrap();
        let as_array: Metadata = serde_json::from_str(
            r#"{"actors": [{"id": "a", "client_id": "app", "capabilities": [{"schema": "https://aitp.dev/v1/data/schema.json"}]}]}"#,
        )
        .unwrap();
        assert_eq!(as_string.actors().unwrap(), as_array.actors().unwrap());
        assert_eq!(
            as_string.actors().unwrap()[0].client_id.as_deref(),
            Some("app")
        );
        assert!(Metadata::new().actors().unwrap().is_empty());
        let bad: Metadata = serde_json::from_str(r#"{"actors": "not json"}"#).unwrap();
        assert!(matches!(bad.actors(), Err(MetadataError::Actors(_))));
    }

    #[test]
    fn limits() {
        let mut m: Metadata = (0..16).map(|i| (format!("k{i}"), "v")).collect();
        assert!(m.check_limits().is_ok());
        m.insert("one-too-many", "v");
        assert!(matches!(
            m.check_limits(),
            Err(MetadataError::TooManyKeys { count: 17, max: 16 })
        ));
        let mut m = Metadata::new();
        m.insert("k".repeat(65), "v");
        assert!(matches!(
            m.check_limits(),
            Err(MetadataError::KeyTooLong { len: 65, .. })
        ));
        let mut m = Metadata::new();
        m.insert("é", "é".repeat(512));
        assert!(m.check_limits().is_ok(), "characters, not bytes");
        m.insert("actors", "x".repeat(4000));
        assert!(m.check_limits().is_ok(), "actors is exempt");
        m.insert("note", "x".repeat(513));
        let err = m.check_limits().unwrap_err();
        assert!(err.to_string().contains("`note`"), "{err}");
    }
}

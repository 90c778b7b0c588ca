//! `list`: a page of threads, messages or runs.

use std::{fmt, marker::PhantomData};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de, ser::SerializeMap};
use serde_json::{Map, Value};

use super::{Message, Run, RunStep, Thread, wire::write_extra};

/// A resource with an id, listed in pages.
pub trait Resource {
    /// Its `object` name: `thread`, `thread.message`, `thread.run`.
    const OBJECT: &'static str;
    /// Its id.
    fn id(&self) -> &str;
}

impl Resource for Thread {
    const OBJECT: &'static str = "thread";
    fn id(&self) -> &str {
        &self.id
    }
}

impl Resource for Message {
    const OBJECT: &'static str = "thread.message";
    fn id(&self) -> &str {
        &self.id
    }
}

impl Resource for Run {
    const OBJECT: &'static str = "thread.run";
    fn id(&self) -> &str {
        &self.id
    }
}

impl Resource for RunStep {
    const OBJECT: &'static str = "thread.run.step";
    fn id(&self) -> &str {
        &self.id
    }
}

/// A page of a list: `{"object": "list", "data", "first_id", "last_id", "has_more"}`.
///
/// Read also without `object` (some mock servers) and from a bare JSON array (NEAR AI's
/// `GET /threads`). NEAR AI's `has_more` is a guess (`len == limit`): do not trust it to be
/// exact.
///
/// ```
/// use aitp::thread::{List, Message};
/// let page: List<Message> = serde_json::from_str("[]").unwrap();
/// assert!(page.data.is_empty() && !page.has_more);
/// assert_eq!(serde_json::to_string(&page).unwrap(),
///     r#"{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct List<T> {
    /// The items.
    pub data: Vec<T>,
    /// The id of the first item.
    pub first_id: Option<String>,
    /// The id of the last item (the cursor for `after`).
    pub last_id: Option<String>,
    /// Whether more items follow.
    pub has_more: bool,
    /// Fields OpenAI does not define, kept as received.
    pub extra: Map<String, Value>,
}

impl<T: Resource> List<T> {
    /// A page of `data`, with `first_id` and `last_id` taken from it.
    pub fn new(data: Vec<T>, has_more: bool) -> Self {
        Self {
            first_id: data.first().map(|t| t.id().to_owned()),
            last_id: data.last().map(|t| t.id().to_owned()),
            data,
            has_more,
            extra: Map::new(),
        }
    }
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            first_id: None,
            last_id: None,
            has_more: false,
            extra: Map::new(),
        }
    }
}

impl<T> IntoIterator for List<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.data.into_iter()
    }
}

const LIST_FIELDS: [&str; 5] = ["object", "data", "first_id", "last_id", "has_more"];

impl<T: Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(LIST_FIELDS.len() + self.extra.len()))?;
        m.serialize_entry("object", "list")?;
        m.serialize_entry("data", &self.data)?;
        m.serialize_entry("first_id", &self.first_id)?;
        m.serialize_entry("last_id", &self.last_id)?;
        m.serialize_entry("has_more", &self.has_more)?;
        write_extra(&mut m, &self.extra, &LIST_FIELDS)?;
        m.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list object or a JSON array")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut data = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(item) = seq.next_element::<T>()? {
                    data.push(item);
                }
                Ok(List {
                    data,
                    ..List::default()
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
                let mut list = List::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "object" => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        "data" => {
                            list.data = map.next_value::<Option<Vec<T>>>()?.unwrap_or_default();
                        }
                        "first_id" => list.first_id = map.next_value()?,
                        "last_id" => list.last_id = map.next_value()?,
                        "has_more" => {
                            list.has_more = map.next_value::<Option<bool>>()?.unwrap_or(false);
                        }
                        _ => {
                            let v = map.next_value::<Value>()?;
                            list.extra.insert(key, v);
                        }
                    }
                }
                Ok(list)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::{Content, Role};
    use serde_json::json;

    fn message(id: &str) -> Value {
        json!({"id": id, "object": "thread.message", "created_at": 1, "thread_id": "t",
               "role": "user", "content": [{"type": "text", "text": {"value": id, "annotations": []}}],
               "assistant_id": null, "run_id": null, "attachments": [], "metadata": {},
               "status": "completed", "completed_at": null, "incomplete_at": null,
               "incomplete_details": null})
    }

    #[test]
    fn reads_three_forms() {
        let full = json!({"object": "list", "data": [message("a"), message("b")],
                          "first_id": "a", "last_id": "b", "has_more": true});
        let page: List<Message> = serde_json::from_value(full.clone()).unwrap();
        assert_eq!(page.data.len(), 2);
        assert!(page.has_more);
        assert_eq!(serde_json::to_value(&page).unwrap(), full);

        let no_object =
            json!({"data": [message("a")], "first_id": "a", "last_id": "a", "has_more": false});
        let page: List<Message> = serde_json::from_value(no_object).unwrap();
        assert_eq!(page.last_id.as_deref(), Some("a"));
        assert_eq!(serde_json::to_value(&page).unwrap()["object"], "list");

        let bare = json!([{"id": "thread_1", "created_at": 1740000000.5, "metadata": {}}]);
        let page: List<Thread> = serde_json::from_value(bare).unwrap();
        assert_eq!(page.data[0].created_at, 1_740_000_000);
        assert!(page.first_id.is_none());
    }

    #[test]
    fn new_takes_ids_from_data() {
        let m = |id: &str| {
            let mut m = Message::new("t", Role::User, vec![Content::text("x")]);
            m.id = id.to_owned();
            m
        };
        let page = List::new(vec![m("msg_1"), m("msg_2")], false);
        assert_eq!(page.first_id.as_deref(), Some("msg_1"));
        assert_eq!(page.last_id.as_deref(), Some("msg_2"));
        let v = serde_json::to_value(&page).unwrap();
        assert_eq!(v["data"][1]["object"], "thread.message");
        assert_eq!(<Message as Resource>::OBJECT, "thread.message");
    }
}

//! The query of the list endpoints (`?limit=&order=&after=&before=&run_id=`), one definition
//! for the client that writes it, the server that reads it and the stores that answer it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de, ser::SerializeMap};

/// Listing order, by insertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first: OpenAI's default, so a query that does not say reads this way.
    #[default]
    Desc,
}

impl Order {
    /// `asc` or `desc`, as written in the query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a list query is refused, with the parameter at fault (OpenAI answers these with 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid '{param}': {reason}")]
pub struct ListQueryError {
    /// The query parameter (`limit` or `order`).
    pub param: &'static str,
    /// What was expected and what came.
    pub reason: String,
}

/// A page request with OpenAI's semantics: at most `limit` items (1 to 100, 20 by default), in
/// `order` (newest first by default), `after`/`before` item ids, exclusive, in the listing's
/// order (`after` = further along the order, `before` = earlier in it), and for messages
/// optionally only those of one run.
///
/// Written as the query string clients send (every set field, `order` always, so servers
/// with another default read the same thing); read from what clients send, an empty value
/// counting as absent, with a [`ListQueryError`] naming the parameter when `limit` or `order`
/// is not valid.
///
/// ```
/// use aitp::thread::{ListQuery, Order};
/// let q = ListQuery::default().limit(50).order(Order::Asc).after("msg_1");
/// assert_eq!(q.to_pairs(), [("limit", "50".to_owned()), ("order", "asc".to_owned()),
///                          ("after", "msg_1".to_owned())]);
/// assert_eq!(ListQuery::from_pairs([("limit", ""), ("order", "asc")]).unwrap(),
///            ListQuery::new(20, Order::Asc));
/// assert_eq!(ListQuery::from_pairs([("limit", "0")]).unwrap_err().param, "limit");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// How many items at most (1..=100; 20 by default).
    pub limit: usize,
    /// The order.
    pub order: Order,
    /// Items after this id, in the order.
    pub after: Option<String>,
    /// Items before this id, in the order.
    pub before: Option<String>,
    /// Only messages created by this run.
    pub run_id: Option<String>,
}

impl ListQuery {
    /// The page size OpenAI uses when the query does not say.
    pub const DEFAULT_LIMIT: usize = 20;
    /// The largest page OpenAI serves.
    pub const MAX_LIMIT: usize = 100;

    /// A query of `limit` items in `order`.
    pub fn new(limit: usize, order: Order) -> Self {
        Self {
            limit,
            order,
            after: None,
            before: None,
            run_id: None,
        }
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Sets the order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Items after `id`.
    pub fn after(mut self, id: impl Into<String>) -> Self {
        self.after = Some(id.into());
        self
    }

    /// Items before `id`.
    pub fn before(mut self, id: impl Into<String>) -> Self {
        self.before = Some(id.into());
        self
    }

    /// Only messages of run `id`.
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
        self
    }

    /// The query-string pairs, in the order `limit`, `order`, `after`, `before`, `run_id`.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("limit", self.limit.to_string()),
            ("order", self.order.as_str().to_owned()),
        ];
        let optional = [
            ("after", &self.after),
            ("before", &self.before),
            ("run_id", &self.run_id),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                q.push((name, v.clone()));
            }
        }
        q
    }

    /// Reads decoded query-string pairs. Unknown parameters are ignored and a repeated one
    /// counts once, the last (as most web frameworks read it).
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, ListQueryError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut q = Self::default();
        for (k, v) in pairs {
            let v = v.as_ref();
            let set = |slot: &mut Option<String>| *slot = (!v.is_empty()).then(|| v.to_owned());
            match k.as_ref() {
                "limit" => q.limit = parse_limit(v)?,
                "order" => q.order = parse_order(v)?,
                "after" => set(&mut q.after),
                "before" => set(&mut q.before),
                "run_id" => set(&mut q.run_id),
                _ => {}
            }
        }
        Ok(q)
    }
}

fn parse_limit(v: &str) -> Result<usize, ListQueryError> {
    if v.is_empty() {
        return Ok(ListQuery::DEFAULT_LIMIT);
    }
    match v.parse::<usize>() {
        Ok(n) if (1..=ListQuery::MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ListQueryError {
            param: "limit",
            reason: format!(
                "expected an integer from 1 to {}, got '{v}'.",
                ListQuery::MAX_LIMIT
            ),
        }),
    }
}

fn parse_order(v: &str) -> Result<Order, ListQueryError> {
    match v {
        "" | "desc" => Ok(Order::Desc),
        "asc" => Ok(Order::Asc),
        other => Err(ListQueryError {
            param: "order",
            reason: format!("expected 'asc' or 'desc', got '{other}'."),
        }),
    }
}

impl Default for ListQuery {
    /// OpenAI's defaults: 20 items, newest first.
    fn default() -> Self {
        Self::new(Self::DEFAULT_LIMIT, Order::Desc)
    }
}

impl Serialize for ListQuery {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pairs = self.to_pairs();
        let mut m = s.serialize_map(Some(pairs.len()))?;
        for (k, v) in &pairs {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for ListQuery {
    /// Reads a map of strings (a decoded query string, as axum's `Query` and
    /// `serde_urlencoded` give it) with [`ListQuery::from_pairs`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = ListQuery;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the query of a list")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ListQuery, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                ListQuery::from_pairs(pairs).map_err(de::Error::custom)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_pairs_read_back() {
        let q = ListQuery::new(7, Order::Asc)
            .after("a")
            .before("b")
            .run_id("run_1");
        assert_eq!(ListQuery::from_pairs(q.to_pairs()).unwrap(), q);
        let json = serde_json::to_value(&q).unwrap();
        assert_eq!(json["limit"], "7");
        let read: ListQuery = serde_json::from_value(json).unwrap();
        assert_eq!(read, q);
    }

    #[test]
    fn defaults_and_refusals() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(ListQuery::from_pairs(none).unwrap(), ListQuery::default());
        assert_eq!(ListQuery::default().order, Order::Desc);
        let q = ListQuery::from_pairs([("after", ""), ("order", ""), ("x", "y")]).unwrap();
        assert_eq!(q, ListQuery::default());
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            let e = ListQuery::from_pairs([("limit", bad)]).unwrap_err();
            assert_eq!(e.param, "limit", "{bad}");
        }
        let e = ListQuery::from_pairs([("order", "up")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid 'order': expected 'asc' or 'desc', got 'up'."
        );
    }
}

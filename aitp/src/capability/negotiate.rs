//! Capability declarations and negotiation.
//!
//! The spec: "Agents sending an AITP message should use the highest major version known to all
//! parties, and any minor version within that major version." Declarations are lists of schema
//! URLs, one per supported version; there is no range syntax.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::{CapabilityId, CapabilityIdError, CapabilityMessage};

/// One declared capability, as a peer wrote it.
///
/// Read from the three shapes in the wild: a URL string (AITP-T01, NEAR AI),
/// `{"schema": url}` (the threads doc) and `{"$schema": url}` (the examples doc). Written as a
/// URL string. The URL is kept verbatim; [`Declaration::id`] interprets it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Declaration {
    url: String,
}

impl Declaration {
    /// A declaration of `id`, with its canonical URL.
    pub fn new(id: &CapabilityId) -> Self {
        Self { url: id.url() }
    }

    /// The URL as declared.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The capability and version the URL names.
    pub fn id(&self) -> Result<CapabilityId, CapabilityIdError> {
        CapabilityId::parse(&self.url)
    }
}

impl From<CapabilityId> for Declaration {
    fn from(id: CapabilityId) -> Self {
        Self::new(&id)
    }
}

impl From<&CapabilityId> for Declaration {
    fn from(id: &CapabilityId) -> Self {
        Self::new(id)
    }
}

impl fmt::Debug for Declaration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Declaration({})", self.url)
    }
}

impl Serialize for Declaration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.url)
    }
}

impl<'de> Deserialize<'de> for Declaration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Declaration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a capability schema URL, or an object with `schema` or `$schema`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Declaration, E> {
                Ok(Declaration { url: v.to_owned() })
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Declaration, E> {
                Ok(Declaration { url: v })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Declaration, A::Error> {
                let mut url = None;
                while let Some(key) = map.next_key::<String>()? {
                    if (key == "schema" || key == "$schema") && url.is_none() {
                        url = Some(map.next_value::<String>()?);
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                url.map(|url| Declaration { url })
                    .ok_or_else(|| de::Error::missing_field("schema"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The capabilities every party of a thread can use, each at the version to send.
///
/// ```
/// use aitp::capability::{AitpCapability, CapabilityId, Negotiated};
/// let agent = [
///     AitpCapability::Decisions.v1(),
///     "https://aitp.dev/capabilities/aitp-02-decisions/v2.1.0/schema.json".parse().unwrap(),
///     AitpCapability::Payments.v1(),
/// ];
/// let client = [
///     "https://aitp.dev/v1/decisions/schema.json".parse().unwrap(),
///     "https://aitp.dev/capabilities/aitp-02-decisions/v2.0.0/schema.json".parse().unwrap(),
/// ];
/// let n = Negotiated::between([&agent[..], &client[..]]);
/// let d = n.get(&AitpCapability::Decisions.v1()).unwrap();
/// assert_eq!(d.version().to_string(), "2.0.0");
/// assert!(n.get(&AitpCapability::Payments.v1()).is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    agreed: Vec<CapabilityId>,
}

impl Negotiated {
    /// Negotiates between parties, each given by the capabilities it declares.
    ///
    /// Per capability: the highest major version every party declares; within it, the
    /// highest version every party knows (the lowest of the parties' highest declared
    /// versions of that major), so that no party gets fields newer than it declared.
    pub fn between<'a, I>(parties: I) -> Self
    where
        I: IntoIterator<Item = &'a [CapabilityId]>,
    {
        let parties: Vec<&[CapabilityId]> = parties.into_iter().collect();
        let Some((first, rest)) = parties.split_first() else {
            return Self::default();
        };
        let mut agreed: Vec<CapabilityId> = Vec::new();
        for candidate in first.iter() {
            if agreed.iter().any(|a| a.same_capability(candidate)) {
                continue;
            }
            // Majors the first party declares for this capability, highest first.
            let mut majors: Vec<u64> = first
                .iter()
                .filter(|c| c.same_capability(candidate))
                .map(|c| c.version().major)
                .collect();
            majors.sort_unstable_by(|a, b| b.cmp(a));
            majors.dedup();
            for major in majors {
                let best_of = |decl: &[CapabilityId]| {
                    decl.iter()
                        .filter(|c| c.same_capability(candidate) && c.version().major == major)
                        .max_by(|a, b| a.version().cmp(b.version()))
                        .cloned()
                };
                let mut pick = best_of(first);
                for party in rest {
                    pick = match (pick, best_of(party)) {
                        (Some(a), Some(b)) => Some(if b.version() < a.version() { b } else { a }),
                        _ => None,
                    };
                }
                if let Some(p) = pick {
                    agreed.push(p);
                    break;
                }
            }
        }
        Self { agreed }
    }

    /// Negotiates between parties' declarations; URLs that name no capability are skipped.
    pub fn from_declarations<'a, I>(parties: I) -> Self
    where
        I: IntoIterator<Item = &'a [Declaration]>,
    {
        let ids: Vec<Vec<CapabilityId>> = parties
            .into_iter()
            .map(|p| p.iter().filter_map(|d| d.id().ok()).collect())
            .collect();
        Self::between(ids.iter().map(Vec::as_slice))
    }

    /// The agreed version of `capability` (any version of it may be passed).
    pub fn get(&self, capability: &CapabilityId) -> Option<&CapabilityId> {
        self.agreed.iter().find(|a| a.same_capability(capability))
    }

    /// Whether every party supports the capability of message type `T` at `T`'s major version.
    pub fn supports<T: CapabilityMessage>(&self) -> bool {
        let want = T::capability();
        self.get(want)
            .is_some_and(|a| a.version().major == want.version().major)
    }

    /// Every agreed capability.
    pub fn iter(&self) -> impl Iterator<Item = &CapabilityId> {
        self.agreed.iter()
    }

    /// Whether nothing was agreed.
    pub fn is_empty(&self) -> bool {
        self.agreed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::AitpCapability;

    fn id(s: &str) -> CapabilityId {
        s.parse().unwrap()
    }

    #[test]
    fn declarations_read_three_shapes() {
        let v: Vec<Declaration> = serde_json::from_str(
            r#"["https://aitp.dev/v1/data/schema.json",
                {"schema": "https://aitp.dev/v1/decisions/schema.json"},
                {"$schema": "https://aitp.dev/v1/payments.schema.json"}]"#,
        )
        .unwrap();
        let caps: Vec<_> = v.iter().map(|d| d.id().unwrap().aitp().unwrap()).collect();
        assert_eq!(
            caps,
            [
                AitpCapability::DataRequest,
                AitpCapability::Decisions,
                AitpCapability::Transactions
            ]
        );
        assert_eq!(
            serde_json::to_string(&v[1]).unwrap(),
            r#""https://aitp.dev/v1/decisions/schema.json""#
        );
        assert!(serde_json::from_str::<Declaration>("{}").is_err());
        assert!(serde_json::from_str::<Declaration>("12").is_err());
    }

    #[test]
    fn highest_common_major() {
        let a = [
            id("https://x.example/c/v1.4.0/s.json"),
            id("https://x.example/c/v2.2.0/s.json"),
            id("https://x.example/c/v3.0.0/s.json"),
        ];
        let b = [
            id("https://x.example/c/v1.1.0/s.json"),
            id("https://x.example/c/v2.5.0/s.json"),
        ];
        let c = [
            id("https://x.example/c/v2.1.0/s.json"),
            id("https://x.example/c/v1.0.0/s.json"),
        ];
        let n = Negotiated::between([&a[..], &b[..], &c[..]]);
        assert_eq!(
            n.get(&a[0]).unwrap().url(),
            "https://x.example/c/v2.1.0/s.json"
        );
        let none = Negotiated::between([&a[..], &[][..]]);
        assert!(none.is_empty());
    }
}

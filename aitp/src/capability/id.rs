//! Capability identity: which capability a schema URL names, at which version.

use std::{fmt, str::FromStr, sync::Arc};

use semver::Version;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::AitpCapability;

impl AitpCapability {
    /// The capability at version 1.0.0, the only published version.
    pub fn v1(self) -> CapabilityId {
        CapabilityId {
            family: Family::Aitp(self),
            version: Version::new(1, 0, 0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Family {
    Aitp(AitpCapability),
    /// A third-party capability: its URL split around the version segment.
    Custom {
        prefix: Arc<str>,
        v_prefix: bool,
        suffix: Arc<str>,
    },
}

/// Why a URL does not name a capability.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapabilityIdError {
    /// Not an `http(s)` URL.
    #[error("{0:?} is not an http(s) URL")]
    NotAUrl(String),
    /// An http(s) URL without a semantic version segment such as `v1.0.0`.
    #[error("{0:?} carries no semantic version (a path segment like v1.0.0)")]
    NoVersion(String),
    /// An obsolete AITP URL that named no single capability
    /// (`https://aitp.dev/v1/requests.schema.json`).
    #[error("{0:?} is an obsolete AITP URL that names no single capability")]
    Ambiguous(String),
}

/// A capability at a version, read from any schema URL form seen in the wild.
///
/// Read: the canonical `https://aitp.dev/capabilities/aitp-0N-<slug>/vX.Y.Z/schema.json`
/// (including the docs' `v0.1.0`), NEAR AI's `https://aitp.dev/v1/<name>/schema.json` (and
/// the `v1/<name>.schema.json` and `app.near.ai` variants), and third-party URLs with a semver
/// path segment. Written: always the canonical form ([`CapabilityId::url`]).
///
/// ```
/// use aitp::capability::{AitpCapability, CapabilityId};
/// let id: CapabilityId = "https://aitp.dev/v1/decisions/schema.json".parse().unwrap();
/// assert_eq!(id.aitp(), Some(AitpCapability::Decisions));
/// assert_eq!(id.url(), "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json");
///
/// let custom: CapabilityId = "https://loyalty.example/caps/points/v1.2.0/schema.json".parse().unwrap();
/// assert_eq!(custom.version().major, 1);
/// assert_eq!(custom.url(), "https://loyalty.example/caps/points/v1.2.0/schema.json");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CapabilityId {
    family: Family,
    version: Version,
}

const AITP_HOSTS: [&str; 2] = ["aitp.dev", "www.aitp.dev"];

impl CapabilityId {
    /// Reads any known URL form.
    pub fn parse(url: &str) -> Result<Self, CapabilityIdError> {
        // Most messages carry a canonical URL: know it without taking the URL apart.
        if let Some(c) = AitpCapability::ALL.into_iter().find(|c| c.url() == url) {
            return Ok(c.v1());
        }
        let trimmed = url.trim();
        let rest = strip_scheme(trimmed).ok_or_else(|| CapabilityIdError::NotAUrl(url.into()))?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host_lc = host.to_ascii_lowercase();
        let path = path.split(['?', '#']).next().unwrap_or("");
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();

        if AITP_HOSTS.contains(&host_lc.as_str()) {
            if let Some(id) = parse_aitp_path(&segs) {
                return Ok(id);
            }
            if segs.len() >= 2
                && segs[0] == "v1"
                && (segs[1] == "requests.schema.json" || segs[1] == "requests")
            {
                return Err(CapabilityIdError::Ambiguous(url.into()));
            }
        }
        if host_lc == "app.near.ai" {
            // app.near.ai/api/v1/aitp/<name>/schema.json (UI routes)
            if let [.., "aitp", name, "schema.json"] = segs.as_slice() {
                if let Some(c) = legacy_name(name) {
                    return Ok(c.v1());
                }
            }
        }
        // Third party: one path segment is a semantic version.
        let Some(pos) = segs.iter().position(|s| parse_version_segment(s).is_some()) else {
            return Err(CapabilityIdError::NoVersion(url.into()));
        };
        let seg = segs[pos];
        let (version, v_prefix) =
            parse_version_segment(seg).ok_or_else(|| CapabilityIdError::NoVersion(url.into()))?;
        // Split the original string around this segment (first occurrence after the host).
        let path_start = trimmed.len() - rest.len() + host.len();
        let offset = trimmed[path_start..]
            .find(&format!("/{seg}"))
            .map(|i| path_start + i + 1)
            .ok_or_else(|| CapabilityIdError::NoVersion(url.into()))?;
        Ok(Self {
            family: Family::Custom {
                prefix: trimmed[..offset].into(),
                v_prefix,
                suffix: trimmed[offset + seg.len()..].into(),
            },
            version,
        })
    }

    /// Parses a URL known to be valid at compile time (used by derived code); a URL that
    /// does not parse names a third-party capability at version 0.0.0.
    #[doc(hidden)]
    pub fn from_static(url: &'static str) -> Self {
        Self::parse(url).unwrap_or_else(|_| Self {
            family: Family::Custom {
                prefix: url.into(),
                v_prefix: false,
                suffix: "".into(),
            },
            version: Version::new(0, 0, 0),
        })
    }

    /// An AITP capability at `version`.
    pub fn aitp_at(capability: AitpCapability, version: Version) -> Self {
        Self {
            family: Family::Aitp(capability),
            version,
        }
    }

    /// The same capability at another version.
    pub fn with_version(&self, version: Version) -> Self {
        Self {
            family: self.family.clone(),
            version,
        }
    }

    /// Which AITP capability this is, if it is one.
    pub fn aitp(&self) -> Option<AitpCapability> {
        match self.family {
            Family::Aitp(c) => Some(c),
            Family::Custom { .. } => None,
        }
    }

    /// The version.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// Whether `other` names the same capability, whatever the versions.
    pub fn same_capability(&self, other: &CapabilityId) -> bool {
        self.family == other.family
    }

    /// A name for the capability without its version: the slug (`aitp-02-decisions`) for AITP
    /// capabilities, the URL with `{version}` in place of the version otherwise.
    pub fn name(&self) -> String {
        match &self.family {
            Family::Aitp(c) => c.slug().to_owned(),
            Family::Custom { prefix, suffix, .. } => format!("{prefix}{{version}}{suffix}"),
        }
    }

    /// The canonical schema URL.
    pub fn url(&self) -> String {
        match &self.family {
            Family::Aitp(c) => format!(
                "https://aitp.dev/capabilities/{}/v{}/schema.json",
                c.slug(),
                self.version
            ),
            Family::Custom {
                prefix,
                v_prefix,
                suffix,
            } => format!(
                "{prefix}{}{}{suffix}",
                if *v_prefix { "v" } else { "" },
                self.version
            ),
        }
    }

    /// The URL NEAR AI's hub and UI used (`https://aitp.dev/v1/decisions/schema.json`), for
    /// talking to peers built for it; `None` for capabilities it never had.
    pub fn near_ai_url(&self) -> Option<&'static str> {
        match self.family {
            Family::Aitp(AitpCapability::Decisions) => {
                Some("https://aitp.dev/v1/decisions/schema.json")
            }
            Family::Aitp(AitpCapability::DataRequest) => {
                Some("https://aitp.dev/v1/data/schema.json")
            }
            Family::Aitp(AitpCapability::Transactions) => {
                Some("https://aitp.dev/v1/payments/schema.json")
            }
            _ => None,
        }
    }
}

fn strip_scheme(s: &str) -> Option<&str> {
    let lower = s.get(..8).map(str::to_ascii_lowercase);
    if lower.as_deref() == Some("https://") {
        Some(&s[8..])
    } else if s.get(..7).map(str::to_ascii_lowercase).as_deref() == Some("http://") {
        Some(&s[7..])
    } else {
        None
    }
}

fn legacy_name(name: &str) -> Option<AitpCapability> {
    match name {
        "decisions" | "decision" => Some(AitpCapability::Decisions),
        "data" => Some(AitpCapability::DataRequest),
        "payments" | "payment" => Some(AitpCapability::Transactions),
        _ => None,
    }
}

fn parse_aitp_path(segs: &[&str]) -> Option<CapabilityId> {
    match segs {
        // capabilities/aitp-0N-slug/vX.Y.Z[/schema.json]
        ["capabilities", slug, ver, rest @ ..] if rest.len() <= 1 => {
            let cap = AitpCapability::from_slug(slug)?;
            let (version, _) = parse_version_segment(ver)?;
            Some(CapabilityId::aitp_at(cap, version))
        }
        // v1/<name>/schema.json (NEAR AI)
        ["v1", name, "schema.json"] => legacy_name(name).map(AitpCapability::v1),
        // v1/<name>.schema.json (old examples)
        ["v1", file] => legacy_name(file.strip_suffix(".schema.json")?).map(AitpCapability::v1),
        _ => None,
    }
}

fn parse_version_segment(seg: &str) -> Option<(Version, bool)> {
    let (core, v) = match seg.strip_prefix(['v', 'V']) {
        Some(c) => (c, true),
        None => (seg, false),
    };
    Version::parse(core).ok().map(|ver| (ver, v))
}

impl fmt::Debug for CapabilityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CapabilityId({})", self.url())
    }
}

impl fmt::Display for CapabilityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

impl FromStr for CapabilityId {
    type Err = CapabilityIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for CapabilityId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.url())
    }
}

impl<'de> Deserialize<'de> for CapabilityId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aitp(url: &str) -> (Option<AitpCapability>, String) {
        let id = CapabilityId::parse(url).unwrap();
        (id.aitp(), id.version().to_string())
    }

    #[test]
    fn reads_every_form() {
        use AitpCapability::*;
        let cases = [
            (
                "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
                Payments,
                "1.0.0",
            ),
            (
                "https://aitp.dev/capabilities/aitp-01-payments/v0.1.0/schema.json",
                Payments,
                "0.1.0",
            ),
            (
                "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json",
                Decisions,
                "1.0.0",
            ),
            (
                "https://aitp.dev/capabilities/aitp-03-data-request/v1.2.3",
                DataRequest,
                "1.2.3",
            ),
            (
                "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
                NearWallet,
                "1.0.0",
            ),
            (
                "https://aitp.dev/capabilities/aitp-05-evm-wallet/v2.0.0/schema.json",
                EvmWallet,
                "2.0.0",
            ),
            (
                "https://aitp.dev/capabilities/aitp-04-transactions/v1.0.0/schema.json",
                Transactions,
                "1.0.0",
            ),
            (
                "https://aitp.dev/v1/decisions/schema.json",
                Decisions,
                "1.0.0",
            ),
            (
                "https://aitp.dev/v1/decision/schema.json",
                Decisions,
                "1.0.0",
            ),
            ("https://aitp.dev/v1/data/schema.json", DataRequest, "1.0.0"),
            (
                "https://aitp.dev/v1/payments/schema.json",
                Transactions,
                "1.0.0",
            ),
            (
                "https://aitp.dev/v1/payments.schema.json",
                Transactions,
                "1.0.0",
            ),
            ("HTTPS://AITP.DEV/v1/data/schema.json", DataRequest, "1.0.0"),
            (
                "https://app.near.ai/api/v1/aitp/decisions/schema.json",
                Decisions,
                "1.0.0",
            ),
        ];
        for (url, cap, ver) in cases {
            assert_eq!(aitp(url), (Some(cap), ver.to_owned()), "{url}");
        }
    }

    #[test]
    fn writes_canonical() {
        let id = CapabilityId::parse("https://aitp.dev/v1/data/schema.json").unwrap();
        assert_eq!(
            id.url(),
            "https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json"
        );
        assert_eq!(
            id.near_ai_url(),
            Some("https://aitp.dev/v1/data/schema.json")
        );
    }

    #[test]
    fn third_party() {
        let id =
            CapabilityId::parse("https://loyalty.example/caps/points/v1.2.0/schema.json").unwrap();
        assert_eq!(id.aitp(), None);
        assert_eq!(
            id.name(),
            "https://loyalty.example/caps/points/{version}/schema.json"
        );
        let newer =
            CapabilityId::parse("https://loyalty.example/caps/points/v2.0.1/schema.json").unwrap();
        assert!(id.same_capability(&newer));
        assert_eq!(
            id.with_version(Version::new(1, 3, 0)).url(),
            "https://loyalty.example/caps/points/v1.3.0/schema.json"
        );
        let bare = CapabilityId::parse("https://x.example/1.0.0-beta.1/s.json").unwrap();
        assert_eq!(bare.url(), "https://x.example/1.0.0-beta.1/s.json");
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            CapabilityId::parse("https://example.com/schema.json"),
            Err(CapabilityIdError::NoVersion(_))
        ));
        assert!(matches!(
            CapabilityId::parse("aitp-02"),
            Err(CapabilityIdError::NotAUrl(_))
        ));
        assert!(matches!(
            CapabilityId::parse("https://aitp.dev/v1/requests.schema.json"),
            Err(CapabilityIdError::Ambiguous(_))
        ));
        assert!(CapabilityId::parse("").is_err());
        assert!(CapabilityId::parse("https://").is_err());
    }
}

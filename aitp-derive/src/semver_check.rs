//! Compile-time check that a capability URL carries a semantic version.
//!
//! Mirrors the rule of `aitp::capability::CapabilityId::parse` for third-party URLs: one path
//! segment of the form `vMAJOR.MINOR.PATCH` (the `v` optional). Kept dependency-free so the
//! macro crate stays small.

/// Returns the version segment of `url`, if one path segment is a semantic version.
pub(crate) fn version_segment(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (_host, path) = rest.split_once('/')?;
    path.split('/').find(|seg| is_semver(seg))
}

fn is_semver(seg: &str) -> bool {
    let core = seg.strip_prefix('v').unwrap_or(seg);
    let core = core.split(['-', '+']).next().unwrap_or(core);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::version_segment;

    #[test]
    fn finds_versions() {
        assert_eq!(
            version_segment("https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json"),
            Some("v1.0.0")
        );
        assert_eq!(
            version_segment("https://x.example/caps/1.2.3-beta.1/schema.json"),
            Some("1.2.3-beta.1")
        );
        assert_eq!(
            version_segment("https://aitp.dev/v1/decisions/schema.json"),
            None
        );
        assert_eq!(version_segment("not a url"), None);
    }
}

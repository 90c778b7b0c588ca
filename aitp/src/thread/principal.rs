//! [`Principal`]: who owns a thread.

use std::{fmt, sync::Arc};

/// Who is talking to the agent: the principal the transport authenticated.
///
/// Threads belong to the principal that created them, so it lives with the thread model: the
/// store scopes every thread to one, and handlers can ask for it to scope their own data.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal(Arc<str>);

impl Principal {
    /// A principal named `name` (an account, a token's owner …).
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self(name.into())
    }

    /// The principal of unauthenticated local use.
    pub fn anonymous() -> Self {
        Self("anonymous".into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({})", self.0)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

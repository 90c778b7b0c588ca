//! Authentication: the `Authorization` header to a principal.

use std::{collections::HashMap, fmt, sync::Arc};

use crate::thread::Principal;

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    /// A token that is not accepted.
    #[error("invalid bearer token")]
    Invalid,
}

/// Maps the `Authorization` header of a request to the principal it speaks for.
pub trait Authenticate: Send + Sync + 'static {
    /// The principal, given the raw header value (if any).
    fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError>;
}

/// Strips the scheme from a header value; NEAR AI clients may send `Bearer Bearer {json}`.
pub fn bearer_token(authorization: &str) -> &str {
    let mut t = authorization.trim();
    while let Some(rest) = t
        .strip_prefix("Bearer ")
        .or_else(|| t.strip_prefix("bearer "))
    {
        t = rest.trim_start();
    }
    t
}

/// No authentication, for local use: every caller is [`Principal::anonymous`], whatever it
/// sends (real clients always send some key). Threads are shared by all callers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anonymous;

impl Authenticate for Anonymous {
    fn authenticate(&self, _: Option<&str>) -> Result<Principal, AuthError> {
        Ok(Principal::anonymous())
    }
}

/// A fixed list of bearer tokens, each standing for a principal.
#[derive(Clone, Default)]
pub struct TokenList {
    tokens: Arc<HashMap<String, Principal>>,
}

impl TokenList {
    /// An empty list (every request is refused until tokens are added).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `token`, speaking for `principal`.
    pub fn token(mut self, token: impl Into<String>, principal: impl Into<Arc<str>>) -> Self {
        Arc::make_mut(&mut self.tokens).insert(token.into(), Principal::new(principal));
        self
    }
}

impl fmt::Debug for TokenList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the tokens.
        f.debug_struct("TokenList")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl Authenticate for TokenList {
    fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let header = authorization.ok_or(AuthError::Missing)?;
        self.tokens
            .get(bearer_token(header))
            .cloned()
            .ok_or(AuthError::Invalid)
    }
}

impl<F> Authenticate for F
where
    F: Fn(Option<&str>) -> Result<Principal, AuthError> + Send + Sync + 'static,
{
    fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        self(authorization)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = TokenList::new().token("sk-1", "alice");
        assert_eq!(
            t.authenticate(Some("Bearer sk-1")).unwrap().as_str(),
            "alice"
        );
        assert_eq!(
            t.authenticate(Some("Bearer Bearer sk-1")).unwrap().as_str(),
            "alice"
        );
        assert_eq!(t.authenticate(Some("Bearer nope")), Err(AuthError::Invalid));
        assert_eq!(t.authenticate(None), Err(AuthError::Missing));
        assert!(!format!("{t:?}").contains("sk-1"));
    }
}

//! Who may sign: the keys allowed to speak for a merchant, payer or affiliate.

use std::{collections::HashMap, future::Future};

use super::{
    Party, PublicKey, Signable, Signature, VerifyError,
    message::{prepared, signing_bytes},
};

/// Why a [`KeyResolver`] could not answer (its own lookup failed). Not the same as "no
/// keys": a resolver that knows the party has none returns an empty list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(pub String);

/// Maps a party (a `merchant_id`, `payer_id` or wrapper's `affiliate_id`) to the keys
/// allowed to sign for it.
///
/// A valid signature only proves that some key signed; this trait decides whether that key
/// speaks for the party the message names. Use [`ConfiguredKeys`] for keys you know, or
/// implement it over your own source of truth, for example the access keys of a NEAR
/// account read through an RPC endpoint that *you* configure.
///
/// The SDK never resolves keys through a URL taken from a peer's message: a peer could
/// otherwise point it at a server that vouches for the peer's own key.
pub trait KeyResolver: Send + Sync {
    /// The keys allowed to sign for `party`; empty when it has none (or is unknown).
    fn keys(
        &self,
        party: &Party,
    ) -> impl Future<Output = Result<Vec<PublicKey>, ResolveError>> + Send;

    /// Whose key `key` is, if the resolver knows it under another party. Only asked after
    /// a signature failed, to tell "signed by someone else's key"
    /// ([`VerifyError::KeyNotAllowed`]) from a bad signature; the default knows nobody.
    fn owner_of(&self, key: &PublicKey) -> impl Future<Output = Option<String>> + Send {
        let _ = key;
        async { None }
    }

    /// All keys the resolver knows, to find who made a signature that the party's own keys
    /// do not verify. Only asked on failure; the default knows none.
    fn known_keys(&self) -> impl Future<Output = Vec<PublicKey>> + Send {
        async { Vec::new() }
    }
}

impl<R: KeyResolver> KeyResolver for &R {
    fn keys(
        &self,
        party: &Party,
    ) -> impl Future<Output = Result<Vec<PublicKey>, ResolveError>> + Send {
        (**self).keys(party)
    }
    fn owner_of(&self, key: &PublicKey) -> impl Future<Output = Option<String>> + Send {
        (**self).owner_of(key)
    }
    fn known_keys(&self) -> impl Future<Output = Vec<PublicKey>> + Send {
        (**self).known_keys()
    }
}

impl<R: KeyResolver> KeyResolver for std::sync::Arc<R> {
    fn keys(
        &self,
        party: &Party,
    ) -> impl Future<Output = Result<Vec<PublicKey>, ResolveError>> + Send {
        (**self).keys(party)
    }
    fn owner_of(&self, key: &PublicKey) -> impl Future<Output = Option<String>> + Send {
        (**self).owner_of(key)
    }
    fn known_keys(&self) -> impl Future<Output = Vec<PublicKey>> + Send {
        (**self).known_keys()
    }
}

/// Keys configured up front: each account id with the keys allowed to sign for it, whatever
/// its role (a NEAR account's keys are the account's, not the role's).
///
/// ```
/// use aitp::sign::{ConfiguredKeys, SecretKey};
/// let shop = SecretKey::from_seed(&[1; 32]);
/// let keys = ConfiguredKeys::new().allow("shop.near", shop.public_key());
/// # let _ = keys;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConfiguredKeys {
    keys: HashMap<String, Vec<PublicKey>>,
}

impl ConfiguredKeys {
    /// No keys yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows `key` to sign for `account_id` (in addition to its other keys).
    pub fn allow(mut self, account_id: impl Into<String>, key: PublicKey) -> Self {
        let keys = self.keys.entry(account_id.into()).or_default();
        if !keys.contains(&key) {
            keys.push(key);
        }
        self
    }
}

impl KeyResolver for ConfiguredKeys {
    async fn keys(&self, party: &Party) -> Result<Vec<PublicKey>, ResolveError> {
        Ok(self.keys.get(party.id()).cloned().unwrap_or_default())
    }

    async fn owner_of(&self, key: &PublicKey) -> Option<String> {
        self.keys
            .iter()
            .find(|(_, keys)| keys.contains(key))
            .map(|(id, _)| id.clone())
    }

    async fn known_keys(&self) -> Vec<PublicKey> {
        self.keys.values().flatten().copied().collect()
    }
}

/// Checks `signature` over `bytes` against the keys `resolver` allows for `party`, naming
/// `path` in the error.
pub(super) async fn check_party<R: KeyResolver>(
    resolver: &R,
    path: &str,
    party: &Party,
    bytes: &[u8],
    signature: &Signature,
) -> Result<PublicKey, VerifyError> {
    let allowed = resolver
        .keys(party)
        .await
        .map_err(|e| VerifyError::Resolver {
            path: path.into(),
            party: party.clone(),
            reason: e.0,
        })?;
    if let Some(key) = allowed.iter().find(|k| k.verify(bytes, signature)) {
        return Ok(*key);
    }
    for key in resolver.known_keys().await {
        if !allowed.contains(&key) && key.verify(bytes, signature) {
            let owner = resolver
                .owner_of(&key)
                .await
                .unwrap_or_else(|| key.to_string());
            return Err(VerifyError::KeyNotAllowed {
                path: path.into(),
                party: party.clone(),
                owner,
            });
        }
    }
    if allowed.is_empty() {
        return Err(VerifyError::UnknownSigner {
            path: path.into(),
            party: party.clone(),
        });
    }
    Err(VerifyError::BadSignature {
        path: path.into(),
        party: party.clone(),
    })
}

/// Checks that `message` is signed by a key `resolver` allows for `party`, and returns that
/// key. Each refusal is its own [`VerifyError`]: missing, malformed, no key known for the
/// party, a key allowed only for someone else, or a bad signature.
///
/// The caller names the party because it knows who *should* have signed: the merchant it
/// asked for a quote, or the merchant of the quote a confirmation answers (a
/// `payment_confirmation` does not name its merchant). [`Signable::signer`] gives the party
/// a message names itself.
pub async fn verify_signed<M: Signable, R: KeyResolver>(
    resolver: &R,
    party: &Party,
    message: &M,
) -> Result<PublicKey, VerifyError> {
    let path = format!("{}.{}", M::KEY, M::SIGNATURE_FIELD);
    let (bytes, signature) = prepared(&path, message.signature(), signing_bytes(message))?;
    check_party(resolver, &path, party, &bytes, &signature).await
}

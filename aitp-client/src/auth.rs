//! Authentication: a bearer token, NEAR AI's NEP-413 signed-message bearer, or any headers.

use std::{fmt, sync::Arc};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

/// Supplies headers for every request (each attempt, so they can be fresh: a new nonce, a
/// renewed token). Implemented by closures returning a [`HeaderMap`].
///
/// ```
/// use aitp_client::{Client, HeaderProvider};
/// use reqwest::header::{HeaderMap, HeaderValue};
/// let client = Client::builder("http://127.0.0.1:1/v1")
///     .header_provider(|| {
///         let mut h = HeaderMap::new();
///         h.insert("x-tenant", HeaderValue::from_static("acme"));
///         Ok(h)
///     })
///     .build()
///     .unwrap();
/// # let _ = client;
/// ```
pub trait HeaderProvider: Send + Sync + 'static {
    /// The headers to add; an error fails the request with [`crate::Error::Config`].
    fn headers(&self) -> Result<HeaderMap, String>;
}

impl<F> HeaderProvider for F
where
    F: Fn() -> Result<HeaderMap, String> + Send + Sync + 'static,
{
    fn headers(&self) -> Result<HeaderMap, String> {
        self()
    }
}

/// How the client authenticates.
#[derive(Clone, Default)]
pub(crate) enum Auth {
    #[default]
    None,
    Bearer(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

pub(crate) type Provider = Arc<dyn HeaderProvider>;

pub(crate) fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    Ok((
        HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header {name}: {e}"))?,
        HeaderValue::from_str(value).map_err(|e| format!("header {name}: {e}"))?,
    ))
}

/// NEAR AI's bearer: a NEP-413 signed message, sent as `Authorization: Bearer <its JSON>`.
///
/// The hub verifies an ed25519 signature over the SHA-256 of the borsh-serialised NEP-413
/// payload `{tag: 2147484061, message, nonce, recipient, callback_url}`; sign that with your
/// NEAR key (wallets do) and put the result here. The nonce is a 32-digit millisecond
/// timestamp ([`NearAuth::nonce_now`]).
///
/// ```
/// use aitp_client::NearAuth;
/// let auth = NearAuth::new("alice.near", "ed25519:5ZB...", "c2lnbmF0dXJl", NearAuth::nonce_now())
///     .message("Welcome to NEAR AI Hub!")
///     .recipient("ai.near");
/// assert_eq!(auth.nonce.len(), 32);
/// assert!(auth.bearer().starts_with(r#"{"account_id":"alice.near""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NearAuth {
    /// The signing account.
    pub account_id: String,
    /// `ed25519:` + base58.
    pub public_key: String,
    /// The signature, base64.
    pub signature: String,
    /// The URL the wallet returned to, if the signature covers one.
    pub callback_url: Option<String>,
    /// The signed message.
    pub message: String,
    /// The recipient the message was signed for.
    pub recipient: String,
    /// 32 digits: a millisecond timestamp, left-padded with zeros.
    pub nonce: String,
}

impl NearAuth {
    /// An auth for `account_id` signed with `public_key`, with the hub's default message and
    /// recipient (`Welcome to NEAR AI Hub!`, `ai.near`).
    pub fn new(
        account_id: impl Into<String>,
        public_key: impl Into<String>,
        signature: impl Into<String>,
        nonce: impl Into<String>,
    ) -> Self {
        Self {
            account_id: account_id.into(),
            public_key: public_key.into(),
            signature: signature.into(),
            callback_url: None,
            message: "Welcome to NEAR AI Hub!".to_owned(),
            recipient: "ai.near".to_owned(),
            nonce: nonce.into(),
        }
    }

    /// Sets the signed message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Sets the recipient.
    pub fn recipient(mut self, recipient: impl Into<String>) -> Self {
        self.recipient = recipient.into();
        self
    }

    /// Sets the callback URL.
    pub fn callback_url(mut self, url: impl Into<String>) -> Self {
        self.callback_url = Some(url.into());
        self
    }

    /// A nonce for now: the millisecond timestamp, left-padded with zeros to 32 digits.
    pub fn nonce_now() -> String {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        format!("{ms:0>32}")
    }

    /// The bearer token: the JSON of this object.
    pub fn bearer(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

//! Why a text is not a (well-formed) capability message.

/// Why a text is not a (well-formed) capability message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but not an AITP message: not an object, no string `$schema`, or no message key
    /// whose value is an object.
    #[error("not an AITP message: {0}")]
    NotAitp(&'static str),
    /// An AITP message of a known type whose body does not have that type's shape.
    #[error("`{key}` message ({capability}) does not match its schema at `{path}`: {error}")]
    Body {
        /// The message key.
        key: String,
        /// The capability the message was read as (its slug).
        capability: &'static str,
        /// The JSON path of the offending value, from the message root.
        path: String,
        /// What serde said.
        #[source]
        error: serde_json::Error,
    },
    /// A key repeated within one JSON object, in the envelope or anywhere in the body.
    ///
    /// Refused rather than read: serde's typed structs refuse duplicates, while
    /// `serde_json::Value`, Python's `json` and JavaScript's `JSON.parse` keep the last one, so
    /// a message with a duplicate could be acted on differently here and by the peer (two
    /// `decision` objects in one message, say). No mainstream writer produces one.
    #[error("duplicate key `{key}` in the object at `{path}`")]
    DuplicateKey {
        /// The JSON path of the object holding the key, from the message root (empty for the
        /// root), such as `decision.options[0]`.
        path: String,
        /// The repeated key.
        key: String,
    },
}

impl ParseError {
    /// Whether the text was an AITP message at all (if not, it is plain content).
    pub fn is_aitp(&self) -> bool {
        matches!(self, Self::Body { .. } | Self::DuplicateKey { .. })
    }
}

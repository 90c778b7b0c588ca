//! The client's errors: every failure says what was asked (method and URL) and what came back.

use std::time::Duration;

use aitp::{
    capability::{ParseError, errors::ErrorReport},
    thread::{ApiError, ParamsError, Run},
};
use reqwest::{Method, StatusCode};

/// Everything that can go wrong talking to an agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status.
    #[error("{method} {url}: HTTP {status}{}", .error.as_ref().filter(|e| !e.message.is_empty()).map(|e| format!(": {}", e.message)).unwrap_or_else(|| if .body.is_empty() { String::new() } else { format!(": {}", snippet(.body)) }))]
    Api {
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// The server's error body, when it is an OpenAI-style error.
        error: Option<Box<ApiError>>,
        /// The raw body.
        body: String,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// A success answer whose body is not what the endpoint returns (garbage, truncated JSON).
    #[error("{method} {url}: HTTP {status}, but the body is not a valid response ({source}): {}", snippet(.body))]
    Decode {
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// The raw body, as received.
        body: String,
        /// Why it does not decode.
        #[source]
        source: serde_json::Error,
    },
    /// No answer within the timeout (after the retries the policy allowed).
    #[error("{method} {url}: no answer within {after:?}")]
    Timeout {
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// The timeout.
        after: Duration,
    },
    /// The server could not be reached (refused, unresolvable, reset before the request).
    #[error("{method} {url}: cannot connect: {source}")]
    Connect {
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Another transport failure (the connection dropped mid-answer, a truncated body).
    #[error("{method} {url}: {source}")]
    Transport {
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The client was configured wrongly (a header that is not valid, a bad base URL).
    #[error("client configuration: {0}")]
    Config(String),
    /// A request body the server would refuse (empty content, metadata over the limits).
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The peers of the thread did not all declare the capability of a message being sent.
    /// Use [`ThreadHandle::force`](crate::ThreadHandle::force) to send it anyway.
    #[error(
        "the thread's actors did not all declare {capability} (for `{key}`); negotiated: [{negotiated}]"
    )]
    NotNegotiated {
        /// The capability's schema URL.
        capability: String,
        /// The message key.
        key: String,
        /// What was agreed, for the message.
        negotiated: String,
    },
    /// A capability message that does not parse as its type.
    #[error("a capability message does not parse: {0}")]
    Capability(#[from] ParseError),
    /// The peer answered with an AITP error report.
    #[error("the agent reported {}: {}", .0.code.as_str(), .0.message)]
    Peer(Box<ErrorReport>),
    /// A run ended without completing (`failed`, `cancelled`, `expired`, `incomplete`).
    #[error("run {} ended {}{}", .0.id, .0.status, .0.last_error.as_ref().map(|e| format!(": {}", e.message)).unwrap_or_default())]
    RunNotCompleted(Box<Run>),
    /// Waited longer than allowed for a run, a reply or a stream event.
    #[error("gave up waiting for {what} after {after:?}")]
    WaitTimeout {
        /// What was awaited.
        what: String,
        /// For how long.
        after: Duration,
    },
    /// A stream that ended or broke before the run's end.
    #[error("stream: {0}")]
    Stream(String),
}

impl Error {
    /// The HTTP status, for errors the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The raw body the server sent, for [`Error::Api`] and [`Error::Decode`].
    pub fn body(&self) -> Option<&str> {
        match self {
            Self::Api { body, .. } | Self::Decode { body, .. } => Some(body),
            _ => None,
        }
    }

    /// Whether this is a timeout (of a request or of a wait).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::WaitTimeout { .. })
    }
}

/// The first 300 characters of a body, for messages.
fn snippet(body: &str) -> String {
    let mut s: String = body.chars().take(300).collect();
    if s.len() < body.len() {
        s.push('…');
    }
    if s.is_empty() {
        s.push_str("(empty body)");
    }
    s
}

/// The result of client calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

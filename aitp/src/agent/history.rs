//! [`ThreadHistory`]: the thread's earlier messages, as the transport stored them, for
//! handlers (and the payment desk) that need more than the turn's new messages.

use std::fmt;

use super::BoxFuture;
use crate::thread::Message;

/// A read-only view of a thread's stored messages, newest first, in pages.
///
/// The transport that runs the agent provides it (the [server](crate::server) reads its
/// store; a turn built by hand has none), so an agent can look back without holding the
/// thread in memory and without knowing where it is stored: after a restart, or on
/// another replica of a server sharing one database, it sees the same messages.
pub trait ThreadHistory: Send + Sync {
    /// Up to `limit` messages of the thread older than the message `before` (the newest
    /// messages when `None`), newest first, and whether older ones remain.
    fn older<'a>(
        &'a self,
        before: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<HistoryPage, HistoryError>>;
}

/// One page of a [`ThreadHistory`], newest first.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct HistoryPage {
    /// The messages, newest first.
    pub messages: Vec<Message>,
    /// Whether older messages follow.
    pub has_more: bool,
}

impl HistoryPage {
    /// A page.
    pub fn new(messages: Vec<Message>, has_more: bool) -> Self {
        Self { messages, has_more }
    }
}

/// The history could not be read (its storage failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the thread's history: {0}")]
pub struct HistoryError(pub String);

/// A [`ThreadHistory`] of messages held in memory, oldest first (as a thread lists them in
/// ascending order): for tests and transports that keep whole threads.
#[derive(Clone, Default, PartialEq)]
pub struct MessagesHistory(pub Vec<Message>);

impl fmt::Debug for MessagesHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MessagesHistory")
            .field(&self.0.len())
            .finish()
    }
}

impl ThreadHistory for MessagesHistory {
    fn older<'a>(
        &'a self,
        before: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<HistoryPage, HistoryError>> {
        let end = match before {
            None => self.0.len(),
            Some(id) => self.0.iter().position(|m| m.id == id).unwrap_or(0),
        };
        let start = end.saturating_sub(limit.max(1));
        let messages = self.0[start..end].iter().rev().cloned().collect();
        Box::pin(std::future::ready(Ok(HistoryPage::new(
            messages,
            start > 0,
        ))))
    }
}

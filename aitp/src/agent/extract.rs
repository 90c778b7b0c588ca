//! Extractors: what a handler can ask for besides its payload.

use super::ThreadCtx;
use crate::{
    capability::Negotiated,
    thread::{Message, Principal},
};

/// An extractor: a handler argument built from the turn, for agent state `S`.
///
/// Every argument of a handler but the last is an extractor; the last is the payload the
/// route is picked by (a capability message, `String` text or an
/// [`Envelope`](crate::capability::Envelope)). Implementing this one trait is all it takes for
/// your own type to be an extractor, in hand-written handlers and in `#[aitp::agent]` methods
/// alike (a tenant from the principal, a cart from the state …):
///
/// ```
/// use std::sync::Arc;
/// use aitp::agent::{FromTurn, ThreadCtx};
///
/// struct Shop;
///
/// /// The customer, read from the authenticated principal.
/// struct Customer(String);
///
/// impl FromTurn<Arc<Shop>> for Customer {
///     fn from_turn(cx: &ThreadCtx, _shop: &Arc<Shop>) -> Self {
///         Customer(cx.principal().to_string())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an extractor, so it cannot come before the payload",
    label = "only the last argument is the payload; this one must be an extractor",
    note = "a handler takes extractors first (`ThreadCtx`, `State<..>`, `Principal`, \
            `Negotiated`, `aitp::thread::Message`, or your own type implementing `FromTurn`) and \
            exactly one payload last: a capability message, `String` text or an `Envelope`",
    note = "if `{Self}` is the payload, move it to the last argument; if it should be an \
            extractor, implement `aitp::agent::FromTurn` for it"
)]
pub trait FromTurn<S>: Sized + Send + 'static {
    /// Builds the argument.
    fn from_turn(cx: &ThreadCtx, state: &S) -> Self;
}

/// The agent's shared state, given to [`Router::with_state`](crate::agent::Router::with_state).
#[derive(Debug, Clone, Copy, Default)]
pub struct State<S>(pub S);

impl<S: Clone + Send + 'static> FromTurn<S> for State<S> {
    fn from_turn(_: &ThreadCtx, state: &S) -> Self {
        State(state.clone())
    }
}

impl<S> FromTurn<S> for ThreadCtx {
    fn from_turn(cx: &ThreadCtx, _: &S) -> Self {
        cx.clone()
    }
}

impl<S> FromTurn<S> for Principal {
    fn from_turn(cx: &ThreadCtx, _: &S) -> Self {
        cx.principal().clone()
    }
}

impl<S> FromTurn<S> for Negotiated {
    fn from_turn(cx: &ThreadCtx, _: &S) -> Self {
        cx.negotiated().clone()
    }
}

impl<S> FromTurn<S> for Message {
    fn from_turn(cx: &ThreadCtx, _: &S) -> Self {
        cx.message().clone()
    }
}

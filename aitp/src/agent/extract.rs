//! Extractors: what a handler can ask for besides its payload.

use super::ThreadCtx;
use crate::{
    capability::Negotiated,
    thread::{Message, Principal},
};

/// A handler argument built from the turn. Implement it for your own types to extract
/// something from the context (a tenant from the principal, a cart from the state …).
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

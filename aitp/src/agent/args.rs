//! How the methods of an `#[aitp::agent]` impl block get their arguments.
//!
//! A method has exactly one *payload* argument (what the route is picked by) and any number of
//! *extractors* ([`FromTurn`] types), in any order. The macro cannot tell them apart by their
//! names — type aliases and paths must work — so each argument type states its role through
//! [`Arg`]: [`Payload`] for a capability message, text or envelope, [`NoPayload`] for an
//! extractor. The generated code folds the roles with [`Combine`] into the one payload type
//! (a compile error when there are none or two), then takes every argument with
//! [`ExtractAs::extract`], which hands out the payload or calls [`FromTurn::from_turn`].
//!
//! Your own extractor needs both traits:
//!
//! ```
//! use std::sync::Arc;
//! use aitp::agent::{FromTurn, ThreadCtx, args::{Arg, NoPayload}};
//!
//! struct Shop;
//!
//! /// The customer, read from the authenticated principal.
//! struct Customer(String);
//!
//! impl FromTurn<Arc<Shop>> for Customer {
//!     fn from_turn(cx: &ThreadCtx, _shop: &Arc<Shop>) -> Self {
//!         Customer(cx.principal().to_string())
//!     }
//! }
//! impl Arg for Customer {
//!     type Role = NoPayload;
//! }
//! ```
//!
//! Everything here is ordinary public API: the router the macro builds can be written by hand
//! with [`Router::handler`](super::Router::handler) and closures.

use std::marker::PhantomData;

use super::{FromTurn, IntoReplies, Reply, State, ThreadCtx};
use crate::{
    capability::{CapabilityMessage, Envelope, Negotiated},
    thread::{Message, Principal},
};

/// The role of a handler argument type: [`Payload`] or [`NoPayload`].
///
/// `#[derive(CapabilityMessage)]` implements it for each message type (`Payload<Self, Typed>`);
/// a type implementing [`CapabilityMessage`] by hand implements it the same way.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of an agent method",
    label = "neither a payload nor an extractor",
    note = "an agent method takes one payload (a capability message, a `String` of text or an \
            `Envelope`) and extractors (`ThreadCtx`, `State<..>`, `Principal`, `Negotiated`, \
            `aitp::thread::Message`, or your own type implementing `FromTurn` and \
            `aitp::agent::args::Arg` with `type Role = NoPayload`)"
)]
pub trait Arg: Sized + Send + 'static {
    /// [`Payload<Self, _>`](Payload) or [`NoPayload`].
    type Role;
}

/// The role of an extractor argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoPayload;

/// The role of a payload argument of type `T`, of kind `K` ([`Typed`], [`Text`] or [`Any`]).
pub struct Payload<T, K>(PhantomData<fn() -> (T, K)>);

impl<T, K> std::fmt::Debug for Payload<T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::any::type_name::<Self>())
    }
}

/// Payload kind: a typed capability message (a route of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typed {}

/// Payload kind: a text part (`String`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {}

/// Payload kind: any capability message (`Envelope`), for fallbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Any {}

impl Arg for String {
    type Role = Payload<String, Text>;
}

impl Arg for Envelope {
    type Role = Payload<Envelope, Any>;
}

macro_rules! extractors {
    ($($t:ty),*) => {
        $(impl Arg for $t {
            type Role = NoPayload;
        })*
    };
}

extractors!(ThreadCtx, Principal, Negotiated, Message);

impl<S: Send + 'static> Arg for State<S> {
    type Role = NoPayload;
}

/// The role of two or more payload arguments: `A` and `B` are the first two payload types.
/// A method with it does not compile ([`AtMostOne`] is not implemented for it).
pub struct TwoPayloads<A, B>(PhantomData<fn() -> (A, B)>);

impl<A, B> std::fmt::Debug for TwoPayloads<A, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::any::type_name::<Self>())
    }
}

/// Folds two argument roles (left to right over the arguments).
pub trait Combine<R> {
    /// The folded role.
    type Out;
}

impl Combine<NoPayload> for NoPayload {
    type Out = NoPayload;
}

impl<T, K> Combine<Payload<T, K>> for NoPayload {
    type Out = Payload<T, K>;
}

impl<T, K> Combine<NoPayload> for Payload<T, K> {
    type Out = Payload<T, K>;
}

impl<T, K, U, L> Combine<Payload<U, L>> for Payload<T, K> {
    type Out = TwoPayloads<T, U>;
}

impl<A, B> Combine<NoPayload> for TwoPayloads<A, B> {
    type Out = TwoPayloads<A, B>;
}

impl<A, B, U, L> Combine<Payload<U, L>> for TwoPayloads<A, B> {
    type Out = TwoPayloads<A, B>;
}

/// The roles of a method's arguments, checked: [`AtMostOne<R>`] then [`OnePayload<R>`] hold
/// when the folded role `R` names exactly one payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles;

/// The folded role `R` names at most one payload.
#[diagnostic::on_unimplemented(
    message = "an agent method takes exactly one payload, and this one takes two or more",
    label = "more than one payload: `{R}`",
    note = "the payload is the capability message (or text, or `Envelope`) the method answers; \
            every other argument must be an extractor such as `ThreadCtx`"
)]
pub trait AtMostOne<R> {
    /// `R`.
    type Out;
}

impl AtMostOne<NoPayload> for Roles {
    type Out = NoPayload;
}

impl<T, K> AtMostOne<Payload<T, K>> for Roles {
    type Out = Payload<T, K>;
}

/// The folded role `R` names a payload.
#[diagnostic::on_unimplemented(
    message = "this agent method has no payload argument",
    label = "no payload",
    note = "add the argument the method answers: a capability message for #[aitp::handler], \
            `String` for #[aitp::on_text], `Envelope` for #[aitp::fallback]"
)]
pub trait OnePayload<R> {
    /// `R`, now known to be one payload.
    type Payload;
}

impl<T, K> OnePayload<Payload<T, K>> for Roles {
    type Payload = Payload<T, K>;
}

/// The payload of an `#[aitp::handler]` method: a typed capability message.
#[diagnostic::on_unimplemented(
    message = "an #[aitp::handler] method takes a typed capability message, not `{Self}`",
    label = "not a capability message",
    note = "text goes to an #[aitp::on_text] method (`String`), any capability message to an \
            #[aitp::fallback] method (`Envelope`)"
)]
pub trait HandlerPayload {
    /// The message type.
    type Message: CapabilityMessage;
}

impl<T: CapabilityMessage> HandlerPayload for Payload<T, Typed> {
    type Message = T;
}

/// The payload of an `#[aitp::on_text]` method: `String`.
#[diagnostic::on_unimplemented(
    message = "an #[aitp::on_text] method takes the text as a `String`, not `{Self}`",
    label = "not `String`",
    note = "capability messages go to #[aitp::handler] (typed) or #[aitp::fallback] (`Envelope`)"
)]
pub trait TextPayload {
    /// `String`.
    type Text;
}

impl TextPayload for Payload<String, Text> {
    type Text = String;
}

/// The payload of an `#[aitp::fallback]` method: [`Envelope`].
#[diagnostic::on_unimplemented(
    message = "an #[aitp::fallback] method takes the message as an `Envelope`, not `{Self}`",
    label = "not `Envelope`",
    note = "typed messages go to #[aitp::handler], text to #[aitp::on_text] (`String`)"
)]
pub trait FallbackPayload {
    /// `Envelope`.
    type Message;
}

impl FallbackPayload for Payload<Envelope, Any> {
    type Message = Envelope;
}

/// The payload of one call, before it is handed to its argument.
///
/// Type-erased so that handing it out never constrains types: the fold already proved there is
/// exactly one payload argument and that its type is the route's, so a mistake shows up as one
/// error there, not as a cascade of mismatches here.
pub type PayloadSlot = Option<Box<dyn std::any::Any + Send>>;

/// Takes one argument of type `X` whose role is `Self`, for agent state `S`.
pub trait ExtractAs<S, X> {
    /// The argument: the payload (taken from `payload`) or an extractor's value.
    fn extract(cx: &ThreadCtx, state: &S, payload: &mut PayloadSlot) -> X;
}

impl<S, X: FromTurn<S>> ExtractAs<S, X> for NoPayload {
    fn extract(cx: &ThreadCtx, state: &S, _: &mut PayloadSlot) -> X {
        X::from_turn(cx, state)
    }
}

impl<S, T: 'static, K> ExtractAs<S, T> for Payload<T, K> {
    fn extract(_: &ThreadCtx, _: &S, payload: &mut PayloadSlot) -> T {
        let payload = payload
            .take()
            .expect("a method has exactly one payload argument (checked at compile time)");
        *payload
            .downcast::<T>()
            .expect("the payload argument has the route's type (checked at compile time)")
    }
}

/// A method's return value as replies (the generated code's check that it is
/// [`IntoReplies`]).
#[doc(hidden)]
pub fn into_replies<R: IntoReplies>(r: R) -> Vec<Reply> {
    r.into_replies()
}

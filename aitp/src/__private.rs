//! Support for macro-generated code. Not public API.

pub use schemars;
pub use serde;
pub use serde_json;

pub use crate::capability::BuiltIn;
pub use crate::capability::definition::{describe_branches, str_eq};

use serde::de::{self, Deserializer, Visitor};

use crate::{
    agent::{Handler, IntoReplies, Reply, Router},
    capability::{CapabilityMessage, Envelope},
};

/// A method's return value as replies: the generated code's check, spanned at the return
/// type, that it is [`IntoReplies`].
pub fn into_replies<R: IntoReplies>(r: R) -> Vec<Reply> {
    r.into_replies()
}

/// The last argument of an `#[aitp::handler]` method: a capability message. Only here to
/// say so when it is not (the router itself asks for [`CapabilityMessage`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a capability message, and the last argument of an \
               #[aitp::handler] method is the message it answers",
    label = "the payload goes here, last",
    note = "move the capability message this method answers to the last argument; extractors \
            such as `ThreadCtx` come before it",
    note = "text goes to an #[aitp::on_text] method (`String`), any capability message to an \
            #[aitp::fallback] method (`Envelope`)"
)]
pub trait HandlerPayload: CapabilityMessage {}

impl<T: CapabilityMessage> HandlerPayload for T {}

/// The last argument of an `#[aitp::on_text]` method: `String`.
#[diagnostic::on_unimplemented(
    message = "the last argument of an #[aitp::on_text] method is the text, a `String`, not `{Self}`",
    label = "the `String` payload goes here, last",
    note = "move the text to the last argument; extractors such as `ThreadCtx` come before it",
    note = "capability messages go to #[aitp::handler] (typed) or #[aitp::fallback] (`Envelope`)"
)]
pub trait TextPayload {
    /// The payload.
    fn from_text(text: String) -> Self;
}

impl TextPayload for String {
    fn from_text(text: String) -> Self {
        text
    }
}

/// The last argument of an `#[aitp::fallback]` method: [`Envelope`].
#[diagnostic::on_unimplemented(
    message = "the last argument of an #[aitp::fallback] method is the message, an `Envelope`, \
               not `{Self}`",
    label = "the `Envelope` payload goes here, last",
    note = "move the message to the last argument; extractors such as `ThreadCtx` come before it",
    note = "typed messages go to #[aitp::handler], text to #[aitp::on_text] (`String`)"
)]
pub trait FallbackPayload {
    /// The payload.
    fn from_envelope(message: Envelope) -> Self;
}

impl FallbackPayload for Envelope {
    fn from_envelope(message: Envelope) -> Self {
        message
    }
}

/// [`Router::handler`], with the payload checked as [`HandlerPayload`].
pub fn handler<S, T, A, H>(router: Router<S>, handler: H) -> Router<S>
where
    S: Send + Sync + 'static,
    T: HandlerPayload,
    H: Handler<T, A, S>,
{
    router.handler(handler)
}

/// The value of a field absent from the input: `None` for `Option`, an error otherwise.
///
/// Works like serde's own handling of missing fields, without depending on its private API.
pub fn missing_field<'de, T, E>(field: &'static str) -> Result<T, E>
where
    T: de::Deserialize<'de>,
    E: de::Error,
{
    T::deserialize(MissingField::<E>(field, std::marker::PhantomData))
}

struct MissingField<E>(&'static str, std::marker::PhantomData<E>);

impl<'de, E: de::Error> Deserializer<'de> for MissingField<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, E> {
        Err(E::missing_field(self.0))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

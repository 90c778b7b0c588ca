//! What handlers return, and how it becomes messages in the thread.

use std::fmt::Display;

use crate::{
    capability::{
        CapabilityMessage, Envelope,
        errors::{ErrorCode, ErrorReport},
    },
    thread::{Content, Message, Role, Run},
};

/// One reply message: text, or a capability message (sent as its JSON text).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// Text for people.
    Text(String),
    /// A capability message.
    Message(Envelope),
}

impl Reply {
    /// The text the reply travels as in a thread message's text part.
    pub fn to_text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Message(m) => m.to_json_string(),
        }
    }

    /// The assistant message this reply becomes in the thread of `run`: one text part (a
    /// capability message travels as its JSON text), marked with the run and its assistant
    /// so clients can list a run's replies (`run_id` filter) and the agent's cursor skips it.
    pub fn into_message(self, run: &Run) -> Message {
        let text = match self {
            Self::Text(t) => t,
            Self::Message(m) => m.to_json_string(),
        };
        let mut m = Message::new(
            run.thread_id.clone(),
            Role::Assistant,
            vec![Content::text(text)],
        );
        m.assistant_id = Some(run.assistant_id.clone());
        m.run_id = Some(run.id.clone());
        m
    }

    /// An error report in the thread.
    pub fn error(report: ErrorReport) -> Self {
        Self::Message(Envelope::from(report))
    }
}

/// What a handler may return: each reply becomes one assistant message in the thread, in order.
///
/// | return type | replies |
/// |---|---|
/// | `()` | none |
/// | `String`, `&'static str` | one text message |
/// | a capability message, a `#[derive(Capability)]` enum, an [`Envelope`] — anything `Into<Envelope>` | one capability message |
/// | `Vec<M>` of capability messages | one message each |
/// | [`Reply`], `Vec<Reply>` | as given (mixing text and messages) |
/// | `Option<R>` | `R`'s replies, or none |
/// | `Result<R, E: Display>` | `R`'s replies, or one `handler_error` [`ErrorReport`] with the error's text |
/// | `(R1, R2)` … `(R1, R2, R3, R4)` | each element's replies, in order |
///
/// Capability messages come in through the one conversion every layer uses, `From<T> for
/// Envelope`: anything a capability defines as convertible to an envelope is a reply, with
/// nothing for its derive to generate here.
#[diagnostic::on_unimplemented(
    message = "a handler cannot return `{Self}`",
    label = "not a reply",
    note = "a handler returns `()`, text (`String`, `&'static str`), a capability message or \
            anything else `Into<Envelope>`, a `Reply`, a `Vec` of those, an `Option` or a \
            `Result<_, impl Display>` of those, or a tuple of up to four of them"
)]
pub trait IntoReplies {
    /// The replies.
    fn into_replies(self) -> Vec<Reply>;
}

impl IntoReplies for () {
    fn into_replies(self) -> Vec<Reply> {
        Vec::new()
    }
}

impl IntoReplies for String {
    fn into_replies(self) -> Vec<Reply> {
        vec![Reply::Text(self)]
    }
}

impl IntoReplies for &'static str {
    fn into_replies(self) -> Vec<Reply> {
        vec![Reply::Text(self.to_owned())]
    }
}

impl IntoReplies for Reply {
    fn into_replies(self) -> Vec<Reply> {
        vec![self]
    }
}

impl IntoReplies for Vec<Reply> {
    fn into_replies(self) -> Vec<Reply> {
        self
    }
}

// Not offered as the way out when a return type is not a reply: the table above is.
#[diagnostic::do_not_recommend]
impl<T: Into<Envelope>> IntoReplies for T {
    fn into_replies(self) -> Vec<Reply> {
        vec![Reply::Message(self.into())]
    }
}

impl<T: CapabilityMessage> IntoReplies for Vec<T> {
    fn into_replies(self) -> Vec<Reply> {
        self.into_iter()
            .map(|m| Reply::Message(Envelope::from(m)))
            .collect()
    }
}

impl<T: IntoReplies> IntoReplies for Option<T> {
    fn into_replies(self) -> Vec<Reply> {
        self.map(IntoReplies::into_replies).unwrap_or_default()
    }
}

/// An `Err` becomes a `handler_error` [`ErrorReport`] whose message is the error's text, so
/// the peer learns what went wrong and can act on it.
impl<T: IntoReplies, E: Display> IntoReplies for Result<T, E> {
    fn into_replies(self) -> Vec<Reply> {
        match self {
            Ok(t) => t.into_replies(),
            Err(e) => vec![Reply::error(ErrorReport::new(
                ErrorCode::HandlerError,
                e.to_string(),
            ))],
        }
    }
}

macro_rules! impl_tuple {
    ($($t:ident),*) => {
        #[allow(non_snake_case)]
        impl<$($t: IntoReplies),*> IntoReplies for ($($t,)*) {
            fn into_replies(self) -> Vec<Reply> {
                let ($($t,)*) = self;
                let mut out = Vec::new();
                $(out.extend($t.into_replies());)*
                out
            }
        }
    };
}

impl_tuple!(A, B);
impl_tuple!(A, B, C);
impl_tuple!(A, B, C, D);

//! Dispatch: route each incoming capability message to its handler, turn the handler's return
//! value into replies. Transport-agnostic: (thread, new messages) in, reply messages out.
//!
//! Handlers are async functions whose last argument is the payload — a typed capability message
//! (`Decision`, your own `RedeemPoints` …), `String` for text, or [`Envelope`] for a fallback —
//! and whose other arguments are extractors ([`ThreadCtx`], [`State`], [`Principal`](crate::thread::Principal),
//! [`Negotiated`], the thread [`Message`](crate::thread::Message)). The payload's type picks the
//! route: (capability, major version, message key). Return anything that is [`IntoReplies`]:
//! `()`, text, a capability message, several, an `Option`, or a `Result` whose error becomes an
//! [`ErrorReport`](crate::capability::errors::ErrorReport) in the thread.
//!
//! ```
//! use aitp::agent::{Router, ThreadCtx};
//! use aitp::capability::decisions::{Decision, RequestDecision};
//!
//! async fn greet(text: String) -> RequestDecision {
//!     RequestDecision::radio("colour", ["red", "blue"]).title(format!("You said {text:?}. Pick a colour")).build()
//! }
//! async fn chosen(cx: ThreadCtx, d: Decision) -> Result<String, std::fmt::Error> {
//!     Ok(format!("thread {}: you chose {:?}", cx.thread_id(), d.chosen_ids().collect::<Vec<_>>()))
//! }
//! let router = Router::new().on_text(greet).handler(chosen);
//! assert_eq!(router.capabilities().len(), 1);
//! ```
//!
//! The same router can be written as a type whose methods are the handlers, with
//! `#[aitp::agent]` on its impl block and `#[aitp::handler]`, `#[aitp::on_text]`,
//! `#[aitp::fallback]` on the methods: see [`IntoRouter`] and [`args`].
//!
//! [`Envelope`]: crate::capability::Envelope
//! [`Negotiated`]: crate::capability::Negotiated

pub mod args;
mod context;
mod extract;
mod handler;
mod into_router;
mod reply;
mod router;

pub use context::{ThreadCtx, Turn};
pub use extract::{FromTurn, State};
pub use handler::{BoxFuture, Handler};
pub use into_router::IntoRouter;
pub use reply::{IntoReplies, Reply};
pub use router::{Agent, Forward, ForwardError, Router, Unsupported};

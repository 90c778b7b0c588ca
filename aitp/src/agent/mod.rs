//! Dispatch: route each incoming capability message to its handler, turn the handler's return
//! value into replies. Transport-agnostic: (thread, new messages) in, reply messages out.
//!
//! Handlers follow axum's rule: **the payload is the last argument**. The payload is what the
//! route is picked by — a typed capability message (`Decision`, your own `RedeemPoints` …) for
//! [`Router::handler`], `String` for [`Router::on_text`], [`Envelope`] for
//! [`Router::fallback`]. Every argument before it is an extractor, a [`FromTurn`] type:
//! [`ThreadCtx`], [`State`], [`Principal`], [`Negotiated`], the thread
//! [`Message`](crate::thread::Message) or your own. A handler returns anything that is
//! [`IntoReplies`]: `()`, text, a capability message, several, an `Option`, or a `Result`
//! whose error becomes an [`ErrorReport`](crate::capability::errors::ErrorReport) in the thread.
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
//! `#[aitp::fallback]` on the methods. The macro writes nothing you could not write by hand: a
//! `From<Greeter> for Router<Arc<Greeter>>` that calls [`Router::with_state`] and one
//! registration per method, and an inherent `Greeter::router(self)` calling it (unless the impl
//! block defines its own `router`, which can start from `Router::from(self)`).
//!
//! ```
//! use std::sync::Arc;
//! use aitp::agent::{Agent, Router, State, ThreadCtx};
//! use aitp::capability::decisions::{Decision, RequestDecision};
//!
//! struct Greeter {
//!     greeting: String,
//! }
//!
//! #[aitp::agent(actor_id = "greeter")]
//! impl Greeter {
//!     /// Text: sync methods work too.
//!     #[aitp::on_text]
//!     fn hello(&self, text: String) -> RequestDecision {
//!         RequestDecision::radio("colour", ["red", "blue"])
//!             .title(format!("{} You said {text:?}. Pick a colour", self.greeting))
//!             .build()
//!     }
//!
//!     /// `decision`: the payload, last, picks the route; extractors come before it.
//!     #[aitp::handler]
//!     async fn chosen(&self, cx: ThreadCtx, d: Decision) -> String {
//!         format!("thread {}: you chose {:?}", cx.thread_id(), d.chosen_ids().collect::<Vec<_>>())
//!     }
//! }
//!
//! let router: Router<Arc<Greeter>> = Greeter { greeting: "Hi!".into() }.router();
//! assert_eq!(Agent::actor_id(&router), "greeter");
//! assert_eq!(router.capabilities().len(), 1); // AITP-02, from the `Decision` handler
//!
//! // The same router by hand: what the macro generates.
//! let by_hand = Router::with_state(Arc::new(Greeter { greeting: "Hi!".into() }))
//!     .actor_id("greeter")
//!     .on_text(|State(g): State<Arc<Greeter>>, text: String| async move { g.hello(text) })
//!     .handler(|State(g): State<Arc<Greeter>>, cx: ThreadCtx, d: Decision| async move {
//!         g.chosen(cx, d).await
//!     });
//! assert_eq!(by_hand.capabilities(), router.capabilities());
//! ```
//!
//! # Payments
//!
//! An agent that takes AITP-01 payments opts in once to the SDK's payment gate:
//! `Router::payment_gate(PaymentDesk::new(gate, channels))` (feature `signing`). Then its
//! `Payment` handler (or its fallback) is called **only** for a payment of a quote the agent
//! sent in that thread, unexpired, whose every signature (payer, merchant, each wrapper)
//! verifies under the keys its `KeyResolver` allows, that matches the quote exactly and that
//! has not been paid by another payment; anything else is answered in the thread with a
//! signed `payment_confirmation` of result `failure` naming the failed check, and the
//! handler never runs. The same payment again gets the first confirmation back. The handler
//! takes `Option<Admitted>` to see what the gate verified; the confirmation it returns is
//! signed by the gate. The `payments` module lists the checks, their order and their codes.
//!
//! [`Envelope`]: crate::capability::Envelope
//! [`Negotiated`]: crate::capability::Negotiated
//! [`Principal`]: crate::thread::Principal

mod context;
mod extract;
mod handler;
mod history;
#[cfg(feature = "signing")]
pub mod payments;
mod reply;
mod router;

pub use context::{ThreadCtx, Turn};
pub use extract::{FromTurn, State};
pub use handler::{BoxFuture, Handler};
pub use history::{HistoryError, HistoryPage, MessagesHistory, ThreadHistory};
#[cfg(feature = "signing")]
pub use payments::{Admitted, KnownChannels, PaymentChannels, PaymentDesk};
pub use reply::{IntoReplies, Reply};
pub use router::{Agent, Forward, ForwardError, Router, Unsupported};

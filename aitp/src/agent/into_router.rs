//! [`IntoRouter`]: what `#[aitp::agent]` implements for an agent type.

use super::Router;

/// A value that becomes a [`Router`]: an agent type whose impl block carries
/// `#[aitp::agent]`, or a router itself.
///
/// `#[aitp::agent]` implements it for `T` with `State = Arc<T>`, building the router with
/// [`Router::with_state`] and one [`Router::handler`], [`Router::on_text`] or
/// [`Router::fallback`] call per marked method, and adds an inherent `T::router(self)` that
/// calls it (unless the impl block defines its own `router`).
///
/// ```
/// use std::sync::Arc;
/// use aitp::agent::{Agent, Router, State, ThreadCtx};
/// use aitp::capability::decisions::{Decision, RequestDecision};
///
/// struct Greeter {
///     greeting: String,
/// }
///
/// #[aitp::agent(actor_id = "greeter")]
/// impl Greeter {
///     /// Text: sync methods work too.
///     #[aitp::on_text]
///     fn hello(&self, text: String) -> RequestDecision {
///         RequestDecision::radio("colour", ["red", "blue"])
///             .title(format!("{} You said {text:?}. Pick a colour", self.greeting))
///             .build()
///     }
///
///     /// `decision`: the payload's type picks the route; extractors come in any order.
///     #[aitp::handler]
///     async fn chosen(&self, d: Decision, cx: ThreadCtx) -> String {
///         format!("thread {}: you chose {:?}", cx.thread_id(), d.chosen_ids().collect::<Vec<_>>())
///     }
/// }
///
/// let router: Router<Arc<Greeter>> = Greeter { greeting: "Hi!".into() }.router();
/// assert_eq!(Agent::actor_id(&router), "greeter");
/// assert_eq!(router.capabilities().len(), 1); // AITP-02, from the `Decision` handler
///
/// // The same router by hand: what the macro generates.
/// let by_hand = Router::with_state(Arc::new(Greeter { greeting: "Hi!".into() }))
///     .actor_id("greeter")
///     .on_text(|State(g): State<Arc<Greeter>>, text: String| async move { g.hello(text) })
///     .handler(|State(g): State<Arc<Greeter>>, cx: ThreadCtx, d: Decision| async move {
///         g.chosen(d, cx).await
///     });
/// assert_eq!(by_hand.capabilities(), router.capabilities());
/// ```
pub trait IntoRouter {
    /// The router's state.
    type State: Send + Sync + 'static;

    /// The router.
    fn into_router(self) -> Router<Self::State>;
}

impl<S: Send + Sync + 'static> IntoRouter for Router<S> {
    type State = S;

    fn into_router(self) -> Router<S> {
        self
    }
}

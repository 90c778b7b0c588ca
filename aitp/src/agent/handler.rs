//! The `Handler` trait, implemented for async functions of extractors and a payload.

use std::{future::Future, pin::Pin};

use super::{FromTurn, IntoReplies, Reply, ThreadCtx};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An async function usable as a handler of payload `T`, with extractor arguments `Args`, for
/// agent state `S`.
///
/// Implemented for `Fn(E1, …, En, T) -> impl Future<Output: IntoReplies>` with up to eight
/// extractors `Ei: FromTurn<S>`: as in axum, the payload comes last, so which argument is the
/// payload never depends on the types. What `T` may be is up to the registration:
/// [`Router::handler`](super::Router::handler) takes a capability message,
/// [`Router::on_text`](super::Router::on_text) `String`,
/// [`Router::fallback`](super::Router::fallback) an [`Envelope`](crate::capability::Envelope).
/// You do not implement it yourself.
pub trait Handler<T, Args, S>: Clone + Send + Sync + 'static {
    /// Runs the handler.
    fn call(&self, cx: ThreadCtx, state: &S, payload: T) -> BoxFuture<'static, Vec<Reply>>;
}

macro_rules! impl_handler {
    ($($a:ident),*) => {
        #[allow(non_snake_case, unused_variables)]
        impl<F, Fut, R, S, T, $($a,)*> Handler<T, ($($a,)*), S> for F
        where
            F: Fn($($a,)* T) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoReplies,
            T: Send + 'static,
            $($a: FromTurn<S>,)*
        {
            fn call(&self, cx: ThreadCtx, state: &S, payload: T) -> BoxFuture<'static, Vec<Reply>> {
                $(let $a = $a::from_turn(&cx, state);)*
                let fut = (self)($($a,)* payload);
                Box::pin(async move { fut.await.into_replies() })
            }
        }
    };
}

impl_handler!();
impl_handler!(A1);
impl_handler!(A1, A2);
impl_handler!(A1, A2, A3);
impl_handler!(A1, A2, A3, A4);
impl_handler!(A1, A2, A3, A4, A5);
impl_handler!(A1, A2, A3, A4, A5, A6);
impl_handler!(A1, A2, A3, A4, A5, A6, A7);
impl_handler!(A1, A2, A3, A4, A5, A6, A7, A8);

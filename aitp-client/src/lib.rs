//! A typed client for AITP-T01 agents: any server speaking the OpenAI Assistants v2 Threads
//! API (our `aitp::server`, NEAR AI's hub, OpenAI-compatible mocks).
//!
//! - [`Client`] ([`Client::builder`]): base URL, our actor and capabilities, auth (bearer,
//!   [`NearAuth`], a [`HeaderProvider`]), timeouts, a [`RetryPolicy`] that honours
//!   `Retry-After` and retries only what is safe, a user agent.
//! - The raw API: [`Client::threads`], [`Client::messages`], [`Client::runs`]; lists are
//!   auto-paginating `Stream`s; streamed runs are [`EventStream`]s of typed events.
//! - Conversations: [`ThreadHandle`] (from [`Client::create_thread`]) negotiates capabilities
//!   from the thread's actors, [posts](ThreadHandle::post) text and capability messages,
//!   [runs](ThreadHandle::run) the agent (awaited, [streamed](PendingRun::stream) or
//!   [started](PendingRun::start)), [asks](ThreadHandle::ask) (post and run) and
//!   [expects](ThreadHandle::expect) correlated typed replies.
//! - Passthrough: [`Forwarder`] implements [`aitp::agent::Forward`], so an agent built with
//!   `aitp` can pass what it does not handle to another agent; with an `Affiliation`
//!   (feature `signing`, on by default) it passes the other agent's quotes on as an
//!   affiliate, verified and wrapped (`wrapped_quote`).
//!
//! Every failure is an [`Error`] naming the request, with the status, the server's error body
//! and the raw body when it does not decode.
//!
//! Feature `cli` builds the `aitp` terminal client (`cargo install --path aitp-client
//! --features cli`): `aitp chat URL` renders `request_decision` as a menu, `request_data` as a
//! validated form and a quote as a confirmation with its exact amounts; `aitp send`,
//! `aitp messages`, `aitp threads` and `aitp schema` script the same calls.
//!
//! TLS: the default build enables no TLS backend and speaks plain HTTP (loopback, or behind a
//! proxy). For `https`, enable the feature `rustls` (or `native-tls`) of this crate.
#![deny(missing_docs)]

#[cfg(feature = "signing")]
mod affiliate;
mod auth;
mod client;
mod error;
mod forward;
mod handle;
mod resources;
mod retry;
mod sse;

#[cfg(feature = "signing")]
pub use affiliate::{AffiliateError, Affiliation};
pub use aitp;
pub use auth::{HeaderProvider, NearAuth};
pub use client::{Client, ClientBuilder, USER_AGENT, WaitPolicy};
pub use error::{Error, Result};
pub use forward::{Forwarder, to_replies};
pub use handle::{PendingRun, RunHandle, ThreadHandle, correlation_id};
/// The HTTP client underneath (its `Method`, `StatusCode` and headers appear in [`Error`]).
pub use reqwest;
pub use resources::{Messages, Runs, Threads};
pub use retry::RetryPolicy;
pub use sse::{EventStream, StreamOutcome};

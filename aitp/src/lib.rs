//! # aitp — the Rust SDK for AITP
//!
//! AITP, the Agent Interaction & Transaction Protocol, lets AI agents talk across trust
//! boundaries in chat threads (transport AITP-T01, the OpenAI Assistants v2 Threads API) and
//! exchange structured **capability messages** inside them: payments (AITP-01), decisions
//! (AITP-02), data requests (AITP-03), NEAR and EVM wallets (AITP-04, AITP-05), and any
//! capability someone defines.
//!
//! This crate is the protocol model:
//!
//! - [`capability`]: capability identity ([`capability::CapabilityId`]) and negotiation, the
//!   typed messages of AITP-01..05 and the legacy NEAR AI payments, the envelope
//!   [`capability::Envelope`] and extraction from thread content.
//! - [`thread`]: threads, messages and actors, in the exact OpenAI Assistants v2 wire shape
//!   and the AITP spec's own shapes.
//! - [`money`]: exact amounts; money never goes through a float.
//! - [`validate`]: what the official schemas demand, with errors that name the JSON path.
//! - [`schema`]: JSON Schema 2020-12 generated from the Rust types.
//! - `sign` (feature `signing`, on by default): ed25519 signatures of AITP-01 messages over
//!   RFC 8785 canonical JSON, who may sign, the quote lifecycle, NEP-413 and EIP-191/712.
//!
//! The wire rule throughout is *tolerant reader, strict writer*: every form seen in the wild
//! is read, unknown fields and capabilities pass through losslessly, and only canonical forms
//! are written.
//!
//! ```
//! use aitp::capability::{Envelope, decisions::RequestDecision};
//!
//! let request = RequestDecision::radio("pick-size", ["S", "M", "L"])
//!     .title("Which size?")
//!     .build();
//! let json = Envelope::from(request.clone()).to_json_string();
//! let parsed = Envelope::parse(&json)?;
//! assert_eq!(parsed.message::<RequestDecision>()?, Some(request));
//! # Ok::<(), aitp::capability::ParseError>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate self as aitp;

#[macro_use]
mod wire_enum;

pub mod agent;
pub mod capability;
mod json;
pub mod money;
pub mod schema;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "signing")]
pub mod sign;
pub mod store;
pub mod thread;
pub mod validate;

#[cfg(feature = "server")]
pub use server::serve;

pub use aitp_derive::{Capability, CapabilityMessage, OpenDeserialize};
pub use aitp_derive::{agent, fallback, handler, on_text};

#[doc(hidden)]
pub mod __private;

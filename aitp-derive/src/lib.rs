//! Procedural macros for `aitp-sdk`.
//!
//! Use them through the `aitp` crate (`aitp::CapabilityMessage`, `aitp::Capability`,
//! `aitp::OpenDeserialize`, `#[aitp::agent]` with `#[aitp::handler]`, `#[aitp::on_text]`,
//! `#[aitp::fallback]`): the generated code names `::aitp` paths, so depending on this crate
//! alone is not enough.
#![deny(missing_docs)]

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod agent;
mod capability;
mod capability_message;
mod open_deserialize;
mod semver_check;

/// Derives `serde::Deserialize` for a struct whose unknown fields are kept.
///
/// Every named field is read from the key given by `#[serde(rename = "...")]` (or its
/// own name); the one field marked `#[serde(flatten)]` (a `serde_json::Map<String, Value>`)
/// receives every other key, so serialising the value again gives back the same JSON.
///
/// Unlike serde's own `flatten`, values are read straight from the input, never through an
/// intermediate buffer: exact numbers (`arbitrary_precision`) survive, and parsing is faster.
/// Missing `Option` fields become `None`; fields marked `#[serde(default)]` take their default;
/// any other missing field is an error naming it.
#[proc_macro_derive(OpenDeserialize, attributes(serde))]
pub fn derive_open_deserialize(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    open_deserialize::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `aitp::capability::CapabilityMessage` for one message type of a capability.
///
/// ```ignore
/// #[derive(Serialize, Deserialize, aitp::CapabilityMessage)]
/// #[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json", key = "redeem_points")]
/// struct RedeemPoints { account: String, points: u64 }
/// ```
///
/// `capability` is the schema URL of the capability, which must carry a semantic version
/// (`v1.2.0`); `key` is the message's top-level key. Add `validate` when the type implements
/// `aitp::validate::Validate`, so that `CapabilityMessage::validate` runs those checks.
#[proc_macro_derive(CapabilityMessage, attributes(aitp))]
pub fn derive_capability_message(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    capability_message::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `aitp::capability::Capability` for an enum of a capability's message types.
///
/// ```ignore
/// /// Loyalty points: spend them, learn the balance.
/// #[derive(Debug, Clone, aitp::Capability)]
/// #[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json")]
/// enum Loyalty {
///     /// The user spends points.
///     Redeem(RedeemPoints),
///     /// What is left.
///     Balance(PointsBalance),
/// }
/// let schema = Loyalty::schema(); // with `aitp::capability::Capability` in scope
/// ```
///
/// Each variant wraps one `CapabilityMessage` type. `capability` (optional: by default the first
/// message's) is the schema URL and the document's `$id`; `title` (default: the enum's name)
/// titles the schema; the enum's doc comment becomes its `description` and each variant's doc
/// comment the description of its `anyOf` branch. It is a compile error for a message to carry
/// another capability URL, or for two messages to share a key.
///
/// Also generates `From<Message>` for each variant and `From<Enum> for Envelope`; through the
/// latter a handler can return any message of the capability.
#[proc_macro_derive(Capability, attributes(aitp))]
pub fn derive_capability(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    capability::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns an impl block into an agent: its marked methods become the routes of an
/// `aitp::agent::Router`.
///
/// ```ignore
/// struct Shop { /* catalogue, orders ... */ }
///
/// #[aitp::agent(actor_id = "shop")]
/// impl Shop {
///     #[aitp::on_text]
///     async fn greet(&self, text: String) -> RequestDecision { /* ... */ }
///
///     #[aitp::handler]
///     async fn chosen(&self, cx: ThreadCtx, decision: Decision) -> Result<Quote, ShopError> { /* ... */ }
///
///     #[aitp::handler]
///     fn redeem(&self, who: Principal, points: RedeemPoints) -> PointsBalance { /* sync is fine */ }
///
///     #[aitp::fallback]
///     async fn other(&self, m: Envelope) -> String { /* ... */ }
/// }
///
/// let router = Shop::new().router(); // Router<Arc<Shop>>, also `Router::from(Shop::new())`
/// ```
///
/// - `#[aitp::handler]`: the method answers one capability message type, its *payload*;
///   `#[aitp::on_text]`: text parts (`String`); `#[aitp::fallback]`: capability messages no
///   handler takes (`Envelope`).
/// - Methods take `&self` (or no receiver) and may be `async` or not. As in axum, the payload is
///   the **last** argument; the arguments before it are extractors (`ThreadCtx`,
///   `State<Arc<Self>>`, `Principal`, `Negotiated`, `aitp::thread::Message`, or your own type
///   implementing `aitp::agent::FromTurn`). A payload anywhere else, or a method without one,
///   is a compile error pointing at the argument. Methods return anything `IntoReplies`.
/// - Generates `impl From<Shop> for aitp::agent::Router<Arc<Shop>>` with `Router::with_state`,
///   `.handler`, `.on_text` and `.fallback` — nothing you could not write by hand — and an
///   inherent `Shop::router(self)`, unless the impl block defines `router` itself (which can
///   start from `Router::from(self)`). The actor id comes from `actor_id = "..."`, or from a
///   `fn actor_id` in the block. `validate_incoming = false` passes invalid messages to the
///   handlers.
/// - The declared capabilities are those of the handlers (the router collects them).
#[proc_macro_attribute]
pub fn agent(attr: TokenStream, item: TokenStream) -> TokenStream {
    agent::expand(attr.into(), item.into()).into()
}

/// Marks a method of an `#[aitp::agent]` impl block as the handler of its payload's capability
/// message type. Only meaningful inside such a block; see [`macro@agent`].
#[proc_macro_attribute]
pub fn handler(_attr: TokenStream, item: TokenStream) -> TokenStream {
    agent::stray_marker(agent::Kind::Handler, item.into()).into()
}

/// Marks a method of an `#[aitp::agent]` impl block as the text handler (payload `String`).
/// Only meaningful inside such a block; see [`macro@agent`].
#[proc_macro_attribute]
pub fn on_text(_attr: TokenStream, item: TokenStream) -> TokenStream {
    agent::stray_marker(agent::Kind::Text, item.into()).into()
}

/// Marks a method of an `#[aitp::agent]` impl block as the fallback for capability messages no
/// handler takes (payload `Envelope`). Only meaningful inside such a block; see
/// [`macro@agent`].
#[proc_macro_attribute]
pub fn fallback(_attr: TokenStream, item: TokenStream) -> TokenStream {
    agent::stray_marker(agent::Kind::Fallback, item.into()).into()
}

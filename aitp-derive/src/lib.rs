//! Procedural macros for `aitp-sdk`.
//!
//! Use them through the `aitp` crate (`aitp::CapabilityMessage`, `aitp::OpenDeserialize`):
//! the generated code names `::aitp` paths, so depending on this crate alone is not enough.
#![deny(missing_docs)]

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

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

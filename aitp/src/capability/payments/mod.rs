//! AITP-01 Payments: signed quotes, affiliate wrapping, payments over NEAR payment channels,
//! confirmations and top-ups.
//!
//! Schema: `https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json`. Every object
//! in it is **closed** (`additionalProperties: false`); parsing still keeps unknown fields (so a
//! message passes through unchanged) and [`Validate`] reports them with their path.
//!
//! No peer is known to speak AITP-01 yet, so parsing demands what the schema demands of ids,
//! currencies and amounts (a missing `merchant_id` or an amount of `"1e3"` is a parse error
//! naming its path). Signatures are the exception: they are `Option`s, because an unsigned
//! message is a normal state while building one, and validation reports them when missing.
//!
//! Amounts are [`Amount`]s: decimal strings (`"99.99"`), exact, never floats. Timestamps and
//! expirations are RFC 3339 strings. Not to be confused with the legacy *Transactions* quote
//! ([`super::transactions::Quote`]: `payee_id`, `payment_plans`, number amounts) that NEAR AI
//! and AITP-02 product options use.
//!
//! # Signatures
//!
//! Quotes, payments, confirmations and top-ups carry a signature string (`ed25519:<base64>` in
//! the spec). This module does no cryptography: the [`Signed`] trait gives each of them
//! `signing_payload()` (the bytes to sign), `sign_with(|bytes| signature)` and
//! `verify_with(|bytes, signature| ok)`, so any signer (a key in memory, an HSM, a wallet)
//! plugs in without a dependency.
//!
//! What is signed is the message body **without its signature field**, in the canonical form
//! of [`canonical_json`]: object keys sorted recursively, no whitespace. The spec's prose asks
//! for exactly that ("sort all object keys alphabetically, remove all whitespace"), but its
//! pseudocode (`JSON.stringify(obj, Object.keys(obj).sort())`) passes the key list as an
//! allow-list that drops every nested key not also present at the top level, so it would not
//! sign the amounts. We follow the prose, with RFC 8785 (JCS) rules for key order and string
//! escaping. A wrapper signs `{"new_wrapper": <wrapper without signature>, "original_quote":
//! <quote>, "previous_wrappers": [<wrappers>]}` in the same form (the spec's pseudocode payload).
//!
//! ```
//! use aitp::capability::payments::{PaymentConfirmation, PaymentMethodUsed, PaymentOption, Payment, Quote, Signed};
//! use aitp::capability::transactions::PaymentOutcome;
//!
//! let merchant_key = |bytes: &[u8]| format!("ed25519:{}", bytes.len()); // a real signer here
//! let quote = Quote::builder("q_1", "store.near", "Annual plan")
//!     .expiration("2030-01-01T00:00:00Z")
//!     .option(PaymentOption::near_payment_channel(
//!         "99.99".parse().unwrap(), "USD", "usdc.near", "store.near",
//!     ))
//!     .sign_with(merchant_key);
//! assert!(quote.validate().is_ok());
//!
//! let option = &quote.payment_options[0];
//! let method = PaymentMethodUsed::for_option(option, &option.payment_methods[0], "ch_1");
//! assert!(quote.accepts(&method));
//! let payment = Payment::new(&quote, "user.near", method).sign_with(|b| format!("ed25519:{}", b.len()));
//! assert!(payment.validate().is_ok());
//!
//! let confirmation = PaymentConfirmation::for_payment(&payment, "pay_1", PaymentOutcome::Success)
//!     .message("Thanks!")
//!     .sign_with(merchant_key);
//! assert!(confirmation.validate().is_ok());
//! assert!(confirmation.verify_with(|bytes, sig| merchant_key(bytes) == sig));
//! ```

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    CapabilityMessage, OpenDeserialize,
    capability::transactions::{PaymentDetail, PaymentOutcome, now_rfc3339},
    money::Amount,
    validate::{Validate, Validator, check_enum},
};

const ROLES: &[&str] = &["personal_assistant", "discovery", "service", "other"];
const METHOD_TYPES: &[&str] = &["near_payment_channel"];
const RESULTS: &[&str] = &["success", "failure", "pending"];

#[macro_use]
mod signing;
mod payment;
mod quote;
mod top_up;
mod wrapped_quote;

pub use payment::*;
pub use quote::*;
pub use signing::*;
pub use top_up::*;
pub use wrapped_quote::*;

use quote::ConfirmationResultSchema;
use signing::check_signature;

#[cfg(test)]
mod tests;

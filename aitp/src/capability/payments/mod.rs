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
//! Quotes, payments, confirmations, top-ups and each wrapper of a wrapped quote carry a
//! signature string (`ed25519:<base64>` in the spec). The types here only hold it: an
//! unsigned message is a normal state while building one (validation reports the missing
//! signature). Making and checking signatures — ed25519 over the RFC 8785 canonical JSON of
//! the body without its signature field, who may sign for whom, wrapper chains — is
//! `aitp::sign` (feature `signing`, on by default), which documents the scheme byte for byte;
//! an agent takes payments through its payment gate (`Router::payment_gate`).
//!
//! ```
//! use aitp::capability::payments::{PaymentConfirmation, PaymentMethodUsed, PaymentOption, Payment, Quote};
//! use aitp::capability::transactions::PaymentOutcome;
//! # #[cfg(feature = "signing")] {
//! use aitp::sign::{SecretKey, sign, verify};
//!
//! let merchant = SecretKey::from_seed(&[1; 32]);
//! let payer = SecretKey::from_seed(&[2; 32]);
//! let quote = Quote::builder("q_1", "store.near", "Annual plan")
//!     .expiration("2030-01-01T00:00:00Z")
//!     .option(PaymentOption::near_payment_channel(
//!         "99.99".parse().unwrap(), "USD", "usdc.near", "store.near",
//!     ))
//!     .build_unsigned();
//! let quote = sign(&merchant, quote).unwrap();
//! assert!(quote.validate().is_ok());
//!
//! let option = &quote.payment_options[0];
//! let method = PaymentMethodUsed::for_option(option, &option.payment_methods[0], "ch_1");
//! assert!(quote.accepts(&method));
//! let payment = sign(&payer, Payment::new(&quote, "user.near", method)).unwrap();
//! assert!(payment.validate().is_ok());
//!
//! let confirmation = PaymentConfirmation::for_payment(&payment, "pay_1", PaymentOutcome::Success)
//!     .message("Thanks!");
//! let confirmation = sign(&merchant, confirmation).unwrap();
//! assert!(confirmation.validate().is_ok());
//! verify(&merchant.public_key(), &confirmation).unwrap();
//! # }
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

mod payment;
mod quote;
mod top_up;
mod wrapped_quote;

pub use payment::*;
pub use quote::*;
pub use top_up::*;
pub use wrapped_quote::*;

use quote::ConfirmationResultSchema;

#[cfg(test)]
mod tests;

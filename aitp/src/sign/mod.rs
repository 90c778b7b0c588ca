//! Signatures that can be trusted: ed25519 over RFC 8785 canonical JSON for AITP-01
//! messages, who may sign ([`KeyResolver`]), and NEP-413 / EIP-191 / EIP-712 wallet
//! signatures.
//!
//! AITP-01 puts a signature on every message that moves money. This module makes and checks
//! them so that another implementation, following the rules below, gets the same bytes and
//! accepts the same signatures. Where the spec is silent or wrong, the rule is **this SDK's
//! reading of the spec**, marked *(reading)*.
//!
//! # The scheme
//!
//! **Keys.** ed25519, written as NEAR writes them: a public key is `ed25519:` followed by the
//! base58 (Bitcoin alphabet) of its 32 bytes; a secret key is `ed25519:` followed by the
//! base58 of the 64-byte keypair (seed, then public key), the `near-cli` form, or of the bare
//! 32-byte seed. See [`PublicKey`] and [`SecretKey`].
//!
//! **Signed bytes.** A message's signature covers the UTF-8 bytes of the
//! [RFC 8785](https://www.rfc-editor.org/rfc/rfc8785) (JCS) canonical JSON of the message
//! *body* — the object under the message's key (`quote`, `payment`, …), without `$schema`
//! and without the envelope — with the signature field removed:
//!
//! | message | signature field | signed by |
//! |---|---|---|
//! | `quote` | `merchant_signature` | the merchant (`merchant_id`) |
//! | `payment` | `payer_signature` | the payer (`payer_id`) |
//! | `payment_confirmation` | `merchant_signature` | the merchant of the quote paid |
//! | `top_up_request` | `merchant_signature` | the merchant (`merchant_id`) |
//! | `top_up_response` | `payer_signature` | the payer (`payer_id`) |
//!
//! Every other field is signed, including fields the schema does not know (they pass
//! through, so they must be covered). Absent optional fields are absent from the signed
//! bytes, never `null`. *(reading)* The spec's prose says "sort all object keys
//! alphabetically, remove all whitespace"; its pseudocode
//! (`JSON.stringify(obj, Object.keys(obj).sort())`) would drop every nested key, amounts
//! included, so JCS is used: keys sorted by UTF-16 code units at every level, minimal string
//! escapes, numbers in ECMAScript form. Integers beyond ±(2^53 − 1) cannot be signed (see
//! [`canonical_json`]). See [`signing_bytes`].
//!
//! **Wrappers.** Wrapper `i` of a `wrapped_quote` signs the JCS of
//! `{"new_wrapper": <wrapper i without "signature">, "original_quote": <the quote, with its
//! merchant_signature>, "previous_wrappers": [<wrappers 0..i, with their signatures>]}`.
//! *(reading)* This is the spec pseudocode's payload; its prose ("the first wrapper signs the
//! original quote, later wrappers sign the previous wrappers") is the same thing said
//! loosely. A verifier also checks that wrapper `i`'s `affiliate_id` is the `next_recipient`
//! named by the link before it (the quote's, when it names one) and, knowing its own id, that
//! the chain ends at it. See [`wrapper_signing_bytes`] and [`verify_chain`].
//!
//! **Signatures.** Written `ed25519:` followed by the standard, padded base64 of the 64-byte
//! signature (the spec's form). Read in that form or as `ed25519:<base58>` (NEAR's usual
//! form); text containing `=` is base64, any other base58. Verification is strict
//! (`verify_strict`): non-canonical `S`, non-canonical or small-order `R` and small-order
//! public keys are refused, so a signature cannot be malleated. See [`Signature`].
//!
//! # Who may sign
//!
//! A signature proves which key signed, not that the key speaks for the merchant the message
//! names. [`KeyResolver`] maps a [`Party`] to its allowed keys ([`ConfiguredKeys`], or your
//! own, for example a NEAR RPC lookup through an endpoint you configure). The SDK never
//! fetches keys from a URL found in a peer's message.
//!
//! # Quotes and payments
//!
//! [`check_expiry`] checks expiry against an injectable [`Clock`] with a stated skew
//! ([`DEFAULT_SKEW`]); [`match_payment`] matches a payment to its quote field by field;
//! [`split_revenue`] splits the affiliates' share exactly; [`wrap`] wraps a quote as an
//! affiliate.
//! [`PaymentGate`] puts it together for a payment handler: it runs every check, takes each
//! quote's payment once, and signs the confirmation.
//!
//! # Wallet signatures
//!
//! [`nep413`] checks an AITP-04 `message_signing_response` (NEAR NEP-413) against its
//! request; [`evm`] (feature `signing-evm`) an AITP-05 one (EIP-191 `personal_sign` or
//! EIP-712 typed data).

mod canonical;
mod chain;
mod clock;
#[cfg(feature = "signing-evm")]
pub mod evm;
mod gate;
mod key;
mod matching;
mod message;
pub mod nep413;
mod resolve;
mod share;

pub use canonical::{CanonicalError, canonical_json};
pub use chain::{
    Offer, VerifiedChain, sign_last_wrapper, verify_chain, wrap, wrapper_signing_bytes,
};
pub use clock::{Clock, DEFAULT_SKEW, ExpiryError, FixedClock, SystemClock, check_expiry};
pub use gate::{
    Admission, Fingerprint, GateError, Ledger, LedgerEntry, LedgerError, MemoryLedger, PaymentGate,
    Ticket,
};
pub use key::{KeyError, PublicKey, SecretKey, Signature};
pub use matching::{MatchError, Matched, match_payment};
pub use message::{Party, SignError, Signable, VerifyError, sign, signing_bytes, verify};
pub use resolve::{ConfiguredKeys, KeyResolver, ResolveError, verify_signed};
pub use share::{Part, RevenueSplit, ShareError, affiliates, split_revenue, split_units};

#[cfg(test)]
mod tests;

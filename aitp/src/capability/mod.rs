//! Capabilities: identity, negotiation, the typed messages of AITP-01..05, and the envelope.
//!
//! A capability message is one JSON object, `{"$schema": "<capability URL>", "<key>": body}`,
//! that travels as a JSON string inside a thread message's text content. [`Envelope`] is that
//! envelope; [`CapabilityMessage`] is implemented by every typed message body (derive it for your
//! own with [`crate::CapabilityMessage`]); [`Capability`] is a whole capability as an enum of its
//! message types, with its `schema.json` (derive it with `#[derive(Capability)]`).

// Declares `registry!`, invoked at the bottom of this file; it must come first.
#[macro_use]
mod registry;

pub(crate) mod definition;
mod envelope;
mod extract;
mod id;
mod negotiate;
mod nulls;
mod parse_error;

pub mod data_request;
pub mod decisions;
pub mod errors;
pub mod evm_wallet;
pub mod near_wallet;
pub mod payments;
pub mod transactions;

/// Derives [`Capability`] for an enum of message types; see [the trait](trait@Capability).
pub use aitp_derive::Capability;
pub use definition::Capability;
pub use envelope::Envelope;
pub use extract::{ContentPart, extract, extract_text};
pub use id::{CapabilityId, CapabilityIdError};
pub use negotiate::{Declaration, Negotiated};
pub use parse_error::ParseError;

use serde::{Serialize, de::DeserializeOwned, ser::SerializeMap};
use serde_json::Value;

use crate::validate::ValidationErrors;

/// One message type of a capability: its body type, the key it travels under, and the
/// capability (schema URL and version) it belongs to.
///
/// Derive it with `#[derive(aitp::CapabilityMessage)]`, or implement it by hand: it is all a
/// type needs to be a handler's payload and a handler's reply.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a capability message",
    label = "not a capability message",
    note = "derive it: `#[derive(Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]` with \
            `#[aitp(capability = \"<schema URL>\", key = \"<message key>\")]`"
)]
pub trait CapabilityMessage: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The schema URL of the capability, as written by this crate (canonical).
    const SCHEMA_URL: &'static str;
    /// The top-level key of the message, such as `request_decision`.
    const KEY: &'static str;

    /// The capability and version this message type belongs to.
    fn capability() -> &'static CapabilityId;

    /// Checks what the capability's schema demands beyond what parsing enforced.
    ///
    /// Parsing is tolerant; call this before acting on a message from a peer. Paths in the
    /// errors start with [`Self::KEY`].
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }

    /// The message as a [`Body`]: its own variant for the built-in types, [`Body::Unknown`]
    /// for every other type. The derive writes this; generic code never inspects `T`.
    #[doc(hidden)]
    fn into_body(self) -> Body {
        Body::Unknown {
            key: Self::KEY.to_owned(),
            body: serde_json::to_value(&self).unwrap_or(Value::Null),
        }
    }

    /// The message out of its own [`Body`] variant (built-in types only); the body back
    /// otherwise, to be read by key and capability.
    #[doc(hidden)]
    // The `Err` is the body itself, handed back unmoved.
    #[allow(clippy::result_large_err)]
    fn from_body(body: Body) -> Result<Self, Body> {
        Err(body)
    }

    /// The message in its own [`Body`] variant, borrowed (built-in types only).
    #[doc(hidden)]
    fn body_ref(_body: &Body) -> Option<&Self> {
        None
    }
}

// The built-in capabilities, declared once: everything that lists them is generated from here
// (see `registry.rs`). This root module is the only one that names every message module.
registry! {
    /// AITP-01 Payments: quotes, payments, confirmations, top-ups.
    Payments {
        slug: "aitp-01-payments",
        url: "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
        major: 1,
        title: "AITP-01 Payments",
        closed_root: true,
        legacy: false,
        messages: {
            /// `quote`: what the service costs and how it can be paid.
            Quote => Quote(payments::Quote),
            /// `wrapped_quote`: a quote passed on by an intermediary.
            WrappedQuote => WrappedQuote(payments::WrappedQuote),
            /// `payment`: the payer pays a quote.
            Payment => Payment(payments::Payment),
            /// `payment_confirmation`: the payee confirms.
            PaymentConfirmation => PaymentConfirmation(payments::PaymentConfirmation),
            /// `top_up_request`: asks for funds.
            TopUpRequest => TopUpRequest(payments::TopUpRequest),
            /// `top_up_response`: answers a top-up request.
            TopUpResponse => TopUpResponse(payments::TopUpResponse),
        }
    }
    /// AITP-02 Decisions: `request_decision` and `decision`.
    Decisions {
        slug: "aitp-02-decisions",
        url: "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json",
        major: 1,
        title: "AITP-02 Decisions",
        closed_root: false,
        legacy: false,
        messages: {
            /// `request_decision`: asks the other side to choose among options.
            RequestDecision => RequestDecision(decisions::RequestDecision),
            /// `decision`: the options chosen.
            Decision => Decision(decisions::Decision),
        }
    }
    /// AITP-03 Data Request: `request_data` and `data`.
    DataRequest {
        slug: "aitp-03-data-request",
        url: "https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json",
        major: 1,
        title: "AITP-03 Data Request",
        closed_root: false,
        legacy: false,
        messages: {
            /// `request_data`: asks for data with a form.
            RequestData => RequestData(data_request::RequestData),
            /// `data`: the data given.
            Data => Data(data_request::Data),
        }
    }
    /// AITP-04 NEAR Wallet: accounts, transactions, NEP-413 message signing.
    NearWallet {
        slug: "aitp-04-near-wallet",
        url: "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
        major: 1,
        title: "AITP-04 NEAR Wallet",
        closed_root: true,
        legacy: false,
        messages: {
            /// `request_account`: asks for the NEAR account.
            RequestAccount => NearRequestAccount(near_wallet::RequestAccount),
            /// `account_response`: the account.
            AccountResponse => NearAccountResponse(near_wallet::AccountResponse),
            /// `request_transaction`: asks the wallet to sign and send transactions.
            RequestTransaction => NearRequestTransaction(near_wallet::RequestTransaction),
            /// `transaction_response`: the outcome.
            TransactionResponse => NearTransactionResponse(near_wallet::TransactionResponse),
            /// `request_message_signing`: asks for a NEP-413 signature.
            RequestMessageSigning => NearRequestMessageSigning(near_wallet::RequestMessageSigning),
            /// `message_signing_response`: the signature.
            MessageSigningResponse => NearMessageSigningResponse(near_wallet::MessageSigningResponse),
            /// `token_notification`: tokens were sent.
            TokenNotification => NearTokenNotification(near_wallet::TokenNotification),
        }
    }
    /// AITP-05 EVM Wallet: addresses, transactions, EIP-191/EIP-712 signing, notifications.
    EvmWallet {
        slug: "aitp-05-evm-wallet",
        url: "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
        major: 1,
        title: "AITP-05 EVM Wallet",
        closed_root: true,
        legacy: false,
        messages: {
            /// `request_address`: asks for the EVM address.
            RequestAddress => EvmRequestAddress(evm_wallet::RequestAddress),
            /// `address_response`: the address.
            AddressResponse => EvmAddressResponse(evm_wallet::AddressResponse),
            /// `request_transaction`: asks the wallet to sign and send a transaction.
            RequestTransaction => EvmRequestTransaction(evm_wallet::RequestTransaction),
            /// `transaction_response`: the outcome.
            TransactionResponse => EvmTransactionResponse(evm_wallet::TransactionResponse),
            /// `request_message_signing`: asks for a signature (EIP-191 / EIP-712).
            RequestMessageSigning => EvmRequestMessageSigning(evm_wallet::RequestMessageSigning),
            /// `message_signing_response`: the signature.
            MessageSigningResponse => EvmMessageSigningResponse(evm_wallet::MessageSigningResponse),
            /// `chain_notification`: the wallet switched chains.
            ChainNotification => EvmChainNotification(evm_wallet::ChainNotification),
            /// `token_notification`: tokens were sent.
            TokenNotification => EvmTokenNotification(evm_wallet::TokenNotification),
        }
    }
    /// The removed AITP-04 *Transactions* capability (`quote` with `payment_plans`,
    /// `payment_authorization`, `payment_result`): what NEAR AI's agents and UI called
    /// "payments" (`https://aitp.dev/v1/payments/schema.json`).
    Transactions {
        slug: "aitp-04-transactions",
        url: "https://aitp.dev/capabilities/aitp-04-transactions/v1.0.0/schema.json",
        major: 1,
        title: "AITP-04 Transactions (legacy)",
        closed_root: true,
        legacy: true,
        messages: {
            /// `quote`: what to pay, in which payment plans (legacy; NEAR AI).
            Quote => LegacyQuote(transactions::Quote),
            /// `payment_authorization`: the payer paid.
            PaymentAuthorization => PaymentAuthorization(transactions::PaymentAuthorization),
            /// `payment_result`: the payee's verdict.
            PaymentResult => PaymentResult(transactions::PaymentResult),
        }
    }
}

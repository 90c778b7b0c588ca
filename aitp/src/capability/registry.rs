//! The built-in capabilities, declared once.
//!
//! Everything that lists the capabilities this crate implements comes from the one
//! [`registry!`] invocation at the bottom of this file: [`AitpCapability`] (with its slug, URL,
//! title and message keys), [`AitpCapability::ALL`] and [`ALL_V1`](super::ALL_V1), the
//! per-capability enums (`decisions::Decisions`, …) and with them the official `schema.json`
//! documents, [`Body`] and its typed variants, and which capability a message key belongs to.
//! Adding a built-in capability is one entry here plus its message types (each deriving
//! `CapabilityMessage` with `builtin`); a compile-time check keeps each type's
//! `#[aitp(capability = …)]` equal to the URL declared here.

use serde::ser::SerializeMap;
use serde_json::Value;

use super::{
    CapabilityMessage, data_request, decisions, evm_wallet, near_wallet, parse_error::ParseError,
    payments, transactions,
};
use crate::validate::ValidationErrors;

/// How a built-in message type maps to its [`Body`] variant: implemented by [`registry!`] for
/// each built-in type and called by the `CapabilityMessage` impls the derive writes for them
/// (`#[aitp(builtin)]`), so that generic code moves messages in and out of a [`Body`] without
/// looking at their types at run time.
#[doc(hidden)]
pub trait BuiltIn: Sized {
    /// The message as its own variant.
    fn into_body(self) -> Body;
    /// The message out of its own variant; any other body comes back.
    // The `Err` is the body itself, handed back unmoved.
    #[allow(clippy::result_large_err)]
    fn from_body(body: Body) -> Result<Self, Body>;
    /// The message in its own variant, borrowed.
    fn body_ref(body: &Body) -> Option<&Self>;
}

/// Reads `raw` as a `T` body, with the JSON path of the first misfit on error.
fn parse_body<T: CapabilityMessage>(raw: &str, slug: &'static str) -> Result<T, ParseError> {
    match serde_json::from_str::<T>(raw) {
        Ok(t) => Ok(t),
        Err(_) => {
            // Slow path, errors only: parse again to learn where it failed.
            let mut de = serde_json::Deserializer::from_str(raw);
            let (path, error) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Ok(_) => (
                    String::new(),
                    <serde_json::Error as serde::de::Error>::custom("inconsistent parse"),
                ),
                Err(e) => (e.path().to_string(), e.into_inner()),
            };
            let path = if path.is_empty() || path == "." {
                T::KEY.to_owned()
            } else {
                format!("{}.{}", T::KEY, path)
            };
            Err(ParseError::Body {
                key: T::KEY.to_owned(),
                capability: slug,
                path,
                error,
            })
        }
    }
}

/// Declares the built-in capabilities; see the module documentation for what it derives.
///
/// Per capability: its doc comment (used for the [`AitpCapability`] variant, the capability
/// enum and the `description` of its schema), the enum's name (also the variant's), `slug`,
/// canonical `url`, `major` version, `title`, whether its schema closes the message root
/// (`closed_root`), whether it is a `legacy` capability (left out of `ALL_V1`), and its messages
/// as `EnumVariant => BodyVariant(Type)`, each with its doc comment.
macro_rules! registry {
    ($(
        $(#[$cdoc:meta])*
        $cap:ident {
            slug: $slug:literal,
            url: $url:literal,
            major: $major:literal,
            title: $title:literal,
            closed_root: $closed:literal,
            legacy: $legacy:literal,
            messages: {
                $( $(#[$mdoc:meta])* $variant:ident => $body:ident($ty:ty), )*
            }
        }
    )*) => {
        /// The capabilities defined by the AITP specification, plus the legacy one NEAR AI used.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum AitpCapability {
            $( $(#[$cdoc])* $cap, )*
        }

        const COUNT: usize = [$( stringify!($cap) ),*].len();
        const LEGACY: [bool; COUNT] = [$( $legacy ),*];
        const CURRENT: usize = {
            let mut n = 0;
            let mut i = 0;
            while i < COUNT {
                if !LEGACY[i] {
                    n += 1;
                }
                i += 1;
            }
            n
        };

        /// The schema URLs of every current (not legacy) AITP capability this crate implements,
        /// at v1.0.0: what an agent or client declares to support all of them.
        pub const ALL_V1: [&str; CURRENT] = {
            let urls = [$( $url ),*];
            let mut out = [""; CURRENT];
            let (mut i, mut j) = (0, 0);
            while i < COUNT {
                if !LEGACY[i] {
                    out[j] = urls[i];
                    j += 1;
                }
                i += 1;
            }
            out
        };

        // The declared URL is the canonical one for the slug and major version, and every
        // message type carries it.
        $(
            const _: () = assert!(
                super::definition::str_eq(
                    $url,
                    concat!("https://aitp.dev/capabilities/", $slug, "/v", $major, ".0.0/schema.json"),
                ),
                concat!("the URL declared for ", stringify!($cap), " is not its canonical one"),
            );
            $(
                const _: () = assert!(
                    super::definition::str_eq(<$ty as CapabilityMessage>::SCHEMA_URL, $url),
                    concat!(stringify!($ty), " does not carry the URL of ", stringify!($cap)),
                );
            )*
        )*

        impl AitpCapability {
            /// Every capability, in spec order (the legacy one last).
            pub const ALL: [AitpCapability; COUNT] = [$( Self::$cap ),*];

            /// The path segment of the canonical URL, such as `aitp-02-decisions`.
            pub fn slug(self) -> &'static str {
                match self {
                    $( Self::$cap => $slug, )*
                }
            }

            /// The canonical schema URL of the version this crate implements.
            pub fn url(self) -> &'static str {
                match self {
                    $( Self::$cap => $url, )*
                }
            }

            /// The title of its schema document, such as `AITP-02 Decisions`.
            pub fn title(self) -> &'static str {
                match self {
                    $( Self::$cap => $title, )*
                }
            }

            /// The message keys the capability defines, in declaration order.
            pub fn message_keys(self) -> &'static [&'static str] {
                match self {
                    $( Self::$cap => <$cap as super::Capability>::KEYS, )*
                }
            }

            /// Whether its schema admits only `$schema` and the message key at the root of a
            /// message (AITP-01, AITP-04, AITP-05 and legacy Transactions do; AITP-02/03 do not).
            pub fn closes_root(self) -> bool {
                match self {
                    $( Self::$cap => $closed, )*
                }
            }

            /// Whether this is a legacy capability (not in [`ALL_V1`](super::ALL_V1)).
            pub fn is_legacy(self) -> bool {
                match self {
                    $( Self::$cap => $legacy, )*
                }
            }

            /// The capability's generated `schema.json` (the version this crate implements).
            pub fn schema(self) -> Value {
                match self {
                    $( Self::$cap => <$cap as super::Capability>::schema(), )*
                }
            }

            pub(super) fn from_slug(slug: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|c| c.slug() == slug)
            }
        }

        $(
            $(#[$cdoc])*
            ///
            /// As a type: any of its messages, and its `schema.json`
            /// ([`Capability::schema`](crate::capability::Capability::schema)).
            #[derive(Debug, Clone, PartialEq, crate::Capability)]
            #[aitp(capability = $url, title = $title)]
            #[non_exhaustive]
            pub enum $cap {
                $( $(#[$mdoc])* $variant($ty), )*
            }
        )*

        /// The body of a capability message: one typed variant per message type this crate
        /// implements, and [`Body::Unknown`] for every other capability.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Body {
            $( $( $(#[$mdoc])* $body($ty), )* )*
            /// A message of a capability (or a message type) this crate does not know; kept as
            /// received so it can be passed through unchanged.
            Unknown {
                /// The message key.
                key: String,
                /// The body.
                body: Value,
            },
        }

        impl Body {
            /// The message key, such as `request_decision`.
            pub fn key(&self) -> &str {
                match self {
                    $( $( Self::$body(_) => <$ty as CapabilityMessage>::KEY, )* )*
                    Self::Unknown { key, .. } => key,
                }
            }

            /// The AITP capability of a typed variant; `None` for [`Body::Unknown`].
            pub fn aitp_capability(&self) -> Option<AitpCapability> {
                match self {
                    $( $( Self::$body(_) => Some(AitpCapability::$cap), )* )*
                    Self::Unknown { .. } => None,
                }
            }

            /// Checks the body against its schema (typed variants only).
            pub fn validate(&self) -> Result<(), ValidationErrors> {
                match self {
                    $( $( Self::$body(m) => CapabilityMessage::validate(m), )* )*
                    Self::Unknown { .. } => Ok(()),
                }
            }

            /// The body as a JSON value (for reading it as another type).
            pub(super) fn to_value(&self) -> Value {
                match self {
                    $( $( Self::$body(m) => serde_json::to_value(m).unwrap_or(Value::Null), )* )*
                    Self::Unknown { body, .. } => body.clone(),
                }
            }

            pub(super) fn serialize_entry<S: SerializeMap>(&self, map: &mut S) -> Result<(), S::Error> {
                match self {
                    $( $( Self::$body(m) => map.serialize_entry(<$ty as CapabilityMessage>::KEY, m), )* )*
                    Self::Unknown { key, body } => map.serialize_entry(key, body),
                }
            }

            /// Parses `raw` as the body of `key` in `cap`; `None` when `cap` has no such key.
            pub(super) fn parse_typed(
                cap: AitpCapability,
                key: &str,
                raw: &str,
            ) -> Option<Result<Body, ParseError>> {
                match cap {
                    $(
                        AitpCapability::$cap => $(
                            if key == <$ty as CapabilityMessage>::KEY {
                                Some(parse_body::<$ty>(raw, $slug).map(Self::$body))
                            } else
                        )* { None },
                    )*
                }
            }
        }

        $( $(
            impl From<$ty> for Body {
                fn from(m: $ty) -> Self {
                    Self::$body(m)
                }
            }

            impl BuiltIn for $ty {
                fn into_body(self) -> Body {
                    Body::$body(self)
                }
                fn from_body(body: Body) -> Result<Self, Body> {
                    match body {
                        Body::$body(m) => Ok(m),
                        other => Err(other),
                    }
                }
                fn body_ref(body: &Body) -> Option<&Self> {
                    match body {
                        Body::$body(m) => Some(m),
                        _ => None,
                    }
                }
            }
        )* )*
    };
}

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

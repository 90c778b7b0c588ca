//! The customer's side of the demo shop's conversation (`examples/shop`, package
//! `example-shop`), as pure functions: given the shop's last capability message, the
//! customer's next one.
//!
//! A test (in-process, or a client over HTTP) drives a whole purchase with it: send
//! [`OPENING`], then answer every capability message the shop sends with [`next_message`]
//! until it returns `None` (after the `payment_confirmation`).
//!
//! ```
//! use aitp::capability::{Body, Envelope, data_request::{FormField, RequestData}};
//! use aitp_examples::script;
//!
//! let form = RequestData::form("address_1", "Ship to?", [FormField::text("city", "City")]);
//! let form = Envelope::from(form);
//! let answer = script::next_message(&form).unwrap();
//! assert!(matches!(answer.body(), Body::Data(d) if d.get("city") == Some(script::ADDRESS[2].1)));
//! ```

use aitp::{
    agent::Reply,
    capability::{
        Body, Envelope,
        data_request::{Data, RequestData},
        decisions::{Decision, RequestDecision},
        payments::{Payment, PaymentMethodUsed, Quote},
    },
    sign::{SecretKey, sign},
};

/// What the customer says first.
pub const OPENING: &str = "Hi! I'm going hiking next week and need some gear.";
/// The customer's NEAR account: the payer.
pub const CUSTOMER: &str = "ada.near";
/// How many of the first product the customer takes.
pub const QUANTITY: u64 = 2;
/// The payment channel the customer pays through.
pub const CHANNEL_ID: &str = "channel_ada_demo_shop";
/// The seed of the customer's demo ed25519 key ([`customer_key`]). **Published, so not a
/// secret**: a real customer signs with a key only they hold.
pub const CUSTOMER_KEY_SEED: [u8; 32] = *b"ada.near demo key: not a secret!";

/// The customer's ed25519 signing key, made from [`CUSTOMER_KEY_SEED`].
pub fn customer_key() -> SecretKey {
    SecretKey::from_seed(&CUSTOMER_KEY_SEED)
}
/// The shipping address the customer fills in, as `(field id, value)`.
pub const ADDRESS: [(&str, &str); 5] = [
    ("name", "Ada Lovelace"),
    ("street", "12 St James's Square"),
    ("city", "London"),
    ("postal_code", "SW1Y 4LB"),
    ("country", "United Kingdom"),
];

/// The customer's answer to a capability message from the shop: a `decision` for a
/// `request_decision`, `data` for a `request_data`, a `payment` for a `quote`. `None` for
/// anything else (a confirmation, an error, text-only turns): the customer has nothing to say.
pub fn next_message(from_shop: &Envelope) -> Option<Envelope> {
    match from_shop.body() {
        Body::RequestDecision(r) => choose(r).map(Envelope::from),
        Body::RequestData(r) => Some(Envelope::from(fill(r))),
        Body::Quote(q) => pay(q).map(Envelope::from),
        _ => None,
    }
}

/// The customer's answer to a turn of replies: [`next_message`] of the first capability
/// message that has one.
pub fn answer(replies: &[Reply]) -> Option<Envelope> {
    replies.iter().find_map(|r| match r {
        Reply::Message(m) => next_message(m),
        _ => None,
    })
}

/// Chooses [`QUANTITY`] of the first option; `None` when there are no options.
pub fn choose(request: &RequestDecision) -> Option<Decision> {
    let first = request.options.first()?;
    let mut decision = request.choose([first.id.as_str()]);
    if let Some(option) = decision.options.first_mut() {
        option.quantity = Some(QUANTITY.into());
    }
    Some(decision)
}

/// Fills the form with [`ADDRESS`].
pub fn fill(request: &RequestData) -> Data {
    request.respond(ADDRESS)
}

/// Pays the quote's first option with its first method, over [`CHANNEL_ID`], exactly the
/// quoted amount, signed with [`customer_key`]; `None` when the quote offers no way to pay.
pub fn pay(quote: &Quote) -> Option<Payment> {
    let option = quote.payment_options.first()?;
    let method = option.payment_methods.first()?;
    let used = PaymentMethodUsed::for_option(option, method, CHANNEL_ID);
    // A payment of integers and strings always has a canonical form, so signing cannot fail.
    sign(&customer_key(), Payment::new(quote, CUSTOMER, used)).ok()
}

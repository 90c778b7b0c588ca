//! A small shop written in the macro style: the agent is a struct, its handlers are methods.
//!
//! ```text
//! cargo run -p example-shop-macros    # http://127.0.0.1:8080/v1
//! AITP_ADDR=0.0.0.0:9000 cargo run -p example-shop-macros
//! ```
//!
//! Say anything to see the products (AITP-02 `request_decision`), choose some (`decision`), get
//! a signed AITP-01 `quote`, pay it (`payment`) and receive the `payment_confirmation`. The
//! full demo shop (`cargo run -p example-shop`) adds a shipping-address form and more checks; this one
//! shows how little code the macros need. `#[aitp::agent]` turns the impl block into a
//! `Router`: each `#[aitp::handler]` method answers the capability message its payload argument
//! names (`Decision`, `Payment`), `#[aitp::on_text]` answers text, `#[aitp::fallback]` every
//! other capability message, and the capabilities the shop declares are those of its handlers.
//! `src/main.rs` serves it.
//!
//! Payments go through the SDK's payment gate: the impl block's own `router` adds
//! [`Router::payment_gate`] to what the macro generates, so `paid` runs only for a payment of
//! a quote the shop sent in that thread, unexpired, signed by a key allowed for the payer
//! ([`payers`]: the demo customer of `aitp_examples::script`), through a known channel
//! ([`channels`]), for the exact amount, and never twice; everything else gets a signed
//! refusal naming the failed check. The gate signs the confirmation `paid` returns.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use aitp::{
    agent::{Admitted, KnownChannels, PaymentDesk, Router},
    capability::{
        Envelope,
        decisions::{Decision, DecisionOption, RequestDecision},
        payments::{Payment, PaymentConfirmation, PaymentOption, Quote},
        transactions::PaymentOutcome,
    },
    money::Amount,
    sign::{ConfiguredKeys, PaymentGate, PublicKey, SecretKey, sign},
    thread::new_id,
};

/// The shop's account: merchant of its quotes, recipient of payments.
pub const MERCHANT: &str = "aitp-rs-macro-shop.near";
/// The seed of the shop's ed25519 signing key. **Published, so not a secret**: anyone can
/// sign as this demo shop; a real one keeps its key secret.
pub const KEY_SEED: [u8; 32] = *b"aitp-rs macro shop: not a secret";

/// The shop's signing key, made from [`KEY_SEED`].
fn key() -> SecretKey {
    SecretKey::from_seed(&KEY_SEED)
}

/// The shop's public key: what its quotes and confirmations verify against.
pub fn public_key() -> PublicKey {
    key().public_key()
}

/// Who may sign what the shop checks: the shop for its quotes, and the payers it knows
/// (the demo customer `ada.near`, with its published key). A real shop would resolve a
/// payer's keys from its NEAR account, through an RPC endpoint its operator configures.
pub fn payers() -> ConfiguredKeys {
    ConfiguredKeys::new().allow(MERCHANT, public_key()).allow(
        aitp_examples::script::CUSTOMER,
        aitp_examples::script::customer_key().public_key(),
    )
}

/// The payment channels the shop knows: the demo customer's, paying the shop.
pub fn channels() -> KnownChannels {
    KnownChannels::new().channel(aitp_examples::script::CHANNEL_ID, MERCHANT)
}

/// What the shop sells: id, name, price in cents.
const PRODUCTS: [(&str, &str, u128); 3] = [
    ("tent", "Two-person tent", 18900),
    ("stove", "Camping stove", 4450),
    ("mug", "Enamel mug", 1200),
];

/// Why the shop refuses a message; it reaches the customer as an `error` message.
#[derive(Debug, PartialEq)]
pub enum ShopError {
    /// A product the shop does not sell.
    UnknownProduct(String),
    /// A payment that reached the handler unchecked (a router without the payment gate).
    Unchecked,
    /// A quote or confirmation could not be signed (it has no canonical form).
    Signing(String),
}

impl fmt::Display for ShopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownProduct(id) => write!(f, "we do not sell {id:?}"),
            Self::Unchecked => f.write_str("payments are taken only through the payment gate"),
            Self::Signing(why) => write!(f, "the shop could not sign its answer: {why}"),
        }
    }
}

/// The shop: its payment desk (gate, channels, the quotes it sent) and the order counter.
#[derive(Debug)]
pub struct MacroShop {
    desk: PaymentDesk,
    orders: AtomicU64,
}

impl Default for MacroShop {
    fn default() -> Self {
        let gate = PaymentGate::new(key(), payers());
        Self {
            desk: PaymentDesk::new(gate, channels()),
            orders: AtomicU64::new(0),
        }
    }
}

impl MacroShop {
    /// How many orders were paid: the gate's refusals and replays never reach `paid`.
    pub fn orders(&self) -> u64 {
        self.orders.load(Ordering::Relaxed)
    }
}

#[aitp::agent(actor_id = "aitp-rs-macro-shop")]
impl MacroShop {
    /// The router the macro builds, with the payment gate in front of `paid`.
    pub fn router(self) -> Router<Arc<Self>> {
        let desk = self.desk.clone();
        Router::from(self).payment_gate(desk)
    }

    /// Any text: the catalogue, as product cards.
    #[aitp::on_text]
    fn browse(&self, said: String) -> (String, RequestDecision) {
        let cards = PRODUCTS.map(|(id, name, cents)| {
            DecisionOption::new(id, name)
                .description(format!("{} USD", Amount::from_minor_units(cents, 2)))
        });
        let request = RequestDecision::products(new_id("catalog_"), cards)
            .title("What do you need?")
            .build();
        (format!("You said {said:?}. Here is what we sell:"), request)
    }

    /// `decision`: the products chosen become a signed quote (which the gate remembers).
    #[aitp::handler]
    async fn chosen(&self, decision: Decision) -> Result<(String, Quote), ShopError> {
        let mut cents = 0u128;
        let mut names = Vec::new();
        for option in &decision.options {
            let id = option.id.as_str();
            let (_, name, price) = PRODUCTS
                .iter()
                .find(|(pid, _, _)| *pid == id)
                .ok_or_else(|| ShopError::UnknownProduct(id.to_owned()))?;
            let quantity = option
                .quantity
                .as_ref()
                .and_then(|q| q.as_u64())
                .unwrap_or(1);
            cents += price * u128::from(quantity);
            names.push(format!("{quantity} × {name}"));
        }
        let total = Amount::from_minor_units(cents, 2);
        let quote = Quote::builder(new_id("quote_"), MERCHANT, names.join(", "))
            .expires_after(Duration::from_secs(15 * 60))
            .option(PaymentOption::near_payment_channel(
                total.clone(),
                "USD",
                "usdc.near",
                MERCHANT,
            ))
            .build_unsigned();
        let quote = sign(&key(), quote).map_err(|e| ShopError::Signing(e.to_string()))?;
        Ok((format!("{} comes to {total} USD.", names.join(", ")), quote))
    }

    /// `payment`: the gate checked it (see the crate docs); confirm the order. The gate
    /// signs the confirmation.
    #[aitp::handler]
    async fn paid(
        &self,
        admitted: Option<Admitted>,
        payment: Payment,
    ) -> Result<PaymentConfirmation, ShopError> {
        admitted.ok_or(ShopError::Unchecked)?;
        let order = 1001 + self.orders.fetch_add(1, Ordering::Relaxed);
        Ok(
            PaymentConfirmation::for_payment(&payment, new_id("pay_"), PaymentOutcome::Success)
                .message(format!("Thank you! Order ORD-{order} ships tomorrow.")),
        )
    }

    /// Any other capability message: say what it was (a function without `self` works too).
    #[aitp::fallback]
    fn other(message: Envelope) -> String {
        format!(
            "This shop does not handle that: {}",
            aitp_examples::describe(&message)
        )
    }
}

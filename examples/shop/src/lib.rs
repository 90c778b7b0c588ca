//! A shop agent that sells through a complete AITP conversation.
//!
//! ```text
//! customer                                   shop
//!   "Hi, I need hiking gear"           ──▶
//!                                      ◀──   text + AITP-02 request_decision (product cards
//!                                            with descriptions, images and legacy quotes)
//!   AITP-02 decision (product, qty)    ──▶
//!                                      ◀──   text + AITP-03 request_data (shipping address)
//!   AITP-03 data (the address)         ──▶
//!                                      ◀──   text + AITP-01 quote (exact total, expiration,
//!                                            near_payment_channel option, merchant signature)
//!   AITP-01 payment                    ──▶
//!                                      ◀──   AITP-01 payment_confirmation (success, with the
//!                                            order number, items and ship-to address)
//! ```
//!
//! Each thread has its own order, kept in [`ShopState`] under the thread id, so one shop serves
//! many customers at once. Anything out of order (an unknown product, a decision for another
//! catalog) makes the handler return `Err`, which the SDK turns into an `error` message in the
//! thread; the order stays where it was, so the customer can try again. Text in the middle of
//! the flow is answered with a reminder of what the shop is waiting for, and `cancel` drops
//! the order.
//!
//! Signatures are real ed25519 signatures over the RFC 8785 canonical JSON of each message
//! (`aitp::sign`): the shop signs its quotes and confirmations with [`ShopState::public_key`]'s
//! secret half.
//!
//! **Payments go through the SDK's payment gate** ([`Router::payment_gate`]): the shop's
//! `payment` handler runs only for a payment of a quote the shop sent in that thread, not
//! expired, signed by a key allowed for its `payer_id`, matching the quote exactly (amount,
//! currency, token, and a channel that pays the shop), and not paid before. Anything else is
//! answered, without the handler, by a signed `payment_confirmation` of result `failure`
//! naming the failed check; the same payment sent twice gets the same confirmation and is
//! charged once. The handler only builds the order's confirmation, which the gate signs.
//!
//! Demo shortcuts, said plainly: the shop's key is made from the fixed, published seed
//! [`DEMO_KEY_SEED`], so anyone can sign as this shop — a real shop loads its secret key from
//! somewhere safe. The payers it accepts are configured keys ([`demo_payers`]: the demo
//! customer `ada.near` and its published key); a real shop would implement
//! [`KeyResolver`] over the access keys of the payer's NEAR account, read through an RPC
//! endpoint its operator configures (never one named in a message), or over its own customer
//! accounts. Likewise its channels are a configured table ([`demo_channels`]), where a real
//! shop asks the chain, or its payment provider, who a channel pays.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use aitp::{
    agent::{
        Admitted, KnownChannels, PaymentChannels, PaymentDesk, Reply, Router, State, ThreadCtx,
    },
    capability::{
        CapabilityMessage, Envelope,
        data_request::{Data, FormField, RequestData},
        decisions::{Decision, DecisionOption, RequestDecision},
        errors::ErrorReport,
        payments::{Payment, PaymentConfirmation, PaymentOption, Quote, RevenueShare},
        transactions::{self, PaymentDetail, PaymentOutcome},
    },
    money::{Amount, DecimalNumber},
    sign::{
        Clock, ConfiguredKeys, KeyResolver, Ledger, MemoryLedger, Party, PaymentGate, PublicKey,
        ResolveError, SecretKey, SystemClock, check_expiry, sign,
    },
    thread::{new_id, unix_now},
};

/// The shop's NEAR account: the merchant of its quotes and the recipient of payments.
pub const MERCHANT_ID: &str = "aitp-rs-shop.near";
/// The currency prices are in.
pub const CURRENCY: &str = "USD";
/// The token payments are made in (USDC on NEAR).
pub const TOKEN: &str = "usdc.near";
/// How long a quote holds.
pub const QUOTE_TTL: Duration = Duration::from_secs(15 * 60);
/// The most of one product per order.
pub const MAX_QUANTITY: u64 = 10;
/// The seed of the shop's demo ed25519 signing key. **Published, so not a secret**: it lets
/// the example sign for real with a key anyone can rebuild (`SecretKey::from_seed`); a real
/// shop keeps its key secret.
pub const DEMO_KEY_SEED: [u8; 32] = *b"aitp-rs demo shop: not a secret!";
/// The affiliates' share the shop's quotes offer (`revenue_share.affiliate_share_bps`): 3 %
/// of the price goes to the agents that passed the quote on to the customer, split by
/// `aitp::sign::split_revenue`.
pub const AFFILIATE_SHARE_BPS: i64 = 300;
/// The shop's actor id in its threads.
pub const ACTOR_ID: &str = "aitp-rs-demo-shop";

// ---------------------------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------------------------

/// Something the shop sells.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Product {
    /// Identifies the product; the option id of its product card.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it is, for the product card.
    pub description: String,
    /// A picture, for the product card.
    pub image_url: String,
    /// The unit price in [`CURRENCY`], exact.
    pub price: Amount,
}

impl Product {
    /// A product.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        description: impl Into<String>,
        image_url: impl Into<String>,
        price: Amount,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            description: description.into(),
            image_url: image_url.into(),
            price,
        }
    }

    /// Its AITP-02 product card. The price travels as a quote in the legacy Transactions shape
    /// (`type: "Quote"`, `payment_plans`, a number amount), which is what AITP-02 options
    /// carry; the binding price comes later, in the AITP-01 quote.
    fn card(&self, valid_until: &str) -> DecisionOption {
        let price = transactions::Quote::one_time(
            format!("price_{}", self.id),
            MERCHANT_ID,
            DecimalNumber::from_amount(&self.price),
            valid_until,
        );
        DecisionOption::new(&self.id, &self.name)
            .description(&self.description)
            .image_url(&self.image_url)
            .quote(price)
    }
}

/// What the shop sells.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    products: Vec<Product>,
}

impl Catalog {
    /// A catalog of `products` (shown in this order).
    pub fn new(products: impl IntoIterator<Item = Product>) -> Self {
        Self {
            products: products.into_iter().collect(),
        }
    }

    /// Four hiking products.
    pub fn demo() -> Self {
        let product = |id: &str, name: &str, description: &str, price: &str| {
            Product::new(
                id,
                name,
                description,
                format!("https://images.example.com/aitp-shop/{id}.jpg"),
                price.parse().expect("catalog prices are decimal amounts"),
            )
        };
        Self::new([
            product(
                "trail-socks",
                "Merino trail socks",
                "Cushioned merino wool socks for long days on the trail. Sizes 36 to 47.",
                "18.50",
            ),
            product(
                "rain-jacket",
                "Packable rain jacket",
                "A 3-layer waterproof shell that packs into its own pocket. 280 g.",
                "89.00",
            ),
            product(
                "water-bottle",
                "Insulated bottle, 750 ml",
                "Double-walled steel: cold for 24 hours, hot for 12.",
                "24.95",
            ),
            product(
                "headlamp",
                "Rechargeable headlamp",
                "400 lumens, red night mode, USB-C charging, IPX4.",
                "39.99",
            ),
        ])
    }

    /// The product with this id.
    pub fn get(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    /// The products, in catalog order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// The AITP-02 request showing the catalog as product cards.
    fn request(&self, request_id: String) -> RequestDecision {
        let valid_until = rfc3339(unix_now().saturating_add(24 * 60 * 60));
        RequestDecision::products(
            request_id,
            self.products.iter().map(|p| p.card(&valid_until)),
        )
        .title("What would you like?")
        .description("Choose products and quantities. Prices in USD, paid in USDC on NEAR.")
        .build()
    }
}

// ---------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------

/// One line of an order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LineItem {
    /// The product.
    pub product_id: String,
    /// Its name when ordered.
    pub name: String,
    /// Its unit price when ordered.
    pub unit_price: Amount,
    /// How many.
    pub quantity: u64,
}

impl LineItem {
    /// `unit_price × quantity`, exact: both become integers of the price's own minor unit,
    /// are multiplied as integers, and turn back into a decimal. `None` on overflow.
    pub fn total(&self) -> Option<Amount> {
        times(&self.unit_price, self.quantity)
    }
}

impl fmt::Display for LineItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} × {}", self.quantity, self.name)
    }
}

/// `price × quantity`, exact (see [`LineItem::total`]).
fn times(price: &Amount, quantity: u64) -> Option<Amount> {
    let decimals = price.as_str().split_once('.').map_or(0, |(_, f)| f.len());
    let decimals = u32::try_from(decimals).ok()?;
    let units = price
        .to_minor_units(decimals)?
        .checked_mul(u128::from(quantity))?;
    Some(Amount::from_minor_units(units, decimals))
}

/// Where an order ships, as filled in the AITP-03 form.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShippingAddress {
    /// The recipient.
    pub name: String,
    /// Street and number.
    pub street: String,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// Country.
    pub country: String,
}

impl ShippingAddress {
    /// Reads the address from an answer to [`address_form`] (checked beforehand).
    fn from_data(data: &Data) -> Self {
        let get = |id: &str| data.get(id).unwrap_or_default().trim().to_owned();
        Self {
            name: get("name"),
            street: get("street"),
            city: get("city"),
            postal_code: get("postal_code"),
            country: get("country"),
        }
    }
}

impl fmt::Display for ShippingAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {}, {} {}, {}",
            self.name, self.street, self.postal_code, self.city, self.country
        )
    }
}

/// The AITP-03 form asking for the shipping address: every field required, with HTML
/// autocomplete tokens so a client can fill it from what it knows.
pub fn address_form(request_id: impl Into<String>) -> RequestData {
    RequestData::form(
        request_id,
        "Where should we ship your order?",
        [
            FormField::text("name", "Full name")
                .required()
                .autocomplete("name"),
            FormField::text("street", "Street and number")
                .required()
                .autocomplete("street-address"),
            FormField::text("city", "City")
                .required()
                .autocomplete("address-level2"),
            FormField::text("postal_code", "Postal code")
                .required()
                .autocomplete("postal-code"),
            FormField::text("country", "Country")
                .required()
                .autocomplete("country-name"),
        ],
    )
    .title("Shipping address")
    .fill_button_label("Enter address")
}

/// Where a thread's order stands: what the shop asked last, and so what it waits for.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Stage {
    /// The catalog was shown; waiting for a `decision`.
    Choosing {
        /// The catalog request.
        request: RequestDecision,
    },
    /// Products chosen; waiting for the shipping address (`data`).
    Address {
        /// The address form.
        request: RequestData,
    },
    /// Quoted; waiting for a `payment`.
    Payment {
        /// The quote sent.
        quote: Quote,
    },
    /// Paid and confirmed.
    Paid {
        /// The shop's order number.
        order_number: String,
        /// The shop's id for the payment.
        payment_id: String,
    },
}

impl Stage {
    /// What the shop waits for, for people.
    pub fn waiting_for(&self) -> &'static str {
        match self {
            Self::Choosing { .. } => "a product choice (`decision`)",
            Self::Address { .. } => "the shipping address (`data`)",
            Self::Payment { .. } => "a payment of the quote (`payment`)",
            Self::Paid { .. } => "nothing: the order is paid",
        }
    }
}

/// A thread's order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Order {
    /// What was chosen (empty until the `decision`).
    pub items: Vec<LineItem>,
    /// Where it ships (set by the `data` answer).
    pub ship_to: Option<ShippingAddress>,
    /// Where the conversation stands.
    pub stage: Stage,
}

impl Order {
    /// The items as one line for people: `2 × Merino trail socks, 1 × Headlamp`.
    pub fn summary(&self) -> String {
        self.items
            .iter()
            .map(LineItem::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The exact total of the items; `None` on overflow.
    pub fn total(&self) -> Option<Amount> {
        self.items
            .iter()
            .try_fold(Amount::from_minor_units(0, 2), |sum, item| {
                Some(sum.checked_add(&item.total()?))
            })
    }
}

/// The shop's state, shared by every thread: the catalog, each thread's order (keyed by
/// thread id), the order-number counter, the signing key and the payment desk (gate,
/// channels, the quotes sent). Cheap to clone.
#[derive(Clone)]
pub struct ShopState {
    catalog: Arc<Catalog>,
    orders: Arc<Mutex<HashMap<String, Order>>>,
    next_order_number: Arc<AtomicU64>,
    charges: Arc<AtomicU64>,
    signing_key: SecretKey,
    desk: PaymentDesk,
    clock: Arc<dyn Clock>,
}

/// The payers the demo shop accepts: the demo customer of `aitp_examples::script`
/// (`ada.near`), with its published key. A real shop resolves payer keys from the NEAR
/// account (see the [crate documentation](crate)).
pub fn demo_payers() -> ConfiguredKeys {
    ConfiguredKeys::new().allow(
        aitp_examples::script::CUSTOMER,
        aitp_examples::script::customer_key().public_key(),
    )
}

impl fmt::Debug for ShopState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopState")
            .field("catalog", &self.catalog)
            .field("orders", &self.orders().len())
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// Who may sign what the shop's gate checks: the shop's own key for its quotes, and the
/// payers' keys as the shop's payer resolver says.
struct ShopKeys<R> {
    shop: PublicKey,
    payers: R,
}

impl<R: KeyResolver> KeyResolver for ShopKeys<R> {
    async fn keys(&self, party: &Party) -> Result<Vec<PublicKey>, ResolveError> {
        match party {
            Party::Merchant(id) if id == MERCHANT_ID => Ok(vec![self.shop]),
            // The shop sends its quotes unwrapped, so no affiliate signs anything it checks.
            Party::Merchant(_) | Party::Affiliate(_) => Ok(Vec::new()),
            _ => self.payers.keys(party).await,
        }
    }

    async fn owner_of(&self, key: &PublicKey) -> Option<String> {
        if *key == self.shop {
            return Some(MERCHANT_ID.to_owned());
        }
        self.payers.owner_of(key).await
    }

    async fn known_keys(&self) -> Vec<PublicKey> {
        let mut keys = self.payers.known_keys().await;
        keys.push(self.shop);
        keys
    }
}

/// The payment channels the demo shop knows: the demo customer's channel, paying the shop.
pub fn demo_channels() -> KnownChannels {
    KnownChannels::new().channel(aitp_examples::script::CHANNEL_ID, MERCHANT_ID)
}

impl Default for ShopState {
    fn default() -> Self {
        Self::new(Catalog::demo())
    }
}

impl ShopState {
    /// A shop selling `catalog`, signing with the key of [`DEMO_KEY_SEED`], taking payments
    /// from [`demo_payers`] through [`demo_channels`], by the system clock.
    pub fn new(catalog: Catalog) -> Self {
        Self::with_payments(catalog, demo_payers(), demo_channels(), SystemClock)
    }

    /// A shop selling `catalog`, signing with the key of [`DEMO_KEY_SEED`], taking payments
    /// from the payers `payers` allows, through `channels`, with quote expiry by `clock`,
    /// remembering paid quotes in memory (forgotten at a restart: see
    /// [`ShopState::with_ledger`]).
    pub fn with_payments(
        catalog: Catalog,
        payers: impl KeyResolver + 'static,
        channels: impl PaymentChannels,
        clock: impl Clock + Clone + 'static,
    ) -> Self {
        Self::with_ledger(catalog, payers, channels, clock, MemoryLedger::new())
    }

    /// [`ShopState::with_payments`], remembering paid quotes in `ledger`: the store the shop
    /// is served from (`SqliteStore`, `PgStore`), so that a quote paid stays paid across a
    /// restart and across replicas.
    pub fn with_ledger(
        catalog: Catalog,
        payers: impl KeyResolver + 'static,
        channels: impl PaymentChannels,
        clock: impl Clock + Clone + 'static,
        ledger: impl Ledger + 'static,
    ) -> Self {
        let signing_key = SecretKey::from_seed(&DEMO_KEY_SEED);
        let keys = ShopKeys {
            shop: signing_key.public_key(),
            payers,
        };
        let gate = PaymentGate::new(signing_key.clone(), keys)
            .with_clock(clock.clone())
            .with_ledger(ledger);
        Self {
            catalog: Arc::new(catalog),
            orders: Arc::default(),
            next_order_number: Arc::new(AtomicU64::new(1001)),
            charges: Arc::default(),
            signing_key,
            desk: PaymentDesk::new(gate, channels),
            clock: Arc::new(clock),
        }
    }

    /// Now, by the shop's clock (the gate's), in unix seconds.
    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// Whether `quote` has expired by the shop's clock (the gate honours it a little longer,
    /// by its skew, for payments already on their way).
    fn expired(&self, quote: &Quote) -> bool {
        check_expiry(self.clock.now(), Duration::ZERO, quote).is_err()
    }

    /// How many payments the payment handler has taken (orders confirmed): the gate's
    /// refusals and replays never reach it.
    pub fn charges(&self) -> u64 {
        self.charges.load(Ordering::Relaxed)
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// A copy of the order of thread `thread_id`, if it has one.
    pub fn order(&self, thread_id: &str) -> Option<Order> {
        self.orders().get(thread_id).cloned()
    }

    /// The shop's public key: how a customer checks a quote or confirmation,
    /// `aitp::sign::verify(&shop.public_key(), &quote)`.
    pub fn public_key(&self) -> PublicKey {
        self.signing_key.public_key()
    }

    fn orders(&self) -> MutexGuard<'_, HashMap<String, Order>> {
        // Every update is a single assignment under the lock: a panic elsewhere cannot leave
        // an order half-written, so a poisoned lock is safe to use.
        self.orders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The AITP-01 quote for `order`, handed to `next_recipient`: one option of the exact
    /// total, paid in [`TOKEN`] over a NEAR payment channel to the shop, valid for
    /// [`QUOTE_TTL`], offering affiliates [`AFFILIATE_SHARE_BPS`], signed.
    ///
    /// `next_recipient` is who asked for it (see [`addressee`]). Naming it binds the quote to
    /// the wrappers it will get: an affiliate passing it on must be that agent, and a quote
    /// whose wrapper was stripped on the way reaches the customer still addressed to the
    /// affiliate, which `aitp::sign::verify_chain` refuses (`WrongRecipient`).
    fn quote(&self, order: &Order, next_recipient: Option<String>) -> Result<Quote, ShopError> {
        let total = order.total().ok_or(ShopError::TooLarge)?;
        let description = match &order.ship_to {
            Some(ship_to) => format!("{}, shipped to {ship_to}", order.summary()),
            None => order.summary(),
        };
        let mut quote = Quote::builder(new_id("quote_"), MERCHANT_ID, description)
            .expiration(rfc3339(self.now().saturating_add(ttl_seconds())))
            .option(PaymentOption::near_payment_channel(
                total,
                CURRENCY,
                TOKEN,
                MERCHANT_ID,
            ))
            .revenue_share(RevenueShare::new(AFFILIATE_SHARE_BPS));
        if let Some(next) = next_recipient {
            quote = quote.next_recipient(next);
        }
        sign(&self.signing_key, quote.build_unsigned())
            .map_err(|e| ShopError::Signing(e.to_string()))
    }
}

/// Whom a quote answering `cx`'s message goes to: the sender of that message (its
/// `metadata.actor`), else the first actor of the thread that is not the shop; `None` when
/// the thread names nobody, and the quote then names no `next_recipient`.
fn addressee(cx: &ThreadCtx) -> Option<String> {
    let shop = |id: &str| id.is_empty() || id == ACTOR_ID || id == MERCHANT_ID;
    if let Some(sender) = cx.message().actor().filter(|a| !shop(a)) {
        return Some(sender.to_owned());
    }
    cx.actors()
        .iter()
        .map(|a| a.id.as_str())
        .find(|id| !shop(id))
        .map(str::to_owned)
}

/// Why the shop cannot do what a message asks. Returned by the handlers, it reaches the
/// customer as an `error` message (`handler_error`) whose text is this error's.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ShopError {
    /// A message arrived in a thread where the shop has shown nothing yet.
    NoOrder {
        /// The message key.
        got: &'static str,
    },
    /// A message arrived that the shop is not waiting for.
    OutOfTurn {
        /// The message key.
        got: &'static str,
        /// What the shop waits for ([`Stage::waiting_for`]).
        waiting_for: &'static str,
    },
    /// A `decision` answers another request than the catalog shown.
    WrongRequest {
        /// The request shown.
        expected: String,
        /// The request answered.
        got: String,
    },
    /// A chosen product is not in the catalog.
    UnknownProduct(String),
    /// A quantity is not a whole number from 1 to [`MAX_QUANTITY`].
    InvalidQuantity {
        /// The product.
        product: String,
        /// The quantity, as written.
        quantity: String,
    },
    /// A payment pays a quote of this thread that is not the order's open quote.
    UnknownQuote(String),
    /// A payment reached the handler without the payment gate (a router built without
    /// [`Router::payment_gate`]): it was not checked, so it is not taken.
    Unchecked,
    /// The total does not fit the arithmetic (absurd quantities).
    TooLarge,
    /// A quote or confirmation could not be signed (it has no canonical form).
    Signing(String),
}

impl fmt::Display for ShopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOrder { got } => write!(
                f,
                "there is no order in this thread to apply this `{got}` to; say hello to see the catalog"
            ),
            Self::OutOfTurn { got, waiting_for } => write!(
                f,
                "unexpected `{got}` message: the shop is waiting for {waiting_for}"
            ),
            Self::WrongRequest { expected, got } => write!(
                f,
                "this decision answers request {got:?}, but the catalog shown is {expected:?}"
            ),
            Self::UnknownProduct(id) => write!(f, "there is no product {id:?} in the catalog"),
            Self::InvalidQuantity { product, quantity } => write!(
                f,
                "the quantity of {product:?} must be a whole number from 1 to {MAX_QUANTITY}, got {quantity}"
            ),
            Self::UnknownQuote(id) => {
                write!(f, "quote {id:?} is not the quote open in this thread")
            }
            Self::Unchecked => f.write_str(
                "this shop takes payments only through its payment gate, which is not set up",
            ),
            Self::TooLarge => f.write_str("the order total is too large"),
            Self::Signing(why) => write!(f, "the shop could not sign its answer: {why}"),
        }
    }
}

impl std::error::Error for ShopError {}

// ---------------------------------------------------------------------------------------------
// The agent
// ---------------------------------------------------------------------------------------------

/// The shop agent with the demo catalog and a fresh state.
pub fn shop_agent() -> Router<ShopState> {
    shop_agent_with(ShopState::default())
}

/// The shop agent on `state` (keep a clone to look at the orders, as the tests do).
pub fn shop_agent_with(state: ShopState) -> Router<ShopState> {
    let state_desk = state.desk.clone();
    Router::with_state(state)
        .actor_id(ACTOR_ID)
        .on_text(on_text)
        .handler(on_decision)
        .handler(on_data)
        .handler(on_payment)
        .payment_gate(state_desk)
}

fn text(t: impl Into<String>) -> Reply {
    Reply::Text(t.into())
}

fn message<T: CapabilityMessage>(m: T) -> Reply {
    Reply::Message(Envelope::from(m))
}

/// Text: show the catalog, or remind the customer what the shop is waiting for.
async fn on_text(State(shop): State<ShopState>, cx: ThreadCtx, said: String) -> Vec<Reply> {
    let thread = cx.thread_id();
    tracing::info!(thread, text = %said, "customer says");
    let mut orders = shop.orders();
    let stage = orders.get(thread).map(|o| &o.stage);

    if said.trim().eq_ignore_ascii_case("cancel")
        && !matches!(stage, None | Some(Stage::Paid { .. }))
    {
        orders.remove(thread);
        tracing::info!(thread, "order cancelled");
        return vec![text(
            "Order cancelled. Say anything to see the catalog again.",
        )];
    }

    match stage {
        Some(Stage::Address { request }) => {
            tracing::info!(
                thread,
                "still waiting for the shipping address; asking again"
            );
            vec![
                text(
                    "To give you a final price I still need your shipping address \
                     (or say \"cancel\").",
                ),
                message(request.clone()),
            ]
        }
        Some(Stage::Payment { quote }) if !shop.expired(quote) => {
            tracing::info!(thread, quote = %quote.quote_id, "still waiting for the payment; sending the quote again");
            vec![
                text(format!(
                    "Your quote {} is waiting for payment until {} (or say \"cancel\").",
                    quote.quote_id,
                    quote.expiration.as_deref().unwrap_or("further notice"),
                )),
                message(quote.clone()),
            ]
        }
        Some(Stage::Payment { quote }) => {
            let expired = quote.quote_id.clone();
            let Some(order) = orders.get_mut(thread) else {
                return Vec::new();
            };
            match shop.quote(order, addressee(&cx)) {
                Ok(quote) => {
                    tracing::info!(thread, expired = %expired, quote = %quote.quote_id, "quote expired; sending a fresh one");
                    order.stage = Stage::Payment {
                        quote: quote.clone(),
                    };
                    vec![
                        text(format!("Quote {expired} expired, so here is a fresh one.")),
                        message(quote),
                    ]
                }
                Err(e) => vec![text(e.to_string())],
            }
        }
        Some(Stage::Choosing { request }) => {
            tracing::info!(thread, "showing the catalog again");
            vec![
                text("Pick one or more products from the list, with quantities:"),
                message(request.clone()),
            ]
        }
        None | Some(Stage::Paid { .. }) => {
            let greeting = match stage {
                Some(Stage::Paid { order_number, .. }) => format!(
                    "Order {order_number} is paid and being packed. Anything else? Here is the catalog:"
                ),
                _ => "Welcome to the aitp-rs demo shop! Here is what we sell:".to_owned(),
            };
            let request = shop.catalog.request(new_id("catalog_"));
            tracing::info!(
                thread,
                request = request.id.as_deref().unwrap_or_default(),
                products = request.options.len(),
                "showing the catalog (request_decision)"
            );
            orders.insert(
                thread.to_owned(),
                Order {
                    items: Vec::new(),
                    ship_to: None,
                    stage: Stage::Choosing {
                        request: request.clone(),
                    },
                },
            );
            vec![text(greeting), message(request)]
        }
    }
}

/// `decision`: the products chosen. Next: the shipping-address form.
async fn on_decision(
    State(shop): State<ShopState>,
    cx: ThreadCtx,
    decision: Decision,
) -> Result<(String, RequestData), ShopError> {
    let thread = cx.thread_id();
    let chosen: Vec<String> = decision
        .options
        .iter()
        .map(|o| match &o.quantity {
            Some(q) => format!("{q} × {}", o.id),
            None => o.id.to_string(),
        })
        .collect();
    tracing::info!(thread, chosen = %chosen.join(", "), "customer chose (decision)");
    let mut orders = shop.orders();
    let order = orders
        .get_mut(thread)
        .ok_or(ShopError::NoOrder { got: "decision" })?;
    let Stage::Choosing { request } = &order.stage else {
        return Err(ShopError::OutOfTurn {
            got: "decision",
            waiting_for: order.stage.waiting_for(),
        });
    };
    if let (Some(got), Some(expected)) = (&decision.request_decision_id, &request.id) {
        if got != expected {
            return Err(ShopError::WrongRequest {
                expected: expected.clone(),
                got: got.clone(),
            });
        }
    }

    let mut items: Vec<LineItem> = Vec::new();
    for chosen in &decision.options {
        let id = chosen.id.as_str();
        let product = shop.catalog.get(id).ok_or_else(|| {
            tracing::warn!(thread, product = id, "unknown product chosen");
            ShopError::UnknownProduct(id.to_owned())
        })?;
        let quantity = match &chosen.quantity {
            None => 1,
            Some(n) => n
                .as_u64()
                .filter(|q| (1..=MAX_QUANTITY).contains(q))
                .ok_or_else(|| ShopError::InvalidQuantity {
                    product: id.to_owned(),
                    quantity: n.to_string(),
                })?,
        };
        match items.iter_mut().find(|i| i.product_id == product.id) {
            Some(item) => item.quantity += quantity,
            None => items.push(LineItem {
                product_id: product.id.clone(),
                name: product.name.clone(),
                unit_price: product.price.clone(),
                quantity,
            }),
        }
    }
    if let Some(item) = items.iter().find(|i| i.quantity > MAX_QUANTITY) {
        return Err(ShopError::InvalidQuantity {
            product: item.product_id.clone(),
            quantity: item.quantity.to_string(),
        });
    }

    order.items = items;
    let form = address_form(new_id("address_"));
    tracing::info!(thread, items = %order.summary(), form = %form.id, "products chosen; asking for the shipping address (request_data)");
    order.stage = Stage::Address {
        request: form.clone(),
    };
    Ok((
        format!("Good choice: {}. Where should it go?", order.summary()),
        form,
    ))
}

/// `data`: the shipping address. Next: the AITP-01 quote.
async fn on_data(
    State(shop): State<ShopState>,
    cx: ThreadCtx,
    data: Data,
) -> Result<Vec<Reply>, ShopError> {
    let thread = cx.thread_id();
    tracing::info!(
        thread,
        fields = data.fields.len(),
        "customer filled the form (data)"
    );
    let mut orders = shop.orders();
    let order = orders
        .get_mut(thread)
        .ok_or(ShopError::NoOrder { got: "data" })?;
    let Stage::Address { request } = &order.stage else {
        return Err(ShopError::OutOfTurn {
            got: "data",
            waiting_for: order.stage.waiting_for(),
        });
    };

    if let Err(problems) = request.check_response(&data) {
        // Not a handler failure but a form to fix: say what is wrong, field by field, and
        // ask again with the same form.
        tracing::warn!(thread, %problems, "the shipping address does not fit the form; asking again");
        let mut report = ErrorReport::invalid(&problems)
            .capability(Data::SCHEMA_URL)
            .key(Data::KEY)
            .message_id(cx.message().id.clone());
        report.message = format!("the shipping address is incomplete: {problems}");
        return Ok(vec![Reply::error(report), message(request.clone())]);
    }

    let ship_to = ShippingAddress::from_data(&data);
    let total = order.total().ok_or(ShopError::TooLarge)?;
    order.ship_to = Some(ship_to.clone());
    let quote = shop.quote(order, addressee(&cx))?;
    tracing::info!(thread, ship_to = %ship_to, quote = %quote.quote_id, total = %total, "address received; sending the quote");
    order.stage = Stage::Payment {
        quote: quote.clone(),
    };
    Ok(vec![
        text(format!(
            "Thanks! {} to {ship_to} comes to {total} {CURRENCY}, shipping included. \
             The quote holds for {} minutes.",
            order.summary(),
            QUOTE_TTL.as_secs() / 60,
        )),
        message(quote),
    ])
}

/// `payment`: already checked by the payment gate (quote sent in this thread, unexpired,
/// signatures, exact match, not paid before), so all that is left is the order. Next: the
/// confirmation, which the gate signs.
async fn on_payment(
    State(shop): State<ShopState>,
    cx: ThreadCtx,
    admitted: Option<Admitted>,
    payment: Payment,
) -> Result<PaymentConfirmation, ShopError> {
    let thread = cx.thread_id();
    // The router has the gate (see `shop_agent_with`): a payment reaching this handler was
    // admitted. Without it, nothing was checked, so nothing is taken.
    let admitted = admitted.ok_or(ShopError::Unchecked)?;
    let quote = admitted.quote();
    tracing::info!(
        thread,
        quote = %quote.quote_id,
        payer = %payment.payer_id,
        amount = payment.payment_method.amount.as_ref().map_or("none", Amount::as_str),
        currency = %payment.payment_method.currency,
        "customer pays (payment, admitted by the gate)"
    );
    let mut orders = shop.orders();
    let order = orders
        .get_mut(thread)
        .ok_or(ShopError::NoOrder { got: "payment" })?;
    // The gate found the quote among those sent in this thread; it must be the order's
    // current one (a thread's earlier quote for items since cancelled is not this order).
    if !matches!(&order.stage, Stage::Payment { quote: open } if open.quote_id == quote.quote_id) {
        return Err(ShopError::UnknownQuote(quote.quote_id.clone()));
    }

    let order_number = format!(
        "ORD-{}",
        shop.next_order_number.fetch_add(1, Ordering::Relaxed)
    );
    let payment_id = new_id("pay_");
    let total = payment
        .payment_method
        .amount
        .as_ref()
        .map_or_else(String::new, |a| {
            format!("{a} {}", payment.payment_method.currency)
        });
    let ship_to = order
        .ship_to
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    shop.charges.fetch_add(1, Ordering::Relaxed);
    let confirmation =
        PaymentConfirmation::for_payment(&payment, &payment_id, PaymentOutcome::Success)
            .message(format!(
                "Thank you! Order {order_number} is confirmed and ships within two days."
            ))
            .detail(PaymentDetail::new("Order number", &order_number))
            .detail(PaymentDetail::new("Items", order.summary()))
            .detail(PaymentDetail::new("Total", total))
            .detail(PaymentDetail::new("Ship to", ship_to));
    tracing::info!(thread, quote = %payment.quote_id, payer = %payment.payer_id, order = %order_number, payment = %payment_id, "payment accepted; order confirmed (payment_confirmation, signed by the gate)");
    order.stage = Stage::Paid {
        order_number,
        payment_id,
    };
    Ok(confirmation)
}

/// [`QUOTE_TTL`] in seconds.
fn ttl_seconds() -> i64 {
    i64::try_from(QUOTE_TTL.as_secs()).unwrap_or(i64::MAX)
}

/// `unix` seconds as an RFC 3339 UTC date-time (`2030-01-01T00:00:00Z`), by the civil-from-days
/// algorithm (proleptic Gregorian calendar).
fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests;

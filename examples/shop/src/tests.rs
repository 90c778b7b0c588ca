//! The shop driven through `Router::dispatch`, no HTTP: the whole purchase, and what happens
//! when the customer goes off script.

use aitp::{
    agent::Reply,
    capability::{
        decisions::{DecisionType, SelectedOption},
        errors::ErrorCode,
        transactions::DetailValue,
    },
    thread::{Content, Message, Role, Thread},
};

use super::*;
use aitp::sign::FixedClock;
use aitp_examples::script;

/// One customer in one thread of a shop whose state the test can look at.
struct Customer {
    shop: ShopState,
    agent: Router<ShopState>,
    thread: Thread,
}

impl Customer {
    fn new() -> Self {
        let shop = ShopState::default();
        Self::at(shop)
    }

    /// Another customer (another thread) of the same shop.
    fn at(shop: ShopState) -> Self {
        Self {
            agent: shop_agent_with(shop.clone()),
            shop,
            thread: Thread::new(),
        }
    }

    async fn say(&self, text: &str) -> Vec<Reply> {
        self.post(Content::text(text)).await
    }

    async fn send(&self, m: impl Into<Envelope>) -> Vec<Reply> {
        self.post(Content::aitp(&m.into())).await
    }

    async fn post(&self, content: Content) -> Vec<Reply> {
        let message = Message::new(&self.thread.id, Role::User, vec![content]);
        let replies = self.agent.dispatch_one(self.thread.clone(), message).await;
        // Strict writer: everything the shop sends passes its schema.
        for r in &replies {
            if let Reply::Message(m) = r {
                m.validate()
                    .unwrap_or_else(|e| panic!("shop sent an invalid {}: {e}", m.key()));
            }
        }
        replies
    }

    fn stage(&self) -> Stage {
        self.shop.order(&self.thread.id).expect("an order").stage
    }

    /// Runs the script up to the quote; returns it.
    async fn quoted(&self) -> Quote {
        let replies = self.say(script::OPENING).await;
        let request: RequestDecision = find(&replies).expect("catalog");
        let replies = self.send(script::choose(&request).unwrap()).await;
        let form: RequestData = find(&replies).expect("address form");
        let replies = self.send(script::fill(&form)).await;
        find(&replies).expect("quote")
    }
}

/// The first capability message of type `T` among the replies.
fn find<T: CapabilityMessage>(replies: &[Reply]) -> Option<T> {
    replies.iter().find_map(|r| match r {
        Reply::Message(m) => m.message::<T>().ok().flatten(),
        _ => None,
    })
}

fn error(replies: &[Reply]) -> ErrorReport {
    find(replies).unwrap_or_else(|| panic!("an error reply expected: {replies:?}"))
}

/// The gate's refusal among the replies, checked: a `failure` confirmation signed by the
/// shop. Returns its check code and reason.
fn refused(shop: &ShopState, replies: &[Reply]) -> (String, String) {
    let c: PaymentConfirmation =
        find(replies).unwrap_or_else(|| panic!("a refusal expected: {replies:?}"));
    assert_eq!(c.result, PaymentOutcome::Failure, "{c:?}");
    aitp::sign::verify(&shop.public_key(), &c).expect("the refusal is signed by the shop");
    (
        detail(&c, "Check").to_owned(),
        detail(&c, "Reason").to_owned(),
    )
}

fn texts(replies: &[Reply]) -> Vec<&str> {
    replies
        .iter()
        .filter_map(|r| match r {
            Reply::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn detail<'a>(c: &'a PaymentConfirmation, label: &str) -> &'a str {
    let d = c
        .details
        .iter()
        .flatten()
        .find(|d| d.label == label)
        .unwrap_or_else(|| panic!("no {label:?} detail"));
    match &d.value {
        DetailValue::String(s) => s,
        DetailValue::Number(n) => n.as_str(),
    }
}

#[tokio::test]
async fn a_whole_purchase() {
    let c = Customer::new();

    // Text → the catalog as product cards.
    let replies = c.say(script::OPENING).await;
    assert!(texts(&replies)[0].starts_with("Welcome"), "{replies:?}");
    let catalog: RequestDecision = find(&replies).expect("request_decision");
    assert_eq!(catalog.kind(), DecisionType::Products);
    assert_eq!(catalog.options.len(), 4);
    for option in &catalog.options {
        assert!(option.description.is_some() && option.image_url.is_some());
        let price = option.quote.as_ref().expect("a price quote");
        assert_eq!(price.r#type.as_deref(), Some("Quote"));
        assert_eq!(price.payee_id, MERCHANT_ID);
    }
    let socks = &catalog.options[0].quote.as_ref().unwrap().payment_plans[0];
    assert_eq!(socks.amount.as_ref().unwrap().as_str(), "18.50");
    assert!(matches!(c.stage(), Stage::Choosing { .. }));

    // Decision → the address form.
    let decision = script::choose(&catalog).unwrap();
    assert_eq!(decision.request_decision_id, catalog.id);
    let replies = c.send(decision).await;
    assert_eq!(
        texts(&replies),
        ["Good choice: 2 × Merino trail socks. Where should it go?"]
    );
    let form: RequestData = find(&replies).expect("request_data");
    let fields = form.form.fields.as_ref().unwrap();
    assert_eq!(fields.len(), 5);
    assert!(
        fields
            .iter()
            .all(|f| f.is_required() && f.autocomplete.is_some())
    );

    // Data → the AITP-01 quote: 2 × 18.50 = 37.00, exactly.
    let replies = c.send(script::fill(&form)).await;
    let quote: Quote = find(&replies).expect("quote");
    assert_eq!(quote.merchant_id, MERCHANT_ID);
    let option = &quote.payment_options[0];
    assert_eq!(option.amount.as_ref().unwrap().as_str(), "37.00");
    assert_eq!(option.currency, CURRENCY);
    assert_eq!(option.payment_methods[0].token, TOKEN);
    assert_eq!(option.payment_methods[0].recipient, MERCHANT_ID);
    assert!(!quote.is_expired() && quote.expiration.is_some());
    aitp::sign::verify(&c.shop.public_key(), &quote).expect("the quote is signed by the shop");
    assert!(
        quote.description.contains("London"),
        "{}",
        quote.description
    );
    let order = c.shop.order(&c.thread.id).unwrap();
    assert_eq!(order.ship_to.as_ref().unwrap().postal_code, "SW1Y 4LB");

    // Payment → the confirmation.
    let payment = script::pay(&quote).unwrap();
    let replies = c.send(payment.clone()).await;
    let confirmation: PaymentConfirmation = find(&replies).expect("payment_confirmation");
    assert_eq!(confirmation.result, PaymentOutcome::Success);
    assert_eq!(confirmation.quote_id, quote.quote_id);
    aitp::sign::verify(&c.shop.public_key(), &confirmation)
        .expect("the confirmation is signed by the shop");
    assert_eq!(detail(&confirmation, "Order number"), "ORD-1001");
    assert_eq!(detail(&confirmation, "Items"), "2 × Merino trail socks");
    assert_eq!(detail(&confirmation, "Total"), "37.00 USD");
    assert_eq!(
        detail(&confirmation, "Ship to"),
        "Ada Lovelace, 12 St James's Square, SW1Y 4LB London, United Kingdom"
    );
    assert!(matches!(c.stage(), Stage::Paid { order_number, .. } if order_number == "ORD-1001"));

    // The same payment again: the same confirmation, and no second charge.
    let again: PaymentConfirmation = find(&c.send(payment.clone()).await).expect("confirmation");
    assert_eq!(again, confirmation);
    assert_eq!(c.shop.charges(), 1);
    // Another payment of the paid quote: refused.
    let mut other = payment;
    other.timestamp = "2030-01-01T00:00:00Z".into();
    let other = aitp::sign::sign(&script::customer_key(), other).unwrap();
    let (check, _) = refused(&c.shop, &c.send(other).await);
    assert_eq!(check, "already_paid");
    assert_eq!(c.shop.charges(), 1);
    // Text afterwards starts a new order.
    let replies = c.say("thanks!").await;
    assert!(texts(&replies)[0].contains("ORD-1001"));
    assert!(find::<RequestDecision>(&replies).is_some());
}

#[tokio::test]
async fn the_script_drives_the_conversation_to_a_confirmation() {
    let c = Customer::new();
    let mut replies = c.say(script::OPENING).await;
    let mut turns = 0;
    while let Some(next) = script::answer(&replies) {
        replies = c.send(next).await;
        assert!(find::<ErrorReport>(&replies).is_none(), "{replies:?}");
        turns += 1;
        assert!(turns <= 3, "the script should finish in three turns");
    }
    let confirmation: PaymentConfirmation = find(&replies).expect("payment_confirmation");
    assert_eq!(confirmation.result, PaymentOutcome::Success);
    assert_eq!(turns, 3);
}

#[tokio::test]
async fn threads_have_their_own_orders() {
    let ada = Customer::new();
    let bob = Customer::at(ada.shop.clone());
    let quote = ada.quoted().await;
    bob.say("hello").await;
    // Bob cannot pay Ada's quote in his thread: it was not offered there.
    let (check, reason) = refused(&bob.shop, &bob.send(script::pay(&quote).unwrap()).await);
    assert_eq!(check, "quote_not_found");
    assert!(reason.contains(&quote.quote_id), "{reason}");
    assert!(matches!(bob.stage(), Stage::Choosing { .. }));
    assert!(matches!(ada.stage(), Stage::Payment { .. }));
}

#[tokio::test]
async fn an_unknown_product_is_an_error_and_the_choice_stays_open() {
    let c = Customer::new();
    let catalog: RequestDecision = find(&c.say("hi").await).unwrap();
    let wrong = Decision::new(
        catalog.id.clone().unwrap(),
        [SelectedOption::new("unicorn").quantity(1)],
    );
    let e = error(&c.send(wrong).await);
    assert_eq!(e.code, ErrorCode::HandlerError);
    assert!(e.message.contains("\"unicorn\""), "{}", e.message);
    assert!(matches!(c.stage(), Stage::Choosing { .. }));

    let too_many = Decision::new(
        catalog.id.clone().unwrap(),
        [SelectedOption::new("headlamp").quantity(MAX_QUANTITY + 1)],
    );
    let e = error(&c.send(too_many).await);
    assert!(e.message.contains("quantity"), "{}", e.message);

    let other_request = Decision::new("catalog_old", [SelectedOption::new("headlamp")]);
    let e = error(&c.send(other_request).await);
    assert!(e.message.contains("catalog_old"), "{}", e.message);

    // The right choice still works.
    let replies = c.send(script::choose(&catalog).unwrap()).await;
    assert!(find::<RequestData>(&replies).is_some());
}

#[tokio::test]
async fn a_tampered_amount_is_refused_and_the_exact_amount_accepted() {
    let c = Customer::new();
    let quote = c.quoted().await;

    let mut cheap = script::pay(&quote).unwrap();
    cheap.payment_method.amount = Some("36.99".parse().unwrap());
    let cheap = aitp::sign::sign(&script::customer_key(), cheap).unwrap();
    let (check, reason) = refused(&c.shop, &c.send(cheap).await);
    assert_eq!(check, "amount_mismatch");
    assert!(
        reason.contains("37.00") && reason.contains("36.99"),
        "{reason}"
    );
    assert!(matches!(c.stage(), Stage::Payment { .. }));
    assert_eq!(c.shop.charges(), 0);

    // The same value written differently is the same amount.
    let mut exact = script::pay(&quote).unwrap();
    exact.payment_method.amount = Some("37.0".parse().unwrap());
    let exact = aitp::sign::sign(&script::customer_key(), exact).unwrap();
    let confirmation: PaymentConfirmation = find(&c.send(exact).await).unwrap();
    assert_eq!(confirmation.result, PaymentOutcome::Success);
}

#[tokio::test]
async fn payments_for_other_quotes_or_without_signature_are_refused() {
    let c = Customer::new();
    let quote = c.quoted().await;

    let mut forged = script::pay(&quote).unwrap();
    forged.quote_id = "quote_forged".into();
    let forged = aitp::sign::sign(&script::customer_key(), forged).unwrap();
    let (check, reason) = refused(&c.shop, &c.send(forged).await);
    assert_eq!(check, "quote_not_found");
    assert!(reason.contains("quote_forged"), "{reason}");

    // Unsigned, or signed "unsigned" as clients used to: the gate answers before any handler.
    let mut unsigned = script::pay(&quote).unwrap();
    unsigned.payer_signature = None;
    assert_eq!(
        refused(&c.shop, &c.send(unsigned).await).0,
        "payer_signature"
    );
    let mut unsigned = script::pay(&quote).unwrap();
    unsigned.payer_signature = Some("unsigned".into());
    assert_eq!(
        refused(&c.shop, &c.send(unsigned).await).0,
        "payer_signature"
    );
    // Signed with a key that is not ada.near's (here: the shop's own).
    let mut wrong_key = script::pay(&quote).unwrap();
    wrong_key.payer_signature = None;
    let wrong_key = aitp::sign::sign(&SecretKey::from_seed(&DEMO_KEY_SEED), wrong_key).unwrap();
    let (check, reason) = refused(&c.shop, &c.send(wrong_key).await);
    assert_eq!(check, "payer_signature");
    assert!(reason.contains(MERCHANT_ID), "{reason}");
    // Through a channel the shop does not know.
    let mut elsewhere = script::pay(&quote).unwrap();
    elsewhere.payment_method.channel_id = "channel_unknown".into();
    let elsewhere = aitp::sign::sign(&script::customer_key(), elsewhere).unwrap();
    assert_eq!(
        refused(&c.shop, &c.send(elsewhere).await).0,
        "payment_channel"
    );
    assert!(matches!(c.stage(), Stage::Payment { .. }));
    assert_eq!(c.shop.charges(), 0);

    // A payment in a thread the shop never quoted.
    let stranger = Customer::at(c.shop.clone());
    let (check, _) = refused(&c.shop, &stranger.send(script::pay(&quote).unwrap()).await);
    assert_eq!(check, "quote_not_found");
    // The genuine payment still goes through.
    let ok: PaymentConfirmation = find(&c.send(script::pay(&quote).unwrap()).await).unwrap();
    assert_eq!(ok.result, PaymentOutcome::Success);
}

#[tokio::test]
async fn an_expired_quote_is_refused_and_text_brings_a_fresh_one() {
    let now = SystemClock.now();
    let clock = FixedClock::new(now);
    let c = Customer::at(ShopState::with_payments(
        Catalog::demo(),
        demo_payers(),
        demo_channels(),
        clock.clone(),
    ));
    let quote = c.quoted().await;
    // Past the quote's 15 minutes and the gate's skew.
    clock.set(now + QUOTE_TTL + aitp::sign::DEFAULT_SKEW + Duration::from_secs(1));
    let (check, _) = refused(&c.shop, &c.send(script::pay(&quote).unwrap()).await);
    assert_eq!(check, "quote_expired");
    assert_eq!(c.shop.charges(), 0);

    let replies = c.say("still there?").await;
    let fresh: Quote = find(&replies).expect("a fresh quote");
    assert_ne!(fresh.quote_id, quote.quote_id);
    assert_eq!(fresh.payment_options, quote.payment_options);
    let confirmation: PaymentConfirmation =
        find(&c.send(script::pay(&fresh).unwrap()).await).unwrap();
    assert_eq!(confirmation.result, PaymentOutcome::Success);
}

#[tokio::test]
async fn text_mid_flow_repeats_what_the_shop_waits_for() {
    let c = Customer::new();
    let catalog: RequestDecision = find(&c.say("hi").await).unwrap();
    let again: RequestDecision = find(&c.say("hmm, let me think").await).unwrap();
    assert_eq!(again.id, catalog.id);

    let form: RequestData = find(&c.send(script::choose(&catalog).unwrap()).await).unwrap();
    let replies = c.say("what's the total?").await;
    assert!(
        texts(&replies)[0].contains("shipping address"),
        "{replies:?}"
    );
    let reminder: RequestData = find(&replies).expect("the form again");
    assert_eq!(reminder.id, form.id);
    assert!(matches!(c.stage(), Stage::Address { .. }));

    // A decision now is out of turn.
    let e = error(&c.send(script::choose(&catalog).unwrap()).await);
    assert!(e.message.contains("shipping address"), "{}", e.message);

    let quote: Quote = find(&c.send(script::fill(&form)).await).unwrap();
    let replies = c.say("ok, paying now").await;
    let repeated: Quote = find(&replies).expect("the quote again");
    assert_eq!(repeated, quote);

    let replies = c.say("Cancel").await;
    assert_eq!(
        texts(&replies),
        ["Order cancelled. Say anything to see the catalog again."]
    );
    assert!(c.shop.order(&c.thread.id).is_none());
    // The quote passes the gate (it was sent here), but its order is gone: the handler
    // refuses, and the quote is released rather than taken.
    let e = error(&c.send(script::pay(&quote).unwrap()).await);
    assert!(e.message.contains("no order"), "{}", e.message);
    assert_eq!(c.shop.charges(), 0);
}

#[tokio::test]
async fn an_incomplete_address_is_answered_with_the_problems_and_the_form() {
    let c = Customer::new();
    let catalog: RequestDecision = find(&c.say("hi").await).unwrap();
    let form: RequestData = find(&c.send(script::choose(&catalog).unwrap()).await).unwrap();

    let partial = form.respond([
        ("name", "Ada Lovelace"),
        ("street", "12 St James's Square"),
        ("city", "London"),
        ("postal_code", "  "),
    ]);
    let replies = c.send(partial).await;
    let e = error(&replies);
    assert_eq!(e.code, ErrorCode::InvalidMessage);
    assert_eq!(e.key.as_deref(), Some("data"));
    assert!(e.message.contains("postal_code"), "{}", e.message);
    assert!(e.message.contains("country"), "{}", e.message);
    assert_eq!(e.details.len(), 2);
    let again: RequestData = find(&replies).expect("the form again");
    assert_eq!(again.id, form.id);
    assert!(matches!(c.stage(), Stage::Address { .. }));

    // Data before any order, in another thread.
    let stranger = Customer::at(c.shop.clone());
    let e = error(&stranger.send(script::fill(&form)).await);
    assert!(e.message.contains("no order"), "{}", e.message);
}

#[test]
fn totals_are_exact() {
    let amount = |s: &str| -> Amount { s.parse().unwrap() };
    assert_eq!(times(&amount("18.50"), 2).unwrap().as_str(), "37.00");
    assert_eq!(times(&amount("0.10"), 3).unwrap().as_str(), "0.30");
    assert_eq!(times(&amount("39.99"), 10).unwrap().as_str(), "399.90");
    assert_eq!(times(&amount("5"), 7).unwrap().as_str(), "35");
    assert_eq!(times(&amount("0.000001"), 3).unwrap().as_str(), "0.000003");
    assert!(times(&amount(&u128::MAX.to_string()), 2).is_none());

    let catalog = Catalog::demo();
    let item = |id: &str, quantity| {
        let p = catalog.get(id).unwrap();
        LineItem {
            product_id: p.id.clone(),
            name: p.name.clone(),
            unit_price: p.price.clone(),
            quantity,
        }
    };
    let order = Order {
        items: vec![item("water-bottle", 3), item("headlamp", 1)],
        ship_to: None,
        stage: Stage::Paid {
            order_number: String::new(),
            payment_id: String::new(),
        },
    };
    // 3 × 24.95 + 39.99 = 114.84 (in floating point, 3 × 24.95 is 74.85000000000001).
    assert_eq!(order.total().unwrap(), amount("114.84"));
}

#[test]
fn rfc3339_dates() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_893_456_000), "2030-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
    assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
}

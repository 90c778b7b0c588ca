//! The payment gate in the agent runtime, over real HTTP on 127.0.0.1: the demo shop (and a
//! small reseller agent sending wrapped quotes) behind `Router::payment_gate`, paid by the
//! client. Every refused payment gets, in the thread, a `payment_confirmation` of result
//! `failure` signed by the merchant and naming its check, and the payment handler is never
//! called for it; the same payment twice is charged once.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use aitp::{
    agent::{Admitted, KnownChannels, PaymentDesk, Router},
    capability::{
        CapabilityMessage, Envelope,
        payments::{
            AffiliateRole, Payment, PaymentConfirmation, PaymentMethodUsed, PaymentOption, Quote,
            WrappedQuote, Wrapper,
        },
        transactions::{DetailValue, PaymentOutcome},
    },
    server::Server,
    sign::{self, Clock, ConfiguredKeys, FixedClock, PaymentGate, PublicKey, SecretKey},
    store::MemoryStore,
    thread::Message,
};
use aitp_client::{Client, ThreadHandle};
use aitp_examples::script;
use aitp_tests::{ServerGuard, serve_in_background};
use example_shop as shop;

fn client(base: &str) -> Client {
    Client::builder(base)
        .actor(script::CUSTOMER)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The first capability message of type `T` among the replies.
fn find<T: CapabilityMessage>(replies: &[Message]) -> Option<T> {
    replies
        .iter()
        .find_map(|m| m.capability::<T>().ok().flatten())
}

fn detail<'a>(c: &'a PaymentConfirmation, label: &str) -> &'a str {
    let d = c
        .details
        .iter()
        .flatten()
        .find(|d| d.label == label)
        .unwrap_or_else(|| panic!("no {label:?} detail in {c:?}"));
    match &d.value {
        DetailValue::String(s) => s,
        DetailValue::Number(n) => n.as_str(),
    }
}

/// Sends `payment`; returns the confirmation the thread got for it.
async fn pay(thread: &mut ThreadHandle, payment: &Payment) -> PaymentConfirmation {
    let replies = thread.ask(&Envelope::from(payment.clone())).await.unwrap();
    find(&replies).unwrap_or_else(|| panic!("no payment_confirmation in {replies:?}"))
}

/// Sends `payment`, expects a refusal signed with `merchant`; returns (check, reason).
async fn refused(
    thread: &mut ThreadHandle,
    merchant: &PublicKey,
    payment: &Payment,
) -> (String, String) {
    let c = pay(thread, payment).await;
    assert_eq!(c.result, PaymentOutcome::Failure, "{c:?}");
    assert_eq!(c.quote_id, payment.quote_id);
    sign::verify(merchant, &c).expect("the refusal is signed by the merchant");
    (
        detail(&c, "Check").to_owned(),
        detail(&c, "Reason").to_owned(),
    )
}

/// `payment` changed by `edit`, signed again by the customer.
fn resigned(payment: &Payment, edit: impl FnOnce(&mut Payment)) -> Payment {
    let mut p = payment.clone();
    edit(&mut p);
    sign::sign(&script::customer_key(), p).unwrap()
}

/// The demo shop with a clock the test moves, and one more channel, which pays someone else.
struct Shop {
    state: shop::ShopState,
    clock: FixedClock,
    base: String,
    _guard: ServerGuard,
}

impl Shop {
    async fn start() -> Self {
        let clock = FixedClock::new(sign::SystemClock.now());
        let channels = shop::demo_channels().channel("channel_elsewhere", "someone-else.near");
        let state = shop::ShopState::with_payments(
            shop::Catalog::demo(),
            shop::demo_payers(),
            channels,
            clock.clone(),
        );
        let server = Server::new(shop::shop_agent_with(state.clone()), MemoryStore::new());
        let (base, guard) = serve_in_background(server).await;
        Self {
            state,
            clock,
            base,
            _guard: guard,
        }
    }

    /// A new thread, walked by the script up to the shop's quote.
    async fn quoted(&self) -> (ThreadHandle, Quote) {
        let mut thread = client(&self.base).create_thread().await.unwrap();
        let mut replies = thread.ask(script::OPENING).await.unwrap();
        loop {
            if let Some(quote) = find::<Quote>(&replies) {
                return (thread, quote);
            }
            let from_shop = replies
                .iter()
                .find_map(|m| m.capabilities().find_map(Result::ok))
                .unwrap_or_else(|| panic!("the shop said no capability message: {replies:?}"));
            let answer = script::next_message(&from_shop).expect("the script has an answer");
            replies = thread.ask(&answer).await.unwrap();
        }
    }
}

#[tokio::test]
async fn each_failed_check_is_refused_in_the_thread_and_the_handler_never_runs() {
    let shop = Shop::start().await;
    let key = shop.state.public_key();
    let (mut thread, quote) = shop.quoted().await;
    let good = script::pay(&quote).unwrap();

    // Unsigned (as `aitp chat` used to pay) and without a signature at all.
    let mut unsigned = good.clone();
    unsigned.payer_signature = Some("unsigned".into());
    let (check, reason) = refused(&mut thread, &key, &unsigned).await;
    assert_eq!(check, "payer_signature", "{reason}");
    let mut bare = good.clone();
    bare.payer_signature = None;
    assert_eq!(refused(&mut thread, &key, &bare).await.0, "payer_signature");

    // Signed by a key not allowed for ada.near.
    let mut stranger = good.clone();
    stranger.payer_signature = None;
    let stranger = sign::sign(&SecretKey::from_seed(&[7; 32]), stranger).unwrap();
    let (check, reason) = refused(&mut thread, &key, &stranger).await;
    assert_eq!(check, "payer_signature");
    assert!(reason.contains(script::CUSTOMER), "{reason}");

    // A quote this thread was never given.
    let elsewhere = resigned(&good, |p| p.quote_id = "quote_from_elsewhere".into());
    let (check, reason) = refused(&mut thread, &key, &elsewhere).await;
    assert_eq!(check, "quote_not_found");
    assert!(reason.contains("quote_from_elsewhere"), "{reason}");

    // Amount, currency and recipient that do not match the quote.
    let cheap = resigned(&good, |p| {
        p.payment_method.amount = Some("36.99".parse().unwrap())
    });
    let (check, reason) = refused(&mut thread, &key, &cheap).await;
    assert_eq!(check, "amount_mismatch");
    assert!(
        reason.contains("36.99") && reason.contains("37.00"),
        "{reason}"
    );
    let euros = resigned(&good, |p| p.payment_method.currency = "EUR".into());
    assert_eq!(
        refused(&mut thread, &key, &euros).await.0,
        "currency_mismatch"
    );
    let diverted = resigned(&good, |p| {
        p.payment_method.channel_id = "channel_elsewhere".into()
    });
    let (check, reason) = refused(&mut thread, &key, &diverted).await;
    assert_eq!(check, "recipient_mismatch");
    assert!(reason.contains("someone-else.near"), "{reason}");
    let unknown_channel = resigned(&good, |p| {
        p.payment_method.channel_id = "channel_nobody_opened".into()
    });
    assert_eq!(
        refused(&mut thread, &key, &unknown_channel).await.0,
        "payment_channel"
    );

    // Expired: the gate's clock moves past the quote's 15 minutes and the skew.
    let now = shop.clock.now();
    shop.clock
        .set(now + shop::QUOTE_TTL + sign::DEFAULT_SKEW + Duration::from_secs(1));
    assert_eq!(refused(&mut thread, &key, &good).await.0, "quote_expired");
    shop.clock.set(now);

    assert_eq!(
        shop.state.charges(),
        0,
        "no refused payment reached the handler"
    );
    assert!(matches!(
        shop.state.order(thread.id()).unwrap().stage,
        shop::Stage::Payment { .. }
    ));

    // After all that, the genuine payment goes through.
    let confirmation = pay(&mut thread, &good).await;
    assert_eq!(confirmation.result, PaymentOutcome::Success);
    sign::verify(&key, &confirmation).expect("the confirmation verifies with the shop's key");
    assert_eq!(shop.state.charges(), 1);
}

#[tokio::test]
async fn the_same_payment_twice_is_one_charge_and_another_payment_is_refused() {
    let shop = Shop::start().await;
    let key = shop.state.public_key();
    let (mut thread, quote) = shop.quoted().await;
    let payment = script::pay(&quote).unwrap();

    let first = pay(&mut thread, &payment).await;
    assert_eq!(first.result, PaymentOutcome::Success);
    assert_eq!(first.quote_id, quote.quote_id);
    sign::verify(&key, &first).expect("the confirmation verifies with the shop's key");
    let order = detail(&first, "Order number").to_owned();

    let again = pay(&mut thread, &payment).await;
    assert_eq!(
        again, first,
        "the same payment gets the same signed confirmation"
    );
    assert_eq!(shop.state.charges(), 1, "charged once");

    let second = resigned(&payment, |p| p.timestamp = "2030-01-01T00:00:00Z".into());
    let (check, reason) = refused(&mut thread, &key, &second).await;
    assert_eq!(check, "already_paid");
    assert!(reason.contains(&quote.quote_id), "{reason}");
    assert_eq!(shop.state.charges(), 1);
    assert!(matches!(
        shop.state.order(thread.id()).unwrap().stage,
        shop::Stage::Paid { order_number, .. } if order_number == order
    ));

    // Another customer's thread of the same shop cannot pay this quote either.
    let (mut other, _) = shop.quoted().await;
    assert_eq!(
        refused(&mut other, &key, &payment).await.0,
        "quote_not_found"
    );
}

const MAKER: &str = "maker.near";
const RESELLER: &str = "reseller.near";

fn maker_key() -> SecretKey {
    SecretKey::from_seed(&[21; 32])
}

fn reseller_key() -> SecretKey {
    SecretKey::from_seed(&[22; 32])
}

/// A quote of the maker, wrapped by the reseller for the customer.
fn wrapped(quote_id: &str) -> WrappedQuote {
    let quote = Quote::builder(quote_id, MAKER, "A hand-made mug")
        .next_recipient(RESELLER)
        .expires_after(Duration::from_secs(600))
        .option(PaymentOption::near_payment_channel(
            "12.50".parse().unwrap(),
            "USD",
            "usdc.near",
            MAKER,
        ))
        .build_unsigned();
    let quote = sign::sign(&maker_key(), quote).unwrap();
    let wrapper = Wrapper::new(RESELLER, AffiliateRole::PersonalAssistant, script::CUSTOMER);
    sign::wrap(&reseller_key(), wrapper, quote).unwrap()
}

/// An agent that relays wrapped quotes (`genuine`, or `tampered` after signing) and takes
/// payments through the gate; it counts the payments its handler sees.
fn reseller(calls: Arc<AtomicU64>) -> Router<Arc<AtomicU64>> {
    let keys = ConfiguredKeys::new()
        .allow(MAKER, maker_key().public_key())
        .allow(RESELLER, reseller_key().public_key())
        .allow(script::CUSTOMER, script::customer_key().public_key());
    let gate = PaymentGate::new(maker_key(), keys);
    let desk = PaymentDesk::new(
        gate,
        KnownChannels::new().channel(script::CHANNEL_ID, MAKER),
    );
    Router::with_state(calls)
        .actor_id("reseller")
        .on_text(|text: String| async move {
            let mut offer = wrapped(&format!("q_{}", text.trim()));
            if text.trim() == "tampered" {
                // Cheaper after the maker signed: no signature of the chain covers this.
                offer.original_quote.payment_options[0].amount = Some("1.00".parse().unwrap());
            }
            offer
        })
        .handler(
            |aitp::agent::State(calls): aitp::agent::State<Arc<AtomicU64>>,
             admitted: Option<Admitted>,
             payment: Payment| async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let admitted = admitted.expect("the gate admitted the payment");
                assert_eq!(admitted.chain.wrapper_keys, [reseller_key().public_key()]);
                PaymentConfirmation::for_payment(&payment, "pay_1", PaymentOutcome::Success)
            },
        )
        .payment_gate(desk)
}

#[tokio::test]
async fn a_tampered_quote_chain_is_refused_and_a_genuine_one_paid() {
    let calls = Arc::new(AtomicU64::new(0));
    let server = Server::new(reseller(calls.clone()), MemoryStore::new());
    let (base, _guard) = serve_in_background(server).await;
    let maker = maker_key().public_key();
    let mut thread = client(&base).create_thread().await.unwrap();

    let pay_for = |offer: &WrappedQuote| {
        let option = &offer.original_quote.payment_options[0];
        let used =
            PaymentMethodUsed::for_option(option, &option.payment_methods[0], script::CHANNEL_ID);
        sign::sign(
            &script::customer_key(),
            Payment::new(&offer.original_quote, script::CUSTOMER, used),
        )
        .unwrap()
    };

    let replies = thread.ask("tampered").await.unwrap();
    let tampered: WrappedQuote = find(&replies).expect("a wrapped quote");
    let (check, reason) = refused(&mut thread, &maker, &pay_for(&tampered)).await;
    assert_eq!(check, "quote_signature");
    assert!(reason.contains("merchant_signature"), "{reason}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler never ran");

    let replies = thread.ask("genuine").await.unwrap();
    let genuine: WrappedQuote = find(&replies).expect("a wrapped quote");
    let confirmation = pay(&mut thread, &pay_for(&genuine)).await;
    assert_eq!(confirmation.result, PaymentOutcome::Success);
    sign::verify(&maker, &confirmation).expect("signed by the gate with the maker's key");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

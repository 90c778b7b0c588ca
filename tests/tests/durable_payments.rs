//! Payments that outlive a process: the payment desk finds a payment's quote in the stored
//! thread (not in the memory of the process that sent it), and the store's ledger keeps
//! "paid once". Over real HTTP on 127.0.0.1: a merchant on an SQLite file restarted between
//! its quote and the payment, and two replicas on one PostgreSQL where the quote is made on
//! one and paid on the other.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use aitp::{
    agent::{Admitted, KnownChannels, PaymentDesk, Router, State},
    capability::{
        CapabilityMessage, Envelope,
        payments::{Payment, PaymentConfirmation, PaymentMethodUsed, PaymentOption, Quote},
        transactions::{DetailValue, PaymentOutcome},
    },
    server::Server,
    sign::{self, ConfiguredKeys, Ledger, PaymentGate, SecretKey},
    store::{PgStore, SqliteStore, ThreadStore, testing::TempPostgres},
    thread::Message,
};
use aitp_client::{Client, ThreadHandle};
use aitp_tests::{ServerGuard, serve_in_background};

const MERCHANT: &str = "shop.near";
const PAYER: &str = "payer.near";
const CHANNEL: &str = "ch_1";

fn merchant_key() -> SecretKey {
    SecretKey::from_seed(&[11; 32])
}

fn payer_key() -> SecretKey {
    SecretKey::from_seed(&[12; 32])
}

/// A merchant that quotes on any text (the text is the quote id) and counts the payments
/// its handler takes, behind a payment gate remembering payments in `ledger`.
fn merchant(ledger: impl Ledger + 'static, charges: Arc<AtomicU64>) -> Router<Arc<AtomicU64>> {
    let keys = ConfiguredKeys::new()
        .allow(MERCHANT, merchant_key().public_key())
        .allow(PAYER, payer_key().public_key());
    let gate = PaymentGate::new(merchant_key(), keys).with_ledger(ledger);
    let desk = PaymentDesk::new(gate, KnownChannels::new().channel(CHANNEL, MERCHANT));
    Router::with_state(charges)
        .actor_id("durable-merchant")
        .on_text(|quote_id: String| async move {
            let quote = Quote::builder(quote_id, MERCHANT, "A mug")
                .expires_after(Duration::from_secs(600))
                .option(PaymentOption::near_payment_channel(
                    "12.50".parse().unwrap(),
                    "USD",
                    "usdc.near",
                    MERCHANT,
                ))
                .build_unsigned();
            sign::sign(&merchant_key(), quote).unwrap()
        })
        .handler(
            |State(charges): State<Arc<AtomicU64>>,
             admitted: Option<Admitted>,
             payment: Payment| async move {
                admitted.ok_or("the payment was not checked")?;
                let n = charges.fetch_add(1, Ordering::SeqCst) + 1;
                Ok::<_, &str>(PaymentConfirmation::for_payment(
                    &payment,
                    format!("pay_{n}"),
                    PaymentOutcome::Success,
                ))
            },
        )
        .payment_gate(desk)
}

/// Serves a merchant on `store`, its ledger being the store itself.
async fn serve<S: ThreadStore + Ledger + Clone>(
    store: S,
    charges: &Arc<AtomicU64>,
) -> (String, ServerGuard) {
    let agent = merchant(store.clone(), charges.clone());
    serve_in_background(Server::new(agent, store)).await
}

fn client(base: &str) -> Client {
    Client::builder(base)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The thread `id` as seen through the server at `base`.
async fn thread(base: &str, id: &str) -> ThreadHandle {
    client(base).thread(id).await.unwrap().force()
}

fn find<T: CapabilityMessage>(replies: &[Message]) -> Option<T> {
    replies
        .iter()
        .find_map(|m| m.capability::<T>().ok().flatten())
}

/// Asks for quote `quote_id` in a new thread; the thread id and the (verified) quote.
async fn ask_quote(base: &str, quote_id: &str) -> (String, Quote) {
    let mut thread = client(base).create_thread().await.unwrap().force();
    let replies = thread.ask(quote_id).await.unwrap();
    let quote: Quote = find(&replies).unwrap_or_else(|| panic!("no quote in {replies:?}"));
    sign::verify(&merchant_key().public_key(), &quote).expect("a signed quote");
    (thread.id().to_owned(), quote)
}

/// The customer's payment of `quote`, made at `timestamp` (another timestamp: another
/// payment of the same quote).
fn payment(quote: &Quote, timestamp: &str) -> Payment {
    let option = &quote.payment_options[0];
    let used = PaymentMethodUsed::for_option(option, &option.payment_methods[0], CHANNEL);
    let mut payment = Payment::new(quote, PAYER, used);
    payment.timestamp = timestamp.to_owned();
    sign::sign(&payer_key(), payment).unwrap()
}

/// Sends `payment` through the server at `base`; the confirmation the thread got for it.
async fn pay(base: &str, thread_id: &str, payment: &Payment) -> PaymentConfirmation {
    let mut thread = thread(base, thread_id).await;
    let replies = thread.ask(Envelope::from(payment.clone())).await.unwrap();
    let c: PaymentConfirmation =
        find(&replies).unwrap_or_else(|| panic!("no payment_confirmation in {replies:?}"));
    sign::verify(&merchant_key().public_key(), &c).expect("a confirmation signed by the merchant");
    c
}

/// The check a refusal names.
fn check(c: &PaymentConfirmation) -> String {
    assert_eq!(c.result, PaymentOutcome::Failure, "{c:?}");
    let d = c
        .details
        .iter()
        .flatten()
        .find(|d| d.label == "Check")
        .unwrap_or_else(|| panic!("no Check detail in {c:?}"));
    match &d.value {
        DetailValue::String(s) => s.clone(),
        DetailValue::Number(n) => n.as_str().to_owned(),
    }
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_after_a_restart_is_taken_once_on_the_sqlite_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("aitp.db");

    // The merchant quotes, then stops.
    let before = Arc::new(AtomicU64::new(0));
    let (base, guard) = serve(open(&db), &before).await;
    let (thread_id, quote) = ask_quote(&base, "q_restart").await;
    guard.stop().await;

    // A new process on the same file: it never sent the quote, the thread says it did.
    let after = Arc::new(AtomicU64::new(0));
    let (base, guard) = serve(open(&db), &after).await;
    let p = payment(&quote, "2029-06-01T01:00:00Z");
    let first = pay(&base, &thread_id, &p).await;
    assert_eq!(first.result, PaymentOutcome::Success, "{first:?}");
    assert_eq!(first.quote_id, "q_restart");
    assert_eq!(after.load(Ordering::SeqCst), 1);
    // The same payment again: the same confirmation, no second charge.
    assert_eq!(pay(&base, &thread_id, &p).await, first);
    assert_eq!(after.load(Ordering::SeqCst), 1);
    guard.stop().await;

    // Once more after another restart: the ledger on file still knows the payment.
    let again = Arc::new(AtomicU64::new(0));
    let (base, _guard) = serve(open(&db), &again).await;
    assert_eq!(pay(&base, &thread_id, &p).await, first);
    let other = payment(&quote, "2029-06-01T01:00:05Z");
    assert_eq!(check(&pay(&base, &thread_id, &other).await), "already_paid");
    // A quote the thread never carried is not payable, however well signed.
    let (_, stranger) = ask_quote(&base, "q_elsewhere").await;
    let stray = payment(&stranger, "2029-06-01T01:00:00Z");
    assert_eq!(
        check(&pay(&base, &thread_id, &stray).await),
        "quote_not_found"
    );
    assert_eq!(
        before.load(Ordering::SeqCst) + after.load(Ordering::SeqCst) + again.load(Ordering::SeqCst),
        1,
        "charged exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_made_on_one_replica_is_paid_once_across_both() {
    let Some(pg) = TempPostgres::shared() else {
        return;
    };
    let config = pg.database();
    let (charges_a, charges_b) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (a, _a) = serve(PgStore::connect(&config).await.unwrap(), &charges_a).await;
    let (b, _b) = serve(PgStore::connect(&config).await.unwrap(), &charges_b).await;

    let (thread_id, quote) = ask_quote(&a, "q_replicas").await;
    // Paid on B, which never saw the quote sent.
    let p = payment(&quote, "2029-06-01T01:00:00Z");
    let first = pay(&b, &thread_id, &p).await;
    assert_eq!(first.result, PaymentOutcome::Success, "{first:?}");
    assert_eq!(charges_b.load(Ordering::SeqCst), 1);
    // The same payment on A: the confirmation B gave, and A charges nothing.
    assert_eq!(pay(&a, &thread_id, &p).await, first);
    assert_eq!(charges_a.load(Ordering::SeqCst), 0);
    // Another payment of the paid quote, on either replica: refused.
    let other = payment(&quote, "2029-06-01T01:00:05Z");
    assert_eq!(check(&pay(&a, &thread_id, &other).await), "already_paid");
    assert_eq!(check(&pay(&b, &thread_id, &other).await), "already_paid");
    assert_eq!(
        charges_a.load(Ordering::SeqCst) + charges_b.load(Ordering::SeqCst),
        1,
        "charged exactly once"
    );
}

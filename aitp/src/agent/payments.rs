//! Payments behind a [`PaymentGate`]: the runtime runs every check before a payment handler
//! sees a `payment`, answers replays itself, and signs what the handler confirms.
//!
//! Opt in once with [`Router::payment_gate`](super::Router::payment_gate) and a
//! [`PaymentDesk`]. From then on, for every AITP-01 `payment` in a turn the router:
//!
//! 1. hands the payment and the offers this agent sent **in this thread** to
//!    [`PaymentGate::admit_with`], which checks, in order (the code in brackets is the
//!    refusal's `Check` detail): the quote is among the thread's offers (`quote_not_found`);
//!    the payer's signature verifies under a key the resolver allows for `payer_id`
//!    (`payer_signature`); whether this quote was paid already (the same payment: its first
//!    confirmation is sent again and the handler is not called; another payment:
//!    `already_paid`; the same payment still being processed: `in_progress`); every
//!    signature of the quote and its wrappers (`quote_signature`); expiry by the gate's clock
//!    and skew (`quote_expired`); who the payment's channel pays, asked of the
//!    [`PaymentChannels`] backend (`payment_channel` when it cannot say); and the match of
//!    payment and quote (`quote_id_mismatch`, `currency_mismatch`, `method_mismatch`,
//!    `amount_missing`, `amount_mismatch`, `recipient_mismatch`);
//! 2. on a refusal, answers in the thread with [`PaymentGate::refuse`]'s signed
//!    `payment_confirmation` (result `failure`, or `pending` for `in_progress`) naming the
//!    check in its `Check` detail, and does not call the handler;
//! 3. otherwise calls the payment handler, which can take the verified facts as an
//!    [`Admitted`] extractor instead of checking again;
//! 4. signs the first `payment_confirmation` among the handler's replies with the gate
//!    ([`PaymentGate::confirm`]) and records it, so a replay gets exactly it back. A handler
//!    that returns no confirmation (an error, say) releases the quote
//!    ([`PaymentGate::abandon`]): the payer may pay it again. A handler that panics, or
//!    whose run is cancelled while it runs, leaves the quote in progress (the payer gets
//!    `pending`): whether it charged is unknown, so the gate does not guess; settle such a
//!    quote through your [`Ledger`].
//!
//! **Which offers are "in the thread".** The thread itself says. When the turn carries the
//! thread's history ([`ThreadCtx::history`]; the [server](crate::server) always gives it,
//! read from its store), the desk looks for the payment's `quote_id` there: the newest
//! message **the agent wrote** carrying a `quote` or `wrapped_quote` with that id, among the
//! thread's newest [`OFFER_SCAN_DEPTH`] messages (older offers are not payable: the payer
//! asks for a fresh quote). Since the offer is read from the stored thread, a payment is
//! found after a restart and on any replica of a server sharing one database; a failure to
//! read the thread is answered with an error report (the payment is neither taken nor
//! refused, so the payer may send it again).
//!
//! "The agent wrote" means an `assistant` message made by a run (`run_id` set), which is
//! what the runtime stores for every reply. A client can also post `assistant` messages (the
//! Threads API allows it, and NEAR AI's `run_id` extra sets the field), so what is relied on
//! in the end is the signatures: a planted "quote" passes only if every signature in it
//! verifies under the keys the resolver allows for its merchant and affiliates, which a
//! payer cannot forge. A genuine signed offer copied from another thread is still one real
//! offer of this merchant, and the ledger, keyed by `quote_id`, lets it be paid only once
//! wherever it is presented.
//!
//! Without a history (a turn built by hand, [`Router::dispatch_one`](super::Router::dispatch_one)),
//! the desk falls back to the offers the router recorded in memory as it sent them (at most
//! [`OFFERS_PER_THREAD`] per thread, lost at a restart).
//!
//! **Which ledger.** [`MemoryLedger`](crate::sign::MemoryLedger) forgets paid quotes at a
//! restart: for tests. A served agent uses the ledger of its store, which keeps "paid once"
//! across restarts and, on `PgStore`, across replicas: `SqliteStore` and `PgStore`
//! implement [`Ledger`] (`gate.with_ledger(store.clone())`).

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    future::Future,
    sync::{Arc, Mutex},
};

use super::{BoxFuture, FromTurn, HistoryError, Reply, ThreadCtx, ThreadHistory};
use crate::{
    capability::{
        CapabilityMessage, Envelope, ParseError,
        errors::{ErrorCode, ErrorReport},
        payments::{Payment, PaymentConfirmation, Quote, WrappedQuote},
    },
    sign::{
        Admission, Clock, GateError, KeyResolver, Ledger, Offer, PaymentGate, SignError, Ticket,
        VerifiedChain,
    },
    thread::{Message, Role},
};

/// How many offers per thread a desk remembers in memory (used only for turns without a
/// history); older ones are forgotten (and no longer payable), so one thread cannot grow the
/// record without bound.
pub const OFFERS_PER_THREAD: usize = 64;

/// How many of the thread's newest messages the desk reads, at most, looking for the offer
/// a payment pays (in pages of 100): a payment of an older offer is refused
/// (`quote_not_found`). Bounds what one payment costs to check, however long the thread.
pub const OFFER_SCAN_DEPTH: usize = 500;

/// The page size of the scan (the store's largest page).
const SCAN_PAGE: usize = 100;

/// Your payment-channel backend, as far as the gate needs it: who the channel of a payment
/// pays. A `payment` names its channel (`payment_method.channel_id`) but not the channel's
/// recipient, which only the channel itself (on chain, or your payment provider) can tell.
pub trait PaymentChannels: Send + Sync + 'static {
    /// The account the channel of `payment` pays, or why it cannot be told (the text is
    /// shown to the payer).
    fn recipient<'a>(&'a self, payment: &'a Payment) -> BoxFuture<'a, Result<String, String>>;
}

/// Channels known in advance, by id: for tests, demos, and channels your operator opens.
#[derive(Debug, Clone, Default)]
pub struct KnownChannels(HashMap<String, String>);

impl KnownChannels {
    /// No channels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds channel `channel_id`, which pays `recipient`.
    pub fn channel(mut self, channel_id: impl Into<String>, recipient: impl Into<String>) -> Self {
        self.0.insert(channel_id.into(), recipient.into());
        self
    }
}

impl PaymentChannels for KnownChannels {
    fn recipient<'a>(&'a self, payment: &'a Payment) -> BoxFuture<'a, Result<String, String>> {
        let id = &payment.payment_method.channel_id;
        let found = self
            .0
            .get(id)
            .cloned()
            .ok_or_else(|| format!("channel `{id}` is not known to this agent"));
        Box::pin(std::future::ready(found))
    }
}

/// What the gate verified about the payment being handled: an extractor for payment
/// handlers of a router with a [`PaymentDesk`], so they need not check again.
///
/// Take it as `Option<Admitted>`: it is `None` when the router has no gate (and then the
/// payment is unchecked).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Admitted {
    /// The payment, as verified.
    pub payment: Payment,
    /// The offer it pays, as this agent sent it in the thread.
    pub offer: Offer,
    /// The index of the option paid in the quote's `payment_options`.
    pub option_index: usize,
    /// The keys that signed the offer.
    pub chain: VerifiedChain,
}

impl Admitted {
    /// The quote paid.
    pub fn quote(&self) -> &Quote {
        self.offer.quote()
    }
}

impl<S> FromTurn<S> for Option<Admitted> {
    fn from_turn(cx: &ThreadCtx, _: &S) -> Self {
        cx.admitted().cloned()
    }
}

/// A [`PaymentGate`] with its type parameters erased, so a router can hold any.
trait ErasedGate: Send + Sync {
    fn admit<'a>(
        &'a self,
        offers: &'a [Offer],
        recipient: BoxFuture<'a, Result<String, String>>,
        payment: &'a Payment,
    ) -> BoxFuture<'a, Result<Admission, GateError>>;
    fn confirm(
        &self,
        ticket: Ticket,
        confirmation: PaymentConfirmation,
    ) -> BoxFuture<'_, Result<PaymentConfirmation, GateError>>;
    fn abandon(&self, ticket: Ticket) -> BoxFuture<'_, Result<(), GateError>>;
    fn refuse(
        &self,
        payment: &Payment,
        error: &GateError,
    ) -> Result<PaymentConfirmation, SignError>;
}

impl<R, L, C> ErasedGate for PaymentGate<R, L, C>
where
    R: KeyResolver + 'static,
    L: Ledger + 'static,
    C: Clock + 'static,
{
    fn admit<'a>(
        &'a self,
        offers: &'a [Offer],
        recipient: BoxFuture<'a, Result<String, String>>,
        payment: &'a Payment,
    ) -> BoxFuture<'a, Result<Admission, GateError>> {
        Box::pin(PaymentGate::admit_with(self, offers, recipient, payment))
    }
    fn confirm(
        &self,
        ticket: Ticket,
        confirmation: PaymentConfirmation,
    ) -> BoxFuture<'_, Result<PaymentConfirmation, GateError>> {
        Box::pin(PaymentGate::confirm(self, ticket, confirmation))
    }
    fn abandon(&self, ticket: Ticket) -> BoxFuture<'_, Result<(), GateError>> {
        Box::pin(PaymentGate::abandon(self, ticket))
    }
    fn refuse(
        &self,
        payment: &Payment,
        error: &GateError,
    ) -> Result<PaymentConfirmation, SignError> {
        PaymentGate::refuse(self, payment, error)
    }
}

/// An agent's payment counter: its [`PaymentGate`], its [`PaymentChannels`] backend and the
/// offers it sent in each thread. Give it to
/// [`Router::payment_gate`](super::Router::payment_gate); cheap to clone, and clones share
/// everything, so several routers of one agent (one per tenant, say) share one ledger.
#[derive(Clone)]
pub struct PaymentDesk {
    inner: Arc<Desk>,
}

struct Desk {
    gate: Box<dyn ErasedGate>,
    channels: Box<dyn PaymentChannels>,
    offers: Mutex<HashMap<String, VecDeque<Offer>>>,
}

impl fmt::Debug for PaymentDesk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentDesk").finish_non_exhaustive()
    }
}

impl PaymentDesk {
    /// A desk admitting payments through `gate`, asking `channels` who a channel pays.
    pub fn new<R, L, C>(gate: PaymentGate<R, L, C>, channels: impl PaymentChannels) -> Self
    where
        R: KeyResolver + 'static,
        L: Ledger + 'static,
        C: Clock + 'static,
    {
        Self {
            inner: Arc::new(Desk {
                gate: Box::new(gate),
                channels: Box::new(channels),
                offers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The offers this agent sent in thread `thread_id` in turns without a history (see the
    /// [module documentation](self)), oldest first, at most [`OFFERS_PER_THREAD`]. Empty for
    /// threads served by the server: there the thread itself is read.
    pub fn offers(&self, thread_id: &str) -> Vec<Offer> {
        self.with_offers(|m| {
            m.get(thread_id)
                .map(|o| o.iter().cloned().collect())
                .unwrap_or_default()
        })
    }

    fn with_offers<T>(&self, f: impl FnOnce(&mut HashMap<String, VecDeque<Offer>>) -> T) -> T {
        // Each update is one push or pop under the lock: a poisoned lock is still consistent.
        f(&mut self.inner.offers.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Remembers the quotes and wrapped quotes among `replies`, sent in `thread_id`.
    pub(super) fn record(&self, thread_id: &str, replies: &[Reply]) {
        let sent: Vec<Offer> = replies.iter().filter_map(offer_of).collect();
        if sent.is_empty() {
            return;
        }
        self.with_offers(|m| {
            let offers = m.entry(thread_id.to_owned()).or_default();
            for offer in sent {
                // The same quote sent again (a reminder) is one offer.
                if offers.contains(&offer) {
                    continue;
                }
                if offers.len() == OFFERS_PER_THREAD {
                    offers.pop_front();
                }
                offers.push_back(offer);
            }
        });
    }

    /// Runs `payment` through the gate and, when admitted, `handler` (given the context with
    /// the [`Admitted`] facts); see the [module documentation](self).
    pub(super) async fn take<F, Fut>(
        &self,
        cx: ThreadCtx,
        payment: Payment,
        handler: F,
    ) -> Vec<Reply>
    where
        F: FnOnce(ThreadCtx) -> Fut,
        Fut: Future<Output = Vec<Reply>>,
    {
        let gate = &*self.inner.gate;
        let offers = match cx.history() {
            Some(history) => match find_offer(history, &payment.quote_id).await {
                Ok(found) => found.into_iter().collect(),
                Err(e) => return vec![unreadable(&cx, &e)],
            },
            None => self.offers(cx.thread_id()),
        };
        // Asked only once the other checks passed (see `PaymentGate::admit_with`).
        let recipient = self.inner.channels.recipient(&payment);
        let admission = gate.admit(&offers, recipient, &payment).await;
        let ticket = match admission {
            Ok(Admission::Fresh(ticket)) => *ticket,
            Ok(Admission::Repeat(confirmation)) => return vec![confirmed(confirmation)],
            Err(error) => return vec![refusal(gate, &cx, &payment, &error)],
        };
        let admitted = Admitted {
            payment: ticket.payment.clone(),
            offer: ticket.offer.clone(),
            option_index: ticket.option_index,
            chain: ticket.chain.clone(),
        };
        let mut replies = handler(cx.with_admitted(admitted)).await;
        let found = replies.iter().enumerate().find_map(|(i, r)| match r {
            Reply::Message(m) => match m.message::<PaymentConfirmation>() {
                Ok(Some(c)) => Some((i, c)),
                _ => None,
            },
            Reply::Text(_) => None,
        });
        match found {
            Some((i, confirmation)) => {
                replies[i] = match gate.confirm(ticket, confirmation).await {
                    Ok(signed) => confirmed(signed),
                    Err(e) => Reply::error(
                        ErrorReport::new(
                            ErrorCode::HandlerError,
                            format!("the payment was handled but could not be confirmed: {e}"),
                        )
                        .key(Payment::KEY)
                        .message_id(cx.message().id.clone()),
                    ),
                };
            }
            None => {
                if let Err(e) = gate.abandon(ticket).await {
                    replies.push(Reply::error(
                        ErrorReport::new(
                            ErrorCode::HandlerError,
                            format!("the quote could not be released: {e}"),
                        )
                        .key(Payment::KEY)
                        .message_id(cx.message().id.clone()),
                    ));
                }
            }
        }
        replies
    }
}

fn confirmed(confirmation: PaymentConfirmation) -> Reply {
    Reply::Message(Envelope::from(confirmation))
}

/// The reply to a refused payment: the gate's signed refusal, or (when it cannot be signed)
/// an error report saying the same.
fn refusal(gate: &dyn ErasedGate, cx: &ThreadCtx, payment: &Payment, error: &GateError) -> Reply {
    match gate.refuse(payment, error) {
        Ok(refusal) => confirmed(refusal),
        Err(sign_error) => Reply::error(
            ErrorReport::new(
                ErrorCode::HandlerError,
                format!(
                    "payment refused ({}): {error}; the refusal could not be signed: {sign_error}",
                    error.check()
                ),
            )
            .key(Payment::KEY)
            .message_id(cx.message().id.clone()),
        ),
    }
}

/// The newest offer with `quote_id` that the agent wrote among the thread's newest
/// [`OFFER_SCAN_DEPTH`] messages (see the [module documentation](self)).
pub async fn find_offer(
    history: &dyn ThreadHistory,
    quote_id: &str,
) -> Result<Option<Offer>, HistoryError> {
    let mut scanned = 0;
    let mut before: Option<String> = None;
    while scanned < OFFER_SCAN_DEPTH {
        let limit = SCAN_PAGE.min(OFFER_SCAN_DEPTH - scanned);
        let page = history.older(before.as_deref(), limit).await?;
        let Some(last) = page.messages.last() else {
            break;
        };
        before = Some(last.id.clone());
        scanned += page.messages.len();
        for message in page.messages.iter().filter(|m| by_agent(m)) {
            // The last of a message's parts is its newest.
            let found = message
                .capabilities()
                .filter_map(|part| offer_in(part).filter(|o| o.quote().quote_id == quote_id))
                .last();
            if found.is_some() {
                return Ok(found);
            }
        }
        if !page.has_more {
            break;
        }
    }
    Ok(None)
}

/// Whether the agent wrote `message`: an assistant message stored by a run.
fn by_agent(message: &Message) -> bool {
    message.role == Role::Assistant && message.run_id.is_some()
}

/// The offer in a capability message of the thread, if it is one.
fn offer_in(part: Result<Envelope, ParseError>) -> Option<Offer> {
    let m = part.ok()?;
    if let Ok(Some(q)) = m.message::<Quote>() {
        return Some(Offer::Quote(q));
    }
    match m.message::<WrappedQuote>() {
        Ok(Some(w)) => Some(Offer::Wrapped(w)),
        _ => None,
    }
}

/// The reply when the thread could not be read: neither taken nor refused.
fn unreadable(cx: &ThreadCtx, error: &HistoryError) -> Reply {
    Reply::error(
        ErrorReport::new(
            ErrorCode::HandlerError,
            format!("the payment could not be checked, send it again: {error}"),
        )
        .key(Payment::KEY)
        .message_id(cx.message().id.clone()),
    )
}

/// The offer a reply sends, if it sends one.
fn offer_of(reply: &Reply) -> Option<Offer> {
    let Reply::Message(m) = reply else {
        return None;
    };
    if let Ok(Some(q)) = m.message::<Quote>() {
        return Some(Offer::Quote(q));
    }
    match m.message::<WrappedQuote>() {
        Ok(Some(w)) => Some(Offer::Wrapped(w)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::{
        agent::{MessagesHistory, Router, State},
        capability::{
            payments::{PaymentMethodUsed, PaymentOption},
            transactions::PaymentOutcome,
        },
        sign::{ConfiguredKeys, SecretKey, sign},
        thread::{Content, Message, Role, Thread},
    };

    fn shop_key() -> SecretKey {
        SecretKey::from_seed(&[1; 32])
    }

    fn payer_key() -> SecretKey {
        SecretKey::from_seed(&[2; 32])
    }

    fn desk() -> PaymentDesk {
        let keys = ConfiguredKeys::new()
            .allow("shop.near", shop_key().public_key())
            .allow("payer.near", payer_key().public_key());
        PaymentDesk::new(
            PaymentGate::new(shop_key(), keys),
            KnownChannels::new().channel("ch_1", "shop.near"),
        )
    }

    fn quote(id: &str) -> Quote {
        let q = Quote::builder(id, "shop.near", "A mug")
            .expires_after(std::time::Duration::from_secs(600))
            .option(PaymentOption::near_payment_channel(
                "12.50".parse().unwrap(),
                "USD",
                "usdc.near",
                "shop.near",
            ))
            .build_unsigned();
        sign(&shop_key(), q).unwrap()
    }

    fn payment(q: &Quote) -> Payment {
        let option = &q.payment_options[0];
        let used = PaymentMethodUsed::for_option(option, &option.payment_methods[0], "ch_1");
        sign(&payer_key(), Payment::new(q, "payer.near", used)).unwrap()
    }

    /// Quotes on any text (the text is the quote id); the payment handler fails while
    /// `fail` is set, and counts its calls.
    fn agent(desk: PaymentDesk, calls: Arc<AtomicU64>, fail: bool) -> Router<Arc<AtomicU64>> {
        Router::with_state(calls)
            .on_text(|id: String| async move { quote(&id) })
            .handler(
                move |State(calls): State<Arc<AtomicU64>>,
                      admitted: Option<Admitted>,
                      p: Payment| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(admitted.expect("admitted").option_index, 0);
                    if fail {
                        return Err("the channel is closed");
                    }
                    Ok(PaymentConfirmation::for_payment(
                        &p,
                        "pay_1",
                        PaymentOutcome::Success,
                    ))
                },
            )
            .payment_gate(desk)
    }

    /// A user's message in `thread` carrying `p`.
    fn payment_message(thread: &Thread, p: Payment) -> Message {
        Message::new(
            &thread.id,
            Role::User,
            vec![Content::aitp(&Envelope::from(p))],
        )
    }

    async fn say(router: &Router<Arc<AtomicU64>>, thread: &Thread, content: Content) -> Vec<Reply> {
        let m = Message::new(&thread.id, Role::User, vec![content]);
        router.dispatch_one(thread.clone(), m).await
    }

    fn confirmation(replies: &[Reply]) -> Option<PaymentConfirmation> {
        replies.iter().find_map(|r| match r {
            Reply::Message(m) => m.message::<PaymentConfirmation>().ok().flatten(),
            Reply::Text(_) => None,
        })
    }

    #[tokio::test]
    async fn a_failed_handler_releases_the_quote_and_offers_stay_in_their_thread() {
        let desk = desk();
        let calls = Arc::new(AtomicU64::new(0));
        let failing = agent(desk.clone(), calls.clone(), true);
        let working = agent(desk.clone(), calls.clone(), false);
        let thread = Thread::new();

        say(&failing, &thread, Content::text("q_1")).await;
        assert_eq!(desk.offers(&thread.id).len(), 1);
        // The same quote sent again is one offer.
        say(&failing, &thread, Content::text("q_1")).await;
        assert_eq!(desk.offers(&thread.id).len(), 1);
        let q = desk.offers(&thread.id)[0].quote().clone();
        let p = payment(&q);

        // The handler fails: its error is the reply, no confirmation, the quote is open again.
        let replies = say(&failing, &thread, Content::aitp(&Envelope::from(p.clone()))).await;
        assert!(confirmation(&replies).is_none(), "{replies:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // So the same payment can be taken by a handler that works (a router sharing the desk).
        let replies = say(&working, &thread, Content::aitp(&Envelope::from(p.clone()))).await;
        let c = confirmation(&replies).expect("a confirmation");
        assert_eq!(c.result, PaymentOutcome::Success);
        crate::sign::verify(&shop_key().public_key(), &c).expect("signed by the gate");
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // Another thread was never offered the quote.
        let other = Thread::new();
        let replies = say(&working, &other, Content::aitp(&Envelope::from(p))).await;
        let refusal = confirmation(&replies).expect("a refusal");
        assert_eq!(refusal.result, PaymentOutcome::Failure);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_router_without_the_gate_gives_no_admission() {
        let router = Router::new().handler(|admitted: Option<Admitted>, _: Payment| async move {
            format!("admitted: {}", admitted.is_some())
        });
        let thread = Thread::new();
        let m = payment_message(&thread, payment(&quote("q_1")));
        let replies = router.dispatch_one(thread, m).await;
        assert_eq!(replies, [Reply::Text("admitted: false".into())]);
    }

    #[tokio::test]
    async fn payments_no_handler_takes_are_left_to_the_unsupported_policy() {
        let router = Router::new().payment_gate(desk());
        let thread = Thread::new();
        let m = payment_message(&thread, payment(&quote("q_1")));
        let replies = router.dispatch_one(thread, m).await;
        // Not refused by the gate (no confirmation): reported as unsupported, as without it.
        assert!(confirmation(&replies).is_none(), "{replies:?}");
        let report = replies.iter().find_map(|r| match r {
            Reply::Message(m) => m.message::<ErrorReport>().ok().flatten(),
            Reply::Text(_) => None,
        });
        assert_eq!(
            report.map(|r| r.code),
            Some(ErrorCode::UnsupportedCapability)
        );
    }

    #[test]
    fn a_thread_remembers_a_bounded_number_of_offers() {
        let desk = desk();
        let replies: Vec<Reply> = (0..OFFERS_PER_THREAD + 5)
            .map(|i| Reply::Message(Envelope::from(quote(&format!("q_{i}")))))
            .collect();
        desk.record("t_1", &replies);
        let offers = desk.offers("t_1");
        assert_eq!(offers.len(), OFFERS_PER_THREAD);
        assert_eq!(
            offers[0].quote().quote_id,
            "q_5",
            "the oldest are forgotten"
        );
        assert!(desk.offers("t_2").is_empty());
    }

    fn said(role: Role, run: Option<&str>, content: Content) -> Message {
        let mut m = Message::new("t_1", role, vec![content]);
        m.run_id = run.map(str::to_owned);
        m
    }

    #[tokio::test]
    async fn offers_are_found_in_the_agents_own_recent_messages() {
        let q1 = quote("q_1");
        let mut q1_again = q1.clone();
        q1_again.description = "A mug, again".into();
        let q1_again = sign(&shop_key(), q1_again).unwrap();
        let planted = quote("q_2");
        let old = quote("q_3");
        let aitp = |q: &Quote| Content::aitp(&Envelope::from(q.clone()));
        let mut messages = vec![said(Role::Assistant, Some("run_0"), aitp(&old))];
        messages.extend(
            (0..OFFER_SCAN_DEPTH).map(|i| said(Role::User, None, Content::text(i.to_string()))),
        );
        messages.extend([
            said(Role::Assistant, Some("run_1"), aitp(&q1)),
            // Posted by a client as "assistant": not the agent's.
            said(Role::Assistant, None, aitp(&planted)),
            said(Role::User, Some("run_1"), aitp(&planted)),
            said(Role::Assistant, Some("run_2"), aitp(&q1_again)),
            said(Role::User, None, Content::text("paying")),
        ]);
        let history = MessagesHistory(messages);
        let found = find_offer(&history, "q_1").await.unwrap().expect("q_1");
        assert_eq!(found, Offer::Quote(q1_again), "the newest offer counts");
        assert_eq!(find_offer(&history, "q_2").await.unwrap(), None);
        // Beyond the bound.
        assert_eq!(find_offer(&history, "q_3").await.unwrap(), None);
        let short = MessagesHistory(history.0[OFFER_SCAN_DEPTH - 3..].to_vec());
        assert!(find_offer(&short, "q_1").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn with_a_history_the_desk_needs_no_record() {
        // A desk that never saw the quote sent (another replica, a restart) finds it in the
        // thread's history and takes the payment once.
        let calls = Arc::new(AtomicU64::new(0));
        let router = agent(desk(), calls.clone(), false);
        let thread = Thread::new();
        let q = quote("q_1");
        let mut sent = Message::new(&thread.id, Role::Assistant, vec![]);
        sent.content = vec![Content::aitp(&Envelope::from(q.clone()))];
        sent.run_id = Some("run_1".into());
        let history: Arc<dyn ThreadHistory> = Arc::new(MessagesHistory(vec![sent]));
        let pay = |p: &Payment| {
            let m = Message::new(
                &thread.id,
                Role::User,
                vec![Content::aitp(&Envelope::from(p.clone()))],
            );
            crate::agent::Turn::new(
                thread.clone(),
                vec![m],
                crate::thread::Principal::anonymous(),
            )
            .history(history.clone())
        };
        let p = payment(&q);
        let first = confirmation(&router.dispatch(pay(&p)).await).expect("confirmed");
        assert_eq!(first.result, PaymentOutcome::Success);
        let again = confirmation(&router.dispatch(pay(&p)).await).expect("confirmed");
        assert_eq!(again, first);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let missing = payment(&quote("q_9"));
        let refusal = confirmation(&router.dispatch(pay(&missing)).await).expect("refused");
        assert_eq!(refusal.result, PaymentOutcome::Failure);
        assert!(refusal.message.unwrap_or_default().contains("not found"));
    }
}

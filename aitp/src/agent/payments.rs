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
//! **Which offers are "in the thread".** The router records each `quote` and
//! `wrapped_quote` it sends, per thread, in the desk: an agent can only be paid for offers it
//! made in that very thread, and finding them costs no read of the thread. The record lives
//! in memory, like [`MemoryLedger`](crate::sign::MemoryLedger): after a restart, or on
//! another replica, earlier quotes are not found and their payments are refused
//! (`quote_not_found`), never accepted unchecked; the payer asks for a fresh quote.

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    future::Future,
    sync::{Arc, Mutex},
};

use super::{BoxFuture, FromTurn, Reply, ThreadCtx};
use crate::{
    capability::{
        CapabilityMessage, Envelope,
        errors::{ErrorCode, ErrorReport},
        payments::{Payment, PaymentConfirmation, Quote, WrappedQuote},
    },
    sign::{
        Admission, Clock, GateError, KeyResolver, Ledger, Offer, PaymentGate, SignError, Ticket,
        VerifiedChain,
    },
};

/// How many offers per thread a desk remembers; older ones are forgotten (and no longer
/// payable), so one thread cannot grow the record without bound.
pub const OFFERS_PER_THREAD: usize = 64;

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

    /// The offers this agent sent in thread `thread_id`, oldest first (at most
    /// [`OFFERS_PER_THREAD`]).
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
        let offers = self.offers(cx.thread_id());
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
        agent::{Router, State},
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
        let p = payment(&quote("q_1"));
        let m = Message::new(
            &thread.id,
            Role::User,
            vec![Content::aitp(&Envelope::from(p))],
        );
        let replies = router.dispatch_one(thread, m).await;
        assert_eq!(replies, [Reply::Text("admitted: false".into())]);
    }

    #[tokio::test]
    async fn payments_no_handler_takes_are_left_to_the_unsupported_policy() {
        let router = Router::new().payment_gate(desk());
        let thread = Thread::new();
        let p = payment(&quote("q_1"));
        let m = Message::new(
            &thread.id,
            Role::User,
            vec![Content::aitp(&Envelope::from(p))],
        );
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
}

//! Payments behind a [`PaymentGate`]: the runtime runs every check before a payment handler
//! sees a `payment`, answers replays itself, and signs what the handler confirms.
//!
//! Opt in once with [`Router::payment_gate`](super::Router::payment_gate) and a
//! [`PaymentDesk`]. From then on, for every AITP-01 `payment` in a turn the router:
//!
//! 1. asks the [`PaymentChannels`] backend who the payment's channel pays (unknown channel:
//!    refused with check `payment_channel`);
//! 2. hands the payment, the offers this agent sent **in this thread** and that recipient to
//!    [`PaymentGate::admit`], which checks, in order: the quote is among the thread's offers
//!    (`quote_not_found`), the payer's signature under a key the resolver allows for
//!    `payer_id` (`payer_signature`), whether this quote was paid already (the same payment:
//!    its first confirmation is sent again and the handler is not called; another payment:
//!    `already_paid`; the same payment still being processed: `in_progress`), every
//!    signature of the quote and its wrappers (`quote_signature`), expiry by the gate's clock
//!    (`quote_expired`), and the match of payment and quote (`quote_id_mismatch`,
//!    `currency_mismatch`, `method_mismatch`, `amount_missing`, `amount_mismatch`,
//!    `recipient_mismatch`);
//! 3. on a refusal, answers in the thread with [`PaymentGate::refuse`]'s signed
//!    `payment_confirmation` (result `failure`, or `pending` for `in_progress`) naming the
//!    check in its `Check` detail, and does not call the handler;
//! 4. otherwise calls the payment handler, which can take the verified facts as an
//!    [`Admitted`] extractor instead of checking again;
//! 5. signs the first `payment_confirmation` among the handler's replies with the gate
//!    ([`PaymentGate::confirm`]) and records it, so a replay gets exactly it back. A handler
//!    that returns no confirmation (an error, say) releases the quote
//!    ([`PaymentGate::abandon`]): the payer may pay it again.
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
        recipient: &'a str,
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
        recipient: &'a str,
        payment: &'a Payment,
    ) -> BoxFuture<'a, Result<Admission, GateError>> {
        Box::pin(PaymentGate::admit(self, offers, recipient, payment))
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
        let admission = match self.inner.channels.recipient(&payment).await {
            Err(why) => Err(GateError::Channel(why)),
            Ok(recipient) => {
                let offers = self.offers(cx.thread_id());
                gate.admit(&offers, &recipient, &payment).await
            }
        };
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

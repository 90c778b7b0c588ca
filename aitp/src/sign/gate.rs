//! `PaymentGate`: every check a payment must pass before its handler runs, each quote paid
//! once, confirmations signed.

use std::{collections::HashMap, future::Future, sync::Mutex, time::Duration};

use sha2::{Digest, Sha256};

use super::{
    Clock, DEFAULT_SKEW, ExpiryError, KeyResolver, MatchError, Offer, Party, SecretKey, SignError,
    SystemClock, VerifiedChain, VerifyError, check_expiry, match_payment, sign, verify_chain,
    verify_signed,
};
use crate::capability::{
    payments::{Payment, PaymentConfirmation},
    transactions::{PaymentDetail, PaymentOutcome},
};

/// The SHA-256 of a payment's canonical JSON *with* its signature: two payments are the same
/// payment exactly when their fingerprints are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of `payment`; `None` when it has no canonical form.
    pub fn of(payment: &Payment) -> Option<Self> {
        let value = serde_json::to_value(payment).ok()?;
        let text = super::canonical_json(&value).ok()?;
        Some(Self(Sha256::digest(text.as_bytes()).into()))
    }
}

/// What a [`Ledger`] knows about a quote.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LedgerEntry {
    /// Nobody has paid it.
    Open,
    /// The payment `fingerprint` is being processed.
    InProgress(Fingerprint),
    /// The payment `fingerprint` was confirmed with this (signed) confirmation.
    Confirmed(Fingerprint, PaymentConfirmation),
}

/// A ledger failed (its storage did); nothing was decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ledger: {0}")]
pub struct LedgerError(pub String);

/// Where a [`PaymentGate`] remembers which quotes are paid, so each is paid once.
///
/// Storage-agnostic. [`MemoryLedger`] forgets at a restart: for tests and demos. A served
/// agent uses the ledger of its store, which the stores implement (`SqliteStore`: table
/// `payments` in its file; `PgStore`: `aitp_payments`, shared by every replica), so "paid
/// once" holds across restarts and replicas: `gate.with_ledger(store.clone())`. Or your
/// database. `claim` must be atomic (an insert that fails when the quote is taken), since
/// two payments for one quote can arrive at once, on one process or on several;
/// `store::testing::ledger_contract` (feature `testing`) checks a ledger of yours.
pub trait Ledger: Send + Sync {
    /// What is known about `quote_id`.
    fn entry(
        &self,
        quote_id: &str,
    ) -> impl Future<Output = Result<LedgerEntry, LedgerError>> + Send;

    /// Atomically takes `quote_id` for the payment `fingerprint` if it is
    /// [`LedgerEntry::Open`], and returns what was there before (so `Open` means claimed).
    fn claim(
        &self,
        quote_id: &str,
        fingerprint: Fingerprint,
    ) -> impl Future<Output = Result<LedgerEntry, LedgerError>> + Send;

    /// Records the confirmation of the claimed payment `fingerprint`.
    fn confirm(
        &self,
        quote_id: &str,
        fingerprint: Fingerprint,
        confirmation: &PaymentConfirmation,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Gives up the claim of `fingerprint` (the payment failed): the quote is open again.
    fn release(
        &self,
        quote_id: &str,
        fingerprint: Fingerprint,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
}

/// A [`Ledger`] in memory: for tests (it forgets on restart, so a quote paid before a
/// restart could be paid again after it; a served agent uses its store's ledger).
#[derive(Debug, Default)]
pub struct MemoryLedger(Mutex<HashMap<String, LedgerEntry>>);

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, LedgerEntry>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Ledger for MemoryLedger {
    async fn entry(&self, quote_id: &str) -> Result<LedgerEntry, LedgerError> {
        Ok(self.with(|m| m.get(quote_id).cloned().unwrap_or(LedgerEntry::Open)))
    }

    async fn claim(
        &self,
        quote_id: &str,
        fingerprint: Fingerprint,
    ) -> Result<LedgerEntry, LedgerError> {
        Ok(self.with(|m| match m.get(quote_id) {
            Some(existing) => existing.clone(),
            None => {
                m.insert(quote_id.into(), LedgerEntry::InProgress(fingerprint));
                LedgerEntry::Open
            }
        }))
    }

    async fn confirm(
        &self,
        quote_id: &str,
        fingerprint: Fingerprint,
        confirmation: &PaymentConfirmation,
    ) -> Result<(), LedgerError> {
        self.with(|m| match m.get(quote_id) {
            Some(LedgerEntry::InProgress(f)) if *f == fingerprint => {
                m.insert(
                    quote_id.into(),
                    LedgerEntry::Confirmed(fingerprint, confirmation.clone()),
                );
                Ok(())
            }
            _ => Err(LedgerError(format!(
                "{quote_id} is not claimed by this payment"
            ))),
        })
    }

    async fn release(&self, quote_id: &str, fingerprint: Fingerprint) -> Result<(), LedgerError> {
        self.with(|m| {
            if matches!(m.get(quote_id), Some(LedgerEntry::InProgress(f)) if *f == fingerprint) {
                m.remove(quote_id);
            }
        });
        Ok(())
    }
}

/// Why a [`PaymentGate`] refused a payment. Each check has its own variant, to tell the
/// payer exactly what failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// No quote with the payment's `quote_id` was offered.
    #[error("quote `{0}` not found")]
    QuoteNotFound(String),
    /// The payer's signature on the payment does not check out.
    #[error("payment signature: {0}")]
    Payer(VerifyError),
    /// A signature of the quote or of a wrapper does not check out.
    #[error("quote signatures: {0}")]
    Quote(VerifyError),
    /// The payment's channel could not be looked up (unknown to the channel backend, or the
    /// backend failed), so who it pays is unknown.
    #[error("payment channel: {0}")]
    Channel(String),
    /// The quote has expired.
    #[error(transparent)]
    Expired(#[from] ExpiryError),
    /// The payment does not pay the quote.
    #[error(transparent)]
    Mismatch(#[from] MatchError),
    /// The quote is already paid, by another payment.
    #[error("quote `{0}` is already paid by another payment")]
    AlreadyPaid(String),
    /// This very payment is being processed right now.
    #[error("a payment of quote `{0}` is being processed")]
    InProgress(String),
    /// The payment has no canonical form (so it cannot be fingerprinted or verified).
    #[error("the payment has no canonical form")]
    Canonical,
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The confirmation could not be signed.
    #[error(transparent)]
    Sign(#[from] SignError),
}

impl GateError {
    /// The check that failed, as a stable code for machines (the `Check` detail of the
    /// refusal a [`PaymentGate::refuse`] writes): `quote_not_found`, `payer_signature`,
    /// `quote_signature`, `payment_channel`, `quote_expired`, `quote_id_mismatch`,
    /// `currency_mismatch`, `method_mismatch`, `amount_missing`, `amount_mismatch`,
    /// `recipient_mismatch`, `already_paid`, `in_progress`, `not_canonical`, `ledger`,
    /// `signing`.
    pub fn check(&self) -> &'static str {
        match self {
            Self::QuoteNotFound(_) => "quote_not_found",
            Self::Payer(_) => "payer_signature",
            Self::Quote(_) => "quote_signature",
            Self::Channel(_) => "payment_channel",
            Self::Expired(_) => "quote_expired",
            Self::Mismatch(m) => match m {
                MatchError::QuoteId { .. } => "quote_id_mismatch",
                MatchError::Currency { .. } => "currency_mismatch",
                MatchError::Method { .. } => "method_mismatch",
                MatchError::AmountMissing { .. } => "amount_missing",
                MatchError::Amount { .. } => "amount_mismatch",
                MatchError::Recipient { .. } => "recipient_mismatch",
            },
            Self::AlreadyPaid(_) => "already_paid",
            Self::InProgress(_) => "in_progress",
            Self::Canonical => "not_canonical",
            Self::Ledger(_) => "ledger",
            Self::Sign(_) => "signing",
        }
    }
}

/// What [`PaymentGate::admit`] decided about a payment that passed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Admission {
    /// A new payment: charge it, then hand the ticket to [`PaymentGate::confirm`] (or
    /// [`PaymentGate::abandon`] it).
    Fresh(Box<Ticket>),
    /// This exact payment was confirmed before: answer with the same confirmation, and do
    /// not charge again.
    Repeat(PaymentConfirmation),
}

/// A payment that passed every check and holds its quote in the ledger. Finish it with
/// [`PaymentGate::confirm`] or [`PaymentGate::abandon`]; a ticket dropped otherwise leaves
/// the quote [`LedgerEntry::InProgress`].
#[derive(Debug)]
#[must_use = "confirm or abandon the ticket, or the quote stays in progress"]
#[non_exhaustive]
pub struct Ticket {
    /// The payment.
    pub payment: Payment,
    /// The offer it pays.
    pub offer: Offer,
    /// The index of the payment option chosen.
    pub option_index: usize,
    /// The keys that verified the offer.
    pub chain: VerifiedChain,
    fingerprint: Fingerprint,
}

/// The checks a merchant runs on a `payment` before its handler charges anything, and the
/// bookkeeping that makes it idempotent.
///
/// [`PaymentGate::admit`] passes a payment only when: its quote is among the offers; the
/// payer's signature verifies under a key the resolver allows for `payer_id`; every signature
/// of the quote and its wrappers verifies under the keys allowed for the merchant and each
/// affiliate; the quote has not expired (by the gate's clock, with its skew); the payment
/// matches the quote exactly; and the quote is not already paid. The same payment again gets
/// [`Admission::Repeat`] with the confirmation already given; a different payment of a paid
/// quote gets [`GateError::AlreadyPaid`]. [`PaymentGate::confirm`] signs the confirmation
/// with the merchant's key and records it.
#[derive(Debug)]
pub struct PaymentGate<R, L = MemoryLedger, C = SystemClock> {
    merchant_key: SecretKey,
    resolver: R,
    ledger: L,
    clock: C,
    skew: Duration,
}

impl<R: KeyResolver> PaymentGate<R> {
    /// A gate signing confirmations with `merchant_key`, trusting the keys of `resolver`,
    /// with a [`MemoryLedger`], the system clock and [`DEFAULT_SKEW`].
    pub fn new(merchant_key: SecretKey, resolver: R) -> Self {
        Self {
            merchant_key,
            resolver,
            ledger: MemoryLedger::new(),
            clock: SystemClock,
            skew: DEFAULT_SKEW,
        }
    }
}

impl<R: KeyResolver, L: Ledger, C: Clock> PaymentGate<R, L, C> {
    /// Uses `ledger` to remember payments.
    pub fn with_ledger<L2: Ledger>(self, ledger: L2) -> PaymentGate<R, L2, C> {
        PaymentGate {
            merchant_key: self.merchant_key,
            resolver: self.resolver,
            ledger,
            clock: self.clock,
            skew: self.skew,
        }
    }

    /// Uses `clock` for expiry.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> PaymentGate<R, L, C2> {
        PaymentGate {
            merchant_key: self.merchant_key,
            resolver: self.resolver,
            ledger: self.ledger,
            clock,
            skew: self.skew,
        }
    }

    /// Honours quotes up to `skew` past their expiration.
    pub fn with_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// The ledger.
    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    /// Runs every check on `payment` (see [`PaymentGate`]). `offers` are the quotes and
    /// wrapped quotes found in the thread (the last one with the payment's `quote_id`
    /// counts); `channel_recipient` is the account the payment's channel pays, as your
    /// channel backend reports it (see [`match_payment`]).
    pub async fn admit<'o>(
        &self,
        offers: impl IntoIterator<Item = &'o Offer>,
        channel_recipient: &str,
        payment: &Payment,
    ) -> Result<Admission, GateError> {
        let recipient = std::future::ready(Ok(channel_recipient.to_owned()));
        self.admit_with(offers, recipient, payment).await
    }

    /// [`PaymentGate::admit`], asking who the payment's channel pays only when it matters:
    /// `channel_recipient` is awaited after the payer's signature, the ledger, the quote's
    /// signatures and its expiry passed, so a forged payment costs no lookup, and a replay
    /// gets its confirmation back even once the channel is closed. Its error (the channel
    /// is unknown, the backend failed) is [`GateError::Channel`].
    pub async fn admit_with<'o>(
        &self,
        offers: impl IntoIterator<Item = &'o Offer>,
        channel_recipient: impl Future<Output = Result<String, String>>,
        payment: &Payment,
    ) -> Result<Admission, GateError> {
        let offer = offers
            .into_iter()
            .filter(|o| o.quote().quote_id == payment.quote_id)
            .last()
            .ok_or_else(|| GateError::QuoteNotFound(payment.quote_id.clone()))?;
        let payer = Party::Payer(payment.payer_id.clone());
        verify_signed(&self.resolver, &payer, payment)
            .await
            .map_err(GateError::Payer)?;
        let fingerprint = Fingerprint::of(payment).ok_or(GateError::Canonical)?;
        let quote_id = &payment.quote_id;
        if let Some(done) =
            self.settled(quote_id, fingerprint, self.ledger.entry(quote_id).await?)?
        {
            return Ok(done);
        }
        let chain = verify_chain(&self.resolver, None, offer)
            .await
            .map_err(GateError::Quote)?;
        check_expiry(self.clock.now(), self.skew, offer.quote())?;
        let recipient = channel_recipient.await.map_err(GateError::Channel)?;
        let option_index = match_payment(offer.quote(), &recipient, payment)?.option_index;
        let before = self.ledger.claim(quote_id, fingerprint).await?;
        if let Some(done) = self.settled(quote_id, fingerprint, before)? {
            return Ok(done);
        }
        Ok(Admission::Fresh(Box::new(Ticket {
            payment: payment.clone(),
            offer: offer.clone(),
            option_index,
            chain,
            fingerprint,
        })))
    }

    /// `None` when the quote is open; the answer when the ledger already decided it.
    fn settled(
        &self,
        quote_id: &str,
        fingerprint: Fingerprint,
        entry: LedgerEntry,
    ) -> Result<Option<Admission>, GateError> {
        match entry {
            LedgerEntry::Open => Ok(None),
            LedgerEntry::Confirmed(f, confirmation) if f == fingerprint => {
                Ok(Some(Admission::Repeat(confirmation)))
            }
            LedgerEntry::InProgress(f) if f == fingerprint => {
                Err(GateError::InProgress(quote_id.into()))
            }
            LedgerEntry::Confirmed(..) | LedgerEntry::InProgress(_) => {
                Err(GateError::AlreadyPaid(quote_id.into()))
            }
        }
    }

    /// Signs `confirmation` (which must answer the ticket's payment) with the merchant's
    /// key and records it, so the same payment again gets it back. A `failure` result
    /// releases the quote instead, so that the payer can pay it again.
    pub async fn confirm(
        &self,
        ticket: Ticket,
        confirmation: PaymentConfirmation,
    ) -> Result<PaymentConfirmation, GateError> {
        let quote_id = &ticket.payment.quote_id;
        let mut confirmation = confirmation;
        confirmation.quote_id = quote_id.clone();
        let signed = match sign(&self.merchant_key, confirmation) {
            Ok(signed) => signed,
            Err(e) => {
                // Not confirmed, so not paid: the payer may try again.
                self.ledger.release(quote_id, ticket.fingerprint).await?;
                return Err(e.into());
            }
        };
        if signed.result == PaymentOutcome::Failure {
            self.ledger.release(quote_id, ticket.fingerprint).await?;
        } else {
            self.ledger
                .confirm(quote_id, ticket.fingerprint, &signed)
                .await?;
        }
        Ok(signed)
    }

    /// The answer to a payment [`PaymentGate::admit`] refused: a `payment_confirmation` of
    /// result `failure` (`pending` for [`GateError::InProgress`]: the same payment is being
    /// processed, so its real answer is still to come), whose `message` is the error and
    /// whose details name the failed check ([`GateError::check`]) and the reason, signed
    /// with the merchant's key so the payer can tell it from a forgery. Its `payment_id` is
    /// `refused_` and the start of the payment's [`Fingerprint`]: no payment was taken.
    ///
    /// AITP-01 defines no error message; *(reading)* a failed confirmation is how the
    /// capability itself says that a payment did not go through, so every AITP-01 payer
    /// understands it.
    pub fn refuse(
        &self,
        payment: &Payment,
        error: &GateError,
    ) -> Result<PaymentConfirmation, SignError> {
        let outcome = match error {
            GateError::InProgress(_) => PaymentOutcome::Pending,
            _ => PaymentOutcome::Failure,
        };
        let id = Fingerprint::of(payment).map_or_else(
            || "refused".to_owned(),
            |f| {
                let hex: String = f.0[..8].iter().map(|b| format!("{b:02x}")).collect();
                format!("refused_{hex}")
            },
        );
        let refusal = PaymentConfirmation::for_payment(payment, id, outcome)
            .message(format!("payment refused: {error}"))
            .detail(PaymentDetail::new("Check", error.check()))
            .detail(PaymentDetail::new("Reason", error.to_string()));
        sign(&self.merchant_key, refusal)
    }

    /// Gives the ticket's quote up without a confirmation (the charge could not be
    /// attempted): the quote is open again.
    pub async fn abandon(&self, ticket: Ticket) -> Result<(), GateError> {
        Ok(self
            .ledger
            .release(&ticket.payment.quote_id, ticket.fingerprint)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::{
        ConfiguredKeys, FixedClock,
        tests::{chain, key, payment, quote, resolver},
    };

    fn gate() -> PaymentGate<ConfiguredKeys, MemoryLedger, FixedClock> {
        PaymentGate::new(key(1), resolver())
            .with_clock(FixedClock::new("2029-06-01T01:00:00Z".parse().unwrap()))
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn fresh(a: Admission) -> Ticket {
        match a {
            Admission::Fresh(t) => *t,
            Admission::Repeat(c) => panic!("expected a fresh payment, got a repeat: {c:?}"),
        }
    }

    #[test]
    fn a_payment_is_taken_once_and_confirmed_the_same_way_again() {
        block_on(async {
            let gate = gate();
            let offers = [Offer::from(chain())];
            let p = payment(offers[0].quote());
            let ticket = fresh(gate.admit(&offers, "shop.near", &p).await.unwrap());
            assert_eq!(ticket.option_index, 0);
            assert_eq!(ticket.chain.wrapper_keys.len(), 3);
            let draft = PaymentConfirmation::for_payment(&p, "pay_1", PaymentOutcome::Success);
            let confirmation = gate.confirm(ticket, draft).await.unwrap();
            // Signed by the merchant, verifiable by the buyer.
            crate::sign::verify(&key(1).public_key(), &confirmation).unwrap();

            // The same payment again: the same confirmation, no second charge.
            match gate.admit(&offers, "shop.near", &p).await.unwrap() {
                Admission::Repeat(again) => assert_eq!(again, confirmation),
                Admission::Fresh(_) => panic!("a replayed payment was admitted again"),
            }
            // A replay is answered even when the channel can no longer be looked up.
            let closed = std::future::ready(Err("channel closed".to_owned()));
            match gate.admit_with(&offers, closed, &p).await.unwrap() {
                Admission::Repeat(again) => assert_eq!(again, confirmation),
                Admission::Fresh(_) => panic!("a replayed payment was admitted again"),
            }
            // A different payment of the paid quote: refused.
            let mut other = p.clone();
            other.timestamp = "2029-06-01T01:00:05Z".into();
            let other = crate::sign::sign(&key(5), other).unwrap();
            assert_eq!(
                gate.admit(&offers, "shop.near", &other).await.unwrap_err(),
                GateError::AlreadyPaid("q_1".into())
            );
        });
    }

    #[test]
    fn each_failed_check_is_its_own_error() {
        block_on(async {
            let gate = gate();
            let q = quote();
            let offers = [Offer::from(q.clone())];
            let p = payment(&q);

            assert_eq!(
                gate.admit(&[], "shop.near", &p).await.unwrap_err(),
                GateError::QuoteNotFound("q_1".into())
            );
            let mut unsigned = p.clone();
            unsigned.payer_signature = Some("unsigned".into());
            assert!(matches!(
                gate.admit(&offers, "shop.near", &unsigned)
                    .await
                    .unwrap_err(),
                GateError::Payer(VerifyError::Malformed { .. })
            ));
            let mut stranger = p.clone();
            stranger.payer_id = "stranger.near".into();
            let stranger = crate::sign::sign(&key(9), stranger).unwrap();
            assert!(matches!(
                gate.admit(&offers, "shop.near", &stranger)
                    .await
                    .unwrap_err(),
                GateError::Payer(VerifyError::UnknownSigner { .. })
            ));
            let by_shop_key = crate::sign::sign(&key(1), p.clone()).unwrap();
            assert!(matches!(
                gate.admit(&offers, "shop.near", &by_shop_key)
                    .await
                    .unwrap_err(),
                GateError::Payer(VerifyError::KeyNotAllowed { .. })
            ));
            let mut cheaper = q.clone();
            cheaper.payment_options[0].amount = Some("1".parse().unwrap());
            assert!(matches!(
                gate.admit(&[Offer::from(cheaper)], "shop.near", &p)
                    .await
                    .unwrap_err(),
                GateError::Quote(VerifyError::BadSignature { .. })
            ));
            let mut underpaid = p.clone();
            underpaid.payment_method.amount = Some("12".parse().unwrap());
            let underpaid = crate::sign::sign(&key(5), underpaid).unwrap();
            assert!(matches!(
                gate.admit(&offers, "shop.near", &underpaid)
                    .await
                    .unwrap_err(),
                GateError::Mismatch(MatchError::Amount { .. })
            ));
            assert!(matches!(
                gate.admit(&offers, "thief.near", &p).await.unwrap_err(),
                GateError::Mismatch(MatchError::Recipient { .. })
            ));
            let unknown = std::future::ready(Err("no such channel".to_owned()));
            assert_eq!(
                gate.admit_with(&offers, unknown, &p).await.unwrap_err(),
                GateError::Channel("no such channel".into())
            );
            let late = gate.with_clock(FixedClock::new("2030-01-01T00:01:01Z".parse().unwrap()));
            assert!(matches!(
                late.admit(&offers, "shop.near", &p).await.unwrap_err(),
                GateError::Expired(ExpiryError::Expired { .. })
            ));
        });
    }

    #[test]
    fn a_failed_charge_opens_the_quote_again_and_concurrent_payments_wait() {
        block_on(async {
            let gate = gate();
            let offers = [Offer::from(quote())];
            let p = payment(offers[0].quote());
            let ticket = fresh(gate.admit(&offers, "shop.near", &p).await.unwrap());
            assert_eq!(
                gate.admit(&offers, "shop.near", &p).await.unwrap_err(),
                GateError::InProgress("q_1".into())
            );
            let failed = PaymentConfirmation::for_payment(&p, "pay_1", PaymentOutcome::Failure);
            gate.confirm(ticket, failed).await.unwrap();
            let ticket = fresh(gate.admit(&offers, "shop.near", &p).await.unwrap());
            gate.abandon(ticket).await.unwrap();
            assert_eq!(gate.ledger().entry("q_1").await.unwrap(), LedgerEntry::Open);
        });
    }
}

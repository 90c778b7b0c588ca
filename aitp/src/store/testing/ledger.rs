//! The [`Ledger`] contract: what every ledger must do for a [`PaymentGate`] to take each
//! quote once, written once and run on `MemoryLedger`, `SqliteStore` and `PgStore` (and on
//! a ledger of yours).
//!
//! [`PaymentGate`]: crate::sign::PaymentGate

use std::sync::Arc;

use crate::{
    capability::payments::PaymentConfirmation,
    sign::{Fingerprint, Ledger, LedgerEntry},
};

fn confirmation(quote_id: &str, payment_id: &str) -> PaymentConfirmation {
    serde_json::from_value(serde_json::json!({
        "quote_id": quote_id,
        "payment_id": payment_id,
        "result": "success",
        "timestamp": "2029-06-01T01:00:00Z",
        "details": [{"label": "Order", "value": "ord_1"}],
        "merchant_signature": "ed25519:c2lnbmVk",
        "x_note": {"kept": 1.50}
    }))
    .expect("a payment confirmation")
}

/// Runs the whole ledger contract on `ledger` (fresh, or at least without the quote ids
/// `ledger_q_*`), on a multi-threaded tokio runtime so that the claims race for real:
///
/// - an unknown quote is [`LedgerEntry::Open`];
/// - two tasks claiming one quote at once (many times over): exactly one gets `Open` (it
///   claimed it), the other sees the winner's claim, and the entry is the winner's;
/// - a confirmation is accepted only from the payment holding the claim, is stored as
///   given (unknown fields and exact numbers included), and then every claim answers it;
/// - releasing a claim opens the quote again, but only the holder's release counts, and a
///   confirmed quote is never released.
pub async fn ledger_contract<L: Ledger + 'static>(ledger: Arc<L>) {
    let a = Fingerprint([0xaa; 32]);
    let b = Fingerprint([0xbb; 32]);
    assert_eq!(
        ledger.entry("ledger_q_unknown").await.unwrap(),
        LedgerEntry::Open
    );

    for round in 0..16 {
        let quote_id = format!("ledger_q_race_{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let claim = |f: Fingerprint| {
            let (ledger, barrier, quote_id) = (ledger.clone(), barrier.clone(), quote_id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                ledger.claim(&quote_id, f).await.unwrap()
            })
        };
        let (first, second) = (claim(a), claim(b));
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        let winner = match (&first, &second) {
            (LedgerEntry::Open, LedgerEntry::InProgress(f)) if *f == a => a,
            (LedgerEntry::InProgress(f), LedgerEntry::Open) if *f == b => b,
            _ => panic!("{quote_id}: not exactly one winner: {first:?}, {second:?}"),
        };
        assert_eq!(
            ledger.entry(&quote_id).await.unwrap(),
            LedgerEntry::InProgress(winner)
        );
    }

    // Confirm: only by the holder of the claim.
    let q = "ledger_q_confirm";
    assert_eq!(ledger.claim(q, a).await.unwrap(), LedgerEntry::Open);
    assert_eq!(
        ledger.claim(q, a).await.unwrap(),
        LedgerEntry::InProgress(a),
        "claiming again does not take it twice"
    );
    let paid = confirmation(q, "pay_1");
    assert!(ledger.confirm(q, b, &paid).await.is_err());
    assert!(ledger.confirm("ledger_q_never", a, &paid).await.is_err());
    ledger.confirm(q, a, &paid).await.unwrap();
    let confirmed = LedgerEntry::Confirmed(a, paid.clone());
    assert_eq!(ledger.entry(q).await.unwrap(), confirmed);
    assert_eq!(ledger.claim(q, b).await.unwrap(), confirmed);
    assert_eq!(ledger.claim(q, a).await.unwrap(), confirmed);
    // A confirmed quote stays paid, whoever releases it, and is confirmed once.
    ledger.release(q, a).await.unwrap();
    ledger.release(q, b).await.unwrap();
    assert_eq!(ledger.entry(q).await.unwrap(), confirmed);
    assert!(
        ledger
            .confirm(q, a, &confirmation(q, "pay_2"))
            .await
            .is_err()
    );
    assert_eq!(ledger.entry(q).await.unwrap(), confirmed);

    // Release: only the holder's counts; then the quote is open to any payment.
    let q = "ledger_q_release";
    assert_eq!(ledger.claim(q, a).await.unwrap(), LedgerEntry::Open);
    ledger.release(q, b).await.unwrap();
    assert_eq!(ledger.entry(q).await.unwrap(), LedgerEntry::InProgress(a));
    ledger.release(q, a).await.unwrap();
    assert_eq!(ledger.entry(q).await.unwrap(), LedgerEntry::Open);
    assert!(
        ledger
            .confirm(q, a, &confirmation(q, "pay_3"))
            .await
            .is_err()
    );
    assert_eq!(ledger.claim(q, b).await.unwrap(), LedgerEntry::Open);
    assert_eq!(ledger.entry(q).await.unwrap(), LedgerEntry::InProgress(b));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::MemoryLedger;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_ledger_keeps_the_contract() {
        ledger_contract(Arc::new(MemoryLedger::new())).await;
    }
}

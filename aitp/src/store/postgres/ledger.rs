//! The payment ledger in PostgreSQL: [`Ledger`] for [`PgStore`], shared by every replica.

use deadpool_postgres::GenericClient;

use super::{PgStore, backend, to_json};
use crate::{
    capability::payments::PaymentConfirmation,
    sign::{Fingerprint, Ledger, LedgerEntry, LedgerError},
    store::{StoreError, StoreResult},
};

/// How often a claim retries when the quote's row vanished between its insert and its read
/// (its holder released it meanwhile); each retry follows a change by another payment.
const CLAIM_ATTEMPTS: usize = 8;

/// Paid quotes in the `aitp_payments` table, so "paid once" holds across restarts and
/// across the replicas sharing the database. A claim is one `INSERT … ON CONFLICT DO
/// NOTHING` on the quote id (the primary key): of two replicas claiming a quote at once,
/// PostgreSQL lets exactly one insert, and the other, after waiting for that insert to
/// commit, reads the claim it lost to. A confirmation and a release are conditional on the
/// claim's fingerprint. A quote is keyed by its id alone, whichever thread or principal
/// presents it.
impl Ledger for PgStore {
    async fn entry(&self, quote_id: &str) -> Result<LedgerEntry, LedgerError> {
        let client = self.client().await.map_err(failed)?;
        entry(&client, quote_id).await.map_err(failed)
    }

    async fn claim(
        &self,
        quote_id: &str,
        fingerprint: Fingerprint,
    ) -> Result<LedgerEntry, LedgerError> {
        let client = self.client().await.map_err(failed)?;
        let fingerprint_bytes = &fingerprint.0[..];
        for _ in 0..CLAIM_ATTEMPTS {
            let inserted = PgStore::execute(
                &client,
                "INSERT INTO aitp_payments (quote_id, fingerprint) VALUES ($1, $2)
                 ON CONFLICT (quote_id) DO NOTHING",
                &[&quote_id, &fingerprint_bytes],
            )
            .await
            .map_err(failed)?;
            if inserted == 1 {
                return Ok(LedgerEntry::Open);
            }
            match entry(&client, quote_id).await.map_err(failed)? {
                // Released after our insert met it: try to take it again.
                LedgerEntry::Open => continue,
                held => return Ok(held),
            }
        }
        Err(LedgerError(format!(
            "{quote_id}: the claim kept changing hands; try again"
        )))
    }

    async fn confirm(
        &self,
        quote_id: &str,
        fingerprint: Fingerprint,
        confirmation: &PaymentConfirmation,
    ) -> Result<(), LedgerError> {
        let json = to_json(confirmation).map_err(failed)?;
        let client = self.client().await.map_err(failed)?;
        let updated = PgStore::execute(
            &client,
            "UPDATE aitp_payments SET confirmation = $3, confirmed_at = now()
             WHERE quote_id = $1 AND fingerprint = $2 AND confirmation IS NULL",
            &[&quote_id, &&fingerprint.0[..], &json],
        )
        .await
        .map_err(failed)?;
        if updated == 1 {
            Ok(())
        } else {
            Err(LedgerError(format!(
                "{quote_id} is not claimed by this payment"
            )))
        }
    }

    async fn release(&self, quote_id: &str, fingerprint: Fingerprint) -> Result<(), LedgerError> {
        let client = self.client().await.map_err(failed)?;
        PgStore::execute(
            &client,
            "DELETE FROM aitp_payments
             WHERE quote_id = $1 AND fingerprint = $2 AND confirmation IS NULL",
            &[&quote_id, &&fingerprint.0[..]],
        )
        .await
        .map(drop)
        .map_err(failed)
    }
}

async fn entry(client: &impl GenericClient, quote_id: &str) -> StoreResult<LedgerEntry> {
    let stmt = client
        .prepare_cached("SELECT fingerprint, confirmation FROM aitp_payments WHERE quote_id = $1")
        .await
        .map_err(backend)?;
    let Some(row) = client
        .query_opt(&stmt, &[&quote_id])
        .await
        .map_err(backend)?
    else {
        return Ok(LedgerEntry::Open);
    };
    let fingerprint: Vec<u8> = row.try_get(0).map_err(backend)?;
    let fingerprint = <[u8; 32]>::try_from(fingerprint.as_slice())
        .map(Fingerprint)
        .map_err(|_| backend(format!("aitp_payments: a bad fingerprint for {quote_id}")))?;
    let confirmation: Option<String> = row.try_get(1).map_err(backend)?;
    Ok(match confirmation {
        Some(json) => {
            LedgerEntry::Confirmed(fingerprint, serde_json::from_str(&json).map_err(backend)?)
        }
        None => LedgerEntry::InProgress(fingerprint),
    })
}

fn failed(e: StoreError) -> LedgerError {
    LedgerError(e.to_string())
}

//! The payment ledger in the store's file: [`Ledger`] for [`SqliteStore`].

use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, backend, json_col, to_json, writer::Undo};
use crate::{
    capability::payments::PaymentConfirmation,
    sign::{Fingerprint, Ledger, LedgerEntry, LedgerError},
    store::{StoreError, StoreResult},
    thread::unix_now,
};

/// Paid quotes in the `payments` table of the store's file, so "paid once" survives a
/// restart. Every change goes through the store's writer (one at a time, in a transaction
/// that takes SQLite's write lock), so a claim is atomic: a conditional insert. A quote is
/// keyed by its id alone, whichever thread or principal presents it.
impl Ledger for SqliteStore {
    async fn entry(&self, quote_id: &str) -> Result<LedgerEntry, LedgerError> {
        let quote_id = quote_id.to_owned();
        self.read(move |conn| entry(conn, &quote_id))
            .await
            .map_err(failed)
    }

    async fn claim(
        &self,
        quote_id: &str,
        fingerprint: Fingerprint,
    ) -> Result<LedgerEntry, LedgerError> {
        let quote_id = quote_id.to_owned();
        self.write(Undo::Statement, move |conn, _| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO payments (quote_id, fingerprint, claimed_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (quote_id) DO NOTHING",
                )
                .and_then(|mut s| s.execute(params![quote_id, &fingerprint.0[..], unix_now()]))
                .map_err(backend)?;
            if inserted == 1 {
                return Ok(LedgerEntry::Open);
            }
            entry(conn, &quote_id)
        })
        .await
        .map_err(failed)
    }

    async fn confirm(
        &self,
        quote_id: &str,
        fingerprint: Fingerprint,
        confirmation: &PaymentConfirmation,
    ) -> Result<(), LedgerError> {
        let quote_id = quote_id.to_owned();
        let json = to_json(confirmation).map_err(failed)?;
        let updated = self
            .write(Undo::Statement, move |conn, _| {
                conn.prepare_cached(
                    "UPDATE payments SET confirmation = ?3, confirmed_at = ?4
                     WHERE quote_id = ?1 AND fingerprint = ?2 AND confirmation IS NULL",
                )
                .and_then(|mut s| {
                    s.execute(params![quote_id, &fingerprint.0[..], json, unix_now()])
                })
                .map_err(backend)
            })
            .await
            .map_err(failed)?;
        if updated == 1 {
            Ok(())
        } else {
            Err(LedgerError(
                "the quote is not claimed by this payment".into(),
            ))
        }
    }

    async fn release(&self, quote_id: &str, fingerprint: Fingerprint) -> Result<(), LedgerError> {
        let quote_id = quote_id.to_owned();
        self.write(Undo::Statement, move |conn, _| {
            conn.prepare_cached(
                "DELETE FROM payments
                 WHERE quote_id = ?1 AND fingerprint = ?2 AND confirmation IS NULL",
            )
            .and_then(|mut s| s.execute(params![quote_id, &fingerprint.0[..]]))
            .map_err(backend)
        })
        .await
        .map(drop)
        .map_err(failed)
    }
}

fn entry(conn: &Connection, quote_id: &str) -> StoreResult<LedgerEntry> {
    let row = conn
        .prepare_cached("SELECT fingerprint, confirmation FROM payments WHERE quote_id = ?1")
        .and_then(|mut s| {
            s.query_row([quote_id], |r| {
                let fingerprint: Vec<u8> = r.get(0)?;
                let confirmation: Option<PaymentConfirmation> =
                    match r.get_ref(1)?.as_str_or_null()? {
                        Some(_) => Some(json_col(r, 1)?),
                        None => None,
                    };
                Ok((fingerprint, confirmation))
            })
            .optional()
        })
        .map_err(backend)?;
    let Some((fingerprint, confirmation)) = row else {
        return Ok(LedgerEntry::Open);
    };
    let fingerprint = <[u8; 32]>::try_from(fingerprint.as_slice())
        .map(Fingerprint)
        .map_err(|_| backend(format!("payments: a bad fingerprint for {quote_id}")))?;
    Ok(match confirmation {
        Some(c) => LedgerEntry::Confirmed(fingerprint, c),
        None => LedgerEntry::InProgress(fingerprint),
    })
}

fn failed(e: StoreError) -> LedgerError {
    LedgerError(e.to_string())
}

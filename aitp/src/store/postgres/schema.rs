//! The PostgreSQL schema and its versioned migrations.
//!
//! Each thread, message and run is kept as its JSON text (`text`, not `jsonb`: `jsonb`
//! reorders keys and drops duplicates, and fields this crate does not know must come back as
//! they came), next to the few columns queries need. Messages and runs carry a `seq` from an
//! identity column, their exact insertion order within a thread (appends to a thread hold its
//! row lock, so a later append always has a larger `seq`); the thread row keeps the agent's
//! cursor as the `seq` of the last message a run answered. Tables are prefixed `aitp_` so the
//! store can share a database with an application.
//!
//! Migrations run at connect, in one transaction under an advisory lock, so replicas starting
//! together apply each one once; a database migrated by a newer version of this crate is
//! refused rather than misread.

use deadpool_postgres::Client;

use super::backend;
use crate::store::{StoreError, StoreResult};

/// The advisory lock key migrations hold (any fixed number: "aitp" in ASCII).
const LOCK: i64 = 0x6169_7470;

/// Migration `n` is `MIGRATIONS[n - 1]`. Append only: a released migration never changes.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: threads, messages, runs.
    "CREATE TABLE aitp_threads (
        id text PRIMARY KEY,
        owner text NOT NULL,
        json text NOT NULL,
        answered_seq bigint NOT NULL DEFAULT 0
    );
    -- Keyed by (thread, seq) and by nothing that leads with `seq` alone: a page is then
    -- always a range of the thread's own rows, never a walk of the whole table in `seq`
    -- order that filters out other threads (which PostgreSQL would pick for a thread
    -- holding most rows, and which costs the whole table for the others).
    CREATE TABLE aitp_messages (
        thread_id text NOT NULL REFERENCES aitp_threads (id) ON DELETE CASCADE,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        id text NOT NULL,
        run_id text,
        json text NOT NULL,
        CONSTRAINT aitp_messages_thread PRIMARY KEY (thread_id, seq)
    );
    -- Lookups and cursors by id; pages of a run's messages.
    CREATE UNIQUE INDEX aitp_messages_id ON aitp_messages (thread_id, id);
    CREATE INDEX aitp_messages_run ON aitp_messages (thread_id, run_id, seq)
        WHERE run_id IS NOT NULL;
    CREATE TABLE aitp_runs (
        thread_id text NOT NULL REFERENCES aitp_threads (id) ON DELETE CASCADE,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        id text NOT NULL,
        status text NOT NULL,
        json text NOT NULL,
        CONSTRAINT aitp_runs_thread PRIMARY KEY (thread_id, seq)
    );
    CREATE UNIQUE INDEX aitp_runs_id ON aitp_runs (thread_id, id);
    -- The one-active-run check, and the runs left by a crash.
    CREATE INDEX aitp_runs_active ON aitp_runs (thread_id)
        WHERE status NOT IN ('cancelled', 'failed', 'completed', 'incomplete', 'expired');",
    // 2: run leases, for replicas sharing the database (`store::lease`). `lease_owner` is the
    // replica that last claimed the run (kept after the run ends: who finished it), and
    // `lease_expires` when its claim lapses unless renewed (NULL: not leased, or released at
    // the end). `created` lets a run that was never leased (its replica died between creating
    // and starting it) be taken over too. Runs are taken over from the `aitp_runs_active`
    // partial index: only unfinished runs are ever looked at.
    "ALTER TABLE aitp_runs
        ADD COLUMN lease_owner text,
        ADD COLUMN lease_expires timestamptz,
        ADD COLUMN created timestamptz NOT NULL DEFAULT now();",
    // 3: the payment ledger (`sign::Ledger`), shared by every replica: one row per quote
    // someone pays, keyed by the quote id alone (a quote is paid once wherever, and on
    // whichever replica, it is presented). `fingerprint` is the SHA-256 of the payment
    // holding it; `confirmation` its signed confirmation's JSON text, NULL while in
    // progress. Not tied to a thread: deleting a thread forgets no payment.
    "CREATE TABLE aitp_payments (
        quote_id text PRIMARY KEY,
        fingerprint bytea NOT NULL CHECK (length(fingerprint) = 32),
        confirmation text,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        confirmed_at timestamptz
    );",
];

/// The schema version this crate writes.
pub(super) fn latest() -> i32 {
    i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX)
}

/// Brings the database's schema up to [`latest`]; refuses a newer one.
pub(super) async fn migrate(client: &mut Client) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
        .await
        .map_err(backend)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS aitp_schema_migrations (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await
    .map_err(backend)?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM aitp_schema_migrations",
            &[],
        )
        .await
        .map_err(backend)?
        .get(0);
    if current > latest() {
        return Err(StoreError::Backend(Box::new(NewerSchema {
            found: current,
            known: latest(),
        })));
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(current).unwrap_or(0))
    {
        tx.batch_execute(sql).await.map_err(backend)?;
        tx.execute(
            "INSERT INTO aitp_schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}

/// The database was migrated by a newer version of this crate.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database's schema is at version {found}, newer than this version of aitp knows \
     ({known}); upgrade aitp"
)]
pub(super) struct NewerSchema {
    pub(super) found: i32,
    pub(super) known: i32,
}

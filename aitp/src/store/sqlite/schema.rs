//! The schema and its migrations, versioned by `PRAGMA user_version`.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::backend;
use crate::store::StoreResult;

/// The schema, one migration per version: `PRAGMA user_version` counts those applied.
///
/// Never edit a released entry; append a new one. The terminal statuses in `runs_active` must
/// be those of [`RunStatus::is_terminal`](crate::thread::RunStatus::is_terminal) (the SQL of
/// `active_runs!`); if that set changes, a new migration recreates the index.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: threads, messages, runs. Objects are kept as their JSON; the other columns are what
    // queries need. `seq` is the exact insertion order; `cursor` the `seq` of the last message
    // a run answered.
    "CREATE TABLE threads (
        id     TEXT PRIMARY KEY NOT NULL,
        owner  TEXT NOT NULL,
        json   TEXT NOT NULL,
        cursor INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE messages (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        id        TEXT NOT NULL UNIQUE,
        thread_id TEXT NOT NULL,
        run_id    TEXT,
        json      TEXT NOT NULL
    );
    CREATE INDEX messages_thread ON messages (thread_id, seq);
    CREATE INDEX messages_run ON messages (run_id, seq) WHERE run_id IS NOT NULL;
    CREATE TABLE runs (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        id        TEXT NOT NULL UNIQUE,
        thread_id TEXT NOT NULL,
        status    TEXT NOT NULL,
        json      TEXT NOT NULL
    );
    CREATE INDEX runs_thread ON runs (thread_id, seq);
    CREATE INDEX runs_active ON runs (thread_id)
        WHERE status NOT IN ('cancelled', 'failed', 'completed', 'incomplete', 'expired');",
    // 2: messages and runs are indexed by thread in bulk (see `thread_index`), not by an index
    // every insert writes. `indexed` keeps, per table, the `seq` up to which rows are indexed.
    "CREATE TABLE thread_messages (
        thread_id TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        PRIMARY KEY (thread_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE thread_runs (
        thread_id TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        PRIMARY KEY (thread_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE indexed (
        name TEXT PRIMARY KEY NOT NULL,
        seq  INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO thread_messages (thread_id, seq) SELECT thread_id, seq FROM messages;
    INSERT INTO thread_runs (thread_id, seq) SELECT thread_id, seq FROM runs;
    INSERT INTO indexed (name, seq) VALUES
        ('messages', (SELECT coalesce(max(seq), 0) FROM messages)),
        ('runs', (SELECT coalesce(max(seq), 0) FROM runs));
    DROP INDEX messages_thread;
    DROP INDEX runs_thread;",
    // 3: the payment ledger (`sign::Ledger`): one row per quote someone pays, keyed by the
    // quote id alone (a quote is paid once wherever it is presented). `fingerprint` is the
    // SHA-256 of the payment holding it (32 bytes); `confirmation` its signed confirmation's JSON,
    // NULL while in progress. Times are Unix seconds, for operators.
    "CREATE TABLE payments (
        quote_id     TEXT PRIMARY KEY NOT NULL,
        fingerprint  BLOB NOT NULL,
        confirmation TEXT,
        claimed_at   INTEGER NOT NULL,
        confirmed_at INTEGER
    ) WITHOUT ROWID;",
];

/// The database was written by a newer version of this crate: refused rather than misread.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: schema version {found} is newer than this version of aitp supports ({known}); \
     upgrade aitp or use another file"
)]
pub(super) struct NewerSchema {
    pub(super) path: String,
    pub(super) found: i64,
    pub(super) known: usize,
}

fn display(path: Option<&Path>) -> String {
    path.map_or_else(|| ":memory:".into(), |p| p.display().to_string())
}

/// The schema version of the database; an error if it is newer than [`MIGRATIONS`].
pub(super) fn check_version(conn: &Connection, path: Option<&Path>) -> StoreResult<usize> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    match usize::try_from(found) {
        Ok(v) if v <= MIGRATIONS.len() => Ok(v),
        _ => Err(backend(NewerSchema {
            path: display(path),
            found,
            known: MIGRATIONS.len(),
        })),
    }
}

/// Applies the missing migrations in one transaction. Another process may be opening the same
/// file: the version is read again under the write lock.
pub(super) fn migrate(conn: &mut Connection, path: Option<&Path>) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let version = check_version(&tx, path)?;
    if version == MIGRATIONS.len() {
        return Ok(());
    }
    for sql in &MIGRATIONS[version..] {
        tx.execute_batch(sql).map_err(backend)?;
    }
    let known = i64::try_from(MIGRATIONS.len()).map_err(backend)?;
    tx.pragma_update(None, "user_version", known)
        .map_err(backend)?;
    tx.commit().map_err(backend)
}

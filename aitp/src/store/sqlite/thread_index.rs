//! Finding a thread's messages and runs without an index that every insert writes to.
//!
//! An index on `(thread_id, seq)` keeps each thread's newest entries on a page of its own, so
//! every commit rewrote one index page per thread it touched, and a server with many busy
//! threads spent most of its log writes on them (two thirds of the pages, measured under load).
//! Here each row is only appended to its table, in `seq` order, so commits write the end of
//! the table. The writer indexes new rows by thread in bulk a few times a second
//! ([`index_new_rows`], into `thread_messages` and `thread_runs`), writing each thread's index
//! page once per pass instead of once per commit. The `indexed` table keeps, per table, the
//! `seq` up to which rows are indexed, updated in the same transaction. Rows after it are the
//! last fraction of a second of inserts: queries find them by scanning the end of the table.

use std::time::Duration;

use rusqlite::{Connection, params};
use serde::de::DeserializeOwned;

use super::{backend, json_rows};
use crate::store::{Order, StoreResult};

/// How often, at most, the writer indexes new rows (while it has writes to commit).
pub(super) const INTERVAL: Duration = Duration::from_millis(200);

/// The two tables listed by thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Messages,
    Runs,
}

/// Indexes the rows added since the last pass, inside the writer's transaction.
pub(super) fn index_new_rows(conn: &Connection) -> rusqlite::Result<()> {
    for sql in [
        "INSERT OR IGNORE INTO thread_messages (thread_id, seq)
         SELECT thread_id, seq FROM messages
         WHERE seq > (SELECT seq FROM indexed WHERE name = 'messages')
         ORDER BY thread_id, seq",
        "UPDATE indexed SET seq = max(seq, (SELECT coalesce(max(seq), 0) FROM messages))
         WHERE name = 'messages'",
        "INSERT OR IGNORE INTO thread_runs (thread_id, seq)
         SELECT thread_id, seq FROM runs
         WHERE seq > (SELECT seq FROM indexed WHERE name = 'runs')
         ORDER BY thread_id, seq",
        "UPDATE indexed SET seq = max(seq, (SELECT coalesce(max(seq), 0) FROM runs))
         WHERE name = 'runs'",
    ] {
        conn.prepare_cached(sql)?.execute([])?;
    }
    Ok(())
}

/// The rows of one thread with `?2 < seq < ?3`, in order, at most `?4` (`-1`: all): those
/// indexed, through the index, and those after the `indexed` mark, from the end of the table.
/// Each part is ordered and limited by itself, so a long thread costs only what is returned.
macro_rules! thread_rows {
    ($table:literal, $index:literal, $dir:literal) => {
        concat!(
            "SELECT json FROM (",
            "SELECT seq, json FROM (SELECT t.seq AS seq, t.json AS json FROM ",
            $index,
            " i JOIN ",
            $table,
            " t ON t.seq = i.seq WHERE i.thread_id = ?1 AND i.seq > ?2 AND i.seq < ?3",
            " ORDER BY i.seq ",
            $dir,
            " LIMIT ?4)",
            " UNION ALL ",
            "SELECT seq, json FROM (SELECT seq, json FROM ",
            $table,
            " WHERE seq > max(?2, (SELECT seq FROM indexed WHERE name = '",
            $table,
            "')) AND seq < ?3 AND thread_id = ?1 ORDER BY seq ",
            $dir,
            " LIMIT ?4)",
            ") ORDER BY seq ",
            $dir,
            " LIMIT ?4"
        )
    };
}

/// The SQL of [`rows`].
pub(super) fn rows_sql(table: Table, order: Order) -> &'static str {
    match (table, order) {
        (Table::Messages, Order::Asc) => thread_rows!("messages", "thread_messages", "ASC"),
        (Table::Messages, Order::Desc) => thread_rows!("messages", "thread_messages", "DESC"),
        (Table::Runs, Order::Asc) => thread_rows!("runs", "thread_runs", "ASC"),
        (Table::Runs, Order::Desc) => thread_rows!("runs", "thread_runs", "DESC"),
    }
}

/// The rows of `table` in thread `thread_id` with `low < seq < high`, in `order`, parsed from
/// their JSON; at most `limit` (negative: all).
pub(super) fn rows<T: DeserializeOwned>(
    conn: &Connection,
    table: Table,
    thread_id: &str,
    (low, high): (i64, i64),
    order: Order,
    limit: i64,
) -> StoreResult<Vec<T>> {
    json_rows(
        conn,
        rows_sql(table, order),
        params![thread_id, low, high, limit],
    )
}

/// The SQL of [`unanswered`]: [`thread_rows!`] for messages in ascending order, skipping
/// replies in each part before it is limited.
pub(super) const UNANSWERED: &str = "SELECT json FROM (\
     SELECT seq, json FROM (SELECT t.seq AS seq, t.json AS json FROM thread_messages i \
       JOIN messages t ON t.seq = i.seq \
       WHERE i.thread_id = ?1 AND i.seq > ?2 AND t.run_id IS NULL ORDER BY i.seq ASC LIMIT ?3) \
     UNION ALL \
     SELECT seq, json FROM (SELECT seq, json FROM messages \
       WHERE seq > max(?2, (SELECT seq FROM indexed WHERE name = 'messages')) \
       AND thread_id = ?1 AND run_id IS NULL ORDER BY seq ASC LIMIT ?3)\
     ) ORDER BY seq ASC LIMIT ?3";

/// The oldest `limit` messages of thread `thread_id` after `seq` `cursor` that are not replies.
/// Replies are skipped in the query, not after it: a limit applied before they are dropped
/// could return nothing while user messages wait behind a run's replies.
pub(super) fn unanswered<T: DeserializeOwned>(
    conn: &Connection,
    thread_id: &str,
    cursor: i64,
    limit: usize,
) -> StoreResult<Vec<T>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    json_rows(conn, UNANSWERED, params![thread_id, cursor, limit])
}

/// Deletes the thread's messages and runs, indexed or not.
pub(super) fn delete_thread(conn: &Connection, thread_id: &str) -> StoreResult<()> {
    for sql in [
        "DELETE FROM messages WHERE seq IN (SELECT seq FROM thread_messages WHERE thread_id = ?1)",
        "DELETE FROM messages WHERE thread_id = ?1
           AND seq > (SELECT seq FROM indexed WHERE name = 'messages')",
        "DELETE FROM thread_messages WHERE thread_id = ?1",
        "DELETE FROM runs WHERE seq IN (SELECT seq FROM thread_runs WHERE thread_id = ?1)",
        "DELETE FROM runs WHERE thread_id = ?1
           AND seq > (SELECT seq FROM indexed WHERE name = 'runs')",
        "DELETE FROM thread_runs WHERE thread_id = ?1",
    ] {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([thread_id]))
            .map_err(backend)?;
    }
    Ok(())
}

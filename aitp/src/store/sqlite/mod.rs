//! `SqliteStore`: threads in one SQLite file, the durable embedded default store.
//!
//! Layout ([`schema`]): each thread, message and run is stored as its JSON (so fields this
//! crate does not know survive), next to the few columns queries need. Messages and runs carry
//! an autoincrement `seq`, their exact insertion order; the thread row keeps the agent's cursor
//! as the `seq` of the last message a run answered. Rows are found by thread through an index
//! kept in bulk ([`thread_index`]), so a commit writes the end of each table, not a page per
//! busy thread.
//!
//! Concurrency: one [`writer`] thread owns the write connection and commits queued operations
//! in groups (SQLite has one writer at a time anyway); a [`checkpoint`] thread copies the log
//! back into the file beside it; a few read-only connections read at the same time (WAL) on
//! tokio's blocking pool, so the runtime's workers never wait on SQLite. Threads (with their
//! newest messages) and runs are also kept in a bounded write-through [`cache`]: the server
//! reads the thread on every request, lists its newest messages every round, clients poll
//! runs, and all of it only changes through this store, so those reads need no query.

/// The condition "the run is not terminal", written exactly as in the `runs_active` partial
/// index so that SQLite uses the index.
macro_rules! active_runs {
    () => {
        "status NOT IN ('cancelled', 'failed', 'completed', 'incomplete', 'expired')"
    };
}

mod cache;
mod checkpoint;
#[cfg(feature = "signing")]
mod ledger;
mod schema;
#[cfg(test)]
mod tests;
mod thread_index;
mod writer;

use std::{
    error::Error as StdError,
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex as StdMutex, MutexGuard},
    time::Duration,
};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, params, types::Type};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::Semaphore;

use self::{
    cache::{Cache, Change, Stored},
    checkpoint::Checkpointer,
    thread_index::Table,
    writer::{Op, Undo, Writer},
};
use super::{
    ListQuery, Order, Page, StoreError, StoreResult, ThreadStore, Transition, Transitioned,
};
use crate::thread::{Message, Metadata, Principal, Run, RunError, Thread};

/// The default byte budget of the cache ([`SqliteOptions::cache_bytes`]).
const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// How SQLite flushes commits, trading write speed for safety against power loss.
///
/// Either way an acknowledged write survives the process being killed (even `SIGKILL`): the
/// commit is in the operating system's hands before the future resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// `synchronous=NORMAL` (the default): no flush to disk per commit. A power loss or an
    /// operating system crash may lose the last transactions; it never corrupts the database.
    #[default]
    Normal,
    /// `synchronous=FULL`: a flush on every commit, so acknowledged writes also survive a
    /// power loss. Each commit waits for the disk (writes arriving together share one).
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

/// How a [`SqliteStore`] is opened: durability, read connections, waits, caching.
///
/// ```no_run
/// use aitp::store::{SqliteStore, Synchronous};
/// # fn main() -> Result<(), aitp::store::StoreError> {
/// let store = SqliteStore::options()
///     .synchronous(Synchronous::Full)
///     .open("threads.db")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "options do nothing until `open`"]
pub struct SqliteOptions {
    synchronous: Synchronous,
    readers: usize,
    busy_timeout: Duration,
    cache: usize,
    cache_bytes: usize,
    recent: usize,
    checkpoint_pages: std::ffi::c_int,
    checkpoint_thread: bool,
    index_interval: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            cache: 2048,
            cache_bytes: DEFAULT_CACHE_BYTES,
            recent: 32,
            checkpoint_pages: checkpoint::START_PAGES,
            checkpoint_thread: true,
            index_interval: thread_index::INTERVAL,
        }
    }
}

impl SqliteOptions {
    /// The defaults: `synchronous=NORMAL`, 4 read connections, a 5 s busy timeout, a cache of
    /// 2048 recently used threads (with their 32 newest messages) and as many runs, within
    /// 64 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// How commits are flushed ([`Synchronous::Normal`] by default).
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// How many reads may run at once, each on its own read-only connection (at least 1).
    /// In-memory stores read on their single connection.
    pub fn readers(mut self, n: usize) -> Self {
        self.readers = n.max(1);
        self
    }

    /// How long a statement waits for a lock held by another connection (or process) before
    /// failing with "database is locked".
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How many threads, and as many runs, to keep in memory so that reading them (done on
    /// every request, and by every poll) costs no query; up to twice as many may be held. `0`
    /// disables the cache: do that if another process writes to the same file, since the
    /// cache only sees this store's writes.
    ///
    /// A cached thread also keeps its newest messages ([`SqliteOptions::recent_messages`],
    /// at most 16 KiB of their JSON), so the page a client lists after each run and the
    /// messages a run answers come from memory. Whatever the count, the cache stays within
    /// its byte budget ([`SqliteOptions::cache_bytes`]).
    pub fn cache(mut self, capacity: usize) -> Self {
        self.cache = capacity;
        self
    }

    /// The most memory the cache accounts for (64 MiB by default), half for threads (with
    /// their newest messages) and half for runs, so large runs (long `instructions`) or
    /// threads (large `tool_resources`) cannot make it hold gigabytes. An entry counts the
    /// size of its JSON plus a small allowance per entry; the parsed form in memory is of the
    /// same order. An entry larger than a quarter of the budget is not cached: reading it
    /// queries the database. `0` disables the cache.
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// How many of a cached thread's newest messages to keep in memory (32 by default; `0`
    /// keeps none). Listing pages that reach older messages, or asking for more than are
    /// kept, reads the database.
    pub fn recent_messages(mut self, n: usize) -> Self {
        self.recent = n;
        self
    }

    /// Indexes new rows by thread this often (zero: in every commit), so tests see rows
    /// indexed and not.
    #[cfg(test)]
    pub(crate) fn index_interval(mut self, interval: Duration) -> Self {
        self.index_interval = interval;
        self
    }

    /// Checkpoints after fewer pages, so tests see several.
    #[cfg(test)]
    pub(crate) fn checkpoint_pages(mut self, pages: std::ffi::c_int) -> Self {
        self.checkpoint_pages = pages;
        self
    }

    /// Without the checkpoint thread (as if it were never scheduled), so tests see the writer
    /// bound the log alone.
    #[cfg(test)]
    pub(crate) fn checkpoint_thread(mut self, on: bool) -> Self {
        self.checkpoint_thread = on;
        self
    }

    /// Opens (creating it if needed) the database file at `path` and brings its schema up to
    /// date. Fails if the file was written by a newer version of this crate.
    pub fn open(&self, path: impl AsRef<Path>) -> StoreResult<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(backend)?;
        self.finish_open(conn, Some(path))
    }

    /// A private in-memory database, lost when the store is dropped (for tests). Reads go
    /// through the single connection.
    pub fn open_in_memory(&self) -> StoreResult<SqliteStore> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        self.finish_open(conn, None)
    }

    fn finish_open(&self, mut conn: Connection, path: Option<PathBuf>) -> StoreResult<SqliteStore> {
        configure(&conn, self.busy_timeout)?;
        // Refuse a newer schema before changing anything in the file.
        schema::check_version(&conn, path.as_deref())?;
        // `wal` for files; in-memory databases answer `memory`.
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", self.synchronous.pragma())
            .map_err(backend)?;
        schema::migrate(&mut conn, path.as_deref())?;
        // Readers open the same file even if the working directory changes later.
        let readers = path.as_ref().map(|p| Readers {
            path: std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()),
            slots: Arc::new(Semaphore::new(self.readers)),
            idle: StdMutex::new(Vec::with_capacity(self.readers)),
            busy_timeout: self.busy_timeout,
        });
        // Files are checkpointed by a thread of their own (in-memory databases have no log).
        let checkpointer = match &readers {
            Some(readers) => {
                let checkpointer = Checkpointer::start(
                    &readers.path,
                    self.synchronous,
                    self.busy_timeout,
                    self.checkpoint_pages,
                    self.checkpoint_thread,
                )?;
                conn.wal_hook(Some(checkpointer.hook())).map_err(backend)?;
                Some(checkpointer)
            }
            None => None,
        };
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: Writer::start(conn, checkpointer, self.index_interval)?,
                readers,
                cache: Arc::new(StdMutex::new(Cache::new(
                    self.cache,
                    self.recent,
                    self.cache_bytes,
                ))),
                path,
            }),
        })
    }
}

/// A durable [`ThreadStore`] in one SQLite file: the embedded default of
/// [`aitp::serve`](crate::serve).
///
/// An acknowledged write survives the process being killed. With the default
/// [`Synchronous::Normal`], a power loss or an OS crash may lose the last transactions (the
/// file stays consistent); [`SqliteOptions::synchronous`] with [`Synchronous::Full`] trades
/// write speed for surviving that too. The schema is migrated at open; a file written by a
/// newer version is refused rather than misread.
///
/// One process should own a file: the store caches threads and runs, seeing only its own
/// writes (see [`SqliteOptions::cache`]). Cheap to clone (clones share everything); dropping
/// the last clone finishes queued writes and closes the file. Writes run on a thread of the
/// store's own, reads on tokio's blocking pool (inline outside a tokio runtime).
///
/// ```no_run
/// use aitp::store::SqliteStore;
/// # fn main() -> Result<(), aitp::store::StoreError> {
/// let store = SqliteStore::open("aitp.db")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// `None` in memory.
    path: Option<PathBuf>,
    writer: Writer,
    /// `None` in memory: reads go through the writer.
    readers: Option<Readers>,
    cache: Arc<StdMutex<Cache>>,
}

/// The read-only connections, opened on first need and kept for reuse.
struct Readers {
    path: PathBuf,
    /// One permit per connection: at most that many reads at once.
    slots: Arc<Semaphore>,
    idle: StdMutex<Vec<Connection>>,
    busy_timeout: Duration,
}

impl Readers {
    fn take(&self) -> StoreResult<Connection> {
        if let Some(conn) = lock(&self.idle).pop() {
            return Ok(conn);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(backend)?;
        configure(&conn, self.busy_timeout)?;
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        lock(&self.idle).push(conn);
    }
}

impl SqliteStore {
    /// Opens (creating it if needed) the database file at `path` with the default
    /// [`SqliteOptions`].
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        SqliteOptions::new().open(path)
    }

    /// Opens `./aitp.db`, the file [`aitp::serve`](crate::serve) uses.
    pub fn open_default() -> StoreResult<Self> {
        Self::open("aitp.db")
    }

    /// A private in-memory database, lost when the store is dropped (for tests).
    pub fn in_memory() -> StoreResult<Self> {
        SqliteOptions::new().open_in_memory()
    }

    /// Options to open a store with (durability, read connections, caching).
    pub fn options() -> SqliteOptions {
        SqliteOptions::new()
    }

    /// The database file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Runs `f` on the writer, in a group commit, undone as `undo` says if it fails;
    /// `changes` reach the cache once it is committed.
    async fn write<T, F>(&self, undo: Undo, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<Change>) -> StoreResult<T> + Send + 'static,
    {
        let (job, reply) = Op::job(undo, f, Arc::clone(&self.inner.cache));
        self.inner.writer.submit(job)?;
        reply
            .await
            .map_err(|_| backend("the SQLite writer thread stopped"))?
    }

    /// Runs `f` on a read connection (on the writer in memory).
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let Some(readers) = &self.inner.readers else {
            return self.write(Undo::Statement, move |conn, _| f(conn)).await;
        };
        let permit = Arc::clone(&readers.slots)
            .acquire_owned()
            .await
            .map_err(backend)?;
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let _permit = permit;
            let readers = inner
                .readers
                .as_ref()
                .ok_or_else(|| backend("the store has no read connections"))?;
            let conn = readers.take()?;
            let out = f(&conn);
            readers.put(conn);
            out
        })
        .await
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        lock(&self.inner.cache)
    }

    fn cached_thread(&self, id: &str) -> bool {
        self.cache().thread(id).is_some()
    }
}

/// Runs blocking SQLite work off the async workers (inline outside a tokio runtime).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(f).await.map_err(backend)?,
        Err(_) => f(),
    }
}

fn lock<T>(m: &StdMutex<T>) -> MutexGuard<'_, T> {
    // The guarded data (the cache, idle connections) is valid whatever a panicking holder did:
    // the cache is only changed after commits, entry by entry.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn backend(e: impl Into<Box<dyn StdError + Send + Sync>>) -> StoreError {
    StoreError::Backend(e.into())
}

/// Maps a failed insert: a duplicate id is a conflict, anything else a backend failure.
fn insert_error(e: rusqlite::Error, what: &str, id: &str) -> StoreError {
    if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) {
        StoreError::Conflict(format!("{what} {id} exists"))
    } else {
        backend(e)
    }
}

/// Runs a statement without parameters (transaction control), prepared once per connection.
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([]))
}

fn configure(conn: &Connection, busy_timeout: Duration) -> StoreResult<()> {
    conn.busy_timeout(busy_timeout).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn to_json(value: &impl Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(backend)
}

/// Column `i` of `row`, parsed from JSON (a bad row is an error, never a panic).
fn json_col<T: DeserializeOwned>(row: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let text = row.get_ref(i)?.as_str()?;
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
}

/// The length of column `i` of `row`, a JSON text: what caching it costs.
fn json_len(row: &Row<'_>, i: usize) -> rusqlite::Result<usize> {
    Ok(row.get_ref(i)?.as_bytes()?.len())
}

/// Every row of `sql`, its first column parsed from JSON.
fn json_rows<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let rows = stmt.query_map(params, first_json::<T>).map_err(backend)?;
    rows.collect::<Result<Vec<T>, _>>().map_err(backend)
}

/// The first column of `row`, parsed from JSON.
fn first_json<T: DeserializeOwned>(row: &Row<'_>) -> rusqlite::Result<T> {
    json_col(row, 0)
}

fn thread_exists(conn: &Connection, id: &str) -> StoreResult<bool> {
    conn.prepare_cached("SELECT 1 FROM threads WHERE id = ?1")
        .and_then(|mut s| s.exists([id]))
        .map_err(backend)
}

/// The id of a run of the thread that is not terminal, if any.
fn active_run(conn: &Connection, thread_id: &str) -> StoreResult<Option<String>> {
    conn.prepare_cached(concat!(
        "SELECT id FROM runs WHERE thread_id = ?1 AND ",
        active_runs!(),
        " LIMIT 1"
    ))
    .and_then(|mut s| s.query_row([thread_id], |r| r.get(0)).optional())
    .map_err(backend)
}

fn insert_messages(
    conn: &Connection,
    thread_id: &str,
    messages: Vec<Message>,
) -> StoreResult<Vec<Stored>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO messages (id, thread_id, run_id, json) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(backend)?;
    let mut stored = Vec::with_capacity(messages.len());
    for message in messages {
        let json = to_json(&message)?;
        stmt.execute(params![message.id, thread_id, message.run_id, json])
            .map_err(|e| insert_error(e, "message", &message.id))?;
        stored.push(Stored {
            seq: conn.last_insert_rowid(),
            bytes: json.len(),
            message,
        });
    }
    Ok(stored)
}

/// Stores a run's new state; the size of its JSON, `None` if the thread has no such run.
fn store_run(conn: &Connection, run: &Run) -> StoreResult<Option<usize>> {
    let json = to_json(run)?;
    let n = conn
        .prepare_cached("UPDATE runs SET status = ?3, json = ?4 WHERE id = ?1 AND thread_id = ?2")
        .and_then(|mut s| s.execute(params![run.id, run.thread_id, run.status.as_str(), json]))
        .map_err(backend)?;
    Ok((n > 0).then_some(json.len()))
}

/// A page of a run's messages: through the index of messages by run.
macro_rules! run_messages_sql {
    ($dir:literal) => {
        concat!(
            "SELECT json FROM messages",
            " WHERE run_id = ?5 AND thread_id = ?1 AND seq > ?2 AND seq < ?3",
            " ORDER BY seq ",
            $dir,
            " LIMIT ?4"
        )
    };
}

/// A page of `table` with [`ListQuery`]'s semantics, as `memory::page` has them: an `after` or
/// `before` id not among the listed items is ignored; `has_more` is exact (one more row is
/// fetched).
fn list<T: DeserializeOwned>(
    conn: &Connection,
    table: Table,
    thread_id: &str,
    query: &ListQuery,
) -> StoreResult<Page<T>> {
    // Only messages are filtered by run.
    let run_id = match table {
        Table::Messages => query.run_id.as_deref(),
        Table::Runs => None,
    };
    let seq_of = |id: &Option<String>| -> StoreResult<Option<i64>> {
        let Some(id) = id else { return Ok(None) };
        let sql = match (table, run_id.is_some()) {
            (Table::Messages, false) => "SELECT seq FROM messages WHERE thread_id = ?1 AND id = ?2",
            (Table::Messages, true) => {
                "SELECT seq FROM messages WHERE thread_id = ?1 AND id = ?2 AND run_id = ?3"
            }
            (Table::Runs, _) => "SELECT seq FROM runs WHERE thread_id = ?1 AND id = ?2",
        };
        let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
        let seq = match run_id {
            Some(run) => stmt.query_row(params![thread_id, id, run], |r| r.get(0)),
            None => stmt.query_row(params![thread_id, id], |r| r.get(0)),
        };
        seq.optional().map_err(backend)
    };
    let after = seq_of(&query.after)?;
    let before = seq_of(&query.before)?;
    // Exclusive bounds on `seq`: `after` is further along the order, `before` earlier.
    let (low, high) = match query.order {
        Order::Asc => (after, before),
        Order::Desc => (before, after),
    };
    let (low, high) = (low.unwrap_or(i64::MIN), high.unwrap_or(i64::MAX));
    let limit = query.limit.max(1);
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
    let mut data: Vec<T> = match run_id {
        Some(run) => {
            let sql = match query.order {
                Order::Asc => run_messages_sql!("ASC"),
                Order::Desc => run_messages_sql!("DESC"),
            };
            json_rows(conn, sql, params![thread_id, low, high, fetch, run])?
        }
        None => thread_index::rows(conn, table, thread_id, (low, high), query.order, fetch)?,
    };
    let has_more = data.len() > limit;
    data.truncate(limit);
    Ok(Page::new(data, has_more))
}

impl ThreadStore for SqliteStore {
    async fn create_thread(
        &self,
        owner: &Principal,
        thread: Thread,
        messages: Vec<Message>,
    ) -> StoreResult<()> {
        let owner = owner.clone();
        // The thread's row, then one insert per message.
        let undo = Undo::for_inserts(1 + messages.len());
        self.write(undo, move |conn, changes| {
            let json = to_json(&thread)?;
            let n = conn
                .prepare_cached(
                    "INSERT INTO threads (id, owner, json) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO NOTHING",
                )
                .and_then(|mut s| s.execute(params![thread.id, owner.as_str(), json]))
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("thread {} exists", thread.id)));
            }
            let stored = insert_messages(conn, &thread.id, messages)?;
            changes.push(Change::Created(owner, thread, json.len(), stored));
            Ok(())
        })
        .await
    }

    async fn owns(&self, owner: &Principal, id: &str) -> StoreResult<bool> {
        {
            let mut cache = self.cache();
            if let Some((o, _)) = cache.thread(id) {
                return Ok(o == owner);
            }
        }
        Ok(self.thread(owner, id).await?.is_some())
    }

    async fn thread(&self, owner: &Principal, id: &str) -> StoreResult<Option<Thread>> {
        let epoch = {
            let mut cache = self.cache();
            if let Some((o, t)) = cache.thread(id) {
                return Ok((o == owner).then(|| t.clone()));
            }
            cache.epoch()
        };
        let key = id.to_owned();
        let row = self
            .read(move |conn| {
                conn.prepare_cached("SELECT owner, json FROM threads WHERE id = ?1")
                    .and_then(|mut s| {
                        s.query_row([key], |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                json_col::<Thread>(r, 1)?,
                                json_len(r, 1)?,
                            ))
                        })
                        .optional()
                    })
                    .map_err(backend)
            })
            .await?;
        let Some((stored_owner, thread, bytes)) = row else {
            return Ok(None);
        };
        let stored_owner = Principal::new(stored_owner);
        let mine = &stored_owner == owner;
        self.cache()
            .fill_thread(epoch, stored_owner, thread.clone(), bytes);
        Ok(mine.then_some(thread))
    }

    async fn update_thread(&self, owner: &Principal, thread: Thread) -> StoreResult<()> {
        let owner = owner.clone();
        self.write(Undo::Statement, move |conn, changes| {
            let json = to_json(&thread)?;
            let n = conn
                .prepare_cached("UPDATE threads SET json = ?3 WHERE id = ?1 AND owner = ?2")
                .and_then(|mut s| s.execute(params![thread.id, owner.as_str(), json]))
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            changes.push(Change::Thread(owner, thread, json.len()));
            Ok(())
        })
        .await
    }

    async fn delete_thread(&self, owner: &Principal, id: &str) -> StoreResult<bool> {
        let owner = owner.clone();
        let id = id.to_owned();
        self.write(Undo::Savepoint, move |conn, changes| {
            let n = conn
                .prepare_cached("DELETE FROM threads WHERE id = ?1 AND owner = ?2")
                .and_then(|mut s| s.execute(params![id, owner.as_str()]))
                .map_err(backend)?;
            if n == 0 {
                return Ok(false);
            }
            thread_index::delete_thread(conn, &id)?;
            changes.push(Change::Deleted(id));
            Ok(true)
        })
        .await
    }

    async fn append_messages(&self, thread_id: &str, messages: Vec<Message>) -> StoreResult<()> {
        let thread_id = thread_id.to_owned();
        // Checks, then one insert per message.
        self.write(Undo::for_inserts(messages.len()), move |conn, changes| {
            if !thread_exists(conn, &thread_id)? {
                return Err(StoreError::NotFound);
            }
            if let Some(active) = active_run(conn, &thread_id)? {
                return Err(StoreError::Conflict(format!(
                    "Can't add messages to {thread_id} while a run {active} is active."
                )));
            }
            let stored = insert_messages(conn, &thread_id, messages)?;
            changes.push(Change::Messages(thread_id, stored));
            Ok(())
        })
        .await
    }

    async fn message(&self, thread_id: &str, message_id: &str) -> StoreResult<Option<Message>> {
        if let Some(message) = self.cache().message(thread_id, message_id) {
            return Ok(Some(message));
        }
        let (thread_id, message_id) = (thread_id.to_owned(), message_id.to_owned());
        self.read(move |conn| {
            conn.prepare_cached("SELECT json FROM messages WHERE id = ?1 AND thread_id = ?2")
                .and_then(|mut s| s.query_row([message_id, thread_id], first_json).optional())
                .map_err(backend)
        })
        .await
    }

    async fn set_message_metadata(
        &self,
        thread_id: &str,
        message_id: &str,
        metadata: Metadata,
    ) -> StoreResult<Option<Message>> {
        let (thread_id, message_id) = (thread_id.to_owned(), message_id.to_owned());
        self.write(Undo::Statement, move |conn, changes| {
            let stored: Option<Message> = conn
                .prepare_cached("SELECT json FROM messages WHERE id = ?1 AND thread_id = ?2")
                .and_then(|mut s| {
                    s.query_row([&message_id, &thread_id], first_json)
                        .optional()
                })
                .map_err(backend)?;
            let Some(mut message) = stored else {
                return Ok(None);
            };
            message.metadata = metadata;
            let json = to_json(&message)?;
            conn.prepare_cached("UPDATE messages SET json = ?3 WHERE id = ?1 AND thread_id = ?2")
                .and_then(|mut s| s.execute(params![message_id, thread_id, json]))
                .map_err(backend)?;
            // The cache forgets the thread's messages rather than patch a copy.
            changes.push(Change::MessagesChanged(thread_id));
            Ok(Some(message))
        })
        .await
    }

    async fn delete_message(&self, thread_id: &str, message_id: &str) -> StoreResult<bool> {
        let (thread_id, message_id) = (thread_id.to_owned(), message_id.to_owned());
        self.write(Undo::Savepoint, move |conn, changes| {
            let seq: Option<i64> = conn
                .prepare_cached(
                    "DELETE FROM messages WHERE id = ?1 AND thread_id = ?2 RETURNING seq",
                )
                .and_then(|mut s| {
                    s.query_row([&message_id, &thread_id], |r| r.get(0))
                        .optional()
                })
                .map_err(backend)?;
            let Some(seq) = seq else { return Ok(false) };
            conn.prepare_cached("DELETE FROM thread_messages WHERE thread_id = ?1 AND seq = ?2")
                .and_then(|mut s| s.execute(params![thread_id, seq]))
                .map_err(backend)?;
            changes.push(Change::MessagesChanged(thread_id));
            Ok(true)
        })
        .await
    }

    async fn list_messages(
        &self,
        thread_id: &str,
        query: &ListQuery,
    ) -> StoreResult<Page<Message>> {
        if let Some(page) = self.cache().list_messages(thread_id, query) {
            return Ok(page);
        }
        let cached = self.cached_thread(thread_id);
        let (thread_id, query) = (thread_id.to_owned(), query.clone());
        self.read(move |conn| {
            if !cached && !thread_exists(conn, &thread_id)? {
                return Err(StoreError::NotFound);
            }
            list(conn, Table::Messages, &thread_id, &query)
        })
        .await
    }

    async fn create_run(&self, run: Run) -> StoreResult<()> {
        self.write(Undo::Statement, move |conn, changes| {
            if !thread_exists(conn, &run.thread_id)? {
                return Err(StoreError::NotFound);
            }
            if let Some(active) = active_run(conn, &run.thread_id)? {
                return Err(StoreError::Conflict(format!(
                    "thread {} already has an active run {active}",
                    run.thread_id
                )));
            }
            let json = to_json(&run)?;
            conn.prepare_cached(
                "INSERT INTO runs (id, thread_id, status, json) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(backend)?
            .execute(params![run.id, run.thread_id, run.status.as_str(), json])
            .map_err(|e| insert_error(e, "run", &run.id))?;
            changes.push(Change::Run(Box::new(run), json.len()));
            Ok(())
        })
        .await
    }

    async fn run(&self, thread_id: &str, run_id: &str) -> StoreResult<Option<Run>> {
        let epoch = {
            let mut cache = self.cache();
            if let Some(run) = cache.run(run_id) {
                return Ok((run.thread_id == thread_id).then(|| run.clone()));
            }
            cache.epoch()
        };
        let (thread_id, run_id) = (thread_id.to_owned(), run_id.to_owned());
        let row: Option<(Run, usize)> = self
            .read(move |conn| {
                conn.prepare_cached("SELECT json FROM runs WHERE id = ?1 AND thread_id = ?2")
                    .and_then(|mut s| {
                        s.query_row([run_id, thread_id], |r| {
                            Ok((first_json(r)?, json_len(r, 0)?))
                        })
                        .optional()
                    })
                    .map_err(backend)
            })
            .await?;
        Ok(row.map(|(run, bytes)| {
            self.cache().fill_run(epoch, run.clone(), bytes);
            run
        }))
    }

    async fn set_run_metadata(
        &self,
        thread_id: &str,
        run_id: &str,
        metadata: Metadata,
    ) -> StoreResult<Option<Run>> {
        let (thread_id, run_id) = (thread_id.to_owned(), run_id.to_owned());
        let cache = Arc::clone(&self.inner.cache);
        self.write(Undo::Statement, move |conn, changes| {
            let stored: Option<Run> = conn
                .prepare_cached("SELECT json FROM runs WHERE id = ?1 AND thread_id = ?2")
                .and_then(|mut s| s.query_row([&run_id, &thread_id], first_json).optional())
                .map_err(backend)?;
            let Some(mut run) = stored else {
                return Ok(None);
            };
            run.metadata = metadata.clone();
            let Some(bytes) = store_run(conn, &run)? else {
                return Ok(None);
            };
            // A started run's `in_progress` state lives only in the cache (`start_run`): keep
            // it, with the new metadata.
            let current = match lock(&cache).run(&run_id) {
                Some(cached) if cached.thread_id == thread_id => {
                    let mut cached = cached.clone();
                    cached.metadata = metadata;
                    cached
                }
                _ => run,
            };
            changes.push(Change::Run(Box::new(current.clone()), bytes));
            Ok(Some(current))
        })
        .await
    }

    async fn list_runs(&self, thread_id: &str, query: &ListQuery) -> StoreResult<Page<Run>> {
        let cached = self.cached_thread(thread_id);
        let (thread_id, query) = (thread_id.to_owned(), query.clone());
        let mut page: Page<Run> = self
            .read(move |conn| {
                if !cached && !thread_exists(conn, &thread_id)? {
                    return Err(StoreError::NotFound);
                }
                list(conn, Table::Runs, &thread_id, &query)
            })
            .await?;
        // The cache is never older than a read connection's snapshot.
        let mut cache = self.cache();
        for run in &mut page.data {
            if let Some(newer) = cache.run(&run.id) {
                run.clone_from(newer);
            }
        }
        Ok(page)
    }

    async fn unanswered(&self, thread_id: &str, limit: usize) -> StoreResult<Vec<Message>> {
        if let Some(messages) = self.cache().unanswered(thread_id, limit) {
            return Ok(messages);
        }
        let thread_id = thread_id.to_owned();
        self.read(move |conn| {
            // One snapshot: the cursor and the messages after it agree. A savepoint, not a
            // transaction: in memory this runs inside the writer's.
            exec(conn, "SAVEPOINT unanswered").map_err(backend)?;
            let after = (|| {
                let cursor: i64 = conn
                    .prepare_cached("SELECT cursor FROM threads WHERE id = ?1")
                    .and_then(|mut s| s.query_row([&thread_id], |r| r.get(0)).optional())
                    .map_err(backend)?
                    .ok_or(StoreError::NotFound)?;
                thread_index::unanswered(conn, &thread_id, cursor, limit)
            })();
            exec(conn, "RELEASE unanswered").map_err(backend)?;
            after
        })
        .await
    }

    async fn transition_run(&self, mut transition: Transition) -> StoreResult<Transitioned> {
        // One batch of the writer: the status check, the new state, the replies and the
        // cursor land together or not at all, and no other write comes in between. The replies
        // are written first: after them nothing fails but the database, so one reply needs no
        // savepoint.
        let undo = Undo::for_inserts(transition.replies().len());
        self.write(undo, move |conn, changes| {
            let mut run: Run = conn
                .prepare_cached("SELECT json FROM runs WHERE id = ?1 AND thread_id = ?2")
                .and_then(|mut s| {
                    s.query_row([transition.run_id(), transition.thread_id()], first_json)
                        .optional()
                })
                .map_err(backend)?
                .ok_or(StoreError::NotFound)?;
            transition.apply(&mut run)?;
            let (replies, answered_up_to) = transition.take_replies();
            let done = Transitioned::new(run.clone(), replies.clone());
            let stored = insert_messages(conn, &run.thread_id, replies)?;
            let bytes = store_run(conn, &run)?.ok_or(StoreError::NotFound)?;
            if let Some(id) = answered_up_to {
                // The cursor moves forward only, and only to a message of this thread.
                let cursor: Option<i64> = conn
                    .prepare_cached(
                        "UPDATE threads SET cursor = max(cursor, (
                         SELECT seq FROM messages WHERE id = ?2 AND thread_id = ?1))
                     WHERE id = ?1
                       AND EXISTS (SELECT 1 FROM messages WHERE id = ?2 AND thread_id = ?1)
                     RETURNING cursor",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![run.thread_id, id], |r| r.get(0))
                            .optional()
                    })
                    .map_err(backend)?;
                if let Some(cursor) = cursor {
                    changes.push(Change::Cursor(run.thread_id.clone(), cursor));
                }
            }
            if !stored.is_empty() {
                changes.push(Change::Messages(run.thread_id.clone(), stored));
            }
            changes.push(Change::Run(Box::new(run), bytes));
            Ok(done)
        })
        .await
    }

    async fn fail_interrupted_runs(&self, now: i64) -> StoreResult<usize> {
        self.write(Undo::Savepoint, move |conn, changes| {
            let runs: Vec<Run> = json_rows(
                conn,
                concat!("SELECT json FROM runs WHERE ", active_runs!()),
                [],
            )?;
            let mut n = 0;
            for mut run in runs {
                // Rust has the last word on what is terminal.
                if run.status.is_terminal() {
                    continue;
                }
                run.fail(RunError::server_error(
                    "The server restarted while this run was in progress.",
                ));
                run.failed_at = Some(now);
                if let Some(bytes) = store_run(conn, &run)? {
                    n += 1;
                    changes.push(Change::Run(Box::new(run), bytes));
                }
            }
            Ok(n)
        })
        .await
    }
}

//! `PgStore`: threads in PostgreSQL, so that several server processes can share them. The
//! public documentation (the driver, the layout, the guarantees) is on [`PgStore`].

#[cfg(feature = "signing")]
mod ledger;
mod schema;
#[cfg(test)]
mod tests;

mod batch;
mod expected;
mod listen;
mod owners;

use std::{
    error::Error as StdError,
    fmt,
    str::FromStr,
    sync::{Arc, atomic::Ordering},
};

use deadpool_postgres::{GenericClient, Hook, HookError, Manager, Pool, Transaction};
use serde::{Serialize, de::DeserializeOwned};
use tokio_postgres::{NoTls, Row, error::SqlState, types::ToSql};

use self::expected::Stored;
use super::{
    Claimed, Holder, OnRunChange, Page, Renewal, Started, StoreError, StoreResult, ThreadStore,
    Transition, Transitioned,
};
use crate::thread::{
    ListQuery, Message, Metadata, Order, Principal, Run, RunError, RunStatus, Thread,
};

/// How a [`PgStore`] connects: the database and the size of its connection pool.
///
/// ```no_run
/// # async fn f() -> Result<(), aitp::store::StoreError> {
/// use aitp::store::PgStore;
/// let store = PgStore::options()
///     .pool_size(32)
///     .connect("host=127.0.0.1 user=aitp dbname=aitp")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "options do nothing until `connect`"]
pub struct PgOptions {
    pool_size: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self { pool_size: 16 }
    }
}

impl PgOptions {
    /// The defaults: a pool of up to 16 connections.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many connections to the database the store opens at most (at least 1). Each
    /// carries many concurrent statements (they are pipelined), but a transaction holds its
    /// connection until it ends; PostgreSQL's own limit (`max_connections`, 100 by default)
    /// is shared by every replica.
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// Connects to the database that `config` names, either libpq's `key=value` form
    /// (`host=… port=… user=… password=… dbname=…`) or a `postgresql://` URL, and brings its
    /// schema up to date. Fails if the database was migrated by a newer version of this
    /// crate.
    pub async fn connect(&self, config: &str) -> StoreResult<PgStore> {
        let config = tokio_postgres::Config::from_str(config).map_err(backend)?;
        let pool = Pool::builder(Manager::new(config.clone(), NoTls))
            .max_size(self.pool_size)
            .post_create(Hook::async_fn(|client, _| {
                Box::pin(async move {
                    client
                        .batch_execute(SESSION)
                        .await
                        .map_err(HookError::Backend)
                })
            }))
            .build()
            .map_err(backend)?;
        let mut client = pool.get().await.map_err(backend)?;
        schema::migrate(&mut client).await?;
        drop(client);
        let batch = batch::Batcher::start(config.clone());
        Ok(PgStore {
            pool,
            config,
            expected: Arc::default(),
            owners: Arc::default(),
            audience: Arc::default(),
            batch,
        })
    }
}

/// The settings of every session of the pool, made when the connection is opened.
///
/// `plan_cache_mode = force_generic_plan`: each statement is prepared once per connection and
/// then executed with PostgreSQL's generic plan, instead of being planned again for its
/// parameters (PostgreSQL's default for a statement whose generic plan looks no cheaper, as
/// the CTE statements' do): planning was a tenth of the database's CPU under load. Every
/// statement here selects by key or scans an index range whatever its parameters, so a plan
/// for given values could not be better (the page test checks the generic plan of a page
/// on a 100,000-message thread). A `SET` rather than a startup option, which connection
/// poolers such as PgBouncer refuse.
const SESSION: &str = "SET plan_cache_mode = force_generic_plan";

/// A [`ThreadStore`] in PostgreSQL (feature `postgres`), for agents served by several
/// processes that share one database.
///
/// Every acknowledged write is committed (as durable as the server's settings make it);
/// reads see every write acknowledged before they began, whichever process made it, since
/// the store keeps no cache. Owner scoping, insertion order and the agent's cursor behave as
/// in every store: the store contract of `aitp::store::testing` (feature `testing`) is run on
/// it. Cheap to clone: clones share the connection pool.
///
/// **Driver.** [`tokio-postgres`](tokio_postgres) with a [`deadpool-postgres`](deadpool_postgres)
/// pool, chosen over `sqlx` on merit: it is async on tokio without a runtime abstraction,
/// pipelines the statements of concurrent callers on one connection, prepares each statement
/// once per connection (the pool caches them), needs neither a database at compile time nor
/// macros, exposes `LISTEN`/`NOTIFY` as a stream (what replicas need to wake each other),
/// and builds with this crate's minimum Rust (1.85; `sqlx` 0.9 needs a much newer compiler).
/// Its dependency tree is also far smaller. Connections are plain TCP without TLS: run
/// PostgreSQL on the same host or a private network.
///
/// **Layout.** Tables `aitp_threads`, `aitp_messages`, `aitp_runs` (prefixed so they can share
/// a database with an application) hold the JSON text of each thread, message and run (not
/// `jsonb`, which reorders keys: fields this crate does not know come back as they came),
/// beside the few columns queries need. Messages and runs are keyed by (thread, `seq`), `seq`
/// being their insertion order, so a page is one range scan of the thread's own rows that
/// stops after the page: its cost does not grow with the thread (a test checks
/// PostgreSQL's plan on a 100,000-message thread). Operations that must see a consistent
/// thread (an append against the one-active-run rule, a new run, a run finished with its
/// replies and the agent's cursor) lock the thread's row, so they are atomic across
/// processes, not only within one.
///
/// **Round trips.** Every write a conversation makes is one statement, hence one round trip
/// and one implicit transaction, with no `BEGIN`/`COMMIT`: an append or a new run locks the
/// thread's row, checks for an active run and inserts in one statement (and falls back to a
/// transaction of several when the thread changed while it waited for the lock); a
/// transition is a conditional `UPDATE` of the run that also writes the replies, moves the
/// cursor and sends the announcement, and applies only if the run is still in the state it
/// was computed from. Its new state is computed here from the run's stored JSON (kept as
/// text, so it cannot be edited in SQL without reordering keys): the state this process
/// last wrote of its own runs is remembered (bounded in bytes) so that the statement needs
/// no read first; a stale expectation is found out by the statement itself, which then
/// writes nothing, and the run is read. A run's beginning
/// ([`ThreadStore::begin_run`]) is one statement too: the run inserted started and leased,
/// with the thread and the messages the run answers read in the same statement; so a
/// conversation's round (a message, a run, its end, a page) is four statements. Statements
/// are prepared once per connection and executed with their generic plan (no planning per
/// execution).
///
/// **Replicas.** A deployment is N server processes (replicas) of the same agent behind any
/// HTTP load balancer, without sticky sessions, each with a `PgStore` on the same database;
/// a client may send any request to any replica. The store is
/// [shared](ThreadStore::is_shared), so a [`Server`](crate::server::Server) on it coordinates
/// with the other replicas through leases (see [`crate::store::lease`]) instead of failing
/// unfinished runs at start-up:
///
/// - a run is executed by one replica at a time, the holder of its lease (`aitp_runs`
///   columns `lease_owner`, `lease_expires`), claimed when it starts the run and renewed every
///   third of the lease time ([`Server::lease`](crate::server::Server::lease), 30 s by
///   default); database time is used, so replicas' clocks need not agree;
/// - replies are committed exactly once: a completion is a conditional transition stored
///   with its replies in one statement, and it is fenced by the lease (a replica whose run
///   another took over gets [`StoreError::LeaseLost`] and commits nothing);
/// - runs of a replica that died are taken over by another once their lease expires (each
///   replica looks every half lease time, claiming with `FOR UPDATE SKIP LOCKED`, so one
///   replica gets each run) and executed again there: handlers are called at least once, and
///   may be called again for a run whose replica died mid-way. A run that was being
///   cancelled ends `cancelled`;
/// - every transition is announced by `NOTIFY aitp_runs` in its transaction; each replica
///   `LISTEN`s on a connection of its own (outside the pool), so a poll held on one replica
///   of a run another executes answers as soon as it ends, and a cancel accepted by one
///   replica stops the handler on another at once. Announcements are only hints (they are
///   lost while a listening connection is down): held polls also read the run every 100 ms,
///   and the heartbeat reports a cancel too. A replica alone on its database announces
///   nothing: the listening sessions are named `aitp-replica` (`application_name`) and
///   counted every second, so a replica that joins is heard from within a second.
///
/// **Group commit.** The writes a conversation makes on every turn — a message appended, a run
/// begun, a run's transition with its replies — each one statement, go through one
/// connection of their own: those that queue while a batch commits are sent together in the
/// next, in one round trip and one transaction (one commit, one WAL flush), at most one write
/// per thread per batch. A write that fails in a batch rolls it back, and the batch is sent
/// again write by write, so each write answers what it would alone; a write that finds the
/// queue empty goes alone at once. On two cores this doubled the rounds a replica serves
/// (see the README).
///
/// Each replica uses up to its pool size plus two connections (announcements, batches); keep
/// their sum under PostgreSQL's `max_connections`.
///
/// **Migrations** are versioned (table `aitp_schema_migrations`) and run at connect in one
/// transaction under an advisory lock, so replicas starting together apply each once; a
/// database migrated by a newer version of this crate is refused rather than misread.
///
/// ```no_run
/// # async fn f() -> Result<(), aitp::store::StoreError> {
/// use aitp::store::PgStore;
/// let store = PgStore::connect("postgresql://aitp@127.0.0.1/aitp").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// For the dedicated `LISTEN` connection of [`ThreadStore::watch_runs`].
    config: tokio_postgres::Config,
    /// What this process last wrote of its unfinished runs: what transitions expect.
    expected: Arc<expected::Expected>,
    /// The threads this process has seen belong to their owner: what `owns` answers from.
    owners: Arc<owners::Owners>,
    /// Whether another replica listens: transitions are announced only then.
    audience: Arc<listen::Audience>,
    /// Commits the hot writes of concurrent requests together (see `batch`).
    batch: batch::Batcher,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        let counts = self.batch.counts();
        f.debug_struct("PgStore")
            .field("pool_size", &status.max_size)
            .field("connections", &status.size)
            .field(
                "batches_committed",
                &counts.committed.load(Ordering::Relaxed),
            )
            .field("batches_split", &counts.split.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The SQL condition "the run is not terminal", written exactly as in the `aitp_runs_active`
/// partial index so that PostgreSQL uses it.
macro_rules! active_runs {
    () => {
        "status NOT IN ('cancelled', 'failed', 'completed', 'incomplete', 'expired')"
    };
}

/// The statuses of a run some replica executes (or must finish): what leases cover.
macro_rules! leased_runs {
    () => {
        "status IN ('queued', 'in_progress', 'cancelling')"
    };
}

/// The channel transitions are announced on (`NOTIFY`), with the payload
/// `thread_id run_id status`.
const CHANNEL: &str = "aitp_runs";

/// How many times an optimistic write (a transition, an append, a new run) is tried before
/// falling back to locking rows in a transaction of several statements. Each miss means
/// another writer committed in between, so misses are rare and a retry usually succeeds.
const OPTIMISTIC_ATTEMPTS: usize = 4;

/// The `SET` of a run's new state: status and JSON; the lease claimed by the holder (its id,
/// or NULL to keep the owner), released (a boolean: the run ended) or extended by a number of
/// seconds (NULL: kept as it is). Database time, so replicas' clocks need not agree.
macro_rules! set_run {
    ($status:literal, $json:literal, $claim:literal, $release:literal, $ttl:literal) => {
        concat!(
            "SET status = ",
            $status,
            ", json = ",
            $json,
            ", lease_owner = COALESCE(",
            $claim,
            ", lease_owner),
               lease_expires = CASE
                   WHEN ",
            $release,
            " THEN NULL
                   WHEN ",
            $ttl,
            "::float8 IS NOT NULL
                       THEN clock_timestamp() + ",
            $ttl,
            "::float8 * interval '1 second'
                   ELSE lease_expires END"
        )
    };
}

/// A run's transition in one statement, hence one implicit transaction and one round trip:
/// the run's new state (`$5`, `$6`, the lease) is written only if the row still holds the
/// JSON (`$3`) and lease owner (`$4`) the new state was computed from — under `READ
/// COMMITTED` a row changed meanwhile is re-checked in its newest version, so a concurrent
/// transition makes this one write nothing (zero rows) rather than overwrite it. Gated on
/// that write, in the same statement: the agent's cursor (`$10`, only forward, only to a
/// message of this thread; this also locks the thread's row, as appends and new runs do),
/// the replies (`$11`–`$13`, in order), and the announcement (`pg_notify`, delivered at
/// commit; none if `$15` is null) in the statement's `SELECT`.
macro_rules! transition_ctes {
    () => {
        concat!(
            "WITH run AS (
             UPDATE aitp_runs ",
            set_run!("$5", "$6", "$7", "$8", "$9"),
            " WHERE thread_id = $1 AND id = $2 AND json = $3
                 AND lease_owner IS NOT DISTINCT FROM $4::text
             RETURNING 1
         ), answered AS (
             UPDATE aitp_threads SET answered_seq = GREATEST(answered_seq,
                 (SELECT seq FROM aitp_messages WHERE thread_id = $1 AND id = $10::text))
             WHERE id = $1 AND $10::text IS NOT NULL AND EXISTS (SELECT 1 FROM run)
         ), replies AS (
             INSERT INTO aitp_messages (thread_id, id, run_id, json)
             SELECT $1, m.id, m.run_id, m.json
             FROM unnest($11::text[], $12::text[], $13::text[]) WITH ORDINALITY
                 AS m (id, run_id, json, n)
             WHERE EXISTS (SELECT 1 FROM run)
             ORDER BY m.n
         )"
        )
    };
}

/// The announcement of [`TRANSITION`] and [`START`] (`$14`, `$15`).
macro_rules! announce {
    () => {
        "(SELECT pg_notify($14, $15) WHERE $15::text IS NOT NULL)"
    };
}

/// The JSON of thread `$1`'s oldest unanswered messages, at most `$limit` — the cursor as a
/// scalar subquery, not a join: PostgreSQL then starts the index range at the cursor
/// instead of walking the thread from its first message.
macro_rules! unanswered {
    ($limit:literal) => {
        concat!(
            "SELECT json FROM aitp_messages
             WHERE thread_id = $1 AND run_id IS NULL
               AND seq > (SELECT answered_seq FROM aitp_threads WHERE id = $1)
             ORDER BY seq LIMIT ",
            $limit
        )
    };
}

/// A transition (see `transition_ctes`): one row if applied (the announcement), none if not.
const TRANSITION: &str = concat!(transition_ctes!(), " SELECT ", announce!(), " FROM run");

/// [`TRANSITION`] of a start that also reads, in its snapshot, what the run's execution
/// needs: the thread's JSON and the JSON of its `$16` oldest unanswered messages (as
/// [`ThreadStore::unanswered`] selects them). The snapshot is taken when the statement
/// starts, so it holds every message appended before the run was created.
const START: &str = concat!(
    transition_ctes!(),
    " SELECT ",
    announce!(),
    ", (SELECT json FROM aitp_threads WHERE id = $1), ARRAY(",
    unanswered!("$16"),
    ") FROM run"
);

/// The first part of [`APPEND`] and [`CREATE_RUN`]: the thread's row locked (`locked`, its
/// newest version), the same row as the statement's snapshot has it (`seen`), the thread's
/// active run in that snapshot (`active`), and whether the write may go ahead (`ok`).
///
/// Under `READ COMMITTED` a statement reads one snapshot, taken when it starts, and may then
/// wait for the row lock: a run that the previous holder of the lock created meanwhile
/// would be missing from the snapshot. Every new run gives the thread's row a new version
/// (see [`CREATE_RUN`]), so the snapshot is known to be current exactly when the locked row
/// is the version the snapshot holds (same `xmin`); when it is not, nothing is written and
/// the caller falls back to a transaction that locks first and checks in a later statement.
/// (Two versions never share an `xmin`: a version made after the snapshot has the `xmin` of
/// a transaction the snapshot does not see, which `VACUUM` cannot freeze while the snapshot
/// lives. A freeze of the one version between the two reads only costs the fallback.)
/// Replicas of an older version of this crate do not bump the row: do not mix them with
/// this one on a database.
macro_rules! checked_thread {
    () => {
        concat!(
            "WITH locked AS (
                 SELECT xmin AS version FROM aitp_threads WHERE id = $1 FOR NO KEY UPDATE
             ), seen AS (
                 SELECT xmin AS version FROM aitp_threads WHERE id = $1
             ), current AS (
                 SELECT 1 FROM locked, seen WHERE locked.version = seen.version
             ), active AS (
                 SELECT id FROM aitp_runs WHERE thread_id = $1 AND ",
            active_runs!(),
            " LIMIT 1
             ), ok AS (
                 SELECT 1 FROM current WHERE NOT EXISTS (SELECT 1 FROM active)
             )"
        )
    };
}

/// What [`APPEND`] and [`CREATE_RUN`] answer (one row): whether the thread exists, whether
/// the snapshot was current, and the active run that refused the write.
macro_rules! checked_answer {
    () => {
        " SELECT EXISTS (SELECT 1 FROM locked), EXISTS (SELECT 1 FROM current),
             (SELECT id FROM active)"
    };
}

/// Appends messages (`$2`–`$4`, in order) to thread `$1` unless it has an active run, in one
/// statement (see `checked_thread`): the insert happens under the thread's row lock, so a
/// later append always has a larger `seq`.
const APPEND: &str = concat!(
    checked_thread!(),
    ", inserted AS (
         INSERT INTO aitp_messages (thread_id, id, run_id, json)
         SELECT $1, m.id, m.run_id, m.json
         FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY
             AS m (id, run_id, json, n)
         WHERE EXISTS (SELECT 1 FROM ok)
         ORDER BY m.n
     )",
    checked_answer!()
);

/// The no-op update of the thread's row (a new row version) that every new run makes, when
/// `checked_thread` allows it: see [`CREATE_RUN`].
macro_rules! bump_thread {
    () => {
        ", bumped AS (
             UPDATE aitp_threads SET answered_seq = answered_seq
             WHERE id = $1 AND EXISTS (SELECT 1 FROM ok)
         )"
    };
}

/// Creates run `$2` (status `$3`, JSON `$4`) in thread `$1` unless it has an active run, in
/// one statement (see `checked_thread`), and gives the thread's row a new version (a
/// no-op update), which is how concurrent [`APPEND`]s and `CREATE_RUN`s learn that their
/// snapshot may lack this run.
const CREATE_RUN: &str = concat!(
    checked_thread!(),
    bump_thread!(),
    ", inserted AS (
         INSERT INTO aitp_runs (thread_id, id, status, json) SELECT $1, $2, $3, $4 FROM ok
     )",
    checked_answer!()
);

/// [`CREATE_RUN`] of a run stored started (status `$3`, JSON `$4`) and leased to `$5` for
/// `$6` seconds, that also reads what the run's execution needs, as [`START`] does: the
/// thread's JSON and its `$7` oldest unanswered messages, in the statement's snapshot. When
/// that snapshot is current (no run was created meanwhile, see `checked_thread`), it holds
/// every message committed before the statement began; a message whose append waited for
/// the thread's lock while this statement started is left to the next run (the cursor never
/// passes it: its `seq` is larger than every message the snapshot holds).
const BEGIN_RUN: &str = concat!(
    checked_thread!(),
    bump_thread!(),
    ", inserted AS (
         INSERT INTO aitp_runs (thread_id, id, status, json, lease_owner, lease_expires)
         SELECT $1, $2, $3, $4, $5, clock_timestamp() + $6::float8 * interval '1 second'
         FROM ok
     )",
    checked_answer!(),
    ", (SELECT json FROM aitp_threads WHERE id = $1), ARRAY(",
    unanswered!("$7"),
    ")"
);

/// What [`APPEND`] or [`CREATE_RUN`] found.
enum Checked {
    /// No such thread.
    Missing,
    /// Written (or, for an empty append, allowed).
    Done,
    /// Refused: the thread has this active run.
    Refused(String),
    /// The thread changed while the statement waited for its lock: nothing was written.
    Changed,
}

fn checked(row: &Row) -> StoreResult<Checked> {
    let found: bool = row.try_get(0).map_err(backend)?;
    let current: bool = row.try_get(1).map_err(backend)?;
    let active: Option<String> = row.try_get(2).map_err(backend)?;
    Ok(match (found, current, active) {
        (false, _, _) => Checked::Missing,
        (true, false, _) => Checked::Changed,
        (true, true, None) => Checked::Done,
        (true, true, Some(active)) => Checked::Refused(active),
    })
}

/// The columns of `messages` as the statements that insert them take them (arrays
/// `unnest`ed in order): ids, run ids, JSON texts.
type Columns = (Vec<String>, Vec<Option<String>>, Vec<String>);

fn columns(messages: &[Message]) -> StoreResult<Columns> {
    let ids = messages.iter().map(|m| m.id.clone()).collect();
    let runs = messages.iter().map(|m| m.run_id.clone()).collect();
    let json = messages.iter().map(to_json).collect::<StoreResult<_>>()?;
    Ok((ids, runs, json))
}

/// The one row a statement answers.
fn one_row(mut rows: Vec<Row>) -> StoreResult<Row> {
    match (rows.pop(), rows.is_empty()) {
        (Some(row), true) => Ok(row),
        _ => Err(backend("a statement of one row answered another number")),
    }
}

/// The thread and the messages [`START`] or [`BEGIN_RUN`] read, in the row's columns `at` and
/// `at + 1`.
fn read_started(row: &Row, at: usize) -> StoreResult<(Thread, Vec<Message>)> {
    let thread: Option<String> = row.try_get(at).map_err(backend)?;
    let messages: Vec<String> = row.try_get(at + 1).map_err(backend)?;
    let thread = thread.ok_or(StoreError::NotFound)?;
    Ok((
        serde_json::from_str(&thread).map_err(backend)?,
        messages
            .iter()
            .map(|m| serde_json::from_str(m).map_err(backend))
            .collect::<StoreResult<_>>()?,
    ))
}

fn refused_append(thread_id: &str, active: &str) -> StoreError {
    StoreError::Conflict(format!(
        "Can't add messages to {thread_id} while a run {active} is active."
    ))
}

fn refused_run(thread_id: &str, active: &str) -> StoreError {
    StoreError::Conflict(format!(
        "thread {thread_id} already has an active run {active}"
    ))
}

/// The two tables listed by pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Messages,
    Runs,
}

impl PgStore {
    /// Connects with the default [`PgOptions`]; see [`PgOptions::connect`].
    pub async fn connect(config: &str) -> StoreResult<Self> {
        PgOptions::new().connect(config).await
    }

    /// Options to connect with (the pool size).
    pub fn options() -> PgOptions {
        PgOptions::new()
    }

    /// The announcement of `run`'s new state, if it has one and another replica listens.
    fn announcement(&self, run: &Run) -> Option<String> {
        if !self.audience.listening() {
            return None;
        }
        listen::payload(&run.thread_id, &run.id, &run.status)
    }

    /// Whether this store announces its transitions now (see `listen`), and its changes, for
    /// tests.
    #[cfg(test)]
    fn announces(&self) -> tokio::sync::watch::Receiver<bool> {
        self.audience.changes()
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(backend)
    }

    /// The JSON of the first column of every row `sql` returns, parsed.
    async fn json_rows<T: DeserializeOwned>(
        client: &impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<T>> {
        let stmt = client.prepare_cached(sql).await.map_err(backend)?;
        let rows = client.query(&stmt, params).await.map_err(backend)?;
        rows.iter().map(|r| from_json(r)).collect()
    }

    /// The JSON of the one row `sql` returns, if any, parsed.
    async fn json_row<T: DeserializeOwned>(
        client: &impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<T>> {
        let stmt = client.prepare_cached(sql).await.map_err(backend)?;
        let row = client.query_opt(&stmt, params).await.map_err(backend)?;
        row.as_ref().map(from_json).transpose()
    }

    /// How many rows `sql` changed.
    async fn execute(
        client: &impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<u64> {
        let stmt = client.prepare_cached(sql).await.map_err(backend)?;
        client.execute(&stmt, params).await.map_err(backend)
    }

    /// Whether the thread exists (whoever owns it).
    async fn exists(client: &impl GenericClient, thread_id: &str) -> StoreResult<bool> {
        let stmt = client
            .prepare_cached("SELECT 1 FROM aitp_threads WHERE id = $1")
            .await
            .map_err(backend)?;
        let row = client
            .query_opt(&stmt, &[&thread_id])
            .await
            .map_err(backend)?;
        Ok(row.is_some())
    }

    /// Locks the thread's row until `tx` ends (so the thread's appends, new runs and
    /// finished runs happen one at a time, across processes) and returns its active run's id,
    /// if any; `NotFound` if there is no such thread.
    ///
    /// Two statements, not one: under `READ COMMITTED` each statement reads a snapshot taken
    /// when it starts, so a check made in the statement that waited for the lock would not see
    /// the run that the previous holder committed meanwhile.
    async fn lock_thread(tx: &Transaction<'_>, thread_id: &str) -> StoreResult<Option<String>> {
        Self::lock_thread_row(tx, thread_id).await?;
        let active = tx
            .prepare_cached(concat!(
                "SELECT id FROM aitp_runs WHERE thread_id = $1 AND ",
                active_runs!(),
                " LIMIT 1"
            ))
            .await
            .map_err(backend)?;
        let row = tx
            .query_opt(&active, &[&thread_id])
            .await
            .map_err(backend)?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Appends `messages` to the thread, in order (one statement, whatever their number).
    async fn insert_messages(
        tx: &Transaction<'_>,
        thread_id: &str,
        messages: &[Message],
    ) -> StoreResult<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let (ids, runs, json) = columns(messages)?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO aitp_messages (thread_id, id, run_id, json)
                 SELECT $1, m.id, m.run_id, m.json
                 FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY
                     AS m (id, run_id, json, n)
                 ORDER BY m.n",
            )
            .await
            .map_err(backend)?;
        tx.execute(&stmt, &[&thread_id, &ids, &runs, &json])
            .await
            .map_err(|e| insert_error(e, "a message of thread", thread_id))?;
        Ok(())
    }

    /// Stores the run's new state; whether it exists in its thread.
    async fn store_run(client: &impl GenericClient, run: &Run) -> StoreResult<bool> {
        let json = to_json(run)?;
        let n = Self::execute(
            client,
            "UPDATE aitp_runs SET status = $3, json = $4 WHERE thread_id = $1 AND id = $2",
            &[&run.thread_id, &run.id, &run.status.as_str(), &json],
        )
        .await?;
        Ok(n > 0)
    }

    /// A page of `table` with [`ListQuery`]'s semantics (as `store::page` has them): an
    /// `after` or `before` id not among the listed items is ignored; `has_more` is exact
    /// (one more row is fetched). One statement: the cursors are found by the (thread, id)
    /// index, the page is a range scan of the (thread, seq) index that stops after
    /// `limit + 1` rows.
    async fn list<T: DeserializeOwned>(
        &self,
        table: Table,
        thread_id: &str,
        query: &ListQuery,
    ) -> StoreResult<Page<T>> {
        let run_id = match table {
            Table::Messages => query.run_id.as_deref(),
            Table::Runs => None,
        };
        let limit = query.limit.max(1);
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        // Exclusive bounds on `seq`: `after` is further along the order, `before` earlier.
        let (low, high) = match query.order {
            Order::Asc => (query.after.as_deref(), query.before.as_deref()),
            Order::Desc => (query.before.as_deref(), query.after.as_deref()),
        };
        let sql = list_sql(table, run_id.is_some(), query.order);
        let client = self.client().await?;
        let mut data: Vec<T> = match run_id {
            Some(run) => {
                Self::json_rows(&client, &sql, &[&thread_id, &low, &high, &fetch, &run]).await?
            }
            None => Self::json_rows(&client, &sql, &[&thread_id, &low, &high, &fetch]).await?,
        };
        // An empty page may be a missing thread.
        if data.is_empty() && !Self::exists(&client, thread_id).await? {
            return Err(StoreError::NotFound);
        }
        let has_more = data.len() > limit;
        data.truncate(limit);
        Ok(Page::new(data, has_more))
    }
}

/// The statement of a page of `table` (of one run's messages with `by_run`) in `order`.
/// Parameters: thread, the ids of the low and high cursors (exclusive, ignored when unknown),
/// the row count, and the run.
fn list_sql(table: Table, by_run: bool, order: Order) -> String {
    let table = match table {
        Table::Messages => "aitp_messages",
        Table::Runs => "aitp_runs",
    };
    let run = if by_run { " AND run_id = $5" } else { "" };
    let cursor = |param: &str, default: &str| {
        format!(
            "COALESCE((SELECT seq FROM {table} WHERE thread_id = $1 AND id = {param}{run}), \
             {default})"
        )
    };
    let direction = match order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    };
    format!(
        "SELECT json FROM {table} WHERE thread_id = $1{run} AND seq > {low} AND seq < {high} \
         ORDER BY seq {direction} LIMIT $4",
        low = cursor("$2", "0"),
        high = cursor("$3", "9223372036854775807"),
    )
}

/// The writes of a message or run creation that check for an active run in the statement
/// that inserts: one round trip fewer than [`PgStore::lock_thread`] then an insert.
impl PgStore {
    /// Locks the thread's row until `tx` ends, as [`PgStore::lock_thread`] does, without
    /// looking for an active run: the statement that follows does, in its own snapshot, taken
    /// after the lock was granted (so it sees the run the previous holder committed).
    async fn lock_thread_row(tx: &Transaction<'_>, thread_id: &str) -> StoreResult<()> {
        let lock = tx
            .prepare_cached("SELECT 1 FROM aitp_threads WHERE id = $1 FOR NO KEY UPDATE")
            .await
            .map_err(backend)?;
        tx.query_opt(&lock, &[&thread_id])
            .await
            .map_err(backend)?
            .map(drop)
            .ok_or(StoreError::NotFound)
    }

    /// The thread's active run, for the message of a refused insert (the refusal itself was
    /// decided by the insert); `"?"` if it ended since.
    async fn active_run_id(tx: &Transaction<'_>, thread_id: &str) -> StoreResult<String> {
        let row = Self::query_row(
            tx,
            concat!(
                "SELECT id FROM aitp_runs WHERE thread_id = $1 AND ",
                active_runs!(),
                " LIMIT 1"
            ),
            &[&thread_id],
        )
        .await?;
        Ok(row.map_or_else(|| "?".to_owned(), |r| r.get(0)))
    }

    /// The one row `sql` returns, if any.
    async fn query_row(
        client: &impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        let stmt = client.prepare_cached(sql).await.map_err(backend)?;
        client.query_opt(&stmt, params).await.map_err(backend)
    }
}

impl PgStore {
    /// Renews `holder`'s leases on `runs` for `ttl`, or with `None` releases them (expired
    /// since always: `take_over_runs` claims them at once, and an operator reading the table
    /// sees a released lease, not one that ran out); the rows of those it held, as `(id,
    /// status)`. The rows are locked in the order of (thread, run) — the order a batch of
    /// transitions locks them in (see `batch`) — so the two never wait for each other in a
    /// cycle.
    async fn set_leases(
        &self,
        holder: &Holder,
        runs: &[(String, String)],
        ttl: Option<std::time::Duration>,
    ) -> StoreResult<Vec<Row>> {
        let threads: Vec<&str> = runs.iter().map(|(t, _)| t.as_str()).collect();
        let ids: Vec<&str> = runs.iter().map(|(_, r)| r.as_str()).collect();
        let ttl = ttl.map(|t| t.as_secs_f64());
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(concat!(
                "WITH held AS (
                     SELECT r.thread_id, r.id FROM aitp_runs r
                     JOIN unnest($2::text[], $3::text[]) AS k (thread_id, id)
                         ON r.thread_id = k.thread_id AND r.id = k.id
                     WHERE r.lease_owner = $1 AND r.",
                leased_runs!(),
                "    ORDER BY r.thread_id, r.id
                     FOR NO KEY UPDATE OF r
                 )
                 UPDATE aitp_runs r
                 SET lease_expires = COALESCE(
                     clock_timestamp() + $4::float8 * interval '1 second', '-infinity')
                 FROM held h
                 WHERE r.thread_id = h.thread_id AND r.id = h.id AND r.lease_owner = $1 AND r.",
                leased_runs!(),
                " RETURNING r.id, r.status"
            ))
            .await
            .map_err(backend)?;
        client
            .query(&stmt, &[&holder.id, &threads, &ids, &ttl])
            .await
            .map_err(backend)
    }
}

impl PgStore {
    /// [`ThreadStore::transition_run`] under the run's row lock, in a transaction: the way
    /// out when the optimistic write keeps losing to concurrent changes.
    async fn transition_locked(
        &self,
        transition: Transition,
        replies: Vec<Message>,
        answered_up_to: Option<String>,
    ) -> StoreResult<Transitioned> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        // The run's row, locked until commit: a concurrent transition of the same run (a
        // cancel, another replica, a takeover) waits, then sees this one's result.
        let stmt = tx
            .prepare_cached(
                "SELECT json, lease_owner FROM aitp_runs WHERE thread_id = $1 AND id = $2
                 FOR UPDATE",
            )
            .await
            .map_err(backend)?;
        let row = tx
            .query_opt(&stmt, &[&transition.thread_id(), &transition.run_id()])
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        let mut run: Run = from_json(&row)?;
        let owner: Option<String> = row.try_get(1).map_err(backend)?;
        transition.apply(&mut run)?;
        // Fenced: a replica whose lease another took over changes nothing.
        let holder = transition.holder();
        if let (Some(holder), Some(owner)) = (holder, &owner) {
            if *owner != holder.id {
                return Err(StoreError::LeaseLost);
            }
        }
        // A holder's transition claims (or keeps) the lease; an end releases it.
        let release = run.status.is_terminal();
        let ttl = holder.map(|h| h.ttl.as_secs_f64());
        let claim = holder.map(|h| h.id.as_str());
        let n = Self::execute(
            &tx,
            concat!(
                "UPDATE aitp_runs ",
                set_run!("$3", "$4", "$5", "$6", "$7"),
                " WHERE thread_id = $1 AND id = $2"
            ),
            &[
                &run.thread_id,
                &run.id,
                &run.status.as_str(),
                &to_json(&run)?,
                &claim,
                &release,
                &ttl,
            ],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        // The cursor only moves forward, and only to a message of this thread.
        if let Some(answered) = &answered_up_to {
            Self::execute(
                &tx,
                "UPDATE aitp_threads SET answered_seq = GREATEST(answered_seq,
                     (SELECT seq FROM aitp_messages WHERE thread_id = $1 AND id = $2))
                 WHERE id = $1",
                &[&run.thread_id, answered],
            )
            .await?;
        }
        Self::insert_messages(&tx, &run.thread_id, &replies).await?;
        // Delivered to listeners at commit, and only if it commits.
        if let Some(payload) = self.announcement(&run) {
            let stmt = tx
                .prepare_cached("SELECT pg_notify($1, $2)")
                .await
                .map_err(backend)?;
            tx.query_one(&stmt, &[&CHANNEL, &payload])
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(Transitioned::new(run, replies))
    }
}

impl PgStore {
    /// [`ThreadStore::append_messages`] in a transaction that locks the thread's row first:
    /// the way out when the thread changed under [`APPEND`].
    async fn append_locked(&self, thread_id: &str, messages: &[Message]) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let refused = |active: String| refused_append(thread_id, &active);
        if messages.is_empty() {
            // Nothing to insert: only the check.
            if let Some(active) = Self::lock_thread(&tx, thread_id).await? {
                return Err(refused(active));
            }
            return tx.commit().await.map_err(backend);
        }
        Self::lock_thread_row(&tx, thread_id).await?;
        // The active-run check and the insert in one statement (as in `insert_messages`,
        // unless the thread has an active run): one round trip.
        let (ids, runs, json) = columns(messages)?;
        let stmt = tx
            .prepare_cached(concat!(
                "INSERT INTO aitp_messages (thread_id, id, run_id, json)
                 SELECT $1, m.id, m.run_id, m.json
                 FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY
                     AS m (id, run_id, json, n)
                 WHERE NOT EXISTS (SELECT 1 FROM aitp_runs WHERE thread_id = $1 AND ",
                active_runs!(),
                ") ORDER BY m.n"
            ))
            .await
            .map_err(backend)?;
        let inserted = tx
            .execute(&stmt, &[&thread_id, &ids, &runs, &json])
            .await
            .map_err(|e| insert_error(e, "a message of thread", thread_id))?;
        if inserted == 0 {
            return Err(refused(Self::active_run_id(&tx, thread_id).await?));
        }
        tx.commit().await.map_err(backend)
    }

    /// [`ThreadStore::create_run`] in a transaction that locks the thread's row first: the
    /// way out when the thread changed under [`CREATE_RUN`].
    async fn create_run_locked(&self, run: &Run, json: &str) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        Self::bump_thread_row(&tx, &run.thread_id).await?;
        // The active-run check and the insert in one statement: one round trip.
        let stmt = tx
            .prepare_cached(concat!(
                "INSERT INTO aitp_runs (thread_id, id, status, json) SELECT $1, $2, $3, $4
                 WHERE NOT EXISTS (SELECT 1 FROM aitp_runs WHERE thread_id = $1 AND ",
                active_runs!(),
                ")"
            ))
            .await
            .map_err(backend)?;
        let inserted = tx
            .execute(
                &stmt,
                &[&run.thread_id, &run.id, &run.status.as_str(), &json],
            )
            .await
            .map_err(|e| insert_error(e, "run", &run.id))?;
        if inserted == 0 {
            let active = Self::active_run_id(&tx, &run.thread_id).await?;
            return Err(refused_run(&run.thread_id, &active));
        }
        tx.commit().await.map_err(backend)
    }

    /// Locks the thread's row until `tx` ends, as [`PgStore::lock_thread_row`] does, and
    /// gives it a new row version: what a new run must do so that [`APPEND`] and
    /// [`CREATE_RUN`] running at the same moment notice it (see `checked_thread`).
    async fn bump_thread_row(tx: &Transaction<'_>, thread_id: &str) -> StoreResult<()> {
        let n = Self::execute(
            tx,
            "UPDATE aitp_threads SET answered_seq = answered_seq WHERE id = $1",
            &[&thread_id],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

impl PgStore {
    /// [`ThreadStore::transition_run`], and with `start_limit` (a start's message limit) what
    /// [`START`] reads: its row, unless the transition was applied by the way out
    /// ([`PgStore::transition_locked`]).
    async fn transition(
        &self,
        mut transition: Transition,
        start_limit: Option<usize>,
    ) -> StoreResult<(Transitioned, Option<Row>)> {
        let (replies, answered_up_to) = transition.take_replies();
        let (reply_ids, reply_runs, reply_json) = columns(&replies)?;
        let holder = transition.holder();
        let claim = holder.map(|h| h.id.clone());
        let ttl = holder.map(|h| h.ttl.as_secs_f64());
        let limit = start_limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let write = if limit.is_some() { START } else { TRANSITION };
        // What this process last wrote of the run, if anything: then no read is needed
        // unless the write finds the row changed.
        let mut expected = self
            .expected
            .take(transition.thread_id(), transition.run_id());
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            // Whether `stored` is the row as read now, or only what this process expects.
            let (stored, read_now) = match expected.take() {
                Some(stored) => (stored, false),
                None => {
                    let client = self.client().await?;
                    let row = Self::query_row(
                        &client,
                        "SELECT json, lease_owner FROM aitp_runs WHERE thread_id = $1 AND id = $2",
                        &[&transition.thread_id(), &transition.run_id()],
                    )
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    let stored = Stored {
                        json: row.try_get(0).map_err(backend)?,
                        owner: row.try_get(1).map_err(backend)?,
                    };
                    (stored, true)
                }
            };
            let (seen, owner) = (stored.json.as_str(), stored.owner.as_deref());
            let mut run: Run = serde_json::from_str(seen).map_err(backend)?;
            let mut refused = transition.apply(&mut run).err();
            // Fenced: a replica whose lease another took over changes nothing.
            if let (Some(holder), Some(owner)) = (holder, owner) {
                if owner != holder.id {
                    refused.get_or_insert(StoreError::LeaseLost);
                }
            }
            if let Some(refused) = refused {
                // Only what the row holds now may refuse; an expectation is checked first.
                if read_now {
                    return Err(refused);
                }
                continue;
            }
            // A holder's transition claims (or keeps) the lease; an end releases it.
            let release = run.status.is_terminal();
            let payload = self.announcement(&run);
            let json = to_json(&run)?;
            let mut params: Vec<batch::Param> = vec![
                Box::new(run.thread_id.clone()),
                Box::new(run.id.clone()),
                Box::new(stored.json.clone()),
                Box::new(stored.owner.clone()),
                Box::new(run.status.as_str().to_owned()),
                Box::new(json.clone()),
                Box::new(claim.clone()),
                Box::new(release),
                Box::new(ttl),
                Box::new(answered_up_to.clone()),
                Box::new(reply_ids.clone()),
                Box::new(reply_runs.clone()),
                Box::new(reply_json.clone()),
                Box::new(CHANNEL),
                Box::new(payload),
            ];
            if let Some(limit) = limit {
                params.push(Box::new(limit));
            }
            let mut rows = self
                .batch
                .query(&run.thread_id, write, params)
                .await
                .map_err(|f| f.into_store(|e| insert_error(e, "a reply of run", &run.id)))?;
            if let Some(row) = rows.pop() {
                if !release {
                    let owner = claim.clone().or(stored.owner);
                    self.expected
                        .put(&run.thread_id, &run.id, Stored { json, owner });
                }
                let read = limit.map(|_| row);
                return Ok((Transitioned::new(run, replies), read));
            }
            // The run changed between the read and the write (a cancel, a takeover, new
            // metadata): nothing was written; decide again on what it is now.
        }
        let done = self
            .transition_locked(transition, replies, answered_up_to)
            .await?;
        Ok((done, None))
    }
}

impl ThreadStore for PgStore {
    async fn create_thread(
        &self,
        owner: &Principal,
        thread: Thread,
        messages: Vec<Message>,
    ) -> StoreResult<()> {
        let json = to_json(&thread)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let n = Self::execute(
            &tx,
            "INSERT INTO aitp_threads (id, owner, json) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO NOTHING",
            &[&thread.id, &owner.as_str(), &json],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::Conflict(format!("thread {} exists", thread.id)));
        }
        Self::insert_messages(&tx, &thread.id, &messages).await?;
        tx.commit().await.map_err(backend)?;
        self.owners.put(owner.as_str(), &thread.id);
        Ok(())
    }

    async fn thread(&self, owner: &Principal, id: &str) -> StoreResult<Option<Thread>> {
        let client = self.client().await?;
        let thread: Option<Thread> = Self::json_row(
            &client,
            "SELECT json FROM aitp_threads WHERE id = $1 AND owner = $2",
            &[&id, &owner.as_str()],
        )
        .await?;
        if thread.is_some() {
            self.owners.put(owner.as_str(), id);
        }
        Ok(thread)
    }

    /// Answered from memory once this process has seen the thread is `owner`'s (the
    /// `owners` module says why a thread deleted by another replica is safe to say yes to).
    async fn owns(&self, owner: &Principal, id: &str) -> StoreResult<bool> {
        if self.owners.owns(owner.as_str(), id) {
            return Ok(true);
        }
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT 1 FROM aitp_threads WHERE id = $1 AND owner = $2")
            .await
            .map_err(backend)?;
        let row = client
            .query_opt(&stmt, &[&id, &owner.as_str()])
            .await
            .map_err(backend)?;
        if row.is_some() {
            self.owners.put(owner.as_str(), id);
        }
        Ok(row.is_some())
    }

    async fn update_thread(&self, owner: &Principal, thread: Thread) -> StoreResult<()> {
        let json = to_json(&thread)?;
        let client = self.client().await?;
        let n = Self::execute(
            &client,
            "UPDATE aitp_threads SET json = $3 WHERE id = $1 AND owner = $2",
            &[&thread.id, &owner.as_str(), &json],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_thread(&self, owner: &Principal, id: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        // Messages and runs go with it (`ON DELETE CASCADE`).
        let n = Self::execute(
            &client,
            "DELETE FROM aitp_threads WHERE id = $1 AND owner = $2",
            &[&id, &owner.as_str()],
        )
        .await?;
        self.owners.forget(owner.as_str(), id);
        Ok(n > 0)
    }

    async fn append_messages(&self, thread_id: &str, messages: Vec<Message>) -> StoreResult<()> {
        let (ids, runs, json) = columns(&messages)?;
        let rows = self
            .batch
            .query(
                thread_id,
                APPEND,
                vec![
                    Box::new(thread_id.to_owned()),
                    Box::new(ids),
                    Box::new(runs),
                    Box::new(json),
                ],
            )
            .await
            .map_err(|f| f.into_store(|e| insert_error(e, "a message of thread", thread_id)))?;
        match checked(&one_row(rows)?)? {
            Checked::Missing => Err(StoreError::NotFound),
            Checked::Done => Ok(()),
            Checked::Refused(active) => Err(refused_append(thread_id, &active)),
            Checked::Changed => self.append_locked(thread_id, &messages).await,
        }
    }

    async fn message(&self, thread_id: &str, message_id: &str) -> StoreResult<Option<Message>> {
        let client = self.client().await?;
        Self::json_row(
            &client,
            "SELECT json FROM aitp_messages WHERE thread_id = $1 AND id = $2",
            &[&thread_id, &message_id],
        )
        .await
    }

    async fn set_message_metadata(
        &self,
        thread_id: &str,
        message_id: &str,
        metadata: Metadata,
    ) -> StoreResult<Option<Message>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        // The row lock keeps a concurrent update of the same message from being lost.
        let stored: Option<Message> = Self::json_row(
            &tx,
            "SELECT json FROM aitp_messages WHERE thread_id = $1 AND id = $2 FOR UPDATE",
            &[&thread_id, &message_id],
        )
        .await?;
        let Some(mut message) = stored else {
            return Ok(None);
        };
        message.metadata = metadata;
        Self::execute(
            &tx,
            "UPDATE aitp_messages SET json = $3 WHERE thread_id = $1 AND id = $2",
            &[&thread_id, &message_id, &to_json(&message)?],
        )
        .await?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(message))
    }

    async fn delete_message(&self, thread_id: &str, message_id: &str) -> StoreResult<bool> {
        // The agent's cursor is a position (`answered_seq`), not a message: deleting an
        // answered message leaves what follows it exactly as answered or unanswered as before.
        let client = self.client().await?;
        let n = Self::execute(
            &client,
            "DELETE FROM aitp_messages WHERE thread_id = $1 AND id = $2",
            &[&thread_id, &message_id],
        )
        .await?;
        Ok(n > 0)
    }

    async fn list_messages(
        &self,
        thread_id: &str,
        query: &ListQuery,
    ) -> StoreResult<Page<Message>> {
        self.list(Table::Messages, thread_id, query).await
    }

    async fn create_run(&self, run: Run) -> StoreResult<()> {
        let json = to_json(&run)?;
        let client = self.client().await?;
        let stmt = client.prepare_cached(CREATE_RUN).await.map_err(backend)?;
        let row = client
            .query_one(
                &stmt,
                &[&run.thread_id, &run.id, &run.status.as_str(), &json],
            )
            .await
            .map_err(|e| insert_error(e, "run", &run.id))?;
        match checked(&row)? {
            Checked::Missing => Err(StoreError::NotFound),
            Checked::Done => {
                self.expected
                    .put(&run.thread_id, &run.id, Stored { json, owner: None });
                Ok(())
            }
            Checked::Refused(active) => Err(refused_run(&run.thread_id, &active)),
            Checked::Changed => {
                drop(client);
                self.create_run_locked(&run, &json).await
            }
        }
    }

    async fn begin_run(
        &self,
        owner: &Principal,
        run: Run,
        holder: &Holder,
        limit: usize,
    ) -> StoreResult<Started> {
        let start = Transition::start(&run).by(holder);
        let mut started = run.clone();
        start.apply(&mut started)?;
        let json = to_json(&started)?;
        let ttl = holder.ttl.as_secs_f64();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .batch
            .query(
                &run.thread_id,
                BEGIN_RUN,
                vec![
                    Box::new(run.thread_id.clone()),
                    Box::new(run.id.clone()),
                    Box::new(started.status.as_str().to_owned()),
                    Box::new(json.clone()),
                    Box::new(holder.id.clone()),
                    Box::new(ttl),
                    Box::new(limit),
                ],
            )
            .await
            .map_err(|f| f.into_store(|e| insert_error(e, "run", &run.id)))?;
        let row = one_row(rows)?;
        match checked(&row)? {
            Checked::Missing => Err(StoreError::NotFound),
            Checked::Refused(active) => Err(refused_run(&run.thread_id, &active)),
            Checked::Changed => {
                // The way out: the run created, then started, each in its own transaction.
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                self.create_run(run).await?;
                self.start_run(owner, start, limit).await
            }
            Checked::Done => {
                self.expected.put(
                    &started.thread_id,
                    &started.id,
                    Stored {
                        json,
                        owner: Some(holder.id.clone()),
                    },
                );
                let (thread, messages) = read_started(&row, 3)?;
                Ok(Started::new(started, thread, messages))
            }
        }
    }

    async fn run(&self, thread_id: &str, run_id: &str) -> StoreResult<Option<Run>> {
        let client = self.client().await?;
        Self::json_row(
            &client,
            "SELECT json FROM aitp_runs WHERE thread_id = $1 AND id = $2",
            &[&thread_id, &run_id],
        )
        .await
    }

    async fn set_run_metadata(
        &self,
        thread_id: &str,
        run_id: &str,
        metadata: Metadata,
    ) -> StoreResult<Option<Run>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        // Locked, so a run finishing at the same moment keeps its final state: whichever
        // commits second reads what the first wrote.
        let stored: Option<Run> = Self::json_row(
            &tx,
            "SELECT json FROM aitp_runs WHERE thread_id = $1 AND id = $2 FOR UPDATE",
            &[&thread_id, &run_id],
        )
        .await?;
        let Some(mut run) = stored else {
            return Ok(None);
        };
        run.metadata = metadata;
        Self::store_run(&tx, &run).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(run))
    }

    async fn list_runs(&self, thread_id: &str, query: &ListQuery) -> StoreResult<Page<Run>> {
        self.list(Table::Runs, thread_id, query).await
    }

    async fn unanswered(&self, thread_id: &str, limit: usize) -> StoreResult<Vec<Message>> {
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let messages: Vec<Message> =
            Self::json_rows(&client, unanswered!("$2"), &[&thread_id, &limit]).await?;
        if messages.is_empty() && !Self::exists(&client, thread_id).await? {
            return Err(StoreError::NotFound);
        }
        Ok(messages)
    }

    async fn transition_run(&self, transition: Transition) -> StoreResult<Transitioned> {
        Ok(self.transition(transition, None).await?.0)
    }

    async fn start_run(
        &self,
        owner: &Principal,
        start: Transition,
        limit: usize,
    ) -> StoreResult<Started> {
        let thread_id = start.thread_id().to_owned();
        let (done, read) = self.transition(start, Some(limit)).await?;
        let (thread, messages) = match read {
            Some(row) => read_started(&row, 1)?,
            // Started by the way out, which reads nothing more.
            None => (
                self.thread(owner, &thread_id)
                    .await?
                    .ok_or(StoreError::NotFound)?,
                self.unanswered(&thread_id, limit).await?,
            ),
        };
        Ok(Started::new(done.run, thread, messages))
    }

    async fn fail_interrupted_runs(&self, now: i64) -> StoreResult<usize> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let runs: Vec<Run> = Self::json_rows(
            &tx,
            concat!(
                "SELECT json FROM aitp_runs WHERE ",
                active_runs!(),
                " FOR UPDATE"
            ),
            &[],
        )
        .await?;
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
            if Self::store_run(&tx, &run).await? {
                n += 1;
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(n)
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn renew_leases(
        &self,
        holder: &Holder,
        runs: &[(String, String)],
    ) -> StoreResult<Vec<Renewal>> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.set_leases(holder, runs, Some(holder.ttl)).await?;
        let mut held = std::collections::HashMap::new();
        for row in rows {
            let id: String = row.try_get(0).map_err(backend)?;
            let status: String = row.try_get(1).map_err(backend)?;
            held.insert(id, RunStatus::from(status));
        }
        Ok(runs
            .iter()
            .map(|(_, id)| match held.remove(id) {
                Some(status) => Renewal::Held(status),
                None => Renewal::Lost,
            })
            .collect())
    }

    async fn release_leases(
        &self,
        holder: &Holder,
        runs: &[(String, String)],
    ) -> StoreResult<usize> {
        if runs.is_empty() {
            return Ok(0);
        }
        Ok(self.set_leases(holder, runs, None).await?.len())
    }

    async fn take_over_runs(&self, holder: &Holder, limit: usize) -> StoreResult<Vec<Claimed>> {
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let client = self.client().await?;
        // One statement: the expired runs are locked as they are chosen, skipping those
        // another replica (or a transition) holds locked right now, so two replicas never
        // claim the same run; the claim commits with the statement.
        let stmt = client
            .prepare_cached(concat!(
                "WITH expired AS (
                     SELECT thread_id, id FROM aitp_runs
                     WHERE ",
                active_runs!(),
                " AND ",
                leased_runs!(),
                " AND lease_owner IS DISTINCT FROM $1
                       AND COALESCE(lease_expires, created + $2::float8 * interval '1 second')
                           < clock_timestamp()
                     LIMIT $3
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE aitp_runs r
                 SET lease_owner = $1,
                     lease_expires = clock_timestamp() + $2::float8 * interval '1 second'
                 FROM expired e, aitp_threads t
                 WHERE r.thread_id = e.thread_id AND r.id = e.id AND t.id = r.thread_id
                 RETURNING r.json, t.json, t.owner"
            ))
            .await
            .map_err(backend)?;
        let rows = client
            .query(&stmt, &[&holder.id, &holder.ttl.as_secs_f64(), &limit])
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let run: Run = from_json(row)?;
                let thread: &str = row.try_get(1).map_err(backend)?;
                let thread: Thread = serde_json::from_str(thread).map_err(backend)?;
                let owner: String = row.try_get(2).map_err(backend)?;
                Ok(Claimed::new(run, thread, Principal::new(owner)))
            })
            .collect()
    }

    async fn watch_runs(&self, on_change: OnRunChange) -> StoreResult<bool> {
        listen::spawn(self.config.clone(), on_change, Arc::clone(&self.audience))
            .await
            .map_err(backend)?;
        Ok(true)
    }
}

fn backend(e: impl Into<Box<dyn StdError + Send + Sync>>) -> StoreError {
    StoreError::Backend(e.into())
}

/// Maps a failed insert: a duplicate id is a conflict, anything else a backend failure.
fn insert_error(e: tokio_postgres::Error, what: &str, id: &str) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(format!("{what} {id} has a duplicate id"))
    } else {
        backend(e)
    }
}

fn to_json(value: &impl Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(backend)
}

/// The first column of `row`, parsed from JSON (a bad row is an error, never a panic).
fn from_json<T: DeserializeOwned>(row: &Row) -> StoreResult<T> {
    let text: &str = row.try_get(0).map_err(backend)?;
    serde_json::from_str(text).map_err(backend)
}

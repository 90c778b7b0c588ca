//! Where threads, messages and runs live: the [`ThreadStore`] trait, the in-memory
//! [`MemoryStore`], (feature `sqlite`) the durable embedded `SqliteStore`, and (feature
//! `postgres`) `PgStore`, for several server processes sharing one PostgreSQL database.
//!
//! A thread belongs to the principal that created it: reads and writes through another
//! principal find nothing. Messages are ordered by insertion (a per-thread sequence), not by
//! their second-granularity `created_at`, so cursors are exact. Each thread keeps the agent's
//! cursor — the last message a completed run answered — so a run answers exactly the messages
//! added since.

use std::future::Future;

// The list query is the wire's (`thread::ListQuery`): the server hands the client's query to
// the store as it was read. Imported here, not re-exported, so store code names it `super::`.
use crate::thread::{ListQuery, Message, Metadata, Order, Principal, Run, Thread};

pub mod lease;
mod memory;
mod page;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod transition;

pub use lease::{Claimed, Holder, OnRunChange, Renewal, RunChange};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PgOptions, PgStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use transition::{Started, Transition, Transitioned};

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The thread (or run) does not exist, or belongs to another principal.
    #[error("not found")]
    NotFound,
    /// The operation conflicts with the current state (for example a second active run).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The run is not in a state the [`Transition`] starts from (it holds the run's current
    /// status): another writer changed it first, and nothing was changed.
    #[error("the run is {}", .0.as_str())]
    RunState(crate::thread::RunStatus),
    /// The [`Transition`] was made [`by`](Transition::by) a replica that no longer holds the
    /// run's lease (another replica took the run over): nothing was changed. Only stores
    /// shared by several processes answer it (see [`lease`]).
    #[error("the run's lease is held by another replica")]
    LeaseLost,
    /// The backend failed (I/O, corruption …).
    #[error("store backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items, in the requested order.
    pub data: Vec<T>,
    /// Whether more items follow in that order (exact, not guessed from the page size).
    pub has_more: bool,
}

impl<T> Page<T> {
    /// A page.
    pub fn new(data: Vec<T>, has_more: bool) -> Self {
        Self { data, has_more }
    }
}

/// Storage of threads, messages and runs.
///
/// Every method that takes an `owner` finds only that principal's threads. Methods that take
/// only a thread id are called after an owner check. Implementations must be durable at the
/// point each future resolves (an acknowledged write survives a crash) if they claim to be
/// durable.
pub trait ThreadStore: Send + Sync + 'static {
    /// Stores a new thread owned by `owner`, with its initial messages.
    fn create_thread(
        &self,
        owner: &Principal,
        thread: Thread,
        messages: Vec<Message>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The thread, if it exists and belongs to `owner`.
    fn thread(
        &self,
        owner: &Principal,
        id: &str,
    ) -> impl Future<Output = StoreResult<Option<Thread>>> + Send;

    /// Whether the thread exists and belongs to `owner`: the check every request makes.
    /// The default reads the whole thread; stores can answer it more cheaply.
    fn owns(&self, owner: &Principal, id: &str) -> impl Future<Output = StoreResult<bool>> + Send {
        async move { Ok(self.thread(owner, id).await?.is_some()) }
    }

    /// Replaces the thread's metadata and tool resources (same id); `NotFound` if absent or
    /// not `owner`'s.
    fn update_thread(
        &self,
        owner: &Principal,
        thread: Thread,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Deletes the thread with its messages and runs; `false` if there was none of `owner`'s.
    fn delete_thread(
        &self,
        owner: &Principal,
        id: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Appends messages to a thread; `Conflict` while a run is active on it (OpenAI's rule).
    fn append_messages(
        &self,
        thread_id: &str,
        messages: Vec<Message>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// One message.
    fn message(
        &self,
        thread_id: &str,
        message_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Message>>> + Send;

    /// Replaces a message's metadata (`POST …/messages/{id}`); the message as it now is, or
    /// `None` if the thread has no such message.
    fn set_message_metadata(
        &self,
        thread_id: &str,
        message_id: &str,
        metadata: Metadata,
    ) -> impl Future<Output = StoreResult<Option<Message>>> + Send;

    /// Deletes a message (`DELETE …/messages/{id}`); `false` if the thread has no such
    /// message. The agent's cursor is unaffected: what it answered stays answered.
    fn delete_message(
        &self,
        thread_id: &str,
        message_id: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// A page of a thread's messages.
    fn list_messages(
        &self,
        thread_id: &str,
        query: &ListQuery,
    ) -> impl Future<Output = StoreResult<Page<Message>>> + Send;

    /// Stores a new run, as it is (`queued`, or already started by the default
    /// [`ThreadStore::begin_run`]); `Conflict` if another run of the thread is not terminal.
    fn create_run(&self, run: Run) -> impl Future<Output = StoreResult<()>> + Send;

    /// One run.
    fn run(
        &self,
        thread_id: &str,
        run_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Run>>> + Send;

    /// Replaces a run's metadata (`POST …/runs/{id}`), leaving the rest of its state as it
    /// is; the run as it now is, or `None` if the thread has no such run.
    fn set_run_metadata(
        &self,
        thread_id: &str,
        run_id: &str,
        metadata: Metadata,
    ) -> impl Future<Output = StoreResult<Option<Run>>> + Send;

    /// A page of a thread's runs.
    fn list_runs(
        &self,
        thread_id: &str,
        query: &ListQuery,
    ) -> impl Future<Output = StoreResult<Page<Run>>> + Send;

    /// The oldest `limit` messages after the agent's cursor that are not replies (oldest
    /// first): what the next run answers. Bounded in the query itself, so a thread with a
    /// backlog of 100,000 messages costs a run what it answers, not the whole backlog (the
    /// server passes [`Limits::run_messages`](crate::server::Limits::run_messages)).
    /// `NotFound` if there is no such thread.
    fn unanswered(
        &self,
        thread_id: &str,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<Message>>> + Send;

    /// Changes a run's status if it is in one of the states the transition starts from, in
    /// one atomic step with what the transition carries (a completion's replies and cursor
    /// move): the only way a run's status changes once it is stored ([`ThreadStore::start_run`]
    /// applies a transition too, and [`ThreadStore::begin_run`] stores a run already started).
    /// `NotFound` if the thread has no such run; [`StoreError::RunState`] (and no change) if
    /// its status is not one the transition starts from.
    fn transition_run(
        &self,
        transition: Transition,
    ) -> impl Future<Output = StoreResult<Transitioned>> + Send;

    /// Applies `start` (a [`Transition::start`]) and reads what executing the run needs: its
    /// thread (which `owner` owns) and the `limit` oldest [unanswered](ThreadStore::unanswered)
    /// messages, as they are once the start is stored. A run's execution begins with it, and
    /// the store may do it in one round trip (`PgStore` does: one statement, where the
    /// default makes three calls). Fails as [`ThreadStore::transition_run`] does, and with
    /// `NotFound` if the thread is gone; the start may then have been stored (the default's
    /// reads come after it), so a caller that gets an error still ends the run.
    fn start_run(
        &self,
        owner: &Principal,
        start: Transition,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Started>> + Send {
        async move {
            let thread_id = start.thread_id().to_owned();
            let started = self.transition_run(start).await?.run;
            let thread = self
                .thread(owner, &thread_id)
                .await?
                .ok_or(StoreError::NotFound)?;
            let messages = self.unanswered(&thread_id, limit).await?;
            Ok(Started::new(started, thread, messages))
        }
    }

    /// Creates `run` (`queued`, in a thread `owner` owns) and starts it at once for `holder`,
    /// who executes it now: what [`ThreadStore::create_run`] then [`ThreadStore::start_run`]
    /// (with `Transition::start(&run).by(holder)`) do, in fewer steps where the store can.
    /// The default makes those two calls on a [shared](ThreadStore::is_shared) store (where
    /// the start claims the lease); on another, which leases nothing, it creates the run
    /// already started (one write) and then reads. `PgStore` does it in one statement, the
    /// run stored started and leased. The messages
    /// it answers are those appended before it was created: one appended at the same moment
    /// by a request that did not wait for the run's creation (nor the run's for it) may be
    /// left to the next run. Fails as `create_run` does; once the run is stored, as
    /// `start_run` does.
    fn begin_run(
        &self,
        owner: &Principal,
        run: Run,
        holder: &Holder,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Started>> + Send {
        async move {
            let start = Transition::start(&run).by(holder);
            if self.is_shared() {
                self.create_run(run).await?;
                return self.start_run(owner, start, limit).await;
            }
            let mut started = run;
            start.apply(&mut started)?;
            self.create_run(started.clone()).await?;
            let thread = self
                .thread(owner, &started.thread_id)
                .await?
                .ok_or(StoreError::NotFound)?;
            let messages = self.unanswered(&started.thread_id, limit).await?;
            Ok(Started::new(started, thread, messages))
        }
    }

    /// Marks every run left `queued` or `in_progress` (by a crash) as `failed` with a
    /// `last_error`, at time `now`; returns how many. Called at start-up by a server on a store
    /// that is not [shared](ThreadStore::is_shared).
    fn fail_interrupted_runs(&self, now: i64) -> impl Future<Output = StoreResult<usize>> + Send;

    // The methods below are for stores that several processes share (see [`lease`]). Their
    // defaults are what a single-process store means: nothing is shared, so a server fails
    // the runs a crash interrupted at start-up instead of taking them over.

    /// Whether several server processes may share this store at once (default `false`).
    /// A server on a shared store leases the runs it executes and takes over the runs of
    /// replicas that died, instead of failing every unfinished run at start-up (which would
    /// fail other replicas' live runs).
    fn is_shared(&self) -> bool {
        false
    }

    /// Extends the leases `holder` holds on `runs` (each `(thread_id, run_id)`) by its `ttl`;
    /// answers, in the same order, whether each is still held and its current status. Only
    /// called on a [shared](ThreadStore::is_shared) store (the default holds no lease: every
    /// run is [`Renewal::Lost`]).
    fn renew_leases(
        &self,
        holder: &Holder,
        runs: &[(String, String)],
    ) -> impl Future<Output = StoreResult<Vec<Renewal>>> + Send {
        let _ = holder;
        let lost = vec![Renewal::Lost; runs.len()];
        async move { Ok(lost) }
    }

    /// Claims for `holder` (until its `ttl` from now) up to `limit` unfinished runs
    /// (`queued`, `in_progress`, `cancelling`) whose lease expired or that were never leased
    /// within a `ttl` of their creation, and that other replicas are not claiming at the same
    /// moment: the runs of a replica that died, for this one to finish. Never claims a run
    /// `holder` itself leased. Only called on a [shared](ThreadStore::is_shared) store (the
    /// default claims nothing).
    fn take_over_runs(
        &self,
        holder: &Holder,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<Claimed>>> + Send {
        let _ = (holder, limit);
        async { Ok(Vec::new()) }
    }

    /// Gives up `holder`'s leases on `runs` (each `(thread_id, run_id)`) as if they had
    /// expired, so that another replica takes them over at its next look instead of waiting
    /// out the lease: what a replica shutting down does with the runs it could not finish. A
    /// released run stays `holder`'s until it is taken over (a transition `holder` still
    /// makes meanwhile is applied, as with an expired lease). Answers how many leases were
    /// given up. Only called on a [shared](ThreadStore::is_shared) store (the default gives
    /// up none: there are no leases).
    fn release_leases(
        &self,
        holder: &Holder,
        runs: &[(String, String)],
    ) -> impl Future<Output = StoreResult<usize>> + Send {
        let _ = (holder, runs);
        async { Ok(0) }
    }

    /// Calls `on_change` (from a task of its own) with every change of a run's status that
    /// any process sharing the store makes (a start, which nobody waits for, may go
    /// unannounced; so may changes made while no other process watched, or just after one
    /// began to), as a hint: changes may be missed (a lost
    /// connection) or arrive late, so whoever waits for one also reads the store now and
    /// then. Resolves once changes made from then on are heard, answering whether they will
    /// be announced at all (the default: `false`, there is nobody else to hear from).
    fn watch_runs(&self, on_change: OnRunChange) -> impl Future<Output = StoreResult<bool>> + Send {
        drop(on_change);
        async { Ok(false) }
    }
}

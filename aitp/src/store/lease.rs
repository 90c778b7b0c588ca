//! Leases: how several server processes (replicas) sharing one store agree on who executes a
//! run, and learn of each other's changes.
//!
//! Only a store that several processes share needs this (`PgStore`); a single-process store
//! (`MemoryStore`, `SqliteStore`, a store of yours) implements nothing of it: the
//! [`ThreadStore`](super::ThreadStore) methods that use these types have defaults that say
//! "not shared", and a server on such a store fails the runs a crash interrupted at start-up
//! instead.
//!
//! On a shared store a run is executed by one replica at a time, the holder of its lease:
//!
//! - the replica that accepts a run claims it with the `start` [`Transition`](super::Transition)
//!   made [`by`](super::Transition::by) its [`Holder`];
//! - while it executes, it renews the lease ([`ThreadStore::renew_leases`](super::ThreadStore::renew_leases))
//!   well before it expires, and learns there whether the run was asked to cancel;
//! - its terminal transitions are fenced by the lease: once another replica took the run
//!   over, they are refused with [`StoreError::LeaseLost`](super::StoreError::LeaseLost), so a
//!   replica that lost its lease never commits replies;
//! - every replica periodically takes over runs whose lease expired
//!   ([`ThreadStore::take_over_runs`](super::ThreadStore::take_over_runs)) and executes them
//!   itself: the handler may then be called again for a run whose replica died, but its
//!   replies are committed once (a completion applies only to an `in_progress` run);
//! - a replica shutting down gives up the leases of the runs it could not finish in time
//!   ([`ThreadStore::release_leases`](super::ThreadStore::release_leases)), so that they are
//!   taken over at once rather than once the leases expire;
//! - every transition but a start is announced, while other replicas listen
//!   ([`ThreadStore::watch_runs`](super::ThreadStore::watch_runs)),
//!   as a hint that wakes polls held on other replicas and tells the executing replica of a
//!   cancel at once. Announcements can be lost; the store stays the truth.

use std::time::Duration;

use crate::thread::{Principal, Run, RunStatus, Thread};

/// A replica claiming runs: its id (unique among the processes sharing the store) and how
/// long its leases last without renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Holder {
    /// The replica's id, stored as the lease owner.
    pub id: String,
    /// How long a claimed or renewed lease lasts.
    pub ttl: Duration,
}

impl Holder {
    /// A replica `id` whose leases last `ttl`.
    pub fn new(id: impl Into<String>, ttl: Duration) -> Self {
        Self { id: id.into(), ttl }
    }

    /// A fresh id for this process: its pid and 48 random bits (from the standard
    /// library's randomly keyed hasher), unique among replicas and across restarts, and short
    /// enough to read in the database.
    pub fn unique_id() -> String {
        use std::hash::{BuildHasher, Hasher};
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        format!(
            "replica-{}-{:012x}",
            std::process::id(),
            random & 0xffff_ffff_ffff
        )
    }
}

/// A run whose expired lease this replica took over, with what executing it needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Claimed {
    /// The run as stored (`queued`, `in_progress` or `cancelling`).
    pub run: Run,
    /// Its thread.
    pub thread: Thread,
    /// The thread's owner, on whose behalf the run executes.
    pub owner: Principal,
}

impl Claimed {
    /// A claimed run.
    pub fn new(run: Run, thread: Thread, owner: Principal) -> Self {
        Self { run, thread, owner }
    }
}

/// A run's state as a renewal found it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Renewal {
    /// The lease is this replica's and was extended; the run's current status (`cancelling`
    /// means a client asked to cancel, on whatever replica).
    Held(RunStatus),
    /// The lease is not this replica's any more (another took the run over) or the run is
    /// gone or ended: stop executing it.
    Lost,
}

/// A run changed status (announced by the store of another process, or of this one).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunChange {
    /// The run's thread.
    pub thread_id: String,
    /// The run.
    pub run_id: String,
    /// Its new status.
    pub status: RunStatus,
}

impl RunChange {
    /// A change of `run_id` to `status`.
    pub fn new(thread_id: impl Into<String>, run_id: impl Into<String>, status: RunStatus) -> Self {
        Self {
            thread_id: thread_id.into(),
            run_id: run_id.into(),
            status,
        }
    }
}

/// What [`ThreadStore::watch_runs`](super::ThreadStore::watch_runs) calls with each change it
/// hears of; answering `false` stops the watch (the server that asked is gone).
pub type OnRunChange = Box<dyn Fn(RunChange) -> bool + Send + Sync>;

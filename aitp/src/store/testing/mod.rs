//! The [`ThreadStore`] contract as a test kit: what every store must do, written once, so
//! that [`MemoryStore`](super::MemoryStore), `SqliteStore`, the PostgreSQL store or a store
//! of yours proves itself with one line (feature `testing`).
//!
//! [`contract!`] expands to one `#[test]` per case of the contract, each on a fresh store.
//! A set-up that returns `None` skips the case (see [`Setup`]): the PostgreSQL harness
//! [`TempPostgres`] does when PostgreSQL is not installed.
//! Each case is also a public async function here (generic over the store), for a harness
//! of your own. The cases check what a server relies on: owner scoping, exact insertion order
//! and `has_more`, OpenAI's cursors in both orders, the one-active-run rule, the run state
//! machine (conditional transitions, a cancel racing a completion), the agent's
//! cursor moved atomically with a run's replies, failing interrupted runs at start-up, unknown
//! fields and exact numbers surviving, and concurrent writers.
//!
//! The kit builds its own tokio runtime (multi-threaded, two workers) for each case, so the
//! crate using it needs no tokio macros; the cases spawn tasks on it.
//!
//! ```toml
//! [dev-dependencies]
//! aitp-sdk = { version = "0.1", features = ["testing"] }
//! ```
//!
//! ```
//! use aitp::store::{MemoryStore, testing::contract};
//!
//! // The expression makes `(store, guard)` for each case, in an async context (it may
//! // `.await`); the guard lives until the case ends (a temporary directory, a server).
//! contract!((MemoryStore::new(), ()));
//! # fn main() {}
//! ```
//!
//! Stores that need an async set-up, in a module of their own:
//!
//! ```
//! mod my_store {
//!     use aitp::store::{MemoryStore, testing::contract};
//!
//!     /// Starts what the store needs; returns it with what must outlive it.
//!     async fn start() -> (MemoryStore, ()) {
//!         (MemoryStore::new(), ())
//!     }
//!
//!     contract!(start().await);
//! }
//! # fn main() {}
//! ```

use std::future::Future;

use super::ThreadStore;

mod cases;
#[cfg(feature = "signing")]
mod ledger;
#[cfg(unix)]
mod postgres;

pub use cases::*;
#[cfg(feature = "signing")]
pub use ledger::ledger_contract;
#[cfg(unix)]
pub use postgres::{REQUIRE_VAR, TempPostgres};

/// What the expression given to [`contract!`] evaluates to: the store under test with what
/// must outlive it (a temporary directory, a database server), or nothing when the case
/// cannot run here and is skipped (the set-up prints why).
pub trait Setup {
    /// The store under test.
    type Store: ThreadStore;
    /// Kept until the case ends, then dropped.
    type Guard;

    /// The store and its guard; `None` to skip the case.
    fn into_parts(self) -> Option<(Self::Store, Self::Guard)>;
}

impl<S: ThreadStore, G> Setup for (S, G) {
    type Store = S;
    type Guard = G;

    fn into_parts(self) -> Option<(S, G)> {
        Some(self)
    }
}

impl<S: ThreadStore, G> Setup for Option<(S, G)> {
    type Store = S;
    type Guard = G;

    fn into_parts(self) -> Option<(S, G)> {
        self
    }
}

/// Runs one case on a fresh tokio runtime: `setup` makes the store, and its guard is
/// dropped once the case is over. What [`contract!`] expands to; not for direct use.
#[doc(hidden)]
pub fn __run<T, C>(setup: impl Future<Output = T>, case: impl FnOnce(T::Store) -> C)
where
    T: Setup,
    C: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the store contract");
    runtime.block_on(async {
        let Some((store, guard)) = setup.await.into_parts() else {
            return;
        };
        case(store).await;
        drop(guard);
    });
}

/// The whole store contract as tests: one `#[test]` per case, named after the case, each on
/// the store its argument makes.
///
/// The argument is an expression of a [`Setup`] type: `(S, G)` where `S` is the
/// [`ThreadStore`] under test and `G` anything that must live until the case ends (`()` if
/// nothing), or `Option<(S, G)>` to skip the case with `None`. It is evaluated in an async
/// context for each case, so it may `.await` (`contract!(start().await)`). Use the macro once
/// per module: the tests take the cases' names.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_contract {
    ($make:expr) => {
        $crate::__store_contract!(@cases $make;
            thread_crud, owner_isolation, missing_thread, messages_pagination,
            message_lookup_and_run_filter, started_runs, start_reads_thread_and_messages,
            begin_creates_and_starts,
            run_transitions,
            cancel_races_completion, run_conflicts, unanswered_and_cursor, unanswered_is_bounded,
            fail_interrupted_runs, unknown_fields_survive, concurrent_use, modify_and_delete);
    };
    (@cases $make:expr; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                $crate::store::testing::__run(
                    async { $make },
                    $crate::store::testing::$name,
                );
            }
        )*
    };
}

#[doc(inline)]
pub use crate::__store_contract as contract;

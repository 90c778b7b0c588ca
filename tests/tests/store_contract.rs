//! The store contract kit used as a user of the crate would: from outside it, with the
//! `testing` feature, on the stores it ships (PostgreSQL on a cluster the tests start). (The crate runs the same kit on its own setups;
//! this proves the macro and the cases work through the public API alone.)

use aitp::store::{
    MemoryStore, PgStore, SqliteOptions, SqliteStore,
    testing::{TempPostgres, contract},
};
use tempfile::TempDir;

mod memory {
    use super::*;

    contract!((MemoryStore::new(), ()));
}

/// A store in a temporary directory, removed (with the WAL) after the case.
async fn sqlite_file(options: SqliteOptions) -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = options
        .open(dir.path().join("threads.db"))
        .expect("open the store");
    (store, dir)
}

mod sqlite {
    use super::*;

    contract!(sqlite_file(SqliteOptions::new()).await);
}

mod sqlite_uncached {
    use super::*;

    contract!(sqlite_file(SqliteOptions::new().cache(0).readers(1)).await);
}

/// A store on a fresh database of a throwaway cluster (one per test process); `None` skips
/// the case when PostgreSQL is not installed (unless `AITP_REQUIRE_POSTGRES` is set).
async fn postgres() -> Option<(PgStore, ())> {
    let config = TempPostgres::shared()?.database();
    let store = PgStore::connect(&config)
        .await
        .expect("connect to PostgreSQL");
    Some((store, ()))
}

mod postgres {
    use super::*;

    contract!(postgres().await);
}

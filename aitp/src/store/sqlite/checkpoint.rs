//! Checkpoints off the writer's thread.
//!
//! In WAL mode every commit appends pages to the `-wal` file, and a checkpoint copies them back
//! into the database file (and flushes both). SQLite's own automatic checkpoint runs inside the
//! commit that crosses 1000 pages, so that commit, and every write queued behind it, waits for
//! the whole copy. Here the writer's WAL hook only asks a thread of its own to checkpoint
//! (`PASSIVE`: it never blocks the writer), and commits go on meanwhile.
//!
//! A passive checkpoint cannot copy what is committed while it runs, and SQLite starts the log
//! over only once every page in it was copied. So after each background checkpoint the writer
//! copies that small rest itself, at its next commit; its next transaction then starts the log
//! from the beginning, and the `-wal` file stops growing. Should the background thread fall far
//! behind (or fail), the writer checkpoints itself past [`LIMIT`] times the usual size.

use std::{
    ffi::c_int,
    path::Path,
    sync::{Arc, Condvar, Mutex as StdMutex},
    thread::JoinHandle,
    time::Duration,
};

use rusqlite::{Connection, OpenFlags, hooks::Wal, wal::CheckpointMode};

use super::{Synchronous, backend, configure, lock};
use crate::store::StoreResult;

/// Pages in the log at which a background checkpoint starts: about 16 MiB of 4 KiB pages.
/// Four times SQLite's default, because a page written again and again (the end of a table,
/// a busy thread's index page) is copied once per checkpoint, not once per commit.
pub(super) const START_PAGES: c_int = 4000;

/// Pages in the log past which the writer checkpoints itself, as many times [`START_PAGES`].
const LIMIT: c_int = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Wanted,
    Running,
    /// A background checkpoint finished: the writer copies the rest.
    Finished,
    Stop,
}

struct Shared {
    phase: StdMutex<Phase>,
    wake: Condvar,
}

/// The checkpoint thread and its connection to the file.
pub(super) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    start_pages: c_int,
}

impl Checkpointer {
    /// Opens a connection to `path` and starts the thread, which checkpoints each time the log
    /// reaches `start_pages` pages.
    pub(super) fn start(
        path: &Path,
        synchronous: Synchronous,
        busy_timeout: Duration,
        start_pages: c_int,
    ) -> StoreResult<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
        configure(&conn, busy_timeout)?;
        // The checkpoint flushes as the commits do.
        conn.pragma_update(None, "synchronous", synchronous.pragma())
            .map_err(backend)?;
        let shared = Arc::new(Shared {
            phase: StdMutex::new(Phase::Idle),
            wake: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("aitp-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &theirs))
            .map_err(backend)?;
        Ok(Self {
            shared,
            thread: Some(thread),
            start_pages,
        })
    }

    /// The writer's WAL hook: called after each commit with the pages now in the log.
    pub(super) fn hook(
        &self,
    ) -> impl FnMut(&mut Wal, c_int) -> rusqlite::Result<()> + Send + 'static {
        let shared = Arc::clone(&self.shared);
        let start = self.start_pages;
        let limit = start.saturating_mul(LIMIT);
        move |wal, pages| {
            let mut phase = lock(&shared.phase);
            let own = match *phase {
                Phase::Finished => {
                    *phase = Phase::Idle;
                    true
                }
                Phase::Idle if pages >= start => {
                    *phase = Phase::Wanted;
                    shared.wake.notify_one();
                    false
                }
                _ => pages >= limit,
            };
            drop(phase);
            if own {
                // The commit has happened whatever this says: an error here must not fail it.
                if let Err(e) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                    warn(&e);
                }
            }
            Ok(())
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        *lock(&self.shared.phase) = Phase::Stop;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: &Connection, shared: &Shared) {
    loop {
        let mut phase = lock(&shared.phase);
        while !matches!(*phase, Phase::Wanted | Phase::Stop) {
            phase = shared.wake.wait(phase).unwrap_or_else(|e| e.into_inner());
        }
        if *phase == Phase::Stop {
            return;
        }
        *phase = Phase::Running;
        drop(phase);
        if let Err(e) = conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            warn(&e);
        }
        let mut phase = lock(&shared.phase);
        if *phase == Phase::Running {
            *phase = Phase::Finished;
        }
    }
}

fn warn(e: &rusqlite::Error) {
    // Busy: another checkpoint is running (the writer's and the thread's met); it does the work.
    if e.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) {
        tracing::warn!(error = %e, "SQLite checkpoint failed; the next one will retry");
    }
}

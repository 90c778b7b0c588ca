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
//! copies that small rest itself, between two batches (once the batch that committed is
//! answered); its next transaction then starts the log from the beginning, and the `-wal` file
//! stops growing.
//!
//! The bound does not depend on the background thread being scheduled. Once the log reaches
//! [`LIMIT`] times the usual size, the writer stops committing until the log is copied: it
//! waits for a background checkpoint under way to end (SQLite lets one checkpoint run at a
//! time; trying beside it only fails with "busy"), takes over one the thread has not started
//! yet, and then checkpoints in `RESTART` mode, which also waits for readers still reading the
//! old log, so that its next commit starts the log over. The `-wal` file therefore never holds
//! more than `LIMIT × start pages`, plus the pages of one commit. Only a reader holding a
//! transaction open past the busy timeout can defeat it, and then the next commit tries again.

use std::{
    ffi::c_int,
    panic::{AssertUnwindSafe, catch_unwind},
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
    /// Wakes the thread for a checkpoint (or to stop).
    wake: Condvar,
    /// Wakes a writer waiting at the limit when a background checkpoint ends.
    done: Condvar,
}

/// The checkpoint thread and its connection to the file.
pub(super) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    start_pages: c_int,
}

impl Checkpointer {
    /// Opens a connection to `path` and starts the thread, which checkpoints each time the log
    /// reaches `start_pages` pages. Without `background`, no thread is started, as if it were
    /// never scheduled: tests see the writer bound the log alone.
    pub(super) fn start(
        path: &Path,
        synchronous: Synchronous,
        busy_timeout: Duration,
        start_pages: c_int,
        background: bool,
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
            done: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        let thread = background
            .then(|| {
                std::thread::Builder::new()
                    .name("aitp-sqlite-checkpoint".into())
                    .spawn(move || run(&conn, &theirs))
            })
            .transpose()
            .map_err(backend)?;
        Ok(Self {
            shared,
            thread,
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
            // Past the limit the writer copies the log itself before it commits again,
            // whatever the thread is doing.
            let mode = if pages >= limit {
                // One checkpoint at a time: let the thread's end rather than fail beside it.
                while *phase == Phase::Running {
                    phase = shared.done.wait(phase).unwrap_or_else(|e| e.into_inner());
                }
                // A checkpoint wanted but not started yet is this one.
                if matches!(*phase, Phase::Wanted | Phase::Finished) {
                    *phase = Phase::Idle;
                }
                Some(CheckpointMode::RESTART)
            } else {
                match *phase {
                    // The rest is the writer's to copy after this batch is answered (`rest`).
                    Phase::Idle if pages >= start => {
                        *phase = Phase::Wanted;
                        shared.wake.notify_one();
                        None
                    }
                    _ => None,
                }
            };
            drop(phase);
            if let Some(mode) = mode {
                // The commit has happened whatever this says: an error here must not fail it.
                if let Err(e) = wal.checkpoint_v2(mode) {
                    warn(&e);
                }
            }
            Ok(())
        }
    }

    /// What the writer calls between two batches: copies the rest of the log that a background
    /// checkpoint left, if one finished since, so that the next transaction starts the log
    /// over. Called after the batch that committed is answered, not in its commit's hook: the
    /// copy flushes both files, 5 to 10 ms on the machine measured, three times a second at 64
    /// conversations, and every write waiting for it added to the tail of latency.
    pub(super) fn rest(&self) -> impl Fn(&Connection) + Send + 'static {
        let shared = Arc::clone(&self.shared);
        move |conn| {
            let finished = {
                let mut phase = lock(&shared.phase);
                let finished = *phase == Phase::Finished;
                if finished {
                    *phase = Phase::Idle;
                }
                finished
            };
            if finished {
                if let Err(e) = conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
                    warn(&e);
                }
            }
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
        checkpoint(conn, shared);
    }
}

/// One background checkpoint, then the rest is the writer's.
fn checkpoint(conn: &Connection, shared: &Shared) {
    // A writer may be waiting for this checkpoint to end: it ends, even if SQLite panics.
    let done = catch_unwind(AssertUnwindSafe(|| {
        conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE)
    }));
    match done {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => warn(&e),
        Err(_) => tracing::warn!("the SQLite checkpoint panicked; the next one will retry"),
    }
    // What was committed while it copied is not on disk yet: flushed here, the writer's copy
    // of the rest flushes only what comes after.
    if let Some(path) = conn.path() {
        let wal = format!("{path}-wal");
        if let Err(e) = std::fs::File::open(wal).and_then(|f| f.sync_data()) {
            tracing::warn!(error = %e, "flushing the SQLite log failed");
        }
    }
    let mut phase = lock(&shared.phase);
    if *phase == Phase::Running {
        *phase = Phase::Finished;
    }
    shared.done.notify_all();
}

fn warn(e: &rusqlite::Error) {
    // Busy: another process checkpoints, or a reader outlasted the busy timeout; the next
    // commit past the limit tries again.
    if e.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) {
        tracing::warn!(error = %e, "SQLite checkpoint failed; the next one will retry");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI32, Ordering};

    use super::{super::tests::TempDb, *};

    #[test]
    fn the_writer_starts_the_log_over_after_a_background_checkpoint() {
        let file = TempDb::new();
        let mut writer = Connection::open(file.path()).unwrap();
        let _: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        writer
            .execute_batch("CREATE TABLE t (x BLOB NOT NULL)")
            .unwrap();
        // No thread: this test plays it, at the moments it chooses.
        let start = 16;
        let checkpointer = Checkpointer::start(
            file.path(),
            Synchronous::Normal,
            Duration::from_secs(5),
            start,
            false,
        )
        .unwrap();
        let pages = Arc::new(AtomicI32::new(0));
        let seen = Arc::clone(&pages);
        let mut hook = checkpointer.hook();
        writer
            .wal_hook(Some(move |wal: &mut Wal, n: c_int| {
                seen.store(n, Ordering::SeqCst);
                hook(wal, n)
            }))
            .unwrap();
        let rest = checkpointer.rest();
        let write = || {
            writer
                .execute("INSERT INTO t (x) VALUES (zeroblob(3000))", [])
                .unwrap();
        };
        let phase = || *lock(&checkpointer.shared.phase);
        while pages.load(Ordering::SeqCst) < start {
            write();
        }
        assert_eq!(phase(), Phase::Wanted);
        // The background checkpoint, from a connection of its own; then more commits.
        let background = Connection::open(file.path()).unwrap();
        *lock(&checkpointer.shared.phase) = Phase::Running;
        checkpoint(&background, &checkpointer.shared);
        assert_eq!(phase(), Phase::Finished);
        let before = pages.load(Ordering::SeqCst);
        write();
        write();
        // Those commits went on at the end of the log: the hook no longer copies the rest.
        assert!(pages.load(Ordering::SeqCst) > before);
        assert_eq!(phase(), Phase::Finished);
        // The writer copies it between two batches; its next commit starts the log over.
        rest(&writer);
        assert_eq!(phase(), Phase::Idle);
        write();
        let after = pages.load(Ordering::SeqCst);
        assert!(
            after < before,
            "the log holds {after} pages, {before} before"
        );
        // Nothing left to copy: a second call does nothing.
        rest(&writer);
        assert_eq!(phase(), Phase::Idle);
    }
}

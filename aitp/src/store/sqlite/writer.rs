//! The writer: one thread owning the write connection, committing operations in groups.
//!
//! Operations queue on a channel. The thread takes all that are waiting (up to
//! [`MAX_BATCH`]), runs each in its own savepoint inside one transaction, commits once, then
//! updates the cache and answers each caller. Under load many writes share one commit (one
//! pass over the WAL, each touched page written once, one flush with `synchronous=FULL`);
//! alone, an operation is committed at once. A caller is answered only after the commit: an
//! acknowledged write is durable.
//!
//! While the previous commit had company, the writer yields its core once before taking the
//! queue: a thread that submits writes may be waiting for that same core (a server on one core,
//! or more busy threads than cores), and letting it run first means its writes join this
//! commit instead of each waking the writer for a commit of its own. Alone, there is no yield,
//! and nothing waits.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, Mutex as StdMutex, mpsc},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{
    backend,
    cache::{Cache, Change},
    checkpoint::Checkpointer,
    lock, thread_index,
};
use crate::store::{StoreError, StoreResult};

/// Most operations committed together.
const MAX_BATCH: usize = 256;

/// An operation queued for the writer.
pub(super) trait Job: Send {
    /// Runs the operation inside the batch's transaction (in its own savepoint); whether it
    /// succeeded (if not, its savepoint is rolled back).
    fn run(&mut self, conn: &Connection) -> bool;

    /// Answers the caller once the batch is over: `Ok` if it was committed, else why not.
    fn finish(self: Box<Self>, commit: Result<(), &str>);
}

/// An operation `f` whose result goes back to an async caller.
pub(super) struct Op<T, F> {
    f: Option<F>,
    out: Option<StoreResult<T>>,
    changes: Vec<Change>,
    reply: oneshot::Sender<StoreResult<T>>,
    cache: Arc<StdMutex<Cache>>,
}

impl<T, F> Op<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &mut Vec<Change>) -> StoreResult<T> + Send + 'static,
{
    /// The operation as a job, and where its result will arrive.
    pub(super) fn job(
        f: F,
        cache: Arc<StdMutex<Cache>>,
    ) -> (Box<dyn Job>, oneshot::Receiver<StoreResult<T>>) {
        let (reply, rx) = oneshot::channel();
        let op = Self {
            f: Some(f),
            out: None,
            changes: Vec::new(),
            reply,
            cache,
        };
        (Box::new(op), rx)
    }
}

impl<T, F> Job for Op<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &mut Vec<Change>) -> StoreResult<T> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let changes = &mut self.changes;
        // A panicking operation fails alone; the writer and the other operations go on.
        let out = catch_unwind(AssertUnwindSafe(|| f(conn, changes)))
            .unwrap_or_else(|_| Err(backend("a store operation panicked")));
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), &str>) {
        let out = match (self.out, commit) {
            (Some(Ok(value)), Ok(())) => {
                lock(&self.cache).apply(self.changes);
                Ok(value)
            }
            // Its own failure says more than the batch's.
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(StoreError::Backend(
                format!("the transaction failed: {e}").into(),
            )),
            (None, Ok(())) => Err(backend("the operation did not run")),
        };
        // The caller may have gone away (a dropped future); the write stands.
        let _ = self.reply.send(out);
    }
}

/// The writer thread and its queue.
pub(super) struct Writer {
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    /// Stopped after the writer, which calls on it.
    checkpointer: Option<Checkpointer>,
}

impl Writer {
    /// Starts the thread that owns `conn` (whose WAL hook, if any, calls `checkpointer`), which
    /// indexes new rows by thread every `index_interval` while it has work.
    pub(super) fn start(
        conn: Connection,
        checkpointer: Option<Checkpointer>,
        index_interval: Duration,
    ) -> StoreResult<Self> {
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        let thread = std::thread::Builder::new()
            .name("aitp-sqlite-writer".into())
            .spawn(move || {
                let mut busy = false;
                let mut indexed = Instant::now();
                while let Ok(first) = jobs.recv() {
                    if busy {
                        std::thread::yield_now();
                    }
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match jobs.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    busy = batch.len() > 1;
                    let index = indexed.elapsed() >= index_interval;
                    if index {
                        indexed = Instant::now();
                    }
                    run_batch(&conn, batch, index);
                }
                // All senders are gone: the store was dropped; `conn` closes here.
            })
            .map_err(backend)?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
            checkpointer,
        })
    }

    /// Queues `job`.
    pub(super) fn submit(&self, job: Box<dyn Job>) -> StoreResult<()> {
        self.queue
            .as_ref()
            .and_then(|q| q.send(job).ok())
            .ok_or_else(|| backend("the SQLite writer thread stopped"))
    }
}

impl Drop for Writer {
    /// Lets queued operations finish and closes the connection before returning, so the file
    /// can be reopened at once.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
        drop(self.checkpointer.take());
    }
}

/// Runs `jobs` in one transaction, each in a savepoint, then answers them. With `index`, the
/// transaction also indexes the rows added lately by thread ([`thread_index`]).
fn run_batch(conn: &Connection, mut jobs: Vec<Box<dyn Job>>, index: bool) {
    let exec = |sql: &str| super::exec(conn, sql);
    let outcome = (|| -> rusqlite::Result<()> {
        exec("BEGIN IMMEDIATE")?;
        if let [job] = jobs.as_mut_slice() {
            // Alone in its transaction, a write needs no savepoint: a failed one rolls the
            // transaction back (its error is its answer), and the upkeep gets a new one.
            if !job.run(conn) {
                exec("ROLLBACK")?;
                exec("BEGIN IMMEDIATE")?;
            }
        } else {
            for job in &mut jobs {
                exec("SAVEPOINT op")?;
                if !job.run(conn) {
                    exec("ROLLBACK TO op")?;
                }
                exec("RELEASE op")?;
            }
        }
        if index {
            exec("SAVEPOINT upkeep")?;
            // Indexing can wait for the next pass; the batch's writes must not.
            if let Err(e) = thread_index::index_new_rows(conn) {
                tracing::warn!(error = %e, "indexing new rows by thread failed; will retry");
                exec("ROLLBACK TO upkeep")?;
            }
            exec("RELEASE upkeep")?;
        }
        exec("COMMIT")?;
        Ok(())
    })();
    let error = outcome.err().map(|e| {
        if !conn.is_autocommit() {
            let _ = exec("ROLLBACK");
        }
        e.to_string()
    });
    for job in jobs {
        job.finish(error.as_deref().map_or(Ok(()), Err));
    }
}

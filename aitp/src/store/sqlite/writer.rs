//! The writer: one thread owning the write connection, committing operations in groups.
//!
//! Operations queue on a channel. The thread takes all that are waiting (up to
//! [`MAX_BATCH`]), runs them one after the other inside one transaction, commits once, then
//! updates the cache and answers each caller. A failed operation leaves no trace in the batch:
//! its writes are undone as its [`Undo`] says. Under load many writes share one commit (one
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
use tokio::{
    runtime::{Handle, RuntimeFlavor},
    sync::oneshot,
};

use super::{
    backend,
    cache::{Cache, Change},
    checkpoint::Checkpointer,
    lock, thread_index,
};
use crate::store::{StoreError, StoreResult};

/// Most operations committed together.
const MAX_BATCH: usize = 256;

/// How a failed operation's writes are undone when it shares a transaction with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Undo {
    /// By a savepoint of its own, rolled back if it fails: for an operation that may fail
    /// after it has written.
    Savepoint,
    /// By SQLite alone: the operation writes nothing before its one statement that may fail
    /// (a failed statement leaves no trace), and the writes after that one fail only if the
    /// database does. It spares a savepoint's two statements and its page copies on every
    /// write, a tenth of the server's CPU at 16 conversations (paired load runs). An operation
    /// that fails having written all the same (a broken promise, or the database failing)
    /// makes the whole batch roll back and fail: nothing half-done is committed.
    Statement,
}

impl Undo {
    /// For an operation that writes nothing before `n` inserts, each of which may fail, and
    /// nothing that may fail after them: a second insert may fail after the first has written.
    pub(super) fn for_inserts(n: usize) -> Self {
        if n <= 1 {
            Self::Statement
        } else {
            Self::Savepoint
        }
    }
}

/// An operation queued for the writer.
pub(super) trait Job: Send {
    /// How its writes are undone if it fails.
    fn undo(&self) -> Undo;

    /// Runs the operation inside the batch's transaction; whether it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;

    /// Settles the result once the batch is over (`commit`: `Ok` if it was committed, else
    /// why not), and brings the cache up to date with it.
    fn settle(&mut self, commit: Result<(), &str>);

    /// The multi-threaded runtime the caller waits in, if any.
    fn runtime(&self) -> Option<&Handle>;

    /// Sends the settled result to the caller.
    fn answer(self: Box<Self>);
}

/// An operation `f` whose result goes back to an async caller.
pub(super) struct Op<T, F> {
    f: Option<F>,
    undo: Undo,
    out: Option<StoreResult<T>>,
    changes: Vec<Change>,
    reply: oneshot::Sender<StoreResult<T>>,
    runtime: Option<Handle>,
    cache: Arc<StdMutex<Cache>>,
}

impl<T, F> Op<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &mut Vec<Change>) -> StoreResult<T> + Send + 'static,
{
    /// The operation as a job, and where its result will arrive.
    pub(super) fn job(
        undo: Undo,
        f: F,
        cache: Arc<StdMutex<Cache>>,
    ) -> (Box<dyn Job>, oneshot::Receiver<StoreResult<T>>) {
        let (reply, rx) = oneshot::channel();
        let op = Self {
            f: Some(f),
            undo,
            out: None,
            changes: Vec::new(),
            reply,
            // Not a current-thread runtime: its one thread may be the one blocked on the answer.
            runtime: Handle::try_current()
                .ok()
                .filter(|r| r.runtime_flavor() == RuntimeFlavor::MultiThread),
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
    fn undo(&self) -> Undo {
        self.undo
    }

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

    fn settle(&mut self, commit: Result<(), &str>) {
        let out = match (self.out.take(), commit) {
            (Some(Ok(value)), Ok(())) => {
                lock(&self.cache).apply(std::mem::take(&mut self.changes));
                Ok(value)
            }
            // Its own failure says more than the batch's.
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(StoreError::Backend(
                format!("the transaction failed: {e}").into(),
            )),
            (None, Ok(())) => Err(backend("the operation did not run")),
        };
        self.out = Some(out);
    }

    fn runtime(&self) -> Option<&Handle> {
        self.runtime.as_ref()
    }

    fn answer(self: Box<Self>) {
        let out = self
            .out
            .unwrap_or_else(|| Err(backend("the operation was not settled")));
        // The caller may have gone away (a dropped future); the write stands.
        let _ = self.reply.send(out);
    }
}

/// The settled jobs of a batch, answered when this is dropped.
struct Answers(Vec<Box<dyn Job>>);

impl Drop for Answers {
    fn drop(&mut self) {
        for job in self.0.drain(..) {
            job.answer();
        }
    }
}

/// Answers the callers of a batch, with one wake-up of their runtime.
///
/// Each answer sent from this thread wakes the runtime, and on a busy core the woken worker
/// preempts the writer at once, runs one caller, parks, and is woken again by the next answer
/// (measured at 16 conversations on one core: 7 to 8 context switches of the writer a batch).
/// One task spawned on the callers' runtime sends them all from inside it instead: half the
/// context switches, +7% to +31% rounds/s in paired load runs. If that runtime is gone, the
/// task is dropped unrun, and dropping it answers all the same.
fn deliver(jobs: Vec<Box<dyn Job>>) {
    let runtime = jobs.iter().find_map(|job| job.runtime().cloned());
    let answers = Answers(jobs);
    match runtime {
        Some(runtime) => drop(runtime.spawn(async move { drop(answers) })),
        None => drop(answers),
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
        let rest = checkpointer.as_ref().map(Checkpointer::rest);
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
                    run_batch(&conn, batch);
                    if let Some(rest) = &rest {
                        rest(&conn);
                    }
                    if indexed.elapsed() >= index_interval {
                        index(&conn);
                        indexed = Instant::now();
                    }
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

/// Runs `jobs` in one transaction, each undone as its [`Undo`] says if it fails, then answers
/// them.
fn run_batch(conn: &Connection, mut jobs: Vec<Box<dyn Job>>) {
    let exec = |sql: &str| super::exec(conn, sql).map(drop).map_err(|e| e.to_string());
    let outcome = (|| -> Result<(), String> {
        exec("BEGIN IMMEDIATE")?;
        if let [job] = jobs.as_mut_slice() {
            // Alone in its transaction, a write needs no savepoint: a failed one rolls the
            // transaction back, and its error is its answer.
            return exec(if job.run(conn) { "COMMIT" } else { "ROLLBACK" });
        }
        for job in &mut jobs {
            match job.undo() {
                Undo::Savepoint => {
                    exec("SAVEPOINT op")?;
                    if !job.run(conn) {
                        exec("ROLLBACK TO op")?;
                    }
                    exec("RELEASE op")?;
                }
                Undo::Statement => {
                    let before = conn.total_changes();
                    // A failed statement counts no change: any count is a write that stayed.
                    if !job.run(conn) && (conn.is_autocommit() || conn.total_changes() != before) {
                        return Err("an operation of the batch failed after writing".into());
                    }
                }
            }
        }
        exec("COMMIT")
    })();
    let error = outcome.err().inspect(|e| {
        tracing::error!(error = %e, "a batch of SQLite writes failed; none of it is kept");
        if !conn.is_autocommit() {
            let _ = exec("ROLLBACK");
        }
    });
    for job in &mut jobs {
        job.settle(error.as_deref().map_or(Ok(()), Err));
    }
    deliver(jobs);
}

/// Indexes the rows added lately by thread ([`thread_index`]), in a transaction of its own
/// after a batch is answered: its writers do not wait for it (a pass takes milliseconds under
/// load, most of a batch's time).
fn index(conn: &Connection) {
    let outcome = super::exec(conn, "BEGIN IMMEDIATE")
        .and_then(|_| thread_index::index_new_rows(conn))
        .and_then(|()| super::exec(conn, "COMMIT"));
    if let Err(e) = outcome {
        // Indexing can wait for the next pass.
        tracing::warn!(error = %e, "indexing new rows by thread failed; will retry");
        if !conn.is_autocommit() {
            let _ = super::exec(conn, "ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection with one table whose `v` is unique.
    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT NOT NULL UNIQUE)")
            .unwrap();
        conn
    }

    fn insert(conn: &Connection, v: &str) -> StoreResult<()> {
        conn.execute("INSERT INTO t (v) VALUES (?1)", [v])
            .map(drop)
            .map_err(backend)
    }

    fn rows(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    type Answer = oneshot::Receiver<StoreResult<()>>;

    /// Queues `f` as a job with `undo` into `jobs`; where its answer arrives.
    fn op(
        jobs: &mut Vec<Box<dyn Job>>,
        undo: Undo,
        f: impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static,
    ) -> Answer {
        let cache = Arc::new(StdMutex::new(Cache::new(16, 16, 1 << 20)));
        let (job, answer) = Op::job(undo, move |conn, _| f(conn), cache);
        jobs.push(job);
        answer
    }

    fn answer(mut rx: Answer) -> StoreResult<()> {
        rx.try_recv().expect("answered when the batch is over")
    }

    #[test]
    fn a_failed_operation_leaves_no_trace_and_the_others_commit() {
        let conn = db();
        let mut jobs = Vec::new();
        let a = op(&mut jobs, Undo::Statement, |c| insert(c, "a"));
        // Fails in its one statement: SQLite undoes it.
        let again = op(&mut jobs, Undo::Statement, |c| insert(c, "a"));
        // Fails after a write: its savepoint undoes the write.
        let half = op(&mut jobs, Undo::Savepoint, |c| {
            insert(c, "c")?;
            insert(c, "a")
        });
        let d = op(&mut jobs, Undo::Statement, |c| insert(c, "d"));
        run_batch(&conn, jobs);
        assert!(answer(a).is_ok());
        assert!(answer(again).is_err());
        assert!(answer(half).is_err());
        assert!(answer(d).is_ok());
        assert_eq!(rows(&conn), ["a", "d"]);
        assert!(conn.is_autocommit(), "the batch is over");
    }

    #[test]
    fn an_operation_that_fails_after_writing_without_a_savepoint_fails_its_batch() {
        for panics in [false, true] {
            let conn = db();
            let mut jobs = Vec::new();
            let a = op(&mut jobs, Undo::Statement, |c| insert(c, "a"));
            let broken = op(&mut jobs, Undo::Statement, move |c| {
                insert(c, "b")?;
                assert!(!panics, "a handler bug after a write");
                Err(StoreError::Conflict("refused after writing".into()))
            });
            let c = op(&mut jobs, Undo::Statement, |c| insert(c, "c"));
            run_batch(&conn, jobs);
            let answers = [answer(a), answer(broken), answer(c)];
            assert!(answers.iter().all(Result::is_err), "{answers:?}");
            assert!(rows(&conn).is_empty(), "nothing of the batch is kept");
            assert!(conn.is_autocommit());
            // The writer goes on: the next batch commits.
            let mut jobs = Vec::new();
            let next = op(&mut jobs, Undo::Statement, |c| insert(c, "a"));
            run_batch(&conn, jobs);
            assert!(answer(next).is_ok());
            assert_eq!(rows(&conn), ["a"]);
        }
    }

    #[test]
    fn callers_in_a_runtime_are_answered_from_it_or_after_it_is_gone() {
        let runtime = || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
                .unwrap()
        };
        let conn = db();
        // Answered by a task of the callers' runtime.
        let rt = runtime();
        let mut jobs = Vec::new();
        let (a, b) = {
            let _in = rt.enter();
            let a = op(&mut jobs, Undo::Statement, |c| insert(c, "a"));
            let b = op(&mut jobs, Undo::Statement, |c| insert(c, "a"));
            (a, b)
        };
        assert!(jobs.iter().all(|job| job.runtime().is_some()));
        run_batch(&conn, jobs);
        let (a, b) = rt.block_on(async { (a.await.unwrap(), b.await.unwrap()) });
        assert!(a.is_ok());
        assert!(b.is_err());
        // The runtime is shut down before the batch is over: answered all the same.
        let mut jobs = Vec::new();
        let c = {
            let _in = rt.enter();
            op(&mut jobs, Undo::Statement, |c| insert(c, "c"))
        };
        drop(rt);
        run_batch(&conn, jobs);
        assert!(answer(c).is_ok());
        // A current-thread runtime is not used: its thread may be the one waiting.
        let mut jobs = Vec::new();
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let d = {
            let _in = current.enter();
            op(&mut jobs, Undo::Statement, |c| insert(c, "d"))
        };
        assert!(jobs[0].runtime().is_none());
        run_batch(&conn, jobs);
        assert!(answer(d).is_ok());
        assert_eq!(rows(&conn), ["a", "c", "d"]);
    }
}

//! Group commit: the hot writes of concurrent requests (a message appended, a run begun, a
//! run's transition) committed together.
//!
//! Each of these writes is one statement, and alone it is one transaction: one round trip,
//! one wake-up of a PostgreSQL backend and one commit with its WAL flush. Under load most of
//! PostgreSQL's time went to that overhead rather than to the statements. A [`Batcher`] owns
//! one connection of its own; the writes that queue while one batch is being committed go
//! together in the next, pipelined in one round trip as `BEGIN`, the statements, `COMMIT`. A
//! write that finds the queue empty is sent alone, as before, so one client waits no longer.
//!
//! A batch is one transaction, so what one write does it does with the others:
//!
//! - **Failure.** A statement that fails aborts the transaction, and nothing of the batch is
//!   committed. Each of its writes is then sent again alone, and answers what it answers
//!   alone (the failure only to the write that caused it). If the connection is lost instead,
//!   whether the batch committed is unknown: every write of it answers an error, as a lone
//!   statement whose connection drops does.
//! - **Locks** taken by a write (its thread's row, its run's row) are held until the batch
//!   commits. A batch takes one write per thread, in the order of thread ids (a second write
//!   of a thread waits for the next batch), so two batches lock threads in the same order and
//!   a batch never locks one thread twice. A lock cycle with another transaction is still
//!   possible in principle (another replica's heartbeat renewing many runs at once);
//!   PostgreSQL breaks it by failing one side, and a failed batch is sent again write by
//!   write.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::Poll,
};

use futures_util::future::{MaybeDone, maybe_done};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, Config, NoTls, Row, Statement, types::ToSql};

use super::SESSION;

/// A statement's parameter, owned: a write waits in the queue after its caller's borrows end.
pub(super) type Param = Box<dyn ToSql + Send + Sync>;

/// Most writes in one batch.
const MAX_BATCH: usize = 64;

/// Why a write was not applied.
#[derive(Debug)]
pub(super) enum Failed {
    /// PostgreSQL refused the statement (run alone).
    Db(tokio_postgres::Error),
    /// No answer: the connection failed (before, during or after the commit) or the batcher
    /// is gone.
    Lost(String),
}

impl Failed {
    /// As a store error, with `db` saying what PostgreSQL's refusal means.
    pub(super) fn into_store(
        self,
        db: impl FnOnce(tokio_postgres::Error) -> crate::store::StoreError,
    ) -> crate::store::StoreError {
        match self {
            Failed::Db(e) => db(e),
            Failed::Lost(why) => crate::store::StoreError::Backend(why.into()),
        }
    }
}

/// A write waiting for its batch.
struct Job {
    /// The thread the write locks.
    thread_id: String,
    sql: &'static str,
    params: Vec<Param>,
    reply: oneshot::Sender<Result<Vec<Row>, Failed>>,
}

impl Job {
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The queue of writes to commit together, served by a task of its own (which ends once every
/// clone of the batcher is dropped).
#[derive(Debug, Clone)]
pub(super) struct Batcher {
    queue: mpsc::UnboundedSender<Job>,
    counts: Arc<Counts>,
}

/// What the batcher did, for tests and the store's `Debug`.
#[derive(Debug, Default)]
pub(super) struct Counts {
    /// Batches of more than one write committed.
    pub(super) committed: AtomicUsize,
    /// Batches of more than one write rolled back and sent again write by write.
    pub(super) split: AtomicUsize,
    /// Wakes tests when a batch is taken from the queue: the writes queued after it wait for
    /// the next.
    #[cfg(test)]
    pub(super) taken: tokio::sync::Notify,
}

impl Batcher {
    /// Starts the task, which connects with `config` when the first write comes (and again
    /// after its connection fails).
    pub(super) fn start(config: Config) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        let counts = Arc::<Counts>::default();
        tokio::spawn(serve(config, jobs, Arc::clone(&counts)));
        Self { queue, counts }
    }

    /// What the batcher did so far.
    pub(super) fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Runs `sql` (a statement that locks at most `thread_id`'s thread) with `params` in the
    /// next batch; its rows.
    pub(super) async fn query(
        &self,
        thread_id: &str,
        sql: &'static str,
        params: Vec<Param>,
    ) -> Result<Vec<Row>, Failed> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            thread_id: thread_id.to_owned(),
            sql,
            params,
            reply,
        };
        self.queue
            .send(job)
            .map_err(|_| Failed::Lost("the batch writer stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| Failed::Lost("the batch writer stopped".to_owned()))?
    }
}

/// The batcher's connection and the statements prepared on it.
struct Session {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

impl Session {
    async fn open(config: &Config) -> Result<Self, tokio_postgres::Error> {
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the batch writer's connection failed");
            }
        });
        client.batch_execute(SESSION).await?;
        Ok(Self {
            client,
            prepared: HashMap::new(),
        })
    }

    async fn statement(&mut self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await?;
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }
}

async fn serve(config: Config, mut jobs: mpsc::UnboundedReceiver<Job>, counts: Arc<Counts>) {
    let mut session: Option<Session> = None;
    let mut waiting: VecDeque<Job> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match jobs.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
        }
        while waiting.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => waiting.push_back(job),
                Err(_) => break,
            }
        }
        let batch = take_batch(&mut waiting);
        #[cfg(test)]
        counts.taken.notify_waiters();
        let open = match session.take() {
            Some(open) if !open.client.is_closed() => Ok(open),
            _ => Session::open(&config).await,
        };
        match open {
            Ok(mut open) => {
                run(&mut open, batch, &counts).await;
                session = Some(open);
            }
            Err(e) => {
                let why = format!("cannot connect the batch writer: {e}");
                for job in batch {
                    let _ = job.reply.send(Err(Failed::Lost(why.clone())));
                }
            }
        }
    }
}

/// The next batch from `waiting`: at most one write per thread, in the order of thread ids.
fn take_batch(waiting: &mut VecDeque<Job>) -> Vec<Job> {
    let mut threads = HashSet::new();
    let mut batch = Vec::new();
    let mut later = VecDeque::new();
    while let Some(job) = waiting.pop_front() {
        if batch.len() < MAX_BATCH && threads.insert(job.thread_id.clone()) {
            batch.push(job);
        } else {
            later.push_back(job);
        }
    }
    *waiting = later;
    batch.sort_by(|a, b| a.thread_id.cmp(&b.thread_id));
    batch
}

/// Runs `batch` on `session` and answers each write.
async fn run(session: &mut Session, mut batch: Vec<Job>, counts: &Counts) {
    let mut statements = Vec::with_capacity(batch.len());
    for job in &batch {
        match session.statement(job.sql).await {
            Ok(statement) => statements.push(statement),
            Err(e) => {
                // Not preparable (or the connection failed): each alone says which.
                drop(e);
                return alone(session, batch).await;
            }
        }
    }
    if batch.len() == 1 {
        let job = batch.pop().expect("one write");
        let rows = session.client.query(&statements[0], &job.params()).await;
        let _ = job.reply.send(rows.map_err(|e| failed(&session.client, e)));
        return;
    }
    let params: Vec<_> = batch.iter().map(Job::params).collect();
    let client = &session.client;
    let queries = statements
        .iter()
        .zip(&params)
        .map(|(statement, params)| client.query(statement, params));
    let (begun, results, committed) = pipelined(
        client.batch_execute("BEGIN"),
        queries,
        client.batch_execute("COMMIT"),
    )
    .await;
    drop(params);
    let applied = begun.is_ok() && committed.is_ok() && results.iter().all(Result::is_ok);
    if applied {
        counts.committed.fetch_add(1, Ordering::Relaxed);
        for (job, rows) in batch.into_iter().zip(results) {
            let _ = job.reply.send(rows.map_err(Failed::Db));
        }
    } else if session.client.is_closed() || begun.is_err() {
        // Committed or not (without a transaction, each statement commits alone), nobody can
        // tell: as a lone statement whose connection drops.
        for job in batch {
            let _ = job.reply.send(Err(Failed::Lost(
                "the connection failed during a batch of writes".to_owned(),
            )));
        }
    } else {
        // A statement failed, and with it the transaction (its `COMMIT` rolled back): nothing
        // of the batch is stored. Each write again, alone.
        counts.split.fetch_add(1, Ordering::Relaxed);
        alone(session, batch).await;
    }
}

/// Runs each write of `batch` alone, in its own transaction.
async fn alone(session: &mut Session, batch: Vec<Job>) {
    for job in batch {
        let rows = match session.statement(job.sql).await {
            Ok(statement) => session.client.query(&statement, &job.params()).await,
            Err(e) => Err(e),
        };
        let _ = job.reply.send(rows.map_err(|e| failed(&session.client, e)));
    }
}

fn failed(client: &Client, e: tokio_postgres::Error) -> Failed {
    if client.is_closed() {
        Failed::Lost(e.to_string())
    } else {
        Failed::Db(e)
    }
}

/// Awaits `begin`, `queries` and `commit`, having polled each once in that order first: the
/// driver sends a request when its future is first polled, and PostgreSQL executes requests
/// in the order they were sent, so all of them go in one round trip, in this order.
async fn pipelined<B, Q, C>(
    begin: B,
    queries: impl Iterator<Item = Q>,
    commit: C,
) -> (B::Output, Vec<Q::Output>, C::Output)
where
    B: Future,
    Q: Future,
    C: Future,
{
    let mut begin = Box::pin(maybe_done(begin));
    let mut queries: Vec<Pin<Box<MaybeDone<Q>>>> =
        queries.map(|q| Box::pin(maybe_done(q))).collect();
    let mut commit = Box::pin(maybe_done(commit));
    std::future::poll_fn(|cx| {
        let _ = begin.as_mut().poll(cx);
        for query in &mut queries {
            let _ = query.as_mut().poll(cx);
        }
        let _ = commit.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await;
    begin.as_mut().await;
    for query in &mut queries {
        query.as_mut().await;
    }
    commit.as_mut().await;
    (
        output(begin.as_mut()),
        queries.iter_mut().map(|q| output(q.as_mut())).collect(),
        output(commit.as_mut()),
    )
}

/// The output of a future that was awaited to the end.
fn output<F: Future>(done: Pin<&mut MaybeDone<F>>) -> F::Output {
    done.take_output()
        .expect("a future awaited to its end holds its output")
}

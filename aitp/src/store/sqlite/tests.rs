//! What only `SqliteStore` promises: durability across reopening and killing, migrations,
//! refusing newer files, errors for bad rows; and the shared contract ([`crate::store::testing`])
//! in every setup.

use std::{
    future::Future,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    pin::pin,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use super::{schema::MIGRATIONS, schema::NewerSchema, *};
use crate::thread::{Content, Role, RunStatus};

/// A database file in the temporary directory, removed (with its WAL) when dropped.
#[derive(Debug)]
pub(super) struct TempDb(PathBuf);

impl TempDb {
    pub(super) fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Self(std::env::temp_dir().join(format!(
            "aitp-store-test-{}-{}-{nanos}.db",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )))
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The contract, on every way of opening the store.
mod contract {
    use super::{SqliteOptions, SqliteStore, TempDb};
    use crate::store::testing::contract;

    fn file(options: SqliteOptions) -> (SqliteStore, TempDb) {
        let db = TempDb::new();
        (options.open(db.path()).unwrap(), db)
    }

    mod in_memory {
        use super::*;
        contract!((SqliteStore::in_memory().unwrap(), ()));
    }

    mod in_file {
        use super::*;
        contract!(file(SqliteOptions::new()));
    }

    mod in_file_uncached {
        use super::*;
        contract!(file(SqliteOptions::new().cache(0).readers(1)));
    }

    /// Rows indexed by thread in every commit: reads go through the thread index (in the
    /// other setups, the short tests read rows not indexed yet).
    mod in_file_indexed_at_once {
        use super::*;
        contract!(file(
            SqliteOptions::new()
                .cache(0)
                .index_interval(std::time::Duration::ZERO)
        ));
    }

    /// So few recent messages that most pages reach past them: the cache must tell the pages
    /// it decides from those it must leave to the database.
    mod in_file_few_recent {
        use super::*;
        contract!(file(SqliteOptions::new().recent_messages(2)));
    }
}

fn me() -> Principal {
    Principal::new("me")
}

fn user(thread: &str, text: &str) -> Message {
    Message::new(thread, Role::User, vec![Content::text(text)])
}

fn reply(run: &Run, text: &str) -> Message {
    let mut m = Message::new(
        run.thread_id.clone(),
        Role::Assistant,
        vec![Content::text(text)],
    );
    m.run_id = Some(run.id.clone());
    m
}

fn raw(db: &TempDb) -> Connection {
    Connection::open(db.path()).unwrap()
}

/// A thread with two messages, a completed run that answered them with one reply, and a third
/// message left unanswered.
async fn conversation(s: &SqliteStore) -> (Thread, Run, Vec<Message>) {
    let thread = Thread::new();
    let first = vec![user(&thread.id, "a"), user(&thread.id, "b")];
    s.create_thread(&me(), thread.clone(), first.clone())
        .await
        .unwrap();
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    s.transition_run(Transition::start(&run)).await.unwrap();
    let answer = reply(&run, "c");
    let run = s
        .transition_run(Transition::complete(
            &run,
            vec![answer.clone()],
            Some(first[1].id.clone()),
        ))
        .await
        .unwrap()
        .run;
    let last = user(&thread.id, "d");
    s.append_messages(&thread.id, vec![last.clone()])
        .await
        .unwrap();
    let mut all = first;
    all.extend([answer, last]);
    (thread, run, all)
}

async fn check_conversation(s: &SqliteStore, (thread, run, all): &(Thread, Run, Vec<Message>)) {
    assert_eq!(
        s.thread(&me(), &thread.id).await.unwrap().as_ref(),
        Some(thread)
    );
    let page = s
        .list_messages(&thread.id, &ListQuery::new(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(&page.data, all);
    assert_eq!(
        s.run(&thread.id, &run.id).await.unwrap().as_ref(),
        Some(run)
    );
    // The cursor survived: only the last message is unanswered.
    assert_eq!(
        s.unanswered(&thread.id, usize::MAX).await.unwrap(),
        all[3..]
    );
}

#[test]
fn the_sql_terminal_statuses_are_rusts() {
    let terminal = ["cancelled", "failed", "completed", "incomplete", "expired"];
    for s in terminal {
        assert!(RunStatus::from(s).is_terminal(), "{s}");
        assert!(active_runs!().contains(&format!("'{s}'")), "{s}");
    }
    assert_eq!(active_runs!().matches('\'').count(), 2 * terminal.len());
    for s in [
        "queued",
        "in_progress",
        "requires_action",
        "cancelling",
        "x",
    ] {
        assert!(!RunStatus::from(s).is_terminal(), "{s}");
    }
    assert!(MIGRATIONS[0].contains(active_runs!()));
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let db = TempDb::new();
    let store = SqliteStore::open(db.path()).unwrap();
    let expected = conversation(&store).await;
    check_conversation(&store, &expected).await;
    drop(store);
    // Reopened without a cache, every read comes from the file.
    let store = SqliteOptions::new().cache(0).open(db.path()).unwrap();
    check_conversation(&store, &expected).await;
    drop(store);
    let store = SqliteStore::open(db.path()).unwrap();
    check_conversation(&store, &expected).await;
}

#[tokio::test]
async fn the_file_uses_wal_and_the_chosen_synchronous_mode() {
    let db = TempDb::new();
    for (mode, expected) in [(Synchronous::Normal, 1), (Synchronous::Full, 2)] {
        let store = SqliteOptions::new()
            .synchronous(mode)
            .open(db.path())
            .unwrap();
        let (journal, sync) = store
            .write(Undo::Statement, |conn, _| {
                let journal: String = conn
                    .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .map_err(backend)?;
                let sync: i64 = conn
                    .query_row("PRAGMA synchronous", [], |r| r.get(0))
                    .map_err(backend)?;
                Ok((journal, sync))
            })
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        assert_eq!(sync, expected);
    }
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let db = TempDb::new();
    let store = SqliteStore::open(db.path()).unwrap();
    let expected = conversation(&store).await;
    // A second store on the same file while the first is open, then reopening twice.
    let second = SqliteStore::open(db.path()).unwrap();
    drop(second);
    drop(store);
    for _ in 0..2 {
        let store = SqliteStore::open(db.path()).unwrap();
        check_conversation(&store, &expected).await;
    }
    let conn = raw(&db);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, i64::try_from(MIGRATIONS.len()).unwrap());
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN \
             ('threads', 'messages', 'runs')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 3);
}

/// A file written at schema version 1 (one index per thread on every insert) opens at the
/// current version with its rows found through the thread index.
#[tokio::test]
async fn version_1_files_are_migrated() {
    let db = TempDb::new();
    let thread = Thread::new();
    let messages = [user(&thread.id, "a"), user(&thread.id, "b")];
    let run = Run::new(thread.id.clone(), "agent");
    {
        let conn = raw(&db);
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO threads (id, owner, json) VALUES (?1, 'me', ?2)",
            params![thread.id, to_json(&thread).unwrap()],
        )
        .unwrap();
        for m in &messages {
            conn.execute(
                "INSERT INTO messages (id, thread_id, json) VALUES (?1, ?2, ?3)",
                params![m.id, thread.id, to_json(m).unwrap()],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO runs (id, thread_id, status, json) VALUES (?1, ?2, 'queued', ?3)",
            params![run.id, thread.id, to_json(&run).unwrap()],
        )
        .unwrap();
    }
    let store = SqliteOptions::new().cache(0).open(db.path()).unwrap();
    let listed = store
        .list_messages(&thread.id, &ListQuery::new(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(listed.data, messages);
    let runs = store
        .list_runs(&thread.id, &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(runs.data, vec![run]);
    let indexed: i64 = raw(&db)
        .query_row("SELECT count(*) FROM thread_messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(indexed, 2);
    let old_indexes: i64 = raw(&db)
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('messages_thread', 'runs_thread')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_indexes, 0);
}

#[test]
fn a_newer_schema_is_refused() {
    let db = TempDb::new();
    drop(SqliteStore::open(db.path()).unwrap());
    raw(&db).pragma_update(None, "user_version", 999).unwrap();
    let err = SqliteStore::open(db.path()).unwrap_err();
    let StoreError::Backend(inner) = &err else {
        panic!("{err:?}")
    };
    let newer = inner.downcast_ref::<NewerSchema>().unwrap();
    assert_eq!((newer.found, newer.known), (999, MIGRATIONS.len()));
    assert!(err.to_string().contains("newer"), "{err}");
    // Nothing was changed.
    let version: i64 = raw(&db)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 999);
}

#[tokio::test]
async fn bad_rows_are_errors_not_panics() {
    let db = TempDb::new();
    let store = SqliteOptions::new().cache(0).open(db.path()).unwrap();
    let (thread, run, _) = conversation(&store).await;
    let conn = raw(&db);
    conn.execute(
        "INSERT INTO messages (id, thread_id, json) VALUES ('msg_bad', ?1, '{not json')",
        [&thread.id],
    )
    .unwrap();
    conn.execute("UPDATE runs SET json = 'null' WHERE id = ?1", [&run.id])
        .unwrap();
    conn.execute(
        "UPDATE threads SET json = '[1, 2]' WHERE id = ?1",
        [&thread.id],
    )
    .unwrap();
    let backend_error = |r: StoreResult<()>| assert!(matches!(r, Err(StoreError::Backend(_))));
    backend_error(
        store
            .list_messages(&thread.id, &ListQuery::default())
            .await
            .map(drop),
    );
    backend_error(store.message(&thread.id, "msg_bad").await.map(drop));
    backend_error(store.unanswered(&thread.id, usize::MAX).await.map(drop));
    backend_error(store.run(&thread.id, &run.id).await.map(drop));
    backend_error(store.thread(&me(), &thread.id).await.map(drop));
    // A run whose status says active but whose JSON is unreadable fails the recovery loudly.
    conn.execute("UPDATE runs SET status = 'queued' WHERE id = ?1", [&run.id])
        .unwrap();
    backend_error(store.fail_interrupted_runs(0).await.map(drop));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_does_not_spoil_its_batch() {
    let db = TempDb::new();
    let store = SqliteStore::open(db.path()).unwrap();
    let taken = Thread::new();
    store
        .create_thread(&me(), taken.clone(), Vec::new())
        .await
        .unwrap();
    // Many writes at once, so several share a commit; every third one conflicts.
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let store = store.clone();
            let thread = if i % 3 == 0 {
                taken.clone()
            } else {
                Thread::new()
            };
            tokio::spawn(async move {
                let message = user(&thread.id, &i.to_string());
                let result = store
                    .create_thread(&me(), thread.clone(), vec![message])
                    .await;
                (thread, result)
            })
        })
        .collect();
    let mut created = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let (thread, result) = task.await.unwrap();
        if i % 3 == 0 {
            assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        } else {
            result.unwrap();
            created.push(thread);
        }
    }
    drop(store);
    let store = SqliteOptions::new().cache(0).open(db.path()).unwrap();
    for thread in &created {
        assert_eq!(
            store.thread(&me(), &thread.id).await.unwrap().as_ref(),
            Some(thread)
        );
        let page = store
            .list_messages(&thread.id, &ListQuery::default())
            .await
            .unwrap();
        assert_eq!(page.data.len(), 1);
    }
    // The conflicting writes left no message behind.
    let page = store
        .list_messages(&taken.id, &ListQuery::default())
        .await
        .unwrap();
    assert!(page.data.is_empty());
}

#[tokio::test]
async fn the_active_run_check_uses_its_index() {
    let store = SqliteStore::in_memory().unwrap();
    let plan = store
        .read(|conn| {
            let sql = concat!(
                "EXPLAIN QUERY PLAN SELECT id FROM runs WHERE thread_id = ?1 AND ",
                active_runs!(),
                " LIMIT 1"
            );
            let mut stmt = conn.prepare(sql).map_err(backend)?;
            let rows = stmt
                .query_map(["t"], |r| r.get::<_, String>(3))
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
        .unwrap();
    assert!(plan.iter().any(|p| p.contains("runs_active")), "{plan:?}");
}

/// Polls `future` to completion on this thread, without a runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[test]
fn works_outside_a_tokio_runtime() {
    let db = TempDb::new();
    let store = SqliteStore::open(db.path()).unwrap();
    let expected = block_on(conversation(&store));
    block_on(check_conversation(&store, &expected));
}

const KILL_ENV: &str = "AITP_SQLITE_KILL_TEST_DB";

/// The child of [`acknowledged_writes_survive_sigkill`]: writes, says so, waits to be killed.
/// Without the environment variable (a normal test run) it does nothing.
#[test]
fn sigkill_child() {
    let Ok(path) = std::env::var(KILL_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(&path).unwrap();
        let (thread, run, _) = conversation(&store).await;
        println!("written {} {}", thread.id, run.id);
        std::io::Write::flush(&mut std::io::stdout()).unwrap();
        std::thread::sleep(Duration::from_secs(60));
    });
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let db = TempDb::new();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::sqlite::tests::sigkill_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL_ENV, db.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest may print the test's name on the same line first.
        .find_map(|l| l.find("written ").map(|i| l[i..].to_owned()))
        .expect("the child wrote nothing");
    // SIGKILL on Unix: no destructor, no checkpoint, no close.
    child.kill().unwrap();
    child.wait().unwrap();
    let ids: Vec<&str> = line.split_whitespace().collect();
    let (thread_id, run_id) = (ids[1], ids[2]);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteOptions::new().cache(0).open(db.path()).unwrap();
        assert!(store.thread(&me(), thread_id).await.unwrap().is_some());
        let run = store
            .run(thread_id, run_id)
            .await
            .expect("the store answers")
            .expect("the run is stored");
        assert_eq!(run.status, RunStatus::Completed);
        let page = store
            .list_messages(thread_id, &ListQuery::new(10, Order::Asc))
            .await
            .unwrap();
        let texts: Vec<String> = page.data.iter().map(Message::text).collect();
        assert_eq!(texts, ["a", "b", "c", "d"]);
        assert_eq!(
            store.unanswered(thread_id, usize::MAX).await.unwrap().len(),
            1
        );
    });
}

/// The newest messages held in memory, and rows not indexed by thread yet, answer every
/// listing exactly as the thread index does: a store keeping 5 messages, one caching nothing
/// that indexes half the rows midway, and one indexing in every commit,
/// fed the same conversation, are asked every page (both orders, every limit up to 8, every
/// cursor, by run) after every round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_messages_answer_as_the_database_does() {
    let (a, b, c) = (TempDb::new(), TempDb::new(), TempDb::new());
    let cached = SqliteOptions::new()
        .recent_messages(5)
        .open(a.path())
        .unwrap();
    let pending = SqliteOptions::new()
        .cache(0)
        .index_interval(Duration::from_secs(3600))
        .open(c.path())
        .unwrap();
    let plain = SqliteOptions::new()
        .cache(0)
        .index_interval(Duration::ZERO)
        .open(b.path())
        .unwrap();
    let stores = [&cached, &pending, &plain];
    let thread = Thread::new();
    let first = vec![user(&thread.id, "0")];
    for s in stores {
        s.create_thread(&me(), thread.clone(), first.clone())
            .await
            .unwrap();
    }
    let mut ids: Vec<String> = vec![first[0].id.clone(), "msg_unknown".into()];
    let mut runs = Vec::new();
    for round in 1..=9 {
        if round == 5 {
            // The bulk store indexes the first rounds now; the later stay pending.
            pending
                .write(Undo::Savepoint, |conn, _| {
                    thread_index::index_new_rows(conn).map_err(backend)
                })
                .await
                .unwrap();
        }
        let question = user(&thread.id, &round.to_string());
        let run = Run::new(thread.id.clone(), "agent");
        for s in stores {
            s.append_messages(&thread.id, vec![question.clone()])
                .await
                .unwrap();
        }
        for s in [&cached, &pending] {
            assert_eq!(
                s.unanswered(&thread.id, usize::MAX).await.unwrap(),
                plain.unanswered(&thread.id, usize::MAX).await.unwrap()
            );
        }
        for s in stores {
            s.create_run(run.clone()).await.unwrap();
        }
        // Every third run answers nothing, so the unanswered messages pile up.
        let (replies, answered) = if round % 3 == 0 {
            (Vec::new(), None)
        } else {
            (
                vec![reply(&run, "a"), reply(&run, "b")],
                Some(question.id.clone()),
            )
        };
        // One transition for all three, so they stamp the same times.
        let start = Transition::start(&run);
        let completion = Transition::complete(&run, replies.clone(), answered.clone());
        for s in stores {
            s.transition_run(start.clone()).await.unwrap();
            s.transition_run(completion.clone()).await.unwrap();
        }
        ids.push(question.id.clone());
        ids.extend(replies.iter().map(|m| m.id.clone()));
        runs.push(run.id.clone());
        for s in [&cached, &pending] {
            assert_eq!(
                s.unanswered(&thread.id, usize::MAX).await.unwrap(),
                plain.unanswered(&thread.id, usize::MAX).await.unwrap()
            );
            assert_eq!(
                s.list_runs(&thread.id, &ListQuery::new(3, Order::Desc))
                    .await
                    .unwrap(),
                plain
                    .list_runs(&thread.id, &ListQuery::new(3, Order::Desc))
                    .await
                    .unwrap()
            );
        }
        // The newest page comes from memory, not the database.
        assert!(
            cached
                .cache()
                .list_messages(&thread.id, &ListQuery::new(2, Order::Desc))
                .is_some()
        );
        let filters = [None, runs.first().cloned(), runs.last().cloned()];
        for order in [Order::Asc, Order::Desc] {
            for limit in 1..=8 {
                for run_id in &filters {
                    let mut queries = vec![ListQuery::new(limit, order)];
                    for id in &ids {
                        queries.push(ListQuery::new(limit, order).after(id.clone()));
                        queries.push(ListQuery::new(limit, order).before(id.clone()));
                    }
                    queries.push(
                        ListQuery::new(limit, order)
                            .after(ids[ids.len() - 1].clone())
                            .before(ids[ids.len().saturating_sub(6)].clone()),
                    );
                    for mut q in queries {
                        q.run_id = run_id.clone();
                        let expected = plain.list_messages(&thread.id, &q).await.unwrap();
                        for s in [&cached, &pending] {
                            assert_eq!(
                                s.list_messages(&thread.id, &q).await.unwrap(),
                                expected,
                                "{q:?}"
                            );
                        }
                    }
                }
            }
        }
        for id in &ids {
            assert_eq!(
                cached.message(&thread.id, id).await.unwrap(),
                plain.message(&thread.id, id).await.unwrap()
            );
        }
    }
    // The bulk store indexed some rows and not the others.
    let indexed = |s: SqliteStore| async move {
        s.read(|conn| {
            conn.query_row(
                "SELECT (SELECT count(*) FROM thread_messages), (SELECT count(*) FROM messages)",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .map_err(backend)
        })
        .await
    };
    let (some, all) = indexed(pending.clone()).await.unwrap();
    assert!(0 < some && some < all, "{some} of {all} indexed");
    assert_eq!(indexed(plain.clone()).await.unwrap().0, all);
    // Deleting finds indexed rows and the others.
    for s in stores {
        assert!(s.delete_thread(&me(), &thread.id).await.unwrap());
        let left = s
            .read(|conn| {
                conn.query_row(
                    "SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM runs)
                          + (SELECT count(*) FROM thread_messages)
                          + (SELECT count(*) FROM thread_runs)",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(backend)
            })
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
}

/// Listing a thread reads its rows through the thread index and scans only the rows after
/// the `indexed` mark, never the whole table.
#[tokio::test]
async fn thread_listings_use_the_thread_index() {
    let store = SqliteStore::in_memory().unwrap();
    for table in [thread_index::Table::Messages, thread_index::Table::Runs] {
        for order in [Order::Asc, Order::Desc] {
            let sql = format!(
                "EXPLAIN QUERY PLAN {}",
                thread_index::rows_sql(table, order)
            );
            let plan = store
                .read(move |conn| {
                    let mut stmt = conn.prepare(&sql).map_err(backend)?;
                    let rows = stmt
                        .query_map(params!["t", 0, 10, 5], |r| r.get::<_, String>(3))
                        .map_err(backend)?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
                })
                .await
                .unwrap();
            let text = plan.join("\n");
            assert!(text.contains("USING PRIMARY KEY"), "{text}");
            assert!(
                text.contains("INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
                "{text}"
            );
            assert!(
                !plan.iter().any(|p| p.starts_with("SCAN ")
                    && !p.contains("PRIMARY KEY")
                    && !p.contains("SUBQUERY")
                    && !p.contains("(subquery")),
                "{text}"
            );
        }
    }
}

/// The unanswered messages after the cursor are found as a page is, through the thread index
/// and the end of the table, never by a scan of the table: a run's read of a 100,000-message
/// backlog costs its batch.
#[tokio::test]
async fn the_unanswered_query_uses_the_thread_index() {
    let store = SqliteStore::in_memory().unwrap();
    let sql = format!("EXPLAIN QUERY PLAN {}", thread_index::UNANSWERED);
    let plan = store
        .read(move |conn| {
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(params!["t", 0, 5], |r| r.get::<_, String>(3))
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
        .unwrap();
    let text = plan.join("\n");
    assert!(text.contains("USING PRIMARY KEY"), "{text}");
    assert!(text.contains("INTEGER PRIMARY KEY (rowid>?)"), "{text}");
    assert!(
        !plan.iter().any(|p| p.starts_with("SCAN ")
            && !p.contains("PRIMARY KEY")
            && !p.contains("SUBQUERY")
            && !p.contains("(subquery")),
        "{text}"
    );
}

/// Checkpoints run beside the writer and the log starts over: the `-wal` file stays small while
/// many times its size is written, and everything lands in the database file.
/// The largest the `-wal` file may get with `checkpoint_pages(64)`: the writer copies the log
/// before committing again once it holds 4 × 64 pages, so the file holds at most that plus
/// one commit (one 4 KB message and its index entries: a few pages, 64 is generous). Each
/// frame is a 4096-byte page and a 24-byte header, after a 32-byte file header.
const WAL_BOUND: u64 = 32 + (4 * 64 + 64) * (4096 + 24);

/// Appends 1,500 messages of 4 KB (about 6 MB) to a store opened with `options`, and returns
/// the largest size of its `-wal` file seen after an append.
async fn largest_log(db: &TempDb, options: SqliteOptions) -> u64 {
    let store = options.checkpoint_pages(64).open(db.path()).unwrap();
    let thread = Thread::new();
    store
        .create_thread(&me(), thread.clone(), Vec::new())
        .await
        .unwrap();
    let text = "x".repeat(4000);
    let mut wal_max = 0;
    let wal = {
        let mut p = db.path().to_path_buf().into_os_string();
        p.push("-wal");
        std::path::PathBuf::from(p)
    };
    for _ in 0..1500 {
        store
            .append_messages(&thread.id, vec![user(&thread.id, &text)])
            .await
            .unwrap();
        wal_max = wal_max.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    assert!(std::fs::metadata(db.path()).unwrap().len() > 4_000_000);
    let all = store
        .list_messages(&thread.id, &ListQuery::new(100, Order::Asc).after("msg_x"))
        .await
        .unwrap();
    assert_eq!(all.data.len(), 100);
    drop(store);
    let store = SqliteStore::open(db.path()).unwrap();
    let last = store
        .list_messages(&thread.id, &ListQuery::new(1, Order::Desc))
        .await
        .unwrap();
    assert!(last.has_more);
    wal_max
}

/// However the checkpoint thread is scheduled, the writer keeps the log under its bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_keep_the_log_small() {
    let db = TempDb::new();
    let wal_max = largest_log(&db, SqliteOptions::new()).await;
    assert!(wal_max <= WAL_BOUND, "the log grew to {wal_max} bytes");
}

/// The worst case of a starved checkpoint thread, made deterministic: a thread that never
/// runs. The writer alone keeps the same bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_bounds_the_log_without_the_checkpoint_thread() {
    let db = TempDb::new();
    let wal_max = largest_log(&db, SqliteOptions::new().checkpoint_thread(false)).await;
    assert!(wal_max <= WAL_BOUND, "the log grew to {wal_max} bytes");
    // The limit was reached (the bound is not met by never filling the log).
    assert!(
        wal_max > 4 * 64 * 4096,
        "the log only reached {wal_max} bytes"
    );
}

/// Runs with long `instructions` and threads with large `tool_resources` (4,096 runs of
/// 900 KB once held 3.7 GB): the cache keeps to its byte budget by its own accounting, and
/// still caches what fits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_keeps_to_its_byte_budget() {
    let db = TempDb::new();
    let budget = 4 << 20;
    let store = SqliteOptions::new()
        .cache_bytes(budget)
        .open(db.path())
        .unwrap();
    let instructions = "i".repeat(300_000);
    for i in 0..64 {
        let mut thread = Thread::new();
        thread.tool_resources = Some(serde_json::json!({ "blob": "t".repeat(100_000) }));
        store
            .create_thread(&me(), thread.clone(), vec![user(&thread.id, "hi")])
            .await
            .unwrap();
        let mut run = Run::new(thread.id.clone(), "agent");
        // Every eighth run is larger than a quarter of the budget: never cached.
        run.instructions = if i % 8 == 7 {
            "I".repeat(budget / 4 + 1)
        } else {
            instructions.clone()
        };
        let started = create_started(&store, &run).await;
        // Cached or not, reads see the started run.
        let read = store.run(&thread.id, &run.id).await.unwrap().unwrap();
        assert_eq!(read, started);
        store
            .transition_run(Transition::complete(&run, vec![reply(&run, "done")], None))
            .await
            .unwrap();
        assert!(store.thread(&me(), &thread.id).await.unwrap().is_some());
        let held = lock(&store.inner.cache).bytes();
        assert!(held <= budget, "the cache holds {held} bytes of {budget}");
        let mut cache = lock(&store.inner.cache);
        // What fits is cached: the newest thread, and the newest run unless too large.
        assert!(cache.thread(&thread.id).is_some());
        assert_eq!(cache.run(&run.id).is_some(), i % 8 != 7);
    }
}

/// The ledger contract on a file and in memory, and a paid quote surviving a reopening.
#[cfg(feature = "signing")]
mod ledger {
    use std::sync::Arc;

    use super::{SqliteStore, TempDb};
    use crate::{
        capability::payments::PaymentConfirmation,
        sign::{Fingerprint, Ledger, LedgerEntry},
        store::testing::ledger_contract,
    };

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sqlite_ledger_keeps_the_contract() {
        let db = TempDb::new();
        ledger_contract(Arc::new(SqliteStore::open(db.path()).unwrap())).await;
        ledger_contract(Arc::new(SqliteStore::in_memory().unwrap())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paid_quote_stays_paid_after_a_restart() {
        let db = TempDb::new();
        let paid: PaymentConfirmation = serde_json::from_value(serde_json::json!({
            "quote_id": "q_1", "payment_id": "pay_1", "result": "success",
            "timestamp": "2029-06-01T01:00:00Z", "merchant_signature": "ed25519:c2ln"
        }))
        .unwrap();
        let f = Fingerprint([7; 32]);
        {
            let store = SqliteStore::open(db.path()).unwrap();
            assert_eq!(store.claim("q_1", f).await.unwrap(), LedgerEntry::Open);
            assert_eq!(store.claim("q_2", f).await.unwrap(), LedgerEntry::Open);
            store.confirm("q_1", f, &paid).await.unwrap();
        }
        let store = SqliteStore::open(db.path()).unwrap();
        assert_eq!(
            store.entry("q_1").await.unwrap(),
            LedgerEntry::Confirmed(f, paid)
        );
        // A claim a crash interrupted stays in progress: whether it charged is unknown.
        assert_eq!(
            store.entry("q_2").await.unwrap(),
            LedgerEntry::InProgress(f)
        );
    }
}

/// A write that fails midway (here a completion whose reply reuses a message's id, refused
/// after the run's new state was written) leaves nothing behind, alone in its transaction
/// or not: the run stays `in_progress`, no reply is stored, the cursor does not move; the
/// file reopened agrees with the cache.
#[tokio::test]
async fn a_write_that_fails_midway_leaves_nothing() {
    let db = TempDb::new();
    let store = SqliteStore::open(db.path()).unwrap();
    let me = Principal::new("me");
    let thread = Thread::new();
    let asked = Message::new(thread.id.clone(), Role::User, vec![Content::text("hi")]);
    store
        .create_thread(&me, thread.clone(), vec![asked.clone()])
        .await
        .unwrap();
    let run = Run::new(thread.id.clone(), "agent");
    let started = create_started(&store, &run).await;
    let mut reply = Message::new(thread.id.clone(), Role::Assistant, vec![Content::text("x")]);
    reply.id = asked.id.clone();
    reply.run_id = Some(run.id.clone());
    let failed = store
        .transition_run(Transition::complete(
            &started,
            vec![reply],
            Some(asked.id.clone()),
        ))
        .await;
    assert!(failed.is_err(), "{failed:?}");
    let check = |store: SqliteStore| {
        let (thread, asked, started) = (thread.clone(), asked.clone(), started.clone());
        async move {
            assert_eq!(
                store.run(&thread.id, &started.id).await.unwrap(),
                Some(started)
            );
            let all = store
                .list_messages(&thread.id, &ListQuery::default())
                .await
                .unwrap();
            assert_eq!(all.data, vec![asked.clone()]);
            assert_eq!(store.unanswered(&thread.id, 10).await.unwrap(), vec![asked]);
        }
    };
    check(store.clone()).await;
    drop(store);
    check(SqliteOptions::new().cache(0).open(db.path()).unwrap()).await;
}

/// Stores `run`, then starts it, each in a write of its own; the started run.
async fn create_started(store: &SqliteStore, run: &Run) -> Run {
    store.create_run(run.clone()).await.unwrap();
    store
        .transition_run(Transition::start(run))
        .await
        .unwrap()
        .run
}

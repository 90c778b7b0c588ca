//! `PgStore` on a throwaway PostgreSQL cluster ([`TempPostgres`]): the shared contract, the
//! migrations, and pages whose cost does not grow with the thread. Skipped with a notice when
//! PostgreSQL is not installed, unless `AITP_REQUIRE_POSTGRES` is set.

use tokio_postgres::NoTls;

use super::{PgStore, Table, list_sql, schema};
use crate::{
    store::{StoreError, ThreadStore, Transition, testing::TempPostgres},
    thread::{Content, ListQuery, Message, Order, Principal, Role, Run, RunStatus, Thread},
};

/// The settings of a new, empty database on the cluster the tests of this process share;
/// `None` when PostgreSQL is missing and not required (the test then passes without it).
fn new_database() -> Option<String> {
    TempPostgres::shared().map(TempPostgres::database)
}

/// A store on a fresh database of the cluster the tests of this process share.
async fn store() -> Option<(PgStore, ())> {
    let config = new_database()?;
    let store = PgStore::connect(&config)
        .await
        .expect("connect to PostgreSQL");
    Some((store, ()))
}

mod contract {
    crate::store::testing::contract!(super::store().await);
}

/// The ledger contract, and two stores (replicas) on one database sharing it.
#[cfg(feature = "signing")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_ledger_keeps_the_contract_across_replicas() {
    use std::sync::Arc;

    use crate::sign::{Fingerprint, Ledger, LedgerEntry};

    let Some(config) = new_database() else {
        return;
    };
    let store = PgStore::connect(&config).await.unwrap();
    let elsewhere = PgStore::connect(&new_database().unwrap()).await.unwrap();
    crate::store::testing::ledger_contract(Arc::new(store.clone())).await;
    // A second store on another database does not see the first's; one on the same does.
    assert_eq!(
        elsewhere.entry("ledger_q_confirm").await.unwrap(),
        LedgerEntry::Open
    );
    let f = Fingerprint([1; 32]);
    assert_eq!(store.claim("q_shared", f).await.unwrap(), LedgerEntry::Open);
    let same = PgStore::connect(&config).await.unwrap();
    assert_eq!(
        same.claim("q_shared", Fingerprint([2; 32])).await.unwrap(),
        LedgerEntry::InProgress(f)
    );
}

/// A plain connection to the database of `config`, for what the store does not expose.
async fn raw(config: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(config, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_versioned_and_refuse_newer_databases() {
    let Some(config) = new_database() else {
        return;
    };
    let store = PgStore::connect(&config).await.unwrap();
    let thread = Thread::new();
    store
        .create_thread(&Principal::new("me"), thread.clone(), Vec::new())
        .await
        .unwrap();
    // Connecting again (another replica, a restart) applies nothing twice and keeps the rows.
    let again = PgStore::connect(&config).await.unwrap();
    assert!(again.owns(&Principal::new("me"), &thread.id).await.unwrap());
    let client = raw(&config).await;
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM aitp_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=schema::latest()).collect::<Vec<_>>());

    // Replicas starting together: each migration is applied once.
    let fresh = new_database().unwrap();
    let (a, b) = tokio::join!(PgStore::connect(&fresh), PgStore::connect(&fresh));
    a.unwrap();
    b.unwrap();

    // A database migrated by a newer version is refused, not misread.
    client
        .execute(
            "INSERT INTO aitp_schema_migrations (version) VALUES ($1)",
            &[&(schema::latest() + 1)],
        )
        .await
        .unwrap();
    let refused = PgStore::connect(&config).await.unwrap_err();
    assert!(matches!(refused, StoreError::Backend(_)));
    assert!(refused.to_string().contains("newer"), "{refused}");
}

/// The store's page statements on a thread of 100,000 messages: each is a range scan of the
/// (thread, seq) index that reads at most `limit + 1` rows, whatever the page's position, and
/// sorts nothing. Shown by PostgreSQL's own account of the rows each plan node produced, so
/// it does not depend on timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_a_long_thread_read_only_the_page() {
    let Some(config) = new_database() else {
        return;
    };
    let store = PgStore::connect(&config).await.unwrap();
    let me = Principal::new("me");
    let thread = Thread::new();
    store
        .create_thread(&me, thread.clone(), Vec::new())
        .await
        .unwrap();
    // Another thread, so that the index holds more than this thread's rows.
    let other = Thread::new();
    store
        .create_thread(&me, other.clone(), Vec::new())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for chunk in 0..20 {
        let batch: Vec<Message> = (0..5_000)
            .map(|i| {
                Message::new(
                    thread.id.clone(),
                    Role::User,
                    vec![Content::text(format!("{chunk}-{i}"))],
                )
            })
            .collect();
        ids.extend(batch.iter().map(|m| m.id.clone()));
        store.append_messages(&thread.id, batch).await.unwrap();
        store
            .append_messages(
                &other.id,
                vec![Message::new(
                    other.id.clone(),
                    Role::User,
                    vec![Content::text("x")],
                )],
            )
            .await
            .unwrap();
    }
    // A run's replies at the end, for the run-filtered pages.
    let run = Run::new(thread.id.clone(), "agent");
    store.create_run(run.clone()).await.unwrap();
    let replies: Vec<Message> = (0..50)
        .map(|i| {
            let mut m = Message::new(
                thread.id.clone(),
                Role::Assistant,
                vec![Content::text(i.to_string())],
            );
            m.run_id = Some(run.id.clone());
            m
        })
        .collect();
    store.transition_run(Transition::start(&run)).await.unwrap();
    store
        .transition_run(Transition::complete(
            &run,
            replies.clone(),
            ids.last().cloned(),
        ))
        .await
        .unwrap();
    assert_eq!(ids.len(), 100_000);

    let client = raw(&config).await;
    // The store's session settings: the plans checked are the ones its statements get.
    client.batch_execute(super::SESSION).await.unwrap();
    client.batch_execute("ANALYZE").await.unwrap();
    // Which is what the store's own sessions have.
    let pooled = store.client().await.unwrap();
    for session in [&client, &**pooled] {
        let mode: String = session
            .query_one("SHOW plan_cache_mode", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(mode, "force_generic_plan");
    }
    drop(pooled);
    let limit: i64 = 20;
    let fetch = (limit + 1).to_string();
    let middle = ids[50_000].as_str();
    let cases: [(Order, Option<&str>, Option<&str>); 5] = [
        (Order::Desc, None, None),
        (Order::Asc, None, None),
        (Order::Asc, Some(middle), None),
        (Order::Desc, None, Some(middle)),
        (
            Order::Asc,
            Some(ids[10].as_str()),
            Some(ids[99_990].as_str()),
        ),
    ];
    for (order, low, high) in cases {
        let sql = list_sql(Table::Messages, false, order);
        let plan = explain(&client, &sql, &[Some(&thread.id), low, high, Some(&fetch)]).await;
        assert_bounded(&plan, "aitp_messages_thread", limit + 1);
        // A short thread beside the long one costs its own rows too.
        let plan = explain(&client, &sql, &[Some(&other.id), None, None, Some(&fetch)]).await;
        assert_bounded(&plan, "aitp_messages_thread", limit + 1);
        // And the store's page is what that statement selects.
        let mut query = ListQuery::new(20, order);
        query.after = match order {
            Order::Asc => low.map(str::to_owned),
            Order::Desc => high.map(str::to_owned),
        };
        query.before = match order {
            Order::Asc => high.map(str::to_owned),
            Order::Desc => low.map(str::to_owned),
        };
        let page = store.list_messages(&thread.id, &query).await.unwrap();
        assert_eq!(page.data.len(), 20);
        assert!(page.has_more);
    }
    let sql = list_sql(Table::Messages, true, Order::Desc);
    let plan = explain(
        &client,
        &sql,
        &[Some(&thread.id), None, None, Some(&fetch), Some(&run.id)],
    )
    .await;
    assert_bounded(&plan, "aitp_messages_run", limit + 1);
    let page = store
        .list_messages(
            &thread.id,
            &ListQuery::new(20, Order::Desc).run_id(run.id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        page.data,
        replies[30..].iter().rev().cloned().collect::<Vec<_>>()
    );
}

/// `EXPLAIN ANALYZE` of `sql` executed as the store executes it: prepared, then run with
/// its parameters (`None` is `NULL`) under the store's session settings, so with the generic
/// plan. The plan's lines, with the rows each node produced.
async fn explain(
    client: &tokio_postgres::Client,
    sql: &str,
    params: &[Option<&str>],
) -> Vec<String> {
    let literal = |p: &Option<&str>| match p {
        Some(v) => format!("'{}'", v.replace('\'', "''")),
        None => "NULL".to_owned(),
    };
    let args: Vec<String> = params.iter().map(literal).collect();
    client
        .batch_execute(&format!("PREPARE page AS {sql}"))
        .await
        .unwrap();
    let rows = client
        .query(
            &format!(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE page({})",
                args.join(", ")
            ),
            &[],
        )
        .await
        .unwrap();
    client.batch_execute("DEALLOCATE page").await.unwrap();
    let plan: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    plan
}

/// The plan scans `index` for the page, sorts and scans no table, and no node produces, or
/// reads and filters out, more than `max_rows` rows.
fn assert_bounded(plan: &[String], index: &str, max_rows: i64) {
    let text = plan.join("\n");
    assert!(
        text.contains(&format!("using {index} on")),
        "the page does not use {index}:\n{text}"
    );
    assert!(
        !text.contains("Seq Scan") && !text.contains("Sort"),
        "the page scans or sorts the table:\n{text}"
    );
    for line in plan {
        let count = ["actual rows=", "Rows Removed by Filter: "]
            .iter()
            .find_map(|label| line.split(label).nth(1));
        if let Some(rest) = count {
            let rows: i64 = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no row count in {line:?}"));
            assert!(rows <= max_rows, "a node produced {rows} rows:\n{text}");
        }
    }
}

/// Two stores on one database (two replicas): the one-active-run rule holds across them.
/// Racing to start a run on the same thread, exactly one wins; a message raced against a
/// run either lands before the run exists or is refused while it is active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_run_rule_holds_across_replicas() {
    let Some(config) = new_database() else {
        return;
    };
    let a = PgStore::connect(&config).await.unwrap();
    let b = PgStore::connect(&config).await.unwrap();
    let me = Principal::new("me");
    for _ in 0..20 {
        let thread = Thread::new();
        a.create_thread(&me, thread.clone(), Vec::new())
            .await
            .unwrap();
        let (ra, rb) = (
            Run::new(thread.id.clone(), "agent"),
            Run::new(thread.id.clone(), "agent"),
        );
        let (x, y) = tokio::join!(a.create_run(ra.clone()), b.create_run(rb.clone()));
        let won = [&x, &y].iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "{x:?} {y:?}");
        assert!(
            [&x, &y]
                .iter()
                .any(|r| matches!(r, Err(StoreError::Conflict(_))))
        );
        let winner = if x.is_ok() { ra } else { rb };

        // Finish it on one replica while the other appends: the message is either refused
        // (the run was active) or accepted after it ended, never lost or half-applied.
        a.transition_run(Transition::start(&winner)).await.unwrap();
        let message = Message::new(thread.id.clone(), Role::User, vec![Content::text("m")]);
        let (finished, appended) = tokio::join!(
            a.transition_run(Transition::complete(&winner, Vec::new(), None)),
            b.append_messages(&thread.id, vec![message.clone()])
        );
        finished.unwrap();
        let stored = b.message(&thread.id, &message.id).await.unwrap();
        match appended {
            Ok(()) => assert_eq!(stored, Some(message)),
            Err(StoreError::Conflict(_)) => assert_eq!(stored, None),
            Err(e) => panic!("{e}"),
        }
        assert_eq!(
            b.run(&thread.id, &winner.id).await.unwrap().unwrap().status,
            RunStatus::Completed
        );
    }
}

/// The lease of `run`: (owner, whether it is live).
async fn lease(db: &tokio_postgres::Client, run: &Run) -> (Option<String>, bool) {
    let row = db
        .query_one(
            "SELECT lease_owner, lease_expires IS NOT NULL FROM aitp_runs WHERE id = $1",
            &[&run.id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Makes `run`'s lease (or, unleased, its creation) as old as a dead replica's.
async fn expire(db: &tokio_postgres::Client, run: &Run) {
    db.execute(
        "UPDATE aitp_runs SET lease_expires = lease_expires - interval '1 hour',
             created = created - interval '1 hour'
         WHERE id = $1",
        &[&run.id],
    )
    .await
    .unwrap();
}

/// A thread with one queued run, on `store`.
async fn queued_run(store: &PgStore) -> Run {
    let thread = Thread::new();
    store
        .create_thread(&Principal::new("me"), thread.clone(), Vec::new())
        .await
        .unwrap();
    let run = Run::new(thread.id.clone(), "agent");
    store.create_run(run.clone()).await.unwrap();
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_fence_replicas_and_expired_runs_are_taken_over_once() {
    use crate::store::{Holder, Renewal};
    use std::time::Duration;

    let Some(config) = new_database() else {
        return;
    };
    let store = PgStore::connect(&config).await.unwrap();
    assert!(store.is_shared());
    let db = raw(&config).await;
    let ttl = Duration::from_secs(60);
    let (a, b, c) = (
        Holder::new("a", ttl),
        Holder::new("b", ttl),
        Holder::new("c", ttl),
    );

    // A start claims the lease; nobody takes a live lease over.
    let run = queued_run(&store).await;
    assert!(store.take_over_runs(&b, 10).await.unwrap().is_empty());
    let started = store
        .transition_run(Transition::start(&run).by(&a))
        .await
        .unwrap()
        .run;
    assert_eq!(lease(&db, &run).await, (Some("a".into()), true));
    assert!(store.take_over_runs(&b, 10).await.unwrap().is_empty());
    // Only the holder renews it, and learns the run's status there.
    let key = [(run.thread_id.clone(), run.id.clone())];
    assert_eq!(
        store.renew_leases(&a, &key).await.unwrap(),
        [Renewal::Held(RunStatus::InProgress)]
    );
    assert_eq!(store.renew_leases(&b, &key).await.unwrap(), [Renewal::Lost]);
    // Another replica's transitions are fenced off; a client's cancel is not.
    let refused = store
        .transition_run(Transition::complete(&started, Vec::new(), None).by(&b))
        .await;
    assert!(matches!(refused, Err(StoreError::LeaseLost)), "{refused:?}");

    // Expired: two replicas race to take it over, exactly one wins.
    expire(&db, &run).await;
    let (x, y) = tokio::join!(store.take_over_runs(&b, 10), store.take_over_runs(&c, 10));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.len() + y.len(), 1, "{x:?} {y:?}");
    let (winner, claimed) = if x.len() == 1 {
        (&b, &x[0])
    } else {
        (&c, &y[0])
    };
    assert_eq!(claimed.run.id, run.id);
    assert_eq!(claimed.run.status, RunStatus::InProgress);
    assert_eq!(claimed.owner, Principal::new("me"));
    assert_eq!(claimed.thread.id, run.thread_id);
    // The replica that lost it cannot commit its replies any more; the winner can, once.
    let late = store
        .transition_run(Transition::complete(&started, Vec::new(), None).by(&a))
        .await;
    assert!(matches!(late, Err(StoreError::LeaseLost)), "{late:?}");
    assert_eq!(store.renew_leases(&a, &key).await.unwrap(), [Renewal::Lost]);
    store
        .transition_run(Transition::complete(&claimed.run, Vec::new(), None).by(winner))
        .await
        .unwrap();
    // Released at the end, its last holder kept.
    assert_eq!(lease(&db, &run).await, (Some(winner.id.clone()), false));
    expire(&db, &run).await;
    assert!(store.take_over_runs(&a, 10).await.unwrap().is_empty());

    // A replica never takes over its own runs.
    let own = queued_run(&store).await;
    store
        .transition_run(Transition::start(&own).by(&a))
        .await
        .unwrap();
    expire(&db, &own).await;
    assert!(store.take_over_runs(&a, 10).await.unwrap().is_empty());

    // A run never started (its replica died in between) is taken over once it is a lease
    // time old, and the start of its first replica then loses.
    let orphan = queued_run(&store).await;
    assert!(
        store
            .take_over_runs(&b, 1)
            .await
            .unwrap()
            .iter()
            .all(|c| c.run.id != orphan.id)
    );
    expire(&db, &orphan).await;
    let taken: Vec<String> = store
        .take_over_runs(&b, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.run.id)
        .collect();
    assert!(taken.contains(&orphan.id), "{taken:?}");
    let lost = store
        .transition_run(Transition::start(&orphan).by(&c))
        .await;
    assert!(matches!(lost, Err(StoreError::LeaseLost)), "{lost:?}");

    // A cancelling run whose replica died is taken over and ends cancelled.
    let cancel = queued_run(&store).await;
    store
        .transition_run(Transition::start(&cancel).by(&a))
        .await
        .unwrap();
    store
        .transition_run(Transition::request_cancel(&cancel))
        .await
        .unwrap();
    expire(&db, &cancel).await;
    let claimed = store.take_over_runs(&c, 10).await.unwrap();
    let claimed = claimed.iter().find(|x| x.run.id == cancel.id).unwrap();
    assert_eq!(claimed.run.status, RunStatus::Cancelling);
    let done = store
        .transition_run(Transition::cancelled(&claimed.run).by(&c))
        .await
        .unwrap();
    assert_eq!(done.run.status, RunStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_leases_are_taken_over_at_once() {
    use crate::store::{Holder, Renewal};
    use std::time::Duration;

    let Some(config) = new_database() else {
        return;
    };
    let store = PgStore::connect(&config).await.unwrap();
    // Leases far longer than the test: only a release explains a takeover.
    let hour = Duration::from_secs(3600);
    let (a, b) = (Holder::new("a", hour), Holder::new("b", hour));
    let key = |run: &Run| [(run.thread_id.clone(), run.id.clone())];

    let run = queued_run(&store).await;
    let started = store
        .transition_run(Transition::start(&run).by(&a))
        .await
        .unwrap()
        .run;
    assert!(store.take_over_runs(&b, 10).await.unwrap().is_empty());
    // Only the holder gives its lease up.
    assert_eq!(store.release_leases(&b, &key(&run)).await.unwrap(), 0);
    assert!(store.take_over_runs(&b, 10).await.unwrap().is_empty());
    assert_eq!(store.release_leases(&a, &key(&run)).await.unwrap(), 1);
    // Released: taken over at once, an hour-long lease notwithstanding.
    let claimed = store.take_over_runs(&b, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(claimed[0].run.id, run.id);
    assert_eq!(claimed[0].run.status, RunStatus::InProgress);
    // The new holder's lease is a live one; the old holder is fenced out.
    assert_eq!(
        store.renew_leases(&b, &key(&run)).await.unwrap(),
        [Renewal::Held(RunStatus::InProgress)]
    );
    assert_eq!(
        store.renew_leases(&a, &key(&run)).await.unwrap(),
        [Renewal::Lost]
    );
    let late = store
        .transition_run(Transition::complete(&started, Vec::new(), None).by(&a))
        .await;
    assert!(matches!(late, Err(StoreError::LeaseLost)), "{late:?}");
    store
        .transition_run(Transition::complete(&claimed[0].run, Vec::new(), None).by(&b))
        .await
        .unwrap();
    // A finished run has no lease to give up.
    assert_eq!(store.release_leases(&b, &key(&run)).await.unwrap(), 0);

    // Until another replica takes it over, a released run is still its holder's to finish.
    let other = queued_run(&store).await;
    let started = store
        .transition_run(Transition::start(&other).by(&a))
        .await
        .unwrap()
        .run;
    assert_eq!(store.release_leases(&a, &key(&other)).await.unwrap(), 1);
    let done = store
        .transition_run(Transition::complete(&started, Vec::new(), None).by(&a))
        .await
        .unwrap();
    assert_eq!(done.run.status, RunStatus::Completed);
    assert!(store.take_over_runs(&b, 10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_are_announced_to_other_processes() {
    use crate::store::RunChange;
    use std::sync::mpsc;

    let Some(config) = new_database() else {
        return;
    };
    let (here, there) = (
        PgStore::connect(&config).await.unwrap(),
        PgStore::connect(&config).await.unwrap(),
    );
    let (tx, rx) = mpsc::channel::<RunChange>();
    let tx = std::sync::Mutex::new(tx);
    assert!(
        there
            .watch_runs(Box::new(move |c| tx.lock().unwrap().send(c).is_ok()))
            .await
            .unwrap()
    );
    let run = queued_run(&here).await;
    here.transition_run(Transition::start(&run)).await.unwrap();
    here.transition_run(Transition::request_cancel(&run))
        .await
        .unwrap();
    // A refused transition announces nothing; the next one is heard after it.
    assert!(here.transition_run(Transition::start(&run)).await.is_err());
    here.transition_run(Transition::cancelled(&run))
        .await
        .unwrap();
    // A start is not announced (nobody waits for it).
    let heard: Vec<RunStatus> = (0..2)
        .map(|_| {
            let change = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("announced");
            assert_eq!(
                (&*change.thread_id, &*change.run_id),
                (&*run.thread_id, &*run.id)
            );
            change.status
        })
        .collect();
    assert_eq!(heard, [RunStatus::Cancelling, RunStatus::Cancelled]);
}

/// A replica alone on its database announces nothing; once another listens, it announces
/// again. A plain `LISTEN` session (not a replica's: not counted) hears what is sent; a marker
/// it sends itself after a transition arrives first exactly when the transition sent nothing
/// (notifications arrive in commit order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_alone_announces_nothing() {
    use super::CHANNEL;
    use tokio_postgres::AsyncMessage;

    let Some(config) = new_database() else {
        return;
    };
    let (raw_client, mut connection) = tokio_postgres::connect(&config, NoTls).await.unwrap();
    let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send(n.payload().to_owned());
            }
        }
    });
    raw_client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .unwrap();
    // Waits, up to a minute (the store counts every `AUDIENCE_CHECK`), for it to learn.
    let minute = std::time::Duration::from_secs(60);
    let until = |mut announces: tokio::sync::watch::Receiver<bool>, want: bool| async move {
        tokio::time::timeout(minute, announces.wait_for(|now| *now == want))
            .await
            .unwrap_or_else(|_| panic!("never {want}"))
            .unwrap();
    };

    let here = PgStore::connect(&config).await.unwrap();
    // Not watching: announces (it cannot know who listens).
    assert!(*here.announces().borrow());
    assert!(here.watch_runs(Box::new(|_| true)).await.unwrap());
    until(here.announces(), false).await;
    let run = queued_run(&here).await;
    here.transition_run(Transition::request_cancel(&run))
        .await
        .unwrap();
    raw_client
        .execute("SELECT pg_notify($1, 'alone')", &[&CHANNEL])
        .await
        .unwrap();
    assert_eq!(heard.recv().await.unwrap(), "alone");

    // Another replica listens: announced again.
    let there = PgStore::connect(&config).await.unwrap();
    let (tx, mut there_heard) = tokio::sync::mpsc::unbounded_channel();
    assert!(
        there
            .watch_runs(Box::new(move |change| tx.send(change).is_ok()))
            .await
            .unwrap()
    );
    until(here.announces(), true).await;
    let run = queued_run(&here).await;
    here.transition_run(Transition::request_cancel(&run))
        .await
        .unwrap();
    let announced = format!("{} {} cancelling", run.thread_id, run.id);
    assert_eq!(heard.recv().await.unwrap(), announced);
    let change = there_heard.recv().await.unwrap();
    assert_eq!(
        (change.run_id.as_str(), change.status),
        (run.id.as_str(), RunStatus::Cancelling)
    );

    // A store dropped ends its watch, and with it the listening session (without waiting for
    // an announcement): the watch's task held the last reference to the store's audience.
    let watches = [here.announces(), there.announces()];
    drop((here, there));
    for mut watch in watches {
        let ended = async { while watch.changed().await.is_ok() {} };
        tokio::time::timeout(minute, ended)
            .await
            .expect("the watch ends with its store");
    }
}

/// Holds `store`'s batch writer up: `db` locks `thread`'s row, and a write to it, taken by the
/// batch writer alone, waits for the lock. Answers the write, done once `db` commits.
async fn hold_batches(
    store: &PgStore,
    db: &tokio_postgres::Transaction<'_>,
    thread: &Thread,
) -> tokio::task::JoinHandle<Result<(), StoreError>> {
    db.execute(
        "SELECT 1 FROM aitp_threads WHERE id = $1 FOR UPDATE",
        &[&thread.id],
    )
    .await
    .unwrap();
    let taken = store.batch.counts().taken.notified();
    tokio::pin!(taken);
    taken.as_mut().enable();
    let held = {
        let (store, id) = (store.clone(), thread.id.clone());
        let m = Message::new(id.clone(), Role::User, vec![Content::text("held")]);
        tokio::spawn(async move { store.append_messages(&id, vec![m]).await })
    };
    taken.await;
    held
}

/// Polls each write once, which queues it for the batch writer.
async fn queue<F: std::future::Future + Unpin>(writes: &mut [F]) {
    std::future::poll_fn(|cx| {
        for write in writes.iter_mut() {
            assert!(std::pin::Pin::new(&mut *write).poll(cx).is_pending());
        }
        std::task::Poll::Ready(())
    })
    .await;
}

/// Writes that queue while a batch is being committed go together in the next one, in one
/// transaction; one that fails there (a message reusing an id) fails alone, with its own
/// error, and the others are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_queued_together_commit_together_and_fail_alone() {
    use std::sync::atomic::Ordering;

    let Some(config) = new_database() else {
        return;
    };
    let store = PgStore::connect(&config).await.unwrap();
    let me = Principal::new("me");
    let mut threads = Vec::new();
    for _ in 0..4 {
        let thread = Thread::new();
        store
            .create_thread(&me, thread.clone(), Vec::new())
            .await
            .unwrap();
        threads.push(thread);
    }
    let message = |thread: &Thread, text: &str| {
        Message::new(thread.id.clone(), Role::User, vec![Content::text(text)])
    };
    let counts = store.batch.counts();
    let mut db = raw(&config).await;

    // Two writes queued behind a held one: committed in one batch.
    let lock = db.transaction().await.unwrap();
    let held = hold_batches(&store, &lock, &threads[0]).await;
    let mut writes = vec![
        Box::pin(store.append_messages(&threads[1].id, vec![message(&threads[1], "one")])),
        Box::pin(store.append_messages(&threads[2].id, vec![message(&threads[2], "two")])),
    ];
    queue(&mut writes).await;
    lock.commit().await.unwrap();
    held.await.unwrap().unwrap();
    for write in writes {
        write.await.unwrap();
    }
    assert_eq!(counts.committed.load(Ordering::Relaxed), 1);
    assert_eq!(counts.split.load(Ordering::Relaxed), 0);

    // Three more, one reusing a message id: the batch fails and is sent again write by write.
    let taken = message(&threads[3], "first");
    store
        .append_messages(&threads[3].id, vec![taken.clone()])
        .await
        .unwrap();
    let mut reused = message(&threads[3], "again");
    reused.id = taken.id.clone();
    let lock = db.transaction().await.unwrap();
    let held = hold_batches(&store, &lock, &threads[0]).await;
    let mut writes = vec![
        Box::pin(store.append_messages(&threads[1].id, vec![message(&threads[1], "three")])),
        Box::pin(store.append_messages(&threads[2].id, vec![message(&threads[2], "four")])),
        Box::pin(store.append_messages(&threads[3].id, vec![reused])),
    ];
    queue(&mut writes).await;
    lock.commit().await.unwrap();
    held.await.unwrap().unwrap();
    let mut results = Vec::new();
    for write in writes {
        results.push(write.await);
    }
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    assert!(
        matches!(&results[2], Err(StoreError::Conflict(m)) if m.contains("duplicate")),
        "{results:?}"
    );
    assert_eq!(counts.committed.load(Ordering::Relaxed), 1);
    assert_eq!(counts.split.load(Ordering::Relaxed), 1);

    let query = ListQuery {
        order: Order::Asc,
        ..ListQuery::default()
    };
    let wanted: [&[&str]; 4] = [
        &["held", "held"],
        &["one", "three"],
        &["two", "four"],
        &["first"],
    ];
    for (thread, want) in threads.iter().zip(wanted) {
        let page = store.list_messages(&thread.id, &query).await.unwrap();
        let texts: Vec<String> = page.data.iter().map(Message::text).collect();
        assert_eq!(texts, want, "{}", thread.id);
    }
}

/// A write that waits for a thread's row lock while another replica creates a run sees that
/// run once it has the lock: a second run is refused, and so is a message. (One statement
/// reads one snapshot, taken before it waited: the store must notice that the thread changed
/// meanwhile and check again.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_wait_for_a_thread_see_the_run_created_meanwhile() {
    let Some(config) = new_database() else {
        return;
    };
    let store = PgStore::connect(&config).await.unwrap();
    let mut other = raw(&config).await;
    let watcher = raw(&config).await;
    let me = Principal::new("me");
    let holder = crate::store::Holder::new("replica-b", std::time::Duration::from_secs(30));
    for write in ["run", "begun run", "message"] {
        let thread = Thread::new();
        store
            .create_thread(&me, thread.clone(), Vec::new())
            .await
            .unwrap();
        // Another replica's new run, its transaction left open: it holds the thread's lock.
        let first = Run::new(thread.id.clone(), "agent");
        let tx = other.transaction().await.unwrap();
        let json = serde_json::to_string(&first).unwrap();
        tx.query_one(
            super::CREATE_RUN,
            &[&first.thread_id, &first.id, &first.status.as_str(), &json],
        )
        .await
        .unwrap();
        let waiting = {
            let store = store.clone();
            let thread_id = thread.id.clone();
            let holder = holder.clone();
            tokio::spawn(async move {
                if write == "run" {
                    store.create_run(Run::new(thread_id, "agent")).await
                } else if write == "begun run" {
                    let run = Run::new(thread_id, "agent");
                    store
                        .begin_run(&Principal::new("me"), run, &holder, 10)
                        .await
                        .map(drop)
                } else {
                    let message =
                        Message::new(thread_id.clone(), Role::User, vec![Content::text("m")]);
                    store.append_messages(&thread_id, vec![message]).await
                }
            })
        };
        // Once the store's write waits for the lock, the other replica commits.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let row = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .await
                .unwrap();
            if row.get::<_, i64>(0) > 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the {write} never waited"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tx.commit().await.unwrap();
        let result = waiting.await.unwrap();
        assert!(
            matches!(result, Err(StoreError::Conflict(_))),
            "{write}: {result:?}"
        );
        let runs = store
            .list_runs(&thread.id, &ListQuery::default())
            .await
            .unwrap();
        assert_eq!(runs.data.len(), 1, "{write}");
        let messages = store
            .list_messages(&thread.id, &ListQuery::default())
            .await
            .unwrap();
        assert!(messages.data.is_empty(), "{write}");
    }
}

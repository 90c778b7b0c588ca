//! Three replicas (separate `aitp-test-server --postgres` processes) on one throwaway
//! PostgreSQL, with clients spreading their requests over all three: our `aitp_client` and the
//! official `openai` Python client. One replica is SIGKILLed while it executes runs and while
//! load goes on. Afterwards every acknowledged message is there, every run is terminal, no run
//! has its replies committed twice, and the runs the dead replica held were finished by the
//! others (after their lease expired).
//!
//! Deterministic without sleeps: the runs in flight at the kill answer the text `gate`, whose
//! handler waits until the test creates a file; which replica holds which run is read from the
//! database (`aitp_runs.lease_owner`), and the gate opens only after the kill. Every wait has a
//! deadline. Skipped when PostgreSQL is not installed, unless `AITP_REQUIRE_POSTGRES` is set.

use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use aitp::{
    agent::Router,
    server::{Limits, Server},
    store::{PgStore, testing::TempPostgres},
    thread::{CreateMessage, CreateRun, CreateThread, ListQuery, Order, RunStatus},
};
use aitp_client::{Client, RetryPolicy};
use aitp_tests::{python_venv, serve_in_background};
use serde_json::Value;
use tokio_postgres::NoTls;

/// The lease time of the replicas: a dead replica's runs are taken over this long after its
/// last heartbeat. Short, to keep the test quick; long enough that a loaded machine's pauses
/// rarely cost a live replica its runs (which would still be correct: handlers called again,
/// replies committed once).
const LEASE_MS: u64 = 1500;

/// How long anything the test waits for may take on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(90);

struct Replica {
    child: Child,
    base: String,
    id: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_replica(config: &str, gate: &Path) -> Replica {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aitp-test-server"))
        .arg("--postgres")
        .arg(config)
        .env("AITP_TEST_GATE", gate)
        .env("AITP_LEASE_MS", LEASE_MS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start a replica");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut base = String::new();
    let mut id = String::new();
    out.read_line(&mut base)
        .expect("the replica prints its URL");
    out.read_line(&mut id).expect("the replica prints its id");
    assert!(
        base.starts_with("http://") && id.starts_with("replica-"),
        "{base:?} {id:?}"
    );
    Replica {
        child,
        base: base.trim().to_owned(),
        id: id.trim().to_owned(),
    }
}

fn client(base: &str) -> Client {
    Client::builder(base)
        .timeout(Duration::from_secs(30))
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// What the clients were told was stored: (thread, message) and (thread, run) pairs.
#[derive(Default)]
struct Acknowledged {
    messages: Vec<(String, String)>,
    runs: Vec<(String, String)>,
}

/// Polls `run` round-robin over `clients` (the poll hold makes each ask short) until it is
/// one of `want`.
async fn wait_run(clients: &[Client], thread: &str, run: &str, want: &[RunStatus]) -> RunStatus {
    let deadline = Instant::now() + DEADLINE;
    for i in 0.. {
        let c = &clients[i % clients.len()];
        let status = c.runs(thread).retrieve(run).await.unwrap().status;
        if want.contains(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} still {status:?}, not {want:?}"
        );
    }
    unreachable!()
}

/// One conversation round spread over the replicas `order` names: thread on the first,
/// message on the second, run on the third, polls on all. Stops at the first failure (a
/// replica that was killed); records what was acknowledged.
async fn round(clients: &[Client], order: [usize; 3], i: usize, acked: &Mutex<Acknowledged>) {
    let Ok(thread) = clients[order[0]]
        .threads()
        .create(&CreateThread::new())
        .await
    else {
        return;
    };
    let Ok(message) = clients[order[1]]
        .messages(&thread.id)
        .create(&CreateMessage::user(format!("load {i}")))
        .await
    else {
        return;
    };
    acked
        .lock()
        .unwrap()
        .messages
        .push((thread.id.clone(), message.id));
    let Ok(run) = clients[order[2]]
        .runs(&thread.id)
        .create(&CreateRun::new("echo"))
        .await
    else {
        return;
    };
    acked.lock().unwrap().runs.push((thread.id.clone(), run.id));
}

async fn db(config: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(config, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// A new thread (created through `runner`), a user message `text` on it (through `writer`),
/// and a run (through `runner`, which executes it).
async fn start_run(
    runner: &Client,
    writer: &Client,
    text: &str,
) -> (aitp::thread::Thread, aitp::thread::Run) {
    let thread = runner.threads().create(&CreateThread::new()).await.unwrap();
    writer
        .messages(&thread.id)
        .create(&CreateMessage::user(text))
        .await
        .unwrap();
    let run = runner
        .runs(&thread.id)
        .create(&CreateRun::new("echo"))
        .await
        .unwrap();
    (thread, run)
}

/// Waits until a handler was called (it says so on `started`): its run is `in_progress`
/// in the database then, since a run is stored started before its handler is called.
async fn wait_started(started: &mut tokio::sync::mpsc::UnboundedReceiver<()>) {
    tokio::time::timeout(DEADLINE, started.recv())
        .await
        .expect("the run never started")
        .expect("a handler can still say so");
}

/// The lease owner of each of `runs`.
async fn owners(db: &tokio_postgres::Client, runs: &[(String, String)]) -> HashMap<String, String> {
    let ids: Vec<&str> = runs.iter().map(|(_, r)| r.as_str()).collect();
    db.query(
        "SELECT id, lease_owner FROM aitp_runs WHERE id = ANY($1) AND lease_owner IS NOT NULL",
        &[&ids],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_survive_one_killed_mid_load() {
    let Some(pg) = TempPostgres::shared() else {
        return;
    };
    let python = tokio::task::spawn_blocking(|| {
        python_venv(
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join("peer-venvs"),
            &["openai==3.54.0"],
        )
    });
    let config = pg.database();
    let dir = tempfile::tempdir().unwrap();
    let gate: PathBuf = dir.path().join("gate");
    let mut replicas: Vec<Replica> = (0..3).map(|_| start_replica(&config, &gate)).collect();
    let clients: Vec<Client> = replicas.iter().map(|r| client(&r.base)).collect();
    let db = db(&config).await;
    let acked = Arc::new(Mutex::new(Acknowledged::default()));

    // 1. The openai Python client, spreading every conversation over the three replicas.
    let python = python.await.expect("venv setup");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/openai_replicas.py");
    let py = tokio::process::Command::new(&python)
        .arg(&script)
        .arg("4")
        .args(replicas.iter().map(|r| &r.base))
        .output();
    let output = tokio::time::timeout(DEADLINE, py)
        .await
        .expect("the Python client finished in time")
        .expect("the Python client ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "openai-python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no summary ({e}):\n{stdout}"));
    let pairs = |key: &str| -> Vec<(String, String)> {
        summary[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
            .collect()
    };
    {
        let mut a = acked.lock().unwrap();
        a.messages.extend(pairs("messages"));
        a.runs.extend(pairs("runs"));
        assert_eq!(a.runs.len(), 4);
    }

    // 2. Runs in flight: two gated runs accepted (so executed) by each replica, and a
    //    conversation spread over the replicas before them.
    let mut gated = Vec::new();
    for i in 0..6 {
        let thread = clients[(i + 1) % 3]
            .threads()
            .create(&CreateThread::new())
            .await
            .unwrap();
        let m = clients[(i + 2) % 3]
            .messages(&thread.id)
            .create(&CreateMessage::user("gate"))
            .await
            .unwrap();
        let run = clients[i % 3]
            .runs(&thread.id)
            .create(&CreateRun::new("echo"))
            .await
            .unwrap();
        acked
            .lock()
            .unwrap()
            .messages
            .push((thread.id.clone(), m.id));
        gated.push((thread.id, run.id));
    }
    for (thread, run) in &gated {
        wait_run(&clients, thread, run, &[RunStatus::InProgress]).await;
    }

    // 3. A cancel accepted by one replica stops a handler another executes: the gate is
    //    closed, so only the cancel can end it, and `cancelled` is stored by its executor.
    let thread = clients[2]
        .threads()
        .create(&CreateThread::new())
        .await
        .unwrap();
    clients[0]
        .messages(&thread.id)
        .create(&CreateMessage::user("gate"))
        .await
        .unwrap();
    let cancelled = clients[1]
        .runs(&thread.id)
        .create(&CreateRun::new("echo"))
        .await
        .unwrap();
    wait_run(
        &clients,
        &thread.id,
        &cancelled.id,
        &[RunStatus::InProgress],
    )
    .await;
    clients[2]
        .runs(&thread.id)
        .cancel(&cancelled.id)
        .await
        .unwrap();
    let status = wait_run(
        &clients[2..],
        &thread.id,
        &cancelled.id,
        &[
            RunStatus::Cancelled,
            RunStatus::Completed,
            RunStatus::Failed,
        ],
    )
    .await;
    assert_eq!(status, RunStatus::Cancelled);
    let no_replies = clients[0]
        .messages(&thread.id)
        .list_page(&ListQuery::new(20, Order::Asc).run_id(&cancelled.id))
        .await
        .unwrap();
    assert!(no_replies.data.is_empty(), "a cancelled run stored replies");

    // 4. Which gated runs the victim holds, from the database.
    let victim = 0;
    let victim_id = replicas[victim].id.clone();
    let held = owners(&db, &gated).await;
    let victims_runs: Vec<(String, String)> = gated
        .iter()
        .filter(|(_, r)| held.get(r) == Some(&victim_id))
        .cloned()
        .collect();
    assert!(
        !victims_runs.is_empty(),
        "replica {victim_id} holds none of the gated runs: {held:?}"
    );

    // 5. Load over all three replicas, with the victim killed in the middle of it.
    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let rounds_after_kill = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for worker in 0..3 {
        let clients = clients.clone();
        let acked = Arc::clone(&acked);
        let stop = Arc::clone(&stop);
        let killed = Arc::clone(&killed);
        let rounds_after_kill = Arc::clone(&rounds_after_kill);
        load.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let order = [(worker + i) % 3, (worker + i + 1) % 3, (worker + i + 2) % 3];
                let was_killed = killed.load(Ordering::SeqCst);
                round(&clients, order, worker * 1000 + i, &acked).await;
                if was_killed {
                    rounds_after_kill.fetch_add(1, Ordering::SeqCst);
                }
                i += 1;
            }
        }));
    }
    // Some rounds acknowledged before the kill.
    let deadline = Instant::now() + DEADLINE;
    while acked.lock().unwrap().runs.len() < 4 + 6 {
        assert!(Instant::now() < deadline, "no load went through");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    replicas[victim].child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    replicas[victim].child.wait().unwrap();
    killed.store(true, Ordering::SeqCst);
    // The victim is dead with its gated runs unfinished: now let every handler finish.
    std::fs::write(&gate, b"open").unwrap();
    // Load goes on against the survivors (rounds touching the victim stop at it).
    while rounds_after_kill.load(Ordering::SeqCst) < 6 {
        assert!(Instant::now() < deadline, "load stopped after the kill");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }

    // 6. Everything ends, on the survivors.
    let survivors: Vec<Client> = (0..3)
        .filter(|&i| i != victim)
        .map(|i| clients[i].clone())
        .collect();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let terminal = [
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Expired,
    ];
    let mut all_runs: Vec<(String, String)> = acked.runs.clone();
    all_runs.extend(gated.iter().cloned());
    for (thread, run) in &all_runs {
        let status = wait_run(&survivors, thread, run, &terminal).await;
        assert_eq!(status, RunStatus::Completed, "run {run}");
    }
    // The runs of threads whose run creation the victim may have stored without answering:
    // none is left unfinished either.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let live: i64 = db
            .query_one(
                "SELECT count(*) FROM aitp_runs WHERE status NOT IN
                     ('cancelled', 'failed', 'completed', 'incomplete', 'expired')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if live == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{live} runs never ended after the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every acknowledged message is there, on every survivor.
    for (thread, message) in &acked.messages {
        for c in &survivors {
            c.messages(thread)
                .retrieve(message)
                .await
                .unwrap_or_else(|e| panic!("acknowledged message {message} is gone: {e}"));
        }
    }
    // No run has its replies committed twice: each completed run answered one message.
    let counts: HashMap<String, i64> = db
        .query(
            "SELECT r.id, count(m.id) FROM aitp_runs r
             LEFT JOIN aitp_messages m ON m.thread_id = r.thread_id AND m.run_id = r.id
             WHERE r.status = 'completed' GROUP BY r.id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(counts.len() >= all_runs.len());
    for (run, n) in &counts {
        assert_eq!(*n, 1, "run {run} has {n} replies");
    }
    // The victim's runs were finished by the others, once, with their reply.
    let finished_by = owners(&db, &victims_runs).await;
    let survivor_ids: HashSet<&str> = replicas
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != victim)
        .map(|(_, r)| r.id.as_str())
        .collect();
    for (thread, run) in &victims_runs {
        let by = finished_by.get(run).map(String::as_str).unwrap_or("nobody");
        assert!(
            survivor_ids.contains(by),
            "run {run} of the dead replica was finished by {by}"
        );
        let replies = survivors[0]
            .messages(thread)
            .list_page(&ListQuery::new(20, Order::Asc).run_id(run))
            .await
            .unwrap();
        let texts: Vec<String> = replies.data.iter().map(|m| m.text()).collect();
        assert_eq!(texts, ["echo: gate"], "run {run}");
    }
}

/// A poll held on one replica (in-process servers here) ends when the run another replica
/// executes ends: the hold is woken by the store's announcement (or its periodic re-read),
/// not cut short because this replica does not execute the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_held_on_one_replica_ends_with_a_run_another_executes() {
    let Some(pg) = TempPostgres::shared() else {
        return;
    };
    let config = pg.database();
    let (open, gate) = tokio::sync::watch::channel(false);
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let replica = |gate: tokio::sync::watch::Receiver<bool>| {
        let config = config.clone();
        let started = started_tx.clone();
        async move {
            let agent = Router::new().on_text(move |text: String| {
                let mut gate = gate.clone();
                let _ = started.send(());
                async move {
                    let _ = gate.wait_for(|open| *open).await;
                    format!("echo: {text}")
                }
            });
            let mut limits = Limits::default();
            // Longer than the test may take: the poll must end with the run, not the hold.
            limits.poll_hold = DEADLINE;
            let store = PgStore::connect(&config).await.unwrap();
            serve_in_background(Server::new(agent, store).limits(limits)).await
        }
    };
    let (a, _a) = replica(gate.clone()).await;
    let (b, _b) = replica(gate).await;
    let executor = Client::builder(&a)
        .timeout(DEADLINE * 2)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let poller = Client::builder(&b)
        .timeout(DEADLINE * 2)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let (thread, run) = start_run(&executor, &poller, "held").await;
    // In progress on `a` (its handler was called: a poll would be held), so that without
    // the hold `b` would answer `in_progress`.
    wait_started(&mut started).await;
    let held = {
        let (poller, thread, run) = (poller.clone(), thread.id.clone(), run.id.clone());
        tokio::spawn(async move { poller.runs(&thread).retrieve(&run).await })
    };
    open.send(true).unwrap();
    let answered = held.await.unwrap().unwrap();
    assert_eq!(answered.status, RunStatus::Completed);
}

/// A replica told to shut down gives up the leases of the runs it could not finish within
/// its grace period, and the replica that starts next (its restart, say) takes them over at
/// once: the leases here last an hour, so nothing but the release explains the takeover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_shutting_down_hands_its_runs_over_at_once() {
    let Some(pg) = TempPostgres::shared() else {
        return;
    };
    let config = pg.database();
    let hour = Duration::from_secs(3600);
    let mut limits = Limits::default();
    limits.shutdown_grace = Duration::ZERO;
    // A handler that never ends: its run is still executing at the shutdown.
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let stuck = Router::new().on_text(move |_text: String| {
        let _ = started_tx.send(());
        std::future::pending::<String>()
    });
    let store = PgStore::connect(&config).await.unwrap();
    let (a, a_guard) =
        serve_in_background(Server::new(stuck, store).lease(hour).limits(limits)).await;
    let a = client(&a);
    let (thread, run) = start_run(&a, &a, "hand me over").await;
    wait_started(&mut started).await;
    a_guard.stop().await;

    let agent = Router::new().on_text(|text: String| async move { format!("taken over: {text}") });
    let store = PgStore::connect(&config).await.unwrap();
    let server = Server::new(agent, store).lease(hour);
    let b_id = server.replica_id().to_owned();
    let (b, _b) = serve_in_background(server).await;
    let b = [client(&b)];
    let status = wait_run(&b, &thread.id, &run.id, &[RunStatus::Completed]).await;
    assert_eq!(status, RunStatus::Completed);
    let owners = owners(&db(&config).await, &[(thread.id.clone(), run.id.clone())]).await;
    assert_eq!(owners.get(&run.id), Some(&b_id));
    let mut query = ListQuery::default();
    query.order = Order::Asc;
    let messages = b[0].messages(&thread.id).list_page(&query).await.unwrap();
    let replies: Vec<String> = messages
        .data
        .iter()
        .filter(|m| m.run_id.as_deref() == Some(run.id.as_str()))
        .map(|m| m.text())
        .collect();
    assert_eq!(replies, ["taken over: hand me over"]);
}

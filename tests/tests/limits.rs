//! The limits a public endpoint needs, with their defaults: idle connections and a client
//! sending its headers a byte at a time do not stop a normal client from being served, and a
//! large backlog of messages is answered in bounded runs.

use std::time::{Duration, Instant};

use aitp::{
    agent::Router,
    server::{Limits, Server},
    store::{MemoryStore, PgStore, SqliteStore, ThreadStore, testing::TempPostgres},
    thread::{Content, Message, Role},
};
use aitp_tests::serve_in_background;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

fn agent() -> Router {
    Router::new().on_text(|text: String| async move { format!("echo: {text}") })
}

/// Raises this process's soft limit on open files to its hard limit: the test holds a few
/// thousand sockets.
fn raise_nofile() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).expect("raise RLIMIT_NOFILE")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_and_a_slow_header_client_do_not_stop_a_normal_one() {
    let idle: usize = 2_000;
    let nofile = raise_nofile();
    // Each idle connection costs two descriptors here (client and server side).
    assert!(
        nofile > 2 * idle as u64 + 200,
        "RLIMIT_NOFILE is {nofile}; this test needs more than {}",
        2 * idle + 200
    );
    // The defaults: a connection cap below the idle count, a header-read timeout.
    let server = Server::new(agent(), MemoryStore::new());
    let (base, guard) = serve_in_background(server).await;
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_owned();

    let mut parked = Vec::with_capacity(idle);
    for _ in 0..idle {
        parked.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    // A client sending its request line a byte at a time, well under the header timeout each.
    let slow_addr = addr.clone();
    let slow = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(&slow_addr).await.expect("connect");
        let request = b"GET /v1/threads/thread_x HTTP/1.1\r\nHost: x\r\nX-Pad: ".repeat(10);
        let deadline = Instant::now() + Duration::from_secs(120);
        for byte in request.iter().cycle() {
            if tcp.write_all(&[*byte]).await.is_err() {
                return true;
            }
            // A closed connection reads as EOF or an error; otherwise wait a second.
            let mut buf = [0u8; 64];
            match tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => return true, // an error response, then close
                Err(_) => {}
            }
            if Instant::now() > deadline {
                return false;
            }
        }
        false
    });

    // A normal client is served (it may wait in the backlog while idle connections expire).
    let http = Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let r = http
        .post(format!("{base}/threads"))
        .json(&json!({}))
        .send()
        .await
        .expect("a normal client is served");
    assert_eq!(r.status(), StatusCode::OK);
    let thread: Value = r.json().await.unwrap();
    assert!(thread["id"].as_str().unwrap().starts_with("thread_"));

    // The slow client is cut off rather than holding its connection forever.
    assert!(
        slow.await.unwrap(),
        "the slow-header client was never cut off"
    );
    drop(parked);
    guard.stop().await;
}

/// A backlog of `backlog` messages, written straight to the store in batches (faster than a
/// request may carry), then answered over HTTP by one run after another: each run answers at
/// most [`Limits::run_messages`] messages, the oldest unanswered first, so no run's transaction
/// carries more than the bound (its replies are committed with it, one per message).
async fn backlog_in_bounded_runs<S: ThreadStore + Clone>(store: S, backlog: usize) {
    let limits = Limits::default();
    let bound = limits.run_messages;
    let server = Server::new(agent(), store.clone()).limits(limits);
    let (base, guard) = serve_in_background(server).await;
    let http = Client::new();
    let thread: Value = http
        .post(format!("{base}/threads"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let thread = thread["id"].as_str().unwrap().to_owned();
    let mut written = 0;
    while written < backlog {
        let batch = (backlog - written).min(10_000);
        let messages: Vec<Message> = (written..written + batch)
            .map(|i| {
                Message::new(
                    thread.clone(),
                    Role::User,
                    vec![Content::text(format!("m{i}"))],
                )
            })
            .collect();
        store.append_messages(&thread, messages).await.unwrap();
        written += batch;
    }

    let mut answered = 0;
    let mut runs = 0;
    while answered < backlog {
        let run: Value = http
            .post(format!("{base}/threads/{thread}/runs"))
            .json(&json!({"assistant_id": "a"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let run_id = run["id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // The poll is held until the run ends (or the hold passes).
            let r: Value = http
                .get(format!("{base}/threads/{thread}/runs/{run_id}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if r["status"] == "completed" {
                break;
            }
            assert!(r["status"] != "failed", "{r}");
            assert!(Instant::now() < deadline, "run stuck: {r}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The run's replies, oldest first, in pages of 100.
        let mut replies = Vec::new();
        let mut after = String::new();
        loop {
            let page: Value = http
                .get(format!(
                    "{base}/threads/{thread}/messages?run_id={run_id}&limit=100&order=asc{after}"
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for m in page["data"].as_array().unwrap() {
                replies.push(
                    m["content"][0]["text"]["value"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
            if page["has_more"] != true {
                break;
            }
            after = format!("&after={}", page["last_id"].as_str().unwrap());
        }
        let count = replies.len();
        assert!(count >= 1, "run {runs} answered nothing with a backlog");
        assert!(count <= bound, "run {runs} answered {count} > {bound}");
        // The oldest first: this run answered exactly the next messages, in order.
        let expected: Vec<String> = (answered..answered + count)
            .map(|i| format!("echo: m{i}"))
            .collect();
        assert_eq!(replies, expected, "run {runs}");
        answered += count;
        runs += 1;
    }
    assert_eq!(answered, backlog);
    // Every run but the last answered a full batch.
    assert_eq!(runs, backlog.div_ceil(bound));
    assert!(
        store
            .unanswered(&thread, usize::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_is_answered_in_bounded_runs() {
    backlog_in_bounded_runs(MemoryStore::new(), 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_backlog_of_100_000_is_answered_in_bounded_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("aitp.db")).unwrap();
    backlog_in_bounded_runs(store, 100_000).await;
}

/// On a throwaway cluster; skipped (with a notice) when PostgreSQL is not installed, unless
/// `AITP_REQUIRE_POSTGRES` is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_backlog_of_100_000_is_answered_in_bounded_runs() {
    let Some(pg) = TempPostgres::shared() else {
        return;
    };
    let store = PgStore::connect(&pg.database()).await.unwrap();
    backlog_in_bounded_runs(store, 100_000).await;
}

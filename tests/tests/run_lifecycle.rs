//! A run's life over HTTP, against every store: a cancel racing the run's completion, in a
//! loop, never leaves a run non-terminal or a thread refusing messages, and every run's final
//! state is allowed and matches its replies (completed ⇔ its replies are stored).
//!
//! Four ways of cancelling, each driven by conditions, never by sleeps: a cancel posted right
//! after the run; a cancel posted at the moment the handler is released, once the run was
//! seen `in_progress`; a cancel while the handler is held (it must win); and a cancel of a run
//! already over, which must answer 400 as OpenAI does and change nothing.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aitp::{
    agent::Router,
    server::{Limits, Server},
    store::{MemoryStore, PgStore, SqliteStore, ThreadStore, testing::TempPostgres},
};
use aitp_tests::serve_in_background;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Messages whose handler waits until the test releases their text.
#[derive(Default)]
struct Gates {
    released: Mutex<HashSet<String>>,
    changed: Notify,
    /// Messages that made their handler panic: once each, or every later run would fail too
    /// (a failed run answers nothing, so the next one sees the message again).
    panicked: Mutex<HashSet<String>>,
}

impl Gates {
    fn release(&self, text: &str) {
        self.released.lock().unwrap().insert(text.to_owned());
        self.changed.notify_waiters();
    }

    async fn wait(&self, text: &str) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.released.lock().unwrap().contains(text) {
                return;
            }
            changed.await;
        }
    }
}

fn agent(gates: Arc<Gates>) -> Router {
    Router::new()
        .actor_id("lifecycle")
        .on_text(move |text: String| {
            let gates = Arc::clone(&gates);
            async move {
                if text.starts_with("hold") {
                    gates.wait(&text).await;
                }
                if text.starts_with("panic") && gates.panicked.lock().unwrap().insert(text.clone())
                {
                    panic!("the handler panicked on purpose");
                }
                format!("echo: {text}")
            }
        })
}

struct Api {
    base: String,
    http: Client,
}

impl Api {
    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let r = req.send().await.expect("the server answers");
        let status = r.status();
        (status, r.json().await.expect("a JSON body"))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn say(&self, thread: &str, text: &str) {
        let (status, body) = self
            .post(
                &format!("/threads/{thread}/messages"),
                json!({"role": "user", "content": text}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "the thread refuses messages: {body}"
        );
    }

    async fn start_run(&self, thread: &str) -> String {
        let (status, run) = self
            .post(
                &format!("/threads/{thread}/runs"),
                json!({"assistant_id": "a"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{run}");
        run["id"].as_str().unwrap().to_owned()
    }

    async fn cancel(&self, thread: &str, run: &str) -> (StatusCode, Value) {
        self.post(&format!("/threads/{thread}/runs/{run}/cancel"), json!({}))
            .await
    }

    /// Polls the run until `done` says so; fails after a generous deadline.
    async fn wait_run(&self, thread: &str, run: &str, done: impl Fn(&str) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.get(&format!("/threads/{thread}/runs/{run}")).await;
            if done(r["status"].as_str().unwrap()) {
                return r;
            }
            assert!(Instant::now() < deadline, "run {run} stuck: {r}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn replies_of(&self, thread: &str, run: &str) -> Vec<Value> {
        let list = self
            .get(&format!(
                "/threads/{thread}/messages?run_id={run}&limit=100"
            ))
            .await;
        list["data"].as_array().unwrap().clone()
    }
}

fn terminal(status: &str) -> bool {
    matches!(
        status,
        "completed" | "failed" | "cancelled" | "expired" | "incomplete"
    )
}

#[derive(Debug, Clone, Copy)]
enum Race {
    /// Cancel right after the run is created.
    AtOnce,
    /// Cancel at the moment the handler is released, once the run was seen in progress.
    WhileReleased,
    /// Cancel while the handler is held, then release it: the cancel must win.
    WhileHeld,
    /// Cancel once the run is over.
    Late,
}

/// What one race ended as.
#[derive(Debug, Default)]
struct Tally {
    completed: usize,
    cancelled: usize,
    failed: usize,
    refused: usize,
}

async fn race(api: &Api, gates: &Gates, thread: &str, i: usize, how: Race, tally: &mut Tally) {
    let text = match how {
        Race::WhileReleased | Race::WhileHeld => format!("hold {i}"),
        _ if i % 7 == 3 => format!("panic {i}"),
        _ => format!("quick {i}"),
    };
    api.say(thread, &text).await;
    let run = api.start_run(thread).await;
    let (status, body) = match how {
        Race::AtOnce => api.cancel(thread, &run).await,
        Race::WhileReleased => {
            // (A run can also end first: an earlier message it answers may panic.)
            api.wait_run(thread, &run, |s| s == "in_progress" || terminal(s))
                .await;
            // Release the handler and cancel at the same time: either may win.
            let (cancel, ()) =
                tokio::join!(api.cancel(thread, &run), async { gates.release(&text) });
            cancel
        }
        Race::WhileHeld => {
            let seen = api
                .wait_run(thread, &run, |s| s == "in_progress" || terminal(s))
                .await;
            let cancel = api.cancel(thread, &run).await;
            if seen["status"] == "in_progress" {
                assert_eq!(cancel.0, StatusCode::OK, "{}", cancel.1);
            }
            gates.release(&text);
            let end = api.wait_run(thread, &run, terminal).await;
            if seen["status"] == "in_progress" {
                assert_eq!(end["status"], "cancelled", "{end}");
            }
            cancel
        }
        Race::Late => {
            api.wait_run(thread, &run, terminal).await;
            let (status, body) = api.cancel(thread, &run).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            (status, body)
        }
    };
    let end = api.wait_run(thread, &run, terminal).await;
    let end_status = end["status"].as_str().unwrap().to_owned();
    match status {
        StatusCode::OK => {
            // The cancel was stored: the run cannot have completed.
            assert_eq!(body["status"], "cancelling", "{body}");
            assert!(
                matches!(end_status.as_str(), "cancelled" | "failed"),
                "{how:?} {i}: cancelled with 200 but ended {end}"
            );
        }
        StatusCode::BAD_REQUEST => {
            // Too late: OpenAI's answer, and the run is as it ended.
            tally.refused += 1;
            assert_eq!(
                body["error"]["message"],
                format!("Cannot cancel run with status '{end_status}'."),
                "{how:?} {i}: {body}"
            );
            assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
            assert_eq!(body["error"]["code"], "run_not_active", "{body}");
        }
        other => panic!("{how:?} {i}: cancel answered {other}: {body}"),
    }
    // The state matches the replies: completed ⇔ its replies are stored.
    let replies = api.replies_of(thread, &run).await;
    match end_status.as_str() {
        "completed" => {
            tally.completed += 1;
            assert!(
                !replies.is_empty(),
                "{how:?} {i}: completed without replies"
            );
            assert!(end["completed_at"].is_i64(), "{end}");
        }
        "cancelled" => {
            tally.cancelled += 1;
            assert!(replies.is_empty(), "{how:?} {i}: cancelled with replies");
            assert!(end["cancelled_at"].is_i64(), "{end}");
        }
        "failed" => {
            tally.failed += 1;
            assert!(replies.is_empty(), "{how:?} {i}: failed with replies");
            assert_eq!(end["last_error"]["code"], "server_error", "{end}");
        }
        other => panic!("{how:?} {i}: run ended {other}"),
    }
    // A late cancel changed nothing.
    assert_eq!(
        api.get(&format!("/threads/{thread}/runs/{run}")).await,
        end,
        "{how:?} {i}: the run changed after it ended"
    );
}

async fn races_never_wedge<S: ThreadStore>(store: S) {
    let gates = Arc::new(Gates::default());
    let mut limits = Limits::default();
    // Polls answer at once: the test polls for `in_progress` while a handler is held.
    limits.poll_hold = Duration::ZERO;
    let server = Server::new(agent(Arc::clone(&gates)), store).limits(limits);
    let (base, guard) = serve_in_background(server).await;
    let api = Api {
        base,
        http: Client::new(),
    };
    let (status, thread) = api.post("/threads", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{thread}");
    let thread = thread["id"].as_str().unwrap().to_owned();
    let mut tally = Tally::default();
    for i in 0..120 {
        let how = match i % 4 {
            0 => Race::AtOnce,
            1 => Race::WhileReleased,
            2 => Race::WhileHeld,
            _ => Race::Late,
        };
        race(&api, &gates, &thread, i, how, &mut tally).await;
    }
    // Never left refusing: a message and a run still go through, and the run answers.
    api.say(&thread, "after").await;
    let run = api.start_run(&thread).await;
    let end = api.wait_run(&thread, &run, terminal).await;
    assert_eq!(end["status"], "completed", "{end}");
    // Every run is terminal.
    let runs = api
        .get(&format!("/threads/{thread}/runs?limit=100&order=desc"))
        .await;
    for r in runs["data"].as_array().unwrap() {
        assert!(terminal(r["status"].as_str().unwrap()), "{r}");
    }
    // Late cancels are refused every time; held ones win; panics fail.
    assert!(tally.refused >= 30, "{tally:?}");
    assert!(tally.completed > 0 && tally.cancelled > 0, "{tally:?}");
    assert!(tally.failed > 0, "{tally:?}");
    eprintln!("{tally:?}");
    guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_cancel_races_never_wedge() {
    races_never_wedge(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_cancel_races_never_wedge() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("aitp.db")).unwrap();
    races_never_wedge(store).await;
}

/// On a throwaway cluster; skipped (with a notice) when PostgreSQL is not installed, unless
/// `AITP_REQUIRE_POSTGRES` is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_cancel_races_never_wedge() {
    let Some(pg) = TempPostgres::shared() else {
        return;
    };
    let store = PgStore::connect(&pg.database()).await.unwrap();
    races_never_wedge(store).await;
}

//! The client and `aitp` against a server shaped like open-assistant-api (FastAPI + SQLModel):
//! `metadata_` instead of `metadata`, ObjectId ids, float times, FastAPI's `{"detail"}`
//! errors, no thread listing, and runs that need a real assistant id. The server here answers
//! with those recorded shapes over HTTP on 127.0.0.1.

use std::{
    io::Write as _,
    process::{Command, Output, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use aitp::capability::decisions::RequestDecision;
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use serde_json::{Value, json};

const THREAD_ID: &str = "6655c0e3d4b3f2a1c8e9b7a0";
const AGENT: &str = "shop.example";

/// What the server keeps: the thread's metadata (as open-assistant-api stores what it is
/// given, with the agent's own declaration added) and how many runs were created.
#[derive(Default)]
struct Fake {
    metadata: Mutex<Option<Value>>,
    runs: AtomicUsize,
    /// Whether `GET /assistants` lists [`ASSISTANT`].
    lists_assistants: bool,
    /// Whether streamed runs end after their first event.
    breaks_streams: bool,
    /// The `Authorization` header of the last thread created.
    authorization: Mutex<Option<String>>,
}

type Stored = Arc<Fake>;

/// The assistant this server knows. Its runs are answered as JSON even when a stream is asked
/// for, as servers that cannot stream do.
const ASSISTANT: &str = "asst_6655c0e3";

fn run(status: &str) -> Value {
    json!({
        "id": "6655c0e3d4b3f2a1c8e9b7c1", "object": "thread.run", "thread_id": THREAD_ID,
        "assistant_id": ASSISTANT, "status": status, "created_at": 1716895991.0
    })
}

fn message(n: u8, role: &str, text: &str, actor: &str) -> Value {
    json!({
        "id": format!("6655c0e3d4b3f2a1c8e9b7b{n}"), "object": "thread.message",
        "created_at": 1716895972.0 + f64::from(n), "updated_at": null,
        "thread_id": THREAD_ID, "role": role, "assistant_id": null, "run_id": null,
        "file_ids": null, "attachments": null,
        "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
        "metadata_": {"actor": actor}
    })
}

fn thread(metadata: &Value) -> Value {
    json!({
        "id": THREAD_ID, "object": "thread", "created_at": 1716895971.412,
        "updated_at": 1716895971.412, "tool_resources": null, "metadata_": metadata
    })
}

fn not_found() -> (StatusCode, Json<Value>) {
    (StatusCode::NOT_FOUND, Json(json!({"detail": "Not Found"})))
}

fn app(stored: Stored) -> Router {
    Router::new()
        .route(
            "/v1/threads",
            post(|State(s): State<Stored>, headers: axum::http::HeaderMap, Json(body): Json<Value>| async move {
                *s.authorization.lock().unwrap() = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                // The client's actors, then the agent's.
                let ours: Vec<Value> = body["metadata"]["actors"]
                    .as_str()
                    .and_then(|a| serde_json::from_str(a).ok())
                    .unwrap_or_default();
                let mut actors = vec![json!({
                    "id": AGENT,
                    "capabilities": ["https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json"]
                })];
                actors.extend(ours);
                let metadata = json!({"actors": Value::Array(actors).to_string()});
                *s.metadata.lock().unwrap() = Some(metadata.clone());
                Json(thread(&metadata))
            }),
        )
        .route(
            "/v1/threads/{id}",
            get(|State(s): State<Stored>, Path(id): Path<String>| async move {
                let stored = s.metadata.lock().unwrap().clone();
                match stored {
                    Some(m) if id == THREAD_ID => Ok(Json(thread(&m))),
                    _ => Err(not_found()),
                }
            }),
        )
        .route(
            "/v1/threads/{id}/messages",
            get(|State(s): State<Stored>, Path(id): Path<String>| async move {
                if id != THREAD_ID {
                    return Err(not_found());
                }
                let data = if s.runs.load(Ordering::SeqCst) == 0 {
                    let question = aitp::capability::Envelope::from(
                        RequestDecision::radio("size", ["S", "M"])
                            .title("Which size?")
                            .build(),
                    )
                    .to_json_string();
                    vec![
                        message(1, "user", "socks please", "ada.near"),
                        message(2, "assistant", &question, AGENT),
                    ]
                } else {
                    vec![
                        message(9, "user", "hi", "aitp-cli"),
                        message(8, "assistant", "hello from a server that cannot stream", AGENT),
                    ]
                };
                Ok(Json(json!({"object": "list", "data": data, "has_more": false})))
            })
            .post(|| async { Json(message(9, "user", "hi", "aitp-cli")) }),
        )
        .route(
            "/v1/threads/{id}/runs",
            // open-assistant-api looks the assistant up first.
            post(|State(s): State<Stored>, Json(body): Json<Value>| async move {
                let id = body["assistant_id"].as_str().unwrap_or_default().to_owned();
                if id != ASSISTANT {
                    let detail = json!({"detail": format!("assistant {id} not found")});
                    return Err((StatusCode::NOT_FOUND, Json(detail)));
                }
                s.runs.fetch_add(1, Ordering::SeqCst);
                if s.breaks_streams && body["stream"] == true {
                    // The stream names its run, then the connection ends mid-run.
                    let frame = format!("event: thread.run.created\ndata: {}\n\n", run("queued"));
                    let response = ([("content-type", "text/event-stream")], frame);
                    return Ok(axum::response::IntoResponse::into_response(response));
                }
                Ok(axum::response::IntoResponse::into_response(Json(run("queued"))))
            })
            .get(|State(s): State<Stored>| async move {
                let runs = if s.runs.load(Ordering::SeqCst) == 0 {
                    vec![]
                } else {
                    vec![run("completed")]
                };
                Json(json!({"object": "list", "data": runs, "has_more": false}))
            }),
        )
        .route(
            "/v1/assistants",
            get(|State(s): State<Stored>| async move {
                if !s.lists_assistants {
                    return Err(not_found());
                }
                let one = json!({"id": ASSISTANT, "object": "assistant", "name": "Shop"});
                Ok(Json(json!({"object": "list", "data": [one], "has_more": false})))
            }),
        )
        .route(
            "/v1/threads/{id}/runs/{run}",
            get(|| async { Json(run("completed")) }),
        )
        .with_state(stored)
}

async fn serve() -> (String, Stored) {
    serve_with(Fake::default()).await
}

async fn serve_with(fake: Fake) -> (String, Stored) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let stored = Arc::new(fake);
    let app = app(stored.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, stored)
}

async fn aitp(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_aitp"))
            .args(&args)
            .env_remove("AITP_URL")
            .env_remove("AITP_ASSISTANT")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reads_actors_from_metadata_underscore() {
    let (url, _) = serve().await;
    let client = aitp_client::Client::builder(&url)
        .actor("ada.near")
        .build()
        .unwrap();
    let created = client.create_thread().await.unwrap();
    let ids: Vec<&str> = created.actors().iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [AGENT, "ada.near"]);
    assert!(created.supports::<RequestDecision>());

    let opened = client.thread(THREAD_ID).await.unwrap();
    assert_eq!(opened.actors().len(), 2);
    assert!(opened.supports::<RequestDecision>());

    let messages: Vec<aitp::thread::Message> = futures_util::TryStreamExt::try_collect(
        client
            .messages(THREAD_ID)
            .list(aitp::thread::ListQuery::default()),
    )
    .await
    .unwrap();
    assert_eq!(messages[1].actor(), Some(AGENT));
    assert!(
        messages[1]
            .capability::<RequestDecision>()
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aitp_on_an_open_assistant_api_server() {
    let (url, _) = serve().await;
    // Create the thread the server knows.
    aitp_client::Client::new(&url)
        .unwrap()
        .create_thread()
        .await
        .unwrap();

    let listed = aitp(&["messages", &url, THREAD_ID]).await;
    assert!(listed.status.success(), "{listed:?}");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("ada.near: socks please"), "{listed}");
    assert!(
        listed.contains(&format!("{AGENT}: [request_decision size] Which size?")),
        "{listed}"
    );

    let missing = aitp(&["messages", &url, "6655c0e3d4b3f2a1c8e9ffff"]).await;
    assert_eq!(missing.status.code(), Some(3), "{missing:?}");

    let threads = aitp(&["threads", &url]).await;
    assert_eq!(threads.status.code(), Some(4), "{threads:?}");
    assert!(String::from_utf8_lossy(&threads.stderr).contains("no thread listing"));

    // Without --assistant the run 404s: the error says what to pass.
    let sent = aitp(&["send", &url, THREAD_ID, "hi", "--run"]).await;
    assert_eq!(sent.status.code(), Some(4), "{sent:?}");
    let stderr = String::from_utf8_lossy(&sent.stderr);
    assert!(
        stderr.contains("assistant aitp not found") && stderr.contains("pass --assistant ID"),
        "{stderr}"
    );
    // With one, the server's own answer is shown as it is.
    let sent = aitp(&[
        "send",
        &url,
        THREAD_ID,
        "hi",
        "--run",
        "--assistant",
        "asst_x",
    ])
    .await;
    assert_eq!(sent.status.code(), Some(1), "{sent:?}");
    assert!(String::from_utf8_lossy(&sent.stderr).contains("assistant asst_x not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_falls_back_to_polling_when_the_server_does_not_stream() {
    // No --assistant: the one assistant the server lists is used.
    let (url, stored) = serve_with(Fake {
        lists_assistants: true,
        ..Fake::default()
    })
    .await;
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aitp"))
            .args(["chat", &url])
            .env_remove("AITP_URL")
            .env_remove("AITP_ASSISTANT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("Using assistant {ASSISTANT}")),
        "{out:?}"
    );
    assert!(
        stdout.contains(&format!("{AGENT}: hello from a server that cannot stream")),
        "{stdout}"
    );
    // The run the server started instead of streaming was waited for, not started again.
    assert_eq!(stored.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_options_from_the_environment() {
    let (url, stored) = serve().await;
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aitp"))
            .arg("chat")
            .env("AITP_URL", &url)
            .env("AITP_TOKEN", "sk-from-env")
            .env("AITP_ASSISTANT", ASSISTANT)
            .env("AITP_ACTOR", "ada.near")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    // The actor declared, the token sent, the assistant's run created.
    assert!(
        stdout.contains(&format!("Thread {THREAD_ID} with {AGENT}.")),
        "{stdout}"
    );
    let metadata = stored.metadata.lock().unwrap().clone().unwrap();
    assert!(
        metadata["actors"]
            .as_str()
            .unwrap()
            .contains("\"ada.near\"")
    );
    assert_eq!(
        stored.authorization.lock().unwrap().as_deref(),
        Some("Bearer sk-from-env")
    );
    assert_eq!(stored.runs.load(Ordering::SeqCst), 1, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_polls_a_run_whose_stream_broke() {
    let (url, stored) = serve_with(Fake {
        breaks_streams: true,
        ..Fake::default()
    })
    .await;
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aitp"))
            .args(["chat", &url, "--assistant", ASSISTANT])
            .env_remove("AITP_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains(&format!("{AGENT}: hello from a server that cannot stream")),
        "{stdout}"
    );
    assert_eq!(stored.runs.load(Ordering::SeqCst), 1);
}

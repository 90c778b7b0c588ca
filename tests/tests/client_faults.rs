//! The client against small misbehaving servers on loopback: every fault gives the right retry
//! or a clear error, never a panic or a hang. Also the tolerance of real servers' shapes and
//! of odd streams.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use aitp::thread::{CreateThread, RunStatus, event::EventName};
use aitp::thread::{ListQuery, Order};
use aitp_client::{Client, Error, RetryPolicy, WaitPolicy};
use axum::{
    Router,
    body::{Body, Bytes},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::{io::AsyncWriteExt, net::TcpListener};

/// Serves `router` on a free loopback port; returns the base URL.
async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/v1")
}

/// A server answering every connection with the same raw bytes, then closing it.
async fn serve_raw(response: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
                let _ = socket.write_all(response).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}/v1")
}

fn json(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

const THREAD: &str = r#"{"id":"thread_1","object":"thread","created_at":1,"metadata":{}}"#;

fn client(base: &str, retry: RetryPolicy) -> Client {
    Client::builder(base)
        .timeout(Duration::from_millis(500))
        .retry(retry.initial_backoff(Duration::from_millis(10)))
        .wait(WaitPolicy::default())
        .build()
        .unwrap()
}

/// A handler that fails with `status` (and `headers`) `failures` times, then answers `ok`.
fn flaky(
    hits: Arc<AtomicUsize>,
    failures: usize,
    status: StatusCode,
    retry_after: Option<&'static str>,
    ok: &'static str,
) -> impl Fn() -> std::future::Ready<Response> + Clone {
    move || {
        let n = hits.fetch_add(1, Ordering::SeqCst);
        let resp = if n < failures {
            let mut r = json(
                status,
                r#"{"error":{"message":"try later","type":"server_error"}}"#,
            );
            if let Some(ra) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, ra.parse().unwrap());
            }
            r
        } else {
            json(StatusCode::OK, ok)
        };
        std::future::ready(resp)
    }
}

#[tokio::test]
async fn a_500_is_retried_for_get_and_not_for_post() {
    let hits = Arc::new(AtomicUsize::new(0));
    let posts = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route(
            "/v1/threads/{id}",
            get(flaky(
                hits.clone(),
                1,
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                THREAD,
            )),
        )
        .route(
            "/v1/threads",
            post(flaky(
                posts.clone(),
                1,
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                THREAD,
            )),
        );
    let base = serve(router).await;
    let c = client(&base, RetryPolicy::new(3));
    let t = c.threads().retrieve("thread_1").await.unwrap();
    assert_eq!(t.id, "thread_1");
    assert_eq!(hits.load(Ordering::SeqCst), 2, "one failure, one retry");

    let err = c.threads().create(&CreateThread::new()).await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(reqwest::StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert!(err.to_string().contains("try later"), "{err}");
    assert_eq!(
        posts.load(Ordering::SeqCst),
        1,
        "a POST that may have been processed is not retried"
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after_even_for_post() {
    let hits = Arc::new(AtomicUsize::new(0));
    let router = Router::new().route(
        "/v1/threads",
        post(flaky(
            hits.clone(),
            1,
            StatusCode::TOO_MANY_REQUESTS,
            Some("1"),
            THREAD,
        )),
    );
    let base = serve(router).await;
    let c = client(&base, RetryPolicy::new(2));
    let start = Instant::now();
    c.threads().create(&CreateThread::new()).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_is_returned_not_waited() {
    let hits = Arc::new(AtomicUsize::new(0));
    let router = Router::new().route(
        "/v1/threads/{id}",
        get(flaky(
            hits.clone(),
            9,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("120"),
            THREAD,
        )),
    );
    let base = serve(router).await;
    let c = client(
        &base,
        RetryPolicy::new(3).max_retry_after(Duration::from_secs(5)),
    );
    let start = Instant::now();
    let err = c.threads().retrieve("t").await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    match err {
        Error::Api {
            status,
            retry_after,
            ..
        } => {
            assert_eq!(status.as_u16(), 503);
            assert_eq!(retry_after, Some(Duration::from_secs(120)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn connection_refused_is_retried_then_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = client(&format!("http://{addr}/v1"), RetryPolicy::new(2));
    let start = Instant::now();
    // Even a POST: it cannot have reached the server.
    let err = c.threads().create(&CreateThread::new()).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot connect"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_server_slower_than_the_timeout() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let router = Router::new()
        .route(
            "/v1/threads/{id}",
            get(move || {
                h.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    json(StatusCode::OK, THREAD)
                }
            }),
        )
        .route(
            "/v1/threads",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                json(StatusCode::OK, THREAD)
            }),
        );
    let base = serve(router).await;
    let c = client(&base, RetryPolicy::new(1));
    let start = Instant::now();
    let err = c.threads().retrieve("t").await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_timeout());
    assert_eq!(hits.load(Ordering::SeqCst), 2, "a GET is retried once");
    let err = c.threads().create(&CreateThread::new()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn truncated_and_garbage_bodies() {
    let base = serve_raw(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"id\":\"thr",
    )
    .await;
    let c = client(&base, RetryPolicy::new(1));
    let err = c.threads().retrieve("t").await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");

    let router = Router::new()
        .route(
            "/v1/threads/{id}",
            get(|| async { json(StatusCode::OK, "<html>oops</html>") }),
        )
        .route(
            "/v1/threads",
            post(|| async { json(StatusCode::OK, r#"{"id": "thread_1", "created_at": "#) }),
        )
        .route(
            "/v1/threads/{id}/messages",
            get(|| async { (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response() }),
        );
    let base = serve(router).await;
    let c = client(&base, RetryPolicy::none());
    let err = c.threads().retrieve("t").await.unwrap_err();
    match &err {
        Error::Decode { body, status, .. } => {
            assert_eq!(body, "<html>oops</html>");
            assert_eq!(status.as_u16(), 200);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("<html>oops</html>"), "{err}");
    let err = c.threads().create(&CreateThread::new()).await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    let err = c
        .messages("t")
        .list(ListQuery::default().order(Order::Asc))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    match &err {
        Error::Api {
            status,
            error,
            body,
            ..
        } => {
            assert_eq!(status.as_u16(), 502);
            assert!(error.is_none());
            assert_eq!(body, "Bad Gateway");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tolerates_real_server_shapes() {
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let router = Router::new()
        // 201, float created_at, an unprefixed id, no object, actors as an array, unknown fields.
        .route(
            "/v1/threads",
            post(|| async {
                json(
                    StatusCode::CREATED,
                    r#"{"id":"abc123","created_at":1731000000.25,"metadata":{"actors":[{"id":"agent","capabilities":["https://aitp.dev/v1/decisions/schema.json"]}]},"shard":7}"#,
                )
            }),
        )
        .route(
            "/v1/threads/{id}/messages",
            // A bare array (NEAR AI's lists), with missing optional fields.
            get(|| async {
                json(
                    StatusCode::OK,
                    r#"[{"id":"1","thread_id":"abc123","role":"assistant","content":"hi there","created_at":1.5}]"#,
                )
            })
            .post(|| async {
                json(
                    StatusCode::CREATED,
                    r#"{"id":"m1","thread_id":"abc123","role":"user","content":[{"type":"text","text":{"value":"yo","annotations":[]}}],"created_at":2.0,"metadata":null,"attachments":null}"#,
                )
            }),
        )
        .route(
            "/v1/threads/{id}/runs",
            post(|| async {
                json(
                    StatusCode::CREATED,
                    r#"{"id":"r1","thread_id":"abc123","assistant_id":"a","status":"thinking","created_at":3.9}"#,
                )
            })
            // A list without `object`.
            .get(|| async {
                json(
                    StatusCode::OK,
                    r#"{"data":[{"id":"r1","thread_id":"abc123","assistant_id":"a","status":"completed","created_at":3}],"has_more":false}"#,
                )
            }),
        )
        .route(
            "/v1/threads/{id}/runs/{run}",
            get(move || {
                // An unknown status first, then completed.
                let n = p.fetch_add(1, Ordering::SeqCst);
                let status = if n == 0 { "thinking" } else { "completed" };
                std::future::ready(json(
                    StatusCode::OK,
                    if status == "thinking" {
                        r#"{"id":"r1","thread_id":"abc123","assistant_id":"a","status":"thinking","created_at":3}"#
                    } else {
                        r#"{"id":"r1","thread_id":"abc123","assistant_id":"a","status":"completed","created_at":3,"completed_at":4.0}"#
                    },
                ))
            }),
        );
    let base = serve(router).await;
    let c = client(&base, RetryPolicy::none());
    let mut thread = c.create_thread().await.unwrap();
    assert_eq!(thread.id(), "abc123");
    assert_eq!(thread.thread().created_at, 1_731_000_000);
    assert_eq!(thread.actors()[0].id, "agent");
    let sent = thread.post("yo").await.unwrap();
    assert_eq!(sent.id, "m1");
    let replies = thread.run().await.unwrap();
    assert_eq!(replies[0].text(), "hi there");
    assert!(polls.load(Ordering::SeqCst) >= 2);
    let runs: Vec<_> = c
        .runs("abc123")
        .list(ListQuery::default().order(Order::Asc))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(runs[0].status, RunStatus::Completed);
}

fn sse(frames: Vec<&'static str>, close: bool) -> Response {
    let chunks = stream::iter(
        frames
            .into_iter()
            .map(|f| Ok::<_, std::io::Error>(Bytes::from(f))),
    );
    let body = if close {
        Body::from_stream(chunks)
    } else {
        Body::from_stream(chunks.chain(stream::pending()))
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/event-stream")],
        body,
    )
        .into_response()
}

#[tokio::test]
async fn streams_that_never_close_unknown_events_and_data_only_frames() {
    let router = Router::new()
        .route(
            "/v1/threads/{id}/runs",
            post(|| async {
                sse(
                    vec![
                        "data: {\"event\":\"thread.run.created\",\"data\":{\"id\":\"r1\",\"status\":\"queued\"}}\n\n",
                        ": ping\n\nevent: thread.run.step.created\ndata: {\"id\":\"step_001\"}\n\n",
                        "event: vendor.custom\ndata: {\"x\":1}\n\n",
                        "data: {\"event\":\"thread.message.delta\",\"data\":{\"id\":\"m\",\"object\":\"thread.message.delta\",\"delta\":{\"content\":[{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"Hel\"}}]}}}\n\n",
                        "data: {\"event\":\"thread.message.delta\",\"data\":{\"id\":\"m\",\"object\":\"thread.message.delta\",\"delta\":{\"content\":[{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"lo\"}}]}}}\r\n\r\n",
                        "data: {\"event\":\"thread.run.completed\",\"data\":{\"id\":null,\"object\":\"thread.run.completed\",\"delta\":{\"id\":\"r1\",\"thread_id\":\"t\",\"assistant_id\":\"a\",\"status\":\"completed\",\"created_at\":1}}}\n\n",
                    ],
                    false,
                )
            }),
        );
    let base = serve(router).await;
    let c = client(&base, RetryPolicy::none());
    let start = Instant::now();
    let outcome = c
        .runs("t")
        .create_stream(&aitp::thread::CreateRun::new("a"))
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    assert_eq!(outcome.text, "Hello");
    assert_eq!(outcome.run.unwrap().status, RunStatus::Completed);
    assert_eq!(outcome.events, 6);
    assert!(
        start.elapsed() < Duration::from_millis(400),
        "ended at the terminal event"
    );

    // A stream that stops talking before the run ends: an idle timeout, not a hang.
    let silent = Router::new().route(
        "/v1/threads/{id}/runs",
        post(|| async {
            sse(
                vec!["event: thread.run.created\ndata: {\"id\":\"r1\"}\n\n"],
                false,
            )
        }),
    );
    let base = serve(silent).await;
    let c = client(&base, RetryPolicy::none());
    let mut s = c
        .runs("t")
        .create_stream(&aitp::thread::CreateRun::new("a"))
        .await
        .unwrap();
    let first = s
        .next()
        .await
        .expect("a first event")
        .expect("it arrives whole");
    assert_eq!(first.name, EventName::RunCreated);
    let err = s.next().await.unwrap().unwrap_err();
    assert!(matches!(err, Error::WaitTimeout { .. }), "{err:?}");
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn auth_headers_user_agent_and_header_providers_reach_the_server() {
    use axum::http::HeaderMap;
    let router = Router::new().route(
        "/v1/threads/{id}",
        get(|headers: HeaderMap| async move {
            let h = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            let seen = serde_json::json!({
                "id": "thread_1", "object": "thread", "created_at": 1,
                "metadata": {
                    "authorization": h("authorization"), "user_agent": h("user-agent"),
                    "tenant": h("x-tenant"), "beta": h("openai-beta"),
                },
            });
            json_owned(seen.to_string())
        }),
    );
    let base = serve(router).await;
    let near = aitp_client::NearAuth::new(
        "ada.near",
        "ed25519:abc",
        "c2ln",
        "00000000000000000001740000000000",
    );
    let c = Client::builder(&base)
        .near_auth(&near)
        .user_agent("my-app/1.0")
        .header("x-tenant", "acme")
        .build()
        .unwrap();
    let t = c.threads().retrieve("thread_1").await.unwrap();
    let auth = t.metadata.get("authorization").unwrap();
    let token: serde_json::Value =
        serde_json::from_str(auth.strip_prefix("Bearer ").unwrap()).unwrap();
    assert_eq!(token["account_id"], "ada.near");
    assert_eq!(token["recipient"], "ai.near");
    assert_eq!(token["nonce"], "00000000000000000001740000000000");
    assert_eq!(t.metadata.get("user_agent"), Some("my-app/1.0"));
    assert_eq!(t.metadata.get("tenant"), Some("acme"));
    assert_eq!(t.metadata.get("beta"), Some("assistants=v2"));

    let bad = Client::builder(&base)
        .bearer("line\nbreak")
        .build()
        .unwrap();
    assert!(matches!(
        bad.threads().retrieve("t").await,
        Err(Error::Config(_))
    ));
    assert!(matches!(Client::new("not a url"), Err(Error::Config(_))));
}

fn json_owned(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

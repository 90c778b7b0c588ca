//! The Threads API server over real HTTP on 127.0.0.1: every endpoint, status codes, object
//! shapes, pagination, isolation, limits, errors, runs (polled, streamed, cancelled, failed).

use std::time::Duration;

use aitp::{
    agent::{Router, ThreadCtx},
    capability::{
        Envelope,
        decisions::{Decision, RequestDecision},
        errors::{ErrorCode, ErrorReport},
    },
    server::{Server, TokenList},
    store::MemoryStore,
};
use aitp_tests::serve_in_background;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

#[derive(Debug)]
struct Oops;
impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("that option is sold out")
    }
}

fn agent() -> Router {
    Router::new()
        .actor_id("test-agent")
        .on_text(|cx: ThreadCtx, text: String| async move {
            match text.as_str() {
                "slow" => {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    "finally".to_owned()
                }
                "panic" => panic!("the handler panicked on purpose"),
                "ask" => Envelope::from(RequestDecision::radio("size", ["S", "M"]).build())
                    .to_json_string(),
                _ => format!("echo: {text} ({})", cx.thread_id()),
            }
        })
        .handler(|d: Decision| async move {
            if d.chosen_ids().any(|id| id == "sold-out") {
                Err(Oops)
            } else {
                Ok(format!(
                    "chose {}",
                    d.chosen_ids().collect::<Vec<_>>().join(",")
                ))
            }
        })
}

struct Api {
    base: String,
    http: Client,
    token: &'static str,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(self.token)
            .header("openai-beta", "assistants=v2");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        (status, value)
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
    async fn ok_post(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.post(path, body).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        v
    }
    async fn ok_get(&self, path: &str) -> Value {
        let (s, v) = self.get(path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        v
    }
    async fn new_thread(&self) -> String {
        self.ok_post("/threads", json!({})).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
    async fn say(&self, thread: &str, text: &str) -> Value {
        self.ok_post(
            &format!("/threads/{thread}/messages"),
            json!({"role": "user", "content": text}),
        )
        .await
    }
    /// Creates a run and polls it to a terminal status.
    async fn run(&self, thread: &str) -> Value {
        let run = self
            .ok_post(
                &format!("/threads/{thread}/runs"),
                json!({"assistant_id": "anything"}),
            )
            .await;
        assert_eq!(run["status"], "queued");
        let id = run["id"].as_str().unwrap().to_owned();
        for _ in 0..200 {
            let r = self.ok_get(&format!("/threads/{thread}/runs/{id}")).await;
            if ["completed", "failed", "cancelled", "expired", "incomplete"]
                .contains(&r["status"].as_str().unwrap())
            {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("run {id} never finished");
    }
    async fn last_reply(&self, thread: &str) -> Value {
        let list = self
            .ok_get(&format!("/threads/{thread}/messages?limit=1&order=desc"))
            .await;
        list["data"][0].clone()
    }
}

async fn start(tokens: bool) -> (Api, aitp_tests::ServerGuard) {
    let mut server = Server::new(agent(), MemoryStore::new()).body_limit(64 * 1024);
    if tokens {
        server = server.auth(
            TokenList::new()
                .token("sk-alice", "alice")
                .token("sk-bob", "bob"),
        );
    }
    let (base, guard) = serve_in_background(server).await;
    (
        Api {
            base,
            http: Client::new(),
            token: "sk-alice",
        },
        guard,
    )
}

fn text_of(message: &Value) -> String {
    message["content"][0]["text"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn threads_create_retrieve_modify_delete() {
    let (api, _g) = start(false).await;
    let actors = json!([{"id": "me.near", "client_id": "tests", "capabilities": ["https://aitp.dev/v1/decisions/schema.json"]}]);
    let t = api
        .ok_post(
            "/threads",
            json!({"metadata": {"actors": actors.to_string(), "topic": "socks"}}),
        )
        .await;
    assert_eq!(t["object"], "thread");
    assert!(t["id"].as_str().unwrap().starts_with("thread_"));
    assert!(t["created_at"].is_i64());
    assert!(t["tool_resources"].is_null());
    assert_eq!(t["metadata"]["topic"], "socks");
    let declared: Value = serde_json::from_str(t["metadata"]["actors"].as_str().unwrap()).unwrap();
    assert_eq!(declared[0]["id"], "me.near");
    assert_eq!(declared[1]["id"], "test-agent");
    assert_eq!(
        declared[1]["capabilities"],
        json!(["https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json"])
    );

    // Actors as an array (the AITP spec's shape) and the spec's singular path.
    let t2 = api
        .ok_post("/thread", json!({"metadata": {"actors": actors}}))
        .await;
    assert!(t2["metadata"]["actors"].is_string());

    let id = t["id"].as_str().unwrap();
    assert_eq!(api.ok_get(&format!("/threads/{id}")).await, t);
    let m = api
        .ok_post(
            &format!("/threads/{id}"),
            json!({"metadata": {"topic": "shoes"}}),
        )
        .await;
    assert_eq!(m["metadata"]["topic"], "shoes");
    assert!(
        m["metadata"]["actors"].is_string(),
        "the agent's declaration survives"
    );

    let (s, d) = api
        .send(reqwest::Method::DELETE, &format!("/threads/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        d,
        json!({"id": id, "object": "thread.deleted", "deleted": true})
    );
    let (s, e) = api.get(&format!("/threads/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(e["error"]["message"].as_str().unwrap().contains(id));
}

#[tokio::test]
async fn messages_create_list_paginate_retrieve() {
    let (api, _g) = start(false).await;
    let thread = api.new_thread().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let m = api.say(&thread, &format!("m{i}")).await;
        assert_eq!(m["object"], "thread.message");
        assert_eq!(m["role"], "user");
        assert_eq!(m["status"], "completed");
        assert_eq!(m["attachments"], json!([]));
        assert!(m["id"].as_str().unwrap().starts_with("msg_"));
        ids.push(m["id"].as_str().unwrap().to_owned());
    }
    // Content as parts and as bare strings (the AITP spec's shape).
    let parts = api
        .ok_post(
            &format!("/threads/{thread}/messages"),
            json!({"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}),
        )
        .await;
    assert_eq!(parts["content"][1]["text"]["value"], "b");
    let bare = api
        .ok_post(
            &format!("/threads/{thread}/messages"),
            json!({"role": "user", "content": ["x", "y"]}),
        )
        .await;
    assert_eq!(
        bare["content"][0],
        json!({"type": "text", "text": {"value": "x", "annotations": []}})
    );
    ids.push(parts["id"].as_str().unwrap().to_owned());
    ids.push(bare["id"].as_str().unwrap().to_owned());

    let page = api
        .ok_get(&format!("/threads/{thread}/messages?limit=3&order=asc"))
        .await;
    assert_eq!(page["object"], "list");
    let got: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids[..3]);
    assert_eq!(page["first_id"], ids[0]);
    assert_eq!(page["last_id"], ids[2]);
    assert_eq!(page["has_more"], true);
    let next = api
        .ok_get(&format!(
            "/threads/{thread}/messages?limit=10&order=asc&after={}",
            ids[2]
        ))
        .await;
    let got: Vec<&str> = next["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids[3..]);
    assert_eq!(next["has_more"], false);

    let desc = api
        .ok_get(&format!("/threads/{thread}/messages?limit=2"))
        .await;
    let got: Vec<&str> = desc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[6].as_str(), ids[5].as_str()]);
    let older = api
        .ok_get(&format!(
            "/threads/{thread}/messages?order=desc&after={}",
            ids[5]
        ))
        .await;
    assert_eq!(older["data"].as_array().unwrap().len(), 5);
    assert_eq!(older["data"][0]["id"], ids[4]);
    let before = api
        .ok_get(&format!(
            "/threads/{thread}/messages?order=asc&before={}",
            ids[2]
        ))
        .await;
    let got: Vec<&str> = before["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids[..2]);

    let one = api
        .ok_get(&format!("/threads/{thread}/messages/{}", ids[1]))
        .await;
    assert_eq!(text_of(&one), "m1");
    let (s, _) = api
        .get(&format!("/threads/{thread}/messages/msg_nope"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    for bad in ["limit=0", "limit=101", "limit=x", "order=up"] {
        let (s, e) = api.get(&format!("/threads/{thread}/messages?{bad}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert!(e["error"]["param"].is_string(), "{bad}: {e}");
    }
    let (s, e) = api
        .post(
            &format!("/threads/{thread}/messages"),
            json!({"role": "system", "content": "hi"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}

#[tokio::test]
async fn runs_poll_to_completion_and_reply() {
    let (api, _g) = start(false).await;
    let thread = api.new_thread().await;
    api.say(&thread, "hello").await;
    let run = api.run(&thread).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["object"], "thread.run");
    assert!(run["started_at"].is_i64() && run["completed_at"].is_i64());
    assert_eq!(run["assistant_id"], "anything");
    assert!(run["last_error"].is_null());
    let reply = api.last_reply(&thread).await;
    assert_eq!(reply["role"], "assistant");
    assert_eq!(reply["run_id"], run["id"]);
    assert_eq!(text_of(&reply), format!("echo: hello ({thread})"));

    // Only new messages are answered by the next run.
    api.say(&thread, "again").await;
    api.run(&thread).await;
    let of_run = api
        .ok_get(&format!("/threads/{thread}/messages?order=asc"))
        .await;
    let texts: Vec<String> = of_run["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(text_of)
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert_eq!(texts[3], format!("echo: again ({thread})"));

    let runs = api
        .ok_get(&format!("/threads/{thread}/runs?order=asc"))
        .await;
    assert_eq!(runs["object"], "list");
    assert_eq!(runs["data"].as_array().unwrap().len(), 2);
    assert_eq!(runs["data"][0]["id"], run["id"]);
    let rid = run["id"].as_str().unwrap();
    let filtered = api
        .ok_get(&format!("/threads/{thread}/messages?run_id={rid}"))
        .await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);

    let (s, e) = api
        .post(&format!("/threads/{thread}/runs/{rid}/cancel"), json!({}))
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a finished run cannot be cancelled: {e}"
    );
    let (s, _) = api.get(&format!("/threads/{thread}/runs/run_nope")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn capability_messages_are_dispatched_and_errors_become_replies() {
    let (api, _g) = start(false).await;
    let thread = api.new_thread().await;

    let ok = Envelope::from(
        RequestDecision::radio("size", ["S", "M"])
            .build()
            .choose(["M"]),
    );
    api.say(&thread, &ok.to_json_string()).await;
    assert_eq!(api.run(&thread).await["status"], "completed");
    assert_eq!(text_of(&api.last_reply(&thread).await), "chose M");

    // A handler error: a structured reply in the thread, and the run still completes.
    let bad = Envelope::from(Decision::new(
        "size",
        [aitp::capability::decisions::SelectedOption::new("sold-out")],
    ));
    api.say(&thread, &format!("  {}\n", bad.to_json_string()))
        .await;
    assert_eq!(api.run(&thread).await["status"], "completed");
    let reply = Envelope::parse(&text_of(&api.last_reply(&thread).await)).unwrap();
    let report = reply
        .message::<ErrorReport>()
        .expect("it parses")
        .expect("it is an error report");
    assert_eq!(report.code, ErrorCode::HandlerError);
    assert_eq!(report.message, "that option is sold out");

    // An unknown capability: the "unsupported" reply naming it.
    let custom = json!({"$schema": "https://loyalty.example/caps/points/v1.2.0/schema.json", "redeem_points": {"points": 10}});
    api.say(&thread, &custom.to_string()).await;
    api.run(&thread).await;
    let reply = Envelope::parse(&text_of(&api.last_reply(&thread).await)).unwrap();
    let report = reply
        .message::<ErrorReport>()
        .expect("it parses")
        .expect("it is an error report");
    assert_eq!(report.code, ErrorCode::UnsupportedCapability);
    assert_eq!(report.key.as_deref(), Some("redeem_points"));
    assert!(
        report.message.contains("loyalty.example"),
        "{}",
        report.message
    );

    // An AITP message that breaks its schema: invalid_message naming the field.
    let broken = json!({"$schema": "https://aitp.dev/v1/decisions/schema.json", "decision": {"options": []}});
    api.say(&thread, &broken.to_string()).await;
    api.run(&thread).await;
    let reply = Envelope::parse(&text_of(&api.last_reply(&thread).await)).unwrap();
    let report = reply
        .message::<ErrorReport>()
        .expect("it parses")
        .expect("it is an error report");
    assert_eq!(report.code, ErrorCode::InvalidMessage);
    assert_eq!(report.details[0].path, "decision.options");
}

#[tokio::test]
async fn another_principal_sees_404_and_tokens_are_required() {
    let (api, _g) = start(true).await;
    let thread = api.new_thread().await;
    api.say(&thread, "secret").await;
    let bob = Api {
        base: api.base.clone(),
        http: Client::new(),
        token: "sk-bob",
    };
    for path in [
        format!("/threads/{thread}"),
        format!("/threads/{thread}/messages"),
        format!("/threads/{thread}/runs"),
    ] {
        let (s, e) = bob.get(&path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {e}");
    }
    let (s, _) = bob
        .post(
            &format!("/threads/{thread}/messages"),
            json!({"role": "user", "content": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = bob
        .send(reqwest::Method::DELETE, &format!("/threads/{thread}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Still there for its owner.
    api.ok_get(&format!("/threads/{thread}")).await;

    let anon = Api {
        base: api.base.clone(),
        http: Client::new(),
        token: "sk-wrong",
    };
    let (s, e) = anon.post("/threads", json!({})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(e["error"]["code"], "invalid_api_key");
    let resp = Client::new()
        .post(api.url("/threads"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_oversize_and_unknown_requests_get_json_errors() {
    let (api, _g) = start(false).await;
    let thread = api.new_thread().await;
    let resp = api
        .http
        .post(api.url(&format!("/threads/{thread}/messages")))
        .header("content-type", "application/json")
        .body("{\"role\": \"user\", \"content\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["code"], "invalid_json");

    let big = "x".repeat(100 * 1024);
    let resp = api
        .http
        .post(api.url(&format!("/threads/{thread}/messages")))
        .json(&json!({"role": "user", "content": big}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let e: Value = resp.json().await.unwrap();
    assert!(e["error"]["message"].is_string());

    let (s, e) = api.get("/nothing/here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["error"]["code"], "unknown_url");
    let (s, _) = api.send(reqwest::Method::PUT, "/threads", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    // Content-type and unknown fields do not matter; real clients send both.
    let resp = api
        .http
        .post(api.url("/threads"))
        .header("content-type", "text/plain")
        .body(r#"{"metadata": {}, "tool_resources": null, "delegate_execution": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn streamed_runs_send_v2_events() {
    let (api, _g) = start(false).await;
    let thread = api.new_thread().await;
    api.say(&thread, "ask").await;
    let resp = api
        .http
        .post(api.url(&format!("/threads/{thread}/runs")))
        .header("accept", "application/json")
        .json(&json!({"assistant_id": "x", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = resp.text().await.unwrap();
    let names: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        names,
        [
            "thread.run.created",
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.message.created",
            "thread.message.in_progress",
            "thread.message.delta",
            "thread.message.completed",
            "thread.run.completed",
            "done"
        ]
    );
    assert!(body.contains("data: [DONE]"));
    let completed = body
        .split("event: thread.message.completed\ndata: ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    let m: Value = serde_json::from_str(completed).unwrap();
    let reply = Envelope::parse(&text_of(&m)).unwrap();
    assert!(matches!(reply.message::<RequestDecision>(), Ok(Some(_))));
}

#[tokio::test]
async fn cancel_panic_conflict_and_thread_and_run() {
    let (api, _g) = start(false).await;
    let thread = api.new_thread().await;
    api.say(&thread, "slow").await;
    let run = api
        .ok_post(&format!("/threads/{thread}/runs"), json!({}))
        .await;
    let rid = run["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // While it runs: no new messages, no second run.
    let (s, e) = api
        .post(
            &format!("/threads/{thread}/messages"),
            json!({"role": "user", "content": "more"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, e) = api
        .post(&format!("/threads/{thread}/runs"), json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let c = api
        .ok_post(&format!("/threads/{thread}/runs/{rid}/cancel"), json!({}))
        .await;
    assert_eq!(c["status"], "cancelling");
    let mut last = Value::Null;
    for _ in 0..150 {
        last = api.ok_get(&format!("/threads/{thread}/runs/{rid}")).await;
        if last["status"] == "cancelled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last["status"], "cancelled");
    assert!(last["cancelled_at"].is_i64());
    let msgs = api.ok_get(&format!("/threads/{thread}/messages")).await;
    assert_eq!(
        msgs["data"].as_array().unwrap().len(),
        1,
        "a cancelled run posts nothing"
    );

    // A panicking handler fails the run, with last_error, and the server lives on.
    api.say(&thread, "panic").await;
    let failed = api.run(&thread).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["last_error"]["code"], "server_error");
    assert!(failed["failed_at"].is_i64());

    // Create a thread and run it in one call.
    let run = api
        .ok_post(
            "/threads/runs",
            json!({"assistant_id": "x", "thread": {"messages": [{"role": "user", "content": "one shot"}]}}),
        )
        .await;
    let t2 = run["thread_id"].as_str().unwrap().to_owned();
    let rid = run["id"].as_str().unwrap().to_owned();
    for _ in 0..100 {
        if api.ok_get(&format!("/threads/{t2}/runs/{rid}")).await["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        text_of(&api.last_reply(&t2).await),
        format!("echo: one shot ({t2})")
    );
}

#[tokio::test]
async fn a_poll_of_a_running_run_is_held_until_it_ends() {
    let mut limits = aitp::server::Limits::default();
    limits.poll_hold = Duration::from_secs(10);
    let agent = Router::new().on_text(|text: String| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        format!("late: {text}")
    });
    let (base, _g) =
        serve_in_background(Server::new(agent, MemoryStore::new()).limits(limits)).await;
    let api = Api {
        base,
        http: Client::new(),
        token: "k",
    };
    let thread = api.new_thread().await;
    api.say(&thread, "hi").await;
    let run = api
        .ok_post(&format!("/threads/{thread}/runs"), json!({}))
        .await;
    assert_eq!(run["status"], "queued");
    // One poll is enough: the server answers when the run ends, well within the hold.
    let polled = api
        .ok_get(&format!(
            "/threads/{thread}/runs/{}",
            run["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(polled["status"], "completed", "{polled}");
    assert_eq!(text_of(&api.last_reply(&thread).await), "late: hi");
}

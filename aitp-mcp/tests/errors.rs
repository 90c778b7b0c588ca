//! Each way a call can fail gives a tool error (`isError`) naming the cause, never a hang or
//! a panic: an unreachable agent, a failed run, a timeout, a malformed capability message,
//! and arguments that make no sense. Agents are real, served on 127.0.0.1.

use std::time::Duration;

use aitp::agent::Router;
use aitp_mcp::{AgentProfile, Backend, Gateway, Payer};
use rmcp::model::CallToolResult;
use serde_json::{Map, Value, json};

fn args(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

async fn gateway(agent: Router, timeout: Duration) -> Gateway {
    let backend = Backend::in_process(agent)
        .await
        .unwrap()
        .run_timeout(timeout);
    Gateway::new(backend, Payer::new("ada.near", "c"))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_unreachable_agent_is_a_tool_error() {
    // A port that was free a moment ago and has no listener now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = aitp_client::Client::builder(format!("http://127.0.0.1:{port}/v1"))
        .retry(aitp_client::RetryPolicy::none())
        .build()
        .unwrap();
    let gateway = Gateway::with_profile(
        Backend::remote(client),
        AgentProfile::default(),
        Payer::new("ada.near", "c"),
    );
    let result = gateway.call(args(json!({"text": "hi"})), None).await;
    assert_eq!(result.is_error, Some(true));
    let t = text(&result);
    assert!(t.contains("could not be reached"), "{t}");
    assert!(t.contains(&port.to_string()), "{t}");
}

async fn panics(_text: String) -> String {
    panic!("the inventory database is down")
}

#[tokio::test]
async fn a_failed_run_is_a_tool_error_with_the_runs_error() {
    let gateway = gateway(Router::new().on_text(panics), Duration::from_secs(60)).await;
    let result = gateway.call(args(json!({"text": "hi"})), None).await;
    assert_eq!(result.is_error, Some(true));
    let t = text(&result);
    assert!(t.contains("ended failed"), "{t}");
    assert!(t.contains("the inventory database is down"), "{t}");
    assert!(t.contains("thread_"), "the thread is named: {t}");
}

async fn never_answers(_text: String) -> String {
    std::future::pending().await
}

#[tokio::test]
async fn an_agent_that_never_answers_is_a_timeout_tool_error() {
    let gateway = gateway(
        Router::new().on_text(never_answers),
        Duration::from_millis(300),
    )
    .await;
    let result = gateway.call(args(json!({"text": "hi"})), None).await;
    assert_eq!(result.is_error, Some(true));
    let t = text(&result);
    assert!(t.contains("did not answer within"), "{t}");
}

async fn malformed(_text: String) -> String {
    // An AITP-01 quote whose quote_id is a number and which lacks the required fields.
    json!({
        "$schema": "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
        "quote": {"quote_id": 5}
    })
    .to_string()
}

#[tokio::test]
async fn a_malformed_capability_message_is_a_tool_error() {
    let gateway = gateway(Router::new().on_text(malformed), Duration::from_secs(60)).await;
    let result = gateway.call(args(json!({"text": "hi"})), None).await;
    assert_eq!(result.is_error, Some(true));
    let t = text(&result);
    assert!(t.contains("malformed capability message"), "{t}");
    assert!(t.contains("quote"), "{t}");
}

async fn echo(text: String) -> String {
    format!("echo: {text}")
}

#[tokio::test]
async fn arguments_that_make_no_sense_are_tool_errors_and_text_is_answered() {
    let gateway = gateway(Router::new().on_text(echo), Duration::from_secs(60)).await;
    for (bad, says) in [
        (json!({}), "give `text`"),
        (json!({"answer": {"choice": "a"}}), "needs the `thread_id`"),
        (json!({"text": 5}), "must be a string"),
        (json!({"text": "a", "answer": {}}), "not both"),
        (json!({"text": "a", "colour": "red"}), "unknown argument"),
    ] {
        let result = gateway.call(args(bad.clone()), None).await;
        assert_eq!(result.is_error, Some(true), "{bad}");
        assert!(text(&result).contains(says), "{bad}: {}", text(&result));
    }

    let hello = gateway.call(args(json!({"text": "hello"})), None).await;
    assert_eq!(hello.is_error, Some(false), "{}", text(&hello));
    let s = hello.structured_content.clone().unwrap();
    assert_eq!(s["status"], "answered");
    assert_eq!(s["replies"][0]["text"], "echo: hello");
    // Continuing the thread, and answering when nothing was asked.
    let thread = s["thread_id"].as_str().unwrap();
    let again = gateway
        .call(args(json!({"text": "again", "thread_id": thread})), None)
        .await;
    assert_eq!(again.structured_content.unwrap()["thread_id"], thread);
    let nothing = gateway
        .call(
            args(json!({"answer": {"choice": "a"}, "thread_id": thread})),
            None,
        )
        .await;
    assert_eq!(nothing.is_error, Some(true));
    assert!(
        text(&nothing).contains("asked nothing"),
        "{}",
        text(&nothing)
    );
    let missing = gateway
        .call(
            args(json!({"text": "hi", "thread_id": "thread_nope"})),
            None,
        )
        .await;
    assert_eq!(missing.is_error, Some(true));
    assert!(
        text(&missing).contains("has no thread thread_nope"),
        "{}",
        text(&missing)
    );
}

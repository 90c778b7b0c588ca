//! A custom capability end to end: loyalty points declared as Rust types, served by an agent
//! written with `#[aitp::agent]`, and called over the Threads API.
//!
//! ```text
//! cargo run -p example-loyalty
//! ```
//!
//! The capability and the desk that serves it are in `src/lib.rs`; this file is the customer.
//! The example starts the loyalty desk on a free loopback port, then plays the customer with
//! plain HTTP (reqwest): it opens a thread declaring the capability, asks for its balance,
//! spends points twice (the second time too many) and prints every reply. It exits non-zero if
//! the desk answers anything unexpected, so it doubles as a smoke test.

use std::time::Duration;

use aitp::{
    capability::{Capability, ContentPart, Envelope, extract_text},
    server::Server,
    store::MemoryStore,
};
use example_loyalty::{Loyalty, LoyaltyDesk, RedeemPoints, RequestBalance};
use serde_json::{Value, json};

/// The customer's side: the Threads API over HTTP.
struct Customer {
    base: String,
    http: reqwest::Client,
}

impl Customer {
    async fn post(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("openai-beta", "assistants=v2")
            .json(&body)
            .send()
            .await
            .expect("the desk answers");
        assert!(resp.status().is_success(), "POST {path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }

    async fn get(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("openai-beta", "assistants=v2")
            .send()
            .await
            .expect("the desk answers");
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }

    /// Sends `message`, runs the desk, returns the texts of its replies.
    async fn say(&self, thread: &str, message: &str) -> Vec<String> {
        println!("customer: {message}");
        let sent = self
            .post(
                &format!("/threads/{thread}/messages"),
                json!({"role": "user", "content": message}),
            )
            .await;
        let run = self
            .post(
                &format!("/threads/{thread}/runs"),
                json!({"assistant_id": "loyalty-desk"}),
            )
            .await;
        let run_id = run["id"].as_str().expect("run id");
        loop {
            let run = self.get(&format!("/threads/{thread}/runs/{run_id}")).await;
            match run["status"].as_str() {
                Some("completed") => break,
                Some("queued" | "in_progress") => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                other => panic!("run ended {other:?}: {run}"),
            }
        }
        let after = sent["id"].as_str().expect("message id");
        let list = self
            .get(&format!(
                "/threads/{thread}/messages?order=asc&after={after}"
            ))
            .await;
        let replies: Vec<String> = list["data"]
            .as_array()
            .expect("a list")
            .iter()
            .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
            .filter_map(|part| part["text"]["value"].as_str().map(str::to_owned))
            .collect();
        for r in &replies {
            println!("desk:     {r}");
        }
        replies
    }
}

/// The one reply, read as a loyalty message.
fn loyalty_reply(replies: &[String]) -> Loyalty {
    let [reply] = replies else {
        panic!("expected one reply, got {replies:?}")
    };
    let ContentPart::Aitp(message) = extract_text(reply) else {
        panic!("not a capability message: {reply}")
    };
    Loyalty::from_envelope(&message)
        .expect("a loyalty message that fits its type")
        .expect("a loyalty message")
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let desk = LoyaltyDesk::with_balances([("C-1001", 120)]);
    let router = desk.router();
    println!(
        "the desk declares: {:?}",
        router
            .capabilities()
            .iter()
            .map(|c| c.url())
            .collect::<Vec<_>>()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/v1", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(Server::new(router, MemoryStore::new()).serve_with(
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    println!("loyalty desk at {base}\n");

    let customer = Customer {
        base,
        http: reqwest::Client::new(),
    };
    // The customer declares the capability: the thread records both actors' declarations.
    let me = json!([{"id": "customer", "capabilities": [Loyalty::SCHEMA_URL]}]);
    let thread = customer
        .post("/threads", json!({"metadata": {"actors": me.to_string()}}))
        .await;
    let thread_id = thread["id"].as_str().expect("thread id").to_owned();
    println!(
        "thread {thread_id}, actors {}\n",
        thread["metadata"]["actors"]
    );

    let ask = Envelope::from(Loyalty::from(RequestBalance {
        account: "C-1001".into(),
    }));
    let reply = loyalty_reply(&customer.say(&thread_id, &ask.to_json_string()).await);
    assert!(
        matches!(&reply, Loyalty::Balance(b) if b.points == 120),
        "{reply:?}"
    );

    let spend = |points| {
        Envelope::from(RedeemPoints {
            account: "C-1001".into(),
            points,
            order_id: Some("order-42".into()),
        })
        .to_json_string()
    };
    let reply = loyalty_reply(&customer.say(&thread_id, &spend(100)).await);
    assert!(
        matches!(&reply, Loyalty::Balance(b) if b.points == 20 && b.redeemed == Some(100)),
        "{reply:?}"
    );

    let replies = customer.say(&thread_id, &spend(50)).await;
    assert!(
        replies[0].contains("holds 20 points, not 50"),
        "an error report: {replies:?}"
    );

    let replies = customer.say(&thread_id, "what can you do?").await;
    assert!(replies[0].contains("request_balance"), "{replies:?}");

    let _ = stop.send(());
    server.await.expect("the server task")?;
    println!("\ndone: the desk answered every message as expected");
    Ok(())
}

//! The official MCP Python SDK (`mcp` 2.3.0, in a venv under `target/`) as the host, buying
//! from the AITP shop (served on 127.0.0.1) through the gateway: over stdio (the `aitp-mcp`
//! binary, remote agent by URL) and over streamable HTTP (an in-process agent), with an
//! elicitation callback answering like a user, and as a host without elicitation.

use std::{path::Path, time::Duration};

use aitp::{
    agent::Router,
    capability::{data_request::RequestData, payments::Payment},
    server::Server,
    store::MemoryStore,
};
use aitp_examples::script;
use aitp_mcp::{Backend, Gateway, KeySigner, Payer};
use aitp_tests::{ServerGuard, python_venv, serve_in_background};
use example_shop::{ShopState, Stage, shop_agent_with};
use futures_util::TryStreamExt as _;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const MCP: &str = "mcp==2.3.0";

async fn python() -> std::path::PathBuf {
    tokio::task::spawn_blocking(|| {
        python_venv(
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join("peer-venvs"),
            &[MCP],
        )
    })
    .await
    .expect("venv setup")
}

/// The shop on a loopback port, and its state (to look at the orders).
async fn shop() -> (String, ShopState, ServerGuard) {
    let state = ShopState::default();
    let (base, guard) = serve_in_background(Server::new(
        shop_agent_with(state.clone()),
        MemoryStore::new(),
    ))
    .await;
    (base, state, guard)
}

/// Runs the Python host with `args`; its JSON summary.
async fn host(args: &[&str]) -> Value {
    let python = python().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/mcp_shop_client.py");
    let output = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new(&python)
            .arg(&script)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python host finished within 3 minutes")
    .expect("the Python host ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the MCP host failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no summary ({e}):\n{stdout}\n{stderr}"))
}

/// Serves an in-process shop through the gateway over streamable HTTP; the endpoint URL.
async fn http_gateway(state: &ShopState) -> (String, CancellationToken) {
    let backend = Backend::in_process(shop_agent_with(state.clone()))
        .await
        .expect("serve the shop in process");
    // The demo customer, whose key the shop's payment gate allows for `ada.near`.
    let payer = Payer::new(script::CUSTOMER, script::CHANNEL_ID)
        .signer(KeySigner::new(script::customer_key()));
    let gateway = Gateway::new(backend, payer)
        .await
        .expect("the gateway learns who the shop is");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = aitp_mcp::serve::http_url(listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let shutdown = stop.clone();
    tokio::spawn(async move {
        aitp_mcp::serve::http(gateway, listener, &[], shutdown)
            .await
            .expect("the gateway serves");
    });
    (url, stop)
}

fn replies_text(call: &Value) -> String {
    call["text"].as_str().unwrap_or_default().to_owned()
}

/// The confirmation among a call's replies.
fn confirmation(call: &Value) -> Option<Value> {
    call["structured"]["replies"]
        .as_array()?
        .iter()
        .find_map(|r| r["aitp"].get("payment_confirmation").cloned())
}

/// Checks a whole purchase done in one call with three elicitations.
fn assert_elicited_purchase(summary: &Value, state: &ShopState) {
    assert_eq!(summary["mcp"], "2.3.0");
    assert_eq!(summary["protocol_version"], "2025-11-25");
    let instructions = summary["instructions"].as_str().unwrap();
    assert!(instructions.contains("aitp-rs-demo-shop"), "{instructions}");
    assert!(instructions.contains("aitp-01-payments"), "{instructions}");
    let tool = summary["tool_description"].as_str().unwrap();
    assert!(tool.contains("aitp-rs-demo-shop"), "{tool}");
    assert!(tool.contains("aitp-02-decisions v1.0.0: choices"), "{tool}");
    let calls = summary["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "one call buys: {calls:#?}");
    let call = &calls[0];
    assert_eq!(call["is_error"], false, "{call:#}");
    assert_eq!(call["structured"]["status"], "answered", "{call:#}");

    let elicited = summary["elicitations"].as_array().unwrap();
    assert_eq!(elicited.len(), 3, "decision, form, quote: {elicited:#?}");
    // The product cards: names, prices as quoted, descriptions.
    let choices = &elicited[0]["schema"]["properties"]["choices"]["items"]["anyOf"];
    let first = choices[0]["title"].as_str().unwrap();
    assert!(
        first.starts_with("Merino trail socks — 18.50 USD — Cushioned"),
        "{first}"
    );
    assert_eq!(elicited[0]["answer"]["quantity_trail-socks"], 2);
    // The shipping form: every field, required.
    let form = &elicited[1]["schema"];
    let required: Vec<&str> = form["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        required,
        ["name", "street", "city", "postal_code", "country"]
    );
    // The quote: the exact amount, currency and recipient.
    let quote = elicited[2]["message"].as_str().unwrap();
    assert!(
        quote.contains("37.00 USD in usdc.near (near_payment_channel) to aitp-rs-shop.near"),
        "{quote}"
    );

    let confirmation = confirmation(call).expect("a payment confirmation");
    assert_eq!(confirmation["result"], "success", "{confirmation:#}");
    let paid = &call["structured"]["paid"][0];
    assert_eq!(paid["amount"], "37.00");
    assert_eq!(paid["currency"], "USD");
    assert_eq!(paid["recipient"], "aitp-rs-shop.near");
    let text = replies_text(call);
    assert!(text.contains("Order ORD-"), "{text}");

    let thread = call["structured"]["thread_id"].as_str().unwrap();
    let order = state.order(thread).expect("the shop has the order");
    assert!(
        matches!(order.stage, Stage::Paid { .. }),
        "{:?}",
        order.stage
    );
    assert_eq!(order.summary(), "2 × Merino trail socks");
    assert_eq!(order.ship_to.unwrap().city, "London");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdio_host_with_elicitation_buys_from_a_remote_shop() {
    let (base, state, guard) = shop().await;
    let secret = script::customer_key().to_string();
    let summary = host(&[
        "--stdio",
        env!("CARGO_BIN_EXE_aitp-mcp"),
        &base,
        "--payer",
        script::CUSTOMER,
        "--channel",
        script::CHANNEL_ID,
        // The demo customer's published key, signing in the gateway's process.
        "--sign-with",
        &secret,
    ])
    .await;
    assert_elicited_purchase(&summary, &state);

    // The payment in the thread: the configured payer and channel, signed with the key over
    // exactly the payment's signing bytes (the shop's gate checked it; so does this test).
    let thread = summary["calls"][0]["structured"]["thread_id"]
        .as_str()
        .unwrap();
    let messages: Vec<aitp::thread::Message> = aitp_client::Client::new(base.as_str())
        .unwrap()
        .messages(thread)
        .list(aitp::thread::ListQuery::new(100, aitp::thread::Order::Asc))
        .try_collect()
        .await
        .unwrap();
    let payment: Payment = messages
        .iter()
        .find_map(|m| m.capability::<Payment>().expect("a well-formed payment"))
        .expect("a payment in the thread");
    assert_eq!(payment.payer_id, script::CUSTOMER);
    assert_eq!(payment.payment_method.channel_id, script::CHANNEL_ID);
    assert_eq!(
        payment.payment_method.amount.as_ref().unwrap().as_str(),
        "37.00"
    );
    aitp::sign::verify(&script::customer_key().public_key(), &payment)
        .expect("signed by the customer's key");
    guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamable_http_host_with_elicitation_buys_from_an_in_process_shop() {
    let state = ShopState::default();
    let (url, stop) = http_gateway(&state).await;
    let summary = host(&["--http", &url]).await;
    assert_elicited_purchase(&summary, &state);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_without_elicitation_gets_the_questions_and_answers_them() {
    let (base, state, guard) = shop().await;
    let secret = script::customer_key().to_string();
    // `--stdio` takes the rest of the line: the host's own options come first.
    let summary = host(&[
        "--no-elicitation",
        "--stdio",
        env!("CARGO_BIN_EXE_aitp-mcp"),
        &base,
        "--payer",
        script::CUSTOMER,
        "--channel",
        script::CHANNEL_ID,
        "--sign-with",
        &secret,
    ])
    .await;
    assert!(summary["elicitations"].as_array().unwrap().is_empty());
    let calls = summary["calls"].as_array().unwrap();
    let statuses: Vec<&str> = calls
        .iter()
        .map(|c| c["structured"]["status"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(statuses, ["asks", "asks", "asks", "answered"], "{calls:#?}");
    let keys: Vec<&str> = calls[..3]
        .iter()
        .map(|c| c["structured"]["asks"]["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["request_decision", "request_data", "quote"]);
    for c in &calls[..3] {
        let text = replies_text(c);
        assert!(
            text.contains("The agent asks: aitp-rs-demo-shop asks you to"),
            "{text}"
        );
        assert!(text.contains("thread_id"), "{text}");
        assert!(c["structured"]["asks"]["request"].is_object(), "{c:#}");
    }
    let quote = calls[2]["structured"]["asks"]["message"].as_str().unwrap();
    assert!(quote.contains("37.00 USD"), "{quote}");
    let thread = calls[0]["structured"]["thread_id"].as_str().unwrap();
    for c in calls {
        assert_eq!(c["structured"]["thread_id"], thread, "one conversation");
    }
    assert_eq!(confirmation(&calls[3]).unwrap()["result"], "success");
    assert!(matches!(
        state.order(thread).unwrap().stage,
        Stage::Paid { .. }
    ));
    guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_answer_that_does_not_fit_is_shown_again_with_the_problem() {
    let state = ShopState::default();
    let (url, stop) = http_gateway(&state).await;
    let summary = host(&["--forgetful", "--http", &url]).await;
    let elicited = summary["elicitations"].as_array().unwrap();
    assert_eq!(
        elicited.len(),
        4,
        "decision, form twice, quote: {elicited:#?}"
    );
    assert!(elicited[1]["answer"].get("street").is_none());
    let again = elicited[2]["message"].as_str().unwrap();
    assert!(
        again.starts_with("the answer does not fit the agent's question:"),
        "{again}"
    );
    assert!(
        again.contains("required field \"street\" is missing"),
        "{again}"
    );
    assert_eq!(elicited[2]["answer"]["street"], "12 St James's Square");
    let call = &summary["calls"][0];
    assert_eq!(call["structured"]["status"], "answered", "{call:#}");
    assert_eq!(confirmation(call).unwrap()["result"], "success");
    stop.cancel();
}

async fn external_form(_text: String) -> RequestData {
    RequestData::external(
        "survey_1",
        "Tell us about your trip",
        "https://forms.example.com/trip.json",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_mcp_cannot_show_comes_back_as_what_the_agent_asks() {
    let agent = Router::new()
        .actor_id("survey-agent")
        .on_text(external_form);
    let backend = Backend::in_process(agent).await.unwrap();
    let gateway = Gateway::new(backend, Payer::new("ada.near", "c"))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = aitp_mcp::serve::http_url(listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(aitp_mcp::serve::http(gateway, listener, &[], stop.clone()));
    let summary = host(&["--once", "--text", "hello", "--http", &url]).await;
    // The host supports elicitation, but this form has no fields to show: no elicitation,
    // and the question comes back whole instead of being dropped.
    assert!(summary["elicitations"].as_array().unwrap().is_empty());
    let call = &summary["calls"][0];
    assert_eq!(call["is_error"], false);
    let asks = &call["structured"]["asks"];
    assert_eq!(call["structured"]["status"], "asks", "{call:#}");
    assert_eq!(asks["key"], "request_data");
    assert_eq!(asks["id"], "survey_1");
    assert!(
        asks["not_a_form"]
            .as_str()
            .unwrap()
            .contains("https://forms.example.com/trip.json"),
        "{asks:#}"
    );
    assert_eq!(
        asks["request"]["request_data"]["form"]["json_url"],
        "https://forms.example.com/trip.json"
    );
    let text = replies_text(call);
    assert!(
        text.contains("survey-agent asks you to fill in a form"),
        "{text}"
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_quote_pays_nothing() {
    let state = ShopState::default();
    let (url, stop) = http_gateway(&state).await;
    let summary = host(&["--http", &url, "--decline-quote"]).await;
    let call = &summary["calls"][0];
    assert_eq!(call["structured"]["status"], "declined", "{call:#}");
    assert_eq!(call["structured"]["declined"]["key"], "quote");
    assert_eq!(call["structured"]["paid"], serde_json::json!([]));
    assert!(replies_text(call).contains("nothing was paid"), "{call:#}");
    assert!(confirmation(call).is_none());
    let thread = call["structured"]["thread_id"].as_str().unwrap();
    assert!(
        matches!(state.order(thread).unwrap().stage, Stage::Payment { .. }),
        "the order still waits for a payment"
    );
    stop.cancel();
}

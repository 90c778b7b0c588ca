//! Passthrough across two agents: a personal assistant (built with `aitp`) in front of the shop
//! passes the customer's text and capability messages to the shop through the client, and
//! relays the shop's answers unchanged; the customer completes a purchase through it.

use std::time::Duration;

use aitp::{
    agent::{Router, ThreadCtx},
    capability::{AitpCapability, Envelope, payments::PaymentConfirmation},
    server::Server,
    store::MemoryStore,
    thread::Message,
};
use aitp_client::{Client, Forwarder};
use aitp_examples::script;
use aitp_tests::serve_in_background;
use example_shop as shop;

/// The personal assistant: text and every capability message go to the shop.
fn personal_assistant(forwarder: Forwarder) -> Router {
    let text = forwarder.clone();
    Router::new()
        .actor_id("personal-assistant")
        .on_text(move |cx: ThreadCtx, said: String| {
            let text = text.clone();
            async move { text.relay_text(cx.thread_id(), &said).await }
        })
        .forward_to(forwarder)
        .declare(AitpCapability::Decisions.v1())
        .declare(AitpCapability::DataRequest.v1())
        .declare(AitpCapability::Payments.v1())
}

fn first_capability(messages: &[Message]) -> Option<Envelope> {
    messages
        .iter()
        .flat_map(|m| m.capabilities().filter_map(Result::ok).collect::<Vec<_>>())
        .next()
}

#[tokio::test]
async fn a_purchase_through_a_personal_assistant() {
    let state = shop::ShopState::default();
    let (shop_base, _shop) = serve_in_background(Server::new(
        shop::shop_agent_with(state.clone()),
        MemoryStore::new(),
    ))
    .await;
    let to_shop = Client::builder(&shop_base)
        .actor("personal-assistant")
        .build()
        .unwrap();
    let forwarder = Forwarder::new(to_shop);
    let (pa_base, _pa) = serve_in_background(Server::new(
        personal_assistant(forwarder.clone()),
        MemoryStore::new(),
    ))
    .await;

    let customer = Client::builder(&pa_base)
        .actor(script::CUSTOMER)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut thread = customer.create_thread().await.unwrap();
    assert_eq!(thread.actors()[1].id, "personal-assistant");

    let mut replies = thread.ask(script::OPENING).await.unwrap();
    assert!(
        replies
            .iter()
            .any(|m| !m.text().is_empty() && m.capabilities().next().is_none()),
        "the shop's text is relayed: {replies:?}"
    );
    let mut keys = Vec::new();
    let confirmation = loop {
        let from_shop = first_capability(&replies).expect("a relayed capability message");
        keys.push(from_shop.key().to_owned());
        let answer = script::next_message(&from_shop).expect("an answer");
        if answer.key() == "payment" {
            break thread.expect::<PaymentConfirmation>(answer).await.unwrap();
        }
        replies = thread.ask(&answer).await.unwrap();
    };
    assert_eq!(keys, ["request_decision", "request_data", "quote"]);
    assert_eq!(confirmation.result.as_str(), "success");

    // The order lives in the shop, under the assistant's thread with the shop.
    let remote = forwarder.remote_thread_id(thread.id()).await.unwrap();
    assert_ne!(remote, thread.id());
    let order = state.order(&remote).expect("the shop has the order");
    assert_eq!(order.stage.waiting_for(), "nothing: the order is paid");
}

#[tokio::test]
async fn an_unreachable_shop_is_reported_in_the_thread() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let to_shop = Client::builder(&dead)
        .retry(aitp_client::RetryPolicy::none())
        .build()
        .unwrap();
    let (pa_base, _pa) = serve_in_background(Server::new(
        personal_assistant(Forwarder::new(to_shop)),
        MemoryStore::new(),
    ))
    .await;
    let mut thread = Client::new(&pa_base)
        .unwrap()
        .create_thread()
        .await
        .unwrap();
    let decision = aitp::capability::decisions::RequestDecision::radio("x", ["a"])
        .build()
        .choose(["a"]);
    thread.post(decision.clone()).await.unwrap();
    let replies = thread.run().await.unwrap();
    let report = replies[0]
        .capability::<aitp::capability::errors::ErrorReport>()
        .unwrap()
        .unwrap();
    assert!(
        report.message.contains("could not pass the message on"),
        "{}",
        report.message
    );
    assert!(
        report.message.contains("cannot connect"),
        "{}",
        report.message
    );
}

//! The client against our server over loopback: the raw resources, pagination, errors, auth,
//! negotiation, polled and streamed runs, and a whole shop purchase driven by the script.

use std::time::Duration;

use aitp::thread::{ListQuery, Order};
use aitp::{
    capability::{
        Body, Envelope, errors::ErrorReport, evm_wallet::RequestAddress,
        payments::PaymentConfirmation,
    },
    server::{Server, TokenList},
    store::MemoryStore,
    thread::{CreateMessage, CreateRun, CreateThread, Message, ModifyThread, RunStatus},
};
use aitp_client::{Client, Error, RetryPolicy};
use aitp_examples::script;
use aitp_tests::serve_in_background;
use example_echo::echo_agent;
use example_shop as shop;
use futures_util::TryStreamExt;

fn client(base: &str) -> Client {
    Client::builder(base)
        .actor("ada.near")
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The first capability message among `messages`.
fn first_capability(messages: &[Message]) -> Option<Envelope> {
    messages
        .iter()
        .flat_map(|m| m.capabilities().filter_map(Result::ok).collect::<Vec<_>>())
        .next()
}

#[tokio::test]
async fn resources_threads_messages_runs_and_pagination() {
    let (base, _g) = serve_in_background(Server::new(echo_agent(), MemoryStore::new())).await;
    let c = client(&base);

    let thread = c
        .threads()
        .create(&CreateThread::new().metadata("topic", "socks"))
        .await
        .unwrap();
    assert!(thread.id.starts_with("thread_"));
    let got = c.threads().retrieve(&thread.id).await.unwrap();
    assert_eq!(got.metadata.get("topic"), Some("socks"));
    let mut modify = ModifyThread::default();
    modify.metadata = Some([("topic", "shoes")].into_iter().collect());
    let modified = c.threads().modify(&thread.id, &modify).await.unwrap();
    assert_eq!(modified.metadata.get("topic"), Some("shoes"));

    let messages = c.messages(&thread.id);
    let mut ids = Vec::new();
    for i in 0..7 {
        let m = messages
            .create(&CreateMessage::user(format!("m{i}")))
            .await
            .unwrap();
        ids.push(m.id);
    }
    assert_eq!(messages.retrieve(&ids[3]).await.unwrap().text(), "m3");
    // Auto-pagination: pages of 3, in both orders.
    let all: Vec<Message> = messages
        .list(ListQuery::new(3, Order::Asc))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), ids);
    let desc: Vec<Message> = messages
        .list(ListQuery::new(3, Order::Desc))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(desc.len(), 7);
    assert_eq!(desc[0].id, ids[6]);
    let page = messages
        .list_page(&ListQuery::new(2, Order::Asc).after(ids[1].clone()))
        .await
        .unwrap();
    assert_eq!(page.data[0].id, ids[2]);
    assert!(page.has_more);

    // Runs: create, wait, retrieve, list, cancel of a finished run is refused.
    let runs = c.runs(&thread.id);
    let run = runs.create(&CreateRun::new("any")).await.unwrap();
    let mut tries = 0;
    let finished = loop {
        let r = runs.retrieve(&run.id).await.unwrap();
        if r.status.is_terminal() {
            break r;
        }
        tries += 1;
        assert!(tries < 500, "run never ended");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(finished.status, RunStatus::Completed);
    let listed: Vec<_> = runs
        .list(ListQuery::default().order(Order::Asc))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let refused = runs.cancel(&run.id).await.unwrap_err();
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(400), "{refused}");
    // Run metadata, the run's steps (one per reply), and a message deleted.
    let mut note = aitp::thread::ModifyRun::default();
    note.metadata = Some(aitp::thread::Metadata::new());
    note.metadata.as_mut().unwrap().insert("note", "n");
    let noted = runs.modify(&run.id, &note).await.unwrap();
    assert_eq!(noted.metadata.get("note"), Some("n"));
    let steps: Vec<_> = runs
        .steps(&run.id, ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert!(!steps.is_empty());
    let step = runs.step(&run.id, &steps[0].id).await.unwrap();
    assert_eq!(step.run_id, run.id);
    assert!(messages.delete(&ids[0]).await.unwrap().deleted);
    assert_eq!(
        messages
            .retrieve(&ids[0])
            .await
            .unwrap_err()
            .status()
            .map(|s| s.as_u16()),
        Some(404)
    );

    let deleted = c.threads().delete(&thread.id).await.unwrap();
    assert!(deleted.deleted);
    // Errors carry the status and the server's error body.
    let err = c.threads().retrieve(&thread.id).await.unwrap_err();
    match &err {
        Error::Api {
            status,
            error,
            body,
            ..
        } => {
            assert_eq!(status.as_u16(), 404);
            assert!(
                error.as_ref().unwrap().message.contains("No thread found"),
                "{body}"
            );
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    // Requests the server would refuse are refused before sending.
    assert!(matches!(
        c.messages("thread_x")
            .create(&CreateMessage::user(""))
            .await,
        Err(Error::Params(_))
    ));
}

#[tokio::test]
async fn bearer_auth_and_errors_without_it() {
    let server =
        Server::new(echo_agent(), MemoryStore::new()).auth(TokenList::new().token("sk-ada", "ada"));
    let (base, _g) = serve_in_background(server).await;
    let anonymous = Client::builder(&base)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = anonymous.create_thread().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401), "{err}");
    let ada = Client::builder(&base).bearer("sk-ada").build().unwrap();
    let mut thread = ada.create_thread().await.unwrap();
    let replies = thread.ask("hi").await.unwrap();
    assert_eq!(replies[0].text(), "echo: hi");
}

#[tokio::test]
async fn echo_conversation_negotiation_and_streaming() {
    let (base, _g) = serve_in_background(Server::new(echo_agent(), MemoryStore::new())).await;
    let c = client(&base);
    let mut thread = c.create_thread().await.unwrap();
    let ids: Vec<&str> = thread.actors().iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["ada.near", "aitp-rs-echo"]);
    assert!(thread.supports::<ErrorReport>() || !thread.negotiated().is_empty());

    let replies = thread.ask("hello").await.unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].text(), "echo: hello");
    assert!(
        thread.new_messages().await.unwrap().is_empty(),
        "replies are returned once"
    );

    // A capability both declared.
    let ask = aitp::capability::decisions::RequestDecision::radio("size", ["S", "M"]).build();
    thread.post(ask.clone()).await.unwrap();
    let replies = thread.run().await.unwrap();
    assert!(
        replies[0]
            .text()
            .starts_with("echo: aitp-02-decisions `request_decision` size")
    );

    // Streamed: typed events, ends after the run's terminal event.
    thread.post("streamed").await.unwrap();
    let outcome = thread.run().stream().await.unwrap().finish().await.unwrap();
    assert_eq!(outcome.run.unwrap().status, RunStatus::Completed);
    assert_eq!(outcome.messages[0].text(), "echo: streamed");
    assert!(outcome.events >= 4);
}

#[tokio::test]
async fn capabilities_the_peer_did_not_declare_are_refused_unless_forced() {
    let (base, _g) = serve_in_background(Server::new(shop::shop_agent(), MemoryStore::new())).await;
    let c = client(&base);
    let mut thread = c.create_thread().await.unwrap();
    let evm = RequestAddress::new("addr_1");
    let err = thread.post(evm.clone()).await.unwrap_err();
    assert!(matches!(err, Error::NotNegotiated { .. }), "{err}");
    assert!(err.to_string().contains("aitp-05-evm-wallet"), "{err}");

    // Forced: it is sent, and the shop answers with an error report.
    let mut forced = thread.clone().force();
    forced.post(evm.clone()).await.unwrap();
    let replies = forced.run().await.unwrap();
    let report = replies[0]
        .capability::<ErrorReport>()
        .expect("it parses")
        .expect("it is an error report");
    assert_eq!(report.code.as_str(), "unsupported_capability");

    // A client that declares less negotiates less.
    let narrow = Client::builder(&base)
        .capabilities([aitp::capability::AitpCapability::Decisions.v1()])
        .build()
        .unwrap();
    let t = narrow.create_thread().await.unwrap();
    assert!(t.supports::<aitp::capability::decisions::Decision>());
    assert!(!t.supports::<aitp::capability::payments::Payment>());
}

#[tokio::test]
async fn a_whole_shop_purchase_with_the_script() {
    let state = shop::ShopState::default();
    let (base, _g) = serve_in_background(Server::new(
        shop::shop_agent_with(state.clone()),
        MemoryStore::new(),
    ))
    .await;
    let c = client(&base);
    let mut thread = c.create_thread().await.unwrap();

    let mut replies = thread.ask(script::OPENING).await.unwrap();
    let mut keys = Vec::new();
    let confirmation = loop {
        let from_shop = first_capability(&replies)
            .unwrap_or_else(|| panic!("the shop said no capability message: {replies:?}"));
        keys.push(from_shop.key().to_owned());
        let answer = script::next_message(&from_shop).expect("the script has an answer");
        if let Body::Payment(_) = answer.body() {
            // The last step as a correlated request: payment ↔ payment_confirmation by quote_id.
            break thread.expect::<PaymentConfirmation>(answer).await.unwrap();
        }
        replies = thread.ask(&answer).await.unwrap();
    };
    assert_eq!(keys, ["request_decision", "request_data", "quote"]);
    assert_eq!(confirmation.result.as_str(), "success");
    let order = state.order(thread.id()).expect("the shop has the order");
    assert_eq!(order.stage.waiting_for(), "nothing: the order is paid");
}

#[tokio::test]
async fn correlated_requests_answers_errors_and_idle_timeouts() {
    use aitp::{
        agent::Router,
        capability::decisions::{Decision, RequestDecision},
    };
    #[derive(Debug)]
    struct No;
    impl std::fmt::Display for No {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("I will not choose")
        }
    }
    // An agent that answers a request_decision with its first option, unless asked about
    // "refuse", and says something unrelated about "other".
    let agent = Router::new()
        .actor_id("chooser")
        .handler(|r: RequestDecision| async move {
            match r.id.as_deref() {
                Some("refuse") => Err(No),
                Some("other") => Ok(vec![aitp::agent::Reply::Text("hmm".into())]),
                _ => Ok(vec![aitp::agent::Reply::Message(Envelope::from(
                    r.choose([r.options[0].id.as_str()]),
                ))]),
            }
        });
    let (base, _g) = serve_in_background(Server::new(agent, MemoryStore::new())).await;
    let c = Client::builder(&base)
        .wait(aitp_client::WaitPolicy::default().idle_timeout(Duration::from_millis(300)))
        .build()
        .unwrap();
    let mut thread = c.create_thread().await.unwrap();

    let ask = RequestDecision::radio("size", ["S", "M"]).build();
    let decision: Decision = thread.expect(ask).await.unwrap();
    assert_eq!(decision.request_decision_id.as_deref(), Some("size"));
    assert_eq!(decision.chosen_ids().collect::<Vec<_>>(), ["S"]);

    let refuse = RequestDecision::radio("refuse", ["S"]).build();
    let err = thread.expect::<Decision>(refuse).await.unwrap_err();
    assert!(
        matches!(&err, Error::Peer(r) if r.message.contains("I will not choose")),
        "{err}"
    );

    let other = RequestDecision::radio("other", ["S"]).build();
    let start = std::time::Instant::now();
    let err = thread.expect::<Decision>(other).await.unwrap_err();
    assert!(matches!(err, Error::WaitTimeout { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

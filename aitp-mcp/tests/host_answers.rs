//! A host without elicitation answers the agent's questions through the tool's `answer`
//! argument; the gateway checks each answer against the question before anything reaches the
//! agent, and a declined quote pays nothing until the user accepts it. (The MCP wire is
//! covered by `mcp_python.rs`; this drives the same calls a host makes, with their errors.)

use aitp_examples::script;
use aitp_mcp::{Backend, Gateway, KeySigner, Payer};
use example_shop::{ShopState, Stage, shop_agent_with};
use serde_json::{Map, Value, json};

fn args(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

async fn call(gateway: &Gateway, v: Value) -> Value {
    let result = gateway.call(args(v), None).await;
    let s = result.structured_content.clone().unwrap_or_default();
    assert_eq!(result.is_error, Some(false), "{s:#}");
    s
}

#[tokio::test]
async fn answers_are_checked_and_a_declined_quote_can_be_accepted_later() {
    let state = ShopState::default();
    let backend = Backend::in_process(shop_agent_with(state.clone()))
        .await
        .unwrap();
    // The demo customer, whose key the shop's payment gate allows for `ada.near`.
    let payer = Payer::new(script::CUSTOMER, script::CHANNEL_ID)
        .signer(KeySigner::new(script::customer_key()));
    let gateway = Gateway::new(backend, payer).await.unwrap();

    let first = call(&gateway, json!({"text": "hello"})).await;
    assert_eq!(first["status"], "asks");
    assert_eq!(first["asks"]["key"], "request_decision");
    let thread = first["thread_id"].as_str().unwrap().to_owned();
    let answer = |a: Value| json!({"thread_id": thread, "answer": a});

    // An option the shop does not have: the same question again, with what is wrong.
    let wrong = call(&gateway, answer(json!({"choices": ["kayak"]}))).await;
    assert_eq!(wrong["status"], "asks");
    assert_eq!(wrong["asks"]["key"], "request_decision");
    assert!(
        wrong["asks"]["note"]
            .as_str()
            .unwrap()
            .contains("no option \"kayak\""),
        "{wrong:#}"
    );

    let form = call(
        &gateway,
        answer(json!({"choices": ["headlamp"], "quantity_headlamp": 3})),
    )
    .await;
    assert_eq!(form["asks"]["key"], "request_data", "{form:#}");

    // A form without its required fields never reaches the shop.
    let partial = call(&gateway, answer(json!({"name": "Ada Lovelace"}))).await;
    assert_eq!(partial["asks"]["key"], "request_data");
    assert!(
        partial["asks"]["note"]
            .as_str()
            .unwrap()
            .contains("required field \"street\" is missing"),
        "{partial:#}"
    );
    assert!(matches!(
        state.order(&thread).unwrap().stage,
        Stage::Address { .. }
    ));

    let quote = call(
        &gateway,
        answer(json!({
            "name": "Ada Lovelace",
            "street": "12 St James's Square",
            "city": "London",
            "postal_code": "SW1Y 4LB",
            "country": "United Kingdom",
        })),
    )
    .await;
    assert_eq!(quote["asks"]["key"], "quote", "{quote:#}");
    // 3 × 39.99, exactly.
    let message = quote["asks"]["message"].as_str().unwrap();
    assert!(message.contains("119.97 USD"), "{message}");

    let declined = call(&gateway, answer(json!({"accept": false}))).await;
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["paid"], json!([]));
    assert!(matches!(
        state.order(&thread).unwrap().stage,
        Stage::Payment { .. }
    ));

    // A question id that is not the agent's: an error naming it.
    let result = gateway
        .call(
            args(json!({"thread_id": thread, "answer": {"accept": true}, "request_id": "q_other"})),
            None,
        )
        .await;
    assert_eq!(result.is_error, Some(true));

    // Changing one's mind: the quote is still open, and accepting it pays.
    let quote_id = quote["asks"]["id"].as_str().unwrap();
    let paid = call(
        &gateway,
        json!({"thread_id": thread, "answer": {"accept": true}, "request_id": quote_id}),
    )
    .await;
    assert_eq!(paid["status"], "answered", "{paid:#}");
    assert_eq!(paid["paid"][0]["amount"], "119.97");
    let confirmation = paid["replies"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r["aitp"].get("payment_confirmation"))
        .expect("a confirmation");
    assert_eq!(confirmation["result"], "success", "{confirmation:#}");
    assert!(matches!(
        state.order(&thread).unwrap().stage,
        Stage::Paid { .. }
    ));
}

//! `#[aitp::agent]`: an agent built with the macros behaves exactly like the same agent built
//! by hand with `Router`, over real HTTP — same replies to the same conversation, same declared
//! capabilities — and the macro's rules (extractors first and the payload last, the payload
//! named through type aliases and paths, sync and async methods, user items winning) hold.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use aitp::{
    agent::{Agent, Reply, Router, State, ThreadCtx},
    capability::{
        Capability, CapabilityId, Envelope, Negotiated,
        decisions::{Decision, RequestDecision},
    },
    server::Server,
    store::MemoryStore,
    thread::{Message, Principal},
};
use aitp_tests::serve_in_background;
use reqwest::Client;
use serde_json::{Value, json};

/// A small custom capability: loyalty points.
mod loyalty {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// Spend points.
    #[derive(
        Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage,
    )]
    #[aitp(
        capability = "https://loyalty.example/caps/points/v1.2.0/schema.json",
        key = "redeem_points"
    )]
    pub struct RedeemPoints {
        /// Whose points.
        pub account: String,
        /// How many.
        pub points: u64,
    }

    /// What is left.
    #[derive(
        Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage,
    )]
    #[aitp(
        capability = "https://loyalty.example/caps/points/v1.2.0/schema.json",
        key = "points_balance"
    )]
    pub struct PointsBalance {
        /// Whose points.
        pub account: String,
        /// Points left.
        pub points: u64,
    }

    /// Loyalty points.
    #[derive(Debug, Clone, PartialEq, aitp::Capability)]
    #[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json")]
    pub enum Loyalty {
        /// Spend.
        Redeem(RedeemPoints),
        /// Balance.
        Balance(PointsBalance),
    }
}

/// A type alias: the payload is found by trait, not by the type's name.
type Choice = Decision;

#[derive(Debug)]
struct Oops(String);

impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The agent under test. Its methods hold the logic; the two routers differ only in how they
/// are built.
#[derive(Debug)]
struct Shop {
    balances: Mutex<HashMap<String, u64>>,
}

impl Shop {
    fn new() -> Self {
        Self {
            balances: Mutex::new(HashMap::from([("ada".to_owned(), 100)])),
        }
    }
}

#[aitp::agent(actor_id = "test-shop")]
impl Shop {
    /// Text: an extractor, then the payload.
    #[aitp::on_text]
    async fn text(&self, cx: ThreadCtx, text: String) -> Vec<Reply> {
        match text.as_str() {
            "ask" => vec![
                Reply::Text("pick a size".into()),
                Reply::Message(Envelope::from(
                    RequestDecision::radio("size", ["S", "M", "sold-out"]).build(),
                )),
            ],
            _ => vec![Reply::Text(format!(
                "{} said {text:?} ({} actors)",
                cx.principal(),
                cx.actors().len()
            ))],
        }
    }

    /// A sync method; the payload through an alias.
    #[aitp::handler]
    fn chose(&self, who: Principal, d: Choice) -> Result<String, Oops> {
        let ids: Vec<&str> = d.chosen_ids().collect();
        if ids.contains(&"sold-out") {
            return Err(Oops("that size is sold out".into()));
        }
        Ok(format!("{who} chose {}", ids.join(",")))
    }

    /// Three extractors, `State` destructured; the payload by path; returns the capability
    /// enum.
    #[aitp::handler]
    async fn redeem(
        &self,
        cx: ThreadCtx,
        State(this): State<Arc<Shop>>,
        _m: Message,
        r: loyalty::RedeemPoints,
    ) -> Result<loyalty::Loyalty, Oops> {
        assert!(std::ptr::eq(self, &*this), "State is the agent itself");
        tokio::time::sleep(Duration::from_millis(5)).await;
        let mut balances = self.balances.lock().unwrap();
        let balance = balances.entry(r.account.clone()).or_default();
        if *balance < r.points {
            return Err(Oops(format!(
                "{} has {} points, not {} (thread has {} actors)",
                r.account,
                balance,
                r.points,
                cx.actors().len()
            )));
        }
        *balance -= r.points;
        Ok(loyalty::PointsBalance {
            account: r.account,
            points: *balance,
        }
        .into())
    }

    /// No receiver; an extractor first.
    #[aitp::fallback]
    async fn other(negotiated: Negotiated, m: Envelope) -> String {
        let _ = negotiated;
        format!("no handler for `{}` of {}", m.key(), m.schema())
    }

    /// Not marked: left alone.
    #[allow(dead_code)]
    fn helper(&self) -> usize {
        self.balances.lock().unwrap().len()
    }
}

/// The same agent, by hand: what the macro generates, written out.
fn by_hand(shop: Shop) -> Router<Arc<Shop>> {
    Router::with_state(Arc::new(shop))
        .actor_id("test-shop")
        .on_text(
            |cx: ThreadCtx, State(this): State<Arc<Shop>>, text: String| async move {
                this.text(cx, text).await
            },
        )
        .handler(|State(this): State<Arc<Shop>>, who: Principal, d: Decision| async move {
            this.chose(who, d)
        })
        .handler(
            |cx: ThreadCtx,
             state: State<Arc<Shop>>,
             m: Message,
             r: loyalty::RedeemPoints| async move {
                let this = state.0.clone();
                this.redeem(cx, state, m, r).await
            },
        )
        .fallback(|n: Negotiated, m: Envelope| async move { Shop::other(n, m).await })
}

const LOYALTY: &str = "https://loyalty.example/caps/points/v1.2.0/schema.json";
const DECISIONS: &str = "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json";

#[test]
fn declared_capabilities_come_from_the_handlers() {
    let macro_made = Shop::new().router();
    let hand_made = by_hand(Shop::new());
    let urls = |r: &Router<Arc<Shop>>| -> Vec<String> {
        r.capabilities().iter().map(CapabilityId::url).collect()
    };
    assert_eq!(urls(&macro_made), urls(&hand_made));
    let mut got = urls(&macro_made);
    got.sort();
    assert_eq!(got, [DECISIONS, LOYALTY]);
    assert_eq!(Agent::actor_id(&macro_made), "test-shop");
    assert_eq!(
        format!("{:?}", macro_made),
        format!("{:?}", hand_made),
        "same routes, text handler and fallback"
    );
    // `Router::from` is what Shop::router calls.
    let via_from = Router::from(Shop::new());
    assert_eq!(urls(&via_from), urls(&macro_made));
}

/// Items the user writes win: their `router` and `actor_id` replace the generated ones.
struct Custom {
    name: String,
}

#[aitp::agent]
impl Custom {
    fn actor_id(&self) -> &str {
        &self.name
    }

    /// The user's own `router`: the generated one plus a declaration.
    fn router(self) -> Router<Arc<Self>> {
        Router::from(self).declare(CapabilityId::parse(LOYALTY).unwrap())
    }

    #[aitp::on_text]
    fn echo(&self, text: String) -> String {
        format!("{}: {text}", self.name)
    }
}

#[test]
fn user_items_win_over_generated_ones() {
    let r = Custom {
        name: "custom-agent".into(),
    }
    .router();
    assert_eq!(Agent::actor_id(&r), "custom-agent");
    let urls: Vec<String> = r.capabilities().iter().map(CapabilityId::url).collect();
    assert_eq!(urls, [LOYALTY]);
}

#[test]
fn the_capability_enum_reads_and_writes_its_messages() {
    use loyalty::{Loyalty, PointsBalance, RedeemPoints};
    assert_eq!(Loyalty::KEYS, ["redeem_points", "points_balance"]);
    assert_eq!(Loyalty::id().url(), LOYALTY);
    let m = Envelope::from(Loyalty::from(RedeemPoints {
        account: "ada".into(),
        points: 3,
    }));
    assert_eq!(m.key(), "redeem_points");
    let back = Envelope::parse(&m.to_json_string()).unwrap();
    assert_eq!(
        Loyalty::from_envelope(&back)
            .expect("it parses")
            .expect("it is a Loyalty message"),
        Loyalty::Redeem(RedeemPoints {
            account: "ada".into(),
            points: 3
        })
    );
    let wrong = Envelope::parse(&format!(
        r#"{{"$schema": "{LOYALTY}", "points_balance": {{"account": "ada"}}}}"#
    ))
    .unwrap();
    assert!(Loyalty::from_envelope(&wrong).is_err());
    let other = Envelope::from(RequestDecision::radio("x", ["a"]).build());
    assert!(matches!(Loyalty::from_envelope(&other), Ok(None)));
    let b = Loyalty::Balance(PointsBalance {
        account: "ada".into(),
        points: 1,
    });
    assert_eq!(b.key(), "points_balance");
    assert!(b.validate().is_ok());
}

// ---------------------------------------------------------------------------------------------
// Over HTTP
// ---------------------------------------------------------------------------------------------

struct Api {
    base: String,
    http: Client,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("openai-beta", "assistants=v2")
            .json(&body)
            .send()
            .await
            .expect("request");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }

    async fn get(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("openai-beta", "assistants=v2")
            .send()
            .await
            .expect("request");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }

    /// Says `text` and runs the agent to completion.
    async fn turn(&self, thread: &str, text: &str) {
        self.post(
            &format!("/threads/{thread}/messages"),
            json!({"role": "user", "content": text}),
        )
        .await;
        let run = self
            .post(
                &format!("/threads/{thread}/runs"),
                json!({"assistant_id": "any"}),
            )
            .await;
        let id = run["id"].as_str().unwrap();
        for _ in 0..500 {
            let r = self.get(&format!("/threads/{thread}/runs/{id}")).await;
            match r["status"].as_str().unwrap() {
                "completed" => return,
                "queued" | "in_progress" => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                other => panic!("run ended {other}: {r}"),
            }
        }
        panic!("run {id} never finished");
    }
}

/// Replaces generated ids (`msg_…`, `thread_…`, `run_…`) with placeholders so two servers'
/// transcripts compare.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for prefix in ["msg_", "thread_", "run_"] {
            if let Some(after) = rest.strip_prefix(prefix) {
                let n = after
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(after.len());
                if n > 0 {
                    out.push_str(prefix);
                    out.push_str("ID");
                    rest = &after[n..];
                    continue 'outer;
                }
            }
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Runs the conversation against one agent; returns the thread's declared actors and the
/// transcript (role, normalised text of each part).
async fn converse(agent: Router<Arc<Shop>>) -> (Value, Vec<(String, Vec<String>)>) {
    let (base, guard) = serve_in_background(Server::new(agent, MemoryStore::new())).await;
    let api = Api {
        base,
        http: Client::new(),
    };
    let me = json!([{"id": "ada.near", "capabilities": [DECISIONS, LOYALTY]}]);
    let thread = api
        .post("/threads", json!({"metadata": {"actors": me.to_string()}}))
        .await;
    let actors: Value =
        serde_json::from_str(thread["metadata"]["actors"].as_str().unwrap()).unwrap();
    let id = thread["id"].as_str().unwrap().to_owned();

    let request = RequestDecision::radio("size", ["S", "M", "sold-out"]).build();
    let redeem = |points: u64| {
        Envelope::from(loyalty::RedeemPoints {
            account: "ada".into(),
            points,
        })
        .to_json_string()
    };
    let conversation = [
        "hello".to_owned(),
        "ask".to_owned(),
        Envelope::from(request.choose(["M"])).to_json_string(),
        Envelope::from(request.choose(["sold-out"])).to_json_string(),
        redeem(30),
        redeem(500),
        // A custom capability nobody handles: the fallback.
        r#"{"$schema": "https://other.example/caps/ping/v1.0.0/schema.json", "ping": {}}"#
            .to_owned(),
        // A decision that breaks its schema (no options): the router's validation.
        format!(
            r#"{{"$schema": "{DECISIONS}", "decision": {{"request_decision_id": "size", "options": []}}}}"#
        ),
        // A loyalty message whose body does not fit the type.
        format!(r#"{{"$schema": "{LOYALTY}", "redeem_points": {{"account": 7}}}}"#),
    ];
    for text in &conversation {
        api.turn(&id, text).await;
    }
    let list = api
        .get(&format!("/threads/{id}/messages?order=asc&limit=100"))
        .await;
    let transcript = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let parts = m["content"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| normalise(p["text"]["value"].as_str().unwrap_or_default()))
                .collect();
            (m["role"].as_str().unwrap().to_owned(), parts)
        })
        .collect();
    guard.stop().await;
    (actors, transcript)
}

#[tokio::test]
async fn macro_and_hand_built_agents_answer_alike_over_http() {
    let (macro_actors, macro_transcript) = converse(Shop::new().router()).await;
    let (hand_actors, hand_transcript) = converse(by_hand(Shop::new())).await;
    assert_eq!(macro_actors, hand_actors);
    assert_eq!(macro_transcript, hand_transcript);

    // And the transcript is what the handlers say.
    assert_eq!(macro_actors[1]["id"], "test-shop");
    let mut declared: Vec<&str> = macro_actors[1]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    declared.sort();
    assert_eq!(declared, [DECISIONS, LOYALTY]);
    let replies: Vec<String> = macro_transcript
        .iter()
        .filter(|(role, _)| role == "assistant")
        .flat_map(|(_, parts)| parts.clone())
        .collect();
    let joined = replies.join("\n");
    for expected in [
        "anonymous said \"hello\" (2 actors)",
        "pick a size",
        "\"request_decision\"",
        "anonymous chose M",
        "that size is sold out",
        "\"points_balance\":{\"account\":\"ada\",\"points\":70}",
        "ada has 70 points, not 500 (thread has 2 actors)",
        "no handler for `ping` of https://other.example/caps/ping/v1.0.0/schema.json",
        "invalid_message",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in:\n{joined}"
        );
    }
    let errors = replies.iter().filter(|r| r.contains("\"error\"")).count();
    assert!(
        errors >= 4,
        "sold out, too few points, invalid, unfit: {joined}"
    );
}

/// `validate_incoming = false` reaches `Router::validate_incoming`; `Self` works in argument
/// types.
struct Lenient;

#[aitp::agent(validate_incoming = false)]
impl Lenient {
    #[aitp::handler]
    fn count(&self, State(me): State<Arc<Self>>, d: Decision) -> String {
        let _: &Lenient = &me;
        format!("{} options", d.options.len())
    }
}

#[tokio::test]
async fn agent_arguments_reach_the_router() {
    use aitp::thread::{Content, Role, Thread};
    let invalid = format!(
        r#"{{"$schema": "{DECISIONS}", "decision": {{"request_decision_id": "x", "options": []}}}}"#
    );
    let thread = Thread::new();
    let message = Message::new(&thread.id, Role::User, vec![Content::text(invalid)]);
    let lenient = Lenient.router();
    assert_eq!(
        Agent::actor_id(&lenient),
        "aitp-rs-agent",
        "the router's default"
    );
    let replies = lenient.dispatch_one(thread.clone(), message.clone()).await;
    assert_eq!(replies, [Reply::Text("0 options".into())]);
    // The strict default answers with an error report instead.
    let strict = Shop::new().router();
    let replies = strict.dispatch_one(thread, message).await;
    assert!(
        replies[0].to_text().contains("invalid_message"),
        "{replies:?}"
    );
}

//! Our server against OpenAI's own description of the Threads API
//! (`../shared/spec/openai/threads-openapi.json`): the shop is served on 127.0.0.1, every
//! method of the document's 11 `/threads*` paths is called, and every response body is
//! validated against the schema the document gives for that operation and status. Fails on
//! any body that does not validate and on any operation not served.
//!
//! Two readings of the document, both from its README: `nullable: true` means "or null" (the
//! document marks nullable fields the OpenAPI 3.0 way), and a list's `first_id`/`last_id` may
//! be `null`, as OpenAI's live API writes them for an empty list where the document says
//! string.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use aitp::{agent::Router, server::Server, store::MemoryStore, thread::Endpoint};
use aitp_examples::script;
use aitp_tests::{read_json, schema_errors, serve_in_background, shared_dir};
use example_shop as shop;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

/// `nullable: true` rewritten as `anyOf: [the schema, null]`, everywhere.
fn nullable_as_or_null(v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            let nullable = m.remove("nullable") == Some(Value::Bool(true));
            let m: Map<String, Value> = m
                .into_iter()
                .map(|(k, v)| (k, nullable_as_or_null(v)))
                .collect();
            if nullable {
                json!({"anyOf": [Value::Object(m), {"type": "null"}]})
            } else {
                Value::Object(m)
            }
        }
        Value::Array(a) => Value::Array(a.into_iter().map(nullable_as_or_null).collect()),
        other => other,
    }
}

/// The document, and what each (path, method) answers with a 200.
struct Document {
    components: Value,
    /// `(path template, METHOD)` → the `$ref` of its 200 response schema.
    operations: HashMap<(String, String), String>,
}

impl Document {
    fn load() -> Self {
        let doc = read_json(&shared_dir().join("spec/openai/threads-openapi.json"));
        let mut operations = HashMap::new();
        for (path, methods) in doc["paths"].as_object().expect("paths") {
            for (method, op) in methods.as_object().expect("methods") {
                let Some(schema) = op["responses"]["200"]["content"]["application/json"]["schema"]
                    ["$ref"]
                    .as_str()
                else {
                    continue;
                };
                operations.insert((path.clone(), method.to_uppercase()), schema.to_owned());
            }
        }
        let mut components = nullable_as_or_null(doc["components"].clone());
        for list in [
            "ListMessagesResponse",
            "ListRunsResponse",
            "ListRunStepsResponse",
        ] {
            let props = &mut components["schemas"][list]["properties"];
            for id in ["first_id", "last_id"] {
                props[id] = json!({"anyOf": [{"type": "string"}, {"type": "null"}]});
            }
        }
        Self {
            components,
            operations,
        }
    }

    fn errors(&self, schema_ref: &str, body: &Value) -> Vec<String> {
        let schema = json!({"$ref": schema_ref, "components": self.components});
        schema_errors(&schema, body)
    }
}

/// Calls the server and validates what it answers.
struct Conformance {
    http: reqwest::Client,
    base: String,
    doc: Document,
    /// The operations answered as the document says.
    served: BTreeSet<(String, String)>,
}

impl Conformance {
    /// `method` on `endpoint` filled with `ids`; the body, validated against the document's
    /// schema for the answer's status (`ErrorResponse` for an error status).
    async fn call(
        &mut self,
        method: Method,
        endpoint: Endpoint,
        ids: &[&str],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let path = endpoint.path(ids);
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("openai-beta", "assistants=v2");
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status();
        let text = resp.text().await.expect("a body");
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: {status}, not JSON ({e}): {text}"));
        let key = (endpoint.template().to_owned(), method.to_string());
        let ok_schema = self
            .doc
            .operations
            .get(&key)
            .unwrap_or_else(|| panic!("{method} {} is not in the document", key.0))
            .clone();
        let schema = if status.is_success() {
            ok_schema
        } else {
            "#/components/schemas/ErrorResponse".to_owned()
        };
        let errors = self.doc.errors(&schema, &value);
        assert!(
            errors.is_empty(),
            "{method} {path} ({status}) does not match {schema}:\n{}\n{value:#}",
            errors.join("\n")
        );
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is not served: {status} {value}"
        );
        self.served.insert(key);
        (status, value)
    }

    /// Polls a run until it ends (every poll validated too).
    async fn ended_run(&mut self, thread: &str, run: &str) -> Value {
        loop {
            let (_, run) = self
                .call(Method::GET, Endpoint::Run, &[thread, run], None)
                .await;
            if ["completed", "failed", "cancelled", "expired", "incomplete"]
                .contains(&run["status"].as_str().unwrap_or_default())
            {
                return run;
            }
            // The server holds a poll of a running run until it ends; no sleep needed.
        }
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_as_openai_documents() {
    let (base, _shop) =
        serve_in_background(Server::new(shop::shop_agent(), MemoryStore::new())).await;
    let mut c = Conformance {
        http: reqwest::Client::new(),
        base,
        doc: Document::load(),
        served: BTreeSet::new(),
    };

    // The validator is live: what is not a run is refused, a `null` where the document says
    // `nullable` is not.
    assert!(
        !c.doc
            .errors("#/components/schemas/RunObject", &json!({"id": 1}))
            .is_empty()
    );
    let null_error = json!({"error": {"message": "m", "type": "t", "param": null, "code": null}});
    assert!(
        c.doc
            .errors("#/components/schemas/ErrorResponse", &null_error)
            .is_empty()
    );

    // Threads.
    let (_, thread) = c
        .call(
            Method::POST,
            Endpoint::Threads,
            &[],
            Some(
                json!({"messages": [{"role": "user", "content": script::OPENING}],
                        "metadata": {"k": "v"}}),
            ),
        )
        .await;
    let t = id(&thread);
    c.call(Method::GET, Endpoint::Thread, &[&t], None).await;
    c.call(
        Method::POST,
        Endpoint::Thread,
        &[&t],
        Some(json!({"metadata": {"k": "w"}})),
    )
    .await;

    // Messages.
    let (_, message) = c
        .call(
            Method::POST,
            Endpoint::Messages,
            &[&t],
            Some(json!({"role": "user", "content": [{"type": "text", "text": "hello"}]})),
        )
        .await;
    let m = id(&message);
    c.call(Method::GET, Endpoint::Message, &[&t, &m], None)
        .await;
    let (_, modified) = c
        .call(
            Method::POST,
            Endpoint::Message,
            &[&t, &m],
            Some(json!({"metadata": {"seen": "yes"}})),
        )
        .await;
    assert_eq!(modified["metadata"]["seen"], "yes");

    // A run, with integral floats where the document says integer.
    let (_, run) = c
        .call(
            Method::POST,
            Endpoint::Runs,
            &[&t],
            Some(json!({"assistant_id": "shop", "max_prompt_tokens": 1062.0})),
        )
        .await;
    assert_eq!(run["tool_choice"], "auto");
    assert_eq!(run["truncation_strategy"]["type"], "auto");
    let r = id(&run);
    let ended = c.ended_run(&t, &r).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    assert_eq!(ended["max_prompt_tokens"], 1062);
    c.call(Method::GET, Endpoint::Messages, &[&t], None).await;
    c.call(Method::GET, Endpoint::Runs, &[&t], None).await;
    let (_, modified) = c
        .call(
            Method::POST,
            Endpoint::Run,
            &[&t, &r],
            Some(json!({"metadata": {"note": "paid later"}})),
        )
        .await;
    assert_eq!(modified["metadata"]["note"], "paid later");
    assert_eq!(modified["status"], "completed");

    // Its steps: one message_creation step per reply.
    let (_, steps) = c
        .call(Method::GET, Endpoint::RunSteps, &[&t, &r], None)
        .await;
    let steps = steps["data"].as_array().expect("steps").clone();
    assert!(!steps.is_empty(), "the shop replied");
    let step = id(&steps[0]);
    let (_, one) = c
        .call(Method::GET, Endpoint::RunStep, &[&t, &r, &step], None)
        .await;
    assert_eq!(one["type"], "message_creation");
    let reply = one["step_details"]["message_creation"]["message_id"]
        .as_str()
        .expect("a message id");
    let (_, reply) = c
        .call(Method::GET, Endpoint::Message, &[&t, reply], None)
        .await;
    assert_eq!(reply["run_id"], r.as_str());

    // Tool outputs: no AITP run waits for them, so OpenAI's 400.
    let (status, error) = c
        .call(
            Method::POST,
            Endpoint::SubmitToolOutputs,
            &[&t, &r],
            Some(json!({"tool_outputs": [{"tool_call_id": "call_1", "output": "x"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("do not accept tool outputs"),
        "{error}"
    );

    // Create a thread and run it.
    let (_, both) = c
        .call(
            Method::POST,
            Endpoint::ThreadsRuns,
            &[],
            Some(json!({"assistant_id": "shop",
                        "thread": {"messages": [{"role": "user", "content": "hi"}]}})),
        )
        .await;
    let other = both["thread_id"].as_str().expect("a thread id").to_owned();
    c.ended_run(&other, &id(&both)).await;

    // Deletes.
    let (_, deleted) = c
        .call(Method::DELETE, Endpoint::Message, &[&t, &m], None)
        .await;
    assert_eq!(deleted["object"], "thread.message.deleted");
    let (_, deleted) = c.call(Method::DELETE, Endpoint::Thread, &[&t], None).await;
    assert_eq!(deleted["deleted"], true);

    // Cancel needs a run still working: an agent that waits until the test lets it go.
    let gate = Arc::new(Semaphore::new(0));
    let held = Arc::clone(&gate);
    let agent = Router::new().on_text(move |text: String| {
        let held = Arc::clone(&held);
        async move {
            let _permit = held.acquire().await;
            text
        }
    });
    let (waiting_base, _waiting) =
        serve_in_background(Server::new(agent, MemoryStore::new())).await;
    let shop_base = std::mem::replace(&mut c.base, waiting_base);
    let (_, thread) = c
        .call(
            Method::POST,
            Endpoint::Threads,
            &[],
            Some(json!({"messages": [{"role": "user", "content": "wait"}]})),
        )
        .await;
    let t = id(&thread);
    let (_, run) = c
        .call(
            Method::POST,
            Endpoint::Runs,
            &[&t],
            Some(json!({"assistant_id": "a"})),
        )
        .await;
    let r = id(&run);
    let (status, cancelling) = c
        .call(Method::POST, Endpoint::CancelRun, &[&t, &r], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelling["status"], "cancelling");
    gate.add_permits(1);
    let ended = c.ended_run(&t, &r).await;
    assert_eq!(ended["status"], "cancelled");
    c.base = shop_base;

    // Every operation of the document was served.
    let documented: BTreeSet<_> = c.doc.operations.keys().cloned().collect();
    let missing: Vec<_> = documented.difference(&c.served).collect();
    assert!(
        missing.is_empty(),
        "not exercised or not served: {missing:?}"
    );
    assert_eq!(documented.len(), 18);
    let paths: BTreeSet<_> = documented.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(paths.len(), 11);
    assert_eq!(
        paths,
        Endpoint::ALL
            .iter()
            .map(|e| e.template().to_owned())
            .collect()
    );
}

//! The official `openai` Python client (3.54.0, `client.beta.threads`) against the shop agent
//! over loopback: a whole conversation to a payment confirmation, using runs.create + polling,
//! runs.create_and_poll and runs.stream. `cargo test` sets the client up itself, in a venv
//! under `target/`. The client signs its payment with the demo customer's key (`rfc8785` and
//! `pynacl`), as the shop's payment gate requires.

use std::{path::Path, time::Duration};

use aitp::{server::Server, store::MemoryStore};
use aitp_tests::{python_venv, serve_in_background};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_client_completes_a_shop_conversation() {
    let python = tokio::task::spawn_blocking(|| {
        python_venv(
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join("peer-venvs"),
            &["openai==3.54.0", "rfc8785==0.1.4", "pynacl==1.6.2"],
        )
    })
    .await
    .expect("venv setup");
    let (base, guard) =
        serve_in_background(Server::new(example_shop::shop_agent(), MemoryStore::new())).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/openai_shop_flow.py");
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(&python)
            .arg(&script)
            .arg(&base)
            .arg(aitp_examples::script::CUSTOMER)
            .arg(aitp_examples::script::CHANNEL_ID)
            .arg(hex(&aitp_examples::script::CUSTOMER_KEY_SEED))
            .output(),
    )
    .await
    .expect("the Python client finished within 2 minutes")
    .expect("the Python client ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "openai-python failed:\n{stdout}\n{stderr}"
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no summary ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(summary["openai"], "3.54.0");
    assert_eq!(summary["confirmation"], "success");
    assert!(summary["steps"].as_u64().unwrap_or(0) > 0, "{summary}");
    assert_eq!(summary["updated"].as_array().map(Vec::len), Some(4));
    let seen: Vec<&str> = summary["seen"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for key in [
        "request_decision",
        "request_data",
        "quote",
        "payment_confirmation",
    ] {
        assert!(
            seen.contains(&key),
            "the client never saw `{key}`: {seen:?}"
        );
    }
    let events: Vec<&str> = summary["stream_events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for e in [
        "thread.run.created",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.completed",
    ] {
        assert!(events.contains(&e), "the stream lacked {e}: {events:?}");
    }
    guard.stop().await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! The client against a third-party server: the `openai-responses` 0.13.1 Assistants mock
//! (PyPI), served over loopback by `tests/py/openai_responses_mock.py`. Every call the mock
//! supports, through its deviations (201 on create, bare 404s, lists without `object`,
//! `metadata: null`); streaming, which it does not support, fails cleanly. `cargo test` sets
//! up the venv itself, under `target/`.

use std::{path::Path, process::Stdio, time::Duration};

use aitp::thread::{ListQuery, Order};
use aitp::{
    capability::decisions::RequestDecision,
    thread::{CreateMessage, CreateRun, ModifyThread, RunStatus},
};
use aitp_client::{Client, Error};
use aitp_tests::python_venv;
use futures_util::TryStreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Starts the mock; returns its base URL and the process (killed on drop).
async fn start_mock() -> (String, tokio::process::Child) {
    let python = tokio::task::spawn_blocking(|| {
        python_venv(
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join("peer-venvs"),
            &["openai-responses==0.13.1"],
        )
    })
    .await
    .expect("venv setup");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/openai_responses_mock.py");
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the mock starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the mock reports its port within a minute")
        .unwrap()
        .expect("a PORT line");
    let port = line.strip_prefix("PORT ").expect("PORT <n>");
    (format!("http://127.0.0.1:{port}/v1"), child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_the_mock_supports() {
    let (base, _mock) = start_mock().await;
    let c = Client::builder(&base)
        .actor("ada.near")
        .assistant_id("asst_echo")
        .bearer("sk-anything")
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // A thread: created (201), with our actors in metadata; the mock declares no actor, so
    // nothing is negotiated.
    let mut thread = c.create_thread().await.unwrap();
    assert_eq!(thread.actors().len(), 1);
    assert!(thread.negotiated().is_empty());
    let ask = RequestDecision::radio("size", ["S", "M"]).build();
    assert!(matches!(
        thread.post(ask.clone()).await,
        Err(Error::NotNegotiated { .. })
    ));

    // Retrieve and modify.
    let id = thread.id().to_owned();
    assert_eq!(c.threads().retrieve(&id).await.unwrap().id, id);
    let mut modify = ModifyThread::default();
    modify.metadata = Some([("topic", "socks")].into_iter().collect());
    let modified = c.threads().modify(&id, &modify).await.unwrap();
    assert_eq!(modified.metadata.get("topic"), Some("socks"));

    // A conversation: the mock's runs are polled to completion.
    let replies = thread.ask("hello").await.unwrap();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].text(), "echo: hello");

    // Forced capability messages travel as text.
    let mut forced = thread.clone().force();
    forced.post(ask.clone()).await.unwrap();
    let replies = forced.run().await.unwrap();
    assert!(
        replies[0].text().starts_with("echo: {\"$schema\""),
        "{}",
        replies[0].text()
    );

    // Messages: create, retrieve, paginated list.
    let messages = c.messages(&id);
    for i in 0..3 {
        messages
            .create(&CreateMessage::user(format!("m{i}")))
            .await
            .unwrap();
    }
    let all: Vec<_> = messages
        .list(ListQuery::new(2, Order::Asc))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        7,
        "{:?}",
        all.iter().map(|m| m.text()).collect::<Vec<_>>()
    );
    let one = messages.retrieve(&all[0].id).await.unwrap();
    assert_eq!(one.text(), "hello");

    // Runs: create, retrieve, list, cancel.
    let runs = c.runs(&id);
    let run = runs.create(&CreateRun::new("asst_echo")).await.unwrap();
    assert_eq!(run.status, RunStatus::Queued);
    let cancelled = runs.cancel(&run.id).await.unwrap();
    assert!(
        matches!(
            cancelled.status,
            RunStatus::Cancelling | RunStatus::Cancelled
        ),
        "{:?}",
        cancelled.status
    );
    let listed: Vec<_> = runs
        .list(ListQuery::default().order(Order::Asc))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);

    // The mock cannot stream: it answers `stream: true` with the run's JSON, and the client
    // falls back to polling that run to its end.
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        thread.run().stream().await?.finish().await
    })
    .await
    .expect("no hang")
    .unwrap_or_else(|e| panic!("the polled stream completes the run: {e}"));
    let run = outcome.run.clone().expect("the stream described the run");
    assert_eq!(run.status, RunStatus::Completed);
    assert!(outcome.events >= 2, "{outcome:?}");

    // Delete; then the mock's bare 404.
    assert!(c.threads().delete(&id).await.unwrap().deleted);
    let err = c.threads().retrieve(&id).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{err}");
}

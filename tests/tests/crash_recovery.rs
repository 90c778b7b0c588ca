//! Kill the server with SIGKILL in the middle of a conversation and start it again on the same
//! SQLite file: every acknowledged thread, message and run is there, and no run is left
//! `in_progress`.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::Client;
use serde_json::{Value, json};

fn start(db: &std::path::Path, slow_ms: u64) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aitp-test-server"))
        .arg(db)
        .env("AITP_TEST_SLOW_MS", slow_ms.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the test server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the server prints its URL");
    (child, line.trim().to_owned())
}

async fn post(http: &Client, url: String, body: Value) -> Value {
    let r = http
        .post(url)
        .bearer_auth("k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

async fn get(http: &Client, url: String) -> Value {
    let r = http.get(url).bearer_auth("k").send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

async fn wait_status(http: &Client, base: &str, thread: &str, run: &str, want: &[&str]) -> Value {
    for _ in 0..500 {
        let r = get(http, format!("{base}/threads/{thread}/runs/{run}")).await;
        if want.contains(&r["status"].as_str().unwrap()) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("run {run} never reached {want:?}");
}

#[tokio::test]
async fn sigkill_mid_conversation_loses_nothing_acknowledged() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("aitp.db");
    let http = Client::new();

    let (mut server, base) = start(&db, 60_000);
    let thread = post(
        &http,
        format!("{base}/threads"),
        json!({"metadata": {"topic": "crash"}}),
    )
    .await;
    let tid = thread["id"].as_str().unwrap().to_owned();
    let mut acknowledged = Vec::new();
    let mut runs = Vec::new();
    for i in 0..3 {
        let m = post(
            &http,
            format!("{base}/threads/{tid}/messages"),
            json!({"role": "user", "content": format!("m{i}")}),
        )
        .await;
        acknowledged.push(m["id"].as_str().unwrap().to_owned());
        let r = post(
            &http,
            format!("{base}/threads/{tid}/runs"),
            json!({"assistant_id": "a"}),
        )
        .await;
        let rid = r["id"].as_str().unwrap().to_owned();
        wait_status(&http, &base, &tid, &rid, &["completed"]).await;
        runs.push(rid);
    }
    let before = get(
        &http,
        format!("{base}/threads/{tid}/messages?order=asc&limit=100"),
    )
    .await;
    let slow = post(
        &http,
        format!("{base}/threads/{tid}/messages"),
        json!({"role": "user", "content": "slow"}),
    )
    .await;
    let r = post(
        &http,
        format!("{base}/threads/{tid}/runs"),
        json!({"assistant_id": "a"}),
    )
    .await;
    let interrupted = r["id"].as_str().unwrap().to_owned();
    wait_status(&http, &base, &tid, &interrupted, &["in_progress"]).await;

    server.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    server.wait().unwrap();

    let (mut server, base) = start(&db, 10);
    let t = get(&http, format!("{base}/threads/{tid}")).await;
    assert_eq!(t, thread, "the thread survives unchanged");
    let after = get(
        &http,
        format!("{base}/threads/{tid}/messages?order=asc&limit=100"),
    )
    .await;
    let ids: Vec<&str> = after["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    let before_ids: Vec<&str> = before["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        &ids[..before_ids.len()],
        &before_ids[..],
        "every acknowledged message, in order"
    );
    assert_eq!(ids.last().copied(), slow["id"].as_str());
    assert_eq!(
        after["data"].as_array().unwrap()[..before_ids.len()],
        before["data"].as_array().unwrap()[..]
    );
    for rid in &runs {
        let r = get(&http, format!("{base}/threads/{tid}/runs/{rid}")).await;
        assert_eq!(r["status"], "completed");
    }
    let r = get(&http, format!("{base}/threads/{tid}/runs/{interrupted}")).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["last_error"]["code"], "server_error");
    let all = get(&http, format!("{base}/threads/{tid}/runs?limit=100")).await;
    assert!(
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !["queued", "in_progress"].contains(&r["status"].as_str().unwrap()))
    );

    // The conversation goes on: the next run answers what the interrupted one did not.
    let r = post(
        &http,
        format!("{base}/threads/{tid}/runs"),
        json!({"assistant_id": "a"}),
    )
    .await;
    wait_status(
        &http,
        &base,
        &tid,
        r["id"].as_str().unwrap(),
        &["completed"],
    )
    .await;
    let last = get(&http, format!("{base}/threads/{tid}/messages?limit=1")).await;
    assert_eq!(last["data"][0]["content"][0]["text"]["value"], "echo: slow");
    server.kill().unwrap();
    server.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

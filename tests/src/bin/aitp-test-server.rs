//! A Threads API server on a SQLite file, for the crash-recovery test (which kills it with
//! SIGKILL). Prints its base URL on the first line of stdout.
//!
//! `aitp-test-server DB_PATH` — env `AITP_TEST_SLOW_MS`: how long the reply to the text `slow`
//! takes (default 60000).

use std::{io::Write, time::Duration};

use aitp::{agent::Router, server::Server, store::SqliteStore};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let db = std::env::args()
        .nth(1)
        .expect("usage: aitp-test-server DB_PATH");
    let slow_ms: u64 = std::env::var("AITP_TEST_SLOW_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60_000);
    let agent = Router::new().on_text(move |text: String| async move {
        if text == "slow" {
            tokio::time::sleep(Duration::from_millis(slow_ms)).await;
        }
        format!("echo: {text}")
    });
    let store = SqliteStore::open(&db).map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout();
    writeln!(out, "http://{addr}/v1")?;
    out.flush()?;
    Server::new(agent, store)
        .serve_with(listener, aitp::server::shutdown_signal())
        .await
}

//! A Threads API server for the tests that kill it with SIGKILL: the crash-recovery test (on a
//! SQLite file) and the replica test (several of these on one PostgreSQL).
//!
//! ```text
//! aitp-test-server DB_PATH                # SqliteStore in DB_PATH
//! aitp-test-server --postgres [CONFIG]    # PgStore (CONFIG, else $AITP_DATABASE_URL): a replica
//! ```
//!
//! Prints its base URL on the first line of stdout and, with `--postgres`, its replica id (the
//! lease owner of the runs it executes) on the second. The agent echoes each message
//! (`echo: TEXT`). Environment:
//!
//! - `AITP_TEST_SLOW_MS`: how long the reply to the text `slow` takes (default 60000).
//! - `AITP_TEST_GATE`: a file path; the reply to the text `gate` waits until that file exists
//!   (the test opens the gate by creating it; it checks every 20 ms).
//! - `AITP_LEASE_MS`: the run lease time of a replica (default: the server's, 30 s).

use std::{io::Write, path::PathBuf, time::Duration};

use aitp::{
    agent::Router,
    server::Server,
    store::{PgStore, SqliteStore, ThreadStore},
};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let first = args
        .next()
        .expect("usage: aitp-test-server DB_PATH | --postgres [CONFIG]");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    if first == "--postgres" {
        let config = args
            .next()
            .or_else(|| std::env::var("AITP_DATABASE_URL").ok())
            .expect("--postgres needs CONFIG or AITP_DATABASE_URL");
        let store = PgStore::connect(&config)
            .await
            .map_err(std::io::Error::other)?;
        let mut server = Server::new(agent(), store);
        if let Some(ms) = env_u64("AITP_LEASE_MS") {
            server = server.lease(Duration::from_millis(ms));
        }
        let id = server.replica_id().to_owned();
        serve(server, listener, Some(id)).await
    } else {
        let store = SqliteStore::open(&first).map_err(std::io::Error::other)?;
        serve(Server::new(agent(), store), listener, None).await
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn agent() -> Router {
    let slow_ms = env_u64("AITP_TEST_SLOW_MS").unwrap_or(60_000);
    let gate = std::env::var_os("AITP_TEST_GATE").map(PathBuf::from);
    Router::new().on_text(move |text: String| {
        let gate = gate.clone();
        async move {
            if text == "slow" {
                tokio::time::sleep(Duration::from_millis(slow_ms)).await;
            }
            if text == "gate" {
                if let Some(gate) = gate {
                    while !gate.exists() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            format!("echo: {text}")
        }
    })
}

async fn serve<S: ThreadStore>(
    server: Server<S>,
    listener: tokio::net::TcpListener,
    replica: Option<String>,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout();
    writeln!(out, "http://{addr}/v1")?;
    if let Some(id) = replica {
        writeln!(out, "{id}")?;
    }
    out.flush()?;
    server
        .serve_with(listener, aitp::server::shutdown_signal())
        .await
}

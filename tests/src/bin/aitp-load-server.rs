//! The server measured by the load runs (`shared/tools/roundload`).
//!
//! `aitp-load-server memory|sqlite|postgres|empty ADDR [DB]`
//!
//! - `memory`, `sqlite`: the aitp-rs Threads API server with an echo agent on `MemoryStore` or
//!   `SqliteStore` (file `DB`, default `./load.db`, removed first).
//! - `postgres`: the same on `PgStore`, `DB` being the connection settings (libpq's
//!   `key=value` form or a URL). Several of these on one database are replicas: the load
//!   script puts two behind `aitp-balancer`. `AITP_PG_POOL` sets the connection pool's size
//!   (the store's default otherwise).
//! - `empty`: the baseline: a bare in-memory axum server answering the same four requests of a
//!   round with fixed objects, doing no work. It is the ceiling of machine and tool.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use aitp::{agent::Router, server::Server};
use axum::{
    Json,
    extract::{Path, State},
    routing::{get, post},
};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "memory".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let agent = || Router::new().on_text(|text: String| async move { format!("echo: {text}") });
    match mode.as_str() {
        "memory" => {
            Server::new(agent(), aitp::store::MemoryStore::new())
                .serve(addr)
                .await
        }
        "sqlite" => {
            let db = args.next().unwrap_or_else(|| "load.db".into());
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{db}{suffix}"));
            }
            let store = aitp::store::SqliteStore::open(&db).map_err(std::io::Error::other)?;
            Server::new(agent(), store).serve(addr).await
        }
        "postgres" => {
            let config = args
                .next()
                .ok_or_else(|| std::io::Error::other("postgres needs connection settings"))?;
            let mut options = aitp::store::PgStore::options();
            if let Some(n) = std::env::var("AITP_PG_POOL")
                .ok()
                .and_then(|n| n.parse().ok())
            {
                options = options.pool_size(n);
            }
            let store = options
                .connect(&config)
                .await
                .map_err(std::io::Error::other)?;
            Server::new(agent(), store).serve(addr).await
        }
        "empty" => empty(addr).await,
        other => panic!("unknown mode {other}: memory, sqlite, postgres or empty"),
    }
}

async fn empty(addr: String) -> std::io::Result<()> {
    let counter = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new()
        .route("/v1/threads", post(|State(c): State<Arc<AtomicU64>>| async move {
            Json(json!({"id": format!("thread_{}", c.fetch_add(1, Ordering::Relaxed)), "object": "thread", "created_at": 0, "metadata": {}, "tool_resources": null}))
        }))
        .route("/v1/threads/{t}/messages", post(|Path(t): Path<String>| async move {
            Json(json!({"id": "msg_0", "object": "thread.message", "thread_id": t, "role": "user", "created_at": 0, "content": [], "attachments": [], "metadata": {}, "status": "completed"}))
        }).get(|Path(t): Path<String>| async move {
            Json(json!({"object": "list", "data": [{"id": "msg_1", "object": "thread.message", "thread_id": t, "role": "assistant", "created_at": 0, "content": [{"type": "text", "text": {"value": "echo", "annotations": []}}], "attachments": [], "metadata": {}, "status": "completed"}], "first_id": "msg_1", "last_id": "msg_1", "has_more": false}))
        }))
        .route("/v1/threads/{t}/runs", post(|Path(t): Path<String>| async move {
            Json(json!({"id": "run_0", "object": "thread.run", "thread_id": t, "status": "queued", "created_at": 0}))
        }))
        .route("/v1/threads/{t}/runs/{r}", get(|Path((t, r)): Path<(String, String)>| async move {
            Json::<Value>(json!({"id": r, "object": "thread.run", "thread_id": t, "status": "completed", "created_at": 0}))
        }))
        .with_state(counter);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

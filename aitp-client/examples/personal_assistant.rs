//! A personal-assistant agent in front of a shop: it answers nothing itself and passes the
//! customer's text and capability messages to the shop through `aitp-client`, relaying the
//! shop's answers unchanged (quotes keep their signatures).
//!
//! ```text
//! cargo run -p aitp-client --example personal_assistant               # starts the demo shop too
//! cargo run -p aitp-client --example personal_assistant -- http://127.0.0.1:8081/v1
//! ```
//!
//! The assistant listens on `127.0.0.1:8082` (`PORT` overrides); talk to it with
//! `aitp chat http://127.0.0.1:8082/v1` or any Threads API client.

use aitp::{
    agent::{Router, ThreadCtx},
    capability::AitpCapability,
    server::Server,
    store::MemoryStore,
};
use aitp_client::{Client, Forwarder};

/// The assistant: text and every capability message go to the shop.
fn personal_assistant(forwarder: Forwarder) -> Router {
    let text = forwarder.clone();
    Router::new()
        .actor_id("personal-assistant")
        .on_text(move |cx: ThreadCtx, said: String| {
            let text = text.clone();
            async move { text.relay_text(cx.thread_id(), &said).await }
        })
        .forward_to(forwarder)
        .declare(AitpCapability::Decisions.v1())
        .declare(AitpCapability::DataRequest.v1())
        .declare(AitpCapability::Payments.v1())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shop_url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            // No shop given: serve the demo shop on a free port.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}/v1", listener.local_addr()?);
            let shop = Server::new(example_shop::shop_agent(), MemoryStore::new());
            tokio::spawn(shop.serve_with(listener, aitp::server::shutdown_signal()));
            url
        }
    };
    let port = std::env::var("PORT").unwrap_or_else(|_| "8082".to_owned());
    let to_shop = Client::builder(&shop_url)
        .actor("personal-assistant")
        .build()?;
    let assistant = personal_assistant(Forwarder::new(to_shop));
    println!("personal assistant on http://127.0.0.1:{port}/v1, passing through to {shop_url}");
    Server::new(assistant, MemoryStore::new())
        .serve(format!("127.0.0.1:{port}"))
        .await?;
    Ok(())
}

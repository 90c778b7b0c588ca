//! The demo shop as an MCP server: the shop agent runs in this process, and MCP hosts reach
//! it over streamable HTTP (`cargo run -p aitp-mcp --example shop_gateway`, then point the
//! host at the printed URL) or over stdio (`... --example shop_gateway -- --stdio`, as the
//! host's command). In the host, say "I need hiking gear": the product cards, the address
//! form and the quote appear as the host's own forms.

use aitp_mcp::{Backend, Gateway, Payer};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs on stderr: with --stdio, stdout is the MCP channel.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let shop = aitp_examples::shop::shop_agent();
    let backend = Backend::in_process(shop).await?;
    // Payments are left unsigned here; `Payer::signer` takes a real signer.
    let gateway = Gateway::new(backend, Payer::new("you.near", "demo-channel")).await?;
    if std::env::args().any(|a| a == "--stdio") {
        aitp_mcp::serve::stdio(gateway).await?;
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8931").await?;
    eprintln!(
        "the shop as an MCP server: {}",
        aitp_mcp::serve::http_url(listener.local_addr()?)
    );
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    aitp_mcp::serve::http(gateway, listener, &[], shutdown).await?;
    Ok(())
}

//! The demo shop as an MCP server: the shop agent runs in this process, and MCP hosts reach
//! it over streamable HTTP (`cargo run -p aitp-mcp --example shop_gateway`, then point the
//! host at the printed URL) or over stdio (`... --example shop_gateway -- --stdio`, as the
//! host's command). In the host, say "I need hiking gear": the product cards, the address
//! form and the quote appear as the host's own forms.

use aitp_examples::script;
use aitp_mcp::{Backend, Gateway, KeySigner, Payer};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs on stderr: with --stdio, stdout is the MCP channel.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let shop = example_shop::shop_agent();
    let backend = Backend::in_process(shop).await?;
    // Payments are made as the demo customer, signed with its published key: the one the
    // shop's payment gate allows (unsigned payments it refuses). Use your own account,
    // channel and `Payer::signer` against a real shop.
    let payer = Payer::new(script::CUSTOMER, script::CHANNEL_ID)
        .signer(KeySigner::new(script::customer_key()));
    let gateway = Gateway::new(backend, payer).await?;
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

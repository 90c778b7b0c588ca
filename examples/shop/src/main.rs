//! Serves the demo shop on the AITP-T01 Threads API.
//!
//! ```text
//! cargo run -p example-shop    # http://127.0.0.1:8080/v1
//! AITP_ADDR=0.0.0.0:9000 RUST_LOG=example_shop=debug,info cargo run -p example-shop
//! ```
//!
//! Open a thread, say anything, and follow the conversation: product cards (AITP-02), a
//! shipping-address form (AITP-03), a signed quote and a payment (AITP-01). The logs narrate
//! each step; the whole shop is in `src/lib.rs`, and `aitp_examples::script` is a
//! customer that answers every step.

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::var("AITP_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    println!("demo shop: base URL http://{addr}/v1 (Ctrl-C to stop)");
    aitp::serve(example_shop::shop_agent(), addr).await
}

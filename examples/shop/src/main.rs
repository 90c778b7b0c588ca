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
//! customer that answers every step. Payments must be signed by a payer the shop knows: the
//! demo customer, whose account, channel and (published) key it prints at start.
//!
//! Threads live in `./aitp.db` (as with `aitp::serve`), and so does the payment ledger: a
//! quote paid stays paid across restarts, and the same payment sent again gets its first
//! confirmation back. (The shop's orders are kept in memory, so an order in progress is
//! lost at a restart: the customer starts again.)

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::var("AITP_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    println!("demo shop: base URL http://{addr}/v1 (Ctrl-C to stop)");
    // The shop takes only signed payments from payers it knows: say who that is.
    println!(
        "it takes payments from {} through channel {}, signed with the published demo key {}",
        aitp_examples::script::CUSTOMER,
        aitp_examples::script::CHANNEL_ID,
        aitp_examples::script::customer_key(),
    );
    // The store `aitp::serve` would use, which is also where paid quotes are remembered.
    let store = aitp::store::SqliteStore::open_default().map_err(std::io::Error::other)?;
    let shop = example_shop::ShopState::with_ledger(
        example_shop::Catalog::demo(),
        example_shop::demo_payers(),
        example_shop::demo_channels(),
        aitp::sign::SystemClock,
        store.clone(),
    );
    println!(
        "its quotes and confirmations verify with {}",
        shop.public_key()
    );
    aitp::server::Server::new(example_shop::shop_agent_with(shop), store)
        .serve(addr)
        .await
}

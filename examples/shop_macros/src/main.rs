//! Serves the macro-style shop (`src/lib.rs`) on the AITP-T01 Threads API.
//!
//! ```text
//! cargo run -p example-shop-macros    # http://127.0.0.1:8080/v1
//! ```

use example_shop_macros::MacroShop;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("AITP_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    println!("macro shop: base URL http://{addr}/v1 (Ctrl-C to stop)");
    println!(
        "it takes payments from {} through channel {}, signed with the published demo key {}",
        aitp_examples::script::CUSTOMER,
        aitp_examples::script::CHANNEL_ID,
        aitp_examples::script::customer_key(),
    );
    aitp::serve(MacroShop::default().router(), addr).await
}

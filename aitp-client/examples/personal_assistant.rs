//! A personal-assistant agent in front of a shop, earning its affiliate share: it answers
//! nothing itself and passes the customer's text and capability messages to the shop through
//! `aitp-client`; the shop's quotes come back to the customer *wrapped* (AITP-01
//! `wrapped_quote`): the shop's signature checked first, then the assistant's own wrapper
//! added and signed with its key. The customer's payment goes back to the shop unchanged.
//!
//! ```text
//! cargo run -p aitp-client --example personal_assistant               # starts the demo shop too
//! cargo run -p aitp-client --example personal_assistant -- http://127.0.0.1:8081/v1 shop.near=ed25519:...
//! ```
//!
//! The second argument is the shop's merchant id and public key (default: the demo shop's).
//! The assistant listens on `127.0.0.1:8082` (`PORT` overrides) and prints its affiliate id
//! and public key; talk to it with `aitp chat http://127.0.0.1:8082/v1 --key customer.json
//! --channel channel_ada_demo_shop --merchant-key <shop>=<key> --merchant-key <assistant>=<key>`
//! to see every signature verified and the assistant's part of the shop's revenue share.
//!
//! Demo shortcut, said plainly: the assistant's key comes from the published seed
//! [`DEMO_ASSISTANT_SEED`], so anyone can sign as it; a real assistant loads its key from
//! somewhere safe.

use aitp::{
    agent::{Router, ThreadCtx},
    capability::AitpCapability,
    server::Server,
    sign::{ConfiguredKeys, PublicKey, SecretKey},
    store::MemoryStore,
};
use aitp_client::{Affiliation, Client, Forwarder};

/// The assistant's account: its actor id and affiliate id.
const ASSISTANT_ID: &str = "aitp-rs-assistant.near";
/// The seed of the assistant's demo key. **Published, so not a secret.**
const DEMO_ASSISTANT_SEED: [u8; 32] = *b"aitp-rs demo assistant: public!!";

/// The assistant: text and every capability message go to the shop; quotes come back
/// wrapped.
fn personal_assistant(forwarder: Forwarder) -> Router {
    let text = forwarder.clone();
    Router::new()
        .actor_id(ASSISTANT_ID)
        .on_text(move |cx: ThreadCtx, said: String| {
            let text = text.clone();
            async move { text.forward_text(&cx, &said).await }
        })
        .forward_to(forwarder)
        .declare(AitpCapability::Decisions.v1())
        .declare(AitpCapability::DataRequest.v1())
        .declare(AitpCapability::Payments.v1())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let shop_url = match args.next() {
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
    // Whose quotes we vouch for: the shop's key, and nobody else's.
    let (merchant, merchant_key): (String, PublicKey) = match args.next() {
        Some(pair) => {
            let (merchant, key) = pair
                .split_once('=')
                .ok_or("the shop's key is MERCHANT_ID=ed25519:<base58>")?;
            (merchant.to_owned(), key.parse()?)
        }
        None => (
            example_shop::MERCHANT_ID.to_owned(),
            example_shop::ShopState::default().public_key(),
        ),
    };
    let port = std::env::var("PORT").unwrap_or_else(|_| "8082".to_owned());

    let key = SecretKey::from_seed(&DEMO_ASSISTANT_SEED);
    let me = Affiliation::new(
        ASSISTANT_ID,
        key,
        ConfiguredKeys::new().allow(merchant.clone(), merchant_key),
    );
    println!(
        "personal assistant {ASSISTANT_ID} (key {}) on http://127.0.0.1:{port}/v1, \
         wrapping the quotes of {merchant} ({merchant_key}) from {shop_url}",
        me.public_key()
    );
    let to_shop = Client::builder(&shop_url).actor(ASSISTANT_ID).build()?;
    let assistant = personal_assistant(Forwarder::new(to_shop).affiliate(me));
    Server::new(assistant, MemoryStore::new())
        .serve(format!("127.0.0.1:{port}"))
        .await?;
    Ok(())
}

//! Prints a capability's `schema.json`, generated from its Rust types.
//!
//! ```text
//! cargo run -p aitp-examples --example capability_schema               # the loyalty capability
//! cargo run -p aitp-examples --example capability_schema -- decisions  # an AITP one
//! ```
//!
//! The loyalty-points capability (`examples/loyalty/src/lib.rs`, package `example-loyalty`) is declared as message structs and one
//! enum deriving `Capability`; `Loyalty::schema()` is the JSON Schema 2020-12 document to
//! publish at its URL: `anyOf` over the messages, `$id` = the URL, doc comments as
//! descriptions. The official capabilities are declared the same way in `aitp`
//! (`aitp::capability::Decisions` …); name one to print its schema instead.

use aitp::capability::{
    Capability, DataRequest, Decisions, EvmWallet, NearWallet, Payments, Transactions,
};

fn main() {
    let which = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "loyalty".to_owned());
    let schema = match which.as_str() {
        "loyalty" => example_loyalty::Loyalty::schema(),
        "payments" => Payments::schema(),
        "decisions" => Decisions::schema(),
        "data-request" => DataRequest::schema(),
        "near-wallet" => NearWallet::schema(),
        "evm-wallet" => EvmWallet::schema(),
        "transactions" => Transactions::schema(),
        other => {
            eprintln!(
                "unknown capability {other:?}: expected loyalty, payments, decisions, \
                 data-request, near-wallet, evm-wallet or transactions"
            );
            std::process::exit(2);
        }
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).expect("a schema is JSON")
    );
}

//! One message of every capability: built with the SDK's builders, printed as the JSON that
//! travels in a thread, parsed back, compared, validated and described. No server needed.
//!
//! ```text
//! cargo run -p aitp-examples --example messages
//! ```
//!
//! The last two show the reader's side: a capability this crate does not know passes through
//! unchanged, and a message as a NEAR AI agent really wrote it parses, with validation naming
//! what breaks the schema.

use std::error::Error;

use aitp::sign::{SecretKey, sign};
use aitp::{
    capability::{
        Body, Envelope,
        data_request::{FormField, RequestData},
        decisions::{DecisionOption, RequestDecision},
        errors::{ErrorCode, ErrorReport},
        evm_wallet::{self, Address},
        near_wallet,
        payments::{PaymentOption, Quote},
        transactions,
    },
    money::Amount,
};
use aitp_examples::describe;

fn main() -> Result<(), Box<dyn Error>> {
    let price: Amount = "24.95".parse()?;

    // AITP-01 Payments: a quote signed with ed25519 (a key from a published seed: a demo).
    let shop_key = SecretKey::from_seed(b"messages example: not a secret!!");
    let quote = Quote::builder("quote_1", "shop.near", "1 × Insulated bottle, 750 ml")
        .expiration("2030-01-01T00:00:00Z")
        .option(PaymentOption::near_payment_channel(
            price.clone(),
            "USD",
            "usdc.near",
            "shop.near",
        ))
        .build_unsigned();
    let quote = sign(&shop_key, quote)?;

    // AITP-02 Decisions: product cards, prices in the legacy quote shape options carry.
    let decision = RequestDecision::products(
        "catalog_1",
        [
            DecisionOption::new("bottle", "Insulated bottle, 750 ml")
                .description("Cold for 24 hours, hot for 12.")
                .image_url("https://images.example.com/bottle.jpg")
                .quote(transactions::Quote::one_time(
                    "price_bottle",
                    "shop.near",
                    aitp::money::DecimalNumber::from_amount(&price),
                    "2030-01-01T00:00:00Z",
                )),
            DecisionOption::new("socks", "Merino trail socks"),
        ],
    )
    .title("What would you like?")
    .build();

    // AITP-03 Data Request: a form.
    let data_request = RequestData::form(
        "contact_1",
        "How can we reach you about your order?",
        [
            FormField::text("name", "Full name")
                .required()
                .autocomplete("name"),
            FormField::email("email", "Email")
                .required()
                .autocomplete("email"),
            FormField::select("slot", "Delivery slot", ["morning", "afternoon"]),
        ],
    )
    .title("Contact details");

    // AITP-04 NEAR Wallet: a function call to sign (gas and yoctoNEAR as exact integers).
    let near = near_wallet::RequestTransaction::function_call(
        "near_tx_1",
        "nft.example.near",
        "nft_mint",
        &serde_json::json!({"token_id": "42", "receiver_id": "ada.near"}),
        30_000_000_000_000,
        10_000_000_000_000_000_000_000,
    )
    .description("Mint your receipt NFT");

    // AITP-05 EVM Wallet: send 0.01 ETH on Base.
    let to: Address = "0x1234567890123456789012345678901234567890".parse()?;
    let evm = evm_wallet::RequestTransaction::builder("evm_tx_1", to)
        .chain_id(8453)
        .value_wei(10_000_000_000_000_000)
        .description("Tip the shop")
        .build();

    // Legacy AITP-04 Transactions (what NEAR AI called payments): a quote with a number amount.
    let legacy = transactions::Quote::one_time(
        "legacy_quote_1",
        "shop.near",
        "19.99".parse()?,
        "2030-01-01T00:00:00Z",
    );

    // The aitp-rs error capability: how an agent says a message could not be handled.
    let error = ErrorReport::new(
        ErrorCode::UnsupportedCapability,
        "this agent does not handle AITP-05 messages",
    )
    .capability("https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json")
    .key("request_transaction");

    let built = [
        ("AITP-01 Payments", Envelope::from(quote)),
        ("AITP-02 Decisions", Envelope::from(decision)),
        ("AITP-03 Data Request", Envelope::from(data_request)),
        ("AITP-04 NEAR Wallet", Envelope::from(near)),
        ("AITP-05 EVM Wallet", Envelope::from(evm)),
        ("Legacy Transactions", Envelope::from(legacy)),
        ("aitp-rs errors", Envelope::from(error)),
    ];
    for (title, message) in &built {
        let parsed = show(title, &message.to_json_string())?;
        if parsed != *message {
            return Err(format!("{title}: the parsed message differs from the one built").into());
        }
        parsed.validate()?;
    }

    // A third-party capability: kept as received, written back unchanged.
    let custom = r#"{"$schema":"https://loyalty.example/caps/points/v1.2.0/schema.json","redeem_points":{"account":"ada","points":250,"rate":0.015}}"#;
    let parsed = show("A capability this crate does not know", custom)?;
    if !matches!(parsed.body(), Body::Unknown { .. }) || parsed.to_json_string() != custom {
        return Err("the unknown capability did not pass through unchanged".into());
    }

    // What a NEAR AI agent really sent: legacy URL, no id, `type: "product"`, numeric ids.
    let near_ai = r#"{"$schema":"https://aitp.dev/v1/decisions/schema.json","request_decision":{"type":"product","options":[{"id":1,"name":"Red socks","price":{"usd":10.5}}]}}"#;
    let parsed = show("As a NEAR AI agent wrote it", near_ai)?;
    if parsed.validate().is_ok() || parsed.to_json_string() != near_ai {
        return Err("the NEAR AI message should parse, round-trip, and fail validation".into());
    }
    Ok(())
}

/// Prints `json` pretty, parses it, prints what was found; returns the parsed message.
fn show(title: &str, json: &str) -> Result<Envelope, Box<dyn Error>> {
    let parsed = Envelope::parse(json)?;
    println!("== {title} ==");
    println!("{}", serde_json::to_string_pretty(&parsed.to_value())?);
    println!("-> {}\n", describe(&parsed));
    Ok(parsed)
}

//! Tests of the AITP-04 NEAR Wallet message types.

use super::*;
use crate::capability::{AitpCapability, Body, Envelope};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec/vectors");
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/aitp/schemas/capabilities/aitp-04-near-wallet/v1.0.0/schema.json"
);
const URL: &str = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json";

fn official() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn generated<T: JsonSchema>() -> jsonschema::Validator {
    let schema = schemars::schema_for!(T);
    jsonschema::validator_for(&serde_json::to_value(&schema).unwrap()).unwrap()
}

/// The body's own schema, generated from its type, accepts `body`.
fn generated_accepts(key: &str, body: &Value) -> bool {
    match key {
        "request_account" => generated::<RequestAccount>().is_valid(body),
        "account_response" => generated::<AccountResponse>().is_valid(body),
        "request_transaction" => generated::<RequestTransaction>().is_valid(body),
        "transaction_response" => generated::<TransactionResponse>().is_valid(body),
        "request_message_signing" => generated::<RequestMessageSigning>().is_valid(body),
        "message_signing_response" => generated::<MessageSigningResponse>().is_valid(body),
        "token_notification" => generated::<TokenNotification>().is_valid(body),
        other => panic!("unexpected key {other}"),
    }
}

fn vectors() -> Vec<(String, String)> {
    let mut out: Vec<_> = std::fs::read_dir(VECTORS)
        .expect("vector directory")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("aitp-04-") && name.ends_with(".json")
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.file_name().unwrap().to_str().unwrap().to_owned(), text)
        })
        .collect();
    out.sort();
    out
}

fn key_of(m: &Envelope) -> &str {
    m.key()
}

#[test]
fn every_vector_parses_round_trips_and_validates() {
    let vectors = vectors();
    assert!(vectors.len() >= 6, "found only {} vectors", vectors.len());
    let official = official();
    for (name, text) in vectors {
        let original: Value = serde_json::from_str(&text).unwrap();
        let m = Envelope::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let typed = matches!(
            m.body(),
            Body::NearRequestAccount(_)
                | Body::NearAccountResponse(_)
                | Body::NearRequestTransaction(_)
                | Body::NearTransactionResponse(_)
                | Body::NearRequestMessageSigning(_)
                | Body::NearMessageSigningResponse(_)
                | Body::NearTokenNotification(_)
        );
        assert!(typed, "{name}: parsed as {:?}", m.body());
        assert_eq!(m.body().aitp_capability(), Some(AitpCapability::NearWallet));
        assert_eq!(m.to_value(), original, "{name}: round trip");
        m.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(official.is_valid(&original), "{name}: official");
        let key = key_of(&m).to_owned();
        assert!(
            generated_accepts(&key, &original[&key]),
            "{name}: generated schema"
        );
    }
}

#[test]
fn vector_details() {
    let text = std::fs::read_to_string(format!(
        "{VECTORS}/aitp-04-request_transaction-tx_req_67890.json"
    ))
    .unwrap();
    let r = Envelope::parse(&text)
        .unwrap()
        .message::<RequestTransaction>()
        .unwrap()
        .unwrap();
    let a = &r.transaction.actions[0];
    assert_eq!(a.r#type, ActionType::FunctionCall);
    assert_eq!(a.gas(), Some(30_000_000_000_000));
    assert_eq!(a.deposit_yocto(), Some(1_000_000_000_000_000_000_000_000));
    assert_eq!(a.args_json().unwrap()["metadata"]["title"], "My NFT");

    let text = std::fs::read_to_string(format!(
        "{VECTORS}/aitp-04-request_message_signing-nep413-msg_req_24680.json"
    ))
    .unwrap();
    let s = Envelope::parse(&text)
        .unwrap()
        .message::<RequestMessageSigning>()
        .unwrap()
        .unwrap();
    assert_eq!(s.message.nonce_bytes(), Some(vec![1, 2, 3, 4]));
}

#[test]
fn broken_messages_name_the_path() {
    let official = official();
    let base = |key: &str, body: Value| serde_json::json!({"$schema": URL, key: body});
    let tx = serde_json::json!({
        "request_id": "t",
        "transaction": {"receiver_id": "a.near", "actions": [
            {"type": "Transfer", "params": {"deposit": "1", "anything": {"goes": 1.50}}}
        ]}
    });
    let ok = base("request_transaction", tx.clone());
    assert!(Envelope::from_value(&ok).unwrap().validate().is_ok());
    assert!(official.is_valid(&ok));

    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut t = ok.clone();
    t["request_transaction"]["transaction"]["signer_id"] = "me.near".into();
    cases.push((t, "request_transaction.transaction.signer_id"));
    let mut t = ok.clone();
    t["request_transaction"]["transaction"]["actions"][0]["type"] = "Delegate".into();
    cases.push((t, "request_transaction.transaction.actions[0].type"));
    let mut t = ok.clone();
    t["request_transaction"]["transaction"]["actions"][0]["gas"] = "1".into();
    cases.push((t, "request_transaction.transaction.actions[0].gas"));
    let mut t = ok.clone();
    t["request_transaction"]["network"] = "mainnet".into();
    cases.push((t, "request_transaction.network"));
    let mut t = ok.clone();
    t["memo"] = "root".into();
    cases.push((t, "memo"));
    cases.push((
        base(
            "token_notification",
            serde_json::json!({"notification_id": "n", "token_type": "nep171", "token_contract": "c.near"}),
        ),
        "token_notification.token_type",
    ));
    cases.push((
        base(
            "request_message_signing",
            serde_json::json!({"request_id": "m", "message": {
                "nonce": "AQIDBA==", "recipient": "app.near", "message": "hi", "callbackUrl": "https://x"
            }}),
        ),
        "request_message_signing.message.callbackUrl",
    ));
    cases.push((
        base(
            "request_account",
            serde_json::json!({"request_id": "a", "chain": "near"}),
        ),
        "request_account.chain",
    ));
    cases.push((
        base(
            "account_response",
            serde_json::json!({"request_id": "a", "accounts": [], "x": 1}),
        ),
        "account_response.x",
    ));
    cases.push((
        base(
            "transaction_response",
            serde_json::json!({"request_id": "a", "transaction_hash": "h", "x": 1}),
        ),
        "transaction_response.x",
    ));
    cases.push((
        base(
            "message_signing_response",
            serde_json::json!({"request_id": "a", "account_id": "u", "public_key": "k", "signature": "s", "x": 1}),
        ),
        "message_signing_response.x",
    ));
    for (broken, path) in cases {
        let m = Envelope::from_value(&broken).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            m.body().aitp_capability(),
            Some(AitpCapability::NearWallet),
            "{path}"
        );
        assert_eq!(m.to_value(), broken, "{path}: lossless");
        let err = m.validate().unwrap_err();
        assert!(err.has_path(path), "{path}: {err}");
        assert!(
            !official.is_valid(&broken),
            "{path}: official schema accepts it"
        );
        if path != "memo" {
            let key = key_of(&m).to_owned();
            assert!(
                !generated_accepts(&key, &broken[&key]),
                "{path}: generated schema accepts it"
            );
        }
    }
}

#[test]
fn builders_validate_against_the_official_schema() {
    let official = official();
    let account = RequestAccount::new("acc").description("Share your account");
    let call = RequestTransaction::function_call(
        "tx",
        "usdc.near",
        "ft_transfer",
        &serde_json::json!({"receiver_id": "shop.near", "amount": "1000000"}),
        300_000_000_000_000,
        1,
    )
    .description("Pay 1 USDC")
    .action(Action::transfer(u128::MAX));
    let transfer = RequestTransaction::transfer("tx2", "bob.near", 10u128.pow(24));
    let sign = RequestMessageSigning::nep413("m", "Log in", "app.near", [7; 32])
        .description("Prove it is you")
        .state("s1");
    let messages = [
        Envelope::from(account.clone()),
        Envelope::from(account.respond(["user.near"])),
        Envelope::from(call.clone()),
        Envelope::from(call.respond("hash")),
        Envelope::from(transfer.clone()),
        Envelope::from(sign.clone()),
        Envelope::from(sign.respond("user.near", "ed25519:key", "ed25519:sig")),
        Envelope::from(TokenNotification::nep141("n1", "usdt.tether-token.near")),
    ];
    for m in messages {
        assert_eq!(m.schema(), URL);
        m.validate().unwrap_or_else(|e| panic!("{m}: {e}"));
        assert!(official.is_valid(&m.to_value()), "{m}");
        assert_eq!(Envelope::parse(&m.to_json_string()).unwrap(), m, "{m}");
    }
    let extra = &call.transaction.actions[1];
    assert_eq!(extra.params["deposit"], u128::MAX.to_string().as_str());
    assert_eq!(extra.deposit_yocto(), Some(u128::MAX));
    assert_eq!(
        transfer.transaction.actions[0].deposit_yocto(),
        Some(10u128.pow(24))
    );
    assert_eq!(call.transaction.actions[0].gas(), Some(300_000_000_000_000));
    assert_eq!(
        call.transaction.actions[0].args_json().unwrap(),
        serde_json::json!({"receiver_id": "shop.near", "amount": "1000000"})
    );
    assert_eq!(sign.message.nonce_bytes(), Some(vec![7; 32]));
    assert_eq!(sign.message.nonce.len(), 44);
}

#[test]
fn base64_round_trips_and_rejects() {
    let cases: [(&[u8], &str); 7] = [
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (b"fooba", "Zm9vYmE="),
        (b"foobar", "Zm9vYmFy"),
    ];
    for (bytes, text) in cases {
        assert_eq!(base64::encode(bytes), text);
        assert_eq!(base64::decode(text).as_deref(), Some(bytes));
        assert_eq!(
            base64::decode(text.trim_end_matches('=')).as_deref(),
            Some(bytes)
        );
    }
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(base64::decode(&base64::encode(&all)), Some(all));
    for bad in ["Z", "Zg=", "Zh==", "Zm9v!", "Zg===", "=Zg="] {
        assert_eq!(base64::decode(bad), None, "{bad}");
    }
}

//! Tests of the AITP-05 EVM Wallet message types.

use serde_json::json;

use super::*;
use crate::capability::{Body, CapabilityMessage as _, Envelope};

const URL: &str = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json";
const ALICE: &str = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e";

fn vectors_dir() -> std::path::PathBuf {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec/vectors").into()
}

/// The AITP-05 vectors, plus the two doc examples the vector set lacks (`address_response`
/// and `request_transaction`, from `aitp-05-evm-wallet.md`).
fn examples() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(vectors_dir()).expect("vectors directory") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("aitp-05-") && name.ends_with(".json") {
            out.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    out.sort();
    assert!(
        out.len() >= 7,
        "expected the AITP-05 vectors, found {}",
        out.len()
    );
    out.push(("doc:address_response".into(), DOC_ADDRESS_RESPONSE.into()));
    out.push((
        "doc:request_transaction".into(),
        DOC_REQUEST_TRANSACTION.into(),
    ));
    out
}

const DOC_ADDRESS_RESPONSE: &str = r#"{
  "$schema": "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
  "address_response": {
    "request_id": "addr_req_12345",
    "addresses": ["0x742d35Cc6634C0532925a3b844Bc454e4438f44e", "0x8ba1f109551bD432803012645Ac136ddd64DBA72"]
  }
}"#;

const DOC_REQUEST_TRANSACTION: &str = r#"{
  "$schema": "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
  "request_transaction": {
    "request_id": "tx_req_67890",
    "description": "Sign transaction to mint NFT",
    "chain_id": 1,
    "transaction": {
      "to": "0x1234567890123456789012345678901234567890",
      "from": "0x742d35Cc6634C0532925a3b844Bc454e4438f44e",
      "data": "0xa9059cbb000000000000000000000000742d35cc6634c0532925a3b844bc454e4438f44e0000000000000000000000000000000000000000000000000de0b6b3a7640000",
      "value": "0x0",
      "gas": "0x5208",
      "gasPrice": "0x3b9aca00",
      "nonce": "0x1",
      "maxFeePerGas": "0x3b9aca00",
      "maxPriorityFeePerGas": "0x3b9aca00",
      "accessList": []
    }
  }
}"#;

/// The body's key when the payload is one of the typed EVM variants.
fn evm_key(p: &Body) -> Option<&'static str> {
    Some(match p {
        Body::EvmRequestAddress(_) => RequestAddress::KEY,
        Body::EvmAddressResponse(_) => AddressResponse::KEY,
        Body::EvmRequestTransaction(_) => RequestTransaction::KEY,
        Body::EvmTransactionResponse(_) => TransactionResponse::KEY,
        Body::EvmRequestMessageSigning(_) => RequestMessageSigning::KEY,
        Body::EvmMessageSigningResponse(_) => MessageSigningResponse::KEY,
        Body::EvmChainNotification(_) => ChainNotification::KEY,
        Body::EvmTokenNotification(_) => TokenNotification::KEY,
        _ => return None,
    })
}

fn official_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/spec/aitp/schemas/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json"
    ))
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// The JSON Schema this crate generates for the body type of `key`.
fn generated_schema(key: &str) -> jsonschema::Validator {
    let schema = match key {
        "request_address" => schemars::schema_for!(RequestAddress),
        "address_response" => schemars::schema_for!(AddressResponse),
        "request_transaction" => schemars::schema_for!(RequestTransaction),
        "transaction_response" => schemars::schema_for!(TransactionResponse),
        "request_message_signing" => schemars::schema_for!(RequestMessageSigning),
        "message_signing_response" => schemars::schema_for!(MessageSigningResponse),
        "chain_notification" => schemars::schema_for!(ChainNotification),
        "token_notification" => schemars::schema_for!(TokenNotification),
        other => panic!("no EVM key {other}"),
    };
    jsonschema::validator_for(&serde_json::to_value(&schema).unwrap()).unwrap()
}

/// Checks a whole message against the official schema and its body against the generated
/// one; both must agree with `valid`.
fn assert_schemas(message: &Value, valid: bool) {
    let key = message
        .as_object()
        .unwrap()
        .keys()
        .find(|k| *k != "$schema")
        .unwrap()
        .clone();
    assert_eq!(
        official_schema().is_valid(message),
        valid,
        "official schema: {message}"
    );
    assert_eq!(
        generated_schema(&key).is_valid(&message[&key]),
        valid,
        "generated schema for {key}: {message}"
    );
}

#[test]
fn vectors_parse_typed_round_trip_and_validate() {
    for (name, text) in examples() {
        let expected: Value = serde_json::from_str(&text).unwrap();
        let m = Envelope::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(evm_key(m.body()), Some(m.key()), "{name}: {:?}", m.body());
        assert_eq!(m.to_value(), expected, "{name}");
        assert!(m.validate().is_ok(), "{name}: {:?}", m.validate());
        assert_schemas(&expected, true);
    }
}

#[test]
fn eip712_numbers_stay_exact() -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(
        vectors_dir().join("aitp-05-request_message_signing-typed_data-typed_req_13579.json"),
    )
    .unwrap();
    let m = Envelope::parse(&text).unwrap();
    let r = m
        .message::<RequestMessageSigning>()?
        .ok_or("the vector is a request_message_signing")?;
    assert_eq!(r.signing_type, SigningType::TypedData);
    let td = r.typed_data.as_ref().unwrap();
    assert_eq!(td.primary_type, "Order");
    assert_eq!(td.types["Order"][2].name, "price");
    assert_eq!(td.message["price"].to_string(), "1000000000000000000");
    assert!(
        m.to_json_string()
            .contains(r#""price":1000000000000000000"#)
    );
    let through_serde: RequestMessageSigning =
        serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(through_serde, r);
    Ok(())
}

#[test]
fn evm_schema_decides_over_shape() {
    // No `0x` anywhere: the key-only heuristic would say NEAR, the `$schema` says EVM.
    let text = json!({"$schema": URL, "transaction_response": {
        "request_id": "tx_1", "transaction_hash": "FZ3x"}})
    .to_string();
    let m = Envelope::parse(&text).unwrap();
    assert!(matches!(m.body(), Body::EvmTransactionResponse(_)));
    let err = m.validate().unwrap_err();
    assert!(
        err.has_path("transaction_response.transaction_hash"),
        "{err}"
    );

    let near =
        json!({"$schema": "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
        "transaction_response": {"request_id": "tx_1", "transaction_hash": "0xab"}})
        .to_string();
    assert_eq!(evm_key(Envelope::parse(&near).unwrap().body()), None);
}

fn broken(message: Value, paths: &[&str]) {
    let m = Envelope::from_value(&message).unwrap();
    assert!(evm_key(m.body()).is_some(), "{message}");
    assert_eq!(m.to_value(), message, "kept losslessly");
    let err = m.validate().unwrap_err();
    for p in paths {
        assert!(err.has_path(p), "expected an error at {p}, got: {err}");
    }
    assert_schemas(&message, false);
}

#[test]
fn broken_messages_name_the_path() {
    broken(
        json!({"$schema": URL, "request_transaction": {"request_id": "r", "transaction": {
            "to": "0x1234", "value": "0x", "data": "0xzz", "gasPrice": "12",
            "accessList": [{"address": ALICE, "storageKeys": [
                format!("0x{}", "0".repeat(64)), "0x01"]}]}}}),
        &[
            "request_transaction.transaction.to",
            "request_transaction.transaction.value",
            "request_transaction.transaction.data",
            "request_transaction.transaction.gasPrice",
            "request_transaction.transaction.accessList[0].storageKeys[1]",
        ],
    );
    broken(
        json!({"$schema": URL, "request_message_signing": {
            "request_id": "r", "signing_type": "personal_sign"}}),
        &["request_message_signing.message"],
    );
    broken(
        json!({"$schema": URL, "request_message_signing": {
            "request_id": "r", "signing_type": "typed_data", "message": "hi"}}),
        &["request_message_signing.typed_data"],
    );
    broken(
        json!({"$schema": URL, "request_message_signing": {
            "request_id": "r", "signing_type": "eth_sign", "message": "hi"}}),
        &["request_message_signing.signing_type"],
    );
    broken(
        json!({"$schema": URL, "request_message_signing": {
            "request_id": "r", "signing_type": "typed_data", "typed_data": {
                "types": {"Mail": [{"name": "to", "type": "address", "indexed": true}]},
                "primaryType": "Mail", "domain": {}, "message": {"to": ALICE}, "salt": "0x"}}}),
        &[
            "request_message_signing.typed_data.types.Mail[0].indexed",
            "request_message_signing.typed_data.salt",
        ],
    );
    broken(
        json!({"$schema": URL, "request_address": {"request_id": "r", "network": "mainnet"}}),
        &["request_address.network"],
    );
    broken(
        json!({"$schema": URL, "address_response": {"request_id": "r",
            "addresses": [ALICE, "0xnope"]}}),
        &["address_response.addresses[1]"],
    );
    broken(
        json!({"$schema": URL, "message_signing_response": {"request_id": "r",
            "address": ALICE, "signature": "0x"}}),
        &["message_signing_response.signature"],
    );
    broken(
        json!({"$schema": URL, "token_notification": {"notification_id": "n", "chain_id": 1,
            "token_type": "erc721", "token_contract": "0xdac17f958d2ee523a2206206994597c13d831ec7",
            "name": "T", "symbol": "T", "decimals": 0}}),
        &["token_notification.token_type"],
    );
}

#[test]
fn stray_root_fields_and_missing_required_fields() {
    let m = Envelope::from_value(&json!({"$schema": URL,
        "request_address": {"request_id": "r"}, "note": "hi"}))
    .unwrap();
    assert!(m.validate().unwrap_err().has_path("note"));
    let e = Envelope::parse(
        &json!({"$schema": URL, "chain_notification": {"notification_id": "n"}}).to_string(),
    )
    .unwrap_err();
    assert!(e.is_aitp(), "{e}");
    assert!(e.to_string().contains("chain_notification"), "{e}");
    // Required fields of nested objects are required by the types too: a parse error
    // that names the path.
    let e = Envelope::parse(
        &json!({"$schema": URL, "chain_notification": {"notification_id": "n", "chain_id": 10,
            "native_currency": {"name": "Ether", "symbol": "ETH"}}})
        .to_string(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, crate::capability::ParseError::Body { path, .. }
            if path == "chain_notification.native_currency"),
        "{e}"
    );
}

#[test]
fn builders_validate() {
    let alice: Address = ALICE.parse().unwrap();
    let contract = Address::from([0xcc; 20]);
    let tx = RequestTransaction::builder("tx_1", contract.clone())
        .description("Mint")
        .chain_id(137)
        .from(alice.clone())
        .value_wei(0)
        .data([0xa9, 0x05, 0x9c, 0xbb])
        .gas(21_000)
        .gas_price_wei(1_000_000_000)
        .max_fee_per_gas_wei(2_000_000_000)
        .max_priority_fee_per_gas_wei(1)
        .nonce(7)
        .access(AccessListEntry::new(
            contract.clone(),
            [B256::from([1; 32])],
        ))
        .build();
    let t = &tx.transaction;
    assert_eq!(t.value.as_deref(), Some("0x0"));
    assert_eq!(t.gas.as_deref(), Some("0x5208"));
    assert_eq!(t.data.as_deref(), Some("0xa9059cbb"));
    assert_eq!(
        parse_quantity(t.gas_price.as_deref().unwrap()),
        Some(1_000_000_000)
    );
    let v = serde_json::to_value(&tx).unwrap();
    assert_eq!(v["transaction"]["maxPriorityFeePerGas"], "0x1");
    assert_eq!(
        v["transaction"]["accessList"][0]["storageKeys"][0],
        format!("0x{}", "01".repeat(32))
    );

    let typed = TypedData::new(
        "Order",
        json!({"name": "Shop", "chainId": 1}).as_object().unwrap().clone(),
        serde_json::from_str(r#"{"maker": "0x742d35Cc6634C0532925a3b844Bc454e4438f44e", "price": 1000000000000000000}"#)
            .unwrap(),
    )
    .with_type("EIP712Domain", [("name", "string"), ("chainId", "uint256")])
    .with_type("Order", [("maker", "address"), ("price", "uint256")]);
    let sign_typed = RequestMessageSigning::typed_data("s_2", typed).address(alice.clone());
    let sign = RequestMessageSigning::personal_sign("s_1", "Hello").description("Log in");
    let addr = RequestAddress::new("a_1").description("Share").chain_id(1);

    let messages: Vec<Envelope> = vec![
        addr.clone().into(),
        addr.respond([alice.clone(), contract.clone()]).into(),
        tx.clone().into(),
        tx.respond([0xab; 32]).into(),
        sign.clone().into(),
        sign.respond(alice.clone(), [0x11u8; 65]).into(),
        sign_typed.clone().into(),
        ChainNotification::new("c_1", 10)
            .name("Optimism")
            .rpc_url("https://mainnet.optimism.io")
            .native_currency(NativeCurrency::new("Ether", "ETH", 18))
            .into(),
        TokenNotification::erc20("t_1", 1, contract, "Tether USD", "USDT", 6)
            .icon_url("https://example.com/usdt.png")
            .into(),
    ];
    for m in messages {
        assert!(m.validate().is_ok(), "{m}: {:?}", m.validate());
        assert_eq!(m.schema(), URL);
        let text = m.to_json_string();
        let back = Envelope::parse(&text).unwrap();
        assert_eq!(back, m, "{text}");
        assert_schemas(&m.to_value(), true);
    }
    assert_eq!(tx.respond([0xab; 32]).request_id, "tx_1");
    assert_eq!(addr.chain_id_or_mainnet(), 1);
    assert!(
        Envelope::from(sign_typed)
            .to_json_string()
            .contains(r#""price":1000000000000000000"#)
    );
}

#[test]
fn checked_hex_inputs() {
    assert!(Address::parse("0x742d35Cc6634C0532925a3b844Bc454e4438f44").is_err());
    assert!(Address::parse("742d35Cc6634C0532925a3b844Bc454e4438f44e00").is_err());
    assert!(B256::parse(&format!("0x{}", "A".repeat(64))).is_ok());
    assert_eq!(HexBytes::parse("0x").unwrap().as_str(), "0x");
    assert!(HexBytes::parse("0xg").is_err());
    assert_eq!(HexBytes::from(vec![0u8, 255]).as_str(), "0x00ff");
    let err = "0x12".parse::<Address>().unwrap_err();
    assert!(err.to_string().contains("EVM address"), "{err}");
    let a: Address = serde_json::from_value(json!(ALICE)).unwrap();
    assert_eq!(serde_json::to_value(&a).unwrap(), json!(ALICE));
    assert!(serde_json::from_value::<Address>(json!("0x1")).is_err());
    assert_eq!(
        parse_quantity("0xde0b6b3a7640000"),
        Some(1_000_000_000_000_000_000)
    );
    assert_eq!(parse_quantity("0x+1"), None);
    assert_eq!(parse_quantity("5208"), None);
}

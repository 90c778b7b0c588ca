//! `aitp::sign` against an independent implementation: the committed vectors in
//! `tests/vectors/signing/` are what the SDK makes, and Python (`rfc8785`, `pynacl`,
//! `eth-account`, NEP-413 recomputed with `hashlib` and `struct`) verifies them and signs its
//! own, which the SDK verifies. The venv is made under `target/` on first use.
//!
//! Set `AITP_WRITE_VECTORS=1` to rewrite the vectors after a deliberate change of scheme.

use std::path::{Path, PathBuf};

use aitp::capability::{
    evm_wallet, near_wallet,
    payments::{
        Affiliate, AffiliateRole, Payment, PaymentConfirmation, PaymentMethodUsed, PaymentOption,
        Quote, RevenueShare, TopUpRequest, TopUpResponse, WrappedQuote, Wrapper,
    },
    transactions::PaymentOutcome,
};
use aitp::sign::{
    self, ConfiguredKeys, Offer, SecretKey, Signable, evm, nep413, signing_bytes,
    wrapper_signing_bytes,
};
use aitp_tests::python_venv;
use serde_json::{Value, json};

const PYTHON_PACKAGES: &[&str] = &["rfc8785==0.1.4", "pynacl==1.6.2", "eth-account==0.14.0"];

/// The test parties and the seeds of their keys (test keys: never use them for anything).
const PARTIES: &[(&str, u8)] = &[
    ("shop.near", 1),
    ("assistant.near", 2),
    ("concierge.near", 3),
    ("router.near", 4),
    ("user.near", 5),
    ("python.near", 6),
];

/// The secp256k1 test key Python signs EVM messages with (keccak256("cow"), EIP-712's own
/// example key) and its address.
const EVM_ADDRESS: &str = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826";

fn key(party: &str) -> SecretKey {
    let seed = PARTIES.iter().find(|(p, _)| *p == party).unwrap().1;
    SecretKey::from_seed(&[seed; 32])
}

fn resolver() -> ConfiguredKeys {
    PARTIES.iter().fold(ConfiguredKeys::new(), |k, (p, _)| {
        k.allow(*p, key(p).public_key())
    })
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/signing")
}

/// A quote whose unknown field exercises every corner of JCS: key order by UTF-16 code
/// units (a non-BMP key), escapes, and numbers that JCS rewrites.
fn quote() -> Quote {
    let mut q = Quote::builder("q_vec_1", "shop.near", "Annual plan \u{2014} \"pro\"")
        .expiration("2030-01-01T00:00:00Z")
        .next_recipient("assistant.near")
        .option(PaymentOption::near_payment_channel(
            "99.99".parse().unwrap(),
            "USD",
            "usdc.near",
            "shop.near",
        ))
        .option(PaymentOption::near_payment_channel(
            "25".parse().unwrap(),
            "NEAR",
            "wrap.near",
            "shop.near",
        ))
        .revenue_share(
            RevenueShare::new(300)
                .affiliate(Affiliate::new("finder.near", AffiliateRole::Discovery).weight(2)),
        )
        .build_unsigned();
    let extra: Value = serde_json::from_str(
        r#"{"x_note": {"\u20ac": "euro", "\ud83d\ude00": "smile", "\ufb33": "dalet, after the smile in UTF-16", "a": [1.0, 1e2, 1.5e-7, 1e21, -0.0, 123.456, 9007199254740991],
             "esc": "tab\there \"q\" \\ \u001f \u2028 \u00e9", "z": null, "t": true}}"#,
    )
    .unwrap();
    q.extra = extra.as_object().unwrap().clone();
    sign::sign(&key("shop.near"), q).unwrap()
}

fn wrapper(id: &str, next: &str, minute: u32) -> Wrapper {
    let mut w = Wrapper::new(id, AffiliateRole::PersonalAssistant, next);
    w.timestamp = format!("2029-06-01T00:{minute:02}:00Z");
    if id == "concierge.near" {
        w = w.added_affiliate(Affiliate::new("referrer.near", AffiliateRole::OtherRole).weight(3));
    }
    w
}

fn wrapped() -> WrappedQuote {
    let w = sign::wrap(
        &key("assistant.near"),
        wrapper("assistant.near", "concierge.near", 1),
        quote(),
    )
    .unwrap();
    let w = sign::wrap(
        &key("concierge.near"),
        wrapper("concierge.near", "router.near", 2),
        w,
    )
    .unwrap();
    sign::wrap(
        &key("router.near"),
        wrapper("router.near", "python.near", 3),
        w,
    )
    .unwrap()
}

fn payment() -> Payment {
    let q = quote();
    let option = &q.payment_options[0];
    let method = PaymentMethodUsed::for_option(option, &option.payment_methods[0], "ch_vec_1");
    let mut p = Payment::new(&q, "user.near", method);
    p.timestamp = "2029-06-01T01:00:00Z".into();
    sign::sign(&key("user.near"), p).unwrap()
}

fn single<M: Signable>(name: &str, signer: &str, message: &M) -> Value {
    json!({
        "description": format!("{name}: {} over the RFC 8785 JCS of the body without it", M::SIGNATURE_FIELD),
        "key": M::KEY,
        "signature_field": M::SIGNATURE_FIELD,
        "signer": signer,
        "public_key": key(signer).public_key().to_string(),
        "signing_bytes": String::from_utf8(signing_bytes(message).unwrap()).unwrap(),
        "message": message,
    })
}

fn nep413_request() -> near_wallet::RequestMessageSigning {
    near_wallet::RequestMessageSigning::nep413(
        "sig_vec_1",
        "Confirm the purchase of q_vec_1",
        "shop.near",
        [42; 32],
    )
}

fn eip712_request() -> evm_wallet::RequestMessageSigning {
    // Text, not `json!`: the amount is a uint256 beyond u64, kept exact.
    let typed: evm_wallet::TypedData = serde_json::from_str(&format!(r#"{{
        "types": {{
            "EIP712Domain": [{{"name": "name", "type": "string"}}, {{"name": "version", "type": "string"}},
                             {{"name": "chainId", "type": "uint256"}}, {{"name": "verifyingContract", "type": "address"}}],
            "Order": [{{"name": "quoteId", "type": "string"}}, {{"name": "amount", "type": "uint256"}},
                      {{"name": "payer", "type": "address"}}, {{"name": "tags", "type": "string[]"}},
                      {{"name": "digest", "type": "bytes32"}}]
        }},
        "primaryType": "Order",
        "domain": {{"name": "AITP Shop", "version": "1", "chainId": 8453,
                   "verifyingContract": "0x1111111111111111111111111111111111111111"}},
        "message": {{"quoteId": "q_vec_1", "amount": 99990000000000000000000, "payer": "{EVM_ADDRESS}",
                    "tags": ["mug", "annual"],
                    "digest": "0x2222222222222222222222222222222222222222222222222222222222222222"}}
    }}"#))
    .unwrap();
    evm_wallet::RequestMessageSigning::typed_data("sig_vec_3", typed)
}

fn personal_request() -> evm_wallet::RequestMessageSigning {
    evm_wallet::RequestMessageSigning::personal_sign(
        "sig_vec_2",
        "I pay q_vec_1: 99.99 USD \u{2713}",
    )
}

/// Every vector file the SDK makes, by name.
fn vectors() -> Vec<(&'static str, Value)> {
    let keys: serde_json::Map<String, Value> = PARTIES
        .iter()
        .map(|(p, seed)| {
            (
                p.to_string(),
                json!({
                    "seed_hex": hex(&[*seed; 32]),
                    "secret_key": key(p).to_string(),
                    "public_key": key(p).public_key().to_string(),
                }),
            )
        })
        .collect();
    let q = quote();
    let p = payment();
    let mut c = PaymentConfirmation::for_payment(&p, "pay_vec_1", PaymentOutcome::Success)
        .message("Thank you \u{1f389}");
    c.timestamp = "2029-06-01T01:00:01Z".into();
    let c = sign::sign(&key("shop.near"), c).unwrap();
    let mut r = TopUpRequest::new("ch_vec_1", "10.5".parse().unwrap(), "USD", "shop.near")
        .reason("metered use");
    r.timestamp = "2029-06-01T02:00:00Z".into();
    let r = sign::sign(&key("shop.near"), r).unwrap();
    let mut t = TopUpResponse::for_request(&r, "10.5".parse().unwrap(), "user.near")
        .new_balance("11.00".parse().unwrap());
    t.timestamp = "2029-06-01T02:00:01Z".into();
    let t = sign::sign(&key("user.near"), t).unwrap();
    let w = wrapped();
    let wrappers: Vec<Value> = w
        .wrappers
        .iter()
        .enumerate()
        .map(|(i, wr)| json!({
            "signer": wr.affiliate_id,
            "public_key": key(&wr.affiliate_id).public_key().to_string(),
            "signing_bytes": String::from_utf8(wrapper_signing_bytes(&w, i).unwrap().unwrap()).unwrap(),
        }))
        .collect();
    let nep_request = nep413_request();
    let nep_response = nep413::sign_nep413(&key("user.near"), "user.near", &nep_request).unwrap();
    let nonce: [u8; 32] = [42; 32];
    let m = &nep_request.message;
    vec![
        (
            "keys.json",
            json!({"description": "Test keys (seed = 32 copies of one byte). Never use them for anything else.", "keys": keys}),
        ),
        ("quote.json", single("quote", "shop.near", &q)),
        ("payment.json", single("payment", "user.near", &p)),
        (
            "payment_confirmation.json",
            single("payment_confirmation", "shop.near", &c),
        ),
        (
            "top_up_request.json",
            single("top_up_request", "shop.near", &r),
        ),
        (
            "top_up_response.json",
            single("top_up_response", "user.near", &t),
        ),
        (
            "wrapped_quote.json",
            json!({
                "description": "wrapped_quote: wrapper i signs the JCS of {new_wrapper (without signature), original_quote, previous_wrappers (0..i)}",
                "key": "wrapped_quote",
                "wrappers": wrappers,
                "message": w,
            }),
        ),
        (
            "nep413.json",
            json!({
                "description": "AITP-04 NEP-413: ed25519 over SHA-256(borsh(u32 2^31+413, message, [u8;32] nonce, recipient, Option<callbackUrl>=None))",
                "request": nep_request,
                "response": nep_response,
                "nonce_hex": hex(&nonce),
                "hash_hex": hex(&nep413::nep413_hash(&m.message, &nonce, &m.recipient, None)),
            }),
        ),
        (
            "evm.json",
            json!({
                "description": "AITP-05: the hashes a wallet signs (EIP-191 personal_sign of the UTF-8 text; EIP-712 typed data), and the address Python signs with",
                "address": EVM_ADDRESS,
                "personal_sign": {"request": personal_request(), "hash": evm::evm_signing_hash(&personal_request()).unwrap().to_string()},
                "typed_data": {"request": eip712_request(), "hash": evm::evm_signing_hash(&eip712_request()).unwrap().to_string()},
            }),
        ),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_committed_vectors_are_what_the_sdk_makes() {
    let write = std::env::var_os("AITP_WRITE_VECTORS").is_some();
    for (name, value) in vectors() {
        let path = dir().join(name);
        let text = format!("{}\n", serde_json::to_string_pretty(&value).unwrap());
        if write {
            std::fs::write(&path, &text).unwrap();
        } else {
            let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (AITP_WRITE_VECTORS=1 writes it)", path.display())
            });
            assert_eq!(
                committed, text,
                "{name} differs from what the SDK makes now"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_verifies_ours_and_we_verify_pythons() {
    let python = tokio::task::spawn_blocking(|| {
        python_venv(
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join("peer-venvs"),
            PYTHON_PACKAGES,
        )
    })
    .await
    .expect("venv setup");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/sign_peer.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(dir())
        .output()
        .await
        .expect("the Python peer ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python peer failed:\n{stdout}\n{stderr}"
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no report ({e}):\n{stdout}\n{stderr}"));

    // What Python checked of ours (it exits non-zero on the first disagreement).
    let checked: Vec<&str> = report["checked"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for expected in [
        "quote",
        "payment",
        "payment_confirmation",
        "top_up_request",
        "top_up_response",
        "wrapped_quote.wrappers[0]",
        "wrapped_quote.wrappers[1]",
        "wrapped_quote.wrappers[2]",
        "nep413",
        "eip191.hash",
        "eip712.hash",
    ] {
        assert!(
            checked.contains(&expected),
            "Python did not check {expected}: {checked:?}"
        );
    }

    // What Python signed, verified here.
    let keys = resolver();
    let signed = &report["signed"];
    let q: Quote = serde_json::from_value(signed["quote"].clone()).unwrap();
    assert_ne!(q, quote(), "Python signs a quote of its own");
    sign::verify(&key("shop.near").public_key(), &q).expect("Python's quote verifies");
    let mut tampered = q.clone();
    tampered.description.push('!');
    assert!(sign::verify(&key("shop.near").public_key(), &tampered).is_err());

    let p: Payment = serde_json::from_value(signed["payment"].clone()).unwrap();
    sign::verify(&key("user.near").public_key(), &p).expect("Python's payment verifies");
    let c: PaymentConfirmation =
        serde_json::from_value(signed["payment_confirmation"].clone()).unwrap();
    sign::verify(&key("shop.near").public_key(), &c).expect("Python's confirmation verifies");
    let r: TopUpRequest = serde_json::from_value(signed["top_up_request"].clone()).unwrap();
    sign::verify(&key("shop.near").public_key(), &r).expect("Python's top-up request verifies");
    let t: TopUpResponse = serde_json::from_value(signed["top_up_response"].clone()).unwrap();
    sign::verify(&key("user.near").public_key(), &t).expect("Python's top-up response verifies");

    // Python wrapped our three-wrapper chain once more, as python.near.
    let w: WrappedQuote = serde_json::from_value(signed["wrapped_quote"].clone()).unwrap();
    assert_eq!(w.wrappers.len(), 4);
    let chain = sign::verify_chain(&keys, Some("buyer.near"), &Offer::from(w.clone()))
        .await
        .expect("Python's wrapper verifies, after ours");
    assert_eq!(chain.wrapper_keys[3], key("python.near").public_key());

    let nep_request: near_wallet::RequestMessageSigning =
        serde_json::from_value(signed["nep413"]["request"].clone()).unwrap();
    let nep_response: near_wallet::MessageSigningResponse =
        serde_json::from_value(signed["nep413"]["response"].clone()).unwrap();
    assert_eq!(
        nep413::verify_nep413(&keys, &nep_request, &nep_response).await,
        Ok(key("user.near").public_key()),
        "Python's NEP-413 signature verifies"
    );

    for kind in ["personal_sign", "typed_data"] {
        let request: evm_wallet::RequestMessageSigning =
            serde_json::from_value(signed[kind]["request"].clone()).unwrap();
        let response: evm_wallet::MessageSigningResponse =
            serde_json::from_value(signed[kind]["response"].clone()).unwrap();
        let address = evm::verify_evm(&request, &response)
            .unwrap_or_else(|e| panic!("eth-account's {kind}: {e}"));
        assert_eq!(address.to_checksum(None), EVM_ADDRESS);
        let mut other = response.clone();
        other.request_id = "other".into();
        assert!(evm::verify_evm(&request, &other).is_err());
    }
}

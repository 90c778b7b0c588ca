//! Tests of the AITP-01 Payments message types.

use serde_json::json;

use super::*;
use crate::capability::{AitpCapability, Body, Envelope, ParseError};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec/vectors");
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/aitp/schemas/capabilities/aitp-01-payments/v1.0.0/schema.json"
);

fn vectors() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(VECTORS)
        .expect("vectors directory")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("aitp-01-") && n.ends_with(".json"))
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.display().to_string(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn vector(key: &str) -> Value {
    vectors()
        .into_iter()
        .map(|(_, v)| v)
        .find(|v| {
            v.get(key).is_some()
                && v["$schema"]
                    == "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json"
        })
        .unwrap_or_else(|| panic!("no {key} vector"))
}

/// A validator for `#/components/schemas/<component>` of the official OpenAPI document,
/// asserting formats (date-time, uri).
fn official(component: &str) -> jsonschema::Validator {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    doc["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    doc["$ref"] = json!(format!("#/components/schemas/{component}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&doc)
        .expect("official schema compiles")
}

fn component(key: &str) -> &'static str {
    match key {
        "quote" => "Quote",
        "wrapped_quote" => "WrappedQuote",
        "payment" => "Payment",
        "payment_confirmation" => "PaymentConfirmation",
        "top_up_request" => "TopUpRequest",
        "top_up_response" => "TopUpResponse",
        other => panic!("not an AITP-01 key: {other}"),
    }
}

/// Checks a message we built against the official schema and our own validation.
fn assert_valid(message: impl Into<Envelope>) {
    let m: Envelope = message.into();
    let value = m.to_value();
    let errors: Vec<String> = official(component(m.key()))
        .iter_errors(&value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "official schema rejects {value}: {errors:?}"
    );
    m.validate().unwrap_or_else(|e| panic!("{value}: {e}"));
    // And it reads back as the same typed message.
    assert_eq!(Envelope::parse(&m.to_json_string()).unwrap(), m);
}

fn generated_schema(key: &str) -> Value {
    let schema = match key {
        "quote" => schemars::schema_for!(Quote),
        "wrapped_quote" => schemars::schema_for!(WrappedQuote),
        "payment" => schemars::schema_for!(Payment),
        "payment_confirmation" => schemars::schema_for!(PaymentConfirmation),
        "top_up_request" => schemars::schema_for!(TopUpRequest),
        "top_up_response" => schemars::schema_for!(TopUpResponse),
        other => panic!("not an AITP-01 key: {other}"),
    };
    serde_json::to_value(schema).unwrap()
}

/// A signature string standing in for a real one: these tests are about the message types
/// (shape, validation); making and checking signatures is `aitp::sign`'s, tested there.
fn placeholder_signature(who: &str) -> Option<String> {
    Some(format!("ed25519:signed-by-{who}"))
}

#[test]
fn every_vector_parses_typed_round_trips_and_validates() {
    let all = vectors();
    assert_eq!(all.len(), 8, "expected the 8 AITP-01 vectors");
    for (name, value) in all {
        let text = serde_json::to_string(&value).unwrap();
        let m = Envelope::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            m.body().aitp_capability(),
            Some(AitpCapability::Payments),
            "{name}"
        );
        assert!(!matches!(m.body(), Body::Unknown { .. }), "{name}");
        assert_eq!(m.to_value(), value, "{name} does not round-trip");
        m.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        // The body through the concrete type, too.
        let key = m.key().to_owned();
        let body = value[&key].clone();
        match m.body() {
            Body::Quote(q) => assert_eq!(serde_json::to_value(q).unwrap(), body),
            Body::WrappedQuote(q) => assert_eq!(serde_json::to_value(q).unwrap(), body),
            Body::Payment(p) => assert_eq!(serde_json::to_value(p).unwrap(), body),
            Body::PaymentConfirmation(c) => {
                assert_eq!(serde_json::to_value(c).unwrap(), body)
            }
            Body::TopUpRequest(r) => assert_eq!(serde_json::to_value(r).unwrap(), body),
            Body::TopUpResponse(r) => assert_eq!(serde_json::to_value(r).unwrap(), body),
            other => panic!("{name}: parsed as {other:?}"),
        }
        // Our generated JSON Schema accepts the body as the official one does.
        let generated = jsonschema::validator_for(&generated_schema(&key)).unwrap();
        let errors: Vec<String> = generated
            .iter_errors(&body)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{name}: generated schema rejects it: {errors:?}"
        );
        assert!(official(component(&key)).is_valid(&value), "{name}");
    }
}

#[test]
fn typed_accessors_see_the_vector_data() -> Result<(), Box<dyn std::error::Error>> {
    let m = Envelope::from_value(&vector("wrapped_quote")).unwrap();
    let wq = m
        .message::<WrappedQuote>()?
        .ok_or("the vector is a wrapped_quote")?;
    assert_eq!(
        wq.original_quote.payment_options[0].amount,
        Some("99.99".parse().unwrap())
    );
    assert_eq!(wq.wrappers[1].role, AffiliateRole::PersonalAssistant);
    assert_eq!(wq.next_recipient(), Some("user-interface.near"));
    let ids: Vec<_> = wq.affiliates().into_iter().map(|a| a.id).collect();
    assert_eq!(
        ids,
        ["service-agent.near", "assistant.near", "discovery.near"]
    );

    let m = Envelope::from_value(&vector("payment_confirmation")).unwrap();
    let c = m
        .message::<PaymentConfirmation>()?
        .ok_or("the vector is a payment_confirmation")?;
    assert_eq!(c.result, PaymentOutcome::Success);
    assert_eq!(c.details.as_ref().map(Vec::len), Some(2));
    Ok(())
}

#[test]
fn missing_required_field_is_a_parse_error_at_the_body() {
    let mut v = vector("quote");
    v["quote"].as_object_mut().unwrap().remove("merchant_id");
    let err = Envelope::from_value(&v).unwrap_err();
    assert!(err.is_aitp(), "{err}");
    match &err {
        ParseError::Body {
            key, path, error, ..
        } => {
            assert_eq!(key, "quote");
            assert_eq!(path, "quote");
            assert!(error.to_string().contains("merchant_id"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    // The official schema agrees it is invalid.
    assert!(!official("Quote").is_valid(&v));
}

#[test]
fn bad_amount_is_a_parse_error_with_its_path() {
    let mut v = vector("quote");
    v["quote"]["payment_options"][0]["amount"] = json!("1e3");
    match Envelope::from_value(&v).unwrap_err() {
        ParseError::Body { path, .. } => assert_eq!(path, "quote.payment_options[0].amount"),
        other => panic!("{other:?}"),
    }
    assert!(!official("Quote").is_valid(&v));

    let mut v = vector("top_up_response");
    v["top_up_response"]["new_balance"] = json!(75.5);
    match Envelope::from_value(&v).unwrap_err() {
        ParseError::Body { path, .. } => assert_eq!(path, "top_up_response.new_balance"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn extra_fields_parse_round_trip_and_fail_validation_at_their_path() {
    let cases = [
        (
            "quote",
            "/quote/payment_options/0/payment_methods/0",
            "quote.payment_options[0].payment_methods[0].memo",
        ),
        ("quote", "/quote/revenue_share", "quote.revenue_share.memo"),
        ("quote", "/quote", "quote.memo"),
        (
            "wrapped_quote",
            "/wrapped_quote/wrappers/1/added_affiliates/0",
            "wrapped_quote.wrappers[1].added_affiliates[0].memo",
        ),
        (
            "wrapped_quote",
            "/wrapped_quote/original_quote/payment_options/0",
            "wrapped_quote.original_quote.payment_options[0].memo",
        ),
        (
            "payment",
            "/payment/payment_method",
            "payment.payment_method.memo",
        ),
        (
            "payment_confirmation",
            "/payment_confirmation/details/0",
            "payment_confirmation.details[0].memo",
        ),
        ("top_up_request", "/top_up_request", "top_up_request.memo"),
        (
            "top_up_response",
            "/top_up_response",
            "top_up_response.memo",
        ),
        ("payment", "", "memo"),
    ];
    for (key, pointer, path) in cases {
        let mut v = vector(key);
        v.pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{pointer}"))
            .insert("memo".into(), json!({"note": 1.50}));
        let m = Envelope::from_value(&v).unwrap();
        assert_eq!(m.to_value(), v, "{path}: extra field not kept");
        let err = m.validate().unwrap_err();
        assert!(err.has_path(path), "{path}: {err}");
        assert_eq!(err.errors().len(), 1, "{err}");
        assert!(!official(component(key)).is_valid(&v), "{path}");
        // Our generated schema rejects it as well (message bodies only).
        if !pointer.is_empty() {
            let generated = jsonschema::validator_for(&generated_schema(key)).unwrap();
            assert!(
                !generated.is_valid(&v[key]),
                "{path}: generated schema accepts it"
            );
        }
    }
}

#[test]
fn schema_rules_beyond_parsing_are_reported() {
    let mut v = vector("wrapped_quote");
    let w = &mut v["wrapped_quote"]["wrappers"][1];
    w["role"] = json!("referrer");
    w["added_affiliates"][0]["weight"] = json!(0);
    w["timestamp"] = json!("yesterday");
    w.as_object_mut().unwrap().remove("signature");
    v["wrapped_quote"]["original_quote"]["payment_options"][0]["payment_methods"][0]["type"] =
        json!("credit_card");
    let m = Envelope::from_value(&v).unwrap();
    assert_eq!(m.to_value(), v);
    let err = m.validate().unwrap_err();
    for p in [
        "wrapped_quote.wrappers[1].role",
        "wrapped_quote.wrappers[1].added_affiliates[0].weight",
        "wrapped_quote.wrappers[1].timestamp",
        "wrapped_quote.wrappers[1].signature",
        "wrapped_quote.original_quote.payment_options[0].payment_methods[0].type",
    ] {
        assert!(err.has_path(p), "{p}: {err}");
    }
    assert_eq!(err.errors().len(), 5, "{err}");

    let mut v = vector("payment_confirmation");
    v["payment_confirmation"]["result"] = json!("refunded");
    let m = Envelope::from_value(&v).unwrap();
    assert!(
        m.validate()
            .unwrap_err()
            .has_path("payment_confirmation.result")
    );
    v["payment_confirmation"]["result"] = json!("pending");
    Envelope::from_value(&v).unwrap().validate().unwrap();
}

#[test]
fn builders_produce_valid_messages() {
    let quote = Quote::builder("q_1", "store.near", "Premium Subscription")
        .expires_after(std::time::Duration::from_secs(3600))
        .next_recipient("service-agent.near")
        .option(PaymentOption::near_payment_channel(
            "99.99".parse().unwrap(),
            "USD",
            "usdc.near",
            "store.near",
        ))
        .option(PaymentOption::new("100".parse().unwrap(), "USDT").method(
            PaymentMethod::near_payment_channel("usdt.tether-token.near", "store.near"),
        ))
        .revenue_share(
            RevenueShare::new(300)
                .affiliate(Affiliate::new("discovery.near", AffiliateRole::Discovery).weight(2)),
        )
        .build_unsigned();
    let quote = Quote {
        merchant_signature: placeholder_signature("store.near"),
        ..quote
    };
    assert!(!quote.is_expired());
    assert_eq!(
        quote
            .merchant_signature
            .as_deref()
            .map(|s| s.starts_with("ed25519:")),
        Some(true)
    );
    assert_valid(quote.clone());

    // An unsigned quote is not valid yet.
    let unsigned = Quote::builder("q_2", "store.near", "x").build_unsigned();
    assert!(
        unsigned
            .validate()
            .unwrap_err()
            .has_path("quote.merchant_signature")
    );

    let mut wrapped = WrappedQuote::wrap(
        quote.clone(),
        Wrapper::new(
            "service-agent.near",
            AffiliateRole::Service,
            "assistant.near",
        ),
    )
    .add_wrapper(
        Wrapper::new(
            "assistant.near",
            AffiliateRole::PersonalAssistant,
            "ui.near",
        )
        .added_affiliate(Affiliate::new("friend.near", AffiliateRole::OtherRole).weight(1)),
    );
    // Unsigned wrappers are not valid yet.
    assert!(
        wrapped
            .validate()
            .unwrap_err()
            .has_path("wrapped_quote.wrappers[0].signature")
    );
    for w in &mut wrapped.wrappers {
        w.signature = placeholder_signature(&w.affiliate_id);
    }
    assert_valid(wrapped.clone());

    let option = &quote.payment_options[0];
    let method = PaymentMethodUsed::for_option(option, &option.payment_methods[0], "ch_1");
    assert!(quote.accepts(&method));
    let mut cheaper = method.clone();
    cheaper.amount = Some("9.99".parse().unwrap());
    assert!(!quote.accepts(&cheaper));
    let same_value = PaymentMethodUsed::near_payment_channel(
        "usdc.near",
        "ch_1",
        "99.990".parse().unwrap(),
        "USD",
    );
    assert!(quote.accepts(&same_value));

    let mut payment = Payment::new(&quote, "user.near", method);
    assert!(
        payment
            .validate()
            .unwrap_err()
            .has_path("payment.payer_signature")
    );
    payment.payer_signature = placeholder_signature("user.near");
    assert_eq!(payment.quote_id, "q_1");
    assert_valid(payment.clone());

    for outcome in [
        PaymentOutcome::Success,
        PaymentOutcome::Failure,
        PaymentOutcome::Pending,
    ] {
        let mut confirmation = PaymentConfirmation::for_payment(&payment, "pay_1", outcome)
            .message("Your subscription is active")
            .detail(
                PaymentDetail::new("Order Number", "ORD-1").url("https://example.com/orders/1"),
            );
        confirmation.merchant_signature = placeholder_signature("store.near");
        assert_valid(confirmation);
    }

    let mut request = TopUpRequest::new("ch_1", "50.00".parse().unwrap(), "USD", "store.near")
        .reason("Metered usage");
    request.merchant_signature = placeholder_signature("store.near");
    assert_valid(request.clone());
    let mut response = TopUpResponse::for_request(&request, "50.00".parse().unwrap(), "user.near")
        .new_balance("75.50".parse().unwrap());
    response.payer_signature = placeholder_signature("user.near");
    assert_eq!(response.channel_id, "ch_1");
    assert_valid(response);
}

#[test]
fn generated_schemas_are_closed_and_tight() {
    let q = generated_schema("quote");
    assert_eq!(q["additionalProperties"], json!(false), "{q}");
    let required: Vec<&str> = q["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for r in [
        "quote_id",
        "merchant_id",
        "description",
        "payment_options",
        "merchant_signature",
    ] {
        assert!(required.contains(&r), "{r} not required: {q}");
    }
    assert!(!required.contains(&"expiration"), "{q}");
    let validator = jsonschema::validator_for(&q).unwrap();
    let body = vector("quote")["quote"].clone();
    for (pointer, bad) in [
        ("/expiration", Value::Null),
        ("/payment_options/0/amount", json!("1e3")),
        ("/payment_options/0/payment_methods/0/type", json!("card")),
        (
            "/revenue_share/affiliates",
            json!([{"id": "a", "role": "x"}]),
        ),
        (
            "/revenue_share/affiliates",
            json!([{"id": "a", "role": "service", "weight": 0}]),
        ),
    ] {
        let mut b = body.clone();
        *b.pointer_mut(pointer).unwrap() = bad;
        assert!(
            !validator.is_valid(&b),
            "generated schema accepts {pointer}: {b}"
        );
    }
    let c = generated_schema("payment_confirmation");
    let validator = jsonschema::validator_for(&c).unwrap();
    let mut body = vector("payment_confirmation")["payment_confirmation"].clone();
    body["result"] = json!("pending");
    assert!(validator.is_valid(&body));
    body["result"] = json!("refunded");
    assert!(!validator.is_valid(&body));
}

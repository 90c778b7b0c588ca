//! Property tests: typed messages round-trip; nothing a peer sends makes the parser panic; and
//! whatever parses is kept losslessly.

use aitp::capability::{
    Body, ContentPart, Envelope,
    decisions::{DecisionOption, RequestDecision, SelectedOption},
    extract_text,
    transactions::{PaymentDetail, PaymentOutcome, PaymentResult, Quote as LegacyQuote},
};
use aitp::money::{Amount, DecimalNumber};
use aitp_tests::vector_files;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "(0|[1-9][0-9]{0,29})(\\.[0-9]{1,20})?".prop_map(|s| serde_json::from_str(&s).unwrap()),
        ".{0,24}".prop_map(Value::String),
        Just(Value::String(
            "https://aitp.dev/v1/decisions/schema.json".into()
        )),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("$schema".to_owned()),
                    Just("request_decision".to_owned()),
                    Just("decision".to_owned()),
                    Just("quote".to_owned()),
                    Just("options".to_owned()),
                    Just("id".to_owned()),
                    Just("request_transaction".to_owned()),
                    "[a-z_$]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn assert_lossless(text: &str) {
    if let Ok(m) = Envelope::parse(text) {
        let original: Value = serde_json::from_str(text).expect("parsed text is JSON");
        assert_eq!(m.to_value(), original, "not lossless: {text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Envelope::parse(&text);
        let _ = extract_text(&text);
    }

    #[test]
    fn arbitrary_json_never_panics_and_is_kept(value in arb_json()) {
        let text = value.to_string();
        let _ = extract_text(&text);
        assert_lossless(&text);
    }

    #[test]
    fn arbitrary_envelopes_never_panic(body in arb_json(), key in prop_oneof![
        Just("request_decision"), Just("decision"), Just("quote"), Just("data"), Just("request_data"),
        Just("payment"), Just("request_transaction"), Just("token_notification"), Just("custom_thing")],
        schema in prop_oneof![
            Just("https://aitp.dev/v1/decisions/schema.json"),
            Just("https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json"),
            Just("https://aitp.dev/v1/payments/schema.json"),
            Just("https://loyalty.example/v1.0.0/schema.json"),
            Just("not a url")]) {
        let mut root = Map::new();
        root.insert("$schema".into(), Value::String(schema.into()));
        root.insert(key.into(), body);
        let text = Value::Object(root).to_string();
        match extract_text(&text) {
            ContentPart::Aitp(m) => prop_assert_eq!(m.to_value(), serde_json::from_str::<Value>(&text).unwrap()),
            ContentPart::Invalid { error, .. } => prop_assert!(error.is_aitp()),
            ContentPart::Text(_) => {}
            _ => {}
        }
    }

    #[test]
    fn request_decisions_round_trip(
        id in "[a-zA-Z0-9_-]{1,16}",
        title in proptest::option::of(".{0,40}"),
        options in prop::collection::vec(("[a-z0-9]{1,8}", ".{0,20}"), 1..8),
        kind in 0..4u8,
    ) {
        let opts: Vec<DecisionOption> = options.iter().map(|(i, n)| DecisionOption::new(i.clone(), n.clone())).collect();
        let mut b = match kind {
            0 => RequestDecision::radio(id.clone(), opts),
            1 => RequestDecision::checkbox(id.clone(), opts),
            2 => RequestDecision::products(id.clone(), opts),
            _ => RequestDecision::confirmation(id.clone(), "Sure?"),
        };
        if let Some(t) = title { b = b.title(t); }
        let request = b.build();
        prop_assert!(request.validate().is_ok());
        let text = Envelope::from(request.clone()).to_json_string();
        let back = Envelope::parse(&text).unwrap();
        prop_assert_eq!(back.message::<RequestDecision>().expect("it parses").expect("it is a request_decision"), request.clone());
        let answer = request.choose(request.options.iter().take(1).map(|o| o.id.to_string()));
        let text = Envelope::from(answer.clone()).to_json_string();
        let back = Envelope::parse(&text).unwrap();
        prop_assert!(matches!(back.body(), Body::Decision(d) if *d == answer));
        let _ = SelectedOption::new("x").quantity(2);
    }

    #[test]
    fn legacy_money_round_trips_exactly(int in "[1-9][0-9]{0,30}", frac in proptest::option::of("[0-9]{1,18}")) {
        let text = match &frac { Some(f) => format!("{int}.{f}"), None => int.clone() };
        let amount: DecimalNumber = text.parse().unwrap();
        let q = LegacyQuote::one_time("q", "shop.near", amount.clone(), "2030-01-01T00:00:00Z");
        let wire = Envelope::from(q.clone()).to_json_string();
        let back = Envelope::parse(&wire).unwrap();
        let Body::LegacyQuote(b) = back.body() else { panic!("not a legacy quote") };
        prop_assert_eq!(b.payment_plans[0].amount.as_ref().unwrap().as_str(), text.as_str());
        prop_assert_eq!(Amount::new(&text).unwrap().to_string(), text.clone());
        let r = PaymentResult::new("q", PaymentOutcome::Success).detail(PaymentDetail::new("Order", text));
        prop_assert!(r.validate().is_ok());
    }
}

/// Mutates every string leaf but `$schema` with `f`.
fn mutate_strings(v: &mut Value, f: &mut impl FnMut(&str) -> String, top: bool) {
    match v {
        Value::String(s) => *s = f(s),
        Value::Array(a) => a.iter_mut().for_each(|x| mutate_strings(x, f, false)),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if !(top && k == "$schema") {
                    mutate_strings(x, f, false);
                }
            }
        }
        _ => {}
    }
}

/// Adds an unknown field to every object (but EIP-712 `types`, a map whose values are lists of
/// field definitions rather than an object with fields).
fn add_unknown_fields(v: &mut Value, n: &mut u32) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| add_unknown_fields(x, n)),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k != "types" {
                    add_unknown_fields(x, n);
                }
            }
            *n += 1;
            o.insert(
                format!("x_extension_{n}"),
                serde_json::json!({"kept": [1.50, "yes", null]}),
            );
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_vectors_are_kept_losslessly(junk in "\\PC{0,12}", seed in any::<u32>()) {
        for path in vector_files() {
            let original: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if original.get("$schema").is_none() {
                continue;
            }
            let mut v = original.clone();
            let mut i = seed;
            mutate_strings(&mut v, &mut |s| {
                i = i.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if i % 3 == 0 { format!("{s}{junk}") } else { s.to_owned() }
            }, true);
            assert_lossless(&v.to_string());

            let mut w = original;
            let mut n = 0;
            add_unknown_fields(&mut w, &mut n);
            let text = w.to_string();
            let parsed = Envelope::parse(&text);
            prop_assert!(parsed.is_ok(), "{}: unknown fields broke parsing: {:?}", path.display(), parsed.err());
            assert_lossless(&text);
        }
    }
}

//! The conformance suite: every spec vector against the typed model, the official schemas and
//! the schemas generated from the types.
//!
//! Vectors come from `shared/spec/vectors` and are found by listing the folder, so new files
//! (such as held-out cases) are picked up without changing this test. Expectations come from
//! `validation-report.json` when it has an entry for the file; a file without one must still
//! parse into a typed message and round-trip losslessly.

use aitp::capability::{AitpCapability, Body, Envelope};
use aitp_tests::{official_schema, report_entry, schema_errors, vector_files};
use serde_json::Value;

/// The capability code the report uses (`aitp-02`, `aitp-04tx` …) for a typed payload.
fn report_code(cap: AitpCapability) -> &'static str {
    match cap {
        AitpCapability::Payments => "aitp-01",
        AitpCapability::Decisions => "aitp-02",
        AitpCapability::DataRequest => "aitp-03",
        AitpCapability::NearWallet => "aitp-04",
        AitpCapability::EvmWallet => "aitp-05",
        AitpCapability::Transactions => "aitp-04tx",
        _ => "unknown",
    }
}

/// `"/request_decision: 'id' is a required property"` → `request_decision.id`.
fn expected_path(report_error: &str) -> String {
    let (pointer, message) = report_error.split_once(": ").unwrap_or((report_error, ""));
    let mut path = pointer
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.bytes().all(|b| b.is_ascii_digit()) {
                format!("[{s}]")
            } else {
                format!(".{s}")
            }
        })
        .collect::<String>();
    if let Some(rest) = message.strip_prefix('\'') {
        if let Some((field, tail)) = rest.split_once('\'') {
            if tail.contains("is a required property") {
                path.push('.');
                path.push_str(field);
            }
        }
    }
    path.trim_start_matches('.').to_owned()
}

fn is_message_vector(file: &str, value: &Value, report: Option<&Value>) -> bool {
    match report.and_then(|r| r["kind"].as_str()) {
        Some(kind) => kind == "message",
        None => !file.starts_with("t01-") && value.get("$schema").is_some_and(Value::is_string),
    }
}

struct Checked {
    file: String,
    message: Envelope,
    value: Value,
    report: Option<Value>,
}

fn message_vectors() -> Vec<Checked> {
    let mut out = Vec::new();
    for path in vector_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let report = report_entry(&file);
        if !is_message_vector(&file, &value, report.as_ref()) {
            continue;
        }
        let message =
            Envelope::parse(&text).unwrap_or_else(|e| panic!("{file}: does not parse: {e}"));
        out.push(Checked {
            file,
            message,
            value,
            report,
        });
    }
    assert!(
        out.len() >= 70,
        "expected the spec's message vectors, found {}",
        out.len()
    );
    out
}

#[test]
fn every_message_vector_parses_typed_and_round_trips() {
    for c in message_vectors() {
        let Checked {
            file,
            message,
            value,
            report,
        } = &c;
        let cap = message
            .body()
            .aitp_capability()
            .unwrap_or_else(|| panic!("{file}: parsed as Unknown: {:?}", message.body()));
        assert!(!matches!(message.body(), Body::Unknown { .. }));
        if let Some(r) = report {
            assert_eq!(
                report_code(cap),
                r["capability"].as_str().unwrap(),
                "{file}: read as the wrong capability"
            );
            assert_eq!(message.key(), r["message_type"].as_str().unwrap(), "{file}");
        }
        assert_eq!(
            &message.to_value(),
            value,
            "{file}: round trip changed the JSON"
        );
        // Re-parse what we wrote: still equal.
        let again = Envelope::parse(&message.to_json_string()).unwrap();
        assert_eq!(&again, message, "{file}: second round trip differs");
    }
}

#[test]
fn validate_agrees_with_the_official_schema_report() {
    let mut failing = 0;
    for c in message_vectors() {
        let Some(report) = &c.report else { continue };
        let primary = &report["validation"][0];
        let valid = primary["valid_structural"].as_bool().unwrap();
        let result = c.message.validate();
        if valid {
            assert!(
                result.is_ok(),
                "{}: official schema accepts it, validate() says {:?}",
                c.file,
                result
            );
        } else {
            failing += 1;
            let err = result.expect_err(&format!(
                "{}: official schema rejects it, validate() accepts it",
                c.file
            ));
            let first = primary["errors"][0].as_str().unwrap();
            let path = expected_path(first);
            assert!(
                err.has_path(&path),
                "{}: expected an error at `{path}` (official: {first}), got: {err}",
                c.file
            );
        }
    }
    assert!(
        failing >= 3,
        "the report marks several vectors invalid; saw {failing}"
    );
}

#[test]
fn vectors_against_official_schemas_match_the_report() {
    // Guards the harness itself: our wrapping of the official files reproduces the report.
    for c in message_vectors() {
        let Some(report) = &c.report else { continue };
        for v in report["validation"].as_array().unwrap() {
            let name = v["schema"].as_str().unwrap();
            let code = if name.starts_with("legacy AITP-04 Transactions") {
                "aitp-04tx".to_owned()
            } else {
                name.split_whitespace().next().unwrap().to_ascii_lowercase()
            };
            // The report names the component last (`AITP-01 v1.0.0 WrappedQuote`) or the branch.
            let last = name.rsplit(' ').next().unwrap_or_default();
            let key = if last.starts_with("anyOf-branch") {
                c.message.key().to_owned()
            } else {
                let mut k = String::new();
                for (i, ch) in last.chars().enumerate() {
                    if ch.is_ascii_uppercase() && i > 0 {
                        k.push('_');
                    }
                    k.push(ch.to_ascii_lowercase());
                }
                k
            };
            if name.contains("Quote.quote") {
                continue; // validated a fragment; not a whole message
            }
            let schema = official_schema(&code, &key);
            let errors = schema_errors(&schema, &c.value);
            assert_eq!(
                errors.is_empty(),
                v["valid_structural"].as_bool().unwrap(),
                "{} against {name}: {errors:?}",
                c.file
            );
        }
    }
}

/// The branch of a generated capability document that declares `key`, as a standalone schema.
fn generated_branch(cap: AitpCapability, key: &str) -> Value {
    let doc = aitp::schema::official(cap);
    let branch = doc["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["properties"].get(key).is_some())
        .unwrap_or_else(|| panic!("generated {cap:?} schema has no `{key}` message"))
        .clone();
    let mut out = branch;
    out["$schema"] = doc["$schema"].clone();
    if let Some(defs) = doc.get("$defs") {
        out["$defs"] = defs.clone();
    }
    out
}

#[test]
fn generated_schemas_accept_valid_vectors_and_reject_invalid_ones() {
    for c in message_vectors() {
        let cap = c.message.body().aitp_capability().unwrap();
        let schema = generated_branch(cap, c.message.key());
        let errors = schema_errors(&schema, &c.value);
        let expect_valid = match &c.report {
            Some(r) => r["validation"][0]["valid_structural"].as_bool().unwrap(),
            None => c.message.validate().is_ok(),
        };
        assert_eq!(
            errors.is_empty(),
            expect_valid,
            "{}: generated schema says {errors:?}, expected valid = {expect_valid}",
            c.file
        );
    }
}

#[test]
fn generated_capability_documents_are_valid_2020_12() {
    for cap in AitpCapability::ALL {
        let doc = aitp::schema::official(cap);
        assert_eq!(doc["$id"], cap.v1().url());
        // Compiles as a 2020-12 schema, and rejects a non-message.
        let errors = schema_errors(&doc, &serde_json::json!({"hello": "world"}));
        assert!(!errors.is_empty(), "{cap:?} accepts anything");
    }
}

#[test]
fn expected_path_reads_report_errors() {
    assert_eq!(
        expected_path("/request_decision: 'id' is a required property"),
        "request_decision.id"
    );
    assert_eq!(
        expected_path("/request_decision/type: 'radio|checkbox' is not one of ['products']"),
        "request_decision.type"
    );
    assert_eq!(expected_path("/a/0/b: bad"), "a[0].b");
}

#[test]
fn decision_and_legacy_builders_satisfy_the_official_schemas() {
    use aitp::capability::{
        decisions::{DecisionOption, RequestDecision},
        transactions::{PaymentAuthorization, PaymentDetail, PaymentOutcome, PaymentResult, Quote},
    };
    let quote = Quote::one_time(
        "q-1",
        "shop.near",
        "19.99".parse().unwrap(),
        "2030-01-01T00:00:00Z",
    );
    let products = RequestDecision::products(
        "pick",
        [DecisionOption::new("sku-1", "Socks")
            .description("Wool")
            .image_url("https://shop.example/socks.png")
            .url("https://shop.example/socks")
            .quote(quote.clone())
            .rating("4.5".parse().unwrap(), 12)
            .variant(DecisionOption::new("sku-1-red", "Red socks"))],
    )
    .title("Pick")
    .build();
    let cases: Vec<(&str, Envelope)> = vec![
        (
            "aitp-02",
            Envelope::from(RequestDecision::radio("r", ["a", "b"]).build()),
        ),
        (
            "aitp-02",
            Envelope::from(RequestDecision::checkbox("c", [("x", "X"), ("y", "Y")]).build()),
        ),
        (
            "aitp-02",
            Envelope::from(RequestDecision::confirmation("ok", "Proceed?").build()),
        ),
        ("aitp-02", Envelope::from(products.clone())),
        ("aitp-02", Envelope::from(products.choose(["sku-1-red"]))),
        ("aitp-04tx", Envelope::from(quote.clone())),
        (
            "aitp-04tx",
            Envelope::from(PaymentAuthorization::near_usdc(
                &quote,
                "19.99".parse().unwrap(),
                "me.near",
                "tx-1",
            )),
        ),
        (
            "aitp-04tx",
            Envelope::from(
                PaymentResult::new("q-1", PaymentOutcome::Success)
                    .message("Paid")
                    .detail(PaymentDetail::new("Order", "42").url("https://shop.example/o/42")),
            ),
        ),
    ];
    for (code, m) in cases {
        let value = m.to_value();
        assert!(m.validate().is_ok(), "{value}");
        let errors = schema_errors(&official_schema(code, m.key()), &value);
        assert!(errors.is_empty(), "{value}: {errors:?}");
    }
}

#[test]
fn transport_vectors_carry_typed_messages_or_text() {
    use aitp::capability::{ContentPart, extract_text};
    let mut typed = 0;
    for path in vector_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if !file.starts_with("t01-") {
            continue;
        }
        let value = aitp_tests::read_json(&path);
        let mut strings = Vec::new();
        collect_content_strings(&value, &mut strings);
        for s in strings {
            let is_json = serde_json::from_str::<Value>(&s).is_ok();
            match extract_text(&s) {
                ContentPart::Aitp(m) => {
                    assert!(m.body().aitp_capability().is_some(), "{file}: {s}");
                    typed += 1;
                }
                ContentPart::Text(_) => assert!(!is_json || !s.contains("$schema"), "{file}: {s}"),
                other => panic!("{file}: {other:?}"),
            }
        }
    }
    assert!(
        typed >= 3,
        "the t01 examples embed several AITP messages, found {typed}"
    );
}

fn collect_content_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "content" {
                    match x {
                        Value::String(s) => out.push(s.clone()),
                        Value::Array(a) => {
                            out.extend(a.iter().filter_map(|p| p.as_str().map(str::to_owned)))
                        }
                        _ => {}
                    }
                }
                collect_content_strings(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_content_strings(x, out)),
        _ => {}
    }
}

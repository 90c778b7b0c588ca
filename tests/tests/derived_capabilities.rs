//! The official capabilities declared with `#[derive(Capability)]` (`capability::Decisions`,
//! `capability::Payments` …): their generated `schema.json` accepts and rejects every spec vector
//! exactly as the official schema files do, and their keys and ids are the spec's.

use aitp::capability::{
    AitpCapability, Capability, DataRequest, Decisions, Envelope, EvmWallet, NearWallet, Payments,
    Transactions,
};
use aitp_tests::{official_schema, report_entry, schema_errors, vector_files};
use serde_json::Value;

/// The derived capability document, its URL and keys, for an AITP capability.
fn derived(cap: AitpCapability) -> (Value, &'static str, &'static [&'static str]) {
    fn of<C: Capability>() -> (Value, &'static str, &'static [&'static str]) {
        (C::schema(), C::SCHEMA_URL, C::KEYS)
    }
    match cap {
        AitpCapability::Payments => of::<Payments>(),
        AitpCapability::Decisions => of::<Decisions>(),
        AitpCapability::DataRequest => of::<DataRequest>(),
        AitpCapability::NearWallet => of::<NearWallet>(),
        AitpCapability::EvmWallet => of::<EvmWallet>(),
        AitpCapability::Transactions => of::<Transactions>(),
        other => panic!("no derived capability for {other:?}"),
    }
}

/// The report's code for the official schema of a capability.
fn code(cap: AitpCapability) -> &'static str {
    match cap {
        AitpCapability::Payments => "aitp-01",
        AitpCapability::Decisions => "aitp-02",
        AitpCapability::DataRequest => "aitp-03",
        AitpCapability::NearWallet => "aitp-04",
        AitpCapability::EvmWallet => "aitp-05",
        AitpCapability::Transactions => "aitp-04tx",
        other => panic!("no official schema for {other:?}"),
    }
}

/// Removes every `description` (variant doc comments are the only difference from the
/// hand-assembled `aitp::schema::official` documents).
fn without_descriptions(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(o) => {
                o.remove("description");
                o.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[test]
fn derived_documents_match_the_hand_assembled_ones() {
    for cap in AitpCapability::ALL {
        let (doc, url, keys) = derived(cap);
        assert_eq!(url, cap.v1().url(), "{cap:?}");
        assert_eq!(doc["$id"], cap.v1().url(), "{cap:?}");
        assert_eq!(keys, cap.message_keys(), "{cap:?}");
        assert_eq!(
            without_descriptions(doc),
            without_descriptions(aitp::schema::official(cap)),
            "{cap:?}"
        );
    }
    // Variant doc comments describe the branches.
    let doc = Decisions::schema();
    assert!(
        doc["anyOf"][0]["description"]
            .as_str()
            .unwrap()
            .starts_with("`request_decision`")
    );
    assert!(doc["description"].as_str().unwrap().contains("AITP-02"));
}

#[test]
fn every_vector_is_judged_like_the_official_schema_files() {
    let mut checked = 0;
    let mut rejected = 0;
    for path in vector_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let report = report_entry(&file);
        let is_message = match report.as_ref().and_then(|r| r["kind"].as_str()) {
            Some(kind) => kind == "message",
            None => !file.starts_with("t01-") && value.get("$schema").is_some_and(Value::is_string),
        };
        if !is_message {
            continue;
        }
        let message = Envelope::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let cap = message
            .body()
            .aitp_capability()
            .unwrap_or_else(|| panic!("{file}: not an AITP capability"));
        let official = schema_errors(&official_schema(code(cap), message.key()), &value);
        let (doc, _, _) = derived(cap);
        let generated = schema_errors(&doc, &value);
        assert_eq!(
            generated.is_empty(),
            official.is_empty(),
            "{file}: derived {cap:?} schema says {generated:?}, the official file says {official:?}"
        );
        if let Some(r) = &report {
            assert_eq!(
                official.is_empty(),
                r["validation"][0]["valid_structural"].as_bool().unwrap(),
                "{file}: the harness disagrees with the report"
            );
        }
        // The enum reads the message, as the right variant.
        let typed = match cap {
            AitpCapability::Payments => {
                Payments::from_envelope(&message).map(|o| o.map(|m| m.key()))
            }
            AitpCapability::Decisions => {
                Decisions::from_envelope(&message).map(|o| o.map(|m| m.key()))
            }
            AitpCapability::DataRequest => {
                DataRequest::from_envelope(&message).map(|o| o.map(|m| m.key()))
            }
            AitpCapability::NearWallet => {
                NearWallet::from_envelope(&message).map(|o| o.map(|m| m.key()))
            }
            AitpCapability::EvmWallet => {
                EvmWallet::from_envelope(&message).map(|o| o.map(|m| m.key()))
            }
            AitpCapability::Transactions => {
                Transactions::from_envelope(&message).map(|o| o.map(|m| m.key()))
            }
            _ => Ok(None),
        };
        assert_eq!(
            typed.unwrap(),
            Some(message.key()),
            "{file}: the capability enum does not read it"
        );
        checked += 1;
        if !official.is_empty() {
            rejected += 1;
        }
    }
    assert!(
        checked >= 70,
        "expected the spec's message vectors, checked {checked}"
    );
    assert!(
        rejected >= 3,
        "the spec has invalid vectors too, saw {rejected}"
    );
}

#[test]
fn capability_enums_write_what_they_read() {
    use aitp::capability::decisions::RequestDecision;
    let request = RequestDecision::radio("size", ["S", "M"]).build();
    let any = Decisions::from(request.clone());
    assert_eq!(any.key(), "request_decision");
    assert!(any.validate().is_ok());
    let m = any.to_envelope();
    assert_eq!(m, Envelope::from(request));
    assert_eq!(
        Decisions::from_envelope(&m)
            .expect("it parses")
            .expect("it is a Decisions message"),
        Decisions::RequestDecision(RequestDecision::radio("size", ["S", "M"]).build())
    );
    assert_eq!(Decisions::id(), &AitpCapability::Decisions.v1());
}

//! Tests of the AITP-03 Data Request message types.

use super::*;
use crate::capability::{AitpCapability, Body, Envelope};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec/vectors");
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/aitp/schemas/capabilities/aitp-03-data-request/v1.0.0/schema.json"
);

fn vectors() -> Vec<(String, String)> {
    let mut out: Vec<_> = std::fs::read_dir(VECTORS)
        .expect("vector directory")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("aitp-03-") && name.ends_with(".json")
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.file_name().unwrap().to_str().unwrap().to_owned(), text)
        })
        .collect();
    out.sort();
    out
}

fn official() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn generated<T: JsonSchema>() -> jsonschema::Validator {
    let schema = schemars::schema_for!(T);
    jsonschema::validator_for(&serde_json::to_value(&schema).unwrap()).unwrap()
}

fn parse(v: &Value) -> Envelope {
    Envelope::parse(&v.to_string()).unwrap()
}

#[test]
fn every_vector_parses_round_trips_and_validates() {
    let vectors = vectors();
    assert!(vectors.len() >= 15, "found only {} vectors", vectors.len());
    let (req_schema, data_schema) = (generated::<RequestData>(), generated::<Data>());
    for (name, text) in vectors {
        let original: Value = serde_json::from_str(&text).unwrap();
        let m = Envelope::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        match m.body() {
            Body::RequestData(r) => {
                assert!(req_schema.is_valid(&original["request_data"]), "{name}");
                assert_eq!(
                    serde_json::to_value(r).unwrap(),
                    original["request_data"],
                    "{name}"
                );
            }
            Body::Data(d) => {
                assert!(data_schema.is_valid(&original["data"]), "{name}");
                assert_eq!(serde_json::to_value(d).unwrap(), original["data"], "{name}");
            }
            other => panic!("{name}: parsed as {other:?}"),
        }
        assert_eq!(
            m.body().aitp_capability(),
            Some(AitpCapability::DataRequest)
        );
        assert_eq!(m.to_value(), original, "{name}: round trip");
        m.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn vector_answers_fit_their_requests() -> Result<(), Box<dyn std::error::Error>> {
    let vectors = vectors();
    let find = |n: &str| {
        let (_, t) = vectors.iter().find(|(name, _)| name == n).unwrap();
        Envelope::parse(t).unwrap()
    };
    for (req, data) in [
        (
            "aitp-03-request_data-5aabab1d.json",
            "aitp-03-data-5aabab1d.json",
        ),
        (
            "aitp-03-request_data-registration-step1.json",
            "aitp-03-data-registration-step1.json",
        ),
        (
            "aitp-03-request_data-registration-step2.json",
            "aitp-03-data-registration-step2.json",
        ),
        (
            "aitp-03-request_data-user-preferences.json",
            "aitp-03-data-user-preferences.json",
        ),
    ] {
        let r = find(req)
            .message::<RequestData>()?
            .ok_or(format!("{req} is a request_data"))?;
        let d = find(data)
            .message::<Data>()?
            .ok_or(format!("{data} is a data"))?;
        r.check_response(&d)
            .unwrap_or_else(|e| panic!("{data}: {e}"));
    }
    Ok(())
}

#[test]
fn broken_requests_name_the_path() {
    let official = official();
    let base = serde_json::json!({
        "$schema": "https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json",
        "request_data": {
            "id": "f", "description": "d",
            "form": {"fields": [{"id": "a", "type": "select", "options": ["x", "y"]}]}
        }
    });
    assert!(parse(&base).validate().is_ok());
    let cases: [(&str, Value, &str, bool); 5] = [
        (
            "/request_data/form",
            serde_json::json!({}),
            "request_data.form",
            true,
        ),
        (
            "/request_data/form/fields",
            serde_json::json!([]),
            "request_data.form.fields",
            false,
        ),
        (
            "/request_data/form/fields/0/type",
            serde_json::json!("date"),
            "request_data.form.fields[0].type",
            false,
        ),
        (
            "/request_data/form/fields/0/options",
            serde_json::json!([{"label": "X", "value": "x"}, "y"]),
            "request_data.form.fields[0].options[0]",
            false,
        ),
        (
            "/request_data/form/json_url",
            serde_json::json!("not a url"),
            "request_data.form.json_url",
            true,
        ),
    ];
    let generated = generated::<RequestData>();
    for (pointer, value, path, schema_accepts) in cases {
        let mut broken = base.clone();
        match broken.pointer_mut(pointer) {
            Some(slot) => *slot = value,
            None => {
                broken["request_data"]["form"]["json_url"] = value;
            }
        }
        let m = parse(&broken);
        assert_eq!(m.to_value(), broken, "{path}: lossless");
        let err = m.validate().unwrap_err();
        assert!(err.has_path(path), "{path}: {err}");
        // The JSON Schemas (official and generated) agree, except on the docs-only rule
        // and `format: uri`, which they do not assert.
        assert_eq!(
            official.is_valid(&broken),
            schema_accepts,
            "{path}: official"
        );
        assert_eq!(
            generated.is_valid(&broken["request_data"]),
            schema_accepts,
            "{path}: generated"
        );
    }
}

#[test]
fn near_ai_labeled_options_are_read() {
    let f: FormField = serde_json::from_value(serde_json::json!({
        "id": "country", "type": "select",
        "options": [{"label": "United States", "value": "US", "flag": "us"}, "FR"]
    }))
    .unwrap();
    let options = f.options.as_ref().unwrap();
    assert_eq!(options[0].value(), "US");
    assert_eq!(options[0].label(), "United States");
    assert_eq!(options[1].value(), "FR");
    let r = RequestData::form("r", "d", [f.clone().required()]);
    assert!(r.check_response(&r.respond([("country", "US")])).is_ok());
    let err = r
        .check_response(&r.respond([("country", "United States")]))
        .unwrap_err();
    assert!(err.has_path("data.fields[0].value"), "{err}");
    assert!(
        serde_json::from_value::<FormField>(serde_json::json!({"id": "a", "options": [1]}))
            .is_err()
    );
}

#[test]
fn data_numbers_and_extras_are_kept() {
    // Parsed from text: `json!` would turn 7.10 into an f64 (7.1).
    let text = r#"{"request_data_id": "r",
        "fields": [{"id": "n", "value": 7.10, "note": "typed"}], "submitted_at": 1}"#;
    let v: Value = serde_json::from_str(text).unwrap();
    let d: Data = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_value(&d).unwrap(), v);
    assert_eq!(d.get("n"), Some("7.10"));
    let err = d.validate().unwrap_err();
    assert_eq!(err.errors().len(), 1, "{err}");
    assert!(err.has_path("data.fields[0].value"), "{err}");
    let empty: Data = serde_json::from_value(serde_json::json!({"fields": []})).unwrap();
    assert!(empty.validate().unwrap_err().has_path("data.fields"));
}

#[test]
fn builders_validate_against_the_official_schema() {
    let official = official();
    let form = RequestData::form(
        "signup",
        "Tell us about you",
        [
            FormField::text("name", "Name")
                .required()
                .autocomplete("name"),
            FormField::email("email", "Email").required(),
            FormField::number("age", "Age"),
            FormField::tel("phone", "Phone"),
            FormField::select("plan", "Plan", ["free", "pro"]).default_value("free"),
            FormField::combobox("colour", "Colour", ["red"]).description("Any colour"),
            FormField::textarea("notes", "Notes"),
        ],
    )
    .title("Sign up")
    .fill_button_label("Start");
    let external = RequestData::external("ship", "Where to?", "https://example.com/form.json");
    assert_eq!(external.button_label(), "Fill out form");
    let data = form.respond([("name", "Ada"), ("email", "ada@example.com"), ("age", "36")]);
    let by_hand = Data::new("signup", [DataField::new("name", "Ada").label("Name")]);
    for m in [
        Envelope::from(form.clone()),
        Envelope::from(external),
        Envelope::from(data.clone()),
        Envelope::from(by_hand),
    ] {
        m.validate().unwrap_or_else(|e| panic!("{m}: {e}"));
        assert!(official.is_valid(&m.to_value()), "{m}");
        assert_eq!(Envelope::parse(&m.to_json_string()).unwrap(), m);
    }
    assert_eq!(data.get("age"), Some("36"));
    assert!(form.check_response(&data).is_ok());
}

#[test]
fn check_response_applies_the_docs_rules() {
    let r = RequestData::form(
        "f",
        "d",
        [
            FormField::text("name", "Name").required(),
            FormField::email("email", "Email"),
            FormField::number("n", "N"),
            FormField::tel("tel", "Tel"),
            FormField::select("s", "S", ["a", "b"]),
            FormField::combobox("c", "C", ["a"]),
        ],
    );
    let good = r.respond([
        ("name", "x"),
        ("email", "a.b@c.io"),
        ("n", "-1.5e3"),
        ("tel", "+1 (555) 123-4567"),
        ("s", "b"),
        ("c", "custom"),
    ]);
    assert!(r.check_response(&good).is_ok());
    let bad = r.respond([
        ("name", "  "),
        ("email", "a@b"),
        ("n", "1.2.3"),
        ("tel", "call me"),
        ("s", "z"),
    ]);
    let err = r.check_response(&bad).unwrap_err();
    let paths: Vec<_> = err.errors().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "data.fields[0].value",
            "data.fields[1].value",
            "data.fields[2].value",
            "data.fields[3].value",
            "data.fields[4].value"
        ],
        "{err}"
    );
    let missing = Data::new("other", [DataField::new("email", "")]);
    let err = r.check_response(&missing).unwrap_err();
    assert!(err.has_path("data.request_data_id"), "{err}");
    assert!(
        err.errors()
            .iter()
            .any(|e| e.path == "data.fields" && e.message.contains("\"name\"")),
        "{err}"
    );
    assert_eq!(err.errors().len(), 2, "{err}");
}

#[test]
fn format_helpers() {
    for ok in ["a@b.co", "x.y+z@sub.example.org"] {
        assert!(looks_like_email(ok), "{ok}");
    }
    for bad in ["a@b", "@b.co", "a@.co", "a@b.", "a b@c.d", "a@b@c.d"] {
        assert!(!looks_like_email(bad), "{bad}");
    }
    for ok in ["7", "-3", "+2.50", ".5", "5.", "1e9", "2.5E-3"] {
        assert!(looks_like_number(ok), "{ok}");
    }
    for bad in ["", ".", "-", "1e", "e5", "1.2.3", "seven", "0x10", "1 000"] {
        assert!(!looks_like_number(bad), "{bad}");
    }
    for ok in ["+1 555 123 4567", "(030) 1234-567", "112"] {
        assert!(looks_like_phone(ok), "{ok}");
    }
    for bad in ["12", "+", "phone", "1234567890123456", "++123"] {
        assert!(!looks_like_phone(bad), "{bad}");
    }
}

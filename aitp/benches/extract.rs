//! Extracting and parsing the capability message of a thread message's text part, against a
//! plain `serde_json::Value` parse of the same bytes (the target: at most 1.5x).
//!
//! Run: `cargo bench -p aitp-sdk --bench extract`.

use std::{hint::black_box, path::Path};

use aitp::capability::{ContentPart, extract_text};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

fn vector(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/spec/vectors")
        .join(name);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the benchmark reads the spec vectors beside the repo)",
            path.display()
        )
    }))
    .unwrap();
    // As it travels: compact JSON inside a text part, with a trailing newline.
    format!("{v}\n")
}

fn products_20() -> String {
    let options: Vec<Value> = (0..20)
        .map(|i| {
            json!({
                "id": format!("sku-{i}"),
                "name": format!("Product number {i}"),
                "description": "A product with a reasonably long description for a product card.",
                "image_url": format!("https://shop.example/img/{i}.png"),
                "url": format!("https://shop.example/p/{i}"),
                "reviews_count": 100 + i,
                "five_star_rating": 4.5,
                "quote": {
                    "type": "Quote", "quote_id": format!("q-{i}"), "payee_id": "shop.near",
                    "payment_plans": [{"plan_id": "one", "plan_type": "one-time", "amount": 19.99, "currency": "USD"}],
                    "valid_until": "2030-01-01T00:00:00Z"
                }
            })
        })
        .collect();
    let m = json!({
        "$schema": "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json",
        "request_decision": {"id": "pick", "title": "Pick one", "type": "products", "options": options}
    });
    format!("{m}\n")
}

fn bench(c: &mut Criterion) {
    let cases = [
        ("small_decision", vector("aitp-02-decision-7c42b9d6.json")),
        ("products_20", products_20()),
        ("form", vector("aitp-03-request_data-profile-setup.json")),
        ("quote", vector("aitp-01-quote-q_123456789.json")),
        (
            "eip712",
            vector("aitp-05-request_message_signing-typed_data-typed_req_13579.json"),
        ),
    ];
    for (name, text) in &cases {
        assert!(
            matches!(extract_text(text), ContentPart::Aitp(_)),
            "{name} must parse"
        );
        let mut g = c.benchmark_group(*name);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("aitp_extract", |b| b.iter(|| extract_text(black_box(text))));
        g.bench_function("serde_json_value", |b| {
            b.iter(|| serde_json::from_str::<Value>(black_box(text)).unwrap())
        });
        g.finish();
    }
}

/// Validating a products decision whose rating is normal, and one whose rating has 900k
/// digits (generated here): the second must cost about the same (it used to take a second).
fn rating(c: &mut Criterion) {
    use aitp::capability::decisions::RequestDecision;
    let decision = |rating: &str| -> RequestDecision {
        serde_json::from_str(&format!(
            r#"{{"id": "pick", "type": "products", "options": [
                {{"id": "a", "name": "A", "five_star_rating": {rating}}}]}}"#
        ))
        .unwrap()
    };
    let normal = decision("4.5");
    let huge = decision(&format!("4.{}", "9".repeat(900_000)));
    assert!(normal.validate().is_ok());
    let mut g = c.benchmark_group("validate_rating");
    g.bench_function("normal", |b| b.iter(|| black_box(&normal).validate()));
    g.bench_function("900k_digits", |b| b.iter(|| black_box(&huge).validate()));
    g.finish();
}

criterion_group!(benches, bench, rating);
criterion_main!(benches);

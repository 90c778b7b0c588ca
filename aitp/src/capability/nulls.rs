//! Explicit `null`s on optional typed fields, kept so that a message passed through is unchanged.
//!
//! A typed body reads `"name": null` and an absent `name` alike (`None`), and writes neither.
//! Python's `"name" in body` and JavaScript's `"name" in body` tell them apart, so an envelope
//! that was parsed remembers where its body had `null`s that the typed value does not write, and
//! writes them back. Only the envelope keeps them: a typed message taken out of it is the value,
//! and one changed and put back in a new envelope is a new message.

use serde_json::Value;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Where a body had `null`s its typed value does not write (usually none: empty, no allocation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Nulls(Vec<Vec<Step>>);

impl Nulls {
    /// The `null`s in `raw` (the body as received) that `written` (the typed body as it would
    /// be written) lacks. Costs a parse of `raw` only when it holds a `null` literal.
    pub(super) fn lost(raw: &str, written: impl FnOnce() -> Value) -> Nulls {
        if !crate::json::has_null(raw) {
            return Nulls::default();
        }
        let Ok(received) = serde_json::from_str::<Value>(raw) else {
            return Nulls::default();
        };
        let mut out = Vec::new();
        collect(&received, &written(), &mut Vec::new(), &mut out);
        Nulls(out)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Puts the `null`s back into `written`, where their object still exists and still lacks
    /// the key.
    pub(super) fn restore(&self, written: &mut Value) {
        for path in &self.0 {
            let Some((Step::Key(last), parents)) = path.split_last() else {
                continue;
            };
            let mut at = Some(&mut *written);
            for step in parents {
                at = match (step, at) {
                    (Step::Key(k), Some(Value::Object(o))) => o.get_mut(k),
                    (Step::Index(i), Some(Value::Array(a))) => a.get_mut(*i),
                    _ => None,
                };
            }
            if let Some(Value::Object(o)) = at {
                o.entry(last.clone()).or_insert(Value::Null);
            }
        }
    }
}

fn collect(received: &Value, written: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match (received, written) {
        (Value::Object(r), Value::Object(w)) => {
            for (k, v) in r {
                path.push(Step::Key(k.clone()));
                match w.get(k) {
                    None if v.is_null() => out.push(path.clone()),
                    Some(wv) => collect(v, wv, path, out),
                    None => {}
                }
                path.pop();
            }
        }
        (Value::Array(r), Value::Array(w)) if r.len() == w.len() => {
            for (i, (rv, wv)) in r.iter().zip(w).enumerate() {
                path.push(Step::Index(i));
                collect(rv, wv, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::capability::Envelope;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec/vectors");

    fn round_trip(text: &str) -> Option<Value> {
        Envelope::parse(text).ok().map(|m| m.to_value())
    }

    /// The paths of every member of every object under `v`.
    fn members(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            Value::Object(o) => {
                for (k, child) in o {
                    path.push(k.clone());
                    out.push(path.clone());
                    members(child, path, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    path.push(i.to_string());
                    members(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn set_null(v: &mut Value, path: &[String]) {
        let mut at = v;
        for step in path {
            at = match at {
                Value::Object(o) => o.get_mut(step).expect("a member path"),
                Value::Array(a) => &mut a[step.parse::<usize>().expect("an index")],
                _ => unreachable!("paths only go through objects and arrays"),
            };
        }
        *at = Value::Null;
    }

    #[test]
    fn the_issue_case_keeps_its_null() {
        let text = r#"{"$schema":"https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json","request_decision":{"id":"r","options":[{"id":"a","name":null}]}}"#;
        let sent: Value = serde_json::from_str(text).unwrap();
        let m = Envelope::parse(text).unwrap();
        assert_eq!(m.to_value(), sent);
        // Twice through: still there, and the text reads the same.
        let again = Envelope::parse(&m.to_json_string()).unwrap();
        assert_eq!(again.to_value(), sent);
        // A message built from the typed value writes no null.
        let rebuilt = Envelope::from(
            m.message::<crate::capability::decisions::RequestDecision>()
                .unwrap()
                .expect("a request_decision"),
        );
        assert!(!rebuilt.to_json_string().contains("null"));
    }

    /// Every member of every object in every spec vector's body, set to `null` in turn: when
    /// the message still parses (the member is optional), it is written back unchanged.
    #[test]
    fn explicit_nulls_survive_a_round_trip_in_every_vector() {
        let mut files: Vec<_> = std::fs::read_dir(VECTORS)
            .expect("the spec vectors beside the repo")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let (mut vectors, mut kept) = (0, 0);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let Ok(original) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let Some(written) = round_trip(&original.to_string()) else {
                continue;
            };
            assert_eq!(written, original, "{}: not kept as is", file.display());
            vectors += 1;
            let mut paths = Vec::new();
            members(&original, &mut Vec::new(), &mut paths);
            for path in paths.into_iter().filter(|p| p[0] != "$schema") {
                let mut mutated = original.clone();
                set_null(&mut mutated, &path);
                if let Some(written) = round_trip(&mutated.to_string()) {
                    assert_eq!(
                        written,
                        mutated,
                        "{}: `null` at {} is not kept",
                        file.display(),
                        path.join(".")
                    );
                    kept += 1;
                }
            }
        }
        assert!(vectors >= 50, "only {vectors} vectors read");
        assert!(kept >= 300, "only {kept} nulls tried");
    }
}

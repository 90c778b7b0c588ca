//! Validation of messages against what the official capability schemas demand.
//!
//! Parsing is deliberately tolerant (a message with a missing id still parses, so an agent can
//! answer it or pass it on); [`Validate`] is where the schema's rules are enforced: required
//! fields, enums, patterns, `minItems`, closed objects. Every error names the JSON path of the
//! offending value, such as `request_decision.options[0].id`, so a peer can fix its message.

use std::fmt;

use serde_json::{Map, Value};

/// One rule of a schema that a value breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidationError {
    /// Where the value is, as a dotted path with indices: `quote.payment_options[0].amount`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every rule a value breaks (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(Vec<ValidationError>);

impl ValidationErrors {
    /// The individual errors, in document order.
    pub fn errors(&self) -> &[ValidationError] {
        &self.0
    }

    /// Whether some error is at `path` or below it.
    pub fn has_path(&self, path: &str) -> bool {
        self.0.iter().any(|e| {
            e.path == path
                || e.path
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A type whose values can be checked against its schema.
///
/// Implement [`Validate::check`]; call [`Validate::validate`] (paths relative to the value) or
/// [`Validate::validate_as`] (paths under a message key such as `decision`).
pub trait Validate {
    /// Reports every rule this value breaks to `v`, at `v`'s current path.
    fn check(&self, v: &mut Validator);

    /// Checks the value; paths are relative to it.
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new();
        self.check(&mut v);
        v.finish()
    }

    /// Checks the value as the body of the message key `key`; paths start with `key`.
    fn validate_as(&self, key: &str) -> Result<(), ValidationErrors> {
        let mut v = Validator::new();
        v.field(key, |v| self.check(v));
        v.finish()
    }
}

impl<T: Validate> Validate for Option<T> {
    fn check(&self, v: &mut Validator) {
        if let Some(t) = self {
            t.check(v);
        }
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn check(&self, v: &mut Validator) {
        for (i, t) in self.iter().enumerate() {
            v.index(i, |v| t.check(v));
        }
    }
}

#[derive(Debug, Clone)]
enum Segment {
    Field(String),
    Index(usize),
}

/// Collects validation errors while walking a value; tracks the current JSON path.
#[derive(Debug, Default)]
pub struct Validator {
    path: Vec<Segment>,
    errors: Vec<ValidationError>,
}

impl Validator {
    /// A validator at the root path.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Ok` when no error was reported.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.errors))
        }
    }

    /// The current path, rendered.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Segment::Field(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    /// Reports an error at the current path.
    pub fn error(&mut self, message: impl Into<String>) {
        let path = self.path();
        self.errors.push(ValidationError {
            path,
            message: message.into(),
        });
    }

    /// Runs `f` with the path extended by the field `name`.
    pub fn field(&mut self, name: &str, f: impl FnOnce(&mut Self)) {
        self.path.push(Segment::Field(name.to_owned()));
        f(self);
        self.path.pop();
    }

    /// Runs `f` with the path extended by the array index `i`.
    pub fn index(&mut self, i: usize, f: impl FnOnce(&mut Self)) {
        self.path.push(Segment::Index(i));
        f(self);
        self.path.pop();
    }

    /// Reports `name` as missing when `value` is `None`.
    pub fn required<T>(&mut self, name: &str, value: &Option<T>) {
        if value.is_none() {
            self.field(name, |v| v.error("is required but missing"));
        }
    }

    /// Checks a nested value under `name`.
    pub fn nested<T: Validate + ?Sized>(&mut self, name: &str, value: &T) {
        self.field(name, |v| value.check(v));
    }

    /// Checks that the array under `name` has at least `min` items.
    pub fn min_items<T>(&mut self, name: &str, items: &[T], min: usize) {
        if items.len() < min {
            self.field(name, |v| {
                v.error(format!(
                    "must have at least {min} item{}, has {}",
                    if min == 1 { "" } else { "s" },
                    items.len()
                ))
            });
        }
    }

    /// Reports every key of `extra` as not allowed: for objects the schema closes with
    /// `additionalProperties: false`.
    pub fn closed(&mut self, extra: &Map<String, Value>) {
        for key in extra.keys() {
            self.field(key, |v| {
                v.error("is not allowed here (the schema closes this object)")
            });
        }
    }

    /// Checks that the string under `name` is an RFC 3339 date-time (`format: date-time`).
    pub fn date_time(&mut self, name: &str, value: &str) {
        if chrono::DateTime::parse_from_rfc3339(value).is_err() {
            self.field(name, |v| {
                v.error(format!(
                    "must be an RFC 3339 date-time such as 2025-01-01T12:00:00Z, got {value:?}"
                ))
            });
        }
    }

    /// Checks that the string under `name` is an absolute URI (`format: uri`).
    pub fn uri(&mut self, name: &str, value: &str) {
        if url::Url::parse(value).is_err() {
            self.field(name, |v| {
                v.error(format!("must be an absolute URI, got {value:?}"))
            });
        }
    }

    /// Checks that `value` is `0x` followed by hex digits: exactly `len` of them when given,
    /// at least `min` otherwise.
    pub fn hex(&mut self, name: &str, value: &str, len: Option<usize>, min: usize) {
        let ok = value.strip_prefix("0x").is_some_and(|h| {
            h.bytes().all(|b| b.is_ascii_hexdigit())
                && match len {
                    Some(n) => h.len() == n,
                    None => h.len() >= min,
                }
        });
        if !ok {
            let want = match len {
                Some(n) => format!("0x followed by exactly {n} hex digits"),
                None if min == 0 => "0x followed by hex digits".to_owned(),
                None => format!("0x followed by at least {min} hex digit(s)"),
            };
            self.field(name, |v| v.error(format!("must be {want}, got {value:?}")));
        }
    }
}

/// Reports an enum value the schema does not allow. For wire enums with an `Other` arm.
pub fn check_enum(v: &mut Validator, name: &str, got: &str, allowed: &[&str]) {
    if !allowed.contains(&got) {
        v.field(name, |v| {
            v.error(format!(
                "must be one of {}, got {got:?}",
                allowed
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing {
        id: Option<String>,
        items: Vec<u8>,
    }
    impl Validate for Thing {
        fn check(&self, v: &mut Validator) {
            v.required("id", &self.id);
            v.min_items("items", &self.items, 1);
        }
    }

    #[test]
    fn paths_name_the_field() {
        let t = Thing {
            id: None,
            items: vec![],
        };
        let err = t.validate_as("thing").unwrap_err();
        let paths: Vec<_> = err.errors().iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["thing.id", "thing.items"]);
        assert!(err.has_path("thing"));
        assert!(err.to_string().contains("thing.id: is required"));
    }

    #[test]
    fn hex_rules() {
        let mut v = Validator::new();
        v.hex("a", "0x12", None, 1);
        v.hex("b", "0x", None, 0);
        v.hex("c", "12", None, 1);
        v.hex("d", "0xzz", Some(2), 0);
        let err = v.finish().unwrap_err();
        let paths: Vec<_> = err.errors().iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["c", "d"]);
    }
}

//! AITP-03 Data Request: an agent asks for a form to be filled (`request_data`), the other side
//! answers with the values (`data`).
//!
//! Schema: `https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json`, open at
//! every level (unknown fields are allowed, kept, and not reported). Live on NEAR AI, so
//! parsing also reads what its UI produced: select `options` as `{label, value}` objects and
//! numeric field values. [`Validate`] reports those as schema violations, and adds one rule
//! the docs state but the schema does not encode: a form needs `fields` or `json_url`.
//!
//! Whether a `data` answer fits its request (required fields, email/number/tel formats, select
//! values) is not a schema question: [`RequestData::check_response`] applies the docs' rules.
//!
//! ```
//! use aitp::capability::data_request::{FormField, RequestData};
//!
//! let request = RequestData::form(
//!     "contact",
//!     "How can we reach you?",
//!     [
//!         FormField::text("name", "Full name").required().autocomplete("name"),
//!         FormField::email("email", "Email").required(),
//!     ],
//! )
//! .title("Contact details");
//! let data = request.respond([("name", "Ada"), ("email", "ada@example.com")]);
//! assert_eq!(data.request_data_id.as_deref(), Some("contact"));
//! assert_eq!(data.fields[1].label.as_deref(), Some("Email"));
//! assert!(request.check_response(&data).is_ok());
//! ```

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::{Map, Number, Value};

use crate::{
    CapabilityMessage, OpenDeserialize,
    json::unexpected,
    validate::{Validate, ValidationErrors, Validator, check_enum},
};

/// The field types the schema allows.
const FIELD_TYPES: &[&str] = &[
    "text", "number", "email", "textarea", "select", "combobox", "tel",
];

mod data;
mod request;

pub use data::*;
#[allow(unused_imports)]
use data::*;
pub use request::*;
#[allow(unused_imports)]
use request::*;

/// The docs' email rule, `^[^\s@]+@[^\s@]+\.[^\s@]+$`, without a regex engine.
fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let clean = |p: &str| !p.is_empty() && !p.contains('@') && !p.chars().any(char::is_whitespace);
    clean(local)
        && clean(domain)
        && domain
            .char_indices()
            .any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len())
}

/// A decimal number as an HTML number input gives it: `-12`, `3.5`, `.5`, `1e3`.
fn looks_like_number(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && !(int.is_empty() && frac.is_none_or(str::is_empty));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// A telephone number: digits with the usual separators (space, `-`, `.`, parentheses), an
/// optional leading `+`, and 3 to 15 digits (E.164's maximum).
fn looks_like_phone(s: &str) -> bool {
    let s = s.trim();
    let body = s.strip_prefix('+').unwrap_or(s);
    let allowed = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
    let digits = body.chars().filter(char::is_ascii_digit).count();
    allowed && (3..=15).contains(&digits)
}

#[cfg(test)]
mod tests;

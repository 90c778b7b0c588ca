//! Canonical JSON and the signatures over it: what every signed AITP-01 message signs.

#[allow(unused_imports)]
use super::*;

/// The canonical text of a JSON value, as AITP-01 signatures cover it: object keys sorted
/// recursively, no whitespace.
///
/// Keys are ordered by their UTF-16 code units and strings are escaped minimally, as in
/// RFC 8785 (JCS), so any JCS implementation produces the same bytes for AITP-01 messages.
/// Numbers are written with their exact digits as received (JCS would re-format non-integers
/// through IEEE 754; AITP-01's only numbers are integers, where both agree).
///
/// We sign this form rather than the spec's pseudocode, which drops nested keys (see the
/// [module documentation](super)).
///
/// ```
/// use aitp::capability::payments::canonical_json;
/// let a = serde_json::json!({"b": 1, "a": {"d": [true, null], "c": "x"}});
/// assert_eq!(canonical_json(&a), r#"{"a":{"c":"x","d":[true,null]},"b":1}"#);
/// ```
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal with JCS escaping: `\"`, `\\`, `\b \f \n \r \t`, other control
/// characters as lowercase `\u00xx`, everything else as is.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The canonical form of `body` without its `signature_field`.
fn signing_payload_of<T: Serialize>(body: &T, signature_field: &str) -> String {
    let mut value = serde_json::to_value(body).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove(signature_field);
    }
    canonical_json(&value)
}

/// A message signed by one party: the signature covers the canonical JSON ([`canonical_json`])
/// of the message body without its signature field.
///
/// AITP-01 signs quotes, payments, confirmations and top-ups alike; this trait is that rule
/// once. Bring it into scope (`use aitp::capability::payments::Signed`) to sign and verify.
pub trait Signed: Serialize + Sized {
    /// The field holding the signature (`merchant_signature` or `payer_signature`).
    const SIGNATURE_FIELD: &'static str;

    /// The signature, if signed.
    fn signature(&self) -> Option<&str>;

    /// Where the signature goes.
    fn signature_mut(&mut self) -> &mut Option<String>;

    /// The bytes the signer signs: the canonical JSON of the body without the signature.
    fn signing_payload(&self) -> String {
        signing_payload_of(self, Self::SIGNATURE_FIELD)
    }

    /// Signs: `sign` gets [`Signed::signing_payload`] and returns the signature string
    /// (`ed25519:<base64>` by the spec's convention). Sign last: any later change to the
    /// message invalidates the signature.
    fn sign_with(mut self, sign: impl FnOnce(&[u8]) -> String) -> Self {
        let signature = sign(self.signing_payload().as_bytes());
        *self.signature_mut() = Some(signature);
        self
    }

    /// Whether `verify(payload, signature)` accepts the signature; `false` when unsigned.
    fn verify_with(&self, verify: impl FnOnce(&[u8], &str) -> bool) -> bool {
        self.signature()
            .is_some_and(|sig| verify(self.signing_payload().as_bytes(), sig))
    }
}

macro_rules! signed {
    ($($ty:ty => $field:ident;)*) => {$(
        impl Signed for $ty {
            const SIGNATURE_FIELD: &'static str = stringify!($field);
            fn signature(&self) -> Option<&str> {
                self.$field.as_deref()
            }
            fn signature_mut(&mut self) -> &mut Option<String> {
                &mut self.$field
            }
        }
    )*};
}

signed! {
    Quote => merchant_signature;
    Payment => payer_signature;
    PaymentConfirmation => merchant_signature;
    TopUpRequest => merchant_signature;
    TopUpResponse => payer_signature;
}

/// Why a signature chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
#[non_exhaustive]
pub struct SignatureError {
    /// The JSON path of the signature field, such as `wrapped_quote.wrappers[1].signature`.
    pub path: String,
    /// `"missing"` or `"does not verify"`.
    pub reason: &'static str,
}

pub(super) fn check_signature(
    path: String,
    signer: &str,
    payload: &str,
    signature: Option<&str>,
    verify: &mut impl FnMut(&str, &[u8], &str) -> bool,
) -> Result<(), SignatureError> {
    match signature {
        None => Err(SignatureError {
            path,
            reason: "missing",
        }),
        Some(sig) if verify(signer, payload.as_bytes(), sig) => Ok(()),
        Some(_) => Err(SignatureError {
            path,
            reason: "does not verify",
        }),
    }
}

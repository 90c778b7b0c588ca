//! A **demo** signature: a keyed hash, so the examples can show where signing goes without a
//! cryptography dependency.
//!
//! AITP-01 messages carry signatures (`ed25519:<base64>` by the spec's convention), and the SDK
//! takes any signer through `sign_with(|bytes| signature)` / `verify_with(..)`. Here the
//! "signature" is `demo-siphash:` and 32 hex digits of SipHash over a secret key and the bytes.
//!
//! **This is not a signature.** Anyone holding the key can forge it, it is only 128 bits of a
//! non-cryptographic hash, and Rust's `DefaultHasher` may change between Rust releases (so a
//! value is only checkable by the same build). A real agent signs with an ed25519 key (for
//! instance with `ed25519-dalek`) in exactly the same places.
//!
//! ```
//! use aitp_examples::demo_signature;
//! let sig = demo_signature::sign("merchant secret", b"payload");
//! assert!(sig.starts_with("demo-siphash:"));
//! assert!(demo_signature::verify("merchant secret", b"payload", &sig));
//! assert!(!demo_signature::verify("merchant secret", b"tampered", &sig));
//! ```

use std::hash::{DefaultHasher, Hash, Hasher};

/// The prefix that marks these signatures as demo values.
pub const PREFIX: &str = "demo-siphash:";

/// The demo signature of `bytes` under `key`.
pub fn sign(key: &str, bytes: &[u8]) -> String {
    let half = |domain: u8| {
        let mut h = DefaultHasher::new();
        domain.hash(&mut h);
        key.hash(&mut h);
        bytes.hash(&mut h);
        h.finish()
    };
    format!("{PREFIX}{:016x}{:016x}", half(0), half(1))
}

/// Whether `signature` is the demo signature of `bytes` under `key`.
pub fn verify(key: &str, bytes: &[u8], signature: &str) -> bool {
    sign(key, bytes) == signature
}

/// A signer for the SDK's `sign_with`: `quote.sign_with(demo_signature::signer(KEY))`.
pub fn signer(key: &str) -> impl FnOnce(&[u8]) -> String + '_ {
    move |bytes| sign(key, bytes)
}

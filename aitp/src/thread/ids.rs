//! Minting ids (`thread_`, `msg_`, `run_` + 24 lowercase hex digits) and the clock.
//!
//! OpenAI and NEAR AI ids are a prefix and 24 hex digits. Ours are made without a random
//! number generator crate: a process-wide counter and the clock, hashed with SipHash under
//! keys the standard library draws from the operating system once per process
//! ([`std::collections::hash_map::RandomState`]). They are unique within a process (the
//! counter), practically unique across processes (96 bits under per-process keys) and hard
//! to guess, but they are not a secret: a thread is protected by its owner check, not by its
//! id being unknown.

use std::{
    collections::hash_map::RandomState,
    fmt::Write,
    hash::BuildHasher,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

static COUNTER: AtomicU64 = AtomicU64::new(0);
static KEYS: OnceLock<RandomState> = OnceLock::new();

/// A new id: `prefix` followed by 24 lowercase hex digits.
///
/// ```
/// let id = aitp::thread::new_id("step_");
/// assert_eq!(id.len(), 5 + 24);
/// assert!(id[5..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
/// ```
pub fn new_id(prefix: &str) -> String {
    let keys = KEYS.get_or_init(RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let high = keys.hash_one((n, nanos, 0u8));
    let low = keys.hash_one((n, nanos, 1u8)) >> 32;
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    // Writing to a String cannot fail.
    let _ = write!(id, "{high:016x}{low:08x}");
    id
}

/// A new thread id, `thread_` + 24 hex digits.
pub fn new_thread_id() -> String {
    new_id("thread_")
}

/// A new message id, `msg_` + 24 hex digits.
pub fn new_message_id() -> String {
    new_id("msg_")
}

/// A new run id, `run_` + 24 hex digits.
pub fn new_run_id() -> String {
    new_id("run_")
}

/// The current time in unix seconds, as OpenAI timestamps are written.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_openai_shape_and_differ() {
        let ids: Vec<String> = (0..1000).map(|_| new_thread_id()).collect();
        for id in &ids {
            let hex = id.strip_prefix("thread_").unwrap();
            assert_eq!(hex.len(), 24);
            assert!(hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert!(new_message_id().starts_with("msg_"));
        assert!(new_run_id().starts_with("run_"));
        assert!(unix_now() > 1_700_000_000);
    }
}

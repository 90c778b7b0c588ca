//! Minting ids (`thread_`, `msg_`, `run_` + 24 lowercase hex digits) and the clock.
//!
//! OpenAI and NEAR AI ids are a prefix and 24 hex digits. Ours are 12 hex digits of the
//! creation time in milliseconds, then 12 that scramble a process-wide counter: a keyed
//! permutation (a four-round Feistel network over SipHash, under keys the standard library
//! draws from the operating system once per process,
//! [`std::collections::hash_map::RandomState`]).
//!
//! - Unique within a process by construction (distinct counters give distinct digits), and
//!   practically unique across processes (48 unpredictable bits per millisecond).
//! - Time-ordered: a store's index of ids grows at its end, as a table ordered by insertion
//!   does, instead of being written at random places (the reason UUIDv7 and ULID exist).
//! - Hard to guess but not a secret (they tell their creation time): a thread is protected by
//!   its owner check, not by its id being unknown.

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

const HALF: u64 = (1 << 24) - 1;

/// A permutation of the 48-bit numbers, keyed per process: each counter value gives other
/// digits, and no two give the same.
fn scramble(n: u64) -> u64 {
    let keys = KEYS.get_or_init(RandomState::new);
    let (mut left, mut right) = ((n >> 24) & HALF, n & HALF);
    for round in 0u8..4 {
        let mixed = left ^ (keys.hash_one((round, right)) & HALF);
        left = right;
        right = mixed;
    }
    (left << 24) | right
}

/// A new id: `prefix` followed by 24 lowercase hex digits (time in milliseconds, then a
/// scrambled counter).
///
/// ```
/// let id = aitp::thread::new_id("step_");
/// assert_eq!(id.len(), 5 + 24);
/// assert!(id[5..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
/// ```
pub fn new_id(prefix: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    // Writing to a String cannot fail. 48 bits of milliseconds last until the year 10889.
    let _ = write!(
        id,
        "{:012x}{:012x}",
        millis & ((1 << 48) - 1),
        scramble(n & ((1 << 48) - 1))
    );
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

    #[test]
    fn ids_grow_with_time_and_the_counter_is_scrambled_without_collisions() {
        let a = new_message_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_message_id();
        assert!(a < b, "{a} then {b}");
        let mut seen = std::collections::HashSet::new();
        for n in 0..100_000u64 {
            let s = scramble(n);
            assert!(s < 1 << 48);
            assert!(seen.insert(s), "{n} collides");
        }
        // Consecutive counters do not give consecutive digits.
        assert!(!(0..100).map(scramble).collect::<Vec<_>>().is_sorted());
    }
}

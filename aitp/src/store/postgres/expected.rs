//! What this process last wrote of each unfinished run: the state a transition's write
//! expects to find, so that the common case (a run created, started and finished by one
//! replica) needs no read before each write.
//!
//! It is an expectation, never an answer: reads (`run`, pages) always go to the database,
//! and a transition's write only applies if the row still holds exactly the expected JSON
//! and lease owner. A stale entry (another replica, a metadata change) costs one wasted
//! statement, after which the row is read. Entries go when their run ends; the whole map is
//! bounded in bytes, and is emptied when it would grow past that (runs that another replica
//! finished leave entries behind here).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

/// The byte budget of the map (JSON, ids and owners).
const BUDGET: usize = 4 << 20;

/// A run's JSON larger than this is not remembered (it is read when needed).
const LARGEST: usize = 64 << 10;

/// A run's stored state as this process wrote it.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    /// The `json` column.
    pub(super) json: String,
    /// The `lease_owner` column.
    pub(super) owner: Option<String>,
}

impl Stored {
    fn bytes(&self, key: &(String, String)) -> usize {
        self.json.len() + self.owner.as_ref().map_or(0, String::len) + key.0.len() + key.1.len()
    }
}

/// The map, keyed by (thread, run).
#[derive(Debug, Default)]
pub(super) struct Expected {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    runs: HashMap<(String, String), Stored>,
    bytes: usize,
}

impl Expected {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map holds no invariant a panic could break beyond its byte count: go on.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the expected state of the run out (a write that fails to match must not use
    /// it again; one that succeeds puts the new state back).
    pub(super) fn take(&self, thread_id: &str, run_id: &str) -> Option<Stored> {
        let mut inner = self.lock();
        let key = (thread_id.to_owned(), run_id.to_owned());
        let stored = inner.runs.remove(&key)?;
        inner.bytes = inner.bytes.saturating_sub(stored.bytes(&key));
        Some(stored)
    }

    /// Remembers what was just written of an unfinished run.
    pub(super) fn put(&self, thread_id: &str, run_id: &str, stored: Stored) {
        if stored.json.len() > LARGEST {
            return;
        }
        let key = (thread_id.to_owned(), run_id.to_owned());
        let bytes = stored.bytes(&key);
        let mut inner = self.lock();
        if inner.bytes + bytes > BUDGET {
            inner.runs.clear();
            inner.bytes = 0;
        }
        if let Some(old) = inner.runs.insert(key.clone(), stored) {
            inner.bytes = inner.bytes.saturating_sub(old.bytes(&key));
        }
        inner.bytes += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(json: &str) -> Stored {
        Stored {
            json: json.to_owned(),
            owner: None,
        }
    }

    #[test]
    fn taken_once() {
        let e = Expected::default();
        e.put("t", "r", stored("{}"));
        assert_eq!(e.take("t", "r").map(|s| s.json), Some("{}".to_owned()));
        assert!(e.take("t", "r").is_none());
        assert_eq!(e.lock().bytes, 0);
    }

    #[test]
    fn bounded() {
        let e = Expected::default();
        let big = "x".repeat(LARGEST);
        for i in 0..(2 * BUDGET / LARGEST) {
            e.put("t", &i.to_string(), stored(&big));
            assert!(e.lock().bytes <= BUDGET);
        }
        e.put("t", "huge", stored(&"x".repeat(LARGEST + 1)));
        assert!(e.take("t", "huge").is_none());
    }
}

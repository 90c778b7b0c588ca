//! Which threads this process has seen belong to which owner, so that the ownership check
//! every request makes (`owns`) costs no statement after the first.
//!
//! A thread's owner never changes, so a remembered "yes" only goes stale when the thread
//! is deleted. Deletes by this process forget it; a delete by another replica leaves it
//! behind, which is safe because every store call a request makes after the check is
//! scoped by thread: on a deleted thread it fails with `NotFound` (append, new run,
//! transitions, pages) or finds nothing (a message, a run), so the request still answers
//! 404 and never acts on the deleted thread. Thread ids are random, so a deleted id is not
//! given to another owner. Only "yes" is remembered: a thread created later elsewhere is
//! found by the next check. The map is bounded in bytes and emptied when it would grow
//! past that.

use std::{
    collections::HashSet,
    sync::{Mutex, PoisonError},
};

/// The byte budget of the set (thread ids and owners).
const BUDGET: usize = 1 << 20;

/// Per-entry overhead counted beside the two strings (the hash slot and the two headers).
const OVERHEAD: usize = 64;

/// The set of `(owner, thread)` pairs known to be owned.
#[derive(Debug, Default)]
pub(super) struct Owners {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    owned: HashSet<(String, String)>,
    bytes: usize,
}

fn bytes(owner: &str, thread_id: &str) -> usize {
    owner.len() + thread_id.len() + OVERHEAD
}

impl Owners {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The set holds no invariant a panic could break beyond its byte count: go on.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `owner` is known to own the thread.
    pub(super) fn owns(&self, owner: &str, thread_id: &str) -> bool {
        self.lock()
            .owned
            .contains(&(owner.to_owned(), thread_id.to_owned()))
    }

    /// Remembers that `owner` owns the thread.
    pub(super) fn put(&self, owner: &str, thread_id: &str) {
        let size = bytes(owner, thread_id);
        let mut inner = self.lock();
        if inner.bytes + size > BUDGET {
            inner.owned.clear();
            inner.bytes = 0;
        }
        if inner.owned.insert((owner.to_owned(), thread_id.to_owned())) {
            inner.bytes += size;
        }
    }

    /// Forgets the thread (this process deletes it).
    pub(super) fn forget(&self, owner: &str, thread_id: &str) {
        let mut inner = self.lock();
        if inner
            .owned
            .remove(&(owner.to_owned(), thread_id.to_owned()))
        {
            inner.bytes = inner.bytes.saturating_sub(bytes(owner, thread_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_until_forgotten() {
        let o = Owners::default();
        assert!(!o.owns("me", "t"));
        o.put("me", "t");
        o.put("me", "t");
        assert!(o.owns("me", "t"));
        assert!(!o.owns("you", "t"));
        o.forget("me", "t");
        assert!(!o.owns("me", "t"));
        assert_eq!(o.lock().bytes, 0);
    }

    #[test]
    fn bounded() {
        let o = Owners::default();
        for i in 0..(2 * BUDGET / OVERHEAD) {
            o.put("me", &i.to_string());
            assert!(o.lock().bytes <= BUDGET);
        }
    }
}

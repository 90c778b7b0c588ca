//! The write-through cache of threads and runs.
//!
//! The server reads the thread on every request and clients poll runs; both change only
//! through the store, so the writer updates the cache after each commit and most of those
//! reads cost no query.

use std::collections::HashMap;

use crate::{
    agent::Principal,
    thread::{Run, Thread},
};

/// A change the writer applies to the cache once its transaction is committed.
#[derive(Debug)]
pub(super) enum Change {
    /// The thread was created or replaced.
    Thread(Principal, Thread),
    /// The thread was deleted, with its runs.
    Deleted(String),
    /// The run was created or replaced.
    Run(Box<Run>),
}

/// A bounded map: two generations, the young one filled by use, the old one dropped when the
/// young one is full (a cheap approximation of least recently used).
#[derive(Debug)]
struct Generations<V> {
    young: HashMap<String, V>,
    old: HashMap<String, V>,
    capacity: usize,
}

impl<V> Generations<V> {
    fn new(capacity: usize) -> Self {
        Self {
            young: HashMap::new(),
            old: HashMap::new(),
            capacity,
        }
    }

    fn get(&mut self, key: &str) -> Option<&V> {
        if !self.young.contains_key(key) {
            let (key, value) = self.old.remove_entry(key)?;
            self.insert(key, value);
        }
        self.young.get(key)
    }

    fn insert(&mut self, key: String, value: V) {
        if self.capacity == 0 {
            return;
        }
        self.old.remove(&key);
        if self.young.len() >= self.capacity && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
    }

    fn remove(&mut self, key: &str) {
        self.young.remove(key);
        self.old.remove(key);
    }

    fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.young.retain(|_, v| keep(v));
        self.old.retain(|_, v| keep(v));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

/// Threads (with their owner) and runs, by id.
#[derive(Debug)]
pub(super) struct Cache {
    threads: Generations<(Principal, Thread)>,
    runs: Generations<Run>,
    /// Bumped by every applied change, so a read that raced a write does not cache what it
    /// read ([`Cache::fill_thread`]).
    epoch: u64,
}

impl Cache {
    /// A cache of up to about twice `capacity` threads and as many runs; `0` caches nothing.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            threads: Generations::new(capacity),
            runs: Generations::new(capacity),
            epoch: 0,
        }
    }

    /// The current epoch, to pass to a `fill_*` after reading the database.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The thread and its owner, if cached.
    pub(super) fn thread(&mut self, id: &str) -> Option<&(Principal, Thread)> {
        self.threads.get(id)
    }

    /// The run, if cached.
    pub(super) fn run(&mut self, id: &str) -> Option<&Run> {
        self.runs.get(id)
    }

    /// Caches a thread read from the database, unless a write happened since `epoch` (what was
    /// read may be older than what the writer cached).
    pub(super) fn fill_thread(&mut self, epoch: u64, owner: Principal, thread: Thread) {
        if self.epoch == epoch {
            self.threads.insert(thread.id.clone(), (owner, thread));
        }
    }

    /// Caches a run read from the database, unless a write happened since `epoch`.
    pub(super) fn fill_run(&mut self, epoch: u64, run: Run) {
        if self.epoch == epoch {
            self.runs.insert(run.id.clone(), run);
        }
    }

    /// Applies committed changes.
    pub(super) fn apply(&mut self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        self.epoch = self.epoch.wrapping_add(1);
        for change in changes {
            match change {
                Change::Thread(owner, thread) => {
                    self.threads.insert(thread.id.clone(), (owner, thread));
                }
                Change::Deleted(id) => {
                    self.threads.remove(&id);
                    self.runs.retain(|r| r.thread_id != id);
                }
                Change::Run(run) => self.runs.insert(run.id.clone(), *run),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_keeps_recent_entries() {
        let mut g = Generations::new(2);
        for i in 0..5 {
            g.insert(format!("k{i}"), i);
        }
        assert!(g.len() <= 4);
        assert_eq!(g.get("k4"), Some(&4));
        assert_eq!(g.get("k0"), None);
        // A read promotes an old entry, so it outlives newer unread ones.
        assert_eq!(g.get("k3"), Some(&3));
        g.insert("k5".into(), 5);
        g.insert("k6".into(), 6);
        assert_eq!(g.get("k3"), Some(&3));
        g.remove("k3");
        assert_eq!(g.get("k3"), None);
        let mut off = Generations::new(0);
        off.insert("k".into(), 1);
        assert_eq!(off.get("k"), None);
    }

    #[test]
    fn a_fill_after_a_write_is_dropped_and_deletes_take_runs() {
        let mut cache = Cache::new(8);
        let me = Principal::anonymous();
        let thread = Thread::new();
        let epoch = cache.epoch();
        let mut newer = thread.clone();
        newer.metadata.insert("v", "2");
        cache.apply(vec![Change::Thread(me.clone(), newer.clone())]);
        cache.fill_thread(epoch, me.clone(), thread.clone());
        assert_eq!(cache.thread(&thread.id).map(|e| &e.1), Some(&newer));

        let run = Run::new(thread.id.clone(), "agent");
        cache.apply(vec![Change::Run(Box::new(run.clone()))]);
        assert!(cache.run(&run.id).is_some());
        cache.apply(vec![Change::Deleted(thread.id.clone())]);
        assert!(cache.thread(&thread.id).is_none());
        assert!(cache.run(&run.id).is_none());
    }
}

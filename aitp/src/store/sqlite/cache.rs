//! The write-through cache of threads, their newest messages, and runs.
//!
//! Every request reads its thread, every round lists the newest messages, every run reads the
//! messages it answers, and clients poll runs. All of it changes only through the store, so
//! the writer applies each committed change here and those reads cost no query, no JSON
//! parsing and no hand-off to a read connection.

use std::collections::{HashMap, VecDeque};

use crate::{
    agent::Principal,
    store::{ListQuery, Page, page::suffix_page},
    thread::{Message, Run, Thread},
};

/// A message as stored: its insertion order (`seq`) and the size of its JSON.
#[derive(Debug)]
pub(super) struct Stored {
    pub(super) seq: i64,
    pub(super) bytes: usize,
    pub(super) message: Message,
}

/// A change the writer applies to the cache once its transaction is committed.
#[derive(Debug)]
pub(super) enum Change {
    /// The thread was created with these messages: all of it is known.
    Created(Principal, Thread, Vec<Stored>),
    /// The thread's metadata was replaced.
    Thread(Principal, Thread),
    /// The thread was deleted, with its messages and runs.
    Deleted(String),
    /// Messages were appended to the thread.
    Messages(String, Vec<Stored>),
    /// The agent's cursor of the thread is now this `seq`.
    Cursor(String, i64),
    /// The run was created or replaced.
    Run(Box<Run>),
    /// Messages of the thread were changed or deleted: the ones held are forgotten.
    MessagesChanged(String),
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
        self.get_mut(key).map(|v| &*v)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        if !self.young.contains_key(key) {
            let (key, value) = self.old.remove_entry(key)?;
            self.insert(key, value);
        }
        self.young.get_mut(key)
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

/// The most JSON kept of one thread's newest messages: with the count limit, what bounds the
/// cache's memory (about this much per cached thread).
const RECENT_BYTES: usize = 16 * 1024;

/// A thread's newest messages, oldest first: a suffix of all its messages.
#[derive(Debug, Default)]
struct Recent {
    messages: VecDeque<Stored>,
    bytes: usize,
    /// Every message of the thread not held has a `seq` at most this; `0`: all are held.
    floor: i64,
    /// The agent's cursor, when known.
    cursor: Option<i64>,
}

impl Recent {
    fn push(&mut self, messages: Vec<Stored>, limit: usize) {
        for m in messages {
            self.bytes += m.bytes;
            self.messages.push_back(m);
        }
        while self.messages.len() > limit || self.bytes > RECENT_BYTES {
            let Some(old) = self.messages.pop_front() else {
                break;
            };
            self.bytes -= old.bytes;
            self.floor = self.floor.max(old.seq);
        }
    }

    fn held(&self) -> impl DoubleEndedIterator<Item = &Message> {
        self.messages.iter().map(|m| &m.message)
    }
}

/// A cached thread.
#[derive(Debug)]
struct Entry {
    owner: Principal,
    thread: Thread,
    /// `None` when the thread was read from the database: its messages are not known until
    /// some are appended.
    recent: Option<Recent>,
}

impl Entry {
    /// A thread whose messages are not known.
    fn without_messages(owner: Principal, thread: Thread) -> Self {
        Self {
            owner,
            thread,
            recent: None,
        }
    }
}

/// Threads (with their owner and newest messages) and runs, by id.
#[derive(Debug)]
pub(super) struct Cache {
    threads: Generations<Entry>,
    runs: Generations<Run>,
    /// How many of each thread's newest messages are kept.
    recent_limit: usize,
    /// Bumped by every applied change, so a read that raced a write does not cache what it
    /// read ([`Cache::fill_thread`]).
    epoch: u64,
}

impl Cache {
    /// A cache of up to about twice `capacity` threads and as many runs, keeping the newest
    /// `recent` messages of each thread; `0` caches nothing.
    pub(super) fn new(capacity: usize, recent: usize) -> Self {
        Self {
            threads: Generations::new(capacity),
            runs: Generations::new(capacity),
            recent_limit: recent,
            epoch: 0,
        }
    }

    /// The current epoch, to pass to a `fill_*` after reading the database.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The thread and its owner, if cached.
    pub(super) fn thread(&mut self, id: &str) -> Option<(&Principal, &Thread)> {
        self.threads.get(id).map(|e| (&e.owner, &e.thread))
    }

    /// The run, if cached.
    pub(super) fn run(&mut self, id: &str) -> Option<&Run> {
        self.runs.get(id)
    }

    fn recent(&mut self, thread_id: &str) -> Option<&Recent> {
        self.threads.get(thread_id)?.recent.as_ref()
    }

    /// A page of the thread's messages, if the messages held decide it.
    pub(super) fn list_messages(
        &mut self,
        thread_id: &str,
        query: &ListQuery,
    ) -> Option<Page<Message>> {
        let recent = self.recent(thread_id)?;
        let held: Vec<&Message> = match &query.run_id {
            Some(run) => recent
                .held()
                .filter(|m| m.run_id.as_deref() == Some(run))
                .collect(),
            None => recent.held().collect(),
        };
        let index = |id: &str| held.iter().position(|m| m.id == id);
        let page = suffix_page(&held, recent.floor == 0, index, query)?;
        Some(Page::new(
            page.data.into_iter().cloned().collect(),
            page.has_more,
        ))
    }

    /// The message, if held.
    pub(super) fn message(&mut self, thread_id: &str, id: &str) -> Option<Message> {
        self.recent(thread_id)?
            .held()
            .rev()
            .find(|m| m.id == id)
            .cloned()
    }

    /// The messages after the agent's cursor, if all of them are held.
    pub(super) fn unanswered(&mut self, thread_id: &str) -> Option<Vec<Message>> {
        let recent = self.recent(thread_id)?;
        let cursor = recent.cursor.filter(|c| *c >= recent.floor)?;
        Some(
            recent
                .messages
                .iter()
                .filter(|m| m.seq > cursor && m.message.run_id.is_none())
                .map(|m| m.message.clone())
                .collect(),
        )
    }

    /// Caches a thread read from the database, unless a write happened since `epoch` (what was
    /// read may be older than what the writer cached).
    pub(super) fn fill_thread(&mut self, epoch: u64, owner: Principal, thread: Thread) {
        if self.epoch == epoch {
            self.threads
                .insert(thread.id.clone(), Entry::without_messages(owner, thread));
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
                Change::Created(owner, thread, messages) => {
                    let mut recent = Recent {
                        cursor: Some(0),
                        ..Recent::default()
                    };
                    recent.push(messages, self.recent_limit);
                    let entry = Entry {
                        owner,
                        thread,
                        recent: Some(recent),
                    };
                    self.threads.insert(entry.thread.id.clone(), entry);
                }
                Change::Thread(owner, thread) => match self.threads.get_mut(&thread.id) {
                    Some(entry) => entry.thread = thread,
                    None => {
                        self.threads
                            .insert(thread.id.clone(), Entry::without_messages(owner, thread));
                    }
                },
                Change::Deleted(id) => {
                    self.threads.remove(&id);
                    self.runs.retain(|r| r.thread_id != id);
                }
                Change::Messages(thread_id, messages) => {
                    let limit = self.recent_limit;
                    let Some(entry) = self.threads.get_mut(&thread_id) else {
                        continue;
                    };
                    let Some(first) = messages.first() else {
                        continue;
                    };
                    // Held from here on: whatever came before has a smaller `seq`.
                    let recent = entry.recent.get_or_insert_with(|| Recent {
                        floor: first.seq - 1,
                        ..Recent::default()
                    });
                    recent.push(messages, limit);
                }
                Change::Cursor(thread_id, cursor) => {
                    if let Some(recent) = self
                        .threads
                        .get_mut(&thread_id)
                        .and_then(|e| e.recent.as_mut())
                    {
                        recent.cursor = Some(cursor);
                    }
                }
                Change::Run(run) => self.runs.insert(run.id.clone(), *run),
                Change::MessagesChanged(thread_id) => {
                    if let Some(entry) = self.threads.get_mut(&thread_id) {
                        entry.recent = None;
                    }
                }
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
        let mut cache = Cache::new(8, 4);
        let me = Principal::anonymous();
        let thread = Thread::new();
        let epoch = cache.epoch();
        let mut newer = thread.clone();
        newer.metadata.insert("v", "2");
        cache.apply(vec![Change::Thread(me.clone(), newer.clone())]);
        cache.fill_thread(epoch, me.clone(), thread.clone());
        assert_eq!(cache.thread(&thread.id).map(|e| e.1), Some(&newer));

        let run = Run::new(thread.id.clone(), "agent");
        cache.apply(vec![Change::Run(Box::new(run.clone()))]);
        assert!(cache.run(&run.id).is_some());
        cache.apply(vec![Change::Deleted(thread.id.clone())]);
        assert!(cache.thread(&thread.id).is_none());
        assert!(cache.run(&run.id).is_none());
    }

    fn stored(thread: &Thread, seq: i64) -> Stored {
        let message = Message::new(
            thread.id.clone(),
            crate::thread::Role::User,
            vec![crate::thread::Content::text(seq.to_string())],
        );
        Stored {
            seq,
            bytes: 100,
            message,
        }
    }

    #[test]
    fn messages_of_a_thread_read_from_the_database_are_known_from_the_next_append() {
        let mut cache = Cache::new(8, 4);
        let me = Principal::anonymous();
        let thread = Thread::new();
        cache.fill_thread(cache.epoch(), me.clone(), thread.clone());
        let q = ListQuery::new(2, crate::store::Order::Desc);
        // Nothing is known of its messages yet.
        assert!(cache.list_messages(&thread.id, &q).is_none());
        assert!(cache.unanswered(&thread.id).is_none());
        cache.apply(vec![Change::Messages(
            thread.id.clone(),
            (10..13).map(|seq| stored(&thread, seq)).collect(),
        )]);
        // Three held, older ones may exist: a page of two (and one more) is decided.
        let page = cache.list_messages(&thread.id, &q).unwrap();
        assert_eq!(page.data.len(), 2);
        assert!(page.has_more);
        assert!(
            cache
                .list_messages(&thread.id, &ListQuery::new(3, crate::store::Order::Desc))
                .is_none()
        );
        // The cursor is unknown until a run moves it.
        assert!(cache.unanswered(&thread.id).is_none());
        cache.apply(vec![Change::Cursor(thread.id.clone(), 11)]);
        assert_eq!(cache.unanswered(&thread.id).unwrap().len(), 1);
        // A cursor below the messages held cannot be answered from them.
        cache.apply(vec![Change::Cursor(thread.id.clone(), 5)]);
        assert!(cache.unanswered(&thread.id).is_none());
    }

    #[test]
    fn recent_messages_are_bounded_by_count_and_size() {
        let mut cache = Cache::new(8, 3);
        let me = Principal::anonymous();
        let thread = Thread::new();
        cache.apply(vec![Change::Created(me, thread.clone(), Vec::new())]);
        cache.apply(vec![Change::Messages(
            thread.id.clone(),
            (1..=5).map(|seq| stored(&thread, seq)).collect(),
        )]);
        let recent = cache.recent(&thread.id).unwrap();
        assert_eq!(recent.messages.len(), 3);
        assert_eq!(recent.floor, 2);
        let mut big = stored(&thread, 6);
        big.bytes = RECENT_BYTES + 1;
        cache.apply(vec![Change::Messages(thread.id.clone(), vec![big])]);
        let recent = cache.recent(&thread.id).unwrap();
        assert!(recent.messages.is_empty());
        assert_eq!((recent.floor, recent.bytes), (6, 0));
    }
}

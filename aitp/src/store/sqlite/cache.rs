//! The write-through cache of threads, their newest messages, and runs.
//!
//! Every request reads its thread, every round lists the newest messages, every run reads the
//! messages it answers, and clients poll runs. All of it changes only through the store, so
//! the writer applies each committed change here and those reads cost no query, no JSON
//! parsing and no hand-off to a read connection.

use std::collections::{HashMap, VecDeque};

use crate::{
    store::{ListQuery, Page, page::suffix_page},
    thread::{Message, Principal, Run, Thread},
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
    /// The thread (of this many bytes of JSON) was created with these messages: all of it
    /// is known.
    Created(Principal, Thread, usize, Vec<Stored>),
    /// The thread's metadata was replaced (now this many bytes of JSON).
    Thread(Principal, Thread, usize),
    /// The thread was deleted, with its messages and runs.
    Deleted(String),
    /// Messages were appended to the thread.
    Messages(String, Vec<Stored>),
    /// The agent's cursor of the thread is now this `seq`.
    Cursor(String, i64),
    /// The run was created or replaced (now this many bytes of JSON).
    Run(Box<Run>, usize),
    /// Messages of the thread were changed or deleted: the ones held are forgotten.
    MessagesChanged(String),
}

/// A bounded map: two generations, the young one filled by use, the old one dropped when the
/// young one is full (a cheap approximation of least recently used).
///
/// Bounded by count and by bytes: each entry comes with its size (the JSON it was stored as,
/// plus [`ENTRY_OVERHEAD`]), and a generation is full at `capacity` entries or half the byte
/// budget. So the map never accounts for more than its budget, however large its values; an
/// entry larger than half the budget is not kept at all.
#[derive(Debug)]
struct Generations<V> {
    young: HashMap<String, (V, usize)>,
    old: HashMap<String, (V, usize)>,
    young_bytes: usize,
    old_bytes: usize,
    capacity: usize,
    /// The most bytes one generation holds: half the budget.
    half: usize,
}

impl<V> Generations<V> {
    fn new(capacity: usize, budget: usize) -> Self {
        Self {
            young: HashMap::new(),
            old: HashMap::new(),
            young_bytes: 0,
            old_bytes: 0,
            capacity,
            half: budget / 2,
        }
    }

    fn get(&mut self, key: &str) -> Option<&V> {
        self.get_mut(key).map(|v| &*v)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        if !self.young.contains_key(key) {
            let (key, (value, bytes)) = self.old.remove_entry(key)?;
            self.old_bytes -= bytes;
            self.insert(key, value, bytes);
        }
        self.young.get_mut(key).map(|(v, _)| v)
    }

    /// Keeps `value` (of `bytes`), replacing what `key` held.
    fn insert(&mut self, key: String, value: V, bytes: usize) {
        self.remove(&key);
        let bytes = bytes.saturating_add(ENTRY_OVERHEAD);
        if self.capacity == 0 || bytes > self.half {
            return;
        }
        if self.young.len() >= self.capacity || self.young_bytes + bytes > self.half {
            self.old = std::mem::take(&mut self.young);
            self.old_bytes = std::mem::take(&mut self.young_bytes);
        }
        self.young.insert(key, (value, bytes));
        self.young_bytes += bytes;
    }

    /// Records that the value of `key` is now of `bytes` (it changed in place).
    fn resize(&mut self, key: &str, bytes: usize) {
        let entry = match self.young.remove_entry(key) {
            Some(entry) => {
                self.young_bytes -= entry.1.1;
                entry
            }
            None => match self.old.remove_entry(key) {
                Some(entry) => {
                    self.old_bytes -= entry.1.1;
                    entry
                }
                None => return,
            },
        };
        let (key, (value, _)) = entry;
        self.insert(key, value, bytes);
    }

    fn remove(&mut self, key: &str) {
        if let Some((_, bytes)) = self.young.remove(key) {
            self.young_bytes -= bytes;
        }
        if let Some((_, bytes)) = self.old.remove(key) {
            self.old_bytes -= bytes;
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        for (map, total) in [
            (&mut self.young, &mut self.young_bytes),
            (&mut self.old, &mut self.old_bytes),
        ] {
            map.retain(|_, (v, bytes)| {
                let kept = keep(v);
                if !kept {
                    *total -= *bytes;
                }
                kept
            });
        }
    }

    /// The bytes the entries held account for.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.young_bytes + self.old_bytes
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

/// What an entry costs beyond its JSON: its key, the map's slot, the parsed value's
/// allocations. A rough constant; the JSON dominates for the entries that matter.
const ENTRY_OVERHEAD: usize = 512;

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
    /// The size of the thread's JSON.
    bytes: usize,
    /// `None` when the thread was read from the database: its messages are not known until
    /// some are appended.
    recent: Option<Recent>,
}

impl Entry {
    /// A thread whose messages are not known.
    fn without_messages(owner: Principal, thread: Thread, bytes: usize) -> Self {
        Self {
            owner,
            thread,
            bytes,
            recent: None,
        }
    }

    /// What the entry accounts for: the thread's JSON and its messages held.
    fn size(&self) -> usize {
        self.bytes + self.recent.as_ref().map_or(0, |r| r.bytes)
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
    /// `recent` messages of each thread, within `budget` bytes (half for threads, half for
    /// runs); `0` caches nothing.
    pub(super) fn new(capacity: usize, recent: usize, budget: usize) -> Self {
        Self {
            threads: Generations::new(capacity, budget / 2),
            runs: Generations::new(capacity, budget / 2),
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

    /// The bytes the cache accounts for (threads with their messages, and runs): never more
    /// than its budget.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.threads.bytes() + self.runs.bytes()
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
    pub(super) fn unanswered(&mut self, thread_id: &str, limit: usize) -> Option<Vec<Message>> {
        let recent = self.recent(thread_id)?;
        let cursor = recent.cursor.filter(|c| *c >= recent.floor)?;
        Some(
            recent
                .messages
                .iter()
                .filter(|m| m.seq > cursor && m.message.run_id.is_none())
                .take(limit)
                .map(|m| m.message.clone())
                .collect(),
        )
    }

    /// Caches a thread read from the database (`bytes` of JSON), unless a write happened
    /// since `epoch` (what was read may be older than what the writer cached).
    pub(super) fn fill_thread(
        &mut self,
        epoch: u64,
        owner: Principal,
        thread: Thread,
        bytes: usize,
    ) {
        if self.epoch == epoch {
            self.threads.insert(
                thread.id.clone(),
                Entry::without_messages(owner, thread, bytes),
                bytes,
            );
        }
    }

    /// Caches a run read from the database (`bytes` of JSON), unless a write happened since
    /// `epoch`.
    pub(super) fn fill_run(&mut self, epoch: u64, run: Run, bytes: usize) {
        if self.epoch == epoch {
            self.runs.insert(run.id.clone(), run, bytes);
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
                Change::Created(owner, thread, bytes, messages) => {
                    let mut recent = Recent {
                        cursor: Some(0),
                        ..Recent::default()
                    };
                    recent.push(messages, self.recent_limit);
                    let entry = Entry {
                        owner,
                        thread,
                        bytes,
                        recent: Some(recent),
                    };
                    let size = entry.size();
                    self.threads.insert(entry.thread.id.clone(), entry, size);
                }
                Change::Thread(owner, thread, bytes) => match self.threads.get_mut(&thread.id) {
                    Some(entry) => {
                        entry.thread = thread;
                        entry.bytes = bytes;
                        let size = entry.size();
                        let id = entry.thread.id.clone();
                        self.threads.resize(&id, size);
                    }
                    None => {
                        self.threads.insert(
                            thread.id.clone(),
                            Entry::without_messages(owner, thread, bytes),
                            bytes,
                        );
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
                    let size = entry.size();
                    self.threads.resize(&thread_id, size);
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
                Change::Run(run, bytes) => self.runs.insert(run.id.clone(), *run, bytes),
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
        let mut g = Generations::new(2, usize::MAX);
        for i in 0..5 {
            g.insert(format!("k{i}"), i, 1);
        }
        assert!(g.len() <= 4);
        assert_eq!(g.get("k4"), Some(&4));
        assert_eq!(g.get("k0"), None);
        // A read promotes an old entry, so it outlives newer unread ones.
        assert_eq!(g.get("k3"), Some(&3));
        g.insert("k5".into(), 5, 1);
        g.insert("k6".into(), 6, 1);
        assert_eq!(g.get("k3"), Some(&3));
        g.remove("k3");
        assert_eq!(g.get("k3"), None);
        let mut off = Generations::new(0, usize::MAX);
        off.insert("k".into(), 1, 1);
        assert_eq!(off.get("k"), None);
    }

    #[test]
    fn bounded_by_bytes_whatever_the_sizes() {
        let budget = 100 * 1024;
        let mut g = Generations::new(1000, budget);
        let mut sizes = [7_000, 300, 25_000, 1, 49_000, 12_345, 0, 60_000];
        for i in 0..200 {
            let bytes = sizes[i % sizes.len()];
            g.insert(format!("k{i}"), i, bytes);
            assert!(g.bytes() <= budget, "{} bytes held", g.bytes());
            // The newest entry is kept unless alone it exceeds half the budget.
            assert_eq!(
                g.get(&format!("k{i}")).is_some(),
                bytes + ENTRY_OVERHEAD <= budget / 2
            );
            sizes.rotate_left(1);
        }
        // Growing in place counts too, and promotion moves the bytes along.
        let before = g.bytes();
        g.insert("grow".into(), 0, 10);
        g.resize("grow", 40_000);
        assert!(g.bytes() <= budget);
        assert!(g.get("grow").is_some());
        g.remove("grow");
        assert!(g.get("grow").is_none());
        assert!(g.bytes() <= before);
        g.retain(|_| false);
        assert_eq!(g.bytes(), 0);
        assert_eq!(g.len(), 0);
    }

    #[test]
    fn a_fill_after_a_write_is_dropped_and_deletes_take_runs() {
        let mut cache = Cache::new(8, 4, 1 << 20);
        let me = Principal::anonymous();
        let thread = Thread::new();
        let epoch = cache.epoch();
        let mut newer = thread.clone();
        newer.metadata.insert("v", "2");
        cache.apply(vec![Change::Thread(me.clone(), newer.clone(), 100)]);
        cache.fill_thread(epoch, me.clone(), thread.clone(), 100);
        assert_eq!(cache.thread(&thread.id).map(|e| e.1), Some(&newer));

        let run = Run::new(thread.id.clone(), "agent");
        cache.apply(vec![Change::Run(Box::new(run.clone()), 100)]);
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
        let mut cache = Cache::new(8, 4, 1 << 20);
        let me = Principal::anonymous();
        let thread = Thread::new();
        cache.fill_thread(cache.epoch(), me.clone(), thread.clone(), 100);
        let q = ListQuery::new(2, crate::store::Order::Desc);
        // Nothing is known of its messages yet.
        assert!(cache.list_messages(&thread.id, &q).is_none());
        assert!(cache.unanswered(&thread.id, usize::MAX).is_none());
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
        assert!(cache.unanswered(&thread.id, usize::MAX).is_none());
        cache.apply(vec![Change::Cursor(thread.id.clone(), 11)]);
        assert_eq!(cache.unanswered(&thread.id, usize::MAX).unwrap().len(), 1);
        // A cursor below the messages held cannot be answered from them.
        cache.apply(vec![Change::Cursor(thread.id.clone(), 5)]);
        assert!(cache.unanswered(&thread.id, usize::MAX).is_none());
    }

    #[test]
    fn recent_messages_are_bounded_by_count_and_size() {
        let mut cache = Cache::new(8, 3, 1 << 20);
        let me = Principal::anonymous();
        let thread = Thread::new();
        cache.apply(vec![Change::Created(me, thread.clone(), 100, Vec::new())]);
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

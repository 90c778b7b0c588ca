//! `MemoryStore`: threads in memory, for tests and agents that need no durability.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use super::{
    ListQuery, Page, StoreError, StoreResult, ThreadStore, Transition, Transitioned, page::page,
};
use crate::thread::{Message, Metadata, Principal, Run, RunError, Thread};

#[derive(Debug)]
struct Entry {
    owner: Principal,
    thread: Thread,
    /// Messages in insertion order, with an index by id: every lookup is O(1) and a page
    /// costs O(limit), however long the thread grows.
    messages: Vec<Message>,
    message_index: HashMap<String, usize>,
    /// Runs in creation order, indexed by id.
    runs: Vec<Run>,
    run_index: HashMap<String, usize>,
    /// Index into `messages` of the first message no completed run has answered.
    cursor: usize,
}

impl Entry {
    fn push_messages(&mut self, messages: Vec<Message>) {
        for m in messages {
            self.message_index.insert(m.id.clone(), self.messages.len());
            self.messages.push(m);
        }
    }

    /// The active (non-terminal) run, if any. Only the newest run can be active: a run is
    /// created only when no other is.
    fn active_run(&self) -> Option<&Run> {
        self.runs.last().filter(|r| !r.status.is_terminal())
    }

    fn run_mut(&mut self, id: &str) -> Option<&mut Run> {
        let i = *self.run_index.get(id)?;
        self.runs.get_mut(i)
    }
}

/// An in-memory [`ThreadStore`]. Cheap to clone (clones share the data); lost on exit.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    threads: Arc<Mutex<HashMap<String, Entry>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere never leaves the map half-written: every update is a single
        // assignment or push under the lock.
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ThreadStore for MemoryStore {
    async fn create_thread(
        &self,
        owner: &Principal,
        thread: Thread,
        messages: Vec<Message>,
    ) -> StoreResult<()> {
        let mut map = self.lock();
        if map.contains_key(&thread.id) {
            return Err(StoreError::Conflict(format!("thread {} exists", thread.id)));
        }
        let mut entry = Entry {
            owner: owner.clone(),
            thread,
            messages: Vec::new(),
            message_index: HashMap::new(),
            runs: Vec::new(),
            run_index: HashMap::new(),
            cursor: 0,
        };
        entry.push_messages(messages);
        map.insert(entry.thread.id.clone(), entry);
        Ok(())
    }

    async fn thread(&self, owner: &Principal, id: &str) -> StoreResult<Option<Thread>> {
        Ok(self
            .lock()
            .get(id)
            .filter(|e| &e.owner == owner)
            .map(|e| e.thread.clone()))
    }

    async fn owns(&self, owner: &Principal, id: &str) -> StoreResult<bool> {
        Ok(self.lock().get(id).is_some_and(|e| &e.owner == owner))
    }

    async fn update_thread(&self, owner: &Principal, thread: Thread) -> StoreResult<()> {
        let mut map = self.lock();
        match map.get_mut(&thread.id).filter(|e| &e.owner == owner) {
            Some(e) => {
                e.thread = thread;
                Ok(())
            }
            None => Err(StoreError::NotFound),
        }
    }

    async fn delete_thread(&self, owner: &Principal, id: &str) -> StoreResult<bool> {
        let mut map = self.lock();
        if map.get(id).is_some_and(|e| &e.owner == owner) {
            map.remove(id);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn append_messages(&self, thread_id: &str, messages: Vec<Message>) -> StoreResult<()> {
        let mut map = self.lock();
        let e = map.get_mut(thread_id).ok_or(StoreError::NotFound)?;
        if let Some(active) = e.active_run() {
            return Err(StoreError::Conflict(format!(
                "Can't add messages to {thread_id} while a run {} is active.",
                active.id
            )));
        }
        e.push_messages(messages);
        Ok(())
    }

    async fn message(&self, thread_id: &str, message_id: &str) -> StoreResult<Option<Message>> {
        Ok(self.lock().get(thread_id).and_then(|e| {
            let i = *e.message_index.get(message_id)?;
            e.messages.get(i).cloned()
        }))
    }

    async fn set_message_metadata(
        &self,
        thread_id: &str,
        message_id: &str,
        metadata: Metadata,
    ) -> StoreResult<Option<Message>> {
        let mut map = self.lock();
        let Some(e) = map.get_mut(thread_id) else {
            return Ok(None);
        };
        let Some(&i) = e.message_index.get(message_id) else {
            return Ok(None);
        };
        let m = &mut e.messages[i];
        m.metadata = metadata;
        Ok(Some(m.clone()))
    }

    async fn delete_message(&self, thread_id: &str, message_id: &str) -> StoreResult<bool> {
        let mut map = self.lock();
        let Some(e) = map.get_mut(thread_id) else {
            return Ok(false);
        };
        let Some(i) = e.message_index.remove(message_id) else {
            return Ok(false);
        };
        e.messages.remove(i);
        for later in &e.messages[i..] {
            if let Some(slot) = e.message_index.get_mut(&later.id) {
                *slot -= 1;
            }
        }
        // The cursor counts messages: one answered message fewer before it.
        if i < e.cursor {
            e.cursor -= 1;
        }
        Ok(true)
    }

    async fn list_messages(
        &self,
        thread_id: &str,
        query: &ListQuery,
    ) -> StoreResult<Page<Message>> {
        let map = self.lock();
        let e = map.get(thread_id).ok_or(StoreError::NotFound)?;
        match &query.run_id {
            Some(run_id) => {
                let of_run: Vec<Message> = e
                    .messages
                    .iter()
                    .filter(|m| m.run_id.as_deref() == Some(run_id))
                    .cloned()
                    .collect();
                Ok(page(
                    &of_run,
                    |id| of_run.iter().position(|m| m.id == id),
                    query,
                ))
            }
            None => Ok(page(
                &e.messages,
                |id| e.message_index.get(id).copied(),
                query,
            )),
        }
    }

    async fn create_run(&self, run: Run) -> StoreResult<()> {
        let mut map = self.lock();
        let e = map.get_mut(&run.thread_id).ok_or(StoreError::NotFound)?;
        if let Some(active) = e.active_run() {
            return Err(StoreError::Conflict(format!(
                "thread {} already has an active run {}",
                run.thread_id, active.id
            )));
        }
        e.run_index.insert(run.id.clone(), e.runs.len());
        e.runs.push(run);
        Ok(())
    }

    async fn run(&self, thread_id: &str, run_id: &str) -> StoreResult<Option<Run>> {
        Ok(self.lock().get(thread_id).and_then(|e| {
            let i = *e.run_index.get(run_id)?;
            e.runs.get(i).cloned()
        }))
    }

    async fn set_run_metadata(
        &self,
        thread_id: &str,
        run_id: &str,
        metadata: Metadata,
    ) -> StoreResult<Option<Run>> {
        let mut map = self.lock();
        let Some(run) = map.get_mut(thread_id).and_then(|e| e.run_mut(run_id)) else {
            return Ok(None);
        };
        run.metadata = metadata;
        Ok(Some(run.clone()))
    }

    async fn list_runs(&self, thread_id: &str, query: &ListQuery) -> StoreResult<Page<Run>> {
        let map = self.lock();
        let e = map.get(thread_id).ok_or(StoreError::NotFound)?;
        Ok(page(&e.runs, |id| e.run_index.get(id).copied(), query))
    }

    async fn unanswered(&self, thread_id: &str, limit: usize) -> StoreResult<Vec<Message>> {
        let map = self.lock();
        let e = map.get(thread_id).ok_or(StoreError::NotFound)?;
        Ok(e.messages[e.cursor.min(e.messages.len())..]
            .iter()
            .filter(|m| m.run_id.is_none())
            .take(limit)
            .cloned()
            .collect())
    }

    async fn transition_run(&self, mut transition: Transition) -> StoreResult<Transitioned> {
        let mut map = self.lock();
        let e = map
            .get_mut(transition.thread_id())
            .ok_or(StoreError::NotFound)?;
        let slot = e.run_mut(transition.run_id()).ok_or(StoreError::NotFound)?;
        // Checked and changed under the one lock that also guards the replies and cursor.
        transition.apply(slot)?;
        let run = slot.clone();
        let (replies, answered_up_to) = transition.take_replies();
        if let Some(i) = answered_up_to.and_then(|id| e.message_index.get(&id).copied()) {
            e.cursor = e.cursor.max(i + 1);
        }
        e.push_messages(replies.clone());
        Ok(Transitioned::new(run, replies))
    }

    async fn fail_interrupted_runs(&self, now: i64) -> StoreResult<usize> {
        let mut map = self.lock();
        let mut n = 0;
        for e in map.values_mut() {
            for r in e.runs.iter_mut().filter(|r| !r.status.is_terminal()) {
                r.fail(RunError::server_error(
                    "The server restarted while this run was in progress.",
                ));
                r.failed_at = Some(now);
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;

    crate::store::testing::contract!((MemoryStore::new(), ()));
}

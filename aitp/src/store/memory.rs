//! `MemoryStore`: threads in memory, for tests and agents that need no durability.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use super::{ListQuery, Order, Page, StoreError, StoreResult, ThreadStore};
use crate::{
    agent::Principal,
    thread::{Message, Run, RunError, Thread},
};

#[derive(Debug)]
struct Entry {
    owner: Principal,
    thread: Thread,
    /// In insertion order.
    messages: Vec<Message>,
    /// In creation order.
    runs: Vec<Run>,
    /// Index into `messages` of the first message no completed run has answered.
    cursor: usize,
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

/// Selects a page of `items` (in insertion order) by `query`.
pub(crate) fn page<T: Clone>(items: &[T], id: impl Fn(&T) -> &str, query: &ListQuery) -> Page<T> {
    let ordered: Vec<&T> = match query.order {
        Order::Asc => items.iter().collect(),
        Order::Desc => items.iter().rev().collect(),
    };
    let mut start = 0;
    let mut end = ordered.len();
    if let Some(after) = &query.after {
        if let Some(i) = ordered.iter().position(|t| id(t) == after) {
            start = i + 1;
        }
    }
    if let Some(before) = &query.before {
        if let Some(i) = ordered.iter().position(|t| id(t) == before) {
            end = end.min(i);
        }
    }
    if start >= end {
        return Page::new(Vec::new(), false);
    }
    let window = &ordered[start..end];
    let take = query.limit.max(1).min(window.len());
    Page::new(
        window[..take].iter().map(|t| (*t).clone()).collect(),
        window.len() > take,
    )
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
        map.insert(
            thread.id.clone(),
            Entry {
                owner: owner.clone(),
                thread,
                messages,
                runs: Vec::new(),
                cursor: 0,
            },
        );
        Ok(())
    }

    async fn thread(&self, owner: &Principal, id: &str) -> StoreResult<Option<Thread>> {
        Ok(self
            .lock()
            .get(id)
            .filter(|e| &e.owner == owner)
            .map(|e| e.thread.clone()))
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
        if let Some(active) = e.runs.iter().find(|r| !r.status.is_terminal()) {
            return Err(StoreError::Conflict(format!(
                "Can't add messages to {thread_id} while a run {} is active.",
                active.id
            )));
        }
        e.messages.extend(messages);
        Ok(())
    }

    async fn message(&self, thread_id: &str, message_id: &str) -> StoreResult<Option<Message>> {
        Ok(self
            .lock()
            .get(thread_id)
            .and_then(|e| e.messages.iter().find(|m| m.id == message_id).cloned()))
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
                Ok(page(&of_run, |m| &m.id, query))
            }
            None => Ok(page(&e.messages, |m| &m.id, query)),
        }
    }

    async fn create_run(&self, run: Run) -> StoreResult<()> {
        let mut map = self.lock();
        let e = map.get_mut(&run.thread_id).ok_or(StoreError::NotFound)?;
        if let Some(active) = e.runs.iter().find(|r| !r.status.is_terminal()) {
            return Err(StoreError::Conflict(format!(
                "thread {} already has an active run {}",
                run.thread_id, active.id
            )));
        }
        e.runs.push(run);
        Ok(())
    }

    async fn update_run(&self, run: Run) -> StoreResult<()> {
        let mut map = self.lock();
        let e = map.get_mut(&run.thread_id).ok_or(StoreError::NotFound)?;
        let slot = e
            .runs
            .iter_mut()
            .find(|r| r.id == run.id)
            .ok_or(StoreError::NotFound)?;
        *slot = run;
        Ok(())
    }

    async fn run(&self, thread_id: &str, run_id: &str) -> StoreResult<Option<Run>> {
        Ok(self
            .lock()
            .get(thread_id)
            .and_then(|e| e.runs.iter().find(|r| r.id == run_id).cloned()))
    }

    async fn list_runs(&self, thread_id: &str, query: &ListQuery) -> StoreResult<Page<Run>> {
        let map = self.lock();
        let e = map.get(thread_id).ok_or(StoreError::NotFound)?;
        Ok(page(&e.runs, |r| &r.id, query))
    }

    async fn unanswered(&self, thread_id: &str) -> StoreResult<Vec<Message>> {
        let map = self.lock();
        let e = map.get(thread_id).ok_or(StoreError::NotFound)?;
        Ok(e.messages[e.cursor.min(e.messages.len())..]
            .iter()
            .filter(|m| m.run_id.is_none())
            .cloned()
            .collect())
    }

    async fn finish_run(
        &self,
        run: Run,
        replies: Vec<Message>,
        answered_up_to: Option<String>,
    ) -> StoreResult<()> {
        let mut map = self.lock();
        let e = map.get_mut(&run.thread_id).ok_or(StoreError::NotFound)?;
        let slot = e
            .runs
            .iter_mut()
            .find(|r| r.id == run.id)
            .ok_or(StoreError::NotFound)?;
        *slot = run;
        if let Some(id) = answered_up_to {
            if let Some(i) = e.messages.iter().position(|m| m.id == id) {
                e.cursor = e.cursor.max(i + 1);
            }
        }
        e.messages.extend(replies);
        Ok(())
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
    use super::*;
    use crate::thread::{Content, Role};

    fn msg(thread: &str, text: &str) -> Message {
        Message::new(thread, Role::User, vec![Content::text(text)])
    }

    #[test]
    fn pagination_both_orders() {
        let items: Vec<Message> = (0..5).map(|i| msg("t", &i.to_string())).collect();
        let ids: Vec<String> = items.iter().map(|m| m.id.clone()).collect();
        let q = ListQuery::new(2, Order::Asc);
        let p = page(&items, |m| &m.id, &q);
        assert_eq!(
            p.data.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
            ids[..2]
        );
        assert!(p.has_more);
        let p = page(
            &items,
            |m| &m.id,
            &ListQuery::new(2, Order::Asc).after(ids[1].clone()),
        );
        assert_eq!(p.data[0].id, ids[2]);
        let p = page(
            &items,
            |m| &m.id,
            &ListQuery::new(10, Order::Desc).after(ids[3].clone()),
        );
        assert_eq!(
            p.data.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
            vec![ids[2].clone(), ids[1].clone(), ids[0].clone()]
        );
        assert!(!p.has_more);
        let p = page(
            &items,
            |m| &m.id,
            &ListQuery::new(10, Order::Asc).before(ids[2].clone()),
        );
        assert_eq!(p.data.len(), 2);
        let p = page(
            &items,
            |m| &m.id,
            &ListQuery::new(10, Order::Desc).before(ids[2].clone()),
        );
        assert_eq!(
            p.data.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
            vec![ids[4].clone(), ids[3].clone()]
        );
    }
}

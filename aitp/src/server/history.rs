//! The thread's history, as the agent sees it: its stored messages, read from the store.

use std::sync::Arc;

use super::App;
use crate::{
    agent::{BoxFuture, HistoryError, HistoryPage, ThreadHistory},
    store::ThreadStore,
    thread::{ListQuery, Order},
};

/// A thread's messages in the server's store, for the [`Turn`](crate::agent::Turn) of a
/// run. The run's owner check was made when the run was created; this reads the thread by
/// id, like the run does.
pub(super) struct StoreHistory<S> {
    app: App<S>,
    thread_id: String,
}

impl<S: ThreadStore> StoreHistory<S> {
    /// The history of `thread_id`, as a turn carries it.
    pub(super) fn of(app: &App<S>, thread_id: &str) -> Arc<dyn ThreadHistory> {
        Arc::new(Self {
            app: Arc::clone(app),
            thread_id: thread_id.to_owned(),
        })
    }
}

impl<S: ThreadStore> ThreadHistory for StoreHistory<S> {
    fn older<'a>(
        &'a self,
        before: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<HistoryPage, HistoryError>> {
        Box::pin(async move {
            // Newest first, so `after` (further along the order) means older.
            let limit = limit.clamp(1, ListQuery::MAX_LIMIT);
            let mut query = ListQuery::new(limit, Order::Desc);
            if let Some(id) = before {
                query = query.after(id);
            }
            let page = self
                .app
                .store
                .list_messages(&self.thread_id, &query)
                .await
                .map_err(|e| HistoryError(e.to_string()))?;
            Ok(HistoryPage::new(page.data, page.has_more))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        agent::Router,
        server::Server,
        store::MemoryStore,
        thread::{Content, Message, Principal, Role, Thread},
    };

    #[tokio::test]
    async fn the_history_pages_the_stored_thread_newest_first() {
        let store = MemoryStore::new();
        let thread = Thread::new();
        let messages: Vec<Message> = (0..250)
            .map(|i| Message::new(&thread.id, Role::User, vec![Content::text(i.to_string())]))
            .collect();
        let ids: Vec<String> = messages.iter().rev().map(|m| m.id.clone()).collect();
        store
            .create_thread(&Principal::anonymous(), thread.clone(), messages)
            .await
            .unwrap();
        let app = Arc::new(Server::new(Router::new(), store).shared);
        let history = StoreHistory::of(&app, &thread.id);

        let mut seen = Vec::new();
        let mut before: Option<String> = None;
        loop {
            // Larger than a page the store serves: clamped, not refused.
            let page = history.older(before.as_deref(), 1000).await.unwrap();
            assert!(page.messages.len() <= ListQuery::MAX_LIMIT);
            seen.extend(page.messages.iter().map(|m| m.id.clone()));
            before = seen.last().cloned();
            if !page.has_more {
                break;
            }
        }
        assert_eq!(seen, ids, "every message once, newest first");
        let none = StoreHistory::of(&app, "thread_missing");
        assert!(
            none.older(None, 10).await.is_err(),
            "a store error, not an empty thread"
        );
    }
}

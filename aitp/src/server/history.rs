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

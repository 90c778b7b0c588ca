//! The resource groups mirroring the Threads API: threads, messages, runs.

use std::collections::VecDeque;

use aitp::thread::{
    CreateMessage, CreateRun, CreateThread, Deleted, List, Message, ModifyMessage, ModifyThread,
    Resource, Run, Thread,
};
use futures_util::{Stream, stream};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::{Client, Result, sse::EventStream};

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Order {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

/// The query of a list: page size, order, cursors, and (messages) the run.
///
/// ```
/// use aitp_client::{ListQuery, Order};
/// let q = ListQuery::new().limit(50).order(Order::Desc);
/// assert_eq!(q.limit, Some(50));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// Items per page (OpenAI: 1 to 100, default 20).
    pub limit: Option<u32>,
    /// The order (default oldest first).
    pub order: Order,
    /// Start after this id.
    pub after: Option<String>,
    /// End before this id.
    pub before: Option<String>,
    /// Only the messages of this run.
    pub run_id: Option<String>,
}

impl ListQuery {
    /// Oldest first, the server's page size.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets the order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Starts after `id`.
    pub fn after(mut self, id: impl Into<String>) -> Self {
        self.after = Some(id.into());
        self
    }

    /// Ends before `id`.
    pub fn before(mut self, id: impl Into<String>) -> Self {
        self.before = Some(id.into());
        self
    }

    /// Only the messages of `run_id`.
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        q.push((
            "order",
            match self.order {
                Order::Asc => "asc",
                Order::Desc => "desc",
            }
            .to_owned(),
        ));
        if let Some(a) = &self.after {
            q.push(("after", a.clone()));
        }
        if let Some(b) = &self.before {
            q.push(("before", b.clone()));
        }
        if let Some(r) = &self.run_id {
            q.push(("run_id", r.clone()));
        }
        q
    }
}

/// Every item of a list, page after page, as a stream; stops on the last page, on an error,
/// and when a server ignores the cursor (a page that does not advance).
fn paginate<T>(client: Client, path: String, query: ListQuery) -> impl Stream<Item = Result<T>>
where
    T: Resource + DeserializeOwned + Send + 'static,
{
    struct State<T> {
        client: Client,
        path: String,
        query: ListQuery,
        buffer: VecDeque<T>,
        done: bool,
    }
    let state = State {
        client,
        path,
        query,
        buffer: VecDeque::new(),
        done: false,
    };
    stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.buffer.pop_front() {
                return Some((Ok(item), s));
            }
            if s.done {
                return None;
            }
            let page: List<T> = match s
                .client
                .call(Method::GET, &s.path, &s.query.pairs(), None::<&()>)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
            };
            let cursor = page
                .last_id
                .clone()
                .or_else(|| page.data.last().map(|t| t.id().to_owned()));
            let advanced = cursor.is_some() && cursor != s.query.after;
            s.done = !page.has_more || page.data.is_empty() || !advanced;
            s.query.after = cursor;
            s.buffer.extend(page.data);
        }
    })
}

/// `/threads`.
#[derive(Debug, Clone)]
pub struct Threads {
    client: Client,
}

impl Threads {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// `POST /threads`.
    pub async fn create(&self, request: &CreateThread) -> Result<Thread> {
        request.check()?;
        self.client
            .call(Method::POST, "/threads", &[], Some(request))
            .await
    }

    /// `GET /threads/{id}`.
    pub async fn retrieve(&self, id: &str) -> Result<Thread> {
        self.client.get(&format!("/threads/{id}")).await
    }

    /// `POST /threads/{id}`.
    pub async fn modify(&self, id: &str, request: &ModifyThread) -> Result<Thread> {
        self.client
            .call(Method::POST, &format!("/threads/{id}"), &[], Some(request))
            .await
    }

    /// `DELETE /threads/{id}`.
    pub async fn delete(&self, id: &str) -> Result<Deleted> {
        self.client
            .call(Method::DELETE, &format!("/threads/{id}"), &[], None::<&()>)
            .await
    }

    /// `GET /threads` (NEAR AI lists the caller's threads; OpenAI has no such endpoint), every
    /// page.
    pub fn list(&self, query: ListQuery) -> impl Stream<Item = Result<Thread>> + use<> {
        paginate(self.client.clone(), "/threads".to_owned(), query)
    }
}

/// `/threads/{thread_id}/messages`.
#[derive(Debug, Clone)]
pub struct Messages {
    client: Client,
    path: String,
}

impl Messages {
    pub(crate) fn new(client: Client, thread_id: String) -> Self {
        Self {
            client,
            path: format!("/threads/{thread_id}/messages"),
        }
    }

    /// `POST /threads/{id}/messages`.
    pub async fn create(&self, request: &CreateMessage) -> Result<Message> {
        request.check()?;
        self.client
            .call(Method::POST, &self.path, &[], Some(request))
            .await
    }

    /// `GET /threads/{id}/messages/{message_id}`.
    pub async fn retrieve(&self, id: &str) -> Result<Message> {
        self.client.get(&format!("{}/{id}", self.path)).await
    }

    /// `POST /threads/{id}/messages/{message_id}`.
    pub async fn modify(&self, id: &str, request: &ModifyMessage) -> Result<Message> {
        self.client
            .call(
                Method::POST,
                &format!("{}/{id}", self.path),
                &[],
                Some(request),
            )
            .await
    }

    /// One page of `GET /threads/{id}/messages`.
    pub async fn list_page(&self, query: &ListQuery) -> Result<List<Message>> {
        self.client
            .call(Method::GET, &self.path, &query.pairs(), None::<&()>)
            .await
    }

    /// Every message, page after page.
    pub fn list(&self, query: ListQuery) -> impl Stream<Item = Result<Message>> + use<> {
        paginate(self.client.clone(), self.path.clone(), query)
    }
}

/// `/threads/{thread_id}/runs`.
#[derive(Debug, Clone)]
pub struct Runs {
    client: Client,
    path: String,
}

impl Runs {
    pub(crate) fn new(client: Client, thread_id: String) -> Self {
        Self {
            client,
            path: format!("/threads/{thread_id}/runs"),
        }
    }

    /// `POST /threads/{id}/runs` (not streamed: `stream` is forced off).
    pub async fn create(&self, request: &CreateRun) -> Result<Run> {
        request.check()?;
        let mut request = request.clone();
        request.stream = None;
        self.client
            .call(Method::POST, &self.path, &[], Some(&request))
            .await
    }

    /// `POST /threads/{id}/runs` with `stream: true`: the run's events as they come.
    pub async fn create_stream(&self, request: &CreateRun) -> Result<EventStream> {
        request.check()?;
        let request = request.clone().streaming();
        let body = serde_json::to_vec(&request)
            .map_err(|e| crate::Error::Config(format!("request body: {e}")))?;
        let url = self.client.url(&self.path);
        let resp = self.client.execute_stream(&self.path, body).await?;
        Ok(EventStream::new(resp, url, self.client.inner.timeout))
    }

    /// `GET /threads/{id}/runs/{run_id}`.
    pub async fn retrieve(&self, id: &str) -> Result<Run> {
        self.client.get(&format!("{}/{id}", self.path)).await
    }

    /// `POST /threads/{id}/runs/{run_id}/cancel`.
    pub async fn cancel(&self, id: &str) -> Result<Run> {
        self.client
            .call(
                Method::POST,
                &format!("{}/{id}/cancel", self.path),
                &[],
                None::<&()>,
            )
            .await
    }

    /// Every run, page after page.
    pub fn list(&self, query: ListQuery) -> impl Stream<Item = Result<Run>> + use<> {
        paginate(self.client.clone(), self.path.clone(), query)
    }
}

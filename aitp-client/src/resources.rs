//! The resource groups mirroring the Threads API: threads, messages, runs.

use std::collections::VecDeque;

use aitp::thread::{
    CreateMessage, CreateRun, CreateThread, Deleted, Endpoint, List, ListQuery, Message,
    ModifyMessage, ModifyRun, ModifyThread, Resource, Run, RunStep, Thread,
};
use futures_util::{Stream, stream};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::{Client, Result, sse::EventStream};

// The resource accessors live here, beside the resources, so that `client` (the transport)
// never imports the resources built on it: the data flows one way.
impl Client {
    /// `/threads`: create, retrieve, modify, delete.
    pub fn threads(&self) -> Threads {
        Threads::new(self.clone())
    }

    /// `/threads/{thread_id}/messages`: create, list, retrieve, modify.
    pub fn messages(&self, thread_id: impl Into<String>) -> Messages {
        Messages::new(self.clone(), thread_id.into())
    }

    /// `/threads/{thread_id}/runs`: create (polled or streamed), retrieve, list, cancel.
    pub fn runs(&self, thread_id: impl Into<String>) -> Runs {
        Runs::new(self.clone(), thread_id.into())
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
                .call(Method::GET, &s.path, &s.query.to_pairs(), None::<&()>)
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
            .call(
                Method::POST,
                &Endpoint::Threads.path(&[]),
                &[],
                Some(request),
            )
            .await
    }

    /// `GET /threads/{id}`.
    pub async fn retrieve(&self, id: &str) -> Result<Thread> {
        self.client.get(&Endpoint::Thread.path(&[id])).await
    }

    /// `POST /threads/{id}`.
    pub async fn modify(&self, id: &str, request: &ModifyThread) -> Result<Thread> {
        self.client
            .call(
                Method::POST,
                &Endpoint::Thread.path(&[id]),
                &[],
                Some(request),
            )
            .await
    }

    /// `DELETE /threads/{id}`.
    pub async fn delete(&self, id: &str) -> Result<Deleted> {
        self.client
            .call(
                Method::DELETE,
                &Endpoint::Thread.path(&[id]),
                &[],
                None::<&()>,
            )
            .await
    }

    /// `GET /threads` (NEAR AI lists the caller's threads; OpenAI has no such endpoint), every
    /// page.
    pub fn list(&self, query: ListQuery) -> impl Stream<Item = Result<Thread>> + use<> {
        paginate(self.client.clone(), Endpoint::Threads.path(&[]), query)
    }
}

/// `/threads/{thread_id}/messages`.
#[derive(Debug, Clone)]
pub struct Messages {
    client: Client,
    thread_id: String,
    path: String,
}

impl Messages {
    pub(crate) fn new(client: Client, thread_id: String) -> Self {
        Self {
            path: Endpoint::Messages.path(&[&thread_id]),
            client,
            thread_id,
        }
    }

    /// `POST /threads/{id}/messages`.
    pub async fn create(&self, request: &CreateMessage) -> Result<Message> {
        request.check()?;
        self.client
            .call(Method::POST, &self.path, &[], Some(request))
            .await
    }

    fn message_path(&self, id: &str) -> String {
        Endpoint::Message.path(&[&self.thread_id, id])
    }

    /// `GET /threads/{id}/messages/{message_id}`.
    pub async fn retrieve(&self, id: &str) -> Result<Message> {
        self.client.get(&self.message_path(id)).await
    }

    /// `POST /threads/{id}/messages/{message_id}`.
    pub async fn modify(&self, id: &str, request: &ModifyMessage) -> Result<Message> {
        self.client
            .call(Method::POST, &self.message_path(id), &[], Some(request))
            .await
    }

    /// `DELETE /threads/{id}/messages/{message_id}`.
    pub async fn delete(&self, id: &str) -> Result<Deleted> {
        self.client
            .call(Method::DELETE, &self.message_path(id), &[], None::<&()>)
            .await
    }

    /// One page of `GET /threads/{id}/messages`.
    pub async fn list_page(&self, query: &ListQuery) -> Result<List<Message>> {
        self.client
            .call(Method::GET, &self.path, &query.to_pairs(), None::<&()>)
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
    thread_id: String,
    path: String,
}

impl Runs {
    pub(crate) fn new(client: Client, thread_id: String) -> Self {
        Self {
            path: Endpoint::Runs.path(&[&thread_id]),
            client,
            thread_id,
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
    ///
    /// A server that cannot stream and answers the run as JSON (some mocks and proxies ignore
    /// `stream: true`) is polled instead: the events then come from the run's status changes
    /// and its messages ([`EventStream`] reads the same either way).
    pub async fn create_stream(&self, request: &CreateRun) -> Result<EventStream> {
        request.check()?;
        let request = request.clone().streaming();
        let body = serde_json::to_vec(&request)
            .map_err(|e| crate::Error::Config(format!("request body: {e}")))?;
        let url = self.client.url(&self.path);
        let resp = self.client.execute_stream(&self.path, body).await?;
        let json = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.trim_start().starts_with("application/json"));
        if !json {
            return Ok(EventStream::new(resp, url, self.client.inner.timeout));
        }
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| {
            crate::client::transport_error(&Method::POST, &url, self.client.inner.timeout, e)
        })?;
        let run: Run = serde_json::from_slice(&bytes).map_err(|source| crate::Error::Decode {
            method: Method::POST,
            url: url.clone(),
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            source,
        })?;
        tracing::debug!(%url, run = %run.id, "the server answered a streamed run with JSON: polling it");
        Ok(EventStream::polling(self.client.clone(), run))
    }

    /// `GET /threads/{id}/runs/{run_id}`.
    pub async fn retrieve(&self, id: &str) -> Result<Run> {
        self.client
            .get(&Endpoint::Run.path(&[&self.thread_id, id]))
            .await
    }

    /// `POST /threads/{id}/runs/{run_id}/cancel`.
    pub async fn cancel(&self, id: &str) -> Result<Run> {
        self.client
            .call(
                Method::POST,
                &Endpoint::CancelRun.path(&[&self.thread_id, id]),
                &[],
                None::<&()>,
            )
            .await
    }

    /// `POST /threads/{id}/runs/{run_id}`: new metadata.
    pub async fn modify(&self, id: &str, request: &ModifyRun) -> Result<Run> {
        self.client
            .call(
                Method::POST,
                &Endpoint::Run.path(&[&self.thread_id, id]),
                &[],
                Some(request),
            )
            .await
    }

    /// Every step of run `id`, page after page (`GET …/runs/{run_id}/steps`).
    pub fn steps(&self, id: &str, query: ListQuery) -> impl Stream<Item = Result<RunStep>> + use<> {
        paginate(
            self.client.clone(),
            Endpoint::RunSteps.path(&[&self.thread_id, id]),
            query,
        )
    }

    /// `GET /threads/{id}/runs/{run_id}/steps/{step_id}`.
    pub async fn step(&self, id: &str, step_id: &str) -> Result<RunStep> {
        self.client
            .get(&Endpoint::RunStep.path(&[&self.thread_id, id, step_id]))
            .await
    }

    /// Every run, page after page.
    pub fn list(&self, query: ListQuery) -> impl Stream<Item = Result<Run>> + use<> {
        paginate(self.client.clone(), self.path.clone(), query)
    }
}

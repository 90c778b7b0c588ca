//! The client, its builder, and the HTTP core (headers, timeouts, retries, decoding).

use std::{fmt, sync::Arc, time::Duration};

use aitp::{
    capability::{CapabilityId, Declaration},
    thread::{Actor, ApiError},
};
use reqwest::{
    Method, Response, StatusCode,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    Error, HeaderProvider, NearAuth, Result, RetryPolicy,
    auth::{Auth, Provider, header},
    retry::parse_retry_after,
};

/// The default user agent: `aitp-client/<version>`.
pub const USER_AGENT: &str = concat!("aitp-client/", env!("CARGO_PKG_VERSION"));

/// A client of one AITP-T01 endpoint (any server speaking the OpenAI Assistants v2 Threads API).
///
/// Cheap to clone (shared connection pool and configuration). Build it with
/// [`Client::builder`]; use the resource groups ([`Client::threads`], [`Client::messages`],
/// [`Client::runs`]) for the raw API, or [`Client::create_thread`] for a
/// [`ThreadHandle`](crate::ThreadHandle) that negotiates capabilities and waits for replies.
///
/// ```no_run
/// # async fn demo() -> aitp_client::Result<()> {
/// use aitp_client::Client;
/// let client = Client::builder("http://127.0.0.1:8080/v1").actor("me.near").build()?;
/// let mut thread = client.create_thread().await?;
/// for reply in thread.ask("hello").await? {
///     println!("{}", reply.text());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) actor: Actor,
    pub(crate) assistant_id: String,
    pub(crate) auth: Auth,
    pub(crate) provider: Option<Provider>,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) wait: WaitPolicy,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base)
            .field("actor", &self.inner.actor.id)
            .field("auth", &self.inner.auth)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// How long, and how often, waits poll (runs in [`RunHandle::wait`](crate::RunHandle::wait),
/// replies in [`ThreadHandle::expect`](crate::ThreadHandle::expect)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitPolicy {
    /// The first poll interval (doubling up to `max_interval`).
    pub initial_interval: Duration,
    /// The longest poll interval.
    pub max_interval: Duration,
    /// The longest wait for a run to end.
    pub run_timeout: Duration,
    /// The longest wait with nothing new, for a reply or a stream event.
    pub idle_timeout: Duration,
}

impl Default for WaitPolicy {
    /// Polls from 20 ms up to 1 s; runs may take 5 minutes; 2 minutes of silence ends a wait.
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_millis(20),
            max_interval: Duration::from_secs(1),
            run_timeout: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(120),
        }
    }
}

impl WaitPolicy {
    /// Sets the longest wait with nothing new.
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Sets the longest wait for a run to end.
    pub fn run_timeout(mut self, d: Duration) -> Self {
        self.run_timeout = d;
        self
    }

    /// Sets the first and the longest poll interval.
    pub fn poll_interval(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_interval = initial;
        self.max_interval = max;
        self
    }

    /// The interval after `current`.
    pub(crate) fn next(&self, current: Duration) -> Duration {
        (current * 2).min(self.max_interval)
    }
}

/// Builds a [`Client`].
#[must_use]
pub struct ClientBuilder {
    base: String,
    actor_id: String,
    client_id: Option<String>,
    capabilities: Option<Vec<Declaration>>,
    assistant_id: String,
    auth: Auth,
    provider: Option<Provider>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    wait: WaitPolicy,
    user_agent: String,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base", &self.base)
            .field("actor_id", &self.actor_id)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder for the endpoint at `base_url` (the URL the paths `/threads...` hang off,
    /// such as `http://127.0.0.1:8080/v1`).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base: base_url.into(),
            actor_id: "aitp-client".to_owned(),
            client_id: Some(USER_AGENT.to_owned()),
            capabilities: None,
            assistant_id: "aitp".to_owned(),
            auth: Auth::None,
            provider: None,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            wait: WaitPolicy::default(),
            user_agent: USER_AGENT.to_owned(),
            http: None,
        }
    }

    /// A client with the default configuration.
    pub fn new(base_url: impl Into<String>) -> Result<Self> {
        Self::builder(base_url).build()
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The actor this client declares in threads it creates.
    pub fn actor(&self) -> &Actor {
        &self.inner.actor
    }

    /// The assistant id runs are created with.
    pub fn assistant_id(&self) -> &str {
        &self.inner.assistant_id
    }

    /// The wait policy.
    pub fn wait_policy(&self) -> &WaitPolicy {
        &self.inner.wait
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.base, path)
    }

    fn request(
        &self,
        method: &Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Result<reqwest::RequestBuilder> {
        let mut req = self
            .inner
            .http
            .request(method.clone(), url)
            .header("openai-beta", "assistants=v2");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Auth::Bearer(token) = &self.inner.auth {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| Error::Config(format!("bearer token: {e}")))?;
            req = req.header(AUTHORIZATION, value);
        }
        if let Some(provider) = &self.inner.provider {
            req = req.headers(provider.headers().map_err(Error::Config)?);
        }
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        Ok(req)
    }

    /// Sends a request with the retry policy and reads the whole body; returns the status and
    /// the body of a success.
    pub(crate) async fn execute(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let url = self.url(path);
        let policy = &self.inner.retry;
        let timeout = self.inner.timeout;
        let mut attempt = 0;
        loop {
            let req = self
                .request(&method, &url, query, body.as_deref())?
                .header(ACCEPT, "application/json")
                .timeout(timeout);
            let (error, delay) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(&resp);
                    match resp.bytes().await {
                        Ok(bytes) if status.is_success() => return Ok((status, bytes.to_vec())),
                        Ok(bytes) => (
                            self.api_error(&method, &url, status, &bytes, retry_after),
                            policy.after_status(attempt, &method, status, retry_after),
                        ),
                        Err(e) => (
                            transport_error(&method, &url, timeout, e),
                            policy.after_transport(attempt, &method, true),
                        ),
                    }
                }
                Err(e) => {
                    let sent = !e.is_connect();
                    (
                        transport_error(&method, &url, timeout, e),
                        policy.after_transport(attempt, &method, sent),
                    )
                }
            };
            match delay {
                Some(delay) => {
                    tracing::debug!(%error, ?delay, attempt, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                None => return Err(error),
            }
        }
    }

    /// Sends a request that answers with a stream (no total timeout; the connection and the
    /// headers within the timeout). Retried only when it could not reach the server, or on 429.
    pub(crate) async fn execute_stream(&self, path: &str, body: Vec<u8>) -> Result<Response> {
        let url = self.url(path);
        let method = Method::POST;
        let policy = &self.inner.retry;
        let timeout = self.inner.timeout;
        let mut attempt = 0;
        loop {
            let req = self
                .request(&method, &url, &[], Some(&body))?
                .header(ACCEPT, "text/event-stream");
            let (error, delay) = match tokio::time::timeout(timeout, req.send()).await {
                Err(_) => (
                    Error::Timeout {
                        method: method.clone(),
                        url: url.clone(),
                        after: timeout,
                    },
                    None,
                ),
                Ok(Ok(resp)) if resp.status().is_success() => return Ok(resp),
                Ok(Ok(resp)) => {
                    let status = resp.status();
                    let retry_after = retry_after(&resp);
                    let bytes = tokio::time::timeout(timeout, resp.bytes())
                        .await
                        .ok()
                        .and_then(|r| r.ok())
                        .unwrap_or_default();
                    (
                        self.api_error(&method, &url, status, &bytes, retry_after),
                        policy.after_status(attempt, &method, status, retry_after),
                    )
                }
                Ok(Err(e)) => {
                    let sent = !e.is_connect();
                    (
                        transport_error(&method, &url, timeout, e),
                        policy.after_transport(attempt, &method, sent),
                    )
                }
            };
            match delay {
                Some(delay) => {
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                None => return Err(error),
            }
        }
    }

    fn api_error(
        &self,
        method: &Method,
        url: &str,
        status: StatusCode,
        bytes: &[u8],
        retry_after: Option<Duration>,
    ) -> Error {
        let body = String::from_utf8_lossy(bytes).into_owned();
        Error::Api {
            method: method.clone(),
            url: url.to_owned(),
            status,
            error: ApiError::parse(&body).map(Box::new),
            body,
            retry_after,
        }
    }

    /// A request with a JSON body (or none) whose answer decodes as `T`.
    /// `GET path` without a query, answered with JSON.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, &[], None::<&()>).await
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        let body = match body {
            Some(b) => Some(
                serde_json::to_vec(b)
                    .map_err(|e| Error::Config(format!("request body does not serialise: {e}")))?,
            ),
            None => None,
        };
        let (status, bytes) = self.execute(method.clone(), path, query, body).await?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Decode {
            method,
            url: self.url(path),
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            source,
        })
    }
}

fn retry_after(resp: &Response) -> Option<Duration> {
    resp.headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

pub(crate) fn transport_error(
    method: &Method,
    url: &str,
    timeout: Duration,
    e: reqwest::Error,
) -> Error {
    let (method, url) = (method.clone(), url.to_owned());
    if e.is_timeout() {
        Error::Timeout {
            method,
            url,
            after: timeout,
        }
    } else if e.is_connect() {
        Error::Connect {
            method,
            url,
            source: e,
        }
    } else {
        Error::Transport {
            method,
            url,
            source: e,
        }
    }
}

impl ClientBuilder {
    /// Our actor id, declared in threads we create (default `aitp-client`).
    pub fn actor(mut self, id: impl Into<String>) -> Self {
        self.actor_id = id.into();
        self
    }

    /// Our actor's `client_id` (default `aitp-client/<version>`).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The capabilities we declare (default: every AITP v1 capability, all of which this crate
    /// reads and writes).
    pub fn capabilities<I>(mut self, ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Declaration>,
    {
        self.capabilities = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a capability to those we declare.
    pub fn capability(mut self, id: CapabilityId) -> Self {
        self.capabilities
            .get_or_insert_with(Vec::new)
            .push(Declaration::from(id));
        self
    }

    /// The assistant id runs are created with (default `aitp`; OpenAI-style servers need a real
    /// one, NEAR AI an agent id such as `alice.near/agent/latest`).
    pub fn assistant_id(mut self, id: impl Into<String>) -> Self {
        self.assistant_id = id.into();
        self
    }

    /// Sends `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Bearer(token.into());
        self
    }

    /// Authenticates as NEAR AI's hub expects: the NEP-413 signed message as the bearer.
    pub fn near_auth(self, auth: &NearAuth) -> Self {
        self.bearer(auth.bearer())
    }

    /// Adds the headers of `provider` to every attempt of every request.
    pub fn header_provider(mut self, provider: impl HeaderProvider) -> Self {
        self.provider = Some(Arc::new(provider));
        self
    }

    /// Adds one fixed header to every request.
    pub fn header(self, name: &str, value: &str) -> Self {
        let pair = header(name, value);
        let previous = self.provider.clone();
        self.header_provider(move || {
            let mut h = match &previous {
                Some(p) => p.headers()?,
                None => HeaderMap::new(),
            };
            let (n, v) = pair.clone()?;
            h.insert(n, v);
            Ok(h)
        })
    }

    /// The timeout of one request attempt, body included (default 60 s). For streams, the
    /// time to the answer's headers and the longest silence between events.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The timeout of connecting (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How waits poll and time out (default [`WaitPolicy::default`]).
    pub fn wait(mut self, policy: WaitPolicy) -> Self {
        self.wait = policy;
        self
    }

    /// The `User-Agent` (default `aitp-client/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Uses this reqwest client (its pool, TLS, proxy settings); the builder's timeouts and
    /// user agent then do not apply to connections.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client> {
        let base = self.base.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| Error::Config(format!("base URL {base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "base URL {base:?}: the scheme must be http or https"
            )));
        }
        let http = match self.http {
            Some(h) => h,
            None => reqwest::Client::builder()
                .user_agent(self.user_agent)
                .connect_timeout(self.connect_timeout)
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?,
        };
        let mut actor = match self.capabilities {
            Some(caps) => {
                let mut a = Actor::new(self.actor_id);
                a.capabilities = caps;
                a
            }
            None => Actor::all_v1(self.actor_id),
        };
        actor.client_id = self.client_id;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                actor,
                assistant_id: self.assistant_id,
                auth: self.auth,
                provider: self.provider,
                timeout: self.timeout,
                retry: self.retry,
                wait: self.wait,
            }),
        })
    }
}

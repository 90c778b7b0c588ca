//! The AITP-T01 Threads API server: an agent reachable by any client of the OpenAI Assistants
//! v2 Threads API.
//!
//! [`Server`] is built from an [`Agent`] (a [`Router`](crate::agent::Router)) and a
//! [`ThreadStore`]; it becomes an axum `Router` to mount ([`Server::into_axum_router`]) or serves
//! itself ([`Server::serve`]). [`crate::serve`] is the one-call version with the embedded
//! default store.
//!
//! Endpoints (under `/v1`): every method of the 11 paths of OpenAI's Threads API
//! ([`Endpoint`]), and the AITP spec's `POST /thread`. Runs have one
//! `message_creation` step per message they posted; tool outputs are refused (an AITP run
//! never waits for tools). Objects are written exactly as OpenAI does; errors are
//! `{"error": {"message", "type", "code", "param"}}`.
//!
//! Runs go `queued` → `in_progress` → `completed` / `failed` / `cancelled` in the background;
//! `"stream": true` in the body answers with server-sent events instead. Threads are visible
//! only to the principal that created them (another gets 404).
//!
//! On a single-process store a run is executed by the server that accepted it, and runs a
//! crash interrupted are failed at the next start ([`Server::recover`]). On a store several
//! processes share (`PgStore`, feature `postgres`), any number of servers ("replicas") behind
//! any HTTP load balancer, without sticky sessions, serve the same threads: a run is leased
//! by the replica executing it, taken over by another if that replica dies (its handler is
//! then called again; its replies are committed once), and polls held on any replica answer
//! when it ends. The guarantees are on `PgStore` and in [`crate::store::lease`].
//!
//! ```no_run
//! use aitp::agent::Router;
//! use aitp::server::{Server, TokenList};
//! use aitp::store::MemoryStore;
//!
//! # async fn run() -> std::io::Result<()> {
//! let agent = Router::new().on_text(|text: String| async move { format!("echo: {text}") });
//! Server::new(agent, MemoryStore::new())
//!     .auth(TokenList::new().token("sk-local", "me"))
//!     .serve("127.0.0.1:8080")
//!     .await
//! # }
//! ```

mod auth;
mod body;
mod checks;
mod error;
mod executor;
mod history;
mod messages;
mod runs;
mod threads;

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Router as AxumRouter,
    extract::DefaultBodyLimit,
    http::{StatusCode, request::Parts},
    routing::{get, post},
};
use tokio::net::{TcpListener, ToSocketAddrs};

pub use auth::{Anonymous, AuthError, Authenticate, TokenList, bearer_token};
pub(crate) use error::HttpError;
use executor::Executor;

use crate::{
    agent::Agent,
    capability::Declaration,
    store::{Holder, ThreadStore},
    thread::{Actor, Endpoint, Principal, unix_now},
};

/// Limits on what a request may carry; checked before any work is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request body, in bytes (1 MiB).
    pub body_bytes: usize,
    /// Most content parts in one message (32).
    pub content_parts: usize,
    /// Largest text of one content part, in bytes (256 KiB).
    pub text_bytes: usize,
    /// Most messages in one request (thread creation, additional messages) (32).
    pub messages: usize,
    /// How long `GET …/runs/{id}` may hold a poll of a run this server is still executing,
    /// answering as soon as it ends (250 ms; zero answers at once). Clients that poll in a
    /// loop then ask once or twice per run instead of dozens of times.
    pub poll_hold: Duration,
    /// Most connections open at once (1,024). Past it the server stops accepting: new
    /// connections wait in the listen backlog until one closes, instead of the process running
    /// out of file descriptors. Applies to [`Server::serve`] and [`Server::serve_with`].
    pub connections: usize,
    /// How long a client may take to send a request's headers (10 s), counted from when the
    /// server waits for them — so it also bounds how long an idle keep-alive connection, or a
    /// connection that never sends anything, holds its slot. A client sending its headers a
    /// byte a second is cut off. Applies to [`Server::serve`] and [`Server::serve_with`].
    pub header_read: Duration,
    /// Most messages one run answers (128): a run answers the oldest unanswered messages up to
    /// this many, and the rest wait for the next run (the agent's cursor stops after the last
    /// one answered). A thread with a backlog of 100,000 messages is answered in bounded runs
    /// of bounded transactions instead of one giant one.
    pub run_messages: usize,
    /// How long a server told to shut down waits for its open connections, then for the runs
    /// it executes, to finish (10 s each). On a store several replicas share, the runs still
    /// executing after that give up their leases, so that another replica — or this one,
    /// restarted — takes them over at once instead of after the lease expires.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 1024 * 1024,
            content_parts: 32,
            text_bytes: 256 * 1024,
            messages: 32,
            poll_hold: Duration::from_millis(250),
            connections: 1024,
            header_read: Duration::from_secs(10),
            run_messages: 128,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// How long a run's lease lasts without renewal, by default (see [`Server::lease`]).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The shared state of the request handlers.
pub(crate) struct Shared<S> {
    pub(crate) agent: Arc<dyn Agent>,
    pub(crate) store: S,
    pub(crate) auth: Arc<dyn Authenticate>,
    pub(crate) limits: Limits,
    pub(crate) actor: Actor,
    pub(crate) executor: Executor,
    /// This replica, as the owner of the runs it leases (on a shared store).
    pub(crate) holder: Holder,
}

impl<S> Shared<S> {
    pub(crate) fn principal(&self, parts: &Parts) -> Result<Principal, HttpError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        self.auth.authenticate(header).map_err(|e| {
            HttpError::new(StatusCode::UNAUTHORIZED, e.to_string()).code("invalid_api_key")
        })
    }
}

pub(crate) type App<S> = Arc<Shared<S>>;

/// An agent served on the Threads API.
#[must_use = "a Server does nothing until served or turned into a router"]
pub struct Server<S> {
    shared: Shared<S>,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("actor", &self.shared.actor.id)
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl<S: ThreadStore> Server<S> {
    /// Serves `agent` from `store`, without authentication ([`Anonymous`]) until
    /// [`Server::auth`] says otherwise.
    pub fn new(agent: impl Agent, store: S) -> Self {
        let agent: Arc<dyn Agent> = Arc::new(agent);
        let mut actor = Actor::new(agent.actor_id());
        for id in agent.capabilities() {
            actor = actor.capability(Declaration::new(&id));
        }
        Self {
            shared: Shared {
                agent,
                store,
                auth: Arc::new(Anonymous),
                limits: Limits::default(),
                actor,
                executor: Executor::default(),
                holder: Holder::new(Holder::unique_id(), DEFAULT_LEASE),
            },
        }
    }

    /// Sets how requests are authenticated.
    pub fn auth(mut self, auth: impl Authenticate) -> Self {
        self.shared.auth = Arc::new(auth);
        self
    }

    /// Sets the request limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.shared.limits = limits;
        self
    }

    /// Sets the largest accepted request body, in bytes.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.shared.limits.body_bytes = bytes;
        self
    }

    /// How long the lease on a run this replica executes lasts without renewal, on a store
    /// several replicas share (30 s; ignored by a single-process store). The replica renews
    /// it every third of that while the run executes; if the replica dies, another takes the
    /// run over once it has expired, so this is the longest a dead replica's run waits. Too
    /// short, and a replica stalled (a long pause, a slow database) loses runs it is still
    /// executing: their handlers are then called again elsewhere, and its replies dropped.
    pub fn lease(mut self, ttl: Duration) -> Self {
        self.shared.holder.ttl = ttl.max(Duration::from_millis(30));
        self
    }

    /// This replica's id, unique to the process: the owner of the runs it leases on a shared
    /// store (`aitp_runs.lease_owner` in PostgreSQL), for logs and operators.
    pub fn replica_id(&self) -> &str {
        &self.shared.holder.id
    }

    /// Recovers from a crash: on a single-process store, runs left `queued` or `in_progress`
    /// become `failed`; returns how many. On a store several replicas share nothing is
    /// failed here (that would fail other replicas' live runs): the runs of a replica that
    /// died are taken over once their lease expires (see [`crate::store::lease`]). Call it
    /// once before serving when you mount [`Server::into_axum_router`] yourself
    /// ([`Server::serve`] does).
    pub async fn recover(&self) -> Result<usize, crate::store::StoreError> {
        if self.shared.store.is_shared() {
            return Ok(0);
        }
        let n = self.shared.store.fail_interrupted_runs(unix_now()).await?;
        if n > 0 {
            tracing::warn!(runs = n, "marked runs interrupted by a restart as failed");
        }
        Ok(n)
    }

    /// The Threads API as an axum router (paths under `/v1`), with its state applied, to mount
    /// beside your own routes. (Named for axum: an [`Agent`] is not a router of paths.)
    pub fn into_axum_router(self) -> AxumRouter {
        self.into_parts().0
    }

    fn into_parts(self) -> (AxumRouter, App<S>) {
        let limit = self.shared.limits.body_bytes;
        let app: App<S> = Arc::new(self.shared);
        executor::replicate(&app);
        let v1 = |endpoint: Endpoint| format!("/v1{}", endpoint.template());
        let router = AxumRouter::new()
            .route(&v1(Endpoint::Threads), post(threads::create::<S>))
            // The AITP spec's singular spelling of thread creation.
            .route("/v1/thread", post(threads::create::<S>))
            .route(
                &v1(Endpoint::ThreadsRuns),
                post(runs::create_thread_and_run::<S>),
            )
            .route(
                &v1(Endpoint::Thread),
                get(threads::retrieve::<S>)
                    .post(threads::modify::<S>)
                    .delete(threads::delete::<S>),
            )
            .route(
                &v1(Endpoint::Messages),
                post(messages::create::<S>).get(messages::list::<S>),
            )
            .route(
                &v1(Endpoint::Message),
                get(messages::retrieve::<S>)
                    .post(messages::modify::<S>)
                    .delete(messages::delete::<S>),
            )
            .route(
                &v1(Endpoint::Runs),
                post(runs::create::<S>).get(runs::list::<S>),
            )
            .route(
                &v1(Endpoint::Run),
                get(runs::retrieve::<S>).post(runs::modify::<S>),
            )
            .route(&v1(Endpoint::CancelRun), post(runs::cancel::<S>))
            .route(&v1(Endpoint::RunSteps), get(runs::list_steps::<S>))
            .route(&v1(Endpoint::RunStep), get(runs::retrieve_step::<S>))
            .route(
                &v1(Endpoint::SubmitToolOutputs),
                post(runs::submit_tool_outputs::<S>),
            )
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(limit))
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .with_state(Arc::clone(&app));
        (router, app)
    }

    /// Serves on `addr` until Ctrl-C or SIGTERM, then stops accepting, lets open requests
    /// and running runs finish (within [`Limits::shutdown_grace`]), gives up the leases of
    /// the runs still executing on a shared store, and returns. Recovers interrupted runs
    /// first.
    pub async fn serve(self, addr: impl ToSocketAddrs) -> std::io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_with(listener, shutdown_signal()).await
    }

    /// Serves on `listener` until `shutdown` resolves (for tests and embedding).
    pub async fn serve_with(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.recover().await.map_err(std::io::Error::other)?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, actor = %self.shared.actor.id, "serving the Threads API at http://{addr}/v1");
        }
        let limits = self.shared.limits;
        let (router, app) = self.into_parts();
        accept_loop(listener, router, limits, shutdown).await;
        let tasks = app.executor.tasks();
        tasks.close();
        if tokio::time::timeout(limits.shutdown_grace, tasks.wait())
            .await
            .is_err()
        {
            match Executor::release(&app).await {
                Ok(0) => tracing::warn!(
                    "runs still working at shutdown: on a single-process store they are failed \
                     at the next start"
                ),
                Ok(n) => tracing::warn!(
                    runs = n,
                    "runs still working at shutdown: their leases are given up, for another \
                     replica to take them over"
                ),
                Err(e) => tracing::error!(
                    error = %e,
                    "runs still working at shutdown, and their leases could not be given up: \
                     another replica takes them over once the leases expire"
                ),
            }
        }
        Ok(())
    }
}

/// Accepts connections while fewer than `limits.connections` are open, serving each as HTTP/1
/// with the header-read timeout, until `shutdown`; then lets open connections finish their
/// requests (within `limits.shutdown_grace`).
async fn accept_loop(
    listener: TcpListener,
    router: AxumRouter,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // A slot first: a connection beyond the cap stays in the backlog, not in our hands.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of descriptors, or the peer gave up: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // A response written in two pieces would wait ~40 ms for the peer's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let conn = http.serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open at shutdown");
    }
}

async fn not_found() -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "Unknown endpoint: this server speaks the AITP-T01 Threads API under /v1.",
    )
    .code("unknown_url")
}

async fn method_not_allowed() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed on this endpoint.",
    )
    .code("method_not_allowed")
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Serves `agent` on the Threads API at `addr` (such as `"127.0.0.1:8080"`, base URL
/// `http://127.0.0.1:8080/v1`) until Ctrl-C or SIGTERM, with no authentication, storing threads
/// in the embedded default store: SQLite in `./aitp.db` (feature `sqlite`), else in memory.
pub async fn serve(agent: impl Agent, addr: impl ToSocketAddrs) -> std::io::Result<()> {
    #[cfg(feature = "sqlite")]
    let store = crate::store::SqliteStore::open("aitp.db").map_err(std::io::Error::other)?;
    #[cfg(not(feature = "sqlite"))]
    let store = crate::store::MemoryStore::new();
    Server::new(agent, store).serve(addr).await
}

pub(crate) fn log_error(e: &dyn std::error::Error) {
    tracing::error!(error = %e, "store error");
}

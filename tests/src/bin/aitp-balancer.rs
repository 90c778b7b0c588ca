//! A round-robin HTTP/1 reverse proxy for the load runs (`scripts/load.sh`): the load balancer
//! in front of several replicas, since the load tool takes one base URL.
//!
//! `aitp-balancer LISTEN_ADDR BACKEND_ADDR...`
//!
//! Each request goes to the next backend in turn, whatever connection it came on (no sticky
//! sessions: the replicas share one database). Connections are kept alive on both sides: a
//! client's connection serves all its requests, and connections to the backends are pooled
//! and reused. A backend that cannot be reached answers 502. It is measured alone in front of
//! one empty server too, so that its own cost shows beside the replicas'.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::body::Body;
use hyper::{
    Request, Response, StatusCode,
    body::Incoming,
    header::{self, HeaderMap, HeaderName},
    http::uri::{Authority, Scheme, Uri},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use tokio::net::TcpListener;

/// The backends and the pooled client to them.
#[derive(Debug)]
struct Balancer {
    backends: Vec<Authority>,
    next: AtomicUsize,
    client: Client<HttpConnector, Incoming>,
}

/// Headers about one connection, not the request: never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 5] = [
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

impl Balancer {
    /// Sends `req` to the next backend and hands back its answer.
    async fn forward(&self, mut req: Request<Incoming>) -> Response<Body> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let backend = &self.backends[n % self.backends.len()];
        let mut parts = req.uri().clone().into_parts();
        parts.scheme = Some(Scheme::HTTP);
        parts.authority = Some(backend.clone());
        *req.uri_mut() = match Uri::from_parts(parts) {
            Ok(uri) => uri,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad target: {e}")),
        };
        strip_hop_by_hop(req.headers_mut());
        match self.client.request(req).await {
            Ok(res) => {
                let (mut parts, body) = res.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, Body::new(body))
            }
            Err(e) => error(
                StatusCode::BAD_GATEWAY,
                &format!("backend {backend} failed: {e}"),
            ),
        }
    }
}

fn error(status: StatusCode, text: &str) -> Response<Body> {
    let mut res = Response::new(Body::from(text.to_owned()));
    *res.status_mut() = status;
    res
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: aitp-balancer LISTEN_ADDR BACKEND_ADDR...";
    let listen: SocketAddr = args
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| std::io::Error::other(usage))?;
    let backends = args
        .map(|a| a.parse::<Authority>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| std::io::Error::other(format!("{e}; {usage}")))?;
    if backends.is_empty() {
        return Err(std::io::Error::other(usage));
    }
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        // As many idle connections per backend as clients keep open: none is closed and
        // reopened between two requests of a busy client.
        .pool_max_idle_per_host(usize::MAX)
        .build(connector);
    let balancer = Arc::new(Balancer {
        backends,
        next: AtomicUsize::new(0),
        client,
    });
    let listener = TcpListener::bind(listen).await?;
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of descriptors, say: not a hot loop while it lasts.
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let balancer = Arc::clone(&balancer);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let balancer = Arc::clone(&balancer);
                async move { Ok::<_, std::convert::Infallible>(balancer.forward(req).await) }
            });
            // Keep-alive is hyper's default: one connection serves a client's requests.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}
